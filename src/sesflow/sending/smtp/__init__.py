"""Sending through SES's SMTP interface, with the configuration set always attached.

SES reads two headers on SMTP (and raw MIME) messages: ``X-SES-CONFIGURATION-SET`` names the configuration
set, and ``X-SES-MESSAGE-TAGS`` carries the message tags as ``name1=value1, name2=value2``; it strips both
before delivery. Over SMTP, ``X-SES-TENANT`` names the tenant the message is sent for.
``prepare_message`` builds the message with those headers set and checked by the same rules as the API
path, and works out the SMTP envelope. The SMTP dialogue itself (connecting, securing,
logging in, MAIL / RCPT / DATA, RSET after a refusal, reconnecting after a ``421`` or a dropped connection,
and the typed errors: ``454 Throttling failure`` is the same ``Throttled`` as
on the API path) is written once, without IO, in ``_dialogue``; ``SmtpSender`` (smtplib) and
``AsyncSmtpSender`` (aiosmtplib, extra ``smtp``) only carry out its commands over one TLS connection and
one login reused across many messages.

The modules: ``_settings`` (endpoints, ports, the SMTP password, ``SmtpSettings``), ``_errors`` (replies
and errors), ``_message`` (preparing a message), ``_dialogue`` (the protocol, no IO), ``_sync`` and ``_async``
(the two shells).
"""

from ..._public import publish
from ._async import AsyncSmtpSender
from ._dialogue import SmtpResult
from ._errors import (
    SmtpAuthenticationError,
    SmtpConfigurationSetNotFound,
    SmtpConnectionError,
    SmtpDailyQuotaExceeded,
    SmtpDisconnected,
    SmtpError,
    SmtpMessageRejected,
    SmtpOutcomeUnknown,
    SmtpPermanentError,
    SmtpRecipientsRefused,
    SmtpReply,
    SmtpTemporaryError,
    SmtpThrottled,
    reply_error,
)
from ._message import TENANT_HEADER, PreparedMessage, parse_tags_header, prepare_message
from ._settings import IMPLICIT_TLS_PORTS, STARTTLS_PORTS, SmtpSettings, smtp_host, smtp_password
from ._settings import TlsMode as TlsMode  # the type of the tls= option, importable here as before
from ._sync import SmtpSender

__all__ = [
    "STARTTLS_PORTS",
    "TENANT_HEADER",
    "IMPLICIT_TLS_PORTS",
    "smtp_password",
    "smtp_host",
    "SmtpSender",
    "AsyncSmtpSender",
    "SmtpSettings",
    "SmtpResult",
    "SmtpReply",
    "PreparedMessage",
    "prepare_message",
    "parse_tags_header",
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

publish(__name__, __all__, globals())
