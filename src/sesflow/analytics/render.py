"""A ``Report`` as JSON, CSV, or a self-contained HTML page with inline SVG charts.

The HTML page needs nothing from the network (no scripts, fonts or stylesheets to fetch): its CSS is inline
and its charts are SVG drawn here, so it can be mailed, archived or opened offline.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from .lake import TimeRange
from .metrics import GroupRow, Metrics, Status, Thresholds
from .queries import Dimension

__all__ = ["ReportLike", "format_count", "format_rate", "report_csv", "report_html", "report_json"]


class ReportLike(Protocol):
    """What rendering reads of a ``sesflow.analytics.Report``.

    Named by what it reads, so that the renderers depend on the report's values and not on the module that
    builds reports (which imports them to give ``Report`` its ``to_json``, ``to_csv`` and ``to_html``).
    """

    @property
    def location(self) -> str: ...
    @property
    def time_range(self) -> TimeRange: ...
    @property
    def dimension(self) -> Dimension | None: ...
    @property
    def total(self) -> Metrics: ...
    @property
    def groups(self) -> tuple[GroupRow, ...]: ...
    @property
    def daily(self) -> tuple[GroupRow, ...]: ...
    @property
    def thresholds(self) -> Thresholds: ...
    @property
    def files_read(self) -> int: ...
    @property
    def generated_at(self) -> datetime: ...
    @property
    def bounce_status(self) -> Status: ...
    @property
    def complaint_status(self) -> Status: ...
    def to_dict(self) -> dict[str, Any]: ...


# --- JSON and CSV -------------------------------------------------------------------------------------------


def report_json(report: ReportLike, *, indent: int | None = 2) -> str:
    """The report as JSON (``Report.to_dict``)."""
    return json.dumps(report.to_dict(), indent=indent, ensure_ascii=False) + "\n"


def report_csv(report: ReportLike) -> str:
    """The report as CSV: a ``scope`` column (``group``, ``day`` or ``total``), the key, then every metric."""
    out = io.StringIO()
    metric_names = list(Metrics().to_dict())
    writer = csv.writer(out, lineterminator="\n")
    key_name = report.dimension.label.replace(" ", "_") if report.dimension is not None else "key"
    writer.writerow(["scope", key_name, *metric_names])

    def row(scope: str, key: str | None, metrics: Metrics) -> None:
        values = metrics.to_dict()
        writer.writerow(
            [
                scope,
                "" if key is None else key,
                *("" if values[n] is None else values[n] for n in metric_names),
            ]
        )

    if report.dimension is not None and report.dimension.kind != "day":
        for group in report.groups:
            row("group", group.key, group.metrics)
    for day in report.daily:
        row("day", day.key, day.metrics)
    row("total", None, report.total)
    return out.getvalue()


# --- formatting ---------------------------------------------------------------------------------------------


def format_count(n: int) -> str:
    return f"{n:,}"


def format_rate(rate: float | None, *, digits: int | None = None) -> str:
    """A rate as a percentage with enough digits to be read (``0.12%``, ``4.8%``, ``97%``); ``-`` for none."""
    if rate is None:
        return "\u2013"
    pct = rate * 100
    if digits is None:
        digits = (
            0 if pct >= 99.95 or pct == 0 else 1 if pct >= 10 else 2 if pct >= 1 else 3 if pct >= 0.01 else 4
        )
    return f"{pct:.{digits}f}%"


def _ms(value: float | None) -> str:
    if value is None:
        return "\u2013"
    if value >= 60_000:
        return f"{value / 60_000:.1f} min"
    if value >= 1_000:
        return f"{value / 1_000:.2f} s"
    return f"{value:.0f} ms"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


_STATUS_LABEL = {"healthy": "healthy", "review": "review level", "pause": "pause level", "no data": "no data"}
_STATUS_CLASS = {"healthy": "ok", "review": "warn", "pause": "bad", "no data": "none"}


def _chip(status: Status, text: str) -> str:
    return f'<span class="chip {_STATUS_CLASS[status]}">{_e(text)}</span>'


# --- SVG charts ---------------------------------------------------------------------------------------------

_BLUES = ("#1d4ed8", "#2563eb", "#3b82f6", "#60a5fa")


def funnel_svg(metrics: Metrics, width: int = 520) -> str:
    """Sent → delivered → opened → clicked as a centred funnel: counts on the left, share of sent on the
    right, and the conversion of each step between the bars."""
    stages = metrics.funnel
    top = stages[0][1] or max((n for _, n in stages), default=0) or 1
    bar_h, gap = 44, 26
    label_w, share_w = 120, 86
    lane = width - label_w - share_w
    height = len(stages) * bar_h + (len(stages) - 1) * gap + 4
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="Funnel: {_e(", ".join(f"{s} {n}" for s, n in stages))}">'
    ]
    for i, (stage, n) in enumerate(stages):
        y = i * (bar_h + gap) + 2
        share = n / top
        w = max(lane * min(share, 1.0), 3.0)
        x = label_w + (lane - w) / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="6" fill="{_BLUES[i % 4]}"/>'
        )
        parts.append(f'<text x="0" y="{y + 18}" class="funnel-stage">{_e(stage.capitalize())}</text>')
        parts.append(f'<text x="0" y="{y + 36}" class="funnel-count">{_e(format_count(n))}</text>')
        parts.append(
            f'<text x="{width}" y="{y + bar_h / 2 + 6:.1f}" text-anchor="end" class="funnel-share">'
            f"{_e(format_rate(share)) if i else '100%'}</text>"
        )
        if i:
            previous = stages[i - 1][1]
            parts.append(
                f'<text x="{label_w + lane / 2:.1f}" y="{y - gap / 2 + 4:.1f}" text-anchor="middle" '
                'class="step">'
                f"↓ {_e(format_rate(n / previous if previous else None))} of {_e(stages[i - 1][0])}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _axis(value: float, ticks: int = 4, *, integer: bool = False) -> tuple[float, float]:
    """A round axis maximum above ``value`` and its tick step (1, 2, 2.5 or 5 times a power of ten; whole
    numbers only for an ``integer`` axis)."""
    if value <= 0:
        return (4.0, 1.0) if integer else (1.0, 0.25)
    raw = value / ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    if integer:
        magnitude = max(magnitude, 1.0)
    for factor in (1, 2, 2.5, 5, 10):
        if integer and factor * magnitude != int(factor * magnitude):
            continue
        step = factor * magnitude
        if step * ticks >= value:
            break
    return step * math.ceil(value / step - 1e-9), step


def _x_labels(days: Sequence[str], x: Callable[[int], float], y: float, low: float, high: float) -> list[str]:
    """Day labels under a chart, kept inside its width."""
    out = []
    for i in _day_labels(days):
        at = x(i)
        anchor = "start" if at - 24 < low else "end" if at + 24 > high else "middle"
        out.append(
            f'<text x="{at:.1f}" y="{y}" text-anchor="{anchor}" class="axis">{_e(_short_day(days[i]))}</text>'
        )
    return out


def _day_labels(days: Sequence[str], max_labels: int = 8) -> list[int]:
    if len(days) <= max_labels:
        return list(range(len(days)))
    step = -(-len(days) // max_labels)
    return list(range(0, len(days), step))


def _short_day(day: str) -> str:
    try:
        return datetime.strptime(day, "%Y-%m-%d").strftime("%d %b")
    except ValueError:
        return day


def rate_chart_svg(
    title: str,
    days: Sequence[str],
    rates: Sequence[float | None],
    review: float,
    pause: float,
    *,
    width: int = 520,
    height: int = 230,
) -> str:
    """A daily rate line against the review and pause thresholds, the zones between them shaded."""
    left, right, top, bottom = 52, 16, 28, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max([r for r in rates if r is not None] + [pause * 1.15])
    y_max, tick = _axis(highest)

    def y(rate: float) -> float:
        return top + plot_h * (1 - min(rate, y_max) / y_max)

    n = len(days)

    def x(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(title)}">',
        f'<text x="{left}" y="16" class="chart-title">{_e(title)}</text>',
        # zones: healthy, review, pause
        f'<rect x="{left}" y="{y(review):.1f}" width="{plot_w}" height="{y(0) - y(review):.1f}" '
        'class="zone-ok"/>',
        f'<rect x="{left}" y="{y(pause):.1f}" width="{plot_w}" height="{y(review) - y(pause):.1f}" '
        'class="zone-warn"/>',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{y(pause) - top:.1f}" class="zone-bad"/>',
    ]
    for k in range(round(y_max / tick) + 1):
        value = tick * k
        yy = y(value)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" class="axis">'
            f"{_e(_compact_rate(value))}</text>"
        )
    crowded = y(review) - y(pause) < 16  # the two lines are too close for both labels above them
    for level, name, cls in ((review, "review", "th-warn"), (pause, "pause", "th-bad")):
        yy = y(level)
        # When crowded, the review label moves to the left end of its line, the pause label stays right.
        at_left = crowded and name == "review"
        label_x, anchor = (left + 4, "start") if at_left else (left + plot_w - 4, "end")
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" class="{cls}"/>')
        parts.append(
            f'<text x="{label_x}" y="{yy - 4:.1f}" text-anchor="{anchor}" class="th-label {cls}">'
            f"{_e(name)} {_e(_compact_rate(level))}</text>"
        )
    parts.extend(_x_labels(days, x, height - bottom + 16, left, left + plot_w))
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, rate in enumerate(rates):
        if rate is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{x(i):.1f},{y(rate):.1f}")
    if segment:
        segments.append(segment)
    for points in segments:
        if len(points) > 1:
            parts.append(f'<polyline points="{" ".join(points)}" class="line"/>')
    if n <= 62:
        for i, rate in enumerate(rates):
            if rate is None:
                continue
            cls = "pt-bad" if rate >= pause else "pt-warn" if rate >= review else "pt-ok"
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(rate):.1f}" r="3.2" class="{cls}">'
                f"<title>{_e(days[i])}: {_e(format_rate(rate))}</title></circle>"
            )
    if not any(r is not None for r in rates):
        parts.append(
            f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" class="axis">'
            "no mail sent in this range</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _compact_rate(rate: float) -> str:
    """A round rate without trailing zeros: ``5%``, ``0.1%``, ``2.5%``."""
    text = f"{rate * 100:.4f}".rstrip("0").rstrip(".")
    return f"{text}%"


def volume_chart_svg(
    days: Sequence[str], daily: Sequence[Metrics], *, width: int = 1060, height: int = 210
) -> str:
    """Daily sends as bars, with deliveries inside them and hard bounces stacked in red."""
    left, right, top, bottom = 60, 16, 28, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    y_max, tick = _axis(max([m.sent for m in daily] + [1]), integer=True)
    n = max(len(days), 1)
    slot = plot_w / n
    bar = max(min(slot * 0.7, 36), 1.5)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        'aria-label="Daily volume">',
        f'<text x="{left}" y="16" class="chart-title">Daily volume</text>',
        f'<g class="legend"><rect x="{width - 300}" y="7" width="10" height="10" class="bar-sent"/>'
        f'<text x="{width - 285}" y="16">sent</text>'
        f'<rect x="{width - 240}" y="7" width="10" height="10" class="bar-delivered"/>'
        f'<text x="{width - 225}" y="16">delivered</text>'
        f'<rect x="{width - 150}" y="7" width="10" height="10" class="bar-bounced"/>'
        f'<text x="{width - 135}" y="16">hard bounces</text></g>',
    ]
    for k in range(round(y_max / tick) + 1):
        value = tick * k
        yy = top + plot_h * (1 - value / y_max)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" class="axis">{value:,.0f}</text>'
        )
    for i, (day, m) in enumerate(zip(days, daily, strict=True)):
        cx = left + slot * (i + 0.5)
        for value, cls in ((m.sent, "bar-sent"), (m.delivered, "bar-delivered")):
            h = plot_h * min(value, y_max) / y_max
            parts.append(
                f'<rect x="{cx - bar / 2:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'class="{cls}"><title>{_e(day)}: {format_count(m.sent)} sent, {format_count(m.delivered)} '
                f"delivered, {format_count(m.hard_bounces)} hard bounces</title></rect>"
            )
        hb = plot_h * min(m.hard_bounces, y_max) / y_max
        base = top + plot_h - plot_h * min(m.delivered, y_max) / y_max
        if hb > 0:
            parts.append(
                f'<rect x="{cx - bar / 2:.1f}" y="{base - hb:.1f}" width="{bar:.1f}" height="{hb:.1f}" '
                'class="bar-bounced"/>'
            )
    parts.extend(
        _x_labels(days, lambda i: left + slot * (i + 0.5), height - bottom + 16, left, left + plot_w)
    )
    parts.append("</svg>")
    return "".join(parts)


# --- the page -----------------------------------------------------------------------------------------------

_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f3f5f8;color:#111827;
font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:32px 24px 48px}
header h1{margin:0;font-size:28px;letter-spacing:-.01em}
header p{margin:4px 0 0;color:#4b5563}
.banner{margin:20px 0 0;padding:12px 16px;border-radius:10px;font-weight:500}
.banner.warn{background:#fef3c7;color:#92400e;border:1px solid #fcd34d}
.banner.bad{background:#fee2e2;color:#991b1b;border:1px solid #fca5a5}
.banner.ok{background:#dcfce7;color:#166534;border:1px solid #86efac}
.kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:14px;margin:22px 0}
@media (max-width:760px){.kpis{grid-template-columns:repeat(2,1fr)}}
.card{background:#fff;border-radius:12px;padding:16px 18px;
box-shadow:0 1px 2px rgba(0,0,0,.06),0 2px 8px rgba(0,0,0,.04)}
.kpi .label{color:#6b7280;font-size:13px;text-transform:uppercase;letter-spacing:.04em}
.kpi .value{font-size:28px;font-weight:650;margin-top:2px;font-variant-numeric:tabular-nums}
.kpi .sub{color:#6b7280;font-size:13px;margin-top:2px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:14px;margin:14px 0}
@media (max-width:900px){.grid2{grid-template-columns:1fr}}
h2{font-size:17px;margin:0 0 10px}
.chart{max-width:100%;height:auto;display:block}
.chart text{font-size:12px;fill:#4b5563}
.chart .chart-title{font-size:13px;font-weight:600;fill:#111827}
.chart .funnel-stage{font-size:13px;fill:#6b7280;text-transform:uppercase;letter-spacing:.04em}
.chart .funnel-count{font-size:17px;font-weight:650;fill:#111827}
.chart .funnel-share{font-size:16px;font-weight:650;fill:#1d4ed8}
h2.sub-h{margin-top:22px}
.outcome{display:grid;grid-template-columns:140px 1fr 70px 64px;align-items:center;gap:10px;padding:4px 0;
font-size:14px;font-variant-numeric:tabular-nums}
.o-bar{height:10px;background:#f1f5f9;border-radius:5px;overflow:hidden}
.o-fill{display:block;height:100%;border-radius:5px}.o-fill.bad{background:#f87171}.o-fill.warn{background:#fbbf24}
.o-n{text-align:right;font-weight:600}.o-share{text-align:right;color:#6b7280}
.chart .step{font-size:12px;fill:#6b7280}
.grid{stroke:#e5e7eb;stroke-width:1}
.zone-ok{fill:#22c55e;opacity:.06}.zone-warn{fill:#f59e0b;opacity:.10}.zone-bad{fill:#ef4444;opacity:.10}
.th-warn{stroke:#d97706;stroke-width:1.5;stroke-dasharray:6 4}
.th-bad{stroke:#dc2626;stroke-width:1.5;stroke-dasharray:6 4}
text.th-warn,text.th-bad{font-weight:600;stroke:#fff;stroke-width:3px;stroke-dasharray:none;paint-order:stroke}
text.th-warn{fill:#b45309}text.th-bad{fill:#b91c1c}
.line{fill:none;stroke:#1d4ed8;stroke-width:2.2;stroke-linejoin:round}
.pt-ok{fill:#1d4ed8}.pt-warn{fill:#d97706}.pt-bad{fill:#dc2626}
.bar-sent{fill:#cbd5e1}.bar-delivered{fill:#3b82f6}.bar-bounced{fill:#ef4444}
.legend text{font-size:12px}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:8px 10px;text-align:right;border-bottom:1px solid #eef0f3;white-space:nowrap}
th{font-size:12px;color:#6b7280;text-transform:uppercase;letter-spacing:.03em;font-weight:600}
th:first-child,td:first-child{text-align:left}
td.key{max-width:280px;overflow:hidden;text-overflow:ellipsis;font-weight:500}
tr.total td{font-weight:650;border-top:2px solid #d1d5db;border-bottom:none}
.share{display:inline-block;height:6px;border-radius:3px;background:#93c5fd;vertical-align:middle;margin-right:8px}
.chip{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600}
.chip.ok{background:#dcfce7;color:#166534}.chip.warn{background:#fef3c7;color:#92400e}
.chip.bad{background:#fee2e2;color:#991b1b}.chip.none{background:#f3f4f6;color:#6b7280}
.muted{color:#6b7280}
footer{margin-top:22px;color:#6b7280;font-size:13px}
footer p{margin:6px 0}
.scroll{overflow-x:auto}
"""


