"""SES events → Mailgun event items, as Ghost reads them. Pure: no IO.

- Send → ``accepted``.
- Delivery → ``delivered``; ``delivery-status.code`` from ``smtpResponse`` (default 250).
- Bounce, Permanent → ``failed``, severity ``permanent``, reason ``bounce``, code from ``diagnosticCode``
  (default 550), ``enhanced-code`` from ``status``; the address is suppressed.
- Bounce, OnAccountSuppressionList / Suppressed → ``failed``, ``permanent``, reason ``suppress-bounce``,
  code 605; suppressed.
- Bounce, Transient / Undetermined, and DeliveryDelay → ``failed``, ``temporary``, the diagnostic's 4xx code
  (default 451).
- Reject, Rendering Failure → ``failed``, ``permanent``, reason ``generic``, code 550 (Ghost does not disable
  the member for it).
- Complaint (feedback type other than not-spam) → ``complained``; suppressed.
- Open → ``opened``; Click → ``clicked`` with ``url``; Subscription → ``unsubscribed``.

Every item has the SES event's own time as ``timestamp``, ``user-variables`` (``email-id``),
``message.headers`` (``message-id``: the id the POST returned), ``tags``, and an ``id`` computed from the SES
event (its message id, type, recipient, time and own identifiers), so a redelivered event gets the same id
and is stored once.
The proxy's own events (a send skipped for a suppressed address, test mode, a message SES refused) are built
here too, with ids computed from the batch and the recipient.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, Literal

import attrs

from sesflow.events import (
    BounceEvent,
    BounceSubType,
    BounceType,
    ClickEvent,
    ComplaintEvent,
    DeliveryDelayEvent,
    DeliveryEvent,
    OpenEvent,
    RejectEvent,
    RenderingFailureEvent,
    SendEvent,
    SesEvent,
    SubscriptionEvent,
)

from .compose import tags_from_ses

__all__ = [
    "EVENT_NAMES",
    "EventRow",
    "MessageInfo",
    "Suppression",
    "event_id",
    "refused_row",
    "rows_for_event",
    "suppressed_row",
    "testmode_rows",
]

EVENT_NAMES: Final = frozenset(
    {
        "accepted",
        "delivered",
        "failed",
        "opened",
        "clicked",
        "complained",
        "unsubscribed",
        "rejected",
        "stored",
    }
)
"""Mailgun's event names that the events endpoint accepts in ``event=`` filters."""

Suppression = Literal["bounces", "complaints", "unsubscribes"]

_CODE: Final = re.compile(r"(?<![\d.])([245]\d\d)(?![\d.])")
_ENHANCED: Final = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
_LOG_LEVELS: Final = {"failed": "error", "complained": "warn"}


@attrs.frozen
class MessageInfo:
    """What the proxy knows of one sent message: from its database, or read back from the SES tags."""

    message_id: str
    """The Mailgun id of the batch (no angle brackets)."""
    domain: str | None
    tags: tuple[str, ...] = ()
    user_variables: Mapping[str, str] = attrs.field(factory=lambda: MappingProxyType({}), hash=False)
    sender: str | None = None
    subject: str | None = None
    to: str | None = None
    track_opens: bool = True
    track_clicks: bool = True


@attrs.frozen
class EventRow:
    """One Mailgun event item, with the columns the events endpoint filters and pages on."""

    id: str
    event: str
    timestamp: float
    recipient: str
    domain: str | None
    message_id: str | None
    severity: str | None
    tags: tuple[str, ...]
    item: Mapping[str, Any] = attrs.field(hash=False)
    suppress: Suppression | None = None
    """Add ``recipient`` to this suppression list when the row is stored for the first time."""


