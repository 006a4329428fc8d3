"""Hand-written cases for the event models and ``parse_event``: the shapes the SES examples do not show.

Unknown fields and values, control messages, every kind of malformed input (and where ParseError says it
failed), lazily structured fields, immutability, equality, hashing, pickling and suppression rules.
"""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import attrs
import pytest

from sesflow import ParseError, SesflowError
from sesflow.events import (
    TOPIC_VALIDATION_TEXT,
    BounceEvent,
    BounceSubType,
    BounceType,
    ClickEvent,
    ComplaintEvent,
    ComplaintFeedbackType,
    ControlMessage,
    DelayType,
    DeliveryDelayEvent,
    DeliveryEvent,
    EventFamily,
    EventType,
    Header,
    ReceivedMail,
    SesEvent,
    SubscriptionEvent,
    SubscriptionStatus,
    SubscriptionSucceeded,
    Tags,
    TopicValidation,
    UnknownEvent,
    parse_event,
    to_dict,
)

from .conftest import load


def vector(name: str) -> dict[str, Any]:
    """A fresh, mutable copy of a vector (short name: ``"event_01_Bounce"``)."""
    return copy.deepcopy(load(name + ".json"))


def parse_as(cls: type[SesEvent], data: Any) -> Any:
    event = parse_event(data)
    assert type(event) is cls
    return event


def parse_error(data: Any) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_event(data)
    assert info.value.raw is data
    return info.value


# --- shapes the examples do not show ------------------------------------------------------------------------


def test_bounce_with_several_recipients_and_missing_status() -> None:
    record = vector("event_01_Bounce")
    record["mail"]["destination"] = ["a@example.com", "b@example.com", "c@example.com"]
    record["bounce"]["bounceType"] = "Transient"
    record["bounce"]["bounceSubType"] = "MailboxFull"
    record["bounce"]["bouncedRecipients"] = [
        {"emailAddress": "a@example.com", "action": "failed", "diagnosticCode": "smtp; 452 mailbox full"},
        {"emailAddress": "c@example.com"},
        {"emailAddress": "b@example.com", "status": "4.2.2"},
    ]
    event = parse_as(BounceEvent, record)
    assert event.recipients == ("a@example.com", "c@example.com", "b@example.com")
    first, second, third = event.bounce.bounced_recipients
    assert (first.action, first.status, first.diagnostic_code) == ("failed", None, "smtp; 452 mailbox full")
    assert (second.action, second.status, second.diagnostic_code) == (None, None, None)
    assert third.status == "4.2.2"
    assert event.bounce.bounce_sub_type is BounceSubType.MAILBOX_FULL
    assert not event.is_permanent
    assert not event.should_suppress
    assert to_dict(event) == record


def test_complaint_sub_type_null_is_none_and_omitted_by_to_dict() -> None:
    record = vector("event_02_Complaint")
    record["complaint"]["complaintSubType"] = None
    event = parse_as(ComplaintEvent, record)
    assert event.complaint.complaint_sub_type is None
    out = to_dict(event)
    assert "complaintSubType" not in out["complaint"]
    del record["complaint"]["complaintSubType"]
    assert out == record


def test_complaint_on_account_suppression_list() -> None:
    record = vector("notification_04_Complaint")
    record["complaint"]["complaintSubType"] = "OnAccountSuppressionList"
    event = parse_as(ComplaintEvent, record)
    assert event.complaint.complaint_sub_type == "OnAccountSuppressionList"
    assert event.should_suppress
    assert to_dict(event) == record


def test_source_arn_missing() -> None:
    record = vector("event_03_Delivery")
    del record["mail"]["sourceArn"]
    event = parse_as(DeliveryEvent, record)
    assert event.mail.source_arn is None
    assert "sourceArn" not in to_dict(event)["mail"]
    assert to_dict(event) == record


def test_headers_truncated_with_no_headers() -> None:
    record = vector("event_04_Send")
    record["mail"]["headersTruncated"] = True
    del record["mail"]["headers"]
    del record["mail"]["commonHeaders"]
    event = parse_event(record)
    assert event.mail.headers_truncated is True
    assert event.mail.headers is None
    assert event.mail.common_headers is None
    assert event.mail.header("Subject") is None
    assert event.configuration_set == "ConfigSet"
    assert to_dict(event) == record


