"""Counters of what a consumer did, as a frozen snapshot (``ConsumerMetrics``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

import attrs

from ._core import MessageOutcome, Status

__all__ = ["ConsumerMetrics", "MetricsRecorder"]

logger = logging.getLogger("sesflow.consumers")


@attrs.frozen
class ConsumerMetrics:
    """A snapshot of a consumer's counters since it was created.

    Every received message ends as exactly one of ``handled``, ``duplicates``, ``failed``, ``invalid`` or
    ``released``. ``deleted`` counts messages SQS confirmed deleted, ``delete_errors`` the deletions that
    failed (the message then comes back and is seen as a duplicate when an idempotency store is used);
    ``retried`` counts failed and invalid messages left on the queue for a later retry, ``extended``
    the heartbeat extensions of slow messages. Latency is per message, from the receive that returned it to
    the end of its handling.
    """

    received: int = 0
    handled: int = 0
    duplicates: int = 0
    failed: int = 0
    invalid: int = 0
    released: int = 0
    deleted: int = 0
    delete_errors: int = 0
    retried: int = 0
    extended: int = 0
    receives: int = 0
    empty_receives: int = 0
    latency_total: float = 0.0
    latency_max: float = 0.0

    @property
    def finished(self) -> int:
        """Messages whose handling ended, whatever the outcome."""
        return self.handled + self.duplicates + self.failed + self.invalid + self.released

    @property
    def latency_mean(self) -> float:
        """Mean seconds from receive to the end of handling, over finished messages (0 when none)."""
        finished = self.finished
        return self.latency_total / finished if finished else 0.0


_FIELD_OF_STATUS = {
    Status.HANDLED: "handled",
    Status.DUPLICATE: "duplicates",
    Status.FAILED: "failed",
    Status.INVALID: "invalid",
    Status.RELEASED: "released",
}


class MetricsRecorder:
    """The mutable counters behind ``ConsumerMetrics``; safe to update from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, float] = dict.fromkeys(attrs.fields_dict(ConsumerMetrics), 0)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                self._counts[name] += value

    def received(self, count: int) -> None:
        with self._lock:
            self._counts["receives"] += 1
            self._counts["received"] += count
            if not count:
                self._counts["empty_receives"] += 1

    def finished(self, outcomes: Iterable[tuple[MessageOutcome, float]]) -> None:
        """Count outcomes with their latencies (seconds)."""
        with self._lock:
            for outcome, latency in outcomes:
                self._counts[_FIELD_OF_STATUS[outcome.status]] += 1
                if outcome.status in (Status.FAILED, Status.INVALID):
                    self._counts["retried"] += 1
                self._counts["latency_total"] += latency
                if latency > self._counts["latency_max"]:
                    self._counts["latency_max"] = latency

    def report(self, callback: Callable[[ConsumerMetrics], object] | None) -> None:
        """Call ``callback`` (a consumer's ``on_metrics``) with a snapshot; what it raises is logged."""
        if callback is None:
            return
        try:
            callback(self.snapshot())
        except Exception:
            logger.exception("the on_metrics callback failed")

    def snapshot(self) -> ConsumerMetrics:
        with self._lock:
            counts = dict(self._counts)
        floats = {"latency_total", "latency_max"}
        return ConsumerMetrics(**{k: (v if k in floats else int(v)) for k, v in counts.items()})  # type: ignore[arg-type]
