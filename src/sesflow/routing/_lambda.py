"""The Lambda entry points: a Lambda event in, dispatched through an ``EventRouter``, Lambda's answer out.

``handle_lambda`` recognises which service invoked the function and calls the entry point for it; the
explicit ones (``handle_sqs_lambda``, ``handle_sns_lambda``, ``handle_eventbridge_lambda``,
``handle_firehose_lambda`` and their async twins) answer one trigger each. Each is a pure part (which
items failed, what the response is) and a loop that dispatches, written once for sync and once for async;
the sources do the unwrapping and verification, the router the dispatch. They live here, beside the router
and not in it, the way a batch processor stays apart from the handlers it calls.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from ..events import ParsedRecord
from ..sources import (
    FirehoseOutcome,
    FirehoseResult,
    MessageVerifier,
    SourceItem,
    Transport,
    eventbridge_item,
    firehose_lambda_items,
    firehose_response,
    is_replay,
    mark_handled,
    sns_lambda_items,
    sns_lambda_items_async,
    sqs_lambda_items,
    sqs_lambda_items_async,
)
from .errors import DispatchError, LambdaEventError
from .results import DispatchResult

if TYPE_CHECKING:
    from .router import EventRouter

__all__ = [
    "FirehoseTransform",
    "handle_eventbridge_lambda",
    "handle_eventbridge_lambda_async",
    "handle_firehose_lambda",
    "handle_firehose_lambda_async",
    "handle_lambda",
    "handle_lambda_async",
    "handle_sns_lambda",
    "handle_sns_lambda_async",
    "handle_sqs_lambda",
    "handle_sqs_lambda_async",
    "lambda_transport",
]

logger = logging.getLogger("sesflow.routing")

# --- dispatch, skipping what a replay guard already saw ----------------------------------------------------


def _skipped(item: SourceItem) -> DispatchResult | None:
    """An ok result, without dispatching, for a genuine SNS message already handled (a replay); else None."""
    if not is_replay(item):
        return None
    logger.info("SNS message %s was already handled; skipped", item.item_id)
    return DispatchResult(None, item=item)


def _dispatch(router: EventRouter, item: SourceItem) -> DispatchResult:
    return _skipped(item) or router.dispatch_item(item)


async def _dispatch_async(router: EventRouter, item: SourceItem) -> DispatchResult:
    return _skipped(item) or await router.dispatch_item_async(item)


def _mark_handled(
    verifier: MessageVerifier | None, items: Sequence[SourceItem], results: Sequence[DispatchResult]
) -> None:
    """Mark the verified SNS messages that were handled (only those) in the verifier's replay guard."""
    if verifier is None:
        return
    for item, result in zip(items, results, strict=False):  # a FIFO batch may stop before its end
        if result.ok:
            mark_handled(verifier, item)


FirehoseTransform: TypeAlias = Callable[[ParsedRecord, bytes], "bytes | str | Mapping[str, Any] | None"]
"""``transform(record, data)`` for a Firehose record whose handlers succeeded: what to deliver instead of
``data`` (the record's decoded bytes): bytes or str as they are, a mapping as one JSON line; None drops it."""

SqsBatchResponse: TypeAlias = dict[str, list[dict[str, str]]]

# --- SQS ------------------------------------------------------------------------------------------------


