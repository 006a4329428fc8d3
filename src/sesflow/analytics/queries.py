"""The report as SQL, for DuckDB (run by ``sesflow.analytics.build_report``) and Athena (Trino).

One query builder writes both dialects. The query reads the table of ``sesflow.analytics.schema``
(``ses_events``: the Athena table, or DuckDB's view of the same NDJSON files with the same column types),
turns each record into one row per recipient it concerns, filters by the event's own time, and aggregates with
``GROUPING SETS`` so that one scan gives the chosen breakdown, the daily series and the total.

Everything is the same text in both dialects except five functions, which ``Dialect`` spells:

==================== ============================================= ======================================
what                 DuckDB                                        Athena / Trino
==================== ============================================= ======================================
ISO 8601 text → time ``CAST(x AS TIMESTAMPTZ)``                    ``from_iso8601_timestamp(x)``
first value of a tag ``tags."k"[1]`` (see below)                   ``element_at(element_at(tags, 'k'), 1)``
addresses of a list  ``list_transform(l, lambda r: r.emailAddress)`` ``transform(l, r -> r.emailAddress)``
list contains        ``list_contains(l, v)``                       ``contains(l, v)``
percentile           ``quantile_cont(x, p)`` (exact)               ``approx_percentile(x, p)``
==================== ============================================= ======================================

The rest (``coalesce``, ``CASE``, ``CROSS JOIN UNNEST ... AS u(recipient)``, ``count(DISTINCT ...)``,
``date_diff('millisecond', a, b)``, ``split_part``, ``strpos``, ``regexp_extract``, ``substr``, ``concat``,
``GROUPING SETS`` and ``grouping()``) is written once.

``mail.tags`` is a ``map<string, array<string>>`` in Athena. DuckDB's view of the files declares it instead as
a struct of just the tags the query reads (``STRUCT("ses:configuration-set" VARCHAR[])``): building a map of
every tag of every record would triple the time DuckDB spends reading the lake.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Literal

import attrs

from ..events import TENANT_TAG, EventType, format_timestamp
from .lake import DEFAULT_ARRIVAL_LAG, TimeRange
from .schema import Struct, table_schema

__all__ = ["ATHENA", "DUCKDB", "Dialect", "Dimension", "report_columns", "report_sql"]


def quote(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


@attrs.frozen
class Dialect:
    """How one engine spells the few functions the report needs that differ between DuckDB and Trino."""

    name: str
    timestamp: Callable[[str], str]
    first_tag: Callable[[str, str], str]
    emails: Callable[[str], str]
    list_contains: Callable[[str, str], str]
    percentile: Callable[[str, float], str]
    statuses: Callable[[str], str]


DUCKDB = Dialect(
    name="duckdb",
    timestamp=lambda x: f"CAST({x} AS TIMESTAMPTZ)",
    first_tag=lambda tags, name: f'{tags}."{name.replace(chr(34), chr(34) * 2)}"[1]',
    emails=lambda items: f"list_transform({items}, lambda r: r.emailAddress)",
    list_contains=lambda items, value: f"list_contains({items}, {value})",
    percentile=lambda x, p: f"quantile_cont({x}, {p})",
    statuses=lambda items: f"list_transform({items}, lambda t: t.subscriptionStatus)",
)

ATHENA = Dialect(
    name="athena",
    timestamp=lambda x: f"from_iso8601_timestamp({x})",
    first_tag=lambda tags, name: f"element_at(element_at({tags}, {quote(name)}), 1)",
    emails=lambda items: f"transform({items}, r -> r.emailAddress)",
    list_contains=lambda items, value: f"contains({items}, {value})",
    percentile=lambda x, p: f"approx_percentile({x}, {p})",
    statuses=lambda items: f"transform({items}, t -> t.subscriptionStatus)",
)

_DIALECTS = {"duckdb": DUCKDB, "athena": ATHENA, "trino": ATHENA}

Kind = Literal["configuration_set", "tenant", "sender", "recipient_domain", "tag", "day"]
_KINDS: dict[str, Kind] = {
    "configuration_set": "configuration_set",
    "configuration-set": "configuration_set",
    "config-set": "configuration_set",
    "tenant": "tenant",
    "sender": "sender",
    "source": "sender",
    "recipient_domain": "recipient_domain",
    "recipient-domain": "recipient_domain",
    "domain": "recipient_domain",
    "day": "day",
    "date": "day",
}


# The dimensions SES publishes only as one of its auto-tags in mail.tags. Both names are lower case, so they
# survive Firehose's lower-casing of every JSON key (map keys included) in the Parquet layout.
_SOURCE_TAGS: dict[str, str] = {"configuration_set": "ses:configuration-set", "tenant": TENANT_TAG}


@attrs.frozen
class Dimension:
    """What a report is broken down by: configuration set, tenant, sender, recipient domain, a message tag, or
    day.

    ``Dimension.parse("tag:campaign")`` groups by the first value of the message tag ``campaign``;
    ``Dimension("tenant")`` by the tenant a message was sent for, which SES publishes as the tag
    ``ses:tenant-name`` (``event.tenant``).
    """

    kind: Kind
    tag: str | None = None

    def __attrs_post_init__(self) -> None:
        if (self.kind == "tag") != bool(self.tag):
            raise ValueError(
                "a tag dimension needs a tag name (and only it does): Dimension('tag', 'campaign')"
            )

    @classmethod
    def parse(cls, text: str | Dimension) -> Dimension:
        """``configuration-set``, ``tenant``, ``sender``, ``recipient-domain``, ``day`` or ``tag:NAME``."""
        if isinstance(text, Dimension):
            return text
        name = text.strip()
        if name.lower().startswith("tag:"):
            tag = name[4:]
            if not tag:
                raise ValueError("name the message tag to group by: tag:NAME (for example tag:campaign)")
            return cls("tag", tag)
        kind = _KINDS.get(name.lower().replace(" ", "-"))
        if kind is None:
            raise ValueError(
                f"cannot group by {text!r}: use configuration-set, tenant, sender, recipient-domain, day or "
                "tag:NAME"
            )
        return cls(kind)

    @property
    def source_tag(self) -> str | None:
        """The message tag whose first value is the group (``ses:configuration-set``, ``ses:tenant-name`` or
        the tag named), or None when the group is not read from a tag."""
        if self.kind == "tag":
            return self.tag
        return _SOURCE_TAGS.get(self.kind)

    @property
    def label(self) -> str:
        """A heading for the dimension's column (``"configuration set"``, ``"tag campaign"``)."""
        return f"tag {self.tag}" if self.kind == "tag" else self.kind.replace("_", " ")

    def __str__(self) -> str:
        return f"tag:{self.tag}" if self.kind == "tag" else self.kind.replace("_", "-")


