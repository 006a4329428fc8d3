"""SNS: a Lambda SNS event, an HTTP(S) POST from SNS, and the envelope core SQS shares.

An SNS envelope (``Type``, ``MessageId``, ``TopicArn``, ``Message``, signature fields) carries the SES record
as a JSON string in ``Message``. ``unwrap_sns`` is the pure core: it checks the envelope, parses the
record, and, when a verifier is given, returns a ``Pending`` so the caller's
sync or async transport verifies it before the item is handed out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from ..errors import SnsVerificationError, SourceError
from ..events import ControlMessage, load_json
from ._common import (
    MessageVerifier,
    Pending,
    Work,
    error_item,
    lambda_records,
    parsed_item,
    settle,
    settle_all_async,
    settle_async,
    shown_value,
)
from ._item import SourceItem, Transport

__all__ = [
    "SNS_MESSAGE_TYPES",
    "SnsConfirmation",
    "SnsSubscriptionConfirmation",
    "SnsUnsubscribeConfirmation",
    "sns_http_item",
    "sns_http_item_async",
    "sns_lambda_items",
    "sns_lambda_items_async",
    "unwrap_sns",
]

SNS_MESSAGE_TYPES: Final = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
"""The values of an SNS envelope's ``Type``."""

# Header -> envelope key; an HTTP delivery's headers must repeat these body fields exactly.
_HTTP_HEADERS: Final = (
    ("x-amz-sns-message-type", "Type"),
    ("x-amz-sns-message-id", "MessageId"),
    ("x-amz-sns-topic-arn", "TopicArn"),
)


@attrs.frozen
class SnsConfirmation(ControlMessage):
    """An SNS subscription control message: not an SES event and not a parse failure.

    ``raw`` is the envelope as delivered. Whether it was verified is in the item's
    ``meta["sns_verified"]``; act on one only when that is true.
    """

    topic_arn: str
    message: str = ""
    token: str | None = None


@attrs.frozen
class SnsSubscriptionConfirmation(SnsConfirmation):
    """``Type: SubscriptionConfirmation``: SNS asks the endpoint to confirm a new subscription.

    Confirm it only after it verified and only for a topic you expect, with
    ``sesflow.SnsVerifier.confirm_subscription`` or the SNS ``ConfirmSubscription`` call using ``token``.
    """

    subscribe_url: str | None = None


@attrs.frozen
class SnsUnsubscribeConfirmation(SnsConfirmation):
    """``Type: UnsubscribeConfirmation``: the subscription was deleted.

    Its ``SubscribeURL`` (still in ``raw``) would subscribe the endpoint again; never follow it automatically.
    """


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _envelope_problem(kind: object, message_id: object, topic_arn: object, message: object) -> str:
    """Why an envelope is not one SNS sends (its Type is unknown, or a field it always has is missing)."""
    if type(kind) is not str or kind not in SNS_MESSAGE_TYPES:
        return (
            f"SNS envelope Type {shown_value(kind)} is not one of {', '.join(SNS_MESSAGE_TYPES)}; "
            "this is not a message SNS sent"
        )
    for key, value in (("MessageId", message_id), ("TopicArn", topic_arn), ("Message", message)):
        if not isinstance(value, str):
            problem = "has no" if value is None else f"has a {type(value).__name__} as its"
            return f"the SNS {kind} envelope {problem} {key}; SNS always sends it as a string"
    raise AssertionError("called for an envelope with nothing wrong")  # pragma: no cover


