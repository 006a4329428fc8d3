"""Hypothesis strategies that generate valid SES records, for testing your own event handlers.

Every strategy here draws records in SES's own JSON shape (plain ``dict``/``list``/``str`` values, exactly
what ``json.loads`` gives for a record SES published), with realistic values: addresses, SES message ids,
millisecond ``Z`` timestamps, ``mail.tags`` with ``ses:configuration-set``, bounce types paired with the
subtypes SES uses for them. Optional fields are sometimes absent, and open enumerations sometimes carry a
value this version of sesflow does not know, as SES may send tomorrow: a handler tested against these records
copes with what SES actually sends. ``ses_events()`` gives the parsed events instead of records.

For example, to check that a handler suppresses every hard-bounced address, whatever else the record holds:

```python
from hypothesis import given
from sesflow import parse_event
from sesflow.testing.strategies import bounce_records

@given(bounce_records(bounce_type="Permanent", family=None))
def test_hard_bounces_are_suppressed(record):
    event = parse_event(record)
    my_handler(event)
    assert set(event.recipients) <= my_suppression_list
```

Needs the ``testing`` extra (``pip install 'sesflow[testing]'``), which installs hypothesis.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias, cast

from ..errors import MissingExtra

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised by a test that hides hypothesis
    raise MissingExtra("sesflow.testing.strategies", "testing", "hypothesis") from exc

from ..events import (
    EVENT_CLASSES,
    TENANT_TAG,
    TOPIC_VALIDATION_TEXT,
    BotLikelihood,
    BounceSubType,
    BounceType,
    ComplaintFeedbackType,
    DelayType,
    EventFamily,
    EventType,
    OpenEnum,
    SesEvent,
    SubscriptionStatus,
    format_timestamp,
    parse_event,
)

__all__ = [
    "bounce_records",
    "click_records",
    "complaint_records",
    "configuration_sets",
    "control_messages",
    "delivery_delay_records",
    "delivery_records",
    "emails",
    "mail_objects",
    "message_ids",
    "open_records",
    "reject_records",
    "rendering_failure_records",
    "send_records",
    "ses_events",
    "ses_records",
    "ses_timestamps",
    "subscription_records",
]

Record: TypeAlias = dict[str, Any]
"""An SES record (or part of one) in SES's JSON shape."""

Recipients: TypeAlias = "Sequence[str] | st.SearchStrategy[Sequence[str]] | None"
ConfigurationSet: TypeAlias = "str | st.SearchStrategy[str] | None"
_DetailFn: TypeAlias = Callable[[st.DrawFn, list[str], datetime], Record]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_TIME = datetime(2015, 1, 1, tzinfo=UTC)
_MAX_TIME = datetime(2035, 12, 31, tzinfo=UTC)
_NOTIFICATION_TYPES = (EventType.BOUNCE, EventType.COMPLAINT, EventType.DELIVERY)
# The detail object's key, as the models know it (``"deliveryDelay"``, ``"failure"``...).
_DETAIL_KEYS: dict[EventType, str] = {cls.EVENT_TYPE: str(cls.DETAIL_KEY) for cls in EVENT_CLASSES}


def _values(members: Iterable[OpenEnum]) -> tuple[str, ...]:
    """SES's spellings as plain ``str`` (records hold what ``json.loads`` gives, not enum members)."""
    return tuple(str.__str__(m) for m in members)


# The bounce subtypes SES pairs with each bounce type.
_BOUNCE_SUBTYPES: dict[str, tuple[str, ...]] = {
    BounceType.UNDETERMINED.value: _values([BounceSubType.UNDETERMINED]),
    BounceType.PERMANENT.value: _values(
        [
            BounceSubType.GENERAL,
            BounceSubType.NO_EMAIL,
            BounceSubType.SUPPRESSED,
            BounceSubType.ON_ACCOUNT_SUPPRESSION_LIST,
            BounceSubType.ON_TENANT_SUPPRESSION_LIST,
        ]
    ),
    BounceType.TRANSIENT.value: _values(
        [
            BounceSubType.GENERAL,
            BounceSubType.MAILBOX_FULL,
            BounceSubType.MESSAGE_TOO_LARGE,
            BounceSubType.CONTENT_REJECTED,
            BounceSubType.ATTACHMENT_REJECTED,
        ]
    ),
}
_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com", "sub.example.co.uk")
_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "sa-east-1")
_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "AnyCompany Feedback Loop (V0.01)",
)
_OPERATIONS = ("SendEmail", "SendRawEmail", "SendTemplatedEmail", "SendBulkTemplatedEmail", "SendBulkEmail")
_SMTP_RESPONSES = (
    "250 2.0.0 OK  1700000000 a1b2c3d4e5f6 - gsmtp",
    "250 2.6.0 Message received",
    "250 ok:  Message 64111812 accepted",
    "250 Requested mail action okay, completed: id=1MvJrG-1qZ3Yx2Abc-00sWNy",
)
_MTAS = ("a8-70.smtp-out.amazonses.com", "a48-30.smtp-out.amazonses.com", "mta.example.com")
_CONTENT_TYPES = (
    'text/plain; charset="UTF-8"',
    "text/html; charset=UTF-8",
    'multipart/alternative; boundary="----=_Part_7307378_1629847660.1516840721503"',
    'multipart/mixed; boundary="qMm9M+Fa2AknHoGS"',
)

