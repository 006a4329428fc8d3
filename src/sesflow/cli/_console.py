"""Terminal output for the CLI (rich, from the ``cli`` extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import MissingExtra

if TYPE_CHECKING:
    from rich.console import Console


def require_rich() -> None:
    try:
        import rich  # noqa: F401
    except ImportError as exc:
        raise MissingExtra("the sesflow command's terminal output", "cli", "rich") from exc


def console() -> Console:
    require_rich()
    from rich.console import Console

    return Console()
