"""``AsyncSqsConsumer``: an asyncio SQS worker over aiobotocore (extra ``async``; aioboto3 sessions work too).

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
from typing import Any

from .._aio import client_context, load_aiobotocore, new_session, session_problem
from ..routing import EventRouter
from ..sources import MessageVerifier, mark_handled, sqs_message_item_async
from . import _core as core
from ._common import (
    STOP_SIGNALS,
    STOPPING_MESSAGE,
    ConsumerBase,
    ConsumerError,
    Settings,
    check_client_options,
    receive_failed,
)
from ._core import Backoff, MessageOutcome, T
from .idempotency import IdempotencyStore
from .metrics import ConsumerMetrics

__all__ = ["AsyncSqsConsumer"]

logger = logging.getLogger("sesflow.consumers")

_STOPPING = "the consumer is stopping"


class _Stopped(Exception):
    """The consumer was asked to stop while waiting."""


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
        self.stopped_by: BaseException | None = None  # what stopped the consumer (not an Exception)

    def started(self, count: int) -> None:
        self.unacked += count
        self.idle.clear()

    def acknowledged(self, count: int) -> None:
        self.unacked -= count
        if self.unacked == 0:
            self.idle.set()

    def done_receiving(self) -> bool:
        return self.empty or self.budget == 0


class AsyncSqsConsumer(ConsumerBase):
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
            from ``session`` (an aiobotocore ``AioSession`` or an ``aioboto3.Session``; a default aiobotocore
            session when omitted) with ``region`` and ``endpoint_url``, and closes it when it returns.
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
        region: str | None = None,
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
        check_client_options(router, client, session, region, endpoint_url)
        if receivers < 1 or concurrency < 1:
            raise ConsumerError(
                f"receivers and concurrency must be at least 1, got {receivers}, {concurrency}"
            )
        if ack_delay < 0:
            raise ConsumerError(f"ack_delay must not be negative, got {ack_delay}")
        settings = Settings(queue_url, wait_time_seconds, batch_size, visibility_timeout, backoff, heartbeat)
        if client is None and session is None:
            load_aiobotocore("AsyncSqsConsumer")  # fail now, not at the first run, when the extra is missing
        if session is not None:
            problem = session_problem(session)
            if problem is not None:
                raise ConsumerError(f"session: {problem}")
        super().__init__(settings, router, verifier, idempotency, on_metrics)
        self.receivers = receivers
        self.concurrency = concurrency
        self.ack_delay = ack_delay
        self._given_client = client
        self._session = session
        self._region = region
        self._endpoint_url = endpoint_url
        self._client: Any = client
        self._claims: dict[str, asyncio.Event] = {}
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested = False

    # --- public -----------------------------------------------------------------------------------------

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

        An exception that is not an ``Exception`` (``KeyboardInterrupt``, ``SystemExit``) raised while a
        message is handled stops the consumer: what is in flight is acknowledged, then ``run`` raises it.
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
            if state.stopped_by is not None:
                raise state.stopped_by
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
        session = self._session if self._session is not None else new_session("AsyncSqsConsumer")
        from aiobotocore.config import AioConfig

        config = AioConfig(max_pool_connections=self.receivers * 2 + 8)
        async with client_context(
            session, "sqs", region_name=self._region, endpoint_url=self._endpoint_url, config=config
        ) as client:
            yield client

    async def _until_stopped(self, awaitable: Awaitable[T]) -> T:
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
            request = core.receive_request(
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
                self._give_back(state, slots, 0)
                pause = receive_failed(self.settings.queue_url, exc, failures)
                failures += 1
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
        # A FIFO batch is handled in order in one task; a standard queue's messages each in their own.
        for part in [messages] if self.fifo else [[message] for message in messages]:
            _track(state.tasks, self._handle(state, part, received_at))

    async def _handle(self, state: _Run, messages: Sequence[Mapping[str, Any]], received_at: float) -> None:
        gate = core.FifoGate() if self.fifo else None
        for message in messages:
            try:
                if state.stopped_by is None:
                    outcome = await self._drive(self._policy.handle(message, gate))
                else:  # not started: given back
                    outcome = core.released([message], _STOPPING)[0]
            except BaseException as exc:  # the flow lets only these out: stop, leave this message as it is
                state.stopped_by = state.stopped_by or exc
                self.stop()
                self._leases.remove(message.get("ReceiptHandle"))
                state.acknowledged(1)
                continue
            finally:
                state.slots.release()
            latency = asyncio.get_running_loop().time() - received_at
            self._recorder.finished([(outcome, latency)])
            await state.acks.put((outcome, latency))

    # --- the effects of the per-message flow --------------------------------------------------------------

    async def _drive(self, flow: core.Flow[T]) -> T:
        driver = core.Driver(flow)
        while driver.effect is not None:
            try:
                value = await self._perform(driver.effect)
            except Exception as exc:
                driver.throw(exc)
            else:
                driver.send(value)
        return driver.result

    async def _perform(self, effect: core.Effect) -> Any:
        if isinstance(effect, core.Dispatch):
            return await self.router.dispatch_item_async(effect.item)
        if isinstance(effect, core.Verify):
            return await sqs_message_item_async(effect.message, verifier=self.verifier)
        if isinstance(effect, core.MarkHandled):
            # As the async webhooks do: a replay guard's methods are plain calls (see ReplayGuard).
            return mark_handled(self.verifier, effect.item)
        if isinstance(effect, core.Claim):
            key = effect.key
            while (held := self._claims.get(key)) is not None:
                await held.wait()  # the same event is in flight in another task: wait for its outcome
            mine = self._claims[key] = asyncio.Event()
            try:
                return await self._drive(effect.flow)
            finally:
                del self._claims[key]
                mine.set()
        method = getattr(self.idempotency, effect.method)
        if getattr(self.idempotency, "blocking", True):
            return await asyncio.to_thread(method, effect.key)
        return method(effect.key)

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
            while len(batch) < core.MAX_BATCH:
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
            deletes, changes = core.acknowledgement(self.settings.queue_url, outcomes)
            state.requeued_until = core.requeue_deadline(
                changes, asyncio.get_running_loop().time(), state.requeued_until
            )
            await asyncio.gather(
                *(self._delete(request) for request in deletes),
                self._change_visibility(changes, "setting the retry delay of"),
            )
        finally:
            for outcome in outcomes:
                self._leases.remove(outcome.receipt_handle)
            state.flushing -= len(outcomes)
            state.acknowledged(len(outcomes))
        self._recorder.report(self.on_metrics)

    async def _delete(self, request: dict[str, Any]) -> None:
        try:
            response = await self._client.delete_message_batch(**request)
        except Exception as exc:
            response = exc
        self._recorder.add(**core.deletion_counts(request, response))

    async def _change_visibility(
        self, changes: Sequence[tuple[str, int]], what: str
    ) -> list[tuple[str, int]]:
        applied: list[tuple[str, int]] = []
        for request in core.visibility_requests(self.settings.queue_url, changes):
            try:
                response = await self._client.change_message_visibility_batch(**request)
            except Exception as exc:
                response = exc
            applied.extend(core.visibility_applied(request, response, what))
        return applied

    async def _release(self, state: _Run, messages: Sequence[Mapping[str, Any]]) -> None:
        outcomes = core.released(messages, _STOPPING)
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