# Generation speed matters to whoever runs these strategies thousands of times: every strategy below is
# built once, strings are drawn whole from an alphabet (st.text) rather than from regular expressions, and
# optional parts cost one integer draw.
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = _LOWER.upper()
_DIGITS = "0123456789"
_NAME_CHARS = _LOWER + _UPPER + _DIGITS + "_-"


def _word(alphabet: str, min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=min_size, max_size=max_size)


def _identifier(first: str, rest: str, max_size: int) -> st.SearchStrategy[str]:
    """A first character from ``first``, then up to ``max_size - 1`` from ``rest``."""
    return st.builds(str.__add__, st.sampled_from(first), _word(rest, 0, max_size - 1))


_ONE_IN = {n: st.integers(0, n - 1) for n in (2, 4, 5, 6, 10)}


def _one_in(draw: st.DrawFn, n: int) -> bool:
    """True about once in ``n`` draws (shrinks towards True, the rarer case)."""
    return draw(_ONE_IN[n]) == 0


@st.composite
def _mostly(draw: st.DrawFn, usual: st.SearchStrategy[str], rare: st.SearchStrategy[str]) -> str:
    """``usual`` nine times in ten, ``rare`` the tenth (shrinking towards ``rare``, the interesting case)."""
    return draw(rare if _one_in(draw, 10) else usual)


def _present(draw: st.DrawFn) -> bool:
    """Whether an optional field is included: usually yes, one time in five no."""
    return draw(_ONE_IN[5]) != 0


_SUBJECTS = st.one_of(
    st.sampled_from(("Message sent from Amazon SES", "Your receipt", "Welcome!", "Hello", "Réinitialiser")),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=60),
)


# --- building blocks --------------------------------------------------------------------------------------


def emails(domains: Sequence[str] | None = None) -> st.SearchStrategy[str]:
    """Realistic email addresses (``jane.doe+news@example.com``), sometimes with unusual local parts.

    ``domains`` defaults to reserved example domains, so generated addresses can never reach anyone.
    """
    domain = st.sampled_from(tuple(domains) if domains else _DOMAINS)
    plain = st.builds(
        "{}{}{}@{}".format,
        _identifier(_LOWER, _LOWER + _DIGITS, 12),
        st.sampled_from(("", "", ".", "_", "+", "-")),
        _word(_LOWER + _DIGITS, 1, 8),
        domain,
    )
    return _mostly(plain, st.emails(domains=domain))


def message_ids() -> st.SearchStrategy[str]:
    """SES message ids (``0100018c1f2e3d4a-3f0a...-000000``): a 16-hex-digit prefix, a UUID, a suffix."""
    return st.builds(
        lambda prefix, uuid: f"{prefix:016x}-{uuid}-000000",
        st.integers(0, 2**64 - 1),
        st.uuids(),
    )


def _times(min_value: datetime = _MIN_TIME, max_value: datetime = _MAX_TIME) -> st.SearchStrategy[datetime]:
    """Aware UTC datetimes with millisecond precision, the precision SES publishes."""
    low = (min_value - _EPOCH) // timedelta(milliseconds=1)
    high = (max_value - _EPOCH) // timedelta(milliseconds=1)
    return st.integers(low, high).map(lambda ms: _EPOCH + timedelta(milliseconds=ms))


def ses_timestamps(
    min_value: datetime = _MIN_TIME, max_value: datetime = _MAX_TIME
) -> st.SearchStrategy[str]:
    """Timestamps as SES writes them: ISO 8601, UTC, milliseconds, ``Z`` (``2024-05-01T12:00:00.123Z``)."""
    return _times(min_value, max_value).map(format_timestamp)


def configuration_sets() -> st.SearchStrategy[str]:
    """Configuration set names (letters, digits, ``_`` and ``-``, as SES allows)."""
    return st.one_of(
        st.sampled_from(("ConfigSet", "transactional", "marketing", "my-config-set")),
        _identifier(_LOWER + _UPPER + _DIGITS, _NAME_CHARS, 40),
    )


def _open_enum(
    known: Sequence[str], unknown: st.SearchStrategy[str], allow_unknown: bool
) -> st.SearchStrategy[str]:
    """A known value most of the time; with ``allow_unknown``, one time in ten a value SES may add later."""
    known_values = st.sampled_from(tuple(known))
    if not allow_unknown:
        return known_values
    return _mostly(known_values, unknown.filter(lambda v: v not in known))


_CAMEL_WORDS = _identifier(_UPPER, _LOWER + _UPPER, 20)  # "Gentle", "QuotaExceeded"
_KEBAB_WORDS = st.builds(  # "dislike", "low-priority"
    "{}{}{}".format,
    _word(_LOWER, 3, 10),
    st.sampled_from(("", "-")),
    _word(_LOWER, 0, 8),
).map(lambda v: v.rstrip("-"))

