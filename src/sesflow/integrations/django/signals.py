"""``ses_event``: a Django signal sent once per SES event that reaches the webhook views or the worker.

For code written the django-ses way (``@receiver(...)`` functions in an app's ``signals.py``). The signal is
sent with the event's class as ``sender``, so a receiver can ask for one type only, the way ``post_save``
receivers ask for one model:

    from django.dispatch import receiver
    from sesflow.events import BounceEvent
    from sesflow.integrations.django.signals import ses_event

    @receiver(ses_event, sender=BounceEvent)
    def on_bounce(sender, event, **kwargs):
        ...

It is sent after the router's handlers, for every SES event (also when no handler matched, and for events of
types sesflow does not know, as ``UnknownEvent``); control messages (subscription
confirmations) and payloads that are not SES events are not signalled. Every receiver runs even when another
raises (``send_robust``); if any receiver raised, the delivery counts as failed (the webhook answers 500 so
SNS retries, the worker leaves the message on its queue), exactly like a failing router handler.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.dispatch import Signal

from ...errors import SesflowError
from ...events import ControlMessage, SesEvent
from ...routing import DispatchResult, EventRouter
from ...routing.results import handler_name
from ...sources import SourceItem

__all__ = ["EventNotHandled", "ses_event", "signalling_router"]

ses_event = Signal()
"""Sent with ``sender=type(event)`` and ``event=`` the typed ``SesEvent``."""


class EventNotHandled(SesflowError):
    """A router handler or a ``ses_event`` receiver raised for a record, so its delivery is to be retried.

    ``result`` is the router's ``DispatchResult``; ``receiver_errors`` pairs each receiver that
    raised with its exception. The first exception is chained as ``__cause__``.
    """

    def __init__(self, result: DispatchResult, receiver_errors: Sequence[tuple[Any, Exception]] = ()) -> None:
        self.result = result
        self.receiver_errors = tuple(receiver_errors)
        parts = [result.describe_failure()] if not result.ok else []
        parts += [f"ses_event receiver {handler_name(r)} raised {e!r}" for r, e in self.receiver_errors]
        super().__init__("; ".join(parts))


def _check(result: DispatchResult, responses: Sequence[tuple[Any, object]] = ()) -> None:
    """Raise when a handler (or hook) of the router or a receiver failed, so that the relay's route fails and
    the delivery is retried."""
    errors = [(receiver, value) for receiver, value in responses if isinstance(value, Exception)]
    if result.failures or errors:
        first = result.failures[0].exception if result.failures else errors[0][1]
        raise EventNotHandled(result, errors) from first


def signalling_router(router: EventRouter, *, asynchronous: bool) -> EventRouter:
    """A router that hands every record to ``router`` and then sends ``ses_event`` for each SES event.

    Records go through ``router.dispatch`` (or ``dispatch_async``) unchanged, so its handlers, filters and
    hooks behave as they would alone; a failure there, or of a receiver, fails the relay, which is what the
    webhook and the worker look at.
    """
    relay = EventRouter()
    if asynchronous:

        @relay.on_any
        async def relay_event(event: SesEvent) -> None:
            result = await router.dispatch_async(event)
            responses = await ses_event.asend_robust(sender=type(event), event=event)
            _check(result, responses)

        @relay.on_control
        async def relay_control(message: ControlMessage) -> None:
            _check(await router.dispatch_async(message))

        @relay.on_invalid
        async def relay_invalid(item: SourceItem) -> None:
            _check(await router.dispatch_item_async(item))

        return relay

    @relay.on_any
    def relay_event_sync(event: SesEvent) -> None:
        result = router.dispatch(event)
        responses = ses_event.send_robust(sender=type(event), event=event)
        _check(result, responses)

    @relay.on_control
    def relay_control_sync(message: ControlMessage) -> None:
        _check(router.dispatch(message))

    @relay.on_invalid
    def relay_invalid_sync(item: SourceItem) -> None:
        _check(router.dispatch_item(item))

    return relay