def is_fifo(event: Mapping[str, Any]) -> bool:
    """True when the SQS Lambda event comes from a FIFO queue (``.fifo`` ARN, or ``MessageGroupId`` set)."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        return False
    for record in records:
        if not isinstance(record, Mapping):
            continue
        arn = record.get("eventSourceARN")
        if isinstance(arn, str) and arn.endswith(".fifo"):
            return True
        attributes = record.get("attributes")
        if isinstance(attributes, Mapping) and "MessageGroupId" in attributes:
            return True
    return False


def sqs_batch_response(
    items: Sequence[SourceItem], results: Sequence[DispatchResult], *, fifo: bool
) -> SqsBatchResponse:
    """The partial batch response for ``items``, of which the first ``len(results)`` were dispatched.

    Standard queue: every failed item. FIFO queue: the first failed item and every item after it
    (dispatched or not), so that a message group is never processed out of order.
    """
    failed: list[dict[str, str]] = []
    for index, result in enumerate(results):
        if result.ok:
            continue
        if fifo:
            rest = items[index:]
            logger.warning(
                "FIFO batch stopped at message %s; it and %d later message(s) are returned for retry",
                items[index].item_id,
                len(rest) - 1,
            )
            return {"batchItemFailures": [{"itemIdentifier": item.item_id} for item in rest]}
        failed.append({"itemIdentifier": items[index].item_id})
    if len(results) < len(items):  # only a FIFO batch stops early, and only at a failure
        raise AssertionError("an SQS batch was not dispatched to its end")
    if failed:
        logger.warning("%d of %d SQS message(s) failed and are returned for retry", len(failed), len(items))
    return {"batchItemFailures": failed}


def handle_sqs_lambda(
    router: EventRouter,
    event: Mapping[str, Any],
    context: object = None,
    *,
    verifier: MessageVerifier | None = None,
) -> SqsBatchResponse:
    """Handle a Lambda invocation by an SQS queue with ``router``; return the partial batch response.

    Each record's body is an SNS envelope (verified when ``verifier`` is given) or, with raw message
    delivery, the SES record itself. The answer is
    ``{"batchItemFailures": [{"itemIdentifier": message_id}, ...]}``, listing the messages that failed
    (a handler or hook raised) or could not be unwrapped, verified or parsed: Lambda deletes the others
    and makes only these visible again. The event source mapping must have ``ReportBatchItemFailures``
    enabled. On a FIFO queue, the first failure stops the batch: it and every later message are
    reported, so that order within a message group is kept. ``context`` is accepted for the Lambda
    handler's signature and not used.
    """
    router.check_sync("handle_sqs_lambda")
    items = sqs_lambda_items(event, verifier=verifier)
    fifo = is_fifo(event)
    results: list[DispatchResult] = []
    for item in items:
        result = _dispatch(router, item)
        results.append(result)
        if fifo and not result.ok:
            break
    _mark_handled(verifier, items, results)
    return sqs_batch_response(items, results, fifo=fifo)


async def handle_sqs_lambda_async(
    router: EventRouter,
    event: Mapping[str, Any],
    context: object = None,
    *,
    verifier: MessageVerifier | None = None,
    concurrency: int = 1,
) -> SqsBatchResponse:
    """The async twin of ``handle_sqs_lambda``.

    ``concurrency`` is how many messages of a standard queue's batch are dispatched at once (1: one
    after the other, in batch order). A FIFO queue's batch is always dispatched in order, one at a time.
    """
    _check_concurrency(concurrency)
    items = await sqs_lambda_items_async(event, verifier=verifier)
    fifo = is_fifo(event)
    if fifo or concurrency == 1:
        results: list[DispatchResult] = []
        for item in items:
            result = await _dispatch_async(router, item)
            results.append(result)
            if fifo and not result.ok:
                break
    else:
        results = await _dispatch_all_async(router, items, concurrency)
    _mark_handled(verifier, items, results)
    return sqs_batch_response(items, results, fifo=fifo)


def _check_concurrency(concurrency: int) -> None:
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive integer, got {concurrency!r}")


async def _dispatch_all_async(
    router: EventRouter, items: Sequence[SourceItem], concurrency: int
) -> list[DispatchResult]:
    """Dispatch every item, at most ``concurrency`` at once; results in item order."""
    if concurrency == 1 or len(items) <= 1:
        return [await _dispatch_async(router, item) for item in items]
    limit = asyncio.Semaphore(concurrency)

    async def one(item: SourceItem) -> DispatchResult:
        async with limit:
            return await _dispatch_async(router, item)

    # Handler failures are caught inside dispatch; what escapes (cancellation, AsyncHandlerError...) must
    # propagate, and TaskGroup cancels the siblings when it does.
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(item)) for item in items]
    return [task.result() for task in tasks]


# --- SNS and EventBridge --------------------------------------------------------------------------------


def raise_for_results(results: Sequence[DispatchResult]) -> None:
    """Raise ``DispatchError`` when any result is not ok (chaining the first handler exception)."""
    if all(result.ok for result in results):
        return
    error = DispatchError(results)
    cause: BaseException | None = None
    for result in error.failed:
        if result.failures:
            cause = result.failures[0].exception
            break
        if result.error is not None:
            cause = result.error
            break
    raise error from cause


def handle_sns_lambda(
    router: EventRouter,
    event: Mapping[str, Any],
    context: object = None,
    *,
    verifier: MessageVerifier | None = None,
) -> None:
    """Handle a Lambda invocation by an SNS topic (``Records[].Sns``) with ``router``.

    Raises ``DispatchError`` (carrying every item's result) when a handler failed or a message could
    not be verified or parsed; returns None otherwise. SNS invokes Lambda asynchronously, so a raised
    error makes Lambda retry the invocation (twice by default) and then hand the event to the function's
    on-failure destination or dead-letter queue, when one is configured. Handlers should be idempotent:
    a retry runs every handler of the invocation again.
    """
    router.check_sync("handle_sns_lambda")
    items = sns_lambda_items(event, verifier=verifier)
    results = [_dispatch(router, item) for item in items]
    _mark_handled(verifier, items, results)
    raise_for_results(results)


async def handle_sns_lambda_async(
    router: EventRouter,
    event: Mapping[str, Any],
    context: object = None,
    *,
    verifier: MessageVerifier | None = None,
) -> None:
    """The async twin of ``handle_sns_lambda``."""
    items = await sns_lambda_items_async(event, verifier=verifier)
    results = [await _dispatch_async(router, item) for item in items]
    _mark_handled(verifier, items, results)
    raise_for_results(results)


def handle_eventbridge_lambda(router: EventRouter, event: Mapping[str, Any], context: object = None) -> None:
    """Handle a Lambda invocation by an EventBridge rule (an event with ``source: aws.ses``) with ``router``.

    Raises ``DispatchError`` when a handler failed or the event is not a valid SES email event;
    returns None otherwise. EventBridge invokes Lambda asynchronously, so a raised error makes Lambda
    retry (twice by default) and then use the function's on-failure destination or dead-letter queue.
    A non-email ``aws.ses`` event (``NonEmailEvent``) is a control message: it goes to ``on_control``
    handlers or the ``on_unmatched`` hook, and is not an error.
    """
    router.check_sync("handle_eventbridge_lambda")
    raise_for_results([router.dispatch_item(eventbridge_item(event))])


async def handle_eventbridge_lambda_async(
    router: EventRouter, event: Mapping[str, Any], context: object = None
) -> None:
    """The async twin of ``handle_eventbridge_lambda``."""
    raise_for_results([await router.dispatch_item_async(eventbridge_item(event))])


# --- Firehose -------------------------------------------------------------------------------------------


def firehose_outcomes(
    items: Sequence[SourceItem], results: Sequence[DispatchResult], transform: FirehoseTransform | None
) -> dict[str, FirehoseOutcome]:
    """The outcome of each dispatched record: ``ProcessingFailed`` when a handler failed, otherwise what
    ``transform`` makes of it (``Ok`` with new data, or ``Dropped``). Records without an entry (passed
    through unchanged, or invalid) get ``firehose_response``'s default.
    """
    outcomes: dict[str, FirehoseOutcome] = {}
    for item, result in zip(items, results, strict=True):
        record = result.record
        if result.error is not None or record is None:
            continue  # invalid: the default answer is ProcessingFailed, with the original data
        if result.failures:
            outcomes[item.item_id] = FirehoseResult.PROCESSING_FAILED
        elif transform is not None:
            outcomes[item.item_id] = _transformed(item, record, transform)
    failed = sum(1 for result in results if not result.ok)
    if failed:
        logger.warning("%d of %d Firehose record(s) are answered ProcessingFailed", failed, len(results))
    return outcomes


def _transformed(item: SourceItem, record: ParsedRecord, transform: FirehoseTransform) -> FirehoseOutcome:
    data = base64.b64decode(item.raw["data"])  # the item parsed, so its data is valid base64
    try:
        new = transform(record, data)
        if new is None:
            return FirehoseResult.DROPPED
        if isinstance(new, bytes):
            return (FirehoseResult.OK, new)
        if isinstance(new, str):
            return (FirehoseResult.OK, new.encode("utf-8"))
        if isinstance(new, Mapping):
            return (FirehoseResult.OK, json.dumps(new, separators=(",", ":")).encode("utf-8") + b"\n")
        raise TypeError(
            f"a Firehose transform must return bytes, str, a mapping or None, got {type(new).__name__}"
        )
    except Exception:
        logger.exception("the Firehose transform failed on record %s", item.item_id)
        return FirehoseResult.PROCESSING_FAILED


def handle_firehose_lambda(
    router: EventRouter,
    event: Mapping[str, Any],
    context: object = None,
    *,
    transform: FirehoseTransform | None = None,
) -> dict[str, Any]:
    """Handle a Firehose data-transformation invocation with ``router``; return the transformation response.

    Every record is dispatched to the handlers. A record whose handlers all succeeded is ``Ok`` with its
    data passed through unchanged or, when ``transform`` is given, replaced by what ``transform(record,
    data)`` returns (``bytes``, ``str``, or a mapping written as one JSON line); a ``transform`` that
    returns None marks the record ``Dropped``. A record that could not be decoded or parsed, whose handler
    failed or whose transform raised is ``ProcessingFailed``, which Firehose writes to the error output.
    """
    router.check_sync("handle_firehose_lambda")
    items = firehose_lambda_items(event)
    results = [router.dispatch_item(item) for item in items]
    return firehose_response(items, firehose_outcomes(items, results, transform))


async def handle_firehose_lambda_async(
    router: EventRouter,
    event: Mapping[str, Any],
    context: object = None,
    *,
    transform: FirehoseTransform | None = None,
    concurrency: int = 1,
) -> dict[str, Any]:
    """The async twin of ``handle_firehose_lambda``; up to ``concurrency`` records run at once."""
    _check_concurrency(concurrency)
    items = firehose_lambda_items(event)
    results = await _dispatch_all_async(router, items, concurrency)
    return firehose_response(items, firehose_outcomes(items, results, transform))


# --- whichever service invoked the function -------------------------------------------------------------


def lambda_transport(event: object) -> Transport:
    """Which service invoked the function with ``event``: SQS, SNS, EventBridge or Firehose.

    Told apart by the fields each service always sends: ``Records[].eventSource`` is ``aws:sqs`` for SQS and
    ``Records[].EventSource`` is ``aws:sns`` for SNS (every record must agree); a Firehose transformation
    event has ``invocationId``, ``deliveryStreamArn`` and ``records``; an EventBridge event has ``source``,
    ``detail-type`` and ``detail``. Raises ``LambdaEventError`` for anything else.
    """
    if isinstance(event, Mapping):
        records = event.get("Records")
        if isinstance(records, list) and records and all(isinstance(r, Mapping) for r in records):
            sources = {r.get("eventSource", r.get("EventSource")) for r in records}
            if sources == {"aws:sqs"}:
                return Transport.SQS
            if sources == {"aws:sns"}:
                return Transport.SNS
        elif isinstance(event.get("records"), list) and {"invocationId", "deliveryStreamArn"} <= event.keys():
            return Transport.FIREHOSE
        elif {"source", "detail-type", "detail"} <= event.keys():
            return Transport.EVENTBRIDGE
    raise LambdaEventError(event)


def handle_lambda(
    router: EventRouter,
    event: Mapping[str, Any],
    context: object = None,
    *,
    verifier: MessageVerifier | None = None,
    transform: FirehoseTransform | None = None,
) -> dict[str, Any] | None:
    """Handle a Lambda invocation by SQS, SNS, EventBridge or Firehose with ``router``, whichever it is.

    Recognises the service by the event's shape (see ``lambda_transport``) and answers as the explicit
    entry point for it would: the partial batch response for SQS (``handle_sqs_lambda``), None or
    ``DispatchError`` for SNS and EventBridge, the transformation response for Firehose.
    ``verifier`` applies to the SQS and SNS invocations (the ones that carry SNS envelopes), ``transform``
    to Firehose. An event none of the four sent raises ``LambdaEventError``, which fails the
    invocation, so the service keeps the event and retries it (or dead-letters it) instead of losing it.
    """
    transport = lambda_transport(event)
    if transport is Transport.SQS:
        return handle_sqs_lambda(router, event, verifier=verifier)
    if transport is Transport.SNS:
        handle_sns_lambda(router, event, verifier=verifier)
        return None
    if transport is Transport.FIREHOSE:
        return handle_firehose_lambda(router, event, transform=transform)
    handle_eventbridge_lambda(router, event)
    return None


async def handle_lambda_async(
    router: EventRouter,
    event: Mapping[str, Any],
    context: object = None,
    *,
    verifier: MessageVerifier | None = None,
    transform: FirehoseTransform | None = None,
    concurrency: int = 1,
) -> dict[str, Any] | None:
    """The async twin of ``handle_lambda``; ``concurrency`` applies to SQS and Firehose batches."""
    transport = lambda_transport(event)
    if transport is Transport.SQS:
        return await handle_sqs_lambda_async(router, event, verifier=verifier, concurrency=concurrency)
    if transport is Transport.SNS:
        await handle_sns_lambda_async(router, event, verifier=verifier)
        return None
    if transport is Transport.FIREHOSE:
        return await handle_firehose_lambda_async(router, event, transform=transform, concurrency=concurrency)
    await handle_eventbridge_lambda_async(router, event)
    return None
