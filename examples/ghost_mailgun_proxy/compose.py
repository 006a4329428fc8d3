"""One sesflow :class:`~sesflow.sending.Email` per recipient of a :class:`~.mailgun.Batch`. Pure: no IO.

What Mailgun does for a batch, done here per recipient:

- ``%recipient.<key>%`` is replaced by that recipient's variable in the subject, the bodies and every header
  (a key the recipient lacks gives an empty string); ``%recipient%``, ``%recipient_email%``,
  ``%recipient_name%``, ``%recipient_fname%`` and ``%recipient_lname%`` work as in Mailgun.
- Mailgun's own unsubscribe placeholders (``%tag_unsubscribe_email%``, ``%unsubscribe_url%`` ...) have no
  SES counterpart: in ``List-Unsubscribe`` their entry is dropped (or the mailto is replaced by the configured
  address), elsewhere they are removed.
- ``h:`` headers become the message's headers: ``Reply-To`` the reply-to address, ``List-Unsubscribe`` (with
  ``List-Unsubscribe-Post``) sesflow's :class:`~sesflow.sending.ListUnsubscribe`, the rest custom headers.
  Headers sesflow writes itself (``From``, ``To``, ``Subject``, ``Sender``, ``Content-Type`` ...) and
  Mailgun's ``X-Mailgun-*`` controls are not copied.
- ``o:tag`` values, ``v:email-id`` and the batch id travel as SES message tags (:func:`ses_tags`), so every
  SES event names them again even without the proxy's database; so does the proxy's own id of the
  recipient's send (``mailgun-send-id``), which is how an SES event proves that SES accepted the message
  (:mod:`.reconcile`).
- ``o:tracking-clicks=no`` marks every link ``ses:no-track``; beyond SES's 250 tracked links, the rest are
  marked too.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any, Final

from sesflow.sending import Email, ListUnsubscribe, ValidationError, scan_links
from sesflow.sending.validation import MAX_TRACKED_LINKS, RESERVED_HEADERS

from .mailgun import Batch, Recipient

__all__ = [
    "MAILGUN_ONLY_PLACEHOLDERS",
    "TAG_EMAIL_ID",
    "TAG_MESSAGE_ID",
    "TAG_NO_OPENS",
    "TAG_PREFIX",
    "TAG_SEND",
    "compose",
    "decode_tag_value",
    "encode_tag_value",
    "limit_tracked_links",
    "ses_tags",
    "substitute",
    "tags_from_ses",
]

log = logging.getLogger("ghost_mailgun_proxy.compose")

MAILGUN_ONLY_PLACEHOLDERS: Final = (
    "tag_unsubscribe_email",
    "tag_unsubscribe_url",
    "unsubscribe_email",
    "unsubscribe_url",
    "mailing_list_unsubscribe_email",
    "mailing_list_unsubscribe_url",
)
_MAILGUN_ONLY: Final = re.compile("%(?:" + "|".join(MAILGUN_ONLY_PLACEHOLDERS) + ")%")
_MAILGUN_ONLY_EMAIL: Final = re.compile(
    r"%(?:tag_unsubscribe_email|unsubscribe_email|mailing_list_unsubscribe_email)%"
)
_RECIPIENT: Final = re.compile(r"%recipient(?:\.([^%\s]+)|_(email|name|fname|lname))?%")
_TARGET: Final = re.compile(r"<([^<>]*)>")
_MESSAGE_ID: Final = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")

TAG_PREFIX: Final = "mailgun-"
TAG_MESSAGE_ID: Final = "mailgun-message-id"
TAG_EMAIL_ID: Final = "mailgun-email-id"
TAG_NO_OPENS: Final = "mailgun-no-opens"
TAG_SEND: Final = "mailgun-send-id"
_TAG_NAME: Final = "mailgun-tag-{}"
_MAX_TAGS: Final = 10
_MAX_TAG_LENGTH: Final = 256
_SAFE: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")

# Headers Ghost sends that sesflow writes from the message's own fields, or that only Mailgun understands.
_SKIPPED: Final = RESERVED_HEADERS - {"reply-to", "list-unsubscribe", "list-unsubscribe-post"}


# ----------------------------------------------------------------------------------------- SES tags


def encode_tag_value(value: str) -> str:
    """``value`` in SES's tag alphabet (letters, digits, ``-``, ``_``), reversibly: every other character is
    written as ``_`` and two hex digits per UTF-8 byte (``_`` itself is ``_5F``). An empty value is ``_``.
    Longer than 256 characters, the encoding is cut (at a whole character) and no longer decodes exactly."""
    if not value:
        return "_"
    out: list[str] = []
    length = 0
    for char in value:
        piece = char if char in _SAFE else "".join(f"_{byte:02X}" for byte in char.encode("utf-8"))
        if length + len(piece) > _MAX_TAG_LENGTH:
            break
        out.append(piece)
        length += len(piece)
    return "".join(out)


def decode_tag_value(value: str) -> str:
    """The text :func:`encode_tag_value` encoded (malformed escapes are kept as they are)."""
    if value == "_":
        return ""
    data = bytearray()
    index = 0
    while index < len(value):
        char = value[index]
        pair = value[index + 1 : index + 3]
        if char == "_" and len(pair) == 2 and all(c in "0123456789ABCDEFabcdef" for c in pair):
            data.append(int(pair, 16))
            index += 3
        else:
            data.extend(char.encode("utf-8"))
            index += 1
    return data.decode("utf-8", "replace")


def ses_tags(batch: Batch) -> dict[str, str]:
    """The SES message tags of every message of ``batch``: its id, ``v:email-id``, up to ten ``o:tag``
    values, and ``mailgun-no-opens`` when Ghost turned open tracking off."""
    tags = {TAG_MESSAGE_ID: encode_tag_value(batch.id)}
    if batch.email_id is not None:
        tags[TAG_EMAIL_ID] = encode_tag_value(batch.email_id)
    for number, tag in enumerate(batch.tags[:_MAX_TAGS], start=1):
        tags[_TAG_NAME.format(number)] = encode_tag_value(tag)
    if batch.track_opens is False:
        tags[TAG_NO_OPENS] = "yes"
    return tags


def tags_from_ses(
    tags: Mapping[str, tuple[str, ...]],
) -> tuple[str | None, str | None, tuple[str, ...], bool]:
    """What :func:`ses_tags` wrote, read back from an event's ``mail.tags``: the batch id, the email id, the
    ``o:tag`` values in order, and whether opens are tracked."""

    def first(name: str) -> str | None:
        values = tags.get(name)
        return decode_tag_value(values[0]) if values else None

    numbered = []
    for name, values in tags.items():
        suffix = name.removeprefix(_TAG_NAME.format(""))
        if name.startswith(_TAG_NAME.format("")) and suffix.isdigit() and values:
            numbered.append((int(suffix), decode_tag_value(values[0])))
    return (
        first(TAG_MESSAGE_ID),
        first(TAG_EMAIL_ID),
        tuple(tag for _, tag in sorted(numbered)),
        TAG_NO_OPENS not in tags,
    )


# ----------------------------------------------------------------------------------------- substitution


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def substitute(text: str, recipient: Recipient) -> str:
    """``text`` with Mailgun's recipient placeholders filled in for ``recipient``."""
    if "%recipient" not in text:
        return text
    name = (
        _text(recipient.variables.get("name")) if "name" in recipient.variables else _display_name(recipient)
    )

    def replace(match: re.Match[str]) -> str:
        key, builtin = match.group(1), match.group(2)
        if key is not None:
            return _text(recipient.variables.get(key))
        if builtin is None:
            return recipient.to
        if builtin == "email":
            return recipient.address
        if builtin == "name":
            return name
        first, _, last = name.partition(" ")
        return first if builtin == "fname" else last

    return _RECIPIENT.sub(replace, text)


