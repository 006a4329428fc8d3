"""The Django email backend against the moto server: each EmailMessage feature checked in what moto recorded.

The moto server runs in this process, so its SES backend's ``sent_messages`` is what the server stored: the
whole MIME message of a raw send, the subject, body and destinations of a simple one, the template and data
of a templated one. What moto does not keep (the configuration set and tags of a simple send) is read on the
wire, with a botocore hook on the shared client.
"""

from __future__ import annotations

import email
import email.policy
import inspect
import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from email.mime.image import MIMEImage
from typing import Any

import boto3
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection, send_mail
from django.utils.translation import gettext_lazy
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from sesflow.integrations.django import SesflowOptions, SettingsError, email_from_django
from sesflow.integrations.django.conf import CLIENT_SETTINGS, client_options, shared_client
from sesflow.sending import (
    ConfigurationSetNotFound,
    ConfigurationSetRequired,
    ListUnsubscribe,
    SesClient,
    Template,
    TenantNotFound,
    ValidationError,
)
from sesflow.testing import FakeSes

from ._django_support import sesflow

BACKEND = "sesflow.integrations.django.EmailBackend"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")  # a PNG's first bytes
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


class Wire:
    """The operations and parameters a boto3 client sent (a botocore ``before-parameter-build`` hook)."""

    def __init__(self, client: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("before-parameter-build", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]

    def sends(self) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name.startswith("Send")]


