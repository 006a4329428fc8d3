"""The proxy as it runs: a real uvicorn server with its own event worker, and the command line."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import boto3
import httpx
import pytest
import uvicorn

from sesflow.testing import LocalSes

from ..__main__ import main
from ..app import create_app
from .fixtures import (
    AUTH,
    CREDENTIALS,
    GHOST_EVENTS,
    Aws,
    ghost_fields,
    member,
    post_batch,
    settings_for,
    sqs_session,
)


async def test_over_real_http_with_the_worker_running(aws: Aws, tmp_path: Path) -> None:
    recipients = {"reader@example.org": member("reader@example.org", "Rita")}
    with LocalSes(aws.endpoint, seed=11, open_rate=1.0) as local:
        app = create_app(
            settings_for(aws, tmp_path / "proxy.sqlite3"),
            ses_session=local.async_session(),
            sqs_session=sqs_session(),
        )
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        serving = asyncio.create_task(server.serve())
        try:
            for _ in range(500):
                if server.started:
                    break
                await asyncio.sleep(0.01)
            assert server.started
            port = server.servers[0].sockets[0].getsockname()[1]
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base, timeout=10) as http:
                denied = await http.get(f"/v3/{aws.domain}/events", auth=("api", "nope"))
                assert denied.status_code == 401
                response = await post_batch(http, aws.domain, ghost_fields(aws.domain, recipients))
                assert response.status_code == 200
                headers = {"Authorization": AUTH, "Content-Type": "application/x-www-form-urlencoded"}
                params = {"event": GHOST_EVENTS, "ascending": "yes", "limit": "300", "begin": "undefined"}
                events: list[str] = []
                for _ in range(400):  # the worker long-polls the queue; wait for it to store both events
                    page = (await http.get(f"/v3/{aws.domain}/events", params=params, headers=headers)).json()
                    events = sorted(item["event"] for item in page["items"])
                    if len(events) == 2:
                        break
                    await asyncio.sleep(0.025)
                assert events == ["delivered", "opened"]
                assert all(
                    url.startswith(f"{base}/v3/{aws.domain}/events/") for url in page["paging"].values()
                )
                token = page["paging"]["next"].rsplit("/", 1)[1]
                after = await http.get(f"/v3/{aws.domain}/events/{token}", params=params, headers=headers)
                assert after.json()["items"] == []
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, timeout=30)


def test_setup_builds_the_pipeline_and_prints_the_settings(
    moto_server: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    suffix = uuid.uuid4().hex[:8]
    args = [
        "setup",
        "--configuration-set",
        f"cli-{suffix}",
        "--untracked-configuration-set",
        f"cli-{suffix}-quiet",
        "--region",
        "us-east-1",
        "--endpoint-url",
        moto_server,
        "--api",
        "v1",
    ]
    assert main(args) == 0
    output = capsys.readouterr()
    printed = dict(line.split("=", 1) for line in output.out.splitlines())
    # Both sets checked, as SES lists them: each publishes Send events, which exactly once needs.
    assert f"cli-{suffix} publishes Send events (through cli-{suffix}-events)" in output.err
    assert f"cli-{suffix}-quiet publishes Send events (through cli-{suffix}-quiet-events)" in output.err
    assert "exactly-once delivery across restarts: every set publishes Send events" in output.err
    assert printed["GHOST_PROXY_CONFIGURATION_SET"] == f"cli-{suffix}"
    assert printed["GHOST_PROXY_UNTRACKED_CONFIGURATION_SET"] == f"cli-{suffix}-quiet"
    ses = boto3.client("ses", endpoint_url=moto_server, **CREDENTIALS)
    quiet = ses.describe_configuration_set(
        ConfigurationSetName=f"cli-{suffix}-quiet", ConfigurationSetAttributeNames=["eventDestinations"]
    )["EventDestinations"]
    assert [sorted(d["MatchingEventTypes"]) for d in quiet] == [
        sorted(
            [
                "send",
                "reject",
                "bounce",
                "complaint",
                "delivery",
                "click",
                "renderingFailure",
                "deliveryDelay",
                "subscription",
            ]
        )
    ]
    sqs = boto3.client("sqs", endpoint_url=moto_server, **CREDENTIALS)
    assert sqs.get_queue_attributes(QueueUrl=printed["GHOST_PROXY_QUEUE_URL"], AttributeNames=["QueueArn"])
    assert main(args) == 0  # idempotent
    assert capsys.readouterr().err.count("exists") >= 5


def test_serving_without_settings_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GHOST_PROXY_API_KEY", raising=False)
    assert main(["serve"]) == 2
    assert "GHOST_PROXY_API_KEY is not set" in capsys.readouterr().err