def event_id(*parts: str) -> str:
    """A Mailgun-looking id (22 URL-safe characters) that depends only on ``parts``."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:22]


def _status(diagnostic: str | None, status: str | None, default: int) -> tuple[int, str, str]:
    """(code, message, enhanced code) from an SES diagnostic code such as ``smtp; 550 5.1.1 user unknown``."""
    message = (diagnostic or "").strip()
    if message.lower().startswith("smtp;"):
        message = message[5:].strip()
    found = _CODE.search(message)
    code = int(found.group(1)) if found else default
    enhanced = status or ""
    if not enhanced:
        match = _ENHANCED.search(message)
        enhanced = match.group(1) if match else ""
    return code, message, enhanced


def _item(
    info: MessageInfo,
    *,
    row_id: str,
    event: str,
    recipient: str,
    timestamp: float,
    extra: Mapping[str, Any] | None = None,
    log_level: str | None = None,
) -> dict[str, Any]:
    headers: dict[str, str] = {"message-id": info.message_id, "to": info.to or recipient}
    if info.sender is not None:
        headers["from"] = info.sender
    if info.subject is not None:
        headers["subject"] = info.subject
    item: dict[str, Any] = {
        "id": row_id,
        "event": event,
        "timestamp": timestamp,
        "log-level": log_level or _LOG_LEVELS.get(event, "info"),
        "recipient": recipient,
        "recipient-domain": recipient.rpartition("@")[2],
        "tags": list(info.tags),
        "campaigns": [],
        "user-variables": dict(info.user_variables),
        "message": {"headers": headers, "attachments": [], "size": 0},
        "envelope": {"targets": recipient, "transport": "smtp"},
    }
    if info.sender is not None:
        item["envelope"]["sender"] = info.sender
    if extra:
        item.update(extra)
    return item


def _row(
    info: MessageInfo,
    row_id: str,
    event: str,
    recipient: str,
    timestamp: float,
    *,
    severity: str | None = None,
    extra: Mapping[str, Any] | None = None,
    suppress: Suppression | None = None,
    log_level: str | None = None,
) -> EventRow:
    fields = dict(extra or {})
    if severity is not None:
        fields["severity"] = severity
    item = _item(
        info,
        row_id=row_id,
        event=event,
        recipient=recipient,
        timestamp=timestamp,
        extra=fields,
        log_level=log_level,
    )
    return EventRow(
        id=row_id,
        event=event,
        timestamp=timestamp,
        recipient=recipient,
        domain=info.domain,
        message_id=info.message_id,
        severity=severity,
        tags=info.tags,
        item=MappingProxyType(item),
        suppress=suppress,
    )


def _delivery_status(code: int, message: str, enhanced: str = "", description: str = "") -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "description": description,
        "enhanced-code": enhanced,
        "attempt-no": 1,
    }


def info_from_event(event: SesEvent) -> MessageInfo | None:
    """The message's :class:`MessageInfo` from the SES tags the proxy put on it, or None without them."""
    message_id, email_id, tags, track_opens = tags_from_ses(event.tags)
    if message_id is None:
        return None
    domain = message_id.rpartition("@")[2] or None
    headers = event.mail.common_headers
    return MessageInfo(
        message_id=message_id,
        domain=domain,
        tags=tags,
        user_variables=MappingProxyType({} if email_id is None else {"email-id": email_id}),
        sender=(headers.from_[0] if headers and headers.from_ else None),
        subject=headers.subject if headers else None,
        track_opens=track_opens,
    )


