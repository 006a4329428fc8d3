"""The two report engines: DuckDB running the report SQL over the files, and plain Python over parsed events.

Both count by the same definitions (see ``sesflow.analytics.report``), which the tests hold them to.
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs

from ..errors import MissingExtra
from ..events import (
    BounceEvent,
    BounceType,
    DeliveryEvent,
    EventType,
    SesEvent,
    SubscriptionEvent,
    SubscriptionStatus,
    format_timestamp,
)
from .lake import Lake, LakeError, TimeRange, lake_layout
from .metrics import Metrics
from .queries import DUCKDB, PERCENTILES, TOTALS, Dialect, Dimension, quote, report_sql
from .schema import Array, Field, Scalar, Struct, duckdb_columns, table_schema

__all__ = [
    "EngineResult",
    "duckdb_view_sql",
    "quantile_cont",
    "report_schema",
    "require_duckdb",
    "run_duckdb",
    "run_python",
]

log = logging.getLogger("sesflow.analytics")


def require_duckdb() -> ModuleType:
    """The ``duckdb`` module, or ``MissingExtra`` naming the ``analytics`` extra."""
    try:
        import duckdb
    except ImportError as exc:
        raise MissingExtra("reports with DuckDB", "analytics", "duckdb") from exc
    return duckdb


@attrs.frozen
class EngineResult:
    total: Metrics
    groups: dict[str | None, Metrics]
    daily: dict[str, Metrics]
    files_read: int
    bad_records: int | None


# --- DuckDB -------------------------------------------------------------------------------------------------

_REPORT_PATHS: tuple[tuple[str, ...], ...] = (
    ("eventType",),
    ("notificationType",),
    ("mail", "timestamp"),
    ("mail", "messageId"),
    ("mail", "destination"),
    ("delivery", "timestamp"),
    ("delivery", "recipients"),
    ("bounce", "timestamp"),
    ("bounce", "bounceType"),
    ("bounce", "bouncedRecipients", "emailAddress"),
    ("complaint", "timestamp"),
    ("complaint", "complainedRecipients", "emailAddress"),
    ("open", "timestamp"),
    ("click", "timestamp"),
    ("deliveryDelay", "timestamp"),
    ("deliveryDelay", "delayedRecipients", "emailAddress"),
    ("subscription", "timestamp"),
    ("subscription", "newTopicPreferences"),
)


def report_schema(dimension: Dimension | None) -> Struct:
    """The part of ``table_schema`` the report reads (DuckDB parses only it).

    ``mail.tags`` becomes a struct of the one tag a tag, configuration-set or tenant breakdown reads: DuckDB
    then extracts that key instead of building a map of every tag (three times slower to read).
    """
    paths = list(_REPORT_PATHS)
    if dimension is not None and dimension.kind == "sender":
        paths.append(("mail", "source"))
    schema = table_schema().select(paths)
    tag = None if dimension is None else dimension.source_tag
    if tag is None:
        return schema
    tags = Field("tags", Struct((Field(tag, Array(Scalar("string"))),)))
    mail = schema.field("mail").type
    assert isinstance(mail, Struct)
    fields = tuple(
        Field("mail", Struct((*mail.fields, tags))) if f.key == "mail" else f for f in schema.fields
    )
    return Struct(fields)


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def duckdb_view_sql(
    files: Sequence[Path],
    columns: dict[str, str],
    *,
    ignore_errors: bool = False,
    name: str = "ses_events",
    hive: bool = True,
) -> str:
    """``CREATE TEMP VIEW <name>`` over NDJSON ``files``: the given column types and (``hive``) the partition
    columns.

    gzip is recognised by content, not name (Firehose adds ``.gz``; a copied file may not have it).
    """
    groups: dict[str, list[str]] = {"gzip": [], "none": []}
    for path in files:
        groups["gzip" if _is_gzip(path) else "none"].append(str(path))
    spec = "{" + ", ".join(f"{quote(k)}: {quote(v)}" for k, v in columns.items()) + "}"
    partitions = "hive_partitioning = false"
    if hive:
        partitions = f"hive_partitioning = true, hive_types = {_HIVE_TYPES}"
    selects = []
    for compression, paths in groups.items():
        if not paths:
            continue
        listing = "[" + ", ".join(quote(p) for p in paths) + "]"
        selects.append(  # every path and type is an SQL literal made by quote()
            f"SELECT * FROM read_json({listing}, format = 'newline_delimited', columns = {spec}, "  # noqa: S608
            f"compression = '{compression}', {partitions}, "
            f"ignore_errors = {'true' if ignore_errors else 'false'})"
        )
    return f"CREATE OR REPLACE TEMP VIEW {name} AS\n" + "\nUNION ALL\n".join(selects)


_HIVE_TYPES = "{'year': 'VARCHAR', 'month': 'VARCHAR', 'day': 'VARCHAR'}"


def parquet_view_sql(files: Sequence[Path], *, name: str = "ses_events") -> str:
    """``CREATE TEMP VIEW <name>`` over Parquet ``files`` of the lake, with the partition columns.

    Columns are matched by name across files (``union_by_name``), so files written before the table gained a
    column read it as NULL.
    """
    listing = "[" + ", ".join(quote(str(p)) for p in files) + "]"
    return (
        f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_parquet({listing}, "  # noqa: S608
        f"hive_partitioning = true, hive_types = {_HIVE_TYPES}, union_by_name = true)"
    )


# The Parquet layout keeps mail.tags a map (as Firehose writes it): the first value of a tag is read from it.
_DUCKDB_PARQUET = attrs.evolve(
    DUCKDB, first_tag=lambda tags, name: f"map_extract({tags}, {quote(name)})[1][1]"
)


def _empty() -> EngineResult:
    return EngineResult(Metrics(), {}, {}, 0, 0)


_SPACES = re.compile(r"\s+")


def run_duckdb(
    lake: Lake,
    time_range: TimeRange,
    dimension: Dimension | None,
    arrival_lag: timedelta,
    cache_dir: str | Any | None,
    skip_bad_records: bool,
) -> EngineResult:
    duckdb = require_duckdb()
    files = lake.files(time_range, arrival_lag=arrival_lag)
    layout = lake_layout(files, lake.location)
    if not files:
        return _empty()
    temporary = (
        tempfile.TemporaryDirectory(prefix="sesflow-lake-") if lake.is_s3 and cache_dir is None else None
    )
    try:
        started = time.perf_counter()
        paths = lake.local_copies(files, temporary.name if temporary is not None else cache_dir)
        if lake.is_s3:
            log.info("copied %d lake objects in %.1fs", len(paths), time.perf_counter() - started)
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET enable_progress_bar = false")  # the library never prints
            con.execute("SET preserve_insertion_order = false")
            dialect: Dialect = DUCKDB
            if layout == "parquet":
                con.execute(parquet_view_sql(paths))
                dialect = _DUCKDB_PARQUET
            else:
                columns = duckdb_columns(report_schema(dimension))
                con.execute(duckdb_view_sql(paths, columns, ignore_errors=skip_bad_records))
            sql = report_sql(dimension, time_range=time_range, dialect=dialect, arrival_lag=arrival_lag)
            cursor = con.execute(sql)
            names = [column[0] for column in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except duckdb.Error as exc:
            message = _SPACES.sub(" ", str(exc)).strip()
            hint = (
                ""
                if skip_bad_records or layout == "parquet"
                else " (skip_bad_records / --skip-bad-records reads past bad records)"
            )
            raise LakeError(f"DuckDB could not read the lake {lake.location}: {message}{hint}") from exc
        finally:
            con.close()
    finally:
        if temporary is not None:
            temporary.cleanup()
    total = Metrics()
    groups: dict[str | None, Metrics] = {}
    daily: dict[str, Metrics] = {}
    for row in rows:
        metrics = Metrics.from_mapping(row)
        kind = row["grouping_set"]
        if kind == "total":
            total = metrics
        elif kind == "day" or (dimension is not None and dimension.kind == "day"):
            daily[row["group_value"]] = metrics
        else:
            groups[row["group_value"]] = metrics
    return EngineResult(total, groups, daily, len(files), None if skip_bad_records else 0)


# --- Python -------------------------------------------------------------------------------------------------


def quantile_cont(values: list[int], fraction: float) -> float | None:
    """The ``fraction`` quantile of sorted ``values``, interpolated as DuckDB's ``quantile_cont`` does."""
    if not values:
        return None
    position = (len(values) - 1) * fraction
    low = int(position)
    weight = position - low
    if weight == 0:
        return float(values[low])
    return values[low] * (1 - weight) + values[low + 1] * weight


