"""EventRouter.include: one router per module, composed into the router that dispatches."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sesflow.events import BounceEvent, ComplaintEvent, ControlMessage, EventType, SesEvent
from sesflow.routing import AsyncHandlerError, EventRouter, RouterConfigError, handle_sqs_lambda
from sesflow.sources import SourceItem, sqs_message_item
from sesflow.testing import make_event

from ._router_events import record_text, sns_envelope, sqs_event

VALIDATION = "Successfully validated SNS topic for Amazon SES event publishing."


def _bounce(configuration_set: str = "marketing") -> BounceEvent:
    event = make_event(
        EventType.BOUNCE,
        detail={"bounceType": "Permanent", "bounceSubType": "General"},
        configuration_set=configuration_set,
    )
    assert isinstance(event, BounceEvent)
    return event


def _invalid_item() -> SourceItem:
    item = sqs_message_item({"MessageId": "m-1", "ReceiptHandle": "r", "Body": "{not json"})
    assert item.error is not None
    return item


class Modules:
    """Three routers as three modules of an application would write them, each noting what ran."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        ran = self.ran
        self.bounces = EventRouter()
        self.complaints = EventRouter()
        self.audit = EventRouter()

        @self.bounces.on_bounce(configuration_set="marketing")
        def marketing_bounce(event: BounceEvent) -> None:
            ran.append("bounces.marketing")

        @self.bounces.on_bounce
        def any_bounce(event: BounceEvent) -> None:
            ran.append("bounces.any")

        @self.complaints.on_complaint
        def complaint(event: ComplaintEvent) -> None:
            ran.append("complaints")

        @self.audit.on_any
        def audit(event: SesEvent) -> None:
            ran.append(f"audit.{event.event_type.value}")

        @self.audit.on_control
        def control(message: ControlMessage) -> None:
            ran.append("audit.control")


def test_included_routes_run_after_the_including_routers_own_in_the_order_they_were_added() -> None:
    modules = Modules()
    app = EventRouter()

    @app.on_bounce
    def first(event: BounceEvent) -> None:
        modules.ran.append("app")

    app.include(modules.bounces)
    app.include(modules.audit)
    app.include(modules.complaints)

    result = app.dispatch(_bounce("marketing"))
    assert modules.ran == ["app", "bounces.marketing", "bounces.any", "audit.Bounce"]
    assert result.ok
    assert [h.__name__ for h in result.handlers] == ["first", "marketing_bounce", "any_bounce", "audit"]

    modules.ran.clear()
    app.dispatch(_bounce("transactional"))  # the included route keeps its own filter
    assert modules.ran == ["app", "bounces.any", "audit.Bounce"]

    modules.ran.clear()
    complaint = make_event(EventType.COMPLAINT)
    app.dispatch(complaint)
    assert modules.ran == ["audit.Complaint", "complaints"]


def test_an_application_router_built_from_modules_answers_a_lambda_batch() -> None:
    modules = Modules()
    app = EventRouter()
    for module in (modules.bounces, modules.complaints, modules.audit):
        app.include(module)
    event = sqs_event(
        [
            ("b", json.dumps(sns_envelope(record_text("event_01_Bounce.json")))),
            ("c", json.dumps(sns_envelope(record_text("event_02_Complaint.json")))),
            ("v", json.dumps(sns_envelope(VALIDATION))),
        ]
    )
    assert handle_sqs_lambda(app, event) == {"batchItemFailures": []}
    assert modules.ran == ["bounces.any", "audit.Bounce", "complaints", "audit.Complaint", "audit.control"]


def test_the_included_router_still_dispatches_on_its_own() -> None:
    modules = Modules()
    app = EventRouter()
    app.include(modules.bounces)
    modules.bounces.dispatch(_bounce())
    assert modules.ran == ["bounces.marketing", "bounces.any"]


def test_nested_includes_carry_every_route() -> None:
    modules = Modules()
    feedback = EventRouter()
    feedback.include(modules.bounces)
    feedback.include(modules.complaints)
    app = EventRouter()
    app.include(feedback)
    app.include(modules.audit)
    app.dispatch(_bounce())
    assert modules.ran == ["bounces.marketing", "bounces.any", "audit.Bounce"]


def test_hooks_of_the_included_router_are_adopted_when_the_including_one_has_none() -> None:
    unmatched: list[object] = []
    invalid: list[SourceItem] = []
    module = EventRouter(on_unmatched=unmatched.append, on_invalid=invalid.append)
    app = EventRouter()
    app.include(module)

    open_event = make_event(EventType.OPEN)
    assert app.dispatch(open_event).ok
    assert unmatched == [open_event]
    item = _invalid_item()
    assert not app.dispatch_item(item).ok
    assert invalid == [item]