_IP4 = st.one_of(
    st.ip_addresses(v=4, network="192.0.2.0/24"), st.ip_addresses(v=4, network="198.51.100.0/24")
).map(str)
_IP = st.one_of(_IP4, st.ip_addresses(v=6, network="2001:db8::/32").map(str))
_EMAILS = emails()
_DESTINATIONS = st.lists(_EMAILS, min_size=1, max_size=4, unique=True)
_MESSAGE_IDS = message_ids()
_TIMES = _times()
_ACCOUNTS = st.integers(0, 10**12 - 1).map("{:012d}".format)
_CONFIGURATION_SETS = configuration_sets()
_TAG_NAMES = _identifier(_LOWER + _UPPER, _NAME_CHARS, 20)
_TAG_VALUES = st.lists(_word(_NAME_CHARS + ".@", 1, 24), min_size=1, max_size=2)
_USER_TAGS = st.dictionaries(_TAG_NAMES, _TAG_VALUES, max_size=3)
_EXTRA_HEADERS = st.lists(
    st.builds(
        lambda name, value: {"name": "X-" + name, "value": value},
        _identifier(_UPPER, _LOWER + _UPPER + "-", 16),
        st.text(st.characters(codec="ascii", min_codepoint=32, max_codepoint=126), max_size=40),
    ),
    max_size=3,
)
_DISPLAY_NAMES = st.sampled_from(("", "", "Sender Name", "Example Shop", '"Doe, John"'))
_CALLER_IDENTITIES = st.sampled_from(("ses_user", "IAM_user_or_role_name", "app-sender"))
_TENANTS = st.sampled_from(("acme", "globex", "initech-eu", "tenant_42"))
_BOT_LIKELIHOODS = st.sampled_from(tuple(b.value for b in BotLikelihood))


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()


def _resolve(value: Any, draw: st.DrawFn, default: st.SearchStrategy[Any]) -> Any:
    if value is None:
        return draw(default)
    if isinstance(value, st.SearchStrategy):
        return draw(value)
    return value


def _subset(draw: st.DrawFn, items: list[str]) -> list[str]:
    """A non-empty ordered selection of ``items`` (the addresses one event concerns)."""
    if len(items) <= 1:
        return list(items)
    chosen = [item for item in items if not _one_in(draw, 2)]
    return chosen or [items[draw(st.integers(0, len(items) - 1))]]


# --- mail -------------------------------------------------------------------------------------------------


def _headers(
    draw: st.DrawFn,
    source: str,
    destination: list[str],
    message_id: str,
    subject: str,
    date: str,
    configuration_set: str | None,
) -> list[Record]:
    headers = [{"name": "From", "value": source}, {"name": "To", "value": ", ".join(destination)}]
    if _one_in(draw, 2):
        headers.append({"name": "Message-ID", "value": f"<{message_id}@email.amazonses.com>"})
    headers.append({"name": "Subject", "value": subject})
    if _one_in(draw, 2):
        headers.append({"name": "Date", "value": date})
    headers.append({"name": "MIME-Version", "value": "1.0"})
    headers.append({"name": "Content-Type", "value": draw(st.sampled_from(_CONTENT_TYPES))})
    if configuration_set is not None and _one_in(draw, 2):
        headers.insert(0, {"name": "X-SES-CONFIGURATION-SET", "value": configuration_set})
    return headers + draw(_EXTRA_HEADERS)


def _common_headers(
    draw: st.DrawFn, source: str, destination: list[str], message_id: str, subject: str, date: str
) -> Record:
    common: Record = {"from": [source], "to": list(destination), "messageId": message_id, "subject": subject}
    if _present(draw):
        common["date"] = date
    for key in ("cc", "bcc", "replyTo"):
        if _one_in(draw, 6):
            common[key] = [draw(_EMAILS)]
    if _one_in(draw, 6):
        common["returnPath"] = draw(_EMAILS)
    if _one_in(draw, 10):
        common["sender"] = [draw(_EMAILS)]
    return common


def _tags(draw: st.DrawFn, configuration_set: str, source_domain: str) -> Record:
    tags: Record = {
        "ses:configuration-set": [configuration_set],
        "ses:source-ip": [draw(_IP)],
        "ses:from-domain": [source_domain],
        "ses:caller-identity": [draw(_CALLER_IDENTITIES)],
    }
    if _one_in(draw, 2):
        tags["ses:operation"] = [draw(st.sampled_from(_OPERATIONS))]
    if _one_in(draw, 2):
        tags["ses:outgoing-ip"] = [draw(_IP4)]
    if _one_in(draw, 4):  # a message sent for a tenant
        tags[TENANT_TAG] = [draw(_TENANTS)]
    for tag, values in draw(_USER_TAGS).items():
        tags.setdefault(tag, values)
    return tags


