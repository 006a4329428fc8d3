"""The pure core of the SQS consumers: what to ask SQS for, and what to do with each message afterwards.

Nothing here does IO or reads a clock; times are passed in. ``SqsConsumer`` and
``AsyncSqsConsumer`` build their requests and interpret every answer through these
functions, so the two differ only in how they wait.

What happens to one message is a flow (``MessagePolicy.handle``), the way the sending core drives its
transports: a generator that yields effects and receives their outcomes (or has the exception an effect
raised thrown in). The effects are the only IO a message needs:

- ``Verify``: unwrap the message and verify its SNS envelope (the answer is the ``SourceItem``);
- ``Store``: ``seen`` or ``mark`` on the idempotency store (the answer is what the method returned);
- ``Dispatch``: route the item to the handlers or the ``on_invalid`` hook (answer: a ``DispatchResult``);
- ``Claim``: run a sub-flow while no other delivery of the same event is in flight in this consumer.

The rules, in one place:

- a message is deleted only when its item parsed and every selected handler (and hook) succeeded, or when the
  idempotency store says its event was already handled;
- a message that cannot be unwrapped, verified or parsed, or whose event's idempotency key cannot be computed,
  goes to the router's ``on_invalid`` hook and is left on the queue (``INVALID``);
- anything else that did not succeed (a handler or hook failed; the verifier, the idempotency store or the
  dispatch raised unexpectedly) is left on the queue too (``FAILED``); both are made visible again after a
  backoff that grows with ``ApproximateReceiveCount``, so that the queue's redrive policy eventually moves a
  poison message to its dead-letter queue;
- no ``Exception`` escapes a flow: one bad message never stops a worker. Only a ``BaseException`` that is not
  an ``Exception`` (``KeyboardInterrupt``, ``SystemExit``, a cancellation) does, and stops the consumer;
- a message whose handling outlives most of its visibility timeout has its visibility extended (heartbeat).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Generator, Iterable, Mapping, Sequence
from typing import Any, Final, Generic, Literal, TypeAlias, TypeVar, cast

import attrs

from ..errors import ParseError, SesflowError
from ..routing import DispatchResult
from ..sources import SourceItem, is_replay, sqs_message_item
from .idempotency import idempotency_key

__all__ = [
    "MAX_BATCH",
    "MAX_VISIBILITY_TIMEOUT",
    "MAX_WAIT_TIME_SECONDS",
    "Action",
    "Backoff",
    "Claim",
    "Dispatch",
    "Driver",
    "Effect",
    "FifoGate",
    "Flow",
    "Lease",
    "Leases",
    "MessageOutcome",
    "MessagePolicy",
    "Status",
    "Store",
    "MarkHandled",
    "Verify",
    "acknowledgement",
    "batch_failures",
    "decide",
    "delete_requests",
    "deletion_counts",
    "describe_exception",
    "failed_outcome",
    "receive_error_retryable",
    "fifo_blocked",
    "is_fifo_queue",
    "receive_request",
    "release_outcome",
    "released",
    "requeue_deadline",
    "visibility_applied",
    "visibility_requests",
]

logger = logging.getLogger("sesflow.consumers")

T = TypeVar("T")

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
        reason=_failure_reason(result),
        result=result,
        key=key,
    )


def describe_exception(exc: BaseException) -> str:
    """``repr(exc)``, or its type's name when even that raises (logging a failure must not fail)."""
    try:
        return repr(exc)
    except Exception:
        return f"{type(exc).__name__} (its repr raised)"


def _failure_reason(result: DispatchResult) -> str:
    try:
        return result.describe_failure()
    except Exception:
        # A handler raised an exception whose repr raises too: name the types instead.
        if result.error is not None:
            return f"item {result.item_id}: invalid: {describe_exception(result.error)}"
        parts = ", ".join(f"{f.name} raised {describe_exception(f.exception)}" for f in result.failures)
        return f"item {result.item_id}: {parts}"


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


def released(messages: Iterable[Mapping[str, Any]], reason: str) -> list[MessageOutcome]:
    """The outcomes of received messages given back unhandled (see ``release_outcome``)."""
    return [release_outcome(sqs_message_item(message), reason) for message in messages]


# --- the per-message policy, as a flow -------------------------------------------------------------------


@attrs.frozen
class Verify:
    """Unwrap ``message`` and verify its SNS envelope with the consumer's verifier.

    The answer is the ``SourceItem`` (``sqs_message_item`` or
    ``sqs_message_item_async`` with the verifier); a verification failure is an invalid item, not an error.
    """

    message: Mapping[str, Any] = attrs.field(repr=False)


@attrs.frozen
class Store:
    """Call ``seen`` or ``mark`` with ``key`` on the idempotency store; the answer is what it returned."""

    method: Literal["seen", "mark"]
    key: str


@attrs.frozen
class Dispatch:
    """Route ``item`` with the router (``dispatch_item`` or ``dispatch_item_async``); the answer is the
    ``DispatchResult``."""

    item: SourceItem = attrs.field(repr=False)


