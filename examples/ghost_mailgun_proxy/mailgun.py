"""Mailgun's ``POST /v3/{domain}/messages`` as Ghost sends it, read into a :class:`Batch`. Pure: no IO.

Ghost (through mailgun.js) sends multipart/form-data with ``to`` repeated once per recipient (up to 1,000),
``recipient-variables`` as JSON, ``from``/``subject``/``html``/``text``, headers as ``h:<Name>``, options as
``o:<name>`` (``o:tag`` repeated) and user variables as ``v:<name>``. :func:`parse_message_form` checks all
of it before anything is stored, so a request is either accepted whole or refused with a 400 saying why.
"""

from __future__ import annotations

import email.utils
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

import attrs

from sesflow.errors import SesflowError
from sesflow.sending import Address, ValidationError

__all__ = [
    "MAX_RECIPIENTS",
    "Batch",
    "MailgunRequestError",
    "Recipient",
    "new_message_id",
    "parse_bool",
    "parse_date",
    "parse_message_form",
]

MAX_RECIPIENTS: Final = 1000
"""Mailgun's (and so Ghost's) largest batch: recipients of one ``POST /messages``."""

_DOMAIN: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+")
_TRUE: Final = frozenset({"yes", "true", "1", "on", "htmlonly"})
_FALSE: Final = frozenset({"no", "false", "0", "off"})


class MailgunRequestError(SesflowError):
    """A request Mailgun would refuse with 400; the message says what to fix (it is the response body)."""


def parse_bool(value: str | None, field: str) -> bool | None:
    """Mailgun's yes/no (also true/false, 1/0; ``htmlonly`` counts as yes). None when absent."""
    if value is None or value == "":
        return None
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise MailgunRequestError(f"{field} must be yes or no, not {value!r}")


def parse_date(value: str, field: str) -> float:
    """Epoch seconds from an RFC 2822 date (``Thu, 01 Jan 2026 12:00:00 +0000`` / ``... GMT``) or a number."""
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise MailgunRequestError(
            f"{field} {value!r} is not a date: use RFC 2822 (Thu, 01 Jan 2026 12:00:00 +0000) "
            "or epoch seconds"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def new_message_id(domain: str, now: float) -> str:
    """A Mailgun-style message id (without the angle brackets): ``20260101120000.3f2a...@domain``."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d%H%M%S")
    return f"{stamp}.{secrets.token_hex(8)}@{domain}"


@attrs.frozen
class Recipient:
    """One ``to`` of a batch: as Ghost wrote it, its bare address, and its recipient variables."""

    index: int
    to: str
    address: str
    """The bare address, lower-cased: what suppression and events compare."""
    variables: Mapping[str, Any] = attrs.field(factory=dict, hash=False)


@attrs.frozen
class Batch:
    """One accepted ``POST /messages``: what to send, to whom, and how to report it."""

    id: str
    """The Mailgun message id without angle brackets; Ghost stores it and events carry it back."""
    domain: str
    sender: str
    subject: str
    html: str | None
    text: str | None
    headers: tuple[tuple[str, str], ...]
    """The ``h:`` fields in order, names as Ghost spelled them."""
    tags: tuple[str, ...]
    user_variables: Mapping[str, str] = attrs.field(hash=False)
    track_opens: bool | None
    track_clicks: bool | None
    testmode: bool
    deliver_at: float | None
    created_at: float
    recipients: tuple[Recipient, ...]

    @property
    def email_id(self) -> str | None:
        """Ghost's ``v:email-id`` (absent for previews and test sends)."""
        return self.user_variables.get("email-id")

    def to_json(self) -> dict[str, Any]:
        """Everything but the recipients, as JSON-ready data (the database keeps recipients as rows)."""
        return {
            "id": self.id,
            "domain": self.domain,
            "sender": self.sender,
            "subject": self.subject,
            "html": self.html,
            "text": self.text,
            "headers": [list(pair) for pair in self.headers],
            "tags": list(self.tags),
            "user_variables": dict(self.user_variables),
            "track_opens": self.track_opens,
            "track_clicks": self.track_clicks,
            "testmode": self.testmode,
            "deliver_at": self.deliver_at,
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], recipients: Iterable[Recipient] = ()) -> Batch:
        """The batch :meth:`to_json` wrote, with ``recipients``."""
        return cls(
            id=data["id"],
            domain=data["domain"],
            sender=data["sender"],
            subject=data["subject"],
            html=data["html"],
            text=data["text"],
            headers=tuple((str(name), str(value)) for name, value in data["headers"]),
            tags=tuple(data["tags"]),
            user_variables=MappingProxyType(dict(data["user_variables"])),
            track_opens=data["track_opens"],
            track_clicks=data["track_clicks"],
            testmode=bool(data["testmode"]),
            deliver_at=data["deliver_at"],
            created_at=data["created_at"],
            recipients=tuple(recipients),
        )


