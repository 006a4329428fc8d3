"""The SMTP dialogue with SES, written once and without IO (as h11 keeps HTTP/1.1 apart from sockets).

``SmtpDialogue`` decides everything a send over SMTP involves: which configuration set and tags a
message carries (by the API clients' rules, in ``_message``), how long the rate limit makes it wait, how a
connection is opened, secured and logged in, the MAIL / RCPT / DATA exchange, what each reply means (a
per-recipient refusal, an ``RSET`` after a refused message, a reconnect after a ``421`` or a dropped
connection, and when sending again would risk a duplicate), and which typed error comes out. Like
``SendingCore``, each operation is a flow: a generator that yields effects and is
sent their answers.

The effects are ``Sleep``, ``Exclusive`` (the
sender's one connection is used by one flow at a time) and the commands below. Every command is answered by
a normalised reply: an ``SmtpReply`` (whatever the library raised or returned for it),
``Extensions`` (a successful ``EHLO``), ``NoReply`` (the connection failed or dropped), or None
(for ``Close``). The shells (``_sync`` over smtplib, ``_async`` over aiosmtplib) only
carry out commands and normalise answers, so the two cannot decide differently.
"""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Generator, Iterable, Mapping
from email.message import EmailMessage
from typing import Any, Literal, NoReturn, TypeAlias, TypeVar

import attrs

from .._core import Exclusive, Sleep, failed_send
from ..errors import DailyQuotaExceeded, SendingError, Throttled
from ..message import Email
from ..ratelimit import TokenBucket
from ._errors import (
    SmtpAuthenticationError,
    SmtpConnectionError,
    SmtpDisconnected,
    SmtpError,
    SmtpOutcomeUnknown,
    SmtpRecipientsRefused,
    SmtpReply,
    SmtpTemporaryError,
    reply_error,
)
from ._message import PreparedMessage, prepare_message
from ._settings import SmtpSettings

__all__ = [
    "Connect",
    "Hello",
    "StartTls",
    "Login",
    "Mail",
    "Rcpt",
    "Data",
    "Reset",
    "Quit",
    "Close",
    "Command",
    "Extensions",
    "NoReply",
    "Answer",
    "SmtpFlow",
    "SmtpResult",
    "SmtpDialogue",
]

log = logging.getLogger("sesflow.smtp")

# --------------------------------------------------------------------------------------------------------
# Commands (what the shell is asked to do) and answers (what it sends back)


@attrs.frozen
class Connect:
    """Connect to ``host:port`` (TLS from the first byte with ``tls_context``) and read the greeting."""

    host: str
    port: int
    timeout: float
    local_hostname: str | None
    tls_context: ssl.SSLContext | None = attrs.field(repr=False)


@attrs.frozen
class Hello:
    """``EHLO``; a ``250`` is answered with the ``Extensions`` the server offers."""


@attrs.frozen
class StartTls:
    """``STARTTLS``, then the TLS handshake with ``tls_context`` (answered ``220`` when secured)."""

    tls_context: ssl.SSLContext = attrs.field(repr=False)


@attrs.frozen
class Login:
    """``AUTH`` with these credentials, by a mechanism both sides offer (answered ``235`` when logged in)."""

    username: str = attrs.field(repr=False)
    password: str = attrs.field(repr=False)


@attrs.frozen
class Mail:
    """``MAIL FROM:<sender>`` with ``options``."""

    sender: str
    options: tuple[str, ...]


@attrs.frozen
class Rcpt:
    """``RCPT TO:<recipient>``."""

    recipient: str


@attrs.frozen
class Data:
    """``DATA``, then ``content`` (dot-stuffed by the library); answered with the reply to the content, or
    the refusal of the ``DATA`` command itself."""

    content: bytes = attrs.field(repr=False)


@attrs.frozen
class Reset:
    """``RSET``."""


@attrs.frozen
class Quit:
    """``QUIT`` (the dialogue closes the connection next, whatever the answer)."""


@attrs.frozen
class Close:
    """Close the connection without a word (answered with None)."""


