"""A local HTTP endpoint that answers like SES for the sending operations, for tests and benchmarks.

moto covers most of SES but not v2 ``SendBulkEmail``, ``GetAccount`` or v2 templates, and it accepts what SES
refuses (a send naming a configuration set that does not exist). ``FakeSes`` speaks SES's two wire
protocols on 127.0.0.1 for the few operations a sender needs, so boto3 / aioboto3 clients talk to it through
their real serializers, parsers and HTTP stacks:

- v2 (``sesv2``, REST-JSON): ``SendEmail``, ``SendBulkEmail``, ``GetAccount``, ``GetConfigurationSet``, and
  the account's suppression list (``Put``/``Get``/``DeleteSuppressedDestination``,
  ``ListSuppressedDestinations``, two entries a page), which moto lacks;
- v1 (``ses``, query/XML): ``SendEmail``, ``SendRawEmail``, ``SendTemplatedEmail``,
  ``SendBulkTemplatedEmail``, ``GetSendQuota``, ``DescribeConfigurationSet``.

It checks configuration sets and templates like SES, records every call, and plays scripted failures:
whole-call errors (``FakeSes.fail``, e.g. throttling) and per-destination bulk statuses
(``FakeSes.script_status``). ``delay`` makes every answer wait, like a real network round trip. Standard
library only.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote
from xml.sax.saxutils import escape

import attrs

from .results import V1_STATUSES, BulkStatus

__all__ = ["FakeSes", "FakeCall", "unflatten_query"]

_V1_SPELLING = {status.value: spelling for spelling, status in V1_STATUSES.items()}
_XMLNS = "http://ses.amazonaws.com/doc/2010-12-01/"


@attrs.frozen
class FakeCall:
    """One request the fake answered: API version, operation (SES's name), parameters as SES received them."""

    api: str
    operation: str
    params: Mapping[str, Any] = attrs.field(eq=False)
    status: int
    """The HTTP status answered (0: the connection was closed without an answer)."""


@attrs.frozen
class _Failure:
    code: str
    message: str
    status: int
    drop: bool = False


class _Dropped(Exception):
    """Close the connection without an answer."""


class _Answer(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message


def unflatten_query(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The nested parameters of an AWS query-protocol body (``A.member.1.B=x`` -> ``{"A": [{"B": "x"}]}``)."""
    root: dict[Any, Any] = {}
    for key, value in pairs:
        parts = key.split(".")
        tokens: list[str | int] = []
        i = 0
        while i < len(parts):
            if parts[i] == "member" and i + 1 < len(parts) and parts[i + 1].isdigit():
                tokens.append(int(parts[i + 1]))
                i += 2
            else:
                tokens.append(parts[i])
                i += 1
        node = root
        for token in tokens[:-1]:
            node = node.setdefault(token, {})
        node[tokens[-1]] = value
    out: dict[str, Any] = _with_lists(root)
    return out


def _with_lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _with_lists(value) for key, value in node.items()}
    if converted and all(isinstance(key, int) for key in converted):
        return [converted[key] for key in sorted(converted)]
    return converted


class FakeSes:
    """An SES-like HTTP endpoint on 127.0.0.1 (an event loop in a thread); use as a context manager.

    ``configuration_sets`` and ``templates`` are the names that exist (add more at any time); ``delay`` is how
    long every answer waits (seconds); ``max_send_rate`` / ``max_24_hour_send`` are the account's quota.
    """

    def __init__(
        self,
        *,
        configuration_sets: Iterable[str] = (),
        templates: Iterable[str] = (),
        delay: float = 0.0,
        max_send_rate: float = 14.0,
        max_24_hour_send: float = 50_000.0,
        record: bool = True,
    ) -> None:
        self.configuration_sets: set[str] = set(configuration_sets)
        self.templates: set[str] = set(templates)
        self.delay = delay
        self.max_send_rate = max_send_rate
        self.max_24_hour_send = max_24_hour_send
        self.record = record
        self.calls: list[FakeCall] = []
        self.suppressed: dict[str, dict[str, Any]] = {}
        """The account's suppression list: address -> ``{"Reason", "LastUpdateTime"}`` (epoch seconds)."""
        self._failures: dict[str, deque[_Failure]] = {}
        self._statuses: dict[str, deque[str]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.in_flight = 0
        self.max_in_flight = 0
        """The most requests the fake was answering at once."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSes:
        """Listen on a free loopback port and answer from an event loop in a background thread."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-ses", daemon=True)
        thread.start()
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._connection, "127.0.0.1", 0), loop
        ).result(timeout=10)
        self._loop, self._thread, self._server = loop, thread, server
        return self

    def stop(self) -> None:
        """Stop answering and close the socket and every open connection."""
        loop, server, thread = self._loop, self._server, self._thread
        self._loop, self._server, self._thread = None, None, None
        if loop is None or server is None or thread is None:
            return

        async def shutdown() -> None:
            server.close()
            for writer in list(self._writers):
                writer.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()

    def __enter__(self) -> FakeSes:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``, for ``endpoint_url=``."""
        if self._server is None:
            raise RuntimeError("start the FakeSes first")
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host!s}:{port}"

    # ------------------------------------------------------------------ scripting

    def fail(
        self, operation: str, code: str, message: str = "", *, status: int = 400, times: int = 1
    ) -> None:
        """Answer the next ``times`` calls of ``operation`` (SES's name: ``SendEmail``...) with this error."""
        with self._lock:
            queue = self._failures.setdefault(operation, deque())
            queue.extend([_Failure(code, message, status)] * times)

    def drop(self, operation: str, *, times: int = 1) -> None:
        """Close the connection without answering the next ``times`` calls of ``operation``."""
        with self._lock:
            queue = self._failures.setdefault(operation, deque())
            queue.extend([_Failure("", "", 0, drop=True)] * times)

    def script_status(self, recipient: str, *statuses: str) -> None:
        """Bulk entry statuses (v2 spelling) for the destination whose first To address is ``recipient``.

        Each bulk attempt at that destination takes the next status; the last one stays. Others get SUCCESS.
        """
        with self._lock:
            self._statuses[recipient.lower()] = deque(statuses)

    def calls_of(self, operation: str) -> list[FakeCall]:
        """The recorded calls of one operation."""
        with self._lock:
            return [call for call in self.calls if call.operation == operation]

    # ------------------------------------------------------------------ HTTP

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one keep-alive HTTP/1.1 connection."""
        self._writers.add(writer)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line.strip():
                    return
                method, target, _ = request_line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                with self._lock:
                    self.in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    if self.delay:
                        await asyncio.sleep(self.delay)
                    path, _, query = target.partition("?")
                    response = _respond(self, method, path, body, query)
                finally:
                    with self._lock:
                        self.in_flight -= 1
                writer.write(response.to_bytes())
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (_Dropped, ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    # ------------------------------------------------------------------ answering

    def _next_failure(self, operation: str) -> _Failure | None:
        with self._lock:
            queue = self._failures.get(operation)
            failure = queue.popleft() if queue else None
        if failure is not None and failure.drop:
            raise _Dropped()
        return failure

    def _entry_status(self, recipient: str) -> str:
        with self._lock:
            queue = self._statuses.get(recipient.lower())
            if not queue:
                return "SUCCESS"
            return queue.popleft() if len(queue) > 1 else queue[0]

    def _message_id(self) -> str:
        return f"{next(self._ids):016x}-fake-ses-{uuid.uuid4().hex[:12]}"

    def _record(self, api: str, operation: str, params: Mapping[str, Any], status: int) -> None:
        if self.record:
            with self._lock:
                self.calls.append(FakeCall(api, operation, params, status))

    def _check_set(self, params: Mapping[str, Any], api: str) -> None:
        name = params.get("ConfigurationSetName")
        if name is not None and name not in self.configuration_sets:
            if api == "v2":
                raise _Answer(404, "NotFoundException", f"Configuration set <{name}> does not exist.")
            raise _Answer(400, "ConfigurationSetDoesNotExist", f"Configuration set <{name}> does not exist.")

    def _check_template(self, name: str | None, api: str) -> None:
        if name is not None and name not in self.templates:
            if api == "v2":
                raise _Answer(404, "NotFoundException", f"Template {name} does not exist.")
            raise _Answer(400, "TemplateDoesNotExist", f"Template {name} does not exist.")

    def answer_v2(self, operation: str, path_name: str | None, params: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON answer of a v2 operation, or raise _Answer."""
        failure = self._next_failure(operation)
        if failure is not None:
            raise _Answer(failure.status, failure.code, failure.message)
        if operation == "GetAccount":
            return {
                "SendQuota": {
                    "Max24HourSend": self.max_24_hour_send,
                    "MaxSendRate": self.max_send_rate,
                    "SentLast24Hours": 0.0,
                },
                "SendingEnabled": True,
                "ProductionAccessEnabled": True,
            }
        if operation.endswith("SuppressedDestination") or operation == "ListSuppressedDestinations":
            return self._suppression_list(operation, path_name, params)
        if operation == "GetConfigurationSet":
            if path_name not in self.configuration_sets:
                raise _Answer(404, "NotFoundException", f"Configuration set <{path_name}> does not exist.")
            return {"ConfigurationSetName": path_name}
        if operation == "SendEmail":
            self._check_set(params, "v2")
            template = params.get("Content", {}).get("Template")
            if template is not None:
                self._check_template(template.get("TemplateName"), "v2")
            return {"MessageId": self._message_id()}
        # SendBulkEmail: per-entry outcomes, like SES.
        name = params.get("ConfigurationSetName")
        missing_set = name is not None and name not in self.configuration_sets
        template_name = params.get("DefaultContent", {}).get("Template", {}).get("TemplateName")
        missing_template = template_name is not None and template_name not in self.templates
        results = []
        for entry in params.get("BulkEmailEntries", []):
            first = (entry.get("Destination", {}).get("ToAddresses") or [""])[0]
            if missing_set:
                status = "CONFIGURATION_SET_NOT_FOUND"
            elif missing_template:
                status = "TEMPLATE_NOT_FOUND"
            else:
                status = self._entry_status(_bare(first))
            if status == "SUCCESS":
                results.append({"Status": status, "MessageId": self._message_id()})
            else:
                results.append({"Status": status, "Error": f"scripted {status}"})
        return {"BulkEmailEntryResults": results}

    def _suppression_list(
        self, operation: str, address: str | None, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        if operation == "PutSuppressedDestination":
            entry = {"Reason": params["Reason"], "LastUpdateTime": time.time()}
            self.suppressed[str(params["EmailAddress"]).lower()] = entry
            return {}
        if operation == "ListSuppressedDestinations":
            reasons = params.get("Reason") or []
            rows = [
                {"EmailAddress": email, **entry}
                for email, entry in sorted(self.suppressed.items())
                if not reasons or entry["Reason"] in reasons
            ]
            start = int(params.get("NextToken", ["0"])[0])
            page = rows[start : start + 2]
            answer: dict[str, Any] = {"SuppressedDestinationSummaries": page}
            if start + 2 < len(rows):
                answer["NextToken"] = str(start + 2)
            return answer
        key = (address or "").lower()
        if key not in self.suppressed:
            raise _Answer(
                404,
                "NotFoundException",
                f"Email address ({address}) does not exist on your suppression list.",
            )
        if operation == "DeleteSuppressedDestination":
            del self.suppressed[key]
            return {}
        return {"SuppressedDestination": {"EmailAddress": address, **self.suppressed[key], "Attributes": {}}}

    def answer_v1(self, operation: str, params: Mapping[str, Any]) -> str:
        """The XML result element's content of a v1 operation, or raise _Answer."""
        failure = self._next_failure(operation)
        if failure is not None:
            raise _Answer(failure.status, failure.code, failure.message)
        if operation == "GetSendQuota":
            return (
                f"<Max24HourSend>{self.max_24_hour_send}</Max24HourSend>"
                f"<MaxSendRate>{self.max_send_rate}</MaxSendRate><SentLast24Hours>0.0</SentLast24Hours>"
            )
        if operation == "DescribeConfigurationSet":
            name = params.get("ConfigurationSetName", "")
            if name not in self.configuration_sets:
                raise _Answer(
                    400, "ConfigurationSetDoesNotExist", f"Configuration set <{name}> does not exist."
                )
            return f"<ConfigurationSet><Name>{escape(name)}</Name></ConfigurationSet>"
        if operation in ("SendEmail", "SendRawEmail", "SendTemplatedEmail"):
            self._check_set(params, "v1")
            if operation == "SendTemplatedEmail":
                self._check_template(params.get("Template"), "v1")
            return f"<MessageId>{self._message_id()}</MessageId>"
        if operation == "SendBulkTemplatedEmail":
            self._check_set(params, "v1")
            self._check_template(params.get("Template"), "v1")
            members = []
            for entry in params.get("Destinations", []):
                first = (entry.get("Destination", {}).get("ToAddresses") or [""])[0]
                status = self._entry_status(_bare(first))
                spelling = _V1_SPELLING.get(status, status)
                if status == BulkStatus.SUCCESS:
                    members.append(
                        f"<member><Status>{spelling}</Status><MessageId>{self._message_id()}</MessageId></member>"
                    )
                else:
                    members.append(
                        f"<member><Status>{spelling}</Status><Error>scripted {status}</Error></member>"
                    )
            return f"<Status>{''.join(members)}</Status>"
        raise _Answer(400, "InvalidAction", f"the fake does not answer {operation}")


def _bare(address: str) -> str:
    return address.rpartition("<")[2].rstrip(">").strip()


_V2_ROUTES = {
    ("POST", "/v2/email/outbound-emails"): "SendEmail",
    ("POST", "/v2/email/outbound-bulk-emails"): "SendBulkEmail",
    ("GET", "/v2/email/account"): "GetAccount",
    ("PUT", "/v2/email/suppression/addresses"): "PutSuppressedDestination",
    ("GET", "/v2/email/suppression/addresses"): "ListSuppressedDestinations",
}
_V2_CONFIGURATION_SETS = "/v2/email/configuration-sets/"
_V2_SUPPRESSED = "/v2/email/suppression/addresses/"
_V2_SUPPRESSED_ROUTES = {"GET": "GetSuppressedDestination", "DELETE": "DeleteSuppressedDestination"}


@attrs.frozen
class _Response:
    status: int
    payload: bytes
    content_type: str
    request_id: str
    error_type: str | None = None

    def to_bytes(self) -> bytes:
        reason = _REASONS.get(self.status, "Error")
        head = [
            f"HTTP/1.1 {self.status} {reason}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.payload)}",
            f"x-amzn-RequestId: {self.request_id}",
        ]
        if self.error_type is not None:
            head.append(f"x-amzn-ErrorType: {self.error_type}")
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + self.payload


_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests"}


def _respond(fake: FakeSes, method: str, path: str, body: bytes, query: str = "") -> _Response:
    """The answer to one request; raises _Dropped to close the connection instead."""
    if path.startswith("/v2/"):
        return _respond_v2(fake, method, path, body, query)
    return _respond_v1(fake, body)


def _respond_v2(fake: FakeSes, method: str, path: str, body: bytes, query: str = "") -> _Response:
    path_name = None
    operation = _V2_ROUTES.get((method, path))
    if operation is None and method == "GET" and path.startswith(_V2_CONFIGURATION_SETS):
        operation, path_name = "GetConfigurationSet", unquote(path[len(_V2_CONFIGURATION_SETS) :])
    if operation is None and path.startswith(_V2_SUPPRESSED):
        operation = _V2_SUPPRESSED_ROUTES.get(method)
        path_name = unquote(path[len(_V2_SUPPRESSED) :])
    request_id = str(uuid.uuid4())
    params: dict[str, Any] = json.loads(body) if body else {}
    if query:
        params = {**params, **parse_qs(query)}
    if operation == "GetConfigurationSet":
        params = {"ConfigurationSetName": path_name}
    if operation is None:
        return _Response(404, b'{"message": "unknown operation"}', "application/json", request_id, "NotFound")
    try:
        answer = fake.answer_v2(operation, path_name, params)
    except _Dropped:
        fake._record("v2", operation, params, 0)
        raise
    except _Answer as failure:
        fake._record("v2", operation, params, failure.status)
        payload = json.dumps({"message": failure.message}).encode()
        return _Response(failure.status, payload, "application/json", request_id, failure.code)
    fake._record("v2", operation, params, 200)
    return _Response(200, json.dumps(answer).encode(), "application/json", request_id)


def _respond_v1(fake: FakeSes, body: bytes) -> _Response:
    request_id = str(uuid.uuid4())
    params = unflatten_query(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    operation = str(params.pop("Action", ""))
    params.pop("Version", None)
    raw = params.get("RawMessage")
    if isinstance(raw, dict) and "Data" in raw:
        raw["Data"] = base64.b64decode(raw["Data"])
    try:
        result = fake.answer_v1(operation, params)
    except _Dropped:
        fake._record("v1", operation, params, 0)
        raise
    except _Answer as failure:
        fake._record("v1", operation, params, failure.status)
        xml = (
            f'<ErrorResponse xmlns="{_XMLNS}"><Error><Type>Sender</Type>'
            f"<Code>{escape(failure.code)}</Code><Message>{escape(failure.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return _Response(failure.status, xml.encode(), "text/xml", request_id)
    fake._record("v1", operation, params, 200)
    xml = (
        f'<{operation}Response xmlns="{_XMLNS}"><{operation}Result>{result}</{operation}Result>'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{operation}Response>"
    )
    return _Response(200, xml.encode(), "text/xml", request_id)
