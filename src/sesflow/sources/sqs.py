"""SQS: a message as boto3 ``receive_message`` returns it, and the records of a Lambda SQS event.

The body is one of: an SNS envelope (subscription with raw message delivery off), the SES record itself (raw
message delivery on), or an EventBridge event (a rule whose target is the queue). ``sqs_body_work`` tells
them apart and is the one pure core of the four public functions here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..errors import SnsVerificationError, SourceError
from ..events import load_json
from ._common import (
    MessageVerifier,
    Work,
    error_item,
    lambda_records,
    parsed_item,
    settle,
    settle_all_async,
    settle_async,
)
from ._item import SourceItem, Transport
from .eventbridge import eventbridge_work
from .sns import unwrap_sns

__all__ = [
    "sqs_body_work",
    "sqs_lambda_items",
    "sqs_lambda_items_async",
    "sqs_message_item",
    "sqs_message_item_async",
]


def sqs_body_work(
    body: str,
    *,
    item_id: str,
    raw: Any,
    receipt_handle: str | None,
    meta: dict[str, Any],
    verifier: MessageVerifier | None,
    delivered_at: datetime | None = None,
) -> Work:
    """The pure core: an SQS message body becomes an item (or a pending one, to verify).

    ``meta["envelope"]`` says what the body was: ``"sns"``, ``"eventbridge"`` or ``"raw"`` (an SES record or
    anything else). With a ``verifier``, only SNS envelopes can pass: any other body carries no signature, so
    it fails verification (otherwise whoever can write to the queue could bypass the check). ``delivered_at``
    is when the queue received the message (its ``SentTimestamp``): the verifier judges an SNS envelope's age
    at that moment, so a message that waited in the queue longer than the replay window still verifies.
    """
    try:
        decoded = load_json(body)
    except (ValueError, RecursionError):  # the stdlib decoder recurses once per nesting level
        decoded = None  # not JSON: SES's plain-text topic validation message, or garbage
    if type(decoded) is dict:
        if "Type" in decoded and "eventType" not in decoded and "notificationType" not in decoded:
            meta["envelope"] = "sns"
            return unwrap_sns(
                decoded,
                transport=Transport.SQS,
                item_id=item_id,
                raw=raw,
                meta=meta,
                verifier=verifier,
                receipt_handle=receipt_handle,
                delivered_at=delivered_at,
            )
        envelope = "eventbridge" if "detail-type" in decoded and "source" in decoded else "raw"
    else:
        envelope = "raw"
    meta["envelope"] = envelope
    if verifier is not None:
        what = "an EventBridge event" if envelope == "eventbridge" else "not an SNS envelope"
        error = SnsVerificationError(
            f"SQS message {item_id} is {what}, so there is no SNS signature to verify; "
            "turn raw message delivery off on the subscription, or pass no verifier for this queue"
        )
        return error_item(Transport.SQS, item_id, raw, error, receipt_handle=receipt_handle, meta=meta)
    if envelope == "eventbridge":
        assert type(decoded) is dict
        return eventbridge_work(
            decoded,
            transport=Transport.SQS,
            item_id=item_id,
            raw=raw,
            meta=meta,
            receipt_handle=receipt_handle,
        )
    payload = decoded if type(decoded) is dict else body
    return parsed_item(Transport.SQS, item_id, raw, payload, receipt_handle=receipt_handle, meta=meta)


# The two spellings of a message: boto3's receive_message and Lambda's SQS event record.
_BOTO_KEYS = ("MessageId", "ReceiptHandle", "Body", "Attributes")
_LAMBDA_KEYS = ("messageId", "receiptHandle", "body", "attributes")


def _is_mapping(value: object) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _where(index: int | None) -> str:
    return "the SQS message" if index is None else f"Records[{index}]"


def _sent_at(value: object) -> datetime | None:
    """SQS's ``SentTimestamp`` attribute (milliseconds since the epoch, as a string) as a UTC datetime."""
    if type(value) is not str or not value.isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _message_work(message: object, verifier: MessageVerifier | None, *, index: int | None) -> Work:
    """One message: boto3's spelling (``MessageId``...) if ``index`` is None, else Lambda record ``index``."""
    if not _is_mapping(message):
        shape = f"{_where(index)} must be a JSON object, got {type(message).__name__}"
        return error_item(Transport.SQS, "", message, SourceError(shape, raw=message))
    assert isinstance(message, Mapping)
    id_key, handle_key, body_key, attributes_key = _BOTO_KEYS if index is None else _LAMBDA_KEYS
    message_id = message.get(id_key)
    item_id = message_id if type(message_id) is str else ""
    handle = message.get(handle_key)
    receipt_handle = handle if type(handle) is str else None
    meta: dict[str, Any] = {}
    delivered_at: datetime | None = None
    attributes = message.get(attributes_key)
    if attributes is not None and _is_mapping(attributes):
        group = attributes.get("MessageGroupId")
        if type(group) is str:
            meta["message_group_id"] = group
        count = attributes.get("ApproximateReceiveCount")
        if type(count) is str and count.isdigit():
            meta["approximate_receive_count"] = int(count)
        delivered_at = _sent_at(attributes.get("SentTimestamp"))
        if delivered_at is not None:
            meta["sent_at"] = delivered_at
    reason: str | None = None
    if index is not None:
        queue_arn = message.get("eventSourceARN")
        if type(queue_arn) is str:
            meta["queue_arn"] = queue_arn
        source = message.get("eventSource")
        if source != "aws:sqs":
            reason = f"{_where(index)} has eventSource {source!r}, not 'aws:sqs': it is not an SQS record"
    body = message.get(body_key)
    if reason is None and not item_id:
        reason = f"{_where(index)} has no {id_key}; SQS gives every message one"
    if reason is None and type(body) is not str:
        reason = f"{_where(index)} has no {body_key} string (got {type(body).__name__})"
    if reason is not None:
        error = SourceError(reason, raw=message)
        return error_item(Transport.SQS, item_id, message, error, receipt_handle=receipt_handle, meta=meta)
    assert isinstance(body, str)
    return sqs_body_work(
        body,
        item_id=item_id,
        raw=message,
        receipt_handle=receipt_handle,
        meta=meta,
        verifier=verifier,
        delivered_at=delivered_at,
    )


