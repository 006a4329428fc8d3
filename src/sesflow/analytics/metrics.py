"""What a report is made of: the metrics of one group of mail, a group row, and the thresholds AWS judges by.

Values only, no IO: the report engines fill them in (``sesflow.analytics.report`` builds the report) and
the renderers read them. See ``sesflow.analytics.report`` for how every count is defined.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

__all__ = ["AWS_THRESHOLDS_SOURCE", "GroupRow", "Metrics", "Status", "Thresholds"]

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
