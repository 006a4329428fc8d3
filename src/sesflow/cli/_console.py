"""Terminal output for the CLI (rich, from the ``cli`` extra), and the errors that end a command."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ..errors import MissingExtra, SesflowError

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["UsageError", "console", "require_extras", "require_rich", "warn"]


class UsageError(SesflowError):
    """The command line asks for something that cannot be done as given (exit status 2)."""


def require_rich() -> None:
    try:
        import rich  # noqa: F401
    except ImportError as exc:
        raise MissingExtra("the sesflow command's terminal output", "cli", "rich") from exc


class _MissingExtras(MissingExtra):
    """Several extras are missing: named all at once, so that one pip command installs them."""

    def __init__(self, feature: str, extras: list[str], packages: list[str]) -> None:
        self.extra = ",".join(extras)
        names = ", ".join(repr(p) for p in packages)
        SesflowError.__init__(
            self, f"{feature} needs the optional modules {names}: pip install 'sesflow[{self.extra}]'"
        )


def require_extras(feature: str, needs: dict[str, tuple[str, str]]) -> None:
    """Check every module ``feature`` needs and name all the missing ones at once.

    ``needs`` maps a module to import to (the package that provides it, its extra).
    """
    import importlib

    missing = []
    for module, (package, extra) in needs.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append((package, extra))
    if len(missing) == 1:
        raise MissingExtra(feature, missing[0][1], missing[0][0])
    if missing:
        extras = list(dict.fromkeys(extra for _, extra in missing))
        raise _MissingExtras(feature, extras, [package for package, _ in missing])


def console(*, stderr: bool = False) -> Console:
    require_rich()
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def warn(command: str, message: str) -> None:
    """A line on standard error, prefixed with the command (no traceback, no markup)."""
    print(f"sesflow {command}: {message}", file=sys.stderr)
