"""``AsyncSmtpSender``: the aiosmtplib shell (extra ``smtp``). Like the smtplib one, it carries out the
dialogue's commands and hands back normalised replies; every decision is the dialogue's (``_dialogue``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from email.message import EmailMessage
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ...errors import MissingExtra
from .._core import Exclusive, Sleep, run_flow_async
from ..errors import SendingError
from ..message import Email
from ._dialogue import (
    Answer,
    Close,
    Command,
    Connect,
    Data,
    Extensions,
    Hello,
    Login,
    Mail,
    NoReply,
    Quit,
    Rcpt,
    Reset,
    SmtpFlow,
    SmtpResult,
    StartTls,
)
from ._errors import SmtpReply
from ._shell import SenderBase

if TYPE_CHECKING:
    import aiosmtplib

__all__ = ["AsyncSmtpSender"]

T = TypeVar("T")

# Module-level so a test can see the waits the rate limit asks for without waiting them.
_async_sleep = asyncio.sleep


class AsyncSmtpSender(SenderBase):
    """The asyncio twin of :class:`~sesflow.sending.smtp.SmtpSender`, over :mod:`aiosmtplib` (extra ``smtp``).

    Same options and behaviour: one connection and one login reused (``async with``), a reconnect when the
    server has dropped it, typed errors. Concurrent ``send`` calls on one sender take turns on its
    connection; for parallel sending use several senders.
    """

    _conn: aiosmtplib.SMTP | None
    _lock: asyncio.Lock

    def _set_up_transport(self) -> None:
        try:
            import aiosmtplib  # noqa: F401 - only to fail early, naming the extra
        except ImportError:
            raise MissingExtra("AsyncSmtpSender", "smtp", "aiosmtplib") from None
        self._conn = None
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
        await self._run(self._dialogue.open())

    async def close(self) -> None:
        """Say QUIT and close the connection; the next ``send`` opens a new one."""
        await self._run(self._dialogue.close())

    async def send(
        self,
        message: Email | EmailMessage,
        *,
        configuration_set: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> SmtpResult:
        """Send one message; see :meth:`SmtpSender.send <sesflow.sending.smtp.SmtpSender.send>`."""
        return await self._run(self._dialogue.send(message, configuration_set=configuration_set, tags=tags))

    async def send_many(self, messages: Iterable[Email | EmailMessage]) -> list[SmtpResult | SendingError]:
        """Send each message in turn over the connection; a failure is returned in its place (never raised)
        instead of stopping the others."""
        return await self._run(self._dialogue.send_many(messages))

    # ------------------------------------------------------------------ carrying out the dialogue

    async def _run(self, flow: SmtpFlow[T]) -> T:
        return await run_flow_async(flow, self._perform)

    async def _perform(self, effect: Any) -> Any:
        import aiosmtplib

        if isinstance(effect, Sleep):
            await _async_sleep(effect.seconds)
            return None
        if isinstance(effect, Exclusive):
            async with self._lock:
                return await self._run(effect.flow)
        try:
            return await self._command(effect)
        except aiosmtplib.SMTPResponseException as exc:
            return SmtpReply(exc.code, exc.message)
        except (OSError, aiosmtplib.SMTPException) as exc:
            return NoReply(exc)

    async def _command(self, command: Command) -> Answer:
        import aiosmtplib

        if isinstance(command, Connect):
            conn = aiosmtplib.SMTP(
                hostname=command.host,
                port=command.port,
                local_hostname=command.local_hostname,
                timeout=command.timeout,
                use_tls=command.tls_context is not None,
                start_tls=False,
                tls_context=command.tls_context,
            )
            self._conn = conn
            return _reply(await conn.connect())
        conn_or_none = self._conn
        if isinstance(command, Quit | Close):
            self._conn = None
            if conn_or_none is not None:
                if isinstance(command, Quit) and conn_or_none.is_connected:
                    with contextlib.suppress(OSError, aiosmtplib.SMTPException):
                        await conn_or_none.quit()
                conn_or_none.close()
            return None
        if conn_or_none is None:
            raise aiosmtplib.SMTPServerDisconnected("not connected")
        conn = conn_or_none
        if isinstance(command, Hello):
            await conn.ehlo()  # a refusal raises SMTPHeloError, a reply
            return Extensions(frozenset(conn.esmtp_extensions))
        if isinstance(command, StartTls):
            return _reply(await conn.starttls(tls_context=command.tls_context))
        if isinstance(command, Login):
            return _reply(await conn.login(command.username, command.password))
        if isinstance(command, Mail):
            return _reply(await conn.mail(command.sender, options=list(command.options)))
        if isinstance(command, Rcpt):
            return _reply(await conn.rcpt(command.recipient))
        if isinstance(command, Data):
            return _reply(await conn.data(command.content))
        assert isinstance(command, Reset)
        return _reply(await conn.rset())


def _reply(response: aiosmtplib.SMTPResponse) -> SmtpReply:
    return SmtpReply(response.code, response.message)
