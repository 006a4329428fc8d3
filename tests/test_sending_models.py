"""Messages, validation, link tags and MIME: every SES rule of the sending reference, checked up front."""

from __future__ import annotations

import email
import email.policy
import json
import pickle
from email.message import EmailMessage

import attrs
import pytest

from sesflow.sending import (
    Address,
    Attachment,
    ConfigurationSetRequired,
    Destination,
    Email,
    ListUnsubscribe,
    Template,
    ValidationError,
    add_link_tags,
    build_mime,
    check_links,
    link_tags_attribute,
    mime_bytes,
    scan_links,
    tag_link,
    validate_configuration_set_name,
    validate_tags,
)
from sesflow.sending.links import parse_link_tags
from sesflow.sending.validation import (
    MAX_MESSAGE_SIZE_V1,
    MAX_MESSAGE_SIZE_V2,
    MAX_TEMPLATE_DATA,
    check_line_lengths,
    validate_headers,
    validate_template_data,
)

SENDER = "Shop <shop@example.com>"


def simple(**changes: object) -> Email:
    fields: dict[str, object] = {"sender": SENDER, "to": "jane@example.com", "subject": "Hi", "text": "Hello"}
    fields.update(changes)
    return Email(**fields)  # type: ignore[arg-type]


def field_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> str:
    return excinfo.value.field


# ------------------------------------------------------------------ configuration set names


@pytest.mark.parametrize("name", ["a", "my-set_1", "A" * 64, "0-_"])
def test_valid_configuration_set_names(name: str) -> None:
    assert validate_configuration_set_name(name) == name


@pytest.mark.parametrize("name", ["", "A" * 65, "has space", "dot.name", "ünïcode", "colon:name", "slash/x"])
def test_invalid_configuration_set_names(name: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_configuration_set_name(name)
    assert field_of(excinfo) == "configuration_set"
    assert repr(name) in str(excinfo.value)


def test_configuration_set_name_must_be_text() -> None:
    with pytest.raises(ValidationError, match="is a str"):
        validate_configuration_set_name(42)


def test_email_checks_its_configuration_set_override() -> None:
    assert simple(configuration_set="per-message").configuration_set == "per-message"
    with pytest.raises(ValidationError) as excinfo:
        simple(configuration_set="bad name")
    assert field_of(excinfo) == "configuration_set"


def test_configuration_set_required_says_how_to_opt_out() -> None:
    error = ConfigurationSetRequired()
    assert error.field == "configuration_set"
    assert "allow_no_configuration_set=True" in str(error)


# ------------------------------------------------------------------ tags


def test_valid_tags_are_copied_read_only() -> None:
    given = {"campaign": "spring-2024", "A_b-9": "x" * 256, "n" * 256: "v"}
    tags = validate_tags(given)
    given["later"] = "change"
    assert dict(tags) == {"campaign": "spring-2024", "A_b-9": "x" * 256, "n" * 256: "v"}
    with pytest.raises(TypeError):
        tags["x"] = "y"  # type: ignore[index]


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        ({"ses:campaign": "x"}, "reserved"),
        ({"SES:campaign": "x"}, "reserved"),
        ({"has space": "x"}, "tag name"),
        ({"dot.name": "x"}, "tag name"),
        ({"": "x"}, "tag name"),
        ({"n" * 257: "x"}, "tag name"),
        ({"ünï": "x"}, "tag name"),
        ({"name": ""}, "tag value"),
        ({"name": "a b"}, "tag value"),
        ({"name": "jane@example.com"}, "tag value"),
        ({"name": "é"}, "tag value"),
        ({"name": "v" * 257}, "tag value"),
        ({"name": 5}, "str"),
    ],
)
def test_invalid_tags(tags: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason) as excinfo:
        simple(tags=tags)
    assert field_of(excinfo).startswith("tags")


def test_tags_as_pairs_reject_repeats() -> None:
    assert dict(validate_tags([("a", "1"), ("b", "2")])) == {"a": "1", "b": "2"}
    with pytest.raises(ValidationError, match="twice"):
        validate_tags([("a", "1"), ("a", "2")])
    with pytest.raises(ValidationError, match="not a string"):
        validate_tags("a=1")  # type: ignore[arg-type]


