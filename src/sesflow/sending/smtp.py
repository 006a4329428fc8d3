"""Sending through SES's SMTP interface, with the configuration set always attached.

SES reads two headers on SMTP (and raw MIME) messages: ``X-SES-CONFIGURATION-SET`` names the configuration
set, and ``X-SES-MESSAGE-TAGS`` carries the message tags as ``name1=value1, name2=value2``; it strips both
before delivery. ``prepare_message`` builds the message with those headers set and checked by the same
rules as the API path, and works out the SMTP envelope. ``SmtpSender`` (smtplib) and
``AsyncSmtpSender`` (aiosmtplib, extra ``smtp``) only do the IO: one TLS connection and one login
reused across many messages, a reconnect when SES has dropped the connection, and SMTP replies mapped to
typed errors (``454 Throttling failure`` is the same ``Throttled`` as on the
API path).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import email.utils
import hashlib
import hmac
import logging
import os
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from email.message import EmailMessage
from types import TracebackType
from typing import TYPE_CHECKING, Final, Literal

import attrs

from ..errors import MissingExtra
from .errors import (
    ConfigurationSetNotFound,
    ConfigurationSetRequired,
    DailyQuotaExceeded,
    MessageRejected,
    SendOutcomeUnknown,
    SesError,
    Throttled,
    TransientFailure,
    ValidationError,
)
from .message import Address, Email
from .mime import build_mime, format_tags_header, mime_bytes
from .ratelimit import TokenBucket, make_bucket
from .validation import MAX_MESSAGE_SIZE_V2, MAX_RECIPIENTS, validate_configuration_set_name, validate_tags

if TYPE_CHECKING:
    import aiosmtplib

__all__ = [
    "STARTTLS_PORTS",
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

log = logging.getLogger("sesflow.smtp")

STARTTLS_PORTS: Final = frozenset({25, 587, 2587})
"""SES's SMTP ports that start in plain text and upgrade with STARTTLS."""
IMPLICIT_TLS_PORTS: Final = frozenset({465, 2465})
"""SES's SMTP ports that speak TLS from the first byte ("SMTPS")."""

TlsMode = Literal["starttls", "implicit"]


# --------------------------------------------------------------------------------------------------------
# The SMTP password


def smtp_password(secret_access_key: str, region: str) -> str:
    """The SES SMTP password for an IAM user's secret access key in ``region``.

    SES derives it with a fixed-date SigV4-style chain: HMAC-SHA256 of ``"11111111"`` under
    ``"AWS4" + secret``, then over the region, ``"ses"``, ``"aws4_request"`` and ``"SendRawEmail"``; the
    password is the base64 of a version byte ``0x04`` followed by that key (44 characters). The SMTP user
    name is the access key id. Use long-term IAM user keys: temporary (session) credentials do not work for
    SMTP.
    """
    if not secret_access_key:
        raise ValidationError("secret_access_key", "is empty: pass the IAM user's secret access key")
    if not region or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d+", region):
        raise ValidationError("region", f"{region!r} is not an AWS region name: pass one such as 'us-east-1'")
    key = hmac.digest(("AWS4" + secret_access_key).encode("utf-8"), b"11111111", hashlib.sha256)
    for part in (region, "ses", "aws4_request", "SendRawEmail"):
        key = hmac.digest(key, part.encode("utf-8"), hashlib.sha256)
    return base64.b64encode(b"\x04" + key).decode("ascii")


def smtp_host(region: str) -> str:
    """SES's SMTP endpoint for ``region``: ``email-smtp.<region>.amazonaws.com``."""
    return f"email-smtp.{region}.amazonaws.com"


# --------------------------------------------------------------------------------------------------------
# Errors: the SMTP path raises the same SesError types as the API path (``code`` is the reply code as text)


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


# --------------------------------------------------------------------------------------------------------
# Settings


