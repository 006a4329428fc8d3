"""``compact_lake`` / ``sesflow lake compact``: incremental, safe to run again, safe to kill at any point
(checked by killing a real child process with SIGKILL at each step of a batch), locally and on S3 (moto)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb", reason="the analytics extra is not installed")

from sesflow.analytics import Lake, LakeError, LakeWriter, build_report, compact_lake
from sesflow.analytics.compact import MANIFEST_NAME, OUTPUT_PREFIX, Manifest, batch_output_name, plan_batches
from sesflow.cli import main
from sesflow.events import to_dict
from sesflow.testing import make_record

from ._analytics import EXPECTED_GROUPS, known_records, s3_bucket, write_known_lake

WORKER = Path(__file__).with_name("_compact_worker.py")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_known_lake(tmp_path / "ndjson", compress=True)  # ten gzip objects over five days


def records_of(location: Any, s3_client: Any = None) -> Counter[str]:
    """Every record of a lake (any layout), as parsed: a multiset, so a duplicate or a loss shows."""
    lake = location if isinstance(location, Lake) else Lake(location, s3_client=s3_client)
    out: Counter[str] = Counter()
    for item in lake.iter_items():
        assert item.ok, item.error
        out[json.dumps(to_dict(item.record), sort_keys=True)] += 1  # type: ignore[arg-type]
    return out


def our_files(root: Path) -> list[Path]:
    """Every file compaction wrote under ``root`` (outputs, manifests, temporary files)."""
    return sorted(p for p in root.rglob("*") if p.is_file())


def assert_consistent(root: Path) -> None:
    """Every Parquet file is listed by its day's manifest, and no temporary file is left."""
    for manifest_path in root.rglob(MANIFEST_NAME):
        manifest = Manifest.load(manifest_path.read_bytes(), str(manifest_path))
        outputs = {p.name for p in manifest_path.parent.iterdir() if p.name.startswith(OUTPUT_PREFIX)}
        assert outputs == set(manifest.outputs)
    assert not [p for p in our_files(root) if p.name.startswith(".")]


# --- incremental and idempotent -----------------------------------------------------------------------------


def test_compaction_keeps_every_record_once_and_runs_again_for_nothing(source: Path, tmp_path: Path) -> None:
    target = tmp_path / "parquet"
    first = compact_lake(source, target)
    assert first.sources_seen == first.sources_compacted == 10
    assert first.already_compacted == 0
    assert first.records == len(known_records())
    assert first.days == 5
    assert len(first.files_written) == 5  # the objects of a day fit one batch
    assert records_of(target) == records_of(source)
    assert_consistent(target)
    before = {p: p.stat().st_mtime_ns for p in our_files(target)}

    again = compact_lake(source, target)
    assert (again.sources_compacted, again.already_compacted, again.records) == (0, 10, 0)
    assert again.files_written == ()
    assert {p: p.stat().st_mtime_ns for p in our_files(target)} == before  # nothing rewritten
    for by in EXPECTED_GROUPS:
        a, b = build_report(source, by=by), build_report(target, by=by)
        assert (a.total, a.groups, a.daily) == (b.total, b.groups, b.daily)


def test_only_new_objects_are_compacted(source: Path, tmp_path: Path) -> None:
    target = tmp_path / "parquet"
    compact_lake(source, target)
    late = make_record("Send", recipients=["late@a.example"], message_id="late-1")
    with LakeWriter(source) as writer:  # a new object in a day already compacted, and one in a new day
        writer.write(late)
        writer.write(make_record("Delivery", recipients=["late@a.example"], message_id="late-1"))
    second = compact_lake(source, target)
    assert second.sources_compacted == 1
    assert second.already_compacted == 10
    assert records_of(target) == records_of(source)
    assert_consistent(target)


def test_batches_and_their_names() -> None:
    batch = [("a.gz", 10), ("b.gz", 20)]
    assert plan_batches([("a", 5), ("b", 5), ("c", 5)], 10) == [[("a", 5), ("b", 5)], [("c", 5)]]
    assert plan_batches([("big", 50), ("small", 1)], 10) == [[("big", 50)], [("small", 1)]]
    assert plan_batches([], 10) == []
    assert batch_output_name(batch) == batch_output_name(list(reversed(batch)))
    assert batch_output_name(batch) != batch_output_name([("a.gz", 10), ("b.gz", 21)])
    assert batch_output_name(batch).startswith(OUTPUT_PREFIX)
    assert batch_output_name(batch).endswith(".parquet")


