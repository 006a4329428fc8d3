"""The Parquet layout of the lake: the known lake compacted to Parquet gives exactly the report it gives as
NDJSON, with both engines, and the Athena report query counts as constructed over the Parquet table."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb", reason="the analytics extra is not installed")

from hypothesis import given, settings
from hypothesis import strategies as st

from sesflow import EventType, parse_event
from sesflow.analytics import (
    Lake,
    LakeError,
    LakeWriter,
    Metrics,
    Report,
    TimeRange,
    build_report,
    compact_lake,
    report_columns,
    report_sql,
)
from sesflow.analytics._engines import quantile_cont
from sesflow.analytics.parquet import (
    glue_schema,
    iter_parquet_rows,
    ndjson_to_parquet,
    record_from_row,
    rows_to_parquet,
)
from sesflow.events import BounceEvent, BounceType
from sesflow.testing import sample_records
from sesflow.testing.strategies import ses_records

from ._analytics import (
    EXPECTED_GROUPS,
    LATENCIES,
    TOTAL_COUNTS,
    comparable,
    counts,
    known_records,
    write_known_lake,
)
from ._hypothesis import PROFILE

RANGE = {"since": date(2026, 3, 1), "until": date(2026, 3, 5)}
ENGINES = ("duckdb", "python")


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The known lake (gzip NDJSON) and its compaction to Parquet, one small file per source object."""
    root = tmp_path_factory.mktemp("parquet")
    ndjson = write_known_lake(root / "ndjson", compress=True)
    compact_lake(ndjson, root / "parquet", max_batch_bytes=1)
    return ndjson, root / "parquet"


def same(a: Report, b: Report) -> bool:
    return (a.total, a.groups, a.daily) == (b.total, b.groups, b.daily)


def test_the_compacted_lake_is_parquet(lakes: tuple[Path, Path]) -> None:
    _, parquet = lakes
    files = Lake(parquet).files()
    assert files
    assert {f.layout for f in files} == {"parquet"}
    assert all(Path(f.name).read_bytes()[:4] == b"PAR1" for f in files)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("by", sorted(EXPECTED_GROUPS))
def test_every_dimension_counts_as_constructed(lakes: tuple[Path, Path], engine: str, by: str) -> None:
    _, parquet = lakes
    report = build_report(parquet, **RANGE, by=by, engine=engine)  # type: ignore[arg-type]
    assert {g.key: counts(g.metrics) for g in report.groups} == EXPECTED_GROUPS[by]
    assert counts(report.total) == TOTAL_COUNTS
    assert report.total.latency_p90_ms == pytest.approx(quantile_cont(LATENCIES, 0.9))


@pytest.mark.parametrize("by", [None, *sorted(EXPECTED_GROUPS)])
def test_parquet_and_ndjson_give_the_same_report(lakes: tuple[Path, Path], by: str | None) -> None:
    ndjson, parquet = lakes
    start = datetime(2026, 3, 1, 9, 3, tzinfo=UTC)
    for bounds in ({}, RANGE, {"since": start, "until": start + timedelta(days=1, hours=1)}):
        assert same(build_report(ndjson, **bounds, by=by), build_report(parquet, **bounds, by=by))  # type: ignore[arg-type]
    python = build_report(parquet, **RANGE, by=by, engine="python")
    duck = build_report(ndjson, **RANGE, by=by)
    assert [g.key for g in python.groups] == [g.key for g in duck.groups]
    assert counts(python.total) == counts(duck.total)


