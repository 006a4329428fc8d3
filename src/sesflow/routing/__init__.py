"""The handler router: typed events to decorated handlers, sync or async, and the Lambda entry points.

``EventRouter`` (re-exported as ``sesflow.EventRouter``) holds the routes and dispatches; the Lambda entry
points (``handle_lambda`` and the explicit ``handle_*_lambda`` functions) take a router and an event.
"""

from .._public import publish
from ._lambda import (
    FirehoseTransform,
    handle_eventbridge_lambda,
    handle_eventbridge_lambda_async,
    handle_firehose_lambda,
    handle_firehose_lambda_async,
    handle_lambda,
    handle_lambda_async,
    handle_sns_lambda,
    handle_sns_lambda_async,
    handle_sqs_lambda,
    handle_sqs_lambda_async,
    lambda_transport,
)
from ._run import run_async
from .errors import (
    AsyncHandlerError,
    DispatchError,
    LambdaEventError,
    NotARecordError,
    RouterConfigError,
    RoutingError,
)
from .results import DispatchResult, HandlerFailure
from .router import EventFilters, EventRouter

__all__ = [
    "EventRouter",
    "EventFilters",
    "DispatchResult",
    "HandlerFailure",
    # Lambda
    "handle_lambda",
    "handle_lambda_async",
    "handle_sqs_lambda",
    "handle_sqs_lambda_async",
    "handle_sns_lambda",
    "handle_sns_lambda_async",
    "handle_eventbridge_lambda",
    "handle_eventbridge_lambda_async",
    "handle_firehose_lambda",
    "handle_firehose_lambda_async",
    "lambda_transport",
    "FirehoseTransform",
    "run_async",
    # errors
    "RoutingError",
    "RouterConfigError",
    "AsyncHandlerError",
    "NotARecordError",
    "DispatchError",
    "LambdaEventError",
]


publish(__name__, __all__, globals())
