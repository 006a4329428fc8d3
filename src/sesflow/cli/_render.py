"""How the CLI shows one event: its colour, a one-line detail, and a JSON form."""

from __future__ import annotations

from typing import Any

from ..events import EventType, SesEvent, to_dict
from ..sources import SourceItem

__all__ = ["STYLES", "detail", "item_json", "style"]

STYLES: dict[str, str] = {
    EventType.SEND.value: "blue",
    EventType.DELIVERY.value: "green",
    EventType.BOUNCE.value: "red",
    EventType.COMPLAINT.value: "magenta",
    EventType.REJECT.value: "red",
    EventType.OPEN.value: "cyan",
    EventType.CLICK.value: "cyan",
    EventType.RENDERING_FAILURE.value: "red",
    EventType.DELIVERY_DELAY.value: "yellow",
    EventType.SUBSCRIPTION.value: "yellow",
}


def style(event: SesEvent) -> str:
    """The colour of an event type (bold red for an unknown one)."""
    return STYLES.get(event.event_type.value, "bold red")


def detail(event: SesEvent) -> str:
    """What matters most about the event besides its type and recipients."""
    if hasattr(event, "bounce"):
        return f"{event.bounce.bounce_type}/{event.bounce.bounce_sub_type}"
    if hasattr(event, "complaint"):
        return str(event.complaint.complaint_feedback_type or "")
    if hasattr(event, "click"):
        return str(event.click.link)
    if hasattr(event, "delivery_delay"):
        return str(event.delivery_delay.delay_type)
    if hasattr(event, "failure"):
        return str(event.failure.error_message or "")
    if hasattr(event, "reject"):
        return str(event.reject.reason or "")
    if hasattr(event, "delivery"):
        return str(event.delivery.smtp_response or "")
    return ""


def item_json(item: SourceItem, label: str | None = None) -> dict[str, Any]:
    """One source item as a JSON object: the event (``to_dict``), a control message's type, or the error."""
    out: dict[str, Any] = {}
    if label is not None:
        out["record"] = label
    out["id"] = item.item_id
    envelope = item.meta.get("envelope")
    out["via"] = f"{item.transport.value}/{envelope}" if envelope else item.transport.value
    record = item.record
    if isinstance(record, SesEvent):
        out["event"] = to_dict(record)
    elif record is not None:  # a control message: topic validation, subscription confirmation...
        out["control"] = type(record).__name__
    else:
        out["error"] = str(item.error)
        location = getattr(item.error, "location", "")
        if location:
            out["path"] = location
    return out
