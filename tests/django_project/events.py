"""The test project's event router: plain-function handlers that use the ORM, as a Django app's would."""

from __future__ import annotations

import os

from sesflow.consumers import MemoryIdempotencyStore, SqliteIdempotencyStore
from sesflow.events import BounceEvent, ComplaintEvent
from sesflow.routing import EventRouter

from .models import Suppression

router = EventRouter()


@router.on_bounce
def suppress_bounce(event: BounceEvent) -> None:
    if any(address.startswith("fail@") for address in event.recipients):  # how a test makes it fail
        raise RuntimeError("the suppression list is down")
    for address in event.recipients:
        Suppression.objects.create(address=address, reason="bounce", message_id=event.mail.message_id)


@router.on_complaint
def suppress_complaint(event: ComplaintEvent) -> None:
    for address in event.recipients:
        Suppression.objects.create(address=address, reason="complaint", message_id=event.mail.message_id)


def idempotency_store() -> MemoryIdempotencyStore | SqliteIdempotencyStore:
    """The worker's store: SQLite beside the database when one is named, else in memory."""
    path = os.environ.get("SESFLOW_TEST_DB")
    return SqliteIdempotencyStore(path + ".idempotency") if path else MemoryIdempotencyStore()


async_router = EventRouter()
"""For the async view: a coroutine handler with Django's async ORM."""


@async_router.on_bounce
async def suppress_bounce_async(event: BounceEvent) -> None:
    if any(address.startswith("fail@") for address in event.recipients):
        raise RuntimeError("the suppression list is down")
    for address in event.recipients:
        await Suppression.objects.acreate(address=address, reason="bounce", message_id=event.mail.message_id)
