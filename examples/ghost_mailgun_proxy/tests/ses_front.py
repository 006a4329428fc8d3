"""SES for a proxy running in another process: an HTTP endpoint in front of the moto server, with LocalSes.

LocalSes sees the sends of the clients and sessions of its own process. A proxy started as a subprocess (to
be killed with SIGKILL) sends from elsewhere, so the crash tests point its SES endpoint here: every request is
passed on to moto as it is, and when moto accepts a send, the accepted request goes (in the background, as
SES publishes its events asynchronously) to :meth:`LocalSes.observe`, which publishes the events SES would
publish. As with SES, the message is accepted and its events are published whether or not the client is
still there to read the answer.

Two controls make the crash points deterministic:

- :meth:`SesFront.kill_on_send`: SIGKILL the proxy process once SES has accepted its ``n``-th send, before
  the answer is written (the request left, the answer never comes);
- :attr:`SesFront.hold_events` / :meth:`SesFront.release_events`: publish the events of accepted sends only
  later, as SES may (its event publishing is asynchronous).
"""

from __future__ import annotations

import base64
import http.client
import json
import queue
import re
import signal
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from sesflow.testing import LocalSes

__all__ = ["SesFront"]

_MESSAGE_ID = re.compile(r"<MessageId>([^<]+)</MessageId>")
_TAG = re.compile(r"Tags\.member\.(\d+)\.(Name|Value)")
_DESTINATION = re.compile(r"Destinations\.member\.(\d+)")


def _send_request(
    path: str, body: bytes, answer: bytes
) -> tuple[str, str, dict[str, Any], dict[str, Any]] | None:
    """(service, operation, params as boto3 takes them, response) of an accepted send, or None."""
    if path.rstrip("/") == "/v2/email/outbound-emails":  # SES v2 SendEmail (REST JSON)
        params = json.loads(body)
        raw = (params.get("Content") or {}).get("Raw")
        if raw is not None:
            raw["Data"] = base64.b64decode(raw["Data"])
        return "sesv2", "SendEmail", params, json.loads(answer)
    form = dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    if form.get("Action") != "SendRawEmail":  # SES v1 (query protocol): what the proxy sends
        return None
    tags: dict[int, dict[str, str]] = {}
    destinations: dict[int, str] = {}
    for key, value in form.items():
        if found := _TAG.fullmatch(key):
            tags.setdefault(int(found.group(1)), {})[found.group(2)] = value
        elif found := _DESTINATION.fullmatch(key):
            destinations[int(found.group(1))] = value
    params = {
        "RawMessage": {"Data": base64.b64decode(form["RawMessage.Data"])},
        "Source": form.get("Source"),
        "Destinations": [destinations[n] for n in sorted(destinations)],
        "ConfigurationSetName": form.get("ConfigurationSetName"),
        "Tags": [tags[n] for n in sorted(tags)],
    }
    match = _MESSAGE_ID.search(answer.decode("utf-8"))
    assert match is not None, answer
    return "ses", "SendRawEmail", params, {"MessageId": match.group(1)}


class SesFront:
    """Serves on a loopback port (:attr:`endpoint_url`) in front of moto at ``moto_url``; ``local``
    publishes the events of the sends moto accepts."""

    def __init__(self, moto_url: str, local: LocalSes) -> None:
        self.local = local
        self.accepted = 0
        self.killed: list[int] = []
        self._moto = urllib.parse.urlsplit(moto_url)
        self._events: queue.Queue[tuple[str, str, dict[str, Any], dict[str, Any]] | None] = queue.Queue()
        self._released = threading.Event()
        self._released.set()
        self._lock = threading.Lock()
        self._kill_at: int | None = None
        self._victim: subprocess.Popen[bytes] | None = None
        self._victim_known = threading.Event()
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, answer = front._pass_on(self.command, self.path, self.headers, body)
                if status < 300:
                    front._accepted(self.path, body, answer)
                try:
                    self.send_response(status)
                    for name, value in headers:
                        if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the client is gone (killed): SES has the message all the same

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="ses-front", daemon=True)
        self._thread.start()
        self._publisher = threading.Thread(target=self._publish, name="ses-front-events", daemon=True)
        self._publisher.start()
        host, port = self._server.server_address[:2]
        self.endpoint_url = f"http://{host!s}:{port}"

    def kill_on_send(self, count: int) -> None:
        """Once SES has accepted ``count`` more sends, SIGKILL the process given to :meth:`victim` (waiting
        for it if need be) before the answer to the last one is written, and wait until it is gone."""
        with self._lock:
            self._kill_at = self.accepted + count
            self._victim = None
            self._victim_known.clear()

    def victim(self, process: subprocess.Popen[bytes]) -> None:
        """The process :meth:`kill_on_send` kills (arm first, then start it: no send can be missed)."""
        self._victim = process
        self._victim_known.set()

    def hold_events(self) -> None:
        """Publish no events until :meth:`release_events`."""
        self._released.clear()

    def release_events(self) -> int:
        """Publish the events held so far and those to come; returns how many sends were waiting."""
        waiting = self._events.qsize()
        self._released.set()
        return waiting

    @property
    def published(self) -> bool:
        """True when the events of every accepted send have been published."""
        return self._released.is_set() and self._events.unfinished_tasks == 0

    def _publish(self) -> None:
        while True:
            observation = self._events.get()
            try:
                if observation is None:
                    return
                self._released.wait()
                self.local.observe(*observation)
            finally:
                self._events.task_done()

    def _pass_on(
        self, method: str, path: str, headers: Any, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(
            self._moto.hostname or "127.0.0.1", self._moto.port, timeout=30
        )
        try:
            forwarded = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
            connection.request(method, path, body=body, headers=forwarded)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _accepted(self, path: str, body: bytes, answer: bytes) -> None:
        observation = _send_request(path, body, answer)
        if observation is None:
            return
        self._events.put(observation)
        with self._lock:
            self.accepted += 1
            kill = self._kill_at == self.accepted
            if kill:
                self._kill_at = None
        if kill:
            self._victim_known.wait(60)
            process = self._victim
            assert process is not None
            process.send_signal(signal.SIGKILL)
            process.wait()
            self.killed.append(process.pid)

    def close(self) -> None:
        self._released.set()
        self._events.put(None)
        self._publisher.join()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> SesFront:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
