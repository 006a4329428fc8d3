"""The ASGI app: the part of Mailgun's API that Ghost uses, served at the root of its host.

- ``POST /v3/{domain}/messages``: store the batch, answer ``{"id": "<...>", "message": "Queued. Thank you."}``
  at once, send in the background (:mod:`.sender`).
- ``GET /v3/{domain}/events`` and ``/v3/{domain}/events/{token}``: the stored events, filtered and paged
  (:mod:`.query`), with absolute ``paging`` URLs.
- ``DELETE /v3/{domain}/{bounces|complaints|unsubscribes}/{address}``: lift the proxy's suppression.

Every route except ``GET /healthz`` needs HTTP Basic auth with user ``api`` and the configured key.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

import attrs
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sesflow.sending import AsyncSesClient, ConfigurationSetNotFound, SesError, ValidationError, build_mime

from .compose import compose
from .mailgun import MAX_RECIPIENTS, MailgunRequestError, parse_message_form
from .mapping import Suppression
from .provision import destinations_request, send_event_destinations
from .query import PageRequest, QueryError, decode_token, paging, parse_query
from .reconcile import DeliveryMode, delivery_mode
from .sender import BatchSender
from .settings import Settings
from .store import Store
from .worker import EventWorker

__all__ = ["MailgunError", "Proxy", "create_app"]

log = logging.getLogger("ghost_mailgun_proxy")

_REMOVED: Final[dict[str, tuple[Suppression, str]]] = {
    "bounces": ("bounces", "Bounced address has been removed"),
    "complaints": ("complaints", "Spam complaint has been removed"),
    "unsubscribes": ("unsubscribes", "Unsubscribe event has been removed"),
}
_MAX_PART: Final = 64 * 1024 * 1024
_WORKER_RESTART: Final = 30.0


class MailgunError(Exception):
    """An error answered the way Mailgun answers: ``{"message": ...}`` with ``status``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


@attrs.define
class Proxy:
    """What a running app holds (``app.state.proxy``)."""

    settings: Settings
    store: Store
    sender: BatchSender
    worker: EventWorker | None
    worker_task: asyncio.Task[None] | None = None


def _check_auth(request: Request, key: str) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    user = password = ""
    if scheme.lower() == "basic":
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            user, _, password = (
                base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
            )
    ok = hmac.compare_digest(user.encode(), b"api") & hmac.compare_digest(password.encode(), key.encode())
    if not ok:
        raise MailgunError(401, "Forbidden", {"WWW-Authenticate": 'Basic realm="MG API"'})


def _configuration_set(settings: Settings, track_opens: bool | None) -> str:
    if track_opens is False and settings.untracked_configuration_set is not None:
        return settings.untracked_configuration_set
    return settings.configuration_set


async def _send_events_published(ses: AsyncSesClient, settings: Settings) -> tuple[bool, str]:
    """Whether every configuration set the proxy sends with publishes ``Send`` events to a queue (what
    ``GHOST_PROXY_SEND_EVENTS`` says, or what SES says when it is ``check``), and why not."""
    if settings.send_events != "check":
        return settings.send_events == "yes", "GHOST_PROXY_SEND_EVENTS=no"
    for name in (settings.configuration_set, settings.untracked_configuration_set):
        if name is None:
            continue
        operation, params = destinations_request(name, settings.ses_api)
        try:
            answer = await getattr(ses.client, operation)(**params)
        except Exception as exc:  # any failure to read: exactly once cannot be vouched for
            return False, (
                f"could not read the event destinations of {name} ({exc}); grant the permission, or set "
                "GHOST_PROXY_SEND_EVENTS=yes if the set publishes Send events"
            )
        found = send_event_destinations(answer.get("EventDestinations") or ())
        if not found:
            return False, f"configuration set {name} publishes no Send events to SNS or EventBridge"
        log.info("configuration set %s publishes Send events (through %s)", name, ", ".join(found))
    return True, ""


async def _supervise(worker: EventWorker, stopping: asyncio.Event) -> None:
    """Run the worker; if it dies (queue unreachable), log it and start it again after a pause."""
    while not stopping.is_set():
        try:
            await worker.run()
        except Exception:
            log.exception("the event worker stopped on an error; restarting in %.0f s", _WORKER_RESTART)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), _WORKER_RESTART)


