"""Frozen attrs models of every record SES publishes about a message.

Attribute names are snake_case; the SES spelling of each is in the field's ``metadata["ses"]`` and is used by
the one converter in ``sesflow.events._converter``. Lists are tuples and maps are read-only by contract
(``Mapping``), so a parsed event can be shared between handlers without defensive copies.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar

import attrs

from ..errors import ParseError
from .enums import (
    BotLikelihood,
    BounceSubType,
    BounceType,
    ComplaintFeedbackType,
    DelayType,
    EventFamily,
    EventType,
    RecommendationImpact,
    RecommendationType,
    SendingStatus,
    StatusOrigin,
    SubscriptionStatus,
)

__all__ = [
    "AdvisorRecommendationDetail",
    "Bounce",
    "BounceEvent",
    "BouncedRecipient",
    "Click",
    "ClickEvent",
    "CommonHeaders",
    "ComplainedRecipient",
    "Complaint",
    "ComplaintEvent",
    "ControlMessage",
    "DelayedRecipient",
    "Delivery",
    "DeliveryDelay",
    "DeliveryDelayEvent",
    "DeliveryEvent",
    "Header",
    "Mail",
    "Open",
    "OpenEvent",
    "ReceivedMail",
    "RecommendationMetadata",
    "Reject",
    "RejectEvent",
    "RenderingFailure",
    "RenderingFailureEvent",
    "Send",
    "SendEvent",
    "SendingStatusData",
    "SendingStatusDetail",
    "SesEvent",
    "StatusRecord",
    "Subscription",
    "SubscriptionEvent",
    "SubscriptionSucceeded",
    "TENANT_TAG",
    "TopicPreferences",
    "TopicSubscriptionStatus",
    "TopicValidation",
    "UnknownEvent",
]


class Tags(dict[str, tuple[str, ...]]):
    """SES tags, read-only: each name maps to its values (``{"ses:configuration-set": ("ConfigSet",)}``).

    A ``dict`` (so it is fast, JSON-friendly and picklable) that refuses to be changed after it is built.
    """

    __slots__ = ()

    def _readonly(self, *args: object, **kwargs: object) -> None:
        raise TypeError("SES tags are read-only")

    __setitem__ = __delitem__ = __ior__ = _readonly  # type: ignore[assignment]
    update = setdefault = pop = popitem = clear = _readonly  # type: ignore[assignment]

    def first(self, name: str) -> str | None:
        """The first value of tag ``name``, or None."""
        values = self.get(name)
        return values[0] if values else None

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (dict(self),))

    def __hash__(self) -> int:  # type: ignore[override]
        # Immutable, so hashable: the frozen models that hold tags (Mail, Click) can then be hashed too.
        return hash(frozenset(self.items()))


_EMPTY_TAGS = Tags()

TENANT_TAG = "ses:tenant-name"
"""The auto-tag in ``mail.tags`` that names the tenant a message was sent for (the Developer Guide's
"Using tenant-level suppression lists" documents it; the event contents pages list no tenant field)."""


class _RawRepr(reprlib.Repr):
    """reprlib's bounded repr (depth and size), which also survives an integer too long for ``repr``."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 4
        self.maxstring = self.maxother = 200
        self.maxlist = self.maxtuple = self.maxdict = 20

    def repr_int(self, x: int, level: int) -> str:
        try:
            return super().repr_int(x, level)
        except ValueError:  # more digits than int -> str allows
            return f"<int of {x.bit_length()} bits>"


_raw_repr = _RawRepr()


def _bounded_repr(value: object) -> str:
    """The repr of a value kept as SES sent it (a malformed lazy field, inbound mail): bounded in depth and
    size, and never raising, so that logging an event cannot fail however the record was built."""
    try:
        return _raw_repr.repr(value)
    except Exception:
        return f"<{type(value).__name__}>"


def _ses(key: str) -> Any:
    """A required field whose SES spelling is ``key``."""
    return attrs.field(metadata={"ses": key})


