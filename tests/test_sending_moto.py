"""SesClient and AsyncSesClient against moto in server mode (the real boto3 / aiobotocore stacks over HTTP).

What went over the wire is read on both ends: botocore hooks on the client record each operation with its
parameters (``before-parameter-build``) and the HTTP body actually sent (``before-send``), and moto's own
``GetSendStatistics`` counts the recipients it accepted. (moto's ``/moto-api/data.json`` would show stored
messages, but it fails as soon as another test leaves an S3 object whose bucket is gone, so these tests do not
depend on it.) moto accepts sends naming a configuration set that does not exist, so "caught before the send"
is proven by the absence of any send on the wire and of any new delivery attempt on the server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aiobotocore.session import AioSession

from sesflow.sending import (
    AsyncSesClient,
    Attachment,
    ConfigurationSetNotFound,
    ConfigurationSetRequired,
    Destination,
    Email,
    ListManagement,
    MessageRejected,
    SesClient,
    Template,
)

CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# sesflow's clients say region= where boto3 says region_name=.
CLIENT_CREDENTIALS = {"region" if k == "region_name" else k: v for k, v in CREDENTIALS.items()}
# One session per kind for the module: sessions cache the loaded service models, so clients come cheap.
SESSION = boto3.session.Session()
ASYNC_SESSION = AioSession()
SEND_OPERATIONS = {
    "SendEmail",
    "SendRawEmail",
    "SendTemplatedEmail",
    "SendBulkTemplatedEmail",
    "SendBulkEmail",
}


class Wire:
    """Every operation a client sent, with its parameters (a botocore before-parameter-build hook)."""

    def __init__(self, client: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.bodies: list[bytes] = []
        client.meta.events.register("before-parameter-build", self._record)
        client.meta.events.register("before-send", self._record_body)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def _record_body(self, request: Any, **_: Any) -> None:
        body = request.body
        self.bodies.append(body.encode() if isinstance(body, str) else bytes(body or b""))

    def raw_messages(self) -> list[str]:
        """The MIME messages of the v1 SendRawEmail requests, decoded from the HTTP bodies sent."""
        out = []
        for body in self.bodies:
            form = urllib.parse.parse_qs(body.decode())
            if form.get("Action") == ["SendRawEmail"]:
                out.append(base64.b64decode(form["RawMessage.Data"][0]).decode())
        return out

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]

    def sends(self) -> list[tuple[str, dict[str, Any]]]:
        return [(name, params) for name, params in self.calls if name in SEND_OPERATIONS]


class Env:
    """A verified sending domain and a configuration set of unique names on the shared moto server."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.v1 = SESSION.client("ses", endpoint_url=endpoint, **CREDENTIALS)  # type: ignore[call-overload]
        suffix = uuid.uuid4().hex[:10]
        self.domain = f"shop-{suffix}.example.com"
        self.sender = f"Shop <news@{self.domain}>"
        self.config_set = f"events-{suffix}"
        self.v1.verify_domain_identity(Domain=self.domain)
        self.v1.create_configuration_set(ConfigurationSet={"Name": self.config_set})

    def create_set(self, name: str) -> str:
        self.v1.create_configuration_set(ConfigurationSet={"Name": name})
        return name

    def delivery_attempts(self) -> int:
        """How many recipients moto has accepted sends for, in this process's account and region."""
        (point,) = self.v1.get_send_statistics()["SendDataPoints"]
        return int(point["DeliveryAttempts"])

    def email(self, **changes: Any) -> Email:
        fields: dict[str, Any] = {
            "sender": self.sender,
            "to": "jane@example.com",
            "subject": "Hello",
            "text": "Hi Jane",
            "tags": {"campaign": "spring"},
        }
        fields.update(changes)
        return Email(**fields)


@pytest.fixture
def env(moto_server: str) -> Env:
    return Env(moto_server)


@pytest.fixture
def sync_client(env: Env) -> Iterator[SesClient]:
    with SesClient(
        env.config_set, session=SESSION, endpoint_url=env.endpoint, max_send_rate=None, **CLIENT_CREDENTIALS
    ) as client:
        yield client


# ------------------------------------------------------------------ sync


