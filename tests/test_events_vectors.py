"""Every SES example record in tests/data parses to the right class with the right values.

The vectors are the SES Developer Guide's examples (copied from shared/vectors/ses-events): ten
event-publishing records, one per event type, and five feedback notifications.
"""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import sesflow
from sesflow.events import (
    EVENT_CLASS_BY_TYPE,
    BouncedRecipient,
    BounceEvent,
    BounceSubType,
    BounceType,
    ClickEvent,
    CommonHeaders,
    ComplaintEvent,
    ComplaintFeedbackType,
    DelayedRecipient,
    DelayType,
    DeliveryDelayEvent,
    DeliveryEvent,
    EventFamily,
    EventType,
    Header,
    OpenEvent,
    RejectEvent,
    RenderingFailureEvent,
    Send,
    SendEvent,
    SesEvent,
    SubscriptionEvent,
    SubscriptionStatus,
    Tags,
    TopicPreferences,
    TopicSubscriptionStatus,
    parse_event,
    to_dict,
)
from sesflow.testing import sample_records

from .conftest import DATA, load

VECTORS = sorted(p.name for p in DATA.glob("*.json"))
EXAMPLE_ID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
STANDARD_TAGS = {
    "ses:configuration-set": ("ConfigSet",),
    "ses:source-ip": ("192.0.2.0",),
    "ses:from-domain": ("example.com",),
    "ses:caller-identity": ("ses_user",),
}
NOTIFICATION_HEADERS = (
    Header("From", '"John Doe" <john@example.com>'),
    Header(
        "To",
        '"Jane Doe" <jane@example.com>, "Mary Doe" <mary@example.com>, "Richard Doe" <richard@example.com>',
    ),
    Header("Message-ID", "custom-message-ID"),
    Header("Subject", "Hello"),
    Header("Content-Type", 'text/plain; charset="UTF-8"'),
    Header("Content-Transfer-Encoding", "base64"),
    Header("Date", "Wed, 27 Jan 2016 14:05:45 +0000"),
)
NOTIFICATION_TIME = datetime(2016, 1, 27, 14, 59, 38, 237000, tzinfo=UTC)


def utc(*args: int, ms: int = 0) -> datetime:
    return datetime(*args, microsecond=ms * 1000, tzinfo=UTC)  # type: ignore[misc]


def parse(name: str) -> Any:
    """Parse a vector from its bytes, as a transport would hand it over."""
    return parse_event((DATA / name).read_bytes())


def assert_utc(value: datetime) -> None:
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


# --- every vector -------------------------------------------------------------------------------------------


def test_the_vectors_are_all_here() -> None:
    assert len(VECTORS) == 15
    assert sorted(sample_records()) == [name.removesuffix(".json") for name in VECTORS]


@pytest.mark.parametrize("name", VECTORS)
def test_vector_parses_to_the_class_of_its_type(name: str) -> None:
    raw = load(name)
    event = parse(name)
    family = EventFamily.EVENT if "eventType" in raw else EventFamily.NOTIFICATION
    assert type(event) is EVENT_CLASS_BY_TYPE[EventType(raw[family.value])]
    assert event.family is family
    assert event.event_type.value == raw[family.value]
    assert event.raw == raw
    assert event.message_id == raw["mail"]["messageId"]
    assert_utc(event.timestamp)
    assert_utc(event.mail.timestamp)
    assert event.mail.destination == tuple(raw["mail"]["destination"])
    assert all(isinstance(r, str) for r in event.recipients)


@pytest.mark.parametrize("name", VECTORS)
def test_vector_parses_the_same_from_bytes_text_and_mapping(name: str) -> None:
    data = (DATA / name).read_bytes()
    from_bytes = parse_event(data)
    assert parse_event(data.decode()) == from_bytes
    assert parse_event(json.loads(data)) == from_bytes


@pytest.mark.parametrize("name", VECTORS)
def test_vector_round_trips_through_to_dict(name: str) -> None:
    event = parse(name)
    assert to_dict(event) == load(name)
    # and what to_dict gives parses back to an equal event
    assert parse_event(to_dict(event)) == event


