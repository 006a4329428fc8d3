"""SmtpSender and AsyncSmtpSender against a real local SMTP server (aiosmtpd) over TLS.

The server listens on 127.0.0.1 with a certificate issued in the test by a throwaway CA (which the client
trusts through ``ssl_context``), requires STARTTLS (or speaks implicit TLS), and requires AUTH LOGIN/PLAIN.
It answers like SES (``250 Ok <id>``) and records every envelope, message, connection and login; tests
script its replies (421, 454, 554...) and make it drop connections.
"""

from __future__ import annotations

import asyncio
import email
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable, Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, TypeVar

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from sesflow.errors import MissingExtra
from sesflow.sending.errors import (
    ConfigurationSetNotFound,
    ConfigurationSetRequired,
    MessageRejected,
    SendOutcomeUnknown,
    Throttled,
    ValidationError,
)
from sesflow.sending.message import Attachment, Email, Template
from sesflow.sending.ratelimit import TokenBucket
from sesflow.sending.smtp import (
    AsyncSmtpSender,
    SmtpAuthenticationError,
    SmtpConfigurationSetNotFound,
    SmtpConnectionError,
    SmtpError,
    SmtpOutcomeUnknown,
    SmtpRecipientsRefused,
    SmtpResult,
    SmtpSender,
    SmtpTemporaryError,
    SmtpThrottled,
    smtp_password,
)
from sesflow.sending.smtp import _async as smtp_async
from sesflow.sending.smtp import _sync as smtp_sync

from ._sns_signing import make_tls

# aiosmtpd counts only STARTTLS as TLS when it decides whether AUTH is safe; the implicit-TLS server is TLS
# from the first byte, and the plain server exists to prove the client never logs in without TLS.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

USER = "AKIAIOSFODNN7EXAMPLE"
PASSWORD = smtp_password("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1")
T = TypeVar("T")


# ---------------------------------------------------------------------------------------------------------
# Certificates: a test CA and a server certificate for 127.0.0.1 (the ones the SNS tests use)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tls = make_tls()
    directory = tmp_path_factory.mktemp("smtp-tls")
    files = {"ca": directory / "ca.pem", "cert": directory / "server.pem", "key": directory / "server.key"}
    files["ca"].write_bytes(tls.ca_pem)
    files["cert"].write_bytes(tls.server_cert_pem)
    files["key"].write_bytes(tls.server_key_pem)
    return files


@pytest.fixture(scope="module")
def client_context(tls_files: dict[str, Path]) -> ssl.SSLContext:
    """What a caller passes as ``ssl_context``: the system defaults, trusting the test CA."""
    return ssl.create_default_context(cafile=str(tls_files["ca"]))


