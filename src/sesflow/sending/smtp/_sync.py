"""``SmtpSender``: the smtplib shell. It carries out the dialogue's commands and hands back normalised
replies; every decision is the dialogue's (``_dialogue``)."""

from __future__ import annotations

import smtplib
import threading
import time
from collections.abc import Iterable, Mapping
from email.message import EmailMessage
from types import TracebackType
from typing import Any, TypeVar

from .._core import Exclusive, Sleep, run_flow
from ..errors import SendingError
from ..message import Email
from . import _dialogue as dialogue
from ._dialogue import SmtpFlow, SmtpResult
from ._errors import SmtpReply
from ._shell import SenderBase

__all__ = ["SmtpSender"]

T = TypeVar("T")

# Module-level so a test can see the waits the rate limit asks for without waiting them.
_sleep = time.sleep


class SmtpSender(SenderBase):
    """Send through SES's SMTP interface with ``smtplib``, reusing one connection.

    ``host`` defaults to ``email-smtp.<region>.amazonaws.com``; the port decides the TLS mode (465 and 2465
    implicit TLS, the others STARTTLS) unless ``tls`` says. ``username`` is the IAM access key id and
    ``password`` ``smtp_password`` of its secret; neither is ever logged.
    ``ssl_context`` replaces the system trust store (the certificate is always verified).
    ``configuration_set`` is attached to every message that does not name its own; a message with none raises
    unless ``allow_no_configuration_set``. ``tenant`` likewise names the tenant of every message that does not
    name its own (in an ``X-SES-TENANT`` header); without one, messages are sent for no tenant.
    ``max_send_rate`` paces sending to that many recipients per second (SES counts its maximum send rate in
    recipients); pass the ``TokenBucket`` an API client uses to keep both within one
    account rate. ``None`` (the default) does not pace.

    Use it as a context manager (one connection and one login for many messages), or call ``close``.
    It is safe to share between threads; messages go one at a time over the connection.
    """

    _conn: smtplib.SMTP | None
    _lock: threading.Lock

    def _set_up_transport(self) -> None:
        self._conn = None
        self._lock = threading.Lock()

    def __enter__(self) -> SmtpSender:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> None:
        """Connect, secure and log in now (``send`` does it on demand otherwise)."""
        self._run(self._dialogue.open())

    def close(self) -> None:
        """Say QUIT and close the connection; the next ``send`` opens a new one."""
        self._run(self._dialogue.close())

    def send(
        self,
        message: Email | EmailMessage,
        *,
        configuration_set: str | None = None,
        tags: Mapping[str, str] | None = None,
        tenant: str | None = None,
    ) -> SmtpResult:
        """Send one message; ``configuration_set``, ``tags`` and ``tenant`` override the message's own for
        this send.

        A connection the server has dropped is reopened and the message sent once more. Raises
        ``Throttled`` on ``454 Throttling failure``, and an
        ``SmtpError`` for other refusals (keeping the SMTP code).
        """
        return self._run(self._dialogue.send(message, configuration_set, tags, tenant))

    def send_many(self, messages: Iterable[Email | EmailMessage]) -> list[SmtpResult | SendingError]:
        """Send each message in turn over the connection; a failure is returned in its place (never raised)
        instead of stopping the others."""
        return self._run(self._dialogue.send_many(messages))

    # ------------------------------------------------------------------ carrying out the dialogue

    def _run(self, flow: SmtpFlow[T]) -> T:
        return run_flow(flow, self._perform)

    def _perform(self, effect: Any) -> Any:
        if isinstance(effect, Sleep):
            _sleep(effect.seconds)
            return None
        if isinstance(effect, Exclusive):
            with self._lock:
                return self._run(effect.flow)
        try:
            return self._command(effect)
        except smtplib.SMTPResponseException as exc:
            return SmtpReply(exc.smtp_code, _text(exc.smtp_error))
        except (OSError, smtplib.SMTPException) as exc:
            return dialogue.NoReply(exc)

    def _command(self, command: dialogue.Command) -> dialogue.Answer:
        if isinstance(command, dialogue.Connect):
            # smtplib's constructor connects, reads the greeting and raises for anything but 220.
            if command.tls_context is not None:
                self._conn = smtplib.SMTP_SSL(
                    command.host,
                    command.port,
                    local_hostname=command.local_hostname,
                    timeout=command.timeout,
                    context=command.tls_context,
                )
            else:
                self._conn = smtplib.SMTP(
                    command.host, command.port, local_hostname=command.local_hostname, timeout=command.timeout
                )
            return SmtpReply(220, "")
        if isinstance(command, dialogue.Close):
            self._hang_up()
            return None
        conn: smtplib.SMTP = self._connection()
        if isinstance(command, dialogue.Hello):
            code, text = conn.ehlo()
            return (
                dialogue.Extensions(frozenset(conn.esmtp_features))
                if code == 250
                else SmtpReply(code, _text(text))
            )
        if isinstance(command, dialogue.StartTls):
            return _reply(conn.starttls(context=command.tls_context))
        if isinstance(command, dialogue.Login):
            return _reply(conn.login(command.username, command.password))
        if isinstance(command, dialogue.Mail):
            return _reply(conn.mail(command.sender, list(command.options)))
        if isinstance(command, dialogue.Rcpt):
            return _reply(conn.rcpt(command.recipient))
        if isinstance(command, dialogue.Data):
            return _reply(conn.data(command.content))
        if isinstance(command, dialogue.Quit):
            return _reply(conn.quit())
        assert isinstance(command, dialogue.Reset)
        return _reply(conn.rset())


def _reply(reply: tuple[int, bytes | str]) -> SmtpReply:
    return SmtpReply(reply[0], _text(reply[1]))


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
