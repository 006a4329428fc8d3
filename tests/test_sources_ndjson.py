"""Firehose's S3 output (NDJSON, optionally gzip): local files, streams, and objects in moto S3."""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest

from sesflow.errors import ParseError, SourceError
from sesflow.events import BounceEvent, ComplaintEvent, DeliveryEvent, SesEvent, parse_event
from sesflow.sources import SourceItem, Transport, iter_ndjson, iter_s3_object, iter_s3_prefix

from ._sources_support import ses_line, ses_record

BOUNCE = ses_line("event_01_Bounce.json")
COMPLAINT = ses_line("event_02_Complaint.json")
DELIVERY = ses_line("event_03_Delivery.json")

# One line per case; the comment is what the line must become.
MIXED = b"".join(
    [
        BOUNCE + b"\n",  # 1: a record
        b"\n",  # 2: blank, skipped
        b"   \t\n",  # 3: blank, skipped
        COMPLAINT + b"\r\n",  # 4: a record with a CRLF ending
        b'{"eventType": "Bounce", "mail": \n',  # 5: cut off: ParseError
        b"[1, 2]\n",  # 6: JSON, not an object: ParseError
        BOUNCE + COMPLAINT + b"\n",  # 7: two records back to back -> :1 and :2
        DELIVERY + b"  " + b'{"broken": \n',  # 8: a record, then a broken one -> :1 ok, :2 error
        DELIVERY,  # 9: the last line has no newline
    ]
)


def summary(items: list[SourceItem]) -> list[tuple[str, str]]:
    return [(item.item_id, type(item.record or item.error).__name__) for item in items]


EXPECTED_MIXED = [
    ("{name}:1", "BounceEvent"),
    ("{name}:4", "ComplaintEvent"),
    ("{name}:5", "ParseError"),
    ("{name}:6", "ParseError"),
    ("{name}:7:1", "BounceEvent"),
    ("{name}:7:2", "ComplaintEvent"),
    ("{name}:8:1", "DeliveryEvent"),
    ("{name}:8:2", "ParseError"),
    ("{name}:9", "DeliveryEvent"),
]


def expected(name: str) -> list[tuple[str, str]]:
    return [(item_id.format(name=name), kind) for item_id, kind in EXPECTED_MIXED]


def test_local_file_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "ses-events-1-2024-05-01-10-00-00-abcd"
    path.write_bytes(MIXED)
    items = list(iter_ndjson(path))
    assert summary(items) == expected(str(path))
    assert all(item.transport is Transport.FILE for item in items)
    assert items[0].raw == BOUNCE
    assert items[0].record == parse_event(ses_record("event_01_Bounce.json"))
    assert items[1].raw == COMPLAINT + b"\r"
    assert items[2].raw == b'{"eventType": "Bounce", "mail": '
    assert items[4].raw == BOUNCE
    assert items[5].raw == COMPLAINT
    assert items[7].raw == b'{"broken": '
    assert items[2].meta == {"object": str(path), "line": 5}
    assert items[5].meta == {"object": str(path), "line": 7}


def test_gzip_is_detected_by_its_bytes_not_its_name(tmp_path: Path) -> None:
    packed = tmp_path / "plain-name"
    packed.write_bytes(gzip.compress(MIXED))
    assert summary(list(iter_ndjson(packed, name="obj"))) == expected("obj")
    misleading = tmp_path / "records.json.gz"
    misleading.write_bytes(MIXED)
    assert summary(list(iter_ndjson(str(misleading), name="obj"))) == expected("obj")


def test_concatenated_gzip_members() -> None:
    data = gzip.compress(BOUNCE + b"\n") + gzip.compress(COMPLAINT + b"\n" + DELIVERY + b"\n")
    items = list(iter_ndjson(io.BytesIO(data), name="multi"))
    assert summary(items) == [
        ("multi:1", "BounceEvent"),
        ("multi:2", "ComplaintEvent"),
        ("multi:3", "DeliveryEvent"),
    ]


def test_truncated_gzip_keeps_what_was_read_and_reports_the_rest() -> None:
    data = gzip.compress(BOUNCE + b"\n" + COMPLAINT + b"\n" + DELIVERY + b"\n")
    items = list(iter_ndjson(io.BytesIO(data[:-40]), name="cut"))
    *good, last = items
    assert [item.ok for item in good] == [True] * len(good)
    assert good[0].item_id == "cut:1"
    assert isinstance(last.error, SourceError)
    assert "truncated" in str(last.error)
    assert last.item_id == f"cut:{len(good) + 1}"
    assert isinstance(last.raw, bytes)
    assert DELIVERY.startswith(last.raw) or COMPLAINT.startswith(last.raw)


