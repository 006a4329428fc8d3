"""The EventBridge events of SES that are not about one message: sending status and advisor recommendations.

Detail-types from the EventBridge events reference ("Amazon Simple Email Service events"); shapes from the
Developer Guide's "Tenants" chapter ("Setting up EventBridge notifications"). The samples in
tests/data/eventbridge are written after AWS's examples (see the README there). A documented detail-type whose
detail is not in the documented shape is an error item carrying a ParseError (dead-letter, never dropped); an
undocumented detail-type stays a plain NonEmailEvent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sesflow import ParseError
from sesflow.errors import SourceError
from sesflow.events import (
    ControlMessage,
    RecommendationImpact,
    RecommendationStatus,
    RecommendationType,
    SendingStatus,
    SesEvent,
    StatusOrigin,
    StatusRecord,
)
from sesflow.sources import (
    EVENTBRIDGE_STATUS_TYPES,
    AdvisorRecommendationEvent,
    NonEmailEvent,
    SendingStatusEvent,
    StatusEvent,
    Transport,
    eventbridge_item,
    sqs_message_item,
)

from ._hypothesis import PROFILE
from .conftest import DATA
from .test_events_cases import _DELETE, _set

SAMPLES = DATA / "eventbridge"
TENANT_ARN = "arn:aws:ses:us-east-1:123456789012:tenant/acme/tn-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4"


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return data


def status_event(**record: Any) -> dict[str, Any]:
    event = sample("sending_status_disabled.json")
    event["detail"]["data"]["record"].update(record)
    return event


def test_the_detail_types_are_the_documented_ones() -> None:
    assert set(EVENTBRIDGE_STATUS_TYPES) == {
        "Sending Status Enabled",
        "Sending Status Disabled",
        "Advisor Recommendation Status Open",
        "Advisor Recommendation Status Resolved",
        "Advisor Recommendation Status Closed",
    }
    assert set(EVENTBRIDGE_STATUS_TYPES.values()) == {SendingStatusEvent, AdvisorRecommendationEvent}


def test_a_tenant_paused_by_ses() -> None:
    event = sample("sending_status_disabled.json")
    item = eventbridge_item(event)
    assert item.ok
    assert item.item_id == event["id"]
    record = item.record
    assert type(record) is SendingStatusEvent
    assert isinstance(record, StatusEvent | NonEmailEvent | ControlMessage)
    assert not isinstance(record, SesEvent)
    assert record.raw is event
    assert record.detail is event["detail"]
    assert record.detail_type == "Sending Status Disabled"
    assert record.status is SendingStatus.DISABLED
    assert record.paused
    assert record.origin is StatusOrigin.AWS_MANAGED
    assert record.cause == event["detail"]["data"]["record"]["cause"]
    assert record.last_updated == datetime(2026, 7, 24, 12, 44, 28, 995000, tzinfo=UTC)
    assert record.record == StatusRecord(SendingStatus.DISABLED, record.cause, record.last_updated)
    assert record.version == "1.0.0"
    assert record.time == datetime(2026, 7, 24, 12, 44, 28, tzinfo=UTC)
    assert record.resources == (TENANT_ARN,)
    assert record.tenant_arn == TENANT_ARN
    assert record.tenant == "acme"
    assert record.tenant_id == "tn-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4"
    assert item.meta["detail_type"] == "Sending Status Disabled"


@pytest.mark.parametrize(
    ("status", "paused"),
    [("ENABLED", False), ("REINSTATED", False), ("DISABLED", True), ("SUSPENDED", False)],
)
def test_resumed_reinstated_and_unknown_statuses(status: str, paused: bool) -> None:
    event = status_event(status=status)
    event["detail-type"] = "Sending Status Enabled" if status != "DISABLED" else "Sending Status Disabled"
    event["detail"]["data"]["origin"] = "CUSTOMER_MANAGED"
    record = eventbridge_item(event).record
    assert isinstance(record, SendingStatusEvent)
    assert record.status == status
    assert record.status.is_known == (status != "SUSPENDED")  # an unknown status is kept, not an error
    assert record.paused is paused
    assert record.origin is StatusOrigin.CUSTOMER_MANAGED


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([2026, 7, 24, 12, 44], datetime(2026, 7, 24, 12, 44, tzinfo=UTC)),  # zero seconds left out
        ([2026, 7, 24, 12, 44, 28], datetime(2026, 7, 24, 12, 44, 28, tzinfo=UTC)),
        ([2026, 7, 24, 12, 44, 28, 1999], datetime(2026, 7, 24, 12, 44, 28, 1, tzinfo=UTC)),
        ("2026-07-24T12:44:28.995Z", datetime(2026, 7, 24, 12, 44, 28, 995000, tzinfo=UTC)),
    ],
)
def test_the_last_update_as_an_array_or_as_text(value: Any, expected: datetime) -> None:
    record = eventbridge_item(status_event(lastUpdatedTimestamp=value)).record
    assert isinstance(record, SendingStatusEvent)
    assert record.last_updated == expected


def test_only_the_status_is_required() -> None:
    event = sample("sending_status_disabled.json")
    event["detail"] = {"data": {"record": {"status": "DISABLED"}}}
    del event["time"], event["resources"]
    record = eventbridge_item(event).record
    assert isinstance(record, SendingStatusEvent)
    assert (record.cause, record.last_updated, record.origin, record.version) == (None, None, None, None)
    assert (record.time, record.resources, record.tenant, record.tenant_id) == (None, (), None, None)


def test_a_reputation_finding_opened() -> None:
    event = sample("advisor_recommendation_open.json")
    record = eventbridge_item(event).record
    assert type(record) is AdvisorRecommendationEvent
    assert record.status is RecommendationStatus.OPEN
    assert record.is_open
    assert record.description == event["detail"]["data"]
    assert record.impact is RecommendationImpact.HIGH
    assert record.recommendation_type is RecommendationType.BOUNCE
    assert record.version == "1.0.0"
    assert record.tenant == "acme"
    assert record.time == datetime(2026, 7, 24, 12, 31, 5, tzinfo=UTC)


@pytest.mark.parametrize("word", ["Resolved", "Closed"])
def test_a_reputation_finding_closed(word: str) -> None:
    event = sample("advisor_recommendation_open.json")
    event["detail-type"] = f"Advisor Recommendation Status {word}"
    record = eventbridge_item(event).record
    assert isinstance(record, AdvisorRecommendationEvent)
    assert record.status == word
    assert record.status.is_known
    assert not record.is_open


def test_an_advisor_recommendation_about_an_identity_names_no_tenant() -> None:
    event = sample("advisor_recommendation_open.json")
    event["resources"] = ["arn:aws:ses:us-east-1:123456789012:identity/acme.example.com"]
    event["detail"] = {"version": "1.0.0", "data": "DMARC is not set up", "metadata": {"type": "DMARC"}}
    record = eventbridge_item(event).record
    assert isinstance(record, AdvisorRecommendationEvent)
    assert record.recommendation_type is RecommendationType.DMARC
    assert (record.impact, record.tenant, record.tenant_id, record.tenant_arn) == (None, None, None, None)


@pytest.mark.parametrize(
    ("resources", "tenant", "tenant_id"),
    [
        (
            ["arn:aws:ses:us-east-1:1:configuration-set/x", TENANT_ARN],
            "acme",
            "tn-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4",
        ),
        (["arn:aws-cn:ses:cn-north-1:1:tenant/acme-cn/tn-1"], "acme-cn", "tn-1"),
        (["arn:aws:ses:us-east-1:1:tenant/tn-only"], None, None),  # one part: not knowably a name
        (["arn:aws:sqs:us-east-1:1:tenant/acme/tn-1"], None, None),  # not an SES ARN
        ([], None, None),
    ],
)
def test_the_tenant_comes_from_its_arn(
    resources: list[str], tenant: str | None, tenant_id: str | None
) -> None:
    event = sample("sending_status_disabled.json")
    event["resources"] = resources
    record = eventbridge_item(event).record
    assert isinstance(record, SendingStatusEvent)
    assert (record.tenant, record.tenant_id) == (tenant, tenant_id)


def test_unknown_recommendation_values_are_kept() -> None:
    event = sample("advisor_recommendation_open.json")
    event["detail"]["metadata"] = {"impact": "MEDIUM", "type": "SPAMTRAP", "new": {"x": 1}}
    record = eventbridge_item(event).record
    assert isinstance(record, AdvisorRecommendationEvent)
    assert record.impact == "MEDIUM"
    assert not record.impact.is_known  # type: ignore[union-attr]
    assert record.recommendation_type == "SPAMTRAP"


_STATUS = "sending_status_disabled.json"
_ADVISOR = "advisor_recommendation_open.json"
_RECORD = ("detail", "data", "record")

HOSTILE = [
    # (sample, change, location of the ParseError)
    (_STATUS, _set("detail", value=None), "detail"),
    (_STATUS, _set("detail", value="DISABLED"), "detail"),
    (_STATUS, _set("detail", value=["DISABLED"]), "detail"),
    (_STATUS, _set("detail", value={}), "detail.data"),
    (_STATUS, _set("detail", "data", value="DISABLED"), "detail.data"),
    (_STATUS, _set("detail", "data", "record", value=_DELETE), "detail.data.record"),
    (_STATUS, _set("detail", "data", "record", value=[]), "detail.data.record"),
    (_STATUS, _set(*_RECORD, "status", value=_DELETE), "detail.data.record.status"),
    (_STATUS, _set(*_RECORD, "status", value=1), "detail.data.record.status"),
    (_STATUS, _set(*_RECORD, "status", value=None), "detail.data.record.status"),
    (_STATUS, _set(*_RECORD, "cause", value=5), "detail.data.record.cause"),
    (
        _STATUS,
        _set(*_RECORD, "lastUpdatedTimestamp", value="yesterday"),
        "detail.data.record.lastUpdatedTimestamp",
    ),
    (
        _STATUS,
        _set(*_RECORD, "lastUpdatedTimestamp", value=1753361068),
        "detail.data.record.lastUpdatedTimestamp",
    ),
    (
        _STATUS,
        _set(*_RECORD, "lastUpdatedTimestamp", value=[2026, 7, 24, 12]),
        "detail.data.record.lastUpdatedTimestamp",
    ),
    (
        _STATUS,
        _set(*_RECORD, "lastUpdatedTimestamp", value=[2026, 7, 24, 12, 44, 28, 0, 0]),
        "detail.data.record.lastUpdatedTimestamp",
    ),
    (
        _STATUS,
        _set(*_RECORD, "lastUpdatedTimestamp", value=[2026, 13, 24, 12, 44]),
        "detail.data.record.lastUpdatedTimestamp",
    ),
    (
        _STATUS,
        _set(*_RECORD, "lastUpdatedTimestamp", value=[10**30, 7, 24, 12, 44]),
        "detail.data.record.lastUpdatedTimestamp",
    ),
    (
        _STATUS,
        _set(*_RECORD, "lastUpdatedTimestamp", value=[2026, 7, "24", 12, 44]),
        "detail.data.record.lastUpdatedTimestamp[2]",
    ),
    (
        _STATUS,
        _set(*_RECORD, "lastUpdatedTimestamp", value=[2026, 7, 24, 12, 44, 28, True]),
        "detail.data.record.lastUpdatedTimestamp[6]",
    ),
    (
        _STATUS,
        _set(*_RECORD, "lastUpdatedTimestamp", value=[2026, 7, 24, 12, 44, 28, -1]),
        "detail.data.record.lastUpdatedTimestamp[6]",
    ),
    (
        _STATUS,
        _set(*_RECORD, "lastUpdatedTimestamp", value=[2026, 7, 24, 12, 44, 28, 10**9]),
        "detail.data.record.lastUpdatedTimestamp[6]",
    ),
    (_STATUS, _set("detail", "data", "origin", value=3), "detail.data.origin"),
    (_STATUS, _set("detail", "version", value=1.0), "detail.version"),
    (_STATUS, _set("resources", value=TENANT_ARN), "resources"),
    (_STATUS, _set("resources", value=[TENANT_ARN, 7]), "resources[1]"),
    (_STATUS, _set("time", value="yesterday"), "time"),
    (_STATUS, _set("time", value=1753361068), "time"),
    (_ADVISOR, _set("detail", value="HIGH"), "detail"),
    (_ADVISOR, _set("detail", "data", value={"text": "bounces"}), "detail.data"),
    (_ADVISOR, _set("detail", "metadata", value="HIGH"), "detail.metadata"),
    (_ADVISOR, _set("detail", "metadata", "impact", value=["HIGH"]), "detail.metadata.impact"),
    (_ADVISOR, _set("detail", "metadata", "type", value=2), "detail.metadata.type"),
    (_ADVISOR, _set("resources", value=None), "resources"),
]


@pytest.mark.parametrize(("name", "change", "location"), HOSTILE)
def test_a_documented_detail_type_in_another_shape_is_a_parse_error_item(
    name: str, change: Any, location: str
) -> None:
    event = sample(name)
    change(event)
    item = eventbridge_item(event)
    assert item.record is None
    assert isinstance(item.error, ParseError)
    assert item.error.location == location
    assert item.error.raw is event  # the whole event, for the dead-letter path
    assert item.raw is event
    assert item.item_id == event["id"]
    assert item.meta["detail_type"] == event["detail-type"]


class _Unreadable(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("no")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("no")

    def __len__(self) -> int:
        return 1


def test_a_detail_mapping_that_cannot_be_read_is_a_parse_error_item() -> None:
    event = sample(_STATUS)
    event["detail"] = _Unreadable()
    item = eventbridge_item(event)
    assert isinstance(item.error, ParseError)
    assert item.error.location == "detail"


@pytest.mark.parametrize(
    ("detail_type", "detail"),
    [
        ("Tenant Archived", {"data": {"tenantName": "acme"}}),
        ("Sending Status Paused", {"data": {"record": {"status": 1}}}),  # not a documented detail-type
        ("Advisor Recommendation Status", None),
    ],
)
def test_an_undocumented_detail_type_stays_a_plain_non_email_event(detail_type: str, detail: Any) -> None:
    event = {**sample(_STATUS), "detail-type": detail_type, "detail": detail}
    item = eventbridge_item(event)
    assert item.ok
    assert type(item.record) is NonEmailEvent
    assert item.record.detail_type == detail_type
    assert item.record.detail == detail


def _deep(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("name", [_STATUS, _ADVISOR])
def test_repr_and_hash_never_fail_and_equality_only_raises_parse_error(name: str) -> None:
    event = sample(name)
    event["detail"]["extra"] = _deep(100_000)  # SES may add fields; an unknown one is kept, not read
    record = eventbridge_item(event).record
    assert isinstance(record, StatusEvent)
    assert len(repr(record)) < 2000
    assert hash(record) == hash(eventbridge_item(event).record)
    assert record == eventbridge_item(event).record  # typed fields compared; the raw detail is not

    plain = NonEmailEvent(event, "Future Thing", _deep(100_000))
    other = NonEmailEvent(event, "Future Thing", _deep(100_000))
    assert len(repr(plain)) < 2000
    assert hash(plain) == hash(other)
    with pytest.raises(ParseError):
        _ = plain == other
    assert NonEmailEvent(event, "A", {"x": 1}) == NonEmailEvent({}, "A", {"x": 1})
    assert NonEmailEvent(event, "A", {"x": 1}) != NonEmailEvent(event, "A", {"x": 2})


def test_records_of_another_status_are_not_equal() -> None:
    disabled = eventbridge_item(sample(_STATUS)).record
    enabled = eventbridge_item(status_event(status="ENABLED")).record
    assert disabled != enabled


def test_an_sqs_body_holding_the_event() -> None:
    event = sample(_STATUS)
    message = {"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": json.dumps(event)}
    item = sqs_message_item(message)
    assert item.transport is Transport.SQS
    assert item.meta["envelope"] == "eventbridge"
    assert isinstance(item.record, SendingStatusEvent)
    assert item.record.tenant == "acme"
    broken = {**message, "Body": json.dumps(status_event(status=[]))}
    failed = sqs_message_item(broken)
    assert isinstance(failed.error, ParseError)
    assert failed.error.location == "detail.data.record.status"
    assert failed.raw is broken
    assert failed.receipt_handle == "r-1"


# --- any value anywhere: the source never raises, and what it gives never fails to repr or hash ------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.extend(_paths(child, (*prefix, index)))
    return out


@PROFILE
@given(data=st.data(), name=st.sampled_from([_STATUS, _ADVISOR]), value=_JSON)
def test_a_hostile_value_anywhere_is_a_record_or_a_parse_error_item(data: Any, name: str, value: Any) -> None:
    event = sample(name)
    path = data.draw(st.sampled_from(_paths(event)))
    _set(*path, value=value)(event)
    item = eventbridge_item(event)  # never raises
    assert (item.record is None) != (item.error is None)
    if item.error is not None:
        assert isinstance(item.error, ParseError | SourceError)
    else:
        assert isinstance(item.record, NonEmailEvent)
        repr(item.record)
        hash(item.record)
        assert item.record == eventbridge_item(event).record
