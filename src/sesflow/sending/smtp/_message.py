"""A message made ready for SMTP: SES's headers set by the API clients' rules, its envelope, its bytes."""

from __future__ import annotations

import copy
import email.utils
import re
from collections.abc import Iterable, Mapping
from email.message import EmailMessage

import attrs

from .._core import choose_configuration_set, merge_tags
from ..errors import ValidationError
from ..message import Address, Email
from ..mime import build_mime, format_tags_header, mime_bytes
from ..validation import MAX_MESSAGE_SIZE_V2, MAX_RECIPIENTS, validate_header_text, validate_tenant_name

__all__ = ["TENANT_HEADER", "PreparedMessage", "prepare_message", "parse_tags_header"]

TENANT_HEADER = "X-SES-TENANT"
"""The header that names the tenant of a message sent over SMTP (the Developer Guide's "Tenants" chapter,
"Using SMTP with tenants")."""

_FOLDING = re.compile(r"\r?\n(?=[ \t])")


@attrs.frozen
class PreparedMessage:
    """A message ready for the wire: its envelope, its bytes, and what was attached to it."""

    envelope_from: str
    recipients: tuple[str, ...]
    data: bytes = attrs.field(repr=False)
    message_id: str
    configuration_set: str | None
    tags: Mapping[str, str]
    tenant: str | None = None

    @property
    def eight_bit(self) -> bool:
        """Whether the bytes need the server's ``8BITMIME`` support."""
        return not self.data.isascii()


def prepare_message(
    message: Email | EmailMessage,
    *,
    configuration_set: str | None = None,
    tags: Mapping[str, str] | None = None,
    default_configuration_set: str | None = None,
    allow_no_configuration_set: bool = False,
    tenant: str | None = None,
    default_tenant: str | None = None,
) -> PreparedMessage:
    """Build the bytes and envelope of ``message`` with SES's headers set. Pure: no IO.

    The configuration set is the first of: ``configuration_set``, the message's own (an ``Email``'s
    ``configuration_set``, or an ``X-SES-CONFIGURATION-SET`` header already on an ``EmailMessage``), and
    ``default_configuration_set``. Without any, this raises
    ``ConfigurationSetRequired`` unless ``allow_no_configuration_set``.
    ``tags`` are added to the message's own (an ``Email``'s ``tags``, or those of an ``X-SES-MESSAGE-TAGS``
    header), winning on equal names. The name and the tags are checked by the same rules as the API path.
    The tenant, likewise, is the first of ``tenant``, the message's own (an ``Email``'s ``tenant``, or an
    ``X-SES-TENANT`` header already on an ``EmailMessage``), and ``default_tenant``; none means the message
    is sent for no tenant. It goes in an ``X-SES-TENANT`` header, checked by SES's tenant name rule.

    An ``EmailMessage`` is copied, never changed: the copy gets SES's headers (replacing any), a
    ``Message-ID`` and a ``Date`` when it has none, and loses its ``Bcc`` header; the envelope sender is its
    ``Sender`` or ``From`` address and the recipients are those of ``To``, ``Cc`` and ``Bcc``. An ``Email``
    is built by ``build_mime``; its envelope sender is its ``feedback_address``
    (where SES sends bounces for SMTP mail) or its sender.
    """
    if isinstance(message, EmailMessage):
        mime, envelope_from, recipients = _copy_with_envelope(message)
        own_set_field = "X-SES-CONFIGURATION-SET"
        header_set = mime.get("X-SES-CONFIGURATION-SET")
        own_set = None if header_set is None else str(header_set).strip()
        own_tags = parse_tags_header(str(mime.get("X-SES-MESSAGE-TAGS", "")))
        header_tenant = mime.get(TENANT_HEADER)
        own_tenant = None if header_tenant is None else str(header_tenant).strip()
        own_tenant_field = TENANT_HEADER
    elif isinstance(message, Email):
        if message.list_management is not None:
            raise ValidationError(
                "list_management",
                "SES's list management is an option of the v2 API, not of SMTP: send this message with a "
                "SesClient",
            )
        mime = None
        envelope_from = (message.feedback_address or message.sender).ascii_email
        recipients = _unique(message.recipients)
        own_set_field = "Email.configuration_set"
        own_set = message.configuration_set
        own_tags = dict(message.tags)
        own_tenant = message.tenant
        own_tenant_field = "Email.tenant"
    else:
        raise TypeError(
            f"send an sesflow Email or an email.message.EmailMessage, not {type(message).__name__}"
        )

    chosen = choose_configuration_set(
        [
            (configuration_set, "configuration_set"),
            (own_set, own_set_field),
            (default_configuration_set, "configuration_set"),
        ],
        allow_none=allow_no_configuration_set,
    )
    all_tags = merge_tags(own_tags, tags)
    chosen_tenant = _choose_tenant(
        [(tenant, "tenant"), (own_tenant, own_tenant_field), (default_tenant, "tenant")]
    )

    if mime is None:
        assert isinstance(message, Email)
        mime = build_mime(message, configuration_set=chosen, tags=all_tags)
    else:
        del mime["X-SES-CONFIGURATION-SET"]
        del mime["X-SES-MESSAGE-TAGS"]
        del mime[TENANT_HEADER]
        if chosen is not None:
            mime["X-SES-CONFIGURATION-SET"] = chosen
        if all_tags:
            mime["X-SES-MESSAGE-TAGS"] = format_tags_header(all_tags)
    if chosen_tenant is not None:
        mime[TENANT_HEADER] = chosen_tenant
    if mime.get("Date") is None:
        mime["Date"] = email.utils.formatdate(usegmt=True)
    if mime.get("Message-ID") is None:
        mime["Message-ID"] = email.utils.make_msgid(domain=envelope_from.rpartition("@")[2])
    data = mime_bytes(mime, limit=MAX_MESSAGE_SIZE_V2, api="SMTP")
    return PreparedMessage(
        envelope_from=envelope_from,
        recipients=recipients,
        data=data,
        message_id=str(mime["Message-ID"]),
        configuration_set=chosen,
        tags=all_tags,
        tenant=chosen_tenant,
    )


