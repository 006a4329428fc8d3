"""The router's Lambda entry points: SQS partial batch responses, SNS/EventBridge retries, Firehose."""

from __future__ import annotations

import asyncio
import base64
import json
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sesflow import routing
from sesflow.errors import ParseError, SnsVerificationError, SourceError
from sesflow.events import (
    BounceEvent,
    ComplaintEvent,
    ControlMessage,
    EventType,
    OpenEvent,
    ParsedRecord,
    SesEvent,
)
from sesflow.routing import (
    AsyncHandlerError,
    DispatchError,
    EventRouter,
    LambdaEventError,
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
    run_async,
)
from sesflow.sources import NonEmailEvent, SendingStatusEvent, SnsVerifier, SourceItem, Transport
from sesflow.sources.sns_verify import MemoryReplayGuard

from ._router_events import (
    DATA,
    SAMPLE_FILES,
    eventbridge_event,
    firehose_event,
    firehose_line,
    record_text,
    sns_envelope,
    sns_lambda_event,
    sqs_event,
    sqs_record,
)

SIGNED = ("signed-v1-complaint-event.json", "signed-v1-bounce-notification.json")


def _signed(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "sns" / name).read_text())
    return data


def _verifier(**options: Any) -> SnsVerifier:
    """A verifier for the two real AWS-signed messages: their certificate, served from memory, and a clock
    set to just after they were sent."""
    pem = (DATA / "sns" / "sns-us-east-1-2021.pem").read_bytes()

    async def fetch_async(url: str) -> bytes:
        return pem

    return SnsVerifier(
        clock=lambda: datetime(2022, 4, 2, tzinfo=UTC),
        max_age=timedelta(days=30),
        fetcher=lambda url: pem,
        async_fetcher=fetch_async,
        **options,
    )


def _tampered(name: str) -> dict[str, Any]:
    envelope = _signed(name)
    envelope["Message"] = (
        envelope["Message"]
        .replace("bounce@simulator", "bounce2@simulator")
        .replace("complaint@simulator", "complaint2@simulator")
    )
    assert envelope["Message"] != _signed(name)["Message"]
    return envelope


class Recorder:
    """A router whose handlers record what they saw; events of a type in ``fail_on`` make a handler raise.

    (The SES Developer Guide's sample records all share one message id, so failures are chosen by type.)
    """

    def __init__(self, *, fail_on: frozenset[EventType] | set[EventType] = frozenset()) -> None:
        self.seen: list[ParsedRecord] = []
        self.invalid: list[SourceItem] = []
        self.fail_on = fail_on
        self.router = EventRouter(on_invalid=self.invalid.append)
        self.router.on_any(self.handle)
        self.router.on_control(self.seen.append)

    def handle(self, event: SesEvent) -> None:
        if event.event_type in self.fail_on:
            raise RuntimeError(f"cannot handle {event.event_type.value}")
        self.seen.append(event)


def _failures(response: dict[str, list[dict[str, str]]]) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


# --- SQS ------------------------------------------------------------------------------------------------


def test_sqs_batch_reports_only_failed_and_unparseable_messages() -> None:
    failing_record = "event_05_Reject.json"  # the only Reject among the samples
    recorder = Recorder(fail_on={EventType.REJECT})
    bodies = [(f"m-{i}", json.dumps(sns_envelope(record_text(name)))) for i, name in enumerate(SAMPLE_FILES)]
    bodies.insert(3, ("m-garbage", "{not json"))
    bodies.insert(7, ("m-not-ses", json.dumps(sns_envelope('{"hello": "world"}'))))
    event = sqs_event(bodies)

    response = handle_sqs_lambda(recorder.router, event, context=None)

    failing_id = f"m-{SAMPLE_FILES.index(failing_record)}"
    assert sorted(_failures(response)) == sorted(["m-garbage", "m-not-ses", failing_id])
    assert len(recorder.seen) == len(SAMPLE_FILES) - 1  # every other record reached the handler once
    assert EventType.REJECT not in {e.event_type for e in recorder.seen if isinstance(e, SesEvent)}
    assert [item.item_id for item in recorder.invalid] == ["m-garbage", "m-not-ses"]
    assert isinstance(recorder.invalid[1].error, ParseError)
    json.dumps(response)  # Lambda serialises the answer as JSON


