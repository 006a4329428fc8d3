"""``SqsConsumer``: a blocking SQS worker over boto3, with an optional thread pool for handlers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..routing import EventRouter
from ..sources import MessageVerifier, mark_handled, sqs_message_item
from . import _core as core
from ._common import (
    ConsumerBase,
    ConsumerError,
    Settings,
    check_client_options,
    receive_failed,
    signal_handlers,
)
from ._core import Backoff, MessageOutcome, T
from .idempotency import IdempotencyStore
from .metrics import ConsumerMetrics

if TYPE_CHECKING:
    import boto3

__all__ = ["SqsConsumer"]

logger = logging.getLogger("sesflow.consumers")

_STOPPING = "the consumer is stopping"


class SqsConsumer(ConsumerBase):
    """Receives SES events from an SQS queue and routes them to an ``EventRouter``'s handlers.

    Each message is unwrapped (SNS envelope, raw SES record or EventBridge event; verified when ``verifier``
    is given), dispatched, and then deleted only if every selected handler succeeded. A message whose handler
    failed, or that could not be unwrapped, verified or parsed (the router's ``on_invalid`` hook receives it),
    stays on the queue and is made visible again after ``backoff``, so that the queue's redrive policy moves a
    poison message to the dead-letter queue. While handlers run, the visibility of their messages is extended
    (``heartbeat``). The per-message policy is the consumers' pure core, shared with
    ``AsyncSqsConsumer``; see the consumers documentation for the whole contract.

    Args:
        queue_url: the queue's URL.
        router: the handlers; they must be plain functions (use ``AsyncSqsConsumer`` for coroutines).
        client: a boto3 SQS client; otherwise one is made from ``session`` (or a default session) with
            ``region`` and ``endpoint_url``.
        verifier: verifies SNS envelopes (then every message must be a signed SNS envelope).
        idempotency: a store that makes a redelivered event skip its handlers (see ``.idempotency``).
        wait_time_seconds: long-poll time of each receive (0-20).
        batch_size: messages per receive (1-10).
        visibility_timeout: seconds a received message stays invisible (sent with each receive); the
            heartbeat extends it while a handler runs.
        backoff: how long a failed message waits before its next delivery.
        max_workers: handlers of one batch run in a pool of this many threads (1: in the calling thread).
            FIFO queues are always handled in order, one message at a time.
        heartbeat: extend the visibility of messages whose handlers are still running.
        on_metrics: called with a ``ConsumerMetrics`` snapshot after each batch.
    """

    def __init__(
        self,
        queue_url: str,
        router: EventRouter,
        *,
        client: Any = None,
        session: boto3.Session | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        verifier: MessageVerifier | None = None,
        idempotency: IdempotencyStore | None = None,
        wait_time_seconds: int = 20,
        batch_size: int = 10,
        visibility_timeout: int = 30,
        backoff: Backoff | None = None,
        max_workers: int = 1,
        heartbeat: bool = True,
        on_metrics: Callable[[ConsumerMetrics], object] | None = None,
    ) -> None:
        check_client_options(router, client, session, region, endpoint_url)
        if router.has_async_handlers:
            raise ConsumerError(
                "this router has coroutine handlers or hooks, which SqsConsumer cannot run; "
                "use AsyncSqsConsumer (pip install 'sesflow[async]')"
            )
        if max_workers < 1:
            raise ConsumerError(f"max_workers must be at least 1, got {max_workers}")
        settings = Settings(queue_url, wait_time_seconds, batch_size, visibility_timeout, backoff, heartbeat)
        super().__init__(settings, router, verifier, idempotency, on_metrics)
        self.max_workers = max_workers
        if client is None:
            import boto3
            from botocore.config import Config

            session = session if session is not None else boto3.Session()
            client = session.client(
                "sqs",
                region_name=region,
                endpoint_url=endpoint_url,
                config=Config(max_pool_connections=max(10, max_workers + 2)),
            )
        self.client = client
        self._stopping = threading.Event()
        self._requeued_until = 0.0  # monotonic time when the last soon-visible failed message is back
        self._leases_lock = threading.Lock()
        self._claims: dict[str, threading.Event] = {}
        self._claims_lock = threading.Lock()

    # --- public -----------------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        """True once ``stop`` was called (or a stop signal arrived) and until the next run starts."""
        return self._stopping.is_set()

    def stop(self) -> None:
        """Ask a running ``run`` to stop: it receives nothing more once the current receive returns,
        finishes the batch in flight, deletes what succeeded and returns. Safe from any thread or a signal
        handler."""
        self._stop_meant_for = self._runs_ended
        self._stopping.set()

    def run(
        self, *, max_messages: int | None = None, install_signal_handlers: bool = False
    ) -> ConsumerMetrics:
        """Receive and handle messages until ``stop`` (or ``max_messages`` received); returns the metrics.

        ``install_signal_handlers=True`` makes SIGINT and SIGTERM stop the consumer gracefully (main thread
        only); a second signal gets the previous behaviour (exit at once). A receive error that a retry cannot
        fix (no such queue, access denied) raises ``ConsumerError``; others are retried with a pause.

        An exception that is not an ``Exception`` (``KeyboardInterrupt``, ``SystemExit``) raised while a
        message is handled stops the consumer: what is in flight is acknowledged, then ``run`` raises it.
        """
        return self._run(self.settings.wait_time_seconds, max_messages, False, install_signal_handlers)

    def run_until_empty(
        self,
        *,
        max_messages: int | None = None,
        wait_time_seconds: int = 1,
        install_signal_handlers: bool = False,
    ) -> ConsumerMetrics:
        """Like ``run``, but stop as soon as a receive (long-polling ``wait_time_seconds``) finds the
        queue empty: for scripts, backfills and tests. Messages left invisible by a failure are not waited
        for."""
        return self._run(wait_time_seconds, max_messages, True, install_signal_handlers)

    def poll_once(self, *, wait_time_seconds: int | None = None) -> list[MessageOutcome]:
        """Receive one batch, handle it and acknowledge it; returns what happened to each message."""
        wait = self.settings.wait_time_seconds if wait_time_seconds is None else wait_time_seconds
        with self._heartbeat(), self._pool() as pool:
            messages = self._receive(self.settings.batch_size, wait)
            return self._handle_batch(messages, pool) if messages else []

    def close(self) -> None:
        """Close the SQS client's connections."""
        close = getattr(self.client, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> SqsConsumer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the loop ---------------------------------------------------------------------------------------

    def _run(self, wait: int, max_messages: int | None, until_empty: bool, signals: bool) -> ConsumerMetrics:
        if max_messages is not None and max_messages < 1:
            raise ConsumerError(f"max_messages must be at least 1, got {max_messages}")
        self._requeued_until = 0.0
        if self._stop_meant_for != self._runs_ended:
            self._stopping.clear()  # left over from an earlier run; a stop() made before this one is kept
        try:
            return self._loop(wait, max_messages, until_empty, signals)
        finally:
            self._runs_ended += 1

    def _loop(self, wait: int, max_messages: int | None, until_empty: bool, signals: bool) -> ConsumerMetrics:
        remaining = max_messages
        with signal_handlers(self.stop, signals), self._heartbeat(), self._pool() as pool:
            while not self._stopping.is_set():
                count = (
                    self.settings.batch_size
                    if remaining is None
                    else min(self.settings.batch_size, remaining)
                )
                if count == 0:
                    break
                messages = self._receive(count, wait)
                if messages is None:
                    continue  # a retryable error; paused already
                if self._stopping.is_set():
                    self._release(messages, _STOPPING)
                    break
                if not messages:
                    if until_empty:
                        pending = self._requeued_until - time.monotonic()
                        if pending <= 0:
                            break
                        # A failed message is about to come back: it is part of the work at hand.
                        if self._stopping.wait(pending):
                            break
                    continue
                self._handle_batch(messages, pool)
                if remaining is not None:
                    remaining -= len(messages)
        logger.info("SQS consumer of %s stopped: %s", self.settings.queue_url, self.metrics)
        return self.metrics

    @contextmanager
    def _pool(self) -> Iterator[ThreadPoolExecutor | None]:
        if self.max_workers == 1 or self.fifo:
            yield None
            return
        with ThreadPoolExecutor(self.max_workers, thread_name_prefix="sesflow-handler") as pool:
            yield pool

    def _receive(self, count: int, wait: int) -> list[Mapping[str, Any]] | None:
        request = core.receive_request(
            self.settings.queue_url,
            max_messages=count,
            wait_time_seconds=wait,
            visibility_timeout=self.settings.visibility_timeout,
        )
        failures = 0
        while True:
            try:
                response = self.client.receive_message(**request)
            except Exception as exc:
                pause = receive_failed(self.settings.queue_url, exc, failures)
                failures += 1
                if self._stopping.wait(pause):
                    return None
                continue
            messages: list[Mapping[str, Any]] = response.get("Messages") or []
            self._recorder.received(len(messages))
            return messages

    def _handle_batch(
        self, messages: Sequence[Mapping[str, Any]], pool: ThreadPoolExecutor | None
    ) -> list[MessageOutcome]:
        """Handle a batch (in order for FIFO or without a pool) and acknowledge it; raise, once the batch is
        acknowledged, what stopped the consumer (an exception that is not an ``Exception``), if anything."""
        received_at = time.monotonic()
        with self._leases_lock:
            for message in messages:
                handle = message.get("ReceiptHandle")
                if isinstance(handle, str):
                    self._leases.add(handle, str(message.get("MessageId", "")), received_at)
        gate = core.FifoGate() if self.fifo else None
        stopped_by: list[BaseException] = []

        def one(message: Mapping[str, Any]) -> tuple[MessageOutcome, float] | None:
            if stopped_by:  # not started: given back
                return core.released([message], _STOPPING)[0], time.monotonic() - received_at
            try:
                outcome = self._drive(self._policy.handle(message, gate))
            except BaseException as exc:  # the flow lets only these out: stop, leave this message as it is
                stopped_by.append(exc)
                self.stop()
                return None
            return outcome, time.monotonic() - received_at

        ran = map(one, messages) if pool is None else pool.map(one, messages)
        finished = [done for done in ran if done is not None]
        outcomes = [outcome for outcome, _ in finished]
        self._acknowledge(outcomes)
        with self._leases_lock:
            for message in messages:
                self._leases.remove(message.get("ReceiptHandle"))
        self._recorder.finished(finished)
        self._recorder.report(self.on_metrics)
        if stopped_by:
            raise stopped_by[0]
        return outcomes

    # --- the effects of the per-message flow --------------------------------------------------------------

    def _drive(self, flow: core.Flow[T]) -> T:
        driver = core.Driver(flow)
        while driver.effect is not None:
            try:
                value = self._perform(driver.effect)
            except Exception as exc:
                driver.throw(exc)
            else:
                driver.send(value)
        return driver.result

    def _perform(self, effect: core.Effect) -> Any:
        if isinstance(effect, core.Dispatch):
            return self.router.dispatch_item(effect.item)
        if isinstance(effect, core.Verify):
            return sqs_message_item(effect.message, verifier=self.verifier)
        if isinstance(effect, core.Claim):
            with self._claim(effect.key):
                return self._drive(effect.flow)
        if isinstance(effect, core.MarkHandled):
            return mark_handled(self.verifier, effect.item)
        return getattr(self.idempotency, effect.method)(effect.key)

    @contextmanager
    def _claim(self, key: str) -> Iterator[None]:
        """One thread at a time per event: a second delivery of an event in flight waits for the first."""
        while True:
            with self._claims_lock:
                held = self._claims.get(key)
                if held is None:
                    mine = self._claims[key] = threading.Event()
                    break
            held.wait()
        try:
            yield
        finally:
            with self._claims_lock:
                del self._claims[key]
            mine.set()

    # --- acknowledgements -------------------------------------------------------------------------------

    def _acknowledge(self, outcomes: Sequence[MessageOutcome]) -> None:
        deletes, changes = core.acknowledgement(self.settings.queue_url, outcomes)
        for request in deletes:
            try:
                response = self.client.delete_message_batch(**request)
            except Exception as exc:
                response = exc
            self._recorder.add(**core.deletion_counts(request, response))
        self._requeued_until = core.requeue_deadline(changes, time.monotonic(), self._requeued_until)
        self._change_visibility(changes, "setting the retry delay of")

    def _change_visibility(self, changes: Sequence[tuple[str, int]], what: str) -> list[tuple[str, int]]:
        """Send the changes; returns those SQS applied."""
        applied: list[tuple[str, int]] = []
        for request in core.visibility_requests(self.settings.queue_url, changes):
            try:
                response = self.client.change_message_visibility_batch(**request)
            except Exception as exc:
                response = exc
            applied.extend(core.visibility_applied(request, response, what))
        return applied

    def _release(self, messages: Sequence[Mapping[str, Any]], reason: str) -> None:
        outcomes = core.released(messages, reason)
        self._change_visibility([(o.receipt_handle, 0) for o in outcomes if o.receipt_handle], "releasing")
        self._recorder.finished((o, 0.0) for o in outcomes)

    # --- heartbeat --------------------------------------------------------------------------------------

    @contextmanager
    def _heartbeat(self) -> Iterator[None]:
        if not self.settings.heartbeat:
            yield
            return
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self._leases.check_interval):
                now = time.monotonic()
                with self._leases_lock:
                    due = self._leases.due(now)
                if not due:
                    continue
                applied = self._change_visibility(due, "extending the visibility of")
                with self._leases_lock:
                    # Also the refused ones: retrying them at once would only fail again.
                    self._leases.extended(due, now)
                self._recorder.add(extended=len(applied))
                logger.debug("extended the visibility of %d message(s) still being handled", len(applied))

        thread = threading.Thread(target=beat, name="sesflow-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
