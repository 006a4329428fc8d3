"""The SMTP path's pure core: settings, message preparation, reply mapping, errors. No server needed."""

from __future__ import annotations

import email
import pickle
import ssl
from email import policy
from email.message import EmailMessage

import pytest

from sesflow.sending.errors import (
    ConfigurationSetNotFound,
    ConfigurationSetRequired,
    DailyQuotaExceeded,
    MessageRejected,
    SesError,
    Throttled,
    TransientFailure,
    ValidationError,
)
from sesflow.sending.message import Email, ListManagement
from sesflow.sending.smtp import (
    PreparedMessage,
    SmtpAuthenticationError,
    SmtpError,
    SmtpPermanentError,
    SmtpRecipientsRefused,
    SmtpReply,
    SmtpSender,
    SmtpSettings,
    SmtpTemporaryError,
    parse_tags_header,
    prepare_message,
    reply_error,
)
from sesflow.sending.smtp import _message as smtp
from sesflow.sending.smtp._dialogue import _mail_options


def message(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Sender <sender@example.com>"
    msg["To"] = "to@example.com"
    msg["Subject"] = "Hello"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Hello\n")
    return msg


def parsed(prepared: PreparedMessage) -> EmailMessage:
    out = email.message_from_bytes(prepared.data, policy=policy.default)
    assert isinstance(out, EmailMessage)
    return out


# ---------------------------------------------------------------------------------------------------------
# Settings


def test_host_comes_from_the_region_and_tls_from_the_port() -> None:
    s = SmtpSettings.build(region="eu-west-1", port=465)
    assert (s.host, s.port, s.tls) == ("email-smtp.eu-west-1.amazonaws.com", 465, "implicit")
    assert SmtpSettings.build(region="eu-west-1").tls == "starttls"  # 587 by default
    assert SmtpSettings.build(region="eu-west-1", port=2465).tls == "implicit"
    assert SmtpSettings.build(region="eu-west-1", port=2587).tls == "starttls"
    assert SmtpSettings.build("127.0.0.1", 10025, tls="implicit").tls == "implicit"


def test_the_region_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert SmtpSettings.build().host == "email-smtp.us-west-2.amazonaws.com"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(ValidationError) as caught:
        SmtpSettings.build()
    assert caught.value.field == "host"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"port": 465, "tls": "starttls"}, "tls"),
        ({"port": 587, "tls": "implicit"}, "tls"),
        ({"tls": "none"}, "tls"),
        ({"port": 0}, "port"),
        ({"username": "AKIA"}, "password"),
        ({"password": "secret"}, "username"),
        ({"timeout": 0}, "timeout"),
        ({"configuration_set": "has space"}, "configuration_set"),
    ],
)
def test_settings_that_cannot_work_are_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SmtpSettings.build("smtp.example.com", **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_credentials_stay_out_of_reprs() -> None:
    sender = SmtpSender(region="us-east-1", username="AKIAEXAMPLE", password="B-secret-password")
    assert "B-secret-password" not in repr(sender.settings)
    assert "AKIAEXAMPLE" not in repr(sender.settings)
    assert not sender.connected  # nothing is opened before the first send


def test_the_default_tls_context_verifies_certificates() -> None:
    context = SmtpSettings.build(region="us-east-1").tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


# ---------------------------------------------------------------------------------------------------------
# Preparing a message


def test_headers_envelope_and_bytes_of_an_email_message() -> None:
    msg = message(Cc="Carol <carol@example.com>", Bcc="bob@example.com")
    prepared = prepare_message(msg, default_configuration_set="cs-1", tags={"campaign": "c1"})

    assert prepared.envelope_from == "sender@example.com"
    assert prepared.recipients == ("to@example.com", "carol@example.com", "bob@example.com")
    out = parsed(prepared)
    assert out["X-SES-CONFIGURATION-SET"] == "cs-1"
    assert out["X-SES-MESSAGE-TAGS"] == "campaign=c1"
    assert out["Bcc"] is None
    assert out["Message-ID"] == prepared.message_id
    assert prepared.message_id.endswith("@example.com>")
    assert out["Date"] is not None
    assert b"\n" not in prepared.data.replace(b"\r\n", b"")  # CRLF line endings only
    assert prepared.data.isascii()
    assert not prepared.eight_bit


def test_the_sender_header_is_the_envelope_sender_when_present() -> None:
    prepared = prepare_message(message(Sender="list@example.com"), default_configuration_set="cs")
    assert prepared.envelope_from == "list@example.com"


def test_existing_ses_headers_are_replaced_not_duplicated() -> None:
    msg = message(X_SES_CONFIGURATION_SET="cs-header", X_SES_MESSAGE_TAGS="a=1, b=2")
    prepared = prepare_message(msg, configuration_set="cs-call", tags={"b": "3", "c": "4"})

    out = parsed(prepared)
    assert out.get_all("X-SES-CONFIGURATION-SET") == ["cs-call"]
    assert out.get_all("X-SES-MESSAGE-TAGS") == ["a=1, b=3, c=4"]
    assert dict(prepared.tags) == {"a": "1", "b": "3", "c": "4"}
    # the caller's message keeps what it had
    assert msg.get_all("X-SES-CONFIGURATION-SET") == ["cs-header"]
    assert msg.get_all("X-SES-MESSAGE-TAGS") == ["a=1, b=2"]


def test_a_message_id_already_set_is_kept() -> None:
    prepared = prepare_message(message(Message_ID="<abc@example.com>"), default_configuration_set="cs")
    assert prepared.message_id == "<abc@example.com>"


def test_no_configuration_set_raises_unless_opted_out() -> None:
    with pytest.raises(ConfigurationSetRequired):
        prepare_message(message())
    prepared = prepare_message(message(), allow_no_configuration_set=True)
    assert prepared.configuration_set is None
    assert parsed(prepared)["X-SES-CONFIGURATION-SET"] is None
    assert parsed(prepared)["X-SES-MESSAGE-TAGS"] is None  # no tags, no header


def test_an_email_uses_its_own_set_over_the_default_and_the_call_over_both() -> None:
    mail = Email(sender="a@example.com", to="b@example.com", subject="s", text="t", configuration_set="own")
    assert prepare_message(mail, default_configuration_set="default").configuration_set == "own"
    assert (
        prepare_message(mail, configuration_set="call", default_configuration_set="x").configuration_set
        == "call"
    )
    plain = Email(sender="a@example.com", to="b@example.com", subject="s", text="t")
    assert prepare_message(plain, default_configuration_set="default").configuration_set == "default"
    with pytest.raises(ConfigurationSetRequired):
        prepare_message(plain)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m.replace_header("From", "nobody"), "From"),
        (lambda m: m.replace_header("To", "undisclosed-recipients:;"), "To"),
        (lambda m: m.replace_header("To", ", ".join(f"u{i}@example.com" for i in range(51))), "To"),
        (lambda m: m.replace_header("To", "jürgen@example.com"), "To"),
        (lambda m: m.add_header("Cc", "not-an-address"), "Cc"),
        (lambda m: m.add_header("X-SES-MESSAGE-TAGS", "campaign"), "X-SES-MESSAGE-TAGS"),
        (lambda m: m.add_header("X-SES-CONFIGURATION-SET", "a.b"), "X-SES-CONFIGURATION-SET"),
    ],
)
def test_a_message_that_cannot_be_sent_is_refused(change: object, field: str) -> None:
    """Addresses follow the same rules as an Email's; headers SES reads follow the API path's rules."""
    msg = message()
    change(msg)  # type: ignore[operator]
    with pytest.raises(ValidationError) as caught:
        prepare_message(msg, default_configuration_set="cs")
    assert caught.value.field == field


