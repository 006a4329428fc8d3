"""Reports over lakes whose counts are known by construction; DuckDB runs the real SQL."""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb", reason="the analytics extra is not installed")

from hypothesis import given, settings
from hypothesis import strategies as st

from sesflow import EventType, MissingExtra
from sesflow.analytics import (
    ATHENA,
    Dimension,
    Lake,
    LakeError,
    LakeWriter,
    Metrics,
    Thresholds,
    TimeRange,
    build_report,
    report_columns,
    report_sql,
)
from sesflow.analytics._engines import quantile_cont
from sesflow.testing import make_record
from sesflow.testing.strategies import ses_records

from ._analytics import (
    AFTER,
    BEFORE,
    DAY1_COUNTS,
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
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_known_lake(tmp_path_factory.mktemp("known"))


@pytest.fixture(scope="module")
def gz_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_known_lake(tmp_path_factory.mktemp("known-gz"), compress=True)


@pytest.mark.parametrize("engine", ENGINES)
def test_totals_match_the_construction(lake: Path, engine: str) -> None:
    report = build_report(lake, **RANGE, engine=engine)  # type: ignore[arg-type]
    assert counts(report.total) == TOTAL_COUNTS
    assert report.total.latency_p50_ms == pytest.approx(quantile_cont(LATENCIES, 0.5))
    assert report.total.latency_p90_ms == pytest.approx(quantile_cont(LATENCIES, 0.9))
    assert report.total.latency_p99_ms == pytest.approx(quantile_cont(LATENCIES, 0.99))
    assert report.total.bounce_rate == pytest.approx(1 / 19)
    assert report.total.complaint_rate == pytest.approx(1 / 19)
    assert report.total.open_rate == pytest.approx(4 / 15)
    assert report.total.funnel == (("sent", 19), ("delivered", 15), ("opened", 4), ("clicked", 2))
    assert report.groups == ()  # no breakdown asked for
    assert [d.key for d in report.daily] == ["2026-03-01", "2026-03-02", "2026-03-05"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("by", sorted(EXPECTED_GROUPS))
def test_every_dimension_groups_as_constructed(lake: Path, engine: str, by: str) -> None:
    report = build_report(lake, **RANGE, by=by, engine=engine)  # type: ignore[arg-type]
    got = {g.key: counts(g.metrics) for g in report.groups}
    assert got == EXPECTED_GROUPS[by]
    assert counts(report.total) == TOTAL_COUNTS
    if by != "day":  # largest group first, the group without a value last among equals
        sent = [g.metrics.sent for g in report.groups]
        assert sent == sorted(sent, reverse=True)
    else:
        assert [g.key for g in report.groups] == sorted(g.key or "" for g in report.groups)


def test_group_latencies(lake: Path) -> None:
    report = build_report(lake, **RANGE, by="configuration-set")
    latency = {g.key: g.metrics.latency_p50_ms for g in report.groups}
    assert latency == {"transactional": 4500.0, "marketing": 500.0, None: 9000.0}


def test_gzip_and_plain_lakes_give_the_same_report(lake: Path, gz_lake: Path) -> None:
    assert any(p.name.endswith(".ndjson.gz") for p in gz_lake.rglob("*"))
    plain = build_report(lake, **RANGE, by="recipient-domain")
    packed = build_report(gz_lake, **RANGE, by="recipient-domain")
    assert (plain.total, plain.groups, plain.daily) == (packed.total, packed.groups, packed.daily)


@pytest.mark.parametrize("engine", ENGINES)
def test_time_range_filters_by_the_events_own_time(lake: Path, engine: str) -> None:
    everything = build_report(lake, engine=engine)  # type: ignore[arg-type]
    assert everything.total.sent == TOTAL_COUNTS["sent"] + 2  # the messages before and after the range
    assert everything.total.hard_bounces == 3
    # One-sided ranges: from 2 March (day 2, day 5 and the message after), up to 1 March (before, day 1).
    assert build_report(lake, since=date(2026, 3, 2), engine=engine).total.sent == 8 + 1 + 1  # type: ignore[arg-type]
    assert build_report(lake, until=date(2026, 3, 1), engine=engine).total.sent == 1 + 10  # type: ignore[arg-type]
    day1 = build_report(lake, since=date(2026, 3, 1), until=date(2026, 3, 1), engine=engine)  # type: ignore[arg-type]
    assert counts(day1.total) == DAY1_COUNTS
    # An instant range: the first two day-1 messages were sent at 09:00 and 09:01; the third at 09:02.
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    early = build_report(lake, since=start, until=start + timedelta(minutes=2), engine=engine)  # type: ignore[arg-type]
    assert early.total.sent == 2
    naive = build_report(
        lake, since=start.replace(tzinfo=None), until=datetime(2026, 3, 1, 9, 2), engine=engine
    )  # type: ignore[arg-type]
    assert naive.total.sent == 2  # naive datetimes are UTC


def _corrupt(folder: Path, name: str = "broken.ndjson.gz") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"\x1f\x8b this is not gzip data at all" * 10)
    return path


@pytest.fixture
def trapped_lake(tmp_path: Path) -> Path:
    """The known lake with unreadable files in day folders outside the range 2026-03-01..05."""
    root = write_known_lake(tmp_path)
    _corrupt(root / "year=2026/month=02/day=20")
    _corrupt(root / "year=2026/month=03/day=07")
    _corrupt(root / "year=2025/month=12/day=31")
    return root


@pytest.mark.parametrize("engine", ENGINES)
def test_files_outside_the_range_are_not_opened(trapped_lake: Path, engine: str) -> None:
    report = build_report(trapped_lake, **RANGE, engine=engine)  # type: ignore[arg-type]
    assert counts(report.total) == TOTAL_COUNTS
    # The same corrupt files do break a report that has to read them: so they were not opened above.
    with pytest.raises(LakeError):
        build_report(trapped_lake, engine=engine)  # type: ignore[arg-type]
    with pytest.raises(LakeError):
        build_report(trapped_lake, since=date(2026, 3, 1), until=date(2026, 3, 7), engine=engine)  # type: ignore[arg-type]


def test_pruning_lists_only_the_days_of_the_range(trapped_lake: Path) -> None:
    lake = Lake(trapped_lake)
    days = {f.day for f in lake.files(TimeRange.of(**RANGE))}
    assert days == {date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 5)}
    assert {f.day for f in lake.files(TimeRange.of(since=date(2026, 3, 2)))} == {
        date(2026, 3, 2),
        date(2026, 3, 5),
        date(2026, 3, 7),
        date(2026, 3, 10),
    }
    early = {date(2025, 12, 31), date(2026, 2, 20), date(2026, 2, 27)}
    assert {
        f.day for f in lake.files(TimeRange.of(until=date(2026, 2, 28)), arrival_lag=timedelta(0))
    } == early
    # With the default arrival lag (15 minutes) the first day after the range is read too.
    assert {f.day for f in lake.files(TimeRange.of(until=date(2026, 2, 28)))} == early | {date(2026, 3, 1)}


