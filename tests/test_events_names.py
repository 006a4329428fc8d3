"""The small pure helpers sesflow.events shares with the rest of the package: type names and timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sesflow import parse_event, to_dict
from sesflow.events import EventType, event_types_from_names, format_timestamp
from sesflow.testing import make_record


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("Rendering Failure", EventType.RENDERING_FAILURE),  # the events' own
        ("renderingFailure", EventType.RENDERING_FAILURE),  # v1 MatchingEventTypes
        ("RENDERING_FAILURE", EventType.RENDERING_FAILURE),  # v2 MatchingEventTypes
        ("rendering-failure", EventType.RENDERING_FAILURE),
        ("deliveryDelay", EventType.DELIVERY_DELAY),
        ("DELIVERY_DELAY", EventType.DELIVERY_DELAY),
        ("bounce", EventType.BOUNCE),
        ("SUBSCRIPTION", EventType.SUBSCRIPTION),
    ],
)
def test_event_types_from_names_reads_every_spelling(spelling: str, expected: EventType) -> None:
    assert event_types_from_names([spelling]) == frozenset({expected})


def test_event_types_from_names_leaves_out_what_it_does_not_know() -> None:
    found = event_types_from_names(["Bounce", "Quarantine", "", "send", "SEND"])
    assert found == {EventType.BOUNCE, EventType.SEND}
    assert event_types_from_names([]) == frozenset()
    assert event_types_from_names(t.value for t in EventType) == frozenset(EventType)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "2026-01-02T03:04:05.678Z"),
        (datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))), "2026-01-02T03:04:05.000Z"),
        (datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC), "0999-12-31T23:59:59.000Z"),
        (datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), "0001-01-01T00:30:00.000+01:00"),
    ],
)
def test_format_timestamp_writes_what_ses_writes(moment: datetime, text: str) -> None:
    assert format_timestamp(moment) == text
    assert datetime.fromisoformat(text) == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def test_format_timestamp_is_what_to_dict_writes() -> None:
    record = make_record(EventType.DELIVERY)
    event = parse_event(record)
    assert to_dict(event)["mail"]["timestamp"] == format_timestamp(event.mail.timestamp)