def test_sqs_batch_with_everything_fine_reports_nothing() -> None:
    recorder = Recorder()
    event = sqs_event([("a", json.dumps(sns_envelope(record_text("event_01_Bounce.json"))))])
    assert handle_sqs_lambda(recorder.router, event) == {"batchItemFailures": []}
    assert len(recorder.seen) == 1


def test_sqs_raw_message_delivery_and_control_messages() -> None:
    recorder = Recorder()
    validation = "Successfully validated SNS topic for Amazon SES event publishing."
    event = sqs_event(
        [
            ("raw", record_text("event_02_Complaint.json")),  # raw message delivery: the record itself
            ("validation", json.dumps(sns_envelope(validation))),
        ]
    )
    assert handle_sqs_lambda(recorder.router, event) == {"batchItemFailures": []}
    assert isinstance(recorder.seen[0], ComplaintEvent)
    assert isinstance(recorder.seen[1], ControlMessage)


def test_fifo_batch_stops_at_the_first_failure_and_reports_the_rest() -> None:
    recorder = Recorder(fail_on={EventType.SEND})
    names = [
        "event_01_Bounce.json",
        "event_04_Send.json",
        "event_03_Delivery.json",
        "event_02_Complaint.json",
    ]
    bodies = [(f"f-{i}", json.dumps(sns_envelope(record_text(n)))) for i, n in enumerate(names)]
    bodies.insert(3, ("f-bad", "{nope"))
    event = sqs_event(bodies, fifo=True)

    response = handle_sqs_lambda(recorder.router, event)
    assert _failures(response) == ["f-1", "f-2", "f-bad", "f-3"]
    assert [type(e) for e in recorder.seen] == [BounceEvent]  # nothing after the failure ran
    assert recorder.invalid == []  # the bad message was not even looked at: it is retried in order


def test_fifo_is_recognised_by_message_group_id_too() -> None:
    recorder = Recorder()
    records = [
        sqs_record("{bad", "g-1", fifo=True),
        sqs_record(record_text("event_01_Bounce.json"), "g-2", fifo=True),
    ]
    for record in records:
        record["eventSourceARN"] = "arn:aws:sqs:us-east-1:123456789012:renamed"
    response = handle_sqs_lambda(recorder.router, {"Records": records})
    assert _failures(response) == ["g-1", "g-2"]
    assert recorder.seen == []


def test_sqs_with_a_verifier_reports_messages_that_do_not_verify() -> None:
    recorder = Recorder()
    event = sqs_event(
        [
            ("good-complaint", json.dumps(_signed(SIGNED[0]))),
            ("good-bounce", json.dumps(_signed(SIGNED[1]))),
            ("forged", json.dumps(_tampered(SIGNED[1]))),
            ("unsigned", record_text("event_01_Bounce.json")),
        ]
    )
    response = handle_sqs_lambda(recorder.router, event, verifier=_verifier())
    assert _failures(response) == ["forged", "unsigned"]
    assert [type(e) for e in recorder.seen] == [ComplaintEvent, BounceEvent]
    assert all(isinstance(item.error, SnsVerificationError) for item in recorder.invalid)


