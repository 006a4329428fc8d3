"""The SNS HTTPS webhook as Django views: ``sns_webhook`` (blocking) and ``sns_webhook_async``.

Both read the request and write the answer; verifying, confirming subscriptions, dispatching and choosing the
status code are ``sesflow.integrations.handle_sns_request`` (and its blocking twin), the same as for the
FastAPI and aiohttp endpoints. Both are exempt from CSRF (SNS cannot send a token; the signature is what
proves the request) and take ``POST`` only.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .._core import WebhookResponse, handle_sns_request, handle_sns_request_sync, merge_headers, too_large
from .conf import SesflowSettings, event_router, read_settings, sns_verifier

__all__ = ["sns_webhook", "sns_webhook_async"]


def _json(answer: WebhookResponse) -> JsonResponse:
    return JsonResponse(dict(answer.body), status=answer.status)


def _read(request: HttpRequest) -> tuple[SesflowSettings, bytes | None]:
    """The settings, and the request body (None when it is over ``MAX_BODY_SIZE``; read no further)."""
    current = read_settings()
    limit = current.max_body_size
    declared = request.META.get("CONTENT_LENGTH")
    if declared and declared.isdigit() and int(declared) > limit:
        return current, None
    body = request.read(limit + 1)
    return current, None if len(body) > limit else body


@csrf_exempt
@require_POST
def sns_webhook(request: HttpRequest) -> HttpResponse:
    """Receive one SNS delivery; the router's handlers run in this request's thread (use the ORM as usual).

    Configured by ``settings.SESFLOW``: ``ROUTER``, ``TOPIC_ARNS`` (and ``VERIFIER_OPTIONS``),
    ``CONFIRM_SUBSCRIPTIONS``, ``CONFIRM_ANY_TOPIC``, ``MAX_BODY_SIZE``, ``SIGNALS``. Answers 200 / 400 /
    403 / 413 / 500 / 503 as the webhooks documentation says.
    """
    current, body = _read(request)
    if body is None:
        return _json(too_large(current.max_body_size))
    answer = handle_sns_request_sync(
        body,
        merge_headers(request.headers.items()),
        router=event_router(asynchronous=False),
        verifier=sns_verifier(),
        confirm_subscriptions=current.confirm_subscriptions,
        confirm_any_topic=current.confirm_any_topic,
    )
    return _json(answer)


@csrf_exempt
@require_POST
async def sns_webhook_async(request: HttpRequest) -> HttpResponse:
    """The async view, for coroutine handlers under ASGI.

    Plain-function handlers run on the event loop's thread, where Django refuses blocking ORM calls: use the
    ``a``-prefixed ORM methods there, or the sync view.
    """
    current, body = _read(request)
    if body is None:
        return _json(too_large(current.max_body_size))
    answer = await handle_sns_request(
        body,
        merge_headers(request.headers.items()),
        router=event_router(asynchronous=True),
        verifier=sns_verifier(),
        confirm_subscriptions=current.confirm_subscriptions,
        confirm_any_topic=current.confirm_any_topic,
    )
    return _json(answer)
