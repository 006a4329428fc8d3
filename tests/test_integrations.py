"""The SNS webhooks on real servers (uvicorn for FastAPI, aiohttp's test server) with real HTTP requests.

Every message is signed with a test key whose certificate is fetched over local HTTPS by the verifier.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sesflow.errors import MissingExtra
from sesflow.events import BounceEvent, ControlMessage
from sesflow.integrations import WebhookResponse, handle_sns_request, merge_headers
from sesflow.integrations.fastapi import sns_webhook_router
from sesflow.routing import EventRouter
from sesflow.sources import SnsSubscriptionConfirmation, SnsUnsubscribeConfirmation, SourceItem
from sesflow.sources.sns_verify import MemoryReplayGuard, SnsVerifier
from sesflow.testing import make_record

from ._sns_hostile import (
    GENUINE_URLS,
    HOSTILE,
    GenuineFetcher,
    Hostile,
    expected_statuses,
    headers_for,
    json_body,
)
from ._sns_signing import (
    OTHER_TOPIC,
    TOPIC,
    Clock,
    confirmation,
    https_server,
    make_tls,
    new_key,
    notification,
    self_signed_pem,
    subscribe_url,
)
from ._webhook_support import CERT_PATH, Signer, delivery, uvicorn_server, webhook

KINDS = ["fastapi", "aiohttp"]
SUBSCRIPTION_ARN = f"{TOPIC}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"
CONFIRMED = (
    b"<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>"
    + SUBSCRIPTION_ARN.encode()
    + b"</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>"
)


@pytest.fixture(scope="module")
def tls() -> Any:
    return make_tls()


@pytest.fixture
def signer(tls: Any) -> Iterator[Signer]:
    with https_server(tls) as server:
        yield Signer(server, tls)


class Recorder:
    """A router whose handlers and hooks record what reached them."""

    def __init__(self, *, fail: bool = False, hook_fails: bool = False) -> None:
        self.bounces: list[BounceEvent] = []
        self.control: list[ControlMessage] = []
        self.invalid: list[SourceItem] = []
        self.router = EventRouter(on_invalid=self._invalid)
        self.fail = fail
        self.hook_fails = hook_fails

        @self.router.on_bounce
        async def bounce(event: BounceEvent) -> None:
            if self.fail:
                raise RuntimeError("the suppression list is down")
            self.bounces.append(event)

        self.router.on_control(self.control.append)

    def _invalid(self, item: SourceItem) -> None:
        if self.hook_fails:
            raise RuntimeError("the dead-letter table is down")
        self.invalid.append(item)


async def post(url: str, envelope: dict[str, Any]) -> httpx.Response:
    body, headers = delivery(envelope)
    async with httpx.AsyncClient() as client:
        return await client.post(url, content=body, headers=headers)


def bounce_notification(signer: Signer, **options: Any) -> dict[str, Any]:
    record = make_record("Bounce", message_id="0100018c-webhook-1")
    return signer.sign(notification(cert_url=signer.cert_url, message=json.dumps(record), **options))


@pytest.mark.parametrize("kind", KINDS)
async def test_a_signed_notification_is_handled_with_200(kind: str, signer: Signer) -> None:
    recorder = Recorder()
    async with webhook(kind, recorder.router, signer.verifier()) as url:
        answer = await post(url, bounce_notification(signer))
    assert answer.status_code == 200
    assert answer.json() == {"status": "handled", "messageId": "7c2f2a4e-1d55-5b0c-9a6e-7d2a1f0e9b11"}
    assert [event.message_id for event in recorder.bounces] == ["0100018c-webhook-1"]
    assert signer.server.paths() == ["/SimpleNotificationService-0123456789abcdef.pem"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_forged_message_is_refused_with_403_and_reaches_nothing(kind: str, signer: Signer) -> None:
    recorder = Recorder()
    forged = {**bounce_notification(signer), "Message": json.dumps(make_record("Complaint"))}
    other_topic = bounce_notification(signer, topic=OTHER_TOPIC)
    async with webhook(kind, recorder.router, signer.verifier()) as url:
        answers = [await post(url, forged), await post(url, other_topic)]
    assert [a.status_code for a in answers] == [403, 403]
    assert answers[0].json()["status"] == "verification failed"
    assert recorder.bounces == recorder.invalid == recorder.control == []


@pytest.mark.parametrize("kind", KINDS)
async def test_a_request_that_is_not_an_sns_delivery_is_a_400(kind: str, signer: Signer) -> None:
    recorder = Recorder()
    envelope = bounce_notification(signer)
    body, headers = delivery(envelope)
    async with webhook(kind, recorder.router, signer.verifier()) as url, httpx.AsyncClient() as client:
        not_json = await client.post(url, content=b"hello", headers=headers)
        no_headers = await client.post(url, content=body)
        lying = await client.post(url, content=body, headers={**headers, "x-amz-sns-message-id": "other"})
    assert [not_json.status_code, no_headers.status_code, lying.status_code] == [400, 400, 400]
    assert recorder.bounces == recorder.invalid == []


@pytest.mark.parametrize("kind", KINDS)
async def test_a_verified_payload_that_is_not_an_ses_record_is_dead_lettered_with_200(
    kind: str, signer: Signer
) -> None:
    recorder = Recorder()
    envelope = signer.sign(notification(cert_url=signer.cert_url, message='{"eventType": "Bounce"}'))
    async with webhook(kind, recorder.router, signer.verifier()) as url:
        answer = await post(url, envelope)
    assert answer.status_code == 200
    assert answer.json()["status"] == "dead-lettered"
    assert len(recorder.invalid) == 1
    assert json.loads(recorder.invalid[0].raw)["Message"] == '{"eventType": "Bounce"}'


@pytest.mark.parametrize("kind", KINDS)
async def test_a_failing_handler_or_dead_letter_hook_answers_500_so_sns_retries(
    kind: str, signer: Signer
) -> None:
    failing = Recorder(fail=True)
    broken_hook = Recorder(hook_fails=True)
    bad_payload = signer.sign(notification(cert_url=signer.cert_url, message="[1, 2]"))
    async with webhook(kind, failing.router, signer.verifier()) as url:
        answer = await post(url, bounce_notification(signer))
    async with webhook(kind, broken_hook.router, signer.verifier()) as url:
        hook_answer = await post(url, bad_payload)
    assert (answer.status_code, answer.json()["status"]) == (500, "handler failed")
    assert "suppression" not in answer.text  # no exception details leak to the caller
    assert hook_answer.status_code == 500


@pytest.mark.parametrize("kind", KINDS)
async def test_a_subscription_is_confirmed_over_https_and_reaches_control_handlers(
    kind: str, signer: Signer
) -> None:
    recorder = Recorder()
    signer.server.serve("/", (200, CONFIRMED, {}))
    message = signer.sign(confirmation(cert_url=signer.cert_url, url=subscribe_url(signer.server.origin)))
    async with webhook(kind, recorder.router, signer.verifier()) as url:
        answer = await post(url, message)
    assert answer.status_code == 200
    assert "/" in signer.server.paths()
    confirm_request = [r for r in signer.server.requests if r.startswith("/?")]
    assert len(confirm_request) == 1
    assert "Action=ConfirmSubscription" in confirm_request[0]
    assert [type(c) for c in recorder.control] == [SnsSubscriptionConfirmation]


@pytest.mark.parametrize("kind", KINDS)
async def test_confirmation_is_refused_without_an_allowlist_and_skipped_when_disabled(
    kind: str, signer: Signer
) -> None:
    recorder = Recorder()
    signer.server.serve("/", (200, CONFIRMED, {}))
    message = signer.sign(confirmation(cert_url=signer.cert_url, url=subscribe_url(signer.server.origin)))
    async with webhook(kind, recorder.router, signer.verifier(topic_arns=None)) as url:
        refused = await post(url, message)
    async with webhook(kind, recorder.router, signer.verifier(), confirm_subscriptions=False) as url:
        skipped = await post(url, message)
    assert refused.status_code == 403
    assert skipped.status_code == 200
    assert not any(r.startswith("/?") for r in signer.server.requests)  # nothing was confirmed
    assert len(recorder.control) == 1  # only the delivery that was not refused


@pytest.mark.parametrize("kind", KINDS)
async def test_an_unsubscribe_confirmation_is_acknowledged_but_never_followed(
    kind: str, signer: Signer
) -> None:
    recorder = Recorder()
    message = signer.sign(
        confirmation(
            "UnsubscribeConfirmation", cert_url=signer.cert_url, url=subscribe_url(signer.server.origin)
        )
    )
    async with webhook(kind, recorder.router, signer.verifier()) as url:
        answer = await post(url, message)
    assert answer.status_code == 200
    assert [type(c) for c in recorder.control] == [SnsUnsubscribeConfirmation]
    assert not any(r.startswith("/?") for r in signer.server.requests)


@pytest.mark.parametrize("kind", KINDS)
async def test_an_unreachable_certificate_answers_503_so_sns_retries(kind: str, signer: Signer) -> None:
    recorder = Recorder()
    signer.server.serve("/SimpleNotificationService-0123456789abcdef.pem", (500, b"busy", {}))
    async with webhook(kind, recorder.router, signer.verifier()) as url:
        answer = await post(url, bounce_notification(signer))
    assert answer.status_code == 503
    assert recorder.bounces == []


@pytest.mark.parametrize("kind", KINDS)
async def test_an_oversized_body_is_refused(kind: str, signer: Signer) -> None:
    recorder = Recorder()
    envelope = bounce_notification(signer)
    body, headers = delivery(envelope)
    async with (
        webhook(kind, recorder.router, signer.verifier(), max_body_size=1000) as url,
        httpx.AsyncClient() as client,
    ):
        answer = await client.post(url, content=body, headers=headers)
    assert len(body) > 1000
    assert answer.status_code == 413
    assert recorder.bounces == []


async def test_fastapi_router_and_verifier_can_be_dependencies(signer: Signer) -> None:
    first, second = Recorder(), Recorder()

    def get_router() -> EventRouter:
        return first.router

    def get_verifier() -> Any:
        return signer.verifier()

    app = FastAPI()
    app.include_router(sns_webhook_router(get_router, get_verifier, path="/hooks/ses", prefix="/v1"))
    app.dependency_overrides[get_router] = lambda: second.router
    with uvicorn_server(app) as base:
        answer = await post(f"{base}/v1/hooks/ses", bounce_notification(signer))
    assert answer.status_code == 200
    assert first.bounces == []
    assert len(second.bounces) == 1


async def test_handle_sns_request_is_usable_without_a_framework(signer: Signer) -> None:
    recorder = Recorder()
    body, headers = delivery(bounce_notification(signer))
    answer = await handle_sns_request(
        body, merge_headers(headers.items()), router=recorder.router, verifier=signer.verifier()
    )
    assert (answer.status, answer.body["status"]) == (200, "handled")
    conflicting = merge_headers(
        [("X-Amz-Sns-Message-Type", "Notification"), ("x-amz-sns-message-type", "Other")]
    )
    assert conflicting is None
    refused = await handle_sns_request(body, conflicting, router=recorder.router, verifier=signer.verifier())
    assert refused.status == 400


@pytest.mark.parametrize(("module", "extra"), [("fastapi", "fastapi"), ("aiohttp", "aiohttp")])
def test_a_missing_framework_names_its_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, extra: str
) -> None:
    name = f"sesflow.integrations.{module}"
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.delitem(sys.modules, name)
    with pytest.raises(MissingExtra, match=rf"sesflow\[{extra}\]"):
        importlib.import_module(name)


async def test_aiohttp_sub_application(signer: Signer) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from sesflow.integrations.aiohttp import ROUTER_KEY, sns_webhook_app

    recorder = Recorder()
    sub = sns_webhook_app(recorder.router, signer.verifier(), path="/ses")
    app = web.Application()
    app.add_subapp("/hooks", sub)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        answer = await post(str(server.make_url("/hooks/ses")), bounce_notification(signer))
    finally:
        await server.close()
    assert answer.status_code == 200
    assert sub[ROUTER_KEY] is recorder.router
    assert len(recorder.bounces) == 1


# --- hostile envelopes: 400 or 403, never 500, nothing reaches the router, no hostile URL is fetched -----


def hostile_verifier(fetcher: GenuineFetcher, clock: Clock, **options: Any) -> SnsVerifier:
    """A verifier with the two genuine certificates served from memory and any topic allowed, so that each
    hostile envelope meets the check it is built for."""
    return SnsVerifier(clock=clock, fetcher=fetcher, async_fetcher=fetcher.fetch_async, **options)


@pytest.fixture(scope="module")
def hostile_key() -> Any:
    return new_key()


@pytest.mark.parametrize("case", HOSTILE, ids=lambda case: case.name)
async def test_handle_sns_request_answers_a_hostile_envelope_with_400_or_403(
    hostile_key: Any, case: Hostile
) -> None:
    recorder = Recorder()
    envelope = case.build(hostile_key)
    fetcher = GenuineFetcher(self_signed_pem(hostile_key))
    verifier = hostile_verifier(fetcher, Clock(case.when()), replay_guard=MemoryReplayGuard())
    answer = await handle_sns_request(
        json_body(envelope).encode(),
        headers_for(envelope, http=False),
        router=recorder.router,
        verifier=verifier,
    )
    assert answer.status in expected_statuses(envelope, http=False)
    assert recorder.bounces == recorder.invalid == recorder.control == []
    assert set(fetcher.calls) <= GENUINE_URLS


@pytest.mark.parametrize("kind", KINDS)
async def test_a_webhook_answers_every_hostile_envelope_with_400_or_403(kind: str, hostile_key: Any) -> None:
    recorder = Recorder()
    fetcher = GenuineFetcher(self_signed_pem(hostile_key))
    clock = Clock()
    statuses: dict[str, int] = {}
    async with (
        webhook(kind, recorder.router, hostile_verifier(fetcher, clock)) as url,
        httpx.AsyncClient() as client,
    ):
        for case in HOSTILE:
            clock.now = case.when()
            envelope = case.build(hostile_key)
            body = json_body(envelope).encode()
            answer = await client.post(url, content=body, headers=headers_for(envelope, http=True))
            statuses[case.name] = answer.status_code
    unexpected = {
        case.name: statuses[case.name]
        for case in HOSTILE
        if statuses[case.name] not in expected_statuses(case.build(hostile_key), http=True)
    }
    assert unexpected == {}
    assert sum(status == 403 for status in statuses.values()) >= 35  # most reach the verifier itself
    assert recorder.bounces == recorder.invalid == recorder.control == []
    assert set(fetcher.calls) <= GENUINE_URLS


# --- replays ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_retry_after_a_failure_is_handled_and_a_replay_after_success_is_a_200_duplicate(
    kind: str, signer: Signer
) -> None:
    recorder = Recorder(fail=True)
    message = bounce_notification(signer)
    async with webhook(kind, recorder.router, signer.verifier(replay_guard=MemoryReplayGuard())) as url:
        failed = await post(url, message)
        recorder.fail = False
        retried = await post(url, message)  # SNS's retry: the same MessageId
        replayed = await post(url, message)
    assert (failed.status_code, failed.json()["status"]) == (500, "handler failed")
    assert (retried.status_code, retried.json()["status"]) == (200, "handled")
    assert replayed.status_code == 200
    assert replayed.json() == {"status": "duplicate", "messageId": message["MessageId"]}
    assert len(recorder.bounces) == 1  # handled once; the replay reached no handler


@pytest.mark.parametrize("kind", KINDS)
async def test_a_replay_store_that_is_down_answers_503_so_sns_retries(kind: str, signer: Signer) -> None:
    class StoreDown:
        def seen(self, message_id: str, now: Any) -> bool:
            raise ConnectionError("replay store unreachable")

        def remember(self, message_id: str, until: Any) -> None:
            raise ConnectionError("replay store unreachable")

    recorder = Recorder()
    async with webhook(kind, recorder.router, signer.verifier(replay_guard=StoreDown())) as url:
        answer = await post(url, bounce_notification(signer))
    assert (answer.status_code, answer.json()["status"]) == (503, "verification unavailable")
    assert recorder.bounces == []


@pytest.mark.parametrize("kind", KINDS)
async def test_a_certificate_not_issued_to_sns_is_a_403(kind: str, signer: Signer) -> None:
    recorder = Recorder()
    signer.server.serve(CERT_PATH, (200, self_signed_pem(signer.key, common_name="attacker.example"), {}))
    async with webhook(kind, recorder.router, signer.verifier()) as url:
        answer = await post(url, bounce_notification(signer))
    assert (answer.status_code, answer.json()["status"]) == (403, "verification failed")
    assert recorder.bounces == []


def test_a_rejected_request_s_message_id_is_echoed_only_when_plain() -> None:
    assert (
        WebhookResponse.of(403, "verification failed", "7c2f2a4e-1d55").body["messageId"] == "7c2f2a4e-1d55"
    )
    for hostile in ("\ud800", "a\nb", "é", "x" * 129):
        assert "messageId" not in WebhookResponse.of(403, "verification failed", hostile).body