def test_a_day_range_limits_what_is_read(source: Path, tmp_path: Path) -> None:
    target = tmp_path / "parquet"
    result = compact_lake(source, target, since=date(2026, 3, 2), until=date(2026, 3, 5))
    assert result.days == 2
    assert {f.day for f in Lake(target).files()} == {date(2026, 3, 2), date(2026, 3, 5)}
    rest = compact_lake(source, target)
    assert (rest.days, rest.sources_compacted, rest.already_compacted) == (5, 7, 3)
    assert records_of(target) == records_of(source)


def test_a_changed_source_object_is_left_alone(source: Path, tmp_path: Path, caplog: Any) -> None:
    target = tmp_path / "parquet"
    compact_lake(source, target)
    before = records_of(target)
    changed = sorted(Path(f.name) for f in Lake(source).files())[0]
    changed.write_bytes(changed.read_bytes() + b"\0")  # Firehose never rewrites an object: compaction won't
    result = compact_lake(source, target)
    assert result.changed == (str(changed),)
    assert result.sources_compacted == 0
    assert "changed size" in caplog.text
    assert records_of(target) == before


# --- killed at every step, then run again -------------------------------------------------------------------

# (where the child dies, what the next run must clean up before redoing the batch)
KILL_POINTS = [
    ("writing", True),
    ("written", True),
    ("published", True),
    ("manifest-written", True),
    ("manifest", False),
]


def kill_child(source: Any, target: Any, point: str, nth: int, endpoint: str | None = None) -> None:
    command = [sys.executable, str(WORKER), str(source), str(target), point, str(nth)]
    if endpoint:
        command.append(endpoint)
    child = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]


@pytest.mark.parametrize(("point", "leaves_something"), KILL_POINTS)
def test_a_compaction_killed_at_any_step_resumes_without_loss_or_duplicates(
    source: Path, tmp_path: Path, point: str, leaves_something: bool
) -> None:
    target = tmp_path / "parquet"
    kill_child(source, target, point, nth=4)  # one batch per object: three are done, the fourth dies
    # What the kill left is safe to read at once: never a record twice.
    seen = records_of(target)
    assert all(n == 1 for n in seen.values())
    assert sum(seen.values()) < len(known_records())

    result = compact_lake(source, target, max_batch_bytes=1)
    assert bool(result.removed) == leaves_something
    assert result.already_compacted == 4 if point == "manifest" else 3
    assert result.already_compacted + result.sources_compacted == 10
    assert records_of(target) == records_of(source)
    assert_consistent(target)


def test_killed_again_and_again(source: Path, tmp_path: Path) -> None:
    target = tmp_path / "parquet"
    kill_child(source, target, "published", nth=2)
    kill_child(source, target, "writing", nth=3)  # the second run dies further on
    kill_child(source, target, "manifest-written", nth=1)
    compact_lake(source, target, max_batch_bytes=1)
    assert records_of(target) == records_of(source)
    assert_consistent(target)


def test_a_compaction_to_s3_killed_after_an_upload(moto_server: str, source: Path) -> None:
    with s3_bucket(moto_server, "compact") as (client, bucket):
        target = f"s3://{bucket}/parquet/"
        kill_child(source, target, "published", nth=2, endpoint=moto_server)
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert any(k.endswith(".parquet") for k in keys)
        result = compact_lake(source, target, s3_client=client, max_batch_bytes=1)
        assert len(result.removed) == 1
        assert records_of(target, client) == records_of(source)


# --- S3 on either side --------------------------------------------------------------------------------------


def test_from_s3_to_s3_and_to_a_folder(moto_server: str, source: Path, tmp_path: Path) -> None:
    with s3_bucket(moto_server, "lake") as (client, bucket):
        for f in Lake(source).files():
            key = "events/" + str(Path(f.name).relative_to(source))
            client.upload_file(f.name, bucket, key)
        src = f"s3://{bucket}/events/"
        first = compact_lake(src, f"s3://{bucket}/parquet/", s3_client=client)
        assert first.sources_compacted == 10
        assert first.source == src
        again = compact_lake(src, f"s3://{bucket}/parquet/", s3_client=client)
        assert again.already_compacted == 10
        assert records_of(f"s3://{bucket}/parquet/", client) == records_of(source)
        local = compact_lake(Lake(src, s3_client=client), tmp_path / "local")
        assert local.sources_compacted == 10
        assert records_of(tmp_path / "local") == records_of(source)
        report = build_report(f"s3://{bucket}/parquet/", s3_client=client, by="tag:campaign")
        expected = build_report(source, by="tag:campaign")
        assert (report.total, report.groups) == (expected.total, expected.groups)


# --- what compaction refuses --------------------------------------------------------------------------------


