"""``EmailBackend``: Django's email API over ``SesClient``, and the per-message options.

``email_from_django`` turns a Django ``EmailMessage`` (or ``EmailMultiAlternatives``) into a sesflow
``Email``: everything sesflow checks about an ``Email`` is checked here too, and anything the
message carries that SES would not get as written raises ``ValidationError`` instead of being
dropped on the way.
"""

from __future__ import annotations

import contextlib
import email.message
import email.utils
import logging
import mimetypes
import re
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import attrs
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils.functional import Promise

from ...sending import (
    Address,
    Attachment,
    Email,
    ListManagement,
    ListUnsubscribe,
    SendingError,
    SendResult,
    SesClient,
    Template,
    ValidationError,
    validate_configuration_set_name,
    validate_tags,
    validate_tenant_name,
)
from .conf import SettingsError, client_options, new_client, shared_client

__all__ = ["EmailBackend", "SesflowOptions", "email_from_django"]

logger = logging.getLogger("sesflow.integrations.django")

_TARGET = re.compile(r"<([^<>]*)>")
_ONE_CLICK = "List-Unsubscribe=One-Click"


@attrs.frozen(init=False)
class SesflowOptions:
    """What a Django message carries for SES beyond what ``EmailMessage`` has: set it as ``message.sesflow``.

    ::

        message = EmailMultiAlternatives(subject, text, to=[user.email])
        message.sesflow = SesflowOptions(configuration_set="receipts", tags={"kind": "receipt"})
        message.send()

    ``configuration_set`` replaces the backend's default for this message (checked to exist like every set);
    ``tenant`` replaces ``SESFLOW["TENANT"]`` (the SES tenant the message is sent for: ``Email.tenant``);
    ``tags`` are added to the default tags; ``template`` sends an SES template instead of the message's
    content (leave its subject and body empty); ``list_unsubscribe``, ``list_management`` and
    ``feedback_address`` are those of ``Email``. ``apply`` sets the attribute and returns
    the message, for one-liners and for type checkers that do not know the attribute.
    """

    configuration_set: str | None
    tags: Mapping[str, str] = attrs.field(eq=True, hash=False)
    template: Template | None
    list_unsubscribe: ListUnsubscribe | None
    list_management: ListManagement | None
    feedback_address: Address | None
    tenant: str | None

    def __init__(
        self,
        *,
        configuration_set: str | None = None,
        tags: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        template: Template | None = None,
        list_unsubscribe: ListUnsubscribe | None = None,
        list_management: ListManagement | None = None,
        feedback_address: str | Address | None = None,
        tenant: str | None = None,
    ) -> None:
        if configuration_set is not None:
            validate_configuration_set_name(configuration_set, field="sesflow.configuration_set")
        if tenant is not None:
            validate_tenant_name(tenant, field="sesflow.tenant")
        for field, value, kind in (
            ("template", template, Template),
            ("list_unsubscribe", list_unsubscribe, ListUnsubscribe),
            ("list_management", list_management, ListManagement),
        ):
            if value is not None and not isinstance(value, kind):
                raise ValidationError(f"sesflow.{field}", f"give a sesflow {kind.__name__}, not {value!r}")
        feedback = (
            None
            if feedback_address is None
            else Address.parse(feedback_address, field="sesflow.feedback_address")
        )
        self.__attrs_init__(
            configuration_set,
            validate_tags(tags, field="sesflow.tags"),
            template,
            list_unsubscribe,
            list_management,
            feedback,
            tenant,
        )

    def apply(self, message: EmailMessage) -> EmailMessage:
        """Set these options as ``message.sesflow``; returns ``message``."""
        message.sesflow = self  # type: ignore[attr-defined]
        return message


_NO_OPTIONS = SesflowOptions()


