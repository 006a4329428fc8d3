"""Deterministic crash points for the crash tests: ``GHOST_PROXY_TEST_CRASH_AT=<point>:<n>[,<point>:<n>]``.

When the variable names a point, the ``n``-th time the process reaches it, the process sends itself SIGKILL:
no ``finally``, no flush, no graceful shutdown, exactly as if the machine had lost the process there. Unset
(always, outside the tests), :func:`crash_point` does nothing.

The points:

- ``intent-recorded``: a recipient's intent (state ``sending``, attempt, tag) is committed; the request has
  not been made.
- ``answer-received``: SES answered with a message id; the answer is not recorded yet.
- ``event-settling``: the event worker is settling a recipient from an SES event that carries its tag,
  inside the database transaction, before it commits.
- ``event-settled``: that transaction committed; the queue message is not deleted yet.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Mapping
from typing import Final

__all__ = ["CRASH_POINTS", "ENVIRONMENT_VARIABLE", "crash_point", "parse_crash_points"]

ENVIRONMENT_VARIABLE: Final = "GHOST_PROXY_TEST_CRASH_AT"
CRASH_POINTS: Final = frozenset({"intent-recorded", "answer-received", "event-settling", "event-settled"})


def parse_crash_points(text: str) -> dict[str, int]:
    """``"intent-recorded:3,event-settling:1"`` as ``{point: n}``; ValueError names what is wrong."""
    armed: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        point, _, count = part.partition(":")
        if point not in CRASH_POINTS:
            raise ValueError(f"{point!r} is not a crash point: use one of {sorted(CRASH_POINTS)}")
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"{part!r}: give the point and how many times to pass it, as {point}:3")
        armed[point] = int(count)
    return armed


_lock = threading.Lock()
_armed: Mapping[str, int] = parse_crash_points(os.environ.get(ENVIRONMENT_VARIABLE, ""))
_passed: dict[str, int] = {}


def crash_point(point: str) -> None:
    """Count one pass through ``point``; SIGKILL this process on the armed pass (nothing when unarmed)."""
    if point not in _armed:
        return
    with _lock:
        _passed[point] = _passed.get(point, 0) + 1
        if _passed[point] != _armed[point]:
            return
    sys.stderr.write(f"ghost_mailgun_proxy: crash point {point}:{_armed[point]} reached, SIGKILL\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)
