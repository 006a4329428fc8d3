"""SQS workers: receive SES events from a queue, route them to handlers, delete only what succeeded.

``SqsConsumer`` (boto3, blocking, optional thread pool) and ``AsyncSqsConsumer`` (aioboto3, extra
``async``) are two transports over one pure core (``sesflow.consumers._core``): its per-message flow decides
for every message whether it is deleted or left for a retry and with what delay, and the transports only
perform the IO it asks for.
"""

from __future__ import annotations

from .._public import publish
from ._async import AsyncSqsConsumer
from ._common import ConsumerError
from ._core import Action, Backoff, MessageOutcome, Status
from ._sync import SqsConsumer
from .idempotency import IdempotencyStore, MemoryIdempotencyStore, SqliteIdempotencyStore, idempotency_key
from .metrics import ConsumerMetrics

__all__ = [
    "SqsConsumer",
    "AsyncSqsConsumer",
    "Backoff",
    "ConsumerMetrics",
    "ConsumerError",
    "MessageOutcome",
    "Status",
    "Action",
    "IdempotencyStore",
    "MemoryIdempotencyStore",
    "SqliteIdempotencyStore",
    "idempotency_key",
]


publish(__name__, __all__, globals())