def _choose_tenant(candidates: Iterable[tuple[str | None, str]]) -> str | None:
    """The first tenant given among ``(name, field)`` candidates (most specific first), checked by SES's
    naming rule (an error naming its field); None when none is given."""
    for name, field in candidates:
        if name is not None:
            return validate_tenant_name(name, field=field)
    return None


def parse_tags_header(value: str, *, field: str = "X-SES-MESSAGE-TAGS") -> dict[str, str]:
    """The tags of an ``X-SES-MESSAGE-TAGS`` value (``name1=value1, name2=value2``), not yet checked by
    SES's rules; raises ``ValidationError`` for an entry without ``=``."""
    tags: dict[str, str] = {}
    for entry in value.split(","):
        entry = entry.strip()
        if not entry:
            continue
        name, sep, tag_value = entry.partition("=")
        if not sep:
            raise ValidationError(
                field, f"entry {entry!r} is not name=value: write 'name1=value1, name2=value2'"
            )
        tags[name.strip()] = tag_value.strip()
    return tags


def _copy_with_envelope(message: EmailMessage) -> tuple[EmailMessage, str, tuple[str, ...]]:
    mime = copy.deepcopy(message)
    for name, value in mime.items():
        # A message parsed with the compat32 policy keeps its headers folded: a line break before a space or
        # tab is folding, any other is a header injected into the message.
        validate_header_text(_FOLDING.sub("", str(value)), name)
    sender_field = "Sender" if mime.get("Sender") is not None else "From"
    senders = [a for _, a in email.utils.getaddresses([str(v) for v in mime.get_all(sender_field, [])]) if a]
    if not senders:
        raise ValidationError(
            "From", "the message has no sender address: set msg['From'] to a verified identity"
        )
    envelope_from = _wire_address(senders[0], sender_field)
    recipients: list[str] = []
    for name in ("To", "Cc", "Bcc"):
        values = [str(v) for v in mime.get_all(name, [])]
        recipients.extend(_wire_address(a, name) for _, a in email.utils.getaddresses(values) if a)
    unique = _unique(recipients)
    if not unique:
        raise ValidationError("To", "the message has no recipients: set To, Cc or Bcc")
    if len(unique) > MAX_RECIPIENTS:
        raise ValidationError(
            "To",
            f"{len(unique)} recipients (To + Cc + Bcc) and SES takes at most {MAX_RECIPIENTS} per "
            "message: split the message",
        )
    del mime["Bcc"]
    return mime, envelope_from, unique


def _wire_address(address: str, field: str) -> str:
    """``address`` checked by the same rules as an ``Email``'s, with its domain in ASCII (IDNA)."""
    try:
        return Address(address).ascii_email
    except ValidationError as exc:
        raise ValidationError(field, exc.reason) from None


def _unique(addresses: Iterable[str]) -> tuple[str, ...]:
    """Addresses in order, each once (compared without regard to case)."""
    seen: set[str] = set()
    out: list[str] = []
    for address in addresses:
        if address.lower() not in seen:
            seen.add(address.lower())
            out.append(address)
    return tuple(out)
