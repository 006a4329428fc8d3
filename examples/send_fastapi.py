"""Sending email from FastAPI routes with ``AsyncSesClient``, opened once in the app's lifespan.

One client for the whole process: it keeps the connection pool, the configuration-set check (done once, then
cached) and the rate limit shared by every request. Routes only build an ``Email`` and await ``send``:

- ``POST /welcome`` sends one message with a one-click unsubscribe header and a tag for the flow;
- ``POST /announcements`` sends one stored template to many recipients with ``send_bulk`` (50 per call) and
  answers with the outcome of each recipient, and why it failed: 200 when every recipient was accepted,
  207 when only some were, 502 when none was.

Errors map to HTTP: an invalid message is a 422 naming the field; throttling after sesflow's own retries is a
503 with ``Retry-After``; any other refusal by SES is a 502 carrying SES's error code.

Run it (``pip install 'sesflow[async,fastapi]'``)::

    export SESFLOW_CONFIGURATION_SET=my-events SESFLOW_SENDER="Shop <news@shop.example.com>"
    uvicorn examples.send_fastapi:app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from pydantic import BaseModel

from sesflow.sending import (
    AsyncSesClient,
    Destination,
    Email,
    ListUnsubscribe,
    SesError,
    Template,
    Throttled,
    ValidationError,
)


class Signup(BaseModel):
    email: str
    name: str


class Sent(BaseModel):
    message_id: str
    configuration_set: str | None


class Announcement(BaseModel):
    template: str
    recipients: list[str]
    data: dict[str, Any] = {}


class RecipientOutcome(BaseModel):
    email: str
    status: str
    message_id: str | None
    error: str | None = None  # why SES did not accept it: its error code and words


def create_app(
    *,
    configuration_set: str | None = None,
    sender: str | None = None,
    unsubscribe_url: str = "https://shop.example.com/unsubscribe",
    client_options: Mapping[str, Any] | None = None,
) -> FastAPI:
    """The app; options default to ``SESFLOW_*`` environment variables, ``client_options`` to the client."""
    chosen_set = configuration_set or os.environ.get("SESFLOW_CONFIGURATION_SET")
    from_address = sender or os.environ.get("SESFLOW_SENDER", "Shop <news@shop.example.com>")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncSesClient(chosen_set, **dict(client_options or {})) as ses:
            app.state.ses = ses
            yield

    app = FastAPI(title="sesflow sending example", lifespan=lifespan)

    def client(request: Request) -> AsyncSesClient:
        ses: AsyncSesClient = request.app.state.ses
        return ses

    @app.post("/welcome", status_code=202)
    async def welcome(signup: Signup, request: Request) -> Sent:
        try:
            message = Email(
                from_address,
                signup.email,
                subject=f"Welcome, {signup.name}",
                text=f"Hello {signup.name}, thanks for signing up.",
                html=f"<p>Hello {signup.name}, thanks for signing up.</p>",
                tags={"flow": "welcome"},
                list_unsubscribe=ListUnsubscribe(url=unsubscribe_url),
            )
        except ValidationError as exc:
            raise HTTPException(422, detail={"field": exc.field, "reason": exc.reason}) from exc
        try:
            result = await client(request).send(message)
        except Throttled as exc:
            raise HTTPException(
                503, detail="sending is throttled, try again", headers={"Retry-After": "1"}
            ) from exc
        except SesError as exc:
            raise HTTPException(502, detail={"code": exc.code, "message": exc.ses_message}) from exc
        return Sent(message_id=result.message_id, configuration_set=result.configuration_set)

    @app.post("/announcements")
    async def announce(
        announcement: Announcement, request: Request, response: Response
    ) -> list[RecipientOutcome]:
        try:
            destinations = [Destination(address) for address in announcement.recipients]
            template = Template(announcement.template, data=announcement.data)
            result = await client(request).send_bulk(
                template, destinations, sender=from_address, tags={"flow": "announcement"}
            )
        except ValidationError as exc:
            raise HTTPException(422, detail={"field": exc.field, "reason": exc.reason}) from exc
        except (
            SesError
        ) as exc:  # raised only before anything was sent (e.g. the configuration set is missing)
            raise HTTPException(502, detail={"code": exc.code, "message": exc.ses_message}) from exc
        outcomes = [
            RecipientOutcome(
                email=address,
                status=entry.status.value,
                message_id=entry.message_id,
                error=None if entry.error is None else f"{entry.error.code}: {entry.error.ses_message}",
            )
            for address, entry in zip(announcement.recipients, result, strict=True)
        ]
        if result.failed:  # 207: some were sent, look at each; 502: SES accepted none
            response.status_code = 207 if result.succeeded else 502
        return outcomes

    return app


app = create_app()