def _damaged_manifest(source: Path, target: Path) -> None:
    compact_lake(source, target)
    next(target.rglob(MANIFEST_NAME)).write_text("{not json")
    compact_lake(source, target)


def _other_source(source: Path, target: Path) -> None:
    compact_lake(source, target)
    other = write_known_lake(target.parent / "other")
    compact_lake(other, target)


def _bad_records(source: Path, target: Path) -> None:
    day = source / "year=2026/month=03/day=02"
    (day / "broken.ndjson").write_text('{"eventType": "Send", "mail": {}}\n{not json\n')
    compact_lake(source, target)


def _stray_records(source: Path, target: Path) -> None:
    (source / "year=2026/month=03/day=02/stray.ndjson").write_text('{"hello": "world"}\n')
    compact_lake(source, target)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (_stray_records, "not SES records"),
        (lambda s, t: compact_lake(s.parent / "missing", t), "does not exist"),
        (lambda s, t: compact_lake(s, s / "year=2026" / "parquet"), "overlaps the source"),
        (lambda s, t: compact_lake(s, s.parent), "overlaps the source"),
        (
            lambda s, t: compact_lake(t.parent / "parquet-src", t) if _parquet_source(s, t) else None,
            "Parquet",
        ),
        (_damaged_manifest, "damaged"),
        (_other_source, "records a compaction of"),
        (_bad_records, "skip_bad_records"),
        (lambda s, t: compact_lake(s, "s3://bucket/prefix/"), "needs an S3 client"),
        (lambda s, t: compact_lake(s, "s3:///prefix/"), "no bucket"),
        (lambda s, t: compact_lake(s, _a_file(t.parent / "file")), "is a file"),
    ],
)
def test_what_compaction_refuses(source: Path, tmp_path: Path, case: Any, message: str) -> None:
    with pytest.raises(LakeError, match=message):
        case(source, tmp_path / "parquet")


def _a_file(path: Path) -> Path:
    path.write_text("")
    return path


def _parquet_source(source: Path, target: Path) -> bool:
    compact_lake(source, target.parent / "parquet-src")
    return True


def test_bad_records_can_be_skipped(source: Path, tmp_path: Path) -> None:
    day = source / "year=2026/month=03/day=02"
    good = make_record("Send", recipients=["x@c.example"], message_id="kept-1")
    (day / "mixed.ndjson").write_text(json.dumps(good) + '\n{not json\n{"not": "a record"}\n')
    with pytest.raises(LakeError, match=r"mixed\.ndjson"):
        compact_lake(source, tmp_path / "parquet")  # the days before it are done; that day is not
    result = compact_lake(source, tmp_path / "parquet", skip_bad_records=True)
    assert result.already_compacted > 0
    assert sum(records_of(tmp_path / "parquet").values()) == len(known_records()) + 1
    with pytest.raises(ValueError, match="max_batch_bytes"):
        compact_lake(source, tmp_path / "other", max_batch_bytes=0)


# --- the command --------------------------------------------------------------------------------------------


def test_the_command(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("rich", reason="the cli extra is not installed")
    target = tmp_path / "parquet"
    assert main(["lake", "compact", str(source), str(target), "--json", "--compression", "zstd"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sources_compacted"] == 10
    assert data["records"] == len(known_records())
    assert data["records_per_second"] > 0
    assert main(["lake", "compact", str(source), str(target)]) == 0
    assert "Nothing to do" in capsys.readouterr().out
    os.remove(next(target.rglob(MANIFEST_NAME)))  # that day is compacted again, its old file removed first
    assert main(["lake", "compact", str(source), str(target), "--batch-mb", "1"]) == 0
    out = capsys.readouterr().out
    assert "removed year=2026/month=02/day=27/sesflow-compact-" in out
    assert "Compacted 1 of 10 objects (2 records)" in out
    assert records_of(target) == records_of(source)


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["--batch-mb", "0"], 2, "--batch-mb"),
        (["--since", "2026-03-05", "--until", "2026-03-01"], 2, "before --since"),
        (["--since", "yesterday"], 2, "not a date"),
        (["--compression", "lz4"], 2, "invalid choice"),
    ],
)
def test_command_usage_errors(
    source: Path,
    tmp_path: Path,
    argv: list[str],
    status: int,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    try:
        code = main(["lake", "compact", str(source), str(tmp_path / "out"), *argv])
    except SystemExit as exited:  # argparse's own checks
        code = int(exited.code or 0)
    assert code == status
    assert message in capsys.readouterr().err


def test_a_refused_compaction_is_a_failure_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lake", "compact", str(tmp_path / "missing"), str(tmp_path / "out"), "--json"]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err
    assert "Traceback" not in err
