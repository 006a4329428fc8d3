"""The pure parts of the proxy: Ghost's form, per-recipient messages, SES tags, the event mapping, queries."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sesflow.events import EventFamily, EventType
from sesflow.sending import Email, build_mime, scan_links
from sesflow.testing import make_event

from ..compose import (
    compose,
    decode_tag_value,
    encode_tag_value,
    limit_tracked_links,
    ses_tags,
    substitute,
    tags_from_ses,
)
from ..mailgun import Batch, MailgunRequestError, Recipient, parse_message_form
from ..mapping import EventRow, MessageInfo, event_id, rows_for_event, suppressed_row
from ..query import EventQuery, PageRequest, QueryError, decode_token, encode_token, paging, parse_query
from ..settings import ProxyConfigError, Settings
from .fixtures import ghost_fields, member

DOMAIN = "news.example.com"
Change = Callable[[list[tuple[str, str]]], list[tuple[str, str]]]
NOW = 1_767_268_800.0  # 2026-01-01 12:00:00 UTC


def batch_of(*addresses: str, **options: str) -> Batch:
    recipients = {a: member(a, a.split("@")[0].title() + " Doe") for a in addresses}
    return parse_message_form(ghost_fields(DOMAIN, recipients, options=options), domain=DOMAIN, now=NOW)


# ----------------------------------------------------------------------------------------- the form


def test_ghost_form_is_read_field_by_field() -> None:
    batch = batch_of("jane@example.org", "Joe@Example.org")
    assert batch.id.endswith(f"@{DOMAIN}")
    assert batch.id.startswith("20260101120000.")
    assert [r.address for r in batch.recipients] == ["jane@example.org", "joe@example.org"]
    assert batch.recipients[1].variables["name"] == "Joe Doe"  # variables found case-insensitively
    assert batch.tags == ("ghost-email", "bulk-email")
    assert batch.email_id == "65f1c0de0000000000000001"
    assert batch.track_opens is True
    assert batch.track_clicks is None
    assert batch.testmode is False
    assert ("Sender", f"bounces@{DOMAIN}") in batch.headers


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: [p for p in f if p[0] != "to"], "to parameter is missing"),
        (lambda f: [p for p in f if p[0] != "from"], "from parameter is missing"),
        (lambda f: [p for p in f if p[0] not in ("html", "text")], "'text' or 'html'"),
        (lambda f: [*f, ("to", "not an address")], "not a valid address"),
        (lambda f: [(k, "{oops" if k == "recipient-variables" else v) for k, v in f], "not valid JSON"),
        (lambda f: [*f, ("o:testmode", "maybe")], "yes or no"),
        (lambda f: [*f, ("o:deliverytime", "next tuesday")], "is not a date"),
        (lambda f: f + [("to", f"m{i}@example.org") for i in range(1000)], "limit is 1000"),
    ],
)
def test_bad_forms_are_refused_with_the_reason(change: Change, message: str) -> None:
    fields = ghost_fields(DOMAIN, {"jane@example.org": member("jane@example.org", "Jane")})
    with pytest.raises(MailgunRequestError, match=message):
        parse_message_form(change(fields), domain=DOMAIN, now=NOW)


def test_options_and_delivery_time() -> None:
    when = email.utils.format_datetime(datetime(2026, 1, 2, 8, 30, tzinfo=UTC))
    batch = batch_of("a@example.org", **{"o:tracking": "no", "o:deliverytime": when, "o:testmode": "yes"})
    assert batch.track_opens is True  # given on its own, it wins over o:tracking
    assert batch.track_clicks is False
    assert batch.testmode is True
    assert batch.deliver_at == datetime(2026, 1, 2, 8, 30, tzinfo=UTC).timestamp()


# ----------------------------------------------------------------------------------------- composing


def test_one_message_per_recipient_with_substitution_everywhere() -> None:
    batch = batch_of("jane@example.org", "joe@example.org")
    jane = batch.recipients[0]
    message = compose(batch, jane, configuration_set="ghost")
    assert isinstance(message, Email)
    assert message.recipients == ("jane@example.org",)
    assert message.subject == "Issue 12 for Jane Doe"
    assert message.html is not None
    assert message.text is not None
    assert "Hi Jane Doe" in message.html
    assert jane.variables["uuid"] in message.html
    assert "%" not in message.html
    assert "%" not in message.text
    assert message.headers["Message-Id"] == f"<{jane.variables['message_id']}>"
    assert message.headers["Auto-Submitted"] == "auto-generated"
    assert "Sender" not in message.headers  # sesflow sets the sender; see the README
    assert [str(a) for a in message.reply_to] == [f"editor@{DOMAIN}"]
    unsubscribe = message.all_headers()
    assert unsubscribe["List-Unsubscribe"] == f"<{jane.variables['list_unsubscribe']}>"
    assert unsubscribe["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.configuration_set == "ghost"
    assert message.tags == ses_tags(batch)
    other = compose(batch, batch.recipients[1], configuration_set="ghost")
    assert other.subject == "Issue 12 for Joe Doe"


def test_an_empty_message_id_is_left_to_ses() -> None:
    recipients = {"jane@example.org": {"name": "Jane"}}  # opted in to h:Message-Id, but no message_id
    batch = parse_message_form(ghost_fields(DOMAIN, recipients), domain=DOMAIN, now=NOW)
    message = compose(batch, batch.recipients[0], configuration_set="g")
    assert "Message-Id" not in message.headers
    assert build_mime(message)["Message-Id"] is None


def test_mailgun_unsubscribe_mailto_can_be_replaced() -> None:
    batch = batch_of("jane@example.org")
    message = compose(
        batch, batch.recipients[0], configuration_set="g", unsubscribe_mailto="mailto:u@example.com"
    )
    assert message.list_unsubscribe is not None
    assert message.list_unsubscribe.mailto == "mailto:u@example.com"
    assert message.all_headers()["List-Unsubscribe"].endswith(", <mailto:u@example.com>")


def test_builtin_recipient_variables() -> None:
    jane = Recipient(0, "Jane Q Doe <jane@example.org>", "jane@example.org", {})
    text = "%recipient% | %recipient_email% | %recipient_name% | %recipient_fname% | %recipient_lname% | "
    text += "%recipient.x%"
    assert substitute(text, jane) == (
        "Jane Q Doe <jane@example.org> | jane@example.org | Jane Q Doe | Jane | Q Doe | "
    )
    typed = Recipient(
        0, "a@example.org", "a@example.org", {"n": 3.0, "ok": True, "none": None, "obj": {"a": 1}}
    )
    assert substitute("%recipient.n% %recipient.ok% [%recipient.none%] %recipient.obj%", typed) == (
        '3 true [] {"a":1}'
    )


def test_click_tracking_off_marks_every_link() -> None:
    batch = batch_of("jane@example.org", **{"o:tracking-clicks": "no"})
    message = compose(batch, batch.recipients[0], configuration_set="g")
    assert message.html is not None
    links = scan_links(message.html).links
    assert links
    assert not any(link.tracked for link in links)


def test_more_than_250_links_are_capped_for_ses() -> None:
    html = "".join(f'<a href="https://example.com/{i}">{i}</a>' for i in range(260))
    capped = limit_tracked_links(html, 250)
    assert scan_links(capped).tracked == 250
    assert capped.count("ses:no-track") == 10
    assert limit_tracked_links(html, 300) == html


@pytest.mark.parametrize(
    "value", ["bulk-email", "20260101120000.ab12@news.example.com", "ünïcode tag", "a_b", "", "x" * 300]
)
def test_tag_values_fit_ses_and_decode_back(value: str) -> None:
    encoded = encode_tag_value(value)
    assert 1 <= len(encoded) <= 256
    assert all(c.isascii() and (c.isalnum() or c in "-_") for c in encoded)
    if len(value) < 80:
        assert decode_tag_value(encoded) == value


def test_ses_tags_are_read_back_from_an_event() -> None:
    batch = batch_of("jane@example.org", **{"o:tracking-opens": "no"})
    tags = ses_tags(batch)
    Email("a@example.com", "b@example.com", subject="s", text="t", tags=tags)  # valid for SES
    event = make_event(EventType.DELIVERY, tags=tags)
    assert tags_from_ses(event.tags) == (batch.id, batch.email_id, batch.tags, False)


# ----------------------------------------------------------------------------------------- mapping

INFO = MessageInfo(
    message_id=f"20260101.1@{DOMAIN}", domain=DOMAIN, tags=("bulk-email",), user_variables={"email-id": "e1"}
)


def one(event_type: EventType, **options: Any) -> EventRow:
    rows = rows_for_event(make_event(event_type, recipients=["jane@example.org"], **options), INFO)
    assert len(rows) == 1
    return rows[0]


def test_delivery_carries_the_smtp_response_and_the_events_own_time() -> None:
    sent = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    row = one(
        EventType.DELIVERY, sent_at=sent, delay=timedelta(seconds=7), detail={"smtpResponse": "250 2.6.0 ok"}
    )
    assert row.event == "delivered"
    assert row.timestamp == sent.timestamp() + 7
    item = row.item
    assert item["delivery-status"]["code"] == 250
    assert item["delivery-status"]["enhanced-code"] == "2.6.0"
    assert item["message"]["headers"]["message-id"] == INFO.message_id
    assert item["user-variables"] == {"email-id": "e1"}
    assert item["tags"] == ["bulk-email"]
    assert one(EventType.DELIVERY, detail={"smtpResponse": None}).item["delivery-status"]["code"] == 250


@pytest.mark.parametrize(
    ("detail", "severity", "code", "reason", "suppress"),
    [
        ({}, "permanent", 550, "bounce", "bounces"),
        (
            {
                "bouncedRecipients": [
                    {
                        "emailAddress": "jane@example.org",
                        "status": "5.7.1",
                        "diagnosticCode": "smtp; 554 5.7.1 spam",
                    }
                ]
            },
            "permanent",
            554,
            "bounce",
            "bounces",
        ),
        (
            {"bouncedRecipients": [{"emailAddress": "jane@example.org"}]},
            "permanent",
            550,
            "bounce",
            "bounces",
        ),
        ({"bounceSubType": "OnAccountSuppressionList"}, "permanent", 605, "suppress-bounce", "bounces"),
        ({"bounceType": "Transient", "bounceSubType": "MailboxFull"}, "temporary", 451, "generic", None),
        (
            {
                "bounceType": "Transient",
                "bouncedRecipients": [
                    {"emailAddress": "jane@example.org", "diagnosticCode": "smtp; 421 4.4.2 timeout"}
                ],
            },
            "temporary",
            421,
            "generic",
            None,
        ),
        ({"bounceType": "Undetermined", "bounceSubType": "Undetermined"}, "temporary", 451, "generic", None),
    ],
)
def test_bounces(detail: dict[str, Any], severity: str, code: int, reason: str, suppress: str | None) -> None:
    row = one(EventType.BOUNCE, detail=detail)
    assert (row.event, row.severity, row.suppress) == ("failed", severity, suppress)
    assert row.item["severity"] == severity
    assert row.item["reason"] == reason
    assert row.item["delivery-status"]["code"] == code


def test_bounce_enhanced_code_comes_from_status() -> None:
    assert one(EventType.BOUNCE).item["delivery-status"]["enhanced-code"] == "5.1.1"


def test_other_failures() -> None:
    delay = one(EventType.DELIVERY_DELAY)
    assert (delay.event, delay.severity, delay.item["delivery-status"]["code"]) == (
        "failed",
        "temporary",
        452,
    )
    for event_type in (EventType.REJECT, EventType.RENDERING_FAILURE):
        row = one(event_type)
        assert (row.event, row.severity, row.item["delivery-status"]["code"]) == ("failed", "permanent", 550)
        assert row.suppress is None


def test_complaints_open_click_subscription_send() -> None:
    complaint = one(EventType.COMPLAINT)
    assert (complaint.event, complaint.suppress) == ("complained", "complaints")
    assert (
        rows_for_event(make_event(EventType.COMPLAINT, detail={"complaintFeedbackType": "not-spam"}), INFO)
        == []
    )
    assert one(EventType.OPEN).event == "opened"
    click = one(EventType.CLICK)
    assert (click.event, click.item["url"]) == ("clicked", "https://example.com/welcome")
    assert one(EventType.SUBSCRIPTION).event == "unsubscribed"
    assert one(EventType.SEND).event == "accepted"


def test_opens_of_untracked_messages_are_dropped() -> None:
    untracked = MessageInfo(message_id="m@x.example.com", domain="x.example.com", track_opens=False)
    assert rows_for_event(make_event(EventType.OPEN), untracked) == []


def test_ids_are_derived_from_the_ses_event() -> None:
    record_event = make_event(EventType.BOUNCE, recipients=["a@example.org", "b@example.org"])
    again = make_event(EventType.BOUNCE, recipients=["a@example.org", "b@example.org"])
    first = rows_for_event(record_event, INFO)
    assert [r.id for r in first] == [r.id for r in rows_for_event(record_event, INFO)]
    assert len({r.id for r in first}) == 2  # one per recipient
    assert {r.id for r in first}.isdisjoint(r.id for r in rows_for_event(again, INFO))  # another bounce
    assert all(len(r.id) == 22 for r in first)


def test_unknown_messages_fall_back_to_tags_then_to_the_ses_id() -> None:
    event = make_event(EventType.DELIVERY, recipients=["jane@example.org"])
    (row,) = rows_for_event(event, None)
    assert row.domain is None
    assert row.message_id == event.message_id
    notification = make_event(EventType.BOUNCE, family=EventFamily.NOTIFICATION)
    assert rows_for_event(notification, {"recipient@example.com": INFO})[0].message_id == INFO.message_id


def test_suppressed_send_codes() -> None:
    bounced = suppressed_row(INFO, "jane@example.org", "bounces", NOW, 3)
    complained = suppressed_row(INFO, "jane@example.org", "complaints", NOW, 3)
    assert bounced.item["delivery-status"]["code"] == 605
    assert bounced.item["reason"] == "suppress-bounce"
    assert complained.item["delivery-status"]["code"] == 607
    assert complained.severity == "permanent"
    assert bounced.id == suppressed_row(INFO, "jane@example.org", "bounces", NOW + 5, 3).id
    assert bounced.id != event_id("x")


# ----------------------------------------------------------------------------------------- queries


def test_ghost_query_with_undefined_values() -> None:
    query = parse_query(
        {
            "limit": "300",
            "event": "delivered OR opened OR failed",
            "tags": "bulk-email AND ghost-email",
            "ascending": "yes",
            "begin": "1767268800.5",
            "end": "undefined",
        }
    )
    assert query == EventQuery(
        events=("delivered", "opened", "failed"),
        tags=("bulk-email", "ghost-email"),
        begin=1767268800.5,
        ascending=True,
        limit=300,
    )
    assert query.time_range == (1767268800.5, None)
    assert parse_query({"begin": "undefined", "limit": "undefined"}) == EventQuery()


def test_dates_directions_and_errors() -> None:
    query = parse_query({"begin": "Thu, 01 Jan 2026 12:00:10 +0000", "end": "Thu, 01 Jan 2026 12:00:00 GMT"})
    assert query.ascending is False
    assert query.time_range == (NOW, NOW + 10)
    assert parse_query({"begin": "5"}).ascending is True
    assert parse_query({"tags": "a OR b"}).tags_any is True
    for bad in (
        {"limit": "301"},
        {"limit": "0"},
        {"event": "bounced"},
        {"begin": "soon"},
        {"tags": "a AND b OR c"},
    ):
        with pytest.raises(QueryError):
            parse_query(bad)


def test_tokens_are_one_url_safe_segment_and_round_trip() -> None:
    page = PageRequest(
        parse_query({"event": "failed", "tags": "x y AND z", "ascending": "no"}), "next", (NOW, "a/b")
    )
    token = encode_token(page)
    assert "/" not in token
    assert "=" not in token
    assert "?" not in token
    assert "+" not in token
    assert decode_token(token) == page
    for garbage in ("nope", encode_token(page)[:-3], "e30", "W10"):
        with pytest.raises(QueryError):
            decode_token(garbage)
    links = paging("http://proxy.test/", DOMAIN, page, [(NOW, "a"), (NOW + 1, "b")])
    assert all(url.startswith(f"http://proxy.test/v3/{DOMAIN}/events/") for url in links.values())
    assert decode_token(links["next"].rsplit("/", 1)[1]).cursor == (NOW + 1, "b")
    assert decode_token(links["previous"].rsplit("/", 1)[1]).cursor == (NOW, "a")
    empty = paging("http://proxy.test", DOMAIN, page, [])
    assert decode_token(empty["next"].rsplit("/", 1)[1]).cursor == page.cursor


# ----------------------------------------------------------------------------------------- settings


def test_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "GHOST_PROXY_API_KEY": "secret-key-17",
            "GHOST_PROXY_CONFIGURATION_SET": "ghost",
            "GHOST_PROXY_MAX_SEND_RATE": "14",
            "GHOST_PROXY_RESEND_INTERRUPTED": "yes",
            "GHOST_PROXY_ENDPOINT_URL": "http://127.0.0.1:5000",
            "AWS_REGION": "eu-west-1",
        }
    )
    assert settings.max_send_rate == 14.0
    assert settings.resend_interrupted is True
    assert settings.ses_endpoint_url == settings.sqs_endpoint_url == "http://127.0.0.1:5000"
    assert settings.region == "eu-west-1"
    assert settings.ses_api == "v2"
    assert "secret-key-17" not in repr(settings)
    with pytest.raises(ProxyConfigError, match="GHOST_PROXY_API_KEY"):
        Settings.from_env({"GHOST_PROXY_CONFIGURATION_SET": "ghost"})
    with pytest.raises(ProxyConfigError, match="GHOST_PROXY_CONFIGURATION_SET"):
        Settings.from_env({"GHOST_PROXY_API_KEY": "k", "GHOST_PROXY_CONFIGURATION_SET": "no spaces"})
    with pytest.raises(ProxyConfigError, match="GHOST_PROXY_PORT"):
        Settings.from_env(
            {"GHOST_PROXY_API_KEY": "k", "GHOST_PROXY_CONFIGURATION_SET": "g", "GHOST_PROXY_PORT": "x"}
        )
