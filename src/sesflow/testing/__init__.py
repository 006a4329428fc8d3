"""Tools for testing code that uses sesflow: sample records, factories and hypothesis strategies.

``sesflow.testing.strategies`` needs the ``testing`` extra (hypothesis); the rest has no extra dependency.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from .factories import make_event, make_mail, make_record

__all__ = ["make_event", "make_mail", "make_record", "sample_records"]


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
