"""The decorators are typed: mypy accepts handlers of the right event type and rejects the wrong ones."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api", reason="mypy is part of the test extra")

SNIPPET = textwrap.dedent(
    """
    from sesflow.events import BounceEvent, ComplaintEvent, ControlMessage, OpenEvent, SesEvent
    from sesflow.routing import EventRouter
    from sesflow.sources import AdvisorRecommendationEvent, SendingStatusEvent

    router = EventRouter()

    @router.on_bounce
    def plain(event: BounceEvent) -> None: ...

    @router.on_bounce(bounce_type="Permanent", where=lambda e: e.bounce.bounce_sub_type == "General")
    async def filtered(event: BounceEvent) -> None: ...

    @router.on_bounce
    def wider(event: SesEvent) -> None: ...

    @router.on_any(configuration_set="marketing")
    def anything(event: SesEvent) -> None: ...

    @router.on(OpenEvent.EVENT_TYPE, "Click")
    def several(event: OpenEvent) -> None: ...

    @router.on_control
    def control(message: ControlMessage) -> None: ...

    @router.on_complaint  # ERROR [type-var]
    def wrong_type(event: BounceEvent) -> None: ...

    @router.on_complaint(where=lambda e: e.bounce is None)  # ERROR [attr-defined]
    def wrong_where(event: ComplaintEvent) -> None: ...

    @router.on_any  # ERROR [type-var]
    def too_narrow(event: BounceEvent) -> None: ...

    @router.on_bounce(configuration_set=3)  # ERROR [call-overload]
    def bad_filter(event: BounceEvent) -> None: ...

    @router.on_bounce(tenant="acme", bounce_type="Permanent")
    def one_tenant(event: BounceEvent) -> None: ...

    @router.on(OpenEvent.EVENT_TYPE, tenant=["acme", "globex"])
    def some_tenants(event: OpenEvent) -> None: ...

    @router.on_any(tenant={"acme"})
    def any_of_a_tenant(event: SesEvent) -> None: ...

    @router.on_bounce(tenant=3)  # ERROR [call-overload]
    def bad_tenant(event: BounceEvent) -> None: ...

    @router.on_sending_status(tenant="acme", where=lambda r: r.paused)
    def paused(record: SendingStatusEvent) -> None: ...

    @router.on_advisor_recommendation
    async def finding(record: AdvisorRecommendationEvent) -> None: ...

    @router.on_sending_status(configuration_set="tx")  # ERROR [call-overload]
    def no_set_on_a_status(record: SendingStatusEvent) -> None: ...

    @router.on_advisor_recommendation  # ERROR [type-var]
    def wrong_record(record: SendingStatusEvent) -> None: ...

    @router.on_sending_status(where=lambda r: r.bounce is None)  # ERROR [attr-defined]
    def wrong_status_where(record: SendingStatusEvent) -> None: ...

    reveal_type(plain)  # NOTE Revealed type is "def (event: sesflow.events.models.BounceEvent)"
    """
)


def test_mypy_checks_handler_types(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    source = tmp_path / "handlers.py"
    source.write_text(SNIPPET, encoding="utf-8")
    pytest_cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    cache = pytest_cache.mkdir("mypy-router-typing") if pytest_cache is not None else tmp_path / "cache"
    stdout, stderr, status = api.run(
        ["--strict", "--no-error-summary", "--show-error-codes", "--cache-dir", str(cache), str(source)]
    )
    assert status == 1, stderr
    errors: dict[int, list[str]] = {}
    notes: dict[int, list[str]] = {}
    for line in stdout.splitlines():
        _, number, kind, message = line.split(":", 3)
        (errors if kind.strip() == "error" else notes).setdefault(int(number), []).append(message.strip())

    lines = SNIPPET.splitlines()
    wanted_errors = {n: line.split("# ERROR ")[1] for n, line in enumerate(lines, 1) if "# ERROR " in line}
    wanted_notes = {n: line.split("# NOTE ")[1] for n, line in enumerate(lines, 1) if "# NOTE " in line}
    assert sorted(errors) == sorted(wanted_errors), stdout  # no error anywhere else
    for number, code in wanted_errors.items():
        assert any(message.endswith(code) for message in errors[number]), stdout
    for number, text in wanted_notes.items():
        assert text in notes.get(number, []), stdout


SHORTCUT_EVENTS = {
    "on_send": "SendEvent",
    "on_delivery": "DeliveryEvent",
    "on_bounce": "BounceEvent",
    "on_complaint": "ComplaintEvent",
    "on_reject": "RejectEvent",
    "on_open": "OpenEvent",
    "on_click": "ClickEvent",
    "on_rendering_failure": "RenderingFailureEvent",
    "on_delivery_delay": "DeliveryDelayEvent",
    "on_subscription": "SubscriptionEvent",
    "on_sending_status": "SendingStatusEvent",
    "on_advisor_recommendation": "AdvisorRecommendationEvent",
}
STATUS_RECORDS = {"SendingStatusEvent", "AdvisorRecommendationEvent"}  # from sesflow.sources


def _module(cls: str) -> str:
    return "sesflow.sources.eventbridge" if cls in STATUS_RECORDS else "sesflow.events.models"


def test_every_shortcut_of_the_router_is_in_the_table() -> None:
    from sesflow.routing import router

    assert {spec.name for spec in router._SHORTCUTS} == set(SHORTCUT_EVENTS)
    assert {spec.name: spec.event_class.__name__ for spec in router._SHORTCUTS} == SHORTCUT_EVENTS


def test_mypy_sees_the_event_type_of_every_shortcut(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Each shortcut, bare and called: the handler keeps its type, ``where`` gets the event class (reading a
    field it lacks is an error naming the class), and a handler of another event type is refused."""
    classes = sorted(set(SHORTCUT_EVENTS.values()) - STATUS_RECORDS)
    lines = [
        f"from sesflow.events import {', '.join(classes)}",
        f"from sesflow.sources import {', '.join(sorted(STATUS_RECORDS))}",
        "from sesflow.routing import EventRouter",
    ]
    lines += ["", "router = EventRouter()"]
    expected: dict[int, str] = {}
    for n, (name, cls) in enumerate(SHORTCUT_EVENTS.items()):
        other = SHORTCUT_EVENTS["on_open" if name != "on_open" else "on_click"]
        lines += [
            f"@router.{name}",
            f"def bare_{n}(event: {cls}) -> None: ...",
            f"@router.{name}(where=lambda e: e.no_such_field is None)",
            f"async def called_{n}(event: {cls}) -> None: ...",
            f"reveal_type(bare_{n})",
            f"reveal_type(called_{n})",
            f"@router.{name}",
            f"def wrong_{n}(event: {other}) -> None: ...",
        ]
        end = len(lines)
        expected[end - 5] = f'"{cls}" has no attribute "no_such_field"  [attr-defined]'
        expected[end - 3] = f'Revealed type is "def (event: {_module(cls)}.{cls})"'
        expected[end - 2] = (
            f'Revealed type is "def (event: {_module(cls)}.{cls}) -> typing.Coroutine[Any, Any, None]"'
        )
        expected[end - 1] = "[type-var]"  # the decorator line of the wrong handler
    source = tmp_path / "shortcuts.py"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pytest_cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    cache = pytest_cache.mkdir("mypy-router-typing") if pytest_cache is not None else tmp_path / "cache"
    stdout, stderr, status = api.run(
        ["--strict", "--no-error-summary", "--show-error-codes", "--cache-dir", str(cache), str(source)]
    )
    assert status == 1, stderr
    found: dict[int, list[str]] = {}
    for line in stdout.splitlines():
        _, number, _kind, message = line.split(":", 3)
        found.setdefault(int(number), []).append(message.strip())
    for number, text in expected.items():
        assert any(text in message for message in found.get(number, [])), (number, text, stdout)
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert len(errors) == 2 * len(SHORTCUT_EVENTS), stdout  # only the wrong handlers and predicates
