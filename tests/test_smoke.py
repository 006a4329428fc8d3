from __future__ import annotations

import json

import sesflow
from sesflow.events import BounceEvent, BounceType

from .conftest import DATA


def test_every_vector_round_trips() -> None:
    for path in sorted(DATA.glob("*.json")):
        raw = json.loads(path.read_text())
        assert sesflow.to_dict(sesflow.parse_event(path.read_bytes())) == raw, path.name


def test_bounce_vector_fields() -> None:
    event = sesflow.parse_event((DATA / "event_01_Bounce.json").read_bytes())
    assert isinstance(event, BounceEvent)
    assert event.bounce.bounce_type is BounceType.PERMANENT
    assert event.configuration_set == "ConfigSet"
