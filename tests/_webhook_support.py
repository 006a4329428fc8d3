"""Running the SNS webhooks on real servers for tests: uvicorn in a thread, aiohttp's test server.

Messages are signed with a test key whose certificate is served by a local HTTPS server
(tests/_sns_signing.py); the verifier trusts that server's CA and accepts its loopback origin.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import attrs
import uvicorn
from aiohttp import web
from aiohttp.test_utils import TestServer
from fastapi import FastAPI

from sesflow.integrations.aiohttp import add_sns_route
from sesflow.integrations.fastapi import sns_webhook_router
from sesflow.routing import EventRouter
from sesflow.sources.sns_verify import SnsVerifier

from ._sns_signing import TOPIC, Clock, LocalHttpsServer, Tls, new_key, self_signed_pem, sign

CERT_PATH = "/SimpleNotificationService-0123456789abcdef.pem"


@attrs.define
class Signer:
    """A key, its certificate served over local HTTPS, and a verifier that trusts that server."""

    server: LocalHttpsServer
    tls: Tls
    key: Any = attrs.field(factory=new_key)

    def __attrs_post_init__(self) -> None:
        self.server.serve(CERT_PATH, (200, self_signed_pem(self.key), {}))

    @property
    def cert_url(self) -> str:
        return f"https://{self.server.origin}{CERT_PATH}"

    def verifier(self, **options: Any) -> SnsVerifier:
        options.setdefault("topic_arns", [TOPIC])
        return SnsVerifier(
            clock=Clock(),
            ssl_context=self.tls.client_context(),
            test_only_allowed_origins=[self.server.origin],
            **options,
        )

    def sign(self, message: dict[str, Any]) -> dict[str, Any]:
        return sign(message, self.key, "2")


def delivery(envelope: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The body and headers of SNS's POST carrying ``envelope``."""
    headers = {
        "x-amz-sns-message-type": envelope["Type"],
        "x-amz-sns-message-id": envelope["MessageId"],
        "x-amz-sns-topic-arn": envelope["TopicArn"],
        "Content-Type": "text/plain; charset=UTF-8",
        "User-Agent": "Amazon Simple Notification Service Agent",
    }
    if envelope["Type"] == "Notification":
        headers["x-amz-sns-subscription-arn"] = envelope["TopicArn"] + ":0b5bb4c4-1d52-4b8c-9f52-0c5f3d4b6a7e"
    return json.dumps(envelope).encode(), headers


@contextmanager
def uvicorn_server(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            threading.Event().wait(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@asynccontextmanager
async def webhook(kind: str, router: EventRouter, verifier: Any, **options: Any) -> AsyncIterator[str]:
    """A real server for ``kind`` ("fastapi" or "aiohttp") with the webhook at /sns; yields its URL."""
    if kind == "fastapi":
        app = FastAPI()
        app.include_router(sns_webhook_router(router, verifier, path="/sns", **options))
        with uvicorn_server(app) as base:
            yield f"{base}/sns"
        return
    aio_app = web.Application()
    add_sns_route(aio_app, router, verifier, path="/sns", **options)
    server = TestServer(aio_app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/sns"))
    finally:
        await server.close()
        await asyncio.sleep(0)
