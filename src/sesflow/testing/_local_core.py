"""The pure half of ``LocalSes``: requests in, SES event records out. No IO.

``messages_from_request`` reads what an accepted send asked SES to do (any of the v1 and v2 send
operations, raw MIME included); ``Simulator`` decides what happens to each recipient (the mailbox
simulator's fixed outcomes, configurable ones for other addresses, opens and clicks drawn from a seeded
random generator) and builds the records SES would publish, in time order.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import enum
import json
import random
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Final

import attrs

from ..events import EVENT_CLASS_BY_TYPE, TENANT_TAG, EventType, event_types_from_names, format_timestamp
from ..sending.errors import ValidationError
from ..sending.links import parse_link_tags, scan_links

__all__ = [
    "SIMULATOR_DOMAIN",
    "DestinationKind",
    "LocalDestination",
    "Outcome",
    "SentMessage",
    "Simulator",
    "TemplateSource",
    "firehose_key",
    "firehose_row",
    "messages_from_request",
    "render_template",
    "simulator_outcome",
]

SIMULATOR_DOMAIN: Final = "simulator.amazonses.com"
"""The domain of SES's mailbox simulator."""


class Outcome(enum.StrEnum):
    """What happens to a message at one recipient, and the events it gives (after ``Send``).

    - ``DELIVERED``: Delivery (then maybe Open and Click).
    - ``BOUNCE``: Bounce, Permanent/General, status 5.1.1 (the address does not exist).
    - ``SOFT_BOUNCE``: Bounce, Transient/MailboxFull.
    - ``COMPLAINT``: Delivery, then Complaint (feedback type ``abuse``).
    - ``SUPPRESSED``: Bounce, Permanent/OnAccountSuppressionList (SES never tried the address).
    - ``DELAYED``: DeliveryDelay, then Delivery once the receiving server accepts it.
    - ``UNSUBSCRIBED``: Delivery, then Subscription: the recipient unsubscribed with the message's
      List-Unsubscribe header. SES publishes Subscription events only for messages sent under list
      management (``Email.list_management``); for others this is a plain delivery.

    A message that carries the EICAR anti-virus test string (in its text, html or an attachment) is rejected
    whatever its recipients' outcomes: Send, then one Reject, as SES does for a message with a virus.
    """

    DELIVERED = "delivered"
    BOUNCE = "bounce"
    SOFT_BOUNCE = "soft-bounce"
    COMPLAINT = "complaint"
    SUPPRESSED = "suppressed"
    DELAYED = "delayed"
    UNSUBSCRIBED = "unsubscribed"


# The standard anti-virus test string (EICAR): harmless, and what every scanner, SES's included, flags.
EICAR_TEST_STRING: Final = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def _carries_test_virus(*parts: str | bytes | None) -> bool:
    marker = EICAR_TEST_STRING.encode()
    for part in parts:
        if part is None:
            continue
        data = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        if marker in data:
            return True
    return False


_SIMULATOR_MAILBOXES: Final[Mapping[str, Outcome]] = {
    "success": Outcome.DELIVERED,
    "ooto": Outcome.DELIVERED,  # delivered; the out-of-office auto-reply is mail, not an event
    "bounce": Outcome.BOUNCE,
    "complaint": Outcome.COMPLAINT,
    "suppressionlist": Outcome.SUPPRESSED,
}


def _bare(address: str) -> str:
    """The address without a display name: ``"Jane <jane@example.com>"`` gives ``jane@example.com``."""
    parsed = email.utils.parseaddr(address)[1]
    return parsed or address.strip()


def simulator_outcome(address: str) -> Outcome | None:
    """The mailbox simulator's outcome for ``address`` (labels after ``+`` allowed), or None for any address
    that is not one of its mailboxes (``success``, ``bounce``, ``ooto``, ``complaint``, ``suppressionlist``).

    >>> simulator_outcome("bounce+order-17@simulator.amazonses.com")
    <Outcome.BOUNCE: 'bounce'>
    """
    local, _, domain = _bare(address).rpartition("@")
    if domain.lower() != SIMULATOR_DOMAIN:
        return None
    return _SIMULATOR_MAILBOXES.get(local.split("+", 1)[0].lower())


class DestinationKind(enum.StrEnum):
    """Where an event destination publishes."""

    SNS = "sns"
    FIREHOSE = "firehose"
    EVENTBRIDGE = "eventbridge"
    CLOUDWATCH = "cloudwatch"


