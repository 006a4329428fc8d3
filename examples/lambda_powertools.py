"""sesflow's router inside a Lambda function that uses Powertools for AWS Lambda (Python).

An SQS queue subscribed to the SES event topic triggers the function (with ``ReportBatchItemFailures`` on
the event source mapping). Powertools does what it is good at (structured logs with the Lambda context,
CloudWatch metrics in the embedded metric format); sesflow unwraps the SNS envelopes, parses typed SES
events and routes them. Two handlers show the two ways to combine them:

- ``handler``: sesflow builds the partial batch response (``handle_sqs_lambda``);
- ``batch_handler``: Powertools' ``BatchProcessor`` drives the batch and sesflow handles each record.

Both report exactly the messages whose handling failed, or that are not SES events, so SQS retries only those
(and, after the queue's ``maxReceiveCount``, moves them to its dead-letter queue).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from sesflow.events import BounceEvent, ComplaintEvent, SesEvent
from sesflow.routing import EventRouter, handle_sqs_lambda
from sesflow.sources import SourceItem, sqs_lambda_items

logger = Logger(service="ses-events")
metrics = Metrics(namespace="SesEvents", service="ses-events")

SUPPRESSED: set[str] = set()  # your database, in a real function


def dead_letter(item: SourceItem) -> None:
    logger.error("not an SES event", extra={"message_id": item.item_id, "error": str(item.error)})


router = EventRouter(on_invalid=dead_letter)


@router.on_bounce(bounce_type="Permanent")
def hard_bounce(event: BounceEvent) -> None:
    SUPPRESSED.update(address.lower() for address in event.recipients)
    metrics.add_metric(name="HardBounces", unit=MetricUnit.Count, value=len(event.recipients))


@router.on_complaint
def complaint(event: ComplaintEvent) -> None:
    if event.should_suppress:
        SUPPRESSED.update(address.lower() for address in event.recipients)
    metrics.add_metric(name="Complaints", unit=MetricUnit.Count, value=1)


@router.on_any
def log_event(event: SesEvent) -> None:
    logger.info("SES event", extra={"event_type": event.event_type.value, "message_id": event.message_id})


# --- 1. sesflow answers with the partial batch response ----------------------------------------------------


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_sqs_lambda(router, event, context)


# --- 2. Powertools' BatchProcessor, one record at a time ---------------------------------------------------

processor = BatchProcessor(event_type=EventType.SQS)


class RecordFailed(Exception):
    """Raised for a record that failed, so that BatchProcessor reports it."""


def record_handler(record: SQSRecord) -> None:
    (item,) = sqs_lambda_items({"Records": [record.raw_event]})
    result = router.dispatch_item(item)
    if not result.ok:
        raise RecordFailed(result.describe_failure())


@logger.inject_lambda_context
@metrics.log_metrics
def batch_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response: dict[str, Any] = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return response
