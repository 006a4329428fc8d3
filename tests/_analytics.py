"""A lake of SES events whose report is known by construction, for the analytics tests.

Every message and every event is written out below, and :data:`EXPECTED` is counted by hand from this
construction (not by any code under test), per configuration set, tenant, campaign tag, sender, recipient
domain and day. Nothing here is random.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sesflow.analytics import LakeWriter, Metrics, Report
from sesflow.testing import make_record

DAY1 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY2 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY5 = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
BEFORE = datetime(2026, 2, 27, 9, 0, tzinfo=UTC)  # outside the range the tests report on
AFTER = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

SHOP = "Shop <Orders@Shop.example>"
NEWS = "news@news.example"

UNSUBSCRIBE = {
    "newTopicPreferences": {
        "unsubscribeAll": True,
        "topicSubscriptionStatus": [{"topicName": "weekly", "subscriptionStatus": "OptOut"}],
    }
}
OPT_OUT_OF_A_TOPIC = {
    "newTopicPreferences": {
        "unsubscribeAll": False,
        "topicSubscriptionStatus": [{"topicName": "weekly", "subscriptionStatus": "OptOut"}],
    }
}
OPT_IN = {
    "newTopicPreferences": {
        "unsubscribeAll": False,
        "topicSubscriptionStatus": [{"topicName": "weekly", "subscriptionStatus": "OptIn"}],
    }
}


def _record(event_type: str, message: dict[str, Any], delay_ms: int = 0, **detail: Any) -> dict[str, Any]:
    return make_record(
        event_type,
        recipients=message["recipients"],
        message_id=message["id"],
        sent_at=message["sent_at"],
        delay=timedelta(milliseconds=delay_ms),
        source=message["source"],
        configuration_set=message["config"],
        tags=message["tags"],
        tenant=message.get("tenant"),
        detail=detail or None,
    )


def known_records() -> list[dict[str, Any]]:
    """The records of the known lake, in the order they are written."""
    records: list[dict[str, Any]] = []

    # Day 1: ten one-recipient messages, configuration set "transactional", campaign "welcome", from SHOP.
    # Recipients 0-5 are at a.example, 6-9 at B.Example (a domain in capitals: grouped lower-cased).
    # The messages to 0-5 are sent for the tenant "acme", those to 6-9 for "globex".
    day1 = []
    for i in range(10):
        domain = "a.example" if i < 6 else "B.Example"
        day1.append(
            {
                "id": f"day1-{i}",
                "recipients": [f"user{i}@{domain}"],
                "sent_at": DAY1 + timedelta(minutes=i),
                "source": SHOP,
                "config": "transactional",
                "tags": {"campaign": "welcome"},
                "tenant": "acme" if i < 6 else "globex",
            }
        )
    for m in day1:
        records.append(_record("Send", m))
    for i, m in enumerate(day1[:8]):  # 8 deliveries, 1000 ms .. 8000 ms after the send
        records.append(_record("Delivery", m, delay_ms=1000 * (i + 1)))
    records.append(_record("Bounce", day1[8], 2000))  # a hard (Permanent) bounce
    records.append(_record("Bounce", day1[9], 2000, bounceType="Transient", bounceSubType="MailboxFull"))
    records.append(_record("DeliveryDelay", day1[9], 1000))
    records.append(_record("Complaint", day1[0], 60_000))
    for i in range(4):  # four recipients open; user0 opens three times
        records.append(_record("Open", day1[i], 120_000))
    records.append(_record("Open", day1[0], 180_000))
    records.append(_record("Open", day1[0], 240_000))
    records.append(_record("Click", day1[0], 200_000))  # two recipients click; user0 twice
    records.append(_record("Click", day1[0], 260_000))
    records.append(_record("Click", day1[1], 200_000))
    records.append(_record("Subscription", day1[2], 300_000, **UNSUBSCRIBE))
    records.append(_record("Subscription", day1[3], 300_000, **OPT_IN))  # not an unsubscribe
    records.append(_record("Subscription", day1[4], 300_000, **OPT_OUT_OF_A_TOPIC))

    # Day 2: five two-recipient messages at c.example, configuration set "marketing", campaign "promo"; the
    # first two (the rendering failure and the reject) for the tenant "globex", the other three for none.
    day2 = [
        {
            "id": f"day2-{i}",
            "recipients": [f"x{i}@c.example", f"y{i}@c.example"],
            "sent_at": DAY2 + timedelta(minutes=i),
            "source": NEWS,
            "config": "marketing",
            "tags": {"campaign": "promo"},
            "tenant": "globex" if i < 2 else None,
        }
        for i in range(5)
    ]
    records.append(_record("Rendering Failure", day2[0]))  # never sent
    for m in day2[1:]:
        records.append(_record("Send", m))
    records.append(_record("Reject", day2[1]))
    for m in day2[2:]:
        records.append(_record("Delivery", m, delay_ms=500))
    records.append(_record("Delivery", day2[2], delay_ms=500))  # delivered twice (at-least-once): counts once

    # Day 5: one message without a configuration set or campaign tag.
    lone = {
        "id": "day5-0",
        "recipients": ["solo@a.example"],
        "sent_at": DAY5,
        "source": NEWS,
        "config": None,
        "tags": {},
    }
    records.append(_record("Send", lone))
    records.append(_record("Delivery", lone, delay_ms=9000))

    # Outside the reported range (2026-03-01 .. 2026-03-05).
    for when, name in ((BEFORE, "before"), (AFTER, "after")):
        outside = {
            "id": f"{name}-0",
            "recipients": [f"{name}@a.example"],
            "sent_at": when,
            "source": SHOP,
            "config": "transactional",
            "tags": {"campaign": "welcome"},
            "tenant": "acme",
        }
        records.append(_record("Send", outside))
        records.append(_record("Bounce", outside, 1000))
    return records


@contextlib.contextmanager
def s3_bucket(endpoint: str, prefix: str) -> Iterator[tuple[Any, str]]:
    """A new bucket on the moto server, and its client; emptied and deleted afterwards, so the tests that
    share the server (some read moto's whole state) do not see the lake's binary objects."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    bucket = f"{prefix}-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    try:
        yield client, bucket
    finally:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for entry in page.get("Contents", ()):
                client.delete_object(Bucket=bucket, Key=entry["Key"])
        client.delete_bucket(Bucket=bucket)


def write_known_lake(root: Path, *, compress: bool = False) -> Path:
    """The known lake under ``root`` (its ``events/`` folder is returned)."""
    with LakeWriter(root / "events", compress=compress, max_records=7) as writer:
        for record in known_records():
            assert writer.write(record)
    return root / "events"


def _m(**counts: Any) -> dict[str, Any]:
    base = dict.fromkeys(
        (
            "sent",
            "delivered",
            "hard_bounces",
            "soft_bounces",
            "complaints",
            "rejects",
            "rendering_failures",
            "delivery_delays",
            "opens_unique",
            "clicks_unique",
            "unsubscribes",
            "opens_total",
            "clicks_total",
        ),
        0,
    )
    base.update(counts)
    return base


def _plus(*parts: dict[str, Any]) -> dict[str, Any]:
    """The counts of ``parts`` added up."""
    return {k: sum(part[k] for part in parts) for k in parts[0]}


# For the range 2026-03-01 .. 2026-03-05 (the BEFORE and AFTER messages excluded).
DAY1_COUNTS = _m(
    sent=10,
    delivered=8,
    hard_bounces=1,
    soft_bounces=1,
    complaints=1,
    delivery_delays=1,
    opens_unique=4,
    opens_total=6,
    clicks_unique=2,
    clicks_total=3,
    unsubscribes=2,  # unsubscribeAll, and an opt-out of a topic; the opt-in does not count
)
DAY2_COUNTS = _m(sent=8, delivered=6, rejects=2, rendering_failures=2)
DAY5_COUNTS = _m(sent=1, delivered=1)
TOTAL_COUNTS = _plus(DAY1_COUNTS, DAY2_COUNTS, DAY5_COUNTS)

# Day 1 by recipient domain. Users 0-5 (a.example, the tenant acme): all delivered, user0 complains, users 0-3
# open (user0 three times), users 0-1 click (user0 twice), users 2 and 4 unsubscribe. Users 6-9 (b.example,
# the tenant globex): delivered 6-7, hard bounce user8, soft bounce and delay user9.
DAY1_A = _m(
    sent=6,
    delivered=6,
    complaints=1,
    opens_unique=4,
    opens_total=6,
    clicks_unique=2,
    clicks_total=3,
    unsubscribes=2,
)
DAY1_B = _m(sent=4, delivered=2, hard_bounces=1, soft_bounces=1, delivery_delays=1)
assert _plus(DAY1_A, DAY1_B) == DAY1_COUNTS


EXPECTED_GROUPS: dict[str, dict[str | None, dict[str, Any]]] = {
    "configuration-set": {"transactional": DAY1_COUNTS, "marketing": DAY2_COUNTS, None: DAY5_COUNTS},
    "tag:campaign": {"welcome": DAY1_COUNTS, "promo": DAY2_COUNTS, None: DAY5_COUNTS},
    "tenant": {
        "acme": DAY1_A,
        # day 1's users 6-9, and day 2's rendering failure (never sent) and rejected message (two recipients
        # each)
        "globex": _plus(DAY1_B, _m(sent=2, rejects=2, rendering_failures=2)),
        # day 2's three delivered messages (two recipients each), and the day-5 message
        None: _plus(_m(sent=6, delivered=6), DAY5_COUNTS),
    },
    "sender": {
        "orders@shop.example": DAY1_COUNTS,
        "news@news.example": _plus(DAY2_COUNTS, DAY5_COUNTS),
    },
    "recipient-domain": {
        "a.example": _plus(DAY1_A, DAY5_COUNTS),  # the day-5 message went to a.example too
        "b.example": DAY1_B,
        "c.example": DAY2_COUNTS,
    },
    "day": {"2026-03-01": DAY1_COUNTS, "2026-03-02": DAY2_COUNTS, "2026-03-05": DAY5_COUNTS},
}

# Delivery latencies in the range, in ms: day 1 1000..8000; day 2 three messages x two recipients at 500;
# day 5 9000. Sorted: [500]*6 + [1000..8000] + [9000] (15 values).
LATENCIES = sorted([500] * 6 + [1000 * i for i in range(1, 9)] + [9000])


def counts(metrics: Metrics) -> dict[str, Any]:
    """The counts of ``metrics`` (no latencies, no rates): what the construction above states exactly."""
    return {
        k: v for k, v in metrics.to_dict().items() if not k.startswith("latency") and not k.endswith("rate")
    }


def comparable(report: Report) -> Any:
    """A report's totals, groups and days, its floats compared approximately (the engines' percentiles may
    differ in the last digits)."""
    import pytest

    def one(m: Metrics) -> dict[str, Any]:
        return {k: (pytest.approx(v) if isinstance(v, float) else v) for k, v in m.to_dict().items()}

    return (
        one(report.total),
        [(g.key, one(g.metrics)) for g in report.groups],
        [(g.key, one(g.metrics)) for g in report.daily],
    )
