"""Report benchmark: the full report over a lake of SES events, DuckDB against a plain Python loop.

A lake of ``--events`` records (1,000,000 by default) is generated once, the way Firehose would have filed it
(``year=/month=/day=`` folders, 30 days, realistic lifecycles), in both of Firehose's JSON formats: gzip
NDJSON, and plain NDJSON (Firehose's default), cached in ``bench/.cache/`` (not in git). Each run also
compacts the gzip lake into the Parquet layout (``sesflow lake compact``, timed: its throughput is reported).
The full report (totals, the breakdown by configuration set, the daily series, latency percentiles) is built
from each NDJSON lake by DuckDB reading the files (``build_report(engine="duckdb")``) and by Python parsing
every record with ``sesflow.parse_event`` and counting with ``collections.Counter`` and sets
(``engine="python"``), and from the Parquet lake by DuckDB.

Before anything is timed, both reports must equal each other and the counts the generator knows by
construction. Each timed run is a fresh process: its wall time, its CPU time (all threads) and its peak
resident memory (``getrusage``) are its own. Each engine's modules are imported before its timer starts
(importing ``duckdb`` is timed and shown apart: a once-per-process cost); the Python loop is also measured
once under ``tracemalloc`` for the peak of its Python allocations. Wall time is what the target is stated
in; CPU time is shown beside it because it does not change when other work shares the machine.

Run ``python bench/report.py`` (``--events 20000`` for a quick run, ``--write`` to record the results in
``docs/benchmarks.md``). Needs the ``analytics`` extra (and ``fast`` for orjson):
``pip install -e ".[fast,analytics]"``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sesflow.analytics import LakeWriter, build_report, compact_lake
from sesflow.testing import make_record

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs_page import DOCS_NOT_RUN, machine, replace_section, versions

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
DOCS_PAGE = BENCH_DIR.parent / "docs" / "benchmarks.md"
# Whose versions the docs record.
PACKAGES = ("sesflow", "duckdb", "orjson")
SECTION_TITLE = "## Analytics"
COMMAND = "python bench/report.py --write"
SEED = 20260107
DAYS = 30
START = datetime(2026, 1, 1, tzinfo=UTC)
BY = "configuration-set"
SPEED_TARGET = 10.0
PARQUET_SPEED_TARGET = 50.0  # the DuckDB report over the Parquet lake, against the Python loop over NDJSON
MEMORY_TARGET_MIB = 1024
FORMAT_VERSION = 1  # bump when the generator changes, so cached lakes are rebuilt

CONFIG_SETS = ("transactional", "marketing", "notifications")
SENDERS = (
    "Shop <orders@shop.example>",
    "news@news.example",
    "Alerts <alerts@app.example>",
    "billing@shop.example",
)
DOMAINS = (*tuple(f"mail{i}.example" for i in range(40)), "gmail.example", "outlook.example", "yahoo.example")
CAMPAIGNS = ("welcome", "weekly", "receipt", "reset", "promo")


# --- the lake -----------------------------------------------------------------------------------------------


def lifecycle(rng: random.Random, n: int) -> tuple[list[dict[str, Any]], Counter[str]]:
    """The records of one message (one recipient) and what they add to each count of the report."""
    recipient = f"user{n}@{rng.choice(DOMAINS)}"
    sent_at = START + timedelta(seconds=rng.uniform(0, DAYS * 86400 - 3600))
    common: dict[str, Any] = {
        "recipients": [recipient],
        "message_id": f"{rng.getrandbits(64):016x}-{n:08d}-000000",
        "sent_at": sent_at,
        "source": rng.choice(SENDERS),
        "configuration_set": rng.choice(CONFIG_SETS),
        "tags": {"campaign": rng.choice(CAMPAIGNS)},
        "subject": "Your order has shipped",
    }
    counts: Counter[str] = Counter()
    records = []

    def add(event_type: str, delay_s: float, count: str | None, detail: dict[str, Any] | None = None) -> None:
        records.append(make_record(event_type, delay=timedelta(seconds=delay_s), detail=detail, **common))
        if count:
            counts[count] += 1

    roll = rng.random()
    if roll < 0.002:
        add("Rendering Failure", 0, "rendering_failures")
        return records, counts
    add("Send", 0, "sent")
    if roll < 0.004:
        add("Reject", 0.1, "rejects")
        return records, counts
    if roll < 0.034:
        add("Bounce", rng.uniform(1, 30), "hard_bounces")
        return records, counts
    if roll < 0.044:
        delay = rng.uniform(60, 3600)
        add("DeliveryDelay", delay / 2, "delivery_delays")
        add("Bounce", delay, "soft_bounces", {"bounceType": "Transient", "bounceSubType": "MailboxFull"})
        return records, counts
    if roll < 0.06:
        add("DeliveryDelay", rng.uniform(60, 1800), "delivery_delays")
    latency = rng.lognormvariate(0.3, 0.8)
    add("Delivery", latency, "delivered")
    if rng.random() < 0.001:
        add("Complaint", rng.uniform(600, 86400), "complaints")
    if rng.random() < 0.4:
        for i in range(rng.choice((1, 1, 1, 2, 3))):
            add("Open", rng.uniform(60, 3 * 86400), None if i else "opens_unique")
            counts["opens_total"] += 1
        if rng.random() < 0.3:
            for i in range(rng.choice((1, 1, 2))):
                add("Click", rng.uniform(120, 3 * 86400), None if i else "clicks_unique")
                counts["clicks_total"] += 1
        if rng.random() < 0.01:
            add("Subscription", rng.uniform(120, 3 * 86400), "unsubscribes")
    return records, counts


def lake_path(events: int) -> Path:
    return CACHE_DIR / f"lake-{events}"


def ensure_lake(events: int) -> tuple[Path, Counter[str]]:
    """The cached gzip lake of ``events`` records (generated on first use) and its counts by construction."""
    root = lake_path(events)
    marker = root / ".bench.json"
    if marker.is_file():
        meta = json.loads(marker.read_text())
        if meta.get("version") == FORMAT_VERSION and meta.get("seed") == SEED:
            return root / "events", Counter(meta["expected"])
    print(f"generating a lake of {events:,} events in {root} (once) ...", file=sys.stderr)
    started = time.perf_counter()
    if root.exists():
        shutil.rmtree(root)
    rng = random.Random(SEED)
    expected: Counter[str] = Counter()
    written = 0
    n = 0
    with LakeWriter(root / "events", compress=True, max_records=25_000, max_open=DAYS + 5) as writer:
        while written < events:
            records, counts = lifecycle(rng, n)  # the last message is written whole: a few records over
            n += 1
            for record in records:
                writer.write(record)
            written += len(records)
            expected.update(counts)
    meta = {"version": FORMAT_VERSION, "seed": SEED, "events": written, "expected": expected}
    marker.write_text(json.dumps(meta))
    print(f"  {written:,} records in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return root / "events", expected


def ensure_plain_copy(gz_root: Path) -> Path:
    """The same lake uncompressed (Firehose's default format), beside the gzip one."""
    plain = gz_root.parent / "plain"
    marker = plain / ".complete"
    if marker.is_file():
        return plain
    if plain.exists():
        shutil.rmtree(plain)
    for path in sorted(gz_root.rglob("*.ndjson.gz")):
        target = plain / path.relative_to(gz_root).with_suffix("")
        target.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    marker.write_text("")
    return plain


def recorded_events(gz_root: Path) -> int:
    return int(json.loads((gz_root.parent / ".bench.json").read_text())["events"])


def lake_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))]
    return len(files), sum(p.stat().st_size for p in files)