def _opt(key: str) -> Any:
    """A field SES may omit; ``None`` when absent (and omitted again by ``to_dict``)."""
    return attrs.field(default=None, metadata={"ses": key})


# --- mail -------------------------------------------------------------------------------------------------


@attrs.frozen
class Header:
    """One header of the original message, as SES recorded it."""

    name: str = _ses("name")
    value: str = _ses("value")


@attrs.frozen
class CommonHeaders:
    """The headers SES decodes for convenience. Address headers are lists, as SES sends them."""

    from_: tuple[str, ...] | None = _opt("from")
    to: tuple[str, ...] | None = _opt("to")
    cc: tuple[str, ...] | None = _opt("cc")
    bcc: tuple[str, ...] | None = _opt("bcc")
    reply_to: tuple[str, ...] | None = _opt("replyTo")
    sender: tuple[str, ...] | None = _opt("sender")
    return_path: str | None = _opt("returnPath")
    date: str | None = _opt("date")
    message_id: str | None = _opt("messageId")
    subject: str | None = _opt("subject")


def _lazy(key: str, model: Any) -> Any:
    """A field structured on first access rather than at parse time (see ``Mail``).

    The slot holds SES's raw value until a property asks for it; equality, hashing and repr look at the
    structured value, so a lazy field behaves like an eager one apart from *when* a bad value is reported.
    """
    return attrs.field(
        default=None,
        metadata={"ses": key, "lazy": model},
        eq=lambda value: _materialise(value, key, model),
    )


def _materialise(value: Any, key: str, model: Any) -> Any:
    # Raw JSON values are exactly dict or list; structured ones are Tags, tuples or model instances.
    if type(value) is not dict and type(value) is not list:
        return value
    from ._converter import structure_lazy

    return structure_lazy(value, key, model)


LAZY_STRUCTURERS: dict[str, Callable[[Any], Any]] = {}
"""Filled by the converter: for each lazy ``Mail`` slot, the function that structures its raw value."""


