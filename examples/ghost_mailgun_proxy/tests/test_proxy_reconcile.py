"""Exactly once across crashes, piece by piece: the send tag, the decisions, the store's transitions, the
check of a configuration set's destinations, the crash hook's and the settings' parsing."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs
import pytest

from sesflow.events import EventType
from sesflow.provisioning import Provisioner
from sesflow.sending import Email
from sesflow.testing import LocalSes, make_event

from ..compose import TAG_SEND
from ..crashpoints import parse_crash_points
from ..mailgun import parse_message_form
from ..mapping import EventRow
from ..provision import send_event_destinations
from ..reconcile import (
    Doubt,
    acceptance,
    delivery_mode,
    doubt_state,
    parse_send_tag,
    resend_due,
    send_id,
    send_tag,
)
from ..settings import ProxyConfigError, Settings
from ..store import Store
from .fixtures import (
    Aws,
    async_session,
    ghost_fields,
    ghost_pages,
    member,
    post_batch,
    serve,
    settings_for,
)

DOMAIN = "news.example.com"

# ----------------------------------------------------------------------------------------- the tag


def test_the_send_tag_is_per_recipient_valid_for_ses_and_read_back_from_events() -> None:
    ids = {send_id(batch, index) for batch in ("1@a.example", "2@a.example") for index in range(500)}
    assert len(ids) == 1000  # one per (batch, recipient)
    value = send_tag(send_id("1@a.example", 7), 12)
    Email("a@example.com", "b@example.com", subject="s", text="t", tags={TAG_SEND: value})  # SES's rules
    event = make_event(EventType.SEND, tags={TAG_SEND: value, "mailgun-message-id": "x"})
    assert parse_send_tag(event.tags) == (send_id("1@a.example", 7), 12)


@pytest.mark.parametrize(
    "tags",
    [
        {},
        {TAG_SEND: ()},
        {TAG_SEND: ("",)},
        {TAG_SEND: ("no-attempt-",)},
        {TAG_SEND: ("short-1",)},
        {TAG_SEND: ("A" * 22,)},
        {TAG_SEND: ("A" * 22 + "-x1",)},
        {TAG_SEND: ("A" * 23 + "-1",)},
        {"other": ("A" * 22 + "-1",)},
    ],
)
def test_events_without_a_well_formed_send_tag_are_not_matched(tags: dict[str, tuple[str, ...]]) -> None:
    assert parse_send_tag(tags) is None


# ----------------------------------------------------------------------------------------- decisions


@pytest.mark.parametrize(
    ("state", "recorded", "outcome"),
    [
        ("sending", None, "settle"),  # its answer not recorded yet (or never to be)
        ("unconfirmed", None, "settle"),  # held after a crash
        ("pending", None, "settle"),  # the window passed, not claimed again yet: do not resend
        ("unknown", None, "settle"),  # given up without Send events; another event type came
        ("sent", "ses-1", "known"),  # the answer was recorded, or a redelivery
        ("sent", "ses-0", "duplicate"),  # SES accepted two messages: the event came after the window
    ],
)
def test_what_an_event_of_a_tagged_send_means(state: str, recorded: str | None, outcome: str) -> None:
    assert acceptance(state, recorded, "ses-1") == outcome


def test_a_doubt_is_due_a_window_after_its_claim_or_the_worker_catching_up_whichever_is_later() -> None:
    early, late = Doubt(0, 1, claimed_at=100.0), Doubt(1, 1, claimed_at=500.0)
    assert resend_due([early, late], ready_at=None, window=60, now=10_000) == ([], None)
    # The worker caught up at 200: early is due at 260, late at 560.
    assert resend_due([early, late], ready_at=200.0, window=60, now=259.0) == ([], 1.0)
    assert resend_due([early, late], ready_at=200.0, window=60, now=260.0) == ([early], 300.0)
    assert resend_due([early, late], ready_at=200.0, window=60, now=560.0) == ([early, late], None)
    # A proxy down for a day: nothing is due until its worker has read the day's events, then a window.
    assert resend_due([early], ready_at=86_400.0, window=60, now=86_459.0) == ([], 1.0)


@pytest.mark.parametrize(
    ("send_events", "event_queue", "resend", "mode", "state"),
    [
        (True, True, False, "exactly-once", "unconfirmed"),
        (True, True, True, "exactly-once", "unconfirmed"),
        (False, True, False, "at-most-once", "unknown"),
        (True, False, False, "at-most-once", "unknown"),
        (False, True, True, "at-least-once", "pending"),
    ],
)
def test_delivery_modes(send_events: bool, event_queue: bool, resend: bool, mode: str, state: str) -> None:
    found = delivery_mode(send_events=send_events, event_queue=event_queue, resend_interrupted=resend)
    assert found == mode
    assert doubt_state(found) == state


SNS_V1 = {"SNSDestination": {"TopicARN": "arn:aws:sns:us-east-1:123456789012:t"}}
SNS_V2 = {"SnsDestination": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t"}}
BUS_V2 = {
    "EventBridgeDestination": {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"}
}
FIREHOSE = {"KinesisFirehoseDestination": {"DeliveryStreamArn": "arn", "IAMRoleArn": "arn"}}


@pytest.mark.parametrize(
    ("destination", "publishes"),
    [
        ({"Enabled": True, "MatchingEventTypes": ["send", "delivery"], **SNS_V1}, True),
        ({"Enabled": True, "MatchingEventTypes": ["SEND", "BOUNCE"], **SNS_V2}, True),
        ({"Enabled": True, "MatchingEventTypes": ["SEND"], **BUS_V2}, True),
        ({"Enabled": False, "MatchingEventTypes": ["send"], **SNS_V1}, False),
        ({"MatchingEventTypes": ["send"], **SNS_V1}, False),
        ({"Enabled": True, "MatchingEventTypes": ["delivery", "bounce"], **SNS_V1}, False),
        ({"Enabled": True, "MatchingEventTypes": ["send"], **FIREHOSE}, False),
        ({"Enabled": True, "MatchingEventTypes": ["send"], "CloudWatchDestination": {}}, False),
        ({"Enabled": True, "MatchingEventTypes": None, **SNS_V1}, False),
    ],
)
def test_which_destinations_bring_send_events_to_the_queue(
    destination: dict[str, Any], publishes: bool
) -> None:
    found = send_event_destinations([{"Name": "d1", **destination}, {"Name": "d2", "Enabled": False}])
    assert found == (["d1"] if publishes else [])


# ----------------------------------------------------------------------------------------- the store


def row(key: str) -> EventRow:
    return EventRow(
        id=key,
        event="accepted",
        timestamp=1.0,
        recipient="jane@example.org",
        domain=DOMAIN,
        message_id="m",
        severity=None,
        tags=(),
        item=MappingProxyType({"id": key}),
    )


@pytest.fixture
def batch_store(tmp_path: Path) -> Store:
    """A database with one batch of two members (jane, joe)."""
    db = Store(tmp_path / "proxy.sqlite3")
    fields = ghost_fields(DOMAIN, {a: member(a, "M") for a in ("jane@example.org", "joe@example.org")})
    db.add_batch(parse_message_form(fields, domain=DOMAIN, now=1.0, message_id="b1@news.example.com"), "set")
    return db


def test_the_intent_carries_the_attempt_and_an_event_settles_it_once(batch_store: Store) -> None:
    store = batch_store
    assert store.claim("b1@news.example.com", 0) == 1
    assert store.claim("b1@news.example.com", 0) is None  # not pending any more
    (jane,) = [r for r in store.recipients("b1@news.example.com") if r["idx"] == 0]
    assert (jane["state"], jane["attempt"], jane["send_id"]) == (
        "sending",
        1,
        send_id("b1@news.example.com", 0),
    )
    # A restart: what was in flight is held for its Send event.
    held = [(b, r.index, state) for b, r, state in store.interrupted("unconfirmed")]
    assert held == [("b1@news.example.com", 0, "unconfirmed")]
    assert [d.index for d in store.doubts("b1@news.example.com")] == [0]

    found = store.record_event(jane["send_id"], "ses-1", [row("e1")], "Send")
    assert (found.batch_id, found.index, found.outcome, found.previous) == (
        "b1@news.example.com",
        0,
        "settle",
        "unconfirmed",
    )
    assert store.record_event(jane["send_id"], "ses-1", [row("e1")], "Send").outcome == "known"
    assert store.counts() == {"accepted": 1}  # the redelivered event is stored once
    later = store.record_event(jane["send_id"], "ses-2", [row("e2")], "Send")
    assert later.outcome == "duplicate"
    (jane,) = [r for r in store.recipients("b1@news.example.com") if r["idx"] == 0]
    assert (jane["state"], jane["ses_message_id"]) == ("sent", "ses-1")  # the first stays its message
    assert jane["detail"] == "duplicate: SES also accepted ses-2"
    assert store.doubts("b1@news.example.com") == []
    unknown = store.record_event("X" * 22, "ses-3", [row("e3")], "Send")
    assert (unknown.batch_id, unknown.outcome) == (None, None)
    assert store.counts() == {"accepted": 3}  # an event of a message this database does not know is kept


def test_expiry_and_doubt_do_not_undo_a_settlement(batch_store: Store) -> None:
    store = batch_store
    batch = "b1@news.example.com"
    assert store.claim(batch, 1) == 1
    assert store.doubt(batch, 1, "unconfirmed", "no answer")
    (doubt,) = store.doubts(batch)
    assert store.expire(batch, Doubt(1, 2, doubt.claimed_at)) is False  # another attempt's window
    assert store.expire(batch, doubt) is True
    assert [r.index for r in store.pending(batch)] == [0, 1]  # joe is to send again (jane never was sent)
    assert store.claim(batch, 1) == 2
    # The Send event of attempt 1 comes while attempt 2 is in flight: settled, and attempt 2's own answer
    # (a second message SES accepted) is then the duplicate, not the recipient's message.
    key = send_id(batch, 1)
    assert store.record_event(key, "ses-a1", [], "Send").outcome == "settle"
    assert store.doubt(batch, 1, "unconfirmed") is False  # settled: the sender's doubt changes nothing
    assert store.record_sent(batch, 1, "ses-a2").outcome == "duplicate"
    (joe,) = [r for r in store.recipients(batch) if r["idx"] == 1]
    assert (joe["state"], joe["ses_message_id"], joe["attempt"]) == ("sent", "ses-a1", 2)
    assert store.finish_batch(batch) is False  # jane is still pending


def test_a_database_of_the_first_release_gets_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE recipients (batch_id TEXT NOT NULL, idx INTEGER NOT NULL, to_field TEXT NOT NULL, "
            "address TEXT NOT NULL, variables TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', "
            "ses_message_id TEXT, detail TEXT, updated_at REAL, PRIMARY KEY (batch_id, idx))"
        )
        old.execute(
            "INSERT INTO recipients (batch_id, idx, to_field, address, variables) "
            "VALUES ('b', 0, 'a@x.org', 'a@x.org', '{}')"
        )
        old.execute(
            "INSERT INTO recipients (batch_id, idx, to_field, address, variables, state) "
            "VALUES ('b', 1, 'c@x.org', 'c@x.org', '{}', 'sending')"
        )
    store = Store(path)
    assert store.claim("b", 0) == 1
    assert store.recipients("b")[0]["send_id"] == send_id("b", 0)
    # In flight under the first release, so sent without a send tag: no event can be matched to it.
    held = [(b, r.index, state) for b, r, state in store.interrupted("unconfirmed")]
    assert held == [("b", 0, "unconfirmed"), ("b", 1, "unknown")]
    store.close()


# ----------------------------------------------------------------------------------------- parsing


def test_crash_points() -> None:
    assert parse_crash_points("") == {}
    assert parse_crash_points("intent-recorded:3, event-settled:1") == {
        "intent-recorded": 3,
        "event-settled": 1,
    }


@pytest.mark.parametrize(
    "text", ["nowhere:1", "intent-recorded", "intent-recorded:0", "intent-recorded:x", ":1"]
)
def test_crash_points_that_are_not(text: str) -> None:
    with pytest.raises(ValueError, match=r"crash point|give the point"):
        parse_crash_points(text)


BASE = {"GHOST_PROXY_API_KEY": "k", "GHOST_PROXY_CONFIGURATION_SET": "ghost"}


def test_the_window_settings() -> None:
    settings = Settings.from_env(BASE)
    assert (settings.send_events, settings.send_event_window, settings.queue_visibility_timeout) == (
        "check",
        3600.0,
        60,
    )
    settings = Settings.from_env(
        {
            **BASE,
            "GHOST_PROXY_SEND_EVENTS": "yes",
            "GHOST_PROXY_SEND_EVENT_WINDOW": "2.5",
            "GHOST_PROXY_QUEUE_VISIBILITY_TIMEOUT": "1",
        }
    )
    assert (settings.send_events, settings.send_event_window, settings.queue_visibility_timeout) == (
        "yes",
        2.5,
        1,
    )
    assert Settings.from_env({**BASE, "GHOST_PROXY_SEND_EVENTS": "off"}).send_events == "no"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"GHOST_PROXY_SEND_EVENTS": "maybe"}, "GHOST_PROXY_SEND_EVENTS"),
        ({"GHOST_PROXY_SEND_EVENT_WINDOW": "soon"}, "GHOST_PROXY_SEND_EVENT_WINDOW"),
        ({"GHOST_PROXY_SEND_EVENT_WINDOW": "-5"}, "GHOST_PROXY_SEND_EVENT_WINDOW"),
        ({"GHOST_PROXY_SEND_EVENT_WINDOW": "inf"}, "GHOST_PROXY_SEND_EVENT_WINDOW"),
        ({"GHOST_PROXY_SEND_EVENT_WINDOW": "nan"}, "GHOST_PROXY_SEND_EVENT_WINDOW"),
        ({"GHOST_PROXY_SEND_EVENT_WINDOW": "30"}, "GHOST_PROXY_QUEUE_VISIBILITY_TIMEOUT"),
        ({"GHOST_PROXY_QUEUE_VISIBILITY_TIMEOUT": "0"}, "GHOST_PROXY_QUEUE_VISIBILITY_TIMEOUT"),
        ({"GHOST_PROXY_QUEUE_VISIBILITY_TIMEOUT": "50000"}, "GHOST_PROXY_QUEUE_VISIBILITY_TIMEOUT"),
        ({"GHOST_PROXY_QUEUE_VISIBILITY_TIMEOUT": "1.5"}, "GHOST_PROXY_QUEUE_VISIBILITY_TIMEOUT"),
    ],
)
def test_bad_window_settings_name_the_variable(changes: dict[str, str], named: str) -> None:
    with pytest.raises(ProxyConfigError, match=named):
        Settings.from_env({**BASE, **changes})


# ----------------------------------------------------------------------------------------- on moto


async def test_startup_says_whether_exactly_once_can_hold(
    aws: Aws, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ghost_mailgun_proxy")
    session = async_session()
    checked = settings_for(aws, tmp_path / "a.sqlite3", ses_api="v1", send_events="check")
    async with serve(checked, ses_session=session) as served:
        assert served.proxy.sender.mode == "exactly-once"
    for name in (aws.configuration_set, aws.untracked_configuration_set):
        assert f"configuration set {name} publishes Send events (through {name}-events)" in caplog.text
    assert "exactly once: a send interrupted by a crash waits up to 3600 s" in caplog.text

    # A set of the user's own whose destination leaves Send events out.
    name = f"{aws.configuration_set}-own"
    provisioner = Provisioner(aws.session, endpoint_url=aws.endpoint, api="v1")
    provisioner.ensure_configuration_set(name)
    provisioner.ensure_sns_destination(
        name, aws.topic_arn, name=f"{name}-events", event_types=[EventType.DELIVERY, EventType.BOUNCE]
    )
    caplog.clear()
    own = attrs.evolve(checked, database=tmp_path / "b.sqlite3", configuration_set=name)
    async with serve(own, ses_session=session) as served:
        assert served.proxy.sender.mode == "at-most-once"
    assert (
        f"exactly-once delivery cannot hold: configuration set {name} publishes no Send events to SNS or "
        "EventBridge. Falling back to at most once" in caplog.text
    )

    # Destinations SES will not list (here: moto has no v2 call for them) cannot vouch for it either.
    caplog.clear()
    unreadable = attrs.evolve(checked, database=tmp_path / "c.sqlite3", ses_api="v2")
    async with serve(unreadable, ses_session=session) as served:
        assert served.proxy.sender.mode == "at-most-once"
    assert f"could not read the event destinations of {aws.configuration_set}" in caplog.text
    assert "GHOST_PROXY_SEND_EVENTS=yes" in caplog.text


async def test_a_send_event_later_than_the_window_is_the_one_duplicate(
    aws: Aws, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The trade-off the README documents: SES accepted the interrupted send, but its Send event came only
    after the window, when the proxy had sent it again. The member got two messages; the proxy says so."""
    recipients = {f"m{n}@example.org": member(f"m{n}@example.org", f"M {n}") for n in range(3)}
    settings = settings_for(aws, tmp_path / "proxy.sqlite3", send_concurrency=1)
    now = [1_800_000_000.0]
    with LocalSes(aws.endpoint, seed=9) as local:
        session = local.async_session()

        calls = 0

        async def lose_the_answer_of_m2(model: Any, **_: Any) -> None:
            nonlocal calls
            calls += model.name == "SendEmail"
            if model.name == "SendEmail" and calls == 3:  # m2: one at a time, in order
                await asyncio.Event().wait()  # SES has it (LocalSes published its events); no answer

        session.register("after-call.sesv2", lose_the_answer_of_m2)
        async with serve(settings, ses_session=session, clock=lambda: now[0]) as served:
            response = await post_batch(served.http, aws.domain, ghost_fields(aws.domain, recipients))
            batch_id = response.json()["id"][1:-1]
            for _ in range(200):
                if len(local.messages) == 3:
                    break
                await asyncio.sleep(0.01)
        # SES's events are late: off the queue for now.
        sqs = aws.client("sqs")
        late: list[str] = []
        while answer := sqs.receive_message(
            QueueUrl=aws.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600
        ).get("Messages"):
            late.extend(message["Body"] for message in answer)
        assert len(late) == 6  # Send and Delivery of three messages

        async with serve(settings, ses_session=local.async_session(), clock=lambda: now[0]) as served:
            sender, store = served.proxy.sender, served.proxy.store
            await served.worker.drain()  # caught up: the window starts now
            now[0] += settings.send_event_window + 1
            sender.notify(batch_id)
            await asyncio.wait_for(sender.wait_idle(), timeout=30)
            (m2,) = [r for r in store.recipients(batch_id) if r["address"] == "m2@example.org"]
            assert (m2["state"], m2["attempt"]) == ("sent", 2)
            for body in late:  # SES's events arrive at last
                sqs.send_message(QueueUrl=aws.queue_url, MessageBody=body)
            await served.worker.drain()
            (after,) = [r for r in store.recipients(batch_id) if r["address"] == "m2@example.org"]
            pages = await ghost_pages(served.http, aws.domain, {"event": "accepted", "limit": "300"})
    to_m2 = [m.message_id for m in local.messages if m.recipients == ("m2@example.org",)]
    assert len(to_m2) == 2  # the duplicate
    assert after["ses_message_id"] == m2["ses_message_id"] == to_m2[1]
    assert after["detail"] == f"duplicate: SES also accepted {to_m2[0]}"
    assert "m2@example.org of " in caplog.text
    assert "got the message twice" in caplog.text
    assert "raise GHOST_PROXY_SEND_EVENT_WINDOW" in caplog.text
    # Ghost's view agrees with SES: two accepted messages for m2, one for the others.
    accepted = Counter(i["recipient"] for page in pages for i in page["items"])
    assert accepted == Counter({"m0@example.org": 1, "m1@example.org": 1, "m2@example.org": 2})
