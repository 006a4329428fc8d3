"""Web framework integrations: SNS HTTPS subscriptions delivered to an ``EventRouter``.

- ``sesflow.integrations.fastapi`` (extra ``fastapi``): ``sns_webhook_router`` (an ``APIRouter``) and
  ``sns_webhook_endpoint``.
- ``sesflow.integrations.aiohttp`` (extra ``aiohttp``): ``add_sns_route``, ``sns_webhook_app`` (a
  sub-application) and ``sns_webhook_handler``.

- ``sesflow.integrations.django`` (extra ``django``): an email backend, sync and async webhook views, a
  Django signal per event and the ``sesflow_consume`` management command, configured by ``settings.SESFLOW``.

All share ``handle_sns_request`` (and its blocking twin ``handle_sns_request_sync``), which any other
framework can call with a request's body and headers.
"""

from __future__ import annotations

from .._public import publish
from ._core import (
    MAX_BODY_SIZE,
    WebhookResponse,
    handle_sns_request,
    handle_sns_request_sync,
    merge_headers,
)

__all__ = [
    "MAX_BODY_SIZE",
    "WebhookResponse",
    "handle_sns_request",
    "handle_sns_request_sync",
    "merge_headers",
]


publish(__name__, __all__, globals())