def test_fifty_recipients_are_fine_and_duplicates_count_once() -> None:
    msg = message()
    msg.replace_header("To", ", ".join(f"u{i}@example.com" for i in range(50)))
    msg["Cc"] = "U0@example.com"
    assert len(prepare_message(msg, default_configuration_set="cs").recipients) == 50


def test_the_size_limit_is_checked_before_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    assert smtp.MAX_MESSAGE_SIZE_V2 == 40 * 1024 * 1024  # SES takes 40 MB over SMTP
    # a smaller stand-in keeps the test from encoding 40 MB
    monkeypatch.setattr(smtp, "MAX_MESSAGE_SIZE_V2", 20_000)
    msg = message()
    msg.add_attachment(b"\0" * 18_000, maintype="application", subtype="octet-stream")  # 24,000+ as base64
    with pytest.raises(ValidationError, match="SMTP limit is 20,000"):
        prepare_message(msg, default_configuration_set="cs")
    monkeypatch.setattr(smtp, "MAX_MESSAGE_SIZE_V2", 40_000)
    assert len(prepare_message(msg, default_configuration_set="cs").data) > 24_000


def test_not_a_message() -> None:
    with pytest.raises(TypeError):
        prepare_message("From: a@example.com\r\n\r\nhi", default_configuration_set="cs")  # type: ignore[arg-type]


def test_tags_header_parsing() -> None:
    assert parse_tags_header("a=1, b = 2 ,,c=") == {"a": "1", "b": "2", "c": ""}
    assert parse_tags_header("") == {}


def test_mail_options_follow_what_the_server_supports() -> None:
    seven = PreparedMessage(
        "a@example.com", ("b@example.com",), b"Subject: x\r\n\r\nhi\r\n", "<id>", "cs", {}
    )
    eight = PreparedMessage(
        "a@example.com", ("b@example.com",), "Subject: x\r\n\r\nhé\r\n".encode(), "<id>", "cs", {}
    )
    assert _mail_options(seven, {"size": True, "8bitmime": True}) == [f"SIZE={len(seven.data)}"]
    assert _mail_options(eight, {"size": False, "8bitmime": True}) == ["BODY=8BITMIME"]
    assert _mail_options(eight, {}) == []