def unwrap_sns(
    envelope: Mapping[str, Any],
    *,
    transport: Transport,
    item_id: str,
    raw: Any,
    meta: dict[str, Any],
    verifier: MessageVerifier | None,
    receipt_handle: str | None = None,
    delivered_at: datetime | None = None,
) -> Work:
    """The pure core of every SNS path: an envelope (already decoded from JSON) becomes an item.

    ``meta`` is filled with ``sns_message_id``, ``topic_arn``, ``sns_type``, ``subject`` and
    ``sequence_number`` (FIFO topics) when present, and ``sns_verified``. A ``Notification`` carries the SES
    record in ``Message``; the two confirmation types become ``SnsSubscriptionConfirmation`` /
    ``SnsUnsubscribeConfirmation`` records. With a ``verifier`` the result is a ``Pending`` (to
    verify before handing it out), except for an envelope without ``Signature`` (FIFO topics do not sign),
    which fails verification at once; ``delivered_at`` (when SNS delivered it to a queue) goes with it, so the
    verifier judges the message's age at that moment.
    """
    kind = envelope.get("Type")
    message_id = envelope.get("MessageId")
    topic_arn = envelope.get("TopicArn")
    message = envelope.get("Message")
    if type(message_id) is str:
        meta["sns_message_id"] = message_id
    if type(topic_arn) is str:
        meta["topic_arn"] = topic_arn
    if type(kind) is str:
        meta["sns_type"] = kind
    subject = envelope.get("Subject")
    if subject is not None:
        meta["subject"] = subject
    sequence_number = envelope.get("SequenceNumber")
    if sequence_number is not None:
        meta["sequence_number"] = sequence_number
    meta["sns_verified"] = False

    if (
        type(kind) is not str  # a plain string before comparing: no foreign __eq__, no unhashable lookup
        or kind not in SNS_MESSAGE_TYPES
        or type(message_id) is not str
        or type(topic_arn) is not str
        or type(message) is not str
    ):
        reason = _envelope_problem(kind, message_id, topic_arn, message)
        return error_item(
            transport, item_id, raw, SourceError(reason, raw=raw), receipt_handle=receipt_handle, meta=meta
        )
    assert isinstance(topic_arn, str)
    assert isinstance(message, str)

    if verifier is not None and envelope.get("Signature") is None:
        error = SnsVerificationError(
            f"SNS message {message_id} carries no Signature, so it cannot be verified (FIFO topics do not "
            "sign their messages); pass no verifier for such a subscription and rely on the queue's access "
            "policy instead",
            message_id=message_id if isinstance(message_id, str) else None,
        )
        return error_item(transport, item_id, raw, error, receipt_handle=receipt_handle, meta=meta)

    if verifier is not None:
        meta["sns_verified"] = True  # only true in the item handed out once the envelope verified
    if kind == "Notification":
        item = parsed_item(transport, item_id, raw, message, receipt_handle=receipt_handle, meta=meta)
    else:
        token = _str_or_none(envelope.get("Token"))
        record: SnsConfirmation
        if kind == "SubscriptionConfirmation":
            url = envelope.get("SubscribeURL", envelope.get("SubscribeUrl"))
            record = SnsSubscriptionConfirmation(envelope, topic_arn, message, token, _str_or_none(url))
        else:
            record = SnsUnsubscribeConfirmation(envelope, topic_arn, message, token)
        item = SourceItem(transport, item_id, raw, record=record, receipt_handle=receipt_handle, meta=meta)
    return item if verifier is None else Pending(envelope, item, delivered_at)


# --- Lambda SNS event ---------------------------------------------------------------------------------------


def _lambda_works(event: Mapping[str, Any], verifier: MessageVerifier | None) -> list[Work]:
    records = lambda_records(event, Transport.SNS, "Records")
    if isinstance(records, SourceItem):
        return [records]
    works: list[Work] = []
    for index, record in enumerate(records):
        works.append(_lambda_work(record, index, verifier))
    return works


def _lambda_work(record: object, index: int, verifier: MessageVerifier | None) -> Work:
    if not isinstance(record, Mapping):
        reason = f"Records[{index}] of the Lambda SNS event is a {type(record).__name__}, not an object"
        return error_item(Transport.SNS, "", record, SourceError(reason, raw=record))
    envelope = record.get("Sns")
    message_id = envelope.get("MessageId") if isinstance(envelope, Mapping) else None
    item_id = message_id if isinstance(message_id, str) else ""
    meta: dict[str, Any] = {}
    subscription_arn = record.get("EventSubscriptionArn")
    if isinstance(subscription_arn, str):
        meta["subscription_arn"] = subscription_arn
    source = record.get("EventSource")
    if source != "aws:sns":
        reason = f"Records[{index}] has EventSource {source!r}, not 'aws:sns': it is not an SNS record"
        return error_item(Transport.SNS, item_id, record, SourceError(reason, raw=record), meta=meta)
    if not isinstance(envelope, Mapping):
        reason = f"Records[{index}] of the Lambda SNS event has no 'Sns' object"
        return error_item(Transport.SNS, item_id, record, SourceError(reason, raw=record), meta=meta)
    return unwrap_sns(
        envelope, transport=Transport.SNS, item_id=item_id, raw=record, meta=meta, verifier=verifier
    )