@attrs.frozen
class SmtpSettings:
    """Where and how to connect. Build it with ``build``, which fills in SES's defaults."""

    host: str
    port: int
    tls: TlsMode
    username: str | None = attrs.field(default=None, repr=False)
    password: str | None = attrs.field(default=None, repr=False)
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, repr=False)
    timeout: float = 30.0
    local_hostname: str | None = None
    configuration_set: str | None = None
    allow_no_configuration_set: bool = False

    @classmethod
    def build(
        cls,
        host: str | None = None,
        port: int = 587,
        *,
        region: str | None = None,
        tls: TlsMode | None = None,
        username: str | None = None,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
        local_hostname: str | None = None,
        configuration_set: str | None = None,
        allow_no_configuration_set: bool = False,
    ) -> SmtpSettings:
        """Check the options and fill in defaults: the host from the region (or ``AWS_REGION`` /
        ``AWS_DEFAULT_REGION``), the TLS mode from the port (465 and 2465 implicit, others STARTTLS)."""
        if host is None:
            region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            if not region:
                raise ValidationError(
                    "host", "no SMTP host: pass host='email-smtp.<region>.amazonaws.com' or region='<region>'"
                )
            host = smtp_host(region)
        if not 0 < port < 65536:
            raise ValidationError(
                "port", f"{port} is not a TCP port: SES listens on 25, 587, 2587, 465, 2465"
            )
        if tls is None:
            tls = "implicit" if port in IMPLICIT_TLS_PORTS else "starttls"
        elif tls not in ("starttls", "implicit"):
            raise ValidationError("tls", f"{tls!r} is not a TLS mode: use 'starttls' or 'implicit'")
        elif tls == "implicit" and port in STARTTLS_PORTS:
            raise ValidationError(
                "tls", f"port {port} speaks STARTTLS: use tls='starttls', or port 465 or 2465"
            )
        elif tls == "starttls" and port in IMPLICIT_TLS_PORTS:
            raise ValidationError("tls", f"port {port} speaks implicit TLS: use tls='implicit', or port 587")
        if (username is None) != (password is None):
            raise ValidationError(
                "password" if password is None else "username",
                "give both username and password (the access key id and smtp_password(secret, region)), "
                "or neither",
            )
        if timeout <= 0:
            raise ValidationError("timeout", f"must be a positive number of seconds, not {timeout!r}")
        if configuration_set is not None:
            validate_configuration_set_name(configuration_set)
        return cls(
            host=host,
            port=port,
            tls=tls,
            username=username,
            password=password,
            ssl_context=ssl_context,
            timeout=timeout,
            local_hostname=local_hostname,
            configuration_set=configuration_set,
            allow_no_configuration_set=allow_no_configuration_set,
        )

    def tls_context(self) -> ssl.SSLContext:
        """The context to verify the server with: the caller's, or the system's default trust store."""
        return self.ssl_context if self.ssl_context is not None else ssl.create_default_context()


# --------------------------------------------------------------------------------------------------------
# The pure core: message → headers, envelope and bytes; replies → results and errors


@attrs.frozen
class SmtpReply:
    """One SMTP reply: code and text."""

    code: int
    message: str


@attrs.frozen
class PreparedMessage:
    """A message ready for the wire: its envelope, its bytes, and what was attached to it."""

    envelope_from: str
    recipients: tuple[str, ...]
    data: bytes = attrs.field(repr=False)
    message_id: str
    configuration_set: str | None
    tags: Mapping[str, str]

    @property
    def eight_bit(self) -> bool:
        """Whether the bytes need the server's ``8BITMIME`` support."""
        return not self.data.isascii()


@attrs.frozen
class SmtpResult:
    """What the server said about one message.

    ``message_id`` is the ``Message-ID`` header that was sent; ``ses_message_id`` the id SES returns in its
    ``250 Ok <id>`` reply (the ``mail.messageId`` of the events that follow), or None if the server answered
    otherwise; ``response`` the server's full reply to the message. ``refused`` maps each recipient the
    server refused (while accepting others) to its reply.
    """

    message_id: str
    accepted: tuple[str, ...]
    refused: Mapping[str, SmtpReply]
    configuration_set: str | None
    tags: Mapping[str, str]
    response: str
    ses_message_id: str | None


_SES_REPLY_ID = re.compile(r"Ok\s+(\S+)", re.IGNORECASE)


