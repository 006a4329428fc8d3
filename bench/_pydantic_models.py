"""The same SES models written the way Powertools-style code would, with pydantic v2 (for comparison only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel


class _M(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, frozen=True, extra="ignore")


class Header(_M):
    name: str
    value: str


class CommonHeaders(_M):
    from_: list[str] | None = Field(None, alias="from")
    to: list[str] | None = None
    cc: list[str] | None = None
    bcc: list[str] | None = None
    reply_to: list[str] | None = None
    sender: list[str] | None = None
    return_path: str | None = None
    date: str | None = None
    message_id: str | None = None
    subject: str | None = None


class Mail(_M):
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


class BouncedRecipient(_M):
    email_address: str
    action: str | None = None
    status: str | None = None
    diagnostic_code: str | None = None


class Bounce(_M):
    bounce_type: str
    bounce_sub_type: str
    bounced_recipients: list[BouncedRecipient]
    timestamp: datetime
    feedback_id: str | None = None
    reporting_mta: str | None = Field(None, alias="reportingMTA")
    remote_mta_ip: str | None = None


class ComplainedRecipient(_M):
    email_address: str


class Complaint(_M):
    complained_recipients: list[ComplainedRecipient]
    timestamp: datetime
    feedback_id: str | None = None
    complaint_sub_type: str | None = None
    user_agent: str | None = None
    complaint_feedback_type: str | None = None
    arrival_date: datetime | None = None


class Delivery(_M):
    timestamp: datetime
    recipients: list[str]
    processing_time_millis: int | None = None
    smtp_response: str | None = None
    reporting_mta: str | None = Field(None, alias="reportingMTA")
    remote_mta_ip: str | None = None


class Reject(_M):
    reason: str | None = None


class Open(_M):
    timestamp: datetime
    ip_address: str | None = None
    user_agent: str | None = None


class Click(_M):
    timestamp: datetime
    link: str
    ip_address: str | None = None
    user_agent: str | None = None
    link_tags: dict[str, list[str]] | None = None


class RenderingFailure(_M):
    template_name: str | None = None
    error_message: str | None = None


class DelayedRecipient(_M):
    email_address: str
    status: str | None = None
    diagnostic_code: str | None = None


class DeliveryDelay(_M):
    timestamp: datetime
    delay_type: str
    delayed_recipients: list[DelayedRecipient]
    expiration_time: datetime | None = None
    reporting_mta: str | None = Field(None, alias="reportingMTA")


class TopicSubscriptionStatus(_M):
    topic_name: str
    subscription_status: str


class TopicPreferences(_M):
    unsubscribe_all: bool | None = None
    topic_subscription_status: list[TopicSubscriptionStatus] | None = None


class Subscription(_M):
    timestamp: datetime
    contact_list: str | None = None
    source: str | None = None
    new_topic_preferences: TopicPreferences | None = None
    old_topic_preferences: TopicPreferences | None = None


class SendEvent(_M):
    event_type: Literal["Send"]
    mail: Mail
    send: dict[str, object] | None = None


class DeliveryEvent(_M):
    event_type: Literal["Delivery"]
    mail: Mail
    delivery: Delivery


class BounceEvent(_M):
    event_type: Literal["Bounce"]
    mail: Mail
    bounce: Bounce


class ComplaintEvent(_M):
    event_type: Literal["Complaint"]
    mail: Mail
    complaint: Complaint


class RejectEvent(_M):
    event_type: Literal["Reject"]
    mail: Mail
    reject: Reject


class OpenEvent(_M):
    event_type: Literal["Open"]
    mail: Mail
    open: Open


class ClickEvent(_M):
    event_type: Literal["Click"]
    mail: Mail
    click: Click


class RenderingFailureEvent(_M):
    event_type: Literal["Rendering Failure"]
    mail: Mail
    failure: RenderingFailure


class DeliveryDelayEvent(_M):
    event_type: Literal["DeliveryDelay"]
    mail: Mail
    delivery_delay: DeliveryDelay


class SubscriptionEvent(_M):
    event_type: Literal["Subscription"]
    mail: Mail
    subscription: Subscription


AnyEvent = Annotated[
    SendEvent
    | DeliveryEvent
    | BounceEvent
    | ComplaintEvent
    | RejectEvent
    | OpenEvent
    | ClickEvent
    | RenderingFailureEvent
    | DeliveryDelayEvent
    | SubscriptionEvent,
    Field(discriminator="event_type"),
]
event_adapter: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


class SnsEnvelope(BaseModel):
    # Not a _M: SNS spells its keys in PascalCase, so no camelCase alias generator here.
    model_config = ConfigDict(frozen=True, extra="ignore")
    Type: str
    MessageId: str
    TopicArn: str
    Message: str
    Timestamp: str


envelope_adapter = TypeAdapter(SnsEnvelope)