@attrs.frozen
class LocalDestination:
    """One event destination of a configuration set, as ``LocalSes`` publishes to it.

    ``target`` is the topic ARN (SNS), the delivery stream ARN (Firehose), the event bus name or ARN
    (EventBridge), or None (CloudWatch, which publishes metrics, not records: LocalSes publishes nothing
    there).
    """

    configuration_set: str
    name: str
    kind: DestinationKind
    target: str | None
    event_types: frozenset[EventType]
    enabled: bool = True

    def wants(self, event_type: EventType) -> bool:
        """Whether this destination publishes events of ``event_type`` (and is enabled)."""
        return self.enabled and event_type in self.event_types

    @classmethod
    def from_api(cls, configuration_set: str, name: str, spec: Mapping[str, Any]) -> LocalDestination:
        """A destination from an ``EventDestination`` of either API (v1 ``SNSDestination.TopicARN``, v2
        ``SnsDestination.TopicArn`` ...)."""
        kind = DestinationKind.CLOUDWATCH
        target: str | None = None
        sns = spec.get("SNSDestination") or spec.get("SnsDestination")
        firehose = spec.get("KinesisFirehoseDestination")
        eventbridge = spec.get("EventBridgeDestination")
        if sns:
            kind, target = DestinationKind.SNS, sns.get("TopicARN") or sns.get("TopicArn")
        elif firehose:
            kind = DestinationKind.FIREHOSE
            target = firehose.get("DeliveryStreamARN") or firehose.get("DeliveryStreamArn")
        elif eventbridge is not None:
            kind, target = DestinationKind.EVENTBRIDGE, eventbridge.get("EventBusArn") or "default"
        return cls(
            configuration_set,
            name,
            kind,
            target,
            event_types_from_names(spec.get("MatchingEventTypes") or ()),
            bool(spec.get("Enabled", False)),
        )


@attrs.frozen
class SentMessage:
    """One message SES accepted, as LocalSes saw the request: what its events will say.

    ``recipients`` are bare addresses (To, Cc and Bcc); ``headers`` the message's headers in order (given for
    raw MIME, composed as SES does for the other kinds); ``tags`` the sender's own message tags.
    ``rendering_error`` is set when a template could not be rendered: SES then publishes a Rendering Failure
    and sends nothing. ``contact_list`` and ``topic`` are the message's list management options; ``virus``
    says it carries the EICAR test string; ``tenant`` is the tenant the message was sent for (v2
    ``TenantName``), which its events name in the ``ses:tenant-name`` tag.
    """

    message_id: str
    operation: str
    configuration_set: str | None
    source: str
    recipients: tuple[str, ...]
    headers: tuple[tuple[str, str], ...] = ()
    common_headers: Mapping[str, Any] = attrs.field(factory=dict)
    subject: str | None = None
    html: str | None = None
    tags: Mapping[str, str] = attrs.field(factory=dict)
    template_name: str | None = None
    rendering_error: str | None = None
    contact_list: str | None = None  # list management (v2 ListManagementOptions)
    topic: str | None = None
    virus: bool = False  # carries the EICAR test string: SES rejects it
    tenant: str | None = None


TemplateSource = Callable[[str], "Mapping[str, str | None] | None"]
"""Looks up a stored template by name: ``{"subject": ..., "html": ..., "text": ...}``, or None."""

# ------------------------------------------------------------------------------------------ templates

_PLACEHOLDER = re.compile(r"\{\{\{?\s*([^{}#/^!>\s][^{}\s]*)\s*\}?\}\}")


def _lookup(data: Any, path: str) -> tuple[bool, Any]:
    value = data
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return False, None
    return True, value


