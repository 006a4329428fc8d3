"""``AsyncSmtpSender``: the aiosmtplib shell (extra ``smtp``). Like the smtplib one, it carries out the
dialogue's commands and hands back normalised replies; every decision is the dialogue's (``_dialogue``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from email.message import EmailMessage
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ...errors import MissingExtra
from .._core import Exclusive, Sleep, run_flow_async
from ..errors import SendingError
from ..message import Email
from . import _dialogue as dialogue
from ._dialogue import SmtpFlow, SmtpResult
from ._errors import SmtpReply
from ._shell import SenderBase

if TYPE_CHECKING:
    import aiosmtplib

__all__ = ["AsyncSmtpSender"]

T = TypeVar("T")

# Module-level so a test can see the waits the rate limit asks for without waiting them.
_async_sleep = asyncio.sleep


class AsyncSmtpSender(SenderBase):
    """The asyncio twin of ``SmtpSender``, over ``aiosmtplib`` (extra ``smtp``).

    Same options and behaviour: one connection and one login reused (``async with``), a reconnect when the
    server has dropped it, typed errors. Concurrent ``send`` calls on one sender take turns on its
    connection; for parallel sending use several senders.
    """

    def _set_up_transport(self) -> None:
        try:
            import aiosmtplib  # noqa: F401 - only to fail early, naming the extra
        except ImportError:
            raise MissingExtra("AsyncSmtpSender", "smtp", "aiosmtplib") from None
        # Annotated here, not in the class body: aiosmtplib is an optional extra, and the class's published
        # type hints must resolve without it.
        self._conn: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> AsyncSmtpSender:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

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
        tenant: str | None = None,
    ) -> SmtpResult:
        """Send one message; see ``SmtpSender.send``."""
        return await self._run(self._dialogue.send(message, configuration_set, tags, tenant))

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
            return dialogue.NoReply(exc)

    async def _command(self, command: dialogue.Command) -> dialogue.Answer:
        import aiosmtplib

        if isinstance(command, dialogue.Connect):
            self._conn = aiosmtplib.SMTP(
                hostname=command.host,
                port=command.port,
                local_hostname=command.local_hostname,
                timeout=command.timeout,
                use_tls=command.tls_context is not None,
                start_tls=False,
                tls_context=command.tls_context,
            )
            return _reply(await self._conn.connect())
        if isinstance(command, dialogue.Close):
            self._hang_up()
            return None
        conn: aiosmtplib.SMTP = self._connection()
        if isinstance(command, dialogue.Hello):
            await conn.ehlo()  # a refusal raises SMTPHeloError, a reply
            return dialogue.Extensions(frozenset(conn.esmtp_extensions))
        if isinstance(command, dialogue.StartTls):
            return _reply(await conn.starttls(tls_context=command.tls_context))
        if isinstance(command, dialogue.Login):
            return _reply(await conn.login(command.username, command.password))
        if isinstance(command, dialogue.Mail):
            return _reply(await conn.mail(command.sender, options=list(command.options)))
        if isinstance(command, dialogue.Rcpt):
            return _reply(await conn.rcpt(command.recipient))
        if isinstance(command, dialogue.Data):
            return _reply(await conn.data(command.content))
        if isinstance(command, dialogue.Quit):
            return _reply(await conn.quit())
        assert isinstance(command, dialogue.Reset)
        return _reply(await conn.rset())


def _reply(response: aiosmtplib.SMTPResponse) -> SmtpReply:
    return SmtpReply(response.code, response.message)
