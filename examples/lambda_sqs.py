"""A Lambda function that keeps a suppression list from SES events, fed by an SQS queue.

Wiring: the configuration set's SNS event destination publishes to a topic; an SQS queue subscribed to the
topic (raw message delivery off, so each body is the SNS envelope) triggers this function through an event
source mapping with ``FunctionResponseTypes: ["ReportBatchItemFailures"]``, and has a redrive policy to a
dead-letter queue. Environment: ``SUPPRESSION_TABLE``, a DynamoDB table whose partition key is ``email`` (a
string).

What it does: a permanent (hard) bounce or a complaint puts the recipient in the table, one item per address,
so writing the same event twice changes nothing. The handler answers with the partial batch response: only the
messages that could not be parsed, or whose write failed, return to the queue; after ``maxReceiveCount``
attempts SQS moves them to the dead-letter queue. Everything else in the batch is deleted.

Handler setting: ``lambda_sqs.handler``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import boto3

from sesflow.events import BounceEvent, BounceType, ComplaintEvent, SesEvent
from sesflow.routing import EventRouter, handle_sqs_lambda
from sesflow.sources import SourceItem

logger = logging.getLogger("suppression")
logger.setLevel(logging.INFO)

# Created once per execution environment and reused by every warm invocation.
table = boto3.resource("dynamodb").Table(os.environ["SUPPRESSION_TABLE"])
router = EventRouter()


def suppress(address: str, reason: str, event: SesEvent) -> None:
    """Record ``address`` as not to be mailed again (the latest reason wins)."""
    table.put_item(
        Item={
            "email": address.strip().lower(),
            "reason": reason,
            "ses_message_id": event.message_id,
            "event_time": event.timestamp.isoformat(),
            "configuration_set": event.configuration_set or "-",
        }
    )
    logger.info("suppressed %s (%s)", address, reason)


@router.on_bounce(bounce_type=BounceType.PERMANENT)
def on_hard_bounce(event: BounceEvent) -> None:
    for recipient in event.bounce.bounced_recipients:
        suppress(recipient.email_address, f"bounce:{event.bounce.bounce_sub_type.value}", event)


@router.on_complaint(where=lambda event: event.should_suppress)  # all but "not-spam" feedback
def on_complaint(event: ComplaintEvent) -> None:
    for recipient in event.complaint.complained_recipients:
        suppress(recipient.email_address, "complaint", event)


@router.on_invalid
def on_invalid(item: SourceItem) -> None:
    # The message is reported as failed and retried, then dead-lettered by the queue's redrive policy.
    logger.error("unreadable SQS message %s: %s", item.item_id, item.error)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_sqs_lambda(router, event, context)
