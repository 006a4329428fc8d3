"""The worker, webhook and Lambda examples, each run for real: moto server, uvicorn, aiohttp, Powertools."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import sesflow
from sesflow.events import EventFamily
from sesflow.testing import make_record

from ._consumer_support import TestQueue, sns_body
from ._scripts import ROOT, load_example
from ._sns_signing import https_server, make_tls, notification
from ._webhook_support import Signer, delivery, uvicorn_server


@pytest.fixture(scope="module")
def signer() -> Iterator[Signer]:
    tls = make_tls()
    with https_server(tls) as server:
        yield Signer(server, tls)


def suppression_mix() -> list[dict[str, Any]]:
    """A hard bounce, a soft bounce, a complaint, a not-spam complaint and a delivery."""
    return [
        make_record("Bounce", recipients=["Hard@Example.com"]),
        make_record("Bounce", recipients=["soft@example.com"], detail={"bounceType": "Transient"}),
        make_record("Complaint", recipients=["angry@example.com"], family=EventFamily.NOTIFICATION),
        make_record(
            "Complaint", recipients=["fine@example.com"], detail={"complaintFeedbackType": "not-spam"}
        ),
        make_record("Delivery", recipients=["happy@example.com"]),
    ]


def test_worker_suppresses_hard_bounces_and_complaints_exactly_once(moto_server: str, tmp_path: Path) -> None:
    worker = load_example("worker")
    queue = TestQueue(moto_server)
    records = suppression_mix()
    queue.send([sns_body(r) for r in records] + [sns_body(records[0]), "not an event"])  # a repeat, garbage
    db = tmp_path / "suppressions.db"
    argv = ["--queue-url", queue.url, "--db", str(db), "--endpoint-url", moto_server, "--region", "us-east-1"]

    assert worker.main([*argv, "--until-empty"]) == 0

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT address, reason FROM suppressed ORDER BY address").fetchall()
    assert rows == [("angry@example.com", "complaint"), ("hard@example.com", "bounce:General")]
    assert queue.counts() == (0, 1)  # the garbage waits for its redrive; everything else was deleted


def test_fastapi_example_serves_the_webhook(signer: Signer) -> None:
    example = load_example("fastapi_webhook")
    app = example.create_app(signer.verifier())
    bounce, delivery_record = suppression_mix()[0], suppression_mix()[4]
    with uvicorn_server(app) as base, httpx.Client() as client:
        answers = []
        for record in (bounce, delivery_record):
            message = signer.sign(
                notification(
                    cert_url=signer.cert_url, message=json.dumps(record), message_id=str(uuid.uuid4())
                )
            )
            body, headers = delivery(message)
            answers.append(client.post(f"{base}/sns", content=body, headers=headers).status_code)
    assert answers == [200, 200]
    assert {"hard@example.com"} == example.SUPPRESSED
    assert [delivery_record["mail"]["messageId"]] == example.DELIVERED


def test_fastapi_example_without_its_topic_fails_at_startup_saying_what_to_set() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SES_TOPIC_ARN"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(sesflow.__file__).parents[1]), env.get("PYTHONPATH", "")])
    started = subprocess.run(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "examples.fastapi_webhook:app",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode != 0  # it never serves: no "startup complete", no 500 per request
    assert "Application startup complete" not in started.stderr
    assert "SES_TOPIC_ARN is not set: export SES_TOPIC_ARN=arn:aws:sns:" in started.stderr


async def test_aiohttp_example_serves_the_webhook(signer: Signer) -> None:
    from aiohttp.test_utils import TestServer

    example = load_example("aiohttp_webhook")
    app = example.create_app(signer.verifier())
    message = signer.sign(notification(cert_url=signer.cert_url, message=json.dumps(suppression_mix()[2])))
    body, headers = delivery(message)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with httpx.AsyncClient() as client:
            answer = await client.post(str(server.make_url("/hooks/ses")), content=body, headers=headers)
    finally:
        await server.close()
    assert answer.status_code == 200
    assert app[example.SUPPRESSED] == {"angry@example.com"}


class Context:
    """What Powertools reads from the Lambda context object."""

    function_name = "ses-events"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:ses-events"
    aws_request_id = "6f1e2c3d-0000-4000-8000-000000000001"


def lambda_event(bodies: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"msg-{index}",
                "receiptHandle": f"handle-{index}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1767268800000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:ses-events",
                "awsRegion": "eu-west-1",
            }
            for index, body in enumerate(bodies)
        ]
    }


@pytest.mark.parametrize("entry_point", ["handler", "batch_handler"])
def test_powertools_example_reports_only_the_failed_records(
    entry_point: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load_example("lambda_powertools")
    records = suppression_mix()
    event = lambda_event([sns_body(records[0]), "not an event", sns_body(records[2]), sns_body(records[4])])

    @example.router.on_delivery
    def broken(event: Any) -> None:
        raise RuntimeError("the delivery table is down")

    answer = getattr(example, entry_point)(event, Context())

    assert answer == {"batchItemFailures": [{"itemIdentifier": "msg-1"}, {"itemIdentifier": "msg-3"}]}
    assert {"hard@example.com", "angry@example.com"} == example.SUPPRESSED
    out = capsys.readouterr().out
    emf = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    assert emf, "Powertools metrics were not flushed"
    hard_bounces = emf[-1]["HardBounces"]
    assert (hard_bounces if isinstance(hard_bounces, list) else [hard_bounces]) == [1.0]
