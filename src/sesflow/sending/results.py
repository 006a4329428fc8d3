"""What a send returns: ``SendResult``, and for bulk sends ``BulkResult`` (one entry each)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Final

import attrs

from ..events.enums import OpenEnum
from .errors import SesError
from .message import Destination

__all__ = [
    "BulkStatus",
    "SendResult",
    "SendQuota",
    "SuppressedAddress",
    "TenantInfo",
    "TenantSuppression",
    "BulkEntryResult",
    "BulkResult",
    "BulkProgress",
]


class BulkStatus(OpenEnum):
    """The outcome of one destination of a bulk send.

    SES's statuses use the v2 spelling (v1's ``MessageRejected`` is ``MESSAGE_REJECTED``). Two are
    sesflow's own: ``NOT_SENT``, for destinations never sent because the run stopped on an error that
    dooms every send (missing configuration set or template, paused or suspended account, daily quota); and
    ``OUTCOME_UNKNOWN``, for destinations whose request left without an answer coming back (they may have
    been sent, so sesflow did not send them again).
    """

    SUCCESS = "SUCCESS"
    MESSAGE_REJECTED = "MESSAGE_REJECTED"
    MAIL_FROM_DOMAIN_NOT_VERIFIED = "MAIL_FROM_DOMAIN_NOT_VERIFIED"
    CONFIGURATION_SET_NOT_FOUND = "CONFIGURATION_SET_NOT_FOUND"
    TEMPLATE_NOT_FOUND = "TEMPLATE_NOT_FOUND"
    ACCOUNT_SUSPENDED = "ACCOUNT_SUSPENDED"
    ACCOUNT_THROTTLED = "ACCOUNT_THROTTLED"
    ACCOUNT_DAILY_QUOTA_EXCEEDED = "ACCOUNT_DAILY_QUOTA_EXCEEDED"
    INVALID_SENDING_POOL_NAME = "INVALID_SENDING_POOL_NAME"
    ACCOUNT_SENDING_PAUSED = "ACCOUNT_SENDING_PAUSED"
    CONFIGURATION_SET_SENDING_PAUSED = "CONFIGURATION_SET_SENDING_PAUSED"
    INVALID_PARAMETER = "INVALID_PARAMETER"
    TRANSIENT_FAILURE = "TRANSIENT_FAILURE"
    FAILED = "FAILED"
    NOT_SENT = "NOT_SENT"
    OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"

    @classmethod
    def from_ses(cls, value: str) -> BulkStatus:
        """The status for SES's spelling in either API (``Success`` or ``SUCCESS``)."""
        return V1_STATUSES.get(value) or cls(value)

    @property
    def retryable(self) -> bool:
        """Whether sending this destination again later can succeed as it is."""
        return self in (BulkStatus.ACCOUNT_THROTTLED, BulkStatus.TRANSIENT_FAILURE)


V1_STATUSES: Final[Mapping[str, BulkStatus]] = {
    "Success": BulkStatus.SUCCESS,
    "MessageRejected": BulkStatus.MESSAGE_REJECTED,
    "MailFromDomainNotVerified": BulkStatus.MAIL_FROM_DOMAIN_NOT_VERIFIED,
    "ConfigurationSetDoesNotExist": BulkStatus.CONFIGURATION_SET_NOT_FOUND,
    "TemplateDoesNotExist": BulkStatus.TEMPLATE_NOT_FOUND,
    "AccountSuspended": BulkStatus.ACCOUNT_SUSPENDED,
    "AccountThrottled": BulkStatus.ACCOUNT_THROTTLED,
    "AccountDailyQuotaExceeded": BulkStatus.ACCOUNT_DAILY_QUOTA_EXCEEDED,
    "InvalidSendingPoolName": BulkStatus.INVALID_SENDING_POOL_NAME,
    "AccountSendingPaused": BulkStatus.ACCOUNT_SENDING_PAUSED,
    "ConfigurationSetSendingPaused": BulkStatus.CONFIGURATION_SET_SENDING_PAUSED,
    "InvalidParameterValue": BulkStatus.INVALID_PARAMETER,
    "TransientFailure": BulkStatus.TRANSIENT_FAILURE,
    "Failed": BulkStatus.FAILED,
}
"""v1 ``SendBulkTemplatedEmail`` status spellings and their v2 equivalents."""