def test_sqs_marks_what_it_handled_so_a_redelivery_is_skipped_and_a_failure_retried() -> None:
    recorder = Recorder(fail_on={EventType.COMPLAINT})
    verifier = _verifier(replay_guard=MemoryReplayGuard())
    event = sqs_event(
        [("complaint", json.dumps(_signed(SIGNED[0]))), ("bounce", json.dumps(_signed(SIGNED[1])))]
    )
    first = handle_sqs_lambda(recorder.router, event, verifier=verifier)
    assert _failures(first) == ["complaint"]
    recorder.fail_on = frozenset()
    # Both come back: the complaint because it failed, the bounce as if deleting it had failed.
    second = handle_sqs_lambda(recorder.router, event, verifier=verifier)
    assert _failures(second) == []  # the replayed bounce is acknowledged, not a failure
    assert [type(e) for e in recorder.seen] == [BounceEvent, ComplaintEvent]  # each handled once
    assert recorder.invalid == []  # a replay is not invalid input


async def test_sqs_async_with_concurrency_skips_what_was_handled() -> None:
    recorder = Recorder()
    verifier = _verifier(replay_guard=MemoryReplayGuard())
    event = sqs_event(
        [("complaint", json.dumps(_signed(SIGNED[0]))), ("bounce", json.dumps(_signed(SIGNED[1])))]
    )
    for _ in range(2):
        response = await handle_sqs_lambda_async(recorder.router, event, verifier=verifier, concurrency=2)
        assert _failures(response) == []
    assert sorted(type(e).__name__ for e in recorder.seen) == ["BounceEvent", "ComplaintEvent"]


def test_an_event_that_is_not_from_sqs_fails_the_whole_batch() -> None:
    recorder = Recorder()
    response = handle_sqs_lambda(recorder.router, {"detail-type": "Email Bounced"})
    # An empty identifier makes Lambda treat the whole batch as failed, and the hook has the event.
    assert response == {"batchItemFailures": [{"itemIdentifier": ""}]}
    assert isinstance(recorder.invalid[0].error, SourceError)


def test_sync_entry_points_refuse_coroutine_handlers_before_touching_the_batch() -> None:
    router = EventRouter()
    ran: list[str] = []
    router.on_bounce(lambda e: ran.append("sync"))

    @router.on_open
    async def rare(event: OpenEvent) -> None:
        ran.append("async")

    bounce = sqs_event([("a", record_text("event_01_Bounce.json"))])
    with pytest.raises(AsyncHandlerError, match="handle_sqs_lambda_async"):
        handle_sqs_lambda(router, bounce)
    with pytest.raises(AsyncHandlerError, match="handle_sns_lambda_async"):
        handle_sns_lambda(router, sns_lambda_event(sns_envelope(record_text("event_01_Bounce.json"))))
    with pytest.raises(AsyncHandlerError):
        handle_eventbridge_lambda(router, eventbridge_event({}, "Email Bounced"))
    with pytest.raises(AsyncHandlerError):
        handle_firehose_lambda(router, firehose_event([]))
    assert ran == []


async def test_sqs_async_runs_coroutine_handlers_and_reports_failures() -> None:
    router = EventRouter()
    seen: list[str] = []

    @router.on_any
    async def handle(event: SesEvent) -> None:
        await asyncio.sleep(0)
        if event.event_type is EventType.COMPLAINT:
            raise ValueError("no")
        seen.append(event.event_type.value)

    names = ["event_01_Bounce.json", "event_02_Complaint.json", "event_03_Delivery.json"]
    bodies = [(n, json.dumps(sns_envelope(record_text(n)))) for n in names]
    bodies.append(("junk", "junk"))
    response = await handle_sqs_lambda_async(router, sqs_event(bodies))
    assert _failures(response) == ["event_02_Complaint.json", "junk"]
    assert seen == ["Bounce", "Delivery"]  # concurrency 1: in batch order


