"""What the sync and async consumers share besides the pure core: settings, errors, keys, signal handling."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

import attrs

from ..errors import SesflowError
from ..sources import SourceItem
from ._core import MAX_BATCH, MAX_VISIBILITY_TIMEOUT, MAX_WAIT_TIME_SECONDS, Backoff, receive_error_retryable
from .idempotency import IdempotencyStore, idempotency_key

__all__ = [
    "ConsumerError",
    "Settings",
    "api_error",
    "key_for",
    "signal_handlers",
]

logger = logging.getLogger("sesflow.consumers")

STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
STOPPING_MESSAGE: Final = "%s received: finishing the messages in flight, then stopping (again: exit at once)"


class ConsumerError(SesflowError):
    """A consumer cannot run: bad settings, a router it cannot drive, or an SQS error a retry will not fix."""


@attrs.frozen
class Settings:
    """The validated settings both consumers share."""

    queue_url: str
    wait_time_seconds: int
    batch_size: int
    visibility_timeout: int
    backoff: Backoff
    heartbeat: bool

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.queue_url, str) or not self.queue_url.startswith(("https://", "http://")):
            raise ConsumerError(
                f"queue_url must be the queue's URL (https://sqs.<region>.amazonaws.com/<account>/<name>), "
                f"got {self.queue_url!r}; get it with sqs.get_queue_url(QueueName=...)"
            )
        if not 0 <= self.wait_time_seconds <= MAX_WAIT_TIME_SECONDS:
            raise ConsumerError(
                f"wait_time_seconds must be 0 to {MAX_WAIT_TIME_SECONDS} (SQS's long-poll limit), "
                f"got {self.wait_time_seconds}"
            )
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise ConsumerError(f"batch_size must be 1 to {MAX_BATCH}, got {self.batch_size}")
        if not 1 <= self.visibility_timeout <= MAX_VISIBILITY_TIMEOUT:
            raise ConsumerError(
                f"visibility_timeout must be 1 to {MAX_VISIBILITY_TIMEOUT} seconds, "
                f"got {self.visibility_timeout}"
            )


def key_for(item: SourceItem, store: IdempotencyStore | None) -> str | None:
    """The idempotency key of a parsed item's event, when a store is in use (None otherwise)."""
    if store is None or item.record is None:
        return None
    return idempotency_key(item.record)


def api_error(exc: Exception) -> tuple[bool, str]:
    """Whether a failed SQS call is worth repeating, and a one-line description of it."""
    response: Any = getattr(exc, "response", None)
    status: int | None = None
    code: str | None = None
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = response.get("Error", {}).get("Code")
    return receive_error_retryable(status, code), f"{type(exc).__name__}: {exc}"


@contextmanager
def signal_handlers(stop: Callable[[], None], enabled: bool) -> Iterator[None]:
    """SIGINT and SIGTERM call ``stop`` once; the previous handlers are back for a second signal and after."""
    if not enabled:
        yield
        return
    if threading.current_thread() is not threading.main_thread():
        raise ConsumerError(
            "install_signal_handlers=True needs the main thread (Python delivers signals only there); "
            "call stop() from your own handler instead"
        )
    previous: dict[int, Any] = {}

    def restore() -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)

    def on_signal(number: int, frame: object) -> None:
        logger.info(STOPPING_MESSAGE, signal.Signals(number).name)
        restore()
        stop()

    for number in STOP_SIGNALS:
        previous[number] = signal.signal(number, on_signal)
    try:
        yield
    finally:
        restore()


# A message put back with a retry delay this short is waited for by ``run_until_empty``: it is part of the
# work at hand. moto and SQS may not show it on a receive made in the same instant, hence the grace period.
SOON_VISIBLE_SECONDS = 1
REQUEUE_GRACE_SECONDS = 0.25


def requeue_deadline(changes: Sequence[tuple[str, int]], now: float, current: float) -> float:
    """The monotonic time by which every soon-visible message in ``changes`` is back on the queue."""
    soon = [timeout for _, timeout in changes if timeout <= SOON_VISIBLE_SECONDS]
    if not soon:
        return current
    return max(current, now + max(soon) + REQUEUE_GRACE_SECONDS)
