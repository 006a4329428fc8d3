"""The event worker: SES events from the SQS queue (SES → SNS → SQS) into the proxy's database.

An :class:`~sesflow.consumers.AsyncSqsConsumer` receives, an :class:`~sesflow.EventRouter` hands every
parsed event to :func:`store_event`, which maps it to Mailgun items (:mod:`.mapping`) and stores them. A
message is deleted from the queue only after its items are committed; if storing fails, SQS delivers it again
later. Items have ids computed from the SES event, so a redelivered message adds nothing the second time.
"""

from __future__ import annotations

import logging
from typing import Any

from sesflow.consumers import AsyncSqsConsumer, ConsumerMetrics
from sesflow.events import ControlMessage, SesEvent
from sesflow.routing import EventRouter

from .mapping import rows_for_event
from .settings import Settings
from .store import Store

__all__ = ["EventWorker", "build_router"]

log = logging.getLogger("ghost_mailgun_proxy.worker")


def build_router(store: Store) -> EventRouter:
    """A router whose one handler stores every SES event of the queue as Mailgun items."""
    router = EventRouter()

    @router.on_any
    async def store_event(event: SesEvent) -> None:
        infos = await store.run(store.message_infos, event.message_id)
        rows = rows_for_event(event, infos)
        if rows:
            new = await store.run(store.add_events, rows)
            log.debug("%s %s: %d item(s), %d new", event.event_type.value, event.message_id, len(rows), new)

    @router.on_control
    def ignore_control(message: ControlMessage) -> None:
        log.info("control message on the event queue: %s", type(message).__name__)

    return router


class EventWorker:
    """Consumes ``settings.queue_url`` into ``store`` until :meth:`stop`.

    ``session`` is an aiobotocore (or aioboto3) session (a default one when omitted; tests pass one bound to
    moto).
    """

    def __init__(self, store: Store, settings: Settings, *, session: Any = None) -> None:
        if settings.queue_url is None:
            raise ValueError("the event worker needs a queue: set GHOST_PROXY_QUEUE_URL")
        verifier = None
        if settings.verify_sns:
            from sesflow.sources import SnsVerifier

            # The consumer judges each envelope's age at the queue's SentTimestamp, so the default replay
            # window holds even for messages that waited in the queue.
            verifier = SnsVerifier()
        self.router = build_router(store)
        self.consumer = AsyncSqsConsumer(
            settings.queue_url,
            self.router,
            session=session,
            region_name=settings.region,
            endpoint_url=settings.sqs_endpoint_url,
            verifier=verifier,
            wait_time_seconds=20,
            visibility_timeout=60,
        )

    async def run(self) -> ConsumerMetrics:
        """Consume until :meth:`stop`."""
        return await self.consumer.run()

    async def drain(self) -> ConsumerMetrics:
        """Consume until the queue is empty, then return (for tests and one-off catch-ups)."""
        return await self.consumer.run_until_empty(wait_time_seconds=0)

    def stop(self) -> None:
        """Ask :meth:`run` to return after the messages being handled are stored and acknowledged."""
        self.consumer.stop()
