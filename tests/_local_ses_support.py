"""Shared helpers for the LocalSes and CLI tests: unique names, a provisioned SNS → SQS pipeline, draining a
queue into parsed events."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

import boto3

from sesflow.events import EventType, SesEvent
from sesflow.provisioning import Provisioner, SnsSqsPipeline
from sesflow.sending import Email
from sesflow.sources import SourceItem, sqs_message_item
from sesflow.testing import LocalSes

SENDER = "Shop <shop@example.com>"
SIM = "simulator.amazonses.com"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def pipeline(
    local: LocalSes, configuration_set: str | None = None, *, event_types: Iterable[EventType] | None = None
) -> SnsSqsPipeline:
    """A configuration set with an SNS → SQS pipeline, created through LocalSes's observed session."""
    cs = configuration_set or unique("cs")
    provisioner = Provisioner(local.session(), endpoint_url=local.endpoint_url, api="v1")
    options: dict[str, Any] = {"destination_name": unique("dest")}
    if event_types is not None:
        options["event_types"] = list(event_types)
    result = provisioner.ensure_sns_sqs_pipeline(cs, **options)
    local.client("ses").verify_domain_identity(Domain="example.com")
    return result


def eventbridge_queue(local: LocalSes, pattern: dict[str, Any]) -> str:
    """A new SQS queue, the target of a new rule on the server's default bus matching ``pattern``; its URL."""
    sqs, events = local.client("sqs"), local.client("events")
    queue_url: str = sqs.create_queue(QueueName=unique("eb"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url


def drain(client: Any, queue_url: str) -> list[SourceItem]:
    """Every message on the queue, unwrapped, in the order received; the messages are deleted."""
    items: list[SourceItem] = []
    while True:
        messages = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return items
        for message in messages:
            items.append(sqs_message_item(message))
            client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def events_of(items: Iterable[SourceItem]) -> list[SesEvent]:
    out = []
    for item in items:
        assert item.ok, item.error
        assert isinstance(item.record, SesEvent)
        out.append(item.record)
    return out


def email(to: str | list[str], **changes: Any) -> Email:
    fields: dict[str, Any] = {
        "sender": SENDER,
        "to": to,
        "subject": "Your order",
        "text": "Thanks for your order.",
        "tags": {"campaign": "spring"},
    }
    fields.update(changes)
    return Email(**fields)


def plain_session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
