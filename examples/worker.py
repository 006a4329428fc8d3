"""A bounce and complaint suppression worker: SES events from SQS, suppressed addresses into SQLite.

Hard bounces and complaints (except those the mailbox provider marked "not spam") put their recipients on a
suppression list. The list and the idempotency store share one SQLite file, and each handler writes inside
``store.transaction(event)``, so an address is added exactly once per event even if the worker is killed
between writing and deleting the message.

    python examples/worker.py --queue-url https://sqs.eu-west-1.amazonaws.com/123456789012/ses-events \\
        --db suppressions.db

Stop it with Ctrl-C or SIGTERM: it finishes the messages in flight, deletes those that succeeded and exits.
``--until-empty`` exits once the queue is empty instead (for a one-off backfill).
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Sequence

from sesflow.consumers import SqliteIdempotencyStore, SqsConsumer
from sesflow.events import BounceEvent, BounceType, ComplaintEvent
from sesflow.routing import EventRouter
from sesflow.sources import SourceItem

log = logging.getLogger("suppression-worker")

SCHEMA = """
CREATE TABLE IF NOT EXISTS suppressed (
    address TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    message_id TEXT NOT NULL,
    at TEXT NOT NULL
)
"""


def suppress(db: sqlite3.Connection, addresses: Sequence[str], reason: str, message_id: str, at: str) -> None:
    db.executemany(
        "INSERT OR IGNORE INTO suppressed (address, reason, message_id, at) VALUES (?, ?, ?, ?)",
        [(address.lower(), reason, message_id, at) for address in addresses],
    )


def build(db_path: str) -> tuple[EventRouter, SqliteIdempotencyStore]:
    """The router with the suppression handlers, and the store they write through."""
    store = SqliteIdempotencyStore(db_path)
    store.connection().execute(SCHEMA)

    def dead_letter(item: SourceItem) -> None:
        # Not deleted: the queue's redrive policy moves it to the dead-letter queue after a few tries.
        log.error(
            "message %s is not an SES event (%s); leaving it for the dead-letter queue",
            item.item_id,
            item.error,
        )

    router = EventRouter(on_invalid=dead_letter)

    @router.on_bounce(bounce_type=BounceType.PERMANENT)
    def hard_bounce(event: BounceEvent) -> None:
        with store.transaction(event) as db:
            suppress(
                db,
                event.recipients,
                f"bounce:{event.bounce.bounce_sub_type}",
                event.message_id,
                event.timestamp.isoformat(),
            )

    @router.on_complaint
    def complaint(event: ComplaintEvent) -> None:
        if not event.should_suppress:
            return
        with store.transaction(event) as db:
            suppress(db, event.recipients, "complaint", event.message_id, event.timestamp.isoformat())

    return router, store


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Suppress hard-bounced and complaining addresses.")
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--db", default="suppressions.db")
    parser.add_argument("--region")
    parser.add_argument("--endpoint-url", help="e.g. a local SQS emulator")
    parser.add_argument("--until-empty", action="store_true", help="exit once the queue is empty")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    router, store = build(args.db)
    consumer = SqsConsumer(
        args.queue_url,
        router,
        region=args.region,
        endpoint_url=args.endpoint_url,
        idempotency=store,
        wait_time_seconds=1 if args.until_empty else 20,
    )
    with consumer:
        if args.until_empty:
            metrics = consumer.run_until_empty(install_signal_handlers=True)
        else:
            metrics = consumer.run(install_signal_handlers=True)
    store.close()
    log.info("handled %d, failed %d, invalid %d", metrics.handled, metrics.failed, metrics.invalid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
