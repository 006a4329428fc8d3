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
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import attrs

from .lake import DEFAULT_ARRIVAL_LAG, Lake, TimeRange
from .queries import Dimension

__all__ = [
    "AWS_THRESHOLDS_SOURCE",
    "Engine",
    "GroupRow",
    "Metrics",
    "Report",
    "Status",
    "Thresholds",
    "build_report",
]

Engine = Literal["duckdb", "python"]
Status = Literal["healthy", "review", "pause", "no data"]

AWS_THRESHOLDS_SOURCE = (
    "Amazon SES Developer Guide, 'Monitoring your Amazon SES sender reputation', and the AWS Knowledge "
    "Center article 'Why is my Amazon SES sending account under review or paused?'"
)


@attrs.frozen
class Thresholds:
    """The rates at which AWS acts on an SES account.

    At a bounce rate of 5% or a complaint rate of 0.1% AWS may place the account under review; at 10% or
    0.5% it may pause the account's sending (see ``AWS_THRESHOLDS_SOURCE``). AWS computes its rates over
    a representative volume of recent mail, not a calendar window, so a report's rate is an estimate of
    where the account stands, most useful as a trend.
    """

    bounce_review: float = 0.05
    bounce_pause: float = 0.10
    complaint_review: float = 0.001
    complaint_pause: float = 0.005

    @staticmethod
    def _status(rate: float | None, review: float, pause: float) -> Status:
        if rate is None:
            return "no data"
        if rate >= pause:
            return "pause"
        if rate >= review:
            return "review"
        return "healthy"

    def bounce_status(self, rate: float | None) -> Status:
        return self._status(rate, self.bounce_review, self.bounce_pause)

    def complaint_status(self, rate: float | None) -> Status:
        return self._status(rate, self.complaint_review, self.complaint_pause)


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@attrs.frozen
class Metrics:
    """What happened to the mail of one group (or of all of it). See the module documentation for units."""

    sent: int = 0
    delivered: int = 0
    hard_bounces: int = 0
    soft_bounces: int = 0
    complaints: int = 0
    rejects: int = 0
    rendering_failures: int = 0
    delivery_delays: int = 0
    opens_unique: int = 0
    clicks_unique: int = 0
    unsubscribes: int = 0
    opens_total: int = 0
    clicks_total: int = 0
    latency_p50_ms: float | None = None
    latency_p90_ms: float | None = None
    latency_p99_ms: float | None = None

    @property
    def bounce_rate(self) -> float | None:
        """Hard (``Permanent``) bounces per send: the bounce rate SES reviews accounts by."""
        return _rate(self.hard_bounces, self.sent)

    @property
    def complaint_rate(self) -> float | None:
        return _rate(self.complaints, self.sent)

    @property
    def delivery_rate(self) -> float | None:
        return _rate(self.delivered, self.sent)

    @property
    def open_rate(self) -> float | None:
        """Unique opens per delivery."""
        return _rate(self.opens_unique, self.delivered)

    @property
    def click_rate(self) -> float | None:
        """Unique clicks per delivery."""
        return _rate(self.clicks_unique, self.delivered)

    @property
    def funnel(self) -> tuple[tuple[str, int], ...]:
        """Sent → delivered → opened → clicked (unique recipients at each step)."""
        return (
            ("sent", self.sent),
            ("delivered", self.delivered),
            ("opened", self.opens_unique),
            ("clicked", self.clicks_unique),
        )

    def to_dict(self) -> dict[str, Any]:
        """Every count, latency and rate by name."""
        out: dict[str, Any] = attrs.asdict(self)
        for name in ("bounce_rate", "complaint_rate", "delivery_rate", "open_rate", "click_rate"):
            out[name] = getattr(self, name)
        return out

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Metrics:
        """From a result row of the report query (extra columns such as the rates are ignored)."""
        kwargs: dict[str, Any] = {}
        for f in attrs.fields(cls):
            value = values.get(f.name)
            if f.name.startswith("latency_"):
                kwargs[f.name] = None if value is None else float(value)
            else:
                kwargs[f.name] = int(value or 0)
        return cls(**kwargs)


@attrs.frozen
class GroupRow:
    """One group of a breakdown: its value (None: records without one, such as no tag) and its metrics."""

    key: str | None
    metrics: Metrics


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
        from .render import report_json

        return report_json(self, indent=indent)

    def to_csv(self) -> str:
        from .render import report_csv

        return report_csv(self)

    def to_html(self) -> str:
        from .render import report_html

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
    excluded). ``by`` is ``"configuration-set"``, ``"sender"``, ``"recipient-domain"``, ``"day"``,
    ``"tag:NAME"`` or a ``Dimension``. Only the day folders of the range are read (see
    ``TimeRange`` and ``arrival_lag``).

    ``engine="duckdb"`` (extra ``analytics``) has DuckDB read the NDJSON files directly; an S3 lake's
    objects are first copied to ``cache_dir`` (a temporary folder when None). ``engine="python"`` parses
    every record with ``sesflow.parse_event``: no extra needed, slower, and it validates every record.
    A record that cannot be read raises ``LakeError`` unless ``skip_bad_records``.
    """
    from ._engines import run_duckdb, run_python

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