def test_late_arrivals_are_read_from_the_next_day_within_the_arrival_lag(tmp_path: Path) -> None:
    # Firehose files by arrival: an event of 23:59:50 on 5 March that arrived after midnight is in 6 March.
    root = write_known_lake(tmp_path)
    late = make_record(
        EventType.SEND,
        recipients=["late@a.example"],
        sent_at=datetime(2026, 3, 5, 23, 59, 50, tzinfo=UTC),
        delay=timedelta(0),
    )
    folder = root / "year=2026/month=03/day=06"
    folder.mkdir(parents=True)
    (folder / "firehose-1-2026-03-06-00-00-10-abc").write_text(json.dumps(late) + "\n")
    for engine in ENGINES:
        report = build_report(root, **RANGE, engine=engine)  # type: ignore[arg-type]
        assert report.total.sent == TOTAL_COUNTS["sent"] + 1
        strict = build_report(root, **RANGE, engine=engine, arrival_lag=timedelta(0))  # type: ignore[arg-type]
        assert strict.total.sent == TOTAL_COUNTS["sent"]
    # With no lag the next day is not even opened; with the default lag it is.
    _corrupt(folder)
    build_report(root, **RANGE, arrival_lag=timedelta(0))
    with pytest.raises(LakeError, match="DuckDB could not read"):
        build_report(root, **RANGE)


@pytest.mark.parametrize("engine", ENGINES)
def test_bad_records_raise_unless_skipped(tmp_path: Path, engine: str) -> None:
    root = write_known_lake(tmp_path)
    folder = root / "year=2026/month=03/day=02"
    good = make_record(
        EventType.SEND, recipients=["extra@c.example"], sent_at=datetime(2026, 3, 2, 12, tzinfo=UTC)
    )
    (folder / "mixed.ndjson").write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(LakeError, match="skip"):
        build_report(root, **RANGE, engine=engine)  # type: ignore[arg-type]
    report = build_report(root, **RANGE, engine=engine, skip_bad_records=True)  # type: ignore[arg-type]
    assert report.total.sent == TOTAL_COUNTS["sent"] + 1
    if engine == "python":
        assert report.bad_records == 1
    else:
        assert report.bad_records is None  # DuckDB skips without counting


