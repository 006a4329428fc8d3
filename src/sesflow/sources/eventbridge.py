"""EventBridge: an ``aws.ses`` event as a rule delivers it to Lambda (or, as an SQS body, to a queue).

Besides the ten email events, SES puts events on the default bus that are not about one message (EventBridge
events reference, "Amazon Simple Email Service events"; the Developer Guide's "Tenants" chapter for their
shapes): ``Sending Status Enabled`` / ``Disabled`` when a tenant's sending is resumed or paused, and
``Advisor Recommendation Status Open`` / ``Resolved`` when a reputation finding (a Virtual Deliverability
Manager recommendation) opens or closes. Those become the typed ``SendingStatusEvent`` and
``AdvisorRecommendationEvent``; any other ``aws.ses`` detail-type a ``NonEmailEvent``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

import attrs

from ..errors import ParseError, SourceError
from ..events import (
    AdvisorRecommendationDetail,
    ControlMessage,
    EventType,
    RecommendationImpact,
    RecommendationStatus,
    RecommendationType,
    SendingStatus,
    SendingStatusDetail,
    SesEvent,
    StatusOrigin,
    StatusRecord,
    converter,
)
from ..events.models import _bounded_repr
from ._common import error_item, parsed_item, shown_value
from ._item import SourceItem, Transport

__all__ = [
    "EVENTBRIDGE_DETAIL_TYPES",
    "EVENTBRIDGE_STATUS_TYPES",
    "AdvisorRecommendationEvent",
    "NonEmailEvent",
    "SendingStatusEvent",
    "StatusEvent",
    "eventbridge_item",
    "eventbridge_work",
]

EVENTBRIDGE_DETAIL_TYPES: Final[Mapping[str, EventType]] = MappingProxyType(
    {
        "Email Sent": EventType.SEND,
        "Email Delivered": EventType.DELIVERY,
        "Email Bounced": EventType.BOUNCE,
        "Email Complaint Received": EventType.COMPLAINT,
        "Email Rejected": EventType.REJECT,
        "Email Opened": EventType.OPEN,
        "Email Clicked": EventType.CLICK,
        "Email Rendering Failed": EventType.RENDERING_FAILURE,
        "Email Delivery Delayed": EventType.DELIVERY_DELAY,
        "Email Subscribed": EventType.SUBSCRIPTION,
    }
)
"""The EventBridge ``detail-type`` of each SES email event type."""


@attrs.frozen
class NonEmailEvent(ControlMessage):
    """An ``aws.ses`` EventBridge event that is not about an email: recognised, not an error, not an SES
    email event. The detail-types sesflow models are the ``StatusEvent`` subclasses; any other (one SES
    adds later) is a plain ``NonEmailEvent``.

    ``raw`` is the whole EventBridge event; ``detail`` is its ``detail`` as sent (compared by ``==``, left out
    of the hash and shown bounded by ``repr``, so neither fails however it is built).
    """

    detail_type: str
    detail: Any = attrs.field(default=None, eq=False, repr=False)

    # Written out (the subclasses get attrs's own, over their typed fields): the detail is whatever was sent,
    # arbitrarily deep and not hashable.
    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, NonEmailEvent)
        try:
            return bool(self.detail_type == other.detail_type and self.detail == other.detail)
        except Exception as exc:  # too deep for the interpreter, or objects of a caller's mapping that fail
            raise ParseError(
                f"a detail that cannot be compared ({type(exc).__name__})", raw=self.raw
            ) from None

    def __hash__(self) -> int:
        return hash((NonEmailEvent, self.detail_type))

    def __repr__(self) -> str:
        return f"NonEmailEvent(detail_type={self.detail_type!r}, detail={_bounded_repr(self.detail)})"


_TENANT_ARN = re.compile(r"arn:[^:]+:ses:[^:]*:[^:]*:tenant/([^/]+)(?:/([^/]+))?")


@attrs.frozen
class StatusEvent(NonEmailEvent):
    """An ``aws.ses`` event about a resource (most often a tenant) rather than a message, that sesflow models.

    ``resources`` are the ARNs the event concerns (a tenant's is
    ``arn:aws:ses:<region>:<account>:tenant/<name>/<id>``) and ``time`` when EventBridge says it happened.
    """

    resources: tuple[str, ...] = attrs.field(default=(), kw_only=True)
    time: datetime | None = attrs.field(default=None, kw_only=True)

    @property
    def tenant_arn(self) -> str | None:
        """The first tenant ARN among ``resources``, or None."""
        for resource in self.resources:
            if _TENANT_ARN.match(resource):
                return resource
        return None

    @property
    def tenant(self) -> str | None:
        """The name of the tenant the event is about (from its ARN), or None when it is about no tenant."""
        match = _TENANT_ARN.match(self.tenant_arn or "")
        return match.group(1) if match and match.group(2) else None

    @property
    def tenant_id(self) -> str | None:
        """The id SES gave the tenant (the ARN's last part, ``tn-...``), or None."""
        match = _TENANT_ARN.match(self.tenant_arn or "")
        return match.group(2) if match else None


@attrs.frozen
class SendingStatusEvent(StatusEvent):
    """``Sending Status Enabled`` or ``Sending Status Disabled``: a tenant's sending was resumed or paused,
    by the account (``origin`` ``CUSTOMER_MANAGED``) or by SES's reputation policy (``AWS_MANAGED``).

    ``record`` is the new status (``ENABLED``, ``DISABLED`` or ``REINSTATED``), its ``cause`` and when it was
    last updated; ``paused`` says whether sending is now refused.
    """

    record: StatusRecord = attrs.field(kw_only=True)
    origin: StatusOrigin | None = attrs.field(default=None, kw_only=True)
    version: str | None = attrs.field(default=None, kw_only=True)

    @property
    def status(self) -> SendingStatus:
        return self.record.status

    @property
    def cause(self) -> str | None:
        return self.record.cause

    @property
    def last_updated(self) -> datetime | None:
        return self.record.last_updated

    @property
    def paused(self) -> bool:
        """True when sending is now refused (status ``DISABLED``)."""
        return self.record.status is SendingStatus.DISABLED


@attrs.frozen
class AdvisorRecommendationEvent(StatusEvent):
    """``Advisor Recommendation Status Open`` or ``... Resolved``: a reputation finding about a tenant (or,
    from the Virtual Deliverability Manager advisor, about the account's identities) opened or closed.

    ``status`` is the detail-type's last word; ``description`` says what was found (for example the bounce
    rate that was exceeded), ``impact`` how severe it is (``HIGH`` can pause a tenant under the standard
    reputation policy) and ``recommendation_type`` what it is about (``BOUNCE``, ``COMPLAINT``, ``DMARC``...).
    """

    status: RecommendationStatus = attrs.field(kw_only=True)
    description: str | None = attrs.field(default=None, kw_only=True)
    impact: RecommendationImpact | None = attrs.field(default=None, kw_only=True)
    recommendation_type: RecommendationType | None = attrs.field(default=None, kw_only=True)
    version: str | None = attrs.field(default=None, kw_only=True)

    @property
    def is_open(self) -> bool:
        return self.status is RecommendationStatus.OPEN


def _sending_status(event: Mapping[str, Any], detail_type: str, detail: Any) -> SendingStatusEvent:
    parsed: SendingStatusDetail = _structure(detail, SendingStatusDetail, event)
    return SendingStatusEvent(
        event,
        detail_type,
        detail,
        **_envelope(event),
        record=parsed.data.record,
        origin=parsed.data.origin,
        version=parsed.version,
    )


def _advisor_recommendation(
    event: Mapping[str, Any], detail_type: str, detail: Any
) -> AdvisorRecommendationEvent:
    parsed: AdvisorRecommendationDetail = _structure(detail, AdvisorRecommendationDetail, event)
    metadata = parsed.metadata
    return AdvisorRecommendationEvent(
        event,
        detail_type,
        detail,
        **_envelope(event),
        status=RecommendationStatus(detail_type.rpartition(" ")[2]),
        description=parsed.description,
        impact=None if metadata is None else metadata.impact,
        recommendation_type=None if metadata is None else metadata.recommendation_type,
        version=parsed.version,
    )


_STATUS_BUILDERS: Final = {
    "Sending Status Enabled": _sending_status,
    "Sending Status Disabled": _sending_status,
    "Advisor Recommendation Status Open": _advisor_recommendation,
    "Advisor Recommendation Status Resolved": _advisor_recommendation,
    "Advisor Recommendation Status Closed": _advisor_recommendation,
}

EVENTBRIDGE_STATUS_TYPES: Final[Mapping[str, type[StatusEvent]]] = MappingProxyType(
    {
        "Sending Status Enabled": SendingStatusEvent,
        "Sending Status Disabled": SendingStatusEvent,
        "Advisor Recommendation Status Open": AdvisorRecommendationEvent,
        "Advisor Recommendation Status Resolved": AdvisorRecommendationEvent,
        # Named by the Developer Guide's tenants chapter; the EventBridge reference lists Resolved.
        "Advisor Recommendation Status Closed": AdvisorRecommendationEvent,
    }
)
"""The ``aws.ses`` detail-types that are not about one message and the record class of each."""


def _structure(detail: Any, model: type[Any], event: Mapping[str, Any]) -> Any:
    """``detail`` as ``model`` (through the one converter); a ParseError names the field from the top of the
    EventBridge event (``detail.data.record.status``) and carries the whole event."""
    if not isinstance(detail, Mapping):
        raise ParseError(f"expected an object, got {type(detail).__name__}", raw=event, path=("detail",))
    try:
        plain = detail if type(detail) is dict else dict(detail)
    except Exception as exc:  # a mapping that cannot be read is not a detail either
        raise ParseError(
            f"could not read the detail: {type(exc).__name__}", raw=event, path=("detail",)
        ) from None
    try:
        return converter.structure(plain, model)
    except ParseError as exc:
        raise ParseError(exc.reason, raw=event, path=("detail", *exc.path)) from None


def _envelope(event: Mapping[str, Any]) -> dict[str, Any]:
    """``resources`` and ``time`` of the EventBridge event, checked (EventBridge itself always sets both)."""
    resources = event.get("resources", [])
    if not isinstance(resources, list):
        raise ParseError(
            f"expected a list of ARNs, got {type(resources).__name__}", raw=event, path=("resources",)
        )
    for index, resource in enumerate(resources):
        if type(resource) is not str:
            raise ParseError(
                f"expected an ARN string, got {shown_value(resource)}", raw=event, path=("resources", index)
            )
    time = event.get("time")
    if time is not None:
        try:
            time = converter.structure(time, datetime)
        except ParseError as exc:
            raise ParseError(exc.reason, raw=event, path=("time",)) from None
    return {"resources": tuple(resources), "time": time}


def eventbridge_work(
    event: Mapping[str, Any],
    *,
    transport: Transport,
    item_id: str,
    raw: Any,
    meta: dict[str, Any],
    receipt_handle: str | None = None,
) -> SourceItem:
    """The pure core: an EventBridge event (already decoded) becomes an item; also used for SQS bodies.

    Fills ``meta`` with ``eventbridge_id``, ``detail_type``, ``account``, ``region`` and ``time`` when
    present.
    """
    for meta_key, key in (
        ("eventbridge_id", "id"),
        ("detail_type", "detail-type"),
        ("account", "account"),
        ("region", "region"),
        ("time", "time"),
    ):
        value = event.get(key)
        if isinstance(value, str):
            meta[meta_key] = value

    def fail(reason: str) -> SourceItem:
        return error_item(
            transport, item_id, raw, SourceError(reason, raw=raw), receipt_handle=receipt_handle, meta=meta
        )

    source = event.get("source")
    if source != "aws.ses":
        return fail(
            f"EventBridge event source is {source!r}, not 'aws.ses': it is not an SES event; match "
            '{"source": ["aws.ses"]} in the rule that routes events here'
        )
    detail_type = event.get("detail-type")
    if not isinstance(detail_type, str):
        return fail(f"the EventBridge event's detail-type is {detail_type!r}, not a string")
    detail = event.get("detail")
    expected = EVENTBRIDGE_DETAIL_TYPES.get(detail_type)
    if expected is None:
        build = _STATUS_BUILDERS.get(detail_type)
        record: NonEmailEvent
        if build is not None:
            try:
                record = build(event, detail_type, detail)
            except ParseError as exc:  # a documented detail-type in a shape SES does not send: dead-letter
                return error_item(transport, item_id, raw, exc, receipt_handle=receipt_handle, meta=meta)
        elif isinstance(detail, Mapping) and "eventType" in detail and "mail" in detail:
            # An email event under a detail-type this version does not list: parse it as SES sent it.
            return parsed_item(transport, item_id, raw, detail, receipt_handle=receipt_handle, meta=meta)
        else:  # one SES adds later: recognised, kept whole
            record = NonEmailEvent(event, detail_type, detail)
        return SourceItem(transport, item_id, raw, record=record, receipt_handle=receipt_handle, meta=meta)
    if not isinstance(detail, Mapping):
        return fail(f"the {detail_type!r} event has no detail object (got {type(detail).__name__})")
    item = parsed_item(transport, item_id, raw, detail, receipt_handle=receipt_handle, meta=meta)
    found = item.record
    if found is None or (isinstance(found, SesEvent) and found.event_type == expected):
        return item
    actual = found.event_type.value if isinstance(found, SesEvent) else type(found).__name__
    return fail(
        f"detail-type {detail_type!r} means eventType {expected.value!r}, but the detail is {actual!r}; "
        "the event was altered or built by hand: check whoever put it on the bus"
    )


def eventbridge_item(event: Mapping[str, Any]) -> SourceItem:
    """The item of an EventBridge event whose ``source`` must be ``aws.ses`` (a Lambda target's input).

    ``item_id`` is the event's ``id``; ``raw`` is the event. ``detail-type`` is mapped to an
    ``EventType`` (``EVENTBRIDGE_DETAIL_TYPES``) and must agree with the parsed
    ``detail``; a disagreement is an error item. Non-email ``aws.ses`` events become a
    ``NonEmailEvent`` record (``item.ok`` is true, and the record is not a ``SesEvent``): a
    ``SendingStatusEvent`` or ``AdvisorRecommendationEvent`` for the detail-types of
    ``EVENTBRIDGE_STATUS_TYPES`` (one whose detail is not in the documented shape is an error item with a
    ``ParseError`` naming the field), a plain ``NonEmailEvent`` for any other. A detail with
    ``eventType`` and ``mail`` under an unlisted detail-type is parsed as an email event. Never raises for bad
    input.
    """
    given: object = event  # callers' types are not trusted: Lambda hands over whatever was sent
    if not isinstance(given, Mapping):
        reason = f"an EventBridge event must be a JSON object, got {type(given).__name__}"
        return error_item(Transport.EVENTBRIDGE, "", given, SourceError(reason, raw=given))
    event_id = event.get("id")
    item_id = event_id if isinstance(event_id, str) else ""
    return eventbridge_work(event, transport=Transport.EVENTBRIDGE, item_id=item_id, raw=event, meta={})
