"""``manage.py sesflow_consume`` against queues on the moto server: in this process, and as a real process
stopped with SIGTERM."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from sesflow.events import BounceEvent, SesEvent
from sesflow.integrations.django import ses_event
from sesflow.testing import make_record

from ._consumer_support import TestQueue, sns_body
from ._django_support import sesflow

ROOT = Path(__file__).resolve().parents[1]
DJANGO_ADMIN = [sys.executable, "-m", "django"]


def suppressions(message_id: str) -> list[tuple[str, str]]:
    from tests.django_project.models import Suppression

    return list(Suppression.objects.filter(message_id=message_id).values_list("address", "reason"))


def bounce_record() -> dict[str, Any]:
    return make_record("Bounce", message_id=f"0100-{uuid.uuid4()}", recipients=["gone@example.com"])


def test_the_command_handles_each_event_once_and_leaves_garbage_on_the_queue(
    moto_server: str, django_project: None
) -> None:
    queue = TestQueue(moto_server)
    record = bounce_record()
    queue.send(
        [sns_body(record), sns_body(record), "not an event"]
    )  # the second is a redelivery of the first
    received: list[SesEvent] = []

    def on_event(sender: type, event: SesEvent, **_: Any) -> None:
        received.append(event)

    ses_event.connect(on_event, sender=BounceEvent, weak=False)
    out = io.StringIO()
    try:
        with sesflow(QUEUE_URL=queue.url, SQS_ENDPOINT_URL=moto_server):
            call_command("sesflow_consume", "--until-empty", "--wait-time-seconds", "1", stdout=out)
    finally:
        ses_event.disconnect(on_event, sender=BounceEvent)
    assert suppressions(record["mail"]["messageId"]) == [("gone@example.com", "bounce")]
    assert [event.mail.message_id for event in received] == [record["mail"]["messageId"]]
    assert queue.counts() == (0, 1)  # the garbage waits for the queue's redrive policy
    assert "received 3, handled 1" in out.getvalue()


def test_the_command_needs_a_queue_and_a_synchronous_router(moto_server: str, django_project: None) -> None:
    with sesflow(QUEUE_URL=...), pytest.raises(CommandError, match="QUEUE_URL"):
        call_command("sesflow_consume", "--until-empty")
    queue = TestQueue(moto_server)
    with (
        sesflow(
            QUEUE_URL=queue.url,
            SQS_ENDPOINT_URL=moto_server,
            ROUTER="tests.django_project.events.async_router",
        ),
        pytest.raises(CommandError, match="coroutine handlers"),
    ):
        call_command("sesflow_consume", "--until-empty")
    with pytest.raises(CommandError, match="--batch-size"):
        call_command("sesflow_consume", "--batch-size", "11")


def test_sigterm_stops_the_worker_process_cleanly(
    moto_server: str, django_project: None, tmp_path: Path
) -> None:
    queue = TestQueue(moto_server)
    record = bounce_record()
    queue.send([sns_body(record)])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "SESFLOW_TEST_ENDPOINT": moto_server,
        "SESFLOW_TEST_QUEUE_URL": queue.url,
        # SESFLOW_TEST_DB is already this process's database: the worker writes where the test reads.
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [
                *DJANGO_ADMIN,
                "sesflow_consume",
                "--settings",
                "tests.django_project.settings",
                "--wait-time-seconds",
                "1",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not suppressions(record["mail"]["messageId"]):
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"the worker handled nothing; its log:\n{log.read_text()}"
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    output_text = log.read_text()
    assert "stopped; received 1, handled 1" in output_text, output_text
    assert queue.counts() == (0, 0)
    assert suppressions(record["mail"]["messageId"]) == [("gone@example.com", "bounce")]  # handled once