def create_app(
    settings: Settings,
    *,
    ses_session: Any = None,
    sqs_session: Any = None,
    run_worker: bool = True,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The proxy as an ASGI app. ``ses_session``/``sqs_session`` are aiobotocore (or aioboto3) sessions
    (default ones when omitted); ``run_worker=False`` does not run the event worker
    (``app.state.proxy.worker``), so that a test can drain the queue when it chooses."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(settings.database, clock=clock)
        ses = AsyncSesClient(
            settings.configuration_set,
            session=ses_session,
            region=settings.region,
            endpoint_url=settings.ses_endpoint_url,
            api=settings.ses_api,
            max_send_rate=settings.max_send_rate,
        )
        try:
            async with ses:
                for name in {settings.configuration_set, settings.untracked_configuration_set} - {None}:
                    assert name is not None
                    try:
                        await ses.check_configuration_set(name)
                    except ConfigurationSetNotFound:
                        raise
                    except SesError as exc:
                        log.warning("could not check configuration set %s (%s); sending anyway", name, exc)
                published, why = await _send_events_published(ses, settings)
                if settings.queue_url is None:
                    why = "no event queue (GHOST_PROXY_QUEUE_URL) to read Send events from"
                mode: DeliveryMode = delivery_mode(
                    send_events=published,
                    event_queue=settings.queue_url is not None,
                    resend_interrupted=settings.resend_interrupted,
                )
                if mode == "exactly-once":
                    log.info(
                        "exactly once: a send interrupted by a crash waits up to %g s for its Send event",
                        settings.send_event_window,
                    )
                else:
                    log.warning(
                        "exactly-once delivery cannot hold: %s. Falling back to %s: a send interrupted by a "
                        "crash is %s",
                        why,
                        mode.replace("-", " "),
                        "sent again (a member may get it twice)"
                        if mode == "at-least-once"
                        else "not sent again (a member may miss it)",
                    )
                worker = (
                    EventWorker(store, settings, session=sqs_session, clock=clock)
                    if settings.queue_url is not None
                    else None
                )
                sender = BatchSender(
                    store,
                    ses,
                    settings,
                    mode=mode,
                    events_ready=lambda: None if worker is None else worker.ready_at,
                    clock=clock,
                )
                if worker is not None:
                    worker.on_settled = sender.notify
                if worker is None or not run_worker:
                    log.warning(
                        "no event worker in this process: events reach Ghost only if another one runs"
                    )
                proxy = Proxy(settings, store, sender, worker)
                stopping = asyncio.Event()
                if worker is not None and run_worker:
                    proxy.worker_task = asyncio.create_task(_supervise(worker, stopping), name="ghost-events")
                app.state.proxy = proxy
                await sender.start()
                try:
                    yield
                finally:
                    stopping.set()
                    if worker is not None and proxy.worker_task is not None:
                        worker.stop()
                        await proxy.worker_task
                    await sender.stop()
        finally:
            store.close()

    app = FastAPI(
        title="Ghost → SES Mailgun-compatible proxy", lifespan=lifespan, docs_url=None, redoc_url=None
    )

    @app.exception_handler(MailgunError)
    async def mailgun_error(request: Request, exc: MailgunError) -> JSONResponse:
        return JSONResponse({"message": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Starlette's own refusals (unknown route, unreadable multipart) in Mailgun's shape too.
        return JSONResponse({"message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    def proxy_of(request: Request) -> Proxy:
        proxy: Proxy = request.app.state.proxy
        _check_auth(request, proxy.settings.api_key)
        return proxy

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v3/{domain}/messages")
    async def send_message(domain: str, request: Request) -> dict[str, str]:
        proxy = proxy_of(request)
        form = await request.form(max_files=10, max_fields=MAX_RECIPIENTS + 1000, max_part_size=_MAX_PART)
        items: list[tuple[str, str]] = []
        for name, value in form.multi_items():
            if not isinstance(value, str):
                raise MailgunError(400, f"attachments ({name}) are not supported by this proxy")
            items.append((name, value))
        try:
            batch = parse_message_form(items, domain=domain, now=clock())
            configuration_set = _configuration_set(proxy.settings, batch.track_opens)
            trial = compose(
                batch,
                batch.recipients[0],
                configuration_set=configuration_set,
                unsubscribe_mailto=proxy.settings.unsubscribe_mailto,
            )
            build_mime(trial)  # what every recipient's message goes through: fail here, not 1,000 times
        except MailgunRequestError as exc:
            raise MailgunError(400, str(exc)) from None
        except ValidationError as exc:
            raise MailgunError(400, f"the message cannot be sent through SES: {exc}") from None
        except (ValueError, LookupError) as exc:  # the email package refusing a header
            raise MailgunError(400, f"the message cannot be built as MIME: {exc!r}") from None
        batch_id = await proxy.store.run(proxy.store.add_batch, batch, configuration_set)
        if batch_id != batch.id:
            log.warning(
                "batch posted again (email %s): answering with its first id %s", batch.email_id, batch_id
            )
        proxy.sender.submit(batch_id)
        log.info("queued %s: %d recipient(s)", batch_id, len(batch.recipients))
        return {"id": f"<{batch_id}>", "message": "Queued. Thank you."}

    async def events(request: Request, domain: str, token: str | None) -> dict[str, Any]:
        proxy = proxy_of(request)
        try:
            page = decode_token(token) if token else PageRequest(parse_query(request.query_params))
        except QueryError as exc:
            raise MailgunError(400, str(exc)) from None
        rows = await proxy.store.run(proxy.store.page, domain, page)
        base = proxy.settings.public_url or str(request.base_url)
        return {
            "items": [item for _, _, item in rows],
            "paging": paging(base, domain, page, [(ts, key) for ts, key, _ in rows]),
        }

    @app.get("/v3/{domain}/events")
    async def list_events(domain: str, request: Request) -> dict[str, Any]:
        return await events(request, domain, None)

    @app.get("/v3/{domain}/events/{token}")
    async def page_events(domain: str, token: str, request: Request) -> dict[str, Any]:
        return await events(request, domain, token)

    @app.delete("/v3/{domain}/{kind}/{address}")
    async def remove_suppression(domain: str, kind: str, address: str, request: Request) -> dict[str, str]:
        proxy = proxy_of(request)
        found = _REMOVED.get(kind)
        if found is None:
            raise MailgunError(
                404, f"{kind!r} is not a suppression list: use bounces, complaints or unsubscribes"
            )
        suppression, message = found
        removed = await proxy.store.run(proxy.store.unsuppress, address, suppression)
        if not removed:
            raise MailgunError(404, f"Address not found in {kind} table")
        log.info("%s removed from %s", address, kind)
        return {"message": message, "address": address}

    return app