class Shop:
    """The test project's sender identity and configuration sets on the moto server; what moto stored."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.v1 = boto3.client("ses", endpoint_url=endpoint, region_name="us-east-1")
        self.v1.verify_domain_identity(Domain="shop.example.com")
        existing = {s["Name"] for s in self.v1.list_configuration_sets()["ConfigurationSets"]}
        for name in ("shop-events", "shop-receipts"):
            if name not in existing:
                self.v1.create_configuration_set(ConfigurationSet={"Name": name})
        self.mark = len(self.stored())

    @staticmethod
    def stored() -> list[Any]:
        return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)

    def new(self) -> list[Any]:
        """What moto stored since this object was made (or since the last call)."""
        stored = self.stored()
        out, self.mark = stored[self.mark :], len(stored)
        return out


@pytest.fixture
def shop(moto_server: str, django_project: None) -> Iterator[Shop]:
    with sesflow(ENDPOINT_URL=moto_server):
        yield Shop(moto_server)


@pytest.fixture
def wire(shop: Shop) -> Wire:
    return Wire(shared_client().client)


def parse(raw: str) -> email.message.EmailMessage:
    # SES's raw messages have CRLF line ends; the parser wants the text's own ("\n").
    message = email.message_from_string(raw.replace("\r\n", "\n"), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


# ------------------------------------------------------------------------------------------ what is sent


def test_send_mail_goes_through_ses_with_the_configuration_set(shop: Shop, wire: Wire) -> None:
    message = EmailMessage("Your order shipped", "It is on its way.", None, ["jane@example.com"])
    assert message.send() == 1

    (stored,) = shop.new()
    assert (stored.source, stored.subject, stored.body) == (
        "Shop <shop@shop.example.com>",
        "Your order shipped",
        "It is on its way.",
    )
    assert stored.destinations == {"ToAddresses": ["jane@example.com"]}
    assert message.sesflow_result.message_id == stored.id  # type: ignore[attr-defined]
    assert message.sesflow_error is None  # type: ignore[attr-defined]
    (params,) = wire.sends()
    assert params["ConfigurationSetName"] == "shop-events"
    assert wire.operations() == ["GetConfigurationSet", "SendEmail"]  # the set was checked before sending

    assert send_mail("Again", "Hello", None, ["jane@example.com"]) == 1
    assert [m.subject for m in shop.new()] == ["Again"]


def test_every_email_message_feature_reaches_ses(shop: Shop, wire: Wire) -> None:
    subject = "Votre commande n°1042 ✓"
    message = EmailMultiAlternatives(
        subject,
        "Text body é",
        "Shop Team <orders@shop.example.com>",
        ["Jane Doe <jane@example.com>"],
        cc=["cc@example.com"],
        bcc=["audit@example.com"],
        reply_to=["Support <support@shop.example.com>"],
        headers={"X-Order": "1042"},
    )
    message.attach_alternative('<p>Hello <img src="cid:logo"></p>', "text/html")
    message.attach("invoice.pdf", PDF, "application/pdf")
    message.attach("notes.txt", "plain notes", "text/plain")
    logo = MIMEImage(PNG, "png")
    logo.add_header("Content-ID", "<logo>")
    logo.add_header("Content-Disposition", "inline", filename="logo.png")
    message.attach(logo)
    SesflowOptions(configuration_set="shop-receipts", tags={"kind": "receipt"}).apply(message)

    with sesflow(ENDPOINT_URL=shop.endpoint, TAGS={"app": "shop"}):
        assert message.send() == 1
        wire = Wire(shared_client().client)  # the new settings made a new shared client
        assert message.send() == 1  # the same message again, now seen on the wire too

    first, second = shop.new()
    # moto adds the To and Cc header addresses to the destinations it was given; Bcc is only in the latter.
    assert set(first.destinations) == {"Jane Doe <jane@example.com>", "cc@example.com", "audit@example.com"}
    mime = parse(first.raw_data)
    assert str(mime["From"]) == "Shop Team <orders@shop.example.com>"
    assert str(mime["To"]) == "Jane Doe <jane@example.com>"
    assert str(mime["Cc"]) == "cc@example.com"
    assert "Bcc" not in mime  # Bcc travels in the destinations only
    assert str(mime["Reply-To"]) == "Support <support@shop.example.com>"
    assert str(mime["Subject"]) == subject
    assert str(mime["X-Order"]) == "1042"
    assert str(mime["X-SES-CONFIGURATION-SET"]) == "shop-receipts"
    assert sorted(str(mime["X-SES-MESSAGE-TAGS"]).split(", ")) == ["app=shop", "kind=receipt"]

    text = mime.get_body(("plain",))
    html = mime.get_body(("html",))
    assert text is not None
    assert text.get_content() == "Text body é\n"
    assert html is not None
    assert html.get_content() == '<p>Hello <img src="cid:logo"></p>\n'
    related = mime.get_body(("related",))
    assert related is not None
    assert related.get_content_type() == "multipart/related"
    (image,) = [part for part in related.iter_parts() if part.get_content_maintype() == "image"]
    assert (image.get_content_type(), str(image["Content-ID"]), image.get_content_disposition()) == (
        "image/png",
        "<logo>",
        "inline",
    )
    assert image.get_content() == PNG
    files = {
        part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
        for part in mime.iter_attachments()
    }
    assert files == {"invoice.pdf": ("application/pdf", PDF), "notes.txt": ("text/plain", b"plain notes")}

    assert parse(second.raw_data)["Subject"] == subject
    (params,) = wire.sends()
    assert params["ConfigurationSetName"] == "shop-receipts"
    assert sorted((t["Name"], t["Value"]) for t in params["EmailTags"]) == [
        ("app", "shop"),
        ("kind", "receipt"),
    ]


def test_an_html_only_message_is_sent_as_html(shop: Shop, wire: Wire) -> None:
    message = EmailMessage("Newsletter", "<h1>News</h1>", None, ["jane@example.com"])
    message.content_subtype = "html"
    assert message.send() == 1
    (stored,) = shop.new()
    assert stored.body == "<h1>News</h1>"
    (params,) = wire.sends()
    assert set(params["Content"]["Simple"]["Body"]) == {"Html"}


def test_list_unsubscribe_headers_become_sesflows_list_unsubscribe(shop: Shop) -> None:
    message = EmailMessage(
        "Weekly",
        "News",
        None,
        ["jane@example.com"],
        headers={
            "List-Unsubscribe": "<https://shop.example.com/u/1>, <mailto:unsub@shop.example.com>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    assert message.send() == 1
    (stored,) = shop.new()
    mime = parse(stored.raw_data)
    assert (
        str(mime["List-Unsubscribe"]).strip()
        == "<https://shop.example.com/u/1>, <mailto:unsub@shop.example.com>"
    )
    assert str(mime["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"


def test_a_template_send_names_the_template_and_its_data(shop: Shop) -> None:
    name = f"welcome-{uuid.uuid4().hex[:8]}"
    shop.v1.create_template(
        Template={"TemplateName": name, "SubjectPart": "Hi {{name}}", "TextPart": "Hello"}
    )
    message = EmailMessage(to=["jane@example.com"])
    SesflowOptions(template=Template(name, data={"name": "Jane"})).apply(message)
    # moto answers the v2 API's template content with "not implemented"; its v1 API records the send.
    with sesflow(ENDPOINT_URL=shop.endpoint, API="v1"):
        assert message.send() == 1
    (stored,) = shop.new()
    assert (stored.template, json.loads(stored.template_data)) == (name, {"name": "Jane"})
    assert stored.destinations == {"ToAddresses": ["jane@example.com"]}


def test_lazy_translated_subject_and_body_are_sent_as_text(shop: Shop) -> None:
    assert send_mail(gettext_lazy("Welcome"), gettext_lazy("Hello"), None, ["jane@example.com"]) == 1
    (stored,) = shop.new()
    assert (stored.subject, stored.body) == ("Welcome", "Hello")


# ------------------------------------------------------------------------------------------ the client


def test_one_client_serves_every_backend_and_checks_the_set_once(shop: Shop, wire: Wire) -> None:
    first, second = get_connection(), get_connection()
    assert first is not second
    sent = first.send_messages([EmailMessage("One", "1", None, ["a@example.com"])])
    sent += second.send_messages(
        [
            EmailMessage("Two", "2", None, ["b@example.com"]),
            EmailMessage("Three", "3", None, ["c@example.com"]),
        ]
    )
    assert sent == 3
    assert [m.subject for m in shop.new()] == ["One", "Two", "Three"]
    assert wire.operations() == ["GetConfigurationSet", "SendEmail", "SendEmail", "SendEmail"]


def test_backend_options_replace_single_settings(shop: Shop) -> None:
    connection = get_connection(BACKEND, configuration_set="shop-receipts")
    with connection:
        assert (
            connection.send_messages(
                [EmailMessage("Receipt", "Paid", None, ["a@example.com"], headers={"X-R": "1"})]
            )
            == 1
        )
    (stored,) = shop.new()
    assert str(parse(stored.raw_data)["X-SES-CONFIGURATION-SET"]) == "shop-receipts"

    with pytest.raises(SettingsError, match="no option 'configuration_sett'"):
        get_connection(BACKEND, configuration_sett="x")
    with pytest.raises(SettingsError, match="not SMTP"):
        send_mail("Hi", "Hello", None, ["a@example.com"], auth_user="AKIA", auth_password="secret")
    assert shop.new() == []


# ------------------------------------------------------------------------------------------ failures


def test_a_missing_configuration_set_is_refused_before_anything_is_sent(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    with sesflow(ENDPOINT_URL=shop.endpoint, CONFIGURATION_SET="no-such-set"):
        message = EmailMessage("Hi", "Hello", None, ["jane@example.com"])
        with pytest.raises(ConfigurationSetNotFound):
            message.send()
        with caplog.at_level(logging.ERROR, "sesflow.integrations.django"):
            assert get_connection(fail_silently=True).send_messages([message]) == 0
    assert isinstance(message.sesflow_error, ConfigurationSetNotFound)  # type: ignore[attr-defined]
    assert message.sesflow_result is None  # type: ignore[attr-defined]
    assert "was not sent" in caplog.text
    assert "no-such-set" in caplog.text
    assert shop.new() == []


def test_without_a_configuration_set_nothing_is_sent(shop: Shop) -> None:
    with sesflow(ENDPOINT_URL=shop.endpoint, CONFIGURATION_SET=...), pytest.raises(ConfigurationSetRequired):
        send_mail("Hi", "Hello", None, ["jane@example.com"])
    with sesflow(ENDPOINT_URL=shop.endpoint, CONFIGURATION_SET=..., ALLOW_NO_CONFIGURATION_SET=True):
        assert send_mail("Hi", "Hello", None, ["jane@example.com"]) == 1
    assert [m.subject for m in shop.new()] == ["Hi"]


def test_fail_silently_skips_only_the_message_that_failed_and_logs_it(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    def batch() -> list[EmailMessage]:
        return [
            EmailMessage("First", "1", None, ["a@example.com"]),
            EmailMessage("Broken", "2", None, ["not an address"]),
            EmailMessage("Third", "3", None, ["c@example.com"]),
        ]

    with caplog.at_level(logging.ERROR, "sesflow.integrations.django"):
        assert get_connection(fail_silently=True).send_messages(batch()) == 2
    assert [m.subject for m in shop.new()] == ["First", "Third"]
    assert "'Broken' to 1 recipient(s) was not sent" in caplog.text

    messages = batch()
    with pytest.raises(ValidationError, match="not an address"):
        get_connection().send_messages(messages)
    assert [m.subject for m in shop.new()] == ["First"]  # nothing after the failure was attempted
    assert isinstance(messages[1].sesflow_error, ValidationError)  # type: ignore[attr-defined]


def test_ses_refusing_a_message_raises_its_typed_error(shop: Shop) -> None:
    from sesflow.sending import MessageRejected

    message = EmailMessage("Hi", "Hello", "someone@unverified.example.org", ["jane@example.com"])
    with pytest.raises(MessageRejected):
        message.send()
    assert shop.new() == []


# ------------------------------------------------------------------------------------------ settings


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"CONFIGURATON_SET": "x"}, "unknown key(s) CONFIGURATON_SET"),
        ({"CONFIGURATION_SET": "bad name!"}, "SESFLOW['CONFIGURATION_SET']"),
        ({"API": "v3"}, "SESFLOW['API']"),
        ({"TAGS": "kind=receipt"}, "SESFLOW['TAGS']"),
        ({"TAGS": {"bad tag": "x"}}, "SESFLOW['TAGS']"),
        ({"SIGNALS": "yes"}, "SESFLOW['SIGNALS']"),
        ({"MAX_BODY_SIZE": 0}, "SESFLOW['MAX_BODY_SIZE']"),
        ({"TOPIC_ARNS": "arn:aws:sns:us-east-1:123456789012:one"}, "SESFLOW['TOPIC_ARNS']"),
        ({"VERIFIER_OPTIONS": {"topic_arns": []}}, "SESFLOW['TOPIC_ARNS']"),
        ({"TENANT": "not a name!"}, "SESFLOW['TENANT']"),
        ({"TENANT": "acme", "API": "v1"}, "SESFLOW['TENANT']"),  # v1 has no tenants
    ],
)
def test_a_wrong_setting_is_a_settings_error_naming_it(
    shop: Shop, changes: dict[str, Any], names: str
) -> None:
    with sesflow(ENDPOINT_URL=shop.endpoint, **changes), pytest.raises(SettingsError) as raised:
        send_mail("Hi", "Hello", None, ["jane@example.com"])
    assert names in str(raised.value)
    assert isinstance(raised.value, ImproperlyConfigured)
    assert shop.new() == []


def test_every_sending_setting_is_a_client_keyword() -> None:
    accepted = set(inspect.signature(SesClient).parameters)
    assert set(CLIENT_SETTINGS.values()) <= accepted
    assert CLIENT_SETTINGS["TENANT"] == "tenant"
    assert CLIENT_SETTINGS["VERIFY_TENANT"] == "verify_tenant"


# ------------------------------------------------------------------------------------------ tenants


def _on(fake: FakeSes, **changes: Any) -> Any:
    """The project's settings with FakeSes as its SES endpoint, and ``changes``."""
    return sesflow(
        ENDPOINT_URL=fake.endpoint_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        **changes,
    )


