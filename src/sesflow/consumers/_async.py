"""``AsyncSqsConsumer``: an asyncio SQS worker over aioboto3 (extra ``async``).

Several receives are in flight at once (``receivers``), each received message is handled in its own task, at
most ``concurrency`` at a time, and acknowledgements from all of them are gathered into batch requests.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from ..errors import MissingExtra
from ..routing import EventRouter
from ..sources import MessageVerifier, SourceItem, sqs_message_item, sqs_message_item_async
from ._common import (
    STOP_SIGNALS,
    STOPPING_MESSAGE,
    ConsumerError,
    Settings,
    api_error,
    key_for,
    requeue_deadline,
)
from ._core import (
    MAX_BATCH,
    Action,
    Backoff,
    Leases,
    MessageOutcome,
    batch_failures,
    decide,
    delete_requests,
    failed_outcome,
    fifo_blocked,
    is_fifo_queue,
    receive_request,
    release_outcome,
    visibility_requests,
)
from .idempotency import IdempotencyStore
from .metrics import ConsumerMetrics, MetricsRecorder

__all__ = ["AsyncSqsConsumer"]

logger = logging.getLogger("sesflow.consumers")

_T = TypeVar("_T")
_RETRY_PAUSES = (1.0, 2.0, 5.0, 10.0, 30.0)


class _Stopped(Exception):
    """The consumer was asked to stop while waiting."""


def _load_aioboto3() -> Any:
    try:
        import aioboto3
    except ImportError as exc:
        raise MissingExtra("AsyncSqsConsumer", "async", "aioboto3") from exc
    return aioboto3


def _track(tasks: set[asyncio.Task[None]], coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` as a task kept in ``tasks`` until it is done (so it can be awaited at shutdown)."""
    task = asyncio.create_task(coroutine)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


class _Run:
    """The state of one ``run``: capacity, the message budget, and what is in flight."""

    def __init__(self, concurrency: int, budget: int | None) -> None:
        self.slots = asyncio.Semaphore(concurrency)
        self.budget = budget
        self.empty = False
        self.tasks: set[asyncio.Task[None]] = set()
        self.flushes: set[asyncio.Task[None]] = set()
        self.acks: asyncio.Queue[tuple[MessageOutcome, float] | None] = asyncio.Queue()
        self.unacked = 0  # messages handed to handlers and not yet acknowledged
        self.flushing = 0  # of those, the ones whose acknowledgement requests are being sent
        self.idle = asyncio.Event()
        self.idle.set()
        self.requeued_until = 0.0  # loop time when the last soon-visible failed message is back

    def started(self, count: int) -> None:
        self.unacked += count
        self.idle.clear()

    def acknowledged(self, count: int) -> None:
        self.unacked -= count
        if self.unacked == 0:
            self.idle.set()

    def done_receiving(self) -> bool:
        return self.empty or self.budget == 0