def _display_name(recipient: Recipient) -> str:
    head, sep, _ = recipient.to.rpartition("<")
    return head.strip().strip('"') if sep else ""


def _remove_mailgun_only(text: str) -> str:
    return _MAILGUN_ONLY.sub("", text) if "%" in text else text


def _header_value(text: str, recipient: Recipient) -> str:
    value = _remove_mailgun_only(substitute(text, recipient))
    return " ".join(value.split()) if ("\r" in value or "\n" in value) else value


# ----------------------------------------------------------------------------------------- links


def limit_tracked_links(html: str, keep: int) -> str:
    """``html`` with ``ses:no-track`` added to every link SES would track beyond the first ``keep``."""
    scan = scan_links(html)
    if scan.tracked <= keep:
        return html
    out: list[str] = []
    last = 0
    seen = 0
    for link in scan.links:
        if not link.tracked:
            continue
        seen += 1
        if seen <= keep:
            continue
        insert_at = link.offset + 2  # after "<a"
        out.append(html[last:insert_at])
        out.append(" ses:no-track")
        last = insert_at
    out.append(html[last:])
    return "".join(out)


# ----------------------------------------------------------------------------------------- headers


def _list_unsubscribe(
    raw: str, post: str | None, recipient: Recipient, mailto_replacement: str | None
) -> ListUnsubscribe | None:
    url: str | None = None
    mailto: str | None = None
    for target in _TARGET.findall(substitute(raw, recipient)):
        target = target.strip()
        if _MAILGUN_ONLY_EMAIL.search(target):
            if mailto_replacement is None:
                continue
            target = mailto_replacement
        elif _MAILGUN_ONLY.search(target):
            continue
        lowered = target.lower()
        if lowered.startswith(("https://", "http://")) and url is None:
            url = target
        elif mailto is None and (lowered.startswith("mailto:") or ("@" in target and ":" not in target)):
            mailto = target
    if url is None and mailto is None:
        return None
    one_click = (
        post is not None
        and "one-click" in post.lower()
        and url is not None
        and url.lower().startswith("https://")
    )
    try:
        return ListUnsubscribe(url=url, mailto=mailto, one_click=one_click)
    except ValidationError as exc:
        log.warning("List-Unsubscribe for %s is left out: %s", recipient.address, exc)
        return None


