"""The SMTP dialogue without IO: replies go in, commands come out.

A scripted server answers each command the dialogue yields (by default as SES does: ``220``, the extensions,
``235``, ``250``, ``250 Ok <id>``); a test overrides the answers it cares about and reads the transcript of
commands. No socket, no library: what is tested is what the two shells share.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Generator, Iterable
from email.message import EmailMessage
from typing import Any

import pytest

from sesflow.sending._core import Exclusive, Sleep, run_flow
from sesflow.sending.errors import (
    ConfigurationSetNotFound,
    DailyQuotaExceeded,
    MessageRejected,
    SendingError,
    SendOutcomeUnknown,
    Throttled,
    ValidationError,
)
from sesflow.sending.message import Email
from sesflow.sending.ratelimit import TokenBucket
from sesflow.sending.smtp import (
    SmtpAuthenticationError,
    SmtpConnectionError,
    SmtpDisconnected,
    SmtpOutcomeUnknown,
    SmtpRecipientsRefused,
    SmtpReply,
    SmtpResult,
    SmtpSettings,
    SmtpTemporaryError,
)
from sesflow.sending.smtp._dialogue import (
    Answer,
    Close,
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
    SmtpDialogue,
    StartTls,
)

OFFERS = frozenset({"starttls", "auth", "size", "8bitmime", "pipelining"})


class Server:
    """Answers the dialogue's commands; ``script`` holds the next answers per command type, in order."""

    def __init__(self, offers: frozenset[str] = OFFERS) -> None:
        self.offers = offers
        self.script: dict[type, list[Answer | Callable[[Any], Answer]]] = {}
        self.transcript: list[str] = []
        self.commands: list[Any] = []
        self.sleeps: list[float] = []
        self.ids = 0

    def then(self, command: type, *answers: Answer | Callable[[Any], Answer]) -> Server:
        self.script.setdefault(command, []).extend(answers)
        return self

    def answer(self, command: Any) -> Answer:
        self.transcript.append(_name(command))
        self.commands.append(command)
        queued = self.script.get(type(command))
        if queued:
            answer = queued.pop(0)
            return answer(command) if callable(answer) else answer
        if isinstance(command, Connect):
            return SmtpReply(220, "email-smtp.amazonaws.com ESMTP SimpleEmailService")
        if isinstance(command, Hello):
            return Extensions(self.offers)
        if isinstance(command, StartTls):
            return SmtpReply(220, "Ready to start TLS")
        if isinstance(command, Login):
            return SmtpReply(235, "Authentication successful.")
        if isinstance(command, Data):
            self.ids += 1
            return SmtpReply(250, f"Ok 0100-id-{self.ids}")
        if isinstance(command, Quit):
            return SmtpReply(221, "Bye")
        if isinstance(command, Close):
            return None
        return SmtpReply(250, "Ok")

    def run(self, flow: Generator[Any, Any, Any]) -> Any:
        """Drive ``flow`` as a shell does (with the same runner): Sleep recorded, Exclusive run in place,
        commands answered."""
        return run_flow(flow, self._perform)

    def _perform(self, effect: Any) -> Any:
        if isinstance(effect, Sleep):
            self.sleeps.append(effect.seconds)
            return None
        if isinstance(effect, Exclusive):
            return self.run(effect.flow)
        return self.answer(effect)


def _name(command: Any) -> str:
    if isinstance(command, Mail):
        return " ".join(["MAIL", command.sender, *command.options])
    if isinstance(command, Rcpt):
        return f"RCPT {command.recipient}"
    names = {
        Connect: "CONNECT",
        Hello: "EHLO",
        StartTls: "STARTTLS",
        Login: "AUTH",
        Data: "DATA",
        Reset: "RSET",
    }
    return names.get(type(command), type(command).__name__.upper())


LOGIN = ["CONNECT", "EHLO", "STARTTLS", "EHLO", "AUTH"]
CONTEXT = ssl.create_default_context()  # one trust store for the module: loading it is the slow part


