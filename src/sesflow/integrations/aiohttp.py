"""aiohttp handler and sub-application for SNS HTTPS subscriptions (extra ``aiohttp``).

::

    from aiohttp import web
    from sesflow.integrations.aiohttp import add_sns_route

    app = web.Application()
    add_sns_route(app, router, verifier, path="/sns")
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import MissingExtra
from ..routing import EventRouter
from ..sources import MessageVerifier
from ._core import MAX_BODY_SIZE, WebhookResponse, handle_sns_request, merge_headers, too_large

try:
    from aiohttp import web
except ImportError as exc:  # pragma: no cover - exercised with the module hidden
    raise MissingExtra("sesflow.integrations.aiohttp", "aiohttp", "aiohttp") from exc

__all__ = ["ROUTER_KEY", "VERIFIER_KEY", "add_sns_route", "sns_webhook_app", "sns_webhook_handler"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_CHUNK = 64 * 1024


def _json(answer: WebhookResponse) -> web.Response:
    return web.json_response(dict(answer.body), status=answer.status)


def sns_webhook_handler(
    router: EventRouter,
    verifier: MessageVerifier,
    *,
    confirm_subscriptions: bool = True,
    confirm_any_topic: bool = False,
    max_body_size: int = MAX_BODY_SIZE,
) -> Handler:
    """A request handler that receives SNS HTTPS deliveries; register it for ``POST`` yourself.

    The same contract as ``sesflow.integrations.fastapi.sns_webhook_router``: verify, confirm
    subscriptions safely, dispatch through ``router``, and answer 200 / 400 / 403 / 413 / 500 / 503 (see
    the webhooks documentation).
    """
    if not isinstance(router, EventRouter):
        raise TypeError(f"router must be an EventRouter, got {router!r}")

    async def sns_webhook(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > max_body_size:
            return _json(too_large(max_body_size))
        body = bytearray()
        while chunk := await request.content.read(_CHUNK):
            body += chunk
            if len(body) > max_body_size:
                return _json(too_large(max_body_size))
        answer = await handle_sns_request(
            bytes(body),
            merge_headers(request.headers.items()),
            router=router,
            verifier=verifier,
            confirm_subscriptions=confirm_subscriptions,
            confirm_any_topic=confirm_any_topic,
        )
        return _json(answer)

    return sns_webhook


def add_sns_route(
    app: web.Application,
    router: EventRouter,
    verifier: MessageVerifier,
    *,
    path: str = "/sns",
    **options: Any,
) -> web.AbstractRoute:
    """Add ``POST path`` to ``app`` with ``sns_webhook_handler`` (``options`` are its keywords)."""
    return app.router.add_post(path, sns_webhook_handler(router, verifier, **options), name="sesflow-sns")


def sns_webhook_app(
    router: EventRouter, verifier: MessageVerifier, *, path: str = "/", **options: Any
) -> web.Application:
    """A sub-application with the webhook at ``path``; mount it with ``app.add_subapp("/sns", sub)``.

    The sub-application keeps ``router`` and ``verifier`` under the keys ``"sesflow_router"`` and
    ``"sesflow_verifier"`` (as ``aiohttp.web.AppKey`` s ``ROUTER_KEY`` and ``VERIFIER_KEY``) so other
    code of the application can reach them.
    """
    sub = web.Application()
    sub[ROUTER_KEY] = router
    sub[VERIFIER_KEY] = verifier
    add_sns_route(sub, router, verifier, path=path, **options)
    return sub


ROUTER_KEY: web.AppKey[EventRouter] = web.AppKey("sesflow_router", EventRouter)
VERIFIER_KEY: web.AppKey[Any] = web.AppKey("sesflow_verifier", object)