def _draw_mail(
    draw: st.DrawFn,
    family: EventFamily,
    recipients: Recipients,
    configuration_set: ConfigurationSet,
) -> tuple[Record, datetime]:
    sent_at = draw(_TIMES)
    destination = list(_resolve(recipients, draw, _DESTINATIONS))
    address = draw(_EMAILS)
    display = draw(_DISPLAY_NAMES)
    source = f"{display} <{address}>" if display else address
    domain = address.rpartition("@")[2]
    account = draw(_ACCOUNTS)
    message_id = draw(_MESSAGE_IDS)
    mail: Record = {"timestamp": format_timestamp(sent_at), "source": source}
    if _present(draw):  # absent in some Open and Click records
        region = draw(st.sampled_from(_REGIONS))
        mail["sourceArn"] = (
            f"arn:aws:ses:{region}:{account}:identity/{domain if _one_in(draw, 2) else address}"
        )
    if family is EventFamily.NOTIFICATION:
        mail["sourceIp"] = draw(_IP)
    mail["sendingAccountId"] = account
    if family is EventFamily.NOTIFICATION:
        mail["callerIdentity"] = draw(_CALLER_IDENTITIES)
    mail["messageId"] = message_id
    mail["destination"] = destination
    config = None
    if family is EventFamily.EVENT:
        config = _resolve(configuration_set, draw, _CONFIGURATION_SETS)
    truncated = _one_in(draw, 10)
    mail["headersTruncated"] = truncated
    if not truncated and _present(draw):  # SES leaves headers out when asked to, or truncated
        subject = draw(_SUBJECTS)
        date = email.utils.format_datetime(sent_at)
        mail["headers"] = _headers(draw, source, destination, message_id, subject, date, config)
        mail["commonHeaders"] = _common_headers(draw, source, destination, message_id, subject, date)
    if config is not None:
        mail["tags"] = _tags(draw, config, domain)
    return mail, sent_at


def mail_objects(
    *,
    family: EventFamily | str = EventFamily.EVENT,
    recipients: Recipients = None,
    configuration_set: ConfigurationSet = None,
) -> st.SearchStrategy[Record]:
    """SES ``mail`` objects.

    ``family`` picks the shape: event publishing (``mail.tags`` with ``ses:configuration-set``) or feedback
    notifications (``sourceIp`` and ``callerIdentity``, no tags). ``recipients`` fixes ``destination`` (a
    list, or a strategy of lists; generated when None); ``configuration_set`` fixes the configuration set
    (a name, or a strategy of names; generated when None).
    """
    (chosen,) = _families(family, EventType.BOUNCE)
    return _mail_objects(chosen, recipients, configuration_set)


@st.composite
def _mail_objects(
    draw: st.DrawFn, family: EventFamily, recipients: Recipients, configuration_set: ConfigurationSet
) -> Record:
    return _draw_mail(draw, family, recipients, configuration_set)[0]


# --- detail objects -----------------------------------------------------------------------------------------

_FEEDBACK_IDS = _MESSAGE_IDS
_DELAYS = st.integers(0, 7 * 24 * 3600 * 1000)  # the event follows the send by up to a week (ms)
_HARD_STATUSES = st.sampled_from(("5.1.1", "5.1.0", "5.7.1"))
_SOFT_STATUSES = st.sampled_from(("4.2.2", "4.4.7", "5.3.4"))
_DIAGNOSTICS = st.sampled_from(("User unknown", "Mailbox full", "Message rejected"))
_REPORTING_MTAS = st.sampled_from(tuple(f"dsn; {m}" for m in _MTAS))
_USER_AGENT_VALUES = st.sampled_from(_USER_AGENTS)
_BOUNCE_TYPES = {allow: _open_enum(tuple(_BOUNCE_SUBTYPES), _CAMEL_WORDS, allow) for allow in (False, True)}
# Keyed by bounce type; None (an unknown bounce type) may come with any subtype.
_BOUNCE_SUB_TYPES: dict[tuple[str | None, bool], st.SearchStrategy[str]] = {
    (kind, allow): _open_enum(_BOUNCE_SUBTYPES[kind] if kind else _values(BounceSubType), _CAMEL_WORDS, allow)
    for kind in (*_BOUNCE_SUBTYPES, None)
    for allow in (False, True)
}
_FEEDBACK_TYPES = {
    allow: _open_enum(_values(ComplaintFeedbackType), _KEBAB_WORDS, allow) for allow in (False, True)
}
_COMPLAINT_SUB_TYPES = st.sampled_from((_ABSENT, None, None, "OnAccountSuppressionList"))
_DELAY_TYPES = {allow: _open_enum(_values(DelayType), _CAMEL_WORDS, allow) for allow in (False, True)}
_SUBSCRIPTION_STATUSES = {
    allow: _open_enum(_values(SubscriptionStatus), _CAMEL_WORDS, allow) for allow in (False, True)
}
_LINK_PATHS = st.lists(_word(_LOWER + _DIGITS + "-", 1, 12), max_size=3).map(
    lambda parts: "".join("/" + p for p in parts)
)
_LINK_QUERIES = st.one_of(st.just(""), st.integers(0, 999_999).map("?utm_source=ses&id={}".format))
_LINK_TAGS = st.dictionaries(
    _identifier(_LOWER + _UPPER, _NAME_CHARS, 16),
    st.lists(_word(_NAME_CHARS, 1, 16), min_size=1, max_size=2),
    min_size=1,
    max_size=3,
)
_TEMPLATE_NAMES = _identifier(_LOWER + _UPPER, _NAME_CHARS, 30)
_ATTRIBUTES = _identifier(_LOWER, _LOWER + _UPPER + _DIGITS, 16)
_CONTACT_LISTS = _identifier(_LOWER + _UPPER, _NAME_CHARS, 20)
_TOPIC_NAMES = _identifier(_LOWER + _UPPER, _NAME_CHARS, 20)