def test_firehose_style_objects_without_extension_and_gzip_by_content(tmp_path: Path) -> None:
    records = known_records()
    day1 = [r for r in records if r["mail"]["messageId"].startswith("day1-")]
    folder = tmp_path / "events/year=2026/month=03/day=01"
    folder.mkdir(parents=True)
    lines = "".join(json.dumps(r) + "\n" for r in day1).encode()
    half = len(day1) // 2
    first = "".join(json.dumps(r) + "\n" for r in day1[:half]).encode()
    (folder / "ses-stream-1-2026-03-01-09-00-00-aaaa").write_bytes(first)
    (folder / "ses-stream-1-2026-03-01-09-05-00-bbbb").write_bytes(gzip.compress(lines[len(first) :]))
    (folder / ".hidden-in-progress").write_bytes(b"{broken")
    (folder / "_SUCCESS").write_bytes(b"")
    for engine in ENGINES:
        report = build_report(tmp_path, engine=engine)  # type: ignore[arg-type]  # the events/ folder is found
        assert counts(report.total) == DAY1_COUNTS


def test_an_empty_range_gives_an_empty_report(lake: Path) -> None:
    report = build_report(lake, since=date(2030, 1, 1), until=date(2030, 1, 2), by="sender")
    assert report.total == Metrics()
    assert report.groups == ()
    assert report.daily == ()
    assert report.files_read == 0
    assert report.bounce_status == "no data"


def test_missing_folder_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="does not exist"):
        build_report(tmp_path / "nope")
    with pytest.raises(ValueError, match="empty"):
        build_report(tmp_path, since=date(2026, 3, 5), until=date(2026, 3, 1))
    with pytest.raises(ValueError, match="group by"):
        build_report(tmp_path, by="colour")
    with pytest.raises(ValueError, match="tag:NAME"):
        Dimension.parse("tag:")
    with pytest.raises(ValueError, match="engine"):
        build_report(tmp_path, engine="spark")  # type: ignore[arg-type]
    with pytest.raises(LakeError, match="s3_client"):
        Lake("s3://bucket/events/")


def test_missing_duckdb_names_the_extra(lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)  # import duckdb now raises ImportError
    with pytest.raises(MissingExtra, match=r"sesflow\[analytics\]"):
        build_report(lake)
    assert build_report(lake, **RANGE, engine="python").total.sent == TOTAL_COUNTS["sent"]


# --- thresholds ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "bounce", "complaint"),
    [
        (None, "no data", "no data"),
        (0.0, "healthy", "healthy"),
        (0.0009, "healthy", "healthy"),
        (0.001, "healthy", "review"),
        (0.004, "healthy", "review"),
        (0.005, "healthy", "pause"),
        (0.0499, "healthy", "pause"),
        (0.05, "review", "pause"),
        (0.0999, "review", "pause"),
        (0.10, "pause", "pause"),
    ],
)
def test_aws_thresholds(rate: float | None, bounce: str, complaint: str) -> None:
    thresholds = Thresholds()
    assert thresholds.bounce_status(rate) == bounce
    assert thresholds.complaint_status(rate) == complaint


def test_report_status_uses_the_totals(tmp_path: Path) -> None:
    with LakeWriter(tmp_path) as writer:
        for i in range(20):
            m = {"recipients": [f"u{i}@x.example"], "message_id": f"m{i}"}
            writer.write(make_record(EventType.SEND, **m))
            if i < 2:  # 2 of 20 hard bounces: 10%
                writer.write(make_record(EventType.BOUNCE, **m))
            if i == 5:  # 1 of 20 complaints: 5%
                writer.write(make_record(EventType.COMPLAINT, **m))
    report = build_report(tmp_path)
    assert report.total.bounce_rate == pytest.approx(0.10)
    assert (report.bounce_status, report.complaint_status) == ("pause", "pause")
    lenient = build_report(tmp_path, thresholds=Thresholds(bounce_pause=0.2, complaint_pause=0.2))
    assert (lenient.bounce_status, lenient.complaint_status) == ("review", "review")


# --- the SQL ------------------------------------------------------------------------------------------------


