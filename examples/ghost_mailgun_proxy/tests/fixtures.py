"""Fixtures and helpers of the proxy's tests, shared by this package's conftest and the project's suite.

``moto_server`` (a moto server in server mode, its endpoint URL) comes from the conftest that collects the
tests: this package's own, or the project's ``tests/conftest.py``.
"""

from __future__ import annotations

import base64
import copy
import email
import email.policy
import email.utils
import json
import secrets
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import attrs
import boto3
import httpx
import pytest
from aiobotocore.session import AioSession
from fastapi import FastAPI

from sesflow.provisioning import Provisioner

from ..app import Proxy, create_app
from ..provision import provision
from ..settings import Settings
from ..worker import EventWorker

__all__ = [
    "API_KEY",
    "AUTH",
    "GHOST_EVENTS",
    "Aws",
    "SentCapture",
    "aws",
    "ghost_fields",
    "ghost_multipart",
    "ghost_pages",
    "member",
    "post_batch",
    "serve",
    "settings_for",
    "async_session",
    "sqs_session",
]

API_KEY = "key-" + "3" * 32
AUTH = "Basic " + base64.b64encode(f"api:{API_KEY}".encode()).decode()
CREDENTIALS: dict[str, Any] = {
    "region_name": "us-east-1",
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
}
GHOST_EVENTS = "delivered OR opened OR failed OR unsubscribed OR complained"


@attrs.frozen
class Aws:
    """The AWS side of one test on the moto server: its own sets, topic, queue and sender domain."""

    endpoint: str
    configuration_set: str
    untracked_configuration_set: str
    queue_url: str
    topic_arn: str
    domain: str
    session: boto3.session.Session

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]


@pytest.fixture
def aws(moto_server: str) -> Aws:
    """A fresh pipeline (two configuration sets → one topic → one queue) and a verified sender domain."""
    suffix = uuid.uuid4().hex[:10]
    session = boto3.session.Session(**CREDENTIALS)
    provisioner = Provisioner(session, endpoint_url=moto_server, api="v1")
    pipeline, _ = provision(provisioner, f"ghost-{suffix}", f"ghost-{suffix}-untracked")
    domain = f"news-{suffix}.example.com"
    provisioner.client("ses").verify_domain_identity(Domain=domain)
    return Aws(
        moto_server,
        f"ghost-{suffix}",
        f"ghost-{suffix}-untracked",
        pipeline.queue_url,
        pipeline.topic.arn or "",
        domain,
        session,
    )


