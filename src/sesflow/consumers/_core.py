"""The pure core of the SQS consumers: what to ask SQS for, and what to do with each message afterwards.

Nothing here does IO or reads a clock; times are passed in. ``SqsConsumer`` and
``AsyncSqsConsumer`` build their requests and interpret every answer through these
functions, so the two differ only in how they wait.

The rules, in one place:

- a message is deleted only when its item parsed and every selected handler (and hook) succeeded, or when the
  idempotency store says its event was already handled;
- anything else (a handler failed, the payload could not be unwrapped, verified or parsed) is left on the
  queue and made visible again after a backoff that grows with ``ApproximateReceiveCount``, so that the
  queue's redrive policy eventually moves a poison message to its dead-letter queue;
- a message whose handling outlives most of its visibility timeout has its visibility extended (heartbeat).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import attrs

from ..routing import DispatchResult
from ..sources import SourceItem

__all__ = [
    "MAX_BATCH",
    "MAX_VISIBILITY_TIMEOUT",
    "MAX_WAIT_TIME_SECONDS",
    "Action",
    "Backoff",
    "Lease",
    "Leases",
    "MessageOutcome",
    "Status",
    "batch_failures",
    "decide",
    "delete_requests",
    "failed_outcome",
    "receive_error_retryable",
    "fifo_blocked",
    "is_fifo_queue",
    "receive_request",
    "release_outcome",
    "visibility_requests",
]

logger = logging.getLogger("sesflow.consumers")

MAX_BATCH: Final = 10
"""SQS returns and accepts at most ten messages per receive and per batch request."""
MAX_WAIT_TIME_SECONDS: Final = 20
"""The longest long poll SQS allows."""
MAX_VISIBILITY_TIMEOUT: Final = 43_200
"""SQS's limit on a message's visibility timeout, counted from when it was received (12 hours)."""

# What the consumers ask SQS to return with each message: the receive count drives the backoff, the group id
# keeps FIFO order.
# SentTimestamp: an SNS envelope's age is judged when the queue received it, not when it is handled.
RECEIVE_ATTRIBUTES: Final = ("ApproximateReceiveCount", "MessageGroupId", "SentTimestamp")


class Status(enum.StrEnum):
    """How the handling of one message ended."""

    HANDLED = "handled"
    """Parsed, and every selected handler succeeded (or none was selected)."""
    DUPLICATE = "duplicate"
    """The idempotency store had already seen this event; no handler ran."""
    FAILED = "failed"
    """A handler or hook raised."""
    INVALID = "invalid"
    """The message could not be unwrapped, verified or parsed (the router's ``on_invalid`` hook saw it)."""
    RELEASED = "released"
    """Not handled: received while the consumer was stopping, or behind a failed message of its FIFO group."""


class Action(enum.StrEnum):
    """What the consumer does with a message once its handling ended."""

    DELETE = "delete"
    """``DeleteMessageBatch``: the message is done."""
    CHANGE_VISIBILITY = "change_visibility"
    """``ChangeMessageVisibilityBatch`` with ``visibility_timeout``: the message comes back later."""


@attrs.frozen
class Backoff:
    """How long a failed message stays invisible before SQS delivers it again.

    The ``n``-th receive of a message that fails is made visible again after
    ``min(maximum, initial * factor ** (n - 1))`` seconds (whole seconds, as SQS counts them), where ``n`` is
    the message's ``ApproximateReceiveCount``. With the defaults: 5 s, 10 s, 20 s, ... up to 15 minutes.
    ``initial=0`` makes a failed message visible again at once (useful in tests).
    """

    initial: float = 5.0
    factor: float = 2.0
    maximum: int = 900

    def __attrs_post_init__(self) -> None:
        if self.initial < 0 or self.factor < 1 or not 0 <= self.maximum <= MAX_VISIBILITY_TIMEOUT:
            raise ValueError(
                f"Backoff needs initial >= 0, factor >= 1 and 0 <= maximum <= {MAX_VISIBILITY_TIMEOUT} "
                f"(SQS's visibility limit), got {self}"
            )

    def timeout(self, receive_count: int | None) -> int:
        """The visibility timeout (seconds) for a message that failed on its ``receive_count``-th receive."""
        attempt = max(1, receive_count or 1)
        if self.initial == 0:
            return 0
        # Compare in floats before raising to a power that could overflow for a very old message.
        seconds = self.initial
        for _ in range(attempt - 1):
            seconds *= self.factor
            if seconds >= self.maximum:
                return self.maximum
        return min(self.maximum, int(seconds))


@attrs.frozen
class MessageOutcome:
    """What happened to one received message and what the consumer does next.

    ``visibility_timeout`` is set when ``action`` is ``Action.CHANGE_VISIBILITY``. ``result`` is the
    router's result (None for a duplicate or a released message). ``reason`` says why a message was not
    handled, in one line, for logs.
    """

    message_id: str
    receipt_handle: str | None = attrs.field(repr=False)
    status: Status
    action: Action
    visibility_timeout: int | None = None
    reason: str = ""
    result: DispatchResult | None = attrs.field(default=None, repr=False, eq=False)
    key: str | None = None

    @property
    def ok(self) -> bool:
        """True when the message is done (handled or a duplicate) and will be deleted."""
        return self.action is Action.DELETE


def receive_count(item: SourceItem) -> int | None:
    """The message's ``ApproximateReceiveCount``, when SQS returned it."""
    count = item.meta.get("approximate_receive_count")
    return count if isinstance(count, int) else None


def decide(
    item: SourceItem, result: DispatchResult | None, *, backoff: Backoff, key: str | None = None
) -> MessageOutcome:
    """The outcome of one message from its item and the router's result (None: a duplicate, not dispatched).

    Deleted: a duplicate, or a valid item whose result is ok. Anything else stays on the queue and becomes
    visible again after ``Backoff.timeout`` of its receive count.
    """
    handle = item.receipt_handle
    if result is None:
        return MessageOutcome(item.item_id, handle, Status.DUPLICATE, Action.DELETE, key=key)
    if result.ok:
        return MessageOutcome(item.item_id, handle, Status.HANDLED, Action.DELETE, result=result, key=key)
    status = Status.INVALID if result.error is not None else Status.FAILED
    timeout = backoff.timeout(receive_count(item))
    return MessageOutcome(
        item.item_id,
        handle,
        status,
        Action.CHANGE_VISIBILITY,
        timeout,
        reason=result.describe_failure(),
        result=result,
        key=key,
    )


def failed_outcome(
    item: SourceItem, reason: str, *, backoff: Backoff, key: str | None = None
) -> MessageOutcome:
    """A message whose handling could not be attempted or finished for a reason outside the router (the
    idempotency store failed): left for a retry after the backoff, like a handler failure."""
    timeout = backoff.timeout(receive_count(item))
    return MessageOutcome(
        item.item_id, item.receipt_handle, Status.FAILED, Action.CHANGE_VISIBILITY, timeout, reason, key=key
    )


def release_outcome(item: SourceItem, reason: str) -> MessageOutcome:
    """A message given back unhandled, visible again at once (the consumer is stopping, or FIFO order)."""
    return MessageOutcome(
        item.item_id, item.receipt_handle, Status.RELEASED, Action.CHANGE_VISIBILITY, 0, reason=reason
    )


# --- FIFO ------------------------------------------------------------------------------------------------


def is_fifo_queue(queue_url: str) -> bool:
    """True for a FIFO queue (its name, the last part of the URL, ends in ``.fifo``)."""
    return queue_url.rstrip("/").endswith(".fifo")


def fifo_blocked(item: SourceItem, failed_groups: Iterable[str]) -> bool:
    """True when ``item`` belongs to a message group in which an earlier message of the batch did not succeed.

    Such a message must not be handled before the earlier one, so it is released unhandled; SQS then keeps
    the group's order (it delivers nothing more of a group while one of its messages is invisible).
    """
    group = item.meta.get("message_group_id")
    return isinstance(group, str) and group in set(failed_groups)


# --- requests and answers --------------------------------------------------------------------------------


def receive_request(
    queue_url: str, *, max_messages: int, wait_time_seconds: int, visibility_timeout: int
) -> dict[str, Any]:
    """The ``ReceiveMessage`` parameters: long polling, a batch, the attributes the core needs."""
    if not 1 <= max_messages <= MAX_BATCH:
        raise ValueError(f"max_messages must be between 1 and {MAX_BATCH}, got {max_messages}")
    return {
        "QueueUrl": queue_url,
        "MaxNumberOfMessages": max_messages,
        "WaitTimeSeconds": wait_time_seconds,
        "VisibilityTimeout": visibility_timeout,
        "AttributeNames": list(RECEIVE_ATTRIBUTES),
    }


def _chunks(items: Sequence[Any], size: int = MAX_BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def delete_requests(queue_url: str, outcomes: Sequence[MessageOutcome]) -> list[dict[str, Any]]:
    """``DeleteMessageBatch`` parameters for the outcomes to delete, ten entries per request.

    Entry ids are positions within their request (``"0"`` to ``"9"``), so ``batch_failures`` maps failures
    back to outcomes. Outcomes without a receipt handle cannot be deleted and are left out.
    """
    deletable = [o for o in outcomes if o.action is Action.DELETE and o.receipt_handle]
    return [
        {
            "QueueUrl": queue_url,
            "Entries": [{"Id": str(i), "ReceiptHandle": o.receipt_handle} for i, o in enumerate(chunk)],
        }
        for chunk in _chunks(deletable)
    ]


def visibility_requests(queue_url: str, changes: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """``ChangeMessageVisibilityBatch`` parameters for ``(receipt_handle, timeout)`` pairs, ten a request."""
    return [
        {
            "QueueUrl": queue_url,
            "Entries": [
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": timeout}
                for i, (handle, timeout) in enumerate(chunk)
            ],
        }
        for chunk in _chunks(changes)
    ]


def batch_failures(request: Mapping[str, Any], response: Mapping[str, Any]) -> list[tuple[int, str]]:
    """The entries of a batch request that SQS reports as failed: ``(position in the request, reason)``."""
    failed: list[tuple[int, str]] = []
    positions = {entry["Id"]: index for index, entry in enumerate(request["Entries"])}
    for entry in response.get("Failed", ()) or ():
        index = positions.get(entry.get("Id"))
        if index is None:
            continue
        failed.append((index, f"{entry.get('Code', 'error')}: {entry.get('Message', '')}".strip()))
    return failed


# --- heartbeat ---------------------------------------------------------------------------------------------


@attrs.define
class Lease:
    """A received message whose visibility the consumer owns while a handler runs."""

    receipt_handle: str
    message_id: str
    received_at: float
    expires_at: float


class Leases:
    """The in-flight messages and when their visibility runs out; decides which need extending.

    A lease is due once less than ``margin`` seconds (half the visibility timeout by default) remain; it is
    then extended by ``visibility_timeout`` from ``now``, but never past SQS's limit of 12 hours after
    receipt. Times are seconds on any monotonic clock, passed in by the caller. Not thread-safe: the sync
    consumer guards it with a lock.
    """

    def __init__(self, visibility_timeout: int, *, margin: float | None = None) -> None:
        if visibility_timeout < 1:
            raise ValueError("a heartbeat needs a visibility timeout of at least 1 second")
        self.visibility_timeout = visibility_timeout
        self.margin = visibility_timeout / 2 if margin is None else margin
        self._leases: dict[str, Lease] = {}

    @property
    def check_interval(self) -> float:
        """How often a heartbeat should look for due leases: a third of the margin, at least 0.1 s."""
        return max(0.1, self.margin / 3)

    def add(self, receipt_handle: str, message_id: str, now: float) -> None:
        self._leases[receipt_handle] = Lease(receipt_handle, message_id, now, now + self.visibility_timeout)

    def remove(self, receipt_handle: str | None) -> None:
        if receipt_handle is not None:
            self._leases.pop(receipt_handle, None)

    def due(self, now: float) -> list[tuple[str, int]]:
        """``(receipt_handle, new timeout)`` for every lease to extend now."""
        out: list[tuple[str, int]] = []
        for lease in self._leases.values():
            if lease.expires_at - now > self.margin:
                continue
            remaining = int(lease.received_at + MAX_VISIBILITY_TIMEOUT - now)
            timeout = min(self.visibility_timeout, remaining)
            if timeout <= 0:
                continue
            out.append((lease.receipt_handle, timeout))
        return out

    def extended(self, changes: Iterable[tuple[str, int]], now: float) -> None:
        """Record that ``changes`` (from ``due``) were applied at ``now``."""
        for handle, timeout in changes:
            lease = self._leases.get(handle)
            if lease is not None:
                lease.expires_at = now + timeout

    def __len__(self) -> int:
        return len(self._leases)

    def __contains__(self, receipt_handle: object) -> bool:
        return receipt_handle in self._leases


# --- errors of the SQS API itself ----------------------------------------------------------------------

_RETRYABLE_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "KmsThrottled",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "KmsUnavailable",
    }
)


def receive_error_retryable(status_code: int | None, code: str | None) -> bool:
    """Whether a failed SQS call may succeed if repeated: throttling, 5xx answers, or no answer at all
    (``status_code`` None: a connection error or timeout). A 4xx answer (no such queue, access denied, bad
    parameters) will not fix itself, so the consumer stops with that error instead of looping on it."""
    if code in _RETRYABLE_CODES:
        return True
    return status_code is None or status_code >= 500