@pytest.fixture
def tenants(django_project: None) -> Iterator[FakeSes]:
    """FakeSes, which answers GetTenant and checks a tenant's sends (moto does neither), as the project's SES
    with TENANT acme; the tenants acme and globex exist with every resource associated."""
    with (
        FakeSes(configuration_sets={"shop-events"}, tenants={"acme", "globex"}) as fake,
        _on(fake, TENANT="acme"),
    ):
        yield fake


def _sent(fake: FakeSes) -> list[Any]:
    return [call for call in fake.calls if call.operation == "SendEmail"]


def test_the_tenant_setting_reaches_ses_and_a_message_can_name_its_own(tenants: FakeSes) -> None:
    default = EmailMessage("Your order shipped", "It is on its way.", None, ["jane@example.com"])
    assert default.send() == 1
    assert default.sesflow_result.tenant == "acme"  # type: ignore[attr-defined]
    (call,) = _sent(tenants)
    assert call.body["TenantName"] == "acme"
    assert call.body["ConfigurationSetName"] == "shop-events"
    assert [c.body for c in tenants.calls if c.operation == "GetTenant"] == [{"TenantName": "acme"}]

    own = SesflowOptions(tenant="globex").apply(EmailMessage("Hi", "Hello", None, ["joe@example.com"]))
    header = EmailMessage("Hi", "Hello", None, ["ann@example.com"], headers={"X-SES-TENANT": "globex"})
    assert get_connection().send_messages([own, header, default]) == 3
    assert [c.body["TenantName"] for c in _sent(tenants)[1:]] == ["globex", "globex", "acme"]
    assert [r.sesflow_result.tenant for r in (own, header)] == ["globex", "globex"]  # type: ignore[attr-defined]
    # Each tenant was checked to exist once, before its first send; the header never reaches SES as one.
    assert [c.body["TenantName"] for c in tenants.calls if c.operation == "GetTenant"] == ["acme", "globex"]
    assert all("Raw" not in c.body["Content"] for c in _sent(tenants))

    with get_connection(tenant="globex") as connection:  # a backend's own client, for another tenant
        assert connection.send_messages([EmailMessage("Hi", "Hello", None, ["bo@example.com"])]) == 1
    assert _sent(tenants)[-1].body["TenantName"] == "globex"