def render_template(text: str | None, data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(rendered, missing)``: ``{{name}}`` and ``{{a.b}}`` placeholders of ``text`` replaced from ``data``.

    ``missing`` names the first placeholder ``data`` lacks (SES then fails to render the message). Block
    helpers (``{{#if}}``, ``{{#each}}``) are left as they are: this is a stand-in for SES's renderer, enough
    to give events their subject and links, not a Handlebars implementation.
    """
    if text is None:
        return None, None
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        found, value = _lookup(data, match.group(1))
        if not found:
            missing.append(match.group(1))
            return ""
        return "" if value is None else str(value)

    rendered = _PLACEHOLDER.sub(substitute, text)
    return rendered, (missing[0] if missing else None)


def _template_data(raw: Any) -> Mapping[str, Any]:
    if isinstance(raw, Mapping):
        return raw
    if isinstance(raw, str) and raw.strip():
        try:
            loaded = json.loads(raw)
        except ValueError:
            return {}
        return loaded if isinstance(loaded, Mapping) else {}
    return {}


# ------------------------------------------------------------------------------------------ requests


def _tags(items: object) -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(items, Sequence):
        for item in items:
            if isinstance(item, Mapping) and "Name" in item:
                out[str(item["Name"])] = str(item.get("Value", ""))
    return out


def _header_tags(value: str | None) -> dict[str, str]:
    """Tags from an ``X-SES-MESSAGE-TAGS: name1=value1, name2=value2`` header."""
    out: dict[str, str] = {}
    for part in (value or "").split(","):
        name, sep, tag_value = part.partition("=")
        if sep and name.strip():
            out[name.strip()] = tag_value.strip()
    return out


def _destination(value: object) -> tuple[list[str], list[str], list[str]]:
    spec = value if isinstance(value, Mapping) else {}
    return (
        [str(a) for a in spec.get("ToAddresses") or ()],
        [str(a) for a in spec.get("CcAddresses") or ()],
        [str(a) for a in spec.get("BccAddresses") or ()],
    )


def _recipients(*groups: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        for address in group:
            seen.setdefault(_bare(address), None)
    return tuple(seen)


def _simple_headers(
    source: str,
    to: Sequence[str],
    cc: Sequence[str],
    reply_to: Sequence[str],
    subject: str | None,
    content_type: str,
    extra: Iterable[tuple[str, str]] = (),
) -> tuple[tuple[str, str], ...]:
    headers = [("From", source)]
    if reply_to:
        headers.append(("Reply-To", ", ".join(reply_to)))
    if to:
        headers.append(("To", ", ".join(to)))
    if cc:
        headers.append(("Cc", ", ".join(cc)))
    headers.append(("Subject", subject or ""))
    headers.append(("MIME-Version", "1.0"))
    headers.append(("Content-Type", content_type))
    headers.extend(extra)
    return tuple(headers)


def _simple_common(
    source: str, to: Sequence[str], cc: Sequence[str], reply_to: Sequence[str], subject: str | None
) -> dict[str, Any]:
    common: dict[str, Any] = {"from": [source]}
    if reply_to:
        common["replyTo"] = list(reply_to)
    if to:
        common["to"] = list(to)
    if cc:
        common["cc"] = list(cc)
    common["subject"] = subject or ""
    return common


def _content_type(text: str | None, html: str | None) -> str:
    if text is not None and html is not None:
        return 'multipart/alternative; boundary="----=_Part_sesflow_local"'
    if html is not None:
        return "text/html; charset=UTF-8"
    return "text/plain; charset=UTF-8"


def _data(value: object) -> str | None:
    if isinstance(value, Mapping):
        data = value.get("Data")
        return None if data is None else str(data)
    return None


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", value).strip()


def _parse_mime(data: object) -> EmailMessage:
    if isinstance(data, str):
        raw = data.encode("utf-8")
    elif isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
    else:
        raw = b""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _addresses_of(message: EmailMessage, name: str) -> list[str]:
    out: list[str] = []
    for header in message.get_all(name) or ():
        addresses = getattr(header, "addresses", None)
        if addresses is None:
            out.extend(a.strip() for a in str(header).split(",") if a.strip())
        else:
            out.extend(str(a) for a in addresses)
    return out


def _html_part(message: EmailMessage) -> str | None:
    for part in message.walk():
        if part.get_content_type() == "text/html" and not part.is_attachment():
            try:
                content = part.get_content()
            except (LookupError, ValueError):
                return None
            return content if isinstance(content, str) else None
    return None


def _decoded_parts(message: EmailMessage) -> list[bytes]:
    """Every leaf part's content, transfer encoding undone (what a virus scanner looks at)."""
    out = []
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            out.append(payload)
    return out


def _raw_message(
    message_id: str,
    operation: str,
    data: object,
    *,
    source: str | None,
    destinations: Sequence[str] | None,
    configuration_set: str | None,
    tags: Mapping[str, str],
) -> SentMessage:
    """A message sent as raw MIME: headers, subject and body come from the message itself."""
    parsed = _parse_mime(data)
    headers = tuple((name, _unfold(str(value))) for name, value in parsed.raw_items())
    header_from = _addresses_of(parsed, "From")
    to, cc = _addresses_of(parsed, "To"), _addresses_of(parsed, "Cc")
    bcc = _addresses_of(parsed, "Bcc")
    sender = source or (header_from[0] if header_from else "")
    if configuration_set is None:
        configuration_set = (parsed.get("X-SES-CONFIGURATION-SET") or "").strip() or None
    if not tags:
        tags = _header_tags(parsed.get("X-SES-MESSAGE-TAGS"))
    subject = parsed.get("Subject")
    common: dict[str, Any] = {"from": header_from or [sender]}
    if to:
        common["to"] = to
    if cc:
        common["cc"] = cc
    reply_to = _addresses_of(parsed, "Reply-To")
    if reply_to:
        common["replyTo"] = reply_to
    if parsed.get("Date"):
        common["date"] = str(parsed.get("Date"))
    common["subject"] = "" if subject is None else str(subject)
    return SentMessage(
        message_id=message_id,
        operation=operation,
        configuration_set=configuration_set,
        source=sender,
        recipients=_recipients(destinations) if destinations else _recipients(to, cc, bcc),
        headers=headers,
        common_headers=common,
        subject=None if subject is None else str(subject),
        html=_html_part(parsed),
        tags=dict(tags),
        virus=_carries_test_virus(*_decoded_parts(parsed)),
    )


def _templated_message(
    message_id: str,
    operation: str,
    *,
    source: str,
    destination: object,
    reply_to: Sequence[str],
    configuration_set: str | None,
    tags: Mapping[str, str],
    template_name: str | None,
    template: Mapping[str, str | None] | None,
    data: Mapping[str, Any],
    extra_headers: Iterable[tuple[str, str]] = (),
) -> SentMessage:
    to, cc, bcc = _destination(destination)
    parts = template or {}
    error = None
    rendered: dict[str, str | None] = {}
    for part in ("subject", "text", "html"):
        rendered[part], missing = render_template(parts.get(part), data)
        if missing is not None and error is None:
            error = f"Attribute '{missing}' is not present in the rendering data."
    subject = rendered["subject"]
    return SentMessage(
        message_id=message_id,
        operation=operation,
        configuration_set=configuration_set,
        source=source,
        recipients=_recipients(to, cc, bcc),
        headers=_simple_headers(
            source,
            to,
            cc,
            reply_to,
            subject,
            _content_type(rendered["text"], rendered["html"]),
            extra_headers,
        ),
        common_headers=_simple_common(source, to, cc, reply_to, subject),
        subject=subject,
        html=rendered["html"],
        tags=dict(tags),
        template_name=template_name,
        rendering_error=error,
        virus=_carries_test_virus(rendered["text"], rendered["html"]),
    )


def _simple_message(
    message_id: str,
    operation: str,
    *,
    source: str,
    destination: object,
    reply_to: Sequence[str],
    content: Mapping[str, Any],
    configuration_set: str | None,
    tags: Mapping[str, str],
) -> SentMessage:
    to, cc, bcc = _destination(destination)
    subject = _data(content.get("Subject"))
    body = content.get("Body") or {}
    text, html = _data(body.get("Text")), _data(body.get("Html"))
    extra = [(str(h.get("Name")), str(h.get("Value"))) for h in content.get("Headers") or () if "Name" in h]
    return SentMessage(
        message_id=message_id,
        operation=operation,
        configuration_set=configuration_set,
        source=source,
        recipients=_recipients(to, cc, bcc),
        headers=_simple_headers(source, to, cc, reply_to, subject, _content_type(text, html), extra),
        common_headers=_simple_common(source, to, cc, reply_to, subject),
        subject=subject,
        html=html,
        tags=dict(tags),
        virus=_carries_test_virus(text, html),
    )


def _v2_template(spec: Mapping[str, Any], templates: TemplateSource) -> tuple[str | None, Any]:
    name = spec.get("TemplateName")
    if name:
        return str(name), templates(str(name))
    content = spec.get("TemplateContent") or {}
    return None, {"subject": content.get("Subject"), "text": content.get("Text"), "html": content.get("Html")}


def _accepted(status: object) -> bool:
    return status is None or str(status).upper() == "SUCCESS"


def _v2_send_email(
    params: Mapping[str, Any], response: Mapping[str, Any], templates: TemplateSource, reply_to: Sequence[str]
) -> list[SentMessage]:
    """The message of a v2 ``SendEmail``: raw, templated or simple content."""
    source = str(params.get("FromEmailAddress", ""))
    configuration_set = params.get("ConfigurationSetName") or None
    tags = _tags(params.get("EmailTags"))
    content = params.get("Content") or {}
    message_id = str(response["MessageId"])
    if "Raw" in content:
        return [
            _raw_message(
                message_id,
                "SendRawEmail",
                (content.get("Raw") or {}).get("Data"),
                source=source or None,
                destinations=(
                    _recipients(*_destination(params["Destination"])) if params.get("Destination") else None
                ),
                configuration_set=configuration_set,
                tags=tags,
            )
        ]
    if "Template" in content:
        spec = content.get("Template") or {}
        v2_name, template = _v2_template(spec, templates)
        headers = [(str(h.get("Name")), str(h.get("Value"))) for h in spec.get("Headers") or ()]
        return [
            _templated_message(
                message_id,
                "SendTemplatedEmail",
                source=source,
                destination=params.get("Destination"),
                reply_to=reply_to,
                configuration_set=configuration_set,
                tags=tags,
                template_name=v2_name,
                template=template,
                data=_template_data(spec.get("TemplateData")),
                extra_headers=headers,
            )
        ]
    return [
        _simple_message(
            message_id,
            "SendEmail",
            source=source,
            destination=params.get("Destination"),
            reply_to=reply_to,
            content=content.get("Simple") or {},
            configuration_set=configuration_set,
            tags=tags,
        )
    ]


def messages_from_request(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    response: Mapping[str, Any],
    templates: TemplateSource,
) -> list[SentMessage]:
    """The messages an accepted send created: one per send, one per accepted destination of a bulk send.

    ``service`` is ``"ses"`` (v1) or ``"sesv2"``; ``operation`` the API name (``SendEmail`` ...); ``params``
    the request as boto3 took it; ``response`` SES's answer (its message ids). Operations that send nothing
    give an empty list.
    """
    reply_to = [str(a) for a in params.get("ReplyToAddresses") or ()]
    configuration_set = params.get("ConfigurationSetName") or None
    if service == "ses":
        tags = _tags(params.get("Tags"))
        if operation == "SendEmail":
            return [
                _simple_message(
                    str(response["MessageId"]),
                    "SendEmail",
                    source=str(params.get("Source", "")),
                    destination=params.get("Destination"),
                    reply_to=reply_to,
                    content=params.get("Message") or {},
                    configuration_set=configuration_set,
                    tags=tags,
                )
            ]
        if operation == "SendRawEmail":
            return [
                _raw_message(
                    str(response["MessageId"]),
                    "SendRawEmail",
                    (params.get("RawMessage") or {}).get("Data"),
                    source=params.get("Source"),
                    destinations=params.get("Destinations"),
                    configuration_set=configuration_set,
                    tags=tags,
                )
            ]
        if operation == "SendTemplatedEmail":
            name = str(params.get("Template", ""))
            return [
                _templated_message(
                    str(response["MessageId"]),
                    "SendTemplatedEmail",
                    source=str(params.get("Source", "")),
                    destination=params.get("Destination"),
                    reply_to=reply_to,
                    configuration_set=configuration_set,
                    tags=tags,
                    template_name=name,
                    template=templates(name),
                    data=_template_data(params.get("TemplateData")),
                )
            ]
        if operation == "SendBulkTemplatedEmail":
            name = str(params.get("Template", ""))
            template = templates(name)
            default_data = _template_data(params.get("DefaultTemplateData"))
            default_tags = _tags(params.get("DefaultTags"))
            out = []
            entries = params.get("Destinations") or ()
            for entry, status in zip(entries, response.get("Status") or (), strict=False):
                if not status.get("MessageId") or not _accepted(status.get("Status")):
                    continue
                data = entry.get("ReplacementTemplateData")
                out.append(
                    _templated_message(
                        str(status["MessageId"]),
                        "SendBulkTemplatedEmail",
                        source=str(params.get("Source", "")),
                        destination=entry.get("Destination"),
                        reply_to=reply_to,
                        configuration_set=configuration_set,
                        tags={**default_tags, **_tags(entry.get("ReplacementTags"))},
                        template_name=name,
                        template=template,
                        data=_template_data(data) if data else default_data,
                    )
                )
            return out
        return []
    if service != "sesv2":
        return []
    source = str(params.get("FromEmailAddress", ""))
    tenant = params.get("TenantName") or None
    if operation == "SendEmail":
        options = params.get("ListManagementOptions") or {}
        contact_list, topic = options.get("ContactListName"), options.get("TopicName")
        return [
            attrs.evolve(m, contact_list=contact_list, topic=topic, tenant=tenant)
            for m in _v2_send_email(params, response, templates, reply_to)
        ]
    if operation == "SendBulkEmail":
        spec = ((params.get("DefaultContent") or {}).get("Template")) or {}
        v2_name, template = _v2_template(spec, templates)
        default_data = _template_data(spec.get("TemplateData"))
        default_tags = _tags(params.get("DefaultEmailTags"))
        out = []
        entries = params.get("BulkEmailEntries") or ()
        for entry, result in zip(entries, response.get("BulkEmailEntryResults") or (), strict=False):
            if not result.get("MessageId") or not _accepted(result.get("Status")):
                continue
            replacement = ((entry.get("ReplacementEmailContent") or {}).get("ReplacementTemplate")) or {}
            data = replacement.get("ReplacementTemplateData")
            headers = [
                (str(h.get("Name")), str(h.get("Value"))) for h in entry.get("ReplacementHeaders") or ()
            ]
            out.append(
                _templated_message(
                    str(result["MessageId"]),
                    "SendBulkTemplatedEmail",
                    source=source,
                    destination=entry.get("Destination"),
                    reply_to=reply_to,
                    configuration_set=configuration_set,
                    tags={**default_tags, **_tags(entry.get("ReplacementTags"))},
                    template_name=v2_name,
                    template=template,
                    data=_template_data(data) if data else default_data,
                    extra_headers=headers,
                )
            )
        return [attrs.evolve(m, tenant=tenant) for m in out]
    return []


# ------------------------------------------------------------------------------------------ simulation

_USER_AGENTS: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
)
_SUPPRESSED_DIAGNOSTIC: Final = (
    "Amazon SES did not send the message to this address: it is on the account-level suppression list. "
    "Remove it from the list (SES console or DeleteSuppressedDestination) to send to it again."
)


def _ms(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(milliseconds=rng.randint(low, high))


Record = dict[str, Any]


@attrs.define
class Simulator:
    """Builds the records SES publishes for a message. Deterministic for a given ``rng`` state.

    ``outcomes`` maps an address (``"jane@example.com"``) or a domain (``"@example.org"``) to the
    ``Outcome`` of every other address; ``default_outcome`` covers the rest. Mailbox-simulator addresses
    always behave as the simulator does, and never open or click. ``open_rate`` and ``click_rate`` are the
    chances that a delivered recipient opens the message, and clicks one of its tracked links; both need an
    HTML body, and a click needs a link SES would track.
    """

    rng: random.Random
    region: str = "us-east-1"
    account_id: str = "123456789012"
    source_ip: str = "127.0.0.1"
    caller_identity: str = "local-ses"
    open_rate: float = 0.0
    click_rate: float = 0.0
    outcomes: Mapping[str, Outcome] = attrs.field(factory=dict)
    default_outcome: Outcome = Outcome.DELIVERED

    def outcome_for(self, address: str) -> Outcome:
        """The outcome of a message at ``address``."""
        fixed = simulator_outcome(address)
        if fixed is not None:
            return fixed
        bare = _bare(address).lower()
        found = self.outcomes.get(bare)
        if found is None:
            found = self.outcomes.get("@" + bare.rpartition("@")[2])
        return found if found is not None else self.default_outcome

    def _id(self) -> str:
        return f"{self.rng.getrandbits(64):016x}-{uuid.UUID(int=self.rng.getrandbits(128), version=4)}-000000"

    def _ip(self) -> str:
        network = self.rng.choice(("192.0.2", "198.51.100", "203.0.113"))
        return f"{network}.{self.rng.randint(1, 254)}"

    def mail(self, message: SentMessage, sent_at: datetime) -> Record:
        """The ``mail`` object of every record of ``message``."""
        source_domain = _bare(message.source).rpartition("@")[2].lower()
        tags: dict[str, list[str]] = {
            "ses:operation": [message.operation],
            "ses:source-ip": [self.source_ip],
            "ses:from-domain": [source_domain],
            "ses:caller-identity": [self.caller_identity],
        }
        if message.configuration_set is not None:
            tags["ses:configuration-set"] = [message.configuration_set]
        if message.tenant is not None:
            tags[TENANT_TAG] = [message.tenant]
        for name, value in message.tags.items():
            tags[name] = [value]
        common = dict(message.common_headers)
        common["messageId"] = message.message_id
        return {
            "timestamp": format_timestamp(sent_at),
            "source": message.source,
            "sourceArn": f"arn:aws:ses:{self.region}:{self.account_id}:identity/{source_domain}",
            "sendingAccountId": self.account_id,
            "messageId": message.message_id,
            "destination": list(message.recipients),
            "headersTruncated": False,
            "headers": [{"name": name, "value": value} for name, value in message.headers],
            "commonHeaders": common,
            "tags": tags,
        }

    def records(self, message: SentMessage, sent_at: datetime) -> list[tuple[EventType, Record]]:
        """Every record SES would publish for ``message`` sent at ``sent_at``, oldest first.

        One Send (or one Rendering Failure, and nothing else, when the template did not render), then each
        recipient's events as its ``Outcome`` says; a message with a virus gets one Reject instead.
        """
        mail = self.mail(message, sent_at)
        timeline: list[tuple[datetime, int, EventType, Record]] = []

        def add(at: datetime, event_type: EventType, detail: Record) -> None:
            key = str(EVENT_CLASS_BY_TYPE[event_type].DETAIL_KEY)
            record = {"eventType": event_type.value, "mail": json.loads(json.dumps(mail)), key: detail}
            timeline.append((at, len(timeline), event_type, record))

        if message.rendering_error is not None:
            add(
                sent_at,
                EventType.RENDERING_FAILURE,
                {"templateName": message.template_name or "", "errorMessage": message.rendering_error},
            )
        elif message.virus:
            add(sent_at, EventType.SEND, {})
            add(sent_at + _ms(self.rng, 200, 2000), EventType.REJECT, {"reason": "Bad content"})
        else:
            add(sent_at, EventType.SEND, {})
            links = self._tracked_links(message.html)
            for recipient in message.recipients:
                self._recipient(message, recipient, sent_at, links, add)
        timeline.sort(key=lambda entry: (entry[0], entry[1]))
        return [(event_type, record) for _, _, event_type, record in timeline]

    @staticmethod
    def _unsubscription(message: SentMessage, at: datetime) -> Record:
        """A Subscription detail: the recipient opted out of the message's topic (or of the whole list)."""

        def preferences(status: str | None) -> Record:
            if message.topic is None:  # no topic: the recipient leaves the whole list
                return {"unsubscribeAll": status is not None, "topicSubscriptionStatus": []}
            return {
                "unsubscribeAll": False,
                "topicSubscriptionStatus": [
                    {"topicName": message.topic, "subscriptionStatus": status or "OptIn"}
                ],
            }

        return {
            "contactList": message.contact_list,
            "timestamp": format_timestamp(at),
            "source": "UnsubscribeHeader",
            "newTopicPreferences": preferences("OptOut"),
            "oldTopicPreferences": preferences(None),
        }

    @staticmethod
    def _tracked_links(html: str | None) -> list[tuple[str, dict[str, list[str]]]]:
        if not html:
            return []
        out = []
        for link in scan_links(html).links:
            if not link.tracked or link.href.strip().startswith("{{"):
                continue
            tags: dict[str, list[str]] = {}
            if link.tags_attribute:
                try:
                    tags = {k: [v] for k, v in parse_link_tags(link.tags_attribute).items()}
                except ValidationError:
                    tags = {}
            out.append((link.href, tags))
        return out

    def _recipient(
        self,
        message: SentMessage,
        recipient: str,
        sent_at: datetime,
        links: Sequence[tuple[str, dict[str, list[str]]]],
        add: Callable[[datetime, EventType, Record], None],
    ) -> None:
        outcome = self.outcome_for(recipient)
        simulated = simulator_outcome(recipient) is not None
        domain = recipient.rpartition("@")[2].lower()
        mta = f"a{self.rng.randint(1, 99)}-{self.rng.randint(1, 250)}.smtp-out.{self.region}.amazonses.com"
        if outcome in (Outcome.BOUNCE, Outcome.SOFT_BOUNCE, Outcome.SUPPRESSED):
            at = sent_at + _ms(self.rng, 300, 3000)
            if outcome is Outcome.SUPPRESSED:
                bounce_type, sub_type, status = "Permanent", "OnAccountSuppressionList", "5.1.1"
                diagnostic, reporting = _SUPPRESSED_DIAGNOSTIC, "dns; amazonses.com"
            elif outcome is Outcome.SOFT_BOUNCE:
                bounce_type, sub_type, status = "Transient", "MailboxFull", "5.2.2"
                diagnostic, reporting = "smtp; 552 5.2.2 Mailbox full", f"dns; {domain}"
            else:
                bounce_type, sub_type, status = "Permanent", "General", "5.1.1"
                diagnostic, reporting = "smtp; 550 5.1.1 user unknown", f"dns; {domain}"
            detail: Record = {
                "bounceType": bounce_type,
                "bounceSubType": sub_type,
                "bouncedRecipients": [
                    {
                        "emailAddress": recipient,
                        "action": "failed",
                        "status": status,
                        "diagnosticCode": diagnostic,
                    }
                ],
                "timestamp": format_timestamp(at),
                "feedbackId": self._id(),
                "reportingMTA": reporting,
            }
            if outcome is not Outcome.SUPPRESSED:
                detail["remoteMtaIp"] = self._ip()
            add(at, EventType.BOUNCE, detail)
            return
        start = sent_at
        if outcome is Outcome.DELAYED:
            delayed_at = sent_at + _ms(self.rng, 30_000, 300_000)
            add(
                delayed_at,
                EventType.DELIVERY_DELAY,
                {
                    "timestamp": format_timestamp(delayed_at),
                    "delayType": "TransientCommunicationFailure",
                    "expirationTime": format_timestamp(sent_at + timedelta(hours=14)),
                    "delayedRecipients": [
                        {
                            "emailAddress": recipient,
                            "status": "4.4.7",
                            "diagnosticCode": "smtp; 421 4.4.0 Unable to connect to the receiving server",
                        }
                    ],
                    "reportingMTA": mta,
                },
            )
            start = delayed_at + _ms(self.rng, 60_000, 600_000)
        processing = _ms(self.rng, 200, 2500)
        delivered_at = start + processing
        add(
            delivered_at,
            EventType.DELIVERY,
            {
                "timestamp": format_timestamp(delivered_at),
                "processingTimeMillis": int((delivered_at - sent_at).total_seconds() * 1000),
                "recipients": [recipient],
                "smtpResponse": "250 2.6.0 Message received" if simulated else "250 2.0.0 OK",
                "reportingMTA": mta,
                "remoteMtaIp": self._ip(),
            },
        )
        if outcome is Outcome.UNSUBSCRIBED and message.contact_list is not None:
            at = delivered_at + _ms(self.rng, 10_000, 600_000)
            add(at, EventType.SUBSCRIPTION, self._unsubscription(message, at))
        if outcome is Outcome.COMPLAINT:
            arrived = delivered_at + _ms(self.rng, 2000, 60_000)
            complained_at = arrived + _ms(self.rng, 100, 2000)
            add(
                complained_at,
                EventType.COMPLAINT,
                {
                    "complainedRecipients": [{"emailAddress": recipient}],
                    "timestamp": format_timestamp(complained_at),
                    "feedbackId": self._id(),
                    "complaintSubType": None,
                    "userAgent": "Amazon SES Mailbox Simulator" if simulated else "Feedback Loop Reporter",
                    "complaintFeedbackType": "abuse",
                    "arrivalDate": format_timestamp(arrived),
                },
            )
        if simulated or not message.html:
            return
        opened = self.rng.random() < self.open_rate
        clicked = self.rng.random() < self.click_rate
        agent = self.rng.choice(_USER_AGENTS)
        ip = self._ip()
        last = delivered_at
        if opened:
            last = delivered_at + _ms(self.rng, 5_000, 300_000)
            add(
                last,
                EventType.OPEN,
                # The simulated opens and clicks are the recipient's own: SES would say Unlikely.
                {
                    "ipAddress": ip,
                    "timestamp": format_timestamp(last),
                    "userAgent": agent,
                    "isBotEvent": "Unlikely",
                },
            )
        if clicked and links:
            href, link_tags = self.rng.choice(links)
            at = last + _ms(self.rng, 1_000, 120_000)
            add(
                at,
                EventType.CLICK,
                {
                    "ipAddress": ip,
                    "timestamp": format_timestamp(at),
                    "userAgent": agent,
                    "link": href,
                    "linkTags": link_tags,
                    "isBotEvent": "Unlikely",
                },
            )


# ------------------------------------------------------------------------------------------ tenants


def tenant_arn(region: str, account_id: str, name: str, tenant_id: str) -> str:
    """A tenant's ARN as SES's EventBridge events name it: ``...:tenant/<name>/<id>``."""
    return f"arn:aws:ses:{region}:{account_id}:tenant/{name}/{tenant_id}"


def sending_status_detail(status: str, *, cause: str, origin: str, at: datetime) -> Record:
    """The ``detail`` of a ``Sending Status Enabled`` / ``Disabled`` event, in the shape of the Developer
    Guide's example (Tenants, "Setting up EventBridge notifications"): the time as an array, year to
    nanosecond."""
    stamp = [at.year, at.month, at.day, at.hour, at.minute, at.second, at.microsecond * 1000]
    return {
        "version": "1.0.0",
        "data": {
            "origin": origin,
            "record": {"status": status, "cause": cause, "lastUpdatedTimestamp": stamp},
        },
    }


def paused_tenant_error(tenant: str) -> Record:
    """What LocalSes answers a v2 send for a paused tenant: SES v2's ``SendingPausedException`` (the error v2
    documents for sends refused because sending is paused; AWS documents no tenant-specific code)."""
    return {
        "Error": {
            "Code": "SendingPausedException",
            "Message": f"Sending is paused for tenant {tenant}: resume the tenant's sending to send again.",
        },
        "ResponseMetadata": {
            "HTTPStatusCode": 400,
            "HTTPHeaders": {},
            "RequestId": "local-ses-paused-tenant",
        },
    }


# ------------------------------------------------------------------------------------------ Firehose

_JAVA_DATE_TOKENS: Final = (
    ("yyyy", "%Y"),
    ("yy", "%y"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("mm", "%M"),
    ("ss", "%S"),
)
_NAMESPACE = re.compile(r"!\{(timestamp|firehose):([^}]*)\}")


def _java_format(pattern: str, at: datetime) -> str:
    out = pattern
    for token, directive in _JAVA_DATE_TOKENS:
        out = out.replace(token, directive)
    return at.strftime(out)


def expand_prefix(prefix: str, at: datetime, rng: random.Random) -> str:
    """A Firehose S3 prefix with its ``!{timestamp:...}`` and ``!{firehose:random-string}`` expressions
    evaluated for arrival time ``at`` (UTC), as Firehose does. A prefix without a timestamp expression gets
    Firehose's default ``YYYY/MM/DD/HH/`` appended."""

    def evaluate(match: re.Match[str]) -> str:
        namespace, expression = match.group(1), match.group(2)
        if namespace == "timestamp":
            return _java_format(expression, at)
        if expression == "random-string":
            return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(11))
        return expression

    expanded = _NAMESPACE.sub(evaluate, prefix)
    if "!{timestamp:" not in prefix:
        expanded += at.strftime("%Y/%m/%d/%H/")
    return expanded


def firehose_key(
    prefix: str, stream_name: str, at: datetime, rng: random.Random, *, gzip: bool, parquet: bool = False
) -> str:
    """The S3 key Firehose gives an object: expanded prefix, then
    ``<stream>-1-<yyyy-MM-dd-HH-mm-ss>-<uuid>`` (``.gz`` when compressed, ``.parquet`` when converted)."""
    name = f"{stream_name}-1-{at:%Y-%m-%d-%H-%M-%S}-{uuid.UUID(int=rng.getrandbits(128), version=4)}"
    suffix = ".parquet" if parquet else ".gz" if gzip else ""
    return expand_prefix(prefix, at, rng) + name + suffix


def _scalar(value: Any, kind: str) -> Any:
    """A JSON value as a column of Hive type ``kind`` reads it (None when it cannot)."""
    if kind in ("string", "timestamp"):
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        return json.dumps(value, separators=(",", ":"))  # numbers as written; objects as their JSON text
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        return {"true": True, "false": False}.get(str(value).lower())
    try:
        number = float(value) if kind == "double" else int(value)
    except (TypeError, ValueError):
        return None
    return None if isinstance(value, bool) else number


def firehose_row(
    record: Mapping[str, Any],
    schema: Any,
    *,
    case_insensitive: bool = True,
    mappings: Mapping[str, str] | None = None,
    lower_map_keys: bool | None = None,
) -> dict[str, Any]:
    """The row Firehose's record format conversion makes of a JSON ``record`` for a Glue table, as LocalSes
    emulates it: ``schema`` is the table's columns as a ``Struct`` keyed by
    the Glue names.

    With the OpenX JSON SerDe and ``CaseInsensitive`` (its default) every JSON key is lower-cased before it is
    matched, map keys included (``lower_map_keys`` defaults to ``case_insensitive``); ``mappings`` is its
    ``ColumnToJsonKeyMappings`` (a struct field named by a key of it reads the JSON key it maps to). Keys the
    table does not name are dropped; a value that is not an array where the table has one becomes a
    one-element array; a value that does not fit its type becomes NULL.
    """
    from ..analytics.schema import Array, MapOf, Scalar, Struct

    names = dict(mappings or {})
    lower_keys = case_insensitive if lower_map_keys is None else lower_map_keys

    def convert(value: Any, tp: Any) -> Any:
        if value is None:
            return None
        if isinstance(tp, Struct):
            if not isinstance(value, Mapping):
                return None
            keyed = {str(k).lower(): v for k, v in value.items()} if case_insensitive else dict(value)
            out = {}
            for f in tp.fields:
                key = names.get(f.key, f.key)
                out[f.key] = convert(keyed.get(key.lower() if case_insensitive else key), f.type)
            return out
        if isinstance(tp, Array):
            items = value if isinstance(value, list) else [value]
            return [convert(item, tp.item) for item in items]
        if isinstance(tp, MapOf):
            if not isinstance(value, Mapping):
                return None
            return {
                (str(k).lower() if lower_keys else str(k)): convert(v, tp.value) for k, v in value.items()
            }
        assert isinstance(tp, Scalar)
        return _scalar(value, tp.name)

    row = convert(record, schema)
    return row if isinstance(row, dict) else {}
