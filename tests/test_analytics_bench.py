"""Keep bench/report.py working: its lake generator, its correctness check and its report (no timings)."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from types import ModuleType

import pytest

from ._scripts import load_bench

pytest.importorskip("duckdb", reason="the analytics extra is not installed")


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    module = load_bench("report")
    module.CACHE_DIR = tmp_path_factory.mktemp("bench-cache")  # never the real cache
    return module


@pytest.fixture(scope="module")
def lakes(bench: ModuleType) -> tuple[Path, Path, object]:
    gz_root, expected = bench.ensure_lake(1000)
    return gz_root, bench.ensure_plain_copy(gz_root), expected


def test_the_generated_lake_is_what_the_generator_counted(
    bench: ModuleType, lakes: tuple[Path, Path, object]
) -> None:
    gz_root, plain_root, expected = lakes
    assert bench.recorded_events(gz_root) >= 1000
    assert expected["sent"] > 0
    assert expected["delivered"] > 0
    assert expected["opens_total"] >= expected["opens_unique"]
    files, size = bench.lake_size(gz_root)
    assert files > 1
    assert size > 0
    assert all(p.read_bytes()[:2] == b"\x1f\x8b" for p in gz_root.rglob("*.gz"))
    assert not any(plain_root.rglob("*.gz"))
    assert bench.check(gz_root, expected, plain_root) == []


def test_the_check_catches_a_wrong_count(bench: ModuleType, lakes: tuple[Path, Path, object]) -> None:
    gz_root, _, expected = lakes
    wrong = dict(expected)  # type: ignore[call-overload]
    wrong["sent"] += 1
    problems = bench.check(gz_root, wrong)
    assert problems == [
        f"duckdb: total sent = {expected['sent']}, generated {wrong['sent']}",  # type: ignore[index]
        f"python: total sent = {expected['sent']}, generated {wrong['sent']}",  # type: ignore[index]
    ]


def test_the_cached_lake_is_reused(bench: ModuleType, lakes: tuple[Path, Path, object]) -> None:
    gz_root, _, expected = lakes
    before = sorted(p.stat().st_mtime_ns for p in gz_root.rglob("*.gz"))
    again, counted = bench.ensure_lake(1000)
    assert again == gz_root
    assert counted == expected
    assert sorted(p.stat().st_mtime_ns for p in gz_root.rglob("*.gz")) == before


def test_reading_the_lines_counts_every_record(bench: ModuleType, lakes: tuple[Path, Path, object]) -> None:
    gz_root, plain_root, _ = lakes
    for root in (gz_root, plain_root):
        run = bench.read_lines_once(root)
        assert run["lines"] == bench.recorded_events(gz_root)
        assert run["seconds"] > 0


def test_the_parquet_lake_is_compacted_and_checked(
    bench: ModuleType, lakes: tuple[Path, Path, object], tmp_path: Path
) -> None:
    gz_root, plain_root, expected = lakes
    target = bench.parquet_path(gz_root)
    run = bench.compact_once(gz_root, target)
    assert run["records"] == bench.recorded_events(gz_root)
    assert run["files"] == len(list(target.rglob("*.parquet"))) > 1
    assert set(run) == {"engine", "seconds", "cpu_seconds", "maxrss_mib", "records", "files"}
    assert bench.check(gz_root, expected, plain_root, target) == []
    assert bench.run_once(target, "duckdb", trace=False)["sent"] == expected["sent"]  # type: ignore[index]
    next(target.rglob("*.parquet")).unlink()  # a lake that lost a file no longer gives the same report
    assert bench.check(gz_root, expected, None, target) == [
        "the Parquet lake does not give exactly the NDJSON lake's report"
    ]


def test_the_parquet_floors_read_the_report_s_columns_and_count_every_key(
    bench: ModuleType, lakes: tuple[Path, Path, object], tmp_path: Path
) -> None:
    import duckdb

    from sesflow.analytics._engines import parquet_view_sql

    gz_root, _, _ = lakes
    target = tmp_path / "parquet"  # its own: another test takes a file away from the cached one
    bench.compact_once(gz_root, target)
    con = duckdb.connect()
    con.execute(parquet_view_sql(sorted(target.rglob("*.parquet"))))
    columns = bench.scanned_columns(con)
    con.close()
    assert set(bench.DEDUPE_COLUMNS) <= set(columns)
    assert "mail.tags" in columns  # the configuration-set breakdown reads the tags
    assert not any(c.startswith(("mail.headers", "mail.commonheaders", "click.link")) for c in columns)

    # The keys the floor de-duplicates, counted from the NDJSON records with nothing of sesflow.
    keys = set()
    for path in gz_root.rglob("*.gz"):
        with gzip.open(path, "rt") as lines:
            for line in lines:
                record = json.loads(line)
                kind = record.get("eventType") or record.get("notificationType")
                for recipient in record["mail"]["destination"]:
                    keys.add((kind, record["mail"]["messageId"], recipient))
    dedupe = bench.read_columns_once(target, dedupe=True)
    assert dedupe["keys"] == len(keys)
    assert dedupe["columns"] == len(columns)
    plain = bench.read_columns_once(target, dedupe=False)
    assert plain["keys"] is None
    assert plain["columns"] == len(columns)
    assert set(plain) == set(dedupe) == {"engine", "seconds", "cpu_seconds", "maxrss_mib", "columns", "keys"}


def test_a_measurement_and_the_docs_section(bench: ModuleType, lakes: tuple[Path, Path, object]) -> None:
    gz_root, _, expected = lakes
    run = bench.run_once(gz_root, "duckdb", trace=False)
    assert run["sent"] == expected["sent"]  # type: ignore[index]
    assert set(run) == {"engine", "seconds", "cpu_seconds", "maxrss_mib", "sent", "import_seconds"}
    assert bench.run_once(gz_root, "python", trace=False)["import_seconds"] == 0
    fake = {"seconds": 1.0, "cpu_seconds": 2.0, "maxrss_mib": 300.0}
    results = {
        "gzip": {
            "duckdb": {**fake, "import_seconds": 0.09},
            "python": {**fake, "seconds": 12.0, "cpu_seconds": 12.0},
        },
        "plain": {
            "duckdb": {**fake, "import_seconds": 0.07},
            "python": {**fake, "seconds": 8.0, "cpu_seconds": 8.0},
        },
    }
    sizes = {"gzip": (3, 2**20), "plain": (3, 2**21)}
    floors = {"gzip": {**fake, "seconds": 0.5, "cpu_seconds": 1.0}, "plain": {**fake, "seconds": 0.25}}
    section = bench.render_markdown(1000, sizes, results, {"tracemalloc_peak_mib": 12.0}, 3, 1, floors)
    assert section.startswith("## Analytics\n")
    assert "- gzip: reading the lines alone takes 0.50s (1.00s CPU), 50% of the report; " in section
    assert "the Python loop ÷ that floor = 24.0x" in section
    assert "- plain: reading the lines alone takes 0.25s" in section
    assert (
        "gzip: DuckDB is 12.0x faster than the Python loop (target >= 10x): met; in CPU time 6.0x" in section
    )
    assert "plain: DuckDB is 8.0x faster than the Python loop (target >= 10x): NOT met" in section
    assert "DuckDB peak memory 300 MiB (target < 1,024 MiB): met" in section
    assert "importing `duckdb` took 0.07 s (once per process" in section  # the quicker of the two
    page = (
        "# Benchmarks\n\nIntro.\n\n## Parsing\n\nparse numbers\n\n## Analytics\n\nold numbers\n\n"
        "## Later\n\nkept\n"
    )
    updated = bench.replace_section(page, section)
    assert "old numbers" not in updated
    assert "parse numbers" in updated
    assert "## Later\n\nkept\n" in updated
    assert updated.count("## Analytics") == 1
    assert bench.replace_section("# Benchmarks\n", section).endswith(section)

    parquet_run = {**fake, "seconds": 0.2, "cpu_seconds": 0.4, "maxrss_mib": 250.0, "import_seconds": 0.08}
    results["parquet"] = {"duckdb": parquet_run}
    sizes["parquet"] = (3, 2**20)
    compaction = {"seconds": 2.0, "cpu_seconds": 3.0, "maxrss_mib": 200.0, "records": 1000, "files": 3}
    section = bench.render_markdown(
        1000, sizes, results, {"tracemalloc_peak_mib": 12.0}, 3, 1, floors, compaction
    )
    assert "| parquet, 3 files, 1 MiB | **DuckDB** | 0.20 | 0.40 | 5,000 | 250 | 40.0x / 20.0x |" in section
    assert (
        "Parquet: DuckDB is 40.0x faster than the Python loop over the plain NDJSON lake (target >= 50x): "
        "NOT met; in CPU time 20.0x" in section
    )
    assert "over the gzip NDJSON lake (target >= 50x): met; in CPU time 30.0x" in section
    assert "DuckDB peak memory on the Parquet lake 250 MiB (target < 1,024 MiB): met" in section
    assert "500 records/s, 2.0 s wall, 3.0 s CPU, peak RSS 200 MiB, 3 files" in section
    assert "wall time exceeded its CPU time" not in section  # every fake run used more CPU than wall time
    assert "parquet: reading only the" not in section
    floors["parquet columns"] = {**fake, "seconds": 0.1, "cpu_seconds": 0.15, "columns": 19, "keys": None}
    floors["parquet dedupe"] = {**fake, "seconds": 0.16, "cpu_seconds": 0.3, "columns": 19, "keys": 904051}
    section = bench.render_markdown(
        1000, sizes, results, {"tracemalloc_peak_mib": 12.0}, 3, 1, floors, compaction
    )
    assert (
        "- parquet: reading only the 19 columns the report's scan reads takes 0.10s (0.15s CPU), 50% of the "
        "report; the Python loop over the plain NDJSON lake ÷ that floor = 80.0x" in section
    )
    assert (
        "- parquet: reading them and de-duplicating (event type, message id, recipient) exactly "
        "(904,051 keys) takes 0.16s (0.30s CPU), 80% of the report; the Python loop ÷ that floor = 50.0x"
        in section
    )
    cpus = os.cpu_count() or 1
    assert (
        "- Parquet: the floor (reading the report's columns and de-duplicating, nothing else) is 50.0x "
        "faster than the Python loop over the plain NDJSON lake in this run; its 0.30s of CPU spread over "
        f"all {cpus} CPUs would be {8.0 / (0.3 / cpus):.1f}x: the most any report" in section
    )
    assert "- gzip: reading the lines alone takes 0.50s" in section  # the NDJSON floors stay
    # The docs runner leaves the command alone, after every --write.
    assert f"{bench.DOCS_NOT_RUN}\n```sh\n" in section
    results["plain"]["duckdb"] = {**fake, "seconds": 3.0, "import_seconds": 0.07}
    assert bench.contention_note(results) == [
        "In this run DuckDB's wall time exceeded its CPU time on the plain lake: its threads waited for CPUs "
        "that other work held. Compare the CPU-time ratios there.",
        "",
    ]