async def test_sqs_async_concurrency_dispatches_messages_together() -> None:
    router = EventRouter()
    arrived: set[str] = set()
    both = asyncio.Event()

    @router.on_any
    async def handle(event: SesEvent) -> None:
        arrived.add(event.event_type.value)
        if len(arrived) == 2:
            both.set()
        await both.wait()  # only returns if the two messages are in flight at the same time

    names = ["event_01_Bounce.json", "event_06_Open.json"]
    event = sqs_event([(n, record_text(n)) for n in names])
    response = await asyncio.wait_for(handle_sqs_lambda_async(router, event, concurrency=2), timeout=5)
    assert response == {"batchItemFailures": []}
    with pytest.raises(ValueError, match="concurrency"):
        await handle_sqs_lambda_async(router, event, concurrency=0)


async def test_sqs_async_fifo_stops_at_the_first_failure_even_with_concurrency() -> None:
    router = EventRouter()
    seen: list[str] = []

    @router.on_any
    async def handle(event: SesEvent) -> None:
        if event.event_type is EventType.COMPLAINT:
            raise ValueError("complaint store down")
        seen.append(event.event_type.value)

    names = ["event_01_Bounce.json", "event_02_Complaint.json", "event_03_Delivery.json"]
    event = sqs_event([(n, record_text(n)) for n in names], fifo=True)
    response = await handle_sqs_lambda_async(router, event, concurrency=10)
    assert _failures(response) == ["event_02_Complaint.json", "event_03_Delivery.json"]
    assert seen == ["Bounce"]


async def test_sqs_async_with_a_verifier() -> None:
    recorder = Recorder()
    event = sqs_event([("ok", json.dumps(_signed(SIGNED[0]))), ("forged", json.dumps(_tampered(SIGNED[0])))])
    response = await handle_sqs_lambda_async(recorder.router, event, verifier=_verifier())
    assert _failures(response) == ["forged"]
    assert [type(e) for e in recorder.seen] == [ComplaintEvent]


def test_run_async_drives_the_async_entry_point_from_a_sync_handler() -> None:
    router = EventRouter()
    seen: list[BounceEvent] = []

    @router.on_bounce
    async def handle(event: BounceEvent) -> None:
        seen.append(event)

    def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        return run_async(handle_sqs_lambda_async(router, event, context))

    event = sqs_event([("a", record_text("event_01_Bounce.json")), ("b", "{")])
    assert lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "b"}]}
    assert lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "b"}]}  # warm start
    assert len(seen) == 2


# --- SNS --------------------------------------------------------------------------------------------------


def test_sns_handles_the_message() -> None:
    recorder = Recorder()
    event = sns_lambda_event(sns_envelope(record_text("event_01_Bounce.json")))
    handle_sns_lambda(recorder.router, event, context=object())
    assert [type(e) for e in recorder.seen] == [BounceEvent]


def test_sns_raises_with_every_result_when_a_handler_fails() -> None:
    recorder = Recorder(fail_on={EventType.COMPLAINT})
    event = sns_lambda_event(
        sns_envelope(record_text("event_01_Bounce.json"), message_id="sns-1"),
        sns_envelope(record_text("event_02_Complaint.json"), message_id="sns-2"),
    )
    with pytest.raises(DispatchError) as caught:
        handle_sns_lambda(recorder.router, event)
    error = caught.value
    assert [r.item_id for r in error.results] == ["sns-1", "sns-2"]
    assert [r.item_id for r in error.failed] == ["sns-2"]
    assert isinstance(error.__cause__, RuntimeError)
    assert "1 of 2 item(s) failed (item sns-2: " in str(error)
    assert len(recorder.seen) == 1  # the first message was handled; Lambda retries the invocation


def test_sns_with_a_verifier_raises_for_a_forged_message() -> None:
    recorder = Recorder()
    router = recorder.router
    handle_sns_lambda(router, sns_lambda_event(_signed(SIGNED[1])), verifier=_verifier())
    assert [type(e) for e in recorder.seen] == [BounceEvent]
    with pytest.raises(DispatchError) as caught:
        handle_sns_lambda(router, sns_lambda_event(_tampered(SIGNED[1])), verifier=_verifier())
    assert isinstance(caught.value.failed[0].error, SnsVerificationError)
    assert isinstance(caught.value.__cause__, SnsVerificationError)
    assert len(recorder.seen) == 1
    assert [i.item_id for i in recorder.invalid] == [_signed(SIGNED[1])["MessageId"]]


