"""What the two SMTP senders share: their options and the dialogue they carry out (no IO here either)."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from ..message import Email
from ..ratelimit import TokenBucket, make_bucket
from ._dialogue import SmtpDialogue
from ._message import PreparedMessage
from ._settings import SmtpSettings, TlsMode

__all__ = ["SenderBase"]


class SenderBase:
    """The options of ``SmtpSender`` and its async twin, and their dialogue."""

    _conn: Any  # the library's connection, None when there is none

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
        tenant: str | None = None,
    ) -> None:
        self._set_up_transport()
        settings = SmtpSettings.build(
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
            tenant=tenant,
        )
        self._dialogue = SmtpDialogue(settings, make_bucket(max_send_rate))

    def _set_up_transport(self) -> None:
        """Check the transport's library is there and make the connection slot and lock (per shell)."""
        raise NotImplementedError

    def _connection(self) -> Any:
        """The open connection; ``ConnectionError`` (an ``OSError``, so answered ``NoReply``) when none is."""
        if self._conn is None:
            raise ConnectionError("not connected")
        return self._conn

    def _hang_up(self) -> None:
        """Close the connection without a word (both libraries' ``close`` is synchronous)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    @property
    def connected(self) -> bool:
        """Whether a connection is open (it may still have been dropped by the server since)."""
        return self._conn is not None

    @property
    def settings(self) -> SmtpSettings:
        """Where and how the sender connects."""
        return self._dialogue.settings

    @property
    def rate_limit(self) -> TokenBucket | None:
        """The bucket pacing the sends (recipients per second), None when they are not paced."""
        return self._dialogue.rate_limit

    def prepare(
        self,
        message: Email | EmailMessage,
        *,
        configuration_set: str | None = None,
        tags: Mapping[str, str] | None = None,
        tenant: str | None = None,
    ) -> PreparedMessage:
        """The message as ``send`` would send it (see ``prepare_message``), without
        sending."""
        return self._dialogue.prepare(message, configuration_set, tags, tenant)
