"""Client-side rate control: a token bucket shared by every send of a client, and jittered retry backoff.

Both are pure arithmetic over a clock and a random source; the clients turn the waits they return into
``time.sleep`` or ``asyncio.sleep``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import attrs

from .errors import ValidationError

__all__ = ["TokenBucket", "RetryPolicy", "make_bucket"]


class TokenBucket:
    """Allows on average ``rate`` tokens per second, in bursts of up to ``burst`` (default: a second's worth).

    SES counts its maximum send rate in recipients, so a send takes one token per recipient. A request may
    cost more than the bucket holds (a bulk call of 50 destinations at 14/s): it goes when the bucket is not
    in debt and its cost is paid afterwards, so the average rate holds. Thread-safe; never blocks:
    ``reserve`` says how long the caller must wait.
    """

    def __init__(
        self, rate: float, *, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ):
        if not rate > 0:
            raise ValidationError(
                "max_send_rate", f"a send rate is a positive number of sends per second, not {rate}"
            )
        self._rate = float(rate)
        self._burst = float(burst) if burst is not None else max(1.0, self._rate)
        self._clock = clock
        self._tokens = self._burst
        self._last = clock()
        self._lock = threading.Lock()

    @property
    def rate(self) -> float:
        """Tokens per second."""
        return self._rate

    def reserve(self, tokens: float = 1.0) -> float:
        """Take ``tokens`` and return how many seconds the caller must wait before using them."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            wait = max(0.0, -self._tokens / self._rate)
            self._tokens -= tokens
            return wait


def make_bucket(
    max_send_rate: object, *, clock: Callable[[], float] = time.monotonic, allowed: str = "or None (no limit)"
) -> TokenBucket | None:
    """The bucket a sender paces with: ``None`` for none, a given ``TokenBucket`` itself (so several
    senders, API and SMTP, can share one account rate), or a new one for a number of sends per second."""
    if max_send_rate is None:
        return None
    if isinstance(max_send_rate, TokenBucket):
        return max_send_rate
    if isinstance(max_send_rate, bool) or not isinstance(max_send_rate, int | float):
        raise ValidationError("max_send_rate", f"give sends per second, a TokenBucket to share {allowed}")
    return TokenBucket(max_send_rate, clock=clock)


@attrs.frozen
class RetryPolicy:
    """How sesflow retries what is retryable (throttling, transient failures, connections that never opened).

    Attempt ``n`` (from 1) is followed by a wait drawn uniformly from
    ``[0, min(max_delay, base_delay * 2**(n-1))]`` ("full jitter"), so that many senders throttled together do
    not retry together. ``max_attempts`` counts the first try.
    """

    max_attempts: int = 8
    base_delay: float = 0.2
    max_delay: float = 20.0

    def __attrs_post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValidationError("retry.max_attempts", "must be at least 1 (1 means no retries)")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValidationError("retry", "delays cannot be negative")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt``."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return rng.uniform(0.0, ceiling)