def test_sender_common_header_as_a_string_becomes_a_tuple() -> None:
    record = vector("event_04_Send")
    record["mail"]["commonHeaders"]["sender"] = "bounces@example.com"
    event = parse_event(record)
    assert event.mail.common_headers is not None
    assert event.mail.common_headers.sender == ("bounces@example.com",)
    # Documented normalisation: it comes back as SES's usual one-item list.
    assert to_dict(event)["mail"]["commonHeaders"]["sender"] == ["bounces@example.com"]


def test_every_common_header() -> None:
    record = vector("event_04_Send")
    record["mail"]["commonHeaders"] = {
        "from": ["a@example.com"],
        "to": ["b@example.com", "c@example.com"],
        "cc": ["d@example.com"],
        "bcc": ["e@example.com"],
        "replyTo": ["f@example.com"],
        "sender": ["g@example.com"],
        "returnPath": "bounce@example.com",
        "date": "Mon, 1 Jan 2024 10:00:00 +0000",
        "messageId": "<id@example.com>",
        "subject": "Subject",
    }
    common = parse_event(record).mail.common_headers
    assert common is not None
    assert (common.from_, common.to, common.cc, common.bcc) == (
        ("a@example.com",),
        ("b@example.com", "c@example.com"),
        ("d@example.com",),
        ("e@example.com",),
    )
    assert (common.reply_to, common.sender) == (("f@example.com",), ("g@example.com",))
    assert (common.return_path, common.date) == ("bounce@example.com", "Mon, 1 Jan 2024 10:00:00 +0000")
    assert (common.message_id, common.subject) == ("<id@example.com>", "Subject")
    assert to_dict(parse_event(record)) == record


# --- timestamps ---------------------------------------------------------------------------------------------


def test_timestamps_are_aware_and_written_back_in_ses_format() -> None:
    record = vector("event_03_Delivery")
    record["delivery"]["timestamp"] = "2024-03-01T12:00:00.5+02:00"  # an offset, not Z
    record["mail"]["timestamp"] = "2024-03-01T09:59:59.123456"  # no offset at all: taken as UTC
    event = parse_as(DeliveryEvent, record)
    assert event.timestamp == datetime(2024, 3, 1, 10, 0, 0, 500000, tzinfo=UTC)
    assert event.timestamp.utcoffset() == timedelta(hours=2)
    assert event.mail.timestamp == datetime(2024, 3, 1, 9, 59, 59, 123456, tzinfo=UTC)
    assert event.mail.timestamp.tzinfo is UTC
    out = to_dict(event)
    assert out["delivery"]["timestamp"] == "2024-03-01T10:00:00.500Z"
    assert out["mail"]["timestamp"] == "2024-03-01T09:59:59.123Z"  # milliseconds, as SES writes them


@pytest.mark.parametrize(
    ("text", "written"),
    [
        # Years before 1000 keep four digits, so what to_dict writes parses again.
        ("0099-01-02T03:04:05.678Z", "0099-01-02T03:04:05.678Z"),
        # No UTC representation inside datetime's range: the instant keeps its own offset.
        ("9999-12-31T23:00:00.000-05:00", "9999-12-31T23:00:00.000-05:00"),
        ("0001-01-01T00:30:00.000+01:00", "0001-01-01T00:30:00.000+01:00"),
    ],
)
def test_extreme_timestamps_round_trip(text: str, written: str) -> None:
    record = vector("event_04_Send")
    record["mail"]["timestamp"] = text
    event = parse_event(record)
    out = to_dict(event)
    assert out["mail"]["timestamp"] == written
    assert parse_event(out) == event


# --- unknown fields and values ------------------------------------------------------------------------------


def test_unknown_fields_at_every_level_are_ignored_and_kept_in_raw() -> None:
    record = vector("event_01_Bounce")
    known = parse_event(copy.deepcopy(record))
    record["futureTopLevel"] = {"anything": [1, 2]}
    record["mail"]["futureMailField"] = 1
    record["mail"]["headers"][0]["futureHeaderField"] = True
    record["mail"]["commonHeaders"]["futureCommonHeader"] = ["x"]
    record["bounce"]["futureBounceField"] = "x"
    record["bounce"]["bouncedRecipients"][0]["futureRecipientField"] = None
    event = parse_as(BounceEvent, record)
    assert event == known
    assert event.mail.headers == known.mail.headers
    assert event.mail.common_headers == known.mail.common_headers
    assert event.raw is record
    assert event.raw["futureTopLevel"] == {"anything": [1, 2]}
    assert event.raw["mail"]["futureMailField"] == 1
    assert to_dict(event) == to_dict(known)
    assert "futureTopLevel" not in to_dict(event)


