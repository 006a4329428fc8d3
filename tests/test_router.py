"""EventRouter: registration, filters, results, hooks, sync and async dispatch."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest

from sesflow import parse_event
from sesflow.errors import ParseError
from sesflow.events import (
    BounceEvent,
    BounceType,
    ComplaintEvent,
    ControlMessage,
    EventFamily,
    EventType,
    SesEvent,
    SubscriptionSucceeded,
    TopicValidation,
    UnknownEvent,
)
from sesflow.routing import (
    AsyncHandlerError,
    DispatchError,
    DispatchResult,
    EventRouter,
    HandlerFailure,
    NotARecordError,
    RouterConfigError,
    RoutingError,
    run_async,
)
from sesflow.sources._item import SourceItem, Transport
from sesflow.testing import make_event, make_record

from .conftest import DATA

SAMPLES: dict[EventType, SesEvent] = {}
for _path in sorted(DATA.glob("event_*.json")):
    _event = parse_event(_path.read_bytes())
    assert isinstance(_event, SesEvent)
    SAMPLES[_event.event_type] = _event

SHORTCUTS = {
    "on_send": EventType.SEND,
    "on_delivery": EventType.DELIVERY,
    "on_bounce": EventType.BOUNCE,
    "on_complaint": EventType.COMPLAINT,
    "on_reject": EventType.REJECT,
    "on_open": EventType.OPEN,
    "on_click": EventType.CLICK,
    "on_rendering_failure": EventType.RENDERING_FAILURE,
    "on_delivery_delay": EventType.DELIVERY_DELAY,
    "on_subscription": EventType.SUBSCRIPTION,
}


def _bounce(bounce_type: str = "Permanent", **options: Any) -> BounceEvent:
    detail = {"bounceType": bounce_type, "bounceSubType": "General"}
    event = make_event(EventType.BOUNCE, detail=detail, **options)
    assert isinstance(event, BounceEvent)
    return event


def _unknown(type_name: str = "Quarantine") -> UnknownEvent:
    record = make_record(EventType.SEND)
    record["eventType"] = type_name
    event = parse_event(record)
    assert isinstance(event, UnknownEvent)
    return event


# --- registration and routing ---------------------------------------------------------------------------


@pytest.mark.parametrize(("shortcut", "event_type"), SHORTCUTS.items())
def test_each_shortcut_receives_only_its_type(shortcut: str, event_type: EventType) -> None:
    router = EventRouter()
    seen: list[SesEvent] = []
    getattr(router, shortcut)(seen.append)
    for event in SAMPLES.values():
        result = router.dispatch(event)
        assert result.matched is (event.event_type is event_type)
    assert [e.event_type for e in seen] == [event_type]
    assert type(seen[0]).EVENT_TYPE is event_type


@pytest.mark.parametrize(("shortcut", "event_type"), SHORTCUTS.items())
def test_on_with_one_type_matches_the_shortcut(shortcut: str, event_type: EventType) -> None:
    router = EventRouter()
    seen: list[EventType] = []
    router.on(event_type)(lambda e: seen.append(e.event_type))
    router.on(event_type.value)(lambda e: seen.append(e.event_type))  # SES's spelling works too
    for event in SAMPLES.values():
        router.dispatch(event)
    assert seen == [event_type, event_type]


def test_registration_order_is_kept_across_types_and_catch_alls() -> None:
    router = EventRouter()
    calls: list[str] = []

    @router.on_any
    def first(event: SesEvent) -> None:
        calls.append("any-1")

    @router.on_bounce
    def second(event: BounceEvent) -> None:
        calls.append("bounce-1")

    @router.on(EventType.BOUNCE, EventType.COMPLAINT)
    def third(event: SesEvent) -> None:
        calls.append("bounce-or-complaint")

    @router.on_bounce()
    def fourth(event: BounceEvent) -> None:
        calls.append("bounce-2")

    @router.on_complaint
    def fifth(event: ComplaintEvent) -> None:
        calls.append("complaint")

    bounce = SAMPLES[EventType.BOUNCE]
    result = router.dispatch(bounce)
    assert result == DispatchResult(bounce, (first, second, third, fourth), (), None, None)
    assert calls == ["any-1", "bounce-1", "bounce-or-complaint", "bounce-2"]
    assert result.handlers == (first, second, third, fourth)
    assert result.ok
    assert result.matched
    assert result.succeeded == result.handlers

    calls.clear()
    router.dispatch(SAMPLES[EventType.COMPLAINT])
    assert calls == ["any-1", "bounce-or-complaint", "complaint"]


def test_decorators_return_the_function_unchanged() -> None:
    router = EventRouter()

    def handler(event: BounceEvent) -> str:
        return "kept"

    assert router.on_bounce(handler) is handler
    assert router.on_bounce(bounce_type="Permanent")(handler) is handler
    assert router.on(EventType.BOUNCE)(handler) is handler
    assert router.on_any(handler) is handler  # type: ignore[type-var]
    assert router.on_control(print) is print


def test_a_handler_registered_for_several_types_sees_each() -> None:
    router = EventRouter()
    seen: list[EventType] = []
    router.on(EventType.OPEN, EventType.CLICK)(lambda e: seen.append(e.event_type))
    for event in SAMPLES.values():
        router.dispatch(event)
    assert seen == [EventType.OPEN, EventType.CLICK]


def test_notifications_route_like_events_of_their_type() -> None:
    router = EventRouter()
    seen: list[tuple[EventType, EventFamily]] = []
    router.on(EventType.BOUNCE, EventType.COMPLAINT, EventType.DELIVERY)(
        lambda e: seen.append((e.event_type, e.family))
    )
    for path in sorted(DATA.glob("notification_*.json")):
        assert router.dispatch(parse_event(path.read_bytes())).matched
    assert [t for t, _ in seen] == [
        EventType.BOUNCE,
        EventType.BOUNCE,
        EventType.COMPLAINT,
        EventType.COMPLAINT,
        EventType.DELIVERY,
    ]
    assert {f for _, f in seen} == {EventFamily.NOTIFICATION}


def test_unknown_events_reach_catch_alls_and_handlers_of_their_own_type() -> None:
    router = EventRouter()
    seen: list[str] = []
    router.on_any(lambda e: seen.append(f"any:{e.event_type.value}"))
    router.on_send(lambda e: seen.append("send"))
    router.on(EventType("Quarantine"))(lambda e: seen.append(f"quarantine:{type(e).__name__}"))

    result = router.dispatch(_unknown("Quarantine"))
    assert seen == ["any:Quarantine", "quarantine:UnknownEvent"]
    assert len(result.handlers) == 2

    seen.clear()
    router.dispatch(_unknown("Other"))
    router.dispatch(_unknown("Quarantine"))  # the plan cached per type name is reused
    assert seen == ["any:Other", "any:Quarantine", "quarantine:UnknownEvent"]


def test_control_messages_go_to_control_handlers_not_catch_alls() -> None:
    router = EventRouter()
    events: list[object] = []
    controls: list[ControlMessage] = []
    router.on_any(events.append)
    router.on_control(controls.append)
    validation = parse_event("Successfully validated SNS topic for Amazon SES event publishing.")
    succeeded = parse_event({"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "hi"})
    assert isinstance(validation, TopicValidation)
    assert isinstance(succeeded, SubscriptionSucceeded)

    assert router.dispatch(validation).matched
    assert router.dispatch(succeeded).matched
    assert controls == [validation, succeeded]
    assert events == []


def test_control_message_subclasses_route_as_control_messages() -> None:
    class Custom(ControlMessage):
        pass

    router = EventRouter()
    seen: list[ControlMessage] = []
    router.on_control(where=lambda m: isinstance(m, Custom))(seen.append)
    message = Custom(raw={"x": 1})
    assert router.dispatch(message).matched
    assert router.dispatch(TopicValidation(raw="text", message="text")).matched is False
    assert seen == [message]


def test_subclasses_of_event_classes_route_as_their_base_type() -> None:
    class TaggedBounce(BounceEvent):
        pass

    router = EventRouter()
    seen: list[BounceEvent] = []
    router.on_bounce(seen.append)
    base = SAMPLES[EventType.BOUNCE]
    assert isinstance(base, BounceEvent)
    event = TaggedBounce(base.mail, base.bounce, family=base.family)
    assert router.dispatch(event).matched
    assert router.dispatch(event).matched  # from the plan cached for the subclass
    assert seen == [event, event]


def test_dispatch_refuses_what_is_not_a_parsed_record() -> None:
    router = EventRouter()
    with pytest.raises(NotARecordError, match="parse_event"):
        router.dispatch({"eventType": "Bounce"})  # type: ignore[arg-type]
    assert issubclass(NotARecordError, TypeError)


# --- filters --------------------------------------------------------------------------------------------


def _routed(router: EventRouter, event: SesEvent) -> bool:
    return router.dispatch(event).matched


def test_bounce_type_filter() -> None:
    router = EventRouter()
    router.on_bounce(bounce_type=BounceType.PERMANENT)(lambda e: None)
    assert _routed(router, _bounce("Permanent"))
    assert not _routed(router, _bounce("Transient"))

    several = EventRouter()
    several.on_bounce(bounce_type=["Transient", BounceType.UNDETERMINED])(lambda e: None)
    assert several.dispatch(_bounce("Transient")).matched
    assert several.dispatch(_bounce("Undetermined")).matched
    assert not several.dispatch(_bounce("Permanent")).matched

    via_on = EventRouter()
    via_on.on(EventType.BOUNCE, bounce_type="Transient")(lambda e: None)
    assert via_on.dispatch(_bounce("Transient")).matched
    assert not via_on.dispatch(_bounce("Permanent")).matched


def test_configuration_set_filter() -> None:
    router = EventRouter()
    router.on_any(configuration_set="marketing")(lambda e: None)
    assert _routed(router, make_event(EventType.OPEN, configuration_set="marketing"))
    assert not _routed(router, make_event(EventType.OPEN, configuration_set="transactional"))
    assert not _routed(router, make_event(EventType.OPEN, configuration_set=None))
    notification = make_event(EventType.BOUNCE, family=EventFamily.NOTIFICATION)
    assert notification.configuration_set is None
    assert not _routed(router, notification)

    several = EventRouter()
    several.on_open(configuration_set={"a", "b"})(lambda e: None)
    assert _routed(several, make_event(EventType.OPEN, configuration_set="b"))
    assert not _routed(several, make_event(EventType.OPEN, configuration_set="c"))


def test_tag_filter_with_value_name_only_and_several() -> None:
    campaign = make_event(EventType.CLICK, tags={"campaign": "spring", "tier": ["gold", "vip"]})
    other = make_event(EventType.CLICK, tags={"campaign": "autumn"})
    untagged = make_event(EventType.CLICK)

    by_value = EventRouter()
    by_value.on_click(tag="campaign=spring")(lambda e: None)
    assert [_routed(by_value, e) for e in (campaign, other, untagged)] == [True, False, False]

    by_name = EventRouter()
    by_name.on_click(tag="campaign")(lambda e: None)
    assert [_routed(by_name, e) for e in (campaign, other, untagged)] == [True, True, False]

    multi_valued = EventRouter()
    multi_valued.on_click(tag="tier=vip")(lambda e: None)
    assert [_routed(multi_valued, e) for e in (campaign, other)] == [True, False]

    every = EventRouter()
    every.on_click(tag=["campaign", "tier=gold"])(lambda e: None)
    assert [_routed(every, e) for e in (campaign, other, untagged)] == [True, False, False]

    ses_tag = EventRouter()
    ses_tag.on_click(tag="ses:configuration-set=my-config-set")(lambda e: None)
    assert _routed(ses_tag, campaign)


def test_recipient_domain_filter() -> None:
    router = EventRouter()
    router.on_bounce(recipient_domain="Example.ORG")(lambda e: None)
    assert _routed(router, _bounce(recipients=["a@example.com", "B@EXAMPLE.org"]))
    assert not _routed(router, _bounce(recipients=["a@example.com"]))
    assert not _routed(router, _bounce(recipients=["a@mail.example.org"]))  # exact domain, no subdomains

    # the addresses the event concerns: the bounced recipients, not every destination of the message
    record = make_record(EventType.BOUNCE, recipients=["x@example.com"])
    record["mail"]["destination"] = ["x@example.com", "y@example.org"]
    assert not _routed(router, parse_event(record))  # type: ignore[arg-type]

    several = EventRouter()
    several.on_delivery(recipient_domain=["@example.net", "example.org"])(lambda e: None)
    assert _routed(several, make_event(EventType.DELIVERY, recipients=["Name <n@example.net>"]))
    assert not _routed(several, make_event(EventType.DELIVERY, recipients=["n@example.com"]))


def test_family_filter() -> None:
    router = EventRouter()
    router.on_bounce(family=EventFamily.NOTIFICATION)(lambda e: None)
    assert _routed(router, make_event(EventType.BOUNCE, family=EventFamily.NOTIFICATION))
    assert not _routed(router, make_event(EventType.BOUNCE))


def test_where_predicate_and_all_filters_together() -> None:
    router = EventRouter()
    seen: list[BounceEvent] = []
    router.on_bounce(
        bounce_type="Permanent",
        configuration_set="marketing",
        tag="campaign=spring",
        recipient_domain="example.com",
        family=EventFamily.EVENT,
        where=lambda e: e.bounce.bounce_sub_type == "General",
    )(seen.append)
    good = _bounce(configuration_set="marketing", tags={"campaign": "spring"}, recipients=["a@example.com"])
    assert _routed(router, good)
    for bad in (
        _bounce("Transient", configuration_set="marketing", tags={"campaign": "spring"}),
        _bounce(configuration_set="other", tags={"campaign": "spring"}),
        _bounce(configuration_set="marketing", tags={"campaign": "autumn"}),
        _bounce(configuration_set="marketing", tags={"campaign": "spring"}, recipients=["a@example.net"]),
    ):
        assert not _routed(router, bad)
    sub_type = make_event(
        EventType.BOUNCE,
        detail={"bounceType": "Permanent", "bounceSubType": "NoEmail"},
        configuration_set="marketing",
        tags={"campaign": "spring"},
    )
    assert not _routed(router, sub_type)
    assert seen == [good]


def test_filtered_and_unfiltered_handlers_mix_in_order() -> None:
    router = EventRouter()
    calls: list[str] = []
    router.on_bounce(lambda e: calls.append("all"))
    router.on_bounce(bounce_type="Transient")(lambda e: calls.append("transient"))
    router.on_bounce(lambda e: calls.append("all-again"))
    result = router.dispatch(_bounce("Permanent"))
    assert calls == ["all", "all-again"]
    assert len(result.handlers) == 2


@pytest.mark.parametrize(
    ("register", "message"),
    [
        (lambda r: r.on(), "at least one event type"),
        (lambda r: r.on(lambda e: None), "takes event types"),
        (lambda r: r.on(EventType.COMPLAINT, bounce_type="Permanent"), "bounce events only"),
        (
            lambda r: r.on(EventType.BOUNCE, EventType.COMPLAINT, bounce_type="Permanent"),
            "bounce events only",
        ),
        (lambda r: r.on("bounce"), r"EventType.BOUNCE"),
        (lambda r: r.on_bounce(BounceType.PERMANENT), "keyword arguments"),
        (lambda r: r.on_bounce(bounce_type="permanent"), r"BounceType.PERMANENT"),
        (lambda r: r.on_bounce(bounce_type=[]), "at least one"),
        (lambda r: r.on_any(configuration_set=""), "non-empty"),
        (lambda r: r.on_any(configuration_set=3), "string or a collection"),
        (lambda r: r.on_any(tag="=value"), "name=value"),
        (lambda r: r.on_any(tag=[]), "name=value"),
        (lambda r: r.on_any(recipient_domain=[1]), "string or a collection"),
        (lambda r: r.on_any(family="eventType"), "EventFamily"),
        (lambda r: r.on_any(where="yes"), "predicate"),
        (lambda r: r.on_open()(42), "must decorate a function"),
        (lambda r: r.on_unmatched(None), "needs a function"),
        (lambda r: r.on_invalid("x"), "needs a function"),
    ],
)
def test_bad_registrations_fail_at_registration(register: Callable[[Any], object], message: str) -> None:
    router = EventRouter()
    with pytest.raises(RouterConfigError, match=message):
        register(router)
    assert router.dispatch(SAMPLES[EventType.BOUNCE]).handlers == ()


def test_an_event_type_sesflow_does_not_know_is_accepted_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = EventRouter()
    with caplog.at_level(logging.WARNING, logger="sesflow.routing"):
        router.on("Quarantine")(lambda e: None)
    assert "'Quarantine' is not one this version of sesflow knows" in caplog.text
    assert router.dispatch(_unknown("Quarantine")).matched


# --- results, failures and hooks --------------------------------------------------------------------------


def test_a_failing_handler_does_not_stop_or_hide_the_others(caplog: pytest.LogCaptureFixture) -> None:
    router = EventRouter()
    calls: list[str] = []
    boom = ValueError("store is down")

    @router.on_bounce
    def before(event: BounceEvent) -> None:
        calls.append("before")

    @router.on_bounce
    def failing(event: BounceEvent) -> None:
        raise boom

    @router.on_any
    def after(event: SesEvent) -> None:
        calls.append("after")

    event = SAMPLES[EventType.BOUNCE]
    with caplog.at_level(logging.ERROR, logger="sesflow.routing"):
        result = router.dispatch(event)
    assert calls == ["before", "after"]
    assert result.handlers == (before, failing, after)
    assert result.failures == (HandlerFailure(failing, boom),)
    assert result.failures[0].name.endswith(
        "test_a_failing_handler_does_not_stop_or_hide_the_others.<locals>.failing"
    )
    assert result.succeeded == (before, after)
    assert not result.ok
    assert result.matched
    assert result.record is event
    assert "failing failed on BounceEvent" in caplog.text
    assert "store is down" in caplog.text  # the traceback is logged
    assert "failing raised ValueError('store is down')" in result.describe_failure()


def test_a_raising_where_predicate_is_a_failure_of_its_handler() -> None:
    router = EventRouter()
    calls: list[str] = []

    def broken(event: BounceEvent) -> bool:
        raise KeyError("missing")

    @router.on_bounce(where=broken)
    def guarded(event: BounceEvent) -> None:
        calls.append("guarded")

    @router.on_bounce
    def plain(event: BounceEvent) -> None:
        calls.append("plain")

    result = router.dispatch(SAMPLES[EventType.BOUNCE])
    assert calls == ["plain"]
    assert result.handlers == (guarded, plain)
    assert [f.handler for f in result.failures] == [guarded]
    assert isinstance(result.failures[0].exception, KeyError)


def test_unmatched_records_go_to_the_unmatched_hook_and_are_ok() -> None:
    unmatched: list[object] = []
    router = EventRouter(on_unmatched=unmatched.append)
    router.on_bounce(lambda e: None)
    open_event = SAMPLES[EventType.OPEN]
    validation = TopicValidation(raw="text", message="text")

    result = router.dispatch(open_event)
    assert result.ok
    assert not result.matched
    assert result.handlers == ()
    assert router.dispatch(validation).ok
    assert router.dispatch(SAMPLES[EventType.BOUNCE]).matched
    assert unmatched == [open_event, validation]


def test_a_filter_that_excludes_every_handler_makes_the_record_unmatched() -> None:
    unmatched: list[object] = []
    router = EventRouter()
    router.on_unmatched(unmatched.append)
    router.on_bounce(bounce_type="Transient")(lambda e: None)
    result = router.dispatch(_bounce("Permanent"))
    assert not result.matched
    assert result.ok
    assert len(unmatched) == 1


def test_a_raising_unmatched_hook_fails_the_result() -> None:
    router = EventRouter()

    @router.on_unmatched
    def hook(record: object) -> None:
        raise RuntimeError("cannot record it")

    result = router.dispatch(SAMPLES[EventType.OPEN])
    assert not result.ok
    assert not result.matched
    assert [f.handler for f in result.failures] == [hook]


def _bad_item(item_id: str = "msg-1") -> SourceItem:
    error = ParseError("invalid JSON: unexpected character", raw=b"{nope")
    return SourceItem(Transport.SQS, item_id, raw={"body": "{nope"}, error=error)


def test_dispatch_item_sends_invalid_items_to_the_dead_letter_hook() -> None:
    dead: list[SourceItem] = []
    router = EventRouter(on_invalid=dead.append)
    handled: list[object] = []
    router.on_any(handled.append)

    bad = _bad_item()
    result = router.dispatch_item(bad)
    assert dead == [bad]
    assert handled == []
    assert not result.ok
    assert not result.matched
    assert result.record is None
    assert result.item is bad
    assert result.item_id == "msg-1"
    assert result.error is bad.error
    assert result.describe_failure().startswith("item msg-1: invalid: not a valid SES record")

    event = SAMPLES[EventType.DELIVERY]
    good = SourceItem(Transport.SQS, "msg-2", raw={}, record=event)
    good_result = router.dispatch_item(good)
    assert good_result.ok
    assert good_result.item is good
    assert good_result.record is event
    assert handled == [event]


def test_an_invalid_item_fails_without_a_hook_and_a_raising_hook_is_recorded() -> None:
    router = EventRouter()
    result = router.dispatch_item(_bad_item())
    assert not result.ok
    assert result.failures == ()

    def hook(item: SourceItem) -> None:
        raise OSError("dead-letter store unavailable")

    router.on_invalid(hook)
    result = router.dispatch_item(_bad_item())
    assert [f.handler for f in result.failures] == [hook]
    assert result.error is not None


def test_dispatch_error_summarises_failed_results() -> None:
    router = EventRouter()
    router.on_bounce(lambda e: 1 / 0)
    ok = router.dispatch(SAMPLES[EventType.OPEN])
    failed = router.dispatch(SAMPLES[EventType.BOUNCE])
    invalid = router.dispatch_item(_bad_item("m-9"))
    error = DispatchError([ok, failed, invalid])
    assert error.failed == (failed, invalid)
    assert str(error).startswith("2 of 3 item(s) failed (BounceEvent ")
    assert "ZeroDivisionError" in str(error)
    assert "item m-9: invalid" in str(error)
    assert isinstance(error, RoutingError)


# --- sync dispatch and coroutines -------------------------------------------------------------------------


def test_dispatch_refuses_coroutine_handlers_before_running_anything() -> None:
    router = EventRouter()
    calls: list[str] = []
    router.on_bounce(lambda e: calls.append("sync"))

    @router.on_bounce
    async def notify(event: BounceEvent) -> None:
        calls.append("async")

    with pytest.raises(AsyncHandlerError, match="dispatch_async") as caught:
        router.dispatch(SAMPLES[EventType.BOUNCE])
    assert calls == []
    assert caught.value.handlers == (f"{__name__}.{notify.__qualname__}",)
    assert isinstance(caught.value, TypeError)
    # types without coroutine handlers still dispatch synchronously
    assert router.dispatch(SAMPLES[EventType.OPEN]).ok
    assert router.has_async_handlers


def test_dispatch_refuses_a_coroutine_handler_even_when_its_filter_would_not_match() -> None:
    router = EventRouter()

    async def transient_only(event: BounceEvent) -> None:
        pass

    router.on_bounce(bounce_type="Transient")(transient_only)
    with pytest.raises(AsyncHandlerError):
        router.dispatch(_bounce("Permanent"))


def test_callable_objects_with_async_call_are_coroutine_handlers() -> None:
    class Notifier:
        async def __call__(self, event: BounceEvent) -> None:
            pass

    router = EventRouter()
    router.on_bounce(Notifier())
    with pytest.raises(AsyncHandlerError):
        router.dispatch(SAMPLES[EventType.BOUNCE])


def test_a_plain_function_returning_a_coroutine_fails_in_sync_dispatch() -> None:
    router = EventRouter()
    ran: list[str] = []

    async def work(event: SesEvent) -> None:
        ran.append("awaited")

    router.on_open(lambda e: work(e))  # not detectable at registration
    result = router.dispatch(SAMPLES[EventType.OPEN])
    assert ran == []
    assert isinstance(result.failures[0].exception, AsyncHandlerError)
    assert "returned an awaitable" in str(result.failures[0].exception)


def test_check_sync_names_every_coroutine_handler_and_hook() -> None:
    router = EventRouter()
    router.check_sync()

    async def on_bad(item: SourceItem) -> None:
        pass

    router.on_invalid(on_bad)
    with pytest.raises(AsyncHandlerError, match="handle_sqs_lambda_async") as caught:
        router.check_sync("handle_sqs_lambda")
    assert caught.value.handlers == (f"{__name__}.{on_bad.__qualname__}",)
    with pytest.raises(AsyncHandlerError, match="coroutine function"):
        router.dispatch_item(_bad_item())


def test_a_coroutine_unmatched_hook_is_refused_by_sync_dispatch() -> None:
    async def hook(record: object) -> None:
        pass

    router = EventRouter(on_unmatched=hook)
    with pytest.raises(AsyncHandlerError):
        router.dispatch(SAMPLES[EventType.OPEN])


# --- async dispatch ---------------------------------------------------------------------------------------


async def test_dispatch_async_runs_plain_and_coroutine_handlers_in_registration_order_results() -> None:
    router = EventRouter()
    calls: list[str] = []
    loop_thread = threading.get_ident()
    threads: list[int] = []

    @router.on_bounce
    async def first(event: BounceEvent) -> None:
        await asyncio.sleep(0)
        calls.append("async-1")

    @router.on_bounce
    def second(event: BounceEvent) -> None:
        threads.append(threading.get_ident())
        calls.append("sync-1")

    @router.on_any
    async def third(event: SesEvent) -> None:
        raise LookupError("third")

    @router.on_bounce
    def fourth(event: BounceEvent) -> None:
        raise ValueError("fourth")

    result = await router.dispatch_async(SAMPLES[EventType.BOUNCE])
    assert sorted(calls) == ["async-1", "sync-1"]
    assert calls[0] == "sync-1"  # plain functions run first, then the coroutines
    assert threads == [loop_thread]
    assert result.handlers == (first, second, third, fourth)
    assert [f.handler for f in result.failures] == [third, fourth]
    assert [type(f.exception) for f in result.failures] == [LookupError, ValueError]


async def test_coroutines_of_one_event_run_concurrently() -> None:
    router = EventRouter()
    a_started, b_started = asyncio.Event(), asyncio.Event()

    @router.on_bounce
    async def a(event: BounceEvent) -> None:
        a_started.set()
        await b_started.wait()  # would never return if b only started after a finished

    @router.on_bounce
    async def b(event: BounceEvent) -> None:
        b_started.set()
        await a_started.wait()

    result = await asyncio.wait_for(router.dispatch_async(SAMPLES[EventType.BOUNCE]), timeout=5)
    assert result.ok
    assert result.handlers == (a, b)


async def test_run_sync_in_thread_runs_plain_handlers_off_the_loop_in_order() -> None:
    router = EventRouter(run_sync_in_thread=True)
    loop_thread = threading.get_ident()
    seen: list[tuple[str, int]] = []
    release = threading.Event()

    @router.on_bounce
    def blocking(event: BounceEvent) -> None:
        release.wait(5)  # only returns once the coroutine ran: the loop was not blocked
        seen.append(("blocking", threading.get_ident()))

    @router.on_bounce
    def second(event: BounceEvent) -> None:
        seen.append(("second", threading.get_ident()))

    @router.on_bounce
    async def releaser(event: BounceEvent) -> None:
        release.set()

    result = await asyncio.wait_for(router.dispatch_async(SAMPLES[EventType.BOUNCE]), timeout=5)
    assert result.ok
    assert [name for name, _ in seen] == ["blocking", "second"]
    assert {thread for _, thread in seen} != {loop_thread}
    assert release.is_set()


async def test_run_sync_in_thread_also_applies_to_routers_without_coroutines() -> None:
    router = EventRouter(run_sync_in_thread=True)
    threads: list[int] = []
    router.on_open(lambda e: threads.append(threading.get_ident()))
    router.on_open(lambda e: 1 / 0)
    result = await router.dispatch_async(SAMPLES[EventType.OPEN])
    assert threads
    assert threads[0] != threading.get_ident()
    assert [type(f.exception) for f in result.failures] == [ZeroDivisionError]


async def test_run_sync_in_thread_runs_plain_hooks_in_a_worker_thread() -> None:
    threads: list[int] = []
    router = EventRouter(
        run_sync_in_thread=True, on_unmatched=lambda r: threads.append(threading.get_ident())
    )
    result = await router.dispatch_async(SAMPLES[EventType.OPEN])
    assert result.ok
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


async def test_dispatch_async_awaits_what_a_plain_function_returns() -> None:
    router = EventRouter()
    ran: list[str] = []

    async def work(event: SesEvent, name: str) -> None:
        ran.append(name)
        if name == "bad":
            raise ValueError(name)

    first = router.on_open(lambda e: work(e, "good"))
    second = router.on_open(lambda e: work(e, "bad"))
    result = await router.dispatch_async(SAMPLES[EventType.OPEN])
    assert ran == ["good", "bad"]
    assert result.handlers == (first, second)
    assert [f.handler for f in result.failures] == [second]


async def test_dispatch_async_filters_unmatched_and_hooks() -> None:
    unmatched: list[object] = []

    async def on_unmatched(record: object) -> None:
        unmatched.append(record)

    router = EventRouter(on_unmatched=on_unmatched)
    seen: list[BounceEvent] = []

    @router.on_bounce(bounce_type="Transient")
    async def transient(event: BounceEvent) -> None:
        seen.append(event)

    @router.on_bounce(where=lambda e: 1 / 0 > 0)
    async def broken(event: BounceEvent) -> None:
        seen.append(event)

    permanent = _bounce("Permanent")
    result = await router.dispatch_async(permanent)
    assert result.handlers == (broken,)
    assert isinstance(result.failures[0].exception, ZeroDivisionError)
    assert seen == []

    opened = SAMPLES[EventType.OPEN]
    assert (await router.dispatch_async(opened)).ok
    assert unmatched == [opened]


async def test_dispatch_async_unmatched_with_plain_handlers_only() -> None:
    unmatched: list[object] = []
    router = EventRouter(on_unmatched=unmatched.append)
    router.on_bounce(bounce_type="Transient")(lambda e: None)
    result = await router.dispatch_async(_bounce("Permanent"))
    assert not result.matched
    assert result.ok
    assert len(unmatched) == 1


async def test_dispatch_item_async_with_a_coroutine_dead_letter_hook() -> None:
    dead: list[SourceItem] = []

    async def to_dead_letter(item: SourceItem) -> None:
        await asyncio.sleep(0)
        dead.append(item)

    router = EventRouter(on_invalid=to_dead_letter)
    bad = _bad_item()
    result = await router.dispatch_item_async(bad)
    assert dead == [bad]
    assert not result.ok
    assert result.error is bad.error

    event = SAMPLES[EventType.REJECT]
    router.on_reject(lambda e: None)
    good = await router.dispatch_item_async(SourceItem(Transport.EVENTBRIDGE, "e-1", raw={}, record=event))
    assert good.ok
    assert good.matched
    assert good.item_id == "e-1"


async def test_a_raising_async_hook_is_recorded() -> None:
    async def hook(item: SourceItem) -> None:
        raise OSError("down")

    router = EventRouter(on_invalid=hook)
    result = await router.dispatch_item_async(_bad_item())
    assert [type(f.exception) for f in result.failures] == [OSError]


async def test_cancellation_is_not_swallowed_as_a_handler_failure() -> None:
    router = EventRouter()

    @router.on_bounce
    async def cancelled(event: BounceEvent) -> None:
        raise asyncio.CancelledError

    @router.on_bounce
    async def other(event: BounceEvent) -> None:
        pass

    with pytest.raises(asyncio.CancelledError):
        await router.dispatch_async(SAMPLES[EventType.BOUNCE])


# --- run_async --------------------------------------------------------------------------------------------


def test_run_async_keeps_one_loop_across_calls() -> None:
    async def current_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    first = run_async(current_loop())
    second = run_async(current_loop())
    assert first is second
    assert not first.is_closed()

    router = EventRouter()
    seen: list[SesEvent] = []

    @router.on_delivery
    async def handler(event: SesEvent) -> None:
        seen.append(event)

    result: DispatchResult = run_async(router.dispatch_async(SAMPLES[EventType.DELIVERY]))
    assert result.ok
    assert seen == [SAMPLES[EventType.DELIVERY]]


async def test_run_async_refuses_to_run_inside_a_loop() -> None:
    async def nothing() -> None:
        pass

    with pytest.raises(RoutingError, match="await the coroutine instead"):
        run_async(nothing())


# --- docs -------------------------------------------------------------------------------------------------


def test_the_docs_cover_every_decorator_and_entry_point() -> None:
    docs = DATA.parents[1] / "docs"
    router_page = (docs / "router.md").read_text(encoding="utf-8")
    lambda_page = (docs / "lambda.md").read_text(encoding="utf-8")
    public = [name for name in dir(EventRouter) if not name.startswith("_")]
    for name in public:
        page = lambda_page if name.startswith("handle_") else router_page
        assert re.search(rf"`[^`\n]*\b{name}\b[^`\n]*`", page), f"docs do not mention EventRouter.{name}"
