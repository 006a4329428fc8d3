"""Tools for testing code that uses sesflow: sample records, factories, hypothesis strategies, and
``LocalSes``, which publishes the SES events of sends made against a moto server.

``sesflow.testing.strategies`` needs the ``testing`` extra (hypothesis); ``LocalSes`` needs a moto server to
talk to (``moto[server]``, also in the ``testing`` extra); the rest has no extra dependency.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from .factories import make_event, make_mail, make_record

if TYPE_CHECKING:
    from .local_ses import (
        EICAR_TEST_STRING,
        SIMULATOR_DOMAIN,
        DestinationKind,
        LocalDestination,
        LocalSes,
        LocalSesError,
        Outcome,
        Publication,
        SentMessage,
        simulator_outcome,
    )

__all__ = [
    "EICAR_TEST_STRING",
    "SIMULATOR_DOMAIN",
    "DestinationKind",
    "LocalDestination",
    "LocalSes",
    "LocalSesError",
    "Outcome",
    "Publication",
    "SentMessage",
    "make_event",
    "make_mail",
    "make_record",
    "sample_records",
    "simulator_outcome",
]

_LOCAL_SES_NAMES = frozenset(
    {
        "EICAR_TEST_STRING",
        "SIMULATOR_DOMAIN",
        "DestinationKind",
        "LocalDestination",
        "LocalSes",
        "LocalSesError",
        "Outcome",
        "Publication",
        "SentMessage",
        "simulator_outcome",
    }
)


def __getattr__(name: str) -> Any:
    # LocalSes pulls in boto3 and the sending package: import it only when it is asked for.
    if name in _LOCAL_SES_NAMES:
        from . import local_ses

        return getattr(local_ses, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def sample_records() -> dict[str, dict[str, Any]]:
    """The SES Developer Guide's example records, by file name (``"event_01_Bounce"`` ...).

    Ten event-publishing records (one per event type) and five feedback notifications, as SES publishes them.
    """
    folder = resources.files(__package__).joinpath("samples")
    return {
        item.name.removesuffix(".json"): json.loads(item.read_text(encoding="utf-8"))
        for item in sorted(folder.iterdir(), key=lambda p: p.name)
        if item.name.endswith(".json")
    }
