"""Email reports over a lake: what was sent, what happened to it, and how SES would judge the sender.

Every count is per recipient of a message (one message to three people is three sends), and each recipient
is counted once per outcome, on the UTC day the outcome first happened, so records that a transport delivered
twice (Firehose and SQS deliver at least once) do not inflate anything and the days add up to the total;
``opens_total`` and ``clicks_total`` are the exceptions, counting every open and click event. Rates:
``bounce_rate`` is hard bounces per send and ``complaint_rate`` complaints per send, the two rates SES reviews
accounts by; ``open_rate`` and ``click_rate`` are unique opens and clicks per delivery.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import attrs

from ._engines import run_duckdb, run_python
from .lake import DEFAULT_ARRIVAL_LAG, Lake, TimeRange
from .metrics import AWS_THRESHOLDS_SOURCE, GroupRow, Metrics, Status, Thresholds
from .queries import Dimension
from .render import report_csv, report_html, report_json

__all__ = ["Engine", "Report", "build_report"]

Engine = Literal["duckdb", "python"]


@attrs.frozen
class Report:
    """The outcome of ``build_report``: totals, the breakdown by ``dimension``, and the daily series."""

    location: str
    time_range: TimeRange
    dimension: Dimension | None
    total: Metrics
    groups: tuple[GroupRow, ...]
    daily: tuple[GroupRow, ...]
    thresholds: Thresholds = Thresholds()
    engine: str = "duckdb"
    files_read: int = 0
    bad_records: int | None = 0
    """Records skipped with ``skip_bad_records``; None when the engine does not count them (DuckDB)."""
    generated_at: datetime = attrs.field(factory=lambda: datetime.now(UTC))

    @property
    def bounce_status(self) -> Status:
        return self.thresholds.bounce_status(self.total.bounce_rate)

    @property
    def complaint_status(self) -> Status:
        return self.thresholds.complaint_status(self.total.complaint_rate)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (what ``--format json`` prints)."""

        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat()

        return {
            "location": self.location,
            "since": iso(self.time_range.since),
            "until": iso(self.time_range.until),
            "by": None if self.dimension is None else str(self.dimension),
            "engine": self.engine,
            "files_read": self.files_read,
            "bad_records": self.bad_records,
            "generated_at": iso(self.generated_at),
            "thresholds": {**attrs.asdict(self.thresholds), "source": AWS_THRESHOLDS_SOURCE},
            "status": {"bounce": self.bounce_status, "complaint": self.complaint_status},
            "total": self.total.to_dict(),
            "funnel": [{"stage": stage, "recipients": n} for stage, n in self.total.funnel],
            "groups": [{"key": g.key, **g.metrics.to_dict()} for g in self.groups],
            "daily": [{"day": g.key, **g.metrics.to_dict()} for g in self.daily],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return report_json(self, indent=indent)

    def to_csv(self) -> str:
        return report_csv(self)

    def to_html(self) -> str:
        return report_html(self)


def _sorted_groups(groups: list[GroupRow]) -> tuple[GroupRow, ...]:
    return tuple(sorted(groups, key=lambda g: (-g.metrics.sent, g.key is None, g.key or "")))


def build_report(
    lake: Lake | str | os.PathLike[str],
    *,
    since: datetime | date | None = None,
    until: datetime | date | None = None,
    by: Dimension | str | None = None,
    engine: Engine = "duckdb",
    s3_client: Any = None,
    cache_dir: str | os.PathLike[str] | None = None,
    arrival_lag: timedelta = DEFAULT_ARRIVAL_LAG,
    skip_bad_records: bool = False,
    thresholds: Thresholds | None = None,
) -> Report:
    """Count what happened to the mail whose events fall in ``since``..``until``, grouped ``by`` a dimension.

    ``lake`` is a ``Lake`` or its location (a folder or ``s3://bucket/prefix``, then
    with ``s3_client``). Dates are whole UTC days (``until`` included); datetimes are instants (``until``
    excluded). ``by`` is ``"configuration-set"``, ``"tenant"``, ``"sender"``, ``"recipient-domain"``,
    ``"day"``, ``"tag:NAME"`` or a ``Dimension``. Only the day folders of the range are read (see
    ``TimeRange`` and ``arrival_lag``).

    ``engine="duckdb"`` (extra ``analytics``) has DuckDB read the NDJSON files directly; an S3 lake's
    objects are first copied to ``cache_dir`` (a temporary folder when None). ``engine="python"`` parses
    every record with ``sesflow.parse_event``: no extra needed, slower, and it validates every record.
    A record that cannot be read raises ``LakeError`` unless ``skip_bad_records``.
    """
    source = lake if isinstance(lake, Lake) else Lake(lake, s3_client=s3_client)
    time_range = TimeRange.of(since, until)
    dimension = None if by is None else Dimension.parse(by)
    if engine == "duckdb":
        result = run_duckdb(source, time_range, dimension, arrival_lag, cache_dir, skip_bad_records)
    elif engine == "python":
        result = run_python(source, time_range, dimension, arrival_lag, skip_bad_records)
    else:
        raise ValueError(f"unknown engine {engine!r}: use 'duckdb' or 'python'")
    daily = tuple(GroupRow(day, metrics) for day, metrics in sorted(result.daily.items()))
    if dimension is None:
        groups: tuple[GroupRow, ...] = ()
    elif dimension.kind == "day":
        groups = daily
    else:
        groups = _sorted_groups([GroupRow(key, metrics) for key, metrics in result.groups.items()])
    return Report(
        location=source.location,
        time_range=time_range,
        dimension=dimension,
        total=result.total,
        groups=groups,
        daily=daily,
        thresholds=thresholds or Thresholds(),
        engine=engine,
        files_read=result.files_read,
        bad_records=result.bad_records,
    )
