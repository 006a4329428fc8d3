"""examples/django_project run as its README says, with its own manage.py, against the moto server."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from sesflow.testing import make_record

from ._consumer_support import TestQueue, sns_body

PROJECT = Path(__file__).resolve().parents[1] / "examples" / "django_project"


def manage(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_the_example_checks_migrates_sends_and_consumes(moto_server: str, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    ses = boto3.client("ses", endpoint_url=moto_server, region_name="us-east-1")
    ses.verify_domain_identity(Domain=f"shop-{suffix}.example.com")
    ses.create_configuration_set(ConfigurationSet={"Name": f"shop-events-{suffix}"})
    queue = TestQueue(moto_server)
    database = tmp_path / "shop.sqlite3"
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_REGION": "us-east-1",
        "SHOP_DATABASE": str(database),
        "SHOP_FROM_EMAIL": f"Example Shop <shop@shop-{suffix}.example.com>",
        "SES_CONFIGURATION_SET": f"shop-events-{suffix}",
        "SES_EVENTS_QUEUE_URL": queue.url,
    }

    assert "no issues" in manage("check", env=env)
    manage("migrate", "--verbosity", "0", env=env)

    stored = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    before = len(stored)
    manage("sendtestemail", "jane@example.com", env=env)
    (sent,) = stored[before:]
    assert sent.source == f"Example Shop <shop@shop-{suffix}.example.com>"
    assert sent.subject.startswith("Test email from")
    assert sent.destinations == {"ToAddresses": ["jane@example.com"]}

    hard = make_record("Bounce", recipients=["Gone@Example.com"])
    soft = make_record("Bounce", recipients=["full@example.com"], detail={"bounceType": "Transient"})
    complaint = make_record("Complaint", recipients=["angry@example.com"])
    queue.send([sns_body(hard), sns_body(soft), sns_body(complaint)])
    output = manage("sesflow_consume", "--until-empty", "--wait-time-seconds", "1", env=env)
    assert "received 3, handled 3" in output
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT address, reason FROM shop_suppression ORDER BY address").fetchall()
    assert rows == [("angry@example.com", "complaint"), ("gone@example.com", "bounce:General")]
    assert queue.counts() == (0, 0)
