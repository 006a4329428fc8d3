"""``EventRouter``: decorated handlers per event type, with filters, and sync and async dispatch.

Registration does the work once: every registration rebuilds a *plan* per record class (the handlers that can
receive it, in registration order, and whether any of them is a coroutine or has a filter), so a dispatch is a
dictionary lookup and a loop over the plan.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypedDict, TypeVar, Unpack, overload

from ..events import (
    EVENT_CLASSES,
    BounceEvent,
    BounceType,
    ClickEvent,
    ComplaintEvent,
    ControlMessage,
    DeliveryDelayEvent,
    DeliveryEvent,
    EventFamily,
    EventType,
    OpenEvent,
    ParsedRecord,
    ReceivedMail,
    RejectEvent,
    RenderingFailureEvent,
    SendEvent,
    SesEvent,
    SubscriptionEvent,
    SubscriptionSucceeded,
    TopicValidation,
    UnknownEvent,
)
from ..sources import (
    AdvisorRecommendationEvent,
    NonEmailEvent,
    SendingStatusEvent,
    SourceItem,
    StatusEvent,
)
from .errors import AsyncHandlerError, NotARecordError, RouterConfigError
from .results import DispatchResult, HandlerFailure, handler_name, new_result

__all__ = ["EventFilters", "EventRouter"]

logger = logging.getLogger("sesflow.routing")

_SendH = TypeVar("_SendH", bound=Callable[[SendEvent], object])
_DeliveryH = TypeVar("_DeliveryH", bound=Callable[[DeliveryEvent], object])
_BounceH = TypeVar("_BounceH", bound=Callable[[BounceEvent], object])
_ComplaintH = TypeVar("_ComplaintH", bound=Callable[[ComplaintEvent], object])
_RejectH = TypeVar("_RejectH", bound=Callable[[RejectEvent], object])
_OpenH = TypeVar("_OpenH", bound=Callable[[OpenEvent], object])
_ClickH = TypeVar("_ClickH", bound=Callable[[ClickEvent], object])
_RenderingFailureH = TypeVar("_RenderingFailureH", bound=Callable[[RenderingFailureEvent], object])
_DeliveryDelayH = TypeVar("_DeliveryDelayH", bound=Callable[[DeliveryDelayEvent], object])
_SubscriptionH = TypeVar("_SubscriptionH", bound=Callable[[SubscriptionEvent], object])
_SendingStatusH = TypeVar("_SendingStatusH", bound=Callable[[SendingStatusEvent], object])
_AdvisorH = TypeVar("_AdvisorH", bound=Callable[[AdvisorRecommendationEvent], object])
_EventH = TypeVar("_EventH", bound=Callable[[SesEvent], object])
_ControlH = TypeVar("_ControlH", bound=Callable[[ControlMessage], object])
_AnyH = TypeVar("_AnyH", bound=Callable[[Any], object])
_UnmatchedH = TypeVar("_UnmatchedH", bound=Callable[[ParsedRecord], object])
_InvalidH = TypeVar("_InvalidH", bound=Callable[[SourceItem], object])

_CONTROL_CLASSES: Final = (
    ControlMessage,
    SubscriptionSucceeded,
    TopicValidation,
    ReceivedMail,
    NonEmailEvent,
    StatusEvent,
    SendingStatusEvent,
    AdvisorRecommendationEvent,
)
_EVENT_FILTERS: Final = frozenset({"configuration_set", "tag", "recipient_domain", "family", "tenant"})
_STATUS_FILTERS: Final = frozenset({"tenant"})  # a status record has no message: no set, tags or recipients
_NO_FAILURES: tuple[HandlerFailure, ...] = ()


class EventFilters(TypedDict, total=False):
    """Keyword filters every event decorator accepts. All given filters must hold for a handler to run.

    - ``configuration_set``: the event's configuration set is this one (or one of these). Feedback
      notifications have none, so they never match.
    - ``tag``: ``"name=value"`` (the message tag ``name`` has that value) or ``"name"`` (the tag is present);
      a sequence of them means every one must hold.
    - ``recipient_domain``: at least one address the event concerns (``SesEvent.recipients``) is at this
      domain (or one of these), compared case-insensitively and exactly (no subdomains).
    - ``family``: ``EventFamily.EVENT`` (configuration-set event publishing) or
      ``EventFamily.NOTIFICATION`` (identity feedback notifications).
    - ``tenant``: the event's ``tenant`` is this one (or one of these). A message
      sent for no tenant, and every feedback notification, has none, so it never matches.
    """

    configuration_set: str | Collection[str]
    tag: str | Sequence[str]
    recipient_domain: str | Collection[str]
    family: EventFamily
    tenant: str | Collection[str]


class _Route:
    """One registered handler and what selects it."""

    __slots__ = ("classes", "control", "func", "is_async", "matches", "name", "types")

    def __init__(
        self,
        func: Callable[[Any], object],
        types: frozenset[EventType] | None,
        matches: Callable[[Any], bool] | None,
        *,
        control: bool = False,
        classes: tuple[type[ControlMessage], ...] | None = None,
    ) -> None:
        self.func = func
        self.types = types  # None: every event (a catch-all), or, with control, every control message
        self.control = control
        self.classes = classes  # control only: the record classes it takes (None: every control message)
        self.matches = matches
        self.is_async = _is_coroutine_function(func)
        self.name = handler_name(func)


class _Plan:
    """The routes one record class can reach, precomputed at registration."""

    __slots__ = ("funcs", "has_async", "has_filter", "routes")

    def __init__(self, routes: Sequence[_Route]) -> None:
        self.routes = tuple(routes)
        self.funcs = tuple(r.func for r in self.routes)
        self.has_async = any(r.is_async for r in self.routes)
        self.has_filter = any(r.matches is not None for r in self.routes)


def _is_coroutine_function(func: object) -> bool:
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(func, "__call__", None)  # noqa: B004 - an object whose __call__ is a coroutine function
    return call is not None and inspect.iscoroutinefunction(call)


def _values(name: str, value: object) -> frozenset[str]:
    """One string or a collection of them, as a non-empty set."""
    if isinstance(value, str):
        values: frozenset[str] = frozenset((value,))
    elif isinstance(value, Collection) and all(isinstance(v, str) for v in value):
        values = frozenset(value)
    else:
        raise RouterConfigError(f"{name} must be a string or a collection of strings, got {value!r}")
    if not values or "" in values:
        raise RouterConfigError(f"{name} must name at least one non-empty value, got {value!r}")
    return values


def _domain(address: str) -> str:
    return address.rpartition("@")[2].rstrip("> ").lower()


def _check_open_value(kind: type[EventType] | type[BounceType], value: str, what: str) -> None:
    """Reject a value that is a miscapitalised known one (``"bounce"``): it would silently never match."""
    member = kind(value)
    if member.is_known:
        return
    for known in kind:
        if known.value.lower() == value.lower():
            raise RouterConfigError(
                f"{what} {value!r} is not SES's spelling; use {kind.__name__}.{known.name} ({known.value!r})"
            )
    logger.warning(
        "%s %r is not one this version of sesflow knows; it will match only records SES sends with it",
        what,
        value,
    )


def _tag_value_check(name: str, value: str) -> Callable[[Any], bool]:
    return lambda e: value in e.tags.get(name, ())


def _tag_check(name: str) -> Callable[[Any], bool]:
    return lambda e: name in e.tags


def _compile_filter(
    *,
    bounce_type: object,
    configuration_set: object,
    tag: object,
    recipient_domain: object,
    family: object,
    tenant: object = None,
    where: Callable[[Any], bool] | None,
) -> Callable[[Any], bool] | None:
    """One predicate for all the given filters, or None when there are none."""
    checks: list[Callable[[Any], bool]] = []
    if family is not None:
        if not isinstance(family, EventFamily):
            raise RouterConfigError(f"family must be an EventFamily, got {family!r}")
        wanted_family = family
        checks.append(lambda e: e.family == wanted_family)
    if bounce_type is not None:
        bounce_types = _values("bounce_type", bounce_type)
        for value in bounce_types:
            _check_open_value(BounceType, value, "bounce_type")
        checks.append(lambda e: e.bounce.bounce_type in bounce_types)
    if configuration_set is not None:
        sets = _values("configuration_set", configuration_set)
        checks.append(lambda e: e.configuration_set in sets)
    if tenant is not None:
        tenants = _values("tenant", tenant)
        checks.append(lambda e: e.tenant in tenants)
    if tag is not None:
        specs = [tag] if isinstance(tag, str) else tag
        if not isinstance(specs, Sequence) or not specs:
            raise RouterConfigError(f"tag must be 'name=value', 'name', or a sequence of them, got {tag!r}")
        for spec in specs:
            if not isinstance(spec, str) or not spec or spec.startswith("="):
                raise RouterConfigError(f"tag must be 'name=value' or 'name', got {spec!r}")
            name, sep, value = spec.partition("=")
            checks.append(_tag_value_check(name, value) if sep else _tag_check(name))
    if recipient_domain is not None:
        domains = frozenset(d.lstrip("@").lower() for d in _values("recipient_domain", recipient_domain))
        checks.append(lambda e: any(_domain(r) in domains for r in e.recipients))
    if where is not None:
        if not callable(where):
            raise RouterConfigError(f"where must be a predicate (a callable taking the event), got {where!r}")
        checks.append(where)
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    all_checks = tuple(checks)

    def matches(event: Any) -> bool:
        for check in all_checks:  # noqa: SIM110 - a loop is cheaper than all() over a generator
            if not check(event):
                return False
        return True

    return matches


class EventRouter:
    """Routes parsed SES records to the handlers registered for them.

    Register handlers with the decorators (``on``, ``on_bounce``, ..., ``on_any``,
    ``on_control``); each accepts the ``EventFilters`` keywords and a ``where`` predicate, and works
    bare (``@router.on_bounce``) or called (``@router.on_bounce(bounce_type="Permanent")``). A record reaches
    every handler whose types and filters match, in registration order. ``on_sending_status`` and
    ``on_advisor_recommendation`` register handlers for the EventBridge records about a tenant (or the
    account) rather than a message; they take the ``tenant`` filter and ``where`` only.

    ``dispatch`` runs plain-function handlers; ``dispatch_async`` runs plain functions and coroutines (the
    coroutines of one record concurrently). Plain functions run in the event loop's thread, in order, unless
    ``run_sync_in_thread`` is true: then they run, still in order, in a worker thread
    (``asyncio.to_thread``) while the coroutines run, so a blocking handler does not stall the loop.

    ``on_unmatched`` is called with a record no handler was selected for (that is not a failure);
    ``on_invalid`` with a ``SourceItem`` that could not be unwrapped, verified or
    parsed (the dead-letter hook; the item's result is a failure, so a Lambda entry point reports it for
    retry). Both can also be set with the decorators of the same name. A hook that raises is recorded as a
    failure of the result.

    A large application can register handlers on one router per module and compose them with
    ``include``. Register handlers before dispatching (at import time); registration is not meant to
    race dispatches.
    """

    def __init__(
        self,
        *,
        on_unmatched: Callable[[ParsedRecord], object] | None = None,
        on_invalid: Callable[[SourceItem], object] | None = None,
        run_sync_in_thread: bool = False,
    ) -> None:
        self.run_sync_in_thread = run_sync_in_thread
        self._routes: list[_Route] = []
        self._plans: dict[type, _Plan] = {}
        self._unknown_plans: dict[str, _Plan] = {}
        self._unmatched_hook: Callable[[ParsedRecord], object] | None = None
        self._invalid_hook: Callable[[SourceItem], object] | None = None
        self._included_by: EventRouter | None = None  # the router that copied this one's routes, if any
        if on_unmatched is not None:
            self.on_unmatched(on_unmatched)
        if on_invalid is not None:
            self.on_invalid(on_invalid)
        self._rebuild()

    # --- registration ---------------------------------------------------------------------------------

    def _rebuild(self) -> None:
        plans: dict[type, _Plan] = {}
        events = [r for r in self._routes if not r.control]
        for cls in EVENT_CLASSES:
            plans[cls] = _Plan([r for r in events if r.types is None or cls.EVENT_TYPE in r.types])
        for control_cls in _CONTROL_CLASSES:
            plans[control_cls] = self._control_plan(control_cls)
        self._plans = plans
        self._unknown_plans = {}  # filled on first use of each unknown type name

    def _plan_for(self, record: object) -> _Plan:
        """The plan of a record class not in the table: unknown event types, and subclasses."""
        if isinstance(record, UnknownEvent):
            name = record.type_name
            plan = self._unknown_plans.get(name)
            if plan is None:
                plan = self._unknown_plans[name] = self._event_plan(record.event_type)
            return plan
        if isinstance(record, SesEvent):
            plan = self._event_plan(record.event_type)
        elif isinstance(record, ControlMessage):
            plan = self._control_plan(type(record))
        else:
            raise NotARecordError(
                f"dispatch() takes a parsed record (what sesflow.parse_event returns), got "
                f"{type(record).__name__}; use dispatch_item() for a SourceItem, or parse the payload first"
            )
        self._plans[type(record)] = plan
        return plan

    def _control_plan(self, cls: type[ControlMessage]) -> _Plan:
        return _Plan(
            [r for r in self._routes if r.control and (r.classes is None or issubclass(cls, r.classes))]
        )

    def _event_plan(self, event_type: EventType) -> _Plan:
        routes = [r for r in self._routes if not r.control and (r.types is None or event_type in r.types)]
        return _Plan(routes)

    def _add(
        self,
        types: frozenset[EventType] | None,
        handler: Callable[[Any], object] | None,
        decorator: str,
        *,
        where: Callable[[Any], bool] | None = None,
        bounce_type: object = None,
        control: bool = False,
        classes: tuple[type[ControlMessage], ...] | None = None,
        allowed: frozenset[str] = _EVENT_FILTERS,
        **filters: Any,
    ) -> Any:
        self._check_not_included(decorator)
        if handler is not None and not callable(handler):
            raise RouterConfigError(
                f"{decorator}() got {handler!r} where a handler function was expected; "
                f"filters are keyword arguments, e.g. @router.{decorator}(configuration_set='marketing')"
            )
        unknown = sorted(set(filters) - allowed)
        if unknown:
            takes = ", ".join(sorted(allowed)) or "none"
            raise RouterConfigError(
                f"{decorator}() has no filter {', '.join(map(repr, unknown))}; the filters it takes: {takes} "
                "(and a where= predicate)"
            )
        matches = _compile_filter(
            bounce_type=bounce_type,
            configuration_set=filters.get("configuration_set"),
            tag=filters.get("tag"),
            recipient_domain=filters.get("recipient_domain"),
            family=filters.get("family"),
            tenant=filters.get("tenant"),
            where=where,
        )

        def register(func: Callable[[Any], object]) -> Callable[[Any], object]:
            if not callable(func):
                raise RouterConfigError(f"@router.{decorator}(...) must decorate a function, got {func!r}")
            self._routes.append(_Route(func, types, matches, control=control, classes=classes))
            self._rebuild()
            return func

        return register if handler is None else register(handler)

    def on(
        self,
        *event_types: EventType | str,
        bounce_type: BounceType | str | Collection[BounceType | str] | None = None,
        where: Callable[[Any], bool] | None = None,
        **filters: Unpack[EventFilters],
    ) -> Callable[[_AnyH], _AnyH]:
        """Register a handler for event types: ``@router.on(EventType.BOUNCE, EventType.COMPLAINT)``.

        The handler receives the event's own class (annotate it as a union, or use the typed shortcuts such
        as ``on_bounce``). An event type this version does not know (``EventType("NewThing")``) selects
        the ``UnknownEvent`` records SES sends with that ``eventType``. ``bounce_type``
        is allowed only when the one type is ``EventType.BOUNCE``. See ``EventFilters`` for the filters.
        """
        if not event_types:
            raise RouterConfigError("on() needs at least one event type, e.g. @router.on(EventType.BOUNCE)")
        types: set[EventType] = set()
        for value in event_types:
            if not isinstance(value, str):
                raise RouterConfigError(
                    f"on() takes event types, got {value!r}; write @router.on(EventType.BOUNCE) or use "
                    "@router.on_any for every event"
                )
            _check_open_value(EventType, value, "event type")
            types.add(EventType(value))
        if bounce_type is not None and types != {EventType.BOUNCE}:
            raise RouterConfigError(
                "bounce_type filters bounce events only; register it with on_bounce() or on(EventType.BOUNCE)"
            )
        register: Callable[[_AnyH], _AnyH] = self._add(
            frozenset(types), None, "on", where=where, bounce_type=bounce_type, **filters
        )
        return register

    @overload
    def on_any(self, handler: _EventH, /) -> _EventH: ...
    @overload
    def on_any(
        self, /, *, where: Callable[[SesEvent], bool] | None = None, **filters: Unpack[EventFilters]
    ) -> Callable[[_EventH], _EventH]: ...
    def on_any(
        self,
        handler: _EventH | None = None,
        /,
        *,
        where: Callable[[SesEvent], bool] | None = None,
        **filters: Unpack[EventFilters],
    ) -> _EventH | Callable[[_EventH], _EventH]:
        """Register a catch-all handler: every event, ``UnknownEvent`` included.

        Control messages (subscription confirmations, topic validation, inbound mail) are not events; they go
        to ``on_control`` handlers.
        """
        result: _EventH | Callable[[_EventH], _EventH] = self._add(
            None, handler, "on_any", where=where, **filters
        )
        return result

    @overload
    def on_control(self, handler: _ControlH, /) -> _ControlH: ...
    @overload
    def on_control(
        self, /, *, where: Callable[[ControlMessage], bool] | None = None
    ) -> Callable[[_ControlH], _ControlH]: ...
    def on_control(
        self, handler: _ControlH | None = None, /, *, where: Callable[[ControlMessage], bool] | None = None
    ) -> _ControlH | Callable[[_ControlH], _ControlH]:
        """Register a handler for control messages: ``SubscriptionSucceeded``,
        ``TopicValidation``, ``ReceivedMail``, and the ``aws.ses``
        EventBridge events that are not about an email (``NonEmailEvent``, which
        ``on_sending_status`` and ``on_advisor_recommendation`` also receive in their typed forms).

        These arrive on the same channels as events but are not about a sent message. Without a control
        handler they go to the ``on_unmatched`` hook and count as handled.
        """
        result: _ControlH | Callable[[_ControlH], _ControlH] = self._add(
            None, handler, "on_control", where=where, control=True
        )
        return result

    if TYPE_CHECKING:  # What a type checker sees of the shortcuts that _SHORTCUTS (below) makes.

        @overload  # type: ignore[no-overload-impl]
        def on_send(self, handler: _SendH, /) -> _SendH: ...
        @overload
        def on_send(
            self, /, *, where: Callable[[SendEvent], bool] | None = None, **filters: Unpack[EventFilters]
        ) -> Callable[[_SendH], _SendH]: ...

        @overload  # type: ignore[no-overload-impl]
        def on_delivery(self, handler: _DeliveryH, /) -> _DeliveryH: ...
        @overload
        def on_delivery(
            self, /, *, where: Callable[[DeliveryEvent], bool] | None = None, **filters: Unpack[EventFilters]
        ) -> Callable[[_DeliveryH], _DeliveryH]: ...

        @overload  # type: ignore[no-overload-impl]
        def on_bounce(self, handler: _BounceH, /) -> _BounceH: ...
        @overload
        def on_bounce(
            self,
            /,
            *,
            bounce_type: BounceType | str | Collection[BounceType | str] | None = None,
            where: Callable[[BounceEvent], bool] | None = None,
            **filters: Unpack[EventFilters],
        ) -> Callable[[_BounceH], _BounceH]: ...

        @overload  # type: ignore[no-overload-impl]
        def on_complaint(self, handler: _ComplaintH, /) -> _ComplaintH: ...
        @overload
        def on_complaint(
            self, /, *, where: Callable[[ComplaintEvent], bool] | None = None, **filters: Unpack[EventFilters]
        ) -> Callable[[_ComplaintH], _ComplaintH]: ...

        @overload  # type: ignore[no-overload-impl]
        def on_reject(self, handler: _RejectH, /) -> _RejectH: ...
        @overload
        def on_reject(
            self, /, *, where: Callable[[RejectEvent], bool] | None = None, **filters: Unpack[EventFilters]
        ) -> Callable[[_RejectH], _RejectH]: ...

        @overload  # type: ignore[no-overload-impl]
        def on_open(self, handler: _OpenH, /) -> _OpenH: ...
        @overload
        def on_open(
            self, /, *, where: Callable[[OpenEvent], bool] | None = None, **filters: Unpack[EventFilters]
        ) -> Callable[[_OpenH], _OpenH]: ...

        @overload  # type: ignore[no-overload-impl]
        def on_click(self, handler: _ClickH, /) -> _ClickH: ...
        @overload
        def on_click(
            self, /, *, where: Callable[[ClickEvent], bool] | None = None, **filters: Unpack[EventFilters]
        ) -> Callable[[_ClickH], _ClickH]: ...

        @overload  # type: ignore[no-overload-impl]
        def on_rendering_failure(self, handler: _RenderingFailureH, /) -> _RenderingFailureH: ...
        @overload
        def on_rendering_failure(
            self,
            /,
            *,
            where: Callable[[RenderingFailureEvent], bool] | None = None,
            **filters: Unpack[EventFilters],
        ) -> Callable[[_RenderingFailureH], _RenderingFailureH]: ...

        @overload  # type: ignore[no-overload-impl]
        def on_delivery_delay(self, handler: _DeliveryDelayH, /) -> _DeliveryDelayH: ...
        @overload
        def on_delivery_delay(
            self,
            /,
            *,
            where: Callable[[DeliveryDelayEvent], bool] | None = None,
            **filters: Unpack[EventFilters],
        ) -> Callable[[_DeliveryDelayH], _DeliveryDelayH]: ...

        @overload  # type: ignore[no-overload-impl]
        def on_subscription(self, handler: _SubscriptionH, /) -> _SubscriptionH: ...
        @overload
        def on_subscription(
            self,
            /,
            *,
            where: Callable[[SubscriptionEvent], bool] | None = None,
            **filters: Unpack[EventFilters],
        ) -> Callable[[_SubscriptionH], _SubscriptionH]: ...

        @overload  # type: ignore[no-overload-impl]
        def on_sending_status(self, handler: _SendingStatusH, /) -> _SendingStatusH: ...
        @overload
        def on_sending_status(
            self,
            /,
            *,
            tenant: str | Collection[str] | None = None,
            where: Callable[[SendingStatusEvent], bool] | None = None,
        ) -> Callable[[_SendingStatusH], _SendingStatusH]: ...

        @overload  # type: ignore[no-overload-impl]
        def on_advisor_recommendation(self, handler: _AdvisorH, /) -> _AdvisorH: ...
        @overload
        def on_advisor_recommendation(
            self,
            /,
            *,
            tenant: str | Collection[str] | None = None,
            where: Callable[[AdvisorRecommendationEvent], bool] | None = None,
        ) -> Callable[[_AdvisorH], _AdvisorH]: ...

    def on_unmatched(self, hook: _UnmatchedH) -> _UnmatchedH:
        """Set the hook called with each record no handler was selected for. Usable as a decorator."""
        self._check_not_included("on_unmatched")
        if not callable(hook):
            raise RouterConfigError(f"on_unmatched needs a function, got {hook!r}")
        self._unmatched_hook = hook
        return hook

    def on_invalid(self, hook: _InvalidH) -> _InvalidH:
        """Set the dead-letter hook, called with each ``SourceItem`` that could not be
        unwrapped, verified or parsed (its ``error`` says why, its ``raw`` is the payload as delivered).
        Usable as a decorator.
        """
        self._check_not_included("on_invalid")
        if not callable(hook):
            raise RouterConfigError(f"on_invalid needs a function, got {hook!r}")
        self._invalid_hook = hook
        return hook

    def include(self, other: EventRouter) -> None:
        """Add the handlers of ``other`` to this router, after the ones registered so far.

        A large application registers handlers on one router per module and includes them in the router it
        dispatches with. ``other``'s routes are appended in their own registration order, each with its own
        types and filters, so a record reaches the handlers of both routers in the order the routes were
        added here. The routes are copied now: ``other`` cannot register anything after it has been
        included (it raises ``RouterConfigError``), so that no handler is silently left out.

        Hooks: a hook ``other`` sets (``on_unmatched``, ``on_invalid``) becomes this router's when this one
        has none; two different hooks for the same purpose raise ``RouterConfigError``, since a router
        has one of each (the same hook on both is fine). Dispatch settings are this router's; including a
        router with ``run_sync_in_thread=True`` into one without it raises, since its plain handlers would
        then run in the event loop's thread. A router is included once: including it into itself, or again
        (here or into another router) raises ``RouterConfigError``, so routers form a tree and no
        handler runs twice for one record. Nothing is changed when it raises.
        """
        self._check_not_included("include")
        if not isinstance(other, EventRouter):
            raise RouterConfigError(f"include() takes an EventRouter, got {other!r}")
        if other is self:
            raise RouterConfigError("a router cannot include itself")
        if other._included_by is not None:
            holder = "this router" if other._included_by is self else "another router"
            raise RouterConfigError(f"that router is already included in {holder}; include a router once")
        if other.run_sync_in_thread and not self.run_sync_in_thread:
            raise RouterConfigError(
                "the included router runs plain handlers in a worker thread (run_sync_in_thread=True) and "
                "this one does not: set run_sync_in_thread=True on the including router too"
            )
        unmatched = _merged_hook("on_unmatched", self._unmatched_hook, other._unmatched_hook)
        invalid = _merged_hook("on_invalid", self._invalid_hook, other._invalid_hook)
        self._unmatched_hook, self._invalid_hook = unmatched, invalid
        self._routes.extend(other._routes)
        other._included_by = self
        self._rebuild()

    def _check_not_included(self, what: str) -> None:
        if self._included_by is not None:
            raise RouterConfigError(
                f"{what}() on a router that was already included in another one (router.include copies the "
                "handlers when it is called): register every handler and hook before including the router"
            )

    @property
    def has_async_handlers(self) -> bool:
        """True when a registered handler or hook is a coroutine function (``dispatch`` cannot run those)."""
        return bool(self._async_names())

    def _async_names(self) -> list[str]:
        names = [r.name for r in self._routes if r.is_async]
        for hook in (self._unmatched_hook, self._invalid_hook):
            if hook is not None and _is_coroutine_function(hook):
                names.append(handler_name(hook))
        return names

    def check_sync(self, entry_point: str = "dispatch") -> None:
        """Raise ``AsyncHandlerError`` if any handler or hook is a coroutine function.

        The synchronous Lambda entry points call this before touching the batch, so a router that needs an
        event loop fails on its first invocation, not on the first record of a rarer type.
        """
        names = self._async_names()
        if names:
            owner = "router." if hasattr(EventRouter, entry_point) else ""  # a method, or a Lambda function
            raise AsyncHandlerError(
                f"{entry_point}() cannot run coroutine handlers ({', '.join(names)}); use the async "
                f"variant (await {owner}{entry_point}_async(...), or sesflow.routing.run_async(...) "
                "from a synchronous Lambda handler)",
                handlers=names,
            )

    # --- sync dispatch --------------------------------------------------------------------------------

    def dispatch(self, record: ParsedRecord) -> DispatchResult:
        """Run the plain-function handlers selected for ``record`` and return what happened.

        Raises ``AsyncHandlerError``, before running anything, when a handler registered for the
        record's type is a coroutine function (whether or not its filters would match this record).
        """
        return self._dispatch(record, None, None)

    def dispatch_item(self, item: SourceItem) -> DispatchResult:
        """Route one source item: its record to the handlers, or, when it is invalid, to the ``on_invalid``
        hook with a failed result (``error`` set), so that the item is reported and retried, never dropped.
        """
        record = item.record
        if record is None:
            result = self._invalid_result(item)
            hook = self._invalid_hook
            return result if hook is None else self._run_hook(hook, item, result)
        return self._dispatch(record, item, None)

    def _dispatch(
        self, record: ParsedRecord, item: SourceItem | None, later: list[tuple[_Route, Any]] | None
    ) -> DispatchResult:
        """The sync dispatch. ``later`` (async dispatch only) collects awaitables plain functions returned."""
        plan = self._plans.get(type(record))
        if plan is None:
            plan = self._plan_for(record)
        if plan.has_async:
            self._refuse_async(record, plan)
        routes = plan.routes
        if not routes:
            return self._unmatched(record, item, later is None)
        failures: list[HandlerFailure] | None = None
        if not plan.has_filter:
            for route in routes:
                try:
                    returned = route.func(record)
                except Exception as exc:
                    failures = _add_failure(failures, route.func, exc, record)
                else:
                    if returned is not None and inspect.isawaitable(returned):
                        if later is None:
                            error = _returned_awaitable(route, returned)
                            failures = _add_failure(failures, route.func, error, record)
                        else:
                            later.append((route, returned))
            handlers = plan.funcs
        else:
            selected: list[Callable[..., Any]] = []
            for route in routes:
                matches = route.matches
                try:
                    if matches is not None and not matches(record):
                        continue
                except Exception as exc:
                    selected.append(route.func)
                    failures = _add_failure(failures, route.func, exc, record)
                    continue
                selected.append(route.func)
                try:
                    returned = route.func(record)
                except Exception as exc:
                    failures = _add_failure(failures, route.func, exc, record)
                else:
                    if returned is not None and inspect.isawaitable(returned):
                        if later is None:
                            error = _returned_awaitable(route, returned)
                            failures = _add_failure(failures, route.func, error, record)
                        else:
                            later.append((route, returned))
            if not selected:
                return self._unmatched(record, item, later is None)
            handlers = tuple(selected)
        return new_result(record, handlers, _NO_FAILURES if failures is None else tuple(failures), item)

    def _refuse_async(self, record: ParsedRecord, plan: _Plan) -> None:
        names = [r.name for r in plan.routes if r.is_async]
        raise AsyncHandlerError(
            f"dispatch() cannot run the coroutine handler(s) {', '.join(names)} registered for "
            f"{type(record).__name__}; use 'await router.dispatch_async(...)' (nothing was run)",
            handlers=names,
        )

    def _unmatched(self, record: ParsedRecord, item: SourceItem | None, run_hook: bool) -> DispatchResult:
        result = new_result(record, (), _NO_FAILURES, item)
        hook = self._unmatched_hook
        if not run_hook:  # the async dispatch runs the hook itself
            return result
        if hook is None:
            logger.debug("no handler for %s", _describe(record))
            return result
        return self._run_hook(hook, record, result)

    @staticmethod
    def _invalid_result(item: SourceItem) -> DispatchResult:
        error = item.error
        assert error is not None, "a SourceItem carries exactly one of record and error"
        logger.warning("invalid %s item %s: %s", item.transport.value, item.item_id, error)
        return DispatchResult(None, (), _NO_FAILURES, item, error)

    def _run_hook(self, hook: Callable[[Any], object], arg: object, result: DispatchResult) -> DispatchResult:
        name = handler_name(hook)
        if _is_coroutine_function(hook):
            raise AsyncHandlerError(
                f"the hook {name} is a coroutine function, which dispatch() cannot run; "
                "use 'await router.dispatch_async(...)' or dispatch_item_async()",
                handlers=[name],
            )
        try:
            returned = hook(arg)
            if returned is not None and inspect.isawaitable(returned):
                raise _returned_awaitable(name, returned)
        except Exception as exc:
            return _with_failures(result, [_new_failure(hook, exc, arg, "hook")])
        return result

    # --- async dispatch -------------------------------------------------------------------------------

    async def dispatch_async(self, record: ParsedRecord) -> DispatchResult:
        """Run every handler selected for ``record``, plain functions and coroutines, and return the result.

        Plain functions run first, in registration order, in the loop's thread (with ``run_sync_in_thread``:
        in a worker thread, while the coroutines run); the coroutines of the record run concurrently
        (``asyncio.gather``). A plain function that returns an awaitable has it awaited with the
        coroutines. ``handlers`` and ``failures`` are in registration order either way.
        """
        return await self._dispatch_async(record, None)

    async def dispatch_item_async(self, item: SourceItem) -> DispatchResult:
        """The async twin of ``dispatch_item``."""
        record = item.record
        if record is None:
            result = self._invalid_result(item)
            hook = self._invalid_hook
            return result if hook is None else await self._run_hook_async(hook, item, result)
        return await self._dispatch_async(record, item)

    async def _dispatch_async(self, record: ParsedRecord, item: SourceItem | None) -> DispatchResult:
        plan = self._plans.get(type(record))
        if plan is None:
            plan = self._plan_for(record)
        if not plan.routes:
            return await self._unmatched_async(record, item)
        if not plan.has_async and not self.run_sync_in_thread:
            # Only plain functions: the sync dispatch, then whatever awaitables they returned.
            later: list[tuple[_Route, Any]] = []
            result = self._dispatch(record, item, later)
            if result.handlers or result.failures:
                if later:
                    result = await self._await_later(result, later, record)
                return result
            return await self._unmatched_async(record, item)

        failures: dict[int, HandlerFailure] = {}
        selected: list[int] = []
        routes = plan.routes
        for index, route in enumerate(routes):
            matches = route.matches
            try:
                if matches is None or matches(record):
                    selected.append(index)
            except Exception as exc:
                selected.append(index)
                failures[index] = _new_failure(route.func, exc, record)
        if not selected:
            return await self._unmatched_async(record, item)

        plain = [i for i in selected if not routes[i].is_async and i not in failures]
        returned_later: list[tuple[int, Any]] = []

        def run_plain() -> None:
            for i in plain:
                route = routes[i]
                try:
                    returned = route.func(record)
                except Exception as exc:
                    failures[i] = _new_failure(route.func, exc, record)
                else:
                    if returned is not None and inspect.isawaitable(returned):
                        returned_later.append((i, returned))

        pending: list[tuple[int, Any]] = []
        for i in selected:
            route = routes[i]
            if route.is_async and i not in failures:
                try:
                    pending.append((i, route.func(record)))
                except Exception as exc:
                    failures[i] = _new_failure(route.func, exc, record)
        if self.run_sync_in_thread and plain:
            worker = asyncio.to_thread(run_plain)
            outcomes = await asyncio.gather(worker, *(a for _, a in pending), return_exceptions=True)
            if isinstance(outcomes[0], BaseException):  # only a BaseException escapes run_plain
                raise outcomes[0]
            _record_outcomes(failures, routes, pending, outcomes[1:], record)
            pending = returned_later
        else:
            run_plain()
            pending.extend(returned_later)
        if pending:
            _record_outcomes(failures, routes, pending, await _gather(a for _, a in pending), record)
        handlers = tuple(routes[i].func for i in selected)
        ordered = tuple(failures[i] for i in selected if i in failures)
        return DispatchResult(record, handlers, ordered or _NO_FAILURES, item)

    async def _await_later(
        self, result: DispatchResult, later: list[tuple[_Route, Any]], record: ParsedRecord
    ) -> DispatchResult:
        outcomes = await _gather(a for _, a in later)
        new: list[HandlerFailure] = []
        for (route, _), outcome in zip(later, outcomes, strict=True):
            if isinstance(outcome, Exception):
                new.append(_new_failure(route.func, outcome, record))
            elif isinstance(outcome, BaseException):
                raise outcome
        if not new:
            return result
        position = {id(h): i for i, h in reversed(list(enumerate(result.handlers)))}
        merged = sorted([*result.failures, *new], key=lambda f: position.get(id(f.handler), 0))
        return _with_failures(result, merged, replace=True)

    async def _unmatched_async(self, record: ParsedRecord, item: SourceItem | None) -> DispatchResult:
        result = new_result(record, (), _NO_FAILURES, item)
        hook = self._unmatched_hook
        if hook is None:
            logger.debug("no handler for %s", _describe(record))
            return result
        return await self._run_hook_async(hook, record, result)

    async def _run_hook_async(
        self, hook: Callable[[Any], object], arg: object, result: DispatchResult
    ) -> DispatchResult:
        try:
            if self.run_sync_in_thread and not _is_coroutine_function(hook):
                returned = await asyncio.to_thread(hook, arg)
            else:
                returned = hook(arg)
            if returned is not None and inspect.isawaitable(returned):
                await returned
        except Exception as exc:
            return _with_failures(result, [_new_failure(hook, exc, arg, "hook")])
        return result


class _Shortcut(NamedTuple):
    """One typed shortcut decorator: ``name`` registers handlers for ``event_class`` alone (an email event
    class, or a ``StatusEvent`` class: those are control messages that take only the
    ``tenant`` filter)."""

    name: str
    event_class: type[SesEvent] | type[StatusEvent]
    note: str = ""


_SHORTCUTS: Final = (
    _Shortcut("on_send", SendEvent),
    _Shortcut("on_delivery", DeliveryEvent),
    _Shortcut(
        "on_bounce",
        BounceEvent,
        "``bounce_type`` selects bounces of that type (or those types), e.g. ``BounceType.PERMANENT`` for "
        "the hard bounces whose recipients must be suppressed.",
    ),
    _Shortcut("on_complaint", ComplaintEvent),
    _Shortcut("on_reject", RejectEvent),
    _Shortcut("on_open", OpenEvent),
    _Shortcut("on_click", ClickEvent),
    _Shortcut("on_rendering_failure", RenderingFailureEvent),
    _Shortcut("on_delivery_delay", DeliveryDelayEvent),
    _Shortcut("on_subscription", SubscriptionEvent, "Subscription events are list subscription changes."),
    _Shortcut(
        "on_sending_status",
        SendingStatusEvent,
        "``Sending Status Enabled`` / ``Disabled`` from EventBridge: a tenant's sending resumed or paused "
        "(``tenant`` selects one tenant, or several).",
    ),
    _Shortcut(
        "on_advisor_recommendation",
        AdvisorRecommendationEvent,
        "``Advisor Recommendation Status Open`` / ``Resolved`` from EventBridge: a reputation finding opened "
        "or closed (``tenant`` selects one tenant, or several).",
    ),
)
"""The typed shortcuts: one per SES event type, and one per EventBridge status record; the stubs in
``EventRouter`` give each its types."""


def _shortcut(spec: _Shortcut) -> Callable[..., Any]:
    """The decorator method ``spec`` describes: bare (``@router.on_bounce``) or called with filters."""
    name = spec.name
    cls = spec.event_class

    if issubclass(cls, SesEvent):
        types = frozenset({cls.EVENT_TYPE})

        def register(
            self: EventRouter,
            handler: Callable[[Any], object] | None = None,
            /,
            *,
            where: Callable[[Any], bool] | None = None,
            **filters: Any,
        ) -> Any:
            return self._add(types, handler, name, where=where, **filters)

        takes = "``EventFilters`` keywords"
    else:
        classes = (cls,)

        def register(
            self: EventRouter,
            handler: Callable[[Any], object] | None = None,
            /,
            *,
            where: Callable[[Any], bool] | None = None,
            **filters: Any,
        ) -> Any:
            return self._add(
                None,
                handler,
                name,
                where=where,
                control=True,
                classes=classes,
                allowed=_STATUS_FILTERS,
                **filters,
            )

        takes = "``tenant`` filter"

    register.__name__ = name
    register.__qualname__ = f"EventRouter.{name}"
    register.__doc__ = (
        f"Register a handler for ``{cls.__name__}``, bare or with the {takes} and a ``where`` "
        f"predicate. {spec.note}"
    ).rstrip()
    return register


for _spec in _SHORTCUTS:
    setattr(EventRouter, _spec.name, _shortcut(_spec))


def _describe(record: object) -> str:
    if isinstance(record, SourceItem):
        return f"{record.transport.value} item {record.item_id}"
    message_id = getattr(getattr(record, "mail", None), "message_id", None)
    return f"{type(record).__name__} {message_id}" if message_id else type(record).__name__


def _merged_hook(
    name: str, mine: Callable[[Any], object] | None, theirs: Callable[[Any], object] | None
) -> Callable[[Any], object] | None:
    """The hook a router keeps when it includes another: its own, or the other's, never two."""
    if theirs is None or theirs == mine:  # == so that the same bound method, fetched twice, is the same hook
        return mine
    if mine is None:
        return theirs
    raise RouterConfigError(
        f"both routers set an {name} hook ({handler_name(mine)} and {handler_name(theirs)}); a router has "
        f"one {name} hook: set it on the including router only"
    )


