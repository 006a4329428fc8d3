"""Terminal output for the CLI (rich, from the ``cli`` extra), and the errors that end a command."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ..errors import MissingExtra, SesflowError

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["UsageError", "console", "require_rich", "warn"]


class UsageError(SesflowError):
    """The command line asks for something that cannot be done as given (exit status 2)."""


def require_rich() -> None:
    try:
        import rich  # noqa: F401
    except ImportError as exc:
        raise MissingExtra("the sesflow command's terminal output", "cli", "rich") from exc


def console(*, stderr: bool = False) -> Console:
    require_rich()
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def warn(command: str, message: str) -> None:
    """A line on standard error, prefixed with the command (no traceback, no markup)."""
    print(f"sesflow {command}: {message}", file=sys.stderr)