def test_send_attaches_the_set_and_tags_on_the_wire(env: Env, sync_client: SesClient) -> None:
    wire = Wire(sync_client.client)
    before = env.delivery_attempts()
    result = sync_client.send(env.email(cc="cc@example.com"))
    assert result.configuration_set == env.config_set
    assert dict(result.tags) == {"campaign": "spring"}
    assert wire.operations() == ["GetConfigurationSet", "SendEmail"]
    ((_, params),) = wire.sends()
    assert params["ConfigurationSetName"] == env.config_set
    assert params["EmailTags"] == [{"Name": "campaign", "Value": "spring"}]
    assert params["FromEmailAddress"] == env.sender
    sent = json.loads(wire.bodies[-1])
    assert sent["ConfigurationSetName"] == env.config_set
    assert sent["EmailTags"] == [{"Name": "campaign", "Value": "spring"}]
    assert env.delivery_attempts() == before + 2


def test_list_management_options_reach_ses(env: Env, sync_client: SesClient) -> None:
    wire = Wire(sync_client.client)
    before = env.delivery_attempts()
    sync_client.send(env.email(list_management=ListManagement("newsletter", topic="weekly")))
    sent = json.loads(wire.bodies[-1])
    assert sent["ListManagementOptions"] == {"ContactListName": "newsletter", "TopicName": "weekly"}
    assert env.delivery_attempts() == before + 1


def test_the_set_is_checked_once_for_many_sends(env: Env, sync_client: SesClient) -> None:
    wire = Wire(sync_client.client)
    results = sync_client.send_many([env.email(to=f"r{i}@example.com") for i in range(3)])
    assert all(not isinstance(r, Exception) for r in results)
    assert wire.operations() == ["GetConfigurationSet", "SendEmail", "SendEmail", "SendEmail"]


def test_a_missing_set_is_caught_before_the_send(env: Env) -> None:
    client = SesClient(
        f"missing-{uuid.uuid4().hex[:8]}",
        session=SESSION,
        endpoint_url=env.endpoint,
        max_send_rate=None,
        **CLIENT_CREDENTIALS,
    )
    wire = Wire(client.client)
    before = env.delivery_attempts()
    with pytest.raises(ConfigurationSetNotFound) as excinfo:
        client.send(env.email())
    assert excinfo.value.code == "NotFoundException"
    assert excinfo.value.request_id
    assert wire.operations() == ["GetConfigurationSet"]
    assert wire.sends() == []
    assert len(wire.bodies) == 1
    assert env.delivery_attempts() == before


def test_per_message_override_is_checked_and_sent(env: Env, sync_client: SesClient) -> None:
    other = env.create_set(f"other-{uuid.uuid4().hex[:8]}")
    wire = Wire(sync_client.client)
    result = sync_client.send(env.email(configuration_set=other))
    assert result.configuration_set == other
    assert wire.operations() == ["GetConfigurationSet", "SendEmail"]
    assert wire.calls[0][1] == {"ConfigurationSetName": other}
    assert wire.sends()[0][1]["ConfigurationSetName"] == other
    missing = f"nope-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ConfigurationSetNotFound):
        sync_client.send(env.email(configuration_set=missing))
    assert len(wire.sends()) == 1


def test_sending_without_a_set_needs_the_opt_out(env: Env) -> None:
    strict = SesClient(session=SESSION, endpoint_url=env.endpoint, max_send_rate=None, **CLIENT_CREDENTIALS)
    wire = Wire(strict.client)
    with pytest.raises(ConfigurationSetRequired):
        strict.send(env.email())
    assert wire.calls == []
    relaxed = SesClient(
        session=SESSION,
        endpoint_url=env.endpoint,
        max_send_rate=None,
        allow_no_configuration_set=True,
        **CLIENT_CREDENTIALS,
    )
    wire = Wire(relaxed.client)
    before = env.delivery_attempts()
    result = relaxed.send(env.email())
    assert result.configuration_set is None
    assert wire.operations() == ["SendEmail"]
    assert "ConfigurationSetName" not in wire.sends()[0][1]
    assert "ConfigurationSetName" not in json.loads(wire.bodies[0])
    assert env.delivery_attempts() == before + 1


def test_unverified_sender_maps_to_message_rejected(env: Env, sync_client: SesClient) -> None:
    with pytest.raises(MessageRejected) as excinfo:
        sync_client.send(env.email(sender="someone@unverified-domain.example"))
    assert excinfo.value.code == "MessageRejected"
    assert excinfo.value.request_id