def prepare_message(
    message: Email | EmailMessage,
    *,
    configuration_set: str | None = None,
    tags: Mapping[str, str] | None = None,
    default_configuration_set: str | None = None,
    allow_no_configuration_set: bool = False,
) -> PreparedMessage:
    """Build the bytes and envelope of ``message`` with SES's headers set. Pure: no IO.

    The configuration set is the first of: ``configuration_set``, the message's own (an ``Email``'s
    ``configuration_set``, or an ``X-SES-CONFIGURATION-SET`` header already on an ``EmailMessage``), and
    ``default_configuration_set``. Without any, this raises
    ``ConfigurationSetRequired`` unless ``allow_no_configuration_set``.
    ``tags`` are added to the message's own (an ``Email``'s ``tags``, or those of an ``X-SES-MESSAGE-TAGS``
    header), winning on equal names. The name and the tags are checked by the same rules as the API path.

    An ``EmailMessage`` is copied, never changed: the copy gets both headers (replacing any), a
    ``Message-ID`` and a ``Date`` when it has none, and loses its ``Bcc`` header; the envelope sender is its
    ``Sender`` or ``From`` address and the recipients are those of ``To``, ``Cc`` and ``Bcc``. An ``Email``
    is built by ``build_mime``; its envelope sender is its ``feedback_address``
    (where SES sends bounces for SMTP mail) or its sender.
    """
    if isinstance(message, EmailMessage):
        mime, envelope_from, recipients = _copy_with_envelope(message)
        own_set_field = "X-SES-CONFIGURATION-SET"
        header_set = mime.get("X-SES-CONFIGURATION-SET")
        own_set = None if header_set is None else str(header_set).strip()
        own_tags = parse_tags_header(str(mime.get("X-SES-MESSAGE-TAGS", "")))
    elif isinstance(message, Email):
        if message.list_management is not None:
            raise ValidationError(
                "list_management",
                "SES's list management is an option of the v2 API, not of SMTP: send this message with a "
                "SesClient",
            )
        mime = None
        envelope_from = (message.feedback_address or message.sender).ascii_email
        recipients = _unique(message.recipients)
        own_set_field = "Email.configuration_set"
        own_set = message.configuration_set
        own_tags = dict(message.tags)
    else:
        raise TypeError(
            f"send an sesflow Email or an email.message.EmailMessage, not {type(message).__name__}"
        )

    chosen: str | None
    if configuration_set is not None:
        chosen = validate_configuration_set_name(configuration_set)
    elif own_set is not None:
        chosen = validate_configuration_set_name(own_set, field=own_set_field)
    elif default_configuration_set is not None:
        chosen = validate_configuration_set_name(default_configuration_set)
    elif allow_no_configuration_set:
        chosen = None
    else:
        raise ConfigurationSetRequired()
    all_tags = validate_tags({**own_tags, **(tags or {})})

    if mime is None:
        assert isinstance(message, Email)
        mime = build_mime(message, configuration_set=chosen, tags=all_tags)
    else:
        del mime["X-SES-CONFIGURATION-SET"]
        del mime["X-SES-MESSAGE-TAGS"]
        if chosen is not None:
            mime["X-SES-CONFIGURATION-SET"] = chosen
        if all_tags:
            mime["X-SES-MESSAGE-TAGS"] = format_tags_header(all_tags)
    if mime.get("Date") is None:
        mime["Date"] = email.utils.formatdate(usegmt=True)
    if mime.get("Message-ID") is None:
        mime["Message-ID"] = email.utils.make_msgid(domain=envelope_from.rpartition("@")[2])
    data = mime_bytes(mime, limit=MAX_MESSAGE_SIZE_V2, api="SMTP")
    return PreparedMessage(
        envelope_from=envelope_from,
        recipients=recipients,
        data=data,
        message_id=str(mime["Message-ID"]),
        configuration_set=chosen,
        tags=all_tags,
    )


def parse_tags_header(value: str, *, field: str = "X-SES-MESSAGE-TAGS") -> dict[str, str]:
    """The tags of an ``X-SES-MESSAGE-TAGS`` value (``name1=value1, name2=value2``), not yet checked by
    SES's rules; raises ``ValidationError`` for an entry without ``=``."""
    tags: dict[str, str] = {}
    for entry in value.split(","):
        entry = entry.strip()
        if not entry:
            continue
        name, sep, tag_value = entry.partition("=")
        if not sep:
            raise ValidationError(
                field, f"entry {entry!r} is not name=value: write 'name1=value1, name2=value2'"
            )
        tags[name.strip()] = tag_value.strip()
    return tags