@pytest.mark.parametrize("name", VECTORS)
def test_vector_survives_pickling(name: str) -> None:
    event = parse(name)
    clone = pickle.loads(pickle.dumps(event))
    assert clone == event
    assert clone.raw == event.raw
    assert clone.tags == event.tags
    assert clone.mail.headers == event.mail.headers


@pytest.mark.parametrize("name", VECTORS)
def test_vector_configuration_set_and_tags(name: str) -> None:
    raw = load(name)
    event = parse(name)
    if event.family is EventFamily.NOTIFICATION:
        assert event.configuration_set is None
        assert event.mail.tags is None
        assert event.tags == {}
    else:
        assert event.configuration_set == "ConfigSet"
        assert isinstance(event.tags, Tags)
        assert event.tags == {name: tuple(values) for name, values in raw["mail"]["tags"].items()}


# --- event publishing, one test per type --------------------------------------------------------------------


def test_bounce_event() -> None:
    event = parse("event_01_Bounce.json")
    assert isinstance(event, BounceEvent)
    assert event.event_type is EventType.BOUNCE
    bounce = event.bounce
    assert bounce.bounce_type is BounceType.PERMANENT
    assert bounce.bounce_sub_type is BounceSubType.GENERAL
    assert bounce.bounced_recipients == (
        BouncedRecipient(
            email_address="recipient@example.com",
            action="failed",
            status="5.1.1",
            diagnostic_code="smtp; 550 5.1.1 user unknown",
        ),
    )
    assert bounce.timestamp == utc(2017, 8, 5, 0, 41, 2, ms=669)
    assert bounce.feedback_id == "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000"
    assert bounce.reporting_mta == "dsn; mta.example.com"
    assert bounce.remote_mta_ip is None
    assert event.timestamp == bounce.timestamp
    assert event.recipients == ("recipient@example.com",)
    assert event.is_permanent
    assert event.should_suppress

    mail = event.mail
    assert mail.timestamp == utc(2017, 8, 5, 0, 40, 2, ms=12)
    assert mail.source == "Sender Name <sender@example.com>"
    assert mail.source_arn == "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com"
    assert mail.sending_account_id == "123456789012"
    assert mail.message_id == EXAMPLE_ID
    assert mail.destination == ("recipient@example.com",)
    assert mail.headers_truncated is False
    assert mail.source_ip is None
    assert mail.caller_identity is None
    assert mail.headers is not None
    assert [h.name for h in mail.headers] == ["From", "To", "Subject", "MIME-Version", "Content-Type"]
    assert mail.header("subject") == "Message sent from Amazon SES"
    assert mail.header("CONTENT-TYPE") == (
        'multipart/alternative; boundary="----=_Part_7307378_1629847660.1516840721503"'
    )
    assert mail.header("X-Not-There") is None
    assert mail.common_headers == CommonHeaders(
        from_=("Sender Name <sender@example.com>",),
        to=("recipient@example.com",),
        message_id=EXAMPLE_ID,
        subject="Message sent from Amazon SES",
    )
    assert mail.common_headers.cc is None
    assert mail.common_headers.date is None
    assert mail.tags == STANDARD_TAGS
    assert mail.tags.first("ses:source-ip") == "192.0.2.0"
    assert mail.tags.first("absent") is None