@attrs.frozen
class Claim:
    """Run ``flow`` while holding the claim on ``key``, so that two deliveries of one event in flight in this
    consumer at once are handled one after the other; the answer is the flow's result."""

    key: str
    flow: Generator[Any, Any, Any] = attrs.field(eq=False, repr=False)


@attrs.frozen
class MarkHandled:
    """Tell the verifier's replay guard that ``item``, a verified SNS message, was handled for good
    (``sesflow.sources.mark_handled``); the answer is None. Only ever asked after success: a redelivery
    after a failure carries the same ``MessageId`` and must still verify."""

    item: SourceItem = attrs.field(repr=False)


Effect: TypeAlias = "Verify | Store | Dispatch | Claim | MarkHandled"
Flow: TypeAlias = Generator[Effect, Any, T]


class Driver(Generic[T]):
    """Steps a flow for a shell: ``effect`` is what to do next (None once the flow has returned ``result``);
    the shell performs it and hands back its value (``send``) or the exception it raised (``throw``).
    """

    def __init__(self, flow: Flow[T]) -> None:
        self._flow = flow
        self._result: Any = None
        self.effect: Effect | None = self._resume(flow.send, None)

    @property
    def result(self) -> T:
        """What the flow returned."""
        if self.effect is not None:
            raise RuntimeError("the flow has not returned yet")
        return cast(T, self._result)

    def _resume(self, method: Any, argument: Any) -> Effect | None:
        try:
            effect: Effect = method(argument)
        except StopIteration as stop:
            self._result = stop.value
            return None
        return effect

    def send(self, value: Any) -> None:
        self.effect = self._resume(self._flow.send, value)

    def throw(self, error: Exception) -> None:
        self.effect = self._resume(self._flow.throw, error)


class FifoGate:
    """The message groups of one FIFO batch in which a message did not succeed (see ``fifo_blocked``)."""

    def __init__(self) -> None:
        self._failed: set[str] = set()

    def blocked(self, item: SourceItem) -> bool:
        return fifo_blocked(item, self._failed)

    def finished(self, item: SourceItem, outcome: MessageOutcome) -> None:
        group = item.meta.get("message_group_id")
        if not outcome.ok and isinstance(group, str):
            self._failed.add(group)


class MessagePolicy:
    """What happens to each received message, from the SQS message to its ``MessageOutcome``.

    ``verifies``: the consumer has a verifier (unwrapping then needs the ``Verify`` effect).
    ``idempotent``: the consumer has an idempotency store (the ``Store`` and ``Claim`` effects).
    """

    def __init__(self, *, backoff: Backoff, verifies: bool, idempotent: bool) -> None:
        self.backoff = backoff
        self.verifies = verifies
        self.idempotent = idempotent

    def handle(self, message: Mapping[str, Any], fifo: FifoGate | None = None) -> Flow[MessageOutcome]:
        """The flow of one message (in a FIFO batch: with the batch's ``fifo`` gate). It returns the outcome
        and raises nothing but what is not an ``Exception`` (the shells stop on those)."""
        item: SourceItem | None = None
        try:
            item, outcome = yield from self._unwrap(message)
            if outcome is None:
                if fifo is not None and fifo.blocked(item):
                    outcome = release_outcome(item, "an earlier message of its FIFO group did not succeed")
                else:
                    outcome = yield from self._process(item)
        except Exception as exc:
            # Handler failures are results, not exceptions: this is a bug or a broken router or store.
            item = item or sqs_message_item(message)
            logger.exception("handling message %s failed unexpectedly; it is left for a retry", item.item_id)
            reason = f"unexpected error: {describe_exception(exc)}"
            outcome = failed_outcome(item, reason, backoff=self.backoff)
        if fifo is not None:
            fifo.finished(item, outcome)
        return outcome

    def _unwrap(self, message: Mapping[str, Any]) -> Flow[tuple[SourceItem, MessageOutcome | None]]:
        if not self.verifies:
            return sqs_message_item(message), None
        try:
            verified: SourceItem = yield Verify(message)
        except Exception as exc:
            # Not a verification failure (that is an invalid item): a bug, or a failure a retry may fix.
            item = sqs_message_item(message)
            logger.exception("verifying message %s failed unexpectedly; it is left for a retry", item.item_id)
            reason = f"verifier: {describe_exception(exc)}"
            return item, failed_outcome(item, reason, backoff=self.backoff)
        return verified, None

    def _process(self, item: SourceItem) -> Flow[MessageOutcome]:
        if is_replay(item):
            # Genuine, and the replay guard remembers it as handled: a duplicate, not bad input.
            logger.debug("message %s repeats an SNS message already handled; deleting it", item.item_id)
            return decide(item, None, backoff=self.backoff)
        key: str | None = None
        if self.idempotent and item.record is not None:
            try:
                key = idempotency_key(item.record)
            except Exception as exc:  # a hostile record: the dead-letter path, like an unparseable one
                item = _unkeyable(item, exc)
        if key is None:
            result: DispatchResult = yield Dispatch(item)
            yield from self._remember(item, result)
            return decide(item, result, backoff=self.backoff)
        outcome: MessageOutcome = yield Claim(key, self._claimed(item, key))
        return outcome

    def _remember(self, item: SourceItem, result: DispatchResult) -> Flow[None]:
        """After a success, and only then, the verifier's replay guard learns the SNS message was handled."""
        if self.verifies and result.ok:
            try:
                yield MarkHandled(item)
            except Exception:
                # The handlers succeeded; deleting is still right. Only replay protection is weaker.
                logger.exception("telling the replay guard that message %s was handled failed", item.item_id)

    def _claimed(self, item: SourceItem, key: str) -> Flow[MessageOutcome]:
        backoff = self.backoff
        try:
            seen = yield Store("seen", key)
        except Exception as exc:
            logger.exception("the idempotency store failed; message %s is left for a retry", item.item_id)
            reason = f"idempotency store: {describe_exception(exc)}"
            return failed_outcome(item, reason, backoff=backoff, key=key)
        if seen:
            logger.debug("message %s repeats an event already handled; deleting it", item.item_id)
            return decide(item, None, backoff=backoff, key=key)
        result: DispatchResult = yield Dispatch(item)
        if result.ok:
            try:
                yield Store("mark", key)
            except Exception:
                # The handlers succeeded; deleting is still right. Only a later repeat may run them again.
                logger.exception("marking event of message %s as handled failed", item.item_id)
        yield from self._remember(item, result)
        return decide(item, result, backoff=backoff, key=key)