def async_session() -> AioSession:
    """An aiobotocore session with the test credentials (what the proxy's async clients are made from)."""
    session = AioSession()
    session.set_credentials(CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"])
    session.set_config_variable("region", CREDENTIALS["region_name"])
    return session


def sqs_session() -> AioSession:
    return async_session()


def settings_for(aws: Aws, database: Path, **changes: Any) -> Settings:
    """Settings on the moto server. ``send_events="yes"``: the sets ``provision`` makes publish Send
    events, and moto cannot answer the SES v2 call that lists them (the check is tested with v1)."""
    base = Settings(
        api_key=API_KEY,
        configuration_set=aws.configuration_set,
        untracked_configuration_set=aws.untracked_configuration_set,
        queue_url=aws.queue_url,
        database=database,
        region="us-east-1",
        ses_endpoint_url=aws.endpoint,
        sqs_endpoint_url=aws.endpoint,
        max_send_rate=None,
        shutdown_grace=0.2,
        send_events="yes",
    )
    return attrs.evolve(base, **changes)


@attrs.define
class Served:
    """A running app: its HTTP client, the proxy inside, and a worker bound to its database."""

    app: FastAPI
    http: httpx.AsyncClient
    proxy: Proxy
    worker: EventWorker


@asynccontextmanager
async def serve(
    settings: Settings, *, ses_session: Any = None, clock: Any = None, base_url: str = "http://proxy.test"
) -> AsyncIterator[Served]:
    """The app with its lifespan running (no background worker: tests drain the queue themselves)."""
    options: dict[str, Any] = {} if clock is None else {"clock": clock}
    app = create_app(
        settings, ses_session=ses_session, sqs_session=sqs_session(), run_worker=False, **options
    )
    async with app.router.lifespan_context(app):
        proxy: Proxy = app.state.proxy
        worker = proxy.worker
        assert worker is not None
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            yield Served(app, http, proxy, worker)


def ghost_fields(
    domain: str,
    recipients: Mapping[str, Mapping[str, Any]],
    *,
    email_id: str | None = "65f1c0de0000000000000001",
    tags: Sequence[str] = ("ghost-email", "bulk-email"),
    options: Mapping[str, str] | None = None,
    message_id_header: bool = True,
) -> list[tuple[str, str]]:
    """The form fields Ghost posts for a newsletter, in Ghost's order, with ``to`` repeated."""
    fields: list[tuple[str, str]] = [("to", address) for address in recipients]
    fields += [
        ("from", f"Ghost Weekly <noreply@{domain}>"),
        ("h:Reply-To", f"editor@{domain}"),
        ("h:Sender", f"bounces@{domain}"),
        ("subject", "Issue 12 for %recipient.name%"),
        (
            "html",
            "<html><body><p>Hi %recipient.name%,</p>"
            '<p><a href="https://blog.example.com/issue-12/?ref=%recipient.uuid%">Read issue 12</a></p>'
            '<p><a href="%recipient.list_unsubscribe%">Unsubscribe</a> %tag_unsubscribe_email%</p>'
            "</body></html>",
        ),
        ("text", "Hi %recipient.name%, read https://blog.example.com/issue-12/ %unsubscribe_url%"),
        ("recipient-variables", json.dumps(recipients)),
        ("h:Auto-Submitted", "auto-generated"),
        ("h:X-Auto-Response-Suppress", "OOF, AutoReply"),
        ("h:List-Unsubscribe", "<%recipient.list_unsubscribe%>, <%tag_unsubscribe_email%>"),
        ("h:List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]
    if message_id_header:
        fields.append(("h:Message-Id", "<%recipient.message_id%>"))
    if email_id is not None:
        fields.append(("v:email-id", email_id))
    fields += [("o:tag", tag) for tag in tags]
    fields += list({"o:tracking-opens": "yes", **(options or {})}.items())
    return fields


def member(address: str, name: str) -> dict[str, Any]:
    """Ghost's recipient variables of one member."""
    member_uuid = str(uuid.uuid4())
    return {
        "name": name,
        "email": address,
        "uuid": member_uuid,
        "key": secrets.token_hex(8),
        "list_unsubscribe": f"https://blog.example.com/unsubscribe/?uuid={member_uuid}&key=k1&newsletter=weekly",
        "message_id": f"{member_uuid}@blog.example.com",
    }


def ghost_multipart(fields: Iterable[tuple[str, str]]) -> tuple[bytes, str]:
    """The body and Content-Type the ``form-data`` package (mailgun.js) writes for ``fields``."""
    boundary = "--------------------------" + "".join(secrets.choice("0123456789") for _ in range(24))
    parts = []
    for name, value in fields:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode("utf-8")
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def post_batch(
    http: httpx.AsyncClient, domain: str, fields: Iterable[tuple[str, str]], *, auth: str = AUTH
) -> httpx.Response:
    body, content_type = ghost_multipart(fields)
    return await http.post(
        f"/v3/{domain}/messages", content=body, headers={"Content-Type": content_type, "Authorization": auth}
    )


async def ghost_pages(
    http: httpx.AsyncClient, domain: str, query: Mapping[str, str], *, max_pages: int = 100
) -> list[dict[str, Any]]:
    """Fetch events exactly as Ghost does: the query, then the same query to ``/events/{token}`` (the last
    path segment of ``paging.next``) until a page has no items. Returns every response body, the empty
    last one included."""
    headers = {"Authorization": AUTH, "Content-Type": "application/x-www-form-urlencoded"}
    pages = []
    url = f"/v3/{domain}/events"
    for _ in range(max_pages):
        response = await http.get(url, params=dict(query), headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        if not body["items"]:
            return pages
        token = body["paging"]["next"].rsplit("/", 1)[-1]
        url = f"/v3/{domain}/events/{token}"
    raise AssertionError(f"no empty page after {max_pages} pages")


class SentCapture:
    """The send requests SES accepted through the sessions it is attached to (botocore hooks: the
    parameters are kept when the request is built, and recorded once the answer is a success)."""

    def __init__(self, *sessions: Any) -> None:
        self.calls: list[dict[str, Any]] = []
        self._key = f"sent-capture-{uuid.uuid4().hex}"
        for session in sessions:
            self.attach(session)

    def attach(self, session: Any) -> Any:
        # a boto3 / aioboto3 session has .events; an aiobotocore session registers hooks itself
        register = session.events.register if hasattr(session, "events") else session.register
        for event in ("sesv2.SendEmail", "ses.SendRawEmail"):
            register(f"before-parameter-build.{event}", self._before)
            register(f"after-call.{event}", self._after)
        return session

    def _before(self, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[self._key] = copy.deepcopy(dict(params))

    def _after(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        params = context.pop(self._key, None)
        if params is not None and http_response.status_code < 300:
            self.calls.append(params)

    @staticmethod
    def mime(call: Mapping[str, Any]) -> EmailMessage:
        raw = call["Content"]["Raw"]["Data"] if "Content" in call else call["RawMessage"]["Data"]
        data = raw if isinstance(raw, bytes) else raw.encode()
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message

    def messages(self) -> list[EmailMessage]:
        """Every accepted message, parsed."""
        return [self.mime(call) for call in self.calls]

    def count_by_recipient(self) -> Counter[str]:
        """How many messages each address was sent."""
        return Counter(email.utils.parseaddr(str(m["To"]))[1] for m in self.messages())

    def by_recipient(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for call in self.calls:
            to = email.utils.parseaddr(str(self.mime(call)["To"]))[1]
            out.setdefault(to, []).append(call)
        return out