def test_unknown_fields_in_nested_details() -> None:
    record = vector("event_10_Subscription")
    record["subscription"]["newTopicPreferences"]["future"] = 1
    record["subscription"]["newTopicPreferences"]["topicSubscriptionStatus"][0]["future"] = 2
    record["subscription"]["future"] = 3
    event = parse_as(SubscriptionEvent, record)
    assert event == parse_event(load("event_10_Subscription.json"))
    record = vector("event_09_DeliveryDelay")
    record["deliveryDelay"]["delayedRecipients"][0]["future"] = 4
    assert parse_event(record) == parse_event(load("event_09_DeliveryDelay.json"))


def test_unknown_event_type_is_kept_whole() -> None:
    record = vector("event_04_Send")
    record["eventType"] = "Archive"
    del record["send"]
    record["archive"] = {"archiveArn": "arn:aws:ses:us-east-1:123456789012:mailmanager-archive/a-1"}
    event = parse_as(UnknownEvent, record)
    assert isinstance(event, SesEvent)
    assert event.type_name == "Archive"
    assert event.event_type.value == "Archive"
    assert event.event_type == "Archive"
    assert not event.event_type.is_known
    assert event.raw is record
    assert event.mail.message_id == record["mail"]["messageId"]
    assert event.configuration_set == "ConfigSet"
    assert event.family is EventFamily.EVENT
    assert to_dict(event) == record
    assert pickle.loads(pickle.dumps(event)) == event


@pytest.mark.parametrize(
    ("name", "path", "value", "read"),
    [
        ("event_01_Bounce", ("bounce", "bounceType"), "Gentle", lambda e: e.bounce.bounce_type),
        ("event_01_Bounce", ("bounce", "bounceSubType"), "Greylisted", lambda e: e.bounce.bounce_sub_type),
        (
            "event_09_DeliveryDelay",
            ("deliveryDelay", "delayType"),
            "Quota",
            lambda e: e.delivery_delay.delay_type,
        ),
        (
            "event_02_Complaint",
            ("complaint", "complaintFeedbackType"),
            "dislike",
            lambda e: e.complaint.complaint_feedback_type,
        ),
        (
            "event_10_Subscription",
            ("subscription", "newTopicPreferences", "topicSubscriptionStatus", 0, "subscriptionStatus"),
            "Paused",
            lambda e: e.subscription.new_topic_preferences.topic_subscription_status[0].subscription_status,
        ),
    ],
)
def test_unknown_enum_values_are_kept_and_visible(
    name: str, path: tuple[str | int, ...], value: str, read: Callable[[Any], Any]
) -> None:
    record = vector(name)
    target: Any = record
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    member = read(parse_event(record))
    assert member.value == value
    assert member == value
    assert str(member) == value
    assert member.is_known is False
    assert "(unknown)" in repr(member)
    assert to_dict(parse_event(record)) == record  # the unknown value is written back as SES sent it
    assert json.loads(json.dumps(to_dict(parse_event(record)))) == record


def test_unknown_values_are_interned_and_survive_pickling() -> None:
    assert BounceType("Gentle") is BounceType("Gentle")
    assert pickle.loads(pickle.dumps(BounceType("Gentle"))) is BounceType("Gentle")
    assert pickle.loads(pickle.dumps(DelayType.MAILBOX_FULL)) is DelayType.MAILBOX_FULL


@pytest.mark.parametrize(
    ("enum", "spelling"),
    [
        (BounceType, "PERMANENT"),
        (ComplaintFeedbackType, "NOT_SPAM"),
        (DelayType, "MAILBOX_FULL"),
        (SubscriptionStatus, "OPT_OUT"),
        (EventType, "BOUNCE"),
    ],
)
def test_a_value_spelled_like_a_member_name_is_still_unknown(enum: Any, spelling: str) -> None:
    member = enum(spelling)
    assert member.value == spelling
    assert member.is_known is False
    assert member is not enum[spelling]
    assert enum[spelling].is_known is True


def test_a_bounce_type_spelled_like_a_member_name_is_not_permanent() -> None:
    record = vector("event_01_Bounce")
    record["bounce"]["bounceType"] = "PERMANENT"
    event = parse_as(BounceEvent, record)
    assert event.bounce.bounce_type.is_known is False
    assert not event.should_suppress


# --- control messages ---------------------------------------------------------------------------------------


