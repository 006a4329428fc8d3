"""The lake: LakeWriter's layout, rotation and crash safety; reading local folders and S3 (moto server)."""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sesflow import EventType, ParseError, parse_event
from sesflow.analytics import Lake, LakeWriter, TimeRange, build_report, partition_path, recover_incomplete
from sesflow.errors import SourceError
from sesflow.sources import SourceItem, Transport, iter_ndjson
from sesflow.testing import make_event, make_record, sample_records

from ._analytics import TOTAL_COUNTS, known_records, s3_bucket

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


def visible_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def read_all(root: Path) -> list[dict[str, Any]]:
    out = []
    for path in visible_files(root):
        for item in iter_ndjson(path):
            assert item.ok, item.error
            assert item.record is not None
            out.append(dict(item.record.raw))  # type: ignore[union-attr]
    return out


# --- LakeWriter -------------------------------------------------------------------------------------------


def test_events_are_filed_under_the_day_of_their_own_time(tmp_path: Path) -> None:
    delivery = make_record(
        EventType.DELIVERY, sent_at=T0, delay=timedelta(hours=13)
    )  # delivered the next day
    send = make_record(EventType.SEND, sent_at=T0, delay=timedelta(0))
    with LakeWriter(tmp_path) as writer:
        assert writer.write(send)
        assert writer.write(json.dumps(delivery))  # JSON text is fine too
    assert partition_path(date(2026, 4, 2)) == "year=2026/month=04/day=02"
    (first,) = list((tmp_path / "year=2026/month=04/day=01").iterdir())
    (second,) = list((tmp_path / "year=2026/month=04/day=02").iterdir())
    assert first.name.endswith(".ndjson")
    assert second.name.endswith(".ndjson")
    assert json.loads(first.read_text()) == send
    assert json.loads(second.read_text()) == delivery