@attrs.frozen(repr=False)
class Mail:
    """The message an event is about; the same in every event of one message.

    ``headers``, ``common_headers`` and ``tags`` are structured when first read, not when the record is
    parsed: most handlers never look at them, and building them is most of the cost of a parse. A malformed
    value in one of them raises ``sesflow.ParseError`` (naming the field) on that first read.
    """

    timestamp: datetime = _ses("timestamp")
    message_id: str = _ses("messageId")
    source: str = _ses("source")
    destination: tuple[str, ...] = _ses("destination")
    source_arn: str | None = _opt("sourceArn")
    sending_account_id: str | None = _opt("sendingAccountId")
    headers_truncated: bool | None = _opt("headersTruncated")
    _headers: Any = _lazy("headers", tuple[Header, ...])
    _common_headers: Any = _lazy("commonHeaders", CommonHeaders)
    _tags: Any = _lazy("tags", Tags)
    # Feedback notifications only.
    source_ip: str | None = _opt("sourceIp")
    caller_identity: str | None = _opt("callerIdentity")

    @property
    def headers(self) -> tuple[Header, ...] | None:
        """Every header of the original message, when SES included them (see ``headers_truncated``)."""
        value = self._headers
        if type(value) is list:
            value = LAZY_STRUCTURERS["_headers"](value)
            object.__setattr__(self, "_headers", value)  # cache the structured value in the slot
        return value  # type: ignore[no-any-return]

    @property
    def common_headers(self) -> CommonHeaders | None:
        value = self._common_headers
        if type(value) is dict:
            value = LAZY_STRUCTURERS["_common_headers"](value)
            object.__setattr__(self, "_common_headers", value)
        return value  # type: ignore[no-any-return]

    @property
    def tags(self) -> Tags | None:
        """Message tags: SES's own (``ses:configuration-set``...) and the sender's; None in notifications."""
        value = self._tags
        if type(value) is dict:
            value = LAZY_STRUCTURERS["_tags"](value)
            object.__setattr__(self, "_tags", value)
        return value  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        parts = []
        for f in attrs.fields(Mail):
            try:
                value = repr(getattr(self, str(f.alias)))
            except ParseError:  # a malformed lazy field must not make logging the event fail
                value = f"<invalid: {_bounded_repr(getattr(self, f.name))}>"
            parts.append(f"{f.alias}={value}")
        return f"Mail({', '.join(parts)})"

    def __hash__(self) -> int:
        # The eager fields only: equal mails have equal ones, and hashing never has to structure a lazy field
        # (which may be malformed: hash() must not raise, while == may raise ParseError).
        return hash((self.timestamp, self.message_id, self.source, self.destination))

    def header(self, name: str) -> str | None:
        """The value of the first header called ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for h in self.headers or ():
            if h.name.lower() == wanted:
                return h.value
        return None

    @property
    def configuration_set(self) -> str | None:
        return (self.tags or _EMPTY_TAGS).first("ses:configuration-set")

    @property
    def tenant(self) -> str | None:
        """The tenant the message was sent for: the first value of its ``ses:tenant-name`` tag, or None."""
        return (self.tags or _EMPTY_TAGS).first(TENANT_TAG)


# --- detail objects ----------------------------------------------------------------------------------------


@attrs.frozen
class BouncedRecipient:
    email_address: str = _ses("emailAddress")
    action: str | None = _opt("action")
    status: str | None = _opt("status")
    diagnostic_code: str | None = _opt("diagnosticCode")


@attrs.frozen
class Bounce:
    bounce_type: BounceType = _ses("bounceType")
    bounce_sub_type: BounceSubType = _ses("bounceSubType")
    bounced_recipients: tuple[BouncedRecipient, ...] = _ses("bouncedRecipients")
    timestamp: datetime = _ses("timestamp")
    feedback_id: str | None = _opt("feedbackId")
    reporting_mta: str | None = _opt("reportingMTA")
    remote_mta_ip: str | None = _opt("remoteMtaIp")


@attrs.frozen
class ComplainedRecipient:
    email_address: str = _ses("emailAddress")


@attrs.frozen
class Complaint:
    complained_recipients: tuple[ComplainedRecipient, ...] = _ses("complainedRecipients")
    timestamp: datetime = _ses("timestamp")
    feedback_id: str | None = _opt("feedbackId")
    complaint_sub_type: str | None = _opt("complaintSubType")
    user_agent: str | None = _opt("userAgent")
    complaint_feedback_type: ComplaintFeedbackType | None = _opt("complaintFeedbackType")
    arrival_date: datetime | None = _opt("arrivalDate")


@attrs.frozen
class Delivery:
    timestamp: datetime = _ses("timestamp")
    recipients: tuple[str, ...] = _ses("recipients")
    processing_time_millis: int | None = _opt("processingTimeMillis")
    smtp_response: str | None = _opt("smtpResponse")
    reporting_mta: str | None = _opt("reportingMTA")
    remote_mta_ip: str | None = _opt("remoteMtaIp")


@attrs.frozen
class Send:
    """SES publishes ``send`` as an empty object."""


@attrs.frozen
class Reject:
    reason: str | None = _opt("reason")


class _Engagement:
    """What an Open and a Click share: SES's judgement of whether a machine made it."""

    __slots__ = ()
    is_bot_event: BotLikelihood | None

    @property
    def likely_bot(self) -> bool:
        """True only when SES says ``isBotEvent: Likely``."""
        return self.is_bot_event is BotLikelihood.LIKELY


@attrs.frozen
class Open(_Engagement):
    """``is_bot_event`` is SES's ``isBotEvent`` (August 2026): ``Likely`` when an automated system, not the
    recipient, probably loaded the open-tracking pixel; None in records from before it existed."""

    timestamp: datetime = _ses("timestamp")
    ip_address: str | None = _opt("ipAddress")
    user_agent: str | None = _opt("userAgent")
    is_bot_event: BotLikelihood | None = _opt("isBotEvent")


