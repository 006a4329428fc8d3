"""SMTP replies and the errors they become: the same ``SesError`` types as the
API path (``code`` is the reply code as text), each also an ``SmtpError`` keeping the reply."""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from ..errors import (
    ConfigurationSetNotFound,
    DailyQuotaExceeded,
    MessageRejected,
    SendOutcomeUnknown,
    SesError,
    Throttled,
    TransientFailure,
)

__all__ = [
    "SmtpReply",
    "reply_error",
    "SmtpError",
    "SmtpConnectionError",
    "SmtpAuthenticationError",
    "SmtpDisconnected",
    "SmtpOutcomeUnknown",
    "SmtpTemporaryError",
    "SmtpPermanentError",
    "SmtpRecipientsRefused",
    "SmtpThrottled",
    "SmtpDailyQuotaExceeded",
    "SmtpMessageRejected",
    "SmtpConfigurationSetNotFound",
]


@attrs.frozen
class SmtpReply:
    """One SMTP reply: code and text."""

    code: int
    message: str


class SmtpError(SesError):
    """A send over SMTP failed.

    ``smtp_code`` is the server's reply code (None when no reply came) and ``code`` the same as text;
    ``ses_message`` is the reply's text (also ``smtp_message``), or what happened when there was no reply;
    ``stage`` is the command that failed (``"CONNECT"``, ``"STARTTLS"``, ``"AUTH"``, ``"MAIL"``, ``"RCPT"``,
    ``"DATA"``).
    """

    def __init__(
        self,
        ses_message: str = "",
        *,
        smtp_code: int | None = None,
        stage: str | None = None,
        configuration_set: str | None = None,
    ) -> None:
        self.smtp_code = smtp_code
        self.stage = stage
        super().__init__(
            ses_message,
            code=None if smtp_code is None else str(smtp_code),
            configuration_set=configuration_set,
        )

    @property
    def smtp_message(self) -> str:
        """The text of the server's reply (empty when there was no reply)."""
        return self.ses_message if self.smtp_code is not None else ""

    def _describe(self) -> str:
        if self.smtp_code is None:
            return f"{self.ses_message}; {self.advice}"
        to = f" to {self.stage}" if self.stage else ""
        return f"the SMTP server answered{to} with {self.smtp_code} {self.ses_message}; {self.advice}"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_smtp_error, (type(self), self.args), self.__dict__.copy())


def _rebuild_smtp_error(cls: type[SmtpError], args: tuple[object, ...]) -> SmtpError:
    error = cls.__new__(cls)
    error.args = args
    return error


class SmtpConnectionError(SmtpError):
    """No usable connection: the server could not be reached, TLS failed, or it offered no STARTTLS."""

    stops_bulk = True
    advice = (
        "check the host, the port and the TLS mode (STARTTLS on 25, 587, 2587; implicit TLS on 465, 2465), "
        "and that ssl_context trusts the server's certificate"
    )


class SmtpAuthenticationError(SmtpError):
    """The server refused the SMTP user name and password (SES answers ``535``)."""

    stops_bulk = True
    advice = (
        "the user name is the IAM access key id, the password smtp_password(secret_access_key, region) for "
        "the region of the endpoint; temporary (session) credentials do not work for SMTP"
    )


class SmtpDisconnected(SmtpError, TransientFailure):
    """The connection dropped before the message was handed over, and again after reconnecting.

    Nothing was accepted, so sending the message again later is safe.
    """

    advice = "the message was not sent: check the network and send it again"


class SmtpOutcomeUnknown(SmtpError, SendOutcomeUnknown):
    """The connection dropped after the message content was handed over and before the server answered.

    SES may have accepted it, so sesflow does not send it again by itself.
    """

    advice = SendOutcomeUnknown.advice


class SmtpTemporaryError(SmtpError, TransientFailure):
    """The server deferred the message with a 4xx reply: the same message may succeed later."""

    advice = "a temporary refusal: send the message again later"


