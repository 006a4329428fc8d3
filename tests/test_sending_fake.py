"""SesClient and AsyncSesClient against a local HTTP endpoint that answers like SES (sesflow.testing.FakeSes).

moto has no v2 ``SendBulkEmail`` or ``GetAccount``, never throttles, and accepts sends naming a configuration
set that does not exist. ``FakeSes`` is a real HTTP server on 127.0.0.1 speaking SES's v2 REST-JSON and v1
query/XML protocols for the sending operations, so boto3 and aiobotocore go through their real serializers,
parsers and HTTP stacks, while the tests script throttling, per-destination bulk failures, paused accounts and
dropped connections.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aiobotocore.session import AioSession

from sesflow.sending import (
    AccessDenied,
    AccountSendingPaused,
    AsyncSesClient,
    BulkStatus,
    ConfigurationSetNotFound,
    DailyQuotaExceeded,
    Destination,
    Email,
    RetryPolicy,
    SendOutcomeUnknown,
    SesClient,
    Template,
    TemplateNotFound,
    Throttled,
    TransientFailure,
    ValidationError,
)
from sesflow.testing import FakeSes
from sesflow.testing.fake_ses import unflatten_query

CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# sesflow's clients say region= where boto3 says region_name=.
CLIENT_CREDENTIALS = {"region" if k == "region_name" else k: v for k, v in CREDENTIALS.items()}
SESSION = boto3.session.Session()
ASYNC_SESSION = AioSession()
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.005)
SENDER = "Shop <news@shop.example.com>"


@pytest.fixture
def fake() -> Iterator[FakeSes]:
    with FakeSes(configuration_sets={"events"}, templates={"promo"}, max_send_rate=1000.0) as server:
        yield server


def sync_client(fake: FakeSes, configuration_set: str | None = "events", **kwargs: Any) -> SesClient:
    options: dict[str, Any] = {
        "session": SESSION,
        "endpoint_url": fake.endpoint_url,
        "max_send_rate": None,
        "retry": FAST_RETRY,
        **CLIENT_CREDENTIALS,
    }
    options.update(kwargs)
    return SesClient(configuration_set, **options)


def async_client(fake: FakeSes, configuration_set: str | None = "events", **kwargs: Any) -> AsyncSesClient:
    options: dict[str, Any] = {
        "session": ASYNC_SESSION,
        "endpoint_url": fake.endpoint_url,
        "max_send_rate": None,
        "retry": FAST_RETRY,
        **CLIENT_CREDENTIALS,
    }
    options.update(kwargs)
    return AsyncSesClient(configuration_set, **options)


def message(**changes: Any) -> Email:
    fields: dict[str, Any] = {"sender": SENDER, "to": "jane@example.com", "subject": "Hi", "text": "Hello"}
    fields.update(changes)
    return Email(**fields)


def operations(fake: FakeSes) -> list[str]:
    return [call.operation for call in fake.calls]


# ------------------------------------------------------------------ throttling and errors, sync


def test_v2_throttling_is_retried_until_it_passes(fake: FakeSes) -> None:
    fake.fail("SendEmail", "TooManyRequestsException", "Maximum sending rate exceeded.", status=429, times=2)
    result = sync_client(fake).send(message())
    assert result.attempts == 3
    assert [call.status for call in fake.calls_of("SendEmail")] == [429, 429, 200]


def test_v1_throttling_is_retried_and_exhaustion_raises_throttled(fake: FakeSes) -> None:
    client = sync_client(fake, api="v1")
    fake.fail("SendEmail", "Throttling", "Maximum sending rate exceeded.")
    assert client.send(message()).attempts == 2
    fake.fail("SendEmail", "Throttling", "Maximum sending rate exceeded.", times=10)
    with pytest.raises(Throttled) as excinfo:
        client.send(message())
    assert excinfo.value.code == "Throttling"
    assert excinfo.value.request_id
    assert len(fake.calls_of("SendEmail")) == 2 + 4


def test_daily_quota_is_surfaced_not_retried(fake: FakeSes) -> None:
    fake.fail("SendEmail", "Throttling", "Daily message quota exceeded.", times=5)
    with pytest.raises(DailyQuotaExceeded) as excinfo:
        sync_client(fake, api="v1").send(message())
    assert excinfo.value.ses_message == "Daily message quota exceeded."
    assert len(fake.calls_of("SendEmail")) == 1


def test_paused_account_is_surfaced_not_retried(fake: FakeSes) -> None:
    fake.fail("SendEmail", "SendingPausedException", "Sending is paused for this account.", times=5)
    with pytest.raises(AccountSendingPaused):
        sync_client(fake).send(message())
    assert len(fake.calls_of("SendEmail")) == 1


def test_missing_template_maps_to_template_not_found(fake: FakeSes) -> None:
    with pytest.raises(TemplateNotFound):
        sync_client(fake).send(message(subject=None, text=None, template=Template("nope")))


def test_a_send_that_ses_rejects_for_a_missing_set_maps_the_same(fake: FakeSes) -> None:
    client = sync_client(fake, verify_configuration_set=False)
    with pytest.raises(ConfigurationSetNotFound) as excinfo:
        client.send(message(configuration_set="deleted"))
    assert excinfo.value.code == "NotFoundException"
    assert operations(fake) == ["SendEmail"]
    v1 = sync_client(fake, api="v1", verify_configuration_set=False)
    with pytest.raises(ConfigurationSetNotFound) as excinfo:
        v1.send(message(configuration_set="deleted"))
    assert excinfo.value.code == "ConfigurationSetDoesNotExist"


def test_a_dropped_connection_is_an_unknown_outcome_and_not_resent(fake: FakeSes) -> None:
    fake.drop("SendEmail")
    with pytest.raises(SendOutcomeUnknown):
        sync_client(fake).send(message())
    assert [call.status for call in fake.calls_of("SendEmail")] == [0]


def test_a_refused_connection_is_retried_then_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = SesClient(
        "events",
        session=SESSION,
        endpoint_url=f"http://127.0.0.1:{port}",
        max_send_rate=None,
        verify_configuration_set=False,
        retry=FAST_RETRY,
        **CLIENT_CREDENTIALS,
    )
    with pytest.raises(TransientFailure) as excinfo:
        client.send(message())
    assert excinfo.value.code == "EndpointConnectionError"


# ------------------------------------------------------------------ the account's rate


def test_the_rate_is_read_from_the_account(fake: FakeSes) -> None:
    for api, operation in (("v2", "GetAccount"), ("v1", "GetSendQuota")):
        client = sync_client(fake, api=api, max_send_rate="account")
        assert client.max_send_rate is None
        client.send(message())
        client.send(message())
        assert client.max_send_rate == 1000.0
        assert operations(fake).count(operation) == 1
        quota = client.get_send_quota()
        assert (quota.max_send_rate, quota.max_24_hour_send) == (1000.0, 50_000.0)


async def test_concurrent_async_sends_read_the_rate_and_check_the_set_once(fake: FakeSes) -> None:
    async with async_client(fake, max_send_rate="account") as client:
        await asyncio.gather(*(client.send(message(to=f"r{i}@example.com")) for i in range(20)))
        assert client.max_send_rate == 1000.0
    counts = Counter(operations(fake))
    assert counts == {"GetAccount": 1, "GetConfigurationSet": 1, "SendEmail": 20}


async def test_async_concurrency_is_capped(fake: FakeSes) -> None:
    fake.delay = 0.02
    async with async_client(fake, max_concurrency=3, verify_configuration_set=False) as client:
        results = await client.send_many([message(to=f"r{i}@example.com") for i in range(12)])
    assert len({r.message_id for r in results if not isinstance(r, Exception)}) == 12
    assert 1 < fake.max_in_flight <= 3


async def test_async_throttling_and_daily_quota(fake: FakeSes) -> None:
    fake.fail("SendEmail", "TooManyRequestsException", "slow down", status=429, times=1)
    async with async_client(fake) as client:
        assert (await client.send(message())).attempts == 2
        fake.fail("SendEmail", "LimitExceededException", "Daily message quota exceeded.", times=3)
        with pytest.raises(DailyQuotaExceeded):
            await client.send(message())
    assert [call.status for call in fake.calls_of("SendEmail")] == [429, 200, 400]


# ------------------------------------------------------------------ v2 bulk


def scripted_bulk(fake: FakeSes) -> list[Destination]:
    fake.script_status("d3@example.com", "ACCOUNT_THROTTLED", "SUCCESS")
    fake.script_status("d55@example.com", "TRANSIENT_FAILURE", "SUCCESS")
    fake.script_status("d70@example.com", "MESSAGE_REJECTED")
    fake.script_status("d119@example.com", "ACCOUNT_THROTTLED")  # throttled on every attempt
    return [Destination(f"d{i}@example.com", data={"n": i}) for i in range(120)]


def check_scripted_bulk(fake: FakeSes, result: Any) -> None:
    assert len(result) == 120
    assert [entry.index for entry in result] == list(range(120))
    failed = {entry.index: entry.status for entry in result.failed}
    assert failed == {70: BulkStatus.MESSAGE_REJECTED, 119: BulkStatus.ACCOUNT_THROTTLED}
    assert result[3].ok
    assert result[3].attempts == 2
    assert result[55].ok
    assert result[55].attempts == 2
    assert result[119].attempts == 4
    calls = fake.calls_of("SendBulkEmail")
    sent = Counter(
        entry["Destination"]["ToAddresses"][0] for call in calls for entry in call.params["BulkEmailEntries"]
    )
    # Each destination was sent once, except the retried ones, which were sent again only while retryable.
    assert sent["d0@example.com"] == 1
    assert sent["d70@example.com"] == 1
    assert sent["d3@example.com"] == 2
    assert sent["d55@example.com"] == 2
    assert sent["d119@example.com"] == 4
    assert sum(sent.values()) == 120 + 1 + 1 + 3
    # Three chunks (50, 50, 20), then retries of only the retryable entries: d3, d55, and d119 three times.
    assert sorted(len(call.params["BulkEmailEntries"]) for call in calls) == [1, 1, 1, 1, 1, 20, 50, 50]
    assert all(call.params["ConfigurationSetName"] == "events" for call in calls)
    assert all(entry.message_id for entry in result.succeeded)
    assert len({entry.message_id for entry in result.succeeded}) == 118


def test_v2_bulk_with_partial_failures_sync(fake: FakeSes) -> None:
    progress: list[int] = []
    result = sync_client(fake).send_bulk(
        Template("promo", data={"n": 0}),
        scripted_bulk(fake),
        sender=SENDER,
        tags={"campaign": "c1"},
        progress=lambda p: progress.append(p.done),
    )
    check_scripted_bulk(fake, result)
    assert progress[-1] == 120
    assert progress == sorted(progress)
    first = fake.calls_of("SendBulkEmail")[0].params
    assert first["DefaultEmailTags"] == [{"Name": "campaign", "Value": "c1"}]
    assert first["BulkEmailEntries"][2]["ReplacementEmailContent"] == {
        "ReplacementTemplate": {"ReplacementTemplateData": '{"n":2}'}
    }


async def test_v2_bulk_with_partial_failures_async(fake: FakeSes) -> None:
    async with async_client(fake) as client:
        result = await client.send_bulk(Template("promo"), scripted_bulk(fake), sender=SENDER)
    check_scripted_bulk(fake, result)


def test_v1_bulk_with_partial_failures(fake: FakeSes) -> None:
    fake.script_status("d1@example.com", "ACCOUNT_THROTTLED", "SUCCESS")
    fake.script_status("d2@example.com", "MESSAGE_REJECTED")
    result = sync_client(fake, api="v1").send_bulk(
        Template("promo"), [Destination(f"d{i}@example.com") for i in range(3)], sender=SENDER
    )
    assert [entry.status for entry in result] == [
        BulkStatus.SUCCESS,
        BulkStatus.SUCCESS,
        BulkStatus.MESSAGE_REJECTED,
    ]
    assert result[2].error is not None
    assert result[2].error.code == "MessageRejected"


def test_a_whole_bulk_call_throttled_is_retried_as_a_whole(fake: FakeSes) -> None:
    fake.fail("SendBulkEmail", "TooManyRequestsException", "slow down", status=429)
    result = sync_client(fake).send_bulk(
        Template("promo"), [Destination(f"d{i}@example.com") for i in range(10)], sender=SENDER
    )
    assert result.ok
    assert result.calls == 2
    assert {entry.attempts for entry in result} == {2}


def test_bulk_with_a_missing_set_is_caught_before_any_call(fake: FakeSes) -> None:
    with pytest.raises(ConfigurationSetNotFound):
        sync_client(fake, "missing").send_bulk(
            Template("promo"), [Destination("a@example.com")], sender=SENDER
        )
    assert operations(fake) == ["GetConfigurationSet"]


def test_bulk_entries_reporting_a_missing_set_stop_the_run(fake: FakeSes) -> None:
    client = sync_client(fake, "missing", verify_configuration_set=False)
    result = client.send_bulk(
        Template("promo"), [Destination(f"d{i}@example.com") for i in range(120)], sender=SENDER
    )
    assert result.calls == 1
    assert {entry.status for entry in result.entries[:50]} == {BulkStatus.CONFIGURATION_SET_NOT_FOUND}
    assert isinstance(result[0].error, ConfigurationSetNotFound)
    assert {entry.status for entry in result.entries[50:]} == {BulkStatus.NOT_SENT}
    assert len(result.to_retry()) == 70


async def test_async_bulk_stops_concurrent_chunks_on_a_stopping_status(fake: FakeSes) -> None:
    fake.script_status("d0@example.com", "ACCOUNT_SUSPENDED")
    async with async_client(fake, max_concurrency=1) as client:
        result = await client.send_bulk(
            Template("promo"), [Destination(f"d{i}@example.com") for i in range(200)], sender=SENDER
        )
    assert result.calls == 1
    assert result[0].status == BulkStatus.ACCOUNT_SUSPENDED
    assert {entry.status for entry in result.entries[50:]} == {BulkStatus.NOT_SENT}
    assert len(fake.calls_of("SendBulkEmail")) == 1


# ------------------------------------------------------------------ the fake itself


def test_unflatten_query_builds_nested_lists() -> None:
    pairs = [
        ("Action", "SendBulkTemplatedEmail"),
        ("Destinations.member.1.Destination.ToAddresses.member.1", "a@example.com"),
        ("Destinations.member.1.Destination.ToAddresses.member.2", "b@example.com"),
        ("Destinations.member.2.Destination.ToAddresses.member.1", "c@example.com"),
        ("Destinations.member.2.ReplacementTags.member.1.Name", "t"),
        ("Destinations.member.2.ReplacementTags.member.1.Value", "v"),
    ]
    assert unflatten_query(pairs) == {
        "Action": "SendBulkTemplatedEmail",
        "Destinations": [
            {"Destination": {"ToAddresses": ["a@example.com", "b@example.com"]}},
            {
                "Destination": {"ToAddresses": ["c@example.com"]},
                "ReplacementTags": [{"Name": "t", "Value": "v"}],
            },
        ],
    }


def test_the_async_client_names_its_extra_when_aiobotocore_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sesflow.errors import MissingExtra

    monkeypatch.setitem(sys.modules, "aiobotocore.session", None)  # what an absent package looks like
    with pytest.raises(MissingExtra, match=r"aiobotocore.*sesflow\[async\]") as excinfo:
        AsyncSesClient("events")
    assert excinfo.value.extra == "async"


def test_the_async_client_refuses_a_blocking_session_and_says_what_to_give() -> None:
    with pytest.raises(ValidationError, match=r"aiobotocore session .* or an aioboto3\.Session") as excinfo:
        AsyncSesClient("events", session=SESSION)
    assert excinfo.value.field == "session"


# ------------------------------------------------------------------ the account's suppression list


def test_the_suppression_list_round_trip(fake: FakeSes) -> None:
    client = sync_client(fake)
    assert client.get_suppression("jane@example.com") is None
    client.suppress("Jane <jane@example.com>", "complaint")
    client.suppress("bob@example.com")  # BOUNCE by default
    client.suppress("ann@example.com", "BOUNCE")
    entry = client.get_suppression("jane@example.com")
    assert entry is not None
    assert (entry.email_address, entry.reason) == ("jane@example.com", "COMPLAINT")
    assert entry.last_update_time.tzinfo is not None
    # Three entries come back over two pages (the fake answers two a page), in order.
    assert [(e.email_address, e.reason) for e in client.list_suppressed()] == [
        ("ann@example.com", "BOUNCE"),
        ("bob@example.com", "BOUNCE"),
        ("jane@example.com", "COMPLAINT"),
    ]
    assert [e.email_address for e in client.list_suppressed(reasons=["complaint"])] == ["jane@example.com"]
    assert client.unsuppress("jane@example.com") is True
    assert client.unsuppress("jane@example.com") is False
    assert client.get_suppression("jane@example.com") is None
    assert operations(fake).count("ListSuppressedDestinations") == 3
    (put,) = [
        c for c in fake.calls_of("PutSuppressedDestination") if c.params["EmailAddress"] == "ann@example.com"
    ]
    assert put.params["Reason"] == "BOUNCE"


def test_the_suppression_list_refuses_what_ses_would(fake: FakeSes) -> None:
    client = sync_client(fake)
    with pytest.raises(ValidationError, match="'BOUNCE' or 'COMPLAINT'"):
        client.suppress("jane@example.com", "spam")
    with pytest.raises(ValidationError, match="address"):
        client.suppress("not an address")
    v1 = sync_client(fake, api="v1")
    with pytest.raises(ValidationError, match="v2 API only"):
        v1.get_suppression("jane@example.com")
    with pytest.raises(ValidationError, match="v2 API only"):
        list(v1.list_suppressed())
    assert fake.calls == []
    fake.fail("GetSuppressedDestination", "AccessDeniedException", "not allowed", status=403)
    with pytest.raises(AccessDenied):
        client.get_suppression("jane@example.com")


async def test_the_async_suppression_list(fake: FakeSes) -> None:
    async with async_client(fake) as client:
        await client.suppress("jane@example.com", "COMPLAINT")
        await client.suppress("bob@example.com")
        await client.suppress("ann@example.com")
        entry = await client.get_suppression("jane@example.com")
        assert entry is not None
        assert entry.reason == "COMPLAINT"
        listed = [e.email_address async for e in client.list_suppressed(reasons=["BOUNCE"])]
        assert listed == ["ann@example.com", "bob@example.com"]
        assert await client.unsuppress("bob@example.com") is True
        assert await client.unsuppress("bob@example.com") is False
        assert [e.email_address async for e in client.list_suppressed()] == [
            "ann@example.com",
            "jane@example.com",
        ]