def test_sns_retries_a_failure_but_skips_a_message_already_handled() -> None:
    recorder = Recorder(fail_on={EventType.BOUNCE})
    verifier = _verifier(replay_guard=MemoryReplayGuard())
    event = sns_lambda_event(_signed(SIGNED[1]))
    with pytest.raises(DispatchError):
        handle_sns_lambda(recorder.router, event, verifier=verifier)
    recorder.fail_on = frozenset()
    handle_sns_lambda(recorder.router, event, verifier=verifier)  # Lambda's retry: verified and handled
    handle_sns_lambda(recorder.router, event, verifier=verifier)  # a duplicate invocation: skipped
    assert [type(e) for e in recorder.seen] == [BounceEvent]
    assert recorder.invalid == []


async def test_sns_async() -> None:
    router = EventRouter()
    seen: list[SesEvent] = []

    @router.on_complaint
    async def handle(event: ComplaintEvent) -> None:
        seen.append(event)

    event = sns_lambda_event(_signed(SIGNED[0]))
    await handle_sns_lambda_async(router, event, verifier=_verifier())
    assert len(seen) == 1
    with pytest.raises(DispatchError):
        await handle_sns_lambda_async(router, sns_lambda_event(_tampered(SIGNED[0])), verifier=_verifier())


# --- EventBridge ------------------------------------------------------------------------------------------


def test_eventbridge_routes_the_detail() -> None:
    recorder = Recorder()
    record = json.loads(record_text("event_01_Bounce.json"))
    handle_eventbridge_lambda(recorder.router, eventbridge_event(record, "Email Bounced"))
    assert [type(e) for e in recorder.seen] == [BounceEvent]


def test_eventbridge_non_email_events_are_control_messages_not_failures() -> None:
    unmatched: list[object] = []
    router = EventRouter(on_unmatched=unmatched.append)
    status = {"version": "1.0.0", "data": {"origin": "CUSTOMER_MANAGED", "record": {"status": "ENABLED"}}}
    handle_eventbridge_lambda(router, eventbridge_event(status, "Sending Status Enabled"))
    handle_eventbridge_lambda(router, eventbridge_event({"tenantName": "acme"}, "Tenant Archived"))
    assert [type(m) for m in unmatched] == [SendingStatusEvent, NonEmailEvent]
    assert all(isinstance(m, NonEmailEvent) for m in unmatched)


def test_eventbridge_status_records_reach_their_shortcut() -> None:
    seen: list[object] = []
    router = EventRouter()
    router.on_sending_status(tenant="acme")(seen.append)
    event = json.loads((DATA / "eventbridge" / "sending_status_disabled.json").read_text())
    handle_eventbridge_lambda(router, event)
    assert [type(m) for m in seen] == [SendingStatusEvent]
    with pytest.raises(DispatchError) as caught:  # a documented detail-type in a shape SES does not send
        handle_eventbridge_lambda(router, {**event, "detail": {"data": {"record": {}}}})
    assert isinstance(caught.value.failed[0].error, ParseError)


def test_eventbridge_raises_for_a_failing_handler_or_a_bad_event() -> None:
    recorder = Recorder(fail_on={EventType.BOUNCE})
    record = json.loads(record_text("event_01_Bounce.json"))
    with pytest.raises(DispatchError) as caught:
        handle_eventbridge_lambda(recorder.router, eventbridge_event(record, "Email Bounced", event_id="x"))
    assert caught.value.failed[0].item_id == "x"
    with pytest.raises(DispatchError) as caught:  # detail-type and detail disagree
        handle_eventbridge_lambda(recorder.router, eventbridge_event(record, "Email Delivered"))
    assert isinstance(caught.value.failed[0].error, SourceError)
    assert len(recorder.invalid) == 1


