"""Raw MIME from an ``Email``, with the standard library's ``email`` package.

Used for ``SendRawEmail`` / v2 ``Raw`` content (attachments, inline images, custom headers) and by the SMTP
sender. The structure is the usual one:

    multipart/mixed                  (only with attachments)
      multipart/alternative          (only with both text and html)
        text/plain
        multipart/related            (only with inline images)
          text/html
          image/...                  (inline, Content-ID)
      application/...                (attachment)

Bodies are 7-bit clean (quoted-printable or base64 as the stdlib chooses), headers are RFC 2047-encoded when
needed, and there is no ``Bcc`` header: Bcc recipients travel only in the envelope / API destinations.
"""

from __future__ import annotations

from collections.abc import Mapping
from email import policy as _policy
from email.headerregistry import Address as _HeaderAddress
from email.message import EmailMessage

from .errors import ValidationError
from .message import Address, Email
from .validation import (
    MAX_MESSAGE_SIZE_V2,
    check_line_lengths,
    check_message_size,
    validate_configuration_set_name,
    validate_tags,
)

__all__ = ["MIME_POLICY", "build_mime", "mime_bytes", "format_tags_header"]

MIME_POLICY = _policy.SMTP.clone(cte_type="7bit")
"""CRLF line endings, 78-character folding, and 7-bit bodies (what SES's raw interface expects)."""


def format_tags_header(tags: Mapping[str, str]) -> str:
    """The ``X-SES-MESSAGE-TAGS`` value for ``tags``: ``name1=value1, name2=value2``."""
    return ", ".join(f"{name}={value}" for name, value in tags.items())


def _header_address(address: Address) -> _HeaderAddress:
    return _HeaderAddress(display_name=address.name or "", addr_spec=address.ascii_email)


def build_mime(
    email: Email, *, configuration_set: str | None = None, tags: Mapping[str, str] | None = None
) -> EmailMessage:
    """The MIME message for ``email``, with ``X-SES-CONFIGURATION-SET`` and ``X-SES-MESSAGE-TAGS`` set.

    ``configuration_set`` and ``tags`` are what to put in SES's headers (``None`` / empty leaves a header
    out); both are checked by SES's rules. The caller decides them (the clients merge the message's own with
    their defaults); the message's ``configuration_set`` and ``tags`` fields are not read here. Templated
    messages are rendered by SES and have no MIME form: they raise ``ValidationError``.
    """
    if email.template is not None:
        raise ValidationError(
            "template",
            "a templated message is rendered by SES and cannot be built as MIME: send it with the API",
        )
    msg = EmailMessage(policy=MIME_POLICY)
    msg["From"] = _header_address(email.sender)
    if email.to:
        msg["To"] = [_header_address(a) for a in email.to]
    if email.cc:
        msg["Cc"] = [_header_address(a) for a in email.cc]
    if email.reply_to:
        msg["Reply-To"] = [_header_address(a) for a in email.reply_to]
    msg["Subject"] = email.subject or ""
    for name, value in email.all_headers().items():
        msg[name] = value
    if configuration_set is not None:
        msg["X-SES-CONFIGURATION-SET"] = validate_configuration_set_name(configuration_set)
    if tags:
        msg["X-SES-MESSAGE-TAGS"] = format_tags_header(validate_tags(tags))

    if email.text is not None:
        msg.set_content(email.text, subtype="plain", charset="utf-8")
        if email.html is not None:
            msg.add_alternative(email.html, subtype="html", charset="utf-8")
    else:
        assert email.html is not None  # Email guarantees text and/or html without a template
        msg.set_content(email.html, subtype="html", charset="utf-8")

    inline = [item for item in email.attachments if item.inline]
    if inline:
        html_part = msg if email.text is None else _html_alternative(msg)
        for item in inline:
            maintype, _, subtype = item.content_type.partition("/")
            html_part.add_related(
                item.content,
                maintype=maintype,
                subtype=subtype,
                cid=f"<{item.content_id}>",
                filename=item.filename,
                disposition="inline",
            )
    for item in email.attachments:
        if item.inline:
            continue
        maintype, _, subtype = item.content_type.partition("/")
        msg.add_attachment(item.content, maintype=maintype, subtype=subtype, filename=item.filename)
    return msg


def _html_alternative(msg: EmailMessage) -> EmailMessage:
    for part in msg.iter_parts():
        if isinstance(part, EmailMessage) and part.get_content_type() == "text/html":
            return part
    raise AssertionError("the html alternative was just added")  # pragma: no cover


def mime_bytes(message: EmailMessage, *, limit: int = MAX_MESSAGE_SIZE_V2, api: str = "v2") -> bytes:
    """The wire bytes of ``message`` (CRLF), checked for SES's line length and ``limit`` (bytes).

    A message the email package cannot write (a header value it refuses, text without a UTF-8 form) raises
    ``ValidationError`` naming what it said, like any other message that cannot be sent.
    """
    try:
        data = message.as_bytes(policy=MIME_POLICY)
    except Exception as exc:  # the email package raises ValueError, UnicodeError, IndexError... for bad input
        raise ValidationError(
            "message", f"the email package cannot write this message ({type(exc).__name__}: {exc}): fix it"
        ) from exc
    check_message_size(len(data), limit, api=api)
    check_line_lengths(data)
    return data
