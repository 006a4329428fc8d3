"""The Lambda entry points behind ``EventRouter.handle_*_lambda``: sources in, Lambda's answer out.

Each entry point is a pure part (which items failed, what the response is) and a loop that dispatches,
written once for sync and once for async; the sources do the unwrapping and verification.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..events import ParsedRecord
from ..sources import (
    FirehoseOutcome,
    FirehoseResult,
    MessageVerifier,
    SourceItem,
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
from .errors import DispatchError
from .results import DispatchResult

if TYPE_CHECKING:
    from .router import EventRouter, FirehoseTransform

__all__ = [
    "firehose_outcomes",
    "handle_eventbridge",
    "handle_firehose",
    "handle_sns",
    "handle_sqs",
    "is_fifo",
    "raise_for_results",
    "sqs_batch_response",
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
) -> dict[str, list[dict[str, str]]]:
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


def handle_sqs(
    router: EventRouter, event: Mapping[str, Any], verifier: MessageVerifier | None
) -> dict[str, list[dict[str, str]]]:
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


async def handle_sqs_async(
    router: EventRouter, event: Mapping[str, Any], verifier: MessageVerifier | None, concurrency: int
) -> dict[str, list[dict[str, str]]]:
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


def handle_sns(router: EventRouter, event: Mapping[str, Any], verifier: MessageVerifier | None) -> None:
    items = sns_lambda_items(event, verifier=verifier)
    results = [_dispatch(router, item) for item in items]
    _mark_handled(verifier, items, results)
    raise_for_results(results)


async def handle_sns_async(
    router: EventRouter, event: Mapping[str, Any], verifier: MessageVerifier | None
) -> None:
    items = await sns_lambda_items_async(event, verifier=verifier)
    results = [await _dispatch_async(router, item) for item in items]
    _mark_handled(verifier, items, results)
    raise_for_results(results)


def handle_eventbridge(router: EventRouter, event: Mapping[str, Any]) -> None:
    raise_for_results([router.dispatch_item(eventbridge_item(event))])


async def handle_eventbridge_async(router: EventRouter, event: Mapping[str, Any]) -> None:
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


def handle_firehose(
    router: EventRouter, event: Mapping[str, Any], transform: FirehoseTransform | None
) -> dict[str, list[dict[str, str]]]:
    items = firehose_lambda_items(event)
    results = [router.dispatch_item(item) for item in items]
    return firehose_response(items, firehose_outcomes(items, results, transform))


async def handle_firehose_async(
    router: EventRouter, event: Mapping[str, Any], transform: FirehoseTransform | None, concurrency: int
) -> dict[str, list[dict[str, str]]]:
    _check_concurrency(concurrency)
    items = firehose_lambda_items(event)
    results = await _dispatch_all_async(router, items, concurrency)
    return firehose_response(items, firehose_outcomes(items, results, transform))