def settings(**changes: Any) -> SmtpSettings:
    options: dict[str, Any] = {
        "username": "AKIAEXAMPLE",
        "password": "secret",
        "configuration_set": "cs-default",
        "ssl_context": CONTEXT,
        **changes,
    }
    return SmtpSettings.build("smtp.example.com", options.pop("port", 587), **options)


def dialogue(rate_limit: TokenBucket | None = None, **changes: Any) -> SmtpDialogue:
    return SmtpDialogue(settings(**changes), rate_limit)


def email(*to: str) -> Email:
    return Email("Shop <shop@example.com>", list(to) or ["a@example.com"], subject="Hi", text="Hello")


def send(server: Server, talk: SmtpDialogue, message: Email | EmailMessage) -> SmtpResult:
    result: SmtpResult = server.run(talk.send(message, None, None))
    return result


def fails(server: Server, talk: SmtpDialogue, message: Email | EmailMessage) -> SendingError:
    with pytest.raises(SendingError) as caught:
        send(server, talk, message)
    return caught.value


def transaction(*recipients: str, sender: str = "shop@example.com") -> list[str]:
    """The lines of one MAIL / RCPT / DATA exchange, MAIL's SIZE left out (compare with it stripped)."""
    return [f"MAIL {sender}", *(f"RCPT {r}" for r in recipients), "DATA"]


# ---------------------------------------------------------------------------------------------------------
# The ordinary path


def test_first_send_connects_secures_logs_in_then_sends_and_the_next_reuses_the_connection() -> None:
    server, talk = Server(), dialogue()

    first = send(server, talk, email("a@example.com", "b@example.com"))
    second = send(server, talk, email("c@example.com"))

    assert server.transcript[:5] == LOGIN
    assert [line.split(" SIZE=")[0] for line in server.transcript[5:]] == [
        *transaction("a@example.com", "b@example.com"),
        *transaction("c@example.com"),
    ]
    mails = [c for c in server.commands if isinstance(c, Mail)]
    datas = [c for c in server.commands if isinstance(c, Data)]
    assert [m.options for m in mails] == [(f"SIZE={len(d.content)}",) for d in datas]  # 7-bit: no BODY
    assert (first.ses_message_id, second.ses_message_id) == ("0100-id-1", "0100-id-2")
    assert first.accepted == ("a@example.com", "b@example.com")
    assert first.refused == {}
    assert first.configuration_set == "cs-default"
    assert talk.state == "ready"


def test_implicit_tls_connects_with_the_context_and_sends_no_starttls() -> None:
    server, talk = Server(offers=frozenset({"auth"})), dialogue(port=465)
    connects: list[Connect] = []
    server.then(Connect, lambda command: connects.append(command) or SmtpReply(220, "ready"))

    send(server, talk, email())

    assert server.transcript[:3] == ["CONNECT", "EHLO", "AUTH"]
    assert connects[0].tls_context is CONTEXT


def test_without_credentials_there_is_no_auth() -> None:
    server, talk = Server(), dialogue(username=None, password=None)
    send(server, talk, email())
    assert server.transcript[:4] == ["CONNECT", "EHLO", "STARTTLS", "EHLO"]
    assert "AUTH" not in server.transcript


def test_mail_options_follow_the_extensions_offered() -> None:
    eight_bit = Email("shop@example.com", "a@example.com", subject="Grüße", text="Grüße")
    server, talk = Server(offers=frozenset({"starttls", "auth"})), dialogue()
    send(server, talk, eight_bit)
    assert "MAIL shop@example.com" in server.transcript  # neither SIZE nor BODY when not offered


def test_the_rate_limit_sleeps_before_taking_the_connection() -> None:
    now = [0.0]
    bucket = TokenBucket(2, clock=lambda: now[0])
    server, talk = Server(), dialogue(rate_limit=bucket)

    send(server, talk, email("a@example.com", "b@example.com"))  # the bucket's two tokens
    send(server, talk, email("c@example.com"))  # goes, owing one
    send(server, talk, email("d@example.com"))  # waits for the debt

    assert server.sleeps == [pytest.approx(0.5)]