def sns_lambda_items(
    event: Mapping[str, Any], *, verifier: MessageVerifier | None = None
) -> list[SourceItem]:
    """The items of a Lambda SNS event (``Records[].Sns``), one per record, in order.

    ``item_id`` is the SNS ``MessageId``; ``raw`` is the whole record; ``meta`` has ``subscription_arn`` and
    the envelope's fields (see ``unwrap_sns``). With a ``verifier`` every envelope is verified (Lambda's
    ``SigningCertUrl`` spelling is passed through as delivered) and one that fails becomes an item with an
    ``SnsVerificationError``. Never raises for bad input.
    """
    return [settle(work, verifier) for work in _lambda_works(event, verifier)]


async def sns_lambda_items_async(
    event: Mapping[str, Any], *, verifier: MessageVerifier | None = None
) -> list[SourceItem]:
    """``sns_lambda_items`` verifying with ``await verifier.verify_async``, concurrently per batch."""
    return await settle_all_async(_lambda_works(event, verifier), verifier)


# --- HTTP(S) delivery ---------------------------------------------------------------------------------------


def _lowered(headers: Mapping[str, str]) -> dict[str, str] | str:
    """Header names lower-cased, or why the headers are unusable (one name given twice, differently)."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key in out and out[key] != value:
            return f"header {key} is given twice with different values"
        out[key] = value
    return out


def _http_work(body: bytes | str, headers: Mapping[str, str], verifier: MessageVerifier | None) -> Work:
    lowered = _lowered(headers)
    header_id = lowered.get("x-amz-sns-message-id", "") if isinstance(lowered, dict) else ""
    meta: dict[str, Any] = {}

    def fail(reason: str, item_id: str = header_id) -> SourceItem:
        return error_item(Transport.SNS, item_id, body, SourceError(reason, raw=body), meta=meta)

    if isinstance(lowered, str):
        return fail(f"{lowered}; the request cannot be trusted to be one SNS delivery")
    subscription_arn = lowered.get("x-amz-sns-subscription-arn")
    if subscription_arn is not None:
        meta["subscription_arn"] = subscription_arn
    try:
        envelope = load_json(body)
    except (ValueError, RecursionError) as exc:  # the stdlib decoder recurses once per nesting level
        return fail(f"the request body is not JSON ({exc}); SNS POSTs its JSON envelope")
    if not isinstance(envelope, dict):
        return fail(f"the request body is a JSON {type(envelope).__name__}, not the SNS envelope object")
    body_id = envelope.get("MessageId")
    item_id = body_id if isinstance(body_id, str) else header_id
    for header, key in _HTTP_HEADERS:
        value = lowered.get(header)
        if value is None:
            return fail(f"header {header} is missing; SNS sends it with every HTTP(S) delivery", item_id)
        if value != envelope.get(key):
            return fail(
                f"header {header} ({shown_value(value)}) disagrees with the body's {key} "
                f"({shown_value(envelope.get(key))}); "
                "the request was altered or did not come from SNS",
                item_id,
            )
    return unwrap_sns(
        envelope, transport=Transport.SNS, item_id=item_id, raw=body, meta=meta, verifier=verifier
    )


def sns_http_item(
    body: bytes | str, headers: Mapping[str, str], *, verifier: MessageVerifier | None = None
) -> SourceItem:
    """The item of an HTTP(S) POST from SNS: the request body and its headers.

    The headers ``x-amz-sns-message-type``, ``x-amz-sns-message-id`` and ``x-amz-sns-topic-arn`` (names
    compared case-insensitively) must be present and equal the body's ``Type``, ``MessageId`` and
    ``TopicArn``; otherwise the item carries a ``SourceError``. ``raw`` is the body as
    given; ``meta["subscription_arn"]`` comes from ``x-amz-sns-subscription-arn``. An HTTPS endpoint should
    always pass a verifier: anyone can POST to it. Never raises for bad input.
    """
    return settle(_http_work(body, headers, verifier), verifier)


async def sns_http_item_async(
    body: bytes | str, headers: Mapping[str, str], *, verifier: MessageVerifier | None = None
) -> SourceItem:
    """``sns_http_item`` verifying with ``await verifier.verify_async``."""
    return await settle_async(_http_work(body, headers, verifier), verifier)
