"""The ``sesflow`` command (extra ``cli``). Only this package prints."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sesflow", description="Typed Amazon SES: send with a configuration set, handle every event."
    )
    parser.add_argument("--version", action="version", version=f"sesflow {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    parse = commands.add_parser(
        "parse",
        help="parse SES records and print them",
        description="Parse SES records (a JSON object, a JSON array, or one record per line) and print them.",
    )
    source = parse.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", help="a file of records, or - for standard input")
    source.add_argument(
        "--samples",
        action="store_true",
        help="parse the SES Developer Guide's example records bundled with sesflow",
    )
    parse.add_argument(
        "--format", choices=["table", "json"], default="table", help="output format (default: table)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "parse":
        from .parse import run_parse

        return run_parse(args)
    return 2  # pragma: no cover - argparse rejects unknown commands first


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
