"""Compaction: an NDJSON lake (gzip or not) turned into the Parquet layout, incrementally, safe to interrupt.

``compact_lake(SRC, DST)`` reads the day folders of the source lake and writes, for each day, Parquet files
in the layout Firehose's record format conversion writes (``sesflow.analytics.parquet``), under the same
``year=/month=/day=`` folder of the destination. Each source object is compacted once:

- every destination day folder holds a manifest, ``_sesflow-compaction.json``, listing the source objects
  already compacted (name and size) and the Parquet file holding each;
- a run converts only the objects the manifest does not list, in batches; each batch is written to one file
  named after the batch (``sesflow-compact-<digest>.parquet``), made visible whole (a rename, or one S3 PUT),
  and only then added to the manifest, which is itself replaced whole;
- so a run killed at any point leaves at most one Parquet file the manifest does not list. The next run
  deletes such files (and any half-written temporary file) before it writes, then redoes their batch: no
  record is lost, none is counted twice once the run completes.

Names starting with ``_`` or ``.`` are skipped by ``Lake`` and by Athena, so the
manifest and temporary files never reach a report. One compaction at a time per destination.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

import attrs

from .lake import PARQUET_SUFFIX, Lake, LakeError, LakeFile, TimeRange, partition_path, split_s3_location
from .parquet import Compression, ndjson_to_parquet

__all__ = ["MANIFEST_NAME", "OUTPUT_PREFIX", "CompactionResult", "compact_lake"]

log = logging.getLogger("sesflow.analytics")

MANIFEST_NAME = "_sesflow-compaction.json"
"""The manifest of one destination day folder."""
OUTPUT_PREFIX = "sesflow-compact-"
"""The name prefix of the Parquet files compaction writes (``sesflow-compact-<digest>.parquet``)."""
_FORMAT = "sesflow-compaction/1"
_TEMPORARY = ".inprogress"
DEFAULT_BATCH_BYTES = 64 * 1024 * 1024


@attrs.frozen
class CompactionResult:
    """What one ``compact_lake`` run did.

    ``sources_seen`` objects were found in the source's day folders; ``sources_compacted`` were converted by
    this run (``records`` rows into ``files_written``), ``already_compacted`` had been by earlier runs.
    ``removed`` are the files an interrupted run had left, deleted before their batch was redone.
    ``changed`` are source objects listed in a manifest whose size is no longer the one compacted: they are
    left alone (a Firehose object never changes; compacting it again would count its records twice).
    """

    source: str
    destination: str
    days: int
    sources_seen: int
    sources_compacted: int
    already_compacted: int
    records: int
    files_written: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    seconds: float

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = attrs.asdict(self)
        out["records_per_second"] = self.records_per_second
        return out


# --- the manifest (pure) ------------------------------------------------------------------------------------


@attrs.define
class Manifest:
    """The sources compacted into one destination day folder, and the file each went to."""

    source: str
    sources: dict[str, dict[str, Any]] = attrs.field(factory=dict)  # name -> {"size": n, "output": file}
    outputs: dict[str, dict[str, Any]] = attrs.field(factory=dict)  # file -> {"records": n, "sources": n}

    @classmethod
    def load(cls, data: bytes, where: str) -> Manifest:
        """Read a manifest; a damaged one raises ``LakeError`` (nothing is guessed)."""
        try:
            raw = json.loads(data)
            if not isinstance(raw, dict) or raw.get("format") != _FORMAT:
                raise ValueError(f"not a {_FORMAT} manifest")
            sources = raw["sources"]
            outputs = raw["outputs"]
            if not isinstance(sources, dict) or not isinstance(outputs, dict):
                raise ValueError("sources and outputs must be objects")
            for entry in sources.values():
                if not isinstance(entry, dict) or not isinstance(entry.get("size"), int):
                    raise ValueError("every source needs its size")
            return cls(str(raw["source"]), sources, outputs)
        except (ValueError, KeyError, TypeError) as exc:
            raise LakeError(
                f"the compaction manifest {where} is damaged ({exc}): remove that day folder of the "
                "destination to compact the day again"
            ) from exc

    def dump(self) -> bytes:
        body = {"format": _FORMAT, "source": self.source, "sources": self.sources, "outputs": self.outputs}
        return (json.dumps(body, indent=1, sort_keys=True) + "\n").encode("utf-8")

    def add(self, batch: list[tuple[str, int]], output: str | None, records: int) -> None:
        for name, size in batch:
            self.sources[name] = {"size": size, "output": output}
        if output is not None:
            self.outputs[output] = {"records": records, "sources": len(batch)}


def batch_output_name(batch: list[tuple[str, int]]) -> str:
    """The file a batch of ``(source name, size)`` is written to: named after its content, so redoing the
    same batch writes the same name."""
    digest = hashlib.sha256("\n".join(f"{name}\t{size}" for name, size in sorted(batch)).encode()).hexdigest()
    return f"{OUTPUT_PREFIX}{digest[:24]}{PARQUET_SUFFIX}"


def plan_batches(pending: list[tuple[str, int]], max_bytes: int) -> list[list[tuple[str, int]]]:
    """``pending`` sources in order, cut into batches of at most ``max_bytes`` (at least one object each)."""
    batches: list[list[tuple[str, int]]] = []
    current: list[tuple[str, int]] = []
    size = 0
    for name, object_size in pending:
        if current and size + object_size > max_bytes:
            batches.append(current)
            current, size = [], 0
        current.append((name, object_size))
        size += object_size
    if current:
        batches.append(current)
    return batches


def leftovers(names: Iterable[str], manifest: Manifest) -> list[str]:
    """Files in a destination day folder that an interrupted run left: compaction outputs the manifest does
    not list, and temporary files. Anything else in the folder is not compaction's and is left alone."""
    out = []
    for name in names:
        ours = name.startswith(OUTPUT_PREFIX) and name.endswith(PARQUET_SUFFIX)
        if (ours and name not in manifest.outputs) or (
            name.endswith(_TEMPORARY) and name.startswith(("." + OUTPUT_PREFIX, "." + MANIFEST_NAME))
        ):
            out.append(name)
    return sorted(out)