def _new_failure(
    func: Callable[..., Any], exc: Exception, record: object, what: str = "handler"
) -> HandlerFailure:
    logger.error("%s %s failed on %s", what, handler_name(func), _describe(record), exc_info=exc)
    return HandlerFailure(func, exc)


def _add_failure(
    failures: list[HandlerFailure] | None, func: Callable[..., Any], exc: Exception, record: object
) -> list[HandlerFailure]:
    if failures is None:
        failures = []
    failures.append(_new_failure(func, exc, record))
    return failures


def _returned_awaitable(route: _Route | str, returned: object) -> AsyncHandlerError:
    """The error for a plain function that returned an awaitable in a sync dispatch (closed so no warning)."""
    close = getattr(returned, "close", None)
    if close is not None:
        close()
    name = route if isinstance(route, str) else route.name
    return AsyncHandlerError(
        f"{name} returned an awaitable, which dispatch() cannot await; declare it with 'async def' and use "
        "'await router.dispatch_async(...)'",
        handlers=[name],
    )


def _with_failures(
    result: DispatchResult, failures: Sequence[HandlerFailure], *, replace: bool = False
) -> DispatchResult:
    combined = tuple(failures) if replace else (*result.failures, *failures)
    return DispatchResult(result.record, result.handlers, combined, result.item, result.error)


def _record_outcomes(
    failures: dict[int, HandlerFailure],
    routes: Sequence[_Route],
    pending: Sequence[tuple[int, Any]],
    outcomes: Sequence[object],
    record: object,
) -> None:
    for (index, _), outcome in zip(pending, outcomes, strict=True):
        if isinstance(outcome, Exception):
            failures[index] = _new_failure(routes[index].func, outcome, record)
        elif isinstance(outcome, BaseException):  # cancellation, KeyboardInterrupt: not a handler failure
            raise outcome


async def _gather(awaitables: Iterable[Awaitable[object]]) -> list[object]:
    """Await all, concurrently, returning each one's value or exception (one awaitable: no task)."""
    items = list(awaitables)
    if len(items) == 1:
        try:
            return [await items[0]]
        except Exception as exc:
            return [exc]
    return list(await asyncio.gather(*items, return_exceptions=True))
