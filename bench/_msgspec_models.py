"""The same SES models as msgspec structs (for comparison only): the fastest typed decoder in Python."""

from __future__ import annotations

from datetime import datetime

import msgspec

_SPECIAL = {"from_": "from", "reporting_mta": "reportingMTA"}


def _camel(name: str) -> str:
    if name in _SPECIAL:
        return _SPECIAL[name]
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


class _S(msgspec.Struct, frozen=True, rename=_camel, forbid_unknown_fields=False):
    pass


class Header(_S):
    name: str
    value: str


class CommonHeaders(_S):
    from_: list[str] | None = None
    to: list[str] | None = None
    cc: list[str] | None = None
    bcc: list[str] | None = None
    reply_to: list[str] | None = None
    sender: list[str] | None = None
    return_path: str | None = None
    date: str | None = None
    message_id: str | None = None
    subject: str | None = None


class Mail(_S):
    timestamp: datetime
    message_id: str
    source: str
    destination: list[str]
    source_arn: str | None = None
    sending_account_id: str | None = None
    headers_truncated: bool | None = None
    headers: list[Header] | None = None
    common_headers: CommonHeaders | None = None
    tags: dict[str, list[str]] | None = None
    source_ip: str | None = None
    caller_identity: str | None = None


class BouncedRecipient(_S):
    email_address: str
    action: str | None = None
    status: str | None = None
    diagnostic_code: str | None = None


class Bounce(_S):
    bounce_type: str
    bounce_sub_type: str
    bounced_recipients: list[BouncedRecipient]
    timestamp: datetime
    feedback_id: str | None = None
    reporting_mta: str | None = None
    remote_mta_ip: str | None = None


class ComplainedRecipient(_S):
    email_address: str


class Complaint(_S):
    complained_recipients: list[ComplainedRecipient]
    timestamp: datetime
    feedback_id: str | None = None
    complaint_sub_type: str | None = None
    user_agent: str | None = None
    complaint_feedback_type: str | None = None
    arrival_date: datetime | None = None


class Delivery(_S):
    timestamp: datetime
    recipients: list[str]
    processing_time_millis: int | None = None
    smtp_response: str | None = None
    reporting_mta: str | None = None
    remote_mta_ip: str | None = None


class Reject(_S):
    reason: str | None = None


class Open(_S):
    timestamp: datetime
    ip_address: str | None = None
    user_agent: str | None = None


class Click(_S):
    timestamp: datetime
    link: str
    ip_address: str | None = None
    user_agent: str | None = None
    link_tags: dict[str, list[str]] | None = None


class RenderingFailure(_S):
    template_name: str | None = None
    error_message: str | None = None


class DelayedRecipient(_S):
    email_address: str
    status: str | None = None
    diagnostic_code: str | None = None


class DeliveryDelay(_S):
    timestamp: datetime
    delay_type: str
    delayed_recipients: list[DelayedRecipient]
    expiration_time: datetime | None = None
    reporting_mta: str | None = None


class TopicSubscriptionStatus(_S):
    topic_name: str
    subscription_status: str


class TopicPreferences(_S):
    unsubscribe_all: bool | None = None
    topic_subscription_status: list[TopicSubscriptionStatus] | None = None


class Subscription(_S):
    timestamp: datetime
    contact_list: str | None = None
    source: str | None = None
    new_topic_preferences: TopicPreferences | None = None
    old_topic_preferences: TopicPreferences | None = None


class _E(_S, tag_field="eventType"):
    mail: Mail


class SendEvent(_E, tag="Send"):
    send: dict[str, object] | None = None


class DeliveryEvent(_E, tag="Delivery"):
    delivery: Delivery


class BounceEvent(_E, tag="Bounce"):
    bounce: Bounce


class ComplaintEvent(_E, tag="Complaint"):
    complaint: Complaint


class RejectEvent(_E, tag="Reject"):
    reject: Reject


class OpenEvent(_E, tag="Open"):
    open: Open


class ClickEvent(_E, tag="Click"):
    click: Click


class RenderingFailureEvent(_E, tag="Rendering Failure"):
    failure: RenderingFailure


class DeliveryDelayEvent(_E, tag="DeliveryDelay"):
    delivery_delay: DeliveryDelay


class SubscriptionEvent(_E, tag="Subscription"):
    subscription: Subscription


AnyEvent = (
    SendEvent
    | DeliveryEvent
    | BounceEvent
    | ComplaintEvent
    | RejectEvent
    | OpenEvent
    | ClickEvent
    | RenderingFailureEvent
    | DeliveryDelayEvent
    | SubscriptionEvent
)
event_decoder = msgspec.json.Decoder(AnyEvent)


class SnsEnvelope(msgspec.Struct, frozen=True):
    Type: str
    MessageId: str
    TopicArn: str
    Message: str
    Timestamp: str


envelope_decoder = msgspec.json.Decoder(SnsEnvelope)
