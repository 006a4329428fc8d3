"""The Django webhook views with Django's test clients and real signed SNS requests.

Messages are signed with a test key whose certificate a local HTTPS server serves;
``SESFLOW['VERIFIER_OPTIONS']`` points the verifier at that server (its CA and loopback origin) and at the
time the messages were signed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import AsyncClient, Client

from sesflow.events import BounceEvent, ComplaintEvent, SesEvent
from sesflow.integrations.django import SettingsError, ses_event
from sesflow.testing import make_record

from ._django_support import sesflow, verifier_options
from ._sns_signing import (
    OTHER_TOPIC,
    confirmation,
    https_server,
    make_tls,
    new_key,
    notification,
    sign,
    subscribe_url,
)
from ._webhook_support import Signer, delivery

TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"  # the test project's TOPIC_ARNS
CONFIRMED = (
    b"<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>"
    + f"{TOPIC}:2bcfbf39".encode()
    + b"</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>"
)


@pytest.fixture(scope="module")
def tls() -> Any:
    return make_tls()


@pytest.fixture
def signer(tls: Any, django_project: None) -> Iterator[Signer]:
    with https_server(tls) as server:
        signer = Signer(server, tls)
        with sesflow(VERIFIER_OPTIONS=verifier_options(signer)):
            yield signer


class Signals:
    """Every ``ses_event`` sent while the test runs: (sender, event)."""

    def __init__(self) -> None:
        self.received: list[tuple[type, SesEvent]] = []
        self.fail = False

    def __call__(self, sender: type, event: SesEvent, **_: Any) -> None:
        if self.fail:
            raise RuntimeError("the receiver's database is down")
        self.received.append((sender, event))


@pytest.fixture
def signals() -> Iterator[Signals]:
    recorder = Signals()
    ses_event.connect(recorder, weak=False)
    yield recorder
    ses_event.disconnect(recorder)


def bounce(
    signer: Signer, *, recipient: str | None = None, topic: str = TOPIC, **options: Any
) -> dict[str, Any]:
    """A signed SNS notification of a bounce (a fresh message id, so each test finds its own rows)."""
    recipients = [recipient or f"jane-{uuid.uuid4().hex[:8]}@example.com"]
    record = make_record("Bounce", message_id=f"0100-{uuid.uuid4()}", recipients=recipients)
    return signer.sign(
        notification(
            cert_url=signer.cert_url,
            topic=topic,
            message=json.dumps(record),
            message_id=str(uuid.uuid4()),
            **options,
        )
    )


def post(envelope: dict[str, Any], path: str = "/ses/events/", **extra: Any) -> Any:
    body, headers = delivery(envelope)
    headers.pop("Content-Type")
    return Client(enforce_csrf_checks=True).post(
        path, data=body, content_type="text/plain; charset=UTF-8", headers=headers, **extra
    )


def suppressed(envelope: dict[str, Any]) -> list[tuple[str, str]]:
    from tests.django_project.models import Suppression

    message_id = json.loads(envelope["Message"])["mail"]["messageId"]
    return list(Suppression.objects.filter(message_id=message_id).values_list("address", "reason"))


def test_a_signed_bounce_reaches_the_router_the_orm_and_the_signal(signer: Signer, signals: Signals) -> None:
    envelope = bounce(signer, recipient="bounced@example.com")
    answer = post(envelope)  # with CSRF checks on: the view is exempt
    assert answer.status_code == 200
    assert answer.json() == {"status": "handled", "messageId": envelope["MessageId"]}
    assert suppressed(envelope) == [
        ("bounced@example.com", "bounce")
    ]  # the handler used the ORM in the request
    ((sender, event),) = signals.received
    assert sender is BounceEvent
    assert isinstance(event, BounceEvent)
    assert event.recipients == ("bounced@example.com",)


def test_a_receiver_can_ask_for_one_event_type(signer: Signer) -> None:
    complaints: list[SesEvent] = []

    def on_complaint(sender: type, event: SesEvent, **_: Any) -> None:
        complaints.append(event)

    ses_event.connect(on_complaint, sender=ComplaintEvent, weak=False)
    try:
        complaint = make_record("Complaint", message_id=f"0100-{uuid.uuid4()}")
        envelope = signer.sign(
            notification(
                cert_url=signer.cert_url, topic=TOPIC, message=json.dumps(complaint), message_id="c-1"
            )
        )
        answers = [post(bounce(signer)).status_code, post(envelope).status_code]
    finally:
        ses_event.disconnect(on_complaint, sender=ComplaintEvent)
    assert answers == [200, 200]
    assert [type(e) for e in complaints] == [ComplaintEvent]


def test_signals_can_be_turned_off(signer: Signer, signals: Signals) -> None:
    with sesflow(VERIFIER_OPTIONS=verifier_options(signer), SIGNALS=False):
        envelope = bounce(signer)
        assert post(envelope).status_code == 200
    assert len(suppressed(envelope)) == 1
    assert signals.received == []


# ------------------------------------------------------------------------------------------ hostile requests


def _forged(signer: Signer) -> dict[str, Any]:
    envelope = bounce(signer)
    return {**envelope, "Message": json.dumps(make_record("Complaint"))}


def _unsigned(signer: Signer) -> dict[str, Any]:
    envelope = bounce(signer)
    return {k: v for k, v in envelope.items() if k not in ("Signature", "SignatureVersion")}


def _raw(body: bytes, headers: dict[str, str]) -> Any:
    return Client().post("/ses/events/", data=body, content_type="text/plain", headers=headers)


def _headers(envelope: dict[str, Any]) -> dict[str, str]:
    _, headers = delivery(envelope)
    headers.pop("Content-Type")
    return headers


HOSTILE: list[tuple[str, Any, int]] = [
    ("a forged message", lambda s: post(_forged(s)), 403),
    ("a message without a signature", lambda s: post(_unsigned(s)), 403),
    ("a signature of another key", lambda s: post(sign(bounce(s), new_key(), "2")), 403),
    ("a topic not on TOPIC_ARNS", lambda s: post(bounce(s, topic=OTHER_TOPIC)), 403),
    ("a message an hour and a half old", lambda s: post(_aged(s)), 403),
    ("a body that is not JSON", lambda s: _raw(b"hello", _headers(bounce(s))), 400),
    ("an empty body", lambda s: _raw(b"", _headers(bounce(s))), 400),
    ("a JSON list", lambda s: _raw(b"[1, 2]", _headers(bounce(s))), 400),
    ("no SNS headers", lambda s: _raw(json.dumps(bounce(s)).encode(), {}), 400),
    (
        "headers that disagree with the body",
        lambda s: _raw(
            json.dumps(bounce(s)).encode(), {**_headers(bounce(s)), "x-amz-sns-message-id": "other"}
        ),
        400,
    ),
    ("a GET", lambda s: Client().get("/ses/events/"), 405),
    ("a PUT", lambda s: Client().put("/ses/events/", data=b"{}"), 405),
]


def _aged(signer: Signer) -> dict[str, Any]:
    from datetime import timedelta

    from ._sns_signing import T0

    return bounce(signer, when=T0 - timedelta(minutes=90))


@pytest.mark.parametrize(("case", "request_", "status"), HOSTILE, ids=[case for case, _, _ in HOSTILE])
def test_hostile_requests_get_a_4xx_and_reach_nothing(
    signer: Signer, signals: Signals, case: str, request_: Any, status: int
) -> None:
    answer = request_(signer)
    assert answer.status_code == status, case
    assert signals.received == []
    if status != 405:
        assert set(answer.json()) <= {"status", "messageId"}  # no exception details


def test_an_oversized_body_is_refused_unread(signer: Signer, signals: Signals) -> None:
    envelope = bounce(signer)
    with sesflow(VERIFIER_OPTIONS=verifier_options(signer), MAX_BODY_SIZE=1000):
        answer = post(envelope)
    assert (answer.status_code, answer.json()["status"]) == (413, "too large")
    assert suppressed(envelope) == []
    assert signals.received == []


def test_a_verified_payload_that_is_no_ses_event_is_dead_lettered_with_200(
    signer: Signer, signals: Signals
) -> None:
    envelope = signer.sign(
        notification(cert_url=signer.cert_url, topic=TOPIC, message='{"eventType": "Bounce"}')
    )
    answer = post(envelope)
    assert (answer.status_code, answer.json()["status"]) == (200, "dead-lettered")
    assert signals.received == []


def test_a_failing_handler_or_receiver_answers_500_so_sns_retries(signer: Signer, signals: Signals) -> None:
    failing = bounce(signer, recipient="fail@example.com")
    answer = post(failing)
    assert (answer.status_code, answer.json()["status"]) == (500, "handler failed")
    assert "suppression" not in answer.content.decode()
    assert len(signals.received) == 1  # the receivers still ran: one failure does not hide the others

    signals.fail = True
    envelope = bounce(signer)
    answer = post(envelope)
    assert answer.status_code == 500
    assert len(suppressed(envelope)) == 1  # the handler ran; SNS's retry will run it again (see the docs)


def test_an_unreachable_certificate_answers_503(signer: Signer, signals: Signals) -> None:
    from ._webhook_support import CERT_PATH

    signer.server.serve(CERT_PATH, (500, b"busy", {}))
    envelope = bounce(signer)
    assert post(envelope).status_code == 503
    assert suppressed(envelope) == []


def test_a_subscription_is_confirmed_only_for_an_allowed_topic(signer: Signer) -> None:
    signer.server.serve("/", (200, CONFIRMED, {}))
    allowed = signer.sign(
        confirmation(cert_url=signer.cert_url, topic=TOPIC, url=subscribe_url(signer.server.origin, TOPIC))
    )
    other = signer.sign(
        confirmation(
            cert_url=signer.cert_url, topic=OTHER_TOPIC, url=subscribe_url(signer.server.origin, OTHER_TOPIC)
        )
    )
    unsubscribe = signer.sign(
        confirmation(
            "UnsubscribeConfirmation",
            cert_url=signer.cert_url,
            topic=TOPIC,
            url=subscribe_url(signer.server.origin, TOPIC),
        )
    )
    assert [post(allowed).status_code, post(other).status_code, post(unsubscribe).status_code] == [
        200,
        403,
        200,
    ]
    confirmations = [r for r in signer.server.requests if r.startswith("/?")]
    assert len(confirmations) == 1
    assert "Action=ConfirmSubscription" in confirmations[0]

    with sesflow(VERIFIER_OPTIONS=verifier_options(signer), CONFIRM_SUBSCRIPTIONS=False):
        assert post(allowed).status_code == 200
    assert len([r for r in signer.server.requests if r.startswith("/?")]) == 1


# ------------------------------------------------------------------------------------------ settings


def test_the_webhook_needs_a_topic_allowlist_and_a_router(signer: Signer) -> None:
    with (
        sesflow(VERIFIER_OPTIONS=verifier_options(signer), TOPIC_ARNS=...),
        pytest.raises(SettingsError, match="TOPIC_ARNS"),
    ):
        post(bounce(signer))
    with (
        sesflow(VERIFIER_OPTIONS=verifier_options(signer), ROUTER=...),
        pytest.raises(SettingsError, match="ROUTER"),
    ):
        post(bounce(signer))
    with (
        sesflow(VERIFIER_OPTIONS=verifier_options(signer), ROUTER="tests.django_project.events.nothing_here"),
        pytest.raises(SettingsError, match="cannot import"),
    ):
        post(bounce(signer))


def test_the_sync_view_refuses_a_router_with_coroutine_handlers(signer: Signer) -> None:
    with (
        sesflow(VERIFIER_OPTIONS=verifier_options(signer), ROUTER="tests.django_project.events.async_router"),
        pytest.raises(SettingsError, match="sns_webhook_async"),
    ):
        post(bounce(signer))


def test_topic_arns_none_accepts_any_topic_but_confirms_none(signer: Signer) -> None:
    signer.server.serve("/", (200, CONFIRMED, {}))
    with sesflow(VERIFIER_OPTIONS=verifier_options(signer), TOPIC_ARNS=None):
        assert post(bounce(signer, topic=OTHER_TOPIC)).status_code == 200
        confirm = signer.sign(
            confirmation(
                cert_url=signer.cert_url,
                topic=OTHER_TOPIC,
                url=subscribe_url(signer.server.origin, OTHER_TOPIC),
            )
        )
        assert post(confirm).status_code == 403
    assert not any(r.startswith("/?") for r in signer.server.requests)


# ------------------------------------------------------------------------------------------ the async view


async def apost(envelope: dict[str, Any]) -> Any:
    body, headers = delivery(envelope)
    headers.pop("Content-Type")
    return await AsyncClient(enforce_csrf_checks=True).post(
        "/ses/async/", data=body, content_type="text/plain; charset=UTF-8", headers=headers
    )


@pytest.fixture
def async_router(signer: Signer) -> Iterator[Signer]:
    with sesflow(
        VERIFIER_OPTIONS=verifier_options(signer), ROUTER="tests.django_project.events.async_router"
    ):
        yield signer


async def test_the_async_view_runs_coroutine_handlers_and_sends_the_signal(
    async_router: Signer, signals: Signals
) -> None:
    from asgiref.sync import sync_to_async

    envelope = bounce(async_router, recipient="async@example.com")
    answer = await apost(envelope)
    assert (answer.status_code, answer.json()["status"]) == (200, "handled")
    assert await sync_to_async(suppressed)(envelope) == [("async@example.com", "bounce")]
    assert [sender for sender, _ in signals.received] == [BounceEvent]

    answers = [
        (await apost(_forged(async_router))).status_code,
        (await apost(bounce(async_router, topic=OTHER_TOPIC))).status_code,
        (await apost(bounce(async_router, recipient="fail@example.com"))).status_code,
    ]
    assert answers == [403, 403, 500]


async def test_plain_orm_handlers_fail_in_the_async_view(signer: Signer) -> None:
    """The documented reason to prefer the sync view for ORM handlers: Django refuses them on the loop."""
    from asgiref.sync import sync_to_async

    envelope = bounce(signer)
    answer = await apost(envelope)
    assert answer.status_code == 500
    assert await sync_to_async(suppressed)(envelope) == []
