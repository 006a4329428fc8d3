"""SQS source: messages that really went SES record -> SNS -> SQS (moto server), and Lambda SQS events."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from sesflow.errors import ParseError, SnsVerificationError, SourceError
from sesflow.events import BounceEvent, ComplaintEvent, SesEvent, TopicValidation, parse_event
from sesflow.sources import (
    SnsSubscriptionConfirmation,
    SnsUnsubscribeConfirmation,
    SourceItem,
    Transport,
    sqs_lambda_items,
    sqs_lambda_items_async,
    sqs_message_item,
    sqs_message_item_async,
)

from ._sources_support import (
    SUBSCRIPTION_CONFIRMATION,
    UNSUBSCRIBE_CONFIRMATION,
    RejectAll,
    TopicVerifier,
    boto_to_lambda_sqs,
    fifo_envelope,
    lambda_sqs_record,
    ses_record,
    signed_envelope,
)
from .conftest import DATA

VECTORS = sorted(path.name for path in DATA.glob("*.json"))


def summary(item: SourceItem) -> tuple[Any, ...]:
    """What must be equal between the sync and async paths (errors compare by type and message)."""
    return (
        item.transport,
        item.item_id,
        item.receipt_handle,
        item.record,
        type(item.error),
        str(item.error),
        dict(item.meta),
    )


class Pipe:
    """An SNS topic with an SQS queue subscribed, on the moto server."""

    def __init__(self, endpoint: str, *, raw: bool) -> None:
        name = f"ses-events-{uuid.uuid4().hex[:12]}"
        self.sns = boto3.client("sns", endpoint_url=endpoint, region_name="us-east-1")
        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        self.topic_arn = self.sns.create_topic(Name=name)["TopicArn"]
        self.queue_url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        self.queue_arn = attributes["Attributes"]["QueueArn"]
        self.sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=self.queue_arn,
            Attributes={"RawMessageDelivery": "true" if raw else "false"},
        )

    def publish(self, message: str, subject: str | None = None) -> str:
        kwargs = {"Subject": subject} if subject else {}
        message_id: str = self.sns.publish(TopicArn=self.topic_arn, Message=message, **kwargs)["MessageId"]
        return message_id

    def receive(self, count: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while len(messages) < count:
            got = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=1
            ).get("Messages", [])
            assert got, f"expected {count} messages, the queue ran dry after {len(messages)}"
            messages.extend(got)  # type: ignore[arg-type]
        return messages


@pytest.fixture
def pipe(moto_server: str) -> Pipe:
    return Pipe(moto_server, raw=False)


@pytest.fixture
def raw_pipe(moto_server: str) -> Pipe:
    return Pipe(moto_server, raw=True)


def by_mail_id(items: list[SourceItem]) -> dict[str, SourceItem]:
    out = {}
    for item in items:
        assert isinstance(item.record, SesEvent), item.error
        out[item.record.message_id] = item
    return out


def test_sns_wrapped_messages_from_a_real_subscription(pipe: Pipe) -> None:
    sns_ids = {}
    for name in VECTORS:
        sns_ids[ses_record(name)["mail"]["messageId"]] = (name, pipe.publish(json.dumps(ses_record(name))))
    messages = pipe.receive(len(VECTORS))
    items = [sqs_message_item(message) for message in messages]
    for message, item in zip(messages, items, strict=True):
        assert item.transport is Transport.SQS
        assert item.item_id == message["MessageId"]
        assert item.receipt_handle == message["ReceiptHandle"]
        assert item.raw is message
        assert item.meta["envelope"] == "sns"
        assert item.meta["topic_arn"] == pipe.topic_arn
        assert item.meta["sns_verified"] is False
        assert item.meta["approximate_receive_count"] == 1
    for mail_id, item in by_mail_id(items).items():
        name, sns_id = sns_ids[mail_id]
        assert item.meta["sns_message_id"] == sns_id
        assert item.record == parse_event(ses_record(name))


def test_raw_message_delivery_body_is_the_record(raw_pipe: Pipe) -> None:
    for name in ("event_01_Bounce.json", "notification_03_Complaint.json"):
        raw_pipe.publish(json.dumps(ses_record(name)))
    items = [sqs_message_item(message) for message in raw_pipe.receive(2)]
    found = by_mail_id(items)
    assert {type(item.record) for item in found.values()} == {BounceEvent, ComplaintEvent}
    for item in items:
        assert item.meta["envelope"] == "raw"
        assert "sns_message_id" not in item.meta


def test_receipt_handle_deletes_the_message(pipe: Pipe) -> None:
    pipe.publish(json.dumps(ses_record("event_03_Delivery.json")))
    (message,) = pipe.receive(1)
    item = sqs_message_item(message)
    assert item.receipt_handle is not None
    pipe.sqs.delete_message(QueueUrl=pipe.queue_url, ReceiptHandle=item.receipt_handle)
    attributes = pipe.sqs.get_queue_attributes(
        QueueUrl=pipe.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_verifier_accepts_its_topic_and_rejects_others(pipe: Pipe) -> None:
    pipe.publish(
        json.dumps(ses_record("event_01_Bounce.json")), subject="Amazon SES Email Event Notification"
    )
    (message,) = pipe.receive(1)
    trusting = TopicVerifier(pipe.topic_arn)
    item = sqs_message_item(message, verifier=trusting)
    assert isinstance(item.record, BounceEvent)
    assert item.meta["sns_verified"] is True
    assert item.meta["subject"] == "Amazon SES Email Event Notification"
    assert trusting.seen == [json.loads(message["Body"])]  # the envelope, as delivered

    refused = sqs_message_item(message, verifier=TopicVerifier("arn:aws:sns:us-east-1:123456789012:other"))
    assert refused.record is None
    assert isinstance(refused.error, SnsVerificationError)
    assert "not allowed" in str(refused.error)
    assert refused.raw is message
    assert refused.item_id == message["MessageId"]
    assert refused.receipt_handle == message["ReceiptHandle"]
    assert refused.meta["sns_verified"] is False


def test_raw_delivery_cannot_pass_a_verifier(raw_pipe: Pipe) -> None:
    raw_pipe.publish(json.dumps(ses_record("event_01_Bounce.json")))
    (message,) = raw_pipe.receive(1)
    verifier = TopicVerifier(raw_pipe.topic_arn)
    item = sqs_message_item(message, verifier=verifier)
    assert isinstance(item.error, SnsVerificationError)
    assert "raw message delivery" in str(item.error)
    assert verifier.seen == []


def test_lambda_event_built_from_received_messages(pipe: Pipe) -> None:
    names = ["event_01_Bounce.json", "event_02_Complaint.json", "event_07_Click.json"]
    for name in names:
        pipe.publish(json.dumps(ses_record(name)))
    messages = pipe.receive(len(names))
    event = {"Records": [boto_to_lambda_sqs(message, pipe.queue_arn) for message in messages]}
    items = sqs_lambda_items(event)
    assert [item.item_id for item in items] == [message["MessageId"] for message in messages]
    assert [item.receipt_handle for item in items] == [message["ReceiptHandle"] for message in messages]
    assert [item.raw for item in items] == event["Records"]
    assert all(item.meta["queue_arn"] == pipe.queue_arn for item in items)
    assert sorted(item.record.event_type.value for item in items if isinstance(item.record, SesEvent)) == [
        "Bounce",
        "Click",
        "Complaint",
    ]


def test_eventbridge_rule_targeting_the_queue(moto_server: str) -> None:
    name = f"ses-bus-{uuid.uuid4().hex[:12]}"
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    events = boto3.client("events", endpoint_url=moto_server, region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bus = events.create_event_bus(Name=name)["EventBusArn"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": ["aws.ses"]}))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])
    bounce = ses_record("event_01_Bounce.json")
    entries = [
        {
            "Source": "aws.ses",
            "DetailType": "Email Bounced",
            "Detail": json.dumps(bounce),
            "EventBusName": bus,
        },
        {
            "Source": "aws.ses",
            "DetailType": "Email Opened",
            "Detail": json.dumps(bounce),
            "EventBusName": bus,
        },
    ]
    assert events.put_events(Entries=entries)["FailedEntryCount"] == 0  # type: ignore[arg-type]
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    assert len(messages) == 2
    items = {item.meta["detail_type"]: item for item in map(sqs_message_item, messages)}  # type: ignore[arg-type]
    good, mismatched = items["Email Bounced"], items["Email Opened"]
    assert good.meta["envelope"] == "eventbridge"
    assert good.record == parse_event(bounce)
    assert good.meta["eventbridge_id"] == json.loads(good.raw["Body"])["id"]
    assert good.item_id == good.raw["MessageId"]
    assert isinstance(mismatched.error, SourceError)
    assert "'Open'" in str(mismatched.error)
    assert "'Bounce'" in str(mismatched.error)


def test_fifo_topic_envelope_is_unwrapped_without_a_verifier() -> None:
    record = ses_record("event_04_Send.json")
    fifo = lambda_sqs_record(
        json.dumps(fifo_envelope(record)),
        queue_arn="arn:aws:sqs:us-east-1:123456789012:ses-events.fifo",
        attributes={"MessageGroupId": "tenant-7", "SequenceNumber": "18849496460467696128"},
    )
    (item,) = sqs_lambda_items({"Records": [fifo]})
    assert item.record == parse_event(record)
    assert item.meta["sequence_number"] == "10000000000000003000"
    assert item.meta["message_group_id"] == "tenant-7"
    assert item.meta["queue_arn"].endswith(".fifo")


@pytest.mark.parametrize("verifier", [TopicVerifier("arn:aws:sns:us-east-1:123456789012:ses-events.fifo")])
async def test_fifo_topic_envelope_fails_any_verifier(verifier: TopicVerifier) -> None:
    body = json.dumps(fifo_envelope(ses_record("event_04_Send.json")))
    event = {"Records": [lambda_sqs_record(body)]}
    for item in (
        *sqs_lambda_items(event, verifier=verifier),
        *await sqs_lambda_items_async(event, verifier=verifier),
    ):
        assert isinstance(item.error, SnsVerificationError)
        assert "FIFO" in str(item.error)
        assert item.record is None
        assert item.raw == event["Records"][0]
    assert verifier.seen == []  # refused before any verifier could be persuaded


def test_subscription_confirmation_is_reported_not_parsed() -> None:
    message = {"MessageId": "m-1", "ReceiptHandle": "h-1", "Body": json.dumps(SUBSCRIPTION_CONFIRMATION)}
    item = sqs_message_item(message)
    assert item.ok
    record = item.record
    assert isinstance(record, SnsSubscriptionConfirmation)
    assert not isinstance(record, SesEvent)
    assert record.topic_arn == SUBSCRIPTION_CONFIRMATION["TopicArn"]
    assert record.token == SUBSCRIPTION_CONFIRMATION["Token"]
    assert record.subscribe_url == SUBSCRIPTION_CONFIRMATION["SubscribeURL"]
    assert record.raw == SUBSCRIPTION_CONFIRMATION
    assert item.meta["sns_type"] == "SubscriptionConfirmation"
    assert item.meta["sns_verified"] is False

    verified = sqs_message_item(message, verifier=TopicVerifier(SUBSCRIPTION_CONFIRMATION["TopicArn"]))
    assert isinstance(verified.record, SnsSubscriptionConfirmation)
    assert verified.meta["sns_verified"] is True
    rejected = sqs_message_item(message, verifier=RejectAll())
    assert isinstance(rejected.error, SnsVerificationError)


def test_unsubscribe_confirmation_has_no_url_to_follow() -> None:
    message = {"MessageId": "m-2", "ReceiptHandle": "h-2", "Body": json.dumps(UNSUBSCRIBE_CONFIRMATION)}
    item = sqs_message_item(message)
    assert isinstance(item.record, SnsUnsubscribeConfirmation)
    assert not hasattr(item.record, "subscribe_url")
    assert item.record.token == UNSUBSCRIBE_CONFIRMATION["Token"]


def test_topic_validation_message_with_raw_delivery() -> None:
    text = "Successfully validated SNS topic for Amazon SES event publishing."
    item = sqs_message_item({"MessageId": "m-3", "ReceiptHandle": "h-3", "Body": text})
    assert isinstance(item.record, TopicValidation)
    assert item.meta["envelope"] == "raw"


def envelope_body(**changes: Any) -> str:
    envelope = signed_envelope()
    for key, value in changes.items():
        if value is None:
            del envelope[key]
        else:
            envelope[key] = value
    return json.dumps(envelope)


@pytest.mark.parametrize(
    ("body", "error", "says"),
    [
        ("not json at all", ParseError, "invalid JSON"),
        ('{"hello": "world"}', ParseError, "not an SES record"),
        ("[1, 2]", ParseError, "expected a JSON object"),
        (envelope_body(Type="Notice"), SourceError, "'Notice'"),
        (envelope_body(Message={"eventType": "Send"}), SourceError, "has a dict as its Message"),
        (envelope_body(TopicArn=None), SourceError, "has no TopicArn"),
        (envelope_body(Message="{truncated"), ParseError, "invalid JSON"),
        (envelope_body(Message='{"eventType": "Bounce", "mail": {}}'), ParseError, "mail"),
    ],
)
def test_malformed_bodies_are_items_with_errors(body: str, error: type[Exception], says: str) -> None:
    message = {"MessageId": "m-bad", "ReceiptHandle": "h-bad", "Body": body, "MD5OfBody": "x"}
    item = sqs_message_item(message)
    assert item.record is None
    assert isinstance(item.error, error)
    assert says in str(item.error)
    assert (item.item_id, item.receipt_handle, item.raw) == ("m-bad", "h-bad", message)


@pytest.mark.parametrize(
    ("message", "says"),
    [
        ({"ReceiptHandle": "h", "Body": "{}"}, "no MessageId"),
        ({"MessageId": "m", "ReceiptHandle": "h"}, "no Body string"),
        ({"MessageId": "m", "ReceiptHandle": "h", "Body": b"{}"}, "no Body string"),
        ("a string", "must be a JSON object"),
    ],
)
def test_malformed_messages(message: Any, says: str) -> None:
    item = sqs_message_item(message)
    assert isinstance(item.error, SourceError)
    assert says in str(item.error)
    assert item.raw is message


def test_malformed_lambda_events_are_reported_whole() -> None:
    for event in ({}, {"Records": "nope"}, ["not", "an", "event"]):
        (item,) = sqs_lambda_items(event)  # type: ignore[arg-type]
        assert item.item_id == ""
        assert isinstance(item.error, SourceError)
        assert item.raw is event
    sns_record = {"EventSource": "aws:sns", "Sns": signed_envelope()}
    good = lambda_sqs_record(json.dumps(ses_record("event_06_Open.json")), message_id="ok-1")
    no_id = {key: value for key, value in good.items() if key != "messageId"}
    items = sqs_lambda_items({"Records": [sns_record, good, 42, no_id]})
    assert [item.ok for item in items] == [False, True, False, False]
    assert "eventSource None" in str(items[0].error)
    assert items[1].item_id == "ok-1"
    assert "Records[2]" in str(items[2].error)
    assert "no messageId" in str(items[3].error)
    assert items[3].receipt_handle == good["receiptHandle"]


async def test_async_twins_give_the_same_items(pipe: Pipe) -> None:
    names = ["event_01_Bounce.json", "event_05_Reject.json"]
    for name in names:
        pipe.publish(json.dumps(ses_record(name)))
    messages = pipe.receive(len(names))
    messages.append({"MessageId": "m-bad", "ReceiptHandle": "h-bad", "Body": "{oops"})
    for verifier in (None, TopicVerifier(pipe.topic_arn), RejectAll()):
        for message in messages:
            sync = sqs_message_item(message, verifier=verifier)
            assert summary(await sqs_message_item_async(message, verifier=verifier)) == summary(sync)
        event = {"Records": [boto_to_lambda_sqs(message, pipe.queue_arn) for message in messages[:-1]]}
        event["Records"].append(lambda_sqs_record("{oops", message_id="m-bad"))
        sync_items = sqs_lambda_items(event, verifier=verifier)
        async_items = await sqs_lambda_items_async(event, verifier=verifier)
        assert [summary(item) for item in async_items] == [summary(item) for item in sync_items]
        assert [item.ok for item in sync_items] == [
            verifier is None or isinstance(verifier, TopicVerifier)
        ] * 2 + [False]


class BarrierVerifier:
    """Accepts everything, but only once ``parties`` verifications are in flight at the same time."""

    def __init__(self, parties: int) -> None:
        self.barrier = asyncio.Barrier(parties)

    def verify(self, message: Mapping[str, Any], *, delivered_at: datetime | None = None) -> None:
        raise AssertionError("the async path must not call verify")

    async def verify_async(self, message: Mapping[str, Any], *, delivered_at: datetime | None = None) -> None:
        async with asyncio.timeout(10):  # a guard against a hang if verification were sequential
            await self.barrier.wait()


async def test_async_batch_verifies_concurrently() -> None:
    records = [
        lambda_sqs_record(json.dumps(signed_envelope()), message_id=f"m-{index}") for index in range(4)
    ]
    items = await sqs_lambda_items_async({"Records": records}, verifier=BarrierVerifier(4))
    assert [item.item_id for item in items] == ["m-0", "m-1", "m-2", "m-3"]
    assert all(isinstance(item.record, BounceEvent) and item.meta["sns_verified"] for item in items)


class BrokenVerifier:
    """Fails with something that is not a verification verdict (a bug, an outage)."""

    def __init__(self) -> None:
        self.finished = 0

    def verify(self, message: Mapping[str, Any], *, delivered_at: datetime | None = None) -> None:
        raise RuntimeError("certificate store offline")

    async def verify_async(self, message: Mapping[str, Any], *, delivered_at: datetime | None = None) -> None:
        if message["MessageId"] == "first":
            raise RuntimeError("certificate store offline")
        await asyncio.sleep(0)
        self.finished += 1


async def test_unexpected_verifier_failures_propagate() -> None:
    body = signed_envelope()
    records = [
        lambda_sqs_record(json.dumps({**body, "MessageId": message_id}), message_id=message_id)
        for message_id in ("first", "second", "third")
    ]
    verifier = BrokenVerifier()
    with pytest.raises(RuntimeError, match="offline"):
        sqs_lambda_items({"Records": records}, verifier=verifier)
    with pytest.raises(RuntimeError, match="offline"):
        await sqs_lambda_items_async({"Records": records}, verifier=verifier)
    assert verifier.finished == 2  # the others ran to their end: no task left behind


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_the_queue_s_sent_timestamp_goes_to_the_verifier(mode: str) -> None:
    envelope = signed_envelope()
    verifier = TopicVerifier(envelope["TopicArn"])
    message = {
        "MessageId": "m-1",
        "ReceiptHandle": "h-1",
        "Body": json.dumps(envelope),
        "Attributes": {"SentTimestamp": "1648771200123"},
    }
    if mode == "sync":
        item = sqs_message_item(message, verifier=verifier)
    else:
        item = await sqs_message_item_async(message, verifier=verifier)
    sent_at = datetime(2022, 4, 1, 0, 0, 0, 123000, tzinfo=UTC)
    assert item.ok
    assert item.meta["sent_at"] == sent_at
    assert verifier.delivered == [sent_at]


@pytest.mark.parametrize("attributes", [{}, {"SentTimestamp": "soon"}, {"SentTimestamp": 1648771200123}])
def test_without_a_usable_sent_timestamp_the_verifier_judges_age_by_its_clock(
    attributes: dict[str, Any],
) -> None:
    envelope = signed_envelope()
    verifier = TopicVerifier(envelope["TopicArn"])
    body = json.dumps(envelope)
    message = {"MessageId": "m-1", "ReceiptHandle": "h-1", "Body": body, "Attributes": attributes}
    item = sqs_message_item(message, verifier=verifier)
    assert item.ok
    assert "sent_at" not in item.meta
    assert verifier.delivered == [None]


def test_a_lambda_record_s_sent_timestamp_goes_to_the_verifier() -> None:
    envelope = signed_envelope()
    verifier = TopicVerifier(envelope["TopicArn"])
    record = lambda_sqs_record(json.dumps(envelope), attributes={"SentTimestamp": "1648771200000"})
    (item,) = sqs_lambda_items({"Records": [record]}, verifier=verifier)
    assert item.ok
    assert verifier.delivered == [datetime(2022, 4, 1, tzinfo=UTC)]