def _bounce_detail(bounce_type: str | None, allow_unknown: bool) -> _DetailFn:
    def detail(draw: st.DrawFn, destination: list[str], at: datetime) -> Record:
        kind = bounce_type or draw(_BOUNCE_TYPES[allow_unknown])
        sub_type = draw(_BOUNCE_SUB_TYPES[(kind if kind in _BOUNCE_SUBTYPES else None, allow_unknown)])
        hard = kind == BounceType.PERMANENT
        recipients = []
        for address in _subset(draw, destination):
            recipient: Record = {"emailAddress": address}
            if _present(draw):
                recipient["action"] = "failed" if hard else "delayed"
            status = draw(_HARD_STATUSES if hard else _SOFT_STATUSES)
            if _present(draw):
                recipient["status"] = status
            if _present(draw):
                reply = status.replace(".", "")[:3]
                recipient["diagnosticCode"] = f"smtp; {reply} {status} <{address}>... {draw(_DIAGNOSTICS)}"
            recipients.append(recipient)
        body: Record = {
            "bounceType": kind,
            "bounceSubType": sub_type,
            "bouncedRecipients": recipients,
            "timestamp": format_timestamp(at),
            "feedbackId": draw(_FEEDBACK_IDS),
        }
        if _present(draw):
            body["reportingMTA"] = draw(_REPORTING_MTAS)
        if _one_in(draw, 2):
            body["remoteMtaIp"] = draw(_IP4)
        return body

    return detail


def _complaint_detail(allow_unknown: bool) -> _DetailFn:
    def detail(draw: st.DrawFn, destination: list[str], at: datetime) -> Record:
        body: Record = {
            "complainedRecipients": [{"emailAddress": a} for a in _subset(draw, destination)],
            "timestamp": format_timestamp(at),
            "feedbackId": draw(_FEEDBACK_IDS),
        }
        # SES sends complaintSubType as null, or "OnAccountSuppressionList" (then without a feedback report).
        sub_type = draw(_COMPLAINT_SUB_TYPES)
        if sub_type is not _ABSENT:
            body["complaintSubType"] = sub_type
        if sub_type is None or sub_type is _ABSENT:
            if _present(draw):
                body["userAgent"] = draw(_USER_AGENT_VALUES)
            if _present(draw):
                body["complaintFeedbackType"] = draw(_FEEDBACK_TYPES[allow_unknown])
            if _present(draw):
                arrival = at - timedelta(milliseconds=draw(st.integers(0, 6 * 3600 * 1000)))
                body["arrivalDate"] = format_timestamp(arrival)
        return body

    return detail


def _delivery_detail(draw: st.DrawFn, destination: list[str], at: datetime) -> Record:
    body: Record = {
        "timestamp": format_timestamp(at),
        "processingTimeMillis": draw(st.integers(0, 3_600_000)),
        "recipients": _subset(draw, destination),
        "smtpResponse": draw(st.sampled_from(_SMTP_RESPONSES)),
        "reportingMTA": draw(st.sampled_from(_MTAS)),
    }
    if _one_in(draw, 2):
        body["remoteMtaIp"] = draw(_IP4)
    return body


def _send_detail(draw: st.DrawFn, destination: list[str], at: datetime) -> Record:
    return {}


def _reject_detail(draw: st.DrawFn, destination: list[str], at: datetime) -> Record:
    return {"reason": "Virus detected" if _one_in(draw, 4) else "Bad content"}


def _open_detail(draw: st.DrawFn, destination: list[str], at: datetime) -> Record:
    body: Record = {}
    if _present(draw):
        body["ipAddress"] = draw(_IP)
    body["timestamp"] = format_timestamp(at)
    if _present(draw):
        body["userAgent"] = draw(_USER_AGENT_VALUES)
    if _present(draw):  # isBotEvent (August 2026): absent in older records
        body["isBotEvent"] = draw(_BOT_LIKELIHOODS)
    return body


def _click_detail(draw: st.DrawFn, destination: list[str], at: datetime) -> Record:
    body = _open_detail(draw, destination, at)
    body["link"] = f"https://{draw(st.sampled_from(_DOMAINS))}{draw(_LINK_PATHS)}{draw(_LINK_QUERIES)}"
    if _present(draw):
        body["linkTags"] = draw(_LINK_TAGS)
    return body


def _rendering_failure_detail(draw: st.DrawFn, destination: list[str], at: datetime) -> Record:
    return {
        "errorMessage": f"Attribute '{draw(_ATTRIBUTES)}' is not present in the rendering data.",
        "templateName": draw(_TEMPLATE_NAMES),
    }


