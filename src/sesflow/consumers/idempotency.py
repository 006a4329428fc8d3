"""Idempotency: remember which SES events were handled, so a redelivered event does not run handlers twice.

SQS delivers at least once, SNS may publish a message twice, and a worker that crashes after its handlers ran
but before it deleted the message sees it again. A store keyed on the event's identity turns those repeats
into no-ops. The consumer checks the store before dispatching and marks the key only after every handler
succeeded, so a failed handler is retried, never skipped.

The key (``idempotency_key``) is a SHA-256 over the event's identity:

- the family (event publishing or feedback notification) and the event type,
- the SES message id (``mail.messageId``),
- the event's own timestamp (the detail's, e.g. ``bounce.timestamp``; the send time for Send and Reject),
- for bounces and complaints the ``feedbackId``; for every other type the recipients the event concerns
  (sorted), and for clicks the link as well.

Two deliveries of one event have the same key; two distinct events about one message (a delivery and a later
open, two opens at different times, bounces of different recipients) have different ones. Records that are not
events (subscription confirmations, topic validation) have no key and are always dispatched.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import operator
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from json.encoder import encode_basestring_ascii as _encode_string
from typing import Final, NoReturn, Protocol, runtime_checkable

from ..errors import ParseError
from ..events import BounceEvent, ClickEvent, ComplaintEvent, ParsedRecord, SesEvent, UnknownEvent

__all__ = [
    "IdempotencyStore",
    "MemoryIdempotencyStore",
    "SqliteIdempotencyStore",
    "idempotency_key",
]

logger = logging.getLogger("sesflow.consumers")

_KEY_VERSION: Final = "ses2"  # ses1 joined its parts with \x1f, which a hostile record could shift
_RECENT_COMMITS: Final = 1024


def idempotency_key(record: ParsedRecord) -> str | None:
    """The identity of an SES event as a short string (``ses2:<sha256 hex>``), or None for a control message.

    See the module documentation for what goes into it. Raises ``ParseError``, and nothing
    else, when the event has no identity that can be written down: an ``UnknownEvent``
    built from a mapping that holds something JSON cannot (a cycle, a key that is not a string or number, an
    integer of thousands of digits).
    """
    if not isinstance(record, SesEvent):
        return None
    if isinstance(record, UnknownEvent):
        # Unknown structure: the whole record is the identity.
        raw = _canonical_json(record.raw)
        parts = [record.family.value, record.type_name, record.mail.message_id, raw]
    else:
        parts = [
            record.family.value,
            record.event_type.value,
            record.mail.message_id,
            record.timestamp.isoformat(),
        ]
        feedback_id = None
        if isinstance(record, BounceEvent):
            feedback_id = record.bounce.feedback_id
        elif isinstance(record, ComplaintEvent):
            feedback_id = record.complaint.feedback_id
        if feedback_id:
            parts.append(f"feedback={feedback_id}")
        else:
            parts.append("to=" + _framed(sorted(record.recipients)))
        if isinstance(record, ClickEvent):
            parts.append(f"link={record.click.link}")
    # surrogatepass: a lone surrogate is valid JSON and kept by the parser; it must give a key, not an error.
    digest = hashlib.sha256(_framed(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{_KEY_VERSION}:{digest}"


def _framed(parts: list[str]) -> str:
    """``parts`` joined so that no choice of their text can make two different lists write the same string:
    each is preceded by its length (a separator alone could be part of a hostile message id or address)."""
    return "".join(f"{len(part)}:{part}" for part in parts)


class _Close:
    """In ``_canonical_json``'s work list: the end of the container ``ident``."""

    __slots__ = ("ident", "text")

    def __init__(self, ident: int, text: str) -> None:
        self.ident = ident
        self.text = text


class _Text(str):
    """In ``_canonical_json``'s work list: punctuation to write as it is (never the type of a value)."""

    __slots__ = ()


_COMMA, _COLON = _Text(","), _Text(":")
_first = operator.itemgetter(0)
_CONSTANTS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _canonical_json(raw: Mapping[str, object]) -> str:
    """``raw`` as JSON with sorted keys and no spaces: for a decoded record, exactly what
    ``json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)`` writes (the key of an unknown
    event is built from that text).

    Built from a work list rather than by recursion, so the depth of the record does not matter; a mapping
    passed to ``parse_event`` may hold what ``json.dumps`` refuses, which raises ``ParseError`` here.
    """

    def refuse(reason: str) -> NoReturn:
        raise ParseError(f"no idempotency key: the record {reason}", raw=raw)

    try:
        return _write_json(raw, refuse)
    except ParseError:
        raise
    except Exception as exc:  # a mapping passed in may hold objects whose methods fail in any way
        refuse(f"holds a value that cannot be written ({type(exc).__name__})")


