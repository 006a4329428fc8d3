"""EventBridge: an ``aws.ses`` event as a rule delivers it to Lambda (or, as an SQS body, to a queue)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

import attrs

from ..errors import SourceError
from ..events import ControlMessage, EventType, SesEvent
from ._common import error_item, parsed_item
from ._item import SourceItem, Transport

__all__ = ["EVENTBRIDGE_DETAIL_TYPES", "NonEmailEvent", "eventbridge_item", "eventbridge_work"]

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
    """An ``aws.ses`` EventBridge event that is not about an email, such as ``Sending Status Enabled`` or
    ``Advisor Recommendation Status Open``: recognised, not an error, not an SES email event.

    ``raw`` is the whole EventBridge event; ``detail`` is its ``detail`` as sent.
    """

    detail_type: str
    detail: Any = None


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
        if isinstance(detail, Mapping) and "eventType" in detail and "mail" in detail:
            # An email event under a detail-type this version does not list: parse it as SES sent it.
            return parsed_item(transport, item_id, raw, detail, receipt_handle=receipt_handle, meta=meta)
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
    ``NonEmailEvent`` record (``item.ok`` is true, and the record is not a ``SesEvent``). A detail with
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
