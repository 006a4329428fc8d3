"""Tools for testing code that uses sesflow: sample records, factories, hypothesis strategies,
``LocalSes``, which publishes the SES events of sends made against a moto server, and ``FakeSes``, a
local endpoint that answers the sending calls like SES.

``sesflow.testing.strategies`` needs the ``testing`` extra (hypothesis); ``LocalSes`` needs a moto server to
talk to (``moto[server]``, also in the ``testing`` extra); the rest has no extra dependency.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from .._public import LazyNames, publish
from ._moto import embedded_moto
from .factories import make_event, make_mail, make_record

if TYPE_CHECKING:
    from .fake_ses import FakeCall, FakeSes
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
    "FakeCall",
    "FakeSes",
    "LocalDestination",
    "LocalSes",
    "LocalSesError",
    "Outcome",
    "Publication",
    "SentMessage",
    "embedded_moto",
    "make_event",
    "make_mail",
    "make_record",
    "sample_records",
    "simulator_outcome",
]

# LocalSes pulls in boto3 and the sending package, and so does FakeSes: imported when they are asked for.
_lazy = LazyNames(
    __name__,
    {
        "local_ses": (
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
        ),
        "fake_ses": ("FakeSes", "FakeCall"),
    },
)

if not TYPE_CHECKING:
    __getattr__ = _lazy.load
    __dir__ = _lazy.dir


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


publish(__name__, __all__, globals())
