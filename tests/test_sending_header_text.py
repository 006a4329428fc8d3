"""What a header can carry: every character the MIME and SMTP paths cannot write is refused when the message
is built, as a ValidationError naming the field; everything else goes through both paths intact; and
send_many returns any failure of one message in its place (sync and async clients against moto in server
mode).

The refused set is derived, not listed by hand: Python's email package refuses a header value that
``str.splitlines`` would split (``EmailPolicy.header_store_parse``), and cannot encode a lone surrogate. The
tests compute both over the code points that matter and check sesflow's rule against them.
"""

from __future__ import annotations

import email
import sys
import uuid
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from typing import Any

import boto3
import pytest
from aiobotocore.session import AioSession

from sesflow.sending import (
    AsyncSesClient,
    Attachment,
    Email,
    SendOutcomeUnknown,
    SendResult,
    SesClient,
    Template,
    ValidationError,
    build_mime,
    mime_bytes,
)
from sesflow.sending.mime import MIME_POLICY
from sesflow.sending.smtp import prepare_message
from sesflow.sending.validation import HEADER_LINE_BREAKS

SURROGATES = range(0xD800, 0xE000)
# C0 controls and DEL, C1 controls, every line boundary, and a few odd ones (BOM, noncharacters, the last
# code point, a non-BMP emoji, a private-use character): all single code points a header might be given.
MATTER = sorted(
    {*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *map(ord, HEADER_LINE_BREAKS)}
    | {0xA0, 0xAD, 0x200B, 0x200E, 0xFEFF, 0xFFFD, 0xFFFE, 0xFFFF, 0x1F600, 0xE000, 0x10FFFF}
)


def _email_package_refuses(value: str) -> bool:
    """Whether the email package refuses ``value`` as a header value (with the policy sesflow writes with)."""
    msg = EmailMessage(policy=MIME_POLICY)
    try:
        msg["X-Probe"] = value
        msg.as_bytes(policy=MIME_POLICY)
    except (ValueError, UnicodeError):
        return True
    return False


# ---------------------------------------------------------------------------------------------------------
# The rule, derived


def test_the_line_breaks_are_exactly_what_str_splitlines_splits_at() -> None:
    splits = {chr(cp) for cp in range(sys.maxunicode + 1) if len(f"a{chr(cp)}b".splitlines()) > 1}
    assert splits == HEADER_LINE_BREAKS


@pytest.mark.parametrize("cp", [*MATTER, *SURROGATES[::32], 0xDBFF, 0xDC00, 0xDC80, 0xDCFF, 0xDFFF])
def test_the_email_package_refuses_exactly_the_line_breaks_and_the_surrogates(cp: int) -> None:
    char = chr(cp)
    escaped_byte = 0xDC80 <= cp <= 0xDCFF  # surrogateescape's stand-ins for bytes 0x80-0xFF
    expected = char in HEADER_LINE_BREAKS or (0xD800 <= cp <= 0xDFFF and not escaped_byte)
    assert _email_package_refuses(f"a{char}b") is expected
    if escaped_byte:  # written as U+FFFD without an error: silently changed, so sesflow refuses them too
        written = email.message_from_bytes(_header_bytes(f"a{char}b"), policy=policy.default)
        assert written["X-Probe"] != f"a{char}b"


def _header_bytes(value: str) -> bytes:
    msg = EmailMessage(policy=MIME_POLICY)
    msg["X-Probe"] = value
    return msg.as_bytes(policy=MIME_POLICY)


# ---------------------------------------------------------------------------------------------------------
# Every field that becomes header text


# field name (as the error reports it) -> a message with a character in that field
FIELDS: dict[str, Callable[[str], Email]] = {
    "subject": lambda s: Email("shop@example.com", "a@example.com", subject=f"Hi {s} there", text="t"),
    "sender": lambda s: Email(f"Shop{s}Name <shop@example.com>", "a@example.com", subject="s", text="t"),
    "to": lambda s: Email("shop@example.com", f"Jane{s}Doe <a@example.com>", subject="s", text="t"),
    "headers['X-Campaign']": lambda s: Email(
        "shop@example.com", "a@example.com", subject="s", text="t", headers={"X-Campaign": f"spring{s}2025"}
    ),
    "attachments[": lambda s: Email(
        "shop@example.com",
        "a@example.com",
        subject="s",
        text="t",
        attachments=[Attachment(f"r{s}.pdf", b"%PDF")],
    ),
}


def _refused(cp: int) -> bool:
    return chr(cp) in HEADER_LINE_BREAKS or cp == 0 or 0xD800 <= cp <= 0xDFFF


@pytest.mark.parametrize("field", list(FIELDS))
def test_each_header_field_refuses_what_cannot_be_written_and_carries_the_rest(field: str) -> None:
    build = FIELDS[field]
    for cp in [*MATTER, *SURROGATES]:
        char = chr(cp)
        if _refused(cp):
            with pytest.raises(ValidationError, match=f"U\\+{cp:04X}") as caught:
                build(char)
            assert caught.value.field.startswith(field)
            continue
        message = build(char)  # accepted: both paths must write it
        data = mime_bytes(build_mime(message, configuration_set="cs"))
        prepared = prepare_message(message, configuration_set="cs")
        assert prepared.data.count(b"X-SES-CONFIGURATION-SET: cs") == 1
        written = email.message_from_bytes(data, policy=policy.default)
        if field == "subject":
            assert written["Subject"] == message.subject, hex(cp)
        elif field.startswith("headers"):
            assert written["X-Campaign"] == message.headers["X-Campaign"], hex(cp)
        elif field == "sender":
            assert written["From"].addresses[0].addr_spec == "shop@example.com"