Command: TypeAlias = "Connect | Hello | StartTls | Login | Mail | Rcpt | Data | Reset | Quit | Close"


@attrs.frozen
class Extensions:
    """A ``250`` to ``EHLO``: the extensions the server offers, in lower case (``"starttls"``, ``"auth"``)."""

    names: frozenset[str]


@attrs.frozen
class NoReply:
    """No reply came: the connection could not be opened or secured, or it dropped (``error`` says how)."""

    error: BaseException


Answer: TypeAlias = "SmtpReply | Extensions | NoReply | None"
"""What a command is answered with (None for ``Close`` only)."""

T = TypeVar("T")
SmtpFlow: TypeAlias = Generator["Sleep | Exclusive | Command", Any, T]
"""A flow of the dialogue: it yields effects and commands and is sent their answers."""

# --------------------------------------------------------------------------------------------------------
# The result of a send


@attrs.frozen
class SmtpResult:
    """What the server said about one message.

    ``message_id`` is the ``Message-ID`` header that was sent; ``ses_message_id`` the id SES returns in its
    ``250 Ok <id>`` reply (the ``mail.messageId`` of the events that follow), or None if the server answered
    otherwise; ``response`` the server's full reply to the message. ``refused`` maps each recipient the
    server refused (while accepting others) to its reply. ``tenant`` is the tenant named in the message's
    ``X-SES-TENANT`` header, or None.
    """

    message_id: str
    accepted: tuple[str, ...]
    refused: Mapping[str, SmtpReply]
    configuration_set: str | None
    tags: Mapping[str, str]
    response: str
    ses_message_id: str | None
    tenant: str | None = None


_SES_REPLY_ID = re.compile(r"Ok\s+(\S+)", re.IGNORECASE)

# --------------------------------------------------------------------------------------------------------
# The dialogue

# "closed": no connection. "ready": connected, logged in, between transactions. "unsure": a connection whose
# state is not known (a flow stopped halfway, by cancellation or an exception from below): drop it before use.
_State = Literal["closed", "ready", "unsure"]


class _Redo(Exception):
    """Internal: the connection went away before the message was accepted; reconnect and send it again."""

    def __init__(self, error: SmtpError) -> None:
        super().__init__(str(error))
        self.error = error