def test_the_sql_rates_equal_the_python_rates(lake: Path) -> None:
    import duckdb

    from sesflow.analytics._engines import duckdb_view_sql, report_schema
    from sesflow.analytics.schema import duckdb_columns

    dimension = Dimension.parse("recipient-domain")
    paths = Lake(lake).local_copies(Lake(lake).files(), None)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(duckdb_view_sql(paths, duckdb_columns(report_schema(dimension))))
    cursor = con.execute(report_sql(dimension, time_range=TimeRange.of(**RANGE), dialect="duckdb"))
    names = [c[0] for c in cursor.description]
    assert names == report_columns()
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    assert {r["grouping_set"] for r in rows} == {"group", "day", "total"}
    for row in rows:
        metrics = Metrics.from_mapping(row)
        for rate in ("bounce_rate", "complaint_rate", "delivery_rate", "open_rate", "click_rate"):
            assert row[rate] == pytest.approx(getattr(metrics, rate)), (row["group_value"], rate)


def test_the_athena_query_is_trino_sql() -> None:
    sql = report_sql(
        "tag:campaign", time_range=TimeRange.of(date(2026, 1, 1), date(2026, 1, 31)), dialect="athena"
    )
    for trino in (
        "from_iso8601_timestamp(",
        "approx_percentile(",
        "element_at(element_at(mail.tags, 'campaign'), 1)",
        "transform(bounce.bouncedRecipients, r -> r.emailAddress)",
        "contains(transform(subscription.newTopicPreferences.topicSubscriptionStatus, "
        "t -> t.subscriptionStatus)",
        "CROSS JOIN UNNEST(r.recipients) AS u(recipient)",
        "GROUP BY GROUPING SETS ((grp), (day), ())",
        "date_diff('millisecond', ",
        "FROM ses_events",
    ):
        assert trino in sql
    # Partitions are pruned by Athena from the predicate on year/month/day (the range plus the arrival lag).
    assert 'concat("year", "month", "day") BETWEEN \'20260101\' AND \'20260201\'' in sql
    assert "from_iso8601_timestamp('2026-02-01T00:00:00.000Z')" in sql
    for duckdb_only in (
        "list_transform",
        "map_extract_value",
        "quantile_cont",
        "TIMESTAMPTZ",
        "lambda ",
        "::",
    ):
        assert duckdb_only not in sql
    assert sql.count("(") == sql.count(")")
    for other in ("configuration-set", "sender", "recipient-domain", "day", None):
        text = report_sql(other, dialect=ATHENA, table="db.events")
        assert "FROM db.events" in text
        assert "BETWEEN" not in text


