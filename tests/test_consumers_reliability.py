"""Nothing is lost, nothing is done twice: a worker killed with SIGKILL again and again, against moto server.

A worker subprocess (tests/_consumer_worker.py) consumes a queue on the session's moto server. The test
publishes 2,000 SES events as SNS envelopes while the worker runs, kills the worker with SIGKILL four times
at seeded random points (whenever the number of recorded effects passes a threshold) and starts a new one
each time. Each handler writes its effect in one SQLite transaction with the idempotency mark. At the end
every event's effect is recorded exactly once, and the queue is empty.

Moto's SQS does work proportional to the queue's length on every send and receive, so the events are
published while the worker consumes, keeping the backlog short (as a real stream would). The publisher checks
every entry of each ``SendMessageBatch`` answer.

Moto (5.2) loses a message that is sent while a delete of the same queue is running: ``Queue.delete_message``
rebuilds the queue's message list without holding the lock that ``Queue.add_message`` appends under, so an
append that lands in between is dropped, although ``SendMessageBatch`` reported it as sent. That is what
once made this test miss two consecutive events of one batch before any worker was killed. Real SQS has no
such race, so the test makes moto's deletes hold that lock (:func:`moto_deletes_under_the_queue_lock`).
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from sesflow.testing import make_record

WORKER = Path(__file__).with_name("_consumer_worker.py")
BACKLOG = 20
TYPES = ("Delivery", "Bounce", "Complaint", "Open", "Click", "Send")


def envelope(index: int) -> str:
    record = make_record(
        TYPES[index % len(TYPES)],
        recipients=[f"user{index}@example.com"],
        message_id=f"0100018c-reliability-{index:05d}",
        tags={"test-id": f"e{index:05d}"},
    )
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
            "Message": json.dumps(record),
            "Timestamp": "2026-01-01T12:00:00.000Z",
        }
    )


def effects(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM effects").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # the worker has not created the table yet


class Publisher(threading.Thread):
    """Sends the events in batches of ten, never more than BACKLOG ahead of the recorded effects.

    An entry SQS reports as failed is sent again (up to five times, then the publisher fails): an event that
    was never published must not pass for one the consumer lost.
    """

    def __init__(self, sqs: Any, queue_url: str, db: Path, events: int) -> None:
        super().__init__(daemon=True)
        self.sqs, self.queue_url, self.db, self.events = sqs, queue_url, db, events
        self.sent = 0
        self.resent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while self.sent < self.events:
                if self.sent - effects(self.db) >= BACKLOG:
                    time.sleep(0.01)
                    continue
                count = min(10, self.events - self.sent)
                self.send({str(self.sent + i): envelope(self.sent + i) for i in range(count)})
                self.sent += count
        except BaseException as exc:
            self.error = exc

    def send(self, bodies: dict[str, str]) -> None:
        for _ in range(5):
            entries = [{"Id": entry_id, "MessageBody": text} for entry_id, text in bodies.items()]
            response = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            sent = {entry["Id"] for entry in response.get("Successful", [])}
            failed = {entry["Id"]: entry for entry in response.get("Failed", [])}
            if sent | set(failed) != set(bodies):
                raise AssertionError(f"SendMessageBatch answered for other entries: {response}")
            if not failed:
                return
            self.resent += len(failed)
            bodies = {entry_id: bodies[entry_id] for entry_id in failed}
            time.sleep(0.1)
        raise AssertionError(f"SQS refused to take events five times: {list(failed.values())}")


@pytest.fixture
def moto_deletes_under_the_queue_lock() -> Iterator[None]:
    """Make the session's moto server delete a message while holding the queue's lock (see the module
    docstring): moto, not the consumer, is what this fixes."""
    from moto.sqs.models import Queue

    unlocked = Queue.delete_message

    def delete_message(self: Any, receipt_handle: str) -> None:
        with self._messages_lock:
            unlocked(self, receipt_handle)

    Queue.delete_message = delete_message  # type: ignore[method-assign]
    try:
        yield
    finally:
        Queue.delete_message = unlocked  # type: ignore[method-assign]


def start_worker(endpoint: str, queue_url: str, db: Path, mode: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(WORKER), endpoint, queue_url, str(db), mode], stdout=out, stderr=out
        )


def wait_until(condition: Any, timeout: float, what: str, logs: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; worker log:\n{logs.read_text()[-4000:]}")
        time.sleep(0.02)


# The async consumer (the more complex one) gets the full run; the sync one a shorter one, to keep the suite's
# time reasonable (moto's SQS spends a few milliseconds per message).
@pytest.mark.slow
@pytest.mark.parametrize(("mode", "events", "kills"), [("async", 2000, 4), ("sync", 2000, 4)])
@pytest.mark.usefixtures("moto_deletes_under_the_queue_lock")
def test_sigkilled_worker_loses_nothing_and_repeats_nothing(
    moto_server: str, tmp_path: Path, mode: str, events: int, kills: int
) -> None:
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName=f"reliability-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    db = tmp_path / "effects.db"
    log = tmp_path / "worker.log"
    thresholds = sorted(random.Random(20260101).sample(range(150, events - 150), kills))

    publisher = Publisher(sqs, queue_url, db, events)
    worker = start_worker(moto_server, queue_url, db, mode, log)
    publisher.start()
    killed_at: list[int] = []
    try:
        for planned in thresholds:
            # Each worker does some work before it is killed, even when two thresholds are close.
            threshold = max(planned, (killed_at[-1] if killed_at else 0) + 20)
            wait_until(lambda t=threshold: effects(db) >= t, 60, f"{threshold} effects", log)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            killed_at.append(effects(db))
            worker = start_worker(moto_server, queue_url, db, mode, log)

        def drained() -> bool:
            attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
            return (
                publisher.sent == events
                and attributes["ApproximateNumberOfMessages"] == "0"
                and attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
            )

        wait_until(drained, 90, "the queue to drain", log)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, log.read_text()[-4000:]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    publisher.join(timeout=10)
    assert publisher.error is None

    assert len(killed_at) == kills
    assert all(0 < count < events for count in killed_at), killed_at
    with sqlite3.connect(db) as conn:
        counts = dict(conn.execute("SELECT identity, count(*) FROM effects GROUP BY identity").fetchall())
        pids = conn.execute("SELECT count(DISTINCT pid) FROM effects").fetchone()[0]
    expected = {f"e{i:05d}" for i in range(events)}
    assert set(counts) == expected, f"lost: {sorted(expected - set(counts))[:10]}"
    assert [k for k, n in counts.items() if n != 1] == [], "some effects were recorded twice"
    assert pids == kills + 1  # every worker, killed or not, did part of the work
    final = json.loads(Path(str(db) + ".metrics.json").read_text())
    assert final["failed"] == final["invalid"] == 0
    assert final["received"] == final["handled"] + final["duplicates"] + final["released"]
