"""examples/send_fastapi.py, run with its lifespan and called through httpx's ASGI transport.

``/welcome`` goes to moto in server mode: moto's GetSendStatistics counts what it accepted, and a botocore
``before-send`` hook reads the HTTP body that was sent. ``/announcements`` uses v2
``SendBulkEmail``, which moto does not implement, so that route goes to the local SES-like endpoint
(``sesflow.testing.FakeSes``) instead.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import boto3
import httpx
import pytest

from sesflow.testing import FakeSes

from ._scripts import load_example

CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# sesflow's clients say region= where boto3 says region_name=.
CLIENT_CREDENTIALS = {"region" if k == "region_name" else k: v for k, v in CREDENTIALS.items()}


@pytest.fixture(scope="module")
def example() -> ModuleType:
    return load_example("send_fastapi")


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, and an HTTP client talking to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            yield http


@pytest.fixture
def moto_env(moto_server: str) -> dict[str, str]:
    ses = boto3.client("ses", endpoint_url=moto_server, **CREDENTIALS)  # type: ignore[call-overload]
    suffix = uuid.uuid4().hex[:10]
    domain = f"shop-{suffix}.example.com"
    ses.verify_domain_identity(Domain=domain)
    ses.create_configuration_set(ConfigurationSet={"Name": f"events-{suffix}"})
    return {
        "endpoint": moto_server,
        "sender": f"Shop <news@{domain}>",
        "configuration_set": f"events-{suffix}",
    }


def delivery_attempts(endpoint: str) -> int:
    """Recipients moto accepted sends for (its data endpoint breaks on other tests' leftovers)."""
    ses = boto3.client("ses", endpoint_url=endpoint, **CREDENTIALS)  # type: ignore[call-overload]
    (point,) = ses.get_send_statistics()["SendDataPoints"]
    return int(point["DeliveryAttempts"])


async def test_welcome_sends_through_the_lifespan_client(
    example: ModuleType, moto_env: dict[str, str]
) -> None:
    app = example.create_app(
        configuration_set=moto_env["configuration_set"],
        sender=moto_env["sender"],
        client_options={"endpoint_url": moto_env["endpoint"], "max_send_rate": None, **CLIENT_CREDENTIALS},
    )
    before = delivery_attempts(moto_env["endpoint"])
    async with serve(app) as http:
        sent: list[dict[str, Any]] = []
        app.state.ses.client.meta.events.register(
            "before-send.sesv2.SendEmail", lambda request, **_: sent.append(json.loads(request.body))
        )
        response = await http.post("/welcome", json={"email": "jane@example.com", "name": "Jane"})
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["message_id"]
        assert body["configuration_set"] == moto_env["configuration_set"]
        assert delivery_attempts(moto_env["endpoint"]) > before  # moto counts a raw recipient twice
        send = sent[-1]
        assert send["ConfigurationSetName"] == moto_env["configuration_set"]
        assert send["EmailTags"] == [{"Name": "flow", "Value": "welcome"}]
        raw = base64.b64decode(send["Content"]["Raw"]["Data"]).decode()
        assert f"X-SES-CONFIGURATION-SET: {moto_env['configuration_set']}" in raw
        assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw
        assert "X-SES-MESSAGE-TAGS: flow=welcome" in raw

        invalid = await http.post("/welcome", json={"email": "not an address", "name": "Jane"})
        assert invalid.status_code == 422
        assert invalid.json()["detail"]["field"] == "to"
    assert app.state.ses.client is None  # closed with the lifespan


async def test_a_missing_configuration_set_is_a_502_before_any_send(
    example: ModuleType, moto_env: dict[str, str]
) -> None:
    app = example.create_app(
        configuration_set=f"missing-{uuid.uuid4().hex[:8]}",
        sender=moto_env["sender"],
        client_options={"endpoint_url": moto_env["endpoint"], "max_send_rate": None, **CLIENT_CREDENTIALS},
    )
    async with serve(app) as http:
        response = await http.post("/welcome", json={"email": "jane@example.com", "name": "Jane"})
    assert response.status_code == 502
    assert response.json()["detail"]["code"] == "NotFoundException"


async def test_throttling_is_a_503_with_retry_after(example: ModuleType) -> None:
    from sesflow.sending import RetryPolicy

    with FakeSes(configuration_sets={"events"}) as fake:
        fake.fail(
            "SendEmail", "TooManyRequestsException", "Maximum sending rate exceeded.", status=429, times=2
        )
        app = example.create_app(
            configuration_set="events",
            client_options={
                "endpoint_url": fake.endpoint_url,
                "max_send_rate": None,
                "retry": RetryPolicy(max_attempts=2, base_delay=0.001),
                **CLIENT_CREDENTIALS,
            },
        )
        async with serve(app) as http:
            response = await http.post("/welcome", json={"email": "jane@example.com", "name": "Jane"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"


async def test_announcements_report_each_recipient(example: ModuleType) -> None:
    with FakeSes(configuration_sets={"events"}, templates={"news"}) as fake:
        fake.script_status("bounced@example.com", "MESSAGE_REJECTED")
        app = example.create_app(
            configuration_set="events",
            client_options={"endpoint_url": fake.endpoint_url, "max_send_rate": None, **CLIENT_CREDENTIALS},
        )
        recipients = [f"r{i}@example.com" for i in range(60)] + ["bounced@example.com"]
        async with serve(app) as http:
            response = await http.post(
                "/announcements", json={"template": "news", "recipients": recipients, "data": {"week": 12}}
            )
        calls = fake.calls_of("SendBulkEmail")
    assert response.status_code == 207, response.text  # some sent, some not: look at each
    outcomes = response.json()
    assert [o["email"] for o in outcomes] == recipients
    assert {o["status"] for o in outcomes[:60]} == {"SUCCESS"}
    assert {o["error"] for o in outcomes[:60]} == {None}
    assert outcomes[60]["status"] == "MESSAGE_REJECTED"
    assert outcomes[60]["message_id"] is None
    assert outcomes[60]["error"].startswith("MESSAGE_REJECTED: ")  # why, not only that it failed
    assert sorted(len(c.params["BulkEmailEntries"]) for c in calls) == [11, 50]
    assert all(c.params["DefaultContent"]["Template"]["TemplateData"] == '{"week":12}' for c in calls)
    assert all(c.params["DefaultEmailTags"] == [{"Name": "flow", "Value": "announcement"}] for c in calls)


async def test_announcements_none_accepted_is_a_502_with_each_reason(example: ModuleType) -> None:
    with FakeSes(configuration_sets={"events"}, templates={"news"}) as fake:
        for address in ("a@example.com", "b@example.com"):
            fake.script_status(address, "ACCOUNT_SUSPENDED")
        app = example.create_app(
            configuration_set="events",
            client_options={"endpoint_url": fake.endpoint_url, "max_send_rate": None, **CLIENT_CREDENTIALS},
        )
        async with serve(app) as http:
            response = await http.post(
                "/announcements", json={"template": "news", "recipients": ["a@example.com", "b@example.com"]}
            )
    assert response.status_code == 502, response.text
    outcomes = response.json()
    assert [o["status"] for o in outcomes] == ["ACCOUNT_SUSPENDED", "ACCOUNT_SUSPENDED"]
    assert all(o["error"].startswith("ACCOUNT_SUSPENDED: ") for o in outcomes)


async def test_announcements_all_accepted_is_a_200(example: ModuleType) -> None:
    with FakeSes(configuration_sets={"events"}, templates={"news"}) as fake:
        app = example.create_app(
            configuration_set="events",
            client_options={"endpoint_url": fake.endpoint_url, "max_send_rate": None, **CLIENT_CREDENTIALS},
        )
        async with serve(app) as http:
            response = await http.post("/announcements", json={"template": "news", "recipients": ["a@x.org"]})
    assert response.status_code == 200, response.text
    assert [(o["status"], o["error"]) for o in response.json()] == [("SUCCESS", None)]
