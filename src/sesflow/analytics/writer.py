"""Build a lake without Firehose: append SES records to ``year=/month=/day=`` folders of NDJSON files.

``LakeWriter`` takes events from any source (an SQS consumer, a webhook, a test) and files each under the
day of the event's own time, in the layout ``Lake`` and Athena read. A file is
written under a hidden name and renamed when it is complete (rotation, ``LakeWriter.flush``,
``LakeWriter.close``), so readers never see half a file and a writer that stops, or crashes, never
corrupts what is already there. Opening a new writer on the same folder adds new files beside the old ones.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import threading
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from ..events import SesEvent, parse_event, to_dict
from ..sources import SourceItem
from .lake import partition_path

__all__ = ["LakeWriter", "recover_incomplete"]

log = logging.getLogger("sesflow.analytics")

_INPROGRESS = ".inprogress"

_fast_dumps: Callable[[Any], bytes] | None
try:  # orjson (extra "fast"): several times faster, and always compact
    from orjson import dumps as _fast_dumps
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _fast_dumps = None


def _dumps(value: Any) -> bytes:
    """One compact JSON line. A record may hold a lone surrogate (valid JSON that sesflow's parser keeps, but
    not UTF-8): neither orjson nor UTF-8 can write one, so such a record is written with ``\\uXXXX`` escapes,
    which read back to the same text."""
    if _fast_dumps is not None:
        try:
            return _fast_dumps(value)
        except TypeError:  # orjson.JSONEncodeError: a lone surrogate (or a value JSON cannot hold)
            pass
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode("ascii")


Writable = SesEvent | SourceItem | Mapping[str, Any] | str | bytes
"""What ``LakeWriter.write`` accepts: a parsed event, a source item, or a record (mapping or JSON)."""


class _OpenFile:
    def __init__(self, folder: Path, name: str, compress: bool) -> None:
        self.folder = folder
        self.final = folder / name
        self.partial = folder / f".{name}{_INPROGRESS}"
        self.raw: IO[bytes] = open(self.partial, "xb")  # noqa: SIM115 - closed by close()
        self.stream: IO[bytes] = self.raw
        if compress:
            self.stream = gzip.GzipFile(fileobj=self.raw, mode="wb", mtime=0)  # type: ignore[assignment]
        self.records = 0
        self.bytes = 0
        self.opened = time.monotonic()

    def write(self, line: bytes) -> None:
        self.stream.write(line)
        self.records += 1
        self.bytes += len(line)

    def close(self) -> Path:
        if self.stream is not self.raw:
            self.stream.close()
        self.raw.close()
        os.replace(self.partial, self.final)
        return self.final


class LakeWriter:
    """Appends SES records to a lake folder, one NDJSON file per day and rotation.

    ``root`` is the folder that holds (or will hold) the ``year=`` partitions. A file is completed and made
    visible when it reaches ``max_records`` records or ``max_bytes`` bytes of NDJSON, when it has been open
    ``max_age`` (checked on each write, like Firehose's buffering interval), and on ``flush`` and
    ``close``. ``compress`` writes gzip (``.ndjson.gz``). ``max_open`` bounds the day files open at once
    (events from many days complete the least recently used first). Safe to share between threads.

    Events are written as they arrived (``SesEvent.raw``, unknown fields kept); control messages (topic
    validations, subscription confirmations, inbound mail) are not events and are skipped.

    >>> with LakeWriter("lake/events") as lake:
    ...     for item in sqs_items:
    ...         lake.write(item)
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        compress: bool = False,
        max_records: int = 100_000,
        max_bytes: int = 128 * 1024 * 1024,
        max_age: timedelta = timedelta(minutes=5),
        max_open: int = 4,
        file_prefix: str = "sesflow",
    ) -> None:
        if max_records < 1 or max_bytes < 1 or max_open < 1:
            raise ValueError("max_records, max_bytes and max_open must be at least 1")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.compress = compress
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.max_age = max_age.total_seconds()
        self.max_open = max_open
        self.file_prefix = file_prefix
        self.written = 0
        self.completed: list[Path] = []
        self._open: OrderedDict[date, _OpenFile] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = False
        self._run = uuid.uuid4().hex[:12]
        self._sequence = 0

    def __enter__(self) -> LakeWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def write(self, item: Writable) -> bool:
        """File one record under the day of its event; False when it is not an event (nothing written).

        A ``SourceItem`` that carries an error raises that error, and a record that
        does not parse raises ``ParseError``: the caller decides where bad input goes
        (a dead-letter queue), the lake only holds events.
        """
        event = _event_of(item)
        if event is None:
            return False
        record = event.raw if event.raw else to_dict(event)
        line = _dumps(record) + b"\n"
        day = event.timestamp.astimezone(UTC).date()
        with self._lock:
            if self._closed:
                raise ValueError("this LakeWriter is closed: open a new one to write more")
            target = self._target(day)
            target.write(line)
            self.written += 1
            if target.records >= self.max_records or target.bytes >= self.max_bytes:
                self._complete(day)
            self._expire()
        return True

    def write_many(self, items: Iterable[Writable]) -> int:
        """``write`` each item; returns how many were events (and so written)."""
        return sum(1 for item in items if self.write(item))

    def flush(self) -> list[Path]:
        """Complete every open file now, making all that was written visible; returns the new files."""
        with self._lock:
            done = [self._complete(day) for day in list(self._open)]
        return done

    def close(self) -> None:
        """Complete every open file. Writing afterwards raises; closing again does nothing."""
        with self._lock:
            for day in list(self._open):
                self._complete(day)
            self._closed = True

    def _target(self, day: date) -> _OpenFile:
        current = self._open.get(day)
        if current is not None:
            self._open.move_to_end(day)
            return current
        while len(self._open) >= self.max_open:
            self._complete(next(iter(self._open)))
        folder = self.root / partition_path(day)
        folder.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        suffix = ".ndjson.gz" if self.compress else ".ndjson"
        name = f"{self.file_prefix}-{stamp}-{self._run}-{self._sequence:06d}{suffix}"
        opened = self._open[day] = _OpenFile(folder, name, self.compress)
        return opened

    def _complete(self, day: date) -> Path:
        path = self._open.pop(day).close()
        self.completed.append(path)
        log.debug("lake file complete: %s", path)
        return path

    def _expire(self) -> None:
        if not self._open:
            return
        now = time.monotonic()
        for day in [d for d, f in self._open.items() if now - f.opened >= self.max_age]:
            self._complete(day)