def _copy_with_envelope(message: EmailMessage) -> tuple[EmailMessage, str, tuple[str, ...]]:
    mime = copy.deepcopy(message)
    sender_field = "Sender" if mime.get("Sender") is not None else "From"
    senders = [a for _, a in email.utils.getaddresses([str(v) for v in mime.get_all(sender_field, [])]) if a]
    if not senders:
        raise ValidationError(
            "From", "the message has no sender address: set msg['From'] to a verified identity"
        )
    envelope_from = _wire_address(senders[0], sender_field)
    recipients: list[str] = []
    for name in ("To", "Cc", "Bcc"):
        values = [str(v) for v in mime.get_all(name, [])]
        recipients.extend(_wire_address(a, name) for _, a in email.utils.getaddresses(values) if a)
    unique = _unique(recipients)
    if not unique:
        raise ValidationError("To", "the message has no recipients: set To, Cc or Bcc")
    if len(unique) > MAX_RECIPIENTS:
        raise ValidationError(
            "To",
            f"{len(unique)} recipients (To + Cc + Bcc) and SES takes at most {MAX_RECIPIENTS} per "
            "message: split the message",
        )
    del mime["Bcc"]
    return mime, envelope_from, unique


def _wire_address(address: str, field: str) -> str:
    """``address`` checked by the same rules as an ``Email``'s, with its domain in ASCII (IDNA)."""
    try:
        return Address(address).ascii_email
    except ValidationError as exc:
        raise ValidationError(field, exc.reason) from None


def _unique(addresses: Iterable[str]) -> tuple[str, ...]:
    """Addresses in order, each once (compared without regard to case)."""
    seen: set[str] = set()
    out: list[str] = []
    for address in addresses:
        if address.lower() not in seen:
            seen.add(address.lower())
            out.append(address)
    return tuple(out)


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
    elif "configuration set does not exist" in text or "configuration set not found" in text:
        cls = SmtpConfigurationSetNotFound
    elif code >= 500 and "message rejected" in text:
        cls = SmtpMessageRejected
    elif 400 <= code < 500:
        cls = SmtpTemporaryError
    else:
        cls = SmtpPermanentError
    return cls(message, smtp_code=code, stage=stage, configuration_set=configuration_set)


def _all_refused(refused: Mapping[str, SmtpReply], configuration_set: str | None) -> SmtpError:
    """The error when every recipient was refused: throttling if that was the reason, else the refusals."""
    for reply in refused.values():
        error = reply_error("RCPT", reply.code, reply.message, configuration_set=configuration_set)
        if isinstance(error, Throttled | DailyQuotaExceeded):
            return error
    return SmtpRecipientsRefused(refused, configuration_set=configuration_set)


def _result(prepared: PreparedMessage, refused: Mapping[str, SmtpReply], response: str) -> SmtpResult:
    match = _SES_REPLY_ID.match(response)
    return SmtpResult(
        message_id=prepared.message_id,
        accepted=tuple(r for r in prepared.recipients if r not in refused),
        refused=dict(refused),
        configuration_set=prepared.configuration_set,
        tags=prepared.tags,
        response=response,
        ses_message_id=match.group(1) if match else None,
    )


def _mail_options(prepared: PreparedMessage, supports: Mapping[str, bool]) -> list[str]:
    """MAIL FROM parameters: the size when the server takes SIZE, 8BITMIME when the bytes need it."""
    options = []
    if supports.get("size"):
        options.append(f"SIZE={len(prepared.data)}")
    if prepared.eight_bit and supports.get("8bitmime"):
        options.append("BODY=8BITMIME")
    return options


class _Redo(Exception):
    """Internal: the connection went away before the message was accepted; reconnect and send it again."""

    def __init__(self, error: SmtpError) -> None:
        super().__init__(str(error))
        self.error = error