def compose(
    batch: Batch,
    recipient: Recipient,
    *,
    configuration_set: str,
    unsubscribe_mailto: str | None = None,
    send_tag: str | None = None,
) -> Email:
    """The message to send to ``recipient``; raises :class:`~sesflow.sending.ValidationError` when sesflow
    refuses it (the proxy checks the first recipient when the batch arrives, so that is a 400 for Ghost).

    ``send_tag`` is the value of the ``mailgun-send-id`` tag: the proxy's id of this send
    (:func:`.reconcile.send_tag`)."""
    reply_to: str | None = None
    unsubscribe_raw: str | None = None
    unsubscribe_post: str | None = None
    headers: dict[str, str] = {}
    seen: set[str] = set()
    for name, raw in batch.headers:
        lowered = name.lower()
        if lowered == "reply-to":
            reply_to = _header_value(raw, recipient)
        elif lowered == "list-unsubscribe":
            unsubscribe_raw = raw
        elif lowered == "list-unsubscribe-post":
            unsubscribe_post = raw
        elif lowered in _SKIPPED or lowered.startswith("x-mailgun-") or lowered in seen:
            continue
        else:
            value = _header_value(raw, recipient).strip()
            if lowered == "message-id" and not _MESSAGE_ID.fullmatch(value):
                continue  # e.g. <%recipient.message_id%> for a recipient without one: SES makes its own
            if value:
                headers[name] = value
                seen.add(lowered)
    list_unsubscribe = (
        None
        if unsubscribe_raw is None
        else _list_unsubscribe(unsubscribe_raw, unsubscribe_post, recipient, unsubscribe_mailto)
    )
    html = None
    if batch.html is not None:
        html = _remove_mailgun_only(substitute(batch.html, recipient))
        html = limit_tracked_links(html, 0 if batch.track_clicks is False else MAX_TRACKED_LINKS)
    text = None if batch.text is None else _remove_mailgun_only(substitute(batch.text, recipient))
    tags = ses_tags(batch)
    if send_tag is not None:
        tags[TAG_SEND] = send_tag
    return Email(
        sender=_header_value(batch.sender, recipient),
        to=recipient.to,
        reply_to=reply_to or None,
        subject=_header_value(batch.subject, recipient),
        text=text,
        html=html,
        headers=headers,
        tags=tags,
        list_unsubscribe=list_unsubscribe,
        configuration_set=configuration_set,
    )
