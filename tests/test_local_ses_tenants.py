"""LocalSes and tenants, against moto in server mode.

A v2 send that names a tenant (``TenantName``) publishes events whose ``mail.tags`` carry ``ses:tenant-name``
(as the Developer Guide's "Using tenant-level suppression lists in Amazon SES" describes the tag); a paused
tenant's sends are refused with SES v2's ``SendingPausedException`` and publish nothing; pausing and
resuming put ``Sending Status Disabled`` / ``Enabled`` on the default EventBridge bus in the shape of the
Developer Guide's "Tenants" chapter, and sesflow's EventBridge source reads them back as typed records.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sesflow.events import TENANT_TAG, EventType, OpenEvent
from sesflow.routing import EventRouter
from sesflow.sources import SendingStatusEvent, eventbridge_item, sqs_message_item
from sesflow.testing import LocalSes

from ._local_ses_support import SIM, drain, eventbridge_queue, events_of, pipeline

HTML = '<p>Hello <a href="https://shop.example.com/sale">Sale</a></p>'


@pytest.fixture
def local(moto_server: str) -> Any:
    with LocalSes(moto_server, seed=23) as simulator:
        yield simulator


def v2_send(local: LocalSes, configuration_set: str, to: str, **options: Any) -> dict[str, Any]:
    response: dict[str, Any] = local.client("sesv2").send_email(
        FromEmailAddress="shop@example.com",
        Destination={"ToAddresses": [to]},
        Content={"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Html": {"Data": HTML}}}},
        ConfigurationSetName=configuration_set,
        **options,
    )
    return response


def test_a_send_for_a_tenant_publishes_events_that_name_it(local: LocalSes) -> None:
    pipe = pipeline(local)
    cs = pipe.configuration_set.name

    mine = v2_send(local, cs, f"complaint@{SIM}", TenantName="acme")
    other = v2_send(local, cs, f"success@{SIM}")

    events = events_of(drain(local.client("sqs"), pipe.queue_url))
    by_message = {(e.message_id, e.event_type.value): e.tenant for e in events}
    assert by_message == {
        (mine["MessageId"], "Send"): "acme",
        (mine["MessageId"], "Delivery"): "acme",
        (mine["MessageId"], "Complaint"): "acme",
        (other["MessageId"], "Send"): None,
        (other["MessageId"], "Delivery"): None,
    }
    sent = {m.message_id: m.tenant for m in local.messages}
    assert sent == {mine["MessageId"]: "acme", other["MessageId"]: None}
    record = local.records(event_type="Complaint")[0]
    assert record["mail"]["tags"][TENANT_TAG] == ["acme"]


def test_a_bulk_send_for_a_tenant_names_it_on_every_message(local: LocalSes) -> None:
    pipe = pipeline(local)
    params = {
        "FromEmailAddress": "shop@example.com",
        "ConfigurationSetName": pipe.configuration_set.name,
        "TenantName": "globex",
        "DefaultContent": {"Template": {"TemplateContent": {"Subject": "Hi", "Text": "Hello"}}},
        "BulkEmailEntries": [
            {"Destination": {"ToAddresses": [f"success@{SIM}"]}},
            {"Destination": {"ToAddresses": [f"bounce@{SIM}"]}},
        ],
    }
    response = {"BulkEmailEntryResults": [{"Status": "SUCCESS", "MessageId": f"m-{i}"} for i in (1, 2)]}

    published = local.observe("sesv2", "SendBulkEmail", params, response)

    assert [p.event_type.value for p in published] == ["Send", "Delivery", "Send", "Bounce"]
    assert {e.tenant for e in local.events()} == {"globex"}


def test_simulated_opens_and_clicks_say_they_are_unlikely_bots(moto_server: str) -> None:
    with LocalSes(moto_server, seed=3, open_rate=1.0) as local:
        pipe = pipeline(local)
        v2_send(local, pipe.configuration_set.name, "reader@example.org", TenantName="acme")
        (opened,) = local.events(event_type="Open")
    assert isinstance(opened, OpenEvent)
    assert opened.open.is_bot_event == "Unlikely"
    assert not opened.open.likely_bot
    assert opened.tenant == "acme"


def test_a_paused_tenants_sends_are_refused_and_publish_nothing(local: LocalSes) -> None:
    pipe = pipeline(local)
    cs = pipe.configuration_set.name
    local.pause_tenant("acme")
    assert local.paused_tenants == {"acme"}

    with pytest.raises(ClientError) as caught:
        v2_send(local, cs, f"success@{SIM}", TenantName="acme")
    error = caught.value.response["Error"]
    assert error["Code"] == "SendingPausedException"
    assert "acme" in error["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert local.messages == []  # refused before the server: no message, no events

    v2_send(local, cs, f"success@{SIM}", TenantName="globex")  # other tenants keep sending
    v2_send(local, cs, f"success@{SIM}")  # and so do sends for no tenant
    local.resume_tenant("acme")
    v2_send(local, cs, f"success@{SIM}", TenantName="acme")

    assert local.paused_tenants == frozenset()
    sends = [
        e for e in events_of(drain(local.client("sqs"), pipe.queue_url)) if e.event_type is EventType.SEND
    ]
    assert [e.tenant for e in sends] == ["globex", None, "acme"]


def test_a_bulk_send_for_a_paused_tenant_is_refused(local: LocalSes) -> None:
    pipe = pipeline(local)
    local.pause_tenant("acme")
    client = local.client("sesv2")
    with pytest.raises(ClientError, match="SendingPausedException"):
        client.send_bulk_email(
            FromEmailAddress="shop@example.com",
            ConfigurationSetName=pipe.configuration_set.name,
            TenantName="acme",
            DefaultContent={"Template": {"TemplateName": "welcome"}},
            BulkEmailEntries=[{"Destination": {"ToAddresses": [f"success@{SIM}"]}}],
        )
    assert local.messages == []


async def test_an_async_send_for_a_paused_tenant_is_refused(local: LocalSes) -> None:
    pipe = pipeline(local)
    local.pause_tenant("acme")
    session = local.async_session()
    async with session.create_client("sesv2", endpoint_url=local.endpoint_url) as client:
        with pytest.raises(ClientError, match="SendingPausedException"):
            await client.send_email(
                FromEmailAddress="shop@example.com",
                Destination={"ToAddresses": [f"success@{SIM}"]},
                Content={"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "x"}}}},
                ConfigurationSetName=pipe.configuration_set.name,
                TenantName="acme",
            )
        sent = await client.send_email(
            FromEmailAddress="shop@example.com",
            Destination={"ToAddresses": [f"success@{SIM}"]},
            Content={"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "x"}}}},
            ConfigurationSetName=pipe.configuration_set.name,
            TenantName="globex",
        )
    assert [m.message_id for m in local.messages] == [sent["MessageId"]]


def test_closing_removes_the_refusal(moto_server: str) -> None:
    local = LocalSes(moto_server)
    pipe = pipeline(local)
    client = local.client("sesv2")
    local.pause_tenant("acme")
    local.close()
    sent = client.send_email(
        FromEmailAddress="shop@example.com",
        Destination={"ToAddresses": [f"success@{SIM}"]},
        Content={"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "x"}}}},
        ConfigurationSetName=pipe.configuration_set.name,
        TenantName="acme",
    )
    assert sent["MessageId"]


def test_pausing_and_resuming_reach_an_eventbridge_rule_as_typed_records(local: LocalSes) -> None:
    sqs = local.client("sqs")
    queue_url = eventbridge_queue(
        local, {"source": ["aws.ses"], "detail-type": ["Sending Status Disabled", "Sending Status Enabled"]}
    )

    paused = local.pause_tenant("acme", cause="Bounce rate too high.", origin="AWS_MANAGED")
    local.resume_tenant("acme")

    router = EventRouter()
    seen: list[tuple[str | None, str, bool]] = []
    router.on_sending_status(tenant="acme")(lambda r: seen.append((r.tenant, r.origin.value, r.paused)))
    items = drain(sqs, queue_url)
    for item in items:
        assert item.ok, item.error
        router.dispatch_item(item)
    assert seen == [("acme", "AWS_MANAGED", True), ("acme", "CUSTOMER_MANAGED", False)]
    first = items[0].record
    assert isinstance(first, SendingStatusEvent)
    assert first.cause == "Bounce rate too high."
    assert first.resources == (local.tenant_arn("acme"),)
    assert first.last_updated is not None
    # What LocalSes keeps is the event as SES would deliver it, and parses the same way.
    kept = eventbridge_item(paused).record
    assert isinstance(kept, SendingStatusEvent)
    assert (kept.status, kept.tenant, kept.cause) == (first.status, "acme", first.cause)
    assert [e["detail-type"] for e in local.status_events] == [
        "Sending Status Disabled",
        "Sending Status Enabled",
    ]


def test_the_tenant_arn_is_stable_per_tenant(local: LocalSes) -> None:
    arn = local.tenant_arn("acme")
    assert arn == local.tenant_arn("acme")
    assert arn != local.tenant_arn("globex")
    assert arn.startswith(f"arn:aws:ses:us-east-1:{local.account_id}:tenant/acme/tn-")
    record = sqs_message_item({"MessageId": "m", "Body": json.dumps(local.pause_tenant("acme"))}).record
    assert isinstance(record, SendingStatusEvent)
    assert record.tenant_arn == arn
