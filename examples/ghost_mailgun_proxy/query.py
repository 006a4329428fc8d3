"""The events endpoint's query, its opaque page tokens and its ``paging`` links. Pure: no IO.

Ghost asks ``GET /v3/{domain}/events?begin=...&ascending=yes&limit=300&event=delivered OR failed`` (with
``tags=bulk-email``), then re-sends the same query to ``/events/{token}`` with the last path segment of
``paging.next`` until a page comes back empty.

Pages are keyset pages over ``(timestamp, id)``: a token holds the whole query, which way to go
(``next``/``previous``/``first``/``last``) and the key of the item to continue from, so a page never repeats
or skips an item however many events arrive in between, and the page after the last item is empty.
A token is base64url (one URL-safe path segment) of a small JSON object; when a token is given, it decides the
query (the query string Ghost re-sends is the same one anyway).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import attrs

from sesflow.errors import SesflowError

from .mailgun import MailgunRequestError, parse_bool, parse_date
from .mapping import EVENT_NAMES

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "EventQuery",
    "PageRequest",
    "Position",
    "QueryError",
    "decode_token",
    "encode_token",
    "paging",
    "parse_query",
]

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 300
_AND: Final = re.compile(r"\s+AND\s+")
_OR: Final = re.compile(r"\s+OR\s+")

Position = Literal["first", "last", "next", "previous"]
_POSITIONS: Final = ("first", "last", "next", "previous")


class QueryError(SesflowError):
    """A query or page token the events endpoint cannot answer (a 400; the message is the response body)."""


@attrs.frozen
class EventQuery:
    """What to list: every given filter must hold.

    ``begin``/``end`` bound the time range (inclusive) in the order of traversal: ascending from ``begin`` up
    to ``end``, or descending from ``begin`` down to ``end``.
    """

    events: tuple[str, ...] = ()
    """Event names, any of which matches (Mailgun's ``OR``)."""
    tags: tuple[str, ...] = ()
    tags_any: bool = False
    """False: every tag must be on the event (``AND``); True: any of them (``OR``)."""
    begin: float | None = None
    end: float | None = None
    ascending: bool = False
    limit: int = DEFAULT_LIMIT
    recipient: str | None = None
    message_id: str | None = None
    severity: str | None = None

    @property
    def time_range(self) -> tuple[float | None, float | None]:
        """(lowest, highest) timestamp to include."""
        if self.begin is not None and self.end is not None:
            return min(self.begin, self.end), max(self.begin, self.end)
        if self.ascending:
            return self.begin, self.end
        return self.end, self.begin

    def to_json(self) -> dict[str, Any]:
        """The query as short JSON (defaults left out)."""
        out: dict[str, Any] = {"a": self.ascending, "l": self.limit}
        for key, value in (
            ("e", list(self.events)),
            ("t", list(self.tags)),
            ("to", self.tags_any),
            ("b", self.begin),
            ("n", self.end),
            ("r", self.recipient),
            ("m", self.message_id),
            ("s", self.severity),
        ):
            if value:
                out[key] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EventQuery:
        """The query :meth:`to_json` wrote."""

        def floats(value: object) -> float | None:
            if value is None:
                return None
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            raise TypeError("a time is a number")

        def text(value: object) -> str | None:
            if value is None or isinstance(value, str):
                return value
            raise TypeError("not a string")

        events, tags, limit = data.get("e", []), data.get("t", []), data.get("l", DEFAULT_LIMIT)
        if not isinstance(events, list) or not all(isinstance(e, str) and e in EVENT_NAMES for e in events):
            raise TypeError("unknown events")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise TypeError("tags are strings")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
            raise TypeError("bad limit")
        return cls(
            events=tuple(events),
            tags=tuple(tags),
            tags_any=bool(data.get("to", False)),
            begin=floats(data.get("b")),
            end=floats(data.get("n")),
            ascending=bool(data.get("a", False)),
            limit=limit,
            recipient=text(data.get("r")),
            message_id=text(data.get("m")),
            severity=text(data.get("s")),
        )


@attrs.frozen
class PageRequest:
    """One page of a query: from the start (``first``), the end (``last``), or after/before ``cursor``."""

    query: EventQuery
    position: Position = "first"
    cursor: tuple[float, str] | None = None
    """The ``(timestamp, id)`` of the item to continue from (exclusive); None from the start."""


def _given(params: Mapping[str, str], name: str) -> str | None:
    """A query parameter, with mailgun.js's ``undefined`` (an unset value) and empty strings as absent."""
    value = params.get(name)
    if value is None:
        return None
    value = value.strip()
    return None if value in ("", "undefined", "null") else value


def parse_query(params: Mapping[str, str]) -> EventQuery:
    """The :class:`EventQuery` of the events endpoint's query string; :class:`QueryError` when unreadable."""
    try:
        begin_text, end_text = _given(params, "begin"), _given(params, "end")
        begin = None if begin_text is None else parse_date(begin_text, "begin")
        end = None if end_text is None else parse_date(end_text, "end")
        ascending = parse_bool(_given(params, "ascending"), "ascending")
    except MailgunRequestError as exc:
        raise QueryError(str(exc)) from None
    if ascending is None:
        ascending = begin <= end if begin is not None and end is not None else begin is not None

    limit_text = _given(params, "limit")
    limit = DEFAULT_LIMIT
    if limit_text is not None:
        try:
            limit = int(limit_text)
        except ValueError:
            raise QueryError(f"limit {limit_text!r} is not a whole number") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")

    events: tuple[str, ...] = ()
    event_text = _given(params, "event")
    if event_text is not None:
        events = tuple(dict.fromkeys(part.strip() for part in _OR.split(event_text) if part.strip()))
        unknown = [e for e in events if e not in EVENT_NAMES]
        if unknown:
            raise QueryError(
                f"event filter {event_text!r} names unknown events {unknown}: "
                f"use {sorted(EVENT_NAMES)} joined with ' OR '"
            )

    tags: tuple[str, ...] = ()
    tags_any = False
    tag_text = _given(params, "tags")
    if tag_text is not None:
        and_parts, or_parts = _AND.split(tag_text), _OR.split(tag_text)
        if len(and_parts) > 1 and len(or_parts) > 1:
            raise QueryError("tags filter mixes AND and OR: use one of them")
        tags_any = len(or_parts) > 1
        tags = tuple(dict.fromkeys(p.strip() for p in (or_parts if tags_any else and_parts) if p.strip()))
        if any(t.startswith("NOT ") or t in ("(", ")") for t in tags):
            raise QueryError("tags filter: only AND or OR of plain tags is supported")

    severity = _given(params, "severity")
    if severity is not None and severity not in ("permanent", "temporary"):
        raise QueryError(f"severity must be permanent or temporary, not {severity!r}")
    message_id = _given(params, "message-id")
    recipient = _given(params, "recipient")
    return EventQuery(
        events=events,
        tags=tags,
        tags_any=tags_any,
        begin=begin,
        end=end,
        ascending=ascending,
        limit=limit,
        recipient=None if recipient is None else recipient.lower(),
        message_id=None if message_id is None else message_id.strip("<>"),
        severity=severity,
    )


def encode_token(page: PageRequest) -> str:
    """The page token of ``page``: one URL-safe path segment."""
    data: dict[str, Any] = {"v": 1, "p": page.position, "q": page.query.to_json()}
    if page.cursor is not None:
        data["c"] = [page.cursor[0], page.cursor[1]]
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_token(token: str) -> PageRequest:
    """The :class:`PageRequest` of a token :func:`encode_token` made; :class:`QueryError` otherwise."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("v") != 1 or data.get("p") not in _POSITIONS:
            raise TypeError("not a page token")
        cursor: tuple[float, str] | None = None
        if data.get("c") is not None:
            ts, key = data["c"]
            if not isinstance(ts, int | float) or isinstance(ts, bool) or not isinstance(key, str):
                raise TypeError("bad cursor")
            cursor = (float(ts), key)
        query = data.get("q")
        if not isinstance(query, dict):
            raise TypeError("no query")
        return PageRequest(EventQuery.from_json(query), data["p"], cursor)
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise QueryError(
            f"{token[:40]!r} is not a page token of this proxy: start again from /events without a token"
        ) from None


def paging(
    base_url: str, domain: str, page: PageRequest, keys: Sequence[tuple[float, str]]
) -> dict[str, str]:
    """The four absolute ``paging`` URLs of a page whose items have ``keys`` (in the order returned).

    ``next`` continues after the last item and ``previous`` before the first; on an empty page both stay
    where the page was, so following ``next`` again returns what has arrived since (or nothing). Without a
    cursor, ``next`` starts at the beginning and ``previous`` at the end.
    """
    base = f"{base_url.rstrip('/')}/v3/{domain}/events/"
    query = page.query

    def url(position: Position, cursor: tuple[float, str] | None) -> str:
        return base + encode_token(PageRequest(query, position, cursor))

    after = keys[-1] if keys else page.cursor
    before = keys[0] if keys else page.cursor
    return {
        "first": url("first", None),
        "last": url("last", None),
        "next": url("next", after),
        "previous": url("previous", before),
    }
