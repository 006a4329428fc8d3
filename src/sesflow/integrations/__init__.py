"""Web framework integrations: SNS HTTPS subscriptions delivered to an ``EventRouter``.

- ``sesflow.integrations.fastapi`` (extra ``fastapi``): ``sns_webhook_router`` (an ``APIRouter``) and
  ``sns_webhook_endpoint``.
- ``sesflow.integrations.aiohttp`` (extra ``aiohttp``): ``add_sns_route``, ``sns_webhook_app`` (a
  sub-application) and ``sns_webhook_handler``.

Both share ``handle_sns_request``, which any other framework can call with a request's body and headers.
"""

from __future__ import annotations

from ._core import MAX_BODY_SIZE, WebhookResponse, handle_sns_request, merge_headers

__all__ = ["MAX_BODY_SIZE", "WebhookResponse", "handle_sns_request", "merge_headers"]