def _write_json(raw: Mapping[str, object], refuse: Callable[[str], NoReturn]) -> str:
    out: list[str] = []
    todo: list[object] = [raw]
    open_containers: set[int] = set()
    while todo:
        item = todo.pop()
        kind = type(item)
        if kind is _Text:
            out.append(item)  # type: ignore[arg-type]
        elif kind is _Close:
            open_containers.discard(item.ident)  # type: ignore[attr-defined]
            out.append(item.text)  # type: ignore[attr-defined]
        elif item is None:
            out.append("null")
        elif item is True:
            out.append("true")
        elif item is False:
            out.append("false")
        elif isinstance(item, str):
            out.append(_encode_string(item))
        elif isinstance(item, int):
            try:
                out.append(int.__repr__(item))
            except ValueError:  # more digits than int -> str allows
                refuse("holds an integer too large to write")
        elif isinstance(item, float):
            text = float.__repr__(item)
            out.append(_CONSTANTS.get(text, text))
        elif isinstance(item, (list, tuple, Mapping)):
            ident = id(item)
            if ident in open_containers:
                refuse("contains itself")
            open_containers.add(ident)
            if isinstance(item, Mapping):
                out.append("{")
                todo.append(_Close(ident, "}"))
                # By key only (stable): two keys may be written alike ({1: .., "1": ..}), as json.dumps does.
                entries = sorted([(_json_key(key, refuse), value) for key, value in item.items()], key=_first)
                for n, (key, value) in enumerate(reversed(entries)):
                    if n:
                        todo.append(_COMMA)
                    todo.extend((value, _COLON, _Text(_encode_string(key))))
            else:
                out.append("[")
                todo.append(_Close(ident, "]"))
                for n, value in enumerate(reversed(item)):
                    if n:
                        todo.append(_COMMA)
                    todo.append(value)
        else:  # not a JSON value (only in a mapping passed in): its text, as json.dumps(default=str) did
            try:
                text = str(item)
            except Exception:
                refuse(f"holds a {kind.__name__} that cannot be written")
            out.append(_encode_string(text))
    return "".join(out)


def _json_key(key: object, refuse: Callable[[str], NoReturn]) -> str:
    """A mapping's key as JSON writes it (json.dumps turns numbers, booleans and None into strings)."""
    if isinstance(key, str):
        return key
    if key is None or key is True or key is False:
        return "null" if key is None else ("true" if key else "false")
    if isinstance(key, int):
        try:
            return int.__repr__(key)
        except ValueError:
            refuse("has an integer key too large to write")
    if isinstance(key, float):
        text = float.__repr__(key)
        return _CONSTANTS.get(text, text)
    refuse(f"has a key of type {type(key).__name__}")


@runtime_checkable
class IdempotencyStore(Protocol):
    """What a consumer needs from an idempotency store. Implement it over Redis, DynamoDB, your database...

    ``seen(key)`` is true when ``mark(key)`` was called for the key and it has not expired. Both may be called
    from several threads at once. A store whose methods block (disk, network) should have a class attribute
    ``blocking = True``: ``AsyncSqsConsumer`` then calls it in a worker thread
    instead of on the event loop (a store without the attribute is treated as blocking).
    """

    def seen(self, key: str) -> bool: ...

    def mark(self, key: str) -> None: ...


def _check_ttl(ttl: timedelta) -> float:
    seconds = ttl.total_seconds()
    if seconds <= 0:
        raise ValueError(f"ttl must be positive, got {ttl}")
    return seconds


class MemoryIdempotencyStore:
    """An in-process store: bounded (least recently marked keys go first) and with a time to live.

    It forgets everything when the process ends, so it only protects against repeats within one worker's life
    (SNS duplicates, redeliveries after a failed delete). Use ``SqliteIdempotencyStore`` (or your own
    shared store) to survive restarts and to share between workers.

    Args:
        max_entries: how many keys to keep.
        ttl: how long a key is remembered.
        clock: seconds on a monotonic clock (``time.monotonic`` when omitted), for tests.
    """

    blocking = False

    def __init__(
        self,
        *,
        max_entries: int = 100_000,
        ttl: timedelta = timedelta(hours=24),
        clock: Callable[[], float] | None = None,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._max = max_entries
        self._ttl = _check_ttl(ttl)
        self._clock = clock or time.monotonic
        self._keys: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._lock = threading.Lock()

    def seen(self, key: str) -> bool:
        with self._lock:
            expires = self._keys.get(key)
            if expires is None:
                return False
            if expires <= self._clock():
                del self._keys[key]
                return False
            return True

    def mark(self, key: str) -> None:
        with self._lock:
            self._keys[key] = self._clock() + self._ttl
            self._keys.move_to_end(key)
            while len(self._keys) > self._max:
                self._keys.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)