# --- destinations -------------------------------------------------------------------------------------------


class _Destination(Protocol):
    location: str

    def prepare(self) -> None: ...

    def names(self, day: date) -> list[str]: ...

    def read(self, day: date, name: str) -> bytes | None: ...

    def write_manifest(self, day: date, data: bytes) -> None: ...

    def staging(self, day: date, name: str, work: Path) -> Path: ...

    def publish(self, day: date, name: str, staged: Path) -> None: ...

    def delete(self, day: date, name: str) -> None: ...


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory file descriptors
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _LocalDestination:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)  # an empty lake is still a lake: it reads as empty

    def _folder(self, day: date) -> Path:
        return self.root / partition_path(day)

    def names(self, day: date) -> list[str]:
        folder = self._folder(day)
        return sorted(os.listdir(folder)) if folder.is_dir() else []

    def read(self, day: date, name: str) -> bytes | None:
        path = self._folder(day) / name
        return path.read_bytes() if path.is_file() else None

    def write_manifest(self, day: date, data: bytes) -> None:
        folder = self._folder(day)
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{MANIFEST_NAME}{_TEMPORARY}"
        with open(partial, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, folder / MANIFEST_NAME)
        _fsync_dir(folder)

    def staging(self, day: date, name: str, work: Path) -> Path:
        folder = self._folder(day)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f".{name}{_TEMPORARY}"  # hidden until complete, in place: a rename publishes it

    def publish(self, day: date, name: str, staged: Path) -> None:
        with open(staged, "rb") as written:
            os.fsync(written.fileno())
        os.replace(staged, self._folder(day) / name)
        _fsync_dir(self._folder(day))

    def delete(self, day: date, name: str) -> None:
        (self._folder(day) / name).unlink(missing_ok=True)


