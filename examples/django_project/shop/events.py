"""What the shop does with SES's events: one router, used by the webhook view and by sesflow_consume."""

from pathlib import Path

from django.conf import settings

from sesflow.consumers import SqliteIdempotencyStore
from sesflow.events import BounceEvent, ComplaintEvent
from sesflow.routing import EventRouter

from .models import Suppression

router = EventRouter()


@router.on_bounce(bounce_type="Permanent")
def suppress_hard_bounces(event: BounceEvent) -> None:
    for address in event.recipients:
        Suppression.objects.get_or_create(
            address=address.lower(),
            defaults={
                "reason": f"bounce:{event.bounce.bounce_sub_type}",
                "message_id": event.mail.message_id,
            },
        )


@router.on_complaint
def suppress_complaints(event: ComplaintEvent) -> None:
    for address in event.recipients:
        Suppression.objects.get_or_create(
            address=address.lower(), defaults={"reason": "complaint", "message_id": event.mail.message_id}
        )


def idempotency_store() -> SqliteIdempotencyStore:
    """Remembers handled events beside the database, so a redelivered event is not handled twice."""
    return SqliteIdempotencyStore(Path(settings.DATABASES["default"]["NAME"]).with_suffix(".events.sqlite3"))
