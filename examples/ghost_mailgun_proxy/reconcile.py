"""Exactly once across crashes: what the proxy decides about a send whose outcome it does not know. Pure.

SES's ``SendEmail`` has no idempotency key: a request that left but whose answer never came back (the
process was killed, the connection dropped) may or may not have been accepted, and sending it again may
deliver the newsletter twice. But every message SES accepts produces events that carry the message's tags,
a ``Send`` event first of all. So each send carries the proxy's own id of it, the ``mailgun-send-id`` tag
(``<send id>-<attempt>``, where the send id belongs to one recipient of one batch), and:

1. the intent (state ``sending``, the attempt and its tag) is committed before the request leaves;
2. a recipient whose request may have left without an answer being recorded is ``unconfirmed``: held, not
   reported to Ghost, not sent again;
3. an SES event carrying its tag settles it as ``sent``, with SES's message id (:func:`acceptance`);
4. only when no such event has come within the window is it sent again (:func:`resend_due`). The window
   starts when the event worker has caught up with its queue (an empty receive), or when the request was
   made if that is later: a proxy that was down for a day does not resend while the day's events wait in
   the queue.

Without ``Send`` events (a configuration set without them, or no event queue) this cannot hold, and the
proxy falls back to at most once (or at least once on request): :func:`delivery_mode`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Literal, TypeAlias

import attrs

from .compose import TAG_SEND
from .mapping import event_id

__all__ = [
    "Acceptance",
    "DeliveryMode",
    "Doubt",
    "DoubtState",
    "acceptance",
    "delivery_mode",
    "doubt_state",
    "parse_send_tag",
    "resend_due",
    "send_id",
    "send_tag",
]

DeliveryMode: TypeAlias = Literal["exactly-once", "at-most-once", "at-least-once"]
Acceptance: TypeAlias = Literal["settle", "known", "duplicate"]
DoubtState: TypeAlias = Literal["unconfirmed", "unknown", "pending"]

_SEND_ID_LENGTH: Final = 22


def send_id(batch_id: str, index: int) -> str:
    """The proxy's id of recipient ``index`` of batch ``batch_id``: 22 characters of SES's tag alphabet."""
    return event_id("proxy-send", batch_id, str(index))


def send_tag(send_id: str, attempt: int) -> str:
    """The ``mailgun-send-id`` tag value of one attempt: ``<send id>-<attempt>``."""
    return f"{send_id}-{attempt}"


def parse_send_tag(tags: Mapping[str, Sequence[str]]) -> tuple[str, int] | None:
    """``(send id, attempt)`` from an SES event's ``mail.tags``; None without a well-formed tag."""
    values = tags.get(TAG_SEND)
    if not values:
        return None
    key, dash, attempt = values[0].rpartition("-")
    if not dash or len(key) != _SEND_ID_LENGTH or not attempt.isdigit():
        return None
    return key, int(attempt)


def delivery_mode(*, send_events: bool, event_queue: bool, resend_interrupted: bool) -> DeliveryMode:
    """Exactly once needs the configuration sets to publish ``Send`` events and a queue to read them from;
    otherwise an interrupted send is given up (at most once) or sent again (at least once)."""
    if send_events and event_queue:
        return "exactly-once"
    return "at-least-once" if resend_interrupted else "at-most-once"


def doubt_state(mode: DeliveryMode) -> DoubtState:
    """The state of a recipient whose request may have left without an answer: held for its ``Send`` event
    (``unconfirmed``), given up (``unknown``), or to send again (``pending``)."""
    if mode == "exactly-once":
        return "unconfirmed"
    return "pending" if mode == "at-least-once" else "unknown"


def acceptance(state: str, recorded_ses_id: str | None, ses_message_id: str) -> Acceptance:
    """What an SES event of a tagged send means for its recipient (in ``state``, with ``recorded_ses_id``).

    - ``settle``: SES accepted it and the proxy had not recorded that: record it ``sent`` with this id
      (whatever the state: in flight, unconfirmed, back to pending for a resend, or even given up);
    - ``known``: already recorded ``sent`` with this id (the sender got the answer, or a redelivery);
    - ``duplicate``: recorded ``sent`` with another id: SES accepted two messages for one recipient (a
      ``Send`` event later than the window). The first stays the recipient's message.
    """
    if state != "sent":
        return "settle"
    return "known" if recorded_ses_id == ses_message_id else "duplicate"


@attrs.frozen
class Doubt:
    """A recipient whose request may have left without its answer being recorded."""

    index: int
    attempt: int
    claimed_at: float
    """When the intent was committed (the request left at most a moment later)."""


def resend_due(
    doubts: Iterable[Doubt], *, ready_at: float | None, window: float, now: float
) -> tuple[list[Doubt], float | None]:
    """The doubts due to be sent again, and the seconds until the next one is due.

    ``ready_at`` is when the event worker caught up with its queue (None: not yet, so nothing is due and
    the wait is None: ask again later). A doubt is due ``window`` seconds after the later of its claim and
    ``ready_at``.
    """
    if ready_at is None:
        return [], None
    due: list[Doubt] = []
    wait: float | None = None
    for doubt in doubts:
        left = max(doubt.claimed_at, ready_at) + window - now
        if left <= 0:
            due.append(doubt)
        elif wait is None or left < wait:
            wait = left
    return due, wait