class SmtpPermanentError(SmtpError):
    """The server refused the message with a 5xx reply: sending it again unchanged will fail the same way."""

    advice = "fix what the reply says before sending again"


class SmtpRecipientsRefused(SmtpError):
    """The server refused every recipient; ``refused`` maps each address to the server's reply."""

    advice = "no recipient was accepted, so nothing was sent: check the addresses"

    def __init__(self, refused: Mapping[str, SmtpReply], *, configuration_set: str | None = None) -> None:
        self.refused = dict(refused)
        first = next(iter(self.refused.values()))
        super().__init__(
            first.message, smtp_code=first.code, stage="RCPT", configuration_set=configuration_set
        )


class SmtpThrottled(SmtpError, Throttled):
    """``454 Throttling failure: Maximum sending rate exceeded``: the API path's ``Throttled``."""

    advice = (
        "the account's maximum send rate was exceeded: the SMTP senders do not wait and retry by themselves, "
        "so send more slowly (or back off and send again), or request a higher rate"
    )


class SmtpDailyQuotaExceeded(SmtpError, DailyQuotaExceeded):
    """``454 Throttling failure: Daily message quota exceeded``: the API path's ``DailyQuotaExceeded``."""


class SmtpMessageRejected(SmtpError, MessageRejected):
    """``554 Message rejected: ...``: the API path's ``MessageRejected``."""


class SmtpConfigurationSetNotFound(SmtpError, ConfigurationSetNotFound):
    """A reply saying the configuration set does not exist: the API path's ``ConfigurationSetNotFound``."""


# A reply naming a missing configuration set. AWS lists the error as "Configuration set does not exist"
# (docs.aws.amazon.com/ses/latest/dg/troubleshoot-error-messages.html); the SMTP replies seen for it read
# "554 Configuration Set does not exist: Configuration set <name> does not exist." Matched in any case,
# with or without the set's name (bare, <name>, "name" or 'name') after "set", with the words apart or run
# together (ConfigurationSetDoesNotExist, CONFIGURATION_SET_NOT_FOUND), and in the "not found" form.
_SEP = r"[\s_-]*"
_SET_NAME = r"""(?:<[^<>]*>|"[^"]*"|'[^']*'|[\w.-]+)"""
_MISSING_CONFIGURATION_SET = re.compile(
    rf"configuration{_SEP}set(?:\s+{_SET_NAME})?[\s_:-]*"
    rf"(?:(?:does{_SEP}not|doesn['\u2019]t){_SEP}exist|(?:(?:is|was)\s+)?not{_SEP}found)",
    re.IGNORECASE,
)


def names_missing_configuration_set(text: str) -> bool:
    """Whether an SMTP reply's ``text`` says that the configuration set does not exist."""
    return _MISSING_CONFIGURATION_SET.search(text) is not None


def reply_error(stage: str, code: int, message: str, *, configuration_set: str | None = None) -> SmtpError:
    """The typed error for a refusing reply ``code message`` to the ``stage`` command.

    SES's throttling (``454 Throttling failure: ...``) gives the API path's types (``Throttled``,
    ``DailyQuotaExceeded``), as do a rejected message (``554 Message rejected``) and a missing
    configuration set; other replies give ``SmtpAuthenticationError`` (at AUTH or 535),
    ``SmtpTemporaryError`` (4xx) or ``SmtpPermanentError`` (5xx).
    """
    text = message.lower()
    cls: type[SmtpError]
    if code == 454 and "throttling" in text:
        cls = SmtpDailyQuotaExceeded if "daily" in text else SmtpThrottled
    elif stage == "AUTH" or code == 535:
        cls = SmtpAuthenticationError
    elif names_missing_configuration_set(message):
        cls = SmtpConfigurationSetNotFound
    elif code >= 500 and "message rejected" in text:
        cls = SmtpMessageRejected
    elif 400 <= code < 500:
        cls = SmtpTemporaryError
    else:
        cls = SmtpPermanentError
    return cls(message, smtp_code=code, stage=stage, configuration_set=configuration_set)