def _text(value: object, field: str) -> str | None:
    """A body or subject as str (lazy translations included); None stays None."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError(field, "is bytes that are not UTF-8: give text") from None
    raise ValidationError(field, f"is text, not {type(value).__name__}")


def _options(message: EmailMessage) -> SesflowOptions:
    given = getattr(message, "sesflow", None)
    if given is None:
        return _NO_OPTIONS
    if not isinstance(given, SesflowOptions):
        raise ValidationError(
            "sesflow", f"message.sesflow is a sesflow.integrations.django.SesflowOptions, not {given!r}"
        )
    return given


def _list_unsubscribe(value: str | None, post: str | None) -> ListUnsubscribe | None:
    """The ``List-Unsubscribe`` (and ``-Post``) headers a message set itself, as sesflow's ListUnsubscribe."""
    if value is None:
        if post is not None:
            raise ValidationError(
                "headers['List-Unsubscribe-Post']", "is set without a List-Unsubscribe header"
            )
        return None
    field = "headers['List-Unsubscribe']"
    targets = _TARGET.findall(value)
    rest = _TARGET.sub("", value).replace(",", "").strip()
    urls = [t for t in targets if t.lower().startswith(("https://", "http://"))]
    mailtos = [t for t in targets if t.lower().startswith("mailto:")]
    if not targets or rest or len(urls) > 1 or len(mailtos) > 1 or len(urls) + len(mailtos) != len(targets):
        raise ValidationError(
            field, "is one <https://...> URL and/or one <mailto:...> address, comma-separated"
        )
    if post is not None and post.strip() != _ONE_CLICK:
        raise ValidationError(
            "headers['List-Unsubscribe-Post']", f"is {_ONE_CLICK!r} (RFC 8058), not {post!r}"
        )
    return ListUnsubscribe(
        url=urls[0] if urls else None, mailto=mailtos[0] if mailtos else None, one_click=post is not None
    )


def _header_tags(value: str) -> dict[str, str]:
    """``X-SES-MESSAGE-TAGS: name1=value1, name2=value2`` as a dict."""
    out: dict[str, str] = {}
    for part in value.split(","):
        name, sep, tag_value = part.strip().partition("=")
        if not sep:
            raise ValidationError("headers['X-SES-MESSAGE-TAGS']", "is 'name1=value1, name2=value2'")
        if name.strip() in out:
            raise ValidationError("headers['X-SES-MESSAGE-TAGS']", f"names the tag {name.strip()!r} twice")
        out[name.strip()] = tag_value.strip()
    return out


def _one_of(field: str, from_options: Any, from_header: Any) -> Any:
    if from_options is not None and from_header is not None:
        raise ValidationError(field, "is given both as message.sesflow and as a header: give it once")
    return from_options if from_options is not None else from_header


def _default_name(stem: str, content_type: str) -> str:
    stem = re.sub(r"[\\/\s]", "_", stem.strip("<>")) or "attachment"
    extension = mimetypes.guess_extension(content_type) or ""
    return stem if stem.endswith(extension) else stem + extension


def _mime_attachment(part: email.message.Message, index: int) -> Attachment:
    """A MIME part attached as it is (``MIMEImage`` for inline images, ``MIMEBase``, ``MIMEPart``)."""
    field = f"attachments[{index}]"
    if part.is_multipart():
        raise ValidationError(field, "is a multipart MIME part: attach the files it holds one by one")
    content_type = part.get_content_type()
    if content_type == "message/rfc822":
        raise ValidationError(
            field, "message/rfc822 parts are not sent by sesflow: attach the message as a file"
        )
    content = part.get_payload(decode=True)
    if not isinstance(content, bytes):
        raise ValidationError(field, "has no content")
    content_id = part.get("Content-ID")
    cid = str(content_id).strip().strip("<>") if content_id is not None else None
    inline = cid is not None and part.get_content_disposition() != "attachment"
    filename = part.get_filename() or _default_name(cid or "attachment", content_type)
    return Attachment(filename, content, content_type, inline=inline, content_id=cid if inline else None)


def _tuple_attachment(item: Sequence[Any], index: int) -> Attachment:
    """An ``(filename, content, mimetype)`` attachment (Django's ``EmailAttachment``)."""
    field = f"attachments[{index}]"
    try:
        filename, content, mimetype = item
    except (TypeError, ValueError):
        raise ValidationError(
            field, f"is (filename, content, mimetype) or a MIME part, not {item!r}"
        ) from None
    if mimetype is None:
        mimetype = (mimetypes.guess_type(filename)[0] if isinstance(filename, str) else None) or (
            "application/octet-stream"
        )
    if not isinstance(mimetype, str):
        raise ValidationError(field, f"its MIME type is a str, not {mimetype!r}")
    if mimetype.lower() == "message/rfc822":
        raise ValidationError(
            field, "message/rfc822 attachments are not sent by sesflow: attach it as a file"
        )
    if isinstance(content, str):
        content = content.encode("utf-8")
    if not isinstance(content, bytes | bytearray | memoryview):
        raise ValidationError(field, f"its content is bytes or str, not {type(content).__name__}")
    name = filename if filename else _default_name("attachment", mimetype)
    return Attachment(name, bytes(content), mimetype)