# ------------------------------------------------------------------ addresses and recipients


def test_address_parsing_and_wire_form() -> None:
    jane = Address.parse("Jane Doe <jane@example.com>")
    assert (jane.email, jane.name) == ("jane@example.com", "Jane Doe")
    assert str(jane) == "Jane Doe <jane@example.com>"
    assert str(Address("a@example.com")) == "a@example.com"
    comma = Address("c@example.com", "Doe, Jane")
    assert str(comma) == '"Doe, Jane" <c@example.com>'
    unicode = Address("j@bücher.example", "Jäne")
    assert unicode.ascii_email == "j@xn--bcher-kva.example"
    assert str(unicode) == "=?utf-8?b?SsOkbmU=?= <j@xn--bcher-kva.example>"
    assert unicode.domain == "bücher.example"


@pytest.mark.parametrize(
    "value",
    [
        "no-at-sign",
        "@example.com",
        "jane@",
        "jané@example.com",
        "two words@example.com",
        ".dot@example.com",
        "a..b@example.com",
        "jane@localhost",
        "jane@-bad-.com",
        "jane@exa_mple.com",
        "x" * 65 + "@example.com",
        "jane@example.com\r\nBcc: victim@example.com",
        "a@b.com, c@d.com",
    ],
)
def test_invalid_addresses_name_the_field(value: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        simple(to=["ok@example.com", value])
    assert field_of(excinfo) == "to[1]"


def test_sender_reply_to_and_feedback_are_checked() -> None:
    with pytest.raises(ValidationError) as excinfo:
        simple(sender="nobody")
    assert field_of(excinfo) == "sender"
    with pytest.raises(ValidationError) as excinfo:
        simple(reply_to=["ok@example.com", "bad"])
    assert field_of(excinfo) == "reply_to[1]"
    with pytest.raises(ValidationError) as excinfo:
        simple(feedback_address="bad")
    assert field_of(excinfo) == "feedback_address"


def test_display_name_cannot_inject_headers() -> None:
    with pytest.raises(ValidationError, match="line breaks"):
        Address("a@example.com", "Eve\r\nBcc: x@example.com")


def test_recipient_limit_is_fifty_across_to_cc_bcc() -> None:
    addresses = [f"r{i}@example.com" for i in range(50)]
    ok = simple(to=addresses[:20], cc=addresses[20:40], bcc=addresses[40:])
    assert len(ok.recipients) == 50
    with pytest.raises(ValidationError, match="51 recipients") as excinfo:
        simple(to=addresses[:20], cc=addresses[20:40], bcc=[*addresses[40:], "one-more@example.com"])
    assert field_of(excinfo) == "to"
    with pytest.raises(ValidationError, match="no recipients"):
        simple(to=())


def test_recipients_include_bcc_in_wire_form() -> None:
    message = simple(to="Jane <jane@example.com>", cc="c@bücher.example", bcc="hidden@example.com")
    assert message.recipients == ("jane@example.com", "c@xn--bcher-kva.example", "hidden@example.com")


# ------------------------------------------------------------------ content


def test_content_rules() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Email(SENDER, "jane@example.com", text="no subject")
    assert field_of(excinfo) == "subject"
    with pytest.raises(ValidationError) as excinfo:
        Email(SENDER, "jane@example.com", subject="no body")
    assert field_of(excinfo) == "text"
    with pytest.raises(ValidationError) as excinfo:
        simple(subject="Hi\nBcc: x@example.com")
    assert field_of(excinfo) == "subject"
    assert simple(text=None, html="<p>only html</p>").html == "<p>only html</p>"


def test_templated_email_takes_content_from_the_template() -> None:
    template = Template("welcome", data={"name": "Jane"})
    message = Email(SENDER, "jane@example.com", template=template)
    assert message.template is template
    with pytest.raises(ValidationError) as excinfo:
        Email(SENDER, "jane@example.com", template=template, subject="x")
    assert field_of(excinfo) == "subject"
    with pytest.raises(ValidationError) as excinfo:
        Email(SENDER, "jane@example.com", template=template, attachments=[Attachment("a.txt", b"x")])
    assert field_of(excinfo) == "attachments"


def test_email_is_frozen_hashable_and_comparable() -> None:
    message = simple(tags={"a": "b"}, headers={"X-Id": "1"})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        message.subject = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        message.tags["c"] = "d"  # type: ignore[index]
    assert message == simple(tags={"a": "b"}, headers={"X-Id": "1"})
    assert message != simple(tags={"a": "c"}, headers={"X-Id": "1"})
    assert hash(message) == hash(simple(tags={"a": "b"}, headers={"X-Id": "1"}))
    changed = message.replace(subject="Other")
    assert changed.subject == "Other"
    assert changed.tags == message.tags
    with pytest.raises(ValidationError):
        message.replace(to=())


# ------------------------------------------------------------------ templates and data


def test_template_name_rules() -> None:
    assert Template("Welcome_v2-1").name == "Welcome_v2-1"
    for bad in ("", "has space", "x" * 65, "dot.name"):
        with pytest.raises(ValidationError) as excinfo:
            Template(bad)
        assert field_of(excinfo) == "template.name"


def test_inline_template_rules() -> None:
    inline = Template(subject="Hi {{name}}", html="<p>{{name}}</p>", data={"name": "Jane"})
    assert inline.is_inline
    assert inline.data_json == '{"name":"Jane"}'
    with pytest.raises(ValidationError, match="not both"):
        Template("stored", subject="x", text="y")
    with pytest.raises(ValidationError) as excinfo:
        Template(text="no subject")
    assert field_of(excinfo) == "template.subject"
    with pytest.raises(ValidationError, match="text and/or html"):
        Template(subject="only a subject")
    with pytest.raises(ValidationError, match="template name"):
        Template()
    with pytest.raises(ValidationError, match="500"):
        Template(subject="big", text="x" * (500 * 1024))


def test_template_data_limit_is_262144_characters() -> None:
    # {"k":"..."} is 8 characters around the value.
    at_limit = {"k": "x" * (MAX_TEMPLATE_DATA - 8)}
    assert len(Template("t", data=at_limit).data_json) == MAX_TEMPLATE_DATA
    with pytest.raises(ValidationError, match="262,144") as excinfo:
        Template("t", data={"k": "x" * (MAX_TEMPLATE_DATA - 7)})
    assert field_of(excinfo) == "template.data"
    with pytest.raises(ValidationError, match="262,144") as excinfo:
        Destination("jane@example.com", data={"k": "x" * MAX_TEMPLATE_DATA})
    assert field_of(excinfo) == "data"


def test_template_data_must_be_a_json_object() -> None:
    assert validate_template_data('{"a": 1}') == '{"a": 1}'
    with pytest.raises(ValidationError, match="not JSON"):
        validate_template_data("{nope")
    with pytest.raises(ValidationError, match="JSON object"):
        validate_template_data("[1, 2]")
    with pytest.raises(ValidationError, match="JSON-serialisable"):
        Template("t", data={"when": object()})
    assert Template("t", data='{"a": [1]}').data == {"a": [1]}


def test_destination_rules() -> None:
    destination = Destination(["a@example.com"], cc="b@example.com", data={"x": 1}, tags={"segment": "vip"})
    assert destination.recipients == ("a@example.com", "b@example.com")
    assert destination.data_json == '{"x":1}'
    assert Destination("a@example.com").data_json is None
    with pytest.raises(ValidationError, match="51 recipients"):
        Destination([f"r{i}@example.com" for i in range(51)])
    with pytest.raises(ValidationError) as excinfo:
        Destination("a@example.com", tags={"ses:x": "y"})
    assert field_of(excinfo).startswith("tags")


# ------------------------------------------------------------------ headers and List-Unsubscribe


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Subject": "x"}, "subject field"),
        ({"bcc": "x@example.com"}, "bcc field"),
        ({"X-SES-CONFIGURATION-SET": "other"}, "configuration_set field"),
        ({"X-SES-MESSAGE-TAGS": "a=b"}, "tags field"),
        ({"List-Unsubscribe": "<https://x>"}, "list_unsubscribe field"),
        ({"Content-Type": "text/plain"}, "sets it itself"),
        ({"Bad Name": "x"}, "header name"),
        ({"Bad:Name": "x"}, "header name"),
        ({"X-Evil": "a\r\nBcc: victim@example.com"}, "line breaks"),
        ({"X-Number": 5}, "str"),
    ],
)
def test_invalid_custom_headers(headers: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason) as excinfo:
        simple(headers=headers)
    assert field_of(excinfo).startswith("headers")