class SmtpDialogue:
    """Everything one SMTP sender decides, for its settings and rate limit; it does no IO."""

    def __init__(self, settings: SmtpSettings, rate_limit: TokenBucket | None) -> None:
        self.settings = settings
        self.rate_limit = rate_limit
        self.state: _State = "closed"
        self._extensions: frozenset[str] = frozenset()

    # ------------------------------------------------------------------ public flows

    def prepare(
        self,
        message: Email | EmailMessage,
        configuration_set: str | None,
        tags: Mapping[str, str] | None,
        tenant: str | None = None,
    ) -> PreparedMessage:
        """The message as ``send`` would send it, ``configuration_set``, ``tags`` and ``tenant``
        overriding the message's own (no IO)."""
        return prepare_message(
            message,
            configuration_set=configuration_set,
            tags=tags,
            default_configuration_set=self.settings.configuration_set,
            allow_no_configuration_set=self.settings.allow_no_configuration_set,
            tenant=tenant,
            default_tenant=self.settings.tenant,
        )

    def open(self) -> SmtpFlow[None]:
        """Connect, secure and log in, unless a usable connection is open."""
        yield Exclusive("connection", self._ensure_open())

    def close(self) -> SmtpFlow[None]:
        """Say QUIT and close the connection (a connection in an unknown state is closed without a word)."""
        yield Exclusive("connection", self._close())

    def send(
        self,
        message: Email | EmailMessage,
        configuration_set: str | None,
        tags: Mapping[str, str] | None,
        tenant: str | None = None,
    ) -> SmtpFlow[SmtpResult]:
        """Send one message: prepare it (raising before any IO), wait for the rate limit, deliver it."""
        return (yield from self._send_prepared(self.prepare(message, configuration_set, tags, tenant)))

    def _send_prepared(self, prepared: PreparedMessage) -> SmtpFlow[SmtpResult]:
        wait = self.rate_limit.reserve(len(prepared.recipients)) if self.rate_limit is not None else 0.0
        if wait > 0:
            yield Sleep(wait)
        result: SmtpResult = yield Exclusive("connection", self._deliver(prepared))
        return result

    def send_many(
        self, messages: Iterable[Email | EmailMessage]
    ) -> SmtpFlow[list[SmtpResult | SendingError]]:
        """Send each message in turn; any failure of one is returned in its place (see
        ``failed_send``) and the others still go."""
        out: list[SmtpResult | SendingError] = []
        for message in messages:
            try:
                prepared = self.prepare(message, None, None)
            except Exception as exc:  # nothing went out: a message that cannot be prepared is invalid
                out.append(failed_send(exc, before_io=True))
                continue
            try:
                out.append((yield from self._send_prepared(prepared)))
            except Exception as exc:
                out.append(failed_send(exc))
        return out

    # ------------------------------------------------------------------ the connection

    def _drop(self) -> SmtpFlow[None]:
        self.state = "closed"
        yield Close()

    def _close(self) -> SmtpFlow[None]:
        if self.state == "ready":
            yield Quit()  # whatever the answer, the connection is closed next
        if self.state != "closed":
            yield from self._drop()

    def _ensure_open(self) -> SmtpFlow[None]:
        if self.state == "unsure":
            yield from self._drop()
        if self.state == "ready":
            return
        s = self.settings
        log.debug("connecting to %s:%d (%s)", s.host, s.port, s.tls)
        self.state = "unsure"
        implicit = s.tls == "implicit"
        greeting = yield Connect(
            s.host, s.port, s.timeout, s.local_hostname, s.tls_context() if implicit else None
        )
        yield from self._expect(greeting, 220)
        extensions = yield from self._hello()
        if s.tls == "starttls":
            if "starttls" not in extensions:
                yield from self._drop()
                raise SmtpConnectionError(
                    f"{s.host}:{s.port} does not offer STARTTLS, and sesflow sends neither credentials nor "
                    "mail in plain text",
                    stage="STARTTLS",
                )
            yield from self._expect((yield StartTls(s.tls_context())), 220)
            extensions = yield from self._hello()
        if s.username is not None and s.password is not None:
            if "auth" not in extensions:
                yield from self._drop()
                raise SmtpAuthenticationError(f"{s.host}:{s.port} offers no AUTH after TLS", stage="AUTH")
            answer = yield Login(s.username, s.password)
            yield from self._expect(answer, 235, 503, stage="AUTH")
        self._extensions = extensions
        self.state = "ready"
        log.debug("connected to %s:%d", s.host, s.port)

    def _hello(self) -> SmtpFlow[frozenset[str]]:
        answer: Answer = yield Hello()
        if isinstance(answer, Extensions):
            return answer.names
        return (yield from self._fail(answer, "CONNECT"))

    def _expect(self, answer: Answer, *codes: int, stage: str = "CONNECT") -> SmtpFlow[None]:
        """Go on when ``answer`` is a reply with one of ``codes``; otherwise ``_fail``."""
        if not (isinstance(answer, SmtpReply) and answer.code in codes):
            yield from self._fail(answer, stage)

    def _fail(self, answer: Answer, stage: str) -> SmtpFlow[NoReturn]:
        """Drop the connection being opened and raise what ``answer`` means: a refusal at ``stage``, or no
        connection at all."""
        yield from self._drop()
        s = self.settings
        if isinstance(answer, SmtpReply):
            if stage == "AUTH":
                raise reply_error("AUTH", answer.code, answer.message)
            raise SmtpConnectionError(answer.message, smtp_code=answer.code, stage=stage)
        error = answer.error if isinstance(answer, NoReply) else None
        what = "TLS failed" if isinstance(error, ssl.SSLError) else "could not connect"
        raise SmtpConnectionError(
            f"{what} with {s.host}:{s.port} ({s.tls}): {error}", stage="CONNECT"
        ) from error

    # ------------------------------------------------------------------ one message

    def _deliver(self, prepared: PreparedMessage) -> SmtpFlow[SmtpResult]:
        """Open the connection if needed and send; after a drop before the content was accepted (no reply, or
        ``421``), reconnect and send once more."""
        try:
            yield from self._ensure_open()
            return (yield from self._transact(prepared))
        except _Redo:
            log.info(
                "SMTP connection to %s:%d was dropped; reconnecting", self.settings.host, self.settings.port
            )
            yield from self._drop()
        try:
            yield from self._ensure_open()
            return (yield from self._transact(prepared))
        except _Redo as redo:
            yield from self._drop()
            raise redo.error from None

    def _transact(self, prepared: PreparedMessage) -> SmtpFlow[SmtpResult]:
        """One MAIL / RCPT... / DATA exchange; ``_Redo`` when the connection went away before DATA's end."""
        cs = prepared.configuration_set
        self.state = "unsure"  # until the exchange ends in a known state
        options = _mail_options(prepared, {name: name in self._extensions for name in ("size", "8bitmime")})
        reply = _reply_or_redo((yield Mail(prepared.envelope_from, tuple(options))), "MAIL", cs)
        if reply.code != 250:
            yield from self._reset()
            raise reply_error("MAIL", reply.code, reply.message, configuration_set=cs)
        refused: dict[str, SmtpReply] = {}
        for recipient in prepared.recipients:
            reply = _reply_or_redo((yield Rcpt(recipient)), "RCPT", cs)
            if reply.code not in (250, 251):
                refused[recipient] = reply
        if len(refused) == len(prepared.recipients):
            yield from self._reset()
            raise _all_refused(refused, cs)
        answer = yield Data(prepared.data)
        if isinstance(answer, NoReply):  # the content may have arrived: sending it again could duplicate it
            yield from self._drop()
            raise SmtpOutcomeUnknown(
                "the connection dropped after the message was handed over and before the server answered; it "
                "was not sent again",
                stage="DATA",
                configuration_set=cs,
            )
        reply = _reply_or_redo(answer, "DATA", cs)
        if reply.code != 250:
            yield from self._reset()
            raise reply_error("DATA", reply.code, reply.message, configuration_set=cs)
        self.state = "ready"
        result = _result(prepared, refused, reply.message)
        log.debug("sent %s to %d recipient(s)", result.message_id, len(result.accepted))
        return result

    def _reset(self) -> SmtpFlow[None]:
        """RSET after a refused message, so the connection can carry the next one (or drop it)."""
        answer = yield Reset()
        if isinstance(answer, SmtpReply) and answer.code == 250:
            self.state = "ready"
        else:
            yield from self._drop()


def _reply_or_redo(answer: Answer, stage: str, configuration_set: str | None) -> SmtpReply:
    """The reply to a command of the exchange; ``_Redo`` when the server closed the connection instead (a
    ``421``, or no reply at all) before accepting the message."""
    if isinstance(answer, SmtpReply) and answer.code != 421:
        return answer
    error: SmtpError
    if isinstance(answer, SmtpReply):
        error = SmtpTemporaryError(
            answer.message, smtp_code=answer.code, stage=stage, configuration_set=configuration_set
        )
    else:
        error = SmtpDisconnected(
            f"the connection dropped at {stage}, and again after reconnecting",
            stage=stage,
            configuration_set=configuration_set,
        )
    raise _Redo(error)


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
        tenant=prepared.tenant,
    )


def _mail_options(prepared: PreparedMessage, supports: Mapping[str, bool]) -> list[str]:
    """MAIL FROM parameters: the size when the server takes SIZE, 8BITMIME when the bytes need it."""
    options = []
    if supports.get("size"):
        options.append(f"SIZE={len(prepared.data)}")
    if prepared.eight_bit and supports.get("8bitmime"):
        options.append("BODY=8BITMIME")
    return options
