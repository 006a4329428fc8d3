"""``sesflow report PATH``: what happened to the mail in an event lake, as a table, CSV, JSON or HTML."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..errors import MissingExtra, SesflowError
from ._console import console, require_rich
from ._output import activity, show_table

__all__ = ["add_report_parser", "run_report"]

_DESCRIPTION = """\
Count sends, deliveries, bounces, complaints, opens, clicks and unsubscribes in a lake of SES events laid out
as Firehose writes it (year=YYYY/month=MM/day=DD/ folders of NDJSON, gzip or not, or of Parquet), with bounce
and complaint rates against the levels at which AWS reviews or pauses an account. PATH is a local folder or
s3://bucket/prefix.
Dates are UTC days: --since 2024-01-01 --until 2024-01-07 covers seven whole days."""


def _moment(text: str) -> date | datetime:
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD) or ISO 8601 time: {text!r}") from None


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``report`` subcommand to the ``sesflow`` parser's subparsers; returns its parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="report on a lake of SES events (extra: analytics)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", metavar="PATH", help="the lake: a folder, or s3://bucket/prefix")
    when = parser.add_argument_group("time range (UTC)")
    when.add_argument("--since", type=_moment, help="first day (YYYY-MM-DD) or instant (ISO 8601)")
    when.add_argument("--until", type=_moment, help="last day, included (YYYY-MM-DD), or instant, excluded")
    when.add_argument("--days", type=int, metavar="N", help="the last N days, today included")
    parser.add_argument(
        "--by",
        default="configuration-set",
        help=(
            "break down by configuration-set (default), tenant, sender, recipient-domain, day, tag:NAME, "
            "or none"
        ),
    )
    parser.add_argument(
        "--format", choices=["table", "csv", "json", "html"], default="table", help="output (default: table)"
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    parser.add_argument(
        "--engine",
        choices=["duckdb", "python"],
        default="duckdb",
        help="duckdb (fast, default) or python (no extra needed, validates every record)",
    )
    parser.add_argument("--skip-bad-records", action="store_true", help="read past records that do not parse")
    parser.add_argument(
        "--arrival-lag",
        type=float,
        default=15.0,
        metavar="MINUTES",
        help="how late Firehose may file an event after it happened (default 15): the day after the range is "
        "read when the lag reaches into it",
    )
    parser.add_argument(
        "--fail-on",
        choices=["review", "pause"],
        help="exit with status 3 when the bounce or complaint rate is at or above this AWS level",
    )
    s3 = parser.add_argument_group("S3")
    s3.add_argument("--endpoint-url", help="S3 endpoint (MinIO, LocalStack, moto)")
    s3.add_argument("--region", help="AWS region of the bucket")
    s3.add_argument("--profile", metavar="NAME", help="the AWS profile to use")
    s3.add_argument(
        "--cache-dir", help="keep downloaded objects here and reuse them (default: a temporary folder)"
    )
    athena = parser.add_argument_group("Athena")
    athena.add_argument(
        "--athena",
        action="store_true",
        help="print the Athena CREATE TABLE statement and this report's query instead of running it",
    )
    athena.add_argument("--table", default="ses_events", help="Athena table name (default: ses_events)")
    athena.add_argument("--partition-projection", action="store_true", help="declare partition projection")
    athena.add_argument(
        "--lake",
        choices=["ndjson", "parquet"],
        default="ndjson",
        help="the table of an NDJSON lake (default) or of the Parquet layout",
    )
    return parser


def _range(args: argparse.Namespace) -> tuple[date | datetime | None, date | datetime | None]:
    if args.days is not None:
        if args.since is not None:
            raise ValueError("give --days or --since, not both")
        if args.days < 1:
            raise ValueError("--days must be at least 1")
        today = datetime.now(UTC).date()
        return today - timedelta(days=args.days - 1), args.until or today
    return args.since, args.until


def run_report(args: argparse.Namespace) -> int:
    """Run ``sesflow report`` with parsed arguments; returns the exit status."""
    try:
        return _run(args)
    except MissingExtra as exc:
        hint = " (or pass --engine python, which needs no extra)" if exc.extra == "analytics" else ""
        print(f"sesflow report: {exc}{hint}", file=sys.stderr)
        return 2
    except (SesflowError, ValueError, OSError) as exc:
        print(f"sesflow report: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from ..analytics import Dimension, TimeRange, athena_ddl, build_report, report_sql

    since, until = _range(args)
    by = None if args.by.lower() in ("none", "total", "") else Dimension.parse(args.by)
    lag = timedelta(minutes=args.arrival_lag)
    if args.athena:
        default = "s3://BUCKET/parquet/" if args.lake == "parquet" else "s3://BUCKET/events/"
        location = args.path if args.path.startswith("s3://") else default
        text = (
            "-- The table (run once; then MSCK REPAIR TABLE loads the partitions unless projection is on)\n"
            + athena_ddl(
                args.table, location, layout=args.lake, partition_projection=args.partition_projection
            )
            + "\n-- The report\n"
            + report_sql(
                by, time_range=TimeRange.of(since, until), dialect="athena", table=args.table, arrival_lag=lag
            )
        )
        _emit(text, args.output)
        return 0

    s3_client = None
    if args.path.startswith("s3://"):
        import boto3

        session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
        s3_client = session.client("s3", endpoint_url=args.endpoint_url)
    with activity(f"Reading {args.path} ({args.engine})…"):
        report = build_report(
            args.path,
            since=since,
            until=until,
            by=by,
            engine=args.engine,
            s3_client=s3_client,
            cache_dir=args.cache_dir,
            arrival_lag=lag,
            skip_bad_records=args.skip_bad_records,
        )
    if args.format == "json":
        _emit(report.to_json(), args.output)
    elif args.format == "csv":
        _emit(report.to_csv(), args.output)
    elif args.format == "html":
        _emit(report.to_html(), args.output)
    else:
        require_rich()
        if args.output:
            from rich.console import Console

            with open(args.output, "w", encoding="utf-8") as fh:
                _print_table(report, Console(file=fh, width=140))
        else:
            _print_table(report, console())
    if args.fail_on is not None:
        levels = ("review", "pause") if args.fail_on == "review" else ("pause",)
        if report.bounce_status in levels or report.complaint_status in levels:
            return 3
    return 0


def _emit(text: str, output: str | None) -> None:
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)


def _pct(rate: float) -> str:
    return f"{rate * 100:.4f}".rstrip("0").rstrip(".") + "%"


_STYLE = {"healthy": "green", "review": "yellow", "pause": "bold red", "no data": "dim"}


def _print_table(report: Any, out: Any) -> None:
    from rich.table import Table
    from rich.text import Text

    from ..analytics.render import format_count, format_rate

    th = report.thresholds
    t = report.total
    title = f"Email report: {report.location}"
    since, until = report.time_range.since, report.time_range.until
    span = (
        " to ".join(x for x in (since and since.isoformat(), until and until.isoformat()) if x)
        or "all events"
    )
    out.print(f"[bold]{title}[/bold]\n[dim]{span} · {report.files_read} files · engine {report.engine}[/dim]")

    def rate(value: float | None, status: str) -> Text:
        return Text(format_rate(value), style=_STYLE[status])

    summary = Table(show_header=False, box=None, padding=(0, 2))
    summary.add_column(style="dim")
    summary.add_column(justify="right")
    summary.add_column(style="dim")
    summary.add_row(
        "sent",
        format_count(t.sent),
        f"{format_count(t.rejects)} rejected, {format_count(t.rendering_failures)} not rendered",
    )
    summary.add_row("delivered", format_count(t.delivered), format_rate(t.delivery_rate))
    summary.add_row(
        "bounce rate",
        rate(t.bounce_rate, report.bounce_status),
        f"{report.bounce_status} · {format_count(t.hard_bounces)} hard, "
        f"{format_count(t.soft_bounces)} soft · "
        f"review at {_pct(th.bounce_review)}, pause at {_pct(th.bounce_pause)}",
    )
    summary.add_row(
        "complaint rate",
        rate(t.complaint_rate, report.complaint_status),
        f"{report.complaint_status} · {format_count(t.complaints)} complaints · "
        f"review at {_pct(th.complaint_review)}, pause at {_pct(th.complaint_pause)}",
    )
    summary.add_row(
        "opened",
        format_rate(t.open_rate),
        f"{format_count(t.opens_unique)} unique, {format_count(t.opens_total)} opens",
    )
    summary.add_row(
        "clicked",
        format_rate(t.click_rate),
        f"{format_count(t.clicks_unique)} unique, {format_count(t.clicks_total)} clicks",
    )
    summary.add_row("unsubscribed", format_count(t.unsubscribes), "")
    summary.add_row("delivery delays", format_count(t.delivery_delays), "")
    latency = " / ".join(
        "-" if v is None else f"{v:,.0f}" for v in (t.latency_p50_ms, t.latency_p90_ms, t.latency_p99_ms)
    )
    summary.add_row("latency ms", latency, "p50 / p90 / p99")
    out.print(summary)
    funnel = " → ".join(f"{stage} {format_count(n)}" for stage, n in t.funnel)
    out.print(f"[bold]funnel[/bold] {funnel}")

    rows = report.groups if report.dimension is not None else report.daily
    label = report.dimension.label if report.dimension is not None else "day"
    columns: list[tuple[str, Any]] = [
        ("sent", lambda m: format_count(m.sent)),
        ("delivered", lambda m: format_rate(m.delivery_rate)),
        ("hard bounce", lambda m: rate(m.bounce_rate, th.bounce_status(m.bounce_rate))),
        ("complaint", lambda m: rate(m.complaint_rate, th.complaint_status(m.complaint_rate))),
        ("opened", lambda m: format_rate(m.open_rate)),
        ("clicked", lambda m: format_rate(m.click_rate)),
        ("soft", lambda m: format_count(m.soft_bounces)),
        ("rejects", lambda m: format_count(m.rejects)),
        ("unsub.", lambda m: format_count(m.unsubscribes)),
        ("p50 ms", lambda m: "-" if m.latency_p50_ms is None else f"{m.latency_p50_ms:,.0f}"),
    ]
    keys = ["(none)" if row.key is None else row.key for row in rows]
    cells = [[cell(row.metrics) for _, cell in columns] for row in rows] + [[cell(t) for _, cell in columns]]
    # The columns that matter most, as many as fit whole beside the whole keys: nothing is ever folded.
    used = _columns_that_fit(out.width, [label, *keys, "all"], [name for name, _ in columns], cells)
    headers = (label, *(columns[i][0] for i in used))
    body = [(key, *(row[i] for i in used)) for key, row in zip([*keys, "all"], cells, strict=True)]
    body[-1] = (Text("all", style="bold"), *body[-1][1:])
    show_table(out, headers, body, title=f"by {label}", right=headers[1:], headline=2, total=True)


def _columns_that_fit(width: int, keys: list[str], names: list[str], cells: list[list[Any]]) -> list[int]:
    """Indices of the leading metric columns that fit in ``width`` beside the key column (at least one)."""
    from rich.text import Text

    def size(values: list[Any]) -> int:
        return max(len(v.plain if isinstance(v, Text) else str(v)) for v in values) + 3  # padding and bar

    used: list[int] = []
    total = size(keys) + 1
    for i, name in enumerate(names):
        total += size([name, *(row[i] for row in cells)])
        if total > width and used:
            break
        used.append(i)
    return used
