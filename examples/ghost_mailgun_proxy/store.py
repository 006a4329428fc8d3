"""The proxy's SQLite database: batches and their recipients' send state, events, and the suppression list.

One connection, used from worker threads one call at a time (``await store.run(store.method, ...)`` keeps the
event loop free). Every write is one transaction, committed with ``synchronous=FULL``: a batch Ghost was told
is queued is on disk before the answer leaves, and a recipient's state change and the events it produces are
written together or not at all.

Recipient states: ``pending`` (to send), ``sending`` (claimed: the intent to send attempt ``attempt``,
tagged with ``send_id``, is committed and its request may be in flight), ``sent`` (with SES's message id),
``failed`` (SES refused it, or sesflow did), ``skipped`` (suppressed address), ``testmode``,
``unconfirmed`` (its request may have left but no answer was recorded: waiting for an SES event with its tag,
see :mod:`.reconcile`), and ``unknown`` (the same without ``Send`` events to wait for: given up).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, ParamSpec, TypeAlias, TypeVar

import attrs

from .compose import substitute
from .crashpoints import crash_point
from .mailgun import Batch, Recipient
from .mapping import EventRow, MessageInfo, Suppression
from .query import PageRequest
from .reconcile import Acceptance, Doubt, DoubtState, acceptance, send_id

__all__ = ["Accepted", "RecipientState", "Store", "message_info"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

RecipientState: TypeAlias = Literal[
    "pending", "sending", "sent", "failed", "skipped", "testmode", "unconfirmed", "unknown"
]
_SUPPRESSION_ORDER: Final[tuple[Suppression, ...]] = ("bounces", "complaints", "unsubscribes")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    domain TEXT NOT NULL,
    meta TEXT NOT NULL,
    html TEXT,
    text TEXT,
    configuration_set TEXT NOT NULL,
    deliver_at REAL,
    created_at REAL NOT NULL,
    finished_at REAL,
    fingerprint TEXT UNIQUE
);
CREATE TABLE IF NOT EXISTS recipients (
    batch_id TEXT NOT NULL REFERENCES batches(id),
    idx INTEGER NOT NULL,
    to_field TEXT NOT NULL,
    address TEXT NOT NULL,
    variables TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    ses_message_id TEXT,
    detail TEXT,
    updated_at REAL,
    send_id TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    claimed_at REAL,
    PRIMARY KEY (batch_id, idx)
);
CREATE INDEX IF NOT EXISTS recipients_by_state ON recipients (state, batch_id);
CREATE INDEX IF NOT EXISTS recipients_by_ses_id ON recipients (ses_message_id);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    domain TEXT,
    event TEXT NOT NULL,
    timestamp REAL NOT NULL,
    recipient TEXT NOT NULL,
    message_id TEXT,
    severity TEXT,
    item TEXT NOT NULL,
    stored_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (domain, timestamp, id);
CREATE TABLE IF NOT EXISTS event_tags (
    event_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (tag, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS suppressions (
    address TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (address, kind)
) WITHOUT ROWID;
"""


# Columns added since the first release: a database made by it gets them when it is opened.
_ADDED_COLUMNS: Final = (
    ("send_id", "TEXT"),
    ("attempt", "INTEGER NOT NULL DEFAULT 0"),
    ("claimed_at", "REAL"),
)

_SUPPRESS: Final = (
    "INSERT OR IGNORE INTO suppressions (address, kind, reason, created_at) VALUES (?, ?, ?, ?)"
)


def message_info(batch: Batch, recipient: Recipient) -> MessageInfo:
    """What the events of ``recipient``'s message say about it."""
    return MessageInfo(
        message_id=batch.id,
        domain=batch.domain,
        tags=batch.tags,
        user_variables=batch.user_variables,
        sender=batch.sender,
        subject=substitute(batch.subject, recipient),
        to=recipient.to,
        track_opens=batch.track_opens is not False,
        track_clicks=batch.track_clicks is not False,
    )


@attrs.frozen
class Accepted:
    """What recording an accepted message did: its recipient (all None if no recipient has that send id:
    a message of another database), what :func:`.reconcile.acceptance` decided, and the state before."""

    batch_id: str | None
    index: int | None
    address: str | None
    outcome: Acceptance | None
    previous: str | None


