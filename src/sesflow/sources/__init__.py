"""Event sources: what SQS, SNS, EventBridge and Firehose deliver, turned into ``SourceItem`` s.

Every function here keeps the transport's identity of each item and never drops or raises for bad input: an
item that cannot be unwrapped, verified or parsed comes back with its raw payload and its error.
``SnsVerifier`` (imported on first use) verifies SNS signatures for the SNS and SQS sources.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._public import publish
from ._common import MessageVerifier, is_replay, mark_handled
from ._item import SourceItem, Transport
from .eventbridge import (
    EVENTBRIDGE_DETAIL_TYPES,
    EVENTBRIDGE_STATUS_TYPES,
    AdvisorRecommendationEvent,
    NonEmailEvent,
    SendingStatusEvent,
    StatusEvent,
    eventbridge_item,
)
from .firehose import (
    FirehoseOutcome,
    FirehoseResponseError,
    FirehoseResult,
    firehose_lambda_items,
    firehose_response,
)
from .ndjson import iter_ndjson, iter_s3_object, iter_s3_prefix
from .sns import (
    SNS_MESSAGE_TYPES,
    SnsConfirmation,
    SnsSubscriptionConfirmation,
    SnsUnsubscribeConfirmation,
    sns_http_item,
    sns_http_item_async,
    sns_lambda_items,
    sns_lambda_items_async,
)
from .sqs import sqs_lambda_items, sqs_lambda_items_async, sqs_message_item, sqs_message_item_async

if TYPE_CHECKING:
    from .sns_verify import SnsVerifier

__all__ = [
    # the contract every source returns
    "SourceItem",
    "Transport",
    "MessageVerifier",
    "SnsVerifier",
    "is_replay",
    "mark_handled",
    # SQS
    "sqs_message_item",
    "sqs_message_item_async",
    "sqs_lambda_items",
    "sqs_lambda_items_async",
    # SNS
    "sns_lambda_items",
    "sns_lambda_items_async",
    "sns_http_item",
    "sns_http_item_async",
    "SNS_MESSAGE_TYPES",
    "SnsConfirmation",
    "SnsSubscriptionConfirmation",
    "SnsUnsubscribeConfirmation",
    # EventBridge
    "eventbridge_item",
    "EVENTBRIDGE_DETAIL_TYPES",
    "EVENTBRIDGE_STATUS_TYPES",
    "NonEmailEvent",
    "StatusEvent",
    "SendingStatusEvent",
    "AdvisorRecommendationEvent",
    # Firehose
    "firehose_lambda_items",
    "firehose_response",
    "FirehoseResult",
    "FirehoseOutcome",
    "FirehoseResponseError",
    "iter_ndjson",
    "iter_s3_object",
    "iter_s3_prefix",
]


def __getattr__(name: str) -> Any:
    # SnsVerifier pulls in cryptography; import it only when it is asked for.
    if name == "SnsVerifier":
        from .sns_verify import SnsVerifier

        return SnsVerifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


publish(__name__, __all__, globals())