# ---------------------------------------------------------------------------------------------------------
# Recipients


def test_a_refused_recipient_does_not_stop_the_others() -> None:
    server, talk = Server(), dialogue()
    server.then(Rcpt, SmtpReply(250, "Ok"), SmtpReply(550, "5.1.1 mailbox unavailable"), SmtpReply(251, "Ok"))

    result = send(server, talk, email("a@example.com", "gone@example.com", "c@example.com"))

    assert result.accepted == ("a@example.com", "c@example.com")
    assert result.refused == {"gone@example.com": SmtpReply(550, "5.1.1 mailbox unavailable")}
    assert server.transcript[-1] == "DATA"
    assert "RSET" not in server.transcript


def test_every_recipient_refused_resets_and_keeps_the_connection() -> None:
    server, talk = Server(), dialogue()
    server.then(Rcpt, SmtpReply(550, "no"), SmtpReply(553, "bad"))

    error = fails(server, talk, email("a@example.com", "b@example.com"))

    assert isinstance(error, SmtpRecipientsRefused)
    assert {a: r.code for a, r in error.refused.items()} == {"a@example.com": 550, "b@example.com": 553}
    assert server.transcript[-3:] == ["RCPT a@example.com", "RCPT b@example.com", "RSET"]
    assert "DATA" not in server.transcript
    send(server, talk, email("c@example.com"))
    assert server.transcript.count("CONNECT") == 1


def test_every_recipient_throttled_is_throttled() -> None:
    server, talk = Server(), dialogue()
    server.then(Rcpt, SmtpReply(454, "Throttling failure: Maximum sending rate exceeded."))

    error = fails(server, talk, email())

    assert isinstance(error, Throttled)
    assert error.retryable
    assert server.transcript[-1] == "RSET"


# ---------------------------------------------------------------------------------------------------------
# 421 and dropped connections: one reconnect before the content is accepted, none after


@pytest.mark.parametrize(("command", "word"), [(Mail, "MAIL"), (Rcpt, "RCPT"), (Data, "DATA")])
def test_421_mid_transaction_reconnects_and_sends_the_whole_message_again(command: type, word: str) -> None:
    server, talk = Server(), dialogue()
    send(server, talk, email("first@example.com"))
    server.transcript.clear()
    server.then(command, SmtpReply(421, "4.4.2 Timeout waiting for data from client."))

    result = send(server, talk, email("a@example.com", "b@example.com"))

    closed_at = server.transcript.index("CLOSE")
    assert server.transcript[closed_at - 1].startswith(word)  # the 421 came, the connection was closed
    after = server.transcript[closed_at + 1 :]
    assert after[:5] == LOGIN
    assert [line.split(" SIZE=")[0] for line in after[5:]] == transaction("a@example.com", "b@example.com")
    assert result.accepted == ("a@example.com", "b@example.com")
    assert "RSET" not in server.transcript  # the server closed the connection: nothing to reset


def test_a_second_421_gives_up_with_the_reply_and_the_next_send_starts_afresh() -> None:
    server, talk = Server(), dialogue()
    server.then(
        Mail, SmtpReply(421, "4.3.2 Service not available"), SmtpReply(421, "4.3.2 Service not available")
    )

    error = fails(server, talk, email())

    assert isinstance(error, SmtpTemporaryError)
    assert (error.smtp_code, error.stage, error.configuration_set) == (421, "MAIL", "cs-default")
    assert error.retryable
    assert server.transcript.count("CONNECT") == 2
    assert server.transcript[-1] == "CLOSE"
    assert talk.state == "closed"
    send(server, talk, email())
    assert server.transcript.count("CONNECT") == 3


