"""The event lake: SES records as Firehose lands them, ``year=YYYY/month=MM/day=DD/`` folders of NDJSON
(Firehose's default) or Parquet (record format conversion, or ``sesflow lake compact``).

A ``Lake`` is a local folder or an ``s3://bucket/prefix``. Reading is pruned by date before anything is
opened: only the day folders that can hold events of the requested ``TimeRange`` are listed, and only
their files are read. Records stream one at a time (through ``sesflow.sources.ndjson``), so memory stays
constant whatever the size of the lake.

Firehose partitions by the time a record *arrived* (its ``!{timestamp:...}`` namespace), which is a little
after the event happened: an event at 23:59:58 can land in the next day's folder. ``arrival_lag`` is how late
a record may arrive; the day after a range's end is read only when the lag reaches into it.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import attrs

from ..errors import ParseError, SesflowError, SourceError
from ..events import SesEvent, parse_event
from ..sources import SourceItem, Transport, iter_ndjson, iter_s3_object
from .schema import Layout

__all__ = [
    "DEFAULT_ARRIVAL_LAG",
    "PARQUET_SUFFIX",
    "Lake",
    "LakeError",
    "LakeFile",
    "TimeRange",
    "lake_layout",
    "partition_path",
]

log = logging.getLogger("sesflow.analytics")

DEFAULT_ARRIVAL_LAG = timedelta(minutes=15)
"""How late Firehose may file a record after its event: its longest buffering interval (900 seconds)."""

_PART = re.compile(r"(year|month|day)=(\d{1,4})")
_LEVELS = ("year", "month", "day")


class LakeError(SesflowError):
    """The lake cannot be read or written: a missing folder, a bad location, an unreadable record."""


def _utc(value: datetime | date, *, end: bool) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(0), tzinfo=UTC)


@attrs.frozen
class TimeRange:
    """Events with ``since <= event time < until`` (either bound may be open).

    Use ``of`` to build one from dates or datetimes: a ``date`` means the whole UTC day, so
    ``TimeRange.of(date(2024, 1, 1), date(2024, 1, 7))`` is the first seven days of January.
    """

    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def of(cls, since: datetime | date | None = None, until: datetime | date | None = None) -> TimeRange:
        """A range from dates (whole UTC days, ``until`` included) or datetimes (``until`` excluded);
        naive datetimes are taken as UTC."""
        start = None if since is None else _utc(since, end=False)
        stop = None if until is None else _utc(until, end=True)
        if start is not None and stop is not None and stop <= start:
            raise ValueError(f"the time range is empty: until ({stop.isoformat()}) is not after since")
        return cls(start, stop)

    def contains(self, moment: datetime) -> bool:
        return (self.since is None or moment >= self.since) and (self.until is None or moment < self.until)

    def days(self, arrival_lag: timedelta = DEFAULT_ARRIVAL_LAG) -> tuple[date | None, date | None]:
        """The first and last partition day that can hold events of this range (None: unbounded)."""
        first = None if self.since is None else self.since.astimezone(UTC).date()
        last = None
        if self.until is not None:
            last = (self.until - timedelta(microseconds=1) + arrival_lag).astimezone(UTC).date()
        return first, last


def partition_path(day: date) -> str:
    """``year=YYYY/month=MM/day=DD``: the folder of one day, as Firehose's documented prefix names it."""
    return f"year={day.year:04d}/month={day.month:02d}/day={day.day:02d}"


PARQUET_SUFFIX = ".parquet"
"""The extension of Parquet objects: Firehose adds it when it converts records (and compaction uses it)."""


@attrs.frozen
class LakeFile:
    """One object of the lake: its local path or S3 key, the day folder it is in, and its size."""

    name: str
    day: date
    size: int

    @property
    def layout(self) -> Layout:
        """``"parquet"`` for a ``.parquet`` object, else ``"ndjson"`` (gzip or not)."""
        return "parquet" if self.name.endswith(PARQUET_SUFFIX) else "ndjson"


def lake_layout(files: list[LakeFile], location: str = "the lake") -> Layout | None:
    """``"ndjson"`` or ``"parquet"``: the layout of ``files`` (None when there are none).

    A lake holding both is refused with ``LakeError``: report on each layout separately.
    """
    layouts = {f.layout for f in files}
    if len(layouts) > 1:
        example = next(f.name for f in files if f.layout == "parquet")
        raise LakeError(
            f"{location} holds both NDJSON and Parquet objects (such as {example}): keep the layouts in "
            "separate folders (sesflow lake compact SRC DST writes the Parquet layout to its own folder)"
        )
    return layouts.pop() if layouts else None


