"""Every error the sending half raises: invalid messages, a missing configuration set, and SES's refusals.

Two families:

- ``ValidationError`` (and ``ConfigurationSetRequired``): the message or call is wrong and was never
  sent. ``field`` names what to fix.
- ``SesError`` and its subclasses: SES (or the way to it) refused or failed a send. Each keeps SES's
  error ``code`` (an API error code such as ``MessageRejected``, a bulk entry status such as
  ``ACCOUNT_THROTTLED``, or an SMTP reply code), the ``request_id`` of the API call when there was one, and
  SES's own message. ``retryable`` says whether sending the same thing again later can succeed without
  changing anything.
"""

from __future__ import annotations

from typing import ClassVar

from ..errors import SesflowError

__all__ = [
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


class SendingError(SesflowError):
    """Base class of every error of the sending half (API and SMTP)."""


class ValidationError(SendingError, ValueError):
    """A message, address, tag or option breaks one of SES's rules; nothing was sent.

    ``field`` names the offending field as the caller wrote it (``"to[3]"``, ``"tags['campaign']"``,
    ``"configuration_set"``), ``reason`` says what is wrong and how to fix it.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.field, self.reason))


class ConfigurationSetRequired(ValidationError):
    """A send named no configuration set, and the client was not created to allow that.

    Without a configuration set SES publishes no events for the message: no bounces, complaints or deliveries
    reach your handlers. Give the client a default ``configuration_set=``, set ``Email.configuration_set``, or
    create the client with ``allow_no_configuration_set=True`` if sending without one is intended.
    """

    def __init__(self, field: str = "configuration_set", reason: str | None = None) -> None:
        super().__init__(
            field,
            reason
            or (
                "no configuration set for this send, so SES would publish no events for it: give the "
                "client a default configuration_set=, set Email.configuration_set, or create the client with "
                "allow_no_configuration_set=True to send without one on purpose"
            ),
        )


class ClientNotOpen(SendingError, RuntimeError):
    """An ``AsyncSesClient`` was used before it was opened (or after it was closed)."""

    def __init__(self) -> None:
        super().__init__(
            "the AsyncSesClient is not open: use 'async with AsyncSesClient(...) as ses:' or "
            "'await ses.open()' (in a web app, open it in the lifespan / startup hook)"
        )


class SesError(SendingError):
    """SES refused or failed a send.

    ``code`` is SES's error code or bulk status (or the SMTP reply code as text), ``request_id`` the API
    request's id when there was one, ``ses_message`` SES's own words, ``http_status`` the HTTP status of the
    API answer, ``configuration_set`` the set the send named, ``tenant`` the tenant it was sent for.
    """

    retryable: ClassVar[bool] = False
    """Whether sending the same thing again later can succeed as it is."""
    stops_bulk: ClassVar[bool] = False
    """Whether this error dooms the rest of a bulk send too (so sesflow stops sending further chunks)."""
    advice: ClassVar[str] = "see SES's message"

    def __init__(
        self,
        ses_message: str = "",
        *,
        code: str | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
        configuration_set: str | None = None,
        tenant: str | None = None,
    ) -> None:
        self.ses_message = ses_message
        self.code = code
        self.request_id = request_id
        self.http_status = http_status
        self.configuration_set = configuration_set
        self.tenant = tenant
        super().__init__(self._describe())

    def _describe(self) -> str:
        said = f"SES said {self.code}: {self.ses_message}" if self.code else f"SES said: {self.ses_message}"
        if not self.ses_message and self.code:
            said = f"SES said {self.code}"
        request = f" (request id {self.request_id})" if self.request_id else ""
        return f"{said}{request}; {self.advice}"

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_ses_error,
            (
                type(self),
                self.ses_message,
                self.code,
                self.request_id,
                self.http_status,
                self.configuration_set,
                self.tenant,
            ),
        )


def _rebuild_ses_error(
    cls: type[SesError],
    ses_message: str,
    code: str | None,
    request_id: str | None,
    http_status: int | None,
    configuration_set: str | None,
    tenant: str | None = None,
) -> SesError:
    return cls(
        ses_message,
        code=code,
        request_id=request_id,
        http_status=http_status,
        configuration_set=configuration_set,
        tenant=tenant,
    )


class MessageRejected(SesError):
    """SES refused the message itself (unverified sender, sandbox recipient, virus, bad content)."""

    advice = (
        "check that the sender identity is verified in this region (and, in the sandbox, the recipients too) "
        "and that the message content is acceptable"
    )


class MailFromDomainNotVerified(SesError):
    """The sender's custom MAIL FROM domain is not verified (its MX/SPF records are not in place)."""

    stops_bulk = True
    advice = (
        "publish the custom MAIL FROM domain's MX and SPF records, or set it to fall back to amazonses.com"
    )


class ConfigurationSetNotFound(SesError):
    """The configuration set named for the send does not exist in this account and region."""

    stops_bulk = True
    advice = (
        "create the configuration set in this region (sesflow setup creates one with its event destinations) "
        "or correct its name"
    )


class TenantNotFound(SesError):
    """The tenant named for the send does not exist in this account and region (``GetTenant`` said so)."""

    stops_bulk = True
    advice = (
        "create the tenant in this region (Provisioner.ensure_tenant or `sesflow setup --tenant` creates it "
        "and associates its resources) or correct its name"
    )


class TenantNotAssociated(SesError):
    """SES refused a tenant's send because a resource it uses (configuration set, sending identity or
    template) is not associated with that tenant."""

    stops_bulk = True
    advice = (
        "associate the send's configuration set, sending identity and template with the tenant "
        "(CreateTenantResourceAssociation; Provisioner.ensure_tenant does it), or send for another tenant"
    )


class TemplateNotFound(SesError):
    """The named template does not exist in this account and region."""

    stops_bulk = True
    advice = "create the template in this region, or correct its name"


class SendingPaused(SesError):
    """Sending is paused, for the account or for the configuration set."""

    stops_bulk = True
    advice = "resume sending (for the account, or with the configuration set's sending option) and send again"


class AccountSendingPaused(SendingPaused):
    """Sending is paused for the whole account."""

    advice = "sending is paused for the account: resume it (SES console or UpdateAccountSendingEnabled)"


class ConfigurationSetSendingPaused(SendingPaused):
    """Sending is paused for the configuration set."""

    advice = "sending is paused for this configuration set: re-enable its sending option"


class TenantSendingPaused(SendingPaused):
    """Sending is paused for the tenant: by its reputation policy after reputation findings, or because its
    sending status was set to ``DISABLED``. The rest of the account may still send."""

    advice = (
        "SES paused this tenant's sending: see why with GetReputationEntity (its status cause and findings), "
        "fix the cause, then set the tenant's customer-managed status to ENABLED or REINSTATED "
        "(UpdateReputationEntityCustomerManagedStatus); retrying as it is will not help"
    )


class AccountSuspended(SesError):
    """The account can no longer send (SES suspended it)."""

    stops_bulk = True
    advice = "the account is suspended from sending: contact AWS support; retrying will not help"


class Throttled(SesError):
    """Too many sends per second for the account's maximum send rate (SMTP: ``454 Throttling failure``).

    sesflow retries these with jittered backoff; this error reaches you when the retries ran out.
    """

    retryable = True
    advice = (
        "the account's maximum send rate was exceeded: send more slowly (sesflow's rate limit follows the "
        "account's quota) or request a higher rate"
    )


class DailyQuotaExceeded(SesError):
    """The account's 24-hour sending quota is used up. Not retried: it frees up over the next day."""

    stops_bulk = True
    advice = "the 24-hour sending quota is used up: wait for it to free up, or request a higher quota"


class LimitExceeded(SesError):
    """An SES limit other than the send rate was exceeded (v2 ``LimitExceededException``)."""

    advice = "an SES limit was exceeded: see the message for which one"


class InvalidParameter(SesError):
    """SES found a parameter invalid (v1 ``InvalidParameterValue``, v2 ``BadRequestException``)."""

    advice = "correct the parameter SES names; sesflow's own validation did not catch it, please report it"


class InvalidSendingPool(SesError):
    """The configuration set's dedicated IP pool does not exist."""

    stops_bulk = True
    advice = "correct the configuration set's sending pool, or remove it"


class AccessDenied(SesError):
    """The credentials lack a permission the call needs."""

    stops_bulk = True
    advice = (
        "grant the IAM permission the call needs (ses:SendEmail / ses:SendRawEmail / "
        "ses:SendTemplatedEmail / ses:SendBulkEmail, and ses:GetConfigurationSet or "
        "ses:DescribeConfigurationSet for sesflow's existence check, which verify_configuration_set=False "
        "turns off)"
    )


class TransientFailure(SesError):
    """SES failed in a way that may pass (a 5xx answer, a bulk ``TRANSIENT_FAILURE``, no connection)."""

    retryable = True
    advice = "a temporary failure at SES or on the way to it: send again later"


class SendOutcomeUnknown(SesError):
    """The request left but no answer came back (read timeout, connection dropped): it may have been sent.

    sesflow does not retry these, so that no recipient gets the message twice; check the events (a Send event
    with this message's tags) before sending again.
    """

    advice = (
        "the request may or may not have been accepted: look for its Send event before sending it again, "
        "or accept a possible duplicate"
    )


class SesApiError(SesError):
    """An SES error without a type of its own; ``code`` says which."""