def test_a_drop_before_data_is_retried_once_then_is_disconnected() -> None:
    server, talk = Server(), dialogue()
    dropped = NoReply(ConnectionResetError("reset by peer"))
    server.then(Rcpt, dropped, dropped)

    error = fails(server, talk, email())

    assert isinstance(error, SmtpDisconnected)
    assert error.stage == "RCPT"
    assert error.smtp_code is None
    assert error.retryable
    assert [line.split(" SIZE=")[0] for line in server.transcript].count("MAIL shop@example.com") == 2


def test_a_drop_after_the_content_was_handed_over_is_never_sent_again() -> None:
    server, talk = Server(), dialogue()
    server.then(Data, NoReply(TimeoutError("read timed out")))

    error = fails(server, talk, email())

    assert isinstance(error, SmtpOutcomeUnknown)
    assert isinstance(error, SendOutcomeUnknown)
    assert not error.retryable
    assert server.transcript.count("DATA") == 1
    assert server.transcript[-1] == "CLOSE"
    assert talk.state == "closed"


# ---------------------------------------------------------------------------------------------------------
# Refusals and RSET


@pytest.mark.parametrize(
    ("command", "reply", "expected"),
    [
        (Mail, SmtpReply(451, "Temporary service failure"), SmtpTemporaryError),
        (Mail, SmtpReply(454, "Throttling failure: Daily message quota exceeded."), DailyQuotaExceeded),
        (Data, SmtpReply(554, "Message rejected: Email address is not verified."), MessageRejected),
        (
            Data,
            SmtpReply(
                554, "Configuration Set does not exist: Configuration set <cs-default> does not exist."
            ),
            ConfigurationSetNotFound,
        ),
    ],
)
def test_a_refusal_resets_the_transaction_and_keeps_the_connection(
    command: type, reply: SmtpReply, expected: type[Exception]
) -> None:
    server, talk = Server(), dialogue()
    server.then(command, reply)

    error = fails(server, talk, email())

    assert isinstance(error, expected)
    assert server.transcript[-1] == "RSET"
    assert talk.state == "ready"
    send(server, talk, email())
    assert server.transcript.count("CONNECT") == 1


@pytest.mark.parametrize("reset", [SmtpReply(500, "what?"), NoReply(BrokenPipeError("gone"))])
def test_a_failed_rset_drops_the_connection(reset: Answer) -> None:
    server, talk = Server(), dialogue()
    server.then(Data, SmtpReply(552, "Message is too long.")).then(Reset, reset)

    fails(server, talk, email())

    assert server.transcript[-2:] == ["RSET", "CLOSE"]
    assert talk.state == "closed"
    send(server, talk, email())
    assert server.transcript.count("CONNECT") == 2


# ---------------------------------------------------------------------------------------------------------
# Connecting


@pytest.mark.parametrize(
    ("command", "answer", "stage", "text"),
    [
        (Connect, NoReply(ConnectionRefusedError("refused")), "CONNECT", "could not connect"),
        (Connect, SmtpReply(421, "Too many concurrent SMTP connections"), "CONNECT", "Too many concurrent"),
        (Hello, SmtpReply(501, "bad EHLO"), "CONNECT", "bad EHLO"),
        (StartTls, NoReply(ssl.SSLError("certificate verify failed")), "CONNECT", "TLS failed"),
        (StartTls, SmtpReply(454, "TLS not available"), "CONNECT", "TLS not available"),
    ],
)
def test_a_connection_that_cannot_be_opened(command: type, answer: Answer, stage: str, text: str) -> None:
    server, talk = Server(), dialogue()
    server.then(command, answer)

    error = fails(server, talk, email())

    assert isinstance(error, SmtpConnectionError)
    assert error.stage == stage
    assert text in str(error)
    assert "AUTH" not in server.transcript
    assert server.transcript[-1] == "CLOSE"
    assert talk.state == "closed"