def test_a_missing_tenant_is_refused_before_ses_sees_the_message(tenants: FakeSes) -> None:
    message = SesflowOptions(tenant="initech").apply(EmailMessage("Hi", "Hello", None, ["jane@example.com"]))
    with pytest.raises(TenantNotFound, match="initech"):
        message.send()
    assert _sent(tenants) == []
    assert isinstance(message.sesflow_error, TenantNotFound)  # type: ignore[attr-defined]
    with _on(tenants, TENANT="initech"):  # the setting names a tenant that does not exist
        assert send_mail("Hi", "Hello", None, ["jane@example.com"], fail_silently=True) == 0
    assert _sent(tenants) == []


def test_no_tenant_and_verify_tenant_against_moto(shop: Shop) -> None:
    with sesflow(ENDPOINT_URL=shop.endpoint, TENANT=None):
        assert "tenant" not in client_options()  # None means: not passed at all
        assert send_mail("Hi", "Hello", None, ["jane@example.com"]) == 1
    # moto answers no GetTenant: VERIFY_TENANT=False sends without asking, with the tenant on the call.
    with sesflow(ENDPOINT_URL=shop.endpoint, TENANT="acme", VERIFY_TENANT=False):
        client = shared_client()
        sends = Wire(client.client)
        assert send_mail("Hi", "Hello", None, ["jane@example.com"]) == 1
    assert sends.operations() == ["GetConfigurationSet", "SendEmail"]
    assert sends.sends()[0]["TenantName"] == "acme"
    assert [m.subject for m in shop.new()] == ["Hi", "Hi"]