@attrs.frozen
class Click(_Engagement):
    """``is_bot_event`` as for ``Open``: ``Likely`` when a link scanner probably followed the link."""

    timestamp: datetime = _ses("timestamp")
    link: str = _ses("link")
    ip_address: str | None = _opt("ipAddress")
    user_agent: str | None = _opt("userAgent")
    link_tags: Tags | None = _opt("linkTags")
    is_bot_event: BotLikelihood | None = _opt("isBotEvent")


@attrs.frozen
class RenderingFailure:
    template_name: str | None = _opt("templateName")
    error_message: str | None = _opt("errorMessage")


@attrs.frozen
class DelayedRecipient:
    email_address: str = _ses("emailAddress")
    status: str | None = _opt("status")
    diagnostic_code: str | None = _opt("diagnosticCode")


@attrs.frozen
class DeliveryDelay:
    timestamp: datetime = _ses("timestamp")
    delay_type: DelayType = _ses("delayType")
    delayed_recipients: tuple[DelayedRecipient, ...] = _ses("delayedRecipients")
    expiration_time: datetime | None = _opt("expirationTime")
    reporting_mta: str | None = _opt("reportingMTA")


@attrs.frozen
class TopicSubscriptionStatus:
    topic_name: str = _ses("topicName")
    subscription_status: SubscriptionStatus = _ses("subscriptionStatus")


@attrs.frozen
class TopicPreferences:
    unsubscribe_all: bool | None = _opt("unsubscribeAll")
    topic_subscription_status: tuple[TopicSubscriptionStatus, ...] | None = _opt("topicSubscriptionStatus")


@attrs.frozen
class Subscription:
    timestamp: datetime = _ses("timestamp")
    contact_list: str | None = _opt("contactList")
    source: str | None = _opt("source")
    new_topic_preferences: TopicPreferences | None = _opt("newTopicPreferences")
    old_topic_preferences: TopicPreferences | None = _opt("oldTopicPreferences")


# --- EventBridge details that are not about a message ----------------------------------------------------
# The ``detail`` of the aws.ses EventBridge events about a resource (a tenant...) rather than a message; the
# records that carry them are in sesflow.sources.eventbridge. Shapes: the Developer Guide's "Tenants" chapter
# ("Setting up EventBridge notifications") and the EventBridge events reference for SES.


@attrs.frozen
class StatusRecord:
    """A sending status as SES recorded it (``detail.data.record``; SES v2's ``StatusRecord``).

    ``last_updated`` arrives as an array ``[year, month, day, hour, minute, second, nanosecond]`` (UTC; the
    trailing parts may be left out when zero) or as an ISO 8601 text.
    """

    status: SendingStatus = _ses("status")
    cause: str | None = _opt("cause")
    last_updated: datetime | None = attrs.field(
        default=None, metadata={"ses": "lastUpdatedTimestamp", "time_array": True}
    )


@attrs.frozen
class SendingStatusData:
    """``detail.data`` of a ``Sending Status Enabled`` / ``Disabled`` event."""

    record: StatusRecord = _ses("record")
    origin: StatusOrigin | None = _opt("origin")


@attrs.frozen
class SendingStatusDetail:
    """The ``detail`` of a ``Sending Status Enabled`` / ``Disabled`` event."""

    data: SendingStatusData = _ses("data")
    version: str | None = _opt("version")


@attrs.frozen
class RecommendationMetadata:
    impact: RecommendationImpact | None = _opt("impact")
    recommendation_type: RecommendationType | None = _opt("type")


@attrs.frozen
class AdvisorRecommendationDetail:
    """The ``detail`` of an ``Advisor Recommendation Status ...`` event: ``description`` is its ``data``
    text (what was found, e.g. the bounce rate that was exceeded)."""

    description: str | None = _opt("data")
    metadata: RecommendationMetadata | None = _opt("metadata")
    version: str | None = _opt("version")


