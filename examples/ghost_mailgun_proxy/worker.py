"""The event worker: SES events from the SQS queue (SES → SNS → SQS) into the proxy's database.

An :class:`~sesflow.consumers.AsyncSqsConsumer` receives, an :class:`~sesflow.EventRouter` hands every
parsed event to :func:`store_event`, which maps it to Mailgun items (:mod:`.mapping`) and stores them. A
message is deleted from the queue only after its items are committed; if storing fails, SQS delivers it again
later. Items have ids computed from the SES event, so a redelivered message adds nothing the second time.

An event of a message the proxy tagged with its send id (``mailgun-send-id``) is also proof that SES
accepted that message: its recipient is settled ``sent`` in the same transaction (:mod:`.reconcile`), which
is how a send whose answer was lost (the proxy killed mid-request) is found again instead of being resent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sesflow.consumers import AsyncSqsConsumer, ConsumerMetrics
from sesflow.events import ControlMessage, SesEvent
from sesflow.routing import EventRouter

from .crashpoints import crash_point
from .mapping import rows_for_event
from .reconcile import parse_send_tag
from .settings import Settings
from .store import Store

__all__ = ["EventWorker", "build_router"]

log = logging.getLogger("ghost_mailgun_proxy.worker")

# How long the catch-up receive waits on an empty queue before the worker counts it as caught up.
_CATCH_UP_WAIT = 1


def build_router(store: Store, on_settled: Callable[[str], None] | None = None) -> EventRouter:
    """A router whose one handler stores every SES event of the queue as Mailgun items, and settles the
    recipient of a tagged message; ``on_settled(batch_id)`` is called after a recipient is settled."""
    router = EventRouter()

    @router.on_any
    async def store_event(event: SesEvent) -> None:
        tag = parse_send_tag(event.tags)
        infos = await store.run(store.message_infos, event.message_id, None if tag is None else tag[0])
        rows = rows_for_event(event, infos)
        if tag is None:
            if rows:
                new = await store.run(store.add_events, rows)
                log.debug(
                    "%s %s: %d item(s), %d new", event.event_type.value, event.message_id, len(rows), new
                )
            return
        found = await store.run(store.record_event, tag[0], event.message_id, rows, event.event_type.value)
        if found.outcome == "settle":
            assert found.batch_id is not None
            crash_point("event-settled")
            if found.previous != "sending":
                log.info(
                    "%s of %s is sent (its %s event came, attempt %d, SES id %s): not sending it again",
                    found.address,
                    found.batch_id,
                    event.event_type.value,
                    tag[1],
                    event.message_id,
                )
            if on_settled is not None:
                on_settled(found.batch_id)
        elif found.outcome == "duplicate":
            log.error(
                "%s of %s got the message twice: SES accepted attempt %d (%s) after the window; "
                "raise GHOST_PROXY_SEND_EVENT_WINDOW",
                found.address,
                found.batch_id,
                tag[1],
                event.message_id,
            )

    @router.on_control
    def ignore_control(message: ControlMessage) -> None:
        log.info("control message on the event queue: %s", type(message).__name__)

    return router


class EventWorker:
    """Consumes ``settings.queue_url`` into ``store`` until :meth:`stop`.

    ``session`` is an aiobotocore (or aioboto3) session (a default one when omitted; tests pass one bound to
    moto). :attr:`ready_at` says since when the worker has been caught up with its queue: the sender counts
    the wait for a missing ``Send`` event from then.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        session: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if settings.queue_url is None:
            raise ValueError("the event worker needs a queue: set GHOST_PROXY_QUEUE_URL")
        verifier = None
        if settings.verify_sns:
            from sesflow.sources import SnsVerifier

            # The consumer judges each envelope's age at the queue's SentTimestamp, so the default replay
            # window holds even for messages that waited in the queue.
            verifier = SnsVerifier()
        self.on_settled: Callable[[str], None] | None = None
        self.router = build_router(store, lambda batch_id: self._settled(batch_id))
        self.consumer = AsyncSqsConsumer(
            settings.queue_url,
            self.router,
            session=session,
            region=settings.region,
            endpoint_url=settings.sqs_endpoint_url,
            verifier=verifier,
            wait_time_seconds=20,
            visibility_timeout=settings.queue_visibility_timeout,
        )
        self.ready_at: float | None = None
        """When the worker last caught up with the queue (a receive found it empty), while it runs; None
        before that and after it stops."""
        self._clock = clock
        self._stopped = False

    def _settled(self, batch_id: str) -> None:
        if self.on_settled is not None:
            self.on_settled(batch_id)

    async def run(self) -> ConsumerMetrics:
        """Catch up with the queue, then consume until :meth:`stop`."""
        self.ready_at = None
        try:
            await self.consumer.run_until_empty(wait_time_seconds=_CATCH_UP_WAIT)
            if self._stopped:
                return self.consumer.metrics
            self.ready_at = self._clock()
            log.info("the event worker has caught up with its queue")
            return await self.consumer.run()
        finally:
            self.ready_at = None

    async def drain(self) -> ConsumerMetrics:
        """Consume until the queue is empty, then return (for tests and one-off catch-ups); the worker
        counts as caught up from then on."""
        metrics = await self.consumer.run_until_empty(wait_time_seconds=0)
        self.ready_at = self._clock()
        return metrics

    def stop(self) -> None:
        """Ask :meth:`run` to return after the messages being handled are stored and acknowledged."""
        self._stopped = True
        self.consumer.stop()