# ---------------------------------------------------------------------------------------------------------
# Replies and errors


@pytest.mark.parametrize(
    ("stage", "code", "text", "expected"),
    [
        ("DATA", 454, "Throttling failure: Maximum sending rate exceeded.", Throttled),
        ("MAIL", 454, "Throttling failure: Daily message quota exceeded.", DailyQuotaExceeded),
        ("DATA", 554, "Message rejected: Email address is not verified.", MessageRejected),
        ("DATA", 554, "Transaction failed: Configuration Set does not exist: cs-x", ConfigurationSetNotFound),
        ("AUTH", 535, "Authentication Credentials Invalid", SmtpAuthenticationError),
        ("MAIL", 451, "Temporary service failure", SmtpTemporaryError),
        ("MAIL", 454, "Temporary authentication failure", SmtpTemporaryError),
        ("DATA", 552, "Message size exceeds fixed limit", SmtpPermanentError),
    ],
)
def test_replies_map_to_the_api_paths_types(
    stage: str, code: int, text: str, expected: type[SesError]
) -> None:
    error = reply_error(stage, code, text, configuration_set="cs-1")
    assert type(error) is not SmtpError
    assert isinstance(error, expected)
    assert isinstance(error, SmtpError)
    assert (error.smtp_code, error.code, error.stage, error.smtp_message) == (code, str(code), stage, text)
    assert error.configuration_set == "cs-1"
    assert f"{code} {text}" in str(error)


def test_retryable_follows_the_reply() -> None:
    assert reply_error("DATA", 454, "Throttling failure: Maximum sending rate exceeded.").retryable
    assert isinstance(reply_error("MAIL", 451, "later"), TransientFailure)
    assert reply_error("MAIL", 451, "later").retryable
    assert not reply_error("MAIL", 454, "Throttling failure: Daily message quota exceeded.").retryable
    assert not reply_error("DATA", 554, "no").retryable


def test_errors_survive_pickling() -> None:
    throttled = reply_error(
        "DATA", 454, "Throttling failure: Maximum sending rate exceeded.", configuration_set="c"
    )
    again = pickle.loads(pickle.dumps(throttled))
    assert type(again) is type(throttled)
    assert (again.smtp_code, again.stage, again.configuration_set, str(again)) == (
        454,
        "DATA",
        "c",
        str(throttled),
    )

    refused = SmtpRecipientsRefused({"a@example.com": SmtpReply(550, "no such user")})
    again_refused = pickle.loads(pickle.dumps(refused))
    assert again_refused.refused == {"a@example.com": SmtpReply(550, "no such user")}
    assert again_refused.smtp_code == 550


def test_list_management_cannot_go_over_smtp() -> None:
    message = Email(
        "shop@example.com",
        "jane@example.com",
        subject="News",
        text="Hello",
        list_management=ListManagement("newsletter", topic="weekly"),
    )
    with pytest.raises(ValidationError, match=r"list_management.*v2 API, not of SMTP"):
        prepare_message(message, configuration_set="cs")


# ---------------------------------------------------------------------------------------------------------
# A missing configuration set: the wordings matched (docs/sending.md lists them)


@pytest.mark.parametrize(
    "text",
    [
        "Configuration Set does not exist: Configuration set <cs-x> does not exist.",
        "Configuration set does not exist",
        "configuration set does not exist.",
        "CONFIGURATION SET DOES NOT EXIST",
        "Transaction failed: Configuration Set does not exist: cs-x",
        "Configuration set <cs-x> does not exist.",
        "Configuration set cs-x does not exist",
        "Configuration set 'cs-x' does not exist",
        'Configuration set "cs-x" doesn\'t exist',
        "Configuration set cs-x doesn\u2019t exist",
        "ConfigurationSetDoesNotExist: cs-x",
        "CONFIGURATION_SET_NOT_FOUND",
        "Configuration set not found",
        "Configuration set <cs-x> was not found",
        "configuration-set does not exist",
    ],
)
def test_each_wording_of_a_missing_configuration_set_maps_to_the_api_paths_type(text: str) -> None:
    error = reply_error("DATA", 554, text, configuration_set="cs-x")
    assert isinstance(error, ConfigurationSetNotFound)
    assert isinstance(error, SmtpError)
    assert error.stops_bulk
    assert not error.retryable


@pytest.mark.parametrize(
    "text",
    [
        "Message rejected: Email address is not verified.",
        "Configuration set event destination is misconfigured",
        "The configuration set exists but its sending is paused",
        "Configuration set cs-x is invalid",
        "Set does not exist",
    ],
)
def test_other_replies_about_configuration_sets_are_not_a_missing_set(text: str) -> None:
    assert not isinstance(reply_error("DATA", 554, text), ConfigurationSetNotFound)
