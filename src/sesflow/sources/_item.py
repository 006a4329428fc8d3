"""What every source yields: one delivered item, its transport identity, and its parse outcome."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from ..errors import SesflowError
from ..events import ParsedRecord

__all__ = ["SourceItem", "Transport"]


class Transport(enum.StrEnum):
    SQS = "sqs"
    SNS = "sns"
    EVENTBRIDGE = "eventbridge"
    FIREHOSE = "firehose"
    FILE = "file"  # an NDJSON object as Firehose writes it to S3, read from S3 or a local file


@attrs.frozen
class SourceItem:
    """One item a transport delivered, parsed or not.

    ``item_id`` is the transport's own identity of the item (SQS ``MessageId``, SNS ``MessageId``,
    EventBridge ``id``, Firehose ``recordId``, ``<object>:<line>`` for files), which is what a partial
    batch response reports. ``raw`` is the item exactly as delivered. Exactly one of ``record`` and ``error``
    is set: an item that could not be unwrapped, verified or parsed carries its error and is never dropped.
    """

    transport: Transport
    item_id: str
    raw: Any = attrs.field(repr=False)
    record: ParsedRecord | None = None
    error: SesflowError | None = None
    receipt_handle: str | None = attrs.field(default=None, repr=False)  # SQS only: for delete/visibility
    meta: Mapping[str, Any] = attrs.field(factory=dict)  # e.g. topic_arn, sns_message_id, detail_type

    def __attrs_post_init__(self) -> None:
        if (self.record is None) == (self.error is None):
            raise ValueError(
                "a SourceItem carries exactly one of record and error "
                f"(item {self.item_id!r} has {'both' if self.record is not None else 'neither'})"
            )

    @property
    def ok(self) -> bool:
        """True when the item was unwrapped, verified and parsed (``record`` is set)."""
        return self.error is None
