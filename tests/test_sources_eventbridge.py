"""EventBridge source: aws.ses events as a rule hands them to a Lambda target."""

from __future__ import annotations

import pytest

from sesflow.errors import ParseError, SourceError
from sesflow.events import EVENT_CLASS_BY_TYPE, EventType, SesEvent, UnknownEvent, parse_event
from sesflow.sources import EVENTBRIDGE_DETAIL_TYPES, NonEmailEvent, Transport, eventbridge_item

from ._sources_support import eventbridge_event, ses_record

EVENT_VECTORS = {
    "Email Sent": "event_04_Send.json",
    "Email Delivered": "event_03_Delivery.json",
    "Email Bounced": "event_01_Bounce.json",
    "Email Complaint Received": "event_02_Complaint.json",
    "Email Rejected": "event_05_Reject.json",
    "Email Opened": "event_06_Open.json",
    "Email Clicked": "event_07_Click.json",
    "Email Rendering Failed": "event_08_RenderingFailure.json",
    "Email Delivery Delayed": "event_09_DeliveryDelay.json",
    "Email Subscribed": "event_10_Subscription.json",
}


def test_detail_types_cover_every_event_type() -> None:
    assert set(EVENTBRIDGE_DETAIL_TYPES.values()) == set(EventType)
    assert set(EVENTBRIDGE_DETAIL_TYPES) == set(EVENT_VECTORS)


@pytest.mark.parametrize(("detail_type", "vector"), sorted(EVENT_VECTORS.items()))
def test_every_email_detail_type(detail_type: str, vector: str) -> None:
    detail = ses_record(vector)
    event = eventbridge_event(detail, detail_type)
    item = eventbridge_item(event)
    assert item.transport is Transport.EVENTBRIDGE
    assert item.item_id == event["id"]
    assert item.raw is event
    assert item.record == parse_event(detail)
    assert type(item.record) is EVENT_CLASS_BY_TYPE[EVENTBRIDGE_DETAIL_TYPES[detail_type]]
    assert item.meta == {
        "eventbridge_id": event["id"],
        "detail_type": detail_type,
        "account": "123456789012",
        "region": "us-east-1",
        "time": "2023-10-06T15:28:01Z",
    }


@pytest.mark.parametrize(
    ("detail_type", "detail", "says"),
    [
        (
            "Email Delivered",
            ses_record("event_01_Bounce.json"),
            "means eventType 'Delivery', but the detail is 'Bounce'",
        ),
        ("Email Bounced", ses_record("notification_05_Delivery.json"), "'Delivery'"),
        ("Email Opened", {**ses_record("event_06_Open.json"), "eventType": "Peek"}, "'Peek'"),
        (
            "Email Sent",
            {"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "ok"},
            "SubscriptionSucceeded",
        ),
        ("Email Sent", "a string", "no detail object"),
        ("Email Sent", None, "no detail object"),
    ],
)
def test_detail_type_must_agree_with_the_detail(detail_type: str, detail: object, says: str) -> None:
    event = eventbridge_event(detail, detail_type)
    item = eventbridge_item(event)
    assert item.record is None
    assert isinstance(item.error, SourceError)
    assert says in str(item.error)
    assert item.raw is event
    assert item.item_id == event["id"]


def test_unparseable_detail_is_a_parse_error() -> None:
    detail = ses_record("event_01_Bounce.json")
    detail["bounce"]["bouncedRecipients"][0]["emailAddress"] = 42
    item = eventbridge_item(eventbridge_event(detail, "Email Bounced"))
    assert isinstance(item.error, ParseError)
    assert item.error.location == "bounce.bouncedRecipients[0].emailAddress"


@pytest.mark.parametrize(
    ("detail_type", "detail"),
    [
        ("Tenant Archived", {"tenantName": "acme"}),
        (
            # a documented detail-type: a typed record, still a NonEmailEvent
            "Advisor Recommendation Status Open",
            {"data": "DMARC is not set up", "metadata": {"type": "DMARC"}},
        ),
        ("Something SES adds later", None),
    ],
)
def test_non_email_events_are_recognised(detail_type: str, detail: object) -> None:
    event = eventbridge_event(detail, detail_type)
    item = eventbridge_item(event)
    assert item.ok
    assert isinstance(item.record, NonEmailEvent)
    assert not isinstance(item.record, SesEvent)
    assert item.record.detail_type == detail_type
    assert item.record.detail == detail
    assert item.record.raw is event


def test_email_event_under_an_unlisted_detail_type_is_parsed() -> None:
    detail = {**ses_record("event_04_Send.json"), "eventType": "Archived"}
    item = eventbridge_item(eventbridge_event(detail, "Email Archived"))
    assert isinstance(item.record, UnknownEvent)
    assert item.record.type_name == "Archived"


@pytest.mark.parametrize(
    ("event", "says"),
    [
        (eventbridge_event(ses_record("event_01_Bounce.json"), "Email Bounced", source="aws.s3"), "'aws.s3'"),
        ({**eventbridge_event({}, "Email Sent"), "source": None}, "None"),
        ({**eventbridge_event({}, "Email Sent"), "detail-type": 7}, "detail-type is 7"),
    ],
)
def test_wrong_source_or_detail_type(event: dict[str, object], says: str) -> None:
    item = eventbridge_item(event)
    assert isinstance(item.error, SourceError)
    assert says in str(item.error)
    assert item.raw is event


def test_not_an_event_at_all() -> None:
    for event in (None, [1], "aws.ses"):
        item = eventbridge_item(event)  # type: ignore[arg-type]
        assert item.item_id == ""
        assert isinstance(item.error, SourceError)
        assert item.raw is event
    item = eventbridge_item({"source": "aws.ses", "detail-type": "Email Sent", "detail": {}})
    assert item.item_id == ""
    assert isinstance(item.error, ParseError)