def test_complaint_event() -> None:
    event = parse("event_02_Complaint.json")
    assert isinstance(event, ComplaintEvent)
    complaint = event.complaint
    assert [r.email_address for r in complaint.complained_recipients] == ["recipient@example.com"]
    assert complaint.timestamp == utc(2017, 8, 5, 0, 41, 2, ms=669)
    assert complaint.arrival_date == utc(2017, 8, 5, 0, 41, 2, ms=669)
    assert complaint.arrival_date is not None
    assert_utc(complaint.arrival_date)
    assert complaint.feedback_id == "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000"
    assert complaint.user_agent is not None
    assert complaint.user_agent.startswith("Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
    assert complaint.complaint_feedback_type is ComplaintFeedbackType.ABUSE
    assert complaint.complaint_sub_type is None
    assert event.recipients == ("recipient@example.com",)
    assert event.timestamp == complaint.timestamp
    assert event.should_suppress
    assert event.mail.timestamp == utc(2017, 8, 5, 0, 40, 1, ms=123)
    assert event.mail.tags == STANDARD_TAGS


def test_delivery_event() -> None:
    event = parse("event_03_Delivery.json")
    assert isinstance(event, DeliveryEvent)
    delivery = event.delivery
    assert delivery.timestamp == utc(2016, 10, 19, 23, 21, 4, ms=133)
    assert delivery.processing_time_millis == 11893
    assert type(delivery.processing_time_millis) is int
    assert delivery.recipients == ("recipient@example.com",)
    assert delivery.smtp_response == "250 2.6.0 Message received"
    assert delivery.reporting_mta == "mta.example.com"
    assert delivery.remote_mta_ip is None
    assert event.recipients == ("recipient@example.com",)
    assert event.timestamp == delivery.timestamp
    assert event.mail.timestamp == utc(2016, 10, 19, 23, 20, 52, ms=240)
    assert event.mail.header("Content-Transfer-Encoding") == "7bit"
    assert event.tags == {
        **STANDARD_TAGS,
        "ses:outgoing-ip": ("192.0.2.0",),
        "myCustomTag1": ("myCustomTagValue1",),
        "myCustomTag2": ("myCustomTagValue2",),
    }
    assert event.tags.first("myCustomTag2") == "myCustomTagValue2"


def test_send_event() -> None:
    event = parse("event_04_Send.json")
    assert isinstance(event, SendEvent)
    assert event.send == Send()
    assert event.timestamp == event.mail.timestamp == utc(2016, 10, 14, 5, 2, 16, ms=645)
    assert event.recipients == ("recipient@example.com",)
    assert event.mail.header("x-ses-message-tags") == (
        "myCustomTag1=myCustomTagValue1, myCustomTag2=myCustomTagValue2"
    )
    assert (
        event.mail.header("Content-Type")
        == 'multipart/mixed;  boundary="----=_Part_0_716996660.1476421336341"'
    )
    assert event.tags["myCustomTag1"] == ("myCustomTagValue1",)


def test_reject_event() -> None:
    event = parse("event_05_Reject.json")
    assert isinstance(event, RejectEvent)
    assert event.reject.reason == "Bad content"
    # A reject concerns the message as a whole: its destination (here, the vector sends to itself).
    assert event.recipients == ("sender@example.com",)
    assert event.timestamp == utc(2016, 10, 14, 17, 38, 15, ms=211)
    assert event.mail.common_headers is not None
    assert event.mail.common_headers.to == ("recipient@example.com",)


def test_open_event() -> None:
    event = parse("event_06_Open.json")
    assert isinstance(event, OpenEvent)
    assert event.open.ip_address == "192.0.2.1"
    assert event.open.timestamp == utc(2017, 8, 9, 22, 0, 19, ms=652)
    assert event.open.user_agent is not None
    assert event.open.user_agent.startswith("Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_3")
    assert event.timestamp == event.open.timestamp
    assert event.mail.timestamp == utc(2017, 8, 9, 21, 59, 49, ms=927)
    # This vector has no sourceArn, as some real Open and Click records do.
    assert event.mail.source_arn is None
    assert event.mail.header("X-SES-CONFIGURATION-SET") == "ConfigSet"
    assert event.tags["ses:caller-identity"] == ("IAM_user_or_role_name",)
    assert event.recipients == ("recipient@example.com",)


def test_click_event() -> None:
    event = parse("event_07_Click.json")
    assert isinstance(event, ClickEvent)
    click = event.click
    assert click.link == "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html"
    assert click.ip_address == "192.0.2.1"
    assert click.timestamp == utc(2017, 8, 9, 23, 51, 25, ms=570)
    assert isinstance(click.link_tags, Tags)
    assert click.link_tags == {"samplekey0": ("samplevalue0",), "samplekey1": ("samplevalue1",)}
    assert click.link_tags.first("samplekey1") == "samplevalue1"
    assert event.timestamp == click.timestamp
    assert event.mail.source_arn is None
    assert event.mail.header("message-id") == EXAMPLE_ID
    assert event.configuration_set == "ConfigSet"


def test_rendering_failure_event() -> None:
    event = parse("event_08_RenderingFailure.json")
    assert isinstance(event, RenderingFailureEvent)
    assert event.event_type is EventType.RENDERING_FAILURE
    assert event.event_type.value == "Rendering Failure"
    assert event.failure.template_name == "MyTemplate"
    assert event.failure.error_message == "Attribute 'attributeName' is not present in the rendering data."
    assert event.timestamp == event.mail.timestamp == utc(2018, 1, 22, 18, 43, 6, ms=197)
    # No headers in this record: none of the header views invent any.
    assert event.mail.headers is None
    assert event.mail.common_headers is None
    assert event.mail.header("From") is None
    assert event.tags == {"ses:configuration-set": ("ConfigSet",)}


def test_delivery_delay_event() -> None:
    event = parse("event_09_DeliveryDelay.json")
    assert isinstance(event, DeliveryDelayEvent)
    delay = event.delivery_delay
    assert delay.delay_type is DelayType.TRANSIENT_COMMUNICATION_FAILURE
    assert delay.timestamp == utc(2020, 6, 16, 0, 25, 40, ms=95)
    assert delay.expiration_time == utc(2020, 6, 16, 0, 25, 40, ms=914)
    assert delay.delayed_recipients == (
        DelayedRecipient(
            email_address="recipient@example.com",
            status="4.4.1",
            diagnostic_code="smtp; 421 4.4.1 Unable to connect to remote host",
        ),
    )
    assert delay.reporting_mta is None
    assert event.recipients == ("recipient@example.com",)
    assert event.timestamp == delay.timestamp


def test_subscription_event() -> None:
    event = parse("event_10_Subscription.json")
    assert isinstance(event, SubscriptionEvent)
    sub = event.subscription
    assert sub.contact_list == "ContactListName"
    assert sub.timestamp == utc(2022, 1, 12, 1, 0, 17, ms=910)
    assert sub.source == "UnsubscribeHeader"
    assert sub.new_topic_preferences == TopicPreferences(
        unsubscribe_all=True,
        topic_subscription_status=(TopicSubscriptionStatus("ExampleTopicName", SubscriptionStatus.OPT_OUT),),
    )
    assert sub.old_topic_preferences is not None
    assert sub.old_topic_preferences.unsubscribe_all is False
    (status,) = sub.old_topic_preferences.topic_subscription_status or ()
    assert status.subscription_status is SubscriptionStatus.OPT_OUT
    assert status.subscription_status.is_known
    assert event.timestamp == sub.timestamp
    assert event.recipients == ("recipient@example.com",)
    assert event.message_id == "EXAMPLEe4bccb684-777bc8de-afa7-4970-92b0-f515137b1497-000000"
    assert event.tags["ses:operation"] == ("SendEmail",)


# --- feedback notifications ---------------------------------------------------------------------------------


def _assert_notification_mail(event: SesEvent, message_id: str) -> None:
    assert event.family is EventFamily.NOTIFICATION
    mail = event.mail
    assert mail.message_id == message_id
    assert mail.timestamp == NOTIFICATION_TIME
    assert mail.source == "john@example.com"
    assert mail.source_arn == "arn:aws:ses:us-east-1:888888888888:identity/example.com"
    assert mail.source_ip == "127.0.3.0"
    assert mail.caller_identity == "IAM_user_or_role_name"
    assert mail.sending_account_id == "123456789012"
    assert mail.tags is None
    assert event.configuration_set is None


def test_bounce_notification_with_details() -> None:
    event = parse("notification_01_Bounce.json")
    assert isinstance(event, BounceEvent)
    _assert_notification_mail(event, "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000")
    assert event.mail.destination == ("jane@example.com", "mary@example.com", "richard@example.com")
    assert event.mail.headers == NOTIFICATION_HEADERS
    assert event.mail.header("date") == "Wed, 27 Jan 2016 14:05:45 +0000"
    assert event.mail.common_headers == CommonHeaders(
        from_=("John Doe <john@example.com>",),
        date="Wed, 27 Jan 2016 14:05:45 +0000",
        to=("Jane Doe <jane@example.com>, Mary Doe <mary@example.com>, Richard Doe <richard@example.com>",),
        message_id="custom-message-ID",
        subject="Hello",
    )
    bounce = event.bounce
    assert bounce.bounce_type is BounceType.PERMANENT
    assert bounce.bounce_sub_type is BounceSubType.GENERAL
    assert bounce.reporting_mta == "dns; email.example.com"
    assert bounce.remote_mta_ip == "127.0.2.0"
    assert bounce.feedback_id == "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000"
    assert bounce.bounced_recipients[0].diagnostic_code == "smtp; 550 5.1.1 <jane@example.com>... User"
    assert event.recipients == ("jane@example.com",)
    assert event.timestamp == NOTIFICATION_TIME
    assert event.should_suppress


def test_bounce_notification_without_recipient_details() -> None:
    event = parse("notification_02_Bounce.json")
    assert isinstance(event, BounceEvent)
    _assert_notification_mail(event, "00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000")
    assert event.recipients == ("jane@example.com", "richard@example.com")
    for recipient in event.bounce.bounced_recipients:
        assert recipient.action is None
        assert recipient.status is None
        assert recipient.diagnostic_code is None
    assert event.bounce.reporting_mta is None
    assert event.should_suppress


def test_complaint_notification_with_feedback_report() -> None:
    event = parse("notification_03_Complaint.json")
    assert isinstance(event, ComplaintEvent)
    _assert_notification_mail(event, "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000")
    complaint = event.complaint
    assert complaint.user_agent == "AnyCompany Feedback Loop (V0.01)"
    assert complaint.complaint_feedback_type is ComplaintFeedbackType.ABUSE
    assert complaint.arrival_date == NOTIFICATION_TIME
    assert event.recipients == ("richard@example.com",)
    assert event.should_suppress


def test_complaint_notification_without_feedback_report() -> None:
    event = parse("notification_04_Complaint.json")
    assert isinstance(event, ComplaintEvent)
    _assert_notification_mail(event, "0000013786031775-163e3910-53eb-4c8e-a04a-f29debf88a84-000000")
    complaint = event.complaint
    assert complaint.user_agent is None
    assert complaint.complaint_feedback_type is None
    assert complaint.arrival_date is None
    assert complaint.feedback_id == "0000013786031775-fea503bc-7497-49e1-881b-a0379bb037d3-000000"
    # No feedback type reported: still a complaint, so still suppressed.
    assert event.should_suppress


def test_delivery_notification() -> None:
    event = parse("notification_05_Delivery.json")
    assert isinstance(event, DeliveryEvent)
    _assert_notification_mail(event, "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000")
    delivery = event.delivery
    assert delivery.processing_time_millis == 546
    assert delivery.recipients == ("jane@example.com",)
    assert delivery.reporting_mta == "a8-70.smtp-out.amazonses.com"
    assert delivery.smtp_response == "250 ok:  Message 64111812 accepted"
    assert delivery.remote_mta_ip == "127.0.2.0"
    assert event.recipients == ("jane@example.com",)
    assert event.mail.header("Date") == "Wed, 27 Jan 2016 14:58:45 +0000"
    assert event.mail.common_headers is not None
    assert event.mail.common_headers.to == ("Jane Doe <jane@example.com>",)


def test_notification_and_event_of_the_same_type_share_a_class_but_not_a_family() -> None:
    notification = parse("notification_01_Bounce.json")
    event = parse("event_01_Bounce.json")
    assert type(notification) is type(event) is BounceEvent
    assert notification.family is EventFamily.NOTIFICATION
    assert event.family is EventFamily.EVENT
    assert to_dict(notification)["notificationType"] == "Bounce"
    assert "eventType" not in to_dict(notification)


def test_parse_event_is_the_package_level_name() -> None:
    assert sesflow.parse_event is parse_event
    assert sesflow.to_dict is to_dict