@pytest.mark.parametrize("part", ["text", "html"])
def test_bodies_refuse_lone_surrogates_only(part: str) -> None:
    for cp in [0xD800, 0xDBFF, 0xDC00, 0xDFFF]:
        with pytest.raises(ValidationError, match="lone surrogate") as caught:
            Email("shop@example.com", "a@example.com", subject="s", **{part: f"a{chr(cp)}b"})
        assert caught.value.field == part
    body = "line\u2028sep\x0bvt\x0cff\x85nel\x00nul"
    message = Email("shop@example.com", "a@example.com", subject="s", **{part: body})
    written = email.message_from_bytes(mime_bytes(build_mime(message)), policy=policy.default)
    assert body in str(written.get_body().get_content())  # type: ignore[union-attr]


def test_template_parts_refuse_what_they_cannot_carry() -> None:
    with pytest.raises(ValidationError) as caught:
        Template(subject="Hi\u2028there", text="t")
    assert caught.value.field == "template.subject"
    with pytest.raises(ValidationError) as caught:
        Template(subject="s", html="<p>\udc80</p>")
    assert caught.value.field == "template.html"
    with pytest.raises(ValidationError) as caught:
        Template("welcome", data={"name": "J\ud800"})
    assert caught.value.field == "template.data"


def test_a_compat32_message_cannot_inject_headers_over_smtp() -> None:
    for value in ("x\r\nBcc: victim@example.com", "x\nX-Evil: 1", "x\u2028y", "x\x0bz"):
        msg = EmailMessage(policy=policy.compat32)
        msg["From"] = "shop@example.com"
        msg["To"] = "a@example.com"
        msg["Subject"] = value
        msg.set_payload("hi")
        with pytest.raises(ValidationError) as caught:
            prepare_message(msg, configuration_set="cs")
        assert caught.value.field == "Subject"
    folded = email.message_from_bytes(
        b"From: shop@example.com\r\nTo: a@example.com\r\nSubject: a long\r\n subject\r\n\r\nbody\r\n",
        _class=EmailMessage,
    )
    assert b"Subject: a long" in prepare_message(folded, configuration_set="cs").data  # folding is fine


# ---------------------------------------------------------------------------------------------------------
# send_many: one message's failure never stops the others (moto in server mode)

CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# sesflow's clients say region= where boto3 says region_name=.
CLIENT_CREDENTIALS = {"region" if k == "region_name" else k: v for k, v in CREDENTIALS.items()}


class Env:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        ses = boto3.session.Session().client("ses", endpoint_url=endpoint, **CREDENTIALS)  # type: ignore[call-overload]
        suffix = uuid.uuid4().hex[:10]
        self.domain = f"shop-{suffix}.example.com"
        self.config_set = f"events-{suffix}"
        ses.verify_domain_identity(Domain=self.domain)
        ses.create_configuration_set(ConfigurationSet={"Name": self.config_set})

    def emails(self) -> list[Email]:
        """Four messages; the second trips the failing hook below, the third goes as raw MIME."""
        sender = f"news@{self.domain}"
        return [
            Email(sender, "a@example.com", subject="one", text="1"),
            Email(sender, "b@example.com", subject="explode", text="2"),
            Email(sender, "c@example.com", subject="three", text="3", headers={"X-Order": "3"}),
            Email(sender, "d@example.com", subject="four", text="4"),
        ]


@pytest.fixture
def env(moto_server: str) -> Env:
    return Env(moto_server)


def _explode_on(subject: str) -> Callable[..., None]:
    """A botocore hook that fails one request with an exception nothing in sesflow expects."""

    def hook(params: dict[str, Any], **_: Any) -> None:
        if subject in str(params):
            raise RuntimeError(f"a library below failed on {subject!r}")

    return hook


def _check(results: list[Any]) -> None:
    assert [type(r) for r in results] == [SendResult, SendOutcomeUnknown, SendResult, SendResult]
    failure = results[1]
    assert failure.code == "RuntimeError"
    assert isinstance(failure.__cause__, RuntimeError)
    assert "explode" in str(failure)


@pytest.fixture
def sync_client(env: Env) -> Iterator[SesClient]:
    with SesClient(
        env.config_set, endpoint_url=env.endpoint, max_send_rate=None, **CLIENT_CREDENTIALS
    ) as client:
        yield client


def test_send_many_returns_an_unexpected_failure_in_its_place(
    env: Env, sync_client: SesClient, caplog: pytest.LogCaptureFixture
) -> None:
    sync_client.client.meta.events.register("before-parameter-build", _explode_on("explode"))

    results = sync_client.send_many(env.emails())

    _check(results)
    assert "unexpected RuntimeError" in caplog.text


async def test_async_send_many_returns_an_unexpected_failure_in_its_place(env: Env) -> None:
    async with AsyncSesClient(
        env.config_set,
        session=AioSession(),
        endpoint_url=env.endpoint,
        max_send_rate=None,
        **CLIENT_CREDENTIALS,
    ) as client:
        client.client.meta.events.register("before-parameter-build", _explode_on("explode"))
        results = await client.send_many(env.emails())
    _check(results)
