"""The worker process of tests/test_consumers_reliability.py: consume a queue until told to stop.

    python tests/_consumer_worker.py ENDPOINT QUEUE_URL DB_PATH sync|async

Every event's handler effect is one row in the ``effects`` table of DB_PATH, written in the same SQLite
transaction that marks the event in the idempotency store (``SqliteIdempotencyStore.transaction``). The test
kills this process with SIGKILL at random points and finally stops it with SIGTERM; on a graceful stop the
worker writes its metrics to DB_PATH + ".metrics.json".
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

import attrs

from sesflow.consumers import AsyncSqsConsumer, ConsumerMetrics, SqliteIdempotencyStore, SqsConsumer
from sesflow.events import SesEvent
from sesflow.routing import EventRouter


def build(db_path: str) -> tuple[EventRouter, SqliteIdempotencyStore]:
    # The test kills the process, not the machine: commits need not wait for the disk (durable=False).
    store = SqliteIdempotencyStore(db_path, durable=False)
    store.connection().execute("CREATE TABLE IF NOT EXISTS effects (identity TEXT NOT NULL, pid INTEGER)")
    router = EventRouter()

    @router.on_any
    def record(event: SesEvent) -> None:
        identity = event.tags.first("test-id")
        with store.transaction(event) as db:
            db.execute("INSERT INTO effects (identity, pid) VALUES (?, ?)", (identity, os.getpid()))

    return router, store


def main(endpoint: str, queue_url: str, db_path: str, mode: str) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(process)d %(levelname)s %(message)s")
    router, store = build(db_path)
    common = {
        "endpoint_url": endpoint,
        "region": "us-east-1",
        "idempotency": store,
        "wait_time_seconds": 1,
        "visibility_timeout": 2,
    }
    metrics: ConsumerMetrics
    if mode == "sync":
        metrics = SqsConsumer(queue_url, router, **common).run(install_signal_handlers=True)
    else:
        consumer = AsyncSqsConsumer(queue_url, router, receivers=2, concurrency=10, **common)
        metrics = asyncio.run(consumer.run(install_signal_handlers=True))
    store.close()
    Path(db_path + ".metrics.json").write_text(json.dumps(attrs.asdict(metrics)))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
