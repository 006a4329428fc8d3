"""SES's rules for names, tags, headers, template data and sizes, checked before anything is sent.

Every check raises :class:`~sesflow.sending.errors.ValidationError` naming the field. The limits are SES's
documented ones (see ``docs/sending.md``); sesflow enforces them itself because SES's test doubles (moto)
accept what real SES refuses.
"""

from __future__ import annotations

import email.policy
import json
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

from .errors import ValidationError

__all__ = [
    "MAX_RECIPIENTS",
    "MAX_BULK_DESTINATIONS",
    "MAX_MESSAGE_SIZE_V1",
    "MAX_MESSAGE_SIZE_V2",
    "MAX_LINE_LENGTH",
    "MAX_TEMPLATE_DATA",
    "MAX_TRACKED_LINKS",
    "MAX_TEMPLATE_SIZE",
    "RESERVED_HEADERS",
    "validate_configuration_set_name",
    "validate_tenant_name",
    "validate_tags",
    "validate_tag",
    "validate_template_name",
    "validate_template_data",
    "validate_header",
    "validate_headers",
    "HEADER_LINE_BREAKS",
    "validate_header_text",
    "validate_unicode_text",
    "check_line_lengths",
    "check_message_size",
]

MAX_RECIPIENTS: Final = 50
"""Recipients of one message, To + Cc + Bcc."""
MAX_BULK_DESTINATIONS: Final = 50
"""Destinations in one ``SendBulkTemplatedEmail`` / ``SendBulkEmail`` call."""
MAX_MESSAGE_SIZE_V1: Final = 10 * 1024 * 1024
"""Largest message the v1 API takes, after base64 encoding (bytes)."""
MAX_MESSAGE_SIZE_V2: Final = 40 * 1024 * 1024
"""Largest message the v2 API and SMTP take, after base64 encoding (bytes)."""
MAX_LINE_LENGTH: Final = 1000
"""Longest line of a raw message, line ending included (RFC 5321's 998 + CRLF)."""
MAX_TEMPLATE_DATA: Final = 262_144
"""Longest template data (the JSON text), in characters."""
MAX_TRACKED_LINKS: Final = 250
"""Most links SES tracks for clicks in one message."""
MAX_TEMPLATE_SIZE: Final = 500 * 1024
"""Largest template (subject, text and html together, UTF-8 bytes)."""

HEADER_LINE_BREAKS: Final = frozenset("\n\v\f\r\x1c\x1d\x1e\x85\u2028\u2029")
"""The characters :meth:`str.splitlines` breaks a line at: the email package refuses a header value holding
any of them (``ValueError``), and each could end a header early where a message is written by other means."""

# What header text cannot hold: the line breaks above, NUL, and lone surrogates (no UTF-8 form).
_NOT_IN_HEADER = re.compile("[\x00\n\v\f\r\x1c-\x1e\x85\u2028\u2029\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")

_CONFIGURATION_SET_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TENANT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TAG_PART = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TEMPLATE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# RFC 5322 field name: printable US-ASCII except ':'.
_HEADER_NAME = re.compile(r"[!-9;-~]{1,76}")

RESERVED_HEADERS: Final = frozenset(
    {
        "from",
        "sender",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "subject",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
        "return-path",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "x-ses-configuration-set",
        "x-ses-message-tags",
        "x-ses-tenant",
        "x-ses-source-arn",
        "x-ses-from-arn",
        "x-ses-return-path-arn",
    }
)
"""Header names a message may not set as custom headers: sesflow sets them from the message's fields."""

_HEADER_FIELD_HINT: Final = {
    "from": "sender",
    "sender": "sender",
    "to": "to",
    "cc": "cc",
    "bcc": "bcc",
    "reply-to": "reply_to",
    "subject": "subject",
    "return-path": "feedback_address",
    "list-unsubscribe": "list_unsubscribe",
    "list-unsubscribe-post": "list_unsubscribe",
    "x-ses-configuration-set": "configuration_set",
    "x-ses-message-tags": "tags",
}


def validate_configuration_set_name(name: object, *, field: str = "configuration_set") -> str:
    """``name`` if it is a valid configuration set name (``^[A-Za-z0-9_-]{1,64}$``), else raise."""
    if not isinstance(name, str):
        raise ValidationError(field, f"a configuration set name is a str, not {type(name).__name__}")
    if not _CONFIGURATION_SET_NAME.fullmatch(name):
        raise ValidationError(
            field,
            f"{name!r} is not a valid configuration set name: use 1 to 64 ASCII letters, digits, '_' or '-'",
        )
    return name