class AsyncSqsConsumer:
    """The asyncio twin of ``SqsConsumer``: the same contract, concurrent handling.

    Handlers may be coroutines or plain functions (the router's ``run_sync_in_thread`` moves plain ones off
    the event loop). Messages of a standard queue are handled concurrently, in any order; a FIFO queue's batch
    is handled in order, one message at a time.

    ``queue_url``, ``verifier``, ``idempotency``, ``wait_time_seconds``, ``batch_size``,
    ``visibility_timeout``, ``backoff``, ``heartbeat`` and ``on_metrics`` are as for
    ``SqsConsumer``; an idempotency store with ``blocking = True`` (or without the
    attribute) is called in a worker thread.

    Args:
        router: the handlers.
        client: an open aiobotocore SQS client (inside its ``async with``); otherwise ``run`` opens one
            from ``session`` (an ``aioboto3.Session``, a default one when omitted) with ``region_name`` and
            ``endpoint_url``, and closes it when it returns.
        receivers: how many receives are in flight at once.
        concurrency: how many messages are handled at once; a receive waits for free capacity, so no message
            sits received but unhandled while its visibility timeout runs.
        ack_delay: seconds to wait for more finished messages to fill a delete batch (up to ten).
    """

    def __init__(
        self,
        queue_url: str,
        router: EventRouter,
        *,
        client: Any = None,
        session: Any = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        verifier: MessageVerifier | None = None,
        idempotency: IdempotencyStore | None = None,
        wait_time_seconds: int = 20,
        batch_size: int = 10,
        visibility_timeout: int = 30,
        backoff: Backoff | None = None,
        receivers: int = 2,
        concurrency: int = 20,
        heartbeat: bool = True,
        on_metrics: Callable[[ConsumerMetrics], object] | None = None,
        ack_delay: float = 0.05,
    ) -> None:
        if not isinstance(router, EventRouter):
            raise ConsumerError(f"router must be an EventRouter, got {type(router).__name__}")
        if receivers < 1 or concurrency < 1:
            raise ConsumerError(
                f"receivers and concurrency must be at least 1, got {receivers}, {concurrency}"
            )
        if ack_delay < 0:
            raise ConsumerError(f"ack_delay must not be negative, got {ack_delay}")
        if client is not None and (session is not None or region_name or endpoint_url):
            raise ConsumerError("pass either a client, or session/region_name/endpoint_url to make one")
        self.settings = Settings(
            queue_url,
            wait_time_seconds,
            batch_size,
            visibility_timeout,
            backoff if backoff is not None else Backoff(),
            heartbeat,
        )
        if client is None and session is None:
            _load_aioboto3()  # fail now, not at the first run, when the extra is missing
        self.router = router
        self.verifier = verifier
        self.idempotency = idempotency
        self.receivers = receivers
        self.concurrency = concurrency
        self.on_metrics = on_metrics
        self.ack_delay = ack_delay
        self.fifo = is_fifo_queue(queue_url)
        self._given_client = client
        self._session = session
        self._region_name = region_name
        self._endpoint_url = endpoint_url
        self._client: Any = client
        self._recorder = MetricsRecorder()
        self._leases = Leases(visibility_timeout)
        self._claims: dict[str, asyncio.Event] = {}
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested = False
        self._runs_ended = 0  # a stop() made while run N is going (or before it starts) is meant for run N
        self._stop_meant_for = -1

    # --- public -----------------------------------------------------------------------------------------

    @property
    def metrics(self) -> ConsumerMetrics:
        """The counters so far."""
        return self._recorder.snapshot()

    @property
    def stopping(self) -> bool:
        """True once ``stop`` was called and until the next run starts."""
        return self._stop_requested

    def stop(self) -> None:
        """Ask a running ``run`` to stop: receives in flight are cancelled (SQS delivers what they would
        have returned again after the visibility timeout), messages being handled finish and are
        acknowledged, then ``run`` returns. Safe from any thread."""
        self._stop_requested = True
        self._stop_meant_for = self._runs_ended
        loop, event = self._loop, self._stopping
        if loop is None or event is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    async def run(
        self, *, max_messages: int | None = None, install_signal_handlers: bool = False
    ) -> ConsumerMetrics:
        """Receive and handle messages until ``stop`` (or ``max_messages`` received); returns the metrics.

        ``install_signal_handlers=True`` makes SIGINT and SIGTERM stop the consumer gracefully (the loop must
        run in the main thread); after the first one the default action is back, so a second one exits.
        """
        return await self._run(self.settings.wait_time_seconds, max_messages, False, install_signal_handlers)

    async def run_until_empty(
        self,
        *,
        max_messages: int | None = None,
        wait_time_seconds: int = 1,
        install_signal_handlers: bool = False,
    ) -> ConsumerMetrics:
        """Like ``run``, but stop receiving as soon as a receive (long-polling ``wait_time_seconds``)
        finds the queue empty, then finish what is in flight."""
        return await self._run(wait_time_seconds, max_messages, True, install_signal_handlers)

    # --- the run ----------------------------------------------------------------------------------------

    async def _run(
        self, wait: int, max_messages: int | None, until_empty: bool, signals: bool
    ) -> ConsumerMetrics:
        if max_messages is not None and max_messages < 1:
            raise ConsumerError(f"max_messages must be at least 1, got {max_messages}")
        if signals and threading.current_thread() is not threading.main_thread():
            raise ConsumerError("install_signal_handlers=True needs the event loop in the main thread")
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if self._stop_meant_for != self._runs_ended:
            self._stop_requested = False  # left over from an earlier run
        elif self._stop_requested:  # stop() was called before this run began: honour it
            self._stopping.set()
        state = _Run(self.concurrency, max_messages)
        installed = self._install_signals() if signals else []
        try:
            async with self._client_context() as client:
                self._client = client
                acker = asyncio.create_task(self._ack_loop(state), name="sesflow-acks")
                beat = (
                    asyncio.create_task(self._heartbeat(), name="sesflow-heartbeat")
                    if self.settings.heartbeat
                    else None
                )
                try:
                    receivers = [
                        asyncio.create_task(
                            self._receive_loop(state, wait, until_empty), name=f"sesflow-receive-{i}"
                        )
                        for i in range(self.receivers)
                    ]
                    try:
                        await asyncio.gather(*receivers)
                    except BaseException:
                        for task in receivers:
                            task.cancel()
                        await asyncio.gather(*receivers, return_exceptions=True)
                        raise
                    finally:
                        # Graceful: whatever was received is handled and acknowledged.
                        while state.tasks:
                            await asyncio.gather(*list(state.tasks), return_exceptions=True)
                        await state.acks.put(None)
                        await acker
                finally:
                    if beat is not None:
                        beat.cancel()
                        await asyncio.gather(beat, return_exceptions=True)
        finally:
            self._client = self._given_client
            self._runs_ended += 1
            for number in installed:
                self._loop.remove_signal_handler(number)
        logger.info("SQS consumer of %s stopped: %s", self.settings.queue_url, self.metrics)
        return self.metrics

    def _install_signals(self) -> list[int]:
        assert self._loop is not None
        loop = self._loop

        def on_signal(number: int) -> None:
            logger.info(STOPPING_MESSAGE, signal.Signals(number).name)
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)  # the default action is back for a second signal
            self.stop()

        for number in STOP_SIGNALS:
            loop.add_signal_handler(number, on_signal, number)
        return list(STOP_SIGNALS)

    @asynccontextmanager
    async def _client_context(self) -> AsyncIterator[Any]:
        if self._given_client is not None:
            yield self._given_client
            return
        session = self._session if self._session is not None else _load_aioboto3().Session()
        from aiobotocore.config import AioConfig

        config = AioConfig(max_pool_connections=self.receivers * 2 + 8)
        async with session.client(
            "sqs", region_name=self._region_name, endpoint_url=self._endpoint_url, config=config
        ) as client:
            yield client

    async def _until_stopped(self, awaitable: Awaitable[_T]) -> _T:
        """Await ``awaitable``, or cancel it and raise ``_Stopped`` when a stop comes first."""
        assert self._stopping is not None
        if self._stopping.is_set():
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise _Stopped
        task = asyncio.ensure_future(awaitable)
        stopper = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise _Stopped

    async def _take_slots(self, state: _Run, want: int) -> int:
        await self._until_stopped(state.slots.acquire())
        taken = 1
        while taken < want and not state.slots.locked():
            await state.slots.acquire()  # free capacity: returns at once
            taken += 1
        return taken

    async def _receive_loop(self, state: _Run, wait: int, until_empty: bool) -> None:
        failures = 0
        while not state.done_receiving():
            want = self.settings.batch_size
            if state.budget is not None:
                want = min(want, state.budget)
            try:
                slots = await self._take_slots(state, want)
            except _Stopped:
                return
            if state.budget is not None:
                # Another receiver may have taken part or all of the budget while this one waited.
                extra = max(0, slots - state.budget)
                for _ in range(extra):
                    state.slots.release()
                slots -= extra
                if slots == 0:
                    continue
                state.budget -= slots
            request = receive_request(
                self.settings.queue_url,
                max_messages=slots,
                wait_time_seconds=wait,
                visibility_timeout=self.settings.visibility_timeout,
            )
            messages: list[Mapping[str, Any]] = []
            try:
                response = await self._until_stopped(self._client.receive_message(**request))
                messages = response.get("Messages") or []
                failures = 0
            except _Stopped:
                pass
            except Exception as exc:
                retryable, what = api_error(exc)
                if not retryable:
                    self._give_back(state, slots, 0)
                    raise ConsumerError(f"receiving from {self.settings.queue_url} failed: {what}") from exc
                pause = _RETRY_PAUSES[min(failures, len(_RETRY_PAUSES) - 1)]
                failures += 1
                logger.warning(
                    "receiving from %s failed (%s); retrying in %.0f s", request["QueueUrl"], what, pause
                )
                self._give_back(state, slots, 0)
                try:
                    await self._until_stopped(asyncio.sleep(pause))
                except _Stopped:
                    return
                continue
            self._recorder.received(len(messages))
            self._give_back(state, slots, len(messages))
            if messages and self._stop_requested:
                await self._release(state, messages)
                return
            if not messages:
                if self._stop_requested:
                    return
                if until_empty:
                    if state.unacked == 0:
                        pending = state.requeued_until - asyncio.get_running_loop().time()
                        if pending <= 0:
                            state.empty = True
                            return
                        try:  # a failed message is about to come back: it is part of the work at hand
                            await self._until_stopped(asyncio.sleep(pending))
                        except _Stopped:
                            return
                        continue
                    # Messages in flight may fail and come back: the queue is empty once they are settled.
                    try:
                        await self._until_stopped(state.idle.wait())
                    except _Stopped:
                        return
                continue
            self._start(state, messages)

    def _give_back(self, state: _Run, reserved: int, used: int) -> None:
        for _ in range(reserved - used):
            state.slots.release()
        if state.budget is not None:
            state.budget += reserved - used

    def _start(self, state: _Run, messages: Sequence[Mapping[str, Any]]) -> None:
        loop = asyncio.get_running_loop()
        received_at = loop.time()
        state.started(len(messages))
        for message in messages:
            handle = message.get("ReceiptHandle")
            if isinstance(handle, str):
                self._leases.add(handle, str(message.get("MessageId", "")), received_at)
        if self.fifo:
            coroutines = [self._handle_fifo(state, messages, received_at)]
        else:
            coroutines = [self._handle(state, message, received_at) for message in messages]
        for coroutine in coroutines:
            _track(state.tasks, coroutine)

    async def _finish(self, state: _Run, outcome: MessageOutcome, received_at: float) -> None:
        latency = asyncio.get_running_loop().time() - received_at
        self._recorder.finished([(outcome, latency)])
        await state.acks.put((outcome, latency))

    async def _handle(self, state: _Run, message: Mapping[str, Any], received_at: float) -> None:
        try:
            item = await self._item(message)
            outcome = await self._process(item) if isinstance(item, SourceItem) else item
        finally:
            state.slots.release()
        await self._finish(state, outcome, received_at)

    async def _handle_fifo(
        self, state: _Run, messages: Sequence[Mapping[str, Any]], received_at: float
    ) -> None:
        failed_groups: set[str] = set()
        for message in messages:
            try:
                item = await self._item(message)
                if isinstance(item, MessageOutcome):
                    outcome = item
                elif fifo_blocked(item, failed_groups):
                    outcome = release_outcome(item, "an earlier message of its FIFO group did not succeed")
                else:
                    outcome = await self._process(item)
                group = message.get("Attributes", {}).get("MessageGroupId")
                if not outcome.ok and isinstance(group, str):
                    failed_groups.add(group)
            finally:
                state.slots.release()
            await self._finish(state, outcome, received_at)

    async def _item(self, message: Mapping[str, Any]) -> SourceItem | MessageOutcome:
        """The message's item, or the outcome of a verifier that failed unexpectedly (not a verification
        failure, which is an invalid item): the message is then left for a retry."""
        if self.verifier is None:
            return sqs_message_item(message)
        try:
            return await sqs_message_item_async(message, verifier=self.verifier)
        except Exception as exc:
            item = sqs_message_item(message)
            logger.exception("verifying message %s failed unexpectedly; it is left for a retry", item.item_id)
            return failed_outcome(item, f"verifier: {exc!r}", backoff=self.settings.backoff)

    async def _store_call(self, method: Callable[[str], _T], key: str) -> _T:
        if getattr(self.idempotency, "blocking", True):
            return await asyncio.to_thread(method, key)
        return method(key)

    async def _process(self, item: SourceItem) -> MessageOutcome:
        backoff = self.settings.backoff
        store = self.idempotency
        key = key_for(item, store)
        try:
            if key is None or store is None:
                return decide(item, await self.router.dispatch_item_async(item), backoff=backoff)
            while (held := self._claims.get(key)) is not None:
                await held.wait()  # the same event is in flight in another task: wait for its outcome
            mine = self._claims[key] = asyncio.Event()
            try:
                try:
                    if await self._store_call(store.seen, key):
                        logger.debug("message %s repeats an event already handled; deleting it", item.item_id)
                        return decide(item, None, backoff=backoff, key=key)
                except Exception as exc:
                    logger.exception(
                        "the idempotency store failed; message %s is left for a retry", item.item_id
                    )
                    return failed_outcome(item, f"idempotency store: {exc!r}", backoff=backoff, key=key)
                result = await self.router.dispatch_item_async(item)
                if result.ok:
                    try:
                        await self._store_call(store.mark, key)
                    except Exception:
                        logger.exception("marking event of message %s as handled failed", item.item_id)
                return decide(item, result, backoff=backoff, key=key)
            finally:
                del self._claims[key]
                mine.set()
        except Exception as exc:
            # Handler failures are results, not exceptions; this is a bug or a broken hook setup.
            logger.exception("handling message %s failed unexpectedly; it is left for a retry", item.item_id)
            return failed_outcome(item, repr(exc), backoff=backoff, key=key)

    # --- acknowledgements -------------------------------------------------------------------------------

    async def _ack_loop(self, state: _Run) -> None:
        loop = asyncio.get_running_loop()
        closing = False
        while not closing:
            first = await state.acks.get()
            if first is None:
                break
            batch = [first]
            deadline = loop.time() + self.ack_delay
            while len(batch) < MAX_BATCH:
                if state.acks.empty():
                    timeout = deadline - loop.time()
                    if timeout <= 0 or state.unacked - state.flushing - len(batch) <= 0:
                        break  # waited long enough, or no handler is still running: flush now
                    try:
                        nxt = await asyncio.wait_for(state.acks.get(), timeout)
                    except TimeoutError:
                        break
                else:
                    nxt = state.acks.get_nowait()
                if nxt is None:
                    closing = True
                    break
                batch.append(nxt)
            state.flushing += len(batch)
            _track(state.flushes, self._acknowledge(state, [outcome for outcome, _ in batch]))
        while state.flushes:
            await asyncio.gather(*list(state.flushes), return_exceptions=True)

    async def _acknowledge(self, state: _Run, outcomes: Sequence[MessageOutcome]) -> None:
        try:
            requests = [
                self._delete(request) for request in delete_requests(self.settings.queue_url, outcomes)
            ]
            changes = [
                (o.receipt_handle, o.visibility_timeout or 0)
                for o in outcomes
                if o.action is Action.CHANGE_VISIBILITY and o.receipt_handle
            ]
            for outcome in outcomes:
                if not outcome.ok:
                    logger.warning(
                        "message %s %s; visible again in %s s: %s",
                        outcome.message_id,
                        outcome.status.value,
                        outcome.visibility_timeout,
                        outcome.reason,
                    )
            state.requeued_until = requeue_deadline(
                changes, asyncio.get_running_loop().time(), state.requeued_until
            )
            await asyncio.gather(*requests, self._change_visibility(changes, "setting the retry delay of"))
        finally:
            for outcome in outcomes:
                self._leases.remove(outcome.receipt_handle)
            state.flushing -= len(outcomes)
            state.acknowledged(len(outcomes))
        if self.on_metrics is not None:
            try:
                self.on_metrics(self._recorder.snapshot())
            except Exception:
                logger.exception("the on_metrics callback failed")

    async def _delete(self, request: dict[str, Any]) -> None:
        total = len(request["Entries"])
        try:
            response = await self._client.delete_message_batch(**request)
        except Exception as exc:
            logger.error("deleting %d message(s) failed (%s); they will be delivered again", total, exc)
            self._recorder.add(delete_errors=total)
            return
        failures = batch_failures(request, response)
        for _, reason in failures:
            logger.warning("SQS refused to delete a message (%s); it will be delivered again", reason)
        self._recorder.add(deleted=total - len(failures), delete_errors=len(failures))

    async def _change_visibility(
        self, changes: Sequence[tuple[str, int]], what: str
    ) -> list[tuple[str, int]]:
        applied: list[tuple[str, int]] = []
        for request in visibility_requests(self.settings.queue_url, changes):
            entries = request["Entries"]
            try:
                response = await self._client.change_message_visibility_batch(**request)
            except Exception as exc:
                logger.warning("%s %d message(s) failed: %s", what, len(entries), exc)
                continue
            failures = batch_failures(request, response)
            for _, reason in failures:
                logger.warning("%s a message failed: %s", what, reason)
            failed = {index for index, _ in failures}
            applied.extend(
                (entry["ReceiptHandle"], entry["VisibilityTimeout"])
                for index, entry in enumerate(entries)
                if index not in failed
            )
        return applied

    async def _release(self, state: _Run, messages: Sequence[Mapping[str, Any]]) -> None:
        outcomes = [release_outcome(sqs_message_item(m), "the consumer is stopping") for m in messages]
        self._recorder.finished((o, 0.0) for o in outcomes)
        await self._change_visibility(
            [(o.receipt_handle, 0) for o in outcomes if o.receipt_handle], "releasing"
        )

    # --- heartbeat --------------------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._leases.check_interval)
            now = loop.time()
            due = self._leases.due(now)
            if not due:
                continue
            applied = await self._change_visibility(due, "extending the visibility of")
            self._leases.extended(due, now)
            self._recorder.add(extended=len(applied))
            logger.debug("extended the visibility of %d message(s) still being handled", len(applied))
