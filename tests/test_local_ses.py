"""LocalSes against moto in server mode: the records it publishes, where they go, and what parses them.

Every send goes through a real client (SesClient, boto3, aioboto3) to the moto server; the events are read
back from where SES would put them (an SQS queue subscribed to the set's SNS topic, an EventBridge rule's SQS
target, the Firehose stream's S3 bucket) and parsed with sesflow's own sources.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from sesflow import parse_event
from sesflow.events import (
    BounceEvent,
    ClickEvent,
    ComplaintEvent,
    DeliveryDelayEvent,
    DeliveryEvent,
    EventType,
    RejectEvent,
    RenderingFailureEvent,
    SesEvent,
    SubscriptionEvent,
)
from sesflow.provisioning import Provisioner
from sesflow.sending import (
    AsyncSesClient,
    Attachment,
    Destination,
    Email,
    ListManagement,
    SesClient,
    Template,
)
from sesflow.sources import eventbridge_item, iter_s3_prefix
from sesflow.testing import (
    EICAR_TEST_STRING,
    LocalSes,
    LocalSesError,
    Outcome,
    SentMessage,
    simulator_outcome,
)
from sesflow.testing._local_core import Simulator

from ._local_ses_support import (
    SENDER,
    SIM,
    drain,
    email,
    eventbridge_queue,
    events_of,
    pipeline,
    plain_session,
    unique,
)

HTML = (
    '<p>Hello! <a href="https://shop.example.com/sale" ses:tags="link:sale;">Sale</a> '
    '<a href="https://shop.example.com/unsubscribe" ses:no-track>Unsubscribe</a></p>'
)
FIXED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def local(moto_server: str) -> Any:
    with LocalSes(moto_server, seed=11) as simulator:
        yield simulator


def _types(events: list[SesEvent]) -> list[str]:
    return [e.event_type.value for e in events]


# ------------------------------------------------------------------ the mailbox simulator

SIMULATOR_CASES = {
    "success": ["Send", "Delivery"],
    "success+order-17": ["Send", "Delivery"],
    "bounce+order-18": ["Send", "Bounce"],
    "ooto": ["Send", "Delivery"],
    "complaint": ["Send", "Delivery", "Complaint"],
    "suppressionlist+x": ["Send", "Bounce"],
}


@pytest.mark.parametrize(("mailbox", "expected"), sorted(SIMULATOR_CASES.items()))
def test_each_simulator_address_gives_its_event_sequence(
    local: LocalSes, mailbox: str, expected: list[str]
) -> None:
    pipe = pipeline(local)
    address = f"{mailbox}@{SIM}"
    ses = local.instrument(
        SesClient(pipe.configuration_set.name, client=local.client("sesv2"), max_send_rate=None)
    )
    result = ses.send(email(address))

    items = drain(local.client("sqs"), pipe.queue_url)
    assert {item.meta["envelope"] for item in items} == {"sns"}
    assert {item.meta["topic_arn"] for item in items} == {pipe.topic.arn}
    events = events_of(items)
    assert _types(events) == expected
    for event in events:
        assert event.message_id == result.message_id
        assert event.configuration_set == pipe.configuration_set.name
        assert event.mail.destination == (address,)
        assert event.mail.source == SENDER
        assert event.tags.first("campaign") == "spring"
        assert event.tags.first("ses:operation") == "SendEmail"
        assert event.tags.first("ses:from-domain") == "example.com"
        assert event.mail.header("Subject") == "Your order"
    times = [e.timestamp for e in events]
    assert times == sorted(times)
    assert len(set(times)) == len(times)

    last = events[-1]
    if isinstance(last, BounceEvent):
        (recipient,) = last.bounce.bounced_recipients
        assert recipient.email_address == address
        if mailbox.startswith("bounce"):
            assert (last.bounce.bounce_type, last.bounce.bounce_sub_type) == ("Permanent", "General")
            assert recipient.status == "5.1.1"
        else:
            assert (last.bounce.bounce_type, last.bounce.bounce_sub_type) == (
                "Permanent",
                "OnAccountSuppressionList",
            )
    if isinstance(last, ComplaintEvent):
        assert last.complaint.complaint_feedback_type == "abuse"
        assert last.recipients == (address,)
    if isinstance(last, DeliveryEvent):
        assert last.delivery.recipients == (address,)
        assert last.delivery.processing_time_millis > 0


def test_simulator_outcome_reads_labels_and_ignores_other_addresses() -> None:
    assert simulator_outcome(f"Bounce+X@{SIM.upper()}") is Outcome.BOUNCE
    assert simulator_outcome(f"Tester <suppressionlist+a+b@{SIM}>") is Outcome.SUPPRESSED
    assert simulator_outcome(f"ooto@{SIM}") is Outcome.DELIVERED
    assert simulator_outcome(f"nobody@{SIM}") is None
    assert simulator_outcome("bounce@example.com") is None


def test_one_send_event_per_message_and_one_outcome_per_recipient(local: LocalSes) -> None:
    pipe = pipeline(local)
    ses = local.ses_client(pipe.configuration_set.name)
    recipients = [f"success@{SIM}", f"bounce@{SIM}"]
    ses.send(email(recipients[:1], cc=recipients[1:], bcc="hidden@example.org"))
    events = events_of(drain(local.client("sqs"), pipe.queue_url))
    assert sorted(_types(events)) == ["Bounce", "Delivery", "Delivery", "Send"]
    (send,) = [e for e in events if e.event_type is EventType.SEND]
    assert send.mail.destination == (*recipients, "hidden@example.org")
    delivered = sorted(r for e in events if isinstance(e, DeliveryEvent) for r in e.recipients)
    assert delivered == ["hidden@example.org", f"success@{SIM}"]
    assert send.mail.common_headers is not None
    assert send.mail.common_headers.cc == (f"bounce@{SIM}",)
    assert "Bcc" not in {h.name for h in send.mail.headers or ()}


# ------------------------------------------------------------------ outcomes of other addresses, tracking


def test_configured_outcomes_by_address_and_domain(moto_server: str) -> None:
    with LocalSes(
        moto_server,
        seed=3,
        outcomes={
            "@bouncy.example": "bounce",
            "Full@Example.org": Outcome.SOFT_BOUNCE,
            "@slow.example": "delayed",
        },
    ) as local:
        pipe = pipeline(local)
        ses = local.ses_client(pipe.configuration_set.name)
        for to in ["a@bouncy.example", "full@example.org", "late@slow.example", "fine@example.org"]:
            ses.send(email(to))
        events = events_of(drain(local.client("sqs"), pipe.queue_url))
    by_recipient: dict[str, list[SesEvent]] = {}
    for event in events:
        if event.event_type is not EventType.SEND:
            by_recipient.setdefault(event.recipients[0], []).append(event)
    bounce = by_recipient["a@bouncy.example"][0]
    assert isinstance(bounce, BounceEvent)
    assert bounce.bounce.bounce_type == "Permanent"
    soft = by_recipient["full@example.org"][0]
    assert isinstance(soft, BounceEvent)
    assert (soft.bounce.bounce_type, soft.bounce.bounce_sub_type) == ("Transient", "MailboxFull")
    delay, delivery = by_recipient["late@slow.example"]
    assert isinstance(delay, DeliveryDelayEvent)
    assert isinstance(delivery, DeliveryEvent)
    assert delay.timestamp < delivery.timestamp
    assert [type(e) for e in by_recipient["fine@example.org"]] == [DeliveryEvent]


def _tracking_run(moto_server: str, seed: int, recipients: list[str]) -> list[SesEvent]:
    with LocalSes(moto_server, seed=seed, open_rate=0.5, click_rate=0.5, clock=lambda: FIXED) as local:
        cs = unique("track")
        local.client("ses").create_configuration_set(ConfigurationSet={"Name": cs})
        local.client("ses").verify_domain_identity(Domain="example.com")
        # EventBridge takes ten records a call: the cheapest destination for many events.
        local.add_destination(cs, "tracking", event_bus="default", event_types=["Delivery", "Open", "Click"])
        ses = local.ses_client(cs)
        for to in recipients:  # one message each: an Open of a message to several recipients names none
            ses.send(email(to, html=HTML))
        return local.events()


def test_opens_and_clicks_follow_the_seed(moto_server: str) -> None:
    readers = [f"reader{i}@example.org" for i in range(12)]
    first = _tracking_run(moto_server, 5, readers)
    again = _tracking_run(moto_server, 5, readers)
    other = _tracking_run(moto_server, 8, readers)

    def who(events: list[SesEvent]) -> list[tuple[str, str]]:
        return [
            (e.event_type.value, e.recipients[0]) for e in events if e.event_type is not EventType.DELIVERY
        ]

    assert [e.event_type for e in first].count(EventType.DELIVERY) == 12
    assert who(first) == who(again)
    assert who(first) != who(other)
    kinds = [kind for kind, _ in who(first)]
    assert 0 < kinds.count("Open") < 12
    assert 0 < kinds.count("Click") < 12

    click = next(e for e in first if isinstance(e, ClickEvent))
    assert click.click.link == "https://shop.example.com/sale"  # the untracked link is never clicked
    assert dict(click.click.link_tags) == {"link": ("sale",)}
    delivery = next(e for e in first if isinstance(e, DeliveryEvent) and e.recipients == click.recipients)
    assert click.timestamp > delivery.timestamp > FIXED


def test_open_and_click_rates_over_many_recipients() -> None:
    # The simulation core alone (no server), to count over enough recipients for the rates to show.
    simulator = Simulator(random.Random(2024), open_rate=0.4, click_rate=0.1)
    opens = clicks = 0
    for number in range(2000):
        message = SentMessage(f"m{number}", "SendEmail", "cs", SENDER, (f"r{number}@example.org",), html=HTML)
        kinds = [kind for kind, _ in simulator.records(message, FIXED)]
        opens += kinds.count(EventType.OPEN)
        clicks += kinds.count(EventType.CLICK)
    assert 0.36 < opens / 2000 < 0.44
    assert 0.07 < clicks / 2000 < 0.13


def test_no_opens_without_html_nor_for_the_simulator(moto_server: str) -> None:
    with LocalSes(moto_server, seed=1, open_rate=1.0, click_rate=1.0) as local:
        pipe = pipeline(local)
        ses = local.ses_client(pipe.configuration_set.name)
        ses.send(email("plain@example.org"))  # text only
        ses.send(email(f"success@{SIM}", html=HTML))
        ses.send(email("html@example.org", html=HTML))
        opened = [e.recipients for e in local.events() if e.event_type in (EventType.OPEN, EventType.CLICK)]
    assert opened == [("html@example.org",), ("html@example.org",)]


# ------------------------------------------------------------------ when nothing is published


def test_a_send_without_a_configuration_set_publishes_nothing(local: LocalSes) -> None:
    pipe = pipeline(local)
    ses = local.ses_client(allow_no_configuration_set=True)
    ses.send(email(f"success@{SIM}"))
    assert len(local.messages) == 1
    assert local.messages[0].configuration_set is None
    assert local.publications == []
    assert drain(local.client("sqs"), pipe.queue_url) == []


def test_a_set_without_destinations_publishes_nothing(local: LocalSes) -> None:
    cs = unique("bare")
    local.client("ses").create_configuration_set(ConfigurationSet={"Name": cs})
    local.client("ses").verify_domain_identity(Domain="example.com")
    local.ses_client(cs).send(email(f"bounce@{SIM}"))
    assert local.destinations(cs) == []
    assert [m.configuration_set for m in local.messages] == [cs]
    assert local.publications == []


def test_a_set_the_server_does_not_know_publishes_nothing(
    local: LocalSes, caplog: pytest.LogCaptureFixture
) -> None:
    missing = unique("missing")
    local.add_destination(missing, "ghost", topic_arn="arn:aws:sns:us-east-1:123456789012:nowhere")
    local.client("ses").verify_domain_identity(Domain="example.com")
    # moto accepts a send naming a set it does not have; SES would refuse it.
    ses = local.ses_client(missing, verify_configuration_set=False)
    ses.send(email(f"success@{SIM}"))
    assert local.publications == []
    assert local.destinations(missing) is None
    assert "does not have" in caplog.text


def test_only_matching_event_types_are_published(local: LocalSes) -> None:
    pipe = pipeline(local, event_types=[EventType.BOUNCE, EventType.COMPLAINT])
    ses = local.ses_client(pipe.configuration_set.name)
    for mailbox in ("success", "bounce", "complaint", "suppressionlist"):
        ses.send(email(f"{mailbox}@{SIM}"))
    events = events_of(drain(local.client("sqs"), pipe.queue_url))
    assert sorted(_types(events)) == ["Bounce", "Bounce", "Complaint"]


def test_a_disabled_destination_gets_nothing(local: LocalSes) -> None:
    pipe = pipeline(local)
    local.add_destination(
        pipe.configuration_set.name, pipe.destination.name, topic_arn=pipe.topic.arn or "", enabled=False
    )
    local.ses_client(pipe.configuration_set.name).send(email(f"success@{SIM}"))
    assert local.publications == []


def test_closing_removes_the_hooks(moto_server: str) -> None:
    local = LocalSes(moto_server)
    pipe = pipeline(local)
    ses = local.ses_client(pipe.configuration_set.name)
    local.close()
    ses.send(email(f"success@{SIM}"))
    assert local.messages == []
    assert drain(local.client("sqs"), pipe.queue_url) == []


# ------------------------------------------------------------------ destinations


def test_every_destination_created_through_an_observed_session_is_used(local: LocalSes) -> None:
    # moto keeps one v1 destination per set; LocalSes remembers both it saw created.
    pipe = pipeline(local)
    provisioner = Provisioner(local.session(), endpoint_url=local.endpoint_url, api="v1")
    topic = provisioner.ensure_topic(unique("bounces"))
    queue, queue_url = provisioner.ensure_queue(unique("bounces"))
    provisioner.ensure_subscription(topic.arn or "", queue.arn or "", raw_delivery=True)
    provisioner.ensure_sns_destination(
        pipe.configuration_set.name, topic.arn or "", name=unique("bounces"), event_types=[EventType.BOUNCE]
    )
    server_side = local.client("ses").describe_configuration_set(
        ConfigurationSetName=pipe.configuration_set.name, ConfigurationSetAttributeNames=["eventDestinations"]
    )["EventDestinations"]
    assert len(server_side) == 1
    assert len(local.destinations(pipe.configuration_set.name) or []) == 2

    local.ses_client(pipe.configuration_set.name).send(email(f"bounce@{SIM}"))
    assert _types(events_of(drain(local.client("sqs"), pipe.queue_url))) == ["Send", "Bounce"]
    raw = drain(local.client("sqs"), queue_url)
    assert [item.meta["envelope"] for item in raw] == ["raw"]  # raw message delivery: the record itself
    assert _types(events_of(raw)) == ["Bounce"]


def test_a_deleted_destination_is_forgotten(local: LocalSes) -> None:
    # moto answers DeleteConfigurationSetEventDestination with an HTTP 500, so the deletion SES would
    # confirm is handed to LocalSes as its hook would see it.
    pipe = pipeline(local)
    cs = pipe.configuration_set.name
    params = {"ConfigurationSetName": cs, "EventDestinationName": pipe.destination.name}
    assert local.observe("sesv2", "DeleteConfigurationSetEventDestination", params, {}) == []
    assert local.destinations(cs) == []
    local.ses_client(cs).send(email(f"success@{SIM}"))
    assert local.publications == []
    local.add_destination(cs, "again", topic_arn=pipe.topic.arn or "", event_types=[EventType.SEND])
    local.ses_client(cs).send(email(f"success@{SIM}"))
    assert [p.event_type for p in local.publications] == [EventType.SEND]
    local.remove_destination(cs, "again")
    assert local.destinations(cs) == []


def test_eventbridge_events_reach_a_rule_target_and_parse(local: LocalSes) -> None:
    pipe = pipeline(local, event_types=[EventType.SEND])
    cs = pipe.configuration_set.name
    sqs = local.client("sqs")
    queue_url = eventbridge_queue(
        local,
        {
            "source": ["aws.ses"],
            "detail-type": ["Email Bounced"],
            "resources": [f"arn:aws:ses:us-east-1:123456789012:configuration-set/{cs}"],
        },
    )
    local.add_destination(cs, "eventbridge", event_bus="default", event_types=["Bounce", "Delivery"])

    result = local.ses_client(cs).send(email([f"bounce@{SIM}", f"success@{SIM}"]))
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    (message,) = messages  # the rule lets only the bounce through
    item = eventbridge_item(json.loads(message["Body"]))
    assert item.ok
    assert item.meta["detail_type"] == "Email Bounced"
    assert isinstance(item.record, BounceEvent)
    assert item.record.message_id == result.message_id
    assert _types(events_of(drain(sqs, pipe.queue_url))) == ["Send"]  # the SNS destination wants Send only


def test_firehose_records_land_under_the_date_prefix(local: LocalSes) -> None:
    cs, bucket = unique("lake"), unique("lake")
    provisioner = Provisioner(local.session(), endpoint_url=local.endpoint_url, api="v1")
    provisioner.ensure_firehose_s3_pipeline(cs, bucket, destination_name=unique("fh"))
    local.client("ses").verify_domain_identity(Domain="example.com")
    ses = local.ses_client(cs)
    ses.send(email(f"complaint@{SIM}"))
    ses.send(email(f"bounce@{SIM}"))

    s3 = local.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    now = datetime.now(UTC)
    assert len(keys) == 2  # one object per message
    for key in keys:
        assert key.startswith(f"events/year={now:%Y}/month={now:%m}/day={now:%d}/{cs}-events-1-")
        assert key.endswith(".gz")  # the stream compresses with GZIP
    items = list(iter_s3_prefix(s3, bucket, "events/"))
    assert all(item.ok for item in items)
    assert sorted(_types(events_of(items))) == ["Bounce", "Complaint", "Delivery", "Send", "Send"]


def test_firehose_lake_is_read_by_the_analytics_report(local: LocalSes) -> None:
    pytest.importorskip("duckdb")
    from sesflow.analytics import build_report

    cs, bucket = unique("lake"), unique("lake")
    Provisioner(local.session(), endpoint_url=local.endpoint_url, api="v1").ensure_firehose_s3_pipeline(
        cs, bucket, destination_name=unique("fh")
    )
    local.client("ses").verify_domain_identity(Domain="example.com")
    ses = local.ses_client(cs)
    for mailbox in ("success", "bounce", "complaint"):
        ses.send(email(f"{mailbox}@{SIM}"))
    report = build_report(f"s3://{bucket}/events/", s3_client=local.client("s3"), by=None)
    assert (report.total.sent, report.total.delivered) == (3, 2)
    assert (report.total.hard_bounces, report.total.complaints) == (1, 1)


def test_publishing_to_a_missing_topic_is_an_error(local: LocalSes) -> None:
    pipe = pipeline(local)
    local.client("sns").delete_topic(TopicArn=pipe.topic.arn)
    with pytest.raises(LocalSesError, match="check that the destination's target exists"):
        local.ses_client(pipe.configuration_set.name).send(email(f"success@{SIM}"))


def test_add_destination_needs_exactly_one_target(local: LocalSes) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        local.add_destination("cs", "d")
    with pytest.raises(ValueError, match="exactly one"):
        local.add_destination("cs", "d", topic_arn="arn:t", event_bus="default")
    with pytest.raises(ValueError, match="probability"):
        LocalSes("http://127.0.0.1:9", open_rate=1.5)


# ------------------------------------------------------------------ every way of sending


def test_raw_mime_with_configuration_set_and_tags_in_headers(local: LocalSes) -> None:
    pipe = pipeline(local)
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = f"Jane <success+raw@{SIM}>"
    message["Subject"] = "Héllo raw"
    message["X-SES-CONFIGURATION-SET"] = pipe.configuration_set.name
    message["X-SES-MESSAGE-TAGS"] = "campaign=raw, tier=gold"
    message.set_content("text")
    message.add_alternative(HTML, subtype="html")
    result = local.client("ses").send_raw_email(RawMessage={"Data": message.as_bytes()})

    events = events_of(drain(local.client("sqs"), pipe.queue_url))
    assert _types(events) == ["Send", "Delivery"]
    send = events[0]
    assert send.message_id == result["MessageId"]
    assert send.configuration_set == pipe.configuration_set.name
    assert (send.tags.first("campaign"), send.tags.first("tier")) == ("raw", "gold")
    assert send.tags.first("ses:operation") == "SendRawEmail"
    assert send.mail.destination == (f"success+raw@{SIM}",)
    assert send.mail.common_headers is not None
    assert send.mail.common_headers.subject == "Héllo raw"
    assert send.mail.header("X-SES-MESSAGE-TAGS") == "campaign=raw, tier=gold"


def test_sesflow_raw_sends_carry_the_request_headers(local: LocalSes) -> None:
    pipe = pipeline(local)
    ses = local.ses_client(pipe.configuration_set.name)
    result = ses.send(email(f"success@{SIM}", headers={"X-Order": "1234"}, html=HTML))  # headers: raw MIME
    events = events_of(drain(local.client("sqs"), pipe.queue_url))
    assert {e.message_id for e in events} == {result.message_id}
    assert events[0].mail.header("X-Order") == "1234"
    assert events[0].tags.first("ses:operation") == "SendRawEmail"


def test_v1_templates_are_rendered_and_a_missing_variable_fails_rendering(local: LocalSes) -> None:
    pipe = pipeline(local)
    name = unique("welcome")
    local.client("ses").create_template(
        Template={
            "TemplateName": name,
            "SubjectPart": "Welcome, {{name}}",
            "HtmlPart": '<a href="https://shop.example.com/{{ code }}">Start</a>',
            "TextPart": "Hi {{name}}",
        }
    )
    ses = local.ses_client(pipe.configuration_set.name, api="v1")
    ses.send(
        email(
            f"success@{SIM}",
            subject=None,
            text=None,
            template=Template(name, data={"name": "Ada", "code": "x1"}),
        )
    )
    ses.send(email(f"success@{SIM}", subject=None, text=None, template=Template(name, data={"name": "Bo"})))
    events = events_of(drain(local.client("sqs"), pipe.queue_url))
    assert _types(events) == ["Send", "Delivery", "Rendering Failure"]
    assert events[0].mail.common_headers is not None
    assert events[0].mail.common_headers.subject == "Welcome, Ada"
    assert events[0].tags.first("ses:operation") == "SendTemplatedEmail"
    failure = events[2]
    assert isinstance(failure, RenderingFailureEvent)
    assert failure.failure.template_name == name
    assert failure.failure.error_message == "Attribute 'code' is not present in the rendering data."


def test_v1_bulk_sends_publish_per_destination_with_replacement_tags(local: LocalSes) -> None:
    pipe = pipeline(local)
    name = unique("promo")
    local.client("ses").create_template(
        Template={"TemplateName": name, "SubjectPart": "Hi {{name}}", "TextPart": "Sale for {{name}}"}
    )
    ses = local.ses_client(pipe.configuration_set.name, api="v1")
    result = ses.send_bulk(
        Template(name, data={"name": "friend"}),
        [
            Destination(f"success@{SIM}", data={"name": "Ada"}, tags={"segment": "a"}),
            Destination(f"bounce@{SIM}"),
        ],
        sender=SENDER,
        tags={"campaign": "bulk", "segment": "all"},
    )
    assert result.ok
    events = events_of(drain(local.client("sqs"), pipe.queue_url))
    by_id: dict[str, list[SesEvent]] = {}
    for event in events:
        by_id.setdefault(event.message_id, []).append(event)
    first, second = (by_id[entry.message_id or ""] for entry in result)
    assert _types(first) == ["Send", "Delivery"]
    assert _types(second) == ["Send", "Bounce"]
    assert first[0].tags.first("segment") == "a"
    assert second[0].tags.first("segment") == "all"
    assert first[0].mail.common_headers is not None
    assert first[0].mail.common_headers.subject == "Hi Ada"
    assert second[0].mail.common_headers is not None
    assert second[0].mail.common_headers.subject == "Hi friend"
    assert first[0].tags.first("ses:operation") == "SendBulkTemplatedEmail"


def test_v2_bulk_answers_are_read_when_observed(local: LocalSes) -> None:
    # moto has no SES v2 SendBulkEmail: hand LocalSes a request and answer as SES gives them.
    pipe = pipeline(local)
    params = {
        "FromEmailAddress": SENDER,
        "ConfigurationSetName": pipe.configuration_set.name,
        "DefaultContent": {
            "Template": {
                "TemplateContent": {"Subject": "Hi {{n}}", "Html": HTML},
                "TemplateData": '{"n": "all"}',
            }
        },
        "BulkEmailEntries": [
            {
                "Destination": {"ToAddresses": [f"success@{SIM}"]},
                "ReplacementEmailContent": {
                    "ReplacementTemplate": {"ReplacementTemplateData": '{"n": "Ada"}'}
                },
            },
            {"Destination": {"ToAddresses": [f"complaint@{SIM}"]}},
            {"Destination": {"ToAddresses": ["refused@example.org"]}},
        ],
    }
    response = {
        "BulkEmailEntryResults": [
            {"Status": "SUCCESS", "MessageId": "m-1"},
            {"Status": "SUCCESS", "MessageId": "m-2"},
            {"Status": "MESSAGE_REJECTED", "Error": "no"},
        ]
    }
    published = local.observe("sesv2", "SendBulkEmail", params, response)
    assert [(p.message_id, p.event_type.value) for p in published] == [
        ("m-1", "Send"),
        ("m-1", "Delivery"),
        ("m-2", "Send"),
        ("m-2", "Delivery"),
        ("m-2", "Complaint"),
    ]
    subjects = {
        e.message_id: e.mail.common_headers.subject
        for e in local.events(event_type="Send")
        if e.mail.common_headers
    }
    assert subjects == {"m-1": "Hi Ada", "m-2": "Hi all"}
    assert len(drain(local.client("sqs"), pipe.queue_url)) == 5


async def test_async_client_sends_are_observed(local: LocalSes) -> None:
    pipe = pipeline(local)
    async with AsyncSesClient(
        pipe.configuration_set.name,
        session=local.async_session(),
        endpoint_url=local.endpoint_url,
        max_send_rate=None,
    ) as ses:
        result = await ses.send(email(f"complaint@{SIM}"))
    events = events_of(drain(local.client("sqs"), pipe.queue_url))
    assert _types(events) == ["Send", "Delivery", "Complaint"]
    assert {e.message_id for e in events} == {result.message_id}


async def test_an_open_async_client_can_be_instrumented(local: LocalSes) -> None:
    pipe = pipeline(local)
    ses = AsyncSesClient(
        pipe.configuration_set.name,
        endpoint_url=local.endpoint_url,
        region="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        max_send_rate=None,
    )
    with pytest.raises(LocalSesError, match="not open yet"):
        local.instrument(ses)
    async with ses:
        local.instrument(ses)
        await ses.send(email(f"bounce@{SIM}"))
    assert _types(local.events()) == ["Send", "Bounce"]


def test_a_plain_boto3_session_can_be_instrumented(local: LocalSes) -> None:
    pipe = pipeline(local)
    session = plain_session()
    assert local.instrument(session) is session
    client = session.client("sesv2", endpoint_url=local.endpoint_url)  # made after: observed
    client.send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": [f"success@{SIM}"]},
        Content={"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hello"}}}},
        ConfigurationSetName=pipe.configuration_set.name,
        EmailTags=[{"Name": "via", "Value": "boto3"}],
    )
    events = events_of(drain(local.client("sqs"), pipe.queue_url))
    assert _types(events) == ["Send", "Delivery"]
    assert events[0].tags.first("via") == "boto3"


def test_instrument_refuses_what_it_cannot_observe(local: LocalSes) -> None:
    with pytest.raises(LocalSesError, match="not 'sqs' ones"):
        local.instrument(local.client("sqs"))
    with pytest.raises(LocalSesError, match="cannot observe a dict"):
        local.instrument({})


def test_a_fixed_seed_and_clock_repeat_the_records(moto_server: str) -> None:
    def run() -> list[dict[str, Any]]:
        with LocalSes(moto_server, seed=99, open_rate=0.7, click_rate=0.7, clock=lambda: FIXED) as local:
            pipe = pipeline(local)
            ses = local.ses_client(pipe.configuration_set.name)
            for to in (f"complaint@{SIM}", "a@example.org", "b@example.org"):
                ses.send(email(to, html=HTML))
            records = local.records()
            for record in records:
                record["mail"]["messageId"] = record["mail"]["commonHeaders"]["messageId"] = "-"
                record["mail"]["tags"]["ses:configuration-set"] = ["-"]
            return records

    first = run()
    assert first == run()
    assert first[0]["mail"]["timestamp"] == "2026-03-02T09:30:00.000Z"
    assert all(parse_event(record).timestamp >= FIXED for record in first)
    assert max(parse_event(r).timestamp for r in first) - FIXED < timedelta(hours=1)


# ------------------------------------------------------------------ viruses and unsubscribes


@pytest.mark.parametrize("where", ["text", "attachment"])
def test_a_message_with_the_eicar_test_string_is_rejected(local: LocalSes, where: str) -> None:
    pipe = pipeline(local)
    ses = local.ses_client(pipe.configuration_set.name)
    if where == "text":
        message = email([f"success@{SIM}", "jane@example.org"], text=f"Hello\n{EICAR_TEST_STRING}\n")
    else:
        message = email("jane@example.org", attachments=[Attachment("eicar.com", EICAR_TEST_STRING.encode())])
    result = ses.send(message)
    ses.send(email("clean@example.org"))  # the scan looks at content, not at the sender's other mail

    events = events_of(drain(local.client("sqs"), pipe.queue_url))
    mine = [e for e in events if e.message_id == result.message_id]
    assert _types(mine) == ["Send", "Reject"]
    reject = mine[1]
    assert isinstance(reject, RejectEvent)
    assert reject.reject.reason == "Bad content"
    others = sorted(_types([e for e in events if e.message_id != result.message_id]))
    assert others == ["Delivery", "Send"]


def _unsubscribing(moto_server: str, message: Email) -> list[SesEvent]:
    with LocalSes(moto_server, seed=4, outcomes={"@leaving.example": "unsubscribed"}) as local:
        pipe = pipeline(local)
        local.ses_client(pipe.configuration_set.name).send(message)
        return events_of(drain(local.client("sqs"), pipe.queue_url))


def test_an_unsubscribing_recipient_of_a_listed_message_gives_a_subscription_event(moto_server: str) -> None:
    listed = ListManagement("newsletter", topic="weekly")
    events = _unsubscribing(
        moto_server, email(["gone@leaving.example", "stays@example.org"], list_management=listed)
    )
    assert sorted(_types(events)) == ["Delivery", "Delivery", "Send", "Subscription"]
    (event,) = [e for e in events if isinstance(e, SubscriptionEvent)]
    delivery = next(
        e for e in events if isinstance(e, DeliveryEvent) and e.recipients == ("gone@leaving.example",)
    )
    assert event.timestamp > delivery.timestamp
    subscription = event.subscription
    assert (subscription.contact_list, subscription.source) == ("newsletter", "UnsubscribeHeader")
    assert subscription.new_topic_preferences is not None
    assert subscription.old_topic_preferences is not None
    assert subscription.new_topic_preferences.unsubscribe_all is False
    (new,) = subscription.new_topic_preferences.topic_subscription_status or ()
    (old,) = subscription.old_topic_preferences.topic_subscription_status or ()
    assert (new.topic_name, new.subscription_status, old.subscription_status) == ("weekly", "OptOut", "OptIn")


def test_unsubscribing_from_a_list_without_a_topic_leaves_the_whole_list(moto_server: str) -> None:
    events = _unsubscribing(
        moto_server, email("gone@leaving.example", list_management=ListManagement("all-news"))
    )
    (event,) = [e for e in events if isinstance(e, SubscriptionEvent)]
    assert event.subscription.new_topic_preferences is not None
    assert event.subscription.new_topic_preferences.unsubscribe_all is True
    assert event.subscription.old_topic_preferences is not None
    assert event.subscription.old_topic_preferences.unsubscribe_all is False


def test_without_list_management_an_unsubscribing_recipient_is_only_delivered(moto_server: str) -> None:
    events = _unsubscribing(moto_server, email("gone@leaving.example"))
    assert _types(events) == ["Send", "Delivery"]
