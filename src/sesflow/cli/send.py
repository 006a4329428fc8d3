"""``sesflow send``: one message, or a template to every recipient of a CSV file (with a progress bar)."""

from __future__ import annotations

import argparse
import csv
import json
import os
from typing import TYPE_CHECKING, Any

from .._text import one_line
from ._console import UsageError, console, require_rich, warn
from ._output import plural, print_line, progress, show_table
from .setup import add_aws_options

if TYPE_CHECKING:
    from ..sending import SesClient

__all__ = ["add_send_parser", "read_recipients", "run_send"]

ENV_CONFIGURATION_SET = "SESFLOW_CONFIGURATION_SET"

_DESCRIPTION = f"""\
Send one message, or a stored template to every recipient of a CSV file, always with a configuration set
attached (--configuration-set, or the {ENV_CONFIGURATION_SET} environment variable) so that SES publishes
its events. The configuration set is checked to exist before anything is sent.

  sesflow send -c orders --from shop@example.com --to jane@example.org --subject Hi --text "Hello"
  sesflow send -c newsletter --from news@example.com --template spring --recipients list.csv

The CSV file has a header row and an "email" column; every other column is template data for that row,
except "tag:NAME" columns, which become message tags. Exit status: 0 when everything was accepted, 1 when
some sends failed, 2 for a usage error."""


def _tag(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"a tag is NAME=VALUE, not {text!r}")
    return name, value


def _rate(text: str) -> float | str | None:
    if text == "account":
        return "account"
    if text == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"give sends per second, 'account' or 'none', not {text!r}"
        ) from None


