"""The SourceItem contract every source returns."""

from __future__ import annotations

import pytest

from sesflow.errors import SourceError
from sesflow.events import parse_event
from sesflow.sources import SourceItem, Transport

from ._sources_support import ses_record


def test_exactly_one_of_record_and_error() -> None:
    record = parse_event(ses_record("event_04_Send.json"))
    error = SourceError("not an envelope", raw=b"x")
    assert SourceItem(Transport.SQS, "m-1", raw=b"x", record=record).ok
    assert not SourceItem(Transport.SQS, "m-1", raw=b"x", error=error).ok
    with pytest.raises(ValueError, match="neither"):
        SourceItem(Transport.SQS, "m-1", raw=b"x")
    with pytest.raises(ValueError, match="both"):
        SourceItem(Transport.SQS, "m-1", raw=b"x", record=record, error=error)
