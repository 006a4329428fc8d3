"""``sesflow demo``: the whole flow on this machine, in seconds, with nothing to set up.

An embedded moto server stands in for AWS. Two configuration sets get the articles' SNS → SQS pipeline, a
batch of mail goes through ``SesClient`` to the SES mailbox simulator (and to readers who open
and click), some of it for the tenant ``acme``, ``LocalSes`` publishes the events SES would, and an
``SqsConsumer`` hands them to an ``EventRouter`` whose handlers count them, and count the tenant's apart.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs

from ..testing import embedded_moto
from ._console import UsageError, console, require_extras
from ._output import print_line, progress, show_table
from ._render import detail, style

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

__all__ = ["COLUMNS", "TENANT", "DemoMessage", "add_demo_parser", "plan", "run_demo"]

_DESCRIPTION = """\
Run the whole SES event flow locally: an embedded moto server on 127.0.0.1 stands in for AWS; two
configuration sets get an SNS topic and an SQS queue (with its dead-letter queue) each; mail goes to the SES
mailbox simulator (success, bounce, ooto, complaint, suppressionlist, with +labels) and to newsletter readers,
some of it for the SES tenant acme; LocalSes publishes the events SES would; an SQS consumer routes them to
handlers that count them, and to a handler for acme's events only; two summary tables end it. Needs
moto[server] (pip install "sesflow[cli,testing]"). Nothing is left running.