async def test_eventbridge_async() -> None:
    router = EventRouter()
    seen: list[SesEvent] = []

    @router.on_delivery
    async def handle(event: SesEvent) -> None:
        seen.append(event)

    record = json.loads(record_text("event_03_Delivery.json"))
    await handle_eventbridge_lambda_async(router, eventbridge_event(record, "Email Delivered"))
    assert len(seen) == 1
    with pytest.raises(DispatchError):
        await handle_eventbridge_lambda_async(router, {"source": "aws.ec2", "id": "e"})


# --- Firehose ---------------------------------------------------------------------------------------------


def _results(response: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["recordId"], r["result"]) for r in response["records"]]


def _data(response: dict[str, Any], record_id: str) -> bytes:
    (record,) = [r for r in response["records"] if r["recordId"] == record_id]
    return base64.b64decode(record["data"])


def _firehose_input() -> dict[str, Any]:
    return firehose_event(
        [
            ("r-bounce", firehose_line("event_01_Bounce.json")),
            ("r-open", firehose_line("event_06_Open.json")),
            ("r-bad-json", b'{"eventType": "Bounce", "mail": '),
            ("r-bad-base64", "%%%not base64%%%"),
            ("r-complaint", firehose_line("event_02_Complaint.json")),
        ]
    )


def test_firehose_passes_records_through_and_fails_bad_or_failed_ones() -> None:
    recorder = Recorder(fail_on={EventType.COMPLAINT})
    event = _firehose_input()
    response = handle_firehose_lambda(recorder.router, event)
    assert _results(response) == [
        ("r-bounce", "Ok"),
        ("r-open", "Ok"),
        ("r-bad-json", "ProcessingFailed"),
        ("r-bad-base64", "ProcessingFailed"),
        ("r-complaint", "ProcessingFailed"),
    ]
    assert _data(response, "r-bounce") == firehose_line("event_01_Bounce.json")  # unchanged
    assert _data(response, "r-complaint") == firehose_line("event_02_Complaint.json")  # the original
    assert [type(e) for e in recorder.seen] == [BounceEvent, OpenEvent]
    assert [i.item_id for i in recorder.invalid] == ["r-bad-json", "r-bad-base64"]
    json.dumps(response)


def test_firehose_transform_replaces_drops_or_fails_records() -> None:
    router = EventRouter()
    router.on_any(lambda e: None)
    seen_data: list[bytes] = []

    def transform(record: ParsedRecord, data: bytes) -> bytes | str | dict[str, Any] | None:
        seen_data.append(data)
        if isinstance(record, OpenEvent):
            return None
        if isinstance(record, BounceEvent):
            return {"type": "bounce", "recipients": list(record.recipients)}
        if isinstance(record, ComplaintEvent):
            return "complaint\n"
        return data.upper()

    event = firehose_event(
        [
            ("bounce", firehose_line("event_01_Bounce.json")),
            ("open", firehose_line("event_06_Open.json")),
            ("complaint", firehose_line("event_02_Complaint.json")),
            ("send", firehose_line("event_04_Send.json")),
            ("bad", b"nope"),
        ]
    )
    response = handle_firehose_lambda(router, event, transform=transform)
    assert _results(response) == [
        ("bounce", "Ok"),
        ("open", "Dropped"),
        ("complaint", "Ok"),
        ("send", "Ok"),
        ("bad", "ProcessingFailed"),
    ]
    assert json.loads(_data(response, "bounce")) == {
        "type": "bounce",
        "recipients": ["recipient@example.com"],
    }
    assert _data(response, "bounce").endswith(b"\n")
    assert _data(response, "complaint") == b"complaint\n"
    assert _data(response, "send") == firehose_line("event_04_Send.json").upper()
    assert _data(response, "bad") == b"nope"
    assert seen_data[0] == firehose_line("event_01_Bounce.json")
    assert len(seen_data) == 4  # never called for an unparseable record


