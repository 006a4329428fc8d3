"""SNS source: Lambda SNS events and HTTP(S) POSTs, with the real AWS-signed messages in tests/data/sns/."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from sesflow.errors import ParseError, SnsVerificationError, SourceError
from sesflow.events import BounceEvent, ComplaintEvent, EventFamily, parse_event
from sesflow.sources import (
    SnsSubscriptionConfirmation,
    SnsUnsubscribeConfirmation,
    SnsVerifier,
    SourceItem,
    Transport,
    sns_http_item,
    sns_http_item_async,
    sns_lambda_items,
    sns_lambda_items_async,
    sqs_message_item,
    sqs_message_item_async,
)

from ._sources_support import (
    SIGNED_BOUNCE,
    SIGNED_COMPLAINT,
    SUBSCRIPTION_CONFIRMATION,
    UNSUBSCRIBE_CONFIRMATION,
    VECTOR_TOPIC,
    RejectAll,
    TopicVerifier,
    lambda_sns_event,
    signed_envelope,
    signed_envelope_text,
    to_lambda_sns,
)
from .conftest import DATA


def http_headers(envelope: dict[str, Any], **overrides: str | None) -> dict[str, str]:
    """The headers SNS sends with an HTTP(S) delivery, in the capitalisation a server may present."""
    headers = {
        "Content-Type": "text/plain; charset=UTF-8",
        "X-Amz-Sns-Message-Type": envelope["Type"],
        "X-Amz-Sns-Message-Id": envelope["MessageId"],
        "X-Amz-Sns-Topic-Arn": envelope["TopicArn"],
        "X-Amz-Sns-Subscription-Arn": f"{envelope['TopicArn']}:c9135db0-26c4-47ec-8998-413945fb5a96",
        "User-Agent": "Amazon Simple Notification Service Agent",
    }
    for name, value in overrides.items():
        header = name.replace("_", "-")
        if value is None:
            del headers[header]
        else:
            headers[header] = value
    return headers


@pytest.fixture(scope="module")
def real_verifier() -> SnsVerifier:
    """The project's SnsVerifier: the real certificate served from memory, the clock at the vectors' time."""
    pem = (DATA / "sns" / "sns-us-east-1-2021.pem").read_bytes()

    async def fetch_async(url: str) -> bytes:
        return pem

    return SnsVerifier(
        topic_arns=[VECTOR_TOPIC],
        clock=lambda: datetime(2022, 4, 1, 21, 30, tzinfo=UTC),
        max_age=datetime(2022, 4, 1, 21, 30, tzinfo=UTC) - datetime(2022, 3, 28, 0, 0, tzinfo=UTC),
        fetcher=lambda url: pem,
        async_fetcher=fetch_async,
    )


def test_lambda_event_with_the_real_envelopes() -> None:
    bounce, complaint = signed_envelope(SIGNED_BOUNCE), signed_envelope(SIGNED_COMPLAINT)
    event = lambda_sns_event(bounce, complaint)
    items = sns_lambda_items(event)
    assert [item.item_id for item in items] == [bounce["MessageId"], complaint["MessageId"]]
    assert [item.raw for item in items] == event["Records"]
    assert all(item.transport is Transport.SNS and item.receipt_handle is None for item in items)
    first, second = items
    assert isinstance(first.record, BounceEvent)
    assert first.record.family is EventFamily.NOTIFICATION
    assert first.record == parse_event(bounce["Message"])
    assert "subject" not in first.meta  # Lambda writes a missing Subject as null
    assert isinstance(second.record, ComplaintEvent)
    assert second.record.configuration_set == "test-set"
    assert second.meta["subject"] == "Amazon SES Email Event Notification"
    assert second.meta["subscription_arn"] == event["Records"][1]["EventSubscriptionArn"]
    assert second.meta["topic_arn"] == VECTOR_TOPIC


def test_lambda_envelope_reaches_the_verifier_as_delivered() -> None:
    event = lambda_sns_event(signed_envelope())
    verifier = TopicVerifier(VECTOR_TOPIC)
    (item,) = sns_lambda_items(event, verifier=verifier)
    assert item.ok
    assert item.meta["sns_verified"] is True
    assert verifier.seen == [event["Records"][0]["Sns"]]
    assert "SigningCertUrl" in verifier.seen[0]


@pytest.mark.parametrize("name", [SIGNED_BOUNCE, SIGNED_COMPLAINT])
async def test_real_signatures_verify_through_every_path(real_verifier: SnsVerifier, name: str) -> None:
    envelope, text = signed_envelope(name), signed_envelope_text(name)
    sqs_message = {"MessageId": "sqs-1", "ReceiptHandle": "rh-1", "Body": text}
    items = [
        *sns_lambda_items(lambda_sns_event(envelope), verifier=real_verifier),
        *await sns_lambda_items_async(lambda_sns_event(envelope), verifier=real_verifier),
        sns_http_item(text.encode(), http_headers(envelope), verifier=real_verifier),
        await sns_http_item_async(text, http_headers(envelope), verifier=real_verifier),
        sqs_message_item(sqs_message, verifier=real_verifier),
        await sqs_message_item_async(sqs_message, verifier=real_verifier),
    ]
    for item in items:
        assert item.error is None
        assert item.meta["sns_verified"] is True
        assert item.record == parse_event(envelope["Message"])


async def test_altered_messages_fail_real_verification(real_verifier: SnsVerifier) -> None:
    envelope = signed_envelope(SIGNED_COMPLAINT)
    forged = {**envelope, "Message": envelope["Message"].replace("abuse", "not-spam")}
    assert forged != envelope
    body = json.dumps(forged)
    items = [
        *sns_lambda_items(lambda_sns_event(forged), verifier=real_verifier),
        await sns_http_item_async(body, http_headers(forged), verifier=real_verifier),
        sqs_message_item(
            {"MessageId": "sqs-2", "ReceiptHandle": "rh-2", "Body": body}, verifier=real_verifier
        ),
    ]
    for item in items:
        assert item.record is None
        assert isinstance(item.error, SnsVerificationError)
        assert "signature" in str(item.error)
        assert item.meta["sns_verified"] is False
        assert item.meta["sns_message_id"] == envelope["MessageId"]
    assert items[1].raw == body


def test_http_post_headers_are_case_insensitive_and_kept() -> None:
    envelope = signed_envelope(SIGNED_COMPLAINT)
    headers = {name.lower(): value for name, value in http_headers(envelope).items()}
    for given in (headers, http_headers(envelope)):
        item = sns_http_item(signed_envelope_text(SIGNED_COMPLAINT).encode(), given)
        assert isinstance(item.record, ComplaintEvent)
        assert item.item_id == envelope["MessageId"]
        assert item.meta["subscription_arn"].startswith(VECTOR_TOPIC)


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"X-Amz-Sns-Message-Type": "SubscriptionConfirmation"}, "x-amz-sns-message-type"),
        ({"X-Amz-Sns-Message-Id": "00000000-0000-0000-0000-000000000000"}, "x-amz-sns-message-id"),
        ({"X-Amz-Sns-Topic-Arn": "arn:aws:sns:us-east-1:999999999999:evil"}, "x-amz-sns-topic-arn"),
        ({"X-Amz-Sns-Topic-Arn": None}, "x-amz-sns-topic-arn is missing"),
        ({"X-Amz-Sns-Message-Type": None}, "x-amz-sns-message-type is missing"),
    ],
)
def test_http_headers_must_agree_with_the_body(overrides: dict[str, str | None], says: str) -> None:
    envelope = signed_envelope()
    body = signed_envelope_text()
    verifier = TopicVerifier(VECTOR_TOPIC)
    item = sns_http_item(body, http_headers(envelope, **overrides), verifier=verifier)
    assert item.record is None
    assert isinstance(item.error, SourceError)
    assert says in str(item.error)
    assert item.raw is body
    assert item.item_id == envelope["MessageId"]
    assert verifier.seen == []  # nothing is verified (or fetched) for a request that is already wrong


def test_http_header_given_twice_differently() -> None:
    envelope = signed_envelope()
    headers = {**http_headers(envelope), "x-amz-sns-message-type": "UnsubscribeConfirmation"}
    item = sns_http_item(signed_envelope_text(), headers)
    assert isinstance(item.error, SourceError)
    assert "given twice" in str(item.error)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"\xff\xfe not json", "not JSON"),
        ("[]", "JSON list"),
        (json.dumps({**signed_envelope(), "Type": "Notify"}), "x-amz-sns-message-type"),
    ],
)
def test_http_bad_bodies(body: bytes | str, says: str) -> None:
    item = sns_http_item(body, http_headers(signed_envelope()))
    assert isinstance(item.error, SourceError)
    assert says in str(item.error)
    assert item.raw is body
    assert item.item_id == signed_envelope()["MessageId"]  # from the header when the body has none


def test_http_notification_with_a_bad_record_is_a_parse_error() -> None:
    envelope = {**signed_envelope(), "Message": '{"notificationType": "Bounce", "mail": "nope"}'}
    item = sns_http_item(json.dumps(envelope), http_headers(envelope))
    assert isinstance(item.error, ParseError)
    assert item.error.location == "mail"


def test_http_confirmations() -> None:
    for envelope, kind in (
        (SUBSCRIPTION_CONFIRMATION, SnsSubscriptionConfirmation),
        (UNSUBSCRIBE_CONFIRMATION, SnsUnsubscribeConfirmation),
    ):
        headers = http_headers(envelope, X_Amz_Sns_Subscription_Arn=None)
        item = sns_http_item(json.dumps(envelope), headers)
        assert type(item.record) is kind
        assert item.record.topic_arn == envelope["TopicArn"]
        assert item.meta["sns_type"] == envelope["Type"]
        assert "subscription_arn" not in item.meta
        rejected = sns_http_item(json.dumps(envelope), headers, verifier=RejectAll())
        assert isinstance(rejected.error, SnsVerificationError)
        assert rejected.record is None


def test_lambda_malformed_records() -> None:
    good = lambda_sns_event(signed_envelope())["Records"][0]
    wrong_source = {**good, "EventSource": "aws:sqs"}
    no_sns = {key: value for key, value in good.items() if key != "Sns"}
    unsigned_type = {**good, "Sns": {**good["Sns"], "Type": "Surprise"}}
    items = sns_lambda_items({"Records": [wrong_source, no_sns, "text", unsigned_type, good]})
    assert [item.ok for item in items] == [False, False, False, False, True]
    assert "EventSource 'aws:sqs'" in str(items[0].error)
    assert items[0].item_id == good["Sns"]["MessageId"]
    assert "no 'Sns' object" in str(items[1].error)
    assert "Records[2]" in str(items[2].error)
    assert "'Surprise'" in str(items[3].error)
    assert [item.raw for item in items] == [wrong_source, no_sns, "text", unsigned_type, good]
    for event in ({"records": []}, None):
        (item,) = sns_lambda_items(event)  # type: ignore[arg-type]
        assert isinstance(item.error, SourceError)
        assert item.raw is event


def summary(item: SourceItem) -> tuple[Any, ...]:
    return (item.item_id, item.record, type(item.error), str(item.error), dict(item.meta))


async def test_async_twins_match_the_sync_ones() -> None:
    envelopes = [signed_envelope(SIGNED_BOUNCE), signed_envelope(SIGNED_COMPLAINT), SUBSCRIPTION_CONFIRMATION]
    event = lambda_sns_event(*envelopes)
    event["Records"].append(
        {"EventSource": "aws:sns", "Sns": {**to_lambda_sns(envelopes[0]), "Message": "{"}}
    )
    for verifier in (None, TopicVerifier(VECTOR_TOPIC), RejectAll()):
        sync = [summary(item) for item in sns_lambda_items(event, verifier=verifier)]
        assert [summary(item) for item in await sns_lambda_items_async(event, verifier=verifier)] == sync
        for envelope in envelopes:
            body, headers = json.dumps(envelope), http_headers(envelope)
            expected = summary(sns_http_item(body, headers, verifier=verifier))
            assert summary(await sns_http_item_async(body, headers, verifier=verifier)) == expected