def test_what_it_accepts(tmp_path: Path) -> None:
    event = make_event(EventType.BOUNCE, sent_at=T0)
    record = make_record(EventType.OPEN, sent_at=T0)
    record["mail"]["futureField"] = {"kept": True}  # unknown fields survive: raw records are written
    item = SourceItem(Transport.SQS, "m-1", raw="{}", record=parse_event(record))
    with LakeWriter(tmp_path) as writer:
        assert writer.write(event) is True
        assert writer.write(item) is True
        assert writer.write(json.dumps(record).encode()) is True
        assert writer.write(sample_records()["event_04_Send"]) is True  # the SES Developer Guide's example
        # Control messages are not events: nothing is written.
        assert writer.write("Successfully validated SNS topic for Amazon SES event publishing.") is False
        assert writer.write({"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "ok"}) is False
        with pytest.raises(ParseError):
            writer.write(b"{not json")
        failed = SourceItem(Transport.SQS, "m-2", raw="x", error=SourceError("not an SNS envelope", raw="x"))
        with pytest.raises(SourceError, match="not an SNS envelope"):
            writer.write(failed)
        assert writer.written == 4
    written = read_all(tmp_path)
    assert len(written) == 4
    assert sum(1 for r in written if r["mail"].get("futureField") == {"kept": True}) == 2


def test_a_record_with_a_lone_surrogate_is_written_and_reads_back_the_same(tmp_path: Path) -> None:
    # A subject cut in the middle of an emoji: valid JSON, kept by the parser, but not UTF-8.
    text = json.dumps(make_record(EventType.DELIVERY, sent_at=T0)).replace(
        '"mail": {', '"mail": {"cut": "\\ud83d", ', 1
    )
    event = parse_event(text)
    assert event.raw["mail"]["cut"] == "\ud83d"
    with LakeWriter(tmp_path) as writer:
        assert writer.write(event)
    (written,) = read_all(tmp_path)
    assert written == event.raw


def test_rotation_by_records_and_bytes_and_gzip(tmp_path: Path) -> None:
    records = [make_record(EventType.SEND, sent_at=T0 + timedelta(seconds=i)) for i in range(25)]
    with LakeWriter(tmp_path / "a", max_records=10) as writer:
        assert writer.write_many(records) == 25
    assert [len(p.read_text().splitlines()) for p in visible_files(tmp_path / "a")] == [10, 10, 5]
    size = len(json.dumps(records[0], separators=(",", ":"))) + 1
    with LakeWriter(tmp_path / "b", max_bytes=3 * size, compress=True) as writer:
        writer.write_many(records)
    files = visible_files(tmp_path / "b")
    assert all(p.name.endswith(".ndjson.gz") for p in files)
    assert all(p.read_bytes()[:2] == b"\x1f\x8b" for p in files)
    assert len(files) == 9  # ceil(25 / 3)
    assert read_all(tmp_path / "b") == records


def test_files_are_invisible_until_complete(tmp_path: Path) -> None:
    writer = LakeWriter(tmp_path)
    writer.write(make_record(EventType.SEND, sent_at=T0))
    assert visible_files(tmp_path) == []  # in progress: a hidden name
    assert Lake(tmp_path).files() == []
    (done,) = writer.flush()
    assert visible_files(tmp_path) == [done]
    writer.write(make_record(EventType.SEND, sent_at=T0))
    writer.close()
    writer.close()  # closing twice is fine
    assert len(visible_files(tmp_path)) == 2
    with pytest.raises(ValueError, match="closed"):
        writer.write(make_record(EventType.SEND, sent_at=T0))


def test_max_age_completes_files_on_the_next_write(tmp_path: Path) -> None:
    with LakeWriter(tmp_path, max_age=timedelta(0)) as writer:
        for i in range(3):
            writer.write(make_record(EventType.SEND, sent_at=T0 + timedelta(minutes=i)))
            assert len(visible_files(tmp_path)) == i + 1


def test_max_open_completes_the_least_recently_used_day(tmp_path: Path) -> None:
    with LakeWriter(tmp_path, max_open=2) as writer:
        for day in (0, 1, 0, 2):  # opening day 2 completes day 1, the least recently written
            writer.write(make_record(EventType.SEND, sent_at=T0 + timedelta(days=day)))
        assert [p.parent.name for p in visible_files(tmp_path)] == ["day=02"]
    assert len(visible_files(tmp_path)) == 3


def test_close_and_reopen_adds_files_beside_the_old_ones(tmp_path: Path) -> None:
    records = known_records()
    half = len(records) // 2
    with LakeWriter(tmp_path) as writer:
        writer.write_many(records[:half])
    before = {p: p.read_bytes() for p in visible_files(tmp_path)}
    with LakeWriter(tmp_path) as writer:
        writer.write_many(records[half:])
    after = visible_files(tmp_path)
    assert set(before) < set(after)
    assert all(p.read_bytes() == data for p, data in before.items())  # nothing rewritten
    assert sorted(map(json.dumps, read_all(tmp_path))) == sorted(map(json.dumps, records))
    report = build_report(tmp_path, since=date(2026, 3, 1), until=date(2026, 3, 5), engine="python")
    assert report.total.sent == TOTAL_COUNTS["sent"]


def test_writers_share_a_folder_and_threads_share_a_writer(tmp_path: Path) -> None:
    import threading

    records = [make_record(EventType.SEND, sent_at=T0 + timedelta(seconds=i)) for i in range(400)]
    with LakeWriter(tmp_path, max_records=37) as one, LakeWriter(tmp_path, max_records=50) as two:
        threads = [
            threading.Thread(target=(one if i % 2 else two).write_many, args=(records[i::4],))
            for i in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(map(json.dumps, read_all(tmp_path))) == sorted(map(json.dumps, records))


def test_recover_incomplete_files_after_a_crash(tmp_path: Path) -> None:
    records = [make_record(EventType.SEND, sent_at=T0 + timedelta(seconds=i)) for i in range(5)]
    for compress in (False, True):
        root = tmp_path / ("gz" if compress else "plain")
        writer = LakeWriter(root, compress=compress)
        writer.write_many(records)
        # The process dies: nothing is flushed or renamed. Simulate a write cut off mid-record.
        (state,) = writer._open.values()
        state.stream.write(b'{"eventType": "Send", "mail": {"timest')
        if compress:
            state.stream.flush()
        state.raw.flush()
        partial = state.partial
        assert partial.name.startswith(".")
        assert visible_files(root) == []
        # A file still being written (recent) is left alone...
        assert recover_incomplete(root) == []
        # ...one untouched for long enough is completed with its whole lines.
        old = time.time() - 7200
        os.utime(partial, (old, old))
        (recovered,) = recover_incomplete(root)
        assert not partial.exists()
        assert recovered.name.endswith(".ndjson.gz" if compress else ".ndjson")
        assert read_all(root) == records


# --- Lake -------------------------------------------------------------------------------------------------


def test_iter_items_streams_the_range_and_hands_back_bad_records(tmp_path: Path) -> None:
    with LakeWriter(tmp_path) as writer:
        writer.write_many(known_records())
    bad = tmp_path / "year=2026/month=03/day=02/bad.ndjson"
    bad.write_text('{"eventType": "Bounce"}\n')
    items = list(Lake(tmp_path).iter_items(TimeRange.of(date(2026, 3, 2), date(2026, 3, 2))))
    errors = [i for i in items if not i.ok]
    assert len(errors) == 1
    assert errors[0].item_id == f"{bad}:1"
    events = [i.record for i in items if i.ok]
    assert events
    assert all(e.timestamp.date() == date(2026, 3, 2) for e in events)


def test_a_lake_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    from sesflow.analytics import LakeError

    with pytest.raises(LakeError, match="does not exist"):
        Lake(tmp_path / "file")
    assert repr(Lake(tmp_path)) == f"Lake({str(tmp_path)!r})"


def test_time_range() -> None:
    r = TimeRange.of(date(2026, 1, 1), date(2026, 1, 7))
    assert r.since == datetime(2026, 1, 1, tzinfo=UTC)
    assert r.until == datetime(2026, 1, 8, tzinfo=UTC)
    assert r.contains(datetime(2026, 1, 7, 23, 59, tzinfo=UTC))
    assert not r.contains(datetime(2026, 1, 8, tzinfo=UTC))
    assert r.days(timedelta(0)) == (date(2026, 1, 1), date(2026, 1, 7))
    assert r.days() == (date(2026, 1, 1), date(2026, 1, 8))
    assert TimeRange.of().days() == (None, None)
    exact = TimeRange.of(datetime(2026, 1, 1, 6), datetime(2026, 1, 1, 18))
    assert exact.days() == (date(2026, 1, 1), date(2026, 1, 1))
    with pytest.raises(ValueError, match="empty"):
        TimeRange.of(datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))


# --- S3 (moto server) ---------------------------------------------------------------------------------------


@pytest.fixture
def s3_lake(moto_server: str, tmp_path: Path) -> Iterator[tuple[Any, str, Path]]:
    """A bucket with the known lake under events/ as Firehose would write it (gzip), plus objects outside
    the range that cannot be read; yields (client, bucket, the local copy)."""
    with s3_bucket(moto_server, "lake") as (client, bucket):
        local = tmp_path / "source"
        with LakeWriter(local, compress=True, max_records=9) as writer:
            writer.write_many(known_records())
        for path in visible_files(local):
            client.upload_file(str(path), bucket, "events/" + path.relative_to(local).as_posix())
        client.put_object(
            Bucket=bucket, Key="events/year=2026/month=02/day=20/broken.gz", Body=b"\x1f\x8bnot gzip"
        )
        client.put_object(Bucket=bucket, Key="events/year=2026/month=03/day=02/", Body=b"")  # a folder marker
        client.put_object(Bucket=bucket, Key="events/notes.txt", Body=b"not a partition")
        client.put_object(
            Bucket=bucket, Key="errors/year=2026/month=03/day=01/x", Body=b"firehose error output"
        )
        yield client, bucket, local


def test_s3_lake_report_with_both_engines(s3_lake: tuple[Any, str, Path], tmp_path: Path) -> None:
    client, bucket, _ = s3_lake
    cache = tmp_path / "cache"
    for engine in ("duckdb", "python"):
        report = build_report(
            f"s3://{bucket}",  # the events/ prefix is found
            since=date(2026, 3, 1),
            until=date(2026, 3, 5),
            by="configuration-set",
            s3_client=client,
            engine=engine,  # type: ignore[arg-type]
            cache_dir=cache,
        )
        assert report.location == f"s3://{bucket}/events/"
        assert report.total.sent == TOTAL_COUNTS["sent"]
        assert {g.key for g in report.groups} == {"transactional", "marketing", None}
    copied = [p.relative_to(cache / bucket).as_posix() for p in cache.rglob("*") if p.is_file()]
    assert copied
    assert all(name.startswith("events/year=2026/month=03/day=0") for name in copied)
    assert not any("day=20" in name or "day=10" in name or "month=02" in name for name in copied)


def test_s3_objects_are_downloaded_once(s3_lake: tuple[Any, str, Path], tmp_path: Path) -> None:
    client, bucket, _ = s3_lake
    lake = Lake(f"s3://{bucket}/events/", s3_client=client)
    files = lake.files(TimeRange.of(date(2026, 3, 1), date(2026, 3, 1)), arrival_lag=timedelta(0))
    assert files
    assert all(f.day == date(2026, 3, 1) for f in files)
    first = lake.local_copies(files, tmp_path)
    stamps = [p.stat().st_mtime_ns for p in first]
    time.sleep(0.01)
    again = lake.local_copies(files, tmp_path)
    assert again == first
    assert [p.stat().st_mtime_ns for p in again] == stamps
    assert all(
        p.read_bytes() == client.get_object(Bucket=bucket, Key=f.name)["Body"].read()
        for p, f in zip(first, files, strict=True)
    )


def test_s3_unpruned_report_reaches_the_broken_object(s3_lake: tuple[Any, str, Path]) -> None:
    from sesflow.analytics import LakeError

    client, bucket, _ = s3_lake
    with pytest.raises(LakeError):
        build_report(f"s3://{bucket}/events/", s3_client=client)  # a temporary cache
    items = list(
        Lake(f"s3://{bucket}/events", s3_client=client).iter_items(
            TimeRange.of(date(2026, 2, 20), date(2026, 2, 20))
        )
    )
    assert len(items) == 1
    assert not items[0].ok
    assert "broken.gz" in items[0].item_id


def test_gzip_objects_stream_with_constant_memory(tmp_path: Path) -> None:
    # A big object read through the lake holds one record at a time (the reader is sesflow.sources').
    record = make_record(EventType.SEND, sent_at=T0)
    folder = tmp_path / "year=2026/month=04/day=01"
    folder.mkdir(parents=True)
    line = (json.dumps(record) + "\n").encode()
    with gzip.open(folder / "big.gz", "wb") as fh:
        for _ in range(5000):
            fh.write(line)
    import tracemalloc

    tracemalloc.start()
    count = sum(1 for _ in Lake(tmp_path).iter_items())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 5000
    assert peak < 4 * 1024 * 1024 < 5000 * len(line)