def test_custom_header_names_are_unique_regardless_of_case() -> None:
    with pytest.raises(ValidationError, match="twice"):
        validate_headers([("X-Id", "1"), ("x-id", "2")])


def test_list_unsubscribe_headers() -> None:
    both = ListUnsubscribe(url="https://example.com/u?id=1", mailto="unsubscribe@example.com")
    assert both.headers() == {
        "List-Unsubscribe": "<https://example.com/u?id=1>, <mailto:unsubscribe@example.com>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    mail_only = ListUnsubscribe(mailto="mailto:u@example.com?subject=unsubscribe", one_click=False)
    assert mail_only.headers() == {"List-Unsubscribe": "<mailto:u@example.com?subject=unsubscribe>"}


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({}, "url, a mailto"),
        ({"mailto": "u@example.com"}, "one-click unsubscribe needs an https url"),
        ({"url": "http://example.com/u"}, "https://"),
        ({"url": "ftp://example.com/u", "one_click": False}, "http"),
        ({"url": "https://example.com/a,b"}, "percent-encode"),
        ({"url": "https://example.com/u\r\nX: y"}, "line breaks"),
        ({"url": "https://example.com/u", "mailto": "not-an-address"}, "not an email address"),
    ],
)
def test_invalid_list_unsubscribe(kwargs: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason) as excinfo:
        ListUnsubscribe(**kwargs)  # type: ignore[arg-type]
    assert field_of(excinfo).startswith("list_unsubscribe")