--lake parquet also gives each set a Firehose stream that converts its events to Parquet (with the Glue table
generated from sesflow's models), and checks that the report built from that lake counts what the consumer
counted (needs the analytics extra too)."""

SENDER = "sesflow demo <demo@example.com>"
SIMULATOR = "simulator.amazonses.com"
# What SES's mailbox simulator does with each address (the SES Developer Guide, "Using the mailbox
# simulator"); on AWS, mail to them counts against neither the sending quota nor the reputation.
SIMULATOR_MAILBOXES = {
    "success": "delivered",
    "bounce": "a hard bounce (550 5.1.1, unknown user)",
    "ooto": "delivered, then an out-of-office reply (a mail, not an event)",
    "complaint": "delivered, then marked as spam: a complaint",
    "suppressionlist": "a hard bounce, as if on the account's suppression list",
}
TRANSACTIONAL = "demo-orders"
NEWSLETTER = "demo-newsletter"
TENANT = "acme"
"""The SES tenant some of the demo's mail is sent for (its events carry the ``ses:tenant-name`` tag)."""
COLUMNS = ("sent", "delivered", "bounced", "complained", "opened", "clicked")
LAKE_BUCKET = "sesflow-demo-lake"
_NEWSLETTER_HTML = """\
<h1>Spring sale</h1>
<p>Hello {name}, everything is 20% off this week.</p>
<p><a href="https://shop.example.com/sale" ses:tags="link:sale;">See the sale</a> or
<a href="https://shop.example.com/new" ses:tags="link:new;">what is new</a>.</p>
<p><a href="https://shop.example.com/unsubscribe" ses:no-track>Unsubscribe</a></p>"""


@attrs.frozen
class DemoMessage:
    """One message of the demo and the counts SES's simulator makes certain (opens and clicks are drawn)."""

    configuration_set: str
    to: str
    subject: str
    html: str | None = None
    delivered: int = 0
    bounced: int = 0
    complained: int = 0
    tenant: str | None = None


def plan(readers: int) -> list[DemoMessage]:
    """The demo's mail: orders to the mailbox simulator, a newsletter to ``readers`` readers and to it.

    Orders 1001 to 1004 and the newsletter to the first half of the readers are sent for ``TENANT``.
    """

    def sim(mailbox: str, label: str) -> str:
        return f"{mailbox}+{label}@{SIMULATOR}"

    orders = [
        DemoMessage(
            TRANSACTIONAL, sim("success", "order-1001"), "Order 1001 confirmed", delivered=1, tenant=TENANT
        ),
        DemoMessage(
            TRANSACTIONAL, sim("success", "order-1002"), "Order 1002 confirmed", delivered=1, tenant=TENANT
        ),
        DemoMessage(
            TRANSACTIONAL, sim("success", "order-1003"), "Order 1003 shipped", delivered=1, tenant=TENANT
        ),
        DemoMessage(
            TRANSACTIONAL, sim("bounce", "order-1004"), "Order 1004 confirmed", bounced=1, tenant=TENANT
        ),
        DemoMessage(TRANSACTIONAL, sim("ooto", "order-1005"), "Order 1005 confirmed", delivered=1),
        DemoMessage(
            TRANSACTIONAL, sim("complaint", "order-1006"), "Order 1006 shipped", delivered=1, complained=1
        ),
        DemoMessage(TRANSACTIONAL, sim("suppressionlist", "order-1007"), "Order 1007 confirmed", bounced=1),
    ]
    newsletter = [
        DemoMessage(
            NEWSLETTER,
            f"reader{n:02d}@example.net",
            "Spring sale",
            _NEWSLETTER_HTML.format(name=f"reader {n}"),
            delivered=1,
            tenant=TENANT if n <= readers // 2 else None,
        )
        for n in range(1, readers + 1)
    ]
    newsletter += [
        DemoMessage(
            NEWSLETTER, sim("bounce", "news"), "Spring sale", _NEWSLETTER_HTML.format(name="you"), bounced=1
        ),
        DemoMessage(
            NEWSLETTER,
            sim("complaint", "news"),
            "Spring sale",
            _NEWSLETTER_HTML.format(name="you"),
            delivered=1,
            complained=1,
        ),
        DemoMessage(
            NEWSLETTER,
            sim("suppressionlist", "news"),
            "Spring sale",
            _NEWSLETTER_HTML.format(name="you"),
            bounced=1,
        ),
    ]
    return orders + newsletter


def add_demo_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``demo`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="run the whole event flow locally (embedded moto server): send, publish, consume, summarise",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--readers", type=int, default=12, help="newsletter readers (default 12, at most 200)"
    )
    parser.add_argument(
        "--seed", type=int, default=7, help="seed of the simulated opens and clicks (default 7)"
    )
    parser.add_argument("--open-rate", type=float, default=0.6, help="chance a reader opens (default 0.6)")
    parser.add_argument("--click-rate", type=float, default=0.3, help="chance a reader clicks (default 0.3)")
    parser.add_argument("--quiet", action="store_true", help="do not print each event as it is handled")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON only")
    parser.add_argument(
        "--lake",
        choices=["parquet"],
        help="also land the events in a Parquet lake through Firehose and report from it (extra: analytics)",
    )
    return parser


def _hanging(lead: str, text: str | Text) -> Table:
    """``lead`` then ``text``, whose wrapped lines start under its first word rather than under ``lead``."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    grid.add_row(Text.from_markup(lead), Text.from_markup(text) if isinstance(text, str) else text)
    return grid


class _Show:
    """What the demo prints: rich output, or nothing (``--json``)."""

    def __init__(self, enabled: bool, events: bool) -> None:
        self.out = console() if enabled else None
        self.events = enabled and events

    def step(self, text: str) -> None:
        if self.out is not None:
            self.out.print(_hanging("[bold cyan]▸[/bold cyan]", text))

    def print(self, renderable: Any) -> None:
        if self.out is not None:
            self.out.print(renderable)


def run_demo(args: argparse.Namespace) -> int:
    """Run ``sesflow demo``; returns 0 when every event SES would publish was received and counted."""
    if not 0 <= args.readers <= 200:
        raise UsageError("--readers is 0 to 200")
    for name in ("open_rate", "click_rate"):
        if not 0 <= getattr(args, name) <= 1:
            raise UsageError(f"--{name.replace('_', '-')} is a probability between 0 and 1")
    needs = {} if args.json else {"rich": ("rich", "cli")}
    needs["moto.server"] = ("moto[server]", "testing")
    if getattr(args, "lake", None):
        needs["duckdb"] = ("duckdb", "analytics")
    require_extras("the demo", needs)  # before anything starts: every missing extra at once
    show = _Show(not args.json, not args.quiet)
    with embedded_moto("sesflow demo") as endpoint:
        show.step(f"A local AWS (moto) is listening at [bold]{endpoint}[/bold]")
        outcome = _run(endpoint, args, show)
    show.step("The local server is stopped; nothing is left running.")
    if args.json:
        print(json.dumps(outcome, indent=2))
    return 0 if outcome["ok"] else 1


def _run(endpoint: str, args: argparse.Namespace, show: _Show) -> dict[str, Any]:
    from ..consumers import SqsConsumer
    from ..events import EventType, SesEvent
    from ..provisioning import Provisioner
    from ..routing import EventRouter
    from ..sending import Email
    from ..testing import LocalSes

    messages = plan(args.readers)
    with LocalSes(endpoint, seed=args.seed, open_rate=args.open_rate, click_rate=args.click_rate) as local:
        # 1. The articles' pipeline, once per configuration set, through LocalSes's observed session.
        provisioner = Provisioner(local.session(), endpoint_url=endpoint, api="v1")
        pipelines = {
            cs: provisioner.ensure_sns_sqs_pipeline(cs, destination_name=f"{cs}-to-sqs")
            for cs in (TRANSACTIONAL, NEWSLETTER)
        }
        _show_pipelines(show, pipelines)
        lake = getattr(args, "lake", None)
        if lake:
            for cs in (TRANSACTIONAL, NEWSLETTER):
                provisioner.ensure_firehose_s3_pipeline(
                    cs, LAKE_BUCKET, stream_name=f"{cs}-lake", destination_name=f"{cs}-to-lake", lake=lake
                )
            show.step(
                f"Each set also publishes to Firehose, which converts to {lake.capitalize()} into "
                f"[bold]s3://{LAKE_BUCKET}/{lake}/[/bold] (Glue table from sesflow's models)"
            )
        local.client("ses").verify_domain_identity(Domain="example.com")
        show.step("Verified the sending domain [bold]example.com[/bold]")
        _show_simulator(show, messages)
        _show_tenant(show, messages)

        # 2. Send through SesClient; LocalSes publishes what SES would for each message. moto answers no
        # GetTenant, so the client does not check that the tenant exists (it would on SES).
        ses = local.ses_client(verify_tenant=False)
        sent_ids: dict[str, str] = {}
        with ses:
            for message in _progress(show, messages, "Sending"):
                email = Email(
                    SENDER,
                    message.to,
                    subject=message.subject,
                    text="This message was sent by sesflow demo.",
                    html=message.html,
                    tags={"app": "sesflow-demo"},
                    configuration_set=message.configuration_set,
                    tenant=message.tenant,
                )
                sent_ids[ses.send(email).message_id] = message.to
        published = len(local.records())
        show.step(f"Sent {len(messages)} messages; LocalSes published [bold]{published}[/bold] events to SNS")

        # 3. Consume: an SqsConsumer per queue, one router whose handlers count what arrives.
        counts: Counter[tuple[str, str]] = Counter()
        unexpected: list[str] = []
        router = EventRouter()

        def count(column: str, event: SesEvent) -> None:
            counts[(event.configuration_set or "-", column)] += 1
            if event.message_id not in sent_ids:
                unexpected.append(event.message_id)
            if show.events and show.out is not None:
                from rich.text import Text

                line = Text("  ")
                line.append(f"{event.event_type.value:<10}", style(event))
                line.append(f"{event.configuration_set or '-':<15}")
                extra = "" if event.event_type.value == "Delivery" else detail(event)
                to = Text(sent_ids.get(event.message_id, event.message_id))
                tenant = Text(event.tenant or "", "magenta")
                print_line(show.out, line, to, tenant, Text(extra, "dim"), indent=12)

        @router.on_send
        def on_send(event: SesEvent) -> None:
            count("sent", event)

        @router.on_delivery
        def on_delivery(event: SesEvent) -> None:
            count("delivered", event)

        @router.on_bounce
        def on_bounce(event: SesEvent) -> None:
            count("bounced", event)

        @router.on_complaint
        def on_complaint(event: SesEvent) -> None:
            count("complained", event)

        @router.on_open
        def on_open(event: SesEvent) -> None:
            count("opened", event)

        @router.on_click
        def on_click(event: SesEvent) -> None:
            count("clicked", event)

        # The tenant's events, apart: the router selects them by their ses:tenant-name tag.
        tenant_counts: Counter[tuple[str, str]] = Counter()

        @router.on_any(tenant=TENANT)
        def on_tenant_event(event: SesEvent) -> None:
            column = _COLUMN_OF.get(event.event_type.value)
            if column is not None:
                tenant_counts[(event.configuration_set or "-", column)] += 1

        show.step("Consuming the queues with SqsConsumer and an EventRouter")
        received = failed = 0
        for pipeline in pipelines.values():
            consumer = SqsConsumer(pipeline.queue_url, router, client=local.client("sqs"), heartbeat=False)
            with consumer:
                metrics = consumer.run_until_empty(wait_time_seconds=0)
            received += metrics.received
            failed += metrics.failed + metrics.invalid
        drawn: Counter[tuple[str, str]] = Counter()
        tenant_drawn: Counter[tuple[str, str]] = Counter()
        for e in local.events():
            if e.event_type not in (EventType.OPEN, EventType.CLICK):
                continue
            key = (str(e.configuration_set), "opened" if e.event_type is EventType.OPEN else "clicked")
            drawn[key] += 1
            if e.tenant == TENANT:
                tenant_drawn[key] += 1
        lake_outcome = _lake_report(local, lake) if lake else None

    sets = (TRANSACTIONAL, NEWSLETTER)
    expected = _expected(messages, drawn)
    summary = {cs: {column: counts[(cs, column)] for column in COLUMNS} for cs in sets}
    tenant_expected = _expected([m for m in messages if m.tenant == TENANT], tenant_drawn, sets)
    tenant_summary = {cs: {column: tenant_counts[(cs, column)] for column in COLUMNS} for cs in sets}
    ok = (
        summary == expected
        and tenant_summary == tenant_expected
        and received == published
        and not failed
        and not unexpected
    )
    if lake_outcome is not None:
        lake_outcome["matches"] = lake_outcome["report"] == summary and lake_outcome["tenant_report"] == {
            column: sum(row[column] for row in tenant_summary.values()) for column in COLUMNS
        }
        ok = ok and lake_outcome["matches"]
        show.step(
            f"The report from the {lake_outcome['objects']} objects of {lake_outcome['location']} "
            + (
                "[green]counts what the consumer counted[/green]"
                if lake_outcome["matches"]
                else "[red]differs[/red]"
            )
        )
    _show_summary(show, summary, expected, "What happened to the mail")
    routed = f'@router.on_any(tenant="{TENANT}")'
    _show_summary(show, tenant_summary, tenant_expected, f"The tenant {TENANT}'s mail ({routed})")
    _show_verdict(show, ok)
    return {
        "endpoint": endpoint,
        "messages": len(messages),
        "published": published,
        "received": received,
        "failed": failed,
        "summary": summary,
        "expected": expected,
        "tenant": {"name": TENANT, "summary": tenant_summary, "expected": tenant_expected},
        "sent_to": [
            {"configuration_set": m.configuration_set, "to": m.to, "tenant": m.tenant} for m in messages
        ],
        **({"lake": lake_outcome} if lake_outcome is not None else {}),
        "ok": ok,
    }


def _lake_report(local: Any, layout: str) -> dict[str, Any]:
    """The lake Firehose filled, reported on by configuration set, and by tenant for ``TENANT``'s row, in the
    summary's columns."""
    import tempfile

    from ..analytics import Lake, Metrics, build_report

    def row(m: Metrics) -> dict[str, int]:
        return {
            "sent": m.sent,
            "delivered": m.delivered,
            "bounced": m.hard_bounces + m.soft_bounces,
            "complained": m.complaints,
            "opened": m.opens_total,
            "clicked": m.clicks_total,
        }

    s3 = local.client("s3")
    lake = Lake(f"s3://{LAKE_BUCKET}/{layout}/", s3_client=s3)
    with tempfile.TemporaryDirectory(prefix="sesflow-demo-") as cache:  # one download for both reports
        report = build_report(lake, by="configuration-set", cache_dir=cache)
        tenants = build_report(lake, by="tenant", cache_dir=cache)
    rows = {str(group.key): row(group.metrics) for group in report.groups}
    tenant_row = next((row(g.metrics) for g in tenants.groups if g.key == TENANT), dict.fromkeys(COLUMNS, 0))
    return {
        "layout": layout,
        "location": lake.location,
        "objects": report.files_read,
        "report": rows,
        "tenant_report": tenant_row,
    }


_COLUMN_OF = {
    "Send": "sent",
    "Delivery": "delivered",
    "Bounce": "bounced",
    "Complaint": "complained",
    "Open": "opened",
    "Click": "clicked",
}


def _expected(
    messages: list[DemoMessage], drawn: Counter[tuple[str, str]], sets: tuple[str, ...] = ()
) -> dict[str, dict[str, int]]:
    """What the summary must say: the simulator's certain outcomes, and the opens and clicks LocalSes drew
    (a row for each of ``sets`` even without mail)."""
    out: dict[str, dict[str, int]] = {cs: dict.fromkeys(COLUMNS, 0) for cs in sets}
    for message in messages:
        row = out.setdefault(message.configuration_set, dict.fromkeys(COLUMNS, 0))
        row["sent"] += 1
        row["delivered"] += message.delivered
        row["bounced"] += message.bounced
        row["complained"] += message.complained
    for (cs, column), number in drawn.items():
        out.setdefault(cs, dict.fromkeys(COLUMNS, 0))[column] += number
    return out


def _progress(show: _Show, items: list[DemoMessage], label: str) -> Iterator[DemoMessage]:
    if show.out is None:
        yield from items
        return
    with progress(label, len(items)) as update:
        for done, item in enumerate(items, 1):
            yield item
            update(done)


def _show_simulator(show: _Show, messages: list[DemoMessage]) -> None:
    """Say what each mailbox simulator address the demo mails stands for."""
    if show.out is None:
        return
    from rich.text import Text

    used = [m for m in SIMULATOR_MAILBOXES if any(x.to.startswith(f"{m}+") for x in messages)]
    show.step(
        f"Mail goes to readers, and to SES's mailbox simulator ([bold]{SIMULATOR}[/bold]), whose addresses "
        "answer the way real mailboxes do:"
    )
    width = max(len(m) for m in used)
    for mailbox in used:
        show.print(_hanging(f"   [bold]{mailbox:<{width}}[/bold] ", SIMULATOR_MAILBOXES[mailbox]))
    show.print(
        _hanging(
            " ",
            Text(
                "A +label (bounce+order-1004@...) tells the messages apart. LocalSes publishes the events "
                "SES would for each address; readers open and click at random (--seed, --open-rate, "
                "--click-rate).",
                "dim",
            ),
        )
    )


def _show_pipelines(show: _Show, pipelines: dict[str, Any]) -> None:
    if show.out is None:
        return
    rows = []
    for cs, pipeline in pipelines.items():
        statuses = Counter(r.status for r in pipeline.resources)
        rows.append(
            (
                cs,
                ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())),
                pipeline.topic.name,
                pipeline.queue.name,
                pipeline.dead_letter_queue.name,
            )
        )
    headers = ("configuration set", "resources", "SNS topic", "SQS queue", "dead-letter queue")
    show_table(
        show.out,
        headers,
        rows,
        title="Provisioned: configuration set → SNS → SQS (+ dead-letter queue)",
        headline=2,
    )


def _show_tenant(show: _Show, messages: list[DemoMessage]) -> None:
    """Say which messages are sent for the tenant, and how their events say so."""
    if show.out is None:
        return
    ours = [m for m in messages if m.tenant == TENANT]
    orders = [m.subject.split()[1] for m in ours if m.configuration_set == TRANSACTIONAL]
    readers = sum(1 for m in ours if m.configuration_set == NEWSLETTER)
    what = f"Orders {orders[0]} to {orders[-1]}" if orders else "No orders"
    show.step(
        f"{what} and the newsletter to {readers} of the readers are sent for the SES tenant "
        f"[bold magenta]{TENANT}[/bold magenta] (TenantName); SES tags their events ses:tenant-name, "
        "read as event.tenant"
    )


def _show_summary(
    show: _Show, summary: dict[str, dict[str, int]], expected: dict[str, dict[str, int]], title: str
) -> None:
    if show.out is None:
        return
    from rich.text import Text

    rows: list[tuple[str | Text, ...]] = []
    totals = dict.fromkeys(COLUMNS, 0)
    for cs, row in summary.items():
        cells: list[str | Text] = []
        for column in COLUMNS:
            totals[column] += row[column]
            good = row[column] == expected.get(cs, {}).get(column)
            cells.append(
                str(row[column]) if good else Text(f"{row[column]} (expected {expected[cs][column]})", "red")
            )
        rows.append((cs, *cells))
    rows.append((Text("total", "bold"), *(Text(str(totals[c]), "bold") for c in COLUMNS)))
    show_table(show.out, ("set", *COLUMNS), rows, title=title, right=COLUMNS, total=True)


def _show_verdict(show: _Show, ok: bool) -> None:
    if ok:
        show.step("[green]Every event SES would publish arrived, and each matched what was sent.[/green]")
    else:
        show.step("[red]Some events are missing or unexpected: see the table.[/red]")