def add_send_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``send`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "send",
        help="send a message, or a template to a CSV of recipients, with the configuration set attached",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--from", dest="sender", required=True, help="the sender, e.g. 'Shop <shop@example.com>'"
    )
    parser.add_argument("--to", action="append", default=[], help="a recipient (repeat for several)")
    parser.add_argument("--cc", action="append", default=[], help="a Cc recipient (repeat for several)")
    parser.add_argument("--bcc", action="append", default=[], help="a Bcc recipient (repeat for several)")
    parser.add_argument("--reply-to", action="append", default=[], help="a Reply-To address")
    parser.add_argument("--subject", help="the subject")
    body = parser.add_argument_group("body")
    body.add_argument("--text", help="the plain-text body")
    body.add_argument("--text-file", help="read the plain-text body from this file")
    body.add_argument("--html", help="the HTML body")
    body.add_argument("--html-file", help="read the HTML body from this file")
    template = parser.add_argument_group("template")
    template.add_argument("--template", help="the name of a template stored in SES")
    template.add_argument("--data", help="template data as a JSON object (the default for every recipient)")
    template.add_argument(
        "--recipients", help="a CSV file of recipients (needs --template): send to each row"
    )
    parser.add_argument("--tag", type=_tag, action="append", default=[], help="a message tag NAME=VALUE")
    parser.add_argument(
        "-c",
        "--configuration-set",
        default=os.environ.get(ENV_CONFIGURATION_SET),
        help=f"the configuration set to attach (default: ${ENV_CONFIGURATION_SET})",
    )
    parser.add_argument("--api", choices=["v2", "v1"], default="v2", help="SES API (default: v2)")
    parser.add_argument(
        "--tenant", metavar="NAME", help="send on behalf of this SES tenant (v2 API; checked to exist first)"
    )
    parser.add_argument(
        "--max-send-rate",
        type=_rate,
        default="account",
        help="sends per second: a number, 'account' (read from SES, the default) or 'none'",
    )
    parser.add_argument("--json", action="store_true", help="print JSON results instead of tables")
    add_aws_options(parser)
    return parser


def _read(path: str | None, text: str | None, what: str) -> str | None:
    if path is None:
        return text
    if text is not None:
        raise UsageError(f"give --{what} or --{what}-file, not both")
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc


def _json_object(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--data is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError("--data must be a JSON object")
    return data


def read_recipients(path: str) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """``(email, template data, tags)`` for each row of a recipients CSV file.

    Every row is checked before anything is sent, and every bad row is named (standard error, one line
    each): a bulk send is not undone, so a file with a mistake is refused whole, to be fixed and sent once.
    """
    from ..sending import Destination, ValidationError

    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{path} is not a UTF-8 CSV file: {exc}") from exc
    out = []
    bad = 0
    for number, row in enumerate(rows, 2):
        address = (row.get("email") or "").strip()
        data = {k: v for k, v in row.items() if k and k != "email" and not k.startswith("tag:")}
        tags = {k[4:]: v for k, v in row.items() if k and k.startswith("tag:") and v}
        try:
            if not address:
                raise UsageError("no address in the 'email' column")
            Destination(address, data=data or None, tags=tags or None)
        except (UsageError, ValidationError) as exc:
            bad += 1
            warn("send", f"{path}, line {number}: {exc}")
            continue
        out.append((address, data, tags))
    if bad:
        raise UsageError(f"{plural(bad, 'row')} of {path} cannot be sent (above): fix them; nothing was sent")
    if not out:
        raise UsageError(f"{path} has no recipients: a header row with an 'email' column, then one row each")
    return out


def _client(
    args: argparse.Namespace, session: Any, max_send_rate: Any, *, verify_configuration_set: bool = True
) -> SesClient:
    from ..sending import SesClient

    return SesClient(
        args.configuration_set,
        session=session,
        endpoint_url=args.endpoint_url,
        api=args.api,
        max_send_rate=max_send_rate,
        verify_configuration_set=verify_configuration_set,
        tenant=args.tenant,
    )


def _account_rate(args: argparse.Namespace, session: Any) -> float | None:
    """The account's maximum send rate, read here so that a failure is explained in the command's terms."""
    from ..sending import SesError

    with _client(args, session, None, verify_configuration_set=False) as probe:
        try:
            rate = probe.get_send_quota().max_send_rate
        except SesError as exc:
            warn(
                "send",
                f"could not read the account's maximum send rate (SES said {exc.code}: "
                f"{one_line(exc.ses_message, 120)}); sending "
                "without pacing: pass --max-send-rate N (sends a second) or --max-send-rate none",
            )
            return None
    return rate if rate > 0 else None


def run_send(args: argparse.Namespace) -> int:
    """Run ``sesflow send``; returns the exit status."""
    from ..sending import Email, SesError, Template

    if not args.configuration_set:
        raise UsageError(
            f"no configuration set: pass --configuration-set NAME or set {ENV_CONFIGURATION_SET}; without "
            "one SES publishes no events"
        )
    text = _read(args.text_file, args.text, "text")
    html = _read(args.html_file, args.html, "html")
    data = _json_object(args.data)
    tags = dict(args.tag)
    if args.recipients and not args.template:
        raise UsageError("--recipients sends a stored template: add --template NAME")
    if args.recipients and args.to:
        raise UsageError("give --to or --recipients, not both")
    if args.template and (text is not None or html is not None or args.subject is not None):
        raise UsageError("a template brings its own subject and body: drop --subject, --text and --html")
    if not args.recipients and not args.to:
        raise UsageError("nobody to send to: add --to ADDRESS (or --template with --recipients FILE)")
    recipients = read_recipients(args.recipients) if args.recipients else []
    if not args.json:
        require_rich()

    import boto3

    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    rate = _account_rate(args, session) if args.max_send_rate == "account" else args.max_send_rate
    with _client(args, session, rate) as client:
        if recipients:
            return _send_bulk(client, args, Template(args.template, data=data), tags, recipients)
        email = Email(
            args.sender,
            args.to,
            cc=args.cc or None,
            bcc=args.bcc or None,
            reply_to=args.reply_to or None,
            subject=args.subject,
            text=text,
            html=html,
            template=Template(args.template, data=data) if args.template else None,
            tags=tags or None,
        )
        try:
            result = client.send(email)
        except SesError as exc:
            if args.json:
                print(json.dumps({"ok": False, "error": str(exc), "code": exc.code}))
                return 1
            raise
    if args.json:
        answer = {"ok": True, "message_id": result.message_id, "configuration_set": result.configuration_set}
        if result.tenant is not None:
            answer["tenant"] = result.tenant
        print(json.dumps(answer))
    else:
        from rich.text import Text

        print_line(
            console(),
            Text.assemble(("Sent", "green"), " message ", (result.message_id, "bold")),
            Text.assemble("with configuration set ", (str(result.configuration_set), "bold")),
            *([Text.assemble("for tenant ", (result.tenant, "bold"))] if result.tenant else []),
            indent=2,
        )
    return 0


def _send_bulk(
    client: Any,
    args: argparse.Namespace,
    template: Any,
    tags: dict[str, str],
    recipients: list[tuple[str, dict[str, str], dict[str, str]]],
) -> int:
    from ..sending import Destination

    destinations = [
        Destination(address, data=row or None, tags=row_tags or None) for address, row, row_tags in recipients
    ]
    common = {"sender": args.sender, "reply_to": args.reply_to or None, "tags": tags or None}
    if args.json:
        result = client.send_bulk(template, destinations, **common)
    else:
        with progress("Sending", len(destinations), failures=True) as update:
            result = client.send_bulk(
                template, destinations, progress=lambda p: update(p.done, p.failed), **common
            )
    failed = [(entry, recipients[entry.index][0]) for entry in result if not entry.ok]
    if args.json:
        print(
            json.dumps(
                {
                    "ok": not failed,
                    "sent": len(result.succeeded),
                    "failed": len(failed),
                    "results": [
                        {
                            "email": recipients[entry.index][0],
                            "status": entry.status.value,
                            "message_id": entry.message_id,
                            "error": None if entry.error is None else str(entry.error),
                        }
                        for entry in result
                    ],
                }
            )
        )
        return 1 if failed else 0
    out = console()
    out.print(
        f"[green]{len(result.succeeded)} sent[/green], "
        f"{'[red]' if failed else ''}{len(failed)} failed{'[/red]' if failed else ''} "
        f"with configuration set [bold]{result.configuration_set}[/bold]"
    )
    if failed:
        rows = [
            (str(entry.index + 2), address, entry.status.value, one_line(str(entry.error or "")))
            for entry, address in failed
        ]
        show_table(out, ("line", "email", "status", "why"), rows, title="Not sent", headline=3, prose=["why"])
    return 1 if failed else 0