def _range_text(report: ReportLike) -> str:
    since, until = report.time_range.since, report.time_range.until
    if since is None and until is None:
        return "all events"

    def day(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%d %b %Y")

    def midnight(moment: datetime) -> bool:
        return moment.astimezone(UTC).time() == datetime.min.time()

    if since is not None and until is not None and midnight(since) and midnight(until):
        return f"{day(since)} \u2013 {day(until - timedelta(days=1))} (UTC)"
    parts = []
    if since is not None:
        parts.append(f"from {since.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    if until is not None:
        parts.append(f"until {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    return " ".join(parts)


def _banner(report: ReportLike) -> str:
    total, th = report.total, report.thresholds
    problems = []
    for name, rate, status, review, pause in (
        ("bounce rate", total.bounce_rate, report.bounce_status, th.bounce_review, th.bounce_pause),
        (
            "complaint rate",
            total.complaint_rate,
            report.complaint_status,
            th.complaint_review,
            th.complaint_pause,
        ),
    ):
        if status == "pause":
            problems.append(
                (
                    "bad",
                    f"The {name} is {format_rate(rate)}: at or above {_compact_rate(pause)}, "
                    "where AWS may pause "
                    "the account's sending.",
                )
            )
        elif status == "review":
            problems.append(
                (
                    "warn",
                    f"The {name} is {format_rate(rate)}: at or above {_compact_rate(review)}, "
                    "where AWS may place "
                    "the account under review.",
                )
            )
    if not problems:
        if total.sent == 0:
            return ""
        return (
            '<div class="banner ok">Bounce and complaint rates are below the levels at which AWS reviews '
            "an account.</div>"
        )
    cls = "bad" if any(c == "bad" for c, _ in problems) else "warn"
    return f'<div class="banner {cls}">' + "<br>".join(_e(text) for _, text in problems) + "</div>"


def _kpis(report: ReportLike) -> str:
    t, th = report.total, report.thresholds

    def card(label: str, value: str, sub: str) -> str:
        return (
            f'<div class="card kpi"><div class="label">{_e(label)}</div><div class="value">{value}</div>'
            f'<div class="sub">{sub}</div></div>'
        )

    def limits(review: float, pause: float) -> str:
        return f'<span class="muted">review {_compact_rate(review)} · pause {_compact_rate(pause)}</span>'

    cards = [
        card("Sent", _e(format_count(t.sent)), "recipients"),
        card("Delivered", _e(format_rate(t.delivery_rate)), f"{_e(format_count(t.delivered))} recipients"),
        card(
            "Bounce rate",
            _e(format_rate(t.bounce_rate)),
            _chip(report.bounce_status, _STATUS_LABEL[report.bounce_status])
            + " "
            + limits(th.bounce_review, th.bounce_pause),
        ),
        card(
            "Complaint rate",
            _e(format_rate(t.complaint_rate)),
            _chip(report.complaint_status, _STATUS_LABEL[report.complaint_status])
            + " "
            + limits(th.complaint_review, th.complaint_pause),
        ),
        card(
            "Opened",
            _e(format_rate(t.open_rate)),
            f"{_e(format_count(t.opens_unique))} recipients · {_e(format_count(t.opens_total))} opens",
        ),
        card(
            "Clicked",
            _e(format_rate(t.click_rate)),
            f"{_e(format_count(t.clicks_unique))} recipients · {_e(format_count(t.clicks_total))} clicks",
        ),
        card(
            "Unsubscribed",
            _e(format_count(t.unsubscribes)),
            f"{_e(format_rate(t.unsubscribes / t.delivered if t.delivered else None))} of delivered",
        ),
        card(
            "Delivery time",
            _e(_ms(t.latency_p50_ms)),
            f"median · p90 {_e(_ms(t.latency_p90_ms))} · p99 {_e(_ms(t.latency_p99_ms))}",
        ),
    ]
    return '<section class="kpis">' + "".join(cards) + "</section>"


def _outcomes(metrics: Metrics) -> str:
    """What else happened, as a short list of proportional bars."""
    rows = [
        ("Hard bounces", metrics.hard_bounces, "bad"),
        ("Soft bounces", metrics.soft_bounces, "warn"),
        ("Delivery delays", metrics.delivery_delays, "warn"),
        ("Complaints", metrics.complaints, "bad"),
        ("Rejects", metrics.rejects, "bad"),
        ("Rendering failures", metrics.rendering_failures, "bad"),
        ("Unsubscribes", metrics.unsubscribes, "warn"),
    ]
    top = max([n for _, n, _ in rows] + [1])
    items = []
    for label, n, cls in rows:
        share = format_rate(n / metrics.sent if metrics.sent else None)
        items.append(
            f'<div class="outcome"><span class="o-label">{_e(label)}</span>'
            f'<span class="o-bar"><span class="o-fill {cls}" style="width:{100 * n / top:.1f}%">'
            "</span></span>"
            f'<span class="o-n">{_e(format_count(n))}</span><span class="o-share">{_e(share)}</span></div>'
        )
    return '<h2 class="sub-h">Other outcomes <span class="muted">(share of sent)</span></h2>' + "".join(items)


def _table(report: ReportLike, rows: Sequence[GroupRow], key_label: str) -> str:
    th = report.thresholds
    top = max([r.metrics.sent for r in rows] + [1])
    head = (
        f"<tr><th>{_e(key_label)}</th><th>sent</th><th>delivered</th><th>hard bounce</th><th>soft</th>"
        "<th>complaint</th><th>rejects</th><th>opened</th><th>clicked</th><th>unsub.</th><th>p50</th><th>p90</th></tr>"
    )

    def cells(m: Metrics) -> str:
        return (
            f"<td>{format_count(m.sent)}</td><td>{_e(format_rate(m.delivery_rate))}</td>"
            f"<td>{_chip(th.bounce_status(m.bounce_rate), format_rate(m.bounce_rate))}</td>"
            f"<td>{format_count(m.soft_bounces)}</td>"
            f"<td>{_chip(th.complaint_status(m.complaint_rate), format_rate(m.complaint_rate))}</td>"
            f"<td>{format_count(m.rejects)}</td><td>{_e(format_rate(m.open_rate))}</td>"
            f"<td>{_e(format_rate(m.click_rate))}</td><td>{format_count(m.unsubscribes)}</td>"
            f"<td>{_e(_ms(m.latency_p50_ms))}</td><td>{_e(_ms(m.latency_p90_ms))}</td>"
        )

    body = []
    for r in rows:
        width = 60 * r.metrics.sent / top
        key = "(none)" if r.key is None else r.key
        body.append(
            f'<tr><td class="key" title="{_e(key)}"><span class="share" style="width:{width:.0f}px"></span>'
            f"{_e(key)}</td>{cells(r.metrics)}</tr>"
        )
    body.append(f'<tr class="total"><td>All</td>{cells(report.total)}</tr>')
    return f'<div class="scroll"><table><thead>{head}</thead><tbody>{"".join(body)}</tbody></table></div>'


def calendar(report: ReportLike, *, max_days: int = 400) -> tuple[list[str], list[Metrics]]:
    """Every day of the report's range (or of its data, when the range is open or very long), with empty
    metrics for the days nothing happened, so that charts show time at its true scale."""
    known = {d.key: d.metrics for d in report.daily if d.key}
    if not known:
        return [], []
    first = date.fromisoformat(min(known))
    last = date.fromisoformat(max(known))
    since, until = report.time_range.since, report.time_range.until
    if since is not None and until is not None:
        start, end = since.astimezone(UTC).date(), (until - timedelta(microseconds=1)).astimezone(UTC).date()
        if (end - start).days < max_days:
            first, last = min(first, start), max(last, end)
    if (last - first).days >= max_days:
        keys = sorted(known)
        return keys, [known[k] for k in keys]
    days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    return days, [known.get(day, Metrics()) for day in days]


def report_html(report: ReportLike) -> str:
    """A self-contained HTML page: headline figures, the funnel, daily rates against the AWS thresholds,
    daily volume, and the breakdown table."""
    th = report.thresholds
    days, daily = calendar(report)
    by = f" · by {_e(report.dimension.label)}" if report.dimension is not None else ""
    subtitle = (
        f"{_e(_range_text(report))}{by} · {_e(report.location)} · {report.files_read} files · "
        f"generated {report.generated_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    )
    if report.dimension is not None:
        breakdown_rows, key_label, heading = (
            report.groups,
            report.dimension.label,
            f"By {report.dimension.label}",
        )
    else:
        breakdown_rows, key_label, heading = report.daily, "day", "By day"
    sections = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Email report \u2013 {_e(_range_text(report))}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<header><h1>Email report</h1><p>{subtitle}</p></header>",
        _banner(report),
        _kpis(report),
        '<section class="grid2">',
        f'<div class="card"><h2>Funnel</h2>{funnel_svg(report.total)}{_outcomes(report.total)}</div>',
        '<div class="card"><h2>Daily rates against the AWS thresholds</h2>',
        rate_chart_svg(
            "Bounce rate (hard bounces per send)",
            days,
            [m.bounce_rate for m in daily],
            th.bounce_review,
            th.bounce_pause,
        ),
        rate_chart_svg(
            "Complaint rate (complaints per send)",
            days,
            [m.complaint_rate for m in daily],
            th.complaint_review,
            th.complaint_pause,
        ),
        "</div></section>",
        f'<section class="card">{volume_chart_svg(days, daily)}</section>',
        f'<section class="card" style="margin-top:14px"><h2>{_e(heading)}</h2>'
        f"{_table(report, breakdown_rows, key_label)}</section>",
        "<footer>",
        "<p>Counts are per recipient: each recipient of a message is counted once per outcome, on the day it "
        "first happened. Bounce rate is hard (Permanent) bounces per send; complaint rate is complaints per "
        "send; open and click rates are unique opens and clicks per delivery.</p>",
        "<p>Thresholds: AWS may place an account under review at a bounce rate of "
        f"{_compact_rate(th.bounce_review)} "
        f"or a complaint rate of {_compact_rate(th.complaint_review)}, and may pause its sending at "
        f"{_compact_rate(th.bounce_pause)} or {_compact_rate(th.complaint_pause)} "
        "(Amazon SES Developer Guide, "
        "“Monitoring your sender reputation”). AWS measures over a representative volume of recent mail, so "
        "these figures estimate where an account stands.</p>",
        "</footer></main></body></html>",
    ]
    return "\n".join(s for s in sections if s) + "\n"