def validate_tenant_name(name: object, *, field: str = "tenant") -> str:
    """``name`` if it is a valid tenant name, else raise.

    SES's rule (``CreateTenant``'s ``TenantName``, SES API v2 reference): up to 64 characters, ASCII letters,
    digits, hyphens and underscores only (``^[A-Za-z0-9_-]{1,64}$``). So a valid name can go in an SMTP
    header (``X-SES-TENANT``) as it is: it holds no line break or other character a header cannot carry.
    """
    if not isinstance(name, str):
        raise ValidationError(field, f"a tenant name is a str, not {type(name).__name__}")
    if not _TENANT_NAME.fullmatch(name):
        raise ValidationError(
            field, f"{name!r} is not a valid tenant name: use 1 to 64 ASCII letters, digits, '_' or '-'"
        )
    return name


def validate_tag(name: object, value: object, *, field: str = "tags") -> None:
    """Raise unless ``name`` and ``value`` follow SES's message tag rules."""
    if not isinstance(name, str):
        raise ValidationError(field, f"tag names are str, not {type(name).__name__}")
    where = f"{field}[{name!r}]"
    if name.lower().startswith("ses:"):
        raise ValidationError(where, "tag names starting with 'ses:' are reserved for SES's own tags")
    if not _TAG_PART.fullmatch(name):
        raise ValidationError(
            where, "a tag name is 1 to 256 ASCII letters, digits, '_' or '-' (no spaces, dots or colons)"
        )
    if not isinstance(value, str):
        raise ValidationError(where, f"tag values are str, not {type(value).__name__}")
    if not _TAG_PART.fullmatch(value):
        raise ValidationError(
            where,
            f"tag value {value!r} is not 1 to 256 ASCII letters, digits, '_' or '-': "
            "encode other characters (for example an email address) before tagging",
        )


def validate_tags(
    tags: Mapping[str, str] | Iterable[tuple[str, str]] | None, *, field: str = "tags"
) -> Mapping[str, str]:
    """A read-only copy of ``tags`` after checking every name and value against SES's rules.

    Accepts a mapping or ``(name, value)`` pairs (a repeated name is an error); ``None`` gives no tags.
    """
    if tags is None:
        return MappingProxyType({})
    given: object = tags
    if isinstance(given, str | bytes):
        raise ValidationError(field, "tags are a mapping of name to value, not a string")
    out: dict[str, str] = {}
    items = tags.items() if isinstance(tags, Mapping) else tags
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise ValidationError(field, f"tags are (name, value) pairs, got {item!r}") from None
        validate_tag(name, value, field=field)
        if name in out:
            raise ValidationError(f"{field}[{name!r}]", "the tag is given twice: give each name once")
        out[name] = value
    return MappingProxyType(out)


def validate_template_name(name: object, *, field: str = "template.name") -> str:
    """``name`` if it is a valid SES template name (1 to 64 ASCII letters, digits, '_' or '-')."""
    if not isinstance(name, str):
        raise ValidationError(field, f"a template name is a str, not {type(name).__name__}")
    if not _TEMPLATE_NAME.fullmatch(name):
        raise ValidationError(
            field, f"{name!r} is not a valid template name: use 1 to 64 ASCII letters, digits, '_' or '-'"
        )
    return name


def validate_template_data(data: Mapping[str, Any] | str | None, *, field: str = "template.data") -> str:
    """The JSON text of ``data`` (a mapping, or JSON text of an object), checked against SES's size limit."""
    if data is None:
        return "{}"
    if isinstance(data, str):
        try:
            parsed = json.loads(data)
        except ValueError as exc:
            raise ValidationError(field, f"template data text is not JSON ({exc})") from None
        if not isinstance(parsed, dict):
            raise ValidationError(field, "template data must be a JSON object (name to value)")
        text = data
    elif isinstance(data, Mapping):
        try:
            plain = data if isinstance(data, dict) else dict(data)
            text = json.dumps(plain, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                field,
                f"template data must be JSON-serialisable ({exc}): convert dates, decimals and sets first",
            ) from None
    else:
        raise ValidationError(field, f"template data is a mapping or JSON text, not {type(data).__name__}")
    validate_unicode_text(text, field)
    if len(text) > MAX_TEMPLATE_DATA:
        raise ValidationError(
            field,
            f"template data is {len(text):,} characters as JSON and SES takes at most {MAX_TEMPLATE_DATA:,}: "
            "send less per recipient",
        )
    return text