def parquet_path(gz_root: Path) -> Path:
    return gz_root.parent / "parquet"


def compact_once(gz_root: Path, target: Path) -> dict[str, Any]:
    """In this (fresh) process: compact the gzip lake into the Parquet layout at ``target`` (emptied
    first)."""
    if target.exists():
        shutil.rmtree(target)
    import duckdb  # noqa: F401 - imported before the timer, as for the reports

    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    result = compact_lake(gz_root, target)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "engine": "compact",
        "seconds": result.seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu,
        "maxrss_mib": peak_rss_mib(),
        "records": result.records,
        "files": len(result.files_written),
    }


# --- correctness --------------------------------------------------------------------------------------------


def check(
    root: Path, expected: Counter[str], plain: Path | None = None, parquet: Path | None = None
) -> list[str]:
    """Problems found: the two engines' reports must agree with each other and with the generator, and the
    Parquet lake must give exactly the report of the NDJSON lake."""
    duck = build_report(root, by=BY, engine="duckdb")
    py = build_report(root, by=BY, engine="python")
    problems = []
    for name, value in sorted(expected.items()):
        for report in (duck, py):
            got = getattr(report.total, name)
            if got != value:
                problems.append(f"{report.engine}: total {name} = {got}, generated {value}")
    if _comparable(duck.total) != _comparable(py.total):
        problems.append("the engines disagree on the totals")
    for part in ("groups", "daily"):
        left = [(g.key, _comparable(g.metrics)) for g in getattr(duck, part)]
        right = [(g.key, _comparable(g.metrics)) for g in getattr(py, part)]
        if left != right:
            problems.append(f"the engines disagree on the {part}")
    if plain is not None and _comparable(build_report(plain, by=BY).total) != _comparable(duck.total):
        problems.append("the plain copy of the lake does not give the gzip lake's report")
    if parquet is not None:
        columnar = build_report(parquet, by=BY)
        if (columnar.total, columnar.groups, columnar.daily) != (duck.total, duck.groups, duck.daily):
            problems.append("the Parquet lake does not give exactly the NDJSON lake's report")
    return problems