def test_raw_message_carries_the_set_as_parameter_and_header(env: Env) -> None:
    client = SesClient(
        env.config_set,
        api="v1",
        session=SESSION,
        endpoint_url=env.endpoint,
        max_send_rate=None,
        **CLIENT_CREDENTIALS,
    )
    wire = Wire(client.client)
    message = env.email(attachments=[Attachment("report.csv", b"a,b\n1,2\n")], bcc="audit@example.com")
    before = env.delivery_attempts()
    result = client.send(message)
    assert result.message_id
    ((operation, params),) = wire.sends()
    assert operation == "SendRawEmail"
    assert params["ConfigurationSetName"] == env.config_set
    assert params["Tags"] == [{"Name": "campaign", "Value": "spring"}]
    assert params["Destinations"] == ["jane@example.com", "audit@example.com"]
    (raw,) = wire.raw_messages()
    assert f"X-SES-CONFIGURATION-SET: {env.config_set}\r\n" in raw
    assert "X-SES-MESSAGE-TAGS: campaign=spring\r\n" in raw
    assert 'filename="report.csv"' in raw
    assert "audit@example.com" not in raw  # Bcc only in the destinations
    assert wire.operations()[0] == "DescribeConfigurationSet"
    assert env.delivery_attempts() > before


def test_v1_templated_send(env: Env) -> None:
    name = f"welcome-{uuid.uuid4().hex[:8]}"
    env.v1.create_template(
        Template={"TemplateName": name, "SubjectPart": "Hi {{name}}", "TextPart": "Hello {{name}}"}
    )
    client = SesClient(
        env.config_set,
        api="v1",
        session=SESSION,
        endpoint_url=env.endpoint,
        max_send_rate=None,
        **CLIENT_CREDENTIALS,
    )
    wire = Wire(client.client)
    before = env.delivery_attempts()
    result = client.send(
        Email(env.sender, "jane@example.com", template=Template(name, data={"name": "Jane"}))
    )
    assert result.message_id
    ((operation, params),) = wire.sends()
    assert operation == "SendTemplatedEmail"
    assert (params["Template"], params["TemplateData"]) == (name, '{"name":"Jane"}')
    assert params["ConfigurationSetName"] == env.config_set
    assert env.delivery_attempts() == before + 1


def test_v1_bulk_chunks_120_destinations_into_3_calls(env: Env) -> None:
    name = f"promo-{uuid.uuid4().hex[:8]}"
    env.v1.create_template(Template={"TemplateName": name, "SubjectPart": "Offer", "TextPart": "Hi {{name}}"})
    client = SesClient(
        env.config_set,
        api="v1",
        session=SESSION,
        endpoint_url=env.endpoint,
        max_send_rate=None,
        **CLIENT_CREDENTIALS,
    )
    wire = Wire(client.client)
    destinations = [Destination(f"user{i}@example.com", data={"name": f"U{i}"}) for i in range(120)]
    progress: list[int] = []
    result = client.send_bulk(
        Template(name, data={"name": "friend"}),
        destinations,
        sender=env.sender,
        tags={"campaign": "promo"},
        progress=lambda p: progress.append(p.done),
    )
    sends = wire.sends()
    assert [op for op, _ in sends] == ["SendBulkTemplatedEmail"] * 3
    assert [len(params["Destinations"]) for _, params in sends] == [50, 50, 20]
    sent_to = [d["Destination"]["ToAddresses"][0] for _, params in sends for d in params["Destinations"]]
    assert sent_to == [f"user{i}@example.com" for i in range(120)]
    assert all(params["ConfigurationSetName"] == env.config_set for _, params in sends)
    assert all(params["DefaultTags"] == [{"Name": "campaign", "Value": "promo"}] for _, params in sends)
    assert sends[0][1]["Destinations"][1]["ReplacementTemplateData"] == '{"name":"U1"}'
    assert result.ok
    assert len(result) == 120
    assert result.calls == 3
    ids = result.message_ids
    assert all(ids)
    assert len(set(ids)) == 120
    assert [entry.destination for entry in result] == destinations
    assert progress == [50, 100, 120]


def test_sync_client_options_are_checked(env: Env) -> None:
    client = SESSION.client("sesv2", endpoint_url=env.endpoint, **CREDENTIALS)  # type: ignore[call-overload]
    assert SesClient(env.config_set, client=client).api == "v2"
    with pytest.raises(ValueError, match="does not match"):
        SesClient(env.config_set, client=client, api="v1")
    with pytest.raises(ValueError, match="not both"):
        SesClient(env.config_set, client=client, region="eu-west-1")


# ------------------------------------------------------------------ async


_DEFAULT_SET: Any = object()