def _lambda_works(event: Mapping[str, Any], verifier: MessageVerifier | None) -> list[Work]:
    records = lambda_records(event, Transport.SQS, "Records")
    if isinstance(records, SourceItem):
        return [records]
    return [_message_work(record, verifier, index=index) for index, record in enumerate(records)]


def sqs_message_item(message: Mapping[str, Any], *, verifier: MessageVerifier | None = None) -> SourceItem:
    """The item of one message as boto3 ``receive_message`` returns it (``MessageId``, ``ReceiptHandle``,
    ``Body``, optionally ``Attributes``).

    ``item_id`` is the SQS ``MessageId`` and ``receipt_handle`` the ``ReceiptHandle``; ``raw`` is the message.
    ``meta`` has ``envelope`` (``"sns"``, ``"raw"`` or ``"eventbridge"``), ``message_group_id``,
    ``approximate_receive_count`` and ``sent_at`` (``SentTimestamp`` as a UTC datetime) when those
    attributes were requested, and the SNS envelope's fields. With a ``verifier`` every body must be a signed
    SNS envelope that verifies, its age judged at ``sent_at`` when known. Never raises for bad input.
    """
    return settle(_message_work(message, verifier, index=None), verifier)


async def sqs_message_item_async(
    message: Mapping[str, Any], *, verifier: MessageVerifier | None = None
) -> SourceItem:
    """``sqs_message_item`` verifying with ``await verifier.verify_async``."""
    return await settle_async(_message_work(message, verifier, index=None), verifier)


def sqs_lambda_items(
    event: Mapping[str, Any], *, verifier: MessageVerifier | None = None
) -> list[SourceItem]:
    """The items of a Lambda SQS event (``Records[]`` with ``messageId``, ``receiptHandle``, ``body``...).

    One item per record, in order, as ``sqs_message_item`` describes; ``meta["queue_arn"]`` is the
    record's ``eventSourceARN`` (a FIFO queue's ends in ``.fifo``). A record that is not an SQS record is an
    error item; an event with no ``Records`` list is one error item with an empty ``item_id``.
    """
    return [settle(work, verifier) for work in _lambda_works(event, verifier)]


async def sqs_lambda_items_async(
    event: Mapping[str, Any], *, verifier: MessageVerifier | None = None
) -> list[SourceItem]:
    """``sqs_lambda_items`` verifying with ``await verifier.verify_async``, concurrently per batch."""
    return await settle_all_async(_lambda_works(event, verifier), verifier)