def _event_of(item: Writable) -> SesEvent | None:
    if isinstance(item, SourceItem):
        if item.error is not None:
            raise item.error
        record = item.record
    elif isinstance(item, SesEvent):
        record = item
    else:
        record = parse_event(item)
    return record if isinstance(record, SesEvent) else None


def recover_incomplete(
    root: str | os.PathLike[str], *, older_than: timedelta = timedelta(hours=1)
) -> list[Path]:
    """Complete the files a stopped writer left hidden under ``root``; returns the files made visible.

    Only files untouched for ``older_than`` are taken, so a writer still running on the same folder keeps
    its own. A file cut off mid-record keeps every complete line; gzip cut off mid-stream keeps what inflates.
    Run it where no writer has been active for ``older_than`` (a cron job, a deploy hook).
    """
    recovered: list[Path] = []
    cutoff = time.time() - older_than.total_seconds()
    for partial in sorted(Path(root).rglob(f".*{_INPROGRESS}")):
        if partial.stat().st_mtime > cutoff:
            continue
        final = partial.with_name(partial.name[1 : -len(_INPROGRESS)])
        data = partial.read_bytes()
        if final.name.endswith(".gz"):
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            text = bytearray()
            try:  # keep whatever inflates before the cut (or the damage)
                for start in range(0, len(data), 65536):
                    text += inflater.decompress(data[start : start + 65536])
            except zlib.error:
                pass
            complete = bytes(text[: text.rfind(b"\n") + 1])
            final.write_bytes(gzip.compress(complete, mtime=0) if complete else b"")
        else:
            final.write_bytes(data[: data.rfind(b"\n") + 1])
        partial.unlink()
        if final.stat().st_size == 0:
            final.unlink()
            continue
        recovered.append(final)
        log.warning("recovered an incomplete lake file: %s", final)
    return recovered
