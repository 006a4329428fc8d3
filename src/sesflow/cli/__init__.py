"""The ``sesflow`` command (extra ``cli``). Only this package prints.

Subcommands: ``demo``, ``setup``, ``send``, ``tail``, ``parse``, ``report``, ``lake``, ``smtp-password``.
Exit status: 0 when all went well, 1 when the data had failures (records that do not parse, sends refused,
AWS errors), 2 for usage errors (bad options, unreadable input, a missing extra), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..errors import MissingExtra, SesflowError
from ._console import UsageError

__all__ = ["main"]


_Runner = Callable[[argparse.Namespace], int]


def _parser() -> tuple[argparse.ArgumentParser, dict[str, tuple[argparse.ArgumentParser, _Runner]]]:
    from .demo import add_demo_parser, run_demo
    from .lake import add_lake_parser, run_lake
    from .parse import add_parse_parser, run_parse
    from .report import add_report_parser, run_report
    from .send import add_send_parser, run_send
    from .setup import add_setup_parser, run_setup
    from .smtp_password import add_smtp_password_parser, run_smtp_password
    from .tail import add_tail_parser, run_tail

    parser = argparse.ArgumentParser(
        prog="sesflow",
        description="Typed Amazon SES: send with a configuration set, handle every event.",
        epilog="Start with: sesflow demo. Each command has --help.",
    )
    parser.add_argument("--version", action="version", version=f"sesflow {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    runners: dict[str, tuple[argparse.ArgumentParser, _Runner]] = {}
    for name, add, run in (
        ("demo", add_demo_parser, run_demo),
        ("setup", add_setup_parser, run_setup),
        ("send", add_send_parser, run_send),
        ("tail", add_tail_parser, run_tail),
        ("parse", add_parse_parser, run_parse),
        ("report", add_report_parser, run_report),
        ("lake", add_lake_parser, run_lake),
        ("smtp-password", add_smtp_password_parser, run_smtp_password),
    ):
        runners[name] = (add(commands), run)
    return parser, runners


def _aws_error(exc: BaseException) -> tuple[int, str] | None:
    """(status, message) for botocore's errors: missing credentials or region are usage errors (2), the rest
    failures (1)."""
    try:
        import botocore.exceptions as bx
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return None
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return 2, "no AWS credentials found: set them in the environment or a profile, or pass --profile NAME"
    if isinstance(exc, bx.NoRegionError):
        return 2, "no AWS region: pass --region REGION or set AWS_DEFAULT_REGION"
    if isinstance(exc, bx.ProfileNotFound):
        return 2, str(exc)
    if isinstance(exc, bx.ClientError | bx.BotoCoreError):
        return 1, f"AWS error: {exc}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (argparse exits with 2 itself on bad options)."""
    parser, runners = _parser()
    args, unknown = parser.parse_known_args(argv)
    command = args.command
    subparser, run = runners[command]
    if unknown:  # said by the subcommand, so that the usage shown is the one that helps
        subparser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return run(args)
    except KeyboardInterrupt:
        print(f"sesflow {command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (| head): stop quietly, as Python's documentation advises.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (UsageError, MissingExtra) as exc:
        print(f"sesflow {command}: {exc}", file=sys.stderr)
        return 2
    except SesflowError as exc:
        status = 2 if isinstance(exc, ValueError) else 1  # ValidationError: a bad option value
        print(f"sesflow {command}: {exc}", file=sys.stderr)
        return status
    except Exception as exc:
        known = _aws_error(exc)
        if known is None:
            raise
        print(f"sesflow {command}: {known[1]}", file=sys.stderr)
        return known[0]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