_METRIC_OF = {
    EventType.SEND: "sent",
    EventType.DELIVERY: "delivered",
    EventType.COMPLAINT: "complaints",
    EventType.REJECT: "rejects",
    EventType.RENDERING_FAILURE: "rendering_failures",
    EventType.DELIVERY_DELAY: "delivery_delays",
    EventType.OPEN: "opens_unique",
    EventType.CLICK: "clicks_unique",
}
_TOTAL_OF = {of: name for name, of in TOTALS}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def _floor_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, rounded down (as DuckDB's and Trino's ``date_diff`` count them)."""
    return (moment - _EPOCH) // _MILLISECOND


def _sender(source: str) -> str:
    start, end = source.find("<"), source.find(">")
    return (source[start + 1 : end] if 0 <= start < end else source).lower()


def _domain(recipient: str) -> str:
    parts = recipient.split("@")
    return parts[1].lower() if len(parts) > 1 else ""


def _unsubscribed(event: SubscriptionEvent) -> bool:
    prefs = event.subscription.new_topic_preferences
    if prefs is None:
        return False
    return bool(prefs.unsubscribe_all) or any(
        t.subscription_status == SubscriptionStatus.OPT_OUT for t in prefs.topic_subscription_status or ()
    )


def _metric(event: SesEvent) -> str | None:
    if isinstance(event, BounceEvent):
        return "hard_bounces" if event.bounce.bounce_type == BounceType.PERMANENT else "soft_bounces"
    if isinstance(event, SubscriptionEvent):
        return "unsubscribes" if _unsubscribed(event) else None
    return _METRIC_OF.get(event.event_type)


def _lower_min(a: Any, b: Any) -> Any:
    """SQL's ``min``: NULLs ignored."""
    if a is None:
        return b
    if b is None:
        return a
    return a if a <= b else b


