"""Open enumerations of SES's vocabularies.

SES adds values without notice, so every enum here is *open*: looking up a value this version does not know
returns a member-like object carrying that value (``BounceType("Gentle").value == "Gentle"``) whose
``is_known`` is false, instead of raising. Members are ``str`` subclasses, so they compare equal to SES's
spelling and serialise as it.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable
from typing import Any, ClassVar, Final

__all__ = [
    "BotLikelihood",
    "BounceSubType",
    "BounceType",
    "ComplaintFeedbackType",
    "DelayType",
    "EventFamily",
    "EventType",
    "OpenEnum",
    "RecommendationImpact",
    "RecommendationStatus",
    "RecommendationType",
    "SendingStatus",
    "StatusOrigin",
    "SubscriptionStatus",
    "event_types_from_names",
]

_lock = threading.Lock()
_MAX_INTERNED_UNKNOWN = 256


class OpenEnum(enum.StrEnum):
    """A ``str`` enum that keeps unknown values instead of rejecting them."""

    # Unknown values are interned per class so repeated lookups give the same object.
    _unknown_: ClassVar[dict[str, Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._unknown_ = {}

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        with _lock:
            member = cls._unknown_.get(value)
            if member is None:
                member = str.__new__(cls, value)
                member._name_ = value
                member._value_ = value  # type: ignore[assignment]
                # Interning is bounded so that hostile input cannot grow memory without limit; past the
                # bound an unknown value still works, it is just not the same object each time.
                if len(cls._unknown_) < _MAX_INTERNED_UNKNOWN:
                    cls._unknown_[value] = member
        return member

    @property
    def is_known(self) -> bool:
        """False for a value SES sent that this version of sesflow does not list."""
        # By identity: an unknown value may be spelled like a member's *name* ("PERMANENT").
        return type(self).__members__.get(self._name_) is self

    def __repr__(self) -> str:
        state = "" if self.is_known else " (unknown)"
        return f"<{type(self).__name__}.{self._name_}: {self._value_!r}{state}>"


class EventType(OpenEnum):
    """The kind of a sending event; ``.value`` is SES's own spelling."""

    SEND = "Send"
    DELIVERY = "Delivery"
    BOUNCE = "Bounce"
    COMPLAINT = "Complaint"
    REJECT = "Reject"
    OPEN = "Open"
    CLICK = "Click"
    RENDERING_FAILURE = "Rendering Failure"
    DELIVERY_DELAY = "DeliveryDelay"
    SUBSCRIPTION = "Subscription"


def _normalised_type_name(name: str) -> str:
    return name.replace("_", "").replace(" ", "").replace("-", "").lower()


_TYPE_BY_NAME: Final = {_normalised_type_name(t.value): t for t in EventType}


def event_types_from_names(names: Iterable[str]) -> frozenset[EventType]:
    """The event types named in ``names``, in any of SES's spellings: the events' own
    (``Rendering Failure``), the v1 API's ``MatchingEventTypes`` (``renderingFailure``), the v2 API's
    (``RENDERING_FAILURE``), or with dashes (``rendering-failure``). Names this version does not know are
    left out."""
    out = set()
    for name in names:
        found = _TYPE_BY_NAME.get(_normalised_type_name(str(name)))
        if found is not None:
            out.add(found)
    return frozenset(out)


class EventFamily(OpenEnum):
    """Which of SES's two publishing mechanisms produced a record.

    ``EVENT`` records come from configuration-set event destinations (key ``eventType``); ``NOTIFICATION``
    records are the older identity feedback notifications (key ``notificationType``), which carry no
    ``mail.tags`` and so no configuration set.
    """

    EVENT = "eventType"
    NOTIFICATION = "notificationType"


class BounceType(OpenEnum):
    UNDETERMINED = "Undetermined"
    PERMANENT = "Permanent"
    TRANSIENT = "Transient"


class BounceSubType(OpenEnum):
    UNDETERMINED = "Undetermined"
    GENERAL = "General"
    NO_EMAIL = "NoEmail"
    SUPPRESSED = "Suppressed"
    ON_ACCOUNT_SUPPRESSION_LIST = "OnAccountSuppressionList"
    ON_TENANT_SUPPRESSION_LIST = "OnTenantSuppressionList"  # the tenant's own suppression list (June 2026)
    MAILBOX_FULL = "MailboxFull"
    MESSAGE_TOO_LARGE = "MessageTooLarge"
    CONTENT_REJECTED = "ContentRejected"
    ATTACHMENT_REJECTED = "AttachmentRejected"


class ComplaintFeedbackType(OpenEnum):
    """The feedback type a mailbox provider reported (RFC 5965)."""

    ABUSE = "abuse"
    AUTH_FAILURE = "auth-failure"
    FRAUD = "fraud"
    NOT_SPAM = "not-spam"
    OTHER = "other"
    VIRUS = "virus"


class DelayType(OpenEnum):
    INTERNAL_FAILURE = "InternalFailure"
    GENERAL = "General"
    MAILBOX_FULL = "MailboxFull"
    SPAM_DETECTED = "SpamDetected"
    RECIPIENT_SERVER_ERROR = "RecipientServerError"
    IP_FAILURE = "IPFailure"
    TRANSIENT_COMMUNICATION_FAILURE = "TransientCommunicationFailure"
    BYOIP_HOST_NAME_LOOKUP_UNAVAILABLE = "BYOIPHostNameLookupUnavailable"
    UNDETERMINED = "Undetermined"
    SENDING_DEFERRAL = "SendingDeferral"


class SubscriptionStatus(OpenEnum):
    OPT_IN = "OptIn"
    OPT_OUT = "OptOut"


class BotLikelihood(OpenEnum):
    """``isBotEvent`` of an Open or Click (August 2026): whether SES judges that an automated system (a
    security scanner, an image proxy) rather than the recipient opened the message or followed the link."""

    LIKELY = "Likely"
    UNLIKELY = "Unlikely"


# --- EventBridge records that are not about a message (see sesflow.sources.eventbridge) -------------------


class SendingStatus(OpenEnum):
    """The sending status of a reputation entity such as a tenant (SES v2 ``SendingStatus``)."""

    ENABLED = "ENABLED"
    DISABLED = "DISABLED"
    REINSTATED = "REINSTATED"  # re-enabled by hand: sends although reputation findings are still open


class StatusOrigin(OpenEnum):
    """Who changed a sending status: the account (``CUSTOMER_MANAGED``) or SES itself (``AWS_MANAGED``)."""

    CUSTOMER_MANAGED = "CUSTOMER_MANAGED"
    AWS_MANAGED = "AWS_MANAGED"


class RecommendationStatus(OpenEnum):
    """The state an advisor recommendation (a reputation finding) moved to: the last word of the
    EventBridge ``detail-type`` (``Advisor Recommendation Status Open``)."""

    OPEN = "Open"
    RESOLVED = "Resolved"
    CLOSED = "Closed"  # the tenants guide names this detail-type; the EventBridge reference says Resolved


class RecommendationImpact(OpenEnum):
    HIGH = "HIGH"
    LOW = "LOW"


class RecommendationType(OpenEnum):
    """What a recommendation is about (SES v2 ``RecommendationType``)."""

    DKIM = "DKIM"
    DMARC = "DMARC"
    SPF = "SPF"
    BIMI = "BIMI"
    COMPLAINT = "COMPLAINT"
    BOUNCE = "BOUNCE"
    FEEDBACK_3P = "FEEDBACK_3P"
    IP_LISTING = "IP_LISTING"