def async_client(env: Env, configuration_set: Any = _DEFAULT_SET, **kwargs: Any) -> AsyncSesClient:
    options: dict[str, Any] = {
        "session": ASYNC_SESSION,
        "endpoint_url": env.endpoint,
        "max_send_rate": None,
        **CLIENT_CREDENTIALS,
    }
    options.update(kwargs)
    chosen = env.config_set if configuration_set is _DEFAULT_SET else configuration_set
    return AsyncSesClient(chosen, **options)


async def test_async_send_attaches_the_set_and_tags(env: Env) -> None:
    before = env.delivery_attempts()
    async with async_client(env) as client:
        wire = Wire(client.client)
        result = await client.send(env.email(tags={"campaign": "spring", "variant": "b"}))
    assert result.message_id
    assert wire.operations() == ["GetConfigurationSet", "SendEmail"]
    params = wire.sends()[0][1]
    assert params["ConfigurationSetName"] == env.config_set
    assert params["EmailTags"] == [{"Name": "campaign", "Value": "spring"}, {"Name": "variant", "Value": "b"}]
    sent = json.loads(wire.bodies[-1])
    assert sent["ConfigurationSetName"] == env.config_set
    assert env.delivery_attempts() == before + 1


async def test_async_missing_set_is_caught_before_the_send(env: Env) -> None:
    before = env.delivery_attempts()
    async with async_client(env, f"missing-{uuid.uuid4().hex[:8]}") as client:
        wire = Wire(client.client)
        with pytest.raises(ConfigurationSetNotFound):
            await client.send(env.email())
        results = await client.send_many([env.email(), env.email()])
    assert all(isinstance(r, ConfigurationSetNotFound) for r in results)
    assert wire.operations() == ["GetConfigurationSet"]  # the miss is cached: no second check, no send
    assert env.delivery_attempts() == before


async def test_async_concurrent_sends_check_the_set_once(env: Env) -> None:
    before = env.delivery_attempts()
    async with async_client(env, max_concurrency=5) as client:
        wire = Wire(client.client)
        results = await asyncio.gather(*(client.send(env.email(to=f"r{i}@example.com")) for i in range(20)))
    assert wire.operations().count("GetConfigurationSet") == 1
    assert wire.operations().count("SendEmail") == 20
    assert len({r.message_id for r in results}) == 20
    assert env.delivery_attempts() == before + 20


async def test_async_per_message_override_and_opt_out(env: Env) -> None:
    other = env.create_set(f"other-{uuid.uuid4().hex[:8]}")
    async with async_client(env) as client:
        wire = Wire(client.client)
        result = await client.send(env.email(configuration_set=other))
    assert result.configuration_set == other
    assert wire.sends()[0][1]["ConfigurationSetName"] == other
    strict = async_client(env, None)
    async with strict:
        with pytest.raises(ConfigurationSetRequired):
            await strict.send(env.email())
    relaxed = async_client(env, None, allow_no_configuration_set=True)
    async with relaxed:
        wire = Wire(relaxed.client)
        assert (await relaxed.send(env.email())).configuration_set is None
    assert wire.operations() == ["SendEmail"]


async def test_async_v1_templated_and_bulk(env: Env) -> None:
    name = f"promo-{uuid.uuid4().hex[:8]}"
    env.v1.create_template(Template={"TemplateName": name, "SubjectPart": "Offer", "TextPart": "Hi {{name}}"})
    before = env.delivery_attempts()
    async with async_client(env, api="v1") as client:
        wire = Wire(client.client)
        single = await client.send(
            Email(env.sender, "jane@example.com", template=Template(name, data={"name": "J"}))
        )
        result = await client.send_bulk(
            Template(name), [Destination(f"user{i}@example.com") for i in range(120)], sender=env.sender
        )
    assert single.message_id
    assert env.delivery_attempts() == before + 1 + 120
    bulk_calls = [params for op, params in wire.sends() if op == "SendBulkTemplatedEmail"]
    assert sorted(len(params["Destinations"]) for params in bulk_calls) == [20, 50, 50]
    assert result.ok
    assert [entry.index for entry in result] == list(range(120))
    assert [e.destination.to[0].email for e in result] == [f"user{i}@example.com" for i in range(120)]
    assert len(set(result.message_ids)) == 120
    assert wire.operations().count("DescribeConfigurationSet") == 1


async def test_async_client_must_be_opened(env: Env) -> None:
    from sesflow.sending import ClientNotOpen

    client = async_client(env)
    with pytest.raises(ClientNotOpen, match="async with"):
        await client.send(env.email())
    await client.open()
    try:
        assert (await client.send(env.email())).configuration_set == env.config_set
    finally:
        await client.close()
    assert client.client is None
