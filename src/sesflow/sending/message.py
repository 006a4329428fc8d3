"""The message models: ``Email`` and the parts it is made of.

All are frozen: built once, checked once on construction against SES's rules (each error names the field), and
safe to share between threads and tasks. Mappings given to them are copied into read-only mappings.
"""

from __future__ import annotations

import email.utils
import mimetypes
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeAlias

import attrs

from .errors import ValidationError
from .links import check_links
from .validation import (
    MAX_MESSAGE_SIZE_V2,
    MAX_RECIPIENTS,
    MAX_TEMPLATE_SIZE,
    check_message_size,
    validate_configuration_set_name,
    validate_header_text,
    validate_headers,
    validate_tags,
    validate_template_data,
    validate_template_name,
    validate_tenant_name,
    validate_unicode_text,
)

__all__ = [
    "Address",
    "AddressLike",
    "AddressesLike",
    "Attachment",
    "ListManagement",
    "ListUnsubscribe",
    "Template",
    "Destination",
    "Email",
]

_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_MAX_ADDRESS = 254
_NAME_ADDR = re.compile(r"(?P<name>[^<>]*)<(?P<addr>[^<>]*)>")
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")
_CONTENT_ID = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]{1,250}")


def _ascii_domain(domain: str, field: str) -> str:
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValidationError(field, f"domain {domain!r} cannot be written in ASCII (IDNA)") from None
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        raise ValidationError(
            field, f"{domain!r} is not a valid domain: use dot-separated labels of letters, digits and '-'"
        )
    return domain


@attrs.frozen
class Address:
    """An email address with an optional display name: ``Address("jane@example.com", "Jane Doe")``.

    The local part must be ASCII (SES does not take internationalised local parts); a non-ASCII domain is
    sent in its IDNA (punycode) form, and a non-ASCII display name as an RFC 2047 encoded word.
    """

    email: str
    name: str | None = None
    ascii_email: str = attrs.field(init=False, repr=False, eq=False)
    """``email`` with its domain in ASCII (IDNA): what goes on the wire."""

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "ascii_email", self._check("address"))

    def _check(self, field: str) -> str:
        if not isinstance(self.email, str):
            raise ValidationError(field, f"an address is a str, not {type(self.email).__name__}")
        if self.name is not None:
            if not isinstance(self.name, str):
                raise ValidationError(field, f"a display name is a str, not {type(self.name).__name__}")
            validate_header_text(self.name, field)
        local, at, domain = self.email.rpartition("@")
        if not at or not local or not domain:
            raise ValidationError(field, f"{self.email!r} is not an email address (local@domain)")
        if not local.isascii():
            raise ValidationError(
                field,
                f"{self.email!r}: SES takes only ASCII before the '@' (no internationalised local parts)",
            )
        if not _LOCAL_PART.fullmatch(local) or len(local) > 64:
            raise ValidationError(
                field,
                f"{self.email!r} has an invalid local part: use at most 64 letters, digits and "
                "!#$%&'*+/=?^_`{|}~.- without leading, trailing or doubled dots",
            )
        ascii_domain = _ascii_domain(domain, field)
        ascii_email = f"{local}@{ascii_domain}"
        if len(ascii_email) > _MAX_ADDRESS:
            raise ValidationError(field, f"{self.email!r} is longer than {_MAX_ADDRESS} characters")
        return ascii_email

    @classmethod
    def parse(cls, value: str | Address, *, field: str = "address") -> Address:
        """An ``Address`` from ``"jane@example.com"`` or ``"Jane Doe <jane@example.com>"``."""
        if isinstance(value, Address):
            return value
        if not isinstance(value, str):
            raise ValidationError(field, f"an address is a str or Address, not {type(value).__name__}")
        validate_header_text(value, field)
        text = value.strip()
        display: str | None = None
        match = _NAME_ADDR.fullmatch(text)
        if match is not None:
            name, text = match.group("name").strip(), match.group("addr").strip()
            if len(name) >= 2 and name[0] == name[-1] == '"':
                name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            display = name or None
        elif "<" in text or ">" in text:
            raise ValidationError(field, f"{value!r} is not one address like 'Jane Doe <jane@example.com>'")
        try:
            return cls(text, display)
        except ValidationError as exc:
            raise ValidationError(field, exc.reason) from None

    @property
    def domain(self) -> str:
        """The part after the ``@``, as given."""
        return self.email.rpartition("@")[2]

    def __str__(self) -> str:
        if not self.name:
            return self.ascii_email
        return email.utils.formataddr((self.name, self.ascii_email), charset="utf-8")