def test_no_starttls_offered_means_no_credentials_and_no_mail() -> None:
    server, talk = Server(offers=frozenset({"auth"})), dialogue()

    error = fails(server, talk, email())

    assert isinstance(error, SmtpConnectionError)
    assert error.stage == "STARTTLS"
    assert server.transcript == ["CONNECT", "EHLO", "CLOSE"]


def test_refused_credentials() -> None:
    server, talk = Server(), dialogue()
    server.then(Login, SmtpReply(535, "Authentication Credentials Invalid"))

    error = fails(server, talk, email())

    assert isinstance(error, SmtpAuthenticationError)
    assert (error.smtp_code, error.stage) == (535, "AUTH")
    assert server.transcript == [*LOGIN, "CLOSE"]


# ---------------------------------------------------------------------------------------------------------
# A flow stopped halfway, and what the shell could not foresee


def test_a_send_abandoned_mid_transaction_leaves_a_connection_that_is_dropped_before_reuse() -> None:
    server, talk = Server(), dialogue()
    send(server, talk, email())
    flow = talk.send(email("b@example.com"), None, None)
    exclusive = next(flow)
    assert isinstance(exclusive, Exclusive)
    inner = exclusive.flow
    assert isinstance(next(inner), Mail)
    inner.close()  # a cancelled task: the server is somewhere in the transaction
    flow.close()
    assert talk.state == "unsure"
    server.transcript.clear()

    send(server, talk, email("c@example.com"))

    assert server.transcript[:6] == ["CLOSE", *LOGIN]


def test_an_unexpected_exception_from_the_shell_propagates_and_the_connection_is_not_reused() -> None:
    server, talk = Server(), dialogue()

    def explode(command: Any) -> Answer:
        raise RuntimeError("a bug below")

    server.then(Data, explode)
    with pytest.raises(RuntimeError, match="a bug below"):
        send(server, talk, email())
    server.transcript.clear()
    send(server, talk, email())
    assert server.transcript[:6] == ["CLOSE", *LOGIN]


def test_close_says_quit_only_on_a_usable_connection() -> None:
    server, talk = Server(), dialogue()
    server.run(talk.close())
    assert server.transcript == []
    send(server, talk, email())
    server.transcript.clear()
    server.run(talk.close())
    assert server.transcript == ["QUIT", "CLOSE"]
    assert talk.state == "closed"


# ---------------------------------------------------------------------------------------------------------
# send_many


def test_send_many_returns_every_failure_in_its_place_and_sends_the_rest() -> None:
    server, talk = Server(), dialogue()
    no_recipients = EmailMessage()
    no_recipients["From"] = "shop@example.com"
    no_recipients.set_content("x")

    def explode(command: Any) -> Answer:
        raise KeyError("unforeseen")

    server.then(Rcpt, SmtpReply(250, "Ok"), SmtpReply(550, "no such user"))
    server.then(Data, SmtpReply(250, "Ok id-a"), explode)
    messages: Iterable[Any] = [
        email("a@example.com"),
        no_recipients,
        "From: not-a-message@example.com",
        email("refused@example.com"),
        email("b@example.com"),
        email("c@example.com"),
    ]

    results = server.run(talk.send_many(messages))

    assert [type(r).__name__ for r in results] == [
        "SmtpResult",
        "ValidationError",
        "ValidationError",
        "SmtpRecipientsRefused",
        "SendOutcomeUnknown",
        "SmtpResult",
    ]
    assert isinstance(results[1], ValidationError)
    assert results[1].field == "To"
    assert isinstance(results[2], ValidationError)  # not a message at all: refused before any IO
    assert (results[2].field, type(results[2].__cause__)) == ("message", TypeError)
    assert isinstance(results[4], SendOutcomeUnknown)
    assert results[4].code == "KeyError"
    assert isinstance(results[4].__cause__, KeyError)
    assert isinstance(results[5], SmtpResult)
    assert results[5].accepted == ("c@example.com",)
    assert server.transcript.count("CLOSE") == 1  # after the unforeseen error, before the last message