def _bodies(message: EmailMessage) -> tuple[str | None, str | None]:
    """The text and HTML bodies: the message's body (its ``content_subtype``) and its alternatives."""
    body = _text(message.body, "body")
    subtype = message.content_subtype
    if subtype == "plain":
        text, html = body, None
    elif subtype == "html":
        text, html = None, body
    else:
        raise ValidationError(
            "content_subtype", f"sesflow sends text/plain and text/html bodies, not {subtype!r}"
        )
    for index, alternative in enumerate(getattr(message, "alternatives", None) or ()):
        field = f"alternatives[{index}]"
        try:
            content, mimetype = alternative
        except (TypeError, ValueError):
            raise ValidationError(field, f"is (content, mimetype), not {alternative!r}") from None
        kind = str(mimetype or "").split(";", 1)[0].strip().lower()
        if kind == "text/html" and html is None:
            html = _text(content, field)
        elif kind == "text/plain" and not text:
            text = _text(content, field)
        elif kind in ("text/html", "text/plain"):
            raise ValidationError(field, f"is a second {kind} body: a message has one of each")
        else:
            raise ValidationError(
                field,
                f"sesflow sends one text/plain and one text/html body, not a {mimetype!r} alternative",
            )
    if text == "" and html is not None:
        text = None  # Django's empty body beside an HTML alternative carries nothing
    return text, html


def email_from_django(message: EmailMessage) -> Email:
    """The sesflow ``Email`` for a Django ``EmailMessage``.

    Raises ``ValidationError`` (naming the field) for what cannot be sent as written.
    """
    if not isinstance(message, EmailMessage):
        raise ValidationError(
            "message",
            f"the sesflow backend sends django.core.mail.EmailMessage objects, not {type(message).__name__}",
        )
    options = _options(message)
    sender: object = message.from_email
    reply_to: list[Any] = list(message.reply_to)
    headers: dict[str, str] = {}
    unsubscribe: str | None = None
    unsubscribe_post: str | None = None
    header_set: str | None = None
    header_tenant: str | None = None
    header_tags: dict[str, str] = {}
    for name, value in (message.extra_headers or {}).items():
        given = value if isinstance(value, str) else str(value)
        lowered = name.lower() if isinstance(name, str) else ""
        if lowered == "from":
            sender = given  # the From header recipients see (Django's from_email is only the SMTP envelope)
        elif lowered == "reply-to":
            reply_to = [Address(addr, display or None) for display, addr in email.utils.getaddresses([given])]
        elif lowered in ("to", "cc"):
            raise ValidationError(
                f"headers[{name!r}]",
                f"sesflow writes the {name} header from message.{lowered}, the recipients SES sends to: "
                "drop the header (or change the recipients)",
            )
        elif lowered == "list-unsubscribe":
            unsubscribe = given
        elif lowered == "list-unsubscribe-post":
            unsubscribe_post = given
        elif lowered == "x-ses-configuration-set":
            header_set = given
        elif lowered == "x-ses-tenant":  # the SMTP interface's header for it
            header_tenant = validate_tenant_name(given, field="headers['X-SES-TENANT']")
        elif lowered == "x-ses-message-tags":
            header_tags = _header_tags(given)
        else:
            headers[name] = given
    tags = dict(options.tags)
    for tag, tag_value in header_tags.items():
        if tag in tags:
            raise ValidationError(f"tags[{tag!r}]", "is given both as message.sesflow.tags and as a header")
        tags[tag] = tag_value
    list_unsubscribe = _one_of(
        "list_unsubscribe", options.list_unsubscribe, _list_unsubscribe(unsubscribe, unsubscribe_post)
    )
    configuration_set = _one_of("configuration_set", options.configuration_set, header_set)
    tenant = _one_of("tenant", options.tenant, header_tenant)
    subject = _text(message.subject, "subject")
    text, html = _bodies(message)
    attachments = [
        _mime_attachment(item, index)
        if isinstance(item, email.message.Message)
        else _tuple_attachment(item, index)
        for index, item in enumerate(message.attachments or ())
    ]
    if options.template is not None:
        if subject or text or html is not None or attachments:
            raise ValidationError(
                "template",
                "a template send takes its subject and body from the SES template: leave the message's "
                "subject and body empty, with no alternatives or attachments",
            )
        subject = text = html = None
    return Email(
        sender,  # type: ignore[arg-type]  # Email checks it
        [a for a in message.to if a],
        cc=[a for a in message.cc if a],
        bcc=[a for a in message.bcc if a],
        reply_to=reply_to,
        subject=subject,
        text=text,
        html=html,
        template=options.template,
        attachments=attachments,
        headers=headers,
        tags=tags,
        list_unsubscribe=list_unsubscribe,
        configuration_set=configuration_set,
        feedback_address=options.feedback_address,
        list_management=options.list_management,
        tenant=tenant,
    )