AddressLike: TypeAlias = "str | Address"
AddressesLike: TypeAlias = "str | Address | Iterable[str | Address]"


def _addresses(value: AddressesLike | None, field: str) -> tuple[Address, ...]:
    if value is None:
        return ()
    if isinstance(value, str | Address):
        return (_one_address(value, field),)
    try:
        items = list(value)
    except TypeError:
        raise ValidationError(
            field, f"give an address or a list of addresses, not {type(value).__name__}"
        ) from None
    return tuple(_one_address(item, f"{field}[{index}]") for index, item in enumerate(items))


def _one_address(value: AddressLike, field: str) -> Address:
    if isinstance(value, Address):
        return value
    return Address.parse(value, field=field)


def _check_recipient_count(
    to: tuple[Address, ...], cc: tuple[Address, ...], bcc: tuple[Address, ...]
) -> None:
    total = len(to) + len(cc) + len(bcc)
    if total == 0:
        raise ValidationError("to", "no recipients: give at least one address in to, cc or bcc")
    if total > MAX_RECIPIENTS:
        raise ValidationError(
            "to",
            f"{total} recipients (to + cc + bcc) and SES takes at most {MAX_RECIPIENTS} per message: "
            "split the message, or use send_bulk with one destination per recipient",
        )


@attrs.frozen
class Attachment:
    """A file attached to a message, or an inline image (``inline=True`` with a ``content_id``).

    An inline image is shown where the HTML body refers to it as ``<img src="cid:CONTENT_ID">``.
    ``content_type`` is guessed from the file name when not given.
    """

    filename: str
    content: bytes = attrs.field(repr=False)
    content_type: str = attrs.field()
    inline: bool = False
    content_id: str | None = None

    @content_type.default
    def _guess_content_type(self) -> str:
        guessed, _ = mimetypes.guess_type(self.filename if isinstance(self.filename, str) else "")
        return guessed or "application/octet-stream"

    def __attrs_post_init__(self) -> None:
        field = f"attachments[{self.filename!r}]"
        if not isinstance(self.filename, str) or not self.filename.strip():
            raise ValidationError("attachments", "an attachment needs a file name")
        validate_header_text(self.filename, field)
        if "/" in self.filename or "\\" in self.filename:
            raise ValidationError(field, "a file name has no directory part: give just the name")
        content: object = self.content
        if not isinstance(content, bytes | bytearray | memoryview):
            raise ValidationError(field, f"content is bytes, not {type(content).__name__}")
        if not isinstance(content, bytes):
            object.__setattr__(self, "content", bytes(content))
        if not isinstance(self.content_type, str) or not _CONTENT_TYPE.fullmatch(self.content_type):
            raise ValidationError(field, f"{self.content_type!r} is not a MIME type like 'application/pdf'")
        if self.content_id is not None:
            if not isinstance(self.content_id, str) or not _CONTENT_ID.fullmatch(self.content_id.strip("<>")):
                raise ValidationError(
                    field,
                    f"content id {self.content_id!r} must be printable ASCII without spaces, e.g. 'logo'",
                )
            object.__setattr__(self, "content_id", self.content_id.strip("<>"))
        if self.inline and self.content_id is None:
            raise ValidationError(
                field, "an inline attachment needs a content_id for the HTML to refer to (cid:...)"
            )

    @classmethod
    def from_path(
        cls,
        path: str | Path,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        inline: bool = False,
        content_id: str | None = None,
    ) -> Attachment:
        """An attachment read from a file (named after it unless ``filename`` is given)."""
        p = Path(path)
        name = filename or p.name
        data = p.read_bytes()
        if content_type is None:
            return cls(name, data, inline=inline, content_id=content_id)
        return cls(name, data, content_type, inline=inline, content_id=content_id)

    @classmethod
    def inline_image(
        cls, content: bytes, content_id: str, *, filename: str | None = None, content_type: str | None = None
    ) -> Attachment:
        """An image shown inside the HTML body at ``<img src="cid:CONTENT_ID">``."""
        name = filename or content_id
        if content_type is None:
            guessed, _ = mimetypes.guess_type(name)
            content_type = guessed if guessed and guessed.startswith("image/") else "application/octet-stream"
        return cls(name, content, content_type, inline=True, content_id=content_id)

    @property
    def encoded_size(self) -> int:
        """Bytes this attachment takes in the message once base64-encoded (76-character lines)."""
        return _base64_size(len(self.content))


