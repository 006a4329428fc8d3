"""The consumers' pure core and the idempotency stores: decisions, requests, leases, keys."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sesflow.consumers import (
    Action,
    Backoff,
    MemoryIdempotencyStore,
    SqliteIdempotencyStore,
    Status,
    idempotency_key,
)
from sesflow.consumers import _core as consumer_core
from sesflow.consumers._core import (
    MAX_VISIBILITY_TIMEOUT,
    Claim,
    Dispatch,
    Driver,
    Effect,
    FifoGate,
    Leases,
    MarkHandled,
    MessageOutcome,
    MessagePolicy,
    Store,
    Verify,
    batch_failures,
    decide,
    delete_requests,
    fifo_blocked,
    is_fifo_queue,
    receive_error_retryable,
    receive_request,
    release_outcome,
    visibility_requests,
)
from sesflow.errors import ParseError
from sesflow.events import EventFamily, parse_event
from sesflow.routing import EventRouter
from sesflow.sources import sqs_message_item
from sesflow.testing import make_record

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/ses-events"


def message(
    body: str, *, message_id: str = "m-1", count: int | None = 1, group: str | None = None
) -> dict[str, Any]:
    attributes = {}
    if count is not None:
        attributes["ApproximateReceiveCount"] = str(count)
    if group is not None:
        attributes["MessageGroupId"] = group
    return {
        "MessageId": message_id,
        "ReceiptHandle": f"rh-{message_id}",
        "Body": body,
        "Attributes": attributes,
    }


def item_of(record: dict[str, Any] | str, **options: Any) -> Any:
    body = record if isinstance(record, str) else json.dumps(record)
    return sqs_message_item(message(body, **options))


# --- Backoff ---------------------------------------------------------------------------------------------


def test_backoff_grows_exponentially_with_the_receive_count_and_is_capped() -> None:
    backoff = Backoff(initial=5, factor=2, maximum=60)
    assert [backoff.timeout(n) for n in (1, 2, 3, 4, 5, 6)] == [5, 10, 20, 40, 60, 60]
    assert backoff.timeout(None) == 5  # no count returned: treated as the first receive
    assert backoff.timeout(10_000) == 60  # no overflow for a very old message
    assert Backoff(initial=0).timeout(7) == 0


@pytest.mark.parametrize(
    "kwargs", [{"initial": -1}, {"factor": 0.5}, {"maximum": MAX_VISIBILITY_TIMEOUT + 1}, {"maximum": -1}]
)
def test_backoff_rejects_settings_sqs_cannot_apply(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="Backoff needs"):
        Backoff(**kwargs)  # type: ignore[arg-type]


# --- decide ----------------------------------------------------------------------------------------------


def test_a_successful_dispatch_is_deleted() -> None:
    router = EventRouter()
    router.on_bounce(lambda event: None)
    item = item_of(make_record("Bounce"))
    outcome = decide(item, router.dispatch_item(item), backoff=Backoff())
    assert (outcome.status, outcome.action, outcome.ok) == (Status.HANDLED, Action.DELETE, True)
    assert outcome.receipt_handle == "rh-m-1"
    assert outcome.visibility_timeout is None


def test_an_unmatched_record_counts_as_handled() -> None:
    item = item_of(make_record("Open"))
    outcome = decide(item, EventRouter().dispatch_item(item), backoff=Backoff())
    assert outcome.status is Status.HANDLED


def test_a_failed_handler_is_left_for_retry_with_the_backoff_of_its_receive_count() -> None:
    router = EventRouter()

    @router.on_bounce
    def broken(event: object) -> None:
        raise RuntimeError("database down")

    item = item_of(make_record("Bounce"), count=3)
    outcome = decide(item, router.dispatch_item(item), backoff=Backoff(initial=5, factor=2))
    assert (outcome.status, outcome.action, outcome.visibility_timeout) == (
        Status.FAILED,
        Action.CHANGE_VISIBILITY,
        20,
    )
    assert "database down" in outcome.reason
    assert not outcome.ok


def test_an_invalid_payload_goes_to_the_dead_letter_hook_and_is_not_deleted() -> None:
    dead: list[Any] = []
    router = EventRouter(on_invalid=dead.append)
    item = item_of("this is not JSON")
    outcome = decide(item, router.dispatch_item(item), backoff=Backoff(initial=5))
    assert dead == [item]
    assert (outcome.status, outcome.action, outcome.visibility_timeout) == (
        Status.INVALID,
        Action.CHANGE_VISIBILITY,
        5,
    )


def test_a_duplicate_is_deleted_without_a_result() -> None:
    outcome = decide(item_of(make_record("Bounce")), None, backoff=Backoff(), key="k")
    assert (outcome.status, outcome.action, outcome.key, outcome.result) == (
        Status.DUPLICATE,
        Action.DELETE,
        "k",
        None,
    )


def test_a_released_message_is_visible_again_at_once() -> None:
    outcome = release_outcome(item_of(make_record("Bounce")), "stopping")
    assert (outcome.status, outcome.action, outcome.visibility_timeout) == (
        Status.RELEASED,
        Action.CHANGE_VISIBILITY,
        0,
    )


# --- the per-message flow, driven by hand ------------------------------------------------------------------


def drive(flow: Any, answer: Callable[[Effect], Any], effects: list[str]) -> MessageOutcome:
    """Run a flow with ``answer`` performing each effect (an exception it returns is thrown in)."""
    driver = Driver(flow)
    while driver.effect is not None:
        effect = driver.effect
        effects.append(type(effect).__name__ + (f".{effect.method}" if isinstance(effect, Store) else ""))
        try:
            value = drive(effect.flow, answer, effects) if isinstance(effect, Claim) else answer(effect)
        except Exception as exc:  # what the claimed sub-flow let out: thrown into the flow, as the shells do
            value = exc
        if isinstance(value, BaseException):
            driver.throw(value)  # type: ignore[arg-type]
        else:
            driver.send(value)
    return driver.result


def answers(
    router: EventRouter, *, seen: bool = False, fail: str = "", error: Exception | None = None
) -> Any:
    """Perform effects as a consumer would, with ``error`` instead of the effect named ``fail``."""

    def answer(effect: Effect) -> Any:
        name = type(effect).__name__ + (f".{effect.method}" if isinstance(effect, Store) else "")
        if name == fail:
            return error
        if isinstance(effect, Dispatch):
            return router.dispatch_item(effect.item)
        if isinstance(effect, Verify):
            return sqs_message_item(effect.message)
        if isinstance(effect, MarkHandled):
            return None
        return seen if effect == Store("seen", effect.key) else None

    return answer


def test_the_flow_asks_for_each_step_in_order_and_decides() -> None:
    handled: list[str] = []
    router = EventRouter()
    router.on_bounce(lambda event: handled.append(event.message_id))
    policy = MessagePolicy(backoff=Backoff(), verifies=True, idempotent=True)
    bounce = make_record("Bounce", message_id="b")
    effects: list[str] = []
    outcome = drive(policy.handle(message(json.dumps(bounce))), answers(router), effects)
    assert effects == ["Verify", "Claim", "Store.seen", "Dispatch", "Store.mark", "MarkHandled"]
    assert (outcome.status, outcome.action, handled) == (Status.HANDLED, Action.DELETE, ["b"])
    assert outcome.key == idempotency_key(parse_event(bounce))

    effects.clear()
    again = drive(
        policy.handle(message(json.dumps(bounce))),
        answers(router, seen=True),
        effects,
    )
    assert effects == ["Verify", "Claim", "Store.seen"]  # a duplicate: no dispatch, no mark
    assert (again.status, again.action, handled) == (Status.DUPLICATE, Action.DELETE, ["b"])


@pytest.mark.parametrize(
    ("fail", "status", "reason"),
    [
        ("Verify", Status.FAILED, "verifier: OSError"),
        ("Store.seen", Status.FAILED, "idempotency store: OSError"),
        ("Dispatch", Status.FAILED, "unexpected error: OSError"),
        ("Store.mark", Status.HANDLED, ""),  # the handlers succeeded: the message is done
        ("MarkHandled", Status.HANDLED, ""),  # likewise: only the replay guard missed it
    ],
)
def test_no_exception_from_an_effect_escapes_the_flow(fail: str, status: Status, reason: str) -> None:
    policy = MessagePolicy(backoff=Backoff(initial=7), verifies=True, idempotent=True)
    answer = answers(EventRouter(), fail=fail, error=OSError("down"))
    outcome = drive(policy.handle(message(json.dumps(make_record("Open")))), answer, [])
    assert outcome.status is status
    assert outcome.reason.startswith(reason)
    assert outcome.visibility_timeout == (None if status is Status.HANDLED else 7)


def test_what_is_not_an_exception_goes_through_the_flow() -> None:
    policy = MessagePolicy(backoff=Backoff(), verifies=False, idempotent=False)
    with pytest.raises(KeyboardInterrupt):
        drive(
            policy.handle(message(json.dumps(make_record("Open")))),
            answers(EventRouter(), fail="Dispatch", error=KeyboardInterrupt()),
            [],
        )  # type: ignore[arg-type]


def test_a_deeply_nested_unknown_record_still_gets_a_key() -> None:
    router = EventRouter()
    text = json.dumps({**make_record("Open"), "eventType": "Frobnicate", "deep": "DEEP"})
    body = text.replace('"DEEP"', "[" * 1000 + "]" * 1000)  # an unknown type is keyed on its whole record
    policy = MessagePolicy(backoff=Backoff(initial=3), verifies=False, idempotent=True)
    effects: list[str] = []
    outcome = drive(policy.handle(message(body)), answers(router), effects)
    assert effects[:2] == ["Claim", "Store.seen"]
    assert (outcome.status, outcome.action) == (Status.HANDLED, Action.DELETE)
    assert outcome.key is not None
    assert outcome.key.startswith("ses2:")


def test_a_record_without_a_computable_key_goes_to_the_dead_letter_hook(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_key(record: object) -> str:
        # No JSON body makes the real key fail any more; this stands for a future bug or another key.
        raise ParseError("the key cannot be written down", raw=None)

    monkeypatch.setattr(consumer_core, "idempotency_key", no_key)
    dead: list[Any] = []
    router = EventRouter(on_invalid=dead.append)
    body = json.dumps(make_record("Open"))
    policy = MessagePolicy(backoff=Backoff(initial=3), verifies=False, idempotent=True)
    effects: list[str] = []
    outcome = drive(policy.handle(message(body)), answers(router), effects)
    assert effects == ["Dispatch"]  # no claim, no store: there is no key
    assert (outcome.status, outcome.action, outcome.visibility_timeout) == (
        Status.INVALID,
        Action.CHANGE_VISIBILITY,
        3,
    )
    assert [type(item.error).__name__ for item in dead] == ["ParseError"]
    assert dead[0].record is None
    assert dead[0].raw["Body"] == body


def test_a_fifo_gate_releases_the_rest_of_a_group_after_a_failure() -> None:
    router = EventRouter()

    @router.on_open
    def broken(event: object) -> None:
        raise RuntimeError("down")

    policy = MessagePolicy(backoff=Backoff(), verifies=False, idempotent=False)
    gate = FifoGate()
    bodies = [json.dumps(make_record(kind)) for kind in ("Delivery", "Open", "Delivery", "Delivery")]
    groups = ["a", "a", "a", "b"]
    statuses = [
        drive(policy.handle(message(b, message_id=f"m{i}", group=g), gate), answers(router), []).status
        for i, (b, g) in enumerate(zip(bodies, groups, strict=True))
    ]
    assert statuses == [Status.HANDLED, Status.FAILED, Status.RELEASED, Status.HANDLED]


def test_fifo_queues_and_blocked_groups() -> None:
    assert is_fifo_queue(QUEUE + ".fifo")
    assert not is_fifo_queue(QUEUE)
    item = item_of(make_record("Bounce"), group="customer-7")
    assert fifo_blocked(item, {"customer-7"})
    assert not fifo_blocked(item, {"customer-8"})
    assert not fifo_blocked(item_of(make_record("Bounce")), {"customer-7"})


# --- requests and answers --------------------------------------------------------------------------------


def test_receive_request_long_polls_a_batch_with_the_attributes_the_core_needs() -> None:
    request = receive_request(QUEUE, max_messages=10, wait_time_seconds=20, visibility_timeout=30)
    assert request == {
        "QueueUrl": QUEUE,
        "MaxNumberOfMessages": 10,
        "WaitTimeSeconds": 20,
        "VisibilityTimeout": 30,
        "AttributeNames": ["ApproximateReceiveCount", "MessageGroupId", "SentTimestamp"],
    }
    with pytest.raises(ValueError, match="between 1 and 10"):
        receive_request(QUEUE, max_messages=11, wait_time_seconds=0, visibility_timeout=30)


def test_delete_requests_take_only_deletable_outcomes_ten_per_request() -> None:
    router = EventRouter()
    items = [item_of(make_record("Delivery"), message_id=f"m-{i}") for i in range(23)]
    outcomes = [decide(item, router.dispatch_item(item), backoff=Backoff()) for item in items]
    outcomes.append(release_outcome(item_of(make_record("Bounce"), message_id="released"), "stopping"))
    requests = delete_requests(QUEUE, outcomes)
    assert [len(r["Entries"]) for r in requests] == [10, 10, 3]
    assert all(r["QueueUrl"] == QUEUE for r in requests)
    handles = [e["ReceiptHandle"] for r in requests for e in r["Entries"]]
    assert handles == [f"rh-m-{i}" for i in range(23)]
    assert [e["Id"] for e in requests[2]["Entries"]] == ["0", "1", "2"]


def test_visibility_requests_and_batch_failures_map_back_to_entries() -> None:
    changes = [(f"rh-{i}", i) for i in range(12)]
    requests = visibility_requests(QUEUE, changes)
    assert [len(r["Entries"]) for r in requests] == [10, 2]
    assert requests[1]["Entries"][1] == {"Id": "1", "ReceiptHandle": "rh-11", "VisibilityTimeout": 11}
    response = {
        "Successful": [{"Id": "0"}],
        "Failed": [{"Id": "1", "SenderFault": True, "Code": "ReceiptHandleIsInvalid", "Message": "gone"}],
    }
    assert batch_failures(requests[1], response) == [(1, "ReceiptHandleIsInvalid: gone")]
    assert batch_failures(requests[1], {"Successful": []}) == []


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (None, None, True),  # no answer: connection error, timeout
        (500, "InternalError", True),
        (503, None, True),
        (400, "RequestThrottled", True),
        (400, "AWS.SimpleQueueService.NonExistentQueue", False),
        (403, "AccessDenied", False),
    ],
)
def test_which_sqs_errors_are_worth_retrying(status: int | None, code: str | None, retryable: bool) -> None:
    assert receive_error_retryable(status, code) is retryable


# --- leases (heartbeat) ----------------------------------------------------------------------------------


def test_leases_become_due_when_half_the_visibility_is_left_and_are_extended_from_now() -> None:
    leases = Leases(30)
    leases.add("rh-1", "m-1", now=100.0)
    leases.add("rh-2", "m-2", now=110.0)
    assert leases.due(114.9) == []
    assert leases.due(115.0) == [("rh-1", 30)]
    leases.extended([("rh-1", 30)], now=115.0)
    assert leases.due(125.0) == [("rh-2", 30)]
    leases.remove("rh-2")
    assert leases.due(125.0) == []
    assert len(leases) == 1
    assert "rh-1" in leases
    assert leases.check_interval == pytest.approx(5.0)


def test_leases_are_never_extended_past_twelve_hours_after_receipt() -> None:
    leases = Leases(600)
    leases.add("rh-1", "m-1", now=0.0)
    almost = MAX_VISIBILITY_TIMEOUT - 200.0
    leases.extended([("rh-1", 0)], now=almost)  # expires at `almost`
    assert leases.due(almost) == [("rh-1", 200)]
    assert leases.due(MAX_VISIBILITY_TIMEOUT + 1.0) == []


# --- idempotency keys ------------------------------------------------------------------------------------


def test_the_key_is_stable_across_redeliveries_and_parses() -> None:
    record = make_record("Bounce", recipients=["a@example.com", "b@example.com"])
    first = idempotency_key(parse_event(record))
    again = idempotency_key(parse_event(json.dumps(record)))
    assert first is not None
    assert first == again
    assert first.startswith("ses2:")
    assert len(first) == len("ses2:") + 64


def test_no_recipient_text_can_stand_for_two_recipients() -> None:
    # Joined with a bare separator, a hostile event naming one "recipient" that holds it wrote the same
    # identity as a genuine event of the same message for two recipients, which would then be skipped.
    two = make_record("Delivery", recipients=["a@example.com", "b@example.com"], message_id="mid-2")
    one = make_record("Delivery", recipients=["a@example.com,b@example.com"], message_id="mid-2")
    one["delivery"]["timestamp"] = two["delivery"]["timestamp"]
    hostile, genuine = parse_event(one), parse_event(two)
    assert hostile.recipients == ("a@example.com,b@example.com",)  # the parser keeps it as SES sent it
    assert idempotency_key(hostile) != idempotency_key(genuine)


def test_distinct_events_have_distinct_keys() -> None:
    base = make_record("Delivery", recipients=["a@example.com"], message_id="mid-1")
    keys = {
        idempotency_key(parse_event(base)),
        idempotency_key(parse_event(make_record("Open", recipients=["a@example.com"], message_id="mid-1"))),
        idempotency_key(
            parse_event(make_record("Delivery", recipients=["b@example.com"], message_id="mid-1"))
        ),
        idempotency_key(
            parse_event(make_record("Delivery", recipients=["a@example.com"], message_id="mid-2"))
        ),
        idempotency_key(
            parse_event(
                make_record(
                    "Delivery", recipients=["a@example.com"], message_id="mid-1", delay=timedelta(hours=1)
                )
            )
        ),
        idempotency_key(
            parse_event(
                make_record(
                    "Delivery",
                    recipients=["a@example.com"],
                    message_id="mid-1",
                    family=EventFamily.NOTIFICATION,
                )
            )
        ),
    }
    assert len(keys) == 6


def test_bounces_are_identified_by_feedback_id_and_clicks_by_link() -> None:
    bounce = make_record("Bounce", message_id="mid-1")
    other = json.loads(json.dumps(bounce))
    other["bounce"]["feedbackId"] = "another-feedback"
    assert idempotency_key(parse_event(bounce)) != idempotency_key(parse_event(other))
    reordered = json.loads(json.dumps(bounce))
    reordered["bounce"]["bouncedRecipients"].reverse()
    assert idempotency_key(parse_event(bounce)) == idempotency_key(parse_event(reordered))

    click = make_record("Click", message_id="mid-1")
    other_link = json.loads(json.dumps(click))
    other_link["click"]["link"] = "https://example.com/pricing"
    assert idempotency_key(parse_event(click)) != idempotency_key(parse_event(other_link))


def test_unknown_events_are_keyed_on_their_whole_record_and_control_messages_have_no_key() -> None:
    unknown = {"eventType": "Teleport", "mail": make_record("Send")["mail"], "teleport": {"to": "mars"}}
    changed = {**unknown, "teleport": {"to": "venus"}}
    assert idempotency_key(parse_event(unknown)) != idempotency_key(parse_event(changed))
    assert idempotency_key(parse_event(json.dumps(unknown))) == idempotency_key(parse_event(unknown))
    assert (
        idempotency_key(parse_event("Successfully validated SNS topic for Amazon SES event publishing."))
        is None
    )


# --- stores ----------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_memory_store_remembers_until_ttl_and_stays_bounded() -> None:
    clock = FakeClock()
    store = MemoryIdempotencyStore(max_entries=2, ttl=timedelta(seconds=10), clock=clock)
    assert not store.seen("a")
    store.mark("a")
    assert store.seen("a")
    clock.now += 10
    assert not store.seen("a")  # expired
    store.mark("a")
    store.mark("b")
    store.mark("c")  # evicts "a", the least recently marked
    assert (store.seen("a"), store.seen("b"), store.seen("c")) == (False, True, True)
    assert len(store) == 2


def test_sqlite_store_persists_across_instances_and_expires(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "keys.db"
    with SqliteIdempotencyStore(path, ttl=timedelta(seconds=60), clock=clock) as store:
        store.mark("a")
        assert store.seen("a")
        assert not store.seen("b")
    with SqliteIdempotencyStore(path, ttl=timedelta(seconds=60), clock=clock) as store:
        assert store.seen("a")
        clock.now += 60
        assert not store.seen("a")
        assert store.purge() == 1
        assert len(store) == 0


def test_sqlite_transaction_commits_effects_with_the_mark_or_neither(tmp_path: Path) -> None:
    event = parse_event(make_record("Bounce"))
    key = idempotency_key(event)
    assert key is not None
    with SqliteIdempotencyStore(tmp_path / "keys.db") as store:
        store.connection().execute("CREATE TABLE effects (address TEXT)")

        def failing_handler() -> None:
            with store.transaction(event) as db:
                db.execute("INSERT INTO effects VALUES ('a@example.com')")
                raise RuntimeError("handler failed after writing")

        with pytest.raises(RuntimeError):
            failing_handler()
        assert not store.seen(key)
        assert store.connection().execute("SELECT count(*) FROM effects").fetchone()[0] == 0

        with store.transaction(event) as db:
            db.execute("INSERT INTO effects VALUES ('a@example.com')")
        assert store.seen(key)
        assert store.connection().execute("SELECT count(*) FROM effects").fetchone()[0] == 1
        store.mark(key)  # the consumer's mark right after is absorbed
        assert len(store) == 1


def test_sqlite_store_is_shared_between_threads(tmp_path: Path) -> None:
    with SqliteIdempotencyStore(tmp_path / "keys.db", durable=False) as store:

        def work(start: int) -> None:
            for i in range(start, start + 50):
                store.mark(f"k{i}")

        threads = [threading.Thread(target=work, args=(n * 50,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(store) == 200
        assert all(store.seen(f"k{i}") for i in range(200))


def test_sqlite_store_refuses_memory_and_odd_table_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a file"):
        SqliteIdempotencyStore(":memory:")
    with pytest.raises(ValueError, match="table"):
        SqliteIdempotencyStore(tmp_path / "x.db", table="keys; DROP TABLE x")