def test_corrupt_gzip_is_an_error_item() -> None:
    data = bytearray(gzip.compress(b"".join(line + b"\n" for line in (BOUNCE, COMPLAINT, DELIVERY) * 50)))
    data[len(data) // 2 : len(data) // 2 + 8] = b"\xff" * 8
    items = list(iter_ndjson(io.BytesIO(bytes(data)), name="bad"))
    *before, last = items
    assert isinstance(last.error, SourceError)
    assert "corrupt" in str(last.error)
    assert last.item_id == f"bad:{len(before) + 1}"
    assert before[0].ok
    # Inflating garbage may give garbage lines before zlib notices: each is reported, none is dropped.
    assert all(item.ok or isinstance(item.error, ParseError) for item in before)


def test_file_objects_keep_their_name_and_stay_open(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_bytes(BOUNCE + b"\n" + COMPLAINT + b"\n")
    with path.open("rb") as stream:
        assert [item.item_id for item in iter_ndjson(stream)] == [f"{path}:1", f"{path}:2"]
        assert not stream.closed
    assert [item.item_id for item in iter_ndjson(io.BytesIO(BOUNCE))] == ["<stream>:1"]
    assert list(iter_ndjson(io.BytesIO(b""))) == []


def test_records_back_to_back_without_newlines() -> None:
    record = ses_record("event_06_Open.json")
    record["mail"]["commonHeaders"]["subject"] = 'Braces }{ and } { and "}{" inside a string'
    tricky = json.dumps(record).encode()
    data = BOUNCE + tricky + b" \t" + COMPLAINT + tricky
    items = list(iter_ndjson(io.BytesIO(data), name="firehose"))
    assert [item.item_id for item in items] == [f"firehose:1:{n}" for n in range(1, 5)]
    opened = type(parse_event(record))
    assert [type(item.record) for item in items] == [BounceEvent, opened, ComplaintEvent, opened]
    assert items[1].raw == tricky
    assert items[1].record == parse_event(record)


def test_a_record_after_a_cut_off_one_is_recovered() -> None:
    cut = COMPLAINT[:-25]  # a truncated write: no "}{" joins it to the next record
    data = b"junk" + BOUNCE + b"\n" + cut + DELIVERY + b"\n" + BOUNCE + cut + DELIVERY
    items = list(iter_ndjson(io.BytesIO(data), name="s"))
    assert summary(items) == [
        ("s:1:1", "ParseError"),
        ("s:1:2", "BounceEvent"),
        ("s:2:1", "ParseError"),
        ("s:2:2", "DeliveryEvent"),
        ("s:3:1", "BounceEvent"),
        ("s:3:2", "ParseError"),
        ("s:3:3", "DeliveryEvent"),
    ]
    assert [item.raw for item in items] == [b"junk", BOUNCE, cut, DELIVERY, BOUNCE, cut, DELIVERY]


def test_a_run_too_long_to_hold_a_record_is_reported_and_skipped() -> None:
    junk = b"x" * (17 * 1024 * 1024)
    items = list(iter_ndjson(io.BytesIO(junk + b"\n" + BOUNCE + b"\n"), name="j"))
    *bad, last = items
    assert (last.item_id, type(last.record)) == ("j:2", BounceEvent)
    assert isinstance(bad[0].error, SourceError)
    assert "without a newline" in str(bad[0].error)
    assert all(not item.ok and item.meta["line"] == 1 for item in bad)
    assert b"".join(item.raw for item in bad) == junk  # reported in pieces, none of it dropped


def numbered(template: bytes, count: int) -> Iterator[bytes]:
    """``count`` copies of a record, each with its own mail.messageId."""
    prefix, marker, suffix = template.partition(b'"messageId":"')
    assert marker, "the template must carry a messageId"
    for index in range(count):
        yield prefix + marker + b"%08d-" % index + suffix


def padded(template: bytes, size: int) -> bytes:
    """The record with a long ``X-Padding`` header: fewer records (less tracing time) make a large object."""
    record = json.loads(template)
    record["mail"]["headers"].append({"name": "X-Padding", "value": "p" * size})
    return json.dumps(record, separators=(",", ":")).encode()


def peak_while(items: Iterator[SourceItem]) -> tuple[int, int, list[SourceItem]]:
    """Consume ``items`` keeping only failures; returns (count, traced peak bytes, failures)."""
    failures = []
    count = 0
    tracemalloc.start()
    try:
        for item in items:
            count += 1
            if not item.ok:
                failures.append(item)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak, failures


def test_large_gzip_file_streams_in_constant_memory(tmp_path: Path) -> None:
    path = tmp_path / "big"
    size = 0
    with gzip.open(path, "wb") as out:
        for line in numbered(BOUNCE, 20_000):
            out.write(line + b"\n")
            size += len(line) + 1
    assert size > 25_000_000
    count, peak, failures = peak_while(iter_ndjson(path))
    assert (count, failures) == (20_000, [])
    assert peak < 2_000_000, peak  # the records alone are over 25 MB


def test_large_object_without_newlines_streams_in_constant_memory() -> None:
    records = list(numbered(padded(DELIVERY, 12_000), 4_000))
    records[2_000] = records[2_000][:-40]  # one broken record in the middle: it must not stall the rest
    data = b"".join(records)
    assert len(data) > 50_000_000
    count, peak, failures = peak_while(iter_ndjson(io.BytesIO(data), name="run"))
    assert count == 4_000
    assert [item.item_id for item in failures] == ["run:1:2001"]
    assert isinstance(failures[0].error, ParseError)
    assert failures[0].raw == records[2_000]
    # A few MiB: the look-ahead (1 MiB, up to 2 while a broken record is given up on), not the 50 MB object.
    assert peak < 8_000_000, peak


class S3:
    """A bucket on the moto server, and a client that remembers the bodies it handed out."""

    def __init__(self, endpoint: str) -> None:
        self.client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        self.bucket = f"ses-lake-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(Bucket=self.bucket)
        self.bodies: list[Any] = []

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get_object(self, **kwargs: Any) -> Any:
        response = self.client.get_object(**kwargs)
        self.bodies.append(response["Body"])
        return response

    def get_paginator(self, name: str) -> Any:
        return self.client.get_paginator(name)


@pytest.fixture
def s3(moto_server: str) -> S3:
    return S3(moto_server)


def test_s3_objects_plain_and_gzip(s3: S3) -> None:
    s3.put("events/year=2024/month=05/day=01/a", MIXED)
    s3.put("events/year=2024/month=05/day=01/b.gz", gzip.compress(MIXED))
    for key in ("events/year=2024/month=05/day=01/a", "events/year=2024/month=05/day=01/b.gz"):
        name = f"s3://{s3.bucket}/{key}"
        items = list(iter_s3_object(s3, s3.bucket, key))
        assert summary(items) == expected(name)
        assert items[0].raw == BOUNCE
        assert items[0].meta == {"object": name, "line": 1}
    assert all(body._raw_stream.closed for body in s3.bodies)


def test_s3_prefix_reads_every_object_in_key_order(s3: S3) -> None:
    s3.put("events/year=2024/month=05/day=02/", b"")  # a folder marker
    s3.put("events/year=2024/month=05/day=02/10", gzip.compress(COMPLAINT + b"\n"))
    s3.put("events/year=2024/month=05/day=01/23", BOUNCE + b"\n" + DELIVERY + b"\n")
    s3.put("elsewhere/x", BOUNCE + b"\n")
    items = list(iter_s3_prefix(s3, s3.bucket, "events/"))
    base = f"s3://{s3.bucket}/events/year=2024/month=05"
    assert summary(items) == [
        (f"{base}/day=01/23:1", "BounceEvent"),
        (f"{base}/day=01/23:2", "DeliveryEvent"),
        (f"{base}/day=02/10:1", "ComplaintEvent"),
    ]
    assert list(iter_s3_prefix(s3, s3.bucket, "nothing-here/")) == []


def test_s3_body_is_closed_when_iteration_is_abandoned(s3: S3) -> None:
    s3.put("k", b"".join(line + b"\n" for line in numbered(BOUNCE, 500)))
    items = iter_s3_object(s3, s3.bucket, "k")
    first = next(items)
    assert isinstance(first.record, SesEvent)
    assert not s3.bodies[0]._raw_stream.closed
    items.close()
    assert s3.bodies[0]._raw_stream.closed


def test_s3_errors_propagate(s3: S3) -> None:
    with pytest.raises(botocore.exceptions.ClientError, match="NoSuchKey"):
        next(iter_s3_object(s3, s3.bucket, "missing"))


def test_large_s3_object_streams_in_constant_memory(s3: S3) -> None:
    data = b"".join(line + b"\n" for line in numbered(padded(DELIVERY, 6_000), 4_000))
    assert len(data) > 25_000_000
    s3.put("big", data)
    items = iter_s3_object(s3, s3.bucket, "big")
    first = next(items)  # the request is made; moto has built its whole response before tracing starts
    assert isinstance(first.record, DeliveryEvent)
    count, peak, failures = peak_while(items)
    assert (count, failures) == (3_999, [])
    assert peak < 2_000_000, peak


def test_items_are_the_same_as_parsing_each_line() -> None:
    lines = [BOUNCE, COMPLAINT, DELIVERY]
    items = list(iter_ndjson(io.BytesIO(b"\n".join(lines)), name="x"))
    assert [item.record for item in items] == [parse_event(line) for line in lines]
    assert isinstance(items[1].record, ComplaintEvent)
