"""One table of faults through both consumers, against moto server: the outcomes must be the same.

Each case puts a few messages on a fresh queue and drains it with ``run_until_empty``, once with
:class:`SqsConsumer` and once with :class:`AsyncSqsConsumer`. What is observed from outside: the status and
retry delay of every message left on the queue and the duplicates (from the consumer's log lines, which are
part of the policy), the counters, which handlers and ``on_invalid`` hooks ran on which messages, what is left
on the queue, and what ``run_until_empty`` raised. Both runs must match each other and the case's expectation.

The faults are injected where a user's own code sits: handlers and hooks, a verifier and an idempotency store
(both public protocols, here subclasses or implementations of them), and an ``EventRouter`` subclass whose
dispatch breaks. Crashes (SIGKILL at any point) are covered for both consumers by
tests/test_consumers_reliability.py; the crash that matters to the policy, after a handler's effect was
committed but before the message was deleted, is here as a redelivered event the store already knows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from sesflow.consumers import (
    AsyncSqsConsumer,
    Backoff,
    ConsumerMetrics,
    SqliteIdempotencyStore,
    SqsConsumer,
    idempotency_key,
)
from sesflow.consumers import _core as consumer_core
from sesflow.errors import ParseError, SnsVerificationError
from sesflow.events import SesEvent, parse_event
from sesflow.routing import DispatchResult, EventRouter
from sesflow.sources import SourceItem
from sesflow.sources.sns_verify import MemoryReplayGuard, SnsVerifier
from sesflow.testing import make_record

from ._consumer_support import TestQueue, sns_body
from ._sns_signing import CERT_URL, Clock, new_key, notification, self_signed_pem, sign

BACKOFF = Backoff(initial=60)  # a failed message stays invisible for the rest of the test
COUNTERS = ("received", "handled", "duplicates", "failed", "invalid", "released", "deleted", "retried")


def record(index: int, kind: str = "Delivery", **options: Any) -> dict[str, Any]:
    return make_record(kind, message_id=f"ses-{index}", **options)


def body(index: int, kind: str = "Delivery") -> str:
    """An SNS envelope (with a signature for the test's verifier to judge) carrying ``record(index)``."""
    return signed(sns_body(record(index, kind), message_id=f"sns-{index}"))


def signed(envelope: str) -> str:
    return json.dumps({**json.loads(envelope), "SignatureVersion": "2", "Signature": "c2lnbmVk"})


def deep_body(index: int) -> str:
    """An event of a type SES may add later, with a field nested 1,000 arrays deep (its key hashes it all,
    without recursion)."""
    text = json.dumps({**record(index), "eventType": "Frobnicate", "deep": "DEEP"})
    return signed(sns_body(text.replace('"DEEP"', "[" * 1000 + "]" * 1000), message_id=f"sns-{index}"))


def surrogate_body(index: int) -> str:
    """A lone surrogate in mail.messageId: valid JSON, but no UTF-8 encoding exists for it."""
    text = json.dumps(record(index)).replace(f'"ses-{index}"', f'"ses-{index}\\ud800"')
    return signed(sns_body(text, message_id=f"sns-{index}"))


class Unprintable(Exception):
    """An exception that cannot even be described."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __str__(self) -> str:
        raise RuntimeError("no str")


class Halt(BaseException):
    """Not an Exception: what a KeyboardInterrupt or SystemExit is to a worker."""


class Verifier:
    """A MessageVerifier: refuses envelope ``sns-<refuse>``, breaks on ``sns-<broken>``, passes the rest."""

    def __init__(self, *, refuse: int | None = None, broken: int | None = None) -> None:
        self.refuse, self.broken = f"sns-{refuse}", f"sns-{broken}"

    def verify(self, message: Mapping[str, Any], *, delivered_at: datetime | None = None) -> None:
        if message.get("MessageId") == self.refuse:
            raise SnsVerificationError("the signature does not match", message_id=self.refuse)
        if message.get("MessageId") == self.broken:
            raise OSError("the certificate store is unreadable")

    async def verify_async(self, message: Mapping[str, Any], *, delivered_at: datetime | None = None) -> None:
        self.verify(message, delivered_at=delivered_at)


class FaultyStore(SqliteIdempotencyStore):
    """A real SQLite store whose ``seen`` or ``mark`` fails for one event's key."""

    def __init__(self, path: Path, *, fail: str, key: str | None, error: Exception) -> None:
        super().__init__(path)
        self.fail, self.key, self.error = fail, key, error

    def seen(self, key: str) -> bool:
        if self.fail == "seen" and key == self.key:
            raise self.error
        return super().seen(key)

    def mark(self, key: str) -> None:
        if self.fail == "mark" and key == self.key:
            raise self.error
        super().mark(key)


class BrokenRouter(EventRouter):
    """A router whose dispatch raises (as a bug would) for the message of SES id ``ses-<index>``."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.broken = f"ses-{index}"

    def _check(self, item: SourceItem) -> None:
        if isinstance(item.record, SesEvent) and item.record.message_id == self.broken:
            raise LookupError("a bug in dispatch")

    def dispatch_item(self, item: SourceItem) -> DispatchResult:
        self._check(item)
        return super().dispatch_item(item)

    async def dispatch_item_async(self, item: SourceItem) -> DispatchResult:
        self._check(item)
        return await super().dispatch_item_async(item)


def index_of(ses_message_id: str) -> int:
    """The body index of an event, from its SES message id ``ses-<index>`` (maybe followed by a surrogate)."""
    return int(ses_message_id.removeprefix("ses-").rstrip("\ud800"))


def key_of(index: int) -> str | None:
    return idempotency_key(parse_event(record(index)))


@attrs.frozen
class Case:
    """Messages, the faults around them and what must happen. Indexes are positions in ``bodies``."""

    name: str
    bodies: Callable[[], list[str]]
    left: Mapping[int, tuple[str, int]]  # message -> (status, retry delay) of what stays on the queue
    handled_by: tuple[int, ...] = ()  # messages a handler ran for (in any order)
    hooked: tuple[tuple[int, str], ...] = ()  # (message, error type) the on_invalid hook got
    duplicates: tuple[int, ...] = ()
    counters: Mapping[str, int] = attrs.field(factory=dict)  # the rest of COUNTERS are 0
    raised: str | None = None
    failing_handler: Callable[[SesEvent], None] | None = None
    failing_hook: bool = False
    verifier: Verifier | None = None
    store: Callable[[Path], SqliteIdempotencyStore] | None = None
    router: Callable[[], EventRouter] = EventRouter
    key_fails_for: int | None = None  # the idempotency key of this message's event raises


def fails_on(index: int, error: BaseException) -> Callable[[SesEvent], None]:
    def handler(event: SesEvent) -> None:
        if event.message_id == f"ses-{index}":
            raise error

    return handler


def sqlite(path: Path) -> SqliteIdempotencyStore:
    return SqliteIdempotencyStore(path)


def store_failing(method: str, index: int, error: Exception) -> Callable[[Path], SqliteIdempotencyStore]:
    return lambda path: FaultyStore(path, fail=method, key=key_of(index), error=error)


def already_handled(index: int) -> Callable[[Path], SqliteIdempotencyStore]:
    """The store of a worker killed after event ``index``'s effect was committed, before its delete."""

    def make(path: Path) -> SqliteIdempotencyStore:
        store = SqliteIdempotencyStore(path)
        key = key_of(index)
        assert key is not None
        store.mark(key)
        return store

    return make


CASES = [
    Case(
        "poison body",
        lambda: ["this is not an SES event", body(1)],
        left={0: ("invalid", 60)},
        handled_by=(1,),
        hooked=((0, "ParseError"),),
        counters={"received": 2, "handled": 1, "invalid": 1, "deleted": 1, "retried": 1},
    ),
    Case(
        "verification refused",
        lambda: [body(0), body(1)],
        verifier=Verifier(refuse=0),
        left={0: ("invalid", 60)},
        handled_by=(1,),
        hooked=((0, "SnsVerificationError"),),
        counters={"received": 2, "handled": 1, "invalid": 1, "deleted": 1, "retried": 1},
    ),
    Case(
        "verifier error",
        lambda: [body(0), body(1)],
        verifier=Verifier(broken=0),
        left={0: ("failed", 60)},
        handled_by=(1,),
        counters={"received": 2, "handled": 1, "failed": 1, "deleted": 1, "retried": 1},
    ),
    Case(
        "handler error",
        lambda: [body(0), body(1)],
        failing_handler=fails_on(0, RuntimeError("the suppression list is down")),
        left={0: ("failed", 60)},
        handled_by=(0, 1),
        counters={"received": 2, "handled": 1, "failed": 1, "deleted": 1, "retried": 1},
    ),
    Case(
        "on_invalid hook error",
        lambda: ["garbage", body(1)],
        failing_hook=True,
        left={0: ("invalid", 60)},
        handled_by=(1,),
        hooked=((0, "ParseError"),),
        counters={"received": 2, "handled": 1, "invalid": 1, "deleted": 1, "retried": 1},
    ),
    Case(
        "store error in seen",
        lambda: [body(0), body(1)],
        store=store_failing("seen", 0, sqlite3.OperationalError("database is locked")),
        left={0: ("failed", 60)},
        handled_by=(1,),
        counters={"received": 2, "handled": 1, "failed": 1, "deleted": 1, "retried": 1},
    ),
    Case(
        "store error in mark",
        lambda: [body(0), body(1)],
        store=store_failing("mark", 0, sqlite3.OperationalError("disk I/O error")),
        left={},
        handled_by=(0, 1),
        counters={"received": 2, "handled": 2, "deleted": 2},
    ),
    Case(
        "hostile but keyable: nesting",
        lambda: [deep_body(0), body(1)],
        store=sqlite,
        left={},
        handled_by=(0, 1),
        counters={"received": 2, "handled": 2, "deleted": 2},
    ),
    Case(
        "hostile but keyable: lone surrogate",
        lambda: [body(0), surrogate_body(1)],
        store=sqlite,
        left={},
        handled_by=(0, 1),
        counters={"received": 2, "handled": 2, "deleted": 2},
    ),
    Case(
        "key error",
        lambda: [body(0), body(1)],
        store=sqlite,
        key_fails_for=0,
        left={0: ("invalid", 60)},
        handled_by=(1,),
        hooked=((0, "ParseError"),),
        counters={"received": 2, "handled": 1, "invalid": 1, "deleted": 1, "retried": 1},
    ),
    Case(
        "unexpected exception type: unprintable",
        lambda: [body(0), body(1)],
        failing_handler=fails_on(0, Unprintable()),
        left={0: ("failed", 60)},
        handled_by=(0, 1),
        counters={"received": 2, "handled": 1, "failed": 1, "deleted": 1, "retried": 1},
    ),
    Case(
        "unexpected exception type: unprintable, from the store",
        lambda: [body(0), body(1)],
        store=store_failing("seen", 1, Unprintable()),
        left={1: ("failed", 60)},
        handled_by=(0,),
        counters={"received": 2, "handled": 1, "failed": 1, "deleted": 1, "retried": 1},
    ),
    Case(
        "unexpected exception type: dispatch raises",
        lambda: [body(0), body(1)],
        router=lambda: BrokenRouter(0),
        left={0: ("failed", 60)},
        handled_by=(1,),
        counters={"received": 2, "handled": 1, "failed": 1, "deleted": 1, "retried": 1},
    ),
    Case(
        "unexpected exception type: not an Exception",
        lambda: [body(0), body(1)],
        failing_handler=fails_on(1, Halt()),
        left={},  # message 1 is left in flight as it was: no outcome, no retry delay
        handled_by=(0, 1),
        counters={"received": 2, "handled": 1, "deleted": 1},
        raised="Halt",
    ),
    Case(
        "SIGKILL after the commit, before the delete",
        lambda: [body(0), body(1)],
        store=already_handled(0),
        left={},
        handled_by=(1,),
        duplicates=(0,),
        counters={"received": 2, "handled": 1, "duplicates": 1, "deleted": 2},
    ),
    Case(
        "one event delivered twice in a batch",
        lambda: [body(0), body(0)],
        store=sqlite,
        left={},
        handled_by=(0,),
        duplicates=(1,),
        counters={"received": 2, "handled": 1, "duplicates": 1, "deleted": 2},
    ),
]


@attrs.frozen
class Observed:
    left: dict[int, tuple[str, int]]
    duplicates: list[int]
    handled_by: list[int]
    hooked: list[tuple[int, str]]
    counters: dict[str, int]
    queue: tuple[int, int]
    raised: str | None
    log: list[tuple[str, str]]


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def drain(mode: str, case: Case, queue: TestQueue, tmp_path: Path) -> Observed:
    ids = {sqs_id: index for index, sqs_id in enumerate(queue.send(case.bodies()))}
    handled_by: list[int] = []
    hooked: list[tuple[int, str]] = []
    router = case.router()

    @router.on_any
    def record_it(event: SesEvent) -> None:
        handled_by.append(index_of(event.message_id))

    if case.failing_handler is not None:
        router.on_any(case.failing_handler)

    @router.on_invalid
    def dead_letter(item: SourceItem) -> None:
        hooked.append((ids[item.item_id], type(item.error).__name__))
        if case.failing_hook:
            raise RuntimeError("the dead-letter table is full")

    store = case.store(tmp_path / f"{mode}.db") if case.store is not None else None
    options: dict[str, Any] = {
        "endpoint_url": queue.endpoint,
        "region": "us-east-1",
        "wait_time_seconds": 0,
        "backoff": BACKOFF,
        "verifier": case.verifier,
        "idempotency": store,
    }
    lines = Lines()
    logger = logging.getLogger("sesflow.consumers")
    logger.addHandler(lines)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    raised: str | None = None
    try:
        if mode == "sync":
            consumer: Any = SqsConsumer(queue.url, router, **options)
            try:
                consumer.run_until_empty(wait_time_seconds=0)
            except Halt:
                raised = "Halt"
        else:
            consumer = AsyncSqsConsumer(queue.url, router, receivers=1, ack_delay=0.01, **options)
            try:
                asyncio.run(asyncio.wait_for(consumer.run_until_empty(wait_time_seconds=0), 30))
            except Halt:
                raised = "Halt"
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
        if store is not None:
            store.close()
    metrics: ConsumerMetrics = consumer.metrics
    return Observed(
        left=_left(lines.records, ids),
        duplicates=sorted(ids[r.args[0]] for r in lines.records if r.msg.startswith("message %s repeats")),
        handled_by=sorted(handled_by),
        hooked=sorted(hooked),
        counters={name: getattr(metrics, name) for name in COUNTERS},
        queue=queue.counts(),
        raised=raised,
        log=sorted(_normalised(r, ids) for r in lines.records if r.levelno >= logging.WARNING),
    )


def _left(records: list[logging.LogRecord], ids: Mapping[str, int]) -> dict[int, tuple[str, int]]:
    """From the line the core logs for each message it does not delete: its status and retry delay."""
    out: dict[int, tuple[str, int]] = {}
    for r in records:
        if r.msg == "message %s %s; visible again in %s s: %s":
            message_id, status, delay, _ = r.args
            out[ids[message_id]] = (status, delay)
    return out


def _normalised(r: logging.LogRecord, ids: Mapping[str, int]) -> tuple[str, str]:
    text = r.getMessage()
    for sqs_id, index in ids.items():
        text = text.replace(sqs_id, f"#{index}")
    return r.levelname, text


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_both_consumers_meet_each_fault_the_same_way(
    moto_server: str, tmp_path: Path, case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    if case.key_fails_for is not None:
        # No JSON body can make the key fail any more (the events layer guarantees it); a store's own key
        # function or a future bug could. The policy under test is the consumer's, not the key's.
        failing = f"ses-{case.key_fails_for}"

        def key(record: object) -> str | None:
            if isinstance(record, SesEvent) and record.message_id == failing:
                raise ParseError("the key cannot be written down", raw=None)
            return idempotency_key(record)  # type: ignore[arg-type]

        monkeypatch.setattr(consumer_core, "idempotency_key", key)
    sync = drain("sync", case, TestQueue(moto_server), tmp_path)
    async_ = drain("async", case, TestQueue(moto_server), tmp_path)

    assert sync == async_
    assert sync.left == dict(case.left)
    assert sync.handled_by == sorted(case.handled_by)
    assert sync.hooked == sorted(case.hooked)
    assert sync.duplicates == sorted(case.duplicates)
    assert sync.counters == {name: case.counters.get(name, 0) for name in COUNTERS}
    assert sync.raised == case.raised
    # Nothing is lost: whatever was not deleted is still on the queue (invisible until its retry).
    assert sync.queue == (0, case.counters["received"] - case.counters.get("deleted", 0))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_replay_guard_skips_an_sns_message_already_handled_and_keeps_a_failed_one(
    moto_server: str, mode: str
) -> None:
    key = new_key()
    sent = datetime.now(UTC)
    pem = self_signed_pem(key, not_before=sent - timedelta(days=1), not_after=sent + timedelta(days=30))
    verifier = SnsVerifier(
        clock=Clock(sent), fetcher={CERT_URL: pem}.__getitem__, replay_guard=MemoryReplayGuard()
    )

    def envelope(index: int) -> str:
        record = json.dumps(make_record("Bounce", message_id=f"ses-{index}"))
        return json.dumps(sign(notification(when=sent, message=record, message_id=f"sns-{index}"), key, "2"))

    handled: list[str] = []
    failing = {"ses-1"}
    router = EventRouter()

    @router.on_bounce
    def handle(event: SesEvent) -> None:
        handled.append(event.message_id)
        if event.message_id in failing:
            raise RuntimeError("down for now")

    def run(bodies: list[str]) -> TestQueue:
        queue = TestQueue(moto_server)
        queue.send(bodies)
        options: dict[str, Any] = {
            "endpoint_url": queue.endpoint,
            "region": "us-east-1",
            "wait_time_seconds": 0,
            "backoff": Backoff(initial=0),
            "verifier": verifier,
        }
        if mode == "sync":
            SqsConsumer(queue.url, router, **options).run_until_empty(wait_time_seconds=0, max_messages=2)
        else:
            worker = AsyncSqsConsumer(queue.url, router, receivers=1, **options)
            asyncio.run(asyncio.wait_for(worker.run_until_empty(wait_time_seconds=0, max_messages=2), 30))
        return queue

    run([envelope(0), envelope(1)])  # 0 is handled; 1 fails, so the guard must not remember it
    assert sorted(handled) == ["ses-0", "ses-1"]
    failing.clear()
    handled.clear()
    replayed = run([envelope(0), envelope(1)])  # 0 again is a replay; 1's redelivery still verifies
    assert handled == ["ses-1"]
    assert replayed.counts() == (0, 0)  # the replay was deleted as a duplicate, not left as invalid