def test_subscription_succeeded() -> None:
    record = {
        "notificationType": "AmazonSnsSubscriptionSucceeded",
        "message": "You have successfully subscribed your Amazon SNS topic "
        "'arn:aws:sns:us-east-1:123456789012:bounces' to receive 'Bounce' notifications from Amazon SES "
        "for identity 'example.com'.",
    }
    result = parse_event(json.dumps(record))
    assert type(result) is SubscriptionSucceeded
    assert isinstance(result, ControlMessage)
    assert not isinstance(result, SesEvent)
    assert result.message == record["message"]
    assert result.raw == record
    assert parse_event({"notificationType": "AmazonSnsSubscriptionSucceeded"}) == SubscriptionSucceeded(
        raw=None, message=None
    )


@pytest.mark.parametrize(
    "payload",
    [
        TOPIC_VALIDATION_TEXT,
        TOPIC_VALIDATION_TEXT.encode(),
        TOPIC_VALIDATION_TEXT + "\n",
        bytearray(TOPIC_VALIDATION_TEXT.encode()),
    ],
)
def test_topic_validation_text(payload: Any) -> None:
    result = parse_event(payload)
    assert type(result) is TopicValidation
    assert not isinstance(result, SesEvent)
    assert result.message == "Successfully validated SNS topic for Amazon SES event publishing."
    assert result.raw is payload


def test_received_inbound_mail() -> None:
    record = {
        "notificationType": "Received",
        "mail": {"timestamp": "2024-01-01T00:00:00.000Z", "source": "a@example.org", "messageId": "abc"},
        "receipt": {"recipients": ["inbox@example.com"], "spamVerdict": {"status": "PASS"}},
        "content": "From: a@example.org\r\n\r\nhi",
    }
    result = parse_event(json.dumps(record).encode())
    assert type(result) is ReceivedMail
    assert not isinstance(result, SesEvent)
    assert result.mail == record["mail"]
    assert result.receipt == record["receipt"]
    assert result.raw == record
    odd = parse_event({"notificationType": "Received", "mail": "not an object"})
    assert isinstance(odd, ReceivedMail)
    assert odd.mail is None
    assert odd.receipt is None


# --- ParseError ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [b"", "", b"{", "{'eventType': 'Send'}", b"\xff\xfe{}", "Successfully", b"not json at all", "[1, 2"],
)
def test_invalid_json(payload: Any) -> None:
    error = parse_error(payload)
    assert error.path == ()
    assert error.location == ""
    assert "invalid JSON" in str(error)


@pytest.mark.parametrize(
    ("payload", "kind"),
    [(b"[1, 2]", "list"), ("42", "int"), ('"Bounce"', "str"), (b"null", "NoneType"), ("true", "bool")],
)
def test_json_that_is_not_an_object(payload: Any, kind: str) -> None:
    error = parse_error(payload)
    assert error.path == ()
    assert f"expected a JSON object, got {kind}" in str(error)


@pytest.mark.parametrize("payload", [None, 42, 1.5, [1], ("eventType", "Send"), object()])
def test_a_python_value_that_is_neither_json_nor_a_mapping(payload: Any) -> None:
    error = parse_error(payload)
    assert "expected JSON bytes/str or a mapping" in str(error)


@pytest.mark.parametrize(
    "payload",
    [{}, {"mail": {}}, {"eventType": None, "notificationType": None, "mail": {}}, b'{"type": "Bounce"}'],
)
def test_neither_event_type_nor_notification_type(payload: Any) -> None:
    error = parse_error(payload)
    assert error.path == ()
    assert "neither 'eventType' nor 'notificationType'" in error.reason


def test_unknown_notification_type_is_an_error_at_its_field() -> None:
    error = parse_error({"notificationType": "Surprise", "mail": {}})
    assert error.path == ("notificationType",)
    assert "Surprise" in error.reason