def _delivery_delay_detail(allow_unknown: bool) -> _DetailFn:
    def detail(draw: st.DrawFn, destination: list[str], at: datetime) -> Record:
        body: Record = {
            "timestamp": format_timestamp(at),
            "delayType": draw(_DELAY_TYPES[allow_unknown]),
            "expirationTime": format_timestamp(
                at + timedelta(milliseconds=draw(st.integers(0, 18 * 3600 * 1000)))
            ),
            "delayedRecipients": [
                {
                    "emailAddress": address,
                    "status": "4.4.1",
                    "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host",
                }
                for address in _subset(draw, destination)
            ],
        }
        if _present(draw):
            body["reportingMTA"] = draw(st.sampled_from(_MTAS))
        return body

    return detail


def _subscription_detail(allow_unknown: bool) -> _DetailFn:
    statuses = _SUBSCRIPTION_STATUSES[allow_unknown]

    def preferences(draw: st.DrawFn) -> Record:
        prefs: Record = {}
        if _present(draw):
            prefs["unsubscribeAll"] = draw(st.booleans())
        if _present(draw):
            prefs["topicSubscriptionStatus"] = [
                {"topicName": draw(_TOPIC_NAMES), "subscriptionStatus": draw(statuses)}
                for _ in range(draw(st.integers(0, 3)))
            ]
        return prefs

    def detail(draw: st.DrawFn, destination: list[str], at: datetime) -> Record:
        body: Record = {}
        if _present(draw):
            body["contactList"] = draw(_CONTACT_LISTS)
        body["timestamp"] = format_timestamp(at)
        if _present(draw):
            body["source"] = "UnsubscribeHeader"
        if _present(draw):
            body["newTopicPreferences"] = preferences(draw)
        if _present(draw):
            body["oldTopicPreferences"] = preferences(draw)
        return body

    return detail


# --- records ------------------------------------------------------------------------------------------------


def _families(family: EventFamily | str | None, event_type: EventType) -> tuple[EventFamily, ...]:
    if family is None:
        return (EventFamily.EVENT, EventFamily.NOTIFICATION)
    chosen = EventFamily(family)
    if not chosen.is_known:
        raise ValueError(f"unknown family {family!r}: use EventFamily.EVENT or EventFamily.NOTIFICATION")
    if chosen is EventFamily.NOTIFICATION and event_type not in _NOTIFICATION_TYPES:
        raise ValueError(f"SES sends no feedback notification for {event_type.value!r} events")
    return (chosen,)


@st.composite
def _records(
    draw: st.DrawFn,
    event_type: EventType,
    families: Sequence[EventFamily],
    recipients: Recipients,
    configuration_set: ConfigurationSet,
    detail: _DetailFn,
) -> Record:
    family = families[0] if len(families) == 1 else draw(st.sampled_from(families))
    mail, sent_at = _draw_mail(draw, family, recipients, configuration_set)
    # The event happens after the send: within seconds usually, days at most (opens, clicks, delays).
    at = sent_at + timedelta(milliseconds=draw(_DELAYS))
    return {
        family.value: event_type.value,
        "mail": mail,
        _DETAIL_KEYS[event_type]: detail(draw, mail["destination"], at),
    }


def bounce_records(
    *,
    family: EventFamily | str | None = EventFamily.EVENT,
    recipients: Recipients = None,
    configuration_set: ConfigurationSet = None,
    bounce_type: BounceType | str | None = None,
    allow_unknown: bool = True,
) -> st.SearchStrategy[Record]:
    """Bounce records: one or more of ``mail.destination`` bounced.

    ``family`` is ``EventFamily.EVENT`` (event publishing, the default), ``EventFamily.NOTIFICATION``
    (feedback notifications) or None for either. ``bounce_type`` fixes the type (``"Permanent"`` to test
    suppression); otherwise every type is drawn with the subtypes SES pairs it with, and, with
    ``allow_unknown``, sometimes a type or subtype this version does not know. ``recipients`` and
    ``configuration_set`` are as in ``mail_objects``.
    """
    kind = None if bounce_type is None else str(BounceType(bounce_type).value)
    detail = _bounce_detail(kind, allow_unknown)
    return _records(
        EventType.BOUNCE, _families(family, EventType.BOUNCE), recipients, configuration_set, detail
    )


def complaint_records(
    *,
    family: EventFamily | str | None = EventFamily.EVENT,
    recipients: Recipients = None,
    configuration_set: ConfigurationSet = None,
    allow_unknown: bool = True,
) -> st.SearchStrategy[Record]:
    """Complaint records: with or without a feedback report, ``complaintSubType`` null or
    ``OnAccountSuppressionList``, every feedback type including ``not-spam`` (and, with ``allow_unknown``,
    sometimes an unknown one). Arguments as in ``bounce_records``.
    """
    families = _families(family, EventType.COMPLAINT)
    return _records(
        EventType.COMPLAINT, families, recipients, configuration_set, _complaint_detail(allow_unknown)
    )


def delivery_records(
    *,
    family: EventFamily | str | None = EventFamily.EVENT,
    recipients: Recipients = None,
    configuration_set: ConfigurationSet = None,
) -> st.SearchStrategy[Record]:
    """Delivery records (``processingTimeMillis``, ``smtpResponse``...).

    Arguments as in ``bounce_records``.
    """
    families = _families(family, EventType.DELIVERY)
    return _records(EventType.DELIVERY, families, recipients, configuration_set, _delivery_detail)