def _comparable(metrics: Any) -> dict[str, Any]:
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in metrics.to_dict().items()}


# --- measuring ----------------------------------------------------------------------------------------------


def run_once(root: Path, engine: str, trace: bool) -> dict[str, Any]:
    """In this (fresh) process: build the report once; its wall and CPU time, and the peak memory.

    The engine's modules are imported first, outside the timed part (as :func:`read_lines_once` does, and as
    the Python loop's are by this script's own imports): importing ``duckdb`` is a cost paid once per process,
    not per report. Its time is returned beside the report's (``import_seconds``).
    """
    import_seconds = 0.0
    if engine == "duckdb":
        started = time.perf_counter()
        import duckdb  # noqa: F401

        import_seconds = time.perf_counter() - started
    if trace:
        tracemalloc.start()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    report = build_report(root, by=BY, engine=engine)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result: dict[str, Any] = {
        "engine": engine,
        "seconds": elapsed,
        "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu,
        "maxrss_mib": peak_rss_mib(),
        "sent": report.total.sent,
        "import_seconds": import_seconds,
    }
    if trace:
        result["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return result


def read_lines_once(root: Path) -> dict[str, Any]:
    """In this (fresh) process: DuckDB only reads every line of the lake's files (decompressing them), with no
    JSON parsing and no report. No report built on DuckDB's reader can take less time than this."""
    import duckdb

    files = sorted(str(p) for p in root.rglob("*") if p.is_file())
    compression = "gzip" if files and files[0].endswith(".gz") else "none"
    listing = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    con = duckdb.connect()
    (lines,) = con.execute(  # one column per line: a delimiter and quotes that never occur in NDJSON
        f"SELECT count(*) FROM read_csv({listing}, columns = {{'line': 'VARCHAR'}}, delim = chr(1), "
        f"quote = '', escape = '', header = false, compression = '{compression}')"
    ).fetchone()
    con.close()
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "engine": "lines",
        "seconds": elapsed,
        "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu,
        "maxrss_mib": peak_rss_mib(),
        "lines": lines,
    }


# The key every report de-duplicates on, at its barest: the event type, the message id and each recipient of
# the message (the report derives the outcome from more columns and takes the recipients an event concerns).
DEDUPE_COLUMNS = ("eventtype", "mail.messageid", "mail.destination")


