"""The pure core the sources share: a payload becomes a ``SourceItem``, and SNS verification settles.

Every source builds its items here without IO. An item whose SNS envelope must be verified first is a
``Pending``; ``settle`` (sync) and ``settle_async`` / ``settle_all_async`` (async) are the
only places a verifier is called, so the sync and async entry points of every source share one core.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import attrs

from ..errors import ParseError, SesflowError, SnsReplayError, SnsVerificationError, SourceError
from ..events import parse_event
from ._item import SourceItem, Transport

__all__ = [
    "MessageVerifier",
    "Pending",
    "Work",
    "error_item",
    "is_replay",
    "lambda_records",
    "mark_handled",
    "parsed_item",
    "settle",
    "settle_all_async",
    "settle_async",
    "shown_value",
]

_SHOWN_CHARS = 80

logger = logging.getLogger("sesflow.sources")


class MessageVerifier(Protocol):
    """What the sources need from a verifier of SNS envelopes; ``sesflow.SnsVerifier`` is one.

    Both methods receive the envelope exactly as it was delivered (HTTP and SQS spell ``SigningCertURL``,
    Lambda spells ``SigningCertUrl``) and return nothing when it verifies; they raise
    ``SnsVerificationError`` when it does not. Any other exception (a bug, a
    cancelled task) is not caught by the sources and propagates to the caller.

    ``delivered_at`` is given when the transport recorded when SNS delivered the message (SQS's
    ``SentTimestamp``): the message's age is then judged at that moment, not now, so a message that waited in
    a queue is not taken for a replay. Only the SQS source passes it.

    A verifier may also have ``mark_handled(message_id)`` (an ``SnsVerifier`` with a replay
    guard uses it): ``mark_handled`` calls it once a verified message was handled for good.
    """

    def verify(self, message: Mapping[str, Any], *, delivered_at: datetime | None = None) -> None: ...

    async def verify_async(
        self, message: Mapping[str, Any], *, delivered_at: datetime | None = None
    ) -> None: ...


@attrs.frozen
class Pending:
    """An item that may only be handed out once ``message`` (its SNS envelope) has verified."""

    message: Mapping[str, Any]
    item: SourceItem
    delivered_at: datetime | None = None  # when SNS delivered it to the queue (SQS SentTimestamp)

    # Without a delivery time the keyword is left out, so a verifier written before it existed still works.
    def verify(self, verifier: MessageVerifier) -> None:
        if self.delivered_at is None:
            verifier.verify(self.message)
        else:
            verifier.verify(self.message, delivered_at=self.delivered_at)

    async def verify_async(self, verifier: MessageVerifier) -> None:
        if self.delivered_at is None:
            await verifier.verify_async(self.message)
        else:
            await verifier.verify_async(self.message, delivered_at=self.delivered_at)

    def rejected(self, error: SnsVerificationError) -> SourceItem:
        """The item to hand out instead: its identity and raw payload, the verification error, no record."""
        return attrs.evolve(
            self.item, record=None, error=error, meta={**self.item.meta, "sns_verified": False}
        )


Work = SourceItem | Pending
"""What a source's pure core produces for one delivered item."""


def shown_value(value: object) -> str:
    """A short, always printable description of an untrusted value for an error message.

    Strings are shown (escaped by ``repr``) up to 80 characters; ``None`` and booleans as themselves; anything
    else only by its type, since ``repr`` of outside data can be huge, fail (an int over Python's digit limit)
    or recurse without end (deeply nested lists).
    """
    if isinstance(value, str):
        text = str.__str__(value)  # the characters themselves, whatever a subclass overrides
        if len(text) > _SHOWN_CHARS:
            return repr(text[:_SHOWN_CHARS]) + f"... ({len(text)} characters)"
        return repr(text)
    if value is None or isinstance(value, bool):
        return repr(value)
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def error_item(
    transport: Transport,
    item_id: str,
    raw: Any,
    error: SesflowError,
    *,
    receipt_handle: str | None = None,
    meta: Mapping[str, Any] | None = None,
) -> SourceItem:
    """An item that could not be unwrapped, verified or parsed: identity, raw payload and the error."""
    return SourceItem(
        transport, item_id, raw, error=error, receipt_handle=receipt_handle, meta={} if meta is None else meta
    )