def send_records(
    *, recipients: Recipients = None, configuration_set: ConfigurationSet = None
) -> st.SearchStrategy[Record]:
    """Send records (``"send": {}``)."""
    return _records(EventType.SEND, (EventFamily.EVENT,), recipients, configuration_set, _send_detail)


def reject_records(
    *, recipients: Recipients = None, configuration_set: ConfigurationSet = None
) -> st.SearchStrategy[Record]:
    """Reject records (SES refused the message, usually ``"Bad content"``)."""
    return _records(EventType.REJECT, (EventFamily.EVENT,), recipients, configuration_set, _reject_detail)


def open_records(
    *, recipients: Recipients = None, configuration_set: ConfigurationSet = None
) -> st.SearchStrategy[Record]:
    """Open records; ``ipAddress`` and ``userAgent`` are sometimes absent, ``mail.sourceArn`` too."""
    return _records(EventType.OPEN, (EventFamily.EVENT,), recipients, configuration_set, _open_detail)


def click_records(
    *, recipients: Recipients = None, configuration_set: ConfigurationSet = None
) -> st.SearchStrategy[Record]:
    """Click records with a link and, sometimes, ``linkTags``."""
    return _records(EventType.CLICK, (EventFamily.EVENT,), recipients, configuration_set, _click_detail)


def rendering_failure_records(
    *, recipients: Recipients = None, configuration_set: ConfigurationSet = None
) -> st.SearchStrategy[Record]:
    """Rendering Failure records (``eventType`` ``"Rendering Failure"``, detail key ``failure``)."""
    return _records(
        EventType.RENDERING_FAILURE,
        (EventFamily.EVENT,),
        recipients,
        configuration_set,
        _rendering_failure_detail,
    )


def delivery_delay_records(
    *, recipients: Recipients = None, configuration_set: ConfigurationSet = None, allow_unknown: bool = True
) -> st.SearchStrategy[Record]:
    """DeliveryDelay records: every delay type (and, with ``allow_unknown``, sometimes an unknown one)."""
    detail = _delivery_delay_detail(allow_unknown)
    return _records(EventType.DELIVERY_DELAY, (EventFamily.EVENT,), recipients, configuration_set, detail)


def subscription_records(
    *, recipients: Recipients = None, configuration_set: ConfigurationSet = None, allow_unknown: bool = True
) -> st.SearchStrategy[Record]:
    """Subscription records (topic preferences before and after; with ``allow_unknown``, sometimes an
    unknown subscription status)."""
    detail = _subscription_detail(allow_unknown)
    return _records(EventType.SUBSCRIPTION, (EventFamily.EVENT,), recipients, configuration_set, detail)


_UNKNOWN_TYPES = st.builds(  # "Archive", "Mailbox Full Warning"-like names
    "{}{}{}".format,
    _identifier(_UPPER, _LOWER, 13),
    st.sampled_from(("", "", " ")),
    _identifier(_UPPER, _LOWER, 13),
).filter(lambda name: not EventType(name).is_known and _unknown_detail_key(name) not in ("mail", "eventType"))
_UNKNOWN_DETAILS = st.dictionaries(
    _identifier(_LOWER, _LOWER + _UPPER, 16),
    st.one_of(st.none(), st.booleans(), st.integers(-(2**31), 2**31), st.text(max_size=20)),
    max_size=4,
)


def _unknown_detail_key(name: str) -> str:
    return name[0].lower() + name[1:].replace(" ", "")


@st.composite
def _unknown_event_records(
    draw: st.DrawFn, recipients: Recipients, configuration_set: ConfigurationSet
) -> Record:
    """Records of an ``eventType`` SES may add in the future: a ``mail`` and a detail object of its own."""
    name = draw(_UNKNOWN_TYPES)
    mail, _ = _draw_mail(draw, EventFamily.EVENT, recipients, configuration_set)
    return {"eventType": name, "mail": mail, _unknown_detail_key(name): draw(_UNKNOWN_DETAILS)}