# The outcomes counted per recipient, in output order: (column, event type). A Bounce is a hard bounce when
# its bounceType is Permanent and a soft one otherwise; a Subscription counts when it unsubscribes.
COUNTS: tuple[tuple[str, EventType], ...] = (
    ("sent", EventType.SEND),
    ("delivered", EventType.DELIVERY),
    ("hard_bounces", EventType.BOUNCE),
    ("soft_bounces", EventType.BOUNCE),
    ("complaints", EventType.COMPLAINT),
    ("rejects", EventType.REJECT),
    ("rendering_failures", EventType.RENDERING_FAILURE),
    ("delivery_delays", EventType.DELIVERY_DELAY),
    ("opens_unique", EventType.OPEN),
    ("clicks_unique", EventType.CLICK),
    ("unsubscribes", EventType.SUBSCRIPTION),
)
# Event totals: every event of the outcome, not only the first per recipient.
TOTALS: tuple[tuple[str, str], ...] = (("opens_total", "opens_unique"), ("clicks_total", "clicks_unique"))
PERCENTILES: tuple[tuple[str, float], ...] = (
    ("latency_p50_ms", 0.5),
    ("latency_p90_ms", 0.9),
    ("latency_p99_ms", 0.99),
)
RATES: tuple[tuple[str, str, str], ...] = (
    ("bounce_rate", "hard_bounces", "sent"),
    ("complaint_rate", "complaints", "sent"),
    ("delivery_rate", "delivered", "sent"),
    ("open_rate", "opens_unique", "delivered"),
    ("click_rate", "clicks_unique", "delivered"),
)


def report_columns() -> list[str]:
    """The columns of the report query's result, in order."""
    return [
        "grouping_set",
        "group_value",
        *(c for c, _ in COUNTS),
        *(c for c, _ in TOTALS),
        *(c for c, _ in PERCENTILES),
        *(c for c, _, _ in RATES),
    ]


