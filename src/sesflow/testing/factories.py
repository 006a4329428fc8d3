"""Factories that build realistic SES records for tests and documentation.

``make_record`` gives SES's JSON shape (a dict, as SES would publish it); ``make_event`` parses that record,
so what a test handler receives is exactly what it would receive from a real transport.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ..events import (
    EVENT_CLASSES,
    TENANT_TAG,
    EventFamily,
    EventType,
    SesEvent,
    format_timestamp,
    parse_event,
)

__all__ = ["make_event", "make_mail", "make_record"]

_DEFAULT_TIME = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
_NOTIFICATION_TYPES = {EventType.BOUNCE, EventType.COMPLAINT, EventType.DELIVERY}


def _message_id() -> str:
    # SES message ids look like 0100018c1f2e3d4a-<uuid>-000000.
    return f"0100018c1f2e3d4a-{uuid.uuid4()}-000000"


def make_mail(
    *,
    recipients: Sequence[str] = ("recipient@example.com",),
    source: str = "sender@example.com",
    message_id: str | None = None,
    timestamp: datetime = _DEFAULT_TIME,
    subject: str = "Hello from sesflow",
    configuration_set: str | None = "my-config-set",
    tags: Mapping[str, str | Sequence[str]] | None = None,
    family: EventFamily = EventFamily.EVENT,
    include_headers: bool = True,
    tenant: str | None = None,
) -> dict[str, Any]:
    """An SES ``mail`` object. ``tags`` are the sender's message tags; SES's own ``ses:*`` tags are added
    (``ses:tenant-name`` when ``tenant`` names the tenant the message was sent for)."""
    message_id = message_id or _message_id()
    domain = source.rpartition("@")[2].rstrip(">")
    mail: dict[str, Any] = {
        "timestamp": format_timestamp(timestamp),
        "source": source,
        "sourceArn": f"arn:aws:ses:us-east-1:123456789012:identity/{domain}",
        "sendingAccountId": "123456789012",
        "messageId": message_id,
        "destination": list(recipients),
        "headersTruncated": False,
    }
    if include_headers:
        mail["headers"] = [
            {"name": "From", "value": source},
            {"name": "To", "value": ", ".join(recipients)},
            {"name": "Subject", "value": subject},
            {"name": "MIME-Version", "value": "1.0"},
            {"name": "Content-Type", "value": 'text/plain; charset="UTF-8"'},
        ]
        mail["commonHeaders"] = {
            "from": [source],
            "to": list(recipients),
            "messageId": message_id,
            "subject": subject,
        }
    if family is EventFamily.NOTIFICATION:
        mail["sourceIp"] = "192.0.2.10"
        mail["callerIdentity"] = "ses-sender"
        return mail
    all_tags: dict[str, list[str]] = {
        "ses:operation": ["SendEmail"],
        "ses:source-ip": ["192.0.2.10"],
        "ses:from-domain": [domain],
        "ses:caller-identity": ["ses-sender"],
    }
    if configuration_set is not None:
        all_tags["ses:configuration-set"] = [configuration_set]
    if tenant is not None:
        all_tags[TENANT_TAG] = [tenant]
    for name, value in (tags or {}).items():
        all_tags[name] = [value] if isinstance(value, str) else list(value)
    mail["tags"] = all_tags
    return mail


def _detail(event_type: EventType, recipients: Sequence[str], at: datetime) -> dict[str, Any]:
    ts = format_timestamp(at)
    feedback_id = f"0100018c1f2e3d4b-{uuid.uuid4()}-000000"
    if event_type is EventType.BOUNCE:
        return {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": r,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
                for r in recipients
            ],
            "timestamp": ts,
            "feedbackId": feedback_id,
            "reportingMTA": "dns; a1-2.smtp-out.amazonses.com",
        }
    if event_type is EventType.COMPLAINT:
        return {
            "complainedRecipients": [{"emailAddress": r} for r in recipients],
            "timestamp": ts,
            "feedbackId": feedback_id,
            "userAgent": "ExampleMail Feedback Loop",
            "complaintFeedbackType": "abuse",
            "arrivalDate": ts,
        }
    if event_type is EventType.DELIVERY:
        return {
            "timestamp": ts,
            "processingTimeMillis": 1250,
            "recipients": list(recipients),
            "smtpResponse": "250 2.0.0 OK",
            "reportingMTA": "a1-2.smtp-out.amazonses.com",
        }
    if event_type is EventType.SEND:
        return {}
    if event_type is EventType.REJECT:
        return {"reason": "Bad content"}
    if event_type is EventType.OPEN:
        return {"ipAddress": "192.0.2.1", "timestamp": ts, "userAgent": "Mozilla/5.0"}
    if event_type is EventType.CLICK:
        return {
            "ipAddress": "192.0.2.1",
            "timestamp": ts,
            "userAgent": "Mozilla/5.0",
            "link": "https://example.com/welcome",
            "linkTags": {"campaign": ["welcome"]},
        }
    if event_type is EventType.RENDERING_FAILURE:
        return {
            "templateName": "MyTemplate",
            "errorMessage": "Attribute 'name' is not present in the rendering data.",
        }
    if event_type is EventType.DELIVERY_DELAY:
        return {
            "timestamp": ts,
            "delayType": "MailboxFull",
            "expirationTime": format_timestamp(at + timedelta(hours=12)),
            "delayedRecipients": [
                {"emailAddress": r, "status": "4.2.2", "diagnosticCode": "smtp; 452 4.2.2 mailbox full"}
                for r in recipients
            ],
            "reportingMTA": "a1-2.smtp-out.amazonses.com",
        }
    if event_type is EventType.SUBSCRIPTION:
        return {
            "contactList": "newsletter",
            "timestamp": ts,
            "source": "UnsubscribeHeader",
            "newTopicPreferences": {
                "unsubscribeAll": True,
                "topicSubscriptionStatus": [{"topicName": "weekly", "subscriptionStatus": "OptOut"}],
            },
            "oldTopicPreferences": {
                "unsubscribeAll": False,
                "topicSubscriptionStatus": [{"topicName": "weekly", "subscriptionStatus": "OptIn"}],
            },
        }
    raise ValueError(f"make_record cannot build an event of unknown type {event_type.value!r}")


# The detail object's key, as the models know it (``"deliveryDelay"``, ``"failure"``...).
_DETAIL_KEYS: dict[EventType, str] = {cls.EVENT_TYPE: str(cls.DETAIL_KEY) for cls in EVENT_CLASSES}


def make_record(
    event_type: EventType | str,
    *,
    recipients: Sequence[str] = ("recipient@example.com",),
    family: EventFamily = EventFamily.EVENT,
    sent_at: datetime = _DEFAULT_TIME,
    delay: timedelta = timedelta(seconds=5),
    detail: Mapping[str, Any] | None = None,
    **mail_options: Any,
) -> dict[str, Any]:
    """A complete SES record of ``event_type`` in SES's JSON shape.

    ``recipients`` become ``mail.destination`` and the addresses the detail concerns. The event happens
    ``delay`` after ``sent_at``. ``detail`` entries replace or add to the detail object (SES spelling:
    ``detail={"bounceType": "Transient", "bounceSubType": "MailboxFull"}``). Other keyword arguments go to
    ``make_mail`` (``source``, ``message_id``, ``subject``, ``configuration_set``, ``tags``,
    ``tenant``...).
    ``family=EventFamily.NOTIFICATION`` builds a feedback notification (Bounce, Complaint, Delivery only).
    """
    event_type = EventType(event_type)
    if family is EventFamily.NOTIFICATION and event_type not in _NOTIFICATION_TYPES:
        raise ValueError(f"SES sends no feedback notification for {event_type.value!r} events")
    body = _detail(event_type, recipients, sent_at + delay)
    body.update(detail or {})
    return {
        family.value: event_type.value,
        "mail": make_mail(recipients=recipients, timestamp=sent_at, family=family, **mail_options),
        _DETAIL_KEYS[event_type]: body,
    }


def make_event(event_type: EventType | str, **options: Any) -> SesEvent:
    """A parsed event of ``event_type``: ``parse_event(make_record(event_type, **options))``.

    >>> make_event(EventType.BOUNCE, recipients=["a@example.com"]).recipients
    ('a@example.com',)
    """
    event = parse_event(make_record(event_type, **options))
    assert isinstance(event, SesEvent)
    return event