def _closed(stage: str, configuration_set: str | None, reply: SmtpReply | None = None) -> _Redo:
    """A ``421`` reply (the server is closing the connection), or a connection found dropped, at ``stage``."""
    if reply is not None:
        return _Redo(
            SmtpTemporaryError(
                reply.message, smtp_code=reply.code, stage=stage, configuration_set=configuration_set
            )
        )
    return _Redo(
        SmtpDisconnected(
            f"the connection dropped at {stage}, and again after reconnecting",
            stage=stage,
            configuration_set=configuration_set,
        )
    )


def _outcome_unknown(configuration_set: str | None) -> SmtpOutcomeUnknown:
    return SmtpOutcomeUnknown(
        "the connection dropped after the message was handed over and before the server answered; it was "
        "not sent again",
        stage="DATA",
        configuration_set=configuration_set,
    )


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


# --------------------------------------------------------------------------------------------------------
# Sync transport (smtplib)


# Module-level so a test can see the waits the rate limit asks for without waiting them.
_sleep = time.sleep
_async_sleep = asyncio.sleep


class SmtpSender:
    """Send through SES's SMTP interface with ``smtplib``, reusing one connection.

    ``host`` defaults to ``email-smtp.<region>.amazonaws.com``; the port decides the TLS mode (465 and 2465
    implicit TLS, the others STARTTLS) unless ``tls`` says. ``username`` is the IAM access key id and
    ``password`` ``smtp_password`` of its secret; neither is ever logged. ``ssl_context`` replaces the
    system trust store (the certificate is always verified). ``configuration_set`` is attached to every
    message that does not name its own; a message with none raises unless ``allow_no_configuration_set``.
    ``max_send_rate`` paces sending to that many recipients per second (SES counts its maximum send rate in
    recipients); pass the ``TokenBucket`` an API client uses to keep both within one
    account rate. ``None`` (the default) does not pace.

    Use it as a context manager (one connection and one login for many messages), or call ``close``.
    It is safe to share between threads; messages go one at a time over the connection.
    """

    def __init__(
        self,
        host: str | None = None,
        port: int = 587,
        *,
        region: str | None = None,
        tls: TlsMode | None = None,
        username: str | None = None,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
        local_hostname: str | None = None,
        configuration_set: str | None = None,
        allow_no_configuration_set: bool = False,
        max_send_rate: float | TokenBucket | None = None,
    ) -> None:
        self.settings = SmtpSettings.build(
            host,
            port,
            region=region,
            tls=tls,
            username=username,
            password=password,
            ssl_context=ssl_context,
            timeout=timeout,
            local_hostname=local_hostname,
            configuration_set=configuration_set,
            allow_no_configuration_set=allow_no_configuration_set,
        )
        self.rate_limit = make_bucket(max_send_rate)
        self._conn: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> SmtpSender:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """Whether a connection is open (it may still have been dropped by the server since)."""
        return self._conn is not None

    def open(self) -> None:
        """Connect, secure and log in now (``send`` does it on demand otherwise)."""
        with self._lock:
            self._connection()

    def close(self) -> None:
        """Say QUIT and close the connection; the next ``send`` opens a new one."""
        with self._lock:
            self._drop(polite=True)

    def prepare(
        self,
        message: Email | EmailMessage,
        *,
        configuration_set: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> PreparedMessage:
        """The message as ``send`` would send it (see ``prepare_message``), without sending."""
        return prepare_message(
            message,
            configuration_set=configuration_set,
            tags=tags,
            default_configuration_set=self.settings.configuration_set,
            allow_no_configuration_set=self.settings.allow_no_configuration_set,
        )

    def send(
        self,
        message: Email | EmailMessage,
        *,
        configuration_set: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> SmtpResult:
        """Send one message; ``configuration_set`` and ``tags`` override the message's own for this send.

        A connection the server has dropped is reopened and the message sent once more. Raises
        ``Throttled`` on ``454 Throttling failure``, and an
        ``SmtpError`` for other refusals (keeping the SMTP code).
        """
        prepared = self.prepare(message, configuration_set=configuration_set, tags=tags)
        wait = self.rate_limit.reserve(len(prepared.recipients)) if self.rate_limit is not None else 0.0
        if wait > 0:
            _sleep(wait)
        with self._lock:
            try:
                return self._transact(self._connection(), prepared)
            except _Redo:
                log.info(
                    "SMTP connection to %s:%d was dropped; reconnecting",
                    self.settings.host,
                    self.settings.port,
                )
                self._drop(polite=False)
            try:
                return self._transact(self._connection(), prepared)
            except _Redo as redo:
                self._drop(polite=False)
                raise redo.error from None

    def _connection(self) -> smtplib.SMTP:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        log.debug("connecting to %s:%d (%s)", s.host, s.port, s.tls)
        conn: smtplib.SMTP
        try:
            if s.tls == "implicit":
                conn = smtplib.SMTP_SSL(
                    s.host,
                    s.port,
                    local_hostname=s.local_hostname,
                    timeout=s.timeout,
                    context=s.tls_context(),
                )
            else:
                conn = smtplib.SMTP(s.host, s.port, local_hostname=s.local_hostname, timeout=s.timeout)
        except smtplib.SMTPResponseException as exc:
            raise _connect_refused(s, exc.smtp_code, _text(exc.smtp_error)) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise _unreachable(s, exc) from exc
        try:
            conn.ehlo()
            if s.tls == "starttls":
                if not conn.has_extn("starttls"):
                    raise _no_starttls(s)
                conn.starttls(context=s.tls_context())
                conn.ehlo()
            if s.username is not None and s.password is not None:
                if not conn.has_extn("auth"):
                    raise _no_auth(s)
                try:
                    conn.login(s.username, s.password)
                except smtplib.SMTPAuthenticationError as exc:
                    raise reply_error("AUTH", exc.smtp_code, _text(exc.smtp_error)) from None
        except SmtpError:
            conn.close()
            raise
        except smtplib.SMTPResponseException as exc:
            conn.close()
            raise _connect_refused(s, exc.smtp_code, _text(exc.smtp_error)) from None
        except (OSError, smtplib.SMTPException) as exc:
            conn.close()
            raise _unreachable(s, exc) from exc
        log.debug("connected to %s:%d", s.host, s.port)
        return conn

    def _drop(self, *, polite: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if polite:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                conn.quit()
        conn.close()

    def _reset(self, conn: smtplib.SMTP) -> None:
        """RSET after a refused message, so the connection can carry the next one (or drop it)."""
        try:
            code, _ = conn.rset()
        except (OSError, smtplib.SMTPException):
            code = 0
        if code != 250:
            self._drop(polite=False)

    def _transact(self, conn: smtplib.SMTP, prepared: PreparedMessage) -> SmtpResult:
        """One MAIL / RCPT... / DATA exchange; ``_Redo`` when the connection went away before DATA."""
        cs = prepared.configuration_set
        supports = {name: conn.has_extn(name) for name in ("size", "8bitmime")}
        refused: dict[str, SmtpReply] = {}
        try:
            code, raw = conn.mail(prepared.envelope_from, _mail_options(prepared, supports))
            if code == 421:
                raise _closed("MAIL", cs, SmtpReply(code, _text(raw)))
            if code != 250:
                self._reset(conn)
                raise reply_error("MAIL", code, _text(raw), configuration_set=cs)
            for recipient in prepared.recipients:
                code, raw = conn.rcpt(recipient)
                if code == 421:
                    raise _closed("RCPT", cs, SmtpReply(code, _text(raw)))
                if code not in (250, 251):
                    refused[recipient] = SmtpReply(code, _text(raw))
            if len(refused) == len(prepared.recipients):
                self._reset(conn)
                raise _all_refused(refused, cs)
        except smtplib.SMTPServerDisconnected:
            raise _closed("MAIL", cs) from None
        try:
            code, raw = conn.data(prepared.data)
        except smtplib.SMTPDataError as exc:  # the server refused the DATA command itself
            code, raw = exc.smtp_code, _text(exc.smtp_error).encode()
        except smtplib.SMTPServerDisconnected:
            self._drop(polite=False)
            raise _outcome_unknown(cs) from None
        if code == 421:
            raise _closed("DATA", cs, SmtpReply(code, _text(raw)))
        if code != 250:
            self._reset(conn)
            raise reply_error("DATA", code, _text(raw), configuration_set=cs)
        result = _result(prepared, refused, _text(raw))
        log.debug("sent %s to %d recipient(s)", result.message_id, len(result.accepted))
        return result


# --------------------------------------------------------------------------------------------------------
# Async transport (aiosmtplib)


def _import_aiosmtplib() -> object:
    try:
        import aiosmtplib
    except ImportError:
        raise MissingExtra("AsyncSmtpSender", "smtp", "aiosmtplib") from None
    return aiosmtplib


class AsyncSmtpSender:
    """The asyncio twin of ``SmtpSender``, over ``aiosmtplib`` (extra ``smtp``).

    Same options and behaviour: one connection and one login reused (``async with``), a reconnect when the
    server has dropped it, typed errors. Concurrent ``send`` calls on one sender take turns on its
    connection; for parallel sending use several senders.
    """

    def __init__(
        self,
        host: str | None = None,
        port: int = 587,
        *,
        region: str | None = None,
        tls: TlsMode | None = None,
        username: str | None = None,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
        local_hostname: str | None = None,
        configuration_set: str | None = None,
        allow_no_configuration_set: bool = False,
        max_send_rate: float | TokenBucket | None = None,
    ) -> None:
        _import_aiosmtplib()
        self.settings = SmtpSettings.build(
            host,
            port,
            region=region,
            tls=tls,
            username=username,
            password=password,
            ssl_context=ssl_context,
            timeout=timeout,
            local_hostname=local_hostname,
            configuration_set=configuration_set,
            allow_no_configuration_set=allow_no_configuration_set,
        )
        self.rate_limit = make_bucket(max_send_rate)
        self._conn: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> AsyncSmtpSender:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        """Whether a connection is open (it may still have been dropped by the server since)."""
        return self._conn is not None

    async def open(self) -> None:
        """Connect, secure and log in now (``send`` does it on demand otherwise)."""
        async with self._lock:
            await self._connection()

    async def close(self) -> None:
        """Say QUIT and close the connection; the next ``send`` opens a new one."""
        async with self._lock:
            await self._drop(polite=True)

    def prepare(
        self,
        message: Email | EmailMessage,
        *,
        configuration_set: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> PreparedMessage:
        """The message as ``send`` would send it (see ``prepare_message``), without sending."""
        return prepare_message(
            message,
            configuration_set=configuration_set,
            tags=tags,
            default_configuration_set=self.settings.configuration_set,
            allow_no_configuration_set=self.settings.allow_no_configuration_set,
        )

    async def send(
        self,
        message: Email | EmailMessage,
        *,
        configuration_set: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> SmtpResult:
        """Send one message; see ``SmtpSender.send``."""
        prepared = self.prepare(message, configuration_set=configuration_set, tags=tags)
        wait = self.rate_limit.reserve(len(prepared.recipients)) if self.rate_limit is not None else 0.0
        if wait > 0:
            await _async_sleep(wait)
        async with self._lock:
            try:
                return await self._transact(await self._connection(), prepared)
            except _Redo:
                log.info(
                    "SMTP connection to %s:%d was dropped; reconnecting",
                    self.settings.host,
                    self.settings.port,
                )
                await self._drop(polite=False)
            try:
                return await self._transact(await self._connection(), prepared)
            except _Redo as redo:
                await self._drop(polite=False)
                raise redo.error from None

    async def _connection(self) -> aiosmtplib.SMTP:
        if self._conn is None:
            self._conn = await self._connect()
        return self._conn

    async def _connect(self) -> aiosmtplib.SMTP:
        import aiosmtplib

        s = self.settings
        log.debug("connecting to %s:%d (%s)", s.host, s.port, s.tls)
        conn = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            local_hostname=s.local_hostname,
            timeout=s.timeout,
            use_tls=s.tls == "implicit",
            start_tls=False,
            tls_context=s.tls_context(),
        )
        try:
            await conn.connect()
            await conn.ehlo()
            if s.tls == "starttls":
                if not conn.supports_extension("starttls"):
                    raise _no_starttls(s)
                await conn.starttls()
                await conn.ehlo()
            if s.username is not None and s.password is not None:
                if not conn.supports_extension("auth"):
                    raise _no_auth(s)
                try:
                    await conn.login(s.username, s.password)
                except aiosmtplib.SMTPAuthenticationError as exc:
                    raise reply_error("AUTH", exc.code, exc.message) from None
        except SmtpError:
            conn.close()
            raise
        except aiosmtplib.SMTPResponseException as exc:
            conn.close()
            raise _connect_refused(s, exc.code, exc.message) from None
        except (OSError, aiosmtplib.SMTPException) as exc:
            conn.close()
            raise _unreachable(s, exc) from exc
        log.debug("connected to %s:%d", s.host, s.port)
        return conn

    async def _drop(self, *, polite: bool) -> None:
        import aiosmtplib

        conn, self._conn = self._conn, None
        if conn is None:
            return
        if polite and conn.is_connected:
            with contextlib.suppress(OSError, aiosmtplib.SMTPException):
                await conn.quit()
        conn.close()

    async def _reset(self, conn: aiosmtplib.SMTP) -> None:
        """RSET after a refused message, so the connection can carry the next one (or drop it)."""
        import aiosmtplib

        try:
            await conn.rset()
        except (OSError, aiosmtplib.SMTPException):
            await self._drop(polite=False)

    async def _transact(self, conn: aiosmtplib.SMTP, prepared: PreparedMessage) -> SmtpResult:
        """One MAIL / RCPT... / DATA exchange; ``_Redo`` when the connection went away before DATA."""
        import aiosmtplib

        cs = prepared.configuration_set
        supports = {name: conn.supports_extension(name) for name in ("size", "8bitmime")}
        refused: dict[str, SmtpReply] = {}
        try:
            try:
                await conn.mail(prepared.envelope_from, options=_mail_options(prepared, supports))
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code == 421:
                    raise _closed("MAIL", cs, SmtpReply(exc.code, exc.message)) from None
                await self._reset(conn)
                raise reply_error("MAIL", exc.code, exc.message, configuration_set=cs) from None
            for recipient in prepared.recipients:
                try:
                    await conn.rcpt(recipient)
                except aiosmtplib.SMTPResponseException as exc:
                    if exc.code == 421:
                        raise _closed("RCPT", cs, SmtpReply(exc.code, exc.message)) from None
                    refused[recipient] = SmtpReply(exc.code, exc.message)
            if len(refused) == len(prepared.recipients):
                await self._reset(conn)
                raise _all_refused(refused, cs)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
            raise _closed("MAIL", cs) from None
        try:
            reply = await conn.data(prepared.data)
            code, text = reply.code, reply.message
        except aiosmtplib.SMTPDataError as exc:
            code, text = exc.code, exc.message
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
            await self._drop(polite=False)
            raise _outcome_unknown(cs) from None
        if code == 421:
            raise _closed("DATA", cs, SmtpReply(code, text))
        if code != 250:
            await self._reset(conn)
            raise reply_error("DATA", code, text, configuration_set=cs)
        result = _result(prepared, refused, text)
        log.debug("sent %s to %d recipient(s)", result.message_id, len(result.accepted))
        return result


# --------------------------------------------------------------------------------------------------------
# Connection errors shared by both transports


def _unreachable(s: SmtpSettings, exc: BaseException) -> SmtpConnectionError:
    what = "TLS failed" if isinstance(exc, ssl.SSLError) else "could not connect"
    return SmtpConnectionError(f"{what} with {s.host}:{s.port} ({s.tls}): {exc}", stage="CONNECT")


def _connect_refused(s: SmtpSettings, code: int, message: str) -> SmtpConnectionError:
    return SmtpConnectionError(message, smtp_code=code, stage="CONNECT")


def _no_starttls(s: SmtpSettings) -> SmtpConnectionError:
    return SmtpConnectionError(
        f"{s.host}:{s.port} does not offer STARTTLS, and sesflow sends neither credentials nor mail in plain "
        "text",
        stage="STARTTLS",
    )


def _no_auth(s: SmtpSettings) -> SmtpAuthenticationError:
    return SmtpAuthenticationError(f"{s.host}:{s.port} offers no AUTH after TLS", stage="AUTH")