def collect_outcomes(
    events: Iterable[SesEvent], dimension: Dimension | None
) -> dict[tuple[str, str, str], list[Any]]:
    """``(metric, message id, recipient) -> [first day, group, events, latency]``, as report_sql counts."""
    outcomes: dict[tuple[str, str, str], list[Any]] = {}
    kind = None if dimension is None else dimension.kind
    tag = None if dimension is None else dimension.tag
    days: dict[tuple[int, int, int], str] = {}  # the UTC day of an event time, computed once per day
    for event in events:
        metric = _metric(event)
        if metric is None:
            continue
        latency = None
        if type(event) is DeliveryEvent:
            latency = _floor_ms(event.delivery.timestamp) - _floor_ms(event.mail.timestamp)
        moment = event.timestamp
        if moment.utcoffset():
            moment = moment.astimezone(UTC)
        ymd = (moment.year, moment.month, moment.day)
        day = days.get(ymd)
        if day is None:
            day = days[ymd] = format_timestamp(moment)[:10]
        group: str | None = None
        if kind == "configuration_set":
            group = event.configuration_set
        elif kind == "tenant":
            group = event.tenant
        elif kind == "tag":
            assert tag is not None
            group = event.tags.first(tag)
        elif kind == "sender":
            group = _sender(event.mail.source)
        elif kind == "day":
            group = day
        message_id = event.mail.message_id
        for recipient in event.recipients:
            if kind == "recipient_domain":
                group = _domain(recipient)
            key = (metric, message_id, recipient)
            seen = outcomes.get(key)
            if seen is None:
                outcomes[key] = [day, group, 1, latency]
            else:
                if day < seen[0]:
                    seen[0] = day
                seen[1] = _lower_min(seen[1], group)
                seen[2] += 1
                seen[3] = _lower_min(seen[3], latency)
    return outcomes


class _Tally:
    """The counts of one group: outcomes per metric, event totals, delivery latencies."""

    __slots__ = ("counts", "latencies")

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.latencies: list[int] = []

    def add(self, metric: str, events: int, latency: int | None) -> None:
        self.counts[metric] += 1
        total = _TOTAL_OF.get(metric)
        if total is not None:
            self.counts[total] += events
        if metric == "delivered" and latency is not None:
            self.latencies.append(latency)

    def metrics(self) -> Metrics:
        values: dict[str, Any] = dict(self.counts)
        ordered = sorted(self.latencies)
        for name, fraction in PERCENTILES:
            values[name] = quantile_cont(ordered, fraction)
        return Metrics.from_mapping(values)


def count_outcomes(
    outcomes: dict[tuple[str, str, str], list[Any]], dimension: Dimension | None
) -> tuple[Metrics, dict[str | None, Metrics], dict[str, Metrics]]:
    """The total, the groups and the days, from ``collect_outcomes``."""
    total = _Tally()
    groups: dict[str | None, _Tally] = {}
    daily: dict[str, _Tally] = {}
    grouped = dimension is not None and dimension.kind != "day"
    for (metric, _, _), (day, group, events, latency) in outcomes.items():
        total.add(metric, events, latency)
        tally = daily.get(day)
        if tally is None:
            tally = daily[day] = _Tally()
        tally.add(metric, events, latency)
        if grouped:
            tally = groups.get(group)
            if tally is None:
                tally = groups[group] = _Tally()
            tally.add(metric, events, latency)
    return (
        total.metrics(),
        {key: t.metrics() for key, t in groups.items()},
        {day: t.metrics() for day, t in daily.items()},
    )


def run_python(
    lake: Lake,
    time_range: TimeRange,
    dimension: Dimension | None,
    arrival_lag: timedelta,
    skip_bad_records: bool,
) -> EngineResult:
    files = lake.files(time_range, arrival_lag=arrival_lag)
    lake_layout(files, lake.location)  # one layout per lake, as the DuckDB engine reads it
    bad = 0

    def events() -> Iterable[SesEvent]:
        nonlocal bad
        for item in lake.iter_items(time_range, files=files):
            if item.error is not None:
                if not skip_bad_records:
                    raise LakeError(
                        f"cannot read record {item.item_id}: {item.error} "
                        "(skip_bad_records / --skip-bad-records reads past bad records)"
                    )
                bad += 1
                log.warning("skipped a bad record: %s: %s", item.item_id, item.error)
                continue
            if isinstance(item.record, SesEvent):
                yield item.record

    total, groups, daily = count_outcomes(collect_outcomes(events(), dimension), dimension)
    return EngineResult(total, groups, daily, len(files), bad)
