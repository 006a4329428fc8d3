"""SqsConsumer against moto server: delete only what succeeded, redrive the rest, heartbeat, idempotency."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from sesflow.consumers import (
    Backoff,
    ConsumerError,
    ConsumerMetrics,
    MemoryIdempotencyStore,
    SqsConsumer,
    Status,
)
from sesflow.events import BounceEvent, ComplaintEvent, SesEvent
from sesflow.routing import EventRouter
from sesflow.sources import SourceItem
from sesflow.sources.sns_verify import SnsVerifier
from sesflow.testing import make_record

from ._consumer_support import TestQueue, sns_body
from ._sns_signing import CERT_URL, Clock, new_key, notification, self_signed_pem, sign


def consumer(queue: TestQueue, router: EventRouter, **options: Any) -> SqsConsumer:
    options.setdefault("wait_time_seconds", 0)
    return SqsConsumer(queue.url, router, endpoint_url=queue.endpoint, region="us-east-1", **options)


@pytest.fixture
def queue(moto_server: str) -> TestQueue:
    return TestQueue(moto_server)


def test_every_event_is_handled_once_and_deleted(queue: TestQueue) -> None:
    kinds = ["Bounce", "Complaint", "Delivery", "Open"] * 6
    records = [make_record(kind, message_id=f"mid-{i}") for i, kind in enumerate(kinds)]
    queue.send([sns_body(r) for r in records])
    router = EventRouter()
    bounces: list[str] = []
    complaints: list[str] = []
    anything: list[str] = []
    router.on_bounce(lambda e: bounces.append(e.message_id))
    router.on_complaint(lambda e: complaints.append(e.message_id))
    router.on_any(lambda e: anything.append(e.message_id))
    snapshots: list[ConsumerMetrics] = []

    metrics = consumer(queue, router, on_metrics=snapshots.append).run_until_empty(wait_time_seconds=0)

    assert sorted(anything) == sorted(f"mid-{i}" for i in range(24))
    assert sorted(bounces) == sorted(f"mid-{i}" for i, k in enumerate(kinds) if k == "Bounce")
    assert len(complaints) == 6
    assert (metrics.received, metrics.handled, metrics.deleted, metrics.failed) == (24, 24, 24, 0)
    assert metrics.receives >= 3  # batches of at most ten
    assert metrics.empty_receives == 1
    assert queue.counts() == (0, 0)
    assert [(s.handled, s.deleted) for s in snapshots] == [(10, 10), (20, 20), (24, 24)]  # after each batch
    assert metrics.latency_max >= metrics.latency_mean > 0


def test_a_failed_handler_leaves_the_message_invisible_for_the_backoff(queue: TestQueue) -> None:
    queue.send([sns_body(make_record("Bounce")), sns_body(make_record("Delivery"))])
    router = EventRouter()

    @router.on_bounce
    def broken(event: BounceEvent) -> None:
        raise RuntimeError("suppression list is down")

    outcomes = consumer(queue, router, backoff=Backoff(initial=7)).poll_once()

    by_status = {o.status: o for o in outcomes}
    assert set(by_status) == {Status.FAILED, Status.HANDLED}
    assert by_status[Status.FAILED].visibility_timeout == 7
    assert "suppression list is down" in by_status[Status.FAILED].reason
    assert queue.counts() == (0, 1)  # the delivery is deleted, the bounce waits invisible
    assert queue.receive_now() == []


def test_a_retried_message_succeeds_later_and_the_backoff_follows_the_receive_count(queue: TestQueue) -> None:
    queue.send([sns_body(make_record("Bounce"))])
    attempts: list[int] = []
    router = EventRouter()

    @router.on_bounce
    def flaky(event: BounceEvent) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("try again")

    worker = consumer(queue, router, backoff=Backoff(initial=0))
    timeouts = [o.visibility_timeout for _ in range(3) for o in worker.poll_once()]
    assert timeouts == [0, 0, None]  # failed twice (visible again at once), then deleted
    assert len(attempts) == 3
    assert queue.counts() == (0, 0)
    assert worker.metrics.failed == 2
    assert worker.metrics.retried == 2
    assert Backoff(initial=5).timeout(3) == 20  # what the third receive would have waited with the default


def test_a_poison_message_reaches_the_dead_letter_queue_through_the_dead_letter_hook(
    moto_server: str,
) -> None:
    queue = TestQueue(moto_server, max_receive_count=2)
    queue.send(["this is not an SES event", sns_body(make_record("Delivery"))])
    dead: list[SourceItem] = []
    router = EventRouter(on_invalid=dead.append)
    delivered: list[str] = []
    router.on_delivery(lambda e: delivered.append(e.message_id))

    metrics = consumer(queue, router, backoff=Backoff(initial=0)).run_until_empty(wait_time_seconds=0)

    assert len(delivered) == 1
    assert [item.raw["Body"] for item in dead] == [
        "this is not an SES event"
    ] * 2  # handed over, never deleted
    assert metrics.invalid == 2
    assert metrics.deleted == 1
    assert queue.counts() == (0, 0)
    assert queue.dlq_url is not None
    moved = queue.receive_now(queue.dlq_url)
    assert [m["Body"] for m in moved] == ["this is not an SES event"]


def test_the_heartbeat_keeps_a_slow_message_invisible(queue: TestQueue) -> None:
    queue.send([sns_body(make_record("Bounce"))])
    seen_by_others: list[int] = []
    router = EventRouter()

    @router.on_bounce
    def slow(event: BounceEvent) -> None:
        time.sleep(1.6)  # longer than the 1 s visibility timeout
        seen_by_others.append(len(queue.receive_now()))

    worker = consumer(queue, router, visibility_timeout=1)
    outcomes = worker.poll_once()
    assert [o.status for o in outcomes] == [Status.HANDLED]
    assert seen_by_others == [0]
    assert worker.metrics.extended >= 1
    assert worker.metrics.deleted == 1
    assert queue.counts() == (0, 0)


def test_without_heartbeat_a_slow_message_is_delivered_again(queue: TestQueue) -> None:
    # The counterpart of the test above: it shows the heartbeat is what kept the message hidden.
    queue.send([sns_body(make_record("Bounce"))])
    seen_by_others: list[int] = []
    router = EventRouter()

    @router.on_bounce
    def slow(event: BounceEvent) -> None:
        time.sleep(1.6)
        seen_by_others.append(len(queue.receive_now()))

    consumer(queue, router, visibility_timeout=1, heartbeat=False).poll_once()
    assert seen_by_others == [1]


def test_a_redelivered_event_does_not_run_handlers_twice(queue: TestQueue) -> None:
    record = make_record("Complaint")
    other = make_record("Complaint")
    queue.send([sns_body(record), sns_body(record), sns_body(other)])  # SNS published the first one twice
    handled: list[str] = []
    router = EventRouter()
    router.on_complaint(lambda e: handled.append(e.message_id))
    store = MemoryIdempotencyStore()

    metrics = consumer(queue, router, idempotency=store).run_until_empty(wait_time_seconds=0)

    assert sorted(handled) == sorted([record["mail"]["messageId"], other["mail"]["messageId"]])
    assert (metrics.handled, metrics.duplicates, metrics.deleted) == (2, 1, 3)
    assert len(store) == 2
    queue.send([sns_body(record)])  # and once more, later
    consumer(queue, router, idempotency=store).run_until_empty(wait_time_seconds=0)
    assert len(handled) == 2


def test_a_failed_handler_does_not_mark_its_event(queue: TestQueue) -> None:
    queue.send([sns_body(make_record("Bounce"))])
    store = MemoryIdempotencyStore()
    calls: list[int] = []
    router = EventRouter()

    @router.on_bounce
    def fails_first(event: BounceEvent) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first attempt fails")

    worker = consumer(queue, router, idempotency=store, backoff=Backoff(initial=0))
    assert [o.status for o in worker.poll_once()] == [Status.FAILED]
    assert len(store) == 0
    assert [o.status for o in worker.poll_once()] == [Status.HANDLED]
    assert len(calls) == 2
    assert len(store) == 1


def test_max_messages_stops_after_that_many(queue: TestQueue) -> None:
    queue.send([sns_body(make_record("Delivery")) for _ in range(15)])
    router = EventRouter()
    metrics = consumer(queue, router, batch_size=4).run(max_messages=6)
    assert (metrics.received, metrics.handled, metrics.deleted) == (6, 6, 6)
    assert queue.counts() == (9, 0)


def test_handlers_run_concurrently_in_the_thread_pool(queue: TestQueue) -> None:
    queue.send([sns_body(make_record("Open")) for _ in range(4)])
    barrier = threading.Barrier(4, timeout=10)
    threads: set[str] = set()
    router = EventRouter()

    @router.on_open
    def wait_for_the_others(event: SesEvent) -> None:
        threads.add(threading.current_thread().name)
        barrier.wait()  # only passes when four handlers run at the same time

    metrics = consumer(queue, router, max_workers=4).run_until_empty(wait_time_seconds=0)
    assert metrics.handled == 4
    assert len(threads) == 4


def test_stop_finishes_the_batch_in_flight_and_receives_no_more(queue: TestQueue) -> None:
    queue.send([sns_body(make_record("Delivery")) for _ in range(25)])
    router = EventRouter()
    worker = consumer(queue, router)
    router.on_delivery(lambda e: worker.stop())
    metrics = worker.run()
    assert (metrics.received, metrics.handled, metrics.deleted) == (10, 10, 10)
    assert queue.counts() == (15, 0)
    assert worker.stopping


def test_sigterm_stops_gracefully_and_restores_the_previous_handler(queue: TestQueue) -> None:
    queue.send([sns_body(make_record("Delivery")) for _ in range(15)])
    router = EventRouter()
    sent: list[int] = []

    @router.on_delivery
    def terminate_once(event: SesEvent) -> None:
        if not sent:  # a second SIGTERM would get the default action, as it should
            sent.append(1)
            os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)

    metrics = consumer(queue, router, batch_size=5).run(install_signal_handlers=True)

    assert (metrics.handled, metrics.deleted) == (5, 5)  # the batch in flight finished
    assert queue.counts() == (10, 0)
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_fifo_group_stops_at_its_first_failure_and_keeps_its_order(moto_server: str) -> None:
    queue = TestQueue(moto_server, fifo=True)
    queue.send([sns_body(make_record("Delivery", message_id=f"m{i}")) for i in range(3)], group="customer-1")
    order: list[str] = []
    router = EventRouter()

    @router.on_delivery
    def handle(event: SesEvent) -> None:
        order.append(event.message_id)
        if order == ["m0"]:
            raise RuntimeError("first attempt fails")

    worker = consumer(queue, router, backoff=Backoff(initial=0))
    first = worker.poll_once()
    assert [o.status for o in first] == [Status.FAILED, Status.RELEASED, Status.RELEASED]
    worker.run_until_empty(wait_time_seconds=0)
    assert order == ["m0", "m0", "m1", "m2"]
    assert queue.counts() == (0, 0)


def test_verified_messages_are_handled_and_forged_ones_are_not(queue: TestQueue) -> None:
    key = new_key()
    sent = datetime.now(UTC)
    pem = self_signed_pem(key, not_before=sent - timedelta(days=1), not_after=sent + timedelta(days=30))
    # The worker reads the queue three days after SNS sent the messages: their age is judged at the queue's
    # SentTimestamp, so the one that is genuine still verifies.
    verifier = SnsVerifier(clock=Clock(sent + timedelta(days=3)), fetcher={CERT_URL: pem}.__getitem__)
    record = json.dumps(make_record("Bounce", message_id="good"))
    good = sign(notification(when=sent, message=record), key, "2")
    forged = {**good, "Message": json.dumps(make_record("Bounce", message_id="forged"))}
    queue.send([json.dumps(good), json.dumps(forged)])
    dead: list[SourceItem] = []
    handled: list[str] = []
    router = EventRouter(on_invalid=dead.append)
    router.on_bounce(lambda e: handled.append(e.message_id))

    outcomes = consumer(queue, router, verifier=verifier, backoff=Backoff(initial=9)).poll_once()

    assert handled == ["good"]
    assert sorted(o.status for o in outcomes) == sorted([Status.HANDLED, Status.INVALID])
    assert "signature" in str(dead[0].error)
    assert queue.counts() == (0, 1)


def test_a_router_with_coroutine_handlers_is_refused(queue: TestQueue) -> None:
    router = EventRouter()

    @router.on_bounce
    async def handle(event: BounceEvent) -> None:
        pass

    with pytest.raises(ConsumerError, match="AsyncSqsConsumer"):
        consumer(queue, router)


def test_a_missing_queue_is_an_error_not_a_retry_loop(moto_server: str) -> None:
    missing = f"{moto_server}/123456789012/no-such-queue"
    worker = SqsConsumer(missing, EventRouter(), endpoint_url=moto_server, region="us-east-1")
    with pytest.raises(ConsumerError, match="no-such-queue"):
        worker.run(max_messages=1)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"wait_time_seconds": 21}, "wait_time_seconds"),
        ({"batch_size": 11}, "batch_size"),
        ({"visibility_timeout": 0}, "visibility_timeout"),
        ({"max_workers": 0}, "max_workers"),
        ({"client": object(), "region": "us-east-1"}, "either a client"),
    ],
)
def test_bad_settings_are_refused(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConsumerError, match=match):
        SqsConsumer("https://sqs.us-east-1.amazonaws.com/123456789012/q", EventRouter(), **options)
    with pytest.raises(ConsumerError, match="queue_url"):
        SqsConsumer("ses-events", EventRouter(), region="us-east-1")


def test_a_given_client_is_used(queue: TestQueue) -> None:
    queue.send([sns_body(make_record("Complaint"))])
    client = boto3.client("sqs", endpoint_url=queue.endpoint, region_name="us-east-1")
    handled: list[ComplaintEvent] = []
    router = EventRouter()
    router.on_complaint(handled.append)
    with SqsConsumer(queue.url, router, client=client, wait_time_seconds=0) as worker:
        assert worker.client is client
        worker.run_until_empty(wait_time_seconds=0)
    assert len(handled) == 1


def test_a_stop_before_run_is_honoured_and_the_next_run_works(queue: TestQueue) -> None:
    queue.send([sns_body(make_record("Delivery"))])
    handled: list[str] = []
    router = EventRouter()
    router.on_delivery(lambda event: handled.append(event.message_id))
    worker = consumer(queue, router)
    worker.stop()
    assert worker.run_until_empty(wait_time_seconds=0).received == 0
    assert handled == []
    assert worker.run_until_empty(wait_time_seconds=0).handled == 1
    assert len(handled) == 1