def _keep(level: str, parts: tuple[int, ...], first: date | None, last: date | None) -> bool:
    """Whether a partition folder (the values found so far, e.g. ``(2024, 1)``) can overlap the days."""
    n = len(parts)
    if n == 3:
        try:
            day = date(*parts)
        except ValueError:
            return False
        return (first is None or day >= first) and (last is None or day <= last)
    low = None if first is None else (first.year, first.month)[:n]
    high = None if last is None else (last.year, last.month)[:n]
    return (low is None or parts >= low) and (high is None or parts <= high)


def _visible(name: str) -> bool:
    # Hidden and underscore files are in-progress or bookkeeping (LakeWriter, Hadoop's _SUCCESS).
    return not name.startswith((".", "_"))


class Lake:
    """A lake of SES records laid out as Firehose writes them: ``<root>/year=YYYY/month=MM/day=DD/<objects>``.

    ``location`` is a local folder or ``s3://bucket/prefix`` (then pass ``s3_client``, a boto3 S3 client).
    It is the folder that holds the ``year=`` partitions; a location whose only layout is an ``events/``
    folder holding them (Firehose's documented prefix) is used through that folder. Objects may be plain
    NDJSON or gzip, with any name; names starting with ``.`` or ``_`` are skipped (files being written).
    """

    def __init__(self, location: str | os.PathLike[str], *, s3_client: Any = None) -> None:
        text = os.fspath(location)
        self.s3_client = s3_client
        if text.startswith("s3://"):
            bucket, prefix = split_s3_location(text, s3_client, "reading")
            self.bucket: str | None = bucket
            self.prefix = self._s3_root(prefix)
            self.root: Path | None = None
        else:
            path = Path(text)
            if not path.is_dir():
                raise LakeError(f"the lake folder {text} does not exist (or is not a folder)")
            if not _has_partitions(path.iterdir()) and (path / "events").is_dir():
                path = path / "events"
            self.bucket = None
            self.prefix = ""
            self.root = path

    def __repr__(self) -> str:
        return f"Lake({self.location!r})"

    @property
    def location(self) -> str:
        """Where the partitions are: a folder path or ``s3://bucket/prefix/``."""
        return str(self.root) if self.root is not None else f"s3://{self.bucket}/{self.prefix}"

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None

    # --- listing --------------------------------------------------------------------------------------------

    def files(
        self, time_range: TimeRange | None = None, *, arrival_lag: timedelta = DEFAULT_ARRIVAL_LAG
    ) -> list[LakeFile]:
        """The objects in the day folders that can hold events of ``time_range``, in time order.

        Folders outside the range are not listed, let alone opened.
        """
        first, last = (time_range or TimeRange()).days(arrival_lag)
        found = self._s3_files(first, last) if self.is_s3 else self._local_files(first, last)
        log.debug("lake %s: %d objects for days %s..%s", self.location, len(found), first, last)
        return found

    def _local_files(self, first: date | None, last: date | None) -> list[LakeFile]:
        assert self.root is not None
        found: list[LakeFile] = []

        def walk(folder: Path, parts: tuple[int, ...]) -> None:
            level = _LEVELS[len(parts)]
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as exc:
                raise LakeError(f"cannot list {folder}: {exc.strerror}") from exc
            for entry in entries:
                match = _PART.fullmatch(entry.name)
                if match is None or match[1] != level or not entry.is_dir():
                    continue
                here = (*parts, int(match[2]))
                if not _keep(level, here, first, last):
                    continue
                if len(here) < 3:
                    walk(Path(entry.path), here)
                    continue
                day = date(*here)
                for item in sorted(os.scandir(entry.path), key=lambda e: e.name):
                    if _visible(item.name) and item.is_file():
                        found.append(LakeFile(item.path, day, item.stat().st_size))

        walk(self.root, ())
        return found

    def _s3_root(self, prefix: str) -> str:
        names = [name for name, _ in self._s3_list(prefix, delimiter=True)]
        if not _has_partitions(names) and f"{prefix}events/" in names:
            return f"{prefix}events/"
        return prefix

    def _s3_list(self, prefix: str, *, delimiter: bool) -> Iterator[tuple[str, int]]:
        """``(key or common prefix, size)`` under ``prefix``; common prefixes have size -1."""
        paginator = self.s3_client.get_paginator("list_objects_v2")
        options: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            options["Delimiter"] = "/"
        for page in paginator.paginate(**options):
            for common in page.get("CommonPrefixes", ()):
                yield common["Prefix"], -1
            for entry in page.get("Contents", ()):
                yield entry["Key"], int(entry.get("Size", 0))

    def _s3_files(self, first: date | None, last: date | None) -> list[LakeFile]:
        found: list[LakeFile] = []

        def walk(prefix: str, parts: tuple[int, ...]) -> None:
            level = _LEVELS[len(parts)]
            for name, size in sorted(self._s3_list(prefix, delimiter=True)):
                if size >= 0:
                    continue  # an object beside the partition folders
                match = _PART.fullmatch(name[len(prefix) :].rstrip("/"))
                if match is None or match[1] != level:
                    continue
                here = (*parts, int(match[2]))
                if not _keep(level, here, first, last):
                    continue
                if len(here) < 3:
                    walk(name, here)
                    continue
                day = date(*here)
                for key, key_size in sorted(self._s3_list(name, delimiter=False)):
                    base = key[len(name) :]
                    if base and "/" not in base and _visible(base):
                        found.append(LakeFile(key, day, key_size))

        walk(self.prefix, ())
        return found

    # --- reading --------------------------------------------------------------------------------------------

    def iter_items(
        self,
        time_range: TimeRange | None = None,
        *,
        arrival_lag: timedelta = DEFAULT_ARRIVAL_LAG,
        files: list[LakeFile] | None = None,
    ) -> Iterator[SourceItem]:
        """Every record of ``time_range``, streamed: a ``SourceItem`` each.

        Items whose event lies outside the range are left out (a pruned day folder also holds the events
        just before or after it); items that could not be read or parsed are yielded with their error, never
        dropped, as are control messages. ``files`` (from ``files``) saves listing the lake again.
        """
        wanted = time_range or TimeRange()
        for entry in files if files is not None else self.files(wanted, arrival_lag=arrival_lag):
            if entry.layout == "parquet":
                items = self._parquet_items(entry)
            elif self.is_s3:
                items = iter_s3_object(self.s3_client, self.bucket_str, entry.name)
            else:
                items = iter_ndjson(entry.name)
            for item in items:
                record = item.record
                if isinstance(record, SesEvent) and not wanted.contains(record.timestamp):
                    continue
                yield item

    def _parquet_items(self, entry: LakeFile) -> Iterator[SourceItem]:
        """The records of one Parquet object (read with DuckDB, rows turned back into SES records)."""
        from ._engines import require_duckdb
        from .parquet import iter_parquet_rows, record_from_row

        duckdb = require_duckdb()
        name = f"s3://{self.bucket}/{entry.name}" if self.is_s3 else entry.name
        with tempfile.TemporaryDirectory(prefix="sesflow-parquet-") as folder:
            path = self.local_copies([entry], folder)[0]
            row_number = 0
            try:
                for row in iter_parquet_rows(path):
                    row_number += 1
                    record = record_from_row(row)
                    item_id, meta = f"{name}:{row_number}", {"object": name, "row": row_number}
                    try:
                        parsed = parse_event(record)
                    except ParseError as exc:
                        yield SourceItem(Transport.FILE, item_id, record, error=exc, meta=meta)
                    else:
                        yield SourceItem(Transport.FILE, item_id, record, record=parsed, meta=meta)
            except duckdb.Error as exc:  # the object cannot be read past here: say so, as an item
                reason = f"cannot read the Parquet object {name} after row {row_number}: {exc}"
                yield SourceItem(
                    Transport.FILE,
                    f"{name}:{row_number + 1}",
                    None,
                    error=SourceError(reason, raw=None),
                    meta={"object": name, "row": row_number + 1},
                )

    def local_copies(self, files: list[LakeFile], cache_dir: str | os.PathLike[str] | None) -> list[Path]:
        """Local paths of ``files``: themselves for a local lake; for S3, copies in ``cache_dir``.

        S3 objects are streamed to disk (never held in memory) under their own key, and one already there
        with the same size is not downloaded again: Firehose never rewrites an object.
        """
        if not self.is_s3:
            return [Path(f.name) for f in files]
        if cache_dir is None:
            raise LakeError("reading an S3 lake with DuckDB needs a cache_dir for the downloaded objects")
        base = Path(cache_dir).expanduser()
        paths = []
        for f in files:
            target = base / self.bucket_str / f.name
            if not (target.is_file() and target.stat().st_size == f.size):
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(f".{target.name}.download")
                with open(partial, "wb") as out:
                    self.s3_client.download_fileobj(self.bucket, f.name, out)
                partial.replace(target)
                log.debug("downloaded s3://%s/%s (%d bytes)", self.bucket, f.name, f.size)
            paths.append(target)
        return paths

    @property
    def bucket_str(self) -> str:
        assert self.bucket is not None
        return self.bucket


def split_s3_location(text: str, s3_client: Any, action: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix`` (the prefix empty or ending in ``/``); a location
    without a bucket, or no client to reach it with, raises ``LakeError`` (``action``: ``"reading"``...).
    """
    bucket, _, prefix = text[5:].partition("/")
    if not bucket:
        raise LakeError(f"no bucket in {text!r}: write s3://BUCKET/PREFIX/")
    if s3_client is None:
        raise LakeError(f"{action} {text} needs an S3 client: pass s3_client=boto3.client('s3')")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


def _has_partitions(entries: Any) -> bool:
    for entry in entries:
        name = os.fspath(entry) if not isinstance(entry, str) else entry
        if _PART.fullmatch(os.path.basename(name.rstrip("/"))):
            return True
    return False