def _single(fields: Mapping[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    if not values:
        return None
    if len(values) > 1 and len(set(values)) > 1:
        raise MailgunRequestError(f"{name} is given {len(values)} times with different values: give it once")
    return values[0]


def _recipient_variables(text: str | None) -> dict[str, Mapping[str, Any]]:
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MailgunRequestError(f"recipient-variables is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise MailgunRequestError(
            'recipient-variables must be a JSON object of objects: {"jane@example.com": {"name": "Jane"}}'
        )
    return {str(key).strip().lower(): value for key, value in data.items()}


def parse_message_form(
    items: Iterable[tuple[str, str]], *, domain: str, now: float, message_id: str | None = None
) -> Batch:
    """The :class:`Batch` of one ``POST /v3/{domain}/messages`` form, in the order the fields came.

    Raises :class:`MailgunRequestError` (a 400 for Ghost) for a missing ``to`` or ``from``, more than
    1,000 recipients, an address that is not one, unreadable ``recipient-variables``, a bad yes/no option or
    an unreadable ``o:deliverytime``.
    """
    if not _DOMAIN.fullmatch(domain):
        raise MailgunRequestError(f"{domain!r} is not a domain name")
    fields: dict[str, list[str]] = {}
    for name, value in items:
        fields.setdefault(name, []).append(value)

    to = [value for value in fields.get("to", []) for value in _split_to(value)]
    if not to:
        raise MailgunRequestError("to parameter is missing: give at least one recipient")
    if len(to) > MAX_RECIPIENTS:
        raise MailgunRequestError(
            f"{len(to)} recipients in one message and the limit is {MAX_RECIPIENTS}: split the batch"
        )
    sender = _single(fields, "from")
    if sender is None:
        raise MailgunRequestError("from parameter is missing: give the sender's address")
    try:
        Address.parse(sender, field="from")
    except ValidationError as exc:
        raise MailgunRequestError(f"from parameter is not a valid address: {exc.reason}") from None
    html, text = _single(fields, "html"), _single(fields, "text")
    if html is None and text is None:
        raise MailgunRequestError("need at least one of 'text' or 'html' parameters specified")

    variables = _recipient_variables(_single(fields, "recipient-variables"))
    recipients = []
    for index, entry in enumerate(to):
        try:
            address = Address.parse(entry, field=f"to[{index}]").email.lower()
        except ValidationError as exc:
            raise MailgunRequestError(
                f"to parameter is not a valid address: {entry!r} ({exc.reason})"
            ) from None
        recipients.append(
            Recipient(index, entry, address, MappingProxyType(dict(variables.get(address) or {})))
        )

    headers = tuple(
        (name[2:], value) for name, values in fields.items() if name.startswith("h:") for value in values
    )
    tags = tuple(dict.fromkeys(value for value in fields.get("o:tag", []) if value))
    user_variables = {name[2:]: values[-1] for name, values in fields.items() if name.startswith("v:")}
    tracking = parse_bool(_single(fields, "o:tracking"), "o:tracking")
    track_opens = parse_bool(_single(fields, "o:tracking-opens"), "o:tracking-opens")
    track_clicks = parse_bool(_single(fields, "o:tracking-clicks"), "o:tracking-clicks")
    if tracking is False:  # o:tracking=no turns both off unless each is given on its own
        track_opens = False if track_opens is None else track_opens
        track_clicks = False if track_clicks is None else track_clicks
    delivery_time = _single(fields, "o:deliverytime")
    return Batch(
        id=message_id or new_message_id(domain, now),
        domain=domain,
        sender=sender,
        subject=_single(fields, "subject") or "",
        html=html,
        text=text,
        headers=headers,
        tags=tags,
        user_variables=MappingProxyType(user_variables),
        track_opens=track_opens,
        track_clicks=track_clicks,
        testmode=bool(parse_bool(_single(fields, "o:testmode"), "o:testmode")),
        deliver_at=None if delivery_time is None else parse_date(delivery_time, "o:deliverytime"),
        created_at=now,
        recipients=tuple(recipients),
    )


def _split_to(value: str) -> list[str]:
    """One ``to`` field: Ghost sends one address per field; Mailgun also takes a comma-separated list."""
    if "," not in value:
        return [value.strip()] if value.strip() else []
    return [
        email.utils.formataddr(pair) if pair[0] else pair[1]
        for pair in email.utils.getaddresses([value])
        if pair[1]
    ]