# --- events -----------------------------------------------------------------------------------------------


@attrs.frozen
class SesEvent:
    """What every sending event has in common.

    ``family`` tells event publishing (configuration sets) from feedback notifications; ``raw`` is the record
    as it arrived, unknown fields included (excluded from equality and repr).
    """

    EVENT_TYPE: ClassVar[EventType]
    DETAIL_KEY: ClassVar[str | None] = None

    mail: Mail = _ses("mail")
    family: EventFamily = attrs.field(default=EventFamily.EVENT, kw_only=True)
    raw: Mapping[str, Any] = attrs.field(factory=dict, kw_only=True, eq=False, repr=False)

    @property
    def event_type(self) -> EventType:
        return self.EVENT_TYPE

    @property
    def timestamp(self) -> datetime:
        """When the event itself happened (the detail's timestamp; the send time for send-time events)."""
        return self.mail.timestamp

    @property
    def recipients(self) -> tuple[str, ...]:
        """The addresses this event concerns."""
        return self.mail.destination

    @property
    def message_id(self) -> str:
        return self.mail.message_id

    @property
    def configuration_set(self) -> str | None:
        """From ``mail.tags["ses:configuration-set"]``; None for feedback notifications."""
        return self.mail.configuration_set

    @property
    def tags(self) -> Tags:
        return self.mail.tags or _EMPTY_TAGS

    @property
    def tenant(self) -> str | None:
        """The tenant the message was sent for, from ``mail.tags["ses:tenant-name"]``; None when it was sent
        for none, and in feedback notifications (which carry no tags)."""
        return self.mail.tenant


@attrs.frozen
class SendEvent(SesEvent):
    EVENT_TYPE = EventType.SEND
    DETAIL_KEY = "send"
    send: Send = attrs.field(factory=Send, metadata={"ses": "send"})


@attrs.frozen
class DeliveryEvent(SesEvent):
    EVENT_TYPE = EventType.DELIVERY
    DETAIL_KEY = "delivery"
    delivery: Delivery = _ses("delivery")

    @property
    def timestamp(self) -> datetime:
        return self.delivery.timestamp

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.delivery.recipients


@attrs.frozen
class BounceEvent(SesEvent):
    EVENT_TYPE = EventType.BOUNCE
    DETAIL_KEY = "bounce"
    bounce: Bounce = _ses("bounce")

    @property
    def timestamp(self) -> datetime:
        return self.bounce.timestamp

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(r.email_address for r in self.bounce.bounced_recipients)

    @property
    def is_permanent(self) -> bool:
        return self.bounce.bounce_type is BounceType.PERMANENT

    @property
    def should_suppress(self) -> bool:
        """True when the recipients should not be mailed again: the bounce is permanent (hard)."""
        return self.is_permanent


@attrs.frozen
class ComplaintEvent(SesEvent):
    EVENT_TYPE = EventType.COMPLAINT
    DETAIL_KEY = "complaint"
    complaint: Complaint = _ses("complaint")

    @property
    def timestamp(self) -> datetime:
        return self.complaint.timestamp

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(r.email_address for r in self.complaint.complained_recipients)

    @property
    def should_suppress(self) -> bool:
        """True unless the provider reported the message as ``not-spam``."""
        return self.complaint.complaint_feedback_type is not ComplaintFeedbackType.NOT_SPAM


@attrs.frozen
class RejectEvent(SesEvent):
    EVENT_TYPE = EventType.REJECT
    DETAIL_KEY = "reject"
    reject: Reject = _ses("reject")


@attrs.frozen
class OpenEvent(SesEvent):
    EVENT_TYPE = EventType.OPEN
    DETAIL_KEY = "open"
    open: Open = _ses("open")

    @property
    def timestamp(self) -> datetime:
        return self.open.timestamp


