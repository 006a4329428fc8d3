"""An SNS HTTPS subscription endpoint in FastAPI: verified SES events to typed handlers.

    SES_TOPIC_ARN=arn:aws:sns:eu-west-1:123456789012:ses-events uvicorn examples.fastapi_webhook:app

Subscribe ``https://<your host>/sns`` to the topic: the endpoint confirms the subscription itself (only for
the topic in ``SES_TOPIC_ARN``), verifies every message's signature, and answers SNS so that it retries only
what a retry can fix (see docs/webhooks.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sesflow.events import BounceEvent, ComplaintEvent, DeliveryEvent
from sesflow.integrations.fastapi import sns_webhook_router
from sesflow.routing import EventRouter
from sesflow.sources import SourceItem
from sesflow.sources.sns_verify import SnsVerifier

log = logging.getLogger("ses-webhook")

SUPPRESSED: set[str] = set()  # your database, in a real application
DELIVERED: list[str] = []


def dead_letter(item: SourceItem) -> None:
    log.error("SNS message %s carried something that is not an SES event: %s", item.item_id, item.error)


router = EventRouter(on_invalid=dead_letter)


@router.on_bounce(bounce_type="Permanent")
async def hard_bounce(event: BounceEvent) -> None:
    SUPPRESSED.update(address.lower() for address in event.recipients)


@router.on_complaint
async def complaint(event: ComplaintEvent) -> None:
    if event.should_suppress:
        SUPPRESSED.update(address.lower() for address in event.recipients)


@router.on_delivery
def delivered(event: DeliveryEvent) -> None:
    DELIVERED.append(event.message_id)


MISSING_TOPIC = (
    "SES_TOPIC_ARN is not set: export SES_TOPIC_ARN=arn:aws:sns:REGION:ACCOUNT:TOPIC, the topic this "
    "endpoint is subscribed to (only its messages are accepted), and start again"
)


@asynccontextmanager
async def _refuse_to_start(app: FastAPI) -> AsyncIterator[None]:
    raise RuntimeError(MISSING_TOPIC)
    yield  # pragma: no cover - never reached: the server stops at startup, saying what to set


def create_app(verifier: SnsVerifier | None = None) -> FastAPI:
    """The application; tests pass a verifier of their own.

    Without one, the topic comes from ``SES_TOPIC_ARN``; when it is not set the server fails at startup and
    says so, rather than start and answer every request with an error.
    """
    topic = os.environ.get("SES_TOPIC_ARN")
    if verifier is None and not topic:
        return FastAPI(title="SES events", lifespan=_refuse_to_start)
    if verifier is None:
        verifier = SnsVerifier(topic_arns=[str(topic)])
    app = FastAPI(title="SES events")
    app.include_router(sns_webhook_router(router, verifier, path="/sns"))
    return app


# For `uvicorn examples.fastapi_webhook:app`.
app = create_app()

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(create_app(), host="127.0.0.1", port=8000)
