"""sesflow: send email through Amazon SES with a configuration set always attached, and know what happened.

The public surface is re-exported here. Parsing (``parse_event``) imports only the event models; the
sending clients, the router, the consumers and ``SnsVerifier`` are imported on first use, so a Lambda that
only parses events does not pay for boto3 or cryptography at import time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import MissingExtra, ParseError, SesflowError, SnsVerificationError, SourceError
from .events import EventType, SesEvent, parse_event, to_dict

if TYPE_CHECKING:
    from .consumers import AsyncSqsConsumer, SqsConsumer
    from .routing import DispatchError, DispatchResult, EventRouter
    from .sending import (
        AccountSuspended,
        Address,
        AsyncSesClient,
        Attachment,
        BulkResult,
        BulkStatus,
        ConfigurationSetNotFound,
        ConfigurationSetRequired,
        DailyQuotaExceeded,
        Destination,
        Email,
        ListManagement,
        ListUnsubscribe,
        MailFromDomainNotVerified,
        MessageRejected,
        RetryPolicy,
        SendingError,
        SendingPaused,
        SendResult,
        SesClient,
        SesError,
        Template,
        TemplateNotFound,
        TenantNotAssociated,
        TenantNotFound,
        TenantSendingPaused,
        Throttled,
        ValidationError,
    )
    from .sources import SnsVerifier, SourceItem

__version__ = "0.1.0"

# name -> module that defines it, imported on first attribute access (PEP 562).
_LAZY = {
    "EventRouter": "routing",
    "DispatchResult": "routing",
    "DispatchError": "routing",
    "SnsVerifier": "sources",
    "SourceItem": "sources",
    "SqsConsumer": "consumers",
    "AsyncSqsConsumer": "consumers",
    **{
        name: "sending"
        for name in (
            "Email",
            "Address",
            "Attachment",
            "Template",
            "Destination",
            "ListManagement",
            "ListUnsubscribe",
            "SesClient",
            "AsyncSesClient",
            "SendResult",
            "BulkResult",
            "BulkStatus",
            "RetryPolicy",
            "SendingError",
            "ValidationError",
            "ConfigurationSetRequired",
            "SesError",
            "MessageRejected",
            "MailFromDomainNotVerified",
            "ConfigurationSetNotFound",
            "TemplateNotFound",
            "TenantNotFound",
            "TenantNotAssociated",
            "TenantSendingPaused",
            "SendingPaused",
            "Throttled",
            "DailyQuotaExceeded",
            "AccountSuspended",
        )
    },
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sesflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AccountSuspended",
    "Address",
    "AsyncSesClient",
    "AsyncSqsConsumer",
    "Attachment",
    "BulkResult",
    "BulkStatus",
    "ConfigurationSetNotFound",
    "ConfigurationSetRequired",
    "DailyQuotaExceeded",
    "Destination",
    "DispatchError",
    "DispatchResult",
    "Email",
    "EventRouter",
    "EventType",
    "ListManagement",
    "ListUnsubscribe",
    "MailFromDomainNotVerified",
    "MessageRejected",
    "MissingExtra",
    "ParseError",
    "RetryPolicy",
    "SendResult",
    "SendingError",
    "SendingPaused",
    "SesClient",
    "SesError",
    "SesEvent",
    "SesflowError",
    "SnsVerificationError",
    "SnsVerifier",
    "SourceError",
    "SourceItem",
    "SqsConsumer",
    "Template",
    "TemplateNotFound",
    "TenantNotAssociated",
    "TenantNotFound",
    "TenantSendingPaused",
    "Throttled",
    "ValidationError",
    "__version__",
    "parse_event",
    "to_dict",
]