def scanned_columns(con: Any, by: str = BY) -> list[str]:
    """The columns of the Parquet lake (view ``ses_events``) that DuckDB's scan reads for the report ``by``,
    as the plan of the report query lists them (``mail.messageid``: one field of a struct; every other
    column and field is skipped)."""
    from sesflow.analytics import report_sql
    from sesflow.analytics._engines import _DUCKDB_PARQUET  # the dialect build_report uses on Parquet

    (_, plan), *_ = con.execute("EXPLAIN (FORMAT JSON) " + report_sql(by, dialect=_DUCKDB_PARQUET)).fetchall()
    scans = []
    todo = list(json.loads(plan))
    while todo:
        node = todo.pop()
        info = node.get("extra_info", {})
        if info.get("Function") == "READ_PARQUET":
            scans.append(info["Projections"])
        todo.extend(node.get("children", []))
    if len(scans) != 1:
        raise RuntimeError(f"expected one Parquet scan in the plan of the report, found {len(scans)}")
    return [str(column) for column in scans[0]]


def read_columns_once(root: Path, dedupe: bool) -> dict[str, Any]:
    """In this (fresh) process: DuckDB reads, from the Parquet lake, only the columns the report's scan reads
    (each column once), with nothing of the report; and (``dedupe``) de-duplicates ``DEDUPE_COLUMNS`` exactly
    (recipients unnested), which is less than the report's own de-duplication. No report on this layout can
    take less time than this."""
    import duckdb

    from sesflow.analytics._engines import parquet_view_sql

    files = sorted(root.rglob("*.parquet"))
    con = duckdb.connect()
    con.execute(parquet_view_sql(files))
    columns = scanned_columns(con)
    con.close()
    missing = [c for c in DEDUPE_COLUMNS if c not in columns]
    if dedupe and missing:
        raise RuntimeError(f"the report's scan does not read {', '.join(missing)}: change DEDUPE_COLUMNS")
    rest = [c for c in columns if not (dedupe and c in DEDUPE_COLUMNS)]
    # any_value makes the scan decode every value (count() would be answered from the files' statistics).
    sql = f"SELECT {', '.join(f'any_value({c})' for c in rest)} FROM ses_events"
    if dedupe:
        event_type, message_id, recipients = DEDUPE_COLUMNS
        sql = (  # two scans of disjoint columns: every column is still read once
            "SELECT * FROM (SELECT count(*) AS keys FROM (SELECT DISTINCT e, m, r FROM ("
            f"SELECT {event_type} AS e, {message_id} AS m, unnest({recipients}) AS r FROM ses_events))), "
            f"({sql})"
        )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    con = duckdb.connect()  # as the report: a connection, the view, the query
    con.execute("SET preserve_insertion_order = false")
    con.execute(parquet_view_sql(files))
    row = con.execute(sql).fetchone()
    con.close()
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "engine": "dedupe" if dedupe else "columns",
        "seconds": elapsed,
        "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu,
        "maxrss_mib": peak_rss_mib(),
        "columns": len(columns),
        "keys": row[0] if dedupe else None,
    }


