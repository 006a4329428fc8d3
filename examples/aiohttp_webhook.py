"""An SNS HTTPS subscription endpoint in aiohttp, mounted as a sub-application at /hooks/ses.

    SES_TOPIC_ARN=arn:aws:sns:eu-west-1:123456789012:ses-events python examples/aiohttp_webhook.py

The sub-application verifies every message, confirms the subscription (for that topic only) and dispatches
SES events to the handlers below; see docs/webhooks.md for the status codes it answers.
"""

from __future__ import annotations

import os

from aiohttp import web

from sesflow.events import BounceEvent, ComplaintEvent
from sesflow.integrations.aiohttp import sns_webhook_app
from sesflow.routing import EventRouter
from sesflow.sources.sns_verify import SnsVerifier

SUPPRESSED: web.AppKey[set[str]] = web.AppKey("suppressed", set)


def create_app(verifier: SnsVerifier | None = None) -> web.Application:
    """The application; tests pass a verifier of their own."""
    if verifier is None:
        verifier = SnsVerifier(topic_arns=[os.environ["SES_TOPIC_ARN"]])
    app = web.Application()
    app[SUPPRESSED] = set()  # your database, in a real application
    router = EventRouter()

    @router.on_bounce(bounce_type="Permanent")
    async def hard_bounce(event: BounceEvent) -> None:
        app[SUPPRESSED].update(address.lower() for address in event.recipients)

    @router.on_complaint
    async def complaint(event: ComplaintEvent) -> None:
        if event.should_suppress:
            app[SUPPRESSED].update(address.lower() for address in event.recipients)

    app.add_subapp("/hooks", sns_webhook_app(router, verifier, path="/ses"))
    return app


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=8080)