def _broken(name: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    record = vector(name)
    change(record)
    return record


def _set(*path: str | int, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(record: dict[str, Any]) -> None:
        target: Any = record
        for part in path[:-1]:
            target = target[part]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


_DELETE = object()

WRONG_TYPES = [
    # (vector, where, new value, expected path, words in the reason)
    ("event_04_Send", ("eventType",), 7, ("eventType",), "expected a string, got int"),
    ("notification_05_Delivery", ("notificationType",), ["Delivery"], ("notificationType",), "got list"),
    ("event_04_Send", ("mail",), _DELETE, ("mail",), "required field is missing"),
    ("event_04_Send", ("mail",), None, ("mail",), "required field is missing"),
    ("event_04_Send", ("mail",), "mail", ("mail",), "expected an object, got str"),
    ("event_01_Bounce", ("bounce",), _DELETE, ("bounce",), "required field is missing"),
    ("event_01_Bounce", ("bounce",), [], ("bounce",), "expected an object, got list"),
    ("event_04_Send", ("mail", "messageId"), _DELETE, ("mail", "messageId"), "required field is missing"),
    ("event_04_Send", ("mail", "messageId"), 12, ("mail", "messageId"), "expected a string, got int"),
    ("event_04_Send", ("mail", "timestamp"), 1700000000, ("mail", "timestamp"), "ISO 8601 timestamp string"),
    ("event_04_Send", ("mail", "timestamp"), "yesterday", ("mail", "timestamp"), "not an ISO 8601 timestamp"),
    ("event_04_Send", ("mail", "destination"), "a@example.com", ("mail", "destination"), "a list of strings"),
    ("event_04_Send", ("mail", "destination", 0), None, ("mail", "destination", 0), "got NoneType"),
    ("event_04_Send", ("mail", "headersTruncated"), "false", ("mail", "headersTruncated"), "a boolean"),
    ("event_04_Send", ("mail", "headers"), {}, ("mail", "headers"), "expected a list, got dict"),
    ("event_04_Send", ("mail", "commonHeaders"), [], ("mail", "commonHeaders"), "expected an object"),
    ("event_04_Send", ("mail", "tags"), ["ConfigSet"], ("mail", "tags"), "expected an object, got list"),
    ("event_01_Bounce", ("bounce", "bounceType"), 1, ("bounce", "bounceType"), "expected a string, got int"),
    (
        "event_01_Bounce",
        ("bounce", "bouncedRecipients", 0, "emailAddress"),
        None,
        ("bounce", "bouncedRecipients", 0, "emailAddress"),
        "expected a string, got NoneType",
    ),
    (
        "notification_02_Bounce",
        ("bounce", "bouncedRecipients", 1, "emailAddress"),
        _DELETE,
        ("bounce", "bouncedRecipients", 1, "emailAddress"),
        "required field is missing",
    ),
    (
        "notification_02_Bounce",
        ("bounce", "bouncedRecipients", 1),
        "richard@example.com",
        ("bounce", "bouncedRecipients", 1),
        "expected an object, got str",
    ),
    (
        "event_03_Delivery",
        ("delivery", "processingTimeMillis"),
        "11893",
        ("delivery", "processingTimeMillis"),
        "expected an integer, got str",
    ),
    (
        "event_03_Delivery",
        ("delivery", "processingTimeMillis"),
        True,
        ("delivery", "processingTimeMillis"),
        "expected an integer, got bool",
    ),
    (
        "event_03_Delivery",
        ("delivery", "processingTimeMillis"),
        11893.0,
        ("delivery", "processingTimeMillis"),
        "expected an integer, got float",
    ),
    ("event_07_Click", ("click", "link"), _DELETE, ("click", "link"), "required field is missing"),
    ("event_07_Click", ("click", "linkTags"), [], ("click", "linkTags"), "expected an object of lists"),
    (
        "event_07_Click",
        ("click", "linkTags", "samplekey1"),
        "samplevalue1",
        ("click", "linkTags", "samplekey1"),
        "expected a list of strings",
    ),
    (
        "event_07_Click",
        ("click", "linkTags", "samplekey0", 0),
        3,
        ("click", "linkTags", "samplekey0", 0),
        "expected a string, got int",
    ),
    (
        "event_09_DeliveryDelay",
        ("deliveryDelay", "expirationTime"),
        "2020-13-45",
        ("deliveryDelay", "expirationTime"),
        "not an ISO 8601 timestamp",
    ),
    (
        "event_10_Subscription",
        ("subscription", "newTopicPreferences", "unsubscribeAll"),
        "true",
        ("subscription", "newTopicPreferences", "unsubscribeAll"),
        "expected a boolean, got str",
    ),
    (
        "event_10_Subscription",
        ("subscription", "oldTopicPreferences", "topicSubscriptionStatus", 0, "subscriptionStatus"),
        None,
        ("subscription", "oldTopicPreferences", "topicSubscriptionStatus", 0, "subscriptionStatus"),
        "expected a string, got NoneType",
    ),
]


@pytest.mark.parametrize(("name", "where", "value", "path", "reason"), WRONG_TYPES)
@pytest.mark.parametrize("form", ["dict", "str", "bytes"])
def test_wrong_type_in_a_known_field(
    name: str, where: tuple[str | int, ...], value: Any, path: tuple[str | int, ...], reason: str, form: str
) -> None:
    record = _broken(name, _set(*where, value=value))
    payload: Any = {"dict": record, "str": json.dumps(record), "bytes": json.dumps(record).encode()}[form]
    error = parse_error(payload)
    assert error.path == path
    assert reason in error.reason
    assert isinstance(error, SesflowError)
    assert isinstance(error, ValueError)
    assert error.location in str(error)


@pytest.mark.parametrize(
    ("path", "location"),
    [
        (("mail", "timestamp"), "mail.timestamp"),
        (("bounce", "bouncedRecipients", 0, "emailAddress"), "bounce.bouncedRecipients[0].emailAddress"),
        (("click", "linkTags", "samplekey0", 0), "click.linkTags.samplekey0[0]"),
        (
            ("subscription", "newTopicPreferences", "topicSubscriptionStatus", 2, "topicName"),
            "subscription.newTopicPreferences.topicSubscriptionStatus[2].topicName",
        ),
    ],
)
def test_parse_error_location(path: tuple[str | int, ...], location: str) -> None:
    error = ParseError("bad", raw=b"{}", path=path)
    assert error.location == location
    assert str(error) == f"not a valid SES record at {location}: bad"


def test_parse_error_of_a_mapping_that_is_not_a_dict_carries_the_mapping() -> None:
    record = vector("event_01_Bounce")
    record["bounce"]["bounceType"] = 1
    proxy = MappingProxyType(record)
    error = parse_error(proxy)
    assert error.path == ("bounce", "bounceType")


def test_parse_error_pickles() -> None:
    error = parse_error(b'{"eventType": "Send", "mail": {"timestamp": 1}}')
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is ParseError
    assert (clone.reason, clone.raw, clone.path, str(clone)) == (
        error.reason,
        error.raw,
        error.path,
        str(error),
    )


def test_any_mapping_and_any_bytes_like_input_is_accepted() -> None:
    record = load("event_06_Open.json")
    expected = parse_event(record)
    assert parse_event(MappingProxyType(record)) == expected
    data = json.dumps(record).encode()
    assert parse_event(bytearray(data)) == expected
    assert parse_event(memoryview(data)) == expected


def test_a_mapping_input_is_not_copied() -> None:
    record = load("event_06_Open.json")
    assert parse_event(record).raw is record


# --- lazily structured fields -------------------------------------------------------------------------------


LAZY_CASES = [
    # (where in mail, bad value, how to read it, expected path)
    ("headers", [{"name": "From", "value": 1}], lambda e: e.mail.headers, ("mail", "headers", 0, "value")),
    (
        "headers",
        [{"name": "From", "value": "a"}, {"name": "To", "value": "b"}, {"value": "c"}],
        lambda e: e.mail.header("to"),
        ("mail", "headers", 2, "name"),
    ),
    ("headers", [{"name": "From", "value": "a"}, "To: b"], lambda e: e.mail.headers, ("mail", "headers", 1)),
    (
        "commonHeaders",
        {"to": "b@example.com"},
        lambda e: e.mail.common_headers,
        ("mail", "commonHeaders", "to"),
    ),
    (
        "commonHeaders",
        {"from": ["a@example.com", None]},
        lambda e: e.mail.common_headers,
        ("mail", "commonHeaders", "from", 1),
    ),
    (
        "tags",
        {"ses:configuration-set": "ConfigSet"},
        lambda e: e.mail.tags,
        ("mail", "tags", "ses:configuration-set"),
    ),
    (
        "tags",
        {"ses:configuration-set": [7]},
        lambda e: e.configuration_set,
        ("mail", "tags", "ses:configuration-set", 0),
    ),
    ("tags", {"x": ["1"], "y": [None]}, lambda e: e.tags, ("mail", "tags", "y", 0)),
]


@pytest.mark.parametrize(("key", "bad", "read", "path"), LAZY_CASES)
def test_a_bad_lazy_field_raises_parse_error_on_first_read(
    key: str, bad: Any, read: Callable[[Any], Any], path: tuple[str | int, ...]
) -> None:
    record = vector("event_04_Send")
    record["mail"][key] = bad
    event = parse_event(json.dumps(record))  # parsing succeeds: the field is not structured yet
    assert event.message_id == record["mail"]["messageId"]
    for _ in range(2):  # a failed read is not cached as a success
        with pytest.raises(ParseError) as info:
            read(event)
        assert info.value.path == path
        assert (
            info.value.raw == bad
        )  # the raw value of that field (the mail object does not keep the payload)
        assert info.value.location.startswith(f"mail.{key}")
    with pytest.raises(ParseError):
        to_dict(event)


def test_lazy_fields_are_structured_once_and_cached() -> None:
    event = parse_event(load("event_01_Bounce.json"))
    headers = event.mail.headers
    assert headers is not None
    assert isinstance(headers, tuple)
    assert all(type(h) is Header for h in headers)
    assert event.mail.headers is headers
    assert event.mail.tags is event.mail.tags
    assert event.mail.common_headers is event.mail.common_headers


def test_a_lazy_field_read_before_equality_and_after_compares_the_same() -> None:
    data = (load("event_01_Bounce.json"),)
    fresh, read = parse_event(data[0]), parse_event(json.dumps(data[0]))
    assert read.mail.headers is not None
    assert read.mail.tags is not None
    assert fresh == read
    assert hash(fresh) == hash(read)


# --- immutability, equality, hashing, pickling --------------------------------------------------------------


def test_events_are_frozen() -> None:
    event = parse_event(load("event_01_Bounce.json"))
    assert isinstance(event, BounceEvent)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.mail = event.mail  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.bounce.bounce_type = BounceType.TRANSIENT  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.mail.message_id = "other"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.bounce.bounced_recipients[0].email_address = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        event.mail.headers = ()  # type: ignore[misc]
    assert isinstance(event.mail.destination, tuple)
    assert isinstance(event.bounce.bounced_recipients, tuple)


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.__setitem__("x", ("y",)),
        lambda t: t.__delitem__("ses:configuration-set"),
        lambda t: t.update({"x": ("y",)}),
        lambda t: t.setdefault("x", ("y",)),
        lambda t: t.pop("ses:configuration-set"),
        lambda t: t.popitem(),
        lambda t: t.clear(),
        lambda t: t.__ior__({"x": ("y",)}),
    ],
)
def test_tags_are_read_only(change: Callable[[Tags], Any]) -> None:
    event = parse_event(load("event_07_Click.json"))
    assert isinstance(event, ClickEvent)
    for tags in (event.tags, event.click.link_tags):
        assert tags is not None
        before = dict(tags)
        with pytest.raises(TypeError, match="read-only"):
            change(tags)
        assert tags == before
        assert all(isinstance(values, tuple) for values in tags.values())


