"""What the sync and async consumers share besides the pure core: settings, errors, retries, signals."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import attrs

from ..errors import SesflowError
from ..routing import EventRouter
from ..sources import MessageVerifier
from ._core import (
    MAX_BATCH,
    MAX_VISIBILITY_TIMEOUT,
    MAX_WAIT_TIME_SECONDS,
    Backoff,
    Leases,
    MessagePolicy,
    is_fifo_queue,
    receive_error_retryable,
)
from .idempotency import IdempotencyStore
from .metrics import ConsumerMetrics, MetricsRecorder

__all__ = [
    "ConsumerBase",
    "ConsumerError",
    "Settings",
    "api_error",
    "check_client_options",
    "receive_failed",
    "signal_handlers",
]

logger = logging.getLogger("sesflow.consumers")

STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
STOPPING_MESSAGE: Final = "%s received: finishing the messages in flight, then stopping (again: exit at once)"


class ConsumerError(SesflowError):
    """A consumer cannot run: bad settings, a router it cannot drive, or an SQS error a retry will not fix."""


def _default_backoff(backoff: Backoff | None) -> Backoff:
    return Backoff() if backoff is None else backoff


@attrs.frozen
class Settings:
    """The validated settings both consumers share."""

    queue_url: str
    wait_time_seconds: int
    batch_size: int
    visibility_timeout: int
    backoff: Backoff = attrs.field(converter=_default_backoff)
    heartbeat: bool = True

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


class ConsumerBase:
    """What both consumers hold: the settings, the router, verifier and store, the per-message policy, the
    counters and the leases of the messages in flight."""

    def __init__(
        self,
        settings: Settings,
        router: EventRouter,
        verifier: MessageVerifier | None,
        idempotency: IdempotencyStore | None,
        on_metrics: Callable[[ConsumerMetrics], object] | None,
    ) -> None:
        self.settings = settings
        self.router = router
        self.verifier = verifier
        self.idempotency = idempotency
        self.on_metrics = on_metrics
        self.fifo = is_fifo_queue(settings.queue_url)
        self._policy = MessagePolicy(
            backoff=settings.backoff, verifies=verifier is not None, idempotent=idempotency is not None
        )
        self._recorder = MetricsRecorder()
        self._leases = Leases(settings.visibility_timeout)
        self._runs_ended = 0  # a stop() made while run N is going (or before it starts) is meant for run N
        self._stop_meant_for = -1

    @property
    def metrics(self) -> ConsumerMetrics:
        """The counters so far."""
        return self._recorder.snapshot()


def check_client_options(router: object, client: object, session: object, *names: str | None) -> None:
    """Refuse what is not a router, and a client given together with what would make one."""
    if not isinstance(router, EventRouter):
        raise ConsumerError(f"router must be an EventRouter, got {type(router).__name__}")
    if client is not None and (session is not None or any(names)):
        raise ConsumerError("pass either a client, or session/region/endpoint_url to make one")


def api_error(exc: Exception) -> tuple[bool, str]:
    """Whether a failed SQS call is worth repeating, and a one-line description of it."""
    response: Any = getattr(exc, "response", None)
    status: int | None = None
    code: str | None = None
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = response.get("Error", {}).get("Code")
    return receive_error_retryable(status, code), f"{type(exc).__name__}: {exc}"


_RETRY_PAUSES: Final = (1.0, 2.0, 5.0, 10.0, 30.0)


def receive_failed(queue_url: str, exc: Exception, failures: int) -> float:
    """The pause before receiving again after ``exc``, the ``failures``-th failure in a row (counted from 0);
    raises ``ConsumerError`` when repeating the receive cannot help (no such queue, access denied)."""
    retryable, what = api_error(exc)
    if not retryable:
        raise ConsumerError(f"receiving from {queue_url} failed: {what}") from exc
    pause = _RETRY_PAUSES[min(failures, len(_RETRY_PAUSES) - 1)]
    logger.warning("receiving from %s failed (%s); retrying in %.0f s", queue_url, what, pause)
    return pause


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