class _S3Destination:
    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.location = f"s3://{bucket}/{prefix}"

    def prepare(self) -> None:  # S3 has no folders to make
        return None

    def _key(self, day: date, name: str) -> str:
        return f"{self.prefix}{partition_path(day)}/{name}"

    def names(self, day: date) -> list[str]:
        folder = f"{self.prefix}{partition_path(day)}/"
        found = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder):
            for entry in page.get("Contents", ()):
                rest = entry["Key"][len(folder) :]
                if rest and "/" not in rest:
                    found.append(rest)
        return sorted(found)

    def read(self, day: date, name: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(day, name))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        body = answer["Body"]
        try:
            data: bytes = body.read()
        finally:
            body.close()
        return data

    def write_manifest(self, day: date, data: bytes) -> None:  # one PUT: the old or the new, never half
        self.client.put_object(
            Bucket=self.bucket, Key=self._key(day, MANIFEST_NAME), Body=data, ContentType="application/json"
        )

    def staging(self, day: date, name: str, work: Path) -> Path:
        return work / name

    def publish(self, day: date, name: str, staged: Path) -> None:  # an object appears only once complete
        self.client.upload_file(str(staged), self.bucket, self._key(day, name))
        staged.unlink(missing_ok=True)

    def delete(self, day: date, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(day, name))


def _destination(location: str | os.PathLike[str], s3_client: Any) -> _Destination:
    text = os.fspath(location)
    if text.startswith("s3://"):
        bucket, prefix = split_s3_location(text, s3_client, "writing to")
        return _S3Destination(s3_client, bucket, prefix)
    root = Path(text).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise LakeError(f"the destination {text} is a file, not a folder")
    return _LocalDestination(root)


def _same_place(source: Lake, destination: _Destination) -> bool:
    if source.root is not None and isinstance(destination, _LocalDestination):
        src, dst = source.root.resolve(), destination.root
        return src == dst or src in dst.parents or dst in src.parents
    if source.is_s3 and isinstance(destination, _S3Destination) and source.bucket == destination.bucket:
        a, b = source.prefix, destination.prefix
        return a.startswith(b) or b.startswith(a)
    return False


# --- the run ------------------------------------------------------------------------------------------------


def _by_day(files: list[LakeFile]) -> Iterator[tuple[date, list[LakeFile]]]:
    days: dict[date, list[LakeFile]] = {}
    for f in files:
        days.setdefault(f.day, []).append(f)
    yield from sorted(days.items())