def _event_time(schema: Struct) -> str:
    """``coalesce`` of every detail's ``timestamp`` (found in the models), then the send time."""
    parts = [
        f"{f.key}.timestamp"
        for f in schema.fields
        if f.key != "mail"
        and isinstance(f.type, Struct)
        and any(sub.key == "timestamp" for sub in f.type.fields)
    ]
    return f"coalesce({', '.join(parts)}, mail.timestamp)"


def _metric(event_type: str, unsubscribed: str) -> str:
    """The outcome a record counts towards (NULL: none, e.g. a Subscription that only opts in)."""
    whens = []
    for column, kind in COUNTS:
        if column == "hard_bounces":
            whens.append(
                f"WHEN {quote(kind.value)} THEN CASE WHEN bounce.bounceType = 'Permanent' "
                "THEN 'hard_bounces' ELSE 'soft_bounces' END"
            )
        elif column == "unsubscribes":
            whens.append(f"WHEN {quote(kind.value)} THEN CASE WHEN {unsubscribed} THEN 'unsubscribes' END")
        elif column != "soft_bounces":
            whens.append(f"WHEN {quote(kind.value)} THEN {quote(column)}")
    return f"CASE {event_type} " + " ".join(whens) + " END"


def _partition_predicate(time_range: TimeRange, arrival_lag: timedelta) -> str | None:
    first, last = time_range.days(arrival_lag)
    day = 'concat("year", "month", "day")'
    if first is not None and last is not None:
        return f"{day} BETWEEN {quote(first.strftime('%Y%m%d'))} AND {quote(last.strftime('%Y%m%d'))}"
    if first is not None:
        return f"{day} >= {quote(first.strftime('%Y%m%d'))}"
    if last is not None:
        return f"{day} <= {quote(last.strftime('%Y%m%d'))}"
    return None


def _dimension_expr(dimension: Dimension | None, d: Dialect) -> tuple[str | None, str]:
    """(record-level expression, or None; expression of the group value on a recipient row)."""
    if dimension is None:
        return None, "CAST(NULL AS VARCHAR)"
    tag = dimension.source_tag
    if tag is not None:
        return d.first_tag("mail.tags", tag), "r.dim"
    if dimension.kind == "sender":
        # The address inside "Display Name <address>", or the whole source when it has no angle brackets.
        source = "mail.source"
        inner = f"regexp_extract({source}, '<([^>]*)>', 1)"
        return (
            f"lower(CASE WHEN strpos({source}, '<') > 0 AND strpos({source}, '>') > strpos({source}, '<') "
            f"THEN {inner} ELSE {source} END)"
        ), "r.dim"
    if dimension.kind == "recipient_domain":
        return None, "lower(split_part(u.recipient, '@', 2))"
    return None, "substr(r.event_time, 1, 10)"