# ------------------------------------------------------------------ attachments and size


def test_attachment_rules(tmp_path: object) -> None:
    assert Attachment("report.pdf", b"%PDF").content_type == "application/pdf"
    assert Attachment("blob", b"x").content_type == "application/octet-stream"
    assert Attachment("data.bin", bytearray(b"ab")).content == b"ab"
    for kwargs, reason in [
        ({"filename": "", "content": b"x"}, "file name"),
        ({"filename": "../etc/passwd", "content": b"x"}, "directory"),
        ({"filename": "a.txt", "content": "text"}, "bytes"),
        ({"filename": "a.txt", "content": b"x", "content_type": "nonsense"}, "MIME type"),
        ({"filename": "a.png", "content": b"x", "inline": True}, "content_id"),
        ({"filename": "a.png", "content": b"x", "inline": True, "content_id": "has space"}, "content id"),
    ]:
        with pytest.raises(ValidationError, match=reason):
            Attachment(**kwargs)  # type: ignore[arg-type]


def test_attachment_from_path(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "notes.txt"  # type: ignore[operator]
    path.write_bytes(b"hello")
    attachment = Attachment.from_path(path)
    assert (attachment.filename, attachment.content, attachment.content_type) == (
        "notes.txt",
        b"hello",
        "text/plain",
    )


def test_inline_images_need_html_and_unique_ids() -> None:
    logo = Attachment.inline_image(b"\x89PNG", "logo", filename="logo.png")
    assert (logo.inline, logo.content_id, logo.content_type) == (True, "logo", "image/png")
    with pytest.raises(ValidationError, match="html body"):
        simple(attachments=[logo])
    with pytest.raises(ValidationError, match="used twice"):
        simple(html='<img src="cid:logo">', attachments=[logo, logo])


def test_size_limit_is_checked_on_construction_against_40_mb() -> None:
    # 30 MB of attachment is 40+ MB once base64-encoded.
    with pytest.raises(ValidationError, match="after base64") as excinfo:
        simple(attachments=[Attachment("big.bin", bytes(30 * 1024 * 1024))])
    assert field_of(excinfo) == "attachments"
    fits_v2 = simple(attachments=[Attachment("mid.bin", bytes(9 * 1024 * 1024))])
    assert MAX_MESSAGE_SIZE_V1 < fits_v2.estimated_size() < MAX_MESSAGE_SIZE_V2


def test_line_length_limit() -> None:
    check_line_lengths(b"a" * 998 + b"\r\n" + b"b" * 998)
    with pytest.raises(ValidationError, match="line 2"):
        check_line_lengths(b"ok\r\n" + b"x" * 999 + b"\r\n")


# ------------------------------------------------------------------ link tags


def test_link_tag_helpers() -> None:
    assert link_tags_attribute({"product": "p1", "pos": "top"}) == "product:p1;pos:top;"
    assert tag_link("https://example.com/p?a=1&b=2", "<Product>", tags={"product": "p1"}) == (
        '<a href="https://example.com/p?a=1&amp;b=2" ses:tags="product:p1;">&lt;Product&gt;</a>'
    )
    assert (
        tag_link("https://example.com/", "Home", track=False)
        == '<a href="https://example.com/" ses:no-track>Home</a>'
    )
    with pytest.raises(ValidationError):
        tag_link("https://example.com/", "x", tags={"a": "b"}, track=False)
    with pytest.raises(ValidationError, match="tag value"):
        link_tags_attribute({"a": "b c"})
    assert parse_link_tags("a:1; b:2;") == {"a": "1", "b": "2"}
    with pytest.raises(ValidationError, match="name:value"):
        parse_link_tags("a=1;")


def test_scan_and_add_link_tags() -> None:
    html = (
        "<p>\n  <a href='https://example.com/a'>a</a>\n"
        '<A HREF="mailto:x@example.com">mail</A> <a ses:no-track href="http://example.com/b">b</a>\n'
        '<a href="https://example.com/c" ses:tags="x:y;">c</a><a name="anchor">no href</a></p>'
    )
    scan = scan_links(html)
    assert [link.href for link in scan.links] == [
        "https://example.com/a",
        "mailto:x@example.com",
        "http://example.com/b",
        "https://example.com/c",
    ]
    assert scan.tracked == 2
    tagged = add_link_tags(html, {"campaign": "spring"})
    assert "<a ses:tags=\"campaign:spring;\" href='https://example.com/a'>" in tagged
    assert '<a href="https://example.com/c" ses:tags="x:y;">' in tagged  # already tagged: left alone
    assert '<A HREF="mailto:x@example.com">' in tagged
    assert "<a ses:no-track" in tagged
    assert [link.tags_attribute for link in scan_links(tagged).links if link.tracked] == [
        "campaign:spring;",
        "x:y;",
    ]


def test_tracked_link_limit_is_250() -> None:
    links = "".join(f'<a href="https://example.com/{i}">{i}</a>' for i in range(250))
    assert check_links(links).tracked == 250
    untracked = '<a ses:no-track href="https://example.com/x">x</a>'
    assert simple(html=links + untracked).html is not None
    with pytest.raises(ValidationError, match="251 links") as excinfo:
        simple(html=links + '<a href="https://example.com/x">x</a>')
    assert field_of(excinfo) == "html"
    with pytest.raises(ValidationError) as excinfo:
        Template(subject="s", html=links + '<a href="{{url}}">x</a>')
    assert field_of(excinfo) == "template.html"


def test_malformed_ses_tags_in_html_are_rejected() -> None:
    with pytest.raises(ValidationError, match="ses:tags") as excinfo:
        simple(html='<a href="https://example.com" ses:tags="a b:c;">x</a>')
    assert field_of(excinfo).startswith("html")


# ------------------------------------------------------------------ MIME


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_build_mime_structure_headers_and_ses_headers() -> None:
    logo = Attachment.inline_image(b"\x89PNG-logo", "logo", filename="logo.png")
    report = Attachment("report.pdf", b"%PDF-1.4 report")
    message = Email(
        "Jäne <jane@example.com>",
        ["bob@example.com", "Doe, Carl <carl@example.com>"],
        cc="cc@example.com",
        bcc="hidden@example.com",
        reply_to="replies@example.com",
        subject="Grüße",
        text="plain ✓",
        html='<p>html ✓ <img src="cid:logo"></p>',
        attachments=[logo, report],
        headers={"X-Campaign-Id": "c-1"},
        list_unsubscribe=ListUnsubscribe(url="https://example.com/u/1"),
    )
    data = mime_bytes(build_mime(message, configuration_set="events", tags={"campaign": "spring", "v": "2"}))
    assert data.isascii()
    assert b"\r\n" in data
    assert b"\n" not in data.replace(b"\r\n", b"")
    parsed = parse(data)
    assert parsed["From"] == "Jäne <jane@example.com>"
    assert parsed["To"] == 'bob@example.com, "Doe, Carl" <carl@example.com>'
    assert parsed["Cc"] == "cc@example.com"
    assert parsed["Reply-To"] == "replies@example.com"
    assert parsed["Bcc"] is None
    assert b"hidden@example.com" not in data
    assert parsed["Subject"] == "Grüße"
    assert parsed["X-SES-CONFIGURATION-SET"] == "events"
    assert parsed["X-SES-MESSAGE-TAGS"] == "campaign=spring, v=2"
    assert parsed["X-Campaign-Id"] == "c-1"
    assert parsed["List-Unsubscribe"] == "<https://example.com/u/1>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed.get_content_type() == "multipart/mixed"
    alternative, attachment = list(parsed.iter_parts())
    assert alternative.get_content_type() == "multipart/alternative"
    text_part, related = list(alternative.iter_parts())
    assert related.get_content_type() == "multipart/related"
    html_part, image = list(related.iter_parts())
    assert [text_part.get_content_type(), html_part.get_content_type()] == ["text/plain", "text/html"]
    assert text_part.get_content().rstrip("\r\n") == "plain ✓"  # type: ignore[attr-defined]
    assert "html ✓" in html_part.get_content()  # type: ignore[attr-defined]
    assert image["Content-ID"] == "<logo>"
    assert image.get_content_disposition() == "inline"
    assert image.get_payload(decode=True) == b"\x89PNG-logo"
    assert attachment.get_filename() == "report.pdf"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_payload(decode=True) == b"%PDF-1.4 report"


def test_build_mime_leaves_ses_headers_out_when_not_given() -> None:
    parsed = parse(mime_bytes(build_mime(simple(html="<b>x</b>"))))
    assert parsed["X-SES-CONFIGURATION-SET"] is None
    assert parsed["X-SES-MESSAGE-TAGS"] is None
    assert parsed.get_content_type() == "multipart/alternative"
    only_html = parse(mime_bytes(build_mime(simple(text=None, html="<b>x</b>"))))
    assert only_html.get_content_type() == "text/html"


def test_build_mime_checks_set_and_tags_and_refuses_templates() -> None:
    with pytest.raises(ValidationError) as excinfo:
        build_mime(simple(), configuration_set="bad name")
    assert field_of(excinfo) == "configuration_set"
    with pytest.raises(ValidationError):
        build_mime(simple(), tags={"ses:x": "y"})
    with pytest.raises(ValidationError) as excinfo:
        build_mime(Email(SENDER, "jane@example.com", template=Template("t")))
    assert field_of(excinfo) == "template"


def test_long_body_lines_are_encoded_within_the_line_limit() -> None:
    data = mime_bytes(build_mime(simple(text="word " * 2000, html="<p>" + "x" * 5000 + "</p>")))
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    body = parse(data).get_body(("plain",))
    assert body is not None
    assert body.get_content().strip() == ("word " * 2000).strip()  # type: ignore[attr-defined]


def test_mime_bytes_enforces_the_size_limit() -> None:
    message = build_mime(simple(attachments=[Attachment("a.bin", bytes(20_000))]))
    with pytest.raises(ValidationError, match="after base64"):
        mime_bytes(message, limit=10_000)


def test_validation_errors_pickle() -> None:
    error = ValidationError("to[1]", "bad")
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.field, clone.reason, str(clone)) == ("to[1]", "bad", "to[1]: bad")
    assert json.loads(json.dumps({"field": clone.field})) == {"field": "to[1]"}


def test_a_header_the_email_package_cannot_parse_is_refused_on_construction() -> None:
    from sesflow.sending import Email, ValidationError

    with pytest.raises(ValidationError) as caught:
        Email(sender="a@example.com", to="b@example.com", subject="s", text="t", headers={"Message-Id": "<>"})
    assert "Message-Id" in str(caught.value)
    ok = Email(
        sender="a@example.com", to="b@example.com", subject="s", text="t", headers={"Message-Id": "<x@y>"}
    )
    assert ok.headers["Message-Id"] == "<x@y>"