def compact_lake(
    source: Lake | str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    s3_client: Any = None,
    since: date | None = None,
    until: date | None = None,
    max_batch_bytes: int = DEFAULT_BATCH_BYTES,
    compression: Compression = "snappy",
    skip_bad_records: bool = False,
    memory_limit: str | None = "1GB",
    on_batch: Callable[[Mapping[str, Any]], None] | None = None,
) -> CompactionResult:
    """Compact the NDJSON lake ``source`` into the Parquet layout at ``destination``; only new objects.

    ``source`` is a ``Lake`` or its location, ``destination`` a folder or
    ``s3://bucket/prefix`` (either may be in S3: pass ``s3_client``). ``since`` and ``until`` (dates,
    ``until`` included) limit the day folders looked at, e.g. the last few days for a scheduled run. Each
    batch of at most ``max_batch_bytes`` of source objects becomes one Parquet file (``compression``:
    ``"snappy"`` as Firehose writes by default, ``"zstd"`` for smaller files). ``memory_limit`` caps DuckDB.
    ``on_batch`` is called after each batch with what it did (for progress output).

    A record that is not valid JSON stops the run with ``LakeError`` naming the batch (nothing of that
    batch is marked done) unless ``skip_bad_records``. Safe to run again at any time and to kill at any point:
    see the module documentation. Needs the ``analytics`` extra (DuckDB).
    """
    started = time.perf_counter()
    if max_batch_bytes < 1:
        raise ValueError("max_batch_bytes must be at least 1")
    from ._engines import require_duckdb

    duckdb = require_duckdb()
    lake = source if isinstance(source, Lake) else Lake(source, s3_client=s3_client)
    target = _destination(destination, s3_client if s3_client is not None else lake.s3_client)
    if _same_place(lake, target):
        raise LakeError(
            f"the destination {target.location} overlaps the source {lake.location}: write the Parquet "
            "layout to a folder or prefix of its own"
        )
    time_range = TimeRange.of(since, until) if since is not None or until is not None else TimeRange()
    files = lake.files(time_range, arrival_lag=timedelta(0))  # the day folders as named
    source_id = str(lake.root.resolve()) if lake.root is not None else lake.location
    parquet = [f.name for f in files if f.layout == "parquet"]
    if parquet:
        raise LakeError(f"the source {lake.location} already holds Parquet objects (such as {parquet[0]})")
    target.prepare()

    seen = compacted = already = records = 0
    written: list[str] = []
    removed: list[str] = []
    changed: list[str] = []
    days = 0
    with tempfile.TemporaryDirectory(prefix="sesflow-compact-") as work_dir:
        work = Path(work_dir)
        for day, day_files in _by_day(files):
            days += 1
            seen += len(day_files)
            names = target.names(day)
            where = f"{target.location.rstrip('/')}/{partition_path(day)}/{MANIFEST_NAME}"
            data = target.read(day, MANIFEST_NAME) if MANIFEST_NAME in names else None
            manifest = Manifest.load(data, where) if data is not None else Manifest(source_id)
            if manifest.source != source_id:
                raise LakeError(
                    f"{where} records a compaction of {manifest.source}, not of {source_id}: "
                    "give each source its own destination"
                )
            pending: list[tuple[str, int]] = []
            by_name: dict[str, LakeFile] = {}
            for f in day_files:
                base = _base(f.name)
                done = manifest.sources.get(base)
                if done is None:
                    pending.append((base, f.size))
                    by_name[base] = f
                elif done["size"] == f.size:
                    already += 1
                else:
                    changed.append(f.name)
                    log.warning(
                        "%s changed size since it was compacted (%d -> %d bytes): left alone",
                        f.name,
                        done["size"],
                        f.size,
                    )
            if not pending:
                continue
            for name in leftovers(names, manifest):  # an interrupted run's output: its batch is redone below
                target.delete(day, name)
                removed.append(f"{partition_path(day)}/{name}")
                log.warning("removed %s/%s, left by an interrupted compaction", partition_path(day), name)
            for batch in plan_batches(pending, max_batch_bytes):
                output = batch_output_name(batch)
                local = lake.local_copies([by_name[name] for name, _ in batch], work / "sources")
                staged = target.staging(day, output, work)
                try:
                    count = ndjson_to_parquet(
                        local,
                        staged,
                        compression=compression,
                        skip_bad_records=skip_bad_records,
                        memory_limit=memory_limit,
                    )
                except LakeError:
                    staged.unlink(missing_ok=True)
                    raise
                except duckdb.Error as exc:
                    staged.unlink(missing_ok=True)
                    hint = "" if skip_bad_records else " (skip_bad_records / --skip-bad-records reads past)"
                    raise LakeError(
                        f"cannot compact {', '.join(by_name[n].name for n, _ in batch)}: {exc}{hint}"
                    ) from exc
                finally:
                    if lake.is_s3:
                        for path in local:
                            path.unlink(missing_ok=True)
                if count:
                    target.publish(day, output, staged)
                    written.append(f"{partition_path(day)}/{output}")
                else:  # only empty objects: nothing to write, but they are done
                    staged.unlink(missing_ok=True)
                manifest.add(batch, output if count else None, count)
                target.write_manifest(day, manifest.dump())  # after the file: a kill before this redoes it
                compacted += len(batch)
                records += count
                if on_batch is not None:
                    done = {"day": day.isoformat(), "sources": len(batch), "records": count, "file": output}
                    on_batch(done)
    result = CompactionResult(
        source=source_id,
        destination=target.location,
        days=days,
        sources_seen=seen,
        sources_compacted=compacted,
        already_compacted=already,
        records=records,
        files_written=tuple(written),
        removed=tuple(removed),
        changed=tuple(changed),
        seconds=time.perf_counter() - started,
    )
    log.info(
        "compacted %d of %d objects (%d records) from %s into %s in %.1fs",
        compacted,
        seen,
        records,
        lake.location,
        target.location,
        result.seconds,
    )
    return result


def _base(name: str) -> str:
    return name.rsplit("/", 1)[-1]