def rows_for_event(event: SesEvent, infos: Mapping[str, MessageInfo] | MessageInfo | None) -> list[EventRow]:
    """The Mailgun items for one SES event: one per recipient it concerns (none for a not-spam complaint,
    an Open or Click of a message sent without that tracking, or an event type Mailgun has no name for).

    ``infos`` is what the proxy's database knows of the message (per recipient address, or one for all);
    recipients it does not cover fall back to the SES tags, then to the SES message id alone.
    """
    if isinstance(event, ComplaintEvent) and not event.should_suppress:
        return []
    fallback = info_from_event(event)
    ses_id = event.message_id
    at = event.timestamp
    timestamp = at.timestamp()
    stamp = at.isoformat(timespec="microseconds")
    rows: list[EventRow] = []

    def info_for(recipient: str) -> MessageInfo:
        if isinstance(infos, MessageInfo):
            return infos
        found = (infos or {}).get(recipient.lower())
        if found is not None:
            return found
        if fallback is not None:
            return fallback
        return MessageInfo(message_id=ses_id, domain=None)

    def key(recipient: str, *more: str | None) -> str:
        return event_id(ses_id, event.event_type.value, recipient.lower(), stamp, *(m or "" for m in more))

    if isinstance(event, SendEvent):
        for recipient in event.recipients:
            rows.append(_row(info_for(recipient), key(recipient), "accepted", recipient, timestamp))
    elif isinstance(event, DeliveryEvent):
        code, message, enhanced = _status(event.delivery.smtp_response, None, 250)
        status = _delivery_status(code, message or "OK", enhanced)
        if event.delivery.reporting_mta:
            status["mx-host"] = event.delivery.reporting_mta
        for recipient in event.recipients:
            rows.append(
                _row(
                    info_for(recipient),
                    key(recipient),
                    "delivered",
                    recipient,
                    timestamp,
                    extra={"delivery-status": status},
                )
            )
    elif isinstance(event, BounceEvent):
        bounce = event.bounce
        description = f"{bounce.bounce_type.value}/{bounce.bounce_sub_type.value}"
        suppressed = bounce.bounce_sub_type in (
            BounceSubType.ON_ACCOUNT_SUPPRESSION_LIST,
            BounceSubType.SUPPRESSED,
        )
        permanent = bounce.bounce_type is BounceType.PERMANENT
        for bounced in bounce.bounced_recipients:
            recipient = bounced.email_address
            if suppressed:
                _, message, enhanced = _status(bounced.diagnostic_code, bounced.status, 605)
                status = _delivery_status(
                    605, "Not delivering to previously bounced address", enhanced, message or description
                )
                reason, severity = "suppress-bounce", "permanent"
            elif permanent:
                code, message, enhanced = _status(bounced.diagnostic_code, bounced.status, 550)
                status = _delivery_status(code, message, enhanced, description)
                reason, severity = "bounce", "permanent"
            else:
                code, message, enhanced = _status(bounced.diagnostic_code, bounced.status, 451)
                status = _delivery_status(code if 400 <= code < 500 else 451, message, enhanced, description)
                reason, severity = "generic", "temporary"
            rows.append(
                _row(
                    info_for(recipient),
                    key(recipient, bounce.feedback_id),
                    "failed",
                    recipient,
                    timestamp,
                    severity=severity,
                    extra={"reason": reason, "delivery-status": status},
                    suppress="bounces" if severity == "permanent" else None,
                    log_level="error" if severity == "permanent" else "warn",
                )
            )
    elif isinstance(event, DeliveryDelayEvent):
        delay = event.delivery_delay
        for delayed in delay.delayed_recipients:
            code, message, enhanced = _status(delayed.diagnostic_code, delayed.status, 451)
            status = _delivery_status(
                code if 400 <= code < 500 else 451,
                message,
                enhanced,
                f"DeliveryDelay/{delay.delay_type.value}",
            )
            rows.append(
                _row(
                    info_for(delayed.email_address),
                    key(delayed.email_address, delayed.status),
                    "failed",
                    delayed.email_address,
                    timestamp,
                    severity="temporary",
                    extra={"reason": "generic", "delivery-status": status},
                    log_level="warn",
                )
            )
    elif isinstance(event, RejectEvent | RenderingFailureEvent):
        if isinstance(event, RejectEvent):
            message = f"Rejected by Amazon SES: {event.reject.reason or 'no reason given'}"
        else:
            message = f"Rendering failure: {event.failure.error_message or 'no message given'}"
        for recipient in event.recipients:
            rows.append(
                _row(
                    info_for(recipient),
                    key(recipient),
                    "failed",
                    recipient,
                    timestamp,
                    severity="permanent",
                    extra={"reason": "generic", "delivery-status": _delivery_status(550, message)},
                )
            )
    elif isinstance(event, ComplaintEvent):
        complaint = event.complaint
        for recipient in event.recipients:
            extra: dict[str, Any] = {}
            if complaint.complaint_feedback_type is not None:
                extra["complaint-feedback-type"] = complaint.complaint_feedback_type.value
            rows.append(
                _row(
                    info_for(recipient),
                    key(recipient, complaint.feedback_id),
                    "complained",
                    recipient,
                    timestamp,
                    extra=extra,
                    suppress="complaints",
                )
            )
    elif isinstance(event, OpenEvent):
        opened = event.open
        for recipient in event.recipients:
            info = info_for(recipient)
            if not info.track_opens:
                continue
            rows.append(
                _row(
                    info,
                    key(recipient, opened.ip_address, opened.user_agent),
                    "opened",
                    recipient,
                    timestamp,
                    extra={
                        "ip": opened.ip_address or "",
                        "client-info": {"user-agent": opened.user_agent or ""},
                    },
                )
            )
    elif isinstance(event, ClickEvent):
        click = event.click
        for recipient in event.recipients:
            info = info_for(recipient)
            if not info.track_clicks:
                continue
            rows.append(
                _row(
                    info,
                    key(recipient, click.link, click.ip_address, click.user_agent),
                    "clicked",
                    recipient,
                    timestamp,
                    extra={
                        "url": click.link,
                        "ip": click.ip_address or "",
                        "client-info": {"user-agent": click.user_agent or ""},
                    },
                )
            )
    elif isinstance(event, SubscriptionEvent):
        for recipient in event.recipients:
            rows.append(_row(info_for(recipient), key(recipient), "unsubscribed", recipient, timestamp))
    return rows