def test_tags_pickle_and_hash() -> None:
    tags = Tags({"a": ("1",), "b": ("2", "3")})
    clone = pickle.loads(pickle.dumps(tags))
    assert type(clone) is Tags
    assert clone == tags
    assert hash(clone) == hash(Tags({"b": ("2", "3"), "a": ("1",)}))


def test_equality_is_by_value_and_ignores_raw() -> None:
    record = load("event_01_Bounce.json")
    with_extra = {**copy.deepcopy(record), "future": 1}
    assert parse_event(record) == parse_event(with_extra)
    assert parse_event(record).raw != parse_event(with_extra).raw
    changed = copy.deepcopy(record)
    changed["bounce"]["bouncedRecipients"][0]["status"] = "5.1.2"
    assert parse_event(record) != parse_event(changed)
    changed = copy.deepcopy(record)
    changed["mail"]["tags"]["extra"] = ["1"]
    assert parse_event(record) != parse_event(changed)
    changed = copy.deepcopy(record)
    changed["mail"]["headers"][0]["value"] = "someone else"
    assert parse_event(record) != parse_event(changed)


def test_same_record_in_the_other_family_is_not_equal() -> None:
    record = load("event_03_Delivery.json")
    notification = {**copy.deepcopy(record), "notificationType": "Delivery"}
    del notification["eventType"]
    event, other = parse_event(record), parse_event(notification)
    assert other.family is EventFamily.NOTIFICATION
    assert event != other


