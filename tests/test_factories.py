"""``sesflow.testing`` factories: ``make_record`` builds SES's JSON shape, ``make_event`` parses it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sesflow import ParseError
from sesflow.events import (
    EVENT_CLASS_BY_TYPE,
    BounceEvent,
    BounceSubType,
    BounceType,
    ClickEvent,
    ComplaintEvent,
    DeliveryDelayEvent,
    DeliveryEvent,
    EventFamily,
    EventType,
    SesEvent,
    SubscriptionEvent,
    parse_event,
    to_dict,
)
from sesflow.testing import make_event, make_mail, make_record, sample_records

NOTIFICATION_TYPES = [EventType.BOUNCE, EventType.COMPLAINT, EventType.DELIVERY]
OTHER_TYPES = [t for t in EventType if t not in NOTIFICATION_TYPES]


@pytest.mark.parametrize("event_type", list(EventType), ids=lambda t: t.name)
def test_make_event_for_every_type(event_type: EventType) -> None:
    event = make_event(event_type)
    assert type(event) is EVENT_CLASS_BY_TYPE[event_type]
    assert event.event_type is event_type
    assert event.family is EventFamily.EVENT
    assert event.recipients == ("recipient@example.com",)
    assert event.configuration_set == "my-config-set"
    assert event.mail.source == "sender@example.com"
    assert event.mail.header("Subject") == "Hello from sesflow"
    assert event.timestamp.utcoffset() == timedelta(0)
    assert event.timestamp >= event.mail.timestamp


@pytest.mark.parametrize("event_type", list(EventType), ids=lambda t: t.name)
def test_make_record_is_ses_json_that_round_trips(event_type: EventType) -> None:
    record = make_record(event_type)
    assert record["eventType"] == event_type.value
    assert json.loads(json.dumps(record)) == record  # plain JSON values only
    event = parse_event(json.dumps(record))
    assert to_dict(event) == record  # type: ignore[arg-type]


@pytest.mark.parametrize("event_type", NOTIFICATION_TYPES, ids=lambda t: t.name)
def test_notifications(event_type: EventType) -> None:
    record = make_record(event_type, family=EventFamily.NOTIFICATION)
    assert record["notificationType"] == event_type.value
    assert "eventType" not in record
    assert "tags" not in record["mail"]
    assert record["mail"]["sourceIp"]
    event = make_event(event_type, family=EventFamily.NOTIFICATION)
    assert type(event) is EVENT_CLASS_BY_TYPE[event_type]
    assert event.family is EventFamily.NOTIFICATION
    assert event.configuration_set is None
    assert event.mail.tags is None
    assert event.mail.caller_identity == "ses-sender"
    assert to_dict(event)["notificationType"] == event_type.value


@pytest.mark.parametrize("event_type", OTHER_TYPES, ids=lambda t: t.name)
def test_no_notification_for_other_types(event_type: EventType) -> None:
    with pytest.raises(ValueError, match="no feedback notification"):
        make_record(event_type, family=EventFamily.NOTIFICATION)
    with pytest.raises(ValueError, match="no feedback notification"):
        make_event(event_type, family=EventFamily.NOTIFICATION)


def test_event_type_by_ses_spelling() -> None:
    assert type(make_event("Rendering Failure")) is EVENT_CLASS_BY_TYPE[EventType.RENDERING_FAILURE]
    assert make_record("DeliveryDelay")["eventType"] == "DeliveryDelay"


def test_unknown_event_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown type 'Archive'"):
        make_record("Archive")


@pytest.mark.parametrize(
    "event_type",
    [EventType.BOUNCE, EventType.COMPLAINT, EventType.DELIVERY, EventType.DELIVERY_DELAY],
    ids=lambda t: t.name,
)
def test_recipients_reach_the_detail(event_type: EventType) -> None:
    addresses = ["a@example.org", "b@example.org", "c@example.org"]
    event = make_event(event_type, recipients=addresses)
    assert event.recipients == tuple(addresses)
    assert event.mail.destination == tuple(addresses)
    assert event.mail.common_headers is not None
    assert event.mail.common_headers.to == tuple(addresses)
    assert event.mail.header("To") == "a@example.org, b@example.org, c@example.org"


def test_recipients_of_events_without_their_own_list() -> None:
    for event_type in (EventType.SEND, EventType.OPEN, EventType.CLICK, EventType.REJECT):
        assert make_event(event_type, recipients=["x@example.org"]).recipients == ("x@example.org",)


def test_configuration_set_and_tags() -> None:
    event = make_event(
        EventType.SEND,
        configuration_set="orders",
        tags={"campaign": "spring", "team": ["growth", "email"]},
    )
    assert event.configuration_set == "orders"
    assert event.tags["campaign"] == ("spring",)
    assert event.tags["team"] == ("growth", "email")
    assert event.tags["ses:from-domain"] == ("example.com",)
    assert event.tags["ses:configuration-set"] == ("orders",)


def test_no_configuration_set() -> None:
    event = make_event(EventType.DELIVERY, configuration_set=None)
    assert event.configuration_set is None
    assert "ses:configuration-set" not in event.tags
    assert event.tags["ses:operation"] == ("SendEmail",)


def test_message_id_source_and_subject() -> None:
    event = make_event(
        EventType.OPEN,
        message_id="0100018c00000000-custom-000000",
        source="News <news@shop.example>",
        subject="Spring sale",
    )
    assert event.message_id == "0100018c00000000-custom-000000"
    assert event.mail.common_headers is not None
    assert event.mail.common_headers.message_id == "0100018c00000000-custom-000000"
    assert event.mail.source == "News <news@shop.example>"
    assert event.mail.source_arn == "arn:aws:ses:us-east-1:123456789012:identity/shop.example"
    assert event.tags["ses:from-domain"] == ("shop.example",)
    assert event.mail.header("subject") == "Spring sale"


def test_generated_message_ids_are_unique_and_ses_shaped() -> None:
    ids = {make_event(EventType.SEND).message_id for _ in range(20)}
    assert len(ids) == 20
    for message_id in ids:
        prefix, _, rest = message_id.partition("-")
        assert len(prefix) == 16
        assert rest.endswith("-000000")


def test_times() -> None:
    sent = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    event = make_event(EventType.CLICK, sent_at=sent, delay=timedelta(minutes=3))
    assert isinstance(event, ClickEvent)
    assert event.mail.timestamp == sent
    assert event.timestamp == sent + timedelta(minutes=3)
    record = make_record(EventType.DELIVERY_DELAY, sent_at=sent, delay=timedelta(0))
    assert record["mail"]["timestamp"] == "2024-05-01T09:30:00.000Z"
    assert record["deliveryDelay"]["expirationTime"] == "2024-05-01T21:30:00.000Z"


def test_detail_overrides() -> None:
    event = make_event(EventType.BOUNCE, detail={"bounceType": "Transient", "bounceSubType": "MailboxFull"})
    assert isinstance(event, BounceEvent)
    assert event.bounce.bounce_type is BounceType.TRANSIENT
    assert event.bounce.bounce_sub_type is BounceSubType.MAILBOX_FULL
    assert not event.should_suppress
    assert event.bounce.bounced_recipients[0].status == "5.1.1"  # untouched entries stay

    complaint = make_event(EventType.COMPLAINT, detail={"complaintFeedbackType": "not-spam"})
    assert isinstance(complaint, ComplaintEvent)
    assert not complaint.should_suppress

    delivery = make_event(EventType.DELIVERY, detail={"processingTimeMillis": 7, "remoteMtaIp": "192.0.2.7"})
    assert isinstance(delivery, DeliveryEvent)
    assert delivery.delivery.processing_time_millis == 7
    assert delivery.delivery.remote_mta_ip == "192.0.2.7"


def test_detail_override_with_an_unknown_value_stays_visible() -> None:
    event = make_event(EventType.DELIVERY_DELAY, detail={"delayType": "QuotaExceeded"})
    assert isinstance(event, DeliveryDelayEvent)
    assert event.delivery_delay.delay_type.value == "QuotaExceeded"
    assert not event.delivery_delay.delay_type.is_known


def test_detail_override_with_a_wrong_type_fails_like_a_bad_record() -> None:
    with pytest.raises(ParseError) as info:
        make_event(EventType.DELIVERY, detail={"processingTimeMillis": "fast"})
    assert info.value.path == ("delivery", "processingTimeMillis")


def test_default_details_are_realistic() -> None:
    bounce = make_event(EventType.BOUNCE)
    assert isinstance(bounce, BounceEvent)
    assert bounce.should_suppress
    assert bounce.bounce.feedback_id is not None
    sub = make_event(EventType.SUBSCRIPTION)
    assert isinstance(sub, SubscriptionEvent)
    assert sub.subscription.new_topic_preferences is not None
    assert sub.subscription.new_topic_preferences.unsubscribe_all is True


def test_make_mail_without_headers() -> None:
    mail = make_mail(include_headers=False, recipients=["z@example.org"])
    assert "headers" not in mail
    assert "commonHeaders" not in mail
    assert mail["destination"] == ["z@example.org"]
    record = make_record(EventType.SEND, include_headers=False)
    event = parse_event(record)
    assert event.mail.headers is None
    assert event.mail.header("Subject") is None


def test_make_mail_for_notifications() -> None:
    mail = make_mail(family=EventFamily.NOTIFICATION)
    assert "tags" not in mail
    assert mail["sourceIp"] == "192.0.2.10"


def test_make_event_returns_a_parsed_event() -> None:
    event = make_event(EventType.SEND)
    assert isinstance(event, SesEvent)
    assert event.raw["eventType"] == "Send"


def test_sample_records_are_the_vectors() -> None:
    samples = sample_records()
    assert len(samples) == 15
    for name, record in samples.items():
        event = parse_event(record)
        assert isinstance(event, SesEvent), name
        assert to_dict(event) == record