def _unkeyable(item: SourceItem, exc: Exception) -> SourceItem:
    """The item of a record whose idempotency key cannot be computed: invalid, for the dead-letter path."""
    error: SesflowError
    if isinstance(exc, SesflowError):
        error = exc
    else:
        error = ParseError(
            f"its idempotency key cannot be computed ({describe_exception(exc)})", raw=item.raw
        )
    logger.warning("the event of message %s has no usable idempotency key: %s", item.item_id, error)
    return attrs.evolve(item, record=None, error=error)


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


def acknowledgement(
    queue_url: str, outcomes: Sequence[MessageOutcome]
) -> tuple[list[dict[str, Any]], list[tuple[str, int]]]:
    """What acknowledging finished messages takes: the ``DeleteMessageBatch`` requests and the
    ``(receipt_handle, timeout)`` visibility changes; logs each message that was not handled."""
    changes: list[tuple[str, int]] = []
    for outcome in outcomes:
        if outcome.action is Action.CHANGE_VISIBILITY and outcome.receipt_handle:
            changes.append((outcome.receipt_handle, outcome.visibility_timeout or 0))
        if not outcome.ok:
            logger.warning(
                "message %s %s; visible again in %s s: %s",
                outcome.message_id,
                outcome.status.value,
                outcome.visibility_timeout,
                outcome.reason,
            )
    return delete_requests(queue_url, outcomes), changes


def deletion_counts(request: Mapping[str, Any], answer: Mapping[str, Any] | Exception) -> dict[str, int]:
    """The metrics of one ``DeleteMessageBatch`` from its response (or the exception the call raised)."""
    total = len(request["Entries"])
    if isinstance(answer, Exception):
        logger.error("deleting %d message(s) failed (%s); they will be delivered again", total, answer)
        return {"delete_errors": total}
    failures = batch_failures(request, answer)
    for _, reason in failures:
        logger.warning("SQS refused to delete a message (%s); it will be delivered again", reason)
    return {"deleted": total - len(failures), "delete_errors": len(failures)}


def visibility_applied(
    request: Mapping[str, Any], answer: Mapping[str, Any] | Exception, what: str
) -> list[tuple[str, int]]:
    """The ``(receipt_handle, timeout)`` changes of one ``ChangeMessageVisibilityBatch`` that SQS applied,
    from its response (or the exception the call raised); ``what`` names the change in the log lines."""
    entries = request["Entries"]
    if isinstance(answer, Exception):
        logger.warning("%s %d message(s) failed: %s", what, len(entries), answer)
        return []
    failures = batch_failures(request, answer)
    for _, reason in failures:
        logger.warning("%s a message failed: %s", what, reason)
    failed = {index for index, _ in failures}
    return [
        (entry["ReceiptHandle"], entry["VisibilityTimeout"])
        for index, entry in enumerate(entries)
        if index not in failed
    ]


# A message put back with a retry delay this short is waited for by ``run_until_empty``: it is part of the
# work at hand. moto and SQS may not show it on a receive made in the same instant, hence the grace period.
SOON_VISIBLE_SECONDS = 1
REQUEUE_GRACE_SECONDS = 0.25


def requeue_deadline(changes: Sequence[tuple[str, int]], now: float, current: float) -> float:
    """The monotonic time by which every soon-visible message in ``changes`` is back on the queue."""
    soon = [timeout for _, timeout in changes if timeout <= SOON_VISIBLE_SECONDS]
    if not soon:
        return current
    return max(current, now + max(soon) + REQUEUE_GRACE_SECONDS)


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