def test_events_are_hashable_and_usable_in_sets() -> None:
    records = [load(f"event_0{i}_{name}.json") for i, name in ((1, "Bounce"), (3, "Delivery"), (7, "Click"))]
    events = {parse_event(r) for r in records} | {parse_event(json.dumps(r)) for r in records}
    assert len(events) == 3


def test_pickling_keeps_unknown_values_family_and_lazy_fields() -> None:
    record = vector("notification_01_Bounce")
    record["bounce"]["bounceType"] = "Gentle"
    event = parse_event(record)  # headers not read yet: the raw list travels and is structured on arrival
    clone = pickle.loads(pickle.dumps(event))
    assert clone == event
    assert clone.family is EventFamily.NOTIFICATION
    assert clone.bounce.bounce_type is BounceType("Gentle")
    assert clone.mail.header("subject") == "Hello"
    for control in (parse_event(TOPIC_VALIDATION_TEXT), parse_event({"notificationType": "Received"})):
        assert pickle.loads(pickle.dumps(control)) == control


# --- suppression --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bounce_type", "sub_type", "suppress"),
    [
        ("Permanent", "General", True),
        ("Permanent", "NoEmail", True),
        ("Permanent", "Suppressed", True),
        ("Permanent", "OnAccountSuppressionList", True),
        ("Transient", "General", False),
        ("Transient", "MailboxFull", False),
        ("Undetermined", "Undetermined", False),
        ("Gentle", "General", False),  # an unknown bounce type is not taken as permanent
    ],
)
def test_bounce_should_suppress(bounce_type: str, sub_type: str, suppress: bool) -> None:
    record = vector("event_01_Bounce")
    record["bounce"].update(bounceType=bounce_type, bounceSubType=sub_type)
    event = parse_as(BounceEvent, record)
    assert event.should_suppress is suppress
    assert event.is_permanent is suppress