def test_the_same_hook_on_both_routers_is_one_hook() -> None:
    seen: list[object] = []
    app = EventRouter(on_unmatched=seen.append)
    module = EventRouter(on_unmatched=seen.append)
    app.include(module)
    open_event = make_event(EventType.OPEN)
    app.dispatch(open_event)
    assert seen == [open_event]


@pytest.mark.parametrize("hook", ["on_unmatched", "on_invalid"])
def test_two_different_hooks_for_the_same_purpose_conflict_and_nothing_changes(hook: str) -> None:
    app = EventRouter(**{hook: lambda x: None})
    module = EventRouter(**{hook: lambda x: None})
    module.on_bounce(lambda e: None)
    with pytest.raises(RouterConfigError, match=rf"{hook} hook .*set it on the including router only"):
        app.include(module)
    assert app.dispatch(_bounce()).handlers == ()  # the module's routes were not added
    module.on_complaint(lambda e: None)  # and the module is not marked as included


def test_a_router_cannot_include_itself_or_the_same_router_twice() -> None:
    app = EventRouter()
    module = EventRouter()
    module.on_bounce(lambda e: None)
    with pytest.raises(RouterConfigError, match="itself"):
        app.include(app)
    app.include(module)
    with pytest.raises(RouterConfigError, match="already included in this router"):
        app.include(module)
    other = EventRouter()
    with pytest.raises(RouterConfigError, match="already included in another router"):
        other.include(module)
    assert len(app.dispatch(_bounce()).handlers) == 1


def test_a_router_held_through_an_earlier_include_cannot_be_added_again() -> None:
    module = EventRouter()
    module.on_bounce(lambda e: None)
    feedback = EventRouter()
    feedback.include(module)
    app = EventRouter()
    app.include(feedback)
    # module is held through feedback: a second copy of its routes would run its handlers twice.
    with pytest.raises(RouterConfigError, match="already included in another router"):
        app.include(module)
    assert len(app.dispatch(_bounce()).handlers) == 1


def test_cycles_are_impossible() -> None:
    a, b, c = EventRouter(), EventRouter(), EventRouter()
    a.include(b)
    with pytest.raises(RouterConfigError, match="register every handler and hook before including"):
        b.include(a)
    c.include(a)
    with pytest.raises(RouterConfigError, match="already included"):
        a.include(c)


@pytest.mark.parametrize(
    "register",
    [
        lambda r: r.on_bounce(lambda e: None),
        lambda r: r.on(EventType.OPEN)(lambda e: None),
        lambda r: r.on_any(lambda e: None),
        lambda r: r.on_control(lambda m: None),
        lambda r: r.on_unmatched(lambda x: None),
        lambda r: r.on_invalid(lambda x: None),
        lambda r: r.include(EventRouter()),
    ],
)
def test_an_included_router_refuses_later_registrations_instead_of_losing_them(register: Any) -> None:
    module = EventRouter()
    EventRouter().include(module)
    with pytest.raises(RouterConfigError, match="register every handler and hook before including"):
        register(module)


def test_run_sync_in_thread_of_the_included_router_must_not_be_lost() -> None:
    threaded = EventRouter(run_sync_in_thread=True)
    with pytest.raises(RouterConfigError, match="run_sync_in_thread"):
        EventRouter().include(threaded)
    EventRouter(run_sync_in_thread=True).include(threaded)
    EventRouter(run_sync_in_thread=True).include(EventRouter())  # a plain module in a threaded app: fine


@pytest.mark.parametrize("not_a_router", [None, "router", lambda e: None, object()])
def test_include_takes_only_a_router(not_a_router: Any) -> None:
    with pytest.raises(RouterConfigError, match="takes an EventRouter"):
        EventRouter().include(not_a_router)


async def test_coroutine_handlers_of_an_included_router_count_for_the_including_one() -> None:
    module = EventRouter()
    ran: list[str] = []

    @module.on_bounce
    async def later(event: BounceEvent) -> None:
        ran.append("async")

    app = EventRouter()
    app.include(module)
    assert app.has_async_handlers
    with pytest.raises(AsyncHandlerError):
        app.check_sync("handle_sqs_lambda")
    assert (await app.dispatch_async(_bounce())).ok
    assert ran == ["async"]
