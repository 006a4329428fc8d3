"""FastAPI (and Starlette) endpoint for SNS HTTPS subscriptions (extra ``fastapi``).

::

    from fastapi import FastAPI
    from sesflow.integrations.fastapi import sns_webhook_router

    app = FastAPI()
    app.include_router(sns_webhook_router(router, verifier, path="/sns"))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import MissingExtra
from ..routing import EventRouter
from ..sources import MessageVerifier
from ._core import MAX_BODY_SIZE, WebhookResponse, handle_sns_request, merge_headers, too_large

try:
    from fastapi import APIRouter, Depends, Request
    from fastapi.responses import JSONResponse
except ImportError as exc:  # pragma: no cover - exercised with the module hidden
    raise MissingExtra("sesflow.integrations.fastapi", "fastapi", "fastapi") from exc

__all__ = ["sns_webhook_endpoint", "sns_webhook_router"]


def _provider(value: Any, is_instance: bool, what: str) -> Callable[..., Any]:
    """A FastAPI dependency giving ``value``: an instance is wrapped, a callable is a dependency itself."""
    if is_instance:

        def given() -> Any:
            return value

        given.__name__ = f"sesflow_{what}"
        return given
    if callable(value):
        return value  # type: ignore[no-any-return]
    raise TypeError(f"{what} must be an instance or a FastAPI dependency returning one, got {value!r}")


def _json(answer: WebhookResponse) -> JSONResponse:
    return JSONResponse(dict(answer.body), status_code=answer.status)


def sns_webhook_endpoint(
    router: EventRouter | Callable[..., EventRouter],
    verifier: MessageVerifier | Callable[..., MessageVerifier],
    *,
    confirm_subscriptions: bool = True,
    confirm_any_topic: bool = False,
    max_body_size: int = MAX_BODY_SIZE,
) -> Callable[..., Any]:
    """The endpoint function alone, to register with ``app.post(path)(...)`` or ``app.add_api_route``.

    ``router`` and ``verifier`` are instances, or FastAPI dependencies (callables, resolved with ``Depends``
    per request, so ``app.dependency_overrides`` can replace them in tests).
    """
    router_dependency = _provider(router, isinstance(router, EventRouter), "router")
    verifier_dependency = _provider(verifier, hasattr(verifier, "verify_async"), "verifier")

    async def sns_webhook(
        request: Request,
        event_router: EventRouter = Depends(router_dependency),  # noqa: B008 - FastAPI's idiom
        sns_verifier: Any = Depends(verifier_dependency),  # noqa: B008
    ) -> JSONResponse:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body_size:
                return _json(too_large(max_body_size))
        answer = await handle_sns_request(
            bytes(body),
            merge_headers(request.headers.items()),
            router=event_router,
            verifier=sns_verifier,
            confirm_subscriptions=confirm_subscriptions,
            confirm_any_topic=confirm_any_topic,
        )
        return _json(answer)

    return sns_webhook


def sns_webhook_router(
    router: EventRouter | Callable[..., EventRouter],
    verifier: MessageVerifier | Callable[..., MessageVerifier],
    *,
    path: str = "/sns",
    confirm_subscriptions: bool = True,
    confirm_any_topic: bool = False,
    max_body_size: int = MAX_BODY_SIZE,
    **api_router_options: Any,
) -> APIRouter:
    """An ``APIRouter`` with one ``POST`` route at ``path`` that receives SNS HTTPS deliveries.

    Each request is verified with ``verifier`` (an ``SnsVerifier``), a
    ``SubscriptionConfirmation`` is confirmed safely when ``confirm_subscriptions`` (only for the verifier's
    allowlisted topics, unless ``confirm_any_topic``), and notifications are dispatched through ``router``
    (async). Answers: 200 once handled (also for a verified payload that is not an SES record, after the
    router's dead-letter hook took it, and for a message the verifier's replay guard remembers as handled),
    400 for a request that is not an SNS delivery, 403 when verification fails, 413 over ``max_body_size``,
    500 when a handler failed (SNS retries), 503 when the signing certificate could not be fetched or the
    replay guard could not be asked. ``router`` and ``verifier`` may be FastAPI dependencies instead of
    instances. Other keyword arguments go to ``APIRouter`` (``prefix``, ``tags``, ``dependencies``...).
    """
    api = APIRouter(**api_router_options)
    endpoint = sns_webhook_endpoint(
        router,
        verifier,
        confirm_subscriptions=confirm_subscriptions,
        confirm_any_topic=confirm_any_topic,
        max_body_size=max_body_size,
    )
    api.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        response_class=JSONResponse,
        summary="Amazon SNS HTTPS subscription",
        name="sesflow_sns_webhook",
    )
    return api
