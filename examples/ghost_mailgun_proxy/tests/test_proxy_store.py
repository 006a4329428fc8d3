"""The SQLite store: keyset pages that never repeat or skip, filters, and suppression bookkeeping."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from ..mapping import EventRow
from ..query import EventQuery, PageRequest, decode_token, paging
from ..store import Store

DOMAIN = "news.example.com"


def row(n: int, ts: float, *, event: str = "delivered", tags: tuple[str, ...] = ("bulk-email",)) -> EventRow:
    key = f"id-{n:03d}"
    return EventRow(
        id=key,
        event=event,
        timestamp=ts,
        recipient=f"m{n}@example.org",
        domain=DOMAIN,
        message_id="batch@news.example.com",
        severity="permanent" if event == "failed" else None,
        tags=tags,
        item=MappingProxyType({"id": key, "event": event, "timestamp": ts}),
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    db = Store(tmp_path / "proxy.sqlite3")
    # 40 events; timestamps tie in groups of four, so paging must order by (timestamp, id).
    db.add_events(row(n, 1000.0 + n // 4) for n in range(40))
    return db


def walk(store: Store, query: EventQuery) -> list[list[str]]:
    """Follow ``next`` until an empty page, as Ghost does; the ids of each page."""
    page = PageRequest(query)
    pages = []
    for _ in range(50):
        rows = store.page(DOMAIN, page)
        pages.append([key for _, key, _ in rows])
        if not rows:
            return pages
        links = paging("http://proxy.test", DOMAIN, page, [(ts, key) for ts, key, _ in rows])
        page = decode_token(links["next"].rsplit("/", 1)[1])
    raise AssertionError("no empty page")


def test_ascending_pages_cover_everything_once(store: Store) -> None:
    pages = walk(store, EventQuery(ascending=True, limit=7))
    assert [len(p) for p in pages] == [7, 7, 7, 7, 7, 5, 0]
    assert [key for p in pages for key in p] == [f"id-{n:03d}" for n in range(40)]


def test_descending_pages(store: Store) -> None:
    pages = walk(store, EventQuery(ascending=False, limit=9))
    assert [key for p in pages for key in p] == [f"id-{n:03d}" for n in reversed(range(40))]


def test_previous_and_last(store: Store) -> None:
    query = EventQuery(ascending=True, limit=6)
    first = store.page(DOMAIN, PageRequest(query))
    second = store.page(DOMAIN, PageRequest(query, "next", (first[-1][0], first[-1][1])))
    back = store.page(DOMAIN, PageRequest(query, "previous", (second[0][0], second[0][1])))
    assert [k for _, k, _ in back] == [k for _, k, _ in first]
    last = store.page(DOMAIN, PageRequest(query, "last"))
    assert [k for _, k, _ in last] == [f"id-{n:03d}" for n in range(34, 40)]
    assert store.page(DOMAIN, PageRequest(query, "previous", (first[0][0], first[0][1]))) == []


def test_the_empty_last_page_picks_up_later_events_without_repeating(store: Store) -> None:
    query = EventQuery(ascending=True, limit=50)
    everything = store.page(DOMAIN, PageRequest(query))
    cursor = (everything[-1][0], everything[-1][1])
    assert store.page(DOMAIN, PageRequest(query, "next", cursor)) == []
    store.add_events([row(40, 2000.0), row(41, 1001.0)])  # one new, one late with an old timestamp
    assert [k for _, k, _ in store.page(DOMAIN, PageRequest(query, "next", cursor))] == ["id-040"]


def test_filters(store: Store) -> None:
    store.add_events(
        [
            row(50, 1500.0, event="failed", tags=("bulk-email", "ghost-email")),
            row(51, 1501.0, event="opened", tags=("ghost-email",)),
        ]
    )

    def ids(**options: Any) -> list[str]:
        query = EventQuery(limit=300, ascending=True, **options)
        return [k for _, k, _ in store.page(DOMAIN, PageRequest(query))]

    assert ids(tags=("bulk-email", "ghost-email")) == ["id-050"]
    assert ids(tags=("ghost-email",)) == ["id-050", "id-051"]
    assert ids(tags=("ghost-email", "other"), tags_any=True) == ["id-050", "id-051"]
    assert ids(events=("failed", "opened")) == ["id-050", "id-051"]
    assert ids(events=("opened",), tags=("bulk-email",)) == []
    assert ids(begin=1008.0, end=1009.0) == [f"id-{n:03d}" for n in range(32, 40)]
    assert ids(severity="permanent") == ["id-050"]
    assert ids(recipient="m7@example.org") == ["id-007"]
    assert store.page("other.example.com", PageRequest(EventQuery())) == []


def test_stored_once_and_suppression_not_restored_by_a_redelivery(tmp_path: Path) -> None:
    db = Store(tmp_path / "s.sqlite3")
    bounce = EventRow(
        id="b1",
        event="failed",
        timestamp=1.0,
        recipient="Jane@Example.org",
        domain=DOMAIN,
        message_id="m",
        severity="permanent",
        tags=(),
        item=MappingProxyType({}),
        suppress="bounces",
    )
    assert db.add_events([bounce]) == 1
    assert db.suppression_of("jane@example.org") == "bounces"
    assert db.unsuppress("jane@example.org", "bounces") is True
    assert db.unsuppress("jane@example.org", "bounces") is False
    assert db.add_events([bounce]) == 0
    assert db.suppression_of("jane@example.org") is None
    db.suppress("jane@example.org", "complaints")
    db.suppress("jane@example.org", "bounces")
    assert db.suppression_of("JANE@example.org") == "bounces"