def parsed_item(
    transport: Transport,
    item_id: str,
    raw: Any,
    payload: bytes | str | Mapping[str, Any],
    *,
    receipt_handle: str | None = None,
    meta: Mapping[str, Any],
) -> SourceItem:
    """``payload`` parsed as an SES record: an item with its record, or with the ``ParseError``."""
    try:
        record = parse_event(payload)
    except ParseError as exc:
        return SourceItem(transport, item_id, raw, error=exc, receipt_handle=receipt_handle, meta=meta)
    return SourceItem(transport, item_id, raw, record=record, receipt_handle=receipt_handle, meta=meta)


def lambda_records(event: object, transport: Transport, key: str) -> list[Any] | SourceItem:
    """The list of records of a Lambda event (``event[key]``), or one error item saying why there is none.

    A Lambda event that is not shaped as expected (wrong trigger wired to the function, a test payload) is
    reported as a single error item with an empty ``item_id`` carrying the whole event, never dropped.
    """
    if not isinstance(event, Mapping):
        reason = f"a Lambda {transport.value.upper()} event must be a JSON object, got {type(event).__name__}"
    else:
        records = event.get(key)
        if isinstance(records, list):
            return records
        reason = (
            f"the Lambda event has no {key!r} list, so it is not a {transport.value.upper()} event; "
            "check which trigger invokes this function"
        )
    return error_item(transport, "", event, SourceError(reason, raw=event))


def settle(work: Work, verifier: MessageVerifier | None) -> SourceItem:
    """The final item: ``work`` itself, or once its envelope was verified with ``verifier.verify``."""
    if not isinstance(work, Pending):
        return work
    assert verifier is not None, "a Pending item is only made when a verifier is given"
    try:
        work.verify(verifier)
    except SnsVerificationError as exc:
        return work.rejected(exc)
    return work.item


async def settle_async(work: Work, verifier: MessageVerifier | None) -> SourceItem:
    """``settle`` awaiting ``verifier.verify_async``."""
    if not isinstance(work, Pending):
        return work
    assert verifier is not None, "a Pending item is only made when a verifier is given"
    try:
        await work.verify_async(verifier)
    except SnsVerificationError as exc:
        return work.rejected(exc)
    return work.item


async def settle_all_async(works: Sequence[Work], verifier: MessageVerifier | None) -> list[SourceItem]:
    """``settle_async`` for a batch, verifying its envelopes concurrently; items keep their order.

    Every verification runs to its end before an unexpected exception (anything but
    ``SnsVerificationError``) is re-raised, so no task is left running behind the caller.
    """
    pending = [work for work in works if isinstance(work, Pending)]
    if not pending:
        return [work for work in works if isinstance(work, SourceItem)]
    assert verifier is not None, "a Pending item is only made when a verifier is given"
    outcomes = await asyncio.gather(
        *(work.verify_async(verifier) for work in pending), return_exceptions=True
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, SnsVerificationError):
            raise outcome
    settled = {
        id(work): work.rejected(outcome) if isinstance(outcome, SnsVerificationError) else work.item
        for work, outcome in zip(pending, outcomes, strict=True)
    }
    return [settled[id(work)] if isinstance(work, Pending) else work for work in works]


def is_replay(item: SourceItem) -> bool:
    """True when ``item`` is a genuine SNS message its verifier's replay guard remembers as handled.

    Such an item is a duplicate, not bad input: acknowledge it (2xx, delete it from its queue) and do nothing.
    """
    return isinstance(item.error, SnsReplayError)


def mark_handled(verifier: MessageVerifier | None, item: SourceItem) -> None:
    """Tell ``verifier`` that ``item``, a verified SNS message, was handled for good (its replay guard then
    refuses the same message later). Call it only after success, never after a failure: a redelivery after a
    failure carries the same ``MessageId`` and must still verify. Does nothing for an item that was not a
    verified SNS message, or for a verifier without ``mark_handled``.
    """
    mark = getattr(verifier, "mark_handled", None)
    message_id = item.meta.get("sns_message_id")
    if mark is None or item.meta.get("sns_verified") is not True or not isinstance(message_id, str):
        return
    try:
        mark(message_id)
    except Exception:  # the message was handled; failing to remember it only weakens replay protection
        logger.exception("could not mark SNS message %s as handled in the replay guard", message_id)
