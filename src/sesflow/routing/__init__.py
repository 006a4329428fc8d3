"""The handler router: typed events to decorated handlers, sync or async, and the Lambda entry points.

``EventRouter`` is re-exported as ``sesflow.EventRouter``.
"""

from ._run import run_async
from .errors import AsyncHandlerError, DispatchError, NotARecordError, RouterConfigError, RoutingError
from .results import DispatchResult, HandlerFailure
from .router import EventFilters, EventRouter, FirehoseTransform

__all__ = [
    "EventRouter",
    "EventFilters",
    "DispatchResult",
    "HandlerFailure",
    "FirehoseTransform",
    "run_async",
    "RoutingError",
    "RouterConfigError",
    "AsyncHandlerError",
    "NotARecordError",
    "DispatchError",
]
