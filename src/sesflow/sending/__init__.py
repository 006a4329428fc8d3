"""Sending through SES with a configuration set always attached and checked.

Messages (``Email`` and its parts) are validated on construction; ``SesClient`` (boto3) and
``AsyncSesClient`` (aiobotocore, extra ``async``) send them through the v2 (default) or v1 API over one
pure core; ``sesflow.sending.smtp`` sends them over SMTP.
"""

from .._public import publish
from .aio import AsyncSesClient
from .client import SesClient
from .errors import (
    AccessDenied,
    AccountSendingPaused,
    AccountSuspended,
    ClientNotOpen,
    ConfigurationSetNotFound,
    ConfigurationSetRequired,
    ConfigurationSetSendingPaused,
    DailyQuotaExceeded,
    InvalidParameter,
    InvalidSendingPool,
    LimitExceeded,
    MailFromDomainNotVerified,
    MessageRejected,
    SendingError,
    SendingPaused,
    SendOutcomeUnknown,
    SesApiError,
    SesError,
    TemplateNotFound,
    TenantNotAssociated,
    TenantNotFound,
    TenantSendingPaused,
    Throttled,
    TransientFailure,
    ValidationError,
)
from .links import add_link_tags, check_links, link_tags_attribute, scan_links, tag_link
from .message import Address, Attachment, Destination, Email, ListManagement, ListUnsubscribe, Template
from .mime import build_mime, mime_bytes
from .ratelimit import RetryPolicy, TokenBucket
from .results import (
    BulkEntryResult,
    BulkProgress,
    BulkResult,
    BulkStatus,
    SendQuota,
    SendResult,
    SuppressedAddress,
    TenantInfo,
    TenantSuppression,
)
from .validation import validate_configuration_set_name, validate_tags, validate_tenant_name

__all__ = [
    "SesClient",
    "AsyncSesClient",
    "SendResult",
    "BulkResult",
    "BulkEntryResult",
    "BulkStatus",
    "BulkProgress",
    "SendQuota",
    "SuppressedAddress",
    "TenantInfo",
    "TenantSuppression",
    "RetryPolicy",
    "TokenBucket",
    "Address",
    "Attachment",
    "Destination",
    "Email",
    "ListManagement",
    "ListUnsubscribe",
    "Template",
    "build_mime",
    "mime_bytes",
    "validate_configuration_set_name",
    "validate_tenant_name",
    "validate_tags",
    "add_link_tags",
    "check_links",
    "link_tags_attribute",
    "scan_links",
    "tag_link",
    "SendingError",
    "ValidationError",
    "ConfigurationSetRequired",
    "ClientNotOpen",
    "SesError",
    "MessageRejected",
    "MailFromDomainNotVerified",
    "ConfigurationSetNotFound",
    "TenantNotFound",
    "TenantNotAssociated",
    "TemplateNotFound",
    "SendingPaused",
    "AccountSendingPaused",
    "ConfigurationSetSendingPaused",
    "TenantSendingPaused",
    "AccountSuspended",
    "Throttled",
    "DailyQuotaExceeded",
    "LimitExceeded",
    "InvalidParameter",
    "InvalidSendingPool",
    "AccessDenied",
    "TransientFailure",
    "SendOutcomeUnknown",
    "SesApiError",
]


publish(__name__, __all__, globals())