class EmailBackend(BaseEmailBackend):
    """Django's email backend for SES: ``EMAIL_BACKEND = "sesflow.integrations.django.EmailBackend"``.

    Configured by ``settings.SESFLOW`` (see ``CLIENT_SETTINGS``);
    keyword arguments (``get_connection(backend, configuration_set="other")``) replace single settings, named
    as the client's keyword arguments. Without them every backend shares the process's one
    ``SesClient``, so the configuration set is checked once per ``CONFIGURATION_SET_TTL`` and
    the send rate is shared; with them the backend builds its own, opened by ``open`` and closed by
    ``close``.

    ``send_messages`` returns how many messages SES accepted. Each message gets ``message.sesflow_result``
    (the ``SendResult``, with SES's message id, or None) and ``message.sesflow_error`` (None, or
    the error). A message that was not sent raises its ``SendingError`` (nothing after it is
    sent); with ``fail_silently`` it is logged at error level, not counted, and the next message is sent.
    """

    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently)
        for smtp_option in ("username", "password"):  # send_mail()'s auth_user / auth_password
            if kwargs.pop(smtp_option, None) is not None:
                raise SettingsError(
                    f"the sesflow backend sends through the SES API, not SMTP: it takes no {smtp_option} "
                    "(auth_user / auth_password); give AWS credentials the boto3 way or in SESFLOW"
                )
        self._overrides: Mapping[str, Any] = MappingProxyType(dict(kwargs))
        if kwargs:
            client_options(self._overrides)  # a misspelled option fails here, not at the first send
        self._client: SesClient | None = None
        self._owns_client = False

    def open(self) -> bool:
        """Get the client ready; True when this call did (so ``send_messages`` closes it after)."""
        if self._client is not None:
            return False
        if self._overrides:
            self._client = new_client(client_options(self._overrides))
            self._owns_client = True
        else:
            self._client = shared_client()
            self._owns_client = False
        return True

    def close(self) -> None:
        """Let go of the client (closing it when this backend built it)."""
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            client.close()

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """Send each message; returns how many SES accepted."""
        messages = list(email_messages or ())
        if not messages:
            return 0
        opened = self.open()
        assert self._client is not None
        sent = 0
        try:
            for message in messages:
                if self._send(self._client, message):
                    sent += 1
        finally:
            if opened:
                self.close()
        return sent

    def _send(self, client: SesClient, message: EmailMessage) -> bool:
        result: SendResult | None = None
        error: SendingError | None = None
        try:
            result = client.send(email_from_django(message))
        except SendingError as exc:
            error = exc
        for name, value in (("sesflow_result", result), ("sesflow_error", error)):
            with contextlib.suppress(AttributeError):  # an object without attributes: the send stands
                setattr(message, name, value)
        if error is None:
            return True
        if not self.fail_silently:
            raise error
        logger.error(
            "email %r to %d recipient(s) was not sent (fail_silently): %s",
            getattr(message, "subject", None),
            len(getattr(message, "recipients", list)()),
            error,
        )
        return False
