"""Web framework integrations: SNS HTTPS subscriptions delivered to an :class:`~sesflow.EventRouter`.

- :mod:`sesflow.integrations.fastapi` (extra ``fastapi``): ``sns_webhook_router`` (an ``APIRouter``) and
  ``sns_webhook_endpoint``.
- :mod:`sesflow.integrations.aiohttp` (extra ``aiohttp``): ``add_sns_route``, ``sns_webhook_app`` (a
  sub-application) and ``sns_webhook_handler``.

Both share :func:`handle_sns_request`, which any other framework can call with a request's body and headers.
"""

from __future__ import annotations

from .._public import publish
from ._core import MAX_BODY_SIZE, WebhookResponse, handle_sns_request, merge_headers

__all__ = ["MAX_BODY_SIZE", "WebhookResponse", "handle_sns_request", "merge_headers"]


publish(__name__, __all__, globals())
