"""AsyncSqsConsumer against moto server: the same contract as SqsConsumer, with concurrent handling."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sesflow.consumers import AsyncSqsConsumer, Backoff, ConsumerError, SqliteIdempotencyStore
from sesflow.errors import MissingExtra
from sesflow.events import BounceEvent, SesEvent
from sesflow.routing import EventRouter
from sesflow.sources import SourceItem
from sesflow.sources.sns_verify import SnsVerifier
from sesflow.testing import make_record

from ._consumer_support import TestQueue, sns_body
from ._sns_signing import CERT_URL, Clock, new_key, notification, self_signed_pem, sign


def consumer(queue: TestQueue, router: EventRouter, **options: Any) -> AsyncSqsConsumer:
    # One receiver unless a test is about several: moto's receive is not atomic between concurrent
    # requests, so two receives in flight can both return a message (real SQS may too: at least once).
    options.setdefault("receivers", 1)
    options.setdefault("wait_time_seconds", 0)
    options.setdefault("ack_delay", 0.01)
    return AsyncSqsConsumer(queue.url, router, endpoint_url=queue.endpoint, region="us-east-1", **options)


@pytest.fixture
def queue(moto_server: str) -> TestQueue:
    return TestQueue(moto_server)


async def test_every_event_is_handled_once_and_deleted(queue: TestQueue) -> None:
    records = [
        make_record(kind, message_id=f"mid-{i}") for i, kind in enumerate(["Bounce", "Open", "Send"] * 9)
    ]
    queue.send([sns_body(r) for r in records])
    handled: list[str] = []
    router = EventRouter()

    @router.on_any
    async def record(event: SesEvent) -> None:
        await asyncio.sleep(0)
        handled.append(event.message_id)

    metrics = await consumer(queue, router).run_until_empty(wait_time_seconds=0)

    assert sorted(handled) == sorted(f"mid-{i}" for i in range(27))
    assert (metrics.received, metrics.handled, metrics.deleted, metrics.failed) == (27, 27, 27, 0)
    assert queue.counts() == (0, 0)


async def test_messages_are_handled_concurrently_up_to_the_limit(queue: TestQueue) -> None:
    queue.send([sns_body(make_record("Delivery")) for _ in range(12)])
    running = 0
    most = 0
    router = EventRouter()
    three_at_once = asyncio.Barrier(3)

    @router.on_delivery
    async def handle(event: SesEvent) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.wait_for(three_at_once.wait(), 10)  # passes only when three handlers run together
        running -= 1

    metrics = await consumer(queue, router, concurrency=3).run_until_empty(wait_time_seconds=0)
    assert metrics.handled == 12
    assert most == 3


async def test_failures_stay_on_the_queue_and_poison_goes_to_the_dead_letter_queue(moto_server: str) -> None:
    queue = TestQueue(moto_server, max_receive_count=2)
    queue.send(["garbage", sns_body(make_record("Bounce")), sns_body(make_record("Delivery"))])
    dead: list[SourceItem] = []
    router = EventRouter(on_invalid=dead.append)
    attempts: list[str] = []

    @router.on_bounce
    async def flaky(event: BounceEvent) -> None:
        attempts.append(event.message_id)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")

    metrics = await consumer(queue, router, backoff=Backoff(initial=0)).run_until_empty(wait_time_seconds=0)

    assert len(attempts) == 2
    assert [item.raw["Body"] for item in dead] == ["garbage", "garbage"]
    assert (metrics.failed, metrics.invalid, metrics.handled, metrics.deleted) == (1, 2, 2, 2)
    assert queue.counts() == (0, 0)
    assert queue.dlq_url is not None
    assert [m["Body"] for m in queue.receive_now(queue.dlq_url)] == ["garbage"]


async def test_a_failed_message_waits_for_its_backoff(queue: TestQueue) -> None:
    queue.send([sns_body(make_record("Bounce"))])
    router = EventRouter()

    @router.on_bounce
    async def broken(event: BounceEvent) -> None:
        raise RuntimeError("down")

    metrics = await consumer(queue, router, backoff=Backoff(initial=30)).run_until_empty(wait_time_seconds=0)
    assert (metrics.failed, metrics.retried, metrics.deleted) == (1, 1, 0)
    assert queue.counts() == (0, 1)


async def test_duplicates_in_flight_together_run_the_handler_once(queue: TestQueue, tmp_path: Path) -> None:
    record = make_record("Complaint")
    queue.send([sns_body(record) for _ in range(4)])  # four deliveries of one event, likely in one batch
    calls: list[str] = []
    router = EventRouter()

    @router.on_complaint
    async def handle(event: SesEvent) -> None:
        calls.append(event.message_id)
        await asyncio.sleep(0.05)  # the other deliveries arrive while this one runs

    with SqliteIdempotencyStore(tmp_path / "keys.db") as store:
        metrics = await consumer(queue, router, idempotency=store).run_until_empty(wait_time_seconds=0)
        assert len(store) == 1
    assert calls == [record["mail"]["messageId"]]
    assert (metrics.handled, metrics.duplicates, metrics.deleted) == (1, 3, 4)


async def test_the_heartbeat_keeps_a_slow_message_invisible(queue: TestQueue) -> None:
    queue.send([sns_body(make_record("Bounce"))])
    seen_by_others: list[int] = []
    router = EventRouter()

    @router.on_bounce
    async def slow(event: BounceEvent) -> None:
        await asyncio.sleep(1.6)  # longer than the 1 s visibility timeout
        seen_by_others.append(len(await asyncio.to_thread(queue.receive_now)))

    metrics = await consumer(queue, router, visibility_timeout=1).run_until_empty(wait_time_seconds=0)
    assert seen_by_others == [0]
    assert metrics.extended >= 1
    assert (metrics.handled, metrics.deleted) == (1, 1)


async def test_stop_during_a_long_poll_returns_promptly(queue: TestQueue) -> None:
    worker = consumer(queue, EventRouter(), wait_time_seconds=20)
    asyncio.get_running_loop().call_later(0.3, worker.stop)
    metrics = await asyncio.wait_for(
        worker.run(), timeout=10
    )  # would take 20 s if the poll were not cancelled
    assert metrics.received == 0
    assert worker.stopping


async def test_stop_from_a_handler_finishes_what_is_in_flight(queue: TestQueue) -> None:
    queue.send([sns_body(make_record("Delivery")) for _ in range(30)])
    router = EventRouter()
    worker = consumer(queue, router, receivers=1, concurrency=10)
    router.on_delivery(lambda event: worker.stop())

    metrics = await worker.run()

    assert metrics.handled == metrics.deleted == 10
    assert metrics.received == 10
    assert queue.counts() == (20, 0)


async def test_max_messages_is_shared_by_the_receivers(queue: TestQueue) -> None:
    queue.send([sns_body(make_record("Delivery")) for _ in range(25)])
    handled: set[str] = set()
    router = EventRouter()
    router.on_delivery(lambda event: handled.add(event.message_id))
    metrics = await consumer(queue, router, receivers=3, batch_size=5).run(max_messages=12)
    assert (metrics.received, metrics.handled) == (12, 12)
    assert queue.counts() == (25 - len(handled), 0)  # the rest is untouched (a moto repeat is one event)


async def test_sigint_stops_gracefully(queue: TestQueue) -> None:
    queue.send([sns_body(make_record("Delivery")) for _ in range(15)])
    router = EventRouter()
    sent: list[int] = []

    @router.on_delivery
    async def interrupt_once(event: SesEvent) -> None:
        if not sent:
            sent.append(1)
            os.kill(os.getpid(), signal.SIGINT)
            await asyncio.sleep(0.1)  # the signal is delivered while handlers are in flight

    worker = consumer(queue, router, receivers=1, batch_size=5, concurrency=5)
    metrics = await worker.run(install_signal_handlers=True)

    assert worker.stopping
    assert metrics.handled == metrics.deleted == 5
    assert queue.counts() == (10, 0)


async def test_a_fifo_group_keeps_its_order_across_a_failure(moto_server: str) -> None:
    queue = TestQueue(moto_server, fifo=True)
    queue.send([sns_body(make_record("Delivery", message_id=f"m{i}")) for i in range(3)], group="g")
    order: list[str] = []
    router = EventRouter()

    @router.on_delivery
    async def handle(event: SesEvent) -> None:
        order.append(event.message_id)
        if order == ["m0"]:
            raise RuntimeError("first attempt fails")

    metrics = await consumer(queue, router, backoff=Backoff(initial=0)).run_until_empty(wait_time_seconds=0)
    assert order == ["m0", "m0", "m1", "m2"]
    assert (metrics.failed, metrics.released, metrics.handled) == (1, 2, 3)


async def test_verified_messages_are_handled_and_forged_ones_are_not(queue: TestQueue) -> None:
    key = new_key()
    sent = datetime.now(UTC)
    pem = self_signed_pem(key, not_before=sent - timedelta(days=1), not_after=sent + timedelta(days=30))

    async def fetch(url: str) -> bytes:
        return {CERT_URL: pem}[url]

    # Read three days after SNS sent them: the age is judged at the queue's SentTimestamp.
    verifier = SnsVerifier(clock=Clock(sent + timedelta(days=3)), async_fetcher=fetch)
    record = json.dumps(make_record("Bounce", message_id="good"))
    good = sign(notification(when=sent, message=record), key, "2")
    forged = {**good, "Message": json.dumps(make_record("Bounce", message_id="forged"))}
    queue.send([json.dumps(good), json.dumps(forged)])
    dead: list[SourceItem] = []
    handled: list[str] = []
    router = EventRouter(on_invalid=dead.append)
    router.on_bounce(lambda e: handled.append(e.message_id))

    metrics = await consumer(queue, router, verifier=verifier, backoff=Backoff(initial=9)).run_until_empty(
        wait_time_seconds=0
    )

    assert handled == ["good"]
    assert (metrics.handled, metrics.invalid) == (1, 1)
    assert "signature" in str(dead[0].error)


async def test_a_given_client_is_used(queue: TestQueue) -> None:
    from aiobotocore.session import AioSession

    queue.send([sns_body(make_record("Bounce"))])
    handled: list[str] = []
    router = EventRouter()
    router.on_bounce(lambda e: handled.append(e.message_id))
    async with AioSession().create_client(
        "sqs", endpoint_url=queue.endpoint, region_name="us-east-1"
    ) as client:
        worker = AsyncSqsConsumer(queue.url, router, client=client, wait_time_seconds=0)
        await worker.run_until_empty(wait_time_seconds=0)
        assert (await client.list_queues())["ResponseMetadata"]["HTTPStatusCode"] == 200  # still open
    assert len(handled) == 1


def test_without_aiobotocore_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiobotocore.session", None)  # what an absent package looks like
    with pytest.raises(MissingExtra, match=r"aiobotocore.*sesflow\[async\]"):
        AsyncSqsConsumer("https://sqs.us-east-1.amazonaws.com/123456789012/q", EventRouter())


def test_a_boto3_session_is_refused_with_what_to_give() -> None:
    import boto3

    with pytest.raises(ConsumerError, match=r"aiobotocore session .* or an aioboto3\.Session"):
        AsyncSqsConsumer(
            "https://sqs.us-east-1.amazonaws.com/123456789012/q", EventRouter(), session=boto3.Session()
        )


async def test_a_stop_before_run_is_honoured_and_the_next_run_works(queue: TestQueue) -> None:
    queue.send([sns_body(make_record("Delivery"))])
    handled: list[str] = []
    router = EventRouter()
    router.on_delivery(lambda event: handled.append(event.message_id))
    worker = consumer(queue, router)
    worker.stop()
    assert (await worker.run_until_empty(wait_time_seconds=0)).received == 0
    assert handled == []
    assert (await worker.run_until_empty(wait_time_seconds=0)).handled == 1
    assert len(handled) == 1