def _base64_size(n: int) -> int:
    encoded = 4 * ((n + 2) // 3)
    return encoded + 2 * ((encoded + 75) // 76)


@attrs.frozen
class ListUnsubscribe:
    """``List-Unsubscribe`` (RFC 2369) and, for one-click unsubscribe, ``List-Unsubscribe-Post`` (RFC 8058).

    ``url`` is where a POST (one-click) or a visit unsubscribes the recipient; ``mailto`` an address (or
    ``mailto:`` URI) that unsubscribes on receipt. One-click needs an ``https`` URL; the major mailbox
    providers expect it from bulk senders.
    """

    url: str | None = None
    mailto: str | None = None
    one_click: bool = True

    def __attrs_post_init__(self) -> None:
        field = "list_unsubscribe"
        if self.url is None and self.mailto is None:
            raise ValidationError(field, "give an unsubscribe url, a mailto address, or both")
        for part in (self.url, self.mailto):
            if part is not None:
                if not isinstance(part, str):
                    raise ValidationError(field, f"unsubscribe targets are str, not {type(part).__name__}")
                validate_header_text(part, field)
                if any(ch in part for ch in "<>, \t"):
                    raise ValidationError(
                        field, f"{part!r} must not contain spaces, '<', '>' or ',': percent-encode them"
                    )
        if self.url is not None and not self.url.lower().startswith(("https://", "http://")):
            raise ValidationError(field, f"url {self.url!r} must be an http(s) URL")
        if self.one_click:
            if self.url is None:
                raise ValidationError(
                    field, "one-click unsubscribe needs an https url; pass one_click=False for mailto only"
                )
            if not self.url.lower().startswith("https://"):
                raise ValidationError(field, "one-click unsubscribe (RFC 8058) needs an https:// url")
        if self.mailto is not None:
            target = self.mailto[7:] if self.mailto.lower().startswith("mailto:") else self.mailto
            Address.parse(target.partition("?")[0], field=field)

    def headers(self) -> dict[str, str]:
        """The header(s) to put on the message."""
        targets = []
        if self.url is not None:
            targets.append(f"<{self.url}>")
        if self.mailto is not None:
            mailto = self.mailto if self.mailto.lower().startswith("mailto:") else f"mailto:{self.mailto}"
            targets.append(f"<{mailto}>")
        out = {"List-Unsubscribe": ", ".join(targets)}
        if self.one_click:
            out["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return out


@attrs.frozen
class ListManagement:
    """SES subscription management for a message (v2 API): the contact list, and optionally the topic, it
    belongs to.

    SES then writes the message's ``List-Unsubscribe`` headers itself (one-click included) and fills
    ``{{amazonSESUnsubscribeUrl}}`` in its body; when a recipient unsubscribes, SES records it in the contact
    list, publishes a Subscription event, and refuses later sends to that contact for the topic (or list).
    It needs SES's Easy DKIM for the sending domain.
    """

    contact_list: str
    topic: str | None = None

    def __attrs_post_init__(self) -> None:
        for name, value in (("contact_list", self.contact_list), ("topic", self.topic)):
            if value is None and name == "topic":
                continue
            field = f"list_management.{name}"
            if not isinstance(value, str) or not value.strip():
                raise ValidationError(field, f"is a non-empty str, not {value!r}")
            validate_header_text(value, field)

    def options(self) -> dict[str, str]:
        """The ``ListManagementOptions`` of a v2 ``SendEmail`` request."""
        out = {"ContactListName": self.contact_list}
        if self.topic is not None:
            out["TopicName"] = self.topic
        return out


def _frozen_data(data: Mapping[str, Any] | str | None, field: str) -> Mapping[str, Any]:
    text = validate_template_data(data, field=field)
    if data is None:
        return MappingProxyType({})
    if isinstance(data, str):
        import json

        return MappingProxyType(json.loads(text))
    return MappingProxyType(dict(data))


@attrs.frozen(init=False)
class Template:
    """An SES template: by ``name`` (stored in SES), or inline content (v2 API only), with its data.

    ``data`` fills the template's placeholders: for ``SesClient.send`` it is the message's data, for
    ``send_bulk`` the default that each ``Destination``'s own data overrides.
    """

    name: str | None
    subject: str | None
    text: str | None
    html: str | None
    data: Mapping[str, Any] = attrs.field(eq=True, hash=False)

    def __init__(
        self,
        name: str | None = None,
        *,
        subject: str | None = None,
        text: str | None = None,
        html: str | None = None,
        data: Mapping[str, Any] | str | None = None,
    ) -> None:
        inline = subject is not None or text is not None or html is not None
        if name is not None:
            validate_template_name(name)
            if inline:
                raise ValidationError(
                    "template", "give a template name or inline content (subject, text, html), not both"
                )
        elif not inline:
            raise ValidationError("template", "give a template name, or inline subject with text and/or html")
        else:
            if subject is None:
                raise ValidationError("template.subject", "inline template content needs a subject")
            if text is None and html is None:
                raise ValidationError("template", "inline template content needs text and/or html")
        for part_name, part in (("subject", subject), ("text", text), ("html", html)):
            if part is not None and not isinstance(part, str):
                raise ValidationError(f"template.{part_name}", f"is a str, not {type(part).__name__}")
        if subject is not None:
            validate_header_text(subject, "template.subject")
        for part_name, part in (("text", text), ("html", html)):
            if part is not None:
                validate_unicode_text(part, f"template.{part_name}")
        size = sum(len(part.encode("utf-8", "surrogatepass")) for part in (subject, text, html) if part)
        if size > MAX_TEMPLATE_SIZE:
            raise ValidationError(
                "template",
                f"the template is {size:,} bytes and SES takes templates of at most 500 KB "
                f"({MAX_TEMPLATE_SIZE:,} bytes): shorten it (move images out to hosted files)",
            )
        if html is not None:
            check_links(html, field="template.html")
        self.__attrs_init__(name, subject, text, html, _frozen_data(data, "template.data"))

    @property
    def is_inline(self) -> bool:
        """True for inline content (sent with the v2 API), false for a stored template."""
        return self.name is None

    @property
    def data_json(self) -> str:
        """``data`` as the JSON text SES takes."""
        return validate_template_data(self.data, field="template.data")

    def with_data(self, data: Mapping[str, Any] | str | None) -> Template:
        """A copy with other ``data``."""
        return Template(self.name, subject=self.subject, text=self.text, html=self.html, data=data)


@attrs.frozen(init=False)
class Destination:
    """One destination of a bulk send: its recipients, its template data, and its own tags.

    ``data`` replaces the template's default data for this destination; ``tags`` are added to the send's
    default tags; ``list_unsubscribe`` and ``headers`` (v2 API only) are this destination's own headers.
    """

    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    data: Mapping[str, Any] | None = attrs.field(eq=True, hash=False)
    tags: Mapping[str, str] = attrs.field(eq=True, hash=False)
    list_unsubscribe: ListUnsubscribe | None
    headers: Mapping[str, str] = attrs.field(eq=True, hash=False)

    def __init__(
        self,
        to: AddressesLike = (),
        *,
        cc: AddressesLike | None = None,
        bcc: AddressesLike | None = None,
        data: Mapping[str, Any] | str | None = None,
        tags: Mapping[str, str] | None = None,
        list_unsubscribe: ListUnsubscribe | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        to_t, cc_t, bcc_t = _addresses(to, "to"), _addresses(cc, "cc"), _addresses(bcc, "bcc")
        _check_recipient_count(to_t, cc_t, bcc_t)
        if list_unsubscribe is not None and not isinstance(list_unsubscribe, ListUnsubscribe):
            raise ValidationError("list_unsubscribe", "give a sesflow ListUnsubscribe")
        self.__attrs_init__(
            to_t,
            cc_t,
            bcc_t,
            None if data is None else _frozen_data(data, "data"),
            validate_tags(tags),
            list_unsubscribe,
            validate_headers(headers),
        )

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every recipient address (To, Cc, Bcc) in its wire form."""
        return tuple(a.ascii_email for a in (*self.to, *self.cc, *self.bcc))

    @property
    def data_json(self) -> str | None:
        """``data`` as JSON text, or None when the destination uses the template's default."""
        return None if self.data is None else validate_template_data(self.data, field="data")

    def all_headers(self) -> dict[str, str]:
        """The custom headers plus the List-Unsubscribe ones."""
        out = dict(self.headers)
        if self.list_unsubscribe is not None:
            out.update(self.list_unsubscribe.headers())
        return out


@attrs.frozen(init=False)
class Email:
    """One message to send: sender, recipients, content (or a template), attachments, headers and tags.

    ``Email(sender="Shop <shop@example.com>", to="jane@example.com", subject="Hi", text="Hello")``.

    Checked on construction: valid addresses, 1 to 50 recipients in all, a subject with text and/or html (or a
    template instead of all three), valid tags and custom headers, inline images only with an html body,
    at most 250 tracked links, and the encoded size under SES's largest limit (40 MB; the v1 API's 10 MB is
    checked when sending with it). ``configuration_set`` overrides the client's default for this message, and
    ``tenant`` the client's default tenant (v2 API only: SES sends it on behalf of that tenant).
    ``list_management`` puts the message under SES's subscription management (v2 API only).
    """

    sender: Address
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    subject: str | None
    text: str | None
    html: str | None
    template: Template | None
    attachments: tuple[Attachment, ...]
    headers: Mapping[str, str] = attrs.field(eq=True, hash=False)
    tags: Mapping[str, str] = attrs.field(eq=True, hash=False)
    list_unsubscribe: ListUnsubscribe | None
    configuration_set: str | None
    feedback_address: Address | None
    list_management: ListManagement | None
    tenant: str | None

    def __init__(
        self,
        sender: AddressLike,
        to: AddressesLike = (),
        *,
        cc: AddressesLike | None = None,
        bcc: AddressesLike | None = None,
        reply_to: AddressesLike | None = None,
        subject: str | None = None,
        text: str | None = None,
        html: str | None = None,
        template: Template | None = None,
        attachments: Iterable[Attachment] = (),
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        tags: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        list_unsubscribe: ListUnsubscribe | None = None,
        configuration_set: str | None = None,
        feedback_address: AddressLike | None = None,
        list_management: ListManagement | None = None,
        tenant: str | None = None,
    ) -> None:
        sender_a = _one_address(sender, "sender")
        to_t, cc_t, bcc_t = _addresses(to, "to"), _addresses(cc, "cc"), _addresses(bcc, "bcc")
        _check_recipient_count(to_t, cc_t, bcc_t)
        reply_t = _addresses(reply_to, "reply_to")
        feedback = None if feedback_address is None else _one_address(feedback_address, "feedback_address")
        for name, part in (("subject", subject), ("text", text), ("html", html)):
            if part is not None and not isinstance(part, str):
                raise ValidationError(name, f"is a str, not {type(part).__name__}")
        if subject is not None:
            validate_header_text(subject, "subject")
        for name, part in (("text", text), ("html", html)):
            if part is not None:
                validate_unicode_text(part, name)
        attachments_t = tuple(attachments)
        for item in attachments_t:
            if not isinstance(item, Attachment):
                raise ValidationError(
                    "attachments", f"give sesflow Attachment objects, not {type(item).__name__}"
                )
        if template is not None:
            if not isinstance(template, Template):
                raise ValidationError("template", f"give a sesflow Template, not {type(template).__name__}")
            for name, part in (("subject", subject), ("text", text), ("html", html)):
                if part is not None:
                    raise ValidationError(name, "a templated message takes its content from the template")
            if attachments_t:
                raise ValidationError(
                    "attachments",
                    "SES templates cannot carry attachments here: send the content without a template",
                )
        else:
            if subject is None:
                raise ValidationError("subject", "a message needs a subject (or a template)")
            if text is None and html is None:
                raise ValidationError("text", "a message needs text and/or html (or a template)")
        if html is not None:
            check_links(html, field="html")
        content_ids: set[str] = set()
        for item in attachments_t:
            if item.inline:
                if html is None:
                    raise ValidationError(
                        f"attachments[{item.filename!r}]", "inline images need an html body that shows them"
                    )
                assert item.content_id is not None
                if item.content_id in content_ids:
                    raise ValidationError(
                        f"attachments[{item.filename!r}]", f"content id {item.content_id!r} is used twice"
                    )
                content_ids.add(item.content_id)
        if list_unsubscribe is not None and not isinstance(list_unsubscribe, ListUnsubscribe):
            raise ValidationError("list_unsubscribe", "give a sesflow ListUnsubscribe")
        if list_management is not None:
            if not isinstance(list_management, ListManagement):
                raise ValidationError("list_management", "give a sesflow ListManagement")
            if list_unsubscribe is not None:
                raise ValidationError(
                    "list_management",
                    "SES writes the List-Unsubscribe headers of a message under list management: "
                    "drop list_unsubscribe",
                )
        if configuration_set is not None:
            validate_configuration_set_name(configuration_set)
        if tenant is not None:
            validate_tenant_name(tenant)
        self.__attrs_init__(
            sender_a,
            to_t,
            cc_t,
            bcc_t,
            reply_t,
            subject,
            text,
            html,
            template,
            attachments_t,
            validate_headers(headers),
            validate_tags(tags),
            list_unsubscribe,
            configuration_set,
            feedback,
            list_management,
            tenant,
        )
        check_message_size(self.estimated_size(), MAX_MESSAGE_SIZE_V2, field="attachments")

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every recipient address (To, Cc, Bcc) in its wire form: the SMTP envelope / API destinations."""
        return tuple(a.ascii_email for a in (*self.to, *self.cc, *self.bcc))

    @property
    def needs_raw(self) -> bool:
        """True when the message goes as raw MIME (attachments, custom or List-Unsubscribe headers)."""
        return self.template is None and bool(self.attachments or self.headers or self.list_unsubscribe)

    def all_headers(self) -> dict[str, str]:
        """The custom headers plus the List-Unsubscribe ones."""
        out = dict(self.headers)
        if self.list_unsubscribe is not None:
            out.update(self.list_unsubscribe.headers())
        return out

    def estimated_size(self) -> int:
        """An upper bound of the encoded message size in bytes (bodies and attachments base64-encoded)."""
        size = 4096  # headers and MIME boundaries, generously
        for part in (self.subject, self.text, self.html):
            if part:
                size += _base64_size(len(part.encode("utf-8", "surrogatepass")))
        if self.template is not None:
            size += len(self.template.data_json.encode("utf-8", "surrogatepass"))
        for name, value in self.headers.items():
            size += len(name) + len(value.encode("utf-8", "surrogatepass")) * 2
        size += sum(item.encoded_size for item in self.attachments)
        return size

    def replace(self, **changes: Any) -> Email:
        """A copy with some fields changed (checked again)."""
        return attrs.evolve(self, **changes)