def peak_rss_mib() -> float:
    """This process's peak resident memory. On Linux ``VmHWM``: ``ru_maxrss`` would also count the memory of
    the parent this process was forked from before it ran Python."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(root: Path, engine: str, *, trace: bool = False, target: Path | None = None) -> dict[str, Any]:
    """:func:`run_once` (or :func:`read_lines_once`, :func:`read_columns_once`, :func:`compact_once`) in a
    fresh Python process."""
    command = [sys.executable, __file__, "--measure", engine, "--lake", str(root)]
    if trace:
        command.append("--trace")
    if target is not None:
        command += ["--target", str(target)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return min(runs, key=lambda r: r["seconds"])


Results = dict[str, dict[str, dict[str, Any]]]  # format -> engine -> measurement


def import_seconds(results: Results) -> float:
    """The quickest ``import duckdb`` among the recorded DuckDB runs."""
    return min(runs["duckdb"]["import_seconds"] for runs in results.values())


def verdicts(
    results: Results,
    compaction: dict[str, Any] | None = None,
    floors: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    lines = []
    for fmt, runs in results.items():
        if "python" not in runs:
            continue
        duck, py = runs["duckdb"], runs["python"]
        speedup = py["seconds"] / duck["seconds"]
        cpu = py["cpu_seconds"] / duck["cpu_seconds"]
        lines.append(
            f"{fmt}: DuckDB is {speedup:.1f}x faster than the Python loop (target >= {SPEED_TARGET:.0f}x): "
            + ("met" if speedup >= SPEED_TARGET else "NOT met")
            + f"; in CPU time {cpu:.1f}x"
        )
    if "parquet" in results:
        duck = results["parquet"]["duckdb"]
        for fmt in ("plain", "gzip"):
            if fmt not in results:
                continue
            py = results[fmt]["python"]
            speedup = py["seconds"] / duck["seconds"]
            lines.append(
                f"Parquet: DuckDB is {speedup:.1f}x faster than the Python loop over the {fmt} NDJSON lake "
                f"(target >= {PARQUET_SPEED_TARGET:.0f}x): "
                + ("met" if speedup >= PARQUET_SPEED_TARGET else "NOT met")
                + f"; in CPU time {py['cpu_seconds'] / duck['cpu_seconds']:.1f}x"
            )
    dedupe = (floors or {}).get("parquet dedupe")
    if dedupe is not None and "plain" in results:
        py = results["plain"]["python"]
        cpus = os.cpu_count() or 1
        # Wall time can never be under CPU time shared by every CPU: a bound other work on the machine
        # does not move.
        bound = py["seconds"] / (dedupe["cpu_seconds"] / cpus)
        lines.append(
            "Parquet: the floor (reading the report's columns and de-duplicating, nothing else) is "
            f"{py['seconds'] / dedupe['seconds']:.1f}x faster than the Python loop over the plain NDJSON "
            f"lake in this run; its {dedupe['cpu_seconds']:.2f}s of CPU spread over all {cpus} CPUs would be "
            f"{bound:.1f}x: the most any report on this layout can reach on this machine"
        )
    peak = max(runs["duckdb"]["maxrss_mib"] for runs in results.values())
    lines.append(
        f"DuckDB peak memory {peak:,.0f} MiB (target < {MEMORY_TARGET_MIB:,} MiB): "
        + ("met" if peak < MEMORY_TARGET_MIB else "NOT met")
    )
    if "parquet" in results:
        parquet = results["parquet"]["duckdb"]["maxrss_mib"]
        lines.append(
            f"DuckDB peak memory on the Parquet lake {parquet:,.0f} MiB "
            f"(target < {MEMORY_TARGET_MIB:,} MiB): " + ("met" if parquet < MEMORY_TARGET_MIB else "NOT met")
        )
    if compaction is not None:
        lines.append(
            "compaction (gzip NDJSON to Parquet): "
            f"{compaction['records'] / compaction['seconds']:,.0f} records/s "
            f"({compaction['seconds']:.1f}s wall, {compaction['cpu_seconds']:.1f}s CPU, "
            f"peak {compaction['maxrss_mib']:,.0f} MiB)"
        )
    return lines


def floor_lines(results: Results, floors: dict[str, dict[str, Any]]) -> list[str]:
    """How close the DuckDB report is to only reading the files, per lake; on Parquet, to reading the columns
    it reads, and to that plus the barest exact de-duplication (against the Python loop over plain NDJSON)."""
    out = []
    for fmt, floor in floors.items():
        if fmt.startswith("parquet"):
            continue
        duck, py = results[fmt]["duckdb"], results[fmt]["python"]  # NDJSON lakes only
        out.append(
            f"{fmt}: reading the lines alone takes {floor['seconds']:.2f}s "
            f"({floor['cpu_seconds']:.2f}s CPU), {floor['seconds'] / duck['seconds']:.0%} of the report; "
            "the Python loop ÷ that floor = "
            f"{py['seconds'] / floor['seconds']:.1f}x"
        )
    if "parquet" not in results or "plain" not in results:
        return out
    duck, py = results["parquet"]["duckdb"], results["plain"]["python"]
    columns, dedupe = floors.get("parquet columns"), floors.get("parquet dedupe")
    if columns is not None:
        out.append(
            f"parquet: reading only the {columns['columns']} columns the report's scan reads takes "
            f"{columns['seconds']:.2f}s ({columns['cpu_seconds']:.2f}s CPU), "
            f"{columns['seconds'] / duck['seconds']:.0%} of the report; the Python loop over the plain "
            f"NDJSON lake ÷ that floor = {py['seconds'] / columns['seconds']:.1f}x"
        )
    if dedupe is not None:
        out.append(
            "parquet: reading them and de-duplicating (event type, message id, recipient) exactly "
            f"({dedupe['keys']:,} keys) takes {dedupe['seconds']:.2f}s ({dedupe['cpu_seconds']:.2f}s CPU), "
            f"{dedupe['seconds'] / duck['seconds']:.0%} of the report; the Python loop ÷ that floor = "
            f"{py['seconds'] / dedupe['seconds']:.1f}x"
        )
    return out


def render_text(
    events: int,
    sizes: dict[str, tuple[int, int]],
    results: Results,
    trace: dict[str, Any],
    floors: dict[str, dict[str, Any]] | None = None,
    compaction: dict[str, Any] | None = None,
) -> str:
    lines = [f"lake: {events:,} records; {machine()}; load average {os.getloadavg()[0]:.1f}"]
    for fmt, runs in results.items():
        files, size = sizes[fmt]
        lines.append(f"{fmt} ({files} files, {size / 2**20:,.0f} MiB):")
        for engine, r in runs.items():
            lines.append(
                f"  {engine:>7}: {r['seconds']:8.2f}s wall {r['cpu_seconds']:8.2f}s CPU "
                f"{events / r['seconds']:>12,.0f} events/s  peak RSS {r['maxrss_mib']:,.0f} MiB"
            )
    lines.append(
        f"Python loop, peak Python allocations (tracemalloc): {trace['tracemalloc_peak_mib']:,.0f} MiB; "
        f"import duckdb (not in the times): {import_seconds(results):.2f}s"
    )
    return "\n".join(lines + floor_lines(results, floors or {}) + verdicts(results, compaction, floors))


def contention_note(results: Results) -> list[str]:
    """A paragraph when DuckDB's wall time exceeded its CPU time: a two-thread process that waited for CPUs
    other work held, whose wall-time ratio then says more about the machine than about the engines."""
    waited = [
        fmt for fmt, runs in results.items() if runs["duckdb"]["seconds"] > runs["duckdb"]["cpu_seconds"]
    ]
    if not waited:
        return []
    return [
        f"In this run DuckDB's wall time exceeded its CPU time on the {', '.join(waited)} lake"
        + ("s" if len(waited) > 1 else "")
        + ": its threads waited for CPUs that other work held. Compare the CPU-time ratios there.",
        "",
    ]


def _ratio(results: Results, fmt: str, engine: str) -> str:
    """The Python loop's time over this run's: against the same lake, or (Parquet) the plain NDJSON lake."""
    if engine != "duckdb":
        return "1x"
    py = results[fmt]["python"] if "python" in results[fmt] else results["plain"]["python"]
    duck = results[fmt]["duckdb"]
    return f"{py['seconds'] / duck['seconds']:.1f}x / {py['cpu_seconds'] / duck['cpu_seconds']:.1f}x"


def render_markdown(
    events: int,
    sizes: dict[str, tuple[int, int]],
    results: Results,
    trace: dict[str, Any],
    reps: int,
    python_reps: int,
    floors: dict[str, dict[str, Any]] | None = None,
    compaction: dict[str, Any] | None = None,
) -> str:
    rows = []
    for fmt, runs in results.items():
        files, size = sizes[fmt]
        for engine, r in runs.items():
            label = "**DuckDB**" if engine == "duckdb" else "Python loop"
            rows.append(
                f"| {fmt}, {files} files, {size / 2**20:,.0f} MiB | {label} | {r['seconds']:.2f} | "
                f"{r['cpu_seconds']:.2f} | {events / r['seconds']:,.0f} | {r['maxrss_mib']:,.0f} | "
                f"{_ratio(results, fmt, engine)} |"
            )
    parquet = "parquet" in results
    lines = [
        SECTION_TITLE,
        "",
        "`bench/report.py` builds the full report (totals, breakdown by configuration set, daily series, "
        "delivery latency percentiles) over one generated lake, two ways: DuckDB reading the NDJSON files "
        '(`build_report(engine="duckdb")`), and Python parsing every record with `sesflow.parse_event` and '
        'counting with `collections.Counter` and sets (`engine="python"`)'
        + (
            "; and DuckDB again over the same lake compacted to the Parquet layout (`sesflow lake compact`, "
            "the files Firehose's record format conversion writes). "
            if parquet
            else ". "
        )
        + "Before timing, the reports must equal each other and the counts the generator knows by "
        "construction.",
        "",
        f"- Lake: {events:,} SES records of 30 days, filed as Firehose does (`year=/month=/day=` folders), "
        "once gzip-compressed and once plain (Firehose's default)"
        + (", and compacted to Parquet (Snappy)" if parquet else "")
        + "; realistic lifecycles (send, delivery or bounce, "
        "delays, opens, clicks, complaints, unsubscribes), five headers per record, about 1 KiB each.",
        f"- Machine: {machine()}; load average {os.getloadavg()[0]:.1f} when the run ended (other work "
        "shared the machine: compare the ratios, and the CPU times, which that does not change).",
        f"- Versions: {versions(*PACKAGES)}.",
        f"- Method: each run in a fresh process; best of {reps} for DuckDB and of {python_reps} for the "
        "Python loop; wall time from `time.perf_counter`, CPU time (every thread) from `getrusage`, peak "
        "resident memory "
        "(`VmHWM`, interpreter included) of the process; the Python loop's allocations measured in a "
        "separate run under `tracemalloc`: peak "
        f"{trace['tracemalloc_peak_mib']:,.0f} MiB. Each engine's modules are imported before its timer "
        "starts, as a program that builds reports has them loaded: importing `duckdb` took "
        f"{import_seconds(results):.2f} s (once per process; add it for a one-shot command), the Python "
        "loop's modules are this script's own imports.",
        "",
        "| lake | engine | wall s | CPU s | events/s | peak RSS MiB | Python ÷ DuckDB (wall / CPU) |",
        "|---|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "DuckDB reads the files on every core; the Python loop uses one. The CPU-time ratio is what the "
        "comparison is on one core; the wall-time ratio grows with the cores DuckDB is given."
        + (
            " The Parquet row's ratio is against the Python loop over the plain NDJSON lake (the faster of "
            "the two loops)."
            if parquet
            else ""
        ),
        "",
        *contention_note(results),
        *(
            [
                "Compacting the gzip lake into the Parquet layout (`compact_lake`, in a fresh process, "
                f"once): {compaction['records'] / compaction['seconds']:,.0f} records/s, "
                f"{compaction['seconds']:.1f} s wall, {compaction['cpu_seconds']:.1f} s CPU, peak RSS "
                f"{compaction['maxrss_mib']:,.0f} MiB, {compaction['files']} files (one per day).",
                "",
            ]
            if compaction is not None
            else []
        ),
        *(
            [
                "How much of that is only reading the files: DuckDB counting the lines of the same files "
                "(decompressing them, no JSON, no report; best of as many runs as DuckDB), against the "
                "report"
                + (
                    "; and on the Parquet lake, DuckDB reading the columns the report reads, then also "
                    "de-duplicating (fresh processes, best of as many runs):"
                    if "parquet columns" in floors
                    else ":"
                ),
                "",
                *(f"- {line}" for line in floor_lines(results, floors)),
                "",
                "The floor is decompressing and splitting lines, which no query can avoid; the rest of the "
                "report's time is what sesflow's SQL decides (the JSON fields it reads, the de-duplicating "
                "GROUP BY, the grouping sets).",
                *(
                    [
                        "",
                        "On Parquet the floor is decoding the columns the report reads (the only ones DuckDB "
                        "reads; the plan of the report query names them), and every report must also count "
                        "each (outcome, message, recipient) once: the second Parquet floor adds the barest "
                        "exact de-duplication (event type instead of the outcome, the message's destination "
                        "instead of the recipients each event names, no day, group or latency). No report on "
                        "this layout can be faster than that floor on this machine.",
                    ]
                    if "parquet dedupe" in floors
                    else []
                ),
                "",
            ]
            if floors
            else []
        ),
        "Targets:",
        "",
        *(f"- {line}" for line in verdicts(results, compaction, floors)),
        "",
        "Reproduce (the first run generates the lake into `bench/.cache/`, which takes a few minutes):",
        "",
        DOCS_NOT_RUN,
        "```sh",
        'pip install -e ".[fast,analytics]"',
        COMMAND,
        "```",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="records in the lake (default 1,000,000)"
    )
    parser.add_argument("--reps", type=int, default=3, help="DuckDB runs per lake, best kept (default 3)")
    parser.add_argument("--python-reps", type=int, default=1, help="Python loop runs per lake (default 1)")
    parser.add_argument("--write", action="store_true", help=f"record the results in {DOCS_PAGE.name}")
    parser.add_argument(
        "--measure",
        choices=["duckdb", "python", "lines", "columns", "dedupe", "compact"],
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--lake", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--target", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.measure:  # a child process: one timed run
        if args.measure == "lines":
            once = read_lines_once(args.lake)
        elif args.measure in ("columns", "dedupe"):
            once = read_columns_once(args.lake, dedupe=args.measure == "dedupe")
        elif args.measure == "compact":
            once = compact_once(args.lake, args.target)
        else:
            once = run_once(args.lake, args.measure, args.trace)
        print(json.dumps(once))
        return 0

    gz_root, expected = ensure_lake(args.events)
    plain_root = ensure_plain_copy(gz_root)
    events = recorded_events(gz_root)
    parquet_root = parquet_path(gz_root)
    print("compacting the gzip lake into the Parquet layout (timed) ...", file=sys.stderr)
    compaction = measure(gz_root, "compact", target=parquet_root)
    problems = check(gz_root, expected, plain_root, parquet_root)
    if problems:
        print("the reports are wrong; nothing was timed:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    print(
        f"checked: both engines give the {len(expected)} generated totals, on both formats; the Parquet lake "
        "gives the same report",
        file=sys.stderr,
    )

    lakes = {"gzip": gz_root, "plain": plain_root}
    sizes = {fmt: lake_size(root) for fmt, root in lakes.items()}
    sizes["parquet"] = lake_size(parquet_root)
    results: Results = {}
    for fmt, root in lakes.items():
        results[fmt] = {
            "duckdb": best([measure(root, "duckdb") for _ in range(args.reps)]),
            "python": best([measure(root, "python") for _ in range(args.python_reps)]),
        }
    results["parquet"] = {"duckdb": best([measure(parquet_root, "duckdb") for _ in range(args.reps)])}
    floors = {fmt: best([measure(root, "lines") for _ in range(args.reps)]) for fmt, root in lakes.items()}
    floors |= {
        f"parquet {kind}": best([measure(parquet_root, kind) for _ in range(args.reps)])
        for kind in ("columns", "dedupe")
    }
    trace = measure(gz_root, "python", trace=True)
    print(render_text(events, sizes, results, trace, floors, compaction))
    if args.write:
        page = DOCS_PAGE.read_text(encoding="utf-8") if DOCS_PAGE.exists() else "# Benchmarks\n"
        section = render_markdown(
            events, sizes, results, trace, args.reps, args.python_reps, floors, compaction
        )
        DOCS_PAGE.write_text(replace_section(page, section), encoding="utf-8")
        print(f"wrote the {SECTION_TITLE[3:]} section of {DOCS_PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
