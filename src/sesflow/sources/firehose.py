"""Firehose: the input of a transformation Lambda, and the response it must give back.

Firehose hands a transformation function ``records[]`` (``recordId``, base64 ``data``,
``approximateArrivalTimestamp``) and expects every ``recordId`` back with a ``result`` and base64 ``data``.
``firehose_lambda_items`` parses the records; ``firehose_response`` answers for every one of them.
"""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import SesflowError, SourceError
from ._common import error_item, lambda_records, parsed_item
from ._item import SourceItem, Transport

__all__ = [
    "FirehoseOutcome",
    "FirehoseResponseError",
    "FirehoseResult",
    "firehose_lambda_items",
    "firehose_response",
]


class FirehoseResult(enum.StrEnum):
    """What a transformation function says about one record."""

    OK = "Ok"  # deliver ``data`` (the original record, or the transformed one)
    DROPPED = "Dropped"  # deliberately not delivered; Firehose counts it as processed
    PROCESSING_FAILED = "ProcessingFailed"  # Firehose writes the original record to the error output


FirehoseOutcome = FirehoseResult | str | tuple[FirehoseResult | str, bytes | None]
"""A result, or ``(result, new_data)``: ``new_data`` bytes replace the record's data, ``None`` keeps it."""


class FirehoseResponseError(SesflowError, ValueError):
    """``firehose_response`` was given outcomes it cannot turn into a valid Firehose response."""


def _b64decode(data: object) -> bytes | None:
    if not isinstance(data, str):
        return None
    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error:
        return None


def _record_item(record: object, index: int, meta_base: Mapping[str, Any]) -> SourceItem:
    if not isinstance(record, Mapping):
        reason = f"records[{index}] of the Firehose event is a {type(record).__name__}, not an object"
        return error_item(Transport.FIREHOSE, "", record, SourceError(reason, raw=record))
    record_id = record.get("recordId")
    item_id = record_id if isinstance(record_id, str) else ""
    meta = dict(meta_base)
    arrival = record.get("approximateArrivalTimestamp")
    if isinstance(arrival, int | float):
        meta["approximate_arrival_timestamp"] = arrival

    def fail(reason: str) -> SourceItem:
        return error_item(Transport.FIREHOSE, item_id, record, SourceError(reason, raw=record), meta=meta)

    if not item_id:
        return fail(f"records[{index}] has no recordId; Firehose gives every record one")
    data = record.get("data")
    payload = _b64decode(data)
    if payload is None:
        what = "is not valid base64" if isinstance(data, str) else "is missing or not a string"
        return fail(f"the data of Firehose record {item_id} {what}")
    return parsed_item(Transport.FIREHOSE, item_id, record, payload, meta=meta)


def firehose_lambda_items(event: Mapping[str, Any]) -> list[SourceItem]:
    """The items of a Firehose transformation Lambda's input, one per ``records[]`` entry, in order.

    ``item_id`` is the ``recordId``; ``raw`` is the record as delivered (``data`` still base64);
    ``meta`` has ``approximate_arrival_timestamp`` (milliseconds since the epoch) and the event's
    ``delivery_stream_arn``. Bad base64 is an error item (``SourceError``), a bad
    record one with a ``ParseError``. Never raises for bad input.
    """
    records = lambda_records(event, Transport.FIREHOSE, "records")
    if isinstance(records, SourceItem):
        return [records]
    stream_arn = event.get("deliveryStreamArn")
    meta_base = {"delivery_stream_arn": stream_arn} if isinstance(stream_arn, str) else {}
    return [_record_item(record, index, meta_base) for index, record in enumerate(records)]


def _original_data(item: SourceItem) -> str:
    """The record's data to send back unchanged: as delivered when valid base64, else re-encoded."""
    data = item.raw.get("data") if isinstance(item.raw, Mapping) else None
    if isinstance(data, str) and _b64decode(data) is not None:
        return data
    # Invalid or missing data cannot be echoed (the response must be base64): keep its text, encoded.
    text = data if isinstance(data, str) else ""
    return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode("ascii")


def _outcome(record_id: str, outcome: FirehoseOutcome) -> tuple[FirehoseResult, bytes | None]:
    if isinstance(outcome, tuple):
        if len(outcome) != 2:
            raise FirehoseResponseError(
                f"the outcome for record {record_id} must be a result or a (result, data) pair, "
                f"got {outcome!r}"
            )
        result, data = outcome
    else:
        result, data = outcome, None
    try:
        parsed = FirehoseResult(result)
    except ValueError:
        raise FirehoseResponseError(
            f"the result for record {record_id} is {result!r}; use one of "
            f"{', '.join(repr(r.value) for r in FirehoseResult)}"
        ) from None
    if data is not None and not isinstance(data, bytes):
        raise FirehoseResponseError(
            f"the new data for record {record_id} must be bytes (or None to keep the original), "
            f"got {type(data).__name__}"
        )
    return parsed, data


def firehose_response(
    items: Iterable[SourceItem], outcomes: Mapping[str, FirehoseOutcome] | None = None
) -> dict[str, list[dict[str, str]]]:
    """The response of a Firehose transformation Lambda: one entry per item, in order, none missing.

    ``outcomes`` maps a ``recordId`` to a ``FirehoseResult`` (or its string) or to ``(result, new_data)``
    where ``new_data`` bytes replace the record (base64-encoded here; ``None`` keeps the original). A record
    without an outcome is ``Ok`` with its data unchanged when it parsed, and ``ProcessingFailed`` when it did
    not, so Firehose routes it to the error output instead of losing it.

    Raises ``FirehoseResponseError`` for an outcome that names no item, an unknown result, data that
    is not bytes, or an item that did not come from ``firehose_lambda_items``.
    """
    outcomes = {} if outcomes is None else outcomes
    records: list[dict[str, str]] = []
    seen: set[str] = set()
    for item in items:
        if item.transport is not Transport.FIREHOSE:
            raise FirehoseResponseError(
                f"item {item.item_id!r} came from {item.transport.value}, not Firehose; "
                "build the response from firehose_lambda_items(event)"
            )
        seen.add(item.item_id)
        given = outcomes.get(item.item_id)
        if given is None:
            result = FirehoseResult.OK if item.ok else FirehoseResult.PROCESSING_FAILED
            new_data = None
        else:
            result, new_data = _outcome(item.item_id, given)
        data = _original_data(item) if new_data is None else base64.b64encode(new_data).decode("ascii")
        records.append({"recordId": item.item_id, "result": result.value, "data": data})
    unknown = [record_id for record_id in outcomes if record_id not in seen]
    if unknown:
        raise FirehoseResponseError(
            f"outcomes were given for records that are not among the items: {', '.join(sorted(unknown))}"
        )
    return {"records": records}
