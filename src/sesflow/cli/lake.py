"""``sesflow lake compact SRC DST``: an NDJSON event lake turned into the Parquet layout, incrementally."""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import Any

from ._console import UsageError, console, require_rich

__all__ = ["add_lake_parser", "run_lake"]

_DESCRIPTION = """\
Work on an event lake laid out as Firehose writes it (year=YYYY/month=MM/day=DD/ folders).

  compact SRC DST   convert the NDJSON objects (gzip or not) of SRC into Parquet files under DST, in the
                    layout Firehose's record format conversion writes: Athena scans a fraction of the bytes,
                    and reports read it many times faster. Only objects not compacted before are read (each
                    DST day folder keeps a manifest), so it is safe to run again, on a schedule, and to
                    interrupt at any point. SRC and DST are folders or s3://bucket/prefix."""


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_lake_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``lake`` subcommand (and its ``compact`` action)."""
    from ..analytics.parquet import COMPRESSIONS

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "lake",
        help="compact an NDJSON event lake into Parquet (extra: analytics)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="lake_action", metavar="ACTION")
    actions.required = True
    compact = actions.add_parser(
        "compact",
        help="convert new NDJSON objects of SRC into the Parquet layout under DST",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compact.add_argument("source", metavar="SRC", help="the NDJSON lake: a folder, or s3://bucket/prefix")
    compact.add_argument("destination", metavar="DST", help="where the Parquet layout goes (its own place)")
    compact.add_argument("--since", type=_day, help="first day folder to look at (YYYY-MM-DD)")
    compact.add_argument("--until", type=_day, help="last day folder to look at, included")
    compact.add_argument(
        "--batch-mb",
        type=int,
        default=64,
        metavar="MIB",
        help="source objects per Parquet file, in MiB of source (default 64)",
    )
    compact.add_argument(
        "--compression",
        choices=list(COMPRESSIONS),
        default="snappy",
        help="Parquet codec (default snappy, as Firehose; zstd makes smaller files)",
    )
    compact.add_argument(
        "--skip-bad-records", action="store_true", help="read past lines that are not valid JSON"
    )
    compact.add_argument("--json", action="store_true", help="print the outcome as JSON")
    s3 = compact.add_argument_group("S3")
    s3.add_argument("--endpoint-url", help="S3 endpoint (MinIO, LocalStack, moto)")
    s3.add_argument("--region", help="AWS region of the bucket(s)")
    s3.add_argument("--profile", metavar="NAME", help="the AWS profile to use")
    return parser


def run_lake(args: argparse.Namespace) -> int:
    """Run ``sesflow lake ...``; returns the exit status."""
    from ..analytics.compact import compact_lake

    if args.batch_mb < 1:
        raise UsageError("--batch-mb must be at least 1")
    if args.since and args.until and args.until < args.since:
        raise UsageError("--until is before --since")
    if not args.json:
        require_rich()
    s3_client = None
    if args.source.startswith("s3://") or args.destination.startswith("s3://"):
        import boto3

        session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
        s3_client = session.client("s3", endpoint_url=args.endpoint_url)
    out = None if args.json else console()

    def progress(batch: Any) -> None:
        if out is not None:
            out.print(
                f"  {batch['day']}  {batch['sources']:>5} objects  {batch['records']:>10,} records",
                soft_wrap=True,
            )

    result = compact_lake(
        args.source,
        args.destination,
        s3_client=s3_client,
        since=args.since,
        until=args.until,
        max_batch_bytes=args.batch_mb * 1024 * 1024,
        compression=args.compression,
        skip_bad_records=args.skip_bad_records,
        on_batch=progress,
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return 0
    assert out is not None
    for name in result.removed:
        out.print(
            f"[yellow]removed {name}[/yellow] (left by an interrupted run; its objects were redone)",
            soft_wrap=True,
        )
    for name in result.changed:
        out.print(
            f"[yellow]left alone {name}[/yellow]: its size changed since it was compacted", soft_wrap=True
        )
    if result.sources_compacted:
        out.print(
            f"Compacted {result.sources_compacted:,} of {result.sources_seen:,} objects "
            f"({result.records:,} records) into {len(result.files_written)} Parquet files under "
            f"{result.destination} in {result.seconds:.1f}s ({result.records_per_second:,.0f} records/s)",
            soft_wrap=True,
        )
    else:
        out.print(
            f"Nothing to do: the {result.sources_seen:,} objects of {result.source} are already compacted.",
            soft_wrap=True,
        )
    return 0