@pytest.mark.parametrize(
    ("feedback_type", "suppress"),
    [
        ("abuse", True),
        ("auth-failure", True),
        ("fraud", True),
        ("other", True),
        ("virus", True),
        ("not-spam", False),
        (None, True),  # no feedback report: still a complaint
        ("future-kind", True),
    ],
)
def test_complaint_should_suppress(feedback_type: str | None, suppress: bool) -> None:
    record = vector("event_02_Complaint")
    if feedback_type is None:
        del record["complaint"]["complaintFeedbackType"]
    else:
        record["complaint"]["complaintFeedbackType"] = feedback_type
    assert parse_as(ComplaintEvent, record).should_suppress is suppress


# --- conveniences -------------------------------------------------------------------------------------------


def test_recipients_of_each_kind_of_event() -> None:
    delay = vector("event_09_DeliveryDelay")
    delay["mail"]["destination"] = ["a@example.com", "b@example.com"]
    delay["deliveryDelay"]["delayedRecipients"] = [{"emailAddress": "b@example.com"}]
    assert parse_as(DeliveryDelayEvent, delay).recipients == ("b@example.com",)
    delivery = vector("event_03_Delivery")
    delivery["mail"]["destination"] = ["a@example.com", "b@example.com"]
    delivery["delivery"]["recipients"] = ["a@example.com"]
    assert parse_as(DeliveryEvent, delivery).recipients == ("a@example.com",)
    click = vector("event_07_Click")
    click["mail"]["destination"] = ["a@example.com", "b@example.com"]
    assert parse_as(ClickEvent, click).recipients == ("a@example.com", "b@example.com")


def test_event_timestamp_is_the_events_own_time() -> None:
    sent = datetime(2017, 8, 9, 23, 50, 5, 795000, tzinfo=UTC)
    click = parse_as(ClickEvent, load("event_07_Click.json"))
    assert click.mail.timestamp == sent
    assert click.timestamp == datetime(2017, 8, 9, 23, 51, 25, 570000, tzinfo=UTC)
    assert click.timestamp > click.mail.timestamp


def test_unknown_enum_values_are_interned_only_up_to_a_bound() -> None:
    from sesflow.events import DelayType
    from sesflow.events.enums import _MAX_INTERNED_UNKNOWN

    values = [DelayType(f"FutureDelay{i}") for i in range(_MAX_INTERNED_UNKNOWN + 50)]
    assert all(v.value == f"FutureDelay{i}" and not v.is_known for i, v in enumerate(values))
    assert len(DelayType._unknown_) <= _MAX_INTERNED_UNKNOWN
    assert DelayType("FutureDelay0") is values[0]


def test_repr_of_an_event_with_a_malformed_lazy_field_does_not_raise() -> None:
    import sesflow

    from .conftest import load

    record = load("event_01_Bounce.json")
    record["mail"]["headers"] = [{"name": 1}]
    event = sesflow.parse_event(record)
    text = repr(event)
    assert "headers=<invalid: [{'name': 1}]>" in text
    with pytest.raises(sesflow.ParseError):
        _ = event.mail.headers
