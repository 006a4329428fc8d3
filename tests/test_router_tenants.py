"""The router's tenant filter, and the shortcuts for the EventBridge status records.

``tenant=`` selects events by :attr:`SesEvent.tenant` (the ``ses:tenant-name`` tag) on every event decorator
and ``router.on``; ``on_sending_status`` and ``on_advisor_recommendation`` take the records SES puts on
EventBridge about a tenant (sample events in tests/data/eventbridge, see the README there).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from sesflow import parse_event
from sesflow.errors import ParseError
from sesflow.events import BounceEvent, ControlMessage, EventFamily, EventType, SesEvent
from sesflow.routing import EventRouter, RouterConfigError
from sesflow.sources import (
    AdvisorRecommendationEvent,
    NonEmailEvent,
    SendingStatusEvent,
    eventbridge_item,
)
from sesflow.testing import make_event, make_record

from .conftest import DATA


def bounce(tenant: str | None, **options: Any) -> BounceEvent:
    event = make_event(EventType.BOUNCE, tenant=tenant, **options)
    assert isinstance(event, BounceEvent)
    return event


def bus_event(name: str, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((DATA / "eventbridge" / name).read_text(encoding="utf-8"))
    event.update(changes)
    return event


def status_record(tenant: str = "acme", status: str = "DISABLED") -> SendingStatusEvent:
    event = bus_event(
        "sending_status_disabled.json",
        resources=[f"arn:aws:ses:us-east-1:123456789012:tenant/{tenant}/tn-{tenant}"],
    )
    event["detail"]["data"]["record"]["status"] = status
    record = eventbridge_item(event).record
    assert isinstance(record, SendingStatusEvent)
    return record


def advisor_record(tenant: str = "acme") -> AdvisorRecommendationEvent:
    event = bus_event(
        "advisor_recommendation_open.json",
        resources=[f"arn:aws:ses:us-east-1:123456789012:tenant/{tenant}/tn-{tenant}"],
    )
    record = eventbridge_item(event).record
    assert isinstance(record, AdvisorRecommendationEvent)
    return record


# --- tenant= on the event decorators -----------------------------------------------------------------------


def test_on_bounce_with_one_tenant() -> None:
    router = EventRouter()
    seen: list[str | None] = []
    router.on_bounce(tenant="acme")(lambda e: seen.append(e.tenant))
    for tenant in ("acme", "globex", None, "acme"):
        router.dispatch(bounce(tenant))
    assert seen == ["acme", "acme"]


def test_several_tenants_and_the_other_filters_together() -> None:
    router = EventRouter()
    seen: list[str] = []
    router.on_bounce(tenant={"acme", "globex"}, bounce_type="Permanent", configuration_set="tx")(
        lambda e: seen.append(e.tenant)
    )
    router.dispatch(bounce("acme", configuration_set="tx"))
    router.dispatch(bounce("globex", configuration_set="tx"))
    router.dispatch(bounce("initech", configuration_set="tx"))
    router.dispatch(bounce("acme", configuration_set="marketing"))
    transient = make_event(
        EventType.BOUNCE, tenant="acme", configuration_set="tx", detail={"bounceType": "Transient"}
    )
    router.dispatch(transient)
    assert seen == ["acme", "globex"]


@pytest.mark.parametrize("event_type", list(EventType))
def test_tenant_filters_every_event_type_through_on_and_on_any(event_type: EventType) -> None:
    router = EventRouter()
    by_on: list[SesEvent] = []
    by_any: list[SesEvent] = []
    router.on(event_type, tenant="acme")(by_on.append)
    router.on_any(tenant=["acme"])(by_any.append)
    mine = make_event(event_type, tenant="acme")
    router.dispatch(make_event(event_type, tenant="globex"))
    router.dispatch(make_event(event_type))
    router.dispatch(mine)
    assert by_on == [mine]
    assert by_any == [mine]


def test_feedback_notifications_have_no_tenant_and_never_match() -> None:
    router = EventRouter()
    seen: list[SesEvent] = []
    unmatched: list[object] = []
    router.on_bounce(tenant="acme")(seen.append)
    router.on_unmatched(unmatched.append)
    notification = make_event(EventType.BOUNCE, family=EventFamily.NOTIFICATION)
    assert notification.tenant is None
    router.dispatch(notification)
    assert seen == []
    assert unmatched == [notification]


def test_an_unknown_event_type_can_be_filtered_by_tenant() -> None:
    record = make_record(EventType.SEND, tenant="acme")
    record["eventType"] = "Quarantine"
    event = parse_event(record)
    router = EventRouter()
    seen: list[object] = []
    router.on("Quarantine", tenant="acme")(seen.append)
    router.dispatch(event)
    assert seen == [event]


def test_a_malformed_tenant_tag_is_a_failure_of_the_filtered_handler_only() -> None:
    record = make_record(EventType.BOUNCE, tenant="acme")
    record["mail"]["tags"]["ses:tenant-name"] = "acme"  # a string, not a list
    event = parse_event(record)
    router = EventRouter()
    seen: list[str] = []
    router.on_bounce(tenant="acme")(lambda e: seen.append("filtered"))
    router.on_bounce(lambda e: seen.append("plain"))
    result = router.dispatch(event)
    assert seen == ["plain"]
    assert len(result.failures) == 1
    assert isinstance(result.failures[0].exception, ParseError)


@pytest.mark.parametrize(
    ("tenant", "says"),
    [
        ("", "non-empty"),
        ([], "at least one"),
        (3, "string or a collection"),
        (["acme", 1], "string or a collection"),
        ({"acme": 1, "": 2}, "non-empty"),
    ],
)
def test_bad_tenant_values_fail_at_registration(tenant: Any, says: str) -> None:
    router = EventRouter()
    for register in (router.on_bounce, router.on_any, router.on_sending_status):
        with pytest.raises(RouterConfigError, match=says):
            register(tenant=tenant)
    with pytest.raises(RouterConfigError, match=says):
        router.on(EventType.BOUNCE, tenant=tenant)
    assert router.dispatch(bounce("acme")).handlers == ()


@pytest.mark.parametrize(
    "register",
    [
        lambda r: r.on_bounce(tenat="acme"),
        lambda r: r.on_any(teannt="acme"),
        lambda r: r.on(EventType.OPEN, tenants="acme"),
        lambda r: r.on_sending_status(configuration_set="tx"),
        lambda r: r.on_advisor_recommendation(recipient_domain="example.com"),
        lambda r: r.on_sending_status(family=EventFamily.EVENT),
    ],
)
def test_a_filter_a_decorator_does_not_take_is_refused(register: Any) -> None:
    router = EventRouter()
    with pytest.raises(RouterConfigError, match="has no filter"):
        register(router)


# --- the status records -------------------------------------------------------------------------------------


def test_on_sending_status_receives_sending_status_records_only() -> None:
    router = EventRouter()
    statuses: list[SendingStatusEvent] = []
    findings: list[AdvisorRecommendationEvent] = []
    emails: list[SesEvent] = []
    router.on_sending_status(statuses.append)
    router.on_advisor_recommendation(findings.append)
    router.on_any(emails.append)
    paused, finding = status_record(), advisor_record()
    plain = NonEmailEvent({}, "Tenant Archived", {"tenantName": "acme"})
    for record in (paused, finding, plain, bounce("acme")):
        router.dispatch(record)
    assert statuses == [paused]
    assert findings == [finding]
    assert [type(e) for e in emails] == [BounceEvent]  # status records are not email events


def test_status_records_also_reach_control_handlers() -> None:
    router = EventRouter()
    calls: list[str] = []
    router.on_control(lambda m: calls.append(f"control:{type(m).__name__}"))
    router.on_sending_status(lambda r: calls.append("status"))
    router.dispatch(status_record())
    router.dispatch(NonEmailEvent({}, "Tenant Archived", None))
    assert calls == ["control:SendingStatusEvent", "status", "control:NonEmailEvent"]


def test_the_tenant_filter_on_status_records() -> None:
    router = EventRouter()
    paused: list[str | None] = []
    router.on_sending_status(tenant="acme", where=lambda r: r.paused)(lambda r: paused.append(r.tenant))
    findings: list[str | None] = []
    router.on_advisor_recommendation(tenant=["acme", "globex"])(lambda r: findings.append(r.tenant))
    router.dispatch(status_record("acme"))
    router.dispatch(status_record("acme", status="ENABLED"))
    router.dispatch(status_record("globex"))
    for tenant in ("acme", "globex", "initech"):
        router.dispatch(advisor_record(tenant))
    assert paused == ["acme"]
    assert findings == ["acme", "globex"]


def test_a_status_record_about_no_tenant_is_unmatched_by_a_tenant_filter() -> None:
    event = bus_event(
        "advisor_recommendation_open.json", resources=["arn:aws:ses:us-east-1:1:identity/a.com"]
    )
    record = eventbridge_item(event).record
    assert isinstance(record, AdvisorRecommendationEvent)
    router = EventRouter()
    seen: list[object] = []
    router.on_advisor_recommendation(tenant="acme")(seen.append)
    assert not router.dispatch(record).matched
    assert seen == []


def test_status_records_through_dispatch_item_and_include() -> None:
    module = EventRouter()
    seen: list[object] = []
    module.on_sending_status(tenant="acme")(seen.append)
    app = EventRouter()
    app.include(module)
    item = eventbridge_item(bus_event("sending_status_disabled.json"))
    result = app.dispatch_item(item)
    assert result.ok
    assert seen == [item.record]


def test_a_subclass_of_a_status_record_routes_as_its_base() -> None:
    class Mine(SendingStatusEvent):
        pass

    base = status_record()
    record = Mine(base.raw, base.detail_type, base.detail, record=base.record, resources=base.resources)
    router = EventRouter()
    seen: list[object] = []
    router.on_sending_status(seen.append)
    router.dispatch(record)
    assert seen == [record]
    assert isinstance(record, ControlMessage)


def test_async_dispatch_of_status_records() -> None:
    router = EventRouter()
    seen: list[str] = []

    @router.on_sending_status(tenant="acme")
    async def pause_the_tenant_queue(record: SendingStatusEvent) -> None:
        await asyncio.sleep(0)
        seen.append(f"{record.tenant}:{record.status.value}")

    @router.on_advisor_recommendation
    def note(record: AdvisorRecommendationEvent) -> None:
        seen.append(f"finding:{record.impact}")

    async def main() -> None:
        await router.dispatch_async(status_record("acme"))
        await router.dispatch_async(status_record("globex"))
        await router.dispatch_async(advisor_record())

    asyncio.run(main())
    assert seen == ["acme:DISABLED", "finding:HIGH"]
    with pytest.raises(Exception, match="coroutine"):
        router.dispatch(status_record())