class SqliteIdempotencyStore:
    """A store in an SQLite file: survives restarts and is shared by the workers of one host.

    Each thread gets its own connection (WAL mode, so readers do not block the writer). Keys expire after
    ``ttl``; expired keys are purged when the store opens and every ``purge_every`` marks. With
    ``durable=True`` (the default) every mark is synced to disk before it returns (``synchronous=FULL``);
    ``durable=False`` (``synchronous=NORMAL``) is faster and still survives a crash of the process, but the
    last marks may be lost if the machine loses power.

    ``transaction`` lets a handler write its own effects to the same database in one transaction with the
    mark, which makes the effect happen exactly once even across a crash (see the consumers documentation).

    Args:
        path: the database file (created if missing); ``":memory:"`` is refused, since each thread would get
            its own empty database.
        ttl: how long a key is remembered; keep it longer than a message can stay in the queue and its
            dead-letter queue (SQS keeps messages at most 14 days).
        table: the table name.
        clock: seconds since the epoch (``time.time`` when omitted), for tests.
    """

    blocking = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        ttl: timedelta = timedelta(days=14),
        table: str = "sesflow_idempotency",
        durable: bool = True,
        purge_every: int = 1000,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if str(path) == ":memory:":
            raise ValueError("SqliteIdempotencyStore needs a file; use MemoryIdempotencyStore for memory")
        if not table.replace("_", "").isalnum():
            raise ValueError(f"table must be letters, digits and underscores, got {table!r}")
        self.path = os.fspath(path)
        self._ttl = _check_ttl(ttl)
        self._table = table
        self._sync = "FULL" if durable else "NORMAL"
        self._purge_every = max(1, purge_every)
        self._clock = clock or time.time
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._marks = 0
        self._closed = False
        # Keys transaction() committed and the consumer is about to mark again: that second write is skipped.
        self._committed: collections.OrderedDict[str, bool] = collections.OrderedDict()
        # The table name is checked above (letters, digits, underscores), so formatting it in is safe.
        self._sql_seen = f"SELECT 1 FROM {table} WHERE key = ? AND expires_at > ?"  # noqa: S608
        self._sql_mark = f"INSERT OR REPLACE INTO {table} (key, expires_at) VALUES (?, ?)"  # noqa: S608
        self._sql_purge = f"DELETE FROM {table} WHERE expires_at <= ?"  # noqa: S608
        self._sql_count = f"SELECT count(*) FROM {table} WHERE expires_at > ?"  # noqa: S608
        self.connection().execute(
            f"CREATE TABLE IF NOT EXISTS {table} "
            "(key TEXT PRIMARY KEY, expires_at REAL NOT NULL) WITHOUT ROWID"
        )
        self.purge()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection to the database (in autocommit mode: transactions are explicit)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError("the SqliteIdempotencyStore is closed")
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._sync}")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def seen(self, key: str) -> bool:
        row = self.connection().execute(self._sql_seen, (key, self._clock())).fetchone()
        return row is not None

    def _insert(self, conn: sqlite3.Connection, key: str) -> None:
        conn.execute(self._sql_mark, (key, self._clock() + self._ttl))

    def mark(self, key: str) -> None:
        with self._lock:
            if self._committed.pop(key, None) is not None:
                return  # transaction() just marked it, in the same commit as the handler's effects
        self._insert(self.connection(), key)
        self._after_mark()

    def _after_mark(self) -> None:
        with self._lock:
            self._marks += 1
            purge = self._marks % self._purge_every == 0
        if purge:
            self.purge()

    @contextmanager
    def transaction(self, record_or_key: ParsedRecord | str) -> Iterator[sqlite3.Connection]:
        """One transaction on this thread's connection that also marks the event's key when it commits.

        Write a handler's effects through the yielded connection:

            @router.on_bounce
            def suppress(event):
                with store.transaction(event) as db:
                    db.execute("INSERT OR IGNORE INTO suppressed VALUES (?)", (event.recipients[0],))

        If the block raises, nothing is written and the key stays unmarked (the message is retried). If it
        commits, the effects and the mark are on disk together, so a crash at any point neither loses the
        effect nor lets a redelivery repeat it. The transaction takes SQLite's write lock at once
        (``BEGIN IMMEDIATE``), so keep it short.
        """
        key = record_or_key if isinstance(record_or_key, str) else idempotency_key(record_or_key)
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            if key is not None:
                self._insert(conn, key)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        if key is not None:
            with self._lock:
                self._committed[key] = True
                while len(self._committed) > _RECENT_COMMITS:
                    self._committed.popitem(last=False)
            self._after_mark()

    def purge(self) -> int:
        """Delete expired keys; returns how many were deleted."""
        cursor = self.connection().execute(self._sql_purge, (self._clock(),))
        if cursor.rowcount:
            logger.debug("purged %d expired idempotency keys from %s", cursor.rowcount, self.path)
        return cursor.rowcount

    def __len__(self) -> int:
        row = self.connection().execute(self._sql_count, (self._clock(),)).fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close every connection the store opened (in any thread)."""
        with self._lock:
            connections, self._all = self._all, []
            self._closed = True
        for conn in connections:
            conn.close()
        self._local = threading.local()

    def __enter__(self) -> SqliteIdempotencyStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