_SUPPRESSED_STATUS: Final = {
    "bounces": (605, "suppress-bounce", "Not delivering to previously bounced address"),
    "complaints": (607, "suppress-complaint", "Not delivering to a user who marked your messages as spam"),
    "unsubscribes": (606, "suppress-unsubscribe", "Not delivering to unsubscribed address"),
}


def suppressed_row(info: MessageInfo, recipient: str, kind: Suppression, at: float, index: int) -> EventRow:
    """``failed``/permanent for a send the proxy skipped because ``recipient`` is on a suppression list:
    605 for a bounced address, 607 for a complaint (both make Ghost disable the member's email)."""
    code, reason, message = _SUPPRESSED_STATUS[kind]
    return _row(
        info,
        event_id("proxy-suppressed", info.message_id, str(index), recipient.lower()),
        "failed",
        recipient,
        at,
        severity="permanent",
        extra={"reason": reason, "delivery-status": _delivery_status(code, message)},
    )


def refused_row(
    info: MessageInfo, recipient: str, at: float, index: int, code: str, message: str
) -> EventRow:
    """``failed``/permanent for a message SES refused outright (``MessageRejected`` ...)."""
    return _row(
        info,
        event_id("proxy-refused", info.message_id, str(index), recipient.lower()),
        "failed",
        recipient,
        at,
        severity="permanent",
        extra={"reason": "generic", "delivery-status": _delivery_status(550, f"{code}: {message}")},
    )


def testmode_rows(info: MessageInfo, recipient: str, at: float, index: int) -> Sequence[EventRow]:
    """``accepted`` and ``delivered`` for a recipient of an ``o:testmode`` batch (nothing is sent)."""
    flags = {"flags": {"is-test-mode": True}}
    delivered = dict(flags)
    delivered["delivery-status"] = _delivery_status(250, "Test mode: not sent")
    return [
        _row(
            info,
            event_id("proxy-testmode", info.message_id, str(index), "accepted"),
            "accepted",
            recipient,
            at,
            extra=flags,
        ),
        _row(
            info,
            event_id("proxy-testmode", info.message_id, str(index), "delivered"),
            "delivered",
            recipient,
            at,
            extra=delivered,
        ),
    ]
