"""Lambda invocation payloads shaped as AWS delivers them, built around SES records (for router tests)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:ses-events"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:ses-events"
FIFO_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:ses-events.fifo"

SAMPLE_FILES = sorted(p.name for p in DATA.glob("*.json"))
"""The fifteen SES records in tests/data (ten event types, five feedback notifications)."""


def record_text(name: str) -> str:
    """An SES record from tests/data, as the JSON text SES publishes."""
    return (DATA / name).read_text(encoding="utf-8")


def sns_envelope(message: str, *, message_id: str | None = None) -> dict[str, Any]:
    """An unsigned SNS Notification carrying ``message`` (as SNS delivers it to SQS or over HTTP)."""
    return {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": TOPIC_ARN,
        "Message": message,
        "Timestamp": "2026-01-01T12:00:05.000Z",
        "SignatureVersion": "1",
        "Signature": "c2lnbmF0dXJl",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem",
        "UnsubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={TOPIC_ARN}:1",
    }


def _sent_timestamp(body: str) -> str:
    """SQS's SentTimestamp for ``body``: a moment after an SNS envelope's Timestamp (SNS delivered it then),
    else a fixed time."""
    try:
        stamp = json.loads(body).get("Timestamp")
        sent = datetime.fromisoformat(stamp) + timedelta(milliseconds=50)
    except (ValueError, AttributeError, TypeError):
        return "1767268805000"
    return str(int(sent.timestamp() * 1000))


def sqs_record(body: str, message_id: str, *, fifo: bool = False, group: str = "g1") -> dict[str, Any]:
    """One record of a Lambda SQS event."""
    attributes = {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": _sent_timestamp(body),
        "SenderId": "AIDAEXAMPLE",
        "ApproximateFirstReceiveTimestamp": "1767268805100",
    }
    if fifo:
        attributes |= {"MessageGroupId": group, "MessageDeduplicationId": message_id, "SequenceNumber": "1"}
    return {
        "messageId": message_id,
        "receiptHandle": f"AQEB{message_id}handle",
        "body": body,
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": FIFO_QUEUE_ARN if fifo else QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def sqs_event(bodies: Sequence[tuple[str, str]], *, fifo: bool = False) -> dict[str, Any]:
    """A Lambda SQS event from ``(message_id, body)`` pairs."""
    return {"Records": [sqs_record(body, message_id, fifo=fifo) for message_id, body in bodies]}


def sns_lambda_record(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """One record of a Lambda SNS event: the envelope under ``Sns``, with Lambda's ``...Url`` spelling."""
    sns = {k.replace("URL", "Url"): v for k, v in envelope.items()}
    sns.setdefault("MessageAttributes", {})
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": f"{envelope.get('TopicArn', TOPIC_ARN)}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
        "Sns": sns,
    }


def sns_lambda_event(*envelopes: Mapping[str, Any]) -> dict[str, Any]:
    return {"Records": [sns_lambda_record(e) for e in envelopes]}


def eventbridge_event(
    record: Mapping[str, Any], detail_type: str, *, event_id: str = "eb-1"
) -> dict[str, Any]:
    """An EventBridge event as a rule delivers it to a Lambda target."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": "aws.ses",
        "account": "123456789012",
        "time": "2026-01-01T12:00:05Z",
        "region": "us-east-1",
        "resources": ["arn:aws:ses:us-east-1:123456789012:configuration-set/my-config-set"],
        "detail": dict(record),
    }


def firehose_event(datas: Sequence[tuple[str, bytes | str]]) -> dict[str, Any]:
    """A Firehose transformation Lambda's input from ``(record_id, data)``; str data is put in as is
    (so a test can pass invalid base64), bytes are base64-encoded."""
    return {
        "invocationId": "invocation-1",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/ses-events",
        "region": "us-east-1",
        "records": [
            {
                "recordId": record_id,
                "approximateArrivalTimestamp": 1767268805000,
                "data": base64.b64encode(data).decode() if isinstance(data, bytes) else data,
            }
            for record_id, data in datas
        ],
    }


def firehose_line(name: str) -> bytes:
    """A record from tests/data as SES writes it to Firehose: compact JSON and a newline."""
    return json.dumps(json.loads(record_text(name)), separators=(",", ":")).encode() + b"\n"
