"""The proxy end to end, as Ghost uses it, on moto in server mode.

Ghost's multipart POST goes to the app; the app sends through ``AsyncSesClient`` to moto; ``LocalSes``
publishes the SES events real SES would publish to the configuration set's SNS topic; SNS delivers them to
the SQS queue; the proxy's ``AsyncSqsConsumer`` worker stores them; and ``/events`` is paged exactly as Ghost
pages it. What SES accepted is recorded by botocore hooks on the sessions (``SentCapture``): the request
parameters (configuration set, message tags) and the raw MIME of every message.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import email.utils
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sesflow.events import EventFamily, EventType
from sesflow.testing import LocalSes, Outcome, make_record

from ..compose import encode_tag_value, ses_tags
from ..mailgun import parse_message_form
from .fixtures import (
    API_KEY,
    AUTH,
    GHOST_EVENTS,
    Aws,
    SentCapture,
    async_session,
    ghost_fields,
    ghost_pages,
    member,
    post_batch,
    serve,
    settings_for,
)

SENT_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NAMES = {
    "ok@example.org": "Olive Kay",
    "reader@example.org": "Rita Reader",
    "bounce@example.org": "Bo Unce",
    "soft@example.org": "Sof Tee",
    "angry@example.org": "Ang Ry",
    "blocked@example.org": "Blo Cked",
}
OUTCOMES = {
    "bounce@example.org": Outcome.BOUNCE,
    "soft@example.org": Outcome.SOFT_BOUNCE,
    "angry@example.org": Outcome.COMPLAINT,
    "blocked@example.org": Outcome.SUPPRESSED,
}
MAILGUN_NAME = {"Delivery": "delivered", "Open": "opened", "Bounce": "failed", "Complaint": "complained"}


def ses_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def own_time(record: dict[str, Any]) -> float:
    """The time of an SES event record itself (not the send time in ``mail``)."""
    detail = record[
        {"Delivery": "delivery", "Open": "open", "Bounce": "bounce", "Complaint": "complaint"}[
            record["eventType"]
        ]
    ]
    return ses_time(detail["timestamp"])


def query(begin: float, **more: str) -> dict[str, str]:
    """The query Ghost sends (its limit is 300; smaller here, so that there are several pages)."""
    return {
        "limit": "4",
        "event": GHOST_EVENTS,
        "tags": "bulk-email",
        "ascending": "yes",
        "begin": repr(begin),
        "end": "undefined",
        **more,
    }


async def requeue_everything(aws: Aws) -> int:
    """Make SQS deliver every queued message twice: the message itself again (visibility back to 0, as
    after a worker crash) and a copy of its body."""
    sqs = aws.client("sqs")
    taken: list[dict[str, Any]] = []
    while True:  # take everything (received messages stay invisible, so this ends)
        answer = sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        if not answer.get("Messages"):
            break
        taken.extend(answer["Messages"])
    for message in taken:
        sqs.send_message(QueueUrl=aws.queue_url, MessageBody=message["Body"])
        sqs.change_message_visibility(
            QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return len(taken)


async def test_a_newsletter_goes_out_per_recipient_and_comes_back_as_ghost_reads_it(
    aws: Aws, tmp_path: Path
) -> None:
    recipients = {address: member(address, name) for address, name in NAMES.items()}
    with LocalSes(aws.endpoint, seed=3, open_rate=1.0, outcomes=OUTCOMES, clock=lambda: SENT_AT) as local:
        session = local.async_session()
        capture = SentCapture(session)
        async with serve(settings_for(aws, tmp_path / "proxy.sqlite3"), ses_session=session) as served:
            response = await post_batch(served.http, aws.domain, ghost_fields(aws.domain, recipients))
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["message"] == "Queued. Thank you."
            assert body["id"].startswith("<")
            assert body["id"].endswith(f"@{aws.domain}>")
            batch_id = body["id"][1:-1]
            stored = served.proxy.store.recipients(batch_id)
            assert [r["address"] for r in stored] == list(recipients)

            await served.proxy.sender.wait_idle()
            assert {r["state"] for r in served.proxy.store.recipients(batch_id)} == {"sent"}

            # Ghost posting the same batch again (its answer was lost) gets the same id; nothing is resent.
            again = await post_batch(served.http, aws.domain, ghost_fields(aws.domain, recipients))
            assert again.json()["id"] == body["id"]
            await served.proxy.sender.wait_idle()

            # What SES got: one message per recipient, everything substituted, Ghost's headers carried over.
            assert capture.count_by_recipient() == Counter(dict.fromkeys(recipients, 1))
            expected_tags = {
                "mailgun-message-id": encode_tag_value(batch_id),
                "mailgun-email-id": "65f1c0de0000000000000001",
                "mailgun-tag-1": "ghost-email",
                "mailgun-tag-2": "bulk-email",
            }
            calls = capture.by_recipient()
            send_ids = {r["address"]: r["send_id"] for r in served.proxy.store.recipients(batch_id)}
            assert len(set(send_ids.values())) == len(recipients)  # one id per recipient
            for address in recipients:
                (call,) = calls[address]
                assert call["ConfigurationSetName"] == aws.configuration_set
                # The batch's tags, and the proxy's id of this recipient's send (first attempt).
                tags = {t["Name"]: t["Value"] for t in call["EmailTags"]}
                assert tags == {**expected_tags, "mailgun-send-id": f"{send_ids[address]}-1"}
            for message in capture.messages():
                address = email.utils.parseaddr(str(message["To"]))[1]
                variables = recipients[address]
                assert message["Subject"] == f"Issue 12 for {variables['name']}"
                assert str(message["Reply-To"]) == f"editor@{aws.domain}"
                assert message["Auto-Submitted"] == "auto-generated"
                assert message["X-Auto-Response-Suppress"] == "OOF, AutoReply"
                assert message["List-Unsubscribe"] == f"<{variables['list_unsubscribe']}>"
                assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
                assert message["Message-Id"] == f"<{variables['message_id']}>"
                assert message["Sender"] is None
                html = message.get_body(("html",))
                text = message.get_body(("plain",))
                assert html is not None
                assert text is not None
                html_text, plain = html.get_content(), text.get_content()
                assert f"Hi {variables['name']}," in html_text
                assert variables["uuid"] in html_text
                assert f'href="{variables["list_unsubscribe"]}"' in html_text
                assert "%" not in html_text
                assert "%" not in plain

            # The events, as the worker stores them from the queue.
            await served.worker.drain()
            pages = await ghost_pages(served.http, aws.domain, query(SENT_AT.timestamp() - 1))
            items = [item for page in pages for item in page["items"]]
            assert [len(page["items"]) for page in pages][-1] == 0
            assert all(len(page["items"]) <= 4 for page in pages)
            assert len(pages) > 3
            for page in pages:
                assert set(page["paging"]) == {"first", "last", "next", "previous"}
                for url in page["paging"].values():
                    prefix = f"http://proxy.test/v3/{aws.domain}/events/"
                    assert url.startswith(prefix)
                    assert "/" not in url[len(prefix) :]
            last = pages[-1]["paging"]["next"].rsplit("/", 1)[1]
            again = await served.http.get(f"/v3/{aws.domain}/events/{last}", headers={"Authorization": AUTH})
            assert again.json()["items"] == []

            ids = [item["id"] for item in items]
            assert len(ids) == len(set(ids))
            stamps = [item["timestamp"] for item in items]
            assert stamps == sorted(stamps)
            expected = sorted(
                (MAILGUN_NAME[r["eventType"]], recipient, own_time(r))
                for r in local.records()
                if r["eventType"] in MAILGUN_NAME
                for recipient in r["mail"]["destination"]
            )
            assert sorted((i["event"], i["recipient"], i["timestamp"]) for i in items) == expected
            for item in items:
                assert item["timestamp"] > SENT_AT.timestamp()  # the event's own time, not the send time
                assert item["message"]["headers"]["message-id"] == batch_id
                assert item["user-variables"] == {"email-id": "65f1c0de0000000000000001"}
                assert item["tags"] == ["ghost-email", "bulk-email"]
                assert item["recipient-domain"] == "example.org"

            by = {(i["event"], i["recipient"]): i for i in items}
            assert by["delivered", "ok@example.org"]["delivery-status"]["code"] == 250
            assert ("opened", "ok@example.org") in by
            assert ("opened", "reader@example.org") in by
            hard = by["failed", "bounce@example.org"]
            assert (hard["severity"], hard["reason"]) == ("permanent", "bounce")
            assert (hard["delivery-status"]["code"], hard["delivery-status"]["enhanced-code"]) == (
                550,
                "5.1.1",
            )
            soft = by["failed", "soft@example.org"]
            assert (soft["severity"], soft["delivery-status"]["code"]) == ("temporary", 451)
            blocked = by["failed", "blocked@example.org"]
            assert (blocked["severity"], blocked["reason"], blocked["delivery-status"]["code"]) == (
                "permanent",
                "suppress-bounce",
                605,
            )
            assert ("complained", "angry@example.org") in by
            store = served.proxy.store
            assert store.suppression_of("bounce@example.org") == "bounces"
            assert store.suppression_of("blocked@example.org") == "bounces"
            assert store.suppression_of("angry@example.org") == "complaints"
            assert store.suppression_of("soft@example.org") is None

            accepted = await ghost_pages(served.http, aws.domain, query(0.0, event="accepted", limit="300"))
            assert sorted(i["recipient"] for i in accepted[0]["items"]) == sorted(recipients)


async def test_suppressed_addresses_get_605_until_ghost_deletes_them(aws: Aws, tmp_path: Path) -> None:
    outcomes = {"bounce@example.org": Outcome.BOUNCE, "angry@example.org": Outcome.COMPLAINT}
    first = {a: member(a, "Member") for a in ("ok@example.org", "bounce@example.org", "angry@example.org")}
    with LocalSes(aws.endpoint, seed=4, outcomes=outcomes, clock=lambda: SENT_AT) as local:
        settings = settings_for(aws, tmp_path / "proxy.sqlite3")
        capture = SentCapture()
        async with serve(settings, ses_session=capture.attach(local.async_session())) as served:
            http, store = served.http, served.proxy.store
            assert (await post_batch(http, aws.domain, ghost_fields(aws.domain, first))).status_code == 200
            await served.proxy.sender.wait_idle()

            # SQS delivers every message twice (a redelivery and a duplicate): nothing is stored twice.
            queued = await requeue_everything(aws)
            assert queued == len(local.records())
            await served.worker.drain()
            counts = store.counts()
            assert counts == {"accepted": 3, "delivered": 2, "failed": 1, "complained": 1}
            assert store.suppression_of("bounce@example.org") == "bounces"

            second = ghost_fields(aws.domain, first, email_id="65f1c0de0000000000000002")
            response = await post_batch(http, aws.domain, second)
            second_id = response.json()["id"][1:-1]
            await served.proxy.sender.wait_idle()
            assert capture.count_by_recipient() == Counter(
                {"ok@example.org": 2, "bounce@example.org": 1, "angry@example.org": 1}
            )
            states = {r["address"]: r["state"] for r in store.recipients(second_id)}
            assert states == {
                "ok@example.org": "sent",
                "bounce@example.org": "skipped",
                "angry@example.org": "skipped",
            }

            failed = await ghost_pages(http, aws.domain, query(0.0, event="failed", limit="300"))
            mine = [i for i in failed[0]["items"] if i["message"]["headers"]["message-id"] == second_id]
            by = {i["recipient"]: i for i in mine}
            assert set(by) == {"bounce@example.org", "angry@example.org"}
            assert (
                by["bounce@example.org"]["delivery-status"]["code"],
                by["bounce@example.org"]["reason"],
            ) == (
                605,
                "suppress-bounce",
            )
            assert by["angry@example.org"]["delivery-status"]["code"] == 607
            assert all(i["severity"] == "permanent" for i in mine)
            assert all(i["user-variables"]["email-id"] == "65f1c0de0000000000000002" for i in mine)

            # Ghost lifts the suppression (addresses percent-encoded); a second DELETE is a 404.
            auth = {"Authorization": AUTH}
            lifted = await http.delete(f"/v3/{aws.domain}/bounces/bounce%40example.org", headers=auth)
            assert lifted.status_code == 200
            assert lifted.json() == {
                "message": "Bounced address has been removed",
                "address": "bounce@example.org",
            }
            assert (
                await http.delete(f"/v3/{aws.domain}/bounces/bounce%40example.org", headers=auth)
            ).status_code == 404
            assert (
                await http.delete(f"/v3/{aws.domain}/complaints/angry%40example.org", headers=auth)
            ).status_code == 200
            assert (
                await http.delete(f"/v3/{aws.domain}/unsubscribes/ok%40example.org", headers=auth)
            ).status_code == 404
            assert (
                await http.delete(f"/v3/{aws.domain}/lists/ok%40example.org", headers=auth)
            ).status_code == 404

            # The old bounce arriving again does not put the address back on the list.
            (bounce,) = local.records(event_type=EventType.BOUNCE)
            aws.client("sns").publish(TopicArn=aws.topic_arn, Message=json.dumps(bounce))
            await served.worker.drain()
            assert store.suppression_of("bounce@example.org") is None
            assert store.counts()["failed"] == 3  # the first bounce and the two skipped sends

            third = {"bounce@example.org": first["bounce@example.org"]}
            await post_batch(
                http, aws.domain, ghost_fields(aws.domain, third, email_id="65f1c0de0000000000000003")
            )
            await served.proxy.sender.wait_idle()
            assert capture.count_by_recipient()["bounce@example.org"] == 2


# What a restart does with the recipient whose send was interrupted (m2), by delivery mode and by where its
# send stopped: before the request left (SES never saw it) or after SES accepted it, before the answer came
# back. Columns: settings, the mode they give, where, how many messages SES accepted for m2, m2's state.
NO_SEND_EVENTS: dict[str, Any] = {"send_events": "no"}
RESEND: dict[str, Any] = {"send_events": "no", "resend_interrupted": True}
RESTARTS: list[tuple[dict[str, Any], str, str, int, str]] = [
    ({}, "exactly-once", "before-request", 1, "sent"),
    ({}, "exactly-once", "answer-lost", 1, "sent"),
    (NO_SEND_EVENTS, "at-most-once", "before-request", 0, "unknown"),
    (NO_SEND_EVENTS, "at-most-once", "answer-lost", 1, "sent"),
    (RESEND, "at-least-once", "before-request", 1, "sent"),
    (RESEND, "at-least-once", "answer-lost", 2, "sent"),
]


@pytest.mark.parametrize(
    ("mode", "expected_mode", "where", "sent_to_m2", "state"),
    RESTARTS,
    ids=[f"{mode}-{where}" for _, mode, where, _, _ in RESTARTS],
)
async def test_a_restart_mid_batch(
    aws: Aws,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    mode: dict[str, Any],
    expected_mode: str,
    where: str,
    sent_to_m2: int,
    state: str,
) -> None:
    recipients = {f"m{n}@example.org": member(f"m{n}@example.org", f"M {n}") for n in range(6)}
    settings = settings_for(aws, tmp_path / "proxy.sqlite3", send_concurrency=1, **mode)
    now = [SENT_AT.timestamp()]
    with LocalSes(aws.endpoint, seed=6) as local:
        session = local.async_session()
        calls = 0
        held = asyncio.Event()

        async def hold_the_third_send(model: Any, **_: Any) -> None:
            nonlocal calls
            if model.name != "SendEmail":
                return
            calls += 1
            if calls == 3:
                held.set()
                await asyncio.Event().wait()  # until the proxy stops and cancels it

        # before-call: the request never leaves. after-call: SES accepted it and the proxy never sees the
        # answer; registered at LocalSes's level and after it, so LocalSes has published its events.
        hook = "before-call" if where == "before-request" else "after-call"
        session.register(f"{hook}.sesv2", hold_the_third_send)
        async with serve(settings, ses_session=session, clock=lambda: now[0]) as served:
            response = await post_batch(served.http, aws.domain, ghost_fields(aws.domain, recipients))
            batch_id = response.json()["id"][1:-1]
            await asyncio.wait_for(held.wait(), timeout=10)

        caplog.clear()
        async with serve(settings, ses_session=local.async_session(), clock=lambda: now[0]) as served:
            sender, store = served.proxy.sender, served.proxy.store
            assert sender.mode == expected_mode
            if mode:
                assert "exactly-once delivery cannot hold" in caplog.text
            states = {r["address"]: r["state"] for r in store.recipients(batch_id)}
            # Exactly once: held, reported to nobody, until its Send event or the end of the window.
            assert (
                states["m2@example.org"]
                == {
                    "exactly-once": "unconfirmed",
                    "at-most-once": "unknown",
                    "at-least-once": "pending",
                }[expected_mode]
            )
            await served.worker.drain()  # the events SES published, the Send event of m2 among them
            if sender.mode == "exactly-once" and where == "before-request":
                await asyncio.sleep(0)
                assert store.recipients(batch_id)[2]["state"] == "unconfirmed"  # no event came
                now[0] += settings.send_event_window + 1  # the window passes
                sender.notify(batch_id)
            await asyncio.wait_for(sender.wait_idle(), timeout=30)
            await served.worker.drain()
            final = {r["address"]: r for r in store.recipients(batch_id)}
            pages = await ghost_pages(
                served.http, aws.domain, query(0.0, event="accepted OR failed", limit="300")
            )
    items = [item for page in pages for item in page["items"]]
    accepted = Counter(m.recipients[0] for m in local.messages)  # what SES accepted, per recipient
    assert accepted == Counter(
        {a: 1 for a in recipients if a != "m2@example.org"}
        | ({"m2@example.org": sent_to_m2} if sent_to_m2 else {})
    )
    assert final["m2@example.org"]["state"] == state
    assert {a: r["state"] for a, r in final.items() if a != "m2@example.org"} == dict.fromkeys(
        [a for a in recipients if a != "m2@example.org"], "sent"
    )
    # The recipient's message is one SES accepted (the first, if it got two).
    ses_ids = {m.message_id: m.recipients[0] for m in local.messages}
    for address, row in final.items():
        if row["state"] == "sent":
            assert ses_ids[row["ses_message_id"]] == address
    # Nothing SES accepted is reported failed; Ghost's events agree with SES, attributed to the batch.
    assert [i for i in items if i["event"] == "failed"] == []
    assert Counter(i["recipient"] for i in items if i["event"] == "accepted") == accepted
    assert {i["message"]["headers"]["message-id"] for i in items} == {batch_id}
    assert {i["user-variables"]["email-id"] for i in items} == {"65f1c0de0000000000000001"}
    if where == "answer-lost" and expected_mode != "at-least-once":
        # Found again through the tag of its one attempt (by its Send event, or its Delivery if first).
        assert final["m2@example.org"]["attempt"] == 1
        assert final["m2@example.org"]["detail"].startswith("settled by its ")
    elif expected_mode == "exactly-once":
        assert final["m2@example.org"]["attempt"] == 2  # sent again once the window passed


async def test_open_tracking_follows_o_tracking_opens(aws: Aws, tmp_path: Path) -> None:
    recipients = {"quiet@example.org": member("quiet@example.org", "Q")}
    options = {"o:tracking-opens": "no", "o:tracking-clicks": "no"}
    with LocalSes(aws.endpoint, seed=8, open_rate=1.0, click_rate=1.0) as local:
        session = local.async_session()
        capture = SentCapture(session)
        async with serve(settings_for(aws, tmp_path / "a.sqlite3"), ses_session=session) as served:
            await post_batch(served.http, aws.domain, ghost_fields(aws.domain, recipients, options=options))
            await served.proxy.sender.wait_idle()
            (call,) = capture.calls
            assert call["ConfigurationSetName"] == aws.untracked_configuration_set
            assert {"Name": "mailgun-no-opens", "Value": "yes"} in call["EmailTags"]
            html = SentCapture.mime(call).get_body(("html",))
            assert html is not None
            assert html.get_content().count("ses:no-track") == 2
            await served.worker.drain()
            assert local.records(event_type=EventType.OPEN) == []  # the untracked set publishes no opens
            assert served.proxy.store.counts() == {"accepted": 1, "delivered": 1}

        # Without an untracked set the main one is used, and the proxy drops the opens SES reports.
        local.clear()
        settings = settings_for(aws, tmp_path / "b.sqlite3", untracked_configuration_set=None)
        async with serve(settings, ses_session=session) as served:
            await post_batch(served.http, aws.domain, ghost_fields(aws.domain, recipients, options=options))
            await served.proxy.sender.wait_idle()
            assert capture.calls[-1]["ConfigurationSetName"] == aws.configuration_set
            assert len(local.records(event_type=EventType.OPEN)) == 1
            await served.worker.drain()
            assert served.proxy.store.counts() == {"accepted": 1, "delivered": 1}


async def test_test_mode_scheduling_and_a_full_batch_of_1000(aws: Aws, tmp_path: Path) -> None:
    t0 = SENT_AT.timestamp()
    settings = settings_for(aws, tmp_path / "proxy.sqlite3")
    capture = SentCapture()
    session = capture.attach(async_session())
    members = {f"m{n}@example.org": {"name": f"M{n}"} for n in range(1000)}
    async with serve(settings, ses_session=session, clock=lambda: t0) as served:
        http = served.http
        response = await post_batch(
            http, aws.domain, ghost_fields(aws.domain, members, options={"o:testmode": "yes"})
        )
        assert response.status_code == 200, response.text
        await served.proxy.sender.wait_batch(response.json()["id"][1:-1])
        too_many = dict(members, **{"one-more@example.org": {}})
        refused = await post_batch(http, aws.domain, ghost_fields(aws.domain, too_many))
        assert refused.status_code == 400
        assert "1000" in refused.json()["message"]

        later = email.utils.format_datetime(SENT_AT + timedelta(hours=1))
        scheduled = await post_batch(
            http,
            aws.domain,
            ghost_fields(aws.domain, {"later@example.org": {"name": "L"}}, options={"o:deliverytime": later}),
        )
        scheduled_id = scheduled.json()["id"][1:-1]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(served.proxy.sender.wait_idle()), timeout=0.2)
        assert [r["state"] for r in served.proxy.store.recipients(scheduled_id)] == ["pending"]

        pages = await ghost_pages(http, aws.domain, query(0.0, event="delivered", limit="300"))
        assert [len(p["items"]) for p in pages] == [300, 300, 300, 100, 0]
        assert all(p["items"][0]["flags"]["is-test-mode"] for p in pages[:-1])
    assert capture.calls == []

    async with serve(settings, ses_session=session, clock=lambda: t0 + 7200) as served:
        await served.proxy.sender.wait_idle()
        assert [r["state"] for r in served.proxy.store.recipients(scheduled_id)] == ["sent"]
    assert capture.count_by_recipient() == Counter({"later@example.org": 1})


async def test_events_built_from_records_with_the_real_message_ids(aws: Aws, tmp_path: Path) -> None:
    """Events SES sends that LocalSes does not make (unsubscribe, click, delay, reject, a not-spam
    complaint, an identity notification without tags), published to SNS; and the filters Ghost uses."""
    recipients = {a: member(a, "Member") for a in ("a@example.org", "b@example.org")}
    fields = ghost_fields(aws.domain, recipients)
    async with serve(settings_for(aws, tmp_path / "proxy.sqlite3"), ses_session=async_session()) as served:
        http, store = served.http, served.proxy.store
        response = await post_batch(http, aws.domain, fields)
        batch_id = response.json()["id"][1:-1]
        await served.proxy.sender.wait_idle()
        ses_ids = {r["address"]: r["ses_message_id"] for r in store.recipients(batch_id)}
        tags = ses_tags(parse_message_form(fields, domain=aws.domain, now=0.0, message_id=batch_id))
        base = {"configuration_set": aws.configuration_set, "tags": tags, "source": f"noreply@{aws.domain}"}

        def publish(event_type: EventType, address: str, minute: int, **options: Any) -> None:
            record = make_record(
                event_type,
                recipients=[address],
                message_id=ses_ids[address],
                sent_at=SENT_AT,
                delay=timedelta(minutes=minute),
                **{**base, **options},
            )
            aws.client("sns").publish(TopicArn=aws.topic_arn, Message=json.dumps(record))

        publish(EventType.DELIVERY, "a@example.org", 1)
        publish(EventType.CLICK, "a@example.org", 2)
        publish(EventType.SUBSCRIPTION, "a@example.org", 3)
        publish(EventType.DELIVERY_DELAY, "b@example.org", 4)
        publish(EventType.REJECT, "b@example.org", 5)
        publish(EventType.COMPLAINT, "b@example.org", 6, detail={"complaintFeedbackType": "not-spam"})
        publish(
            EventType.BOUNCE,
            "b@example.org",
            7,
            family=EventFamily.NOTIFICATION,
            tags=None,
            configuration_set=None,
        )
        await served.worker.drain()

        minute = SENT_AT.timestamp()
        everything = await ghost_pages(http, aws.domain, {"ascending": "yes", "limit": "300"})
        items = everything[0]["items"]
        # A Reject has no time of its own: SES stamps it with the send time (mail.timestamp).
        assert [(i["event"], i["recipient"], i["timestamp"] - minute) for i in items] == [
            ("failed", "b@example.org", 0.0),
            ("delivered", "a@example.org", 60.0),
            ("clicked", "a@example.org", 120.0),
            ("unsubscribed", "a@example.org", 180.0),
            ("failed", "b@example.org", 240.0),
            ("failed", "b@example.org", 420.0),
        ]
        assert items[2]["url"] == "https://example.com/welcome"
        assert [(i["severity"], i["delivery-status"]["code"]) for i in items if i["event"] == "failed"] == [
            ("permanent", 550),
            ("temporary", 452),
            ("permanent", 550),
        ]
        notification = items[5]  # no tags in feedback notifications: mapped through the database
        assert notification["message"]["headers"]["message-id"] == batch_id
        assert notification["user-variables"] == {"email-id": "65f1c0de0000000000000001"}
        assert all(i["message"]["headers"]["message-id"] == batch_id for i in items)

        async def events(**params: str) -> list[tuple[str, float]]:
            response = await http.get(
                f"/v3/{aws.domain}/events",
                params=params,
                headers={"Authorization": AUTH, "Content-Type": "application/x-www-form-urlencoded"},
            )
            assert response.status_code == 200, response.text
            return [(i["event"], i["timestamp"] - minute) for i in response.json()["items"]]

        assert await events(event="unsubscribed OR clicked", ascending="yes") == [
            ("clicked", 120.0),
            ("unsubscribed", 180.0),
        ]
        assert await events(tags="bulk-email AND ghost-email", event="failed", ascending="no") == [
            ("failed", 420.0),
            ("failed", 240.0),
            ("failed", 0.0),
        ]
        assert await events(tags="bulk-email AND newsletter-2") == []
        assert await events(tags="bulk-email OR newsletter-2", event="delivered") == [("delivered", 60.0)]
        begin = email.utils.format_datetime(SENT_AT + timedelta(minutes=2))
        end = email.utils.format_datetime(SENT_AT + timedelta(minutes=4))
        assert await events(begin=begin, end=end) == [
            ("clicked", 120.0),
            ("unsubscribed", 180.0),
            ("failed", 240.0),
        ]
        assert await events(begin=end, end=begin) == [
            ("failed", 240.0),
            ("unsubscribed", 180.0),
            ("clicked", 120.0),
        ]
        assert await events(begin=str(minute + 240), end="undefined", ascending="yes", event="failed") == [
            ("failed", 240.0),
            ("failed", 420.0),
        ]
        assert await events(severity="temporary") == [("failed", 240.0)]
        for bad in ({"limit": "301"}, {"event": "bounced"}, {"begin": "yesterday"}):
            response = await http.get(f"/v3/{aws.domain}/events", params=bad, headers={"Authorization": AUTH})
            assert response.status_code == 400
            assert response.json()["message"]
        assert (
            await http.get(f"/v3/{aws.domain}/events/not-a-token", headers={"Authorization": AUTH})
        ).status_code == 400


async def test_basic_auth_is_required_everywhere(aws: Aws, tmp_path: Path) -> None:
    async with serve(settings_for(aws, tmp_path / "proxy.sqlite3"), ses_session=async_session()) as served:
        http = served.http
        fields = ghost_fields(aws.domain, {"a@example.org": {"name": "A"}})

        def basic(user: str, password: str) -> str:
            return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

        for auth in ("", basic("api", "wrong"), basic("apx", API_KEY), "Bearer x", "Basic !!!"):
            response = await post_batch(http, aws.domain, fields, auth=auth)
            assert response.status_code == 401
            assert response.json() == {"message": "Forbidden"}
            headers = {"Authorization": auth} if auth else {}
            assert (await http.get(f"/v3/{aws.domain}/events", headers=headers)).status_code == 401
            assert (
                await http.delete(f"/v3/{aws.domain}/bounces/a%40example.org", headers=headers)
            ).status_code == 401
        assert served.proxy.store.counts() == {}
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        missing = await http.get("/v3/nothing-here")
        assert missing.status_code == 404
        assert missing.json() == {"message": "Not Found"}
        broken = await http.post(
            f"/v3/{aws.domain}/messages",
            content=b"--x\r\nnot multipart",
            headers={"Authorization": AUTH, "Content-Type": "multipart/form-data; boundary=x"},
        )
        assert broken.status_code == 400
        assert (await post_batch(http, aws.domain, fields)).status_code == 200