def _recipient(row: sqlite3.Row) -> Recipient:
    return Recipient(
        row["idx"], row["to_field"], row["address"], MappingProxyType(json.loads(row["variables"]))
    )


class Store:
    """The database at ``path`` (created with its tables when new); ``":memory:"`` for a throwaway one."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = str(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        present = {row["name"] for row in self._db.execute("PRAGMA table_info(recipients)")}
        for column, declaration in _ADDED_COLUMNS:
            if column not in present:
                self._db.execute(f"ALTER TABLE recipients ADD COLUMN {column} {declaration}")
        self._db.execute("CREATE INDEX IF NOT EXISTS recipients_by_send_id ON recipients (send_id)")
        self._batches: OrderedDict[str, Batch] = OrderedDict()

    async def run(self, func: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """``func(*args, **kwargs)`` (a method of this store) in a worker thread."""
        return await asyncio.to_thread(func, *args, **kwargs)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def _write(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = work(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    # ------------------------------------------------------------------------------------- batches

    def add_batch(self, batch: Batch, configuration_set: str) -> str:
        """Store ``batch`` with every recipient ``pending``, in one transaction; returns its id.

        A batch Ghost posts again (same domain, ``v:email-id`` and recipients: a retry after a lost answer)
        is not stored twice: the id of the first one is returned instead.
        """
        meta = batch.to_json()
        html, text = meta.pop("html"), meta.pop("text")
        fingerprint = None
        if batch.email_id is not None:
            parts = [batch.domain, batch.email_id, *sorted(r.address for r in batch.recipients)]
            fingerprint = hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()

        def work(db: sqlite3.Connection) -> str:
            if fingerprint is not None:
                found = db.execute("SELECT id FROM batches WHERE fingerprint = ?", (fingerprint,)).fetchone()
                if found is not None:
                    return str(found["id"])
            db.execute(
                "INSERT INTO batches (id, domain, meta, html, text, configuration_set, deliver_at, "
                "created_at, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    batch.id,
                    batch.domain,
                    json.dumps(meta, ensure_ascii=False),
                    html,
                    text,
                    configuration_set,
                    batch.deliver_at,
                    batch.created_at,
                    fingerprint,
                ),
            )
            db.executemany(
                "INSERT INTO recipients (batch_id, idx, to_field, address, variables) VALUES (?, ?, ?, ?, ?)",
                [
                    (batch.id, r.index, r.to, r.address, json.dumps(dict(r.variables), ensure_ascii=False))
                    for r in batch.recipients
                ],
            )
            return batch.id

        return self._write(work)

    def batch(self, batch_id: str, *, bodies: bool = True) -> tuple[Batch, str]:
        """The batch (no recipients; its bodies unless ``bodies=False``) and its configuration set."""
        columns = "meta, html, text, configuration_set" if bodies else "meta, configuration_set"
        rows = self._read(f"SELECT {columns} FROM batches WHERE id = ?", (batch_id,))
        if not rows:
            raise KeyError(batch_id)
        row = rows[0]
        meta = json.loads(row["meta"])
        meta["html"] = row["html"] if bodies else None
        meta["text"] = row["text"] if bodies else None
        return Batch.from_json(meta), row["configuration_set"]

    def unfinished_batches(self) -> list[str]:
        """Ids of batches with recipients still ``pending`` or ``unconfirmed``, oldest first."""
        rows = self._read(
            "SELECT b.id FROM batches b WHERE b.finished_at IS NULL AND EXISTS "
            "(SELECT 1 FROM recipients r WHERE r.batch_id = b.id AND r.state IN ('pending', 'unconfirmed')) "
            "ORDER BY b.created_at"
        )
        return [row["id"] for row in rows]

    def finish_batch(self, batch_id: str) -> bool:
        """Mark the batch finished if every recipient's outcome is settled; True if it was."""

        def work(db: sqlite3.Connection) -> bool:
            left = db.execute(
                "SELECT COUNT(*) FROM recipients WHERE batch_id = ? "
                "AND state IN ('pending', 'sending', 'unconfirmed')",
                (batch_id,),
            ).fetchone()[0]
            if left:
                return False
            db.execute("UPDATE batches SET finished_at = ? WHERE id = ?", (self._clock(), batch_id))
            return True

        return self._write(work)

    # ------------------------------------------------------------------------------------- recipients

    def pending(self, batch_id: str) -> list[Recipient]:
        """The batch's recipients still to send, in order."""
        rows = self._read(
            "SELECT idx, to_field, address, variables FROM recipients "
            "WHERE batch_id = ? AND state = 'pending' ORDER BY idx",
            (batch_id,),
        )
        return [_recipient(row) for row in rows]

    def interrupted(self, state: DoubtState) -> list[tuple[str, Recipient, DoubtState]]:
        """Move every recipient left ``sending`` (by a proxy that stopped during its send) to ``state``;
        returns them with their batch ids and the state each got. Run once at startup, before any send.

        A row claimed by a release without send tags cannot be matched to an event: ``unconfirmed`` is
        ``unknown`` for it."""

        def work(db: sqlite3.Connection) -> list[tuple[str, Recipient, DoubtState]]:
            rows = db.execute(
                "SELECT batch_id, idx, to_field, address, variables, send_id FROM recipients "
                "WHERE state = 'sending' ORDER BY batch_id, idx"
            ).fetchall()
            out: list[tuple[str, Recipient, DoubtState]] = []
            for row in rows:
                given: DoubtState = "unknown" if state == "unconfirmed" and row["send_id"] is None else state
                db.execute(
                    "UPDATE recipients SET state = ?, detail = 'interrupted', updated_at = ? "
                    "WHERE batch_id = ? AND idx = ?",
                    (given, self._clock(), row["batch_id"], row["idx"]),
                )
                out.append((row["batch_id"], _recipient(row), given))
            return out

        return self._write(work)

    def claim(self, batch_id: str, index: int) -> int | None:
        """``pending`` → ``sending`` for the next attempt, with its send id and the time: the intent,
        committed before the request leaves. Returns the attempt number; None if it was not pending."""
        key = send_id(batch_id, index)

        def work(db: sqlite3.Connection) -> int | None:
            now = self._clock()
            row = db.execute(
                "UPDATE recipients SET state = 'sending', attempt = attempt + 1, send_id = ?, "
                "claimed_at = ?, updated_at = ? WHERE batch_id = ? AND idx = ? AND state = 'pending' "
                "RETURNING attempt",
                (key, now, now, batch_id, index),
            ).fetchall()  # all of it: a statement still open would block the COMMIT
            return int(row[0]["attempt"]) if row else None

        return self._write(work)

    def release(self, batch_id: str, index: int) -> None:
        """``sending`` → ``pending``: the send certainly did not happen, so it is sent later."""
        self.doubt(batch_id, index, "pending")

    def doubt(self, batch_id: str, index: int, state: DoubtState, detail: str = "") -> bool:
        """``sending`` → ``state`` (unless an SES event settled it meanwhile); True if it was changed."""
        cursor = self._write(
            lambda db: db.execute(
                "UPDATE recipients SET state = ?, detail = ?, updated_at = ? "
                "WHERE batch_id = ? AND idx = ? AND state = 'sending'",
                (state, detail or None, self._clock(), batch_id, index),
            )
        )
        return cursor.rowcount == 1

    def doubts(self, batch_id: str) -> list[Doubt]:
        """The batch's ``unconfirmed`` recipients, in order."""
        rows = self._read(
            "SELECT idx, attempt, claimed_at FROM recipients "
            "WHERE batch_id = ? AND state = 'unconfirmed' ORDER BY idx",
            (batch_id,),
        )
        return [Doubt(row["idx"], row["attempt"], row["claimed_at"] or 0.0) for row in rows]

    def expire(self, batch_id: str, doubt: Doubt) -> bool:
        """``unconfirmed`` → ``pending``: no SES event came for that attempt within the window, so it is
        sent again. False if it was settled (or claimed again) meanwhile."""
        cursor = self._write(
            lambda db: db.execute(
                "UPDATE recipients SET state = 'pending', detail = ?, updated_at = ? "
                "WHERE batch_id = ? AND idx = ? AND state = 'unconfirmed' AND attempt = ?",
                (
                    f"no SES event for attempt {doubt.attempt}",
                    self._clock(),
                    batch_id,
                    doubt.index,
                    doubt.attempt,
                ),
            )
        )
        return cursor.rowcount == 1

    def settle(
        self,
        batch_id: str,
        index: int,
        state: RecipientState,
        *,
        ses_message_id: str | None = None,
        detail: str | None = None,
        rows: Iterable[EventRow] = (),
    ) -> None:
        """Record a recipient's outcome and the events it produced, in one transaction."""

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE recipients SET state = ?, ses_message_id = ?, detail = ?, updated_at = ? "
                "WHERE batch_id = ? AND idx = ?",
                (state, ses_message_id, detail, self._clock(), batch_id, index),
            )
            self._insert_events(db, rows)

        self._write(work)

    def record_sent(self, batch_id: str, index: int, ses_message_id: str) -> Accepted:
        """SES answered the send of recipient ``index`` with ``ses_message_id``: record it ``sent``."""
        return self._write(
            lambda db: self._accept(
                db, "batch_id = ? AND idx = ?", (batch_id, index), ses_message_id, "answer"
            )
        )

    def record_event(self, send: str, ses_message_id: str, rows: Iterable[EventRow], via: str) -> Accepted:
        """An SES event (``via``: its type) of the message with send id ``send`` and SES id
        ``ses_message_id``: SES accepted that message. Settle its recipient (:func:`.reconcile.acceptance`)
        and store the event's rows, in one transaction."""

        def work(db: sqlite3.Connection) -> Accepted:
            found = self._accept(db, "send_id = ?", (send,), ses_message_id, f"{via} event")
            self._insert_events(db, rows)
            return found

        return self._write(work)

    def _accept(
        self, db: sqlite3.Connection, where: str, params: tuple[Any, ...], ses_message_id: str, via: str
    ) -> Accepted:
        row = db.execute(
            f"SELECT batch_id, idx, address, state, ses_message_id FROM recipients WHERE {where} LIMIT 1",
            params,
        ).fetchone()
        if row is None:
            return Accepted(None, None, None, None, None)
        outcome = acceptance(row["state"], row["ses_message_id"], ses_message_id)
        if outcome == "settle":
            if via != "answer":
                crash_point("event-settling")
            db.execute(
                "UPDATE recipients SET state = 'sent', ses_message_id = ?, detail = ?, updated_at = ? "
                "WHERE batch_id = ? AND idx = ?",
                (ses_message_id, f"settled by its {via}", self._clock(), row["batch_id"], row["idx"]),
            )
        elif outcome == "duplicate":
            db.execute(
                "UPDATE recipients SET detail = ? WHERE batch_id = ? AND idx = ?",
                (f"duplicate: SES also accepted {ses_message_id}", row["batch_id"], row["idx"]),
            )
        return Accepted(row["batch_id"], row["idx"], row["address"], outcome, row["state"])

    def recipients(self, batch_id: str) -> list[dict[str, Any]]:
        """Every recipient of the batch with its state, SES message id and attempts (for inspection and
        tests)."""
        rows = self._read(
            "SELECT idx, address, state, ses_message_id, detail, attempt, send_id FROM recipients "
            "WHERE batch_id = ? ORDER BY idx",
            (batch_id,),
        )
        return [dict(row) for row in rows]

    def message_infos(self, ses_message_id: str, send: str | None = None) -> dict[str, MessageInfo]:
        """What the database knows of the message SES calls ``ses_message_id`` (or, before its id is
        recorded, of the send ``send``), per recipient address."""
        rows = self._read(
            "SELECT batch_id, idx, to_field, address, variables FROM recipients "
            "WHERE ses_message_id = ? OR send_id = ?",
            (ses_message_id, send),
        )
        out: dict[str, MessageInfo] = {}
        for row in rows:
            batch = self._cached_batch(row["batch_id"])
            out[row["address"]] = message_info(batch, _recipient(row))
        return out

    def _cached_batch(self, batch_id: str) -> Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            batch, _ = self.batch(batch_id, bodies=False)
            self._batches[batch_id] = batch
            if len(self._batches) > 64:
                self._batches.popitem(last=False)
        else:
            self._batches.move_to_end(batch_id)
        return batch

    # ------------------------------------------------------------------------------------- suppression

    def suppression_of(self, address: str) -> Suppression | None:
        """The list ``address`` is on (bounces before complaints before unsubscribes), or None."""
        rows = self._read("SELECT kind FROM suppressions WHERE address = ?", (address.lower(),))
        kinds = {row["kind"] for row in rows}
        for kind in _SUPPRESSION_ORDER:
            if kind in kinds:
                return kind
        return None

    def suppress(self, address: str, kind: Suppression, reason: str | None = None) -> None:
        """Put ``address`` on the ``kind`` list (no change if it is there already)."""
        self._write(lambda db: db.execute(_SUPPRESS, (address.lower(), kind, reason, self._clock())))

    def unsuppress(self, address: str, kind: Suppression) -> bool:
        """Take ``address`` off the ``kind`` list; False if it was not on it."""
        cursor = self._write(
            lambda db: db.execute(
                "DELETE FROM suppressions WHERE address = ? AND kind = ?", (address.lower(), kind)
            )
        )
        return cursor.rowcount > 0

    # ------------------------------------------------------------------------------------- events

    def add_events(self, rows: Iterable[EventRow]) -> int:
        """Store the rows not stored yet (by id) and apply their suppressions; returns how many were new.

        A row already stored (an SQS redelivery, or SES publishing an event twice) changes nothing, so a
        suppression lifted since is not put back by an old event arriving again.
        """
        return self._write(lambda db: self._insert_events(db, rows))

    def _insert_events(self, db: sqlite3.Connection, rows: Iterable[EventRow]) -> int:
        new = 0
        now = self._clock()
        for row in rows:
            cursor = db.execute(
                "INSERT OR IGNORE INTO events (id, domain, event, timestamp, recipient, message_id, "
                "severity, item, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.id,
                    row.domain,
                    row.event,
                    row.timestamp,
                    row.recipient.lower(),
                    row.message_id,
                    row.severity,
                    json.dumps(dict(row.item), ensure_ascii=False),
                    now,
                ),
            )
            if cursor.rowcount != 1:
                continue
            new += 1
            db.executemany(
                "INSERT OR IGNORE INTO event_tags (event_id, tag) VALUES (?, ?)",
                [(row.id, t) for t in row.tags],
            )
            if row.suppress is not None:
                db.execute(_SUPPRESS, (row.recipient.lower(), row.suppress, f"{row.event} {row.id}", now))
        return new

    def page(self, domain: str, request: PageRequest) -> list[tuple[float, str, dict[str, Any]]]:
        """One page of events of ``domain``: ``(timestamp, id, item)`` in the query's order.

        Keyset paging on ``(timestamp, id)``: ``next`` takes the items after the cursor in the query's
        order, ``previous`` those before it; without a cursor, ``next`` is ``first`` and ``previous`` is
        ``last``.
        """
        query = request.query
        where = ["domain = ?"]
        params: list[Any] = [domain]
        if query.events:
            where.append(f"event IN ({', '.join('?' * len(query.events))})")
            params.extend(query.events)
        low, high = query.time_range
        if low is not None:
            where.append("timestamp >= ?")
            params.append(low)
        if high is not None:
            where.append("timestamp <= ?")
            params.append(high)
        for column, value in (
            ("recipient", query.recipient),
            ("message_id", query.message_id),
            ("severity", query.severity),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if query.tags and query.tags_any:
            where.append(
                "EXISTS (SELECT 1 FROM event_tags t WHERE t.event_id = events.id "
                f"AND t.tag IN ({', '.join('?' * len(query.tags))}))"
            )
            params.extend(query.tags)
        else:
            for tag in query.tags:
                where.append("EXISTS (SELECT 1 FROM event_tags t WHERE t.event_id = events.id AND t.tag = ?)")
                params.append(tag)
        backwards = request.position in ("last", "previous")
        if request.cursor is not None and request.position in ("next", "previous"):
            forward_is_up = query.ascending != backwards
            where.append(f"(timestamp, id) {'>' if forward_is_up else '<'} (?, ?)")
            params.extend(request.cursor)
        up = query.ascending != backwards
        order = "ASC" if up else "DESC"
        sql = (
            f"SELECT timestamp, id, item FROM events WHERE {' AND '.join(where)} "
            f"ORDER BY timestamp {order}, id {order} LIMIT ?"
        )
        params.append(query.limit)
        rows = self._read(sql, params)
        out = [(row["timestamp"], row["id"], json.loads(row["item"])) for row in rows]
        if backwards:
            out.reverse()
        return out

    def counts(self) -> Mapping[str, int]:
        """How many events of each kind are stored (for logs and tests)."""
        rows = self._read("SELECT event, COUNT(*) AS n FROM events GROUP BY event")
        return {row["event"]: row["n"] for row in rows}