@attrs.frozen
class ClickEvent(SesEvent):
    EVENT_TYPE = EventType.CLICK
    DETAIL_KEY = "click"
    click: Click = _ses("click")

    @property
    def timestamp(self) -> datetime:
        return self.click.timestamp


@attrs.frozen
class RenderingFailureEvent(SesEvent):
    EVENT_TYPE = EventType.RENDERING_FAILURE
    DETAIL_KEY = "failure"
    failure: RenderingFailure = _ses("failure")


@attrs.frozen
class DeliveryDelayEvent(SesEvent):
    EVENT_TYPE = EventType.DELIVERY_DELAY
    DETAIL_KEY = "deliveryDelay"
    delivery_delay: DeliveryDelay = _ses("deliveryDelay")

    @property
    def timestamp(self) -> datetime:
        return self.delivery_delay.timestamp

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(r.email_address for r in self.delivery_delay.delayed_recipients)


@attrs.frozen
class SubscriptionEvent(SesEvent):
    EVENT_TYPE = EventType.SUBSCRIPTION
    DETAIL_KEY = "subscription"
    subscription: Subscription = _ses("subscription")

    @property
    def timestamp(self) -> datetime:
        return self.subscription.timestamp


@attrs.frozen
class UnknownEvent(SesEvent):
    """A record whose ``eventType`` this version does not know; kept whole, never an error.

    ``type_name`` is the ``eventType`` SES sent; the rest of the record is in ``raw``.
    """

    EVENT_TYPE = EventType.SEND  # unused: event_type comes from type_name
    type_name: str = attrs.field(default="", kw_only=True)

    @property
    def event_type(self) -> EventType:
        return EventType(self.type_name)


# --- control messages -------------------------------------------------------------------------------------


@attrs.frozen
class ControlMessage:
    """Something that arrives where SES events arrive but is not an event about a sent message."""

    raw: Any = attrs.field(eq=False, repr=False)


@attrs.frozen
class SubscriptionSucceeded(ControlMessage):
    """``notificationType: AmazonSnsSubscriptionSucceeded``: SES confirming a feedback topic was set up."""

    message: str | None = None


@attrs.frozen
class TopicValidation(ControlMessage):
    """The plain-text message SES publishes when an SNS event destination is created."""

    message: str = ""


@attrs.frozen
class ReceivedMail(ControlMessage):
    """``notificationType: Received``: inbound mail (SES receiving), not a sending event.

    The ``mail`` and ``receipt`` objects are kept as SES sent them.
    """

    mail: Mapping[str, Any] | None = None
    receipt: Mapping[str, Any] | None = None

    # mail and receipt are whatever SES (or the caller's mapping) held: arbitrarily deep, not hashable. So
    # equality turns a comparison that fails into ParseError, hashing uses the message id only, and repr is
    # bounded.
    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, ReceivedMail)
        try:
            return bool(self.mail == other.mail and self.receipt == other.receipt)
        except Exception as exc:  # too deep for the interpreter, or objects of a caller's mapping that fail
            raise ParseError(
                f"inbound mail that cannot be compared ({type(exc).__name__})", raw=self.raw
            ) from None

    def __hash__(self) -> int:
        message_id = self.mail.get("messageId") if self.mail is not None else None
        return hash((ReceivedMail, message_id if type(message_id) is str else None))

    def __repr__(self) -> str:
        return f"ReceivedMail(mail={_bounded_repr(self.mail)}, receipt={_bounded_repr(self.receipt)})"


EVENT_CLASSES: tuple[type[SesEvent], ...] = (
    SendEvent,
    DeliveryEvent,
    BounceEvent,
    ComplaintEvent,
    RejectEvent,
    OpenEvent,
    ClickEvent,
    RenderingFailureEvent,
    DeliveryDelayEvent,
    SubscriptionEvent,
)
"""One class per known ``EventType``, in the enum's order."""