def ses_records(
    *,
    event_types: Iterable[EventType | str] | None = None,
    families: Iterable[EventFamily | str] | None = None,
    recipients: Recipients = None,
    configuration_set: ConfigurationSet = None,
    allow_unknown: bool = True,
    unknown_event_types: bool = False,
) -> st.SearchStrategy[Record]:
    """SES records of any type, from both families.

    ``event_types`` restricts the types (``[EventType.BOUNCE, "Complaint"]``); ``families`` restricts the
    families (feedback notifications exist for Bounce, Complaint and Delivery only). ``allow_unknown`` lets
    open enumerations sometimes carry unknown values; ``unknown_event_types`` also draws records of an
    ``eventType`` this version does not know (parsed as ``UnknownEvent``).
    ``recipients`` and ``configuration_set`` are as in ``mail_objects``.
    """
    types = [EventType(t) for t in event_types] if event_types is not None else list(EventType)
    for t in types:
        if not t.is_known:
            raise ValueError(f"unknown event type {t.value!r}: use the values of sesflow.EventType")
    wanted = {EventFamily(f) for f in families} if families is not None else set(EventFamily)
    if not wanted <= set(EventFamily.__members__.values()):
        raise ValueError(
            f"unknown family in {sorted(wanted)!r}: use EventFamily.EVENT or EventFamily.NOTIFICATION"
        )
    details: dict[EventType, _DetailFn] = {
        EventType.SEND: _send_detail,
        EventType.DELIVERY: _delivery_detail,
        EventType.BOUNCE: _bounce_detail(None, allow_unknown),
        EventType.COMPLAINT: _complaint_detail(allow_unknown),
        EventType.REJECT: _reject_detail,
        EventType.OPEN: _open_detail,
        EventType.CLICK: _click_detail,
        EventType.RENDERING_FAILURE: _rendering_failure_detail,
        EventType.DELIVERY_DELAY: _delivery_delay_detail(allow_unknown),
        EventType.SUBSCRIPTION: _subscription_detail(allow_unknown),
    }
    options: list[st.SearchStrategy[Record]] = []
    for t in types:
        fams = [f for f in (EventFamily.EVENT, EventFamily.NOTIFICATION) if f in wanted]
        if t not in _NOTIFICATION_TYPES:
            fams = [f for f in fams if f is EventFamily.EVENT]
        if fams:
            options.append(_records(t, fams, recipients, configuration_set, details[t]))
    if unknown_event_types and EventFamily.EVENT in wanted:
        options.append(_unknown_event_records(recipients, configuration_set))
    if not options:
        raise ValueError("no SES record matches these event types and families")
    return st.one_of(options)


def ses_events(
    *,
    event_types: Iterable[EventType | str] | None = None,
    families: Iterable[EventFamily | str] | None = None,
    recipients: Recipients = None,
    configuration_set: ConfigurationSet = None,
    allow_unknown: bool = True,
    unknown_event_types: bool = False,
) -> st.SearchStrategy[SesEvent]:
    """Parsed events: ``ses_records`` (same arguments) passed through ``sesflow.parse_event``."""
    records = ses_records(
        event_types=event_types,
        families=families,
        recipients=recipients,
        configuration_set=configuration_set,
        allow_unknown=allow_unknown,
        unknown_event_types=unknown_event_types,
    )
    return records.map(lambda record: cast(SesEvent, parse_event(record)))


_VERDICTS = st.sampled_from(("PASS", "FAIL", "GRAY", "PROCESSING_FAILED")).map(lambda s: {"status": s})


@st.composite
def _subscription_succeeded(draw: st.DrawFn) -> Record:
    kind = draw(st.sampled_from(("Bounce", "Complaint", "Delivery")))
    identity = draw(st.sampled_from(_DOMAINS))
    account = draw(_ACCOUNTS)
    topic = f"arn:aws:sns:{draw(st.sampled_from(_REGIONS))}:{account}:ses-{kind.lower()}s"
    return {
        "notificationType": "AmazonSnsSubscriptionSucceeded",
        "message": f"You have successfully subscribed your Amazon SNS topic '{topic}' to receive "
        f"'{kind}' notifications from Amazon SES for identity '{identity}'.",
    }


@st.composite
def _received(draw: st.DrawFn) -> Record:
    at = draw(_TIMES)
    sender = draw(_EMAILS)
    recipients = draw(_DESTINATIONS)
    return {
        "notificationType": "Received",
        "mail": {
            "timestamp": format_timestamp(at),
            "source": sender,
            "messageId": draw(_word(_LOWER + _DIGITS, 20, 40)),
            "destination": recipients,
            "headersTruncated": False,
            "headers": [
                {"name": "From", "value": sender},
                {"name": "To", "value": ", ".join(recipients)},
            ],
            "commonHeaders": {"from": [sender], "to": recipients, "subject": draw(_SUBJECTS)},
        },
        "receipt": {
            "timestamp": format_timestamp(at + timedelta(milliseconds=draw(st.integers(0, 5000)))),
            "processingTimeMillis": draw(st.integers(0, 5000)),
            "recipients": recipients,
            "spamVerdict": draw(_VERDICTS),
            "virusVerdict": draw(_VERDICTS),
            "spfVerdict": draw(_VERDICTS),
            "dkimVerdict": draw(_VERDICTS),
            "dmarcVerdict": draw(_VERDICTS),
            "action": {"type": "SNS", "topicArn": "arn:aws:sns:us-east-1:123456789012:inbound"},
        },
    }


def control_messages() -> st.SearchStrategy[Record | str | bytes]:
    """What SES sends on event and notification channels that is not an event about a sent message.

    The topic-validation text (as ``str`` and as ``bytes``), ``AmazonSnsSubscriptionSucceeded``
    notifications, and ``Received`` (inbound mail) notifications. ``sesflow.parse_event`` returns a
    ``ControlMessage`` for each; a handler should ignore them without failing.
    """

    return st.one_of(
        st.just(TOPIC_VALIDATION_TEXT),
        st.just(TOPIC_VALIDATION_TEXT.encode()),
        _subscription_succeeded(),
        _received(),
    )
