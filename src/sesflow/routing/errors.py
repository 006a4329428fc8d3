"""Errors the router raises: bad registrations, async handlers in a sync dispatch, failed Lambda invocations
and Lambda events that no entry point recognises."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..errors import SesflowError

if TYPE_CHECKING:
    from .results import DispatchResult

__all__ = [
    "AsyncHandlerError",
    "DispatchError",
    "LambdaEventError",
    "NotARecordError",
    "RouterConfigError",
    "RoutingError",
]


class RoutingError(SesflowError):
    """Base class of the router's errors."""


class RouterConfigError(RoutingError, ValueError):
    """A handler or hook was registered with arguments that can never work (raised at registration)."""


class NotARecordError(RoutingError, TypeError):
    """``dispatch`` was given something that is not a parsed record (raw JSON, a SourceItem...)."""


class AsyncHandlerError(RoutingError, TypeError):
    """A synchronous dispatch met a coroutine handler or hook, which only an event loop can run.

    Raised before any handler runs, so nothing is half done. Use ``await router.dispatch_async(...)`` or the
    ``handle_*_lambda_async`` entry points (with ``sesflow.routing.run_async`` in a sync Lambda handler).
    ``handlers`` names the coroutine functions that were found.
    """

    def __init__(self, reason: str, *, handlers: Sequence[str] = ()) -> None:
        self.handlers = tuple(handlers)
        super().__init__(reason)


class DispatchError(RoutingError):
    """One or more items of a Lambda invocation failed: a handler raised, or the payload was invalid.

    Raised by the SNS and EventBridge entry points so that Lambda retries the invocation (and, after its
    retries, hands the event to the function's on-failure destination or dead-letter queue, if configured).
    ``results`` holds the outcome of every item of the invocation, successful ones included; ``failed`` only
    the failures. The first handler exception (or the first invalid item's error) is chained as
    ``__cause__``.
    """

    def __init__(self, results: Sequence[DispatchResult]) -> None:
        self.results: tuple[DispatchResult, ...] = tuple(results)
        self.failed: tuple[DispatchResult, ...] = tuple(r for r in self.results if not r.ok)
        details = "; ".join(r.describe_failure() for r in self.failed[:5])
        more = f"; and {len(self.failed) - 5} more" if len(self.failed) > 5 else ""
        super().__init__(
            f"{len(self.failed)} of {len(self.results)} item(s) failed ({details}{more}); "
            "raising so that Lambda retries the invocation"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.results,))


class LambdaEventError(RoutingError, ValueError):
    """``handle_lambda`` was given an event that no SQS, SNS, EventBridge or Firehose
    invocation looks like (a test payload, another trigger, something that is not a JSON object).

    Raising fails the invocation, so the service that sent the event keeps it (retries it, then hands it to
    the function's dead-letter path) rather than losing it. ``event`` is the event as given.
    """

    def __init__(self, event: object) -> None:
        self.event = event
        if isinstance(event, Mapping):
            shape = f"an object with the keys {sorted(map(str, event))[:8]}"
        else:
            shape = f"a {type(event).__name__}"
        super().__init__(
            f"handle_lambda() cannot tell which service sent this event ({shape}): it recognises SQS and "
            "SNS 'Records', EventBridge events and Firehose transformation batches; call the entry point of "
            "your trigger (handle_sqs_lambda, handle_sns_lambda, handle_eventbridge_lambda or "
            "handle_firehose_lambda) to have a malformed event reported item by item instead"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.event,))
