"""Builders of transport payloads shaped as AWS delivers them, and two small real verifiers, for source tests.

The Lambda event shapes follow the AWS Lambda developer guide's sample events ("Using Lambda with Amazon
SQS / SNS / EventBridge / Kinesis Data Firehose"); the SNS envelopes are the real ones in tests/data/sns/.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sesflow.errors import SnsVerificationError

from .conftest import DATA, load

SIGNED_BOUNCE = "sns/signed-v1-bounce-notification.json"
SIGNED_COMPLAINT = "sns/signed-v1-complaint-event.json"
VECTOR_TOPIC = "arn:aws:sns:us-east-1:364852123998:test-email"

# What AWS documents for an SNS topic's confirmation message delivered to an HTTP endpoint or an SQS queue.
SUBSCRIPTION_CONFIRMATION: dict[str, str] = {
    "Type": "SubscriptionConfirmation",
    "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
    "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e"
    "285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d278"
    "5c03b0879594eec2f9c52ad5a5d75",
    "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
    "Message": "You have chosen to subscribe to the topic arn:aws:sns:us-west-2:123456789012:MyTopic.\n"
    "To confirm the subscription, visit the SubscribeURL included in this message.",
    "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
    "arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336412f37...",
    "Timestamp": "2012-04-26T20:45:04.751Z",
    "SignatureVersion": "1",
    "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6b"
    "kkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
    "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
}

UNSUBSCRIBE_CONFIRMATION: dict[str, str] = {
    **SUBSCRIPTION_CONFIRMATION,
    "Type": "UnsubscribeConfirmation",
    "MessageId": "47138184-6831-46b8-8f7c-afc488602d7d",
    "Message": "You have chosen to deactivate subscription "
    "arn:aws:sns:us-west-2:123456789012:MyTopic:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55.\n"
    "To cancel this operation and restore the subscription, visit the SubscribeURL included in this message.",
    "Timestamp": "2012-04-26T20:06:41.581Z",
}


def ses_record(name: str) -> dict[str, Any]:
    """An SES record from tests/data (e.g. ``event_01_Bounce.json``)."""
    return load(name)


def ses_line(name: str) -> bytes:
    """An SES record as one NDJSON line's content (no newline), the way Firehose writes it."""
    return json.dumps(load(name), separators=(",", ":")).encode()


def signed_envelope(name: str = SIGNED_BOUNCE) -> dict[str, Any]:
    """A real AWS-signed SNS envelope, with the HTTP/SQS spelling (``SigningCertURL``)."""
    return load(name)


def signed_envelope_text(name: str = SIGNED_BOUNCE) -> str:
    """The envelope exactly as stored (the bytes SNS put in the SQS body or the HTTP POST)."""
    return (DATA / name).read_text(encoding="utf-8")


def fifo_envelope(
    record: Mapping[str, Any], *, sequence_number: str = "10000000000000003000"
) -> dict[str, Any]:
    """An SNS FIFO topic's envelope as delivered to an SQS FIFO queue: SequenceNumber, no signature fields."""
    return {
        "Type": "Notification",
        "MessageId": "3e7c2b64-7f3b-5a5e-9d67-cd5f0bc1c1f1",
        "SequenceNumber": sequence_number,
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events.fifo",
        "Message": json.dumps(record),
        "Timestamp": "2024-05-01T10:00:00.000Z",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
        "arn:aws:sns:us-east-1:123456789012:ses-events.fifo:0f5f1e1e-1111-2222-3333-444455556666",
    }


def to_lambda_sns(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The ``Sns`` object Lambda builds from an envelope: ``...Url`` spellings, ``Subject`` null if absent."""
    renamed = {"SigningCertURL": "SigningCertUrl", "UnsubscribeURL": "UnsubscribeUrl"}
    sns = {renamed.get(key, key): value for key, value in envelope.items()}
    sns.setdefault("Subject", None)
    sns["MessageAttributes"] = {}
    return sns


def lambda_sns_event(*envelopes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{envelope.get('TopicArn')}:21be56ed-a058-49f5-8c98-aedd2564c486",
                "EventSource": "aws:sns",
                "Sns": to_lambda_sns(envelope),
            }
            for envelope in envelopes
        ]
    }


def lambda_sqs_record(
    body: str,
    *,
    message_id: str = "059f36b4-87a3-44ab-83d2-661975830a7d",
    queue_arn: str = "arn:aws:sqs:us-east-1:123456789012:ses-events",
    attributes: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1545082649185",
            **(attributes or {}),
        },
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


def boto_to_lambda_sqs(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """The Lambda SQS record of a message boto3 received (same id, handle, body and attributes)."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


def eventbridge_event(
    detail: Any,
    detail_type: str,
    *,
    event_id: str = "a7c5d4f0-1b7e-4c57-9a6e-2c1e3f4a5b6c",
    source: str = "aws.ses",
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2023-10-06T15:28:01Z",
        "region": "us-east-1",
        "resources": ["arn:aws:ses:us-east-1:123456789012:configuration-set/ConfigSet"],
        "detail": detail,
    }


def firehose_event(datas: Iterable[str | bytes]) -> dict[str, Any]:
    """A transformation Lambda's input; ``str`` entries are used as the base64 ``data`` verbatim."""
    return {
        "invocationId": "invocationIdExample",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/ses-events",
        "region": "us-east-1",
        "records": [
            {
                "recordId": f"4954698668313554428650745793632162567570019247115678515{index}",
                "approximateArrivalTimestamp": 1495072949453 + index,
                "data": data if isinstance(data, str) else base64.b64encode(data).decode(),
            }
            for index, data in enumerate(datas)
        ],
    }


class TopicVerifier:
    """A small real verifier (no cryptography): accepts a signed envelope from one of ``topics``.

    It reads the envelope the way a real verifier does (either spelling of the certificate URL) and keeps
    every message it was given, so a test can see what reached it.
    """

    def __init__(self, *topics: str) -> None:
        self.topics = frozenset(topics)
        self.seen: list[Mapping[str, Any]] = []
        self.delivered: list[datetime | None] = []  # the delivered_at of each call

    def _check(self, message: Mapping[str, Any]) -> None:
        self.seen.append(message)
        message_id = message.get("MessageId")
        if not isinstance(message.get("Signature"), str):
            raise SnsVerificationError("unsigned", message_id=message_id)
        if not isinstance(message.get("SigningCertURL", message.get("SigningCertUrl")), str):
            raise SnsVerificationError("no certificate URL", message_id=message_id)
        if message.get("TopicArn") not in self.topics:
            raise SnsVerificationError(
                f"topic {message.get('TopicArn')} is not allowed", message_id=message_id
            )

    def verify(self, message: Mapping[str, Any], *, delivered_at: datetime | None = None) -> None:
        self.delivered.append(delivered_at)
        self._check(message)

    async def verify_async(self, message: Mapping[str, Any], *, delivered_at: datetime | None = None) -> None:
        await asyncio.sleep(0)  # a real one awaits a certificate fetch here
        self.delivered.append(delivered_at)
        self._check(message)


class RejectAll:
    """A verifier that trusts nothing."""

    def verify(self, message: Mapping[str, Any], *, delivered_at: datetime | None = None) -> None:
        raise SnsVerificationError("rejected", message_id=message.get("MessageId"))

    async def verify_async(self, message: Mapping[str, Any], *, delivered_at: datetime | None = None) -> None:
        self.verify(message)