@pytest.mark.parametrize("bad_return", [ValueError("boom"), 42])
def test_a_failing_transform_fails_only_its_record(bad_return: object) -> None:
    router = EventRouter()

    def transform(record: ParsedRecord, data: bytes) -> Any:
        if isinstance(record, BounceEvent):
            if isinstance(bad_return, Exception):
                raise bad_return
            return bad_return
        return data

    event = firehose_event(
        [("b", firehose_line("event_01_Bounce.json")), ("d", firehose_line("event_03_Delivery.json"))]
    )
    response = handle_firehose_lambda(router, event, transform=transform)
    assert _results(response) == [("b", "ProcessingFailed"), ("d", "Ok")]
    assert _data(response, "b") == firehose_line("event_01_Bounce.json")


async def test_firehose_async_with_concurrency() -> None:
    router = EventRouter()
    arrived: set[str] = set()
    both = asyncio.Event()

    @router.on_any
    async def handle(event: SesEvent) -> None:
        arrived.add(event.event_type.value)
        if len(arrived) == 2:
            both.set()
        await both.wait()

    event = firehose_event(
        [("a", firehose_line("event_01_Bounce.json")), ("b", firehose_line("event_07_Click.json"))]
    )
    response = await asyncio.wait_for(
        handle_firehose_lambda_async(router, event, transform=lambda r, d: None, concurrency=2), timeout=5
    )
    assert _results(response) == [("a", "Dropped"), ("b", "Dropped")]


# --- any trigger: handle_lambda ----------------------------------------------------------------------------


def _one_of_each() -> dict[Transport, dict[str, Any]]:
    """An invocation of each trigger, each with one record that parses and one that does not (EventBridge:
    one event, which parses)."""
    bounce = record_text("event_01_Bounce.json")
    return {
        Transport.SQS: sqs_event([("q-1", json.dumps(sns_envelope(bounce))), ("q-bad", "{nope")]),
        Transport.SNS: sns_lambda_event(sns_envelope(bounce), sns_envelope("{nope")),
        Transport.EVENTBRIDGE: eventbridge_event(json.loads(bounce), "Email Bounced"),
        Transport.FIREHOSE: firehose_event(
            [("f-1", firehose_line("event_01_Bounce.json")), ("f-bad", b"{nope")]
        ),
    }


_EXPLICIT: dict[Transport, Any] = {
    Transport.SQS: handle_sqs_lambda,
    Transport.SNS: handle_sns_lambda,
    Transport.EVENTBRIDGE: handle_eventbridge_lambda,
    Transport.FIREHOSE: handle_firehose_lambda,
}


def _outcome(entry_point: Any, router: EventRouter, event: dict[str, Any], **kwargs: Any) -> object:
    """What an entry point answered, or the error it raised (as its type and the results it carries)."""
    try:
        return entry_point(router, event, None, **kwargs)
    except DispatchError as exc:
        return (DispatchError, [(r.item_id, r.ok) for r in exc.results])


@pytest.mark.parametrize("transport", list(_EXPLICIT))
def test_handle_lambda_answers_as_the_entry_point_of_the_trigger(transport: Transport) -> None:
    event = _one_of_each()[transport]
    assert lambda_transport(event) is transport

    by_detection, explicitly = Recorder(), Recorder()
    answer = _outcome(handle_lambda, by_detection.router, event)
    assert answer == _outcome(_EXPLICIT[transport], explicitly.router, event)
    assert [type(e) for e in by_detection.seen] == [BounceEvent]
    assert [i.item_id for i in by_detection.invalid] == [i.item_id for i in explicitly.invalid]


_EXPLICIT_ASYNC: dict[Transport, Any] = {
    Transport.SQS: handle_sqs_lambda_async,
    Transport.SNS: handle_sns_lambda_async,
    Transport.EVENTBRIDGE: handle_eventbridge_lambda_async,
    Transport.FIREHOSE: handle_firehose_lambda_async,
}