@pytest.mark.parametrize("by", sorted(EXPECTED_GROUPS))
def test_the_athena_query_parses_as_trino_and_counts_as_constructed(lake: Path, by: str) -> None:
    """The exact text Athena would run: parsed by sqlglot's Trino grammar, then translated by sqlglot (not by
    sesflow) to DuckDB and run over a table typed as the Athena DDL declares it (``mail.tags`` a map)."""
    import duckdb

    sqlglot = pytest.importorskip("sqlglot", reason="sqlglot is in the test extra")
    from sesflow.analytics._engines import duckdb_view_sql
    from sesflow.analytics.schema import duckdb_columns, table_schema

    athena = report_sql(by, time_range=TimeRange.of(**RANGE), dialect="athena")
    tree = sqlglot.parse_one(athena, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    paths = Lake(lake).local_copies(Lake(lake).files(), None)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(duckdb_view_sql(paths, duckdb_columns(table_schema())))
    types = {row[0]: row[1] for row in con.execute("DESCRIBE ses_events").fetchall()}
    assert "tags MAP(VARCHAR, VARCHAR[])" in types["mail"]  # as Athena's map<string,array<string>>
    cursor = con.execute(tree.sql(dialect="duckdb"))  # DuckDB has no approx_percentile: sqlglot maps it
    names = [c[0] for c in cursor.description]
    assert names == report_columns()
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    groups = {r["group_value"]: counts(Metrics.from_mapping(r)) for r in rows if r["grouping_set"] == "group"}
    assert groups == EXPECTED_GROUPS[by]
    (total,) = (Metrics.from_mapping(r) for r in rows if r["grouping_set"] == "total")
    assert counts(total) == TOTAL_COUNTS
    # Percentiles are approximate (approx_percentile): each lies among the latencies, in order.
    assert LATENCIES[0] <= total.latency_p50_ms <= total.latency_p90_ms <= total.latency_p99_ms
    assert total.latency_p99_ms <= LATENCIES[-1]


def test_the_two_dialects_differ_only_in_the_dialect_functions() -> None:
    athena = report_sql("sender", time_range=TimeRange.of(date(2026, 1, 1)), dialect="athena")
    duck = report_sql("sender", time_range=TimeRange.of(date(2026, 1, 1)), dialect="duckdb")
    assert athena != duck
    assert athena.splitlines()[0] == duck.splitlines()[0]
    # Everything but the record-level SELECT and WHERE (where the functions are) is the same text.
    assert (
        athena[athena.index("outcomes AS") :].replace("approx_percentile", "quantile_cont")
        == duck[duck.index("outcomes AS") :]
    )


# --- outputs ------------------------------------------------------------------------------------------------


def test_json_output(lake: Path) -> None:
    report = build_report(lake, **RANGE, by="configuration-set")
    data = json.loads(report.to_json())
    assert data["by"] == "configuration-set"
    assert data["since"] == "2026-03-01T00:00:00+00:00"
    assert data["until"] == "2026-03-06T00:00:00+00:00"
    assert data["total"]["sent"] == 19
    assert data["total"]["bounce_rate"] == pytest.approx(1 / 19)
    assert [g["key"] for g in data["groups"]] == ["transactional", "marketing", None]
    assert [d["day"] for d in data["daily"]] == ["2026-03-01", "2026-03-02", "2026-03-05"]
    assert data["funnel"][1] == {"stage": "delivered", "recipients": 15}
    assert data["thresholds"]["bounce_review"] == 0.05
    assert "Developer Guide" in data["thresholds"]["source"]
    assert data["status"] == {"bounce": "review", "complaint": "pause"}


def test_csv_output(lake: Path) -> None:
    report = build_report(lake, **RANGE, by="tag:campaign")
    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert [(r["scope"], r["tag_campaign"]) for r in rows] == [
        ("group", "welcome"),
        ("group", "promo"),
        ("group", ""),
        ("day", "2026-03-01"),
        ("day", "2026-03-02"),
        ("day", "2026-03-05"),
        ("total", ""),
    ]
    total = rows[-1]
    assert int(total["sent"]) == 19
    assert int(total["opens_total"]) == 6
    assert float(total["bounce_rate"]) == pytest.approx(1 / 19)
    assert rows[2]["latency_p50_ms"] == "9000.0"
    by_day = build_report(lake, **RANGE, by="day").to_csv()
    assert "group," not in by_day  # by day: the days are the breakdown, listed once


# --- both engines agree on whatever SES may send ------------------------------------------------------------

_DIMENSIONS = st.sampled_from(
    [None, "configuration-set", "sender", "recipient-domain", "day", "tag:campaign"]
)


@settings(PROFILE, max_examples=25)  # each example writes a lake and runs both engines
@given(
    records=st.lists(ses_records(unknown_event_types=True), max_size=25),
    by=_DIMENSIONS,
    bounds=st.one_of(
        st.none(), st.tuples(st.dates(date(2015, 1, 1), date(2036, 1, 1)), st.integers(0, 4000))
    ),
)
def test_duckdb_and_python_agree(
    tmp_path_factory: pytest.TempPathFactory, records: list[dict[str, Any]], by: str | None, bounds: Any
) -> None:
    root = tmp_path_factory.mktemp("hypothesis")
    with LakeWriter(root, max_records=10) as writer:
        for record in records:
            tags = record["mail"].get("tags")
            if tags is not None and len(record["mail"]["destination"]) > 1:  # some records carry the tag
                tags["campaign"] = ["c" + str(len(record["mail"]["destination"]))]
            writer.write(record)
    since, until = (None, None) if bounds is None else (bounds[0], bounds[0] + timedelta(days=bounds[1]))
    duck = build_report(root, since=since, until=until, by=by)
    py = build_report(root, since=since, until=until, by=by, engine="python")

    assert comparable(duck) == comparable(py)
    assert sum(g.metrics.sent for g in duck.daily) == duck.total.sent  # days add up to the total
    if by not in (None, "day"):
        assert sum(g.metrics.delivered for g in duck.groups) == duck.total.delivered


def test_records_outside_known_boundaries_are_kept_out(lake: Path) -> None:
    """BEFORE and AFTER each hold a send and a hard bounce; a range around each finds exactly them."""
    for moment in (BEFORE, AFTER):
        report = build_report(lake, since=moment.date(), until=moment.date())
        assert (report.total.sent, report.total.hard_bounces) == (1, 1)