def validate_header_text(value: str, field: str) -> None:
    """Raise unless ``value`` can travel in a message header as written (header injection, and what the MIME
    and SMTP paths cannot encode).

    Refused: every character of :data:`HEADER_LINE_BREAKS` (CR, LF, VT, FF, U+001C to U+001E, NEL, U+2028,
    U+2029), NUL, and lone surrogates (U+D800 to U+DFFF).
    """
    match = _NOT_IN_HEADER.search(value)
    if match is not None:
        char = match.group()
        what = "a lone surrogate" if _SURROGATE.match(char) else "NUL" if char == "\0" else "a line break"
        raise ValidationError(
            field,
            f"holds U+{ord(char):04X} ({what}) at position {match.start()}: header text must not contain "
            "line breaks (any of CR, LF, VT, FF, U+001C-U+001E, NEL, U+2028, U+2029), NUL or lone surrogates",
        )


def validate_unicode_text(value: str, field: str) -> None:
    """Raise if ``value`` holds a lone surrogate (U+D800 to U+DFFF): such text has no UTF-8 form."""
    match = _SURROGATE.search(value)
    if match is not None:
        raise ValidationError(
            field,
            f"holds a lone surrogate U+{ord(match.group()):04X} at position {match.start()}, which has no "
            "UTF-8 form: decode the text correctly (or with errors='replace') before sending it",
        )


def validate_header(name: object, value: object, *, field: str = "headers") -> None:
    """Raise unless ``name: value`` is a custom header sesflow may put on a message."""
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        raise ValidationError(
            field,
            f"{name!r} is not a header name: use printable ASCII without spaces or ':' (1 to 76 characters)",
        )
    where = f"{field}[{name!r}]"
    lowered = name.lower()
    if lowered in RESERVED_HEADERS:
        hint = _HEADER_FIELD_HINT.get(lowered)
        how = f"set the Email's {hint} field instead" if hint else "sesflow sets it itself"
        raise ValidationError(where, f"{name} cannot be set as a custom header: {how}")
    if not isinstance(value, str):
        raise ValidationError(where, f"header values are str, not {type(value).__name__}")
    validate_header_text(value, where)
    # The email package parses structured headers (Message-ID, References, ...) when the MIME is built, and
    # some malformed values make it fail there with an IndexError or ValueError: refuse them here instead.
    try:
        str(email.policy.default.header_factory(name, value))
    except Exception as exc:
        raise ValidationError(where, f"{value!r} is not a valid {name} header value ({exc!r})") from None


def validate_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None, *, field: str = "headers"
) -> Mapping[str, str]:
    """A read-only copy of ``headers`` after checking each (names are unique regardless of case)."""
    if headers is None:
        return MappingProxyType({})
    out: dict[str, str] = {}
    seen: set[str] = set()
    items = headers.items() if isinstance(headers, Mapping) else headers
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise ValidationError(field, f"headers are (name, value) pairs, got {item!r}") from None
        validate_header(name, value, field=field)
        if name.lower() in seen:
            raise ValidationError(f"{field}[{name!r}]", "the header is given twice: give each name once")
        seen.add(name.lower())
        out[name] = value
    return MappingProxyType(out)


def check_line_lengths(raw: bytes, *, field: str = "message") -> None:
    """Raise if a line of the raw message is longer than SES's 1,000 characters (line ending included)."""
    limit = MAX_LINE_LENGTH - 2
    if len(raw) <= limit:
        return
    lines = raw.split(b"\n")
    if max(map(len, lines)) <= limit:  # line lengths here still count the CR: this is the fast common case
        return
    for number, line in enumerate(lines, start=1):
        length = len(line.rstrip(b"\r"))
        if length > limit:
            raise ValidationError(
                field,
                f"line {number} of the encoded message is {length:,} characters and SES takes "
                f"at most {MAX_LINE_LENGTH:,} per line, line ending included: shorten the header on that "
                "line",
            )


def check_message_size(size: int, limit: int, *, field: str = "message", api: str = "v2") -> None:
    """Raise if an encoded message of ``size`` bytes exceeds ``limit``."""
    if size > limit:
        raise ValidationError(
            field,
            f"the message is {size:,} bytes after base64 encoding and SES's {api} limit is {limit:,}: "
            "send smaller attachments (or links to them)"
            + (", or use the v2 API, which takes up to 40 MB" if limit < MAX_MESSAGE_SIZE_V2 else ""),
        )