def report_sql(
    by: Dimension | str | None = None,
    *,
    time_range: TimeRange | None = None,
    dialect: Dialect | str = "athena",
    table: str = "ses_events",
    arrival_lag: timedelta = DEFAULT_ARRIVAL_LAG,
) -> str:
    """The report query for ``table`` (laid out by ``athena_ddl``).

    The result has one row per group of ``by`` (``grouping_set = 'group'``), one per day (``'day'``; the
    groups themselves when ``by`` is the day) and one total (``'total'``), with the columns of
    ``report_columns``. ``dialect`` is ``"athena"`` (Trino) or ``"duckdb"``; the module documentation
    lists the few functions that differ.

    How it counts: a record becomes one row per recipient it concerns; each (outcome, message, recipient)
    is counted once, on the UTC day it first happened, in the group of its message (so the days add up to
    the total, and a record delivered twice counts once); ``opens_total`` and ``clicks_total`` add up every
    event; latency is ``delivery.timestamp - mail.timestamp`` in milliseconds.
    """
    d = _DIALECTS[dialect] if isinstance(dialect, str) else dialect
    dimension = None if by is None else Dimension.parse(by)
    time_range = time_range or TimeRange()
    schema = table_schema()
    event_type = "coalesce(eventType, notificationType)"
    event_time = _event_time(schema)
    record_dim, row_dim = _dimension_expr(dimension, d)
    statuses = d.statuses("subscription.newTopicPreferences.topicSubscriptionStatus")
    unsubscribed = (
        "(coalesce(subscription.newTopicPreferences.unsubscribeAll, false)"
        f" OR coalesce({d.list_contains(statuses, quote('OptOut'))}, false))"
    )

    record_columns = [
        f"{_metric(event_type, unsubscribed)} AS metric",
        "mail.messageId AS message_id",
        f"{event_time} AS event_time",
        f"CASE {event_type}"
        " WHEN 'Delivery' THEN delivery.recipients"
        f" WHEN 'Bounce' THEN {d.emails('bounce.bouncedRecipients')}"
        f" WHEN 'Complaint' THEN {d.emails('complaint.complainedRecipients')}"
        f" WHEN 'DeliveryDelay' THEN {d.emails('deliveryDelay.delayedRecipients')}"
        " ELSE mail.destination END AS recipients",
        f"CASE WHEN {event_type} = 'Delivery' THEN date_diff('millisecond', "
        f"{d.timestamp('mail.timestamp')}, {d.timestamp('delivery.timestamp')}) END AS latency_ms",
    ]
    if record_dim is not None:
        record_columns.append(f"{record_dim} AS dim")
    where = []
    predicate = _partition_predicate(time_range, arrival_lag)
    if predicate is not None:
        where.append(predicate)
    if time_range.since is not None:
        where.append(f"{d.timestamp(event_time)} >= {d.timestamp(quote(format_timestamp(time_range.since)))}")
    if time_range.until is not None:
        where.append(f"{d.timestamp(event_time)} < {d.timestamp(quote(format_timestamp(time_range.until)))}")

    if dimension is None or dimension.kind == "day":
        # The day is the only grouping: its rows are the breakdown when grouping by day, the series otherwise.
        day_set = "'day'" if dimension is None else "'group'"
        sets = "(day), ()"
        grouping = f"CASE WHEN grouping(day) = 0 THEN {day_set} ELSE 'total' END"
        group_value = "CASE WHEN grouping(day) = 0 THEN day END"
    else:
        sets = "(grp), (day), ()"
        grouping = (
            "CASE WHEN grouping(grp) = 0 THEN 'group' WHEN grouping(day) = 0 THEN 'day' ELSE 'total' END"
        )
        group_value = "CASE WHEN grouping(grp) = 0 THEN grp WHEN grouping(day) = 0 THEN day END"

    aggregates = [f"sum(CASE WHEN metric = {quote(c)} THEN 1 ELSE 0 END) AS {c}" for c, _ in COUNTS]
    aggregates += [f"sum(CASE WHEN metric = {quote(of)} THEN events ELSE 0 END) AS {c}" for c, of in TOTALS]
    delivered_latency = "CASE WHEN metric = 'delivered' THEN latency_ms END"
    aggregates += [f"{d.percentile(delivered_latency, p)} AS {c}" for c, p in PERCENTILES]
    rates = [f"CAST({num} AS DOUBLE) / nullif({den}, 0) AS {column}" for column, num, den in RATES]
    outputs = [c for c, _ in COUNTS] + [c for c, _ in TOTALS] + [c for c, _ in PERCENTILES]

    lines = [
        "WITH records AS (",
        "  SELECT",
        ",\n".join(f"    {c}" for c in record_columns),
        f"  FROM {table}",
        *(["  WHERE " + "\n    AND ".join(where)] if where else []),
        "),",
        "outcomes AS (",
        "  SELECT",
        "    r.metric,",
        "    r.message_id,",
        "    u.recipient,",
        f"    min({row_dim}) AS grp,",
        "    min(substr(r.event_time, 1, 10)) AS day,",
        "    count(*) AS events,",
        "    min(r.latency_ms) AS latency_ms",
        "  FROM records r",
        "  CROSS JOIN UNNEST(r.recipients) AS u(recipient)",
        "  WHERE r.metric IS NOT NULL",
        "  GROUP BY r.metric, r.message_id, u.recipient",
        "),",
        "grouped AS (",
        "  SELECT",
        f"    {grouping} AS grouping_set,",
        f"    {group_value} AS group_value,",
        ",\n".join(f"    {a}" for a in aggregates),
        "  FROM outcomes",
        f"  GROUP BY GROUPING SETS ({sets})",
        ")",
        "SELECT",
        "  grouping_set,",
        "  group_value,",
        ",\n".join(f"  {c}" for c in outputs) + ",",
        ",\n".join(f"  {r}" for r in rates),
        "FROM grouped",
        "ORDER BY grouping_set, sent DESC, group_value",
    ]
    return "\n".join(lines) + "\n"
