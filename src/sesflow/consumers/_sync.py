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
from ..sources import MessageVerifier, SourceItem, sqs_message_item
from ._common import ConsumerError, Settings, api_error, key_for, requeue_deadline, signal_handlers
from ._core import (
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

if TYPE_CHECKING:
    import boto3

__all__ = ["SqsConsumer"]

logger = logging.getLogger("sesflow.consumers")

_RETRY_PAUSES = (1.0, 2.0, 5.0, 10.0, 30.0)


class SqsConsumer:
    """Receives SES events from an SQS queue and routes them to an ``EventRouter``'s handlers.

    Each message is unwrapped (SNS envelope, raw SES record or EventBridge event; verified when ``verifier``
    is given), dispatched, and then deleted only if every selected handler succeeded. A message whose handler
    failed, or that could not be unwrapped, verified or parsed (the router's ``on_invalid`` hook receives it),
    stays on the queue and is made visible again after ``backoff``, so that the queue's redrive policy moves a
    poison message to the dead-letter queue. While handlers run, the visibility of their messages is extended
    (``heartbeat``). See the consumers documentation for the whole contract.

    Args:
        queue_url: the queue's URL.
        router: the handlers; they must be plain functions (use ``AsyncSqsConsumer`` for coroutines).
        client: a boto3 SQS client; otherwise one is made from ``session`` (or a default session) with
            ``region_name`` and ``endpoint_url``.
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
        region_name: str | None = None,
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
        if not isinstance(router, EventRouter):
            raise ConsumerError(f"router must be an EventRouter, got {type(router).__name__}")
        if router.has_async_handlers:
            raise ConsumerError(
                "this router has coroutine handlers or hooks, which SqsConsumer cannot run; "
                "use AsyncSqsConsumer (pip install 'sesflow[async]')"
            )
        if max_workers < 1:
            raise ConsumerError(f"max_workers must be at least 1, got {max_workers}")
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
        self.router = router
        self.verifier = verifier
        self.idempotency = idempotency
        self.max_workers = max_workers
        self.on_metrics = on_metrics
        self.fifo = is_fifo_queue(queue_url)
        if client is None:
            import boto3
            from botocore.config import Config

            session = session if session is not None else boto3.Session()
            client = session.client(
                "sqs",
                region_name=region_name,
                endpoint_url=endpoint_url,
                config=Config(max_pool_connections=max(10, max_workers + 2)),
            )
        self.client = client
        self._recorder = MetricsRecorder()
        self._stopping = threading.Event()
        self._runs_ended = 0  # a stop() made while run N is going (or before it starts) is meant for run N
        self._stop_meant_for = -1
        self._requeued_until = 0.0  # monotonic time when the last soon-visible failed message is back
        self._leases = Leases(visibility_timeout)
        self._leases_lock = threading.Lock()
        self._claims: dict[str, threading.Event] = {}
        self._claims_lock = threading.Lock()

    # --- public -----------------------------------------------------------------------------------------

    @property
    def metrics(self) -> ConsumerMetrics:
        """The counters so far."""
        return self._recorder.snapshot()

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
                    self._release(messages, "the consumer is stopping")
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
        request = receive_request(
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
                retryable, what = api_error(exc)
                if not retryable:
                    raise ConsumerError(f"receiving from {self.settings.queue_url} failed: {what}") from exc
                pause = _RETRY_PAUSES[min(failures, len(_RETRY_PAUSES) - 1)]
                failures += 1
                logger.warning(
                    "receiving from %s failed (%s); retrying in %.0f s", request["QueueUrl"], what, pause
                )
                if self._stopping.wait(pause):
                    return None
                continue
            messages: list[Mapping[str, Any]] = response.get("Messages") or []
            self._recorder.received(len(messages))
            return messages

    def _handle_batch(
        self, messages: Sequence[Mapping[str, Any]], pool: ThreadPoolExecutor | None
    ) -> list[MessageOutcome]:
        received_at = time.monotonic()
        with self._leases_lock:
            for message in messages:
                handle = message.get("ReceiptHandle")
                if isinstance(handle, str):
                    self._leases.add(handle, str(message.get("MessageId", "")), received_at)
        finished: list[tuple[MessageOutcome, float]] = []
        if self.fifo:
            failed_groups: set[str] = set()
            for message in messages:
                item = sqs_message_item(message, verifier=self.verifier)
                if fifo_blocked(item, failed_groups):
                    outcome = release_outcome(item, "an earlier message of its FIFO group did not succeed")
                else:
                    outcome = self._process(item)
                if not outcome.ok and isinstance(item.meta.get("message_group_id"), str):
                    failed_groups.add(item.meta["message_group_id"])
                finished.append((outcome, time.monotonic() - received_at))
        elif pool is None:
            for message in messages:
                outcome = self._process(sqs_message_item(message, verifier=self.verifier))
                finished.append((outcome, time.monotonic() - received_at))
        else:

            def one(message: Mapping[str, Any]) -> tuple[MessageOutcome, float]:
                outcome = self._process(sqs_message_item(message, verifier=self.verifier))
                return outcome, time.monotonic() - received_at

            finished = list(pool.map(one, messages))
        outcomes = [outcome for outcome, _ in finished]
        self._acknowledge(outcomes)
        with self._leases_lock:
            for outcome in outcomes:
                self._leases.remove(outcome.receipt_handle)
        self._recorder.finished(finished)
        if self.on_metrics is not None:
            try:
                self.on_metrics(self._recorder.snapshot())
            except Exception:
                logger.exception("the on_metrics callback failed")
        return outcomes

    def _process(self, item: SourceItem) -> MessageOutcome:
        """Dispatch one item (unless its event was already handled) and decide what to do with its message."""
        backoff = self.settings.backoff
        store = self.idempotency
        key = key_for(item, store)
        if key is None or store is None:
            return decide(item, self.router.dispatch_item(item), backoff=backoff)
        with self._claim(key):
            try:
                if store.seen(key):
                    logger.debug("message %s repeats an event already handled; deleting it", item.item_id)
                    return decide(item, None, backoff=backoff, key=key)
            except Exception as exc:
                logger.exception("the idempotency store failed; message %s is left for a retry", item.item_id)
                return failed_outcome(item, f"idempotency store: {exc!r}", backoff=backoff, key=key)
            result = self.router.dispatch_item(item)
            if result.ok:
                try:
                    store.mark(key)
                except Exception:
                    # The handlers succeeded; deleting is still right. Only a later repeat may run them again.
                    logger.exception("marking event of message %s as handled failed", item.item_id)
            return decide(item, result, backoff=backoff, key=key)

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
        for request in delete_requests(self.settings.queue_url, outcomes):
            total = len(request["Entries"])
            try:
                response = self.client.delete_message_batch(**request)
            except Exception as exc:
                logger.error("deleting %d message(s) failed (%s); they will be delivered again", total, exc)
                self._recorder.add(delete_errors=total)
                continue
            failures = batch_failures(request, response)
            for _, reason in failures:
                logger.warning("SQS refused to delete a message (%s); it will be delivered again", reason)
            self._recorder.add(deleted=total - len(failures), delete_errors=len(failures))
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
        self._requeued_until = requeue_deadline(changes, time.monotonic(), self._requeued_until)
        self._change_visibility(changes, "setting the retry delay of")

    def _change_visibility(self, changes: Sequence[tuple[str, int]], what: str) -> list[tuple[str, int]]:
        """Send the changes; returns those SQS applied."""
        applied: list[tuple[str, int]] = []
        for request in visibility_requests(self.settings.queue_url, changes):
            entries = request["Entries"]
            try:
                response = self.client.change_message_visibility_batch(**request)
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

    def _release(self, messages: Sequence[Mapping[str, Any]], reason: str) -> None:
        items = [sqs_message_item(m) for m in messages]
        outcomes = [release_outcome(item, reason) for item in items]
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