@pytest.mark.parametrize("transport", list(_EXPLICIT_ASYNC))
async def test_handle_lambda_async_answers_as_the_async_entry_point(transport: Transport) -> None:
    event = _one_of_each()[transport]
    seen: list[str] = []
    router = EventRouter()

    @router.on_bounce
    async def bounce(event: BounceEvent) -> None:
        seen.append(event.message_id)

    async def outcome(entry_point: Any) -> object:
        try:
            return await entry_point(router, event, None)
        except DispatchError as exc:
            return (DispatchError, [(r.item_id, r.ok) for r in exc.results])

    assert await outcome(handle_lambda_async) == await outcome(_EXPLICIT_ASYNC[transport])
    assert len(seen) == 2  # the bounce reached the coroutine handler each time
    assert seen[0] == seen[1]


def test_handle_lambda_passes_the_verifier_to_sqs_and_sns_and_the_transform_to_firehose() -> None:
    recorder = Recorder()
    sqs = sqs_event([("good", json.dumps(_signed(SIGNED[1]))), ("forged", json.dumps(_tampered(SIGNED[1])))])
    assert handle_lambda(recorder.router, sqs, verifier=_verifier()) == {
        "batchItemFailures": [{"itemIdentifier": "forged"}]
    }
    sns = sns_lambda_event(_tampered(SIGNED[0]))
    with pytest.raises(DispatchError) as caught:
        handle_lambda(recorder.router, sns, verifier=_verifier())
    assert isinstance(caught.value.failed[0].error, SnsVerificationError)

    firehose = firehose_event(
        [("o", firehose_line("event_06_Open.json")), ("c", firehose_line("event_07_Click.json"))]
    )

    def drop_opens(record: ParsedRecord, data: bytes) -> bytes | None:
        return None if isinstance(record, OpenEvent) else data

    response = handle_lambda(recorder.router, firehose, transform=drop_opens)
    assert response is not None
    assert _results(response) == [("o", "Dropped"), ("c", "Ok")]


@pytest.mark.parametrize(
    "event",
    [
        None,
        "Records",
        ["Records"],
        42,
        {},
        {"key1": "value1", "key2": "value2"},  # the Lambda console's default test event
        {"Records": []},
        {"Records": "not a list"},
        {"Records": [1, 2]},
        {"Records": [{"eventSource": "aws:s3", "s3": {}}]},  # another trigger
        {"Records": [{"eventSource": "aws:sqs"}, {"EventSource": "aws:sns"}]},  # no single service
        {"Records": [{"eventSource": "aws:sqs"}, "junk"]},
        {"records": [], "invocationId": "i"},  # Firehose without its stream
        {"records": "no", "invocationId": "i", "deliveryStreamArn": "arn"},
        {"detail-type": "Email Bounced", "detail": {}},  # EventBridge without a source
        {"source": "aws.ses", "detail": {}},
        {"requestContext": {}, "body": "{}", "httpMethod": "POST"},  # API Gateway
    ],
)
def test_handle_lambda_refuses_an_event_no_trigger_sends_and_touches_nothing(event: Any) -> None:
    recorder = Recorder()
    with pytest.raises(LambdaEventError, match="cannot tell which service") as caught:
        handle_lambda(recorder.router, event)
    with pytest.raises(LambdaEventError):
        run_async(handle_lambda_async(recorder.router, event))
    assert caught.value.event is event
    assert recorder.seen == []  # nothing was dispatched
    assert recorder.invalid == []
    assert pickle.loads(pickle.dumps(caught.value)).event == event


def test_the_lambda_page_covers_every_entry_point() -> None:
    page = (DATA.parents[1] / "docs" / "lambda.md").read_text(encoding="utf-8")
    for name in routing.__all__:
        if name.startswith(("handle_", "lambda_")):
            assert f"::: sesflow.routing.{name}\n" in page, name