@attrs.frozen
class SendResult:
    """A message SES accepted: its ``message_id`` (its events' ``mail.messageId``) and what was attached."""

    message_id: str
    configuration_set: str | None
    tags: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    request_id: str | None = None
    attempts: int = 1
    """How many requests it took (more than one after throttling or a transient failure)."""
    tenant: str | None = None
    """The tenant SES sent it for (``TenantName``), None when it was sent for none."""


@attrs.frozen
class BulkEntryResult:
    """The outcome of one destination of a bulk send, at its position ``index`` in the input."""

    index: int
    destination: Destination
    status: BulkStatus
    message_id: str | None = None
    error: SesError | None = attrs.field(default=None, eq=False)
    attempts: int = 0

    @property
    def ok(self) -> bool:
        """True when SES accepted the message for this destination."""
        return self.status == BulkStatus.SUCCESS


@attrs.frozen
class BulkProgress:
    """How far a bulk send is: given to the progress callback after each call."""

    done: int
    total: int
    succeeded: int
    failed: int
    calls: int


@attrs.frozen
class BulkResult:
    """One ``BulkEntryResult`` per destination, in input order: none lost, none twice."""

    entries: tuple[BulkEntryResult, ...]
    configuration_set: str | None
    tags: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    calls: int = 0
    """How many bulk API calls were made (retries included)."""
    tenant: str | None = None
    """The tenant the messages were sent for, None when none."""

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[BulkEntryResult]:
        return iter(self.entries)

    def __getitem__(self, index: int) -> BulkEntryResult:
        return self.entries[index]

    @property
    def ok(self) -> bool:
        """True when every destination was accepted."""
        return all(entry.ok for entry in self.entries)

    @property
    def succeeded(self) -> tuple[BulkEntryResult, ...]:
        """The accepted destinations."""
        return tuple(entry for entry in self.entries if entry.ok)

    @property
    def failed(self) -> tuple[BulkEntryResult, ...]:
        """Every destination not accepted (refused, not sent, or of unknown outcome)."""
        return tuple(entry for entry in self.entries if not entry.ok)

    @property
    def message_ids(self) -> tuple[str | None, ...]:
        """The message id of each destination, in input order (None where it was not accepted)."""
        return tuple(entry.message_id for entry in self.entries)

    def to_retry(self) -> tuple[Destination, ...]:
        """Destinations that are safe to send again as they are: never sent, or refused for a passing reason.

        Destinations of unknown outcome are not included (they may have been sent).
        """
        return tuple(
            entry.destination
            for entry in self.entries
            if entry.status == BulkStatus.NOT_SENT or entry.status.retryable
        )


@attrs.frozen
class SuppressedAddress:
    """An address on the account-level suppression list (or a tenant's, when ``tenant`` is set): SES does not
    send to it (the send's recipient gets a Bounce, ``OnAccountSuppressionList``) until it is removed."""

    email_address: str
    reason: str
    """``BOUNCE`` or ``COMPLAINT``."""
    last_update_time: datetime
    message_id: str | None = None
    """The message whose bounce or complaint put the address on the list (SES adds it when it did)."""
    feedback_id: str | None = None
    tenant: str | None = None
    """The tenant whose suppression list holds the address; None for the account-level list."""


@attrs.frozen
class TenantSuppression:
    """A tenant's suppression list preferences (``TenantSuppressionAttributes``).

    ``scope`` is ``TENANT`` (the tenant keeps its own list) or ``ACCOUNT`` (it uses the account's, SES's
    default); ``reasons`` are why SES adds addresses to it automatically (``BOUNCE``, ``COMPLAINT``).
    """

    scope: str
    reasons: tuple[str, ...] = ()


@attrs.frozen
class TenantInfo:
    """A tenant as ``GetTenant`` describes it.

    ``sending_status`` is ``ENABLED``, ``REINSTATED`` (sending despite reputation findings) or ``DISABLED``
    (paused); ``suppression`` is None when SES reported no suppression attributes (botocore releases before
    tenant-level suppression do not read them).
    """

    name: str
    tenant_id: str | None
    arn: str | None
    created: datetime | None
    sending_status: str | None
    suppression: TenantSuppression | None = None
    tags: Mapping[str, str] = attrs.field(factory=dict, hash=False)


@attrs.frozen
class SendQuota:
    """The account's sending limits as SES reports them."""

    max_send_rate: float
    """Sends (recipients) per second."""
    max_24_hour_send: float
    """Sends (recipients) per rolling 24 hours."""