@pytest.mark.parametrize("by", sorted(EXPECTED_GROUPS))
def test_the_athena_query_counts_as_constructed_over_the_parquet_table(
    lakes: tuple[Path, Path], by: str
) -> None:
    """The exact Athena text, parsed as Trino and translated by sqlglot (not by sesflow), over the Parquet
    files as Athena's Parquet table declares them: lower-case names, ``mail.tags`` a map."""
    import duckdb

    sqlglot = pytest.importorskip("sqlglot", reason="sqlglot is in the test extra")
    from sesflow.analytics._engines import parquet_view_sql

    _, parquet = lakes
    athena = report_sql(by, time_range=TimeRange.of(**RANGE), dialect="athena")
    tree = sqlglot.parse_one(athena, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(parquet_view_sql([Path(f.name) for f in Lake(parquet).files()]))
    types = {row[0]: row[1] for row in con.execute("DESCRIBE ses_events").fetchall()}
    assert "eventtype" in types
    assert "tags MAP(VARCHAR, VARCHAR[])" in types["mail"]
    assert "commonheaders STRUCT(from_ VARCHAR[]" in types["mail"]
    cursor = con.execute(tree.sql(dialect="duckdb"))
    names = [c[0] for c in cursor.description]
    assert names == report_columns()
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    groups = {r["group_value"]: counts(Metrics.from_mapping(r)) for r in rows if r["grouping_set"] == "group"}
    assert groups == EXPECTED_GROUPS[by]
    (total,) = (Metrics.from_mapping(r) for r in rows if r["grouping_set"] == "total")
    assert counts(total) == TOTAL_COUNTS


def test_the_tenants_pages_athena_query_counts_per_tenant_on_both_tables(lakes: tuple[Path, Path]) -> None:
    """The SQL of docs/tenants.md ("Reports"), parsed as Trino and translated by sqlglot, over the NDJSON
    table typed as the Athena DDL declares it and over the Parquet files: sends and hard bounces per tenant,
    as events (not recipients), counted here from the known lake's records."""
    import duckdb

    sqlglot = pytest.importorskip("sqlglot", reason="sqlglot is in the test extra")
    from sesflow.analytics._engines import duckdb_view_sql, parquet_view_sql
    from sesflow.analytics.schema import duckdb_columns, table_schema

    page = (Path(__file__).resolve().parents[1] / "docs" / "tenants.md").read_text(encoding="utf-8")
    (athena,) = re.findall(r"```sql\n(.*?)```", page.split("### Reports", 1)[1].split("\n## ", 1)[0], re.S)
    duck = sqlglot.parse_one(athena, read="trino", error_level=sqlglot.ErrorLevel.RAISE).sql(dialect="duckdb")

    expected: dict[str | None, list[int]] = {}
    for record in known_records():
        event = parse_event(record)
        if event.timestamp.month != 3:  # the query's partitions: March 2026
            continue
        row = expected.setdefault(event.tenant, [0, 0])
        row[0] += event.event_type is EventType.SEND
        row[1] += isinstance(event, BounceEvent) and event.bounce.bounce_type == BounceType.PERMANENT
    assert set(expected) == {"acme", "globex", None}
    assert expected["acme"][1] > 0  # the March message after the report's range bounced

    ndjson, parquet = lakes
    for view in (
        duckdb_view_sql(
            Lake(ndjson).local_copies(Lake(ndjson).files(), None), duckdb_columns(table_schema())
        ),
        parquet_view_sql([Path(f.name) for f in Lake(parquet).files()]),
    ):
        con = duckdb.connect()
        con.execute(view)
        got = {tenant: [sends, bounces] for tenant, sends, bounces in con.execute(duck).fetchall()}
        assert got == expected, view[:60]


def test_every_sample_record_survives_the_round_trip(tmp_path: Path) -> None:
    """SES's own example records, through Parquet and back: the same parsed events."""
    samples = list(sample_records().values())
    source = tmp_path / "samples.ndjson"
    source.write_text("".join(json.dumps(r) + "\n" for r in samples))
    assert ndjson_to_parquet([source], tmp_path / "samples.parquet") == len(samples)
    back = [record_from_row(row) for row in iter_parquet_rows(tmp_path / "samples.parquet")]
    assert [parse_event(r) for r in back] == [parse_event(r) for r in samples]
    bounce = next(r for r in back if r.get("eventType") == "Bounce")
    original = next(r for r in samples if r.get("eventType") == "Bounce")
    assert bounce["bounce"]["bouncedRecipients"] == original["bounce"]["bouncedRecipients"]
    assert bounce["mail"]["commonHeaders"]["from"] == original["mail"]["commonHeaders"]["from"]


def test_rows_written_by_name_read_back(tmp_path: Path) -> None:
    schema = glue_schema()
    row = {"eventtype": "Send", "mail": {"messageid": "m-1", "tags": {"Campaign": ["spring"]}}}
    assert rows_to_parquet([row], schema, tmp_path / "one.parquet", compression="zstd") == 1
    (back,) = iter_parquet_rows(tmp_path / "one.parquet")
    assert record_from_row(back) == {
        "eventType": "Send",
        "mail": {"messageId": "m-1", "tags": {"Campaign": ["spring"]}},  # map keys as written
    }
    with pytest.raises(ValueError, match="compression"):
        rows_to_parquet([row], schema, tmp_path / "bad.parquet", compression="lz4")  # type: ignore[arg-type]


def test_a_lake_of_both_layouts_is_refused(lakes: tuple[Path, Path], tmp_path: Path) -> None:
    ndjson, parquet = lakes
    mixed = tmp_path / "mixed"
    for source in (ndjson, parquet):
        for f in Lake(source).files():
            target = mixed / Path(f.name).relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(Path(f.name).read_bytes())
    for engine in ENGINES:
        with pytest.raises(LakeError, match="both NDJSON and Parquet"):
            build_report(mixed, engine=engine)  # type: ignore[arg-type]


def test_an_unreadable_parquet_object(lakes: tuple[Path, Path], tmp_path: Path) -> None:
    _, parquet = lakes
    broken = tmp_path / "broken"
    for f in Lake(parquet).files():
        target = broken / Path(f.name).relative_to(parquet)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(Path(f.name).read_bytes())
    bad = broken / "year=2026/month=03/day=02/firehose-1-bad.parquet"
    bad.write_bytes(b"PAR1 not really parquet PAR1")
    with pytest.raises(LakeError, match="could not read"):
        build_report(broken)
    with pytest.raises(LakeError, match="cannot read the Parquet object"):
        build_report(broken, engine="python")
    report = build_report(broken, engine="python", skip_bad_records=True)
    assert report.bad_records == 1
    assert counts(report.total) == counts(build_report(parquet, engine="python").total)
    (item,) = [i for i in Lake(broken).iter_items() if not i.ok]
    assert item.meta == {"object": str(bad), "row": 1}
    assert item.item_id == f"{bad}:1"


def test_parquet_items_name_their_object_and_row(lakes: tuple[Path, Path]) -> None:
    _, parquet = lakes
    items = list(Lake(parquet).iter_items(TimeRange.of(date(2026, 3, 2), date(2026, 3, 2))))
    assert items
    assert all(i.ok for i in items)
    first = items[0]
    assert first.meta["row"] == 1
    assert first.item_id == f"{first.meta['object']}:1"
    assert first.meta["object"].endswith(".parquet")


_DIMENSIONS = st.sampled_from(
    [None, "configuration-set", "sender", "recipient-domain", "day", "tag:campaign"]
)


@settings(PROFILE, max_examples=8)  # each example writes a lake, compacts it and runs both engines
@given(records=st.lists(ses_records(unknown_event_types=True), max_size=20), by=_DIMENSIONS)
def test_duckdb_on_parquet_agrees_with_python_on_ndjson(
    tmp_path_factory: pytest.TempPathFactory, records: list[dict[str, Any]], by: str | None
) -> None:
    root = tmp_path_factory.mktemp("hypothesis-parquet")
    with LakeWriter(root / "ndjson", max_records=7) as writer:
        for record in records:
            tags = record["mail"].get("tags")
            if tags is not None and len(record["mail"]["destination"]) > 1:
                tags["campaign"] = ["c" + str(len(record["mail"]["destination"]))]
            writer.write(record)
    compact_lake(root / "ndjson", root / "parquet", max_batch_bytes=2048)
    duck = build_report(root / "parquet", by=by)
    py = build_report(root / "ndjson", by=by, engine="python")

    assert comparable(duck) == comparable(py)