# ------------------------------------------------------------------------------------------ hostile input


def _message(**changes: Any) -> EmailMultiAlternatives:
    fields: dict[str, Any] = {"subject": "Hi", "body": "Hello", "to": ["jane@example.com"]}
    alternatives = changes.pop("alternatives", None)
    attachments = changes.pop("attach", None)
    options = changes.pop("sesflow", None)
    subtype = changes.pop("content_subtype", None)
    fields.update(changes)
    message = EmailMultiAlternatives(**fields)
    for content, mimetype in alternatives or ():
        message.attach_alternative(content, mimetype)
    for item in attachments or ():
        message.attachments.append(item)
    if options is not None:
        message.sesflow = options  # type: ignore[attr-defined]
    if subtype is not None:
        message.content_subtype = subtype
    return message


def _mime(kind: str) -> Any:
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    if kind == "multipart":
        return MIMEMultipart()
    part = MIMEText("From: a@example.com\n\nhi")
    part.replace_header("Content-Type", "message/rfc822")
    return part


HOSTILE: list[tuple[str, Any, str]] = [
    ("not a message", lambda: "Subject: hi", "message"),
    ("sender without a domain", lambda: _message(from_email="webmaster@localhost"), "sender"),
    ("recipient that is no address", lambda: _message(to=["jane"]), "to[0]"),
    ("no recipients", lambda: _message(to=[]), "to"),
    ("line break in the subject", lambda: _message(subject="Hi\r\nBcc: x@example.com"), "subject"),
    (
        "a To header hiding the recipients",
        lambda: _message(headers={"To": "boss@example.com"}),
        "headers['To']",
    ),
    ("a Cc header", lambda: _message(headers={"cc": "boss@example.com"}), "headers['cc']"),
    ("a Bcc header", lambda: _message(headers={"Bcc": "spy@example.com"}), "headers['Bcc']"),
    (
        "a header with a line break",
        lambda: _message(headers={"X-A": "1\r\nBcc: x@example.com"}),
        "headers['X-A']",
    ),
    ("a header name with a colon", lambda: _message(headers={"X:A": "1"}), "headers"),
    (
        "an AMP alternative",
        lambda: _message(alternatives=[("<html amp>", "text/x-amp-html")]),
        "alternatives[0]",
    ),
    (
        "two HTML alternatives",
        lambda: _message(alternatives=[("<p>1</p>", "text/html"), ("<p>2</p>", "text/html")]),
        "alternatives[1]",
    ),
    ("a calendar body", lambda: _message(content_subtype="calendar"), "content_subtype"),
    ("an attachment that is not a triple", lambda: _message(attach=[("a.txt", b"x")]), "attachments[0]"),
    (
        "an attachment of numbers",
        lambda: _message(attach=[("a.bin", 42, "application/octet-stream")]),
        "attachments[0]",
    ),
    (
        "a path as file name",
        lambda: _message(attach=[("../../etc/passwd", b"x", "text/plain")]),
        "attachments",
    ),
    (
        "a message/rfc822 attachment",
        lambda: _message(attach=[("fwd.eml", "From: a@b.c\n\nhi", "message/rfc822")]),
        "attachments[0]",
    ),
    ("a message/rfc822 MIME part", lambda: _message(attach=[_mime("rfc822")]), "attachments[0]"),
    ("a multipart MIME part", lambda: _message(attach=[_mime("multipart")]), "attachments[0]"),
    ("an inline image without html", lambda: _message(attach=[_inline_image()]), "attachments['logo.png']"),
    ("message.sesflow of the wrong type", lambda: _message(sesflow={"configuration_set": "x"}), "sesflow"),
    (
        "a template with a body",
        lambda: _message(sesflow=SesflowOptions(template=Template("welcome"))),
        "template",
    ),
    (
        "a malformed List-Unsubscribe",
        lambda: _message(headers={"List-Unsubscribe": "https://shop.example.com/u"}),
        "headers['List-Unsubscribe']",
    ),
    (
        "one-click without a List-Unsubscribe",
        lambda: _message(headers={"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}),
        "headers['List-Unsubscribe-Post']",
    ),
    (
        "one-click over http",
        lambda: _message(
            headers={
                "List-Unsubscribe": "<http://x.example.com/u>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
        ),
        "list_unsubscribe",
    ),
    (
        "List-Unsubscribe twice",
        lambda: _message(
            headers={"List-Unsubscribe": "<https://x.example.com/u>"},
            sesflow=SesflowOptions(list_unsubscribe=ListUnsubscribe(url="https://x.example.com/v")),
        ),
        "list_unsubscribe",
    ),
    (
        "the configuration set twice",
        lambda: _message(
            headers={"X-SES-CONFIGURATION-SET": "a"}, sesflow=SesflowOptions(configuration_set="b")
        ),
        "configuration_set",
    ),
    (
        "a malformed tags header",
        lambda: _message(headers={"X-SES-MESSAGE-TAGS": "kind"}),
        "headers['X-SES-MESSAGE-TAGS']",
    ),
    ("a tag that SES refuses", lambda: _message(headers={"X-SES-MESSAGE-TAGS": "kind=a b"}), "tags['kind']"),
    (
        "the tenant twice",
        lambda: _message(headers={"X-SES-TENANT": "acme"}, sesflow=SesflowOptions(tenant="globex")),
        "tenant",
    ),
    (
        "a header injected through X-SES-TENANT",
        lambda: _message(headers={"X-SES-TENANT": "acme\r\nBcc: spy@example.org"}),
        "headers['X-SES-TENANT']",
    ),
    (
        "a tenant name SES refuses",
        lambda: _message(headers={"X-SES-TENANT": "acme corp"}),
        "headers['X-SES-TENANT']",
    ),
    ("non-UTF-8 bytes as the body", lambda: _message(body=b"\xff\xfe"), "body"),
]


def _inline_image() -> MIMEImage:
    image = MIMEImage(PNG, "png")
    image.add_header("Content-ID", "<logo>")
    image.add_header("Content-Disposition", "inline", filename="logo.png")
    return image


@pytest.mark.parametrize(("case", "build", "field"), HOSTILE, ids=[case for case, _, _ in HOSTILE])
def test_hostile_messages_raise_only_validation_errors_naming_the_field(
    django_project: None, case: str, build: Any, field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        email_from_django(build())
    assert raised.value.field.startswith(field), (case, raised.value)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: SesflowOptions(configuration_set="no spaces"), "sesflow.configuration_set"),
        (lambda: SesflowOptions(tags={"ses:reserved": "x"}), "sesflow.tags"),
        (lambda: SesflowOptions(template="welcome"), "sesflow.template"),
        (lambda: SesflowOptions(feedback_address="nobody"), "sesflow.feedback_address"),
        (lambda: SesflowOptions(tenant="acme\nBcc: spy@example.org"), "sesflow.tenant"),
        (lambda: SesflowOptions(tenant="x" * 65), "sesflow.tenant"),
        (lambda: SesflowOptions(tenant=42), "sesflow.tenant"),  # type: ignore[arg-type]
    ],
)
def test_bad_options_are_refused_when_made(build: Any, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        build()
    assert raised.value.field.startswith(field)


def test_headers_that_django_lets_override_fields_are_honoured(django_project: None) -> None:
    converted = email_from_django(
        _message(
            headers={
                "From": "Shop Team <team@shop.example.com>",
                "Reply-To": '"Help, Desk" <help@shop.example.com>, other@shop.example.com',
                "X-SES-CONFIGURATION-SET": "shop-receipts",
                "X-SES-MESSAGE-TAGS": "kind=receipt, batch=7",
                "X-SES-TENANT": "acme",
                "X-Priority": 1,
            }
        )
    )
    assert str(converted.sender) == "Shop Team <team@shop.example.com>"
    assert [(a.name, a.email) for a in converted.reply_to] == [
        ("Help, Desk", "help@shop.example.com"),
        (None, "other@shop.example.com"),
    ]
    assert converted.configuration_set == "shop-receipts"
    assert converted.tenant == "acme"
    assert dict(converted.tags) == {"kind": "receipt", "batch": "7"}
    assert dict(converted.headers) == {"X-Priority": "1"}


# ------------------------------------------------------------------------------------------ system checks


@pytest.mark.parametrize(
    ("changes", "check_id"),
    [
        ({"CONFIGURATION_SET": ...}, "sesflow.E002"),
        ({"ROUTERS": "x"}, "sesflow.E001"),
        ({"ROUTER": "tests.django_project.events.nothing_here"}, "sesflow.E003"),
    ],
)
def test_manage_py_check_reports_what_the_settings_get_wrong(
    django_project: None, changes: dict[str, Any], check_id: str
) -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    call_command("check", stdout=io.StringIO())  # the project as it is passes
    with sesflow(**changes), pytest.raises(SystemCheckError, match=check_id):
        call_command("check", stdout=io.StringIO())
    if check_id == "sesflow.E002":
        with sesflow(**changes, ALLOW_NO_CONFIGURATION_SET=True):
            call_command("check", stdout=io.StringIO())  # sending without a set, on purpose, passes


def test_the_settings_table_of_the_docs_names_every_key() -> None:
    from pathlib import Path

    from sesflow.integrations.django import EVENT_SETTINGS

    page = (Path(__file__).resolve().parents[1] / "docs" / "django.md").read_text(encoding="utf-8")
    table = page.split("### The `SESFLOW` settings", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z_]+)`", table, re.MULTILINE)) | set(
        re.findall(r"`(AWS_[A-Z_]+)`", table)
    )
    assert documented == set(CLIENT_SETTINGS) | set(EVENT_SETTINGS)
    for name, keyword in CLIENT_SETTINGS.items():
        if name.startswith("AWS_"):
            continue
        assert f"(`{keyword}=`)" in table, name  # each sending key names the keyword it maps to


def test_without_django_the_integration_names_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    from sesflow.errors import MissingExtra

    monkeypatch.setitem(sys.modules, "django", None)
    monkeypatch.delitem(sys.modules, "sesflow.integrations.django", raising=False)
    with pytest.raises(MissingExtra, match=r"sesflow\[django\]"):
        importlib.import_module("sesflow.integrations.django")