def _server_context(tls_files: dict[str, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files["cert"], tls_files["key"])
    return context


# ---------------------------------------------------------------------------------------------------------
# The server


class Recorder:
    """The aiosmtpd handler: answers like SES and records what arrives; replies can be scripted."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.logins: list[str] = []  # the AUTH mechanism of each successful login
        self.mail_replies: list[str] = []  # replies to the next MAIL commands, in order
        self.rcpt_replies: dict[str, str] = {}  # address -> reply
        self.data_replies: list[str] = []  # replies to the next messages, in order
        self.drop_in_data = False  # cut the connection instead of answering the next message
        self.drop_at_mail = False  # cut the connection instead of answering the next MAIL

    def authenticator(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == USER.encode()
            and auth_data.password == PASSWORD.encode()
        )
        if ok:
            self.logins.append(mechanism)
        return AuthResult(success=ok, handled=False)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.drop_at_mail:
            self.drop_at_mail = False
            _abort(server)
            return "421 dropped"
        if self.mail_replies:
            return self.mail_replies.pop(0)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 Ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.drop_in_data:
            self.drop_in_data = False
            _abort(server)
            return "250 Ok never-seen"
        if self.data_replies:
            return self.data_replies.pop(0)
        assert isinstance(envelope.content, bytes)
        ses_id = f"0100018f0000{len(self.messages):04d}-test-000000"
        self.messages.append(
            {
                "mail_from": envelope.mail_from,
                "mail_options": list(envelope.mail_options),
                "rcpt_tos": list(envelope.rcpt_tos),
                "message": email.message_from_bytes(envelope.content, policy=policy.default),
                "session": session,
                "tls": server.transport is not None
                and server.transport.get_extra_info("ssl_object") is not None,
                "ses_id": ses_id,
            }
        )
        return f"250 Ok {ses_id}"

    @property
    def connections(self) -> int:
        """How many connections carried at least one message."""
        return len({id(m["session"]) for m in self.messages})


def _abort(server: SMTP) -> None:
    transport = server.transport
    assert transport is not None
    transport.abort()


class SmtpTestServer(Controller):
    """aiosmtpd's threaded controller on a free loopback port, keeping each connection's SMTP instance."""

    def __init__(self, handler: Recorder, **kwargs: Any) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=0, server_hostname="localhost", **kwargs)
        self.sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        smtp = super().factory()
        self.sessions.append(smtp)
        return smtp

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()
        self.sessions.clear()  # the controller's own start-up probe is not a client connection

    def drop_all(self) -> None:
        """Abort every open connection from the server side, and wait until the server has let them go."""

        async def drop() -> None:
            for smtp in self.sessions:
                if smtp.transport is not None:
                    smtp.transport.abort()
            for _ in range(1000):
                if all(smtp.transport is None for smtp in self.sessions):
                    return
                await asyncio.sleep(0)
            raise AssertionError("the server did not close its connections")

        asyncio.run_coroutine_threadsafe(drop(), self.loop).result(timeout=5)


def _start(
    tls_files: dict[str, Path], mode: Literal["starttls", "implicit", "plain"], **kwargs: Any
) -> Iterator[tuple[SmtpTestServer, Recorder]]:
    recorder = Recorder()
    context = _server_context(tls_files)
    options: dict[str, Any] = {"authenticator": recorder.authenticator, "auth_required": True, **kwargs}
    if mode == "starttls":
        options.update(tls_context=context, require_starttls=True)
    elif mode == "implicit":
        # aiosmtpd only counts STARTTLS as TLS for AUTH; here the whole connection is TLS from the start
        options.update(ssl_context=context, auth_require_tls=False)
    else:
        options.update(auth_require_tls=False)
    server = SmtpTestServer(recorder, **options)
    server.start()
    try:
        yield server, recorder
    finally:
        server.stop()


@pytest.fixture
def starttls_server(tls_files: dict[str, Path]) -> Iterator[tuple[SmtpTestServer, Recorder]]:
    yield from _start(tls_files, "starttls")


@pytest.fixture
def implicit_server(tls_files: dict[str, Path]) -> Iterator[tuple[SmtpTestServer, Recorder]]:
    yield from _start(tls_files, "implicit")


# ---------------------------------------------------------------------------------------------------------
# Sync and async senders behind one interface, so every scenario runs against both


class AsyncAdapter:
    """Drives an AsyncSmtpSender on an event loop of its own, so a scenario reads like the sync one."""

    def __init__(self, sender: AsyncSmtpSender) -> None:
        self.sender = sender
        self.loop = asyncio.new_event_loop()

    def _run(self, coro: Awaitable[T]) -> T:
        return self.loop.run_until_complete(coro)  # type: ignore[arg-type]

    def send(self, message: Any, **kwargs: Any) -> SmtpResult:
        return self._run(self.sender.send(message, **kwargs))

    def send_many(self, messages: Any) -> list[Any]:
        return self._run(self.sender.send_many(messages))

    def open(self) -> None:
        self._run(self.sender.open())

    def close(self) -> None:
        self._run(self.sender.close())
        self.loop.close()

    @property
    def connected(self) -> bool:
        return self.sender.connected


Sender = SmtpSender | AsyncAdapter


@pytest.fixture(params=["sync", "async"])
def make_sender(
    request: pytest.FixtureRequest, client_context: ssl.SSLContext
) -> Iterator[Callable[..., Sender]]:
    made: list[Sender] = []

    def make(server: SmtpTestServer, **kwargs: Any) -> Sender:
        options: dict[str, Any] = {
            "username": USER,
            "password": PASSWORD,
            "ssl_context": client_context,
            "configuration_set": "cs-default",
            "local_hostname": "client.test",
            "timeout": 5.0,
            **kwargs,
        }
        port = options.pop("port", server.port)
        sender: Sender
        if request.param == "sync":
            sender = SmtpSender("127.0.0.1", port, **options)
        else:
            sender = AsyncAdapter(AsyncSmtpSender("127.0.0.1", port, **options))
        made.append(sender)
        return sender

    yield make
    for sender in made:
        sender.close()


def message(to: str = "to@example.com", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Sender <sender@example.com>"
    msg["To"] = to
    msg["Subject"] = "Hello"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Hello from sesflow.\n")
    return msg


Server = tuple[SmtpTestServer, Recorder]


# ---------------------------------------------------------------------------------------------------------
# What arrives


def test_server_receives_ses_headers_and_every_recipient(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)
    msg = message(Cc="Carol <carol@example.com>", Bcc="bob@example.com, dave@example.com")

    result = sender.send(msg, tags={"campaign": "spring-2025", "tier": "gold"})

    [received] = recorder.messages
    assert received["mail_from"] == "sender@example.com"
    assert received["rcpt_tos"] == [
        "to@example.com",
        "carol@example.com",
        "bob@example.com",
        "dave@example.com",
    ]
    headers = received["message"]
    assert headers["X-SES-CONFIGURATION-SET"] == "cs-default"
    assert headers["X-SES-MESSAGE-TAGS"] == "campaign=spring-2025, tier=gold"
    assert headers["Bcc"] is None
    assert "bob@example.com" not in str(headers)
    assert headers.get_content().splitlines() == ["Hello from sesflow."]
    assert result.accepted == ("to@example.com", "carol@example.com", "bob@example.com", "dave@example.com")
    assert result.refused == {}
    assert result.message_id == headers["Message-ID"]
    assert result.ses_message_id == received["ses_id"]
    assert result.configuration_set == "cs-default"
    assert result.tags == {"campaign": "spring-2025", "tier": "gold"}
    # the caller's message is left as it was
    assert msg["Bcc"] == "bob@example.com, dave@example.com"
    assert msg["X-SES-CONFIGURATION-SET"] is None
    assert msg["Message-ID"] is None
    assert len(recorder.logins) == 1


def test_an_8bit_body_travels_7bit_clean_with_its_size_declared(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)
    msg = message()
    msg.replace_header("Subject", "Grüße")
    msg.set_content("Grüße aus Köln, 5 €\n", cte="8bit")

    sender.send(msg)

    [received] = recorder.messages
    assert received["mail_options"] == [f"SIZE={len(received['message'].as_bytes(policy=policy.SMTP))}"]
    assert received["message"]["Content-Transfer-Encoding"] == "base64"
    assert received["message"]["Subject"] == "Grüße"
    assert received["message"].get_content().splitlines() == ["Grüße aus Köln, 5 €"]


def test_login_works_with_auth_login_only(
    make_sender: Callable[..., Sender], tls_files: dict[str, Path]
) -> None:
    for server, recorder in _start(tls_files, "starttls", auth_exclude_mechanism=["PLAIN"]):
        make_sender(server).send(message())
        assert recorder.logins == ["LOGIN"]
        assert len(recorder.messages) == 1


def test_implicit_tls(make_sender: Callable[..., Sender], implicit_server: Server) -> None:
    server, recorder = implicit_server
    sender = make_sender(server, tls="implicit")

    sender.send(message())

    [received] = recorder.messages
    assert received["tls"]
    assert received["message"]["X-SES-CONFIGURATION-SET"] == "cs-default"


def test_the_connection_is_secured_before_login(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    make_sender(server).send(message())
    assert recorder.messages[0]["session"].ssl is not None  # set by STARTTLS
    assert recorder.messages[0]["tls"]
    assert recorder.messages[0]["session"].authenticated


# ---------------------------------------------------------------------------------------------------------
# Connections


def test_many_messages_share_one_connection_and_one_login(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)
    sender.open()

    results = [sender.send(message(to=f"user{i}@example.com")) for i in range(25)]

    assert [m["rcpt_tos"] for m in recorder.messages] == [[f"user{i}@example.com"] for i in range(25)]
    assert len({r.ses_message_id for r in results}) == 25
    assert recorder.connections == 1
    assert len(server.sessions) == 1
    assert len(recorder.logins) == 1


def test_reconnects_when_the_server_dropped_an_idle_connection(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)
    sender.send(message(to="first@example.com"))
    server.drop_all()

    sender.send(message(to="second@example.com"))
    sender.send(message(to="third@example.com"))

    assert [m["rcpt_tos"] for m in recorder.messages] == [
        ["first@example.com"],
        ["second@example.com"],
        ["third@example.com"],
    ]
    assert recorder.connections == 2
    assert len(recorder.logins) == 2


def test_reconnects_when_the_connection_drops_at_mail(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)
    sender.open()
    recorder.drop_at_mail = True

    result = sender.send(message())

    assert len(recorder.messages) == 1
    assert result.ses_message_id == recorder.messages[0]["ses_id"]
    assert len(server.sessions) == 2
    assert len(recorder.logins) == 2


def test_a_421_reply_reconnects_and_sends_again(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)
    recorder.data_replies = ["421 4.4.2 Timeout waiting for data from client."]

    sender.send(message())

    assert len(recorder.messages) == 1
    assert len(recorder.logins) == 2


def test_only_one_retry_after_a_drop(make_sender: Callable[..., Sender], starttls_server: Server) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)
    recorder.mail_replies = ["421 4.3.2 Service not available", "421 4.3.2 Service not available"]

    with pytest.raises(SmtpTemporaryError) as caught:
        sender.send(message())

    assert caught.value.smtp_code == 421
    assert caught.value.stage == "MAIL"
    assert recorder.messages == []
    assert len(recorder.logins) == 2
    sender.send(message())  # the next message gets a fresh connection
    assert len(recorder.messages) == 1


def test_a_drop_after_the_content_was_sent_is_not_resent(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)
    recorder.drop_in_data = True

    with pytest.raises(SendOutcomeUnknown) as caught:
        sender.send(message(to="once@example.com"))

    assert isinstance(caught.value, SmtpOutcomeUnknown)
    assert caught.value.stage == "DATA"
    assert caught.value.configuration_set == "cs-default"
    assert not caught.value.retryable
    assert len(recorder.logins) == 1  # no reconnect, no second attempt
    assert not sender.connected
    sender.send(message(to="next@example.com"))
    assert [m["rcpt_tos"] for m in recorder.messages] == [["next@example.com"]]


# ---------------------------------------------------------------------------------------------------------
# Refusals


@pytest.mark.parametrize("stage", ["MAIL", "DATA"])
def test_454_throttling_is_the_api_paths_throttled(
    make_sender: Callable[..., Sender], starttls_server: Server, stage: str
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)
    reply = "454 Throttling failure: Maximum sending rate exceeded."
    if stage == "MAIL":
        recorder.mail_replies = [reply]
    else:
        recorder.data_replies = [reply]

    with pytest.raises(Throttled) as caught:
        sender.send(message())

    assert isinstance(caught.value, SmtpError)
    assert caught.value.retryable
    assert caught.value.smtp_code == 454
    assert caught.value.code == "454"
    assert caught.value.stage == stage
    assert "Maximum sending rate exceeded" in str(caught.value)
    sender.send(message())  # the connection was reset and carries on
    assert len(recorder.messages) == 1
    assert len(server.sessions) == 1


def test_a_permanent_refusal_keeps_the_smtp_code(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)
    recorder.data_replies = [
        "554 Message rejected: Email address is not verified. The following identities failed the check "
        "in region US-EAST-1: sender@example.com"
    ]

    with pytest.raises(MessageRejected) as caught:
        sender.send(message())

    assert isinstance(caught.value, SmtpError)
    assert caught.value.smtp_code == 554
    assert caught.value.stage == "DATA"
    assert "not verified" in caught.value.smtp_message
    assert recorder.messages == []


def test_some_refused_recipients_are_reported(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)
    recorder.rcpt_replies = {"gone@example.com": "550 5.1.1 mailbox unavailable"}

    result = sender.send(message(to="gone@example.com, here@example.com"))

    assert result.accepted == ("here@example.com",)
    assert result.refused["gone@example.com"].code == 550
    assert result.refused["gone@example.com"].message == "5.1.1 mailbox unavailable"
    assert recorder.messages[0]["rcpt_tos"] == ["here@example.com"]


def test_all_refused_recipients_raise(make_sender: Callable[..., Sender], starttls_server: Server) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)
    recorder.rcpt_replies = {"a@example.com": "550 no", "b@example.com": "553 bad"}

    with pytest.raises(SmtpRecipientsRefused) as caught:
        sender.send(message(to="a@example.com, b@example.com"))

    assert {a: r.code for a, r in caught.value.refused.items()} == {
        "a@example.com": 550,
        "b@example.com": 553,
    }
    sender.send(message(to="c@example.com"))
    assert [m["rcpt_tos"] for m in recorder.messages] == [["c@example.com"]]
    assert len(server.sessions) == 1


def test_wrong_credentials(make_sender: Callable[..., Sender], starttls_server: Server) -> None:
    server, recorder = starttls_server
    sender = make_sender(server, password=smtp_password("not-the-secret", "us-east-1"))

    with pytest.raises(SmtpAuthenticationError) as caught:
        sender.send(message())

    assert caught.value.smtp_code == 535
    assert recorder.logins == []
    assert recorder.messages == []
    assert not sender.connected


def test_an_untrusted_certificate_is_refused(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server, ssl_context=ssl.create_default_context())  # system trust store only

    with pytest.raises(SmtpConnectionError, match="TLS failed"):
        sender.open()

    assert recorder.logins == []


def test_nothing_listening(make_sender: Callable[..., Sender], starttls_server: Server) -> None:
    server, _ = starttls_server
    with socket.socket() as probe:  # a loopback port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = make_sender(server, port=port)

    with pytest.raises(SmtpConnectionError, match="could not connect") as caught:
        sender.send(message())

    assert caught.value.stage == "CONNECT"
    assert caught.value.smtp_code is None
    assert server.sessions == []


def test_a_server_without_starttls_gets_no_credentials(
    make_sender: Callable[..., Sender], tls_files: dict[str, Path]
) -> None:
    for server, recorder in _start(tls_files, "plain"):
        sender = make_sender(server)
        with pytest.raises(SmtpConnectionError) as caught:
            sender.send(message())
        assert caught.value.stage == "STARTTLS"
        assert recorder.logins == []
        assert recorder.messages == []


def test_nothing_is_logged_with_the_credentials(
    make_sender: Callable[..., Sender], starttls_server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    server, _ = starttls_server
    sender = make_sender(server)
    caplog.set_level("DEBUG", logger="sesflow")
    sender.send(message())
    server.drop_all()
    sender.send(message())

    assert "reconnecting" in caplog.text
    assert PASSWORD not in caplog.text
    assert USER not in caplog.text


# ---------------------------------------------------------------------------------------------------------
# The configuration set


def test_no_configuration_set_is_refused_before_connecting(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, _ = starttls_server
    sender = make_sender(server, configuration_set=None)

    with pytest.raises(ConfigurationSetRequired):
        sender.send(message())

    assert server.sessions == []


def test_sending_without_a_configuration_set_needs_an_explicit_opt_out(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server, configuration_set=None, allow_no_configuration_set=True)

    result = sender.send(message())

    assert result.configuration_set is None
    assert recorder.messages[0]["message"]["X-SES-CONFIGURATION-SET"] is None


def test_which_configuration_set_wins(make_sender: Callable[..., Sender], starttls_server: Server) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)

    sender.send(message())
    sender.send(message(X_SES_CONFIGURATION_SET="cs-from-header"))
    sender.send(message(X_SES_CONFIGURATION_SET="cs-from-header"), configuration_set="cs-from-call")

    assert [m["message"].get_all("X-SES-CONFIGURATION-SET") for m in recorder.messages] == [
        ["cs-default"],
        ["cs-from-header"],
        ["cs-from-call"],
    ]


def test_a_bad_name_or_tag_is_caught_before_connecting(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, _ = starttls_server
    sender = make_sender(server)

    with pytest.raises(ValidationError) as caught:
        sender.send(message(), configuration_set="no spaces allowed")
    assert caught.value.field == "configuration_set"
    with pytest.raises(ValidationError) as caught:
        sender.send(message(X_SES_CONFIGURATION_SET="bad/name"))
    assert caught.value.field == "X-SES-CONFIGURATION-SET"
    with pytest.raises(ValidationError) as caught:
        sender.send(message(), tags={"ses:reserved": "x"})
    assert caught.value.field == "tags['ses:reserved']"
    with pytest.raises(ValidationError) as caught:
        sender.send(message(X_SES_MESSAGE_TAGS="campaign=spring 2025"))
    assert caught.value.field == "tags['campaign']"

    assert server.sessions == []


# ---------------------------------------------------------------------------------------------------------
# The tenant (X-SES-TENANT: the Developer Guide's "Tenants" chapter, "Using SMTP with tenants")


def test_which_tenant_wins(make_sender: Callable[..., Sender], starttls_server: Server) -> None:
    server, recorder = starttls_server
    sender = make_sender(server, tenant="acme")

    results = [
        sender.send(message()),
        sender.send(message(X_SES_TENANT="globex")),
        sender.send(message(X_SES_TENANT="globex"), tenant="initech"),
        sender.send(message(), tenant="initech"),
    ]

    assert [m["message"].get_all("X-SES-TENANT") for m in recorder.messages] == [
        ["acme"],
        ["globex"],
        ["initech"],  # one header: the message's own is replaced, never doubled
        ["initech"],
    ]
    assert [r.tenant for r in results] == ["acme", "globex", "initech", "initech"]
    assert all(m["message"]["X-SES-CONFIGURATION-SET"] == "cs-default" for m in recorder.messages)


def test_without_a_tenant_no_header_is_sent(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)

    result = sender.send(message())

    assert recorder.messages[0]["message"]["X-SES-TENANT"] is None
    assert result.tenant is None


def test_an_email_goes_for_the_senders_tenant_or_the_calls(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server, tenant="acme")
    mail = Email("shop@example.com", "jane@example.com", subject="Hi", text="Hello", tags={"kind": "receipt"})

    sender.send(mail)
    sender.send(mail, tenant="globex")

    got = [m["message"] for m in recorder.messages]
    assert [m["X-SES-TENANT"] for m in got] == ["acme", "globex"]
    assert [m["X-SES-MESSAGE-TAGS"] for m in got] == ["kind=receipt", "kind=receipt"]


def test_an_emails_own_tenant_wins_over_the_senders_and_loses_to_the_calls(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server, tenant="acme")
    mail = Email("shop@example.com", "jane@example.com", subject="Hi", text="Hello", tenant="globex")

    results = [sender.send(mail), sender.send(mail, tenant="initech")]

    assert [m["message"].get_all("X-SES-TENANT") for m in recorder.messages] == [["globex"], ["initech"]]
    assert [r.tenant for r in results] == ["globex", "initech"]


def test_an_email_cannot_carry_the_tenant_as_a_custom_header() -> None:
    with pytest.raises(ValidationError) as caught:
        Email(
            "shop@example.com", "jane@example.com", subject="Hi", text="x", headers={"X-SES-TENANT": "acme"}
        )
    assert caught.value.field == "headers['X-SES-TENANT']"


def test_send_many_uses_each_messages_own_tenant_or_the_senders(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server, tenant="acme")

    results = sender.send_many(
        [message(), message(X_SES_TENANT="globex"), message(X_SES_TENANT="bad tenant")]
    )

    assert [type(r) for r in results] == [SmtpResult, SmtpResult, ValidationError]
    assert [m["message"]["X-SES-TENANT"] for m in recorder.messages] == ["acme", "globex"]


@pytest.mark.parametrize("tenant", ["", "a b", "acme\r\nBcc: x@example.com", "t" * 65, 7])
def test_a_bad_default_tenant_is_refused_when_the_sender_is_made(tenant: Any) -> None:
    for make in (SmtpSender, AsyncSmtpSender):
        with pytest.raises(ValidationError) as caught:
            make("127.0.0.1", 587, tenant=tenant)
        assert caught.value.field == "tenant"


def test_prepare_shows_the_tenant_without_sending(client_context: ssl.SSLContext) -> None:
    sender = SmtpSender("127.0.0.1", 587, configuration_set="cs", tenant="acme", ssl_context=client_context)

    prepared = sender.prepare(message(X_SES_TENANT="globex"), tenant="initech")

    assert prepared.tenant == "initech"
    parsed = email.message_from_bytes(prepared.data, policy=policy.default)
    assert parsed.get_all("X-SES-TENANT") == ["initech"]
    assert not sender.connected


# ---------------------------------------------------------------------------------------------------------
# sesflow's own Email


def test_an_email_arrives_with_its_set_tags_recipients_and_attachment(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)
    mail = Email(
        sender="Shop <shop@example.com>",
        to=["Jane <jane@example.com>"],
        cc="carol@example.com",
        bcc=["audit@example.com"],
        subject="Your receipt",
        text="Thanks!",
        html="<p>Thanks!</p>",
        attachments=[Attachment("receipt.pdf", b"%PDF-1.4 test")],
        tags={"campaign": "receipts"},
        configuration_set="cs-receipts",
        feedback_address="bounces@example.com",
    )

    result = sender.send(mail, tags={"tier": "gold"})

    [received] = recorder.messages
    assert received["mail_from"] == "bounces@example.com"  # SES sends SMTP bounces to the envelope sender
    assert received["rcpt_tos"] == ["jane@example.com", "carol@example.com", "audit@example.com"]
    got = received["message"]
    assert got["X-SES-CONFIGURATION-SET"] == "cs-receipts"  # the message's own set beats the sender's default
    assert got["X-SES-MESSAGE-TAGS"] == "campaign=receipts, tier=gold"
    assert got["Bcc"] is None
    assert "audit@example.com" not in str(got)
    assert got["From"] == "Shop <shop@example.com>"
    assert got["Message-ID"] == result.message_id
    assert got["Date"] is not None
    [attachment] = list(got.iter_attachments())
    assert attachment.get_filename() == "receipt.pdf"
    assert attachment.get_content() == b"%PDF-1.4 test"
    assert got.get_body(("html",)).get_content().strip() == "<p>Thanks!</p>"
    assert result.configuration_set == "cs-receipts"
    assert dict(result.tags) == {"campaign": "receipts", "tier": "gold"}


def test_a_templated_email_cannot_go_over_smtp(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, _ = starttls_server
    sender = make_sender(server)
    mail = Email(sender="shop@example.com", to="jane@example.com", template=Template(name="welcome"))

    with pytest.raises(ValidationError) as caught:
        sender.send(mail)

    assert caught.value.field == "template"
    assert server.sessions == []


# ---------------------------------------------------------------------------------------------------------
# A missing configuration set, send_many and hostile messages


@pytest.mark.parametrize(
    "reply",
    [
        "554 Configuration Set does not exist: Configuration set <cs-default> does not exist.",
        "554 Transaction failed: configuration set 'cs-default' does not exist",
        "554 ConfigurationSetDoesNotExist",
    ],
)
def test_a_missing_configuration_set_is_the_api_paths_error(
    make_sender: Callable[..., Sender], starttls_server: Server, reply: str
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)
    recorder.data_replies = [reply]

    with pytest.raises(ConfigurationSetNotFound) as caught:
        sender.send(message())

    assert isinstance(caught.value, SmtpConfigurationSetNotFound)
    assert (caught.value.smtp_code, caught.value.stage) == (554, "DATA")
    assert caught.value.configuration_set == "cs-default"
    assert caught.value.stops_bulk
    sender.send(message())  # reset, and the connection carries on
    assert len(recorder.messages) == 1
    assert len(server.sessions) == 1


def test_send_many_returns_each_failure_in_its_place(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)
    recorder.rcpt_replies = {
        "gone@example.com": "550 5.1.1 mailbox unavailable",
        "fast@example.com": "454 Throttling failure: Maximum sending rate exceeded.",
    }
    no_recipients = EmailMessage()
    no_recipients["From"] = "sender@example.com"
    no_recipients.set_content("nobody to send to")

    results = sender.send_many(
        [
            message(to="first@example.com"),
            no_recipients,
            message(to="gone@example.com"),
            message(to="fast@example.com"),
            Email("shop@example.com", "last@example.com", subject="Last", text="The last one"),
        ]
    )

    assert [type(r) for r in results] == [
        SmtpResult,
        ValidationError,
        SmtpRecipientsRefused,
        SmtpThrottled,
        SmtpResult,
    ]
    assert [m["rcpt_tos"] for m in recorder.messages] == [["first@example.com"], ["last@example.com"]]
    assert [r.ses_message_id for r in results if isinstance(r, SmtpResult)] == [
        m["ses_id"] for m in recorder.messages
    ]
    assert len(server.sessions) == 1


def _compat32(**headers: str) -> EmailMessage:
    msg = EmailMessage(policy=policy.compat32)
    msg["From"] = "sender@example.com"
    msg["To"] = "to@example.com"
    msg["Subject"] = "Hello"
    for name, value in headers.items():
        msg.replace_header(name, value) if name in msg else msg.add_header(name, value)
    msg.set_payload("hello")
    return msg


def _surrogate_body() -> EmailMessage:
    msg = message()
    msg.set_payload("caf\ud800")  # a lone surrogate: no UTF-8 form
    return msg


HOSTILE: list[tuple[str, Callable[[], Any], dict[str, Any], str]] = [
    ("header injection", lambda: _compat32(Subject="Hi\r\nBcc: victim@example.com"), {}, "Subject"),
    ("bare LF", lambda: _compat32(Subject="Hi\nX-Evil: yes"), {}, "Subject"),
    ("U+2028 in a header", lambda: _compat32(Subject="Hi\u2028there"), {}, "Subject"),
    ("NEL in a header", lambda: _compat32(**{"X-Note": "a\x85b"}), {}, "X-Note"),
    ("lone surrogate in the body", _surrogate_body, {}, "message"),
    ("no sender", lambda: _compat32(From=""), {}, "From"),
    ("51 recipients", lambda: message(to=", ".join(f"u{i}@example.com" for i in range(51))), {}, "To"),
    ("non-ASCII local part", lambda: message(to="jürgen@example.com"), {}, "To"),
    ("bad set header", lambda: message(X_SES_CONFIGURATION_SET="a/b"), {}, "X-SES-CONFIGURATION-SET"),
    ("tag entry without =", lambda: message(X_SES_MESSAGE_TAGS="campaign"), {}, "X-SES-MESSAGE-TAGS"),
    ("tag with a space", lambda: message(X_SES_MESSAGE_TAGS="a=b c"), {}, "tags['a']"),
    ("reserved tag", lambda: message(), {"tags": {"ses:x": "1"}}, "tags['ses:x']"),
    ("tag value not a str", lambda: message(), {"tags": {"a": 1}}, "tags['a']"),
    ("set name not a str", lambda: message(), {"configuration_set": 7}, "configuration_set"),
    ("set name too long", lambda: message(), {"configuration_set": "x" * 65}, "configuration_set"),
    # The tenant header: the same rules as the configuration set's (SES's name rule, no injection).
    ("tenant injection", lambda: message(), {"tenant": "acme\r\nBcc: victim@example.com"}, "tenant"),
    ("tenant with a bare LF", lambda: message(), {"tenant": "acme\nX-Evil: yes"}, "tenant"),
    ("tenant with U+2028", lambda: message(), {"tenant": "acme\u2028x"}, "tenant"),
    ("tenant with NUL", lambda: message(), {"tenant": "acme\x00"}, "tenant"),
    ("tenant with a space", lambda: message(), {"tenant": "acme corp"}, "tenant"),
    ("tenant not ASCII", lambda: message(), {"tenant": "acmé"}, "tenant"),
    ("tenant empty", lambda: message(), {"tenant": ""}, "tenant"),
    ("tenant too long", lambda: message(), {"tenant": "t" * 65}, "tenant"),
    ("tenant not a str", lambda: message(), {"tenant": b"acme"}, "tenant"),
    (
        "tenant header injection",
        lambda: _compat32(**{"X-SES-TENANT": "acme\r\nBcc: v@example.com"}),
        {},
        "X-SES-TENANT",
    ),
    ("tenant header folded", lambda: _compat32(**{"X-SES-TENANT": "acme\r\n evil"}), {}, "X-SES-TENANT"),
    ("bad tenant header", lambda: message(X_SES_TENANT="acme/evil"), {}, "X-SES-TENANT"),
    ("empty tenant header", lambda: message(X_SES_TENANT=""), {}, "X-SES-TENANT"),
]


@pytest.mark.parametrize(("build", "options", "field"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_a_hostile_message_is_a_validation_error_and_never_reaches_the_server(
    make_sender: Callable[..., Sender],
    starttls_server: Server,
    build: Callable[[], Any],
    options: dict[str, Any],
    field: str,
) -> None:
    server, recorder = starttls_server
    sender = make_sender(server)

    with pytest.raises(ValidationError) as caught:
        sender.send(build(), **options)

    assert caught.value.field == field
    assert server.sessions == []
    assert recorder.messages == []


# ---------------------------------------------------------------------------------------------------------
# Async only


async def test_concurrent_async_sends_take_turns_on_one_connection(
    starttls_server: Server, client_context: ssl.SSLContext
) -> None:
    server, recorder = starttls_server
    async with AsyncSmtpSender(
        "127.0.0.1",
        server.port,
        username=USER,
        password=PASSWORD,
        ssl_context=client_context,
        configuration_set="cs-async",
        local_hostname="client.test",
    ) as sender:
        results = await asyncio.gather(*(sender.send(message(to=f"u{i}@example.com")) for i in range(20)))

    assert sorted(r for m in recorder.messages for r in m["rcpt_tos"]) == sorted(
        f"u{i}@example.com" for i in range(20)
    )
    assert [r.accepted for r in results] == [(f"u{i}@example.com",) for i in range(20)]
    assert recorder.connections == 1
    assert len(recorder.logins) == 1
    assert not sender.connected


def test_async_sender_without_aiosmtplib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiosmtplib", None)

    with pytest.raises(MissingExtra, match=r"sesflow\[smtp\]") as caught:
        AsyncSmtpSender("127.0.0.1", 587, configuration_set="cs")

    assert caught.value.extra == "smtp"


# ---------------------------------------------------------------------------------------------------------
# Pacing


class HandClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_sends_are_paced_in_recipients_by_a_shared_bucket(
    make_sender: Callable[..., Sender], starttls_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, recorder = starttls_server
    clock = HandClock()
    bucket = TokenBucket(2, clock=clock)  # two recipients per second, a second's worth at once
    waits: list[float] = []

    async def record_async(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(smtp_sync, "_sleep", waits.append)
    monkeypatch.setattr(smtp_async, "_async_sleep", record_async)
    sender = make_sender(server, max_send_rate=bucket)
    first = make_sender(server, max_send_rate=bucket)  # another sender on the same account rate

    sender.send(message(to="a@example.com, b@example.com"))  # the bucket's two tokens: no wait
    first.send(message(to="c@example.com"))  # the bucket is empty, not in debt: goes, owing one
    sender.send(message(to="d@example.com"))  # waits for the debt: half a second at 2/s
    clock.now = 10.0  # time passes: the bucket refills
    sender.send(message(to="e@example.com"))

    assert waits == [pytest.approx(0.5)]
    assert [m["rcpt_tos"] for m in recorder.messages] == [
        ["a@example.com", "b@example.com"],
        ["c@example.com"],
        ["d@example.com"],
        ["e@example.com"],
    ]


def test_no_pacing_by_default_and_a_bad_rate_is_refused(
    make_sender: Callable[..., Sender], starttls_server: Server
) -> None:
    server, _ = starttls_server

    def limit(sender: Sender) -> TokenBucket | None:
        return (sender.sender if isinstance(sender, AsyncAdapter) else sender).rate_limit

    assert limit(make_sender(server)) is None
    paced = limit(make_sender(server, max_send_rate=14))
    assert paced is not None
    assert paced.rate == 14
    for bad in (0, -1, "fast", True):
        with pytest.raises(ValidationError, match="max_send_rate"):
            make_sender(server, max_send_rate=bad)
