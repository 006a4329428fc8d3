"""A local HTTP endpoint that answers like SES for the sending operations, for tests and benchmarks.

moto covers most of SES but not v2 ``SendBulkEmail``, ``GetAccount`` or v2 templates, and it accepts what SES
refuses (a send naming a configuration set that does not exist). ``FakeSes`` speaks SES's two wire
protocols on 127.0.0.1 for the few operations a sender needs, so boto3 / aioboto3 clients talk to it through
their real serializers, parsers and HTTP stacks:

- v2 (``sesv2``, REST-JSON): ``SendEmail``, ``SendBulkEmail``, ``GetAccount``, ``GetConfigurationSet``, the
  account's and each tenant's suppression list (``Put``/``Get``/``DeleteSuppressedDestination``,
  ``ListSuppressedDestinations``, two entries a page), and tenants (``Create``/``Get``/``Delete``/
  ``ListTenants``, ``Create``/``Delete``/``ListTenantResources`` associations,
  ``PutTenantSuppressionAttributes``, ``Get``/``UpdateReputationEntityPolicy``,
  ``UpdateReputationEntityCustomerManagedStatus``), all of which moto 5.2 lacks;
- v1 (``ses``, query/XML): ``SendEmail``, ``SendRawEmail``, ``SendTemplatedEmail``,
  ``SendBulkTemplatedEmail``, ``GetSendQuota``, ``DescribeConfigurationSet``.

It checks configuration sets and templates like SES, and a send for a tenant as SES documents it (the tenant
exists, is not paused, and has the send's configuration set, sending identity and template associated). AWS
documents no error code of its own for a tenant's refusals, so the fake answers them with codes the API model
lists for ``SendEmail`` (``NotFoundException``, ``BadRequestException``, ``SendingPausedException``) and words
of its own that name the tenant. It records every call, and plays scripted failures:
whole-call errors (``FakeSes.fail``, e.g. throttling) and per-destination bulk statuses
(``FakeSes.script_status``). ``delay`` makes every answer wait, like a real network round trip. Standard
library only.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
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

from .._public import publish
from ..sending.results import V1_STATUSES, BulkStatus

__all__ = ["FakeSes", "FakeCall", "FakeTenant", "unflatten_query"]

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
    body: Mapping[str, Any] = attrs.field(factory=dict, eq=False)
    """v2: the JSON body as sent."""
    query: Mapping[str, list[str]] = attrs.field(factory=dict, eq=False)
    """v2: the query string parameters as sent (by their wire names)."""
    path: Mapping[str, str] = attrs.field(factory=dict, eq=False)
    """v2: the values of the request URI's labels (``{"EmailAddress": ...}``), decoded."""
    headers: Mapping[str, str] = attrs.field(factory=dict, eq=False)
    """v2: the HTTP request headers (names in lower case), signature included."""


_TENANT_ARN = "arn:aws:ses:{region}:{account}:tenant/{name}/{tenant_id}"
_RESOURCE_ARN = re.compile(
    r"arn:aws[a-z-]*:ses:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?P<kind>identity|configuration-set|template)/(?P<name>.+)"
)
_RESOURCE_TYPES = {
    "identity": "EMAIL_IDENTITY",
    "configuration-set": "CONFIGURATION_SET",
    "template": "EMAIL_TEMPLATE",
}
# AWS::SES::Tenant's ReputationEntityPolicy pattern (CloudFormation template reference).
_REPUTATION_POLICY = re.compile(r"arn:[a-z0-9-]+:ses:[a-z0-9-]+:aws:reputation-policy/(none|standard|strict)")


@attrs.define
class FakeTenant:
    """One tenant the fake knows: what ``GetTenant`` reports and what its sends are checked against.

    ``resources`` are the associated resource ARNs; None means every resource (the tenants given to the
    constructor, so that a test can send for a tenant without associating anything first).
    """

    name: str
    tenant_id: str
    arn: str
    created: float
    sending_status: str = "ENABLED"
    resources: set[str] | None = attrs.field(factory=set)
    suppression_scope: str | None = None
    suppressed_reasons: list[str] = attrs.field(factory=list)
    reputation_policy: str | None = None
    tags: list[dict[str, str]] = attrs.field(factory=list)
    suppressed: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    """The tenant's own suppression list: address (case kept, matched exactly) -> ``{"Reason", ...}``."""

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "TenantName": self.name,
            "TenantId": self.tenant_id,
            "TenantArn": self.arn,
            "CreatedTimestamp": self.created,
            "Tags": self.tags,
            "SendingStatus": self.sending_status,
        }
        if self.suppression_scope is not None:
            out["SuppressionAttributes"] = {
                "SuppressionScope": self.suppression_scope,
                "SuppressedReasons": self.suppressed_reasons,
            }
        return out


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

    ``configuration_sets`` and ``templates`` are the names that exist (add more at any time); ``tenants`` name
    tenants that exist with every resource associated (tenants made with ``CreateTenant`` start with none, as
    in SES); ``delay`` is how long every answer waits (seconds); ``max_send_rate`` / ``max_24_hour_send`` are
    the account's quota. ARNs are in ``account_id`` and the region the request was signed for.
    """

    def __init__(
        self,
        *,
        configuration_sets: Iterable[str] = (),
        templates: Iterable[str] = (),
        tenants: Iterable[str] = (),
        delay: float = 0.0,
        max_send_rate: float = 14.0,
        max_24_hour_send: float = 50_000.0,
        record: bool = True,
        account_id: str = "123456789012",
    ) -> None:
        self.account_id = account_id
        self.tenants: dict[str, FakeTenant] = {}
        for name in tenants:
            self.tenants[name] = self._new_tenant(name, "us-east-1", resources=None)
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

    def pause_tenant(self, name: str) -> None:
        """Pause a tenant's sending, as SES does when its reputation policy acts on findings."""
        with self._lock:
            self.tenants[name].sending_status = "DISABLED"

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
                    response = _respond(self, method, path, body, query, headers)
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

    def _record(
        self, api: str, operation: str, params: Mapping[str, Any], status: int, raw: _RawV2 | None = None
    ) -> None:
        if self.record:
            call = FakeCall(api, operation, params, status)
            if raw is not None:
                call = FakeCall(api, operation, params, status, raw.body, raw.query, raw.path, raw.headers)
            with self._lock:
                self.calls.append(call)

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

    def answer_v2(
        self, operation: str, path: Mapping[str, str], params: Mapping[str, Any], region: str = "us-east-1"
    ) -> dict[str, Any]:
        """The JSON answer of a v2 operation, or raise _Answer. ``path`` holds the URI labels' values."""
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
            return self._suppression_list(operation, path.get("EmailAddress"), params)
        if operation in _TENANT_OPERATIONS:
            with self._lock:
                return self._tenant_operation(operation, path, params, region)
        if operation == "GetConfigurationSet":
            name = path.get("ConfigurationSetName")
            if name not in self.configuration_sets:
                raise _Answer(404, "NotFoundException", f"Configuration set <{name}> does not exist.")
            return {"ConfigurationSetName": name}
        if operation == "SendEmail":
            self._check_set(params, "v2")
            template = params.get("Content", {}).get("Template")
            if template is not None:
                self._check_template(template.get("TemplateName"), "v2")
            self._check_tenant_send(params, region, (template or {}).get("TemplateName"))
            return {"MessageId": self._message_id()}
        # SendBulkEmail: per-entry outcomes, like SES.
        name = params.get("ConfigurationSetName")
        missing_set = name is not None and name not in self.configuration_sets
        template_name = params.get("DefaultContent", {}).get("Template", {}).get("TemplateName")
        missing_template = template_name is not None and template_name not in self.templates
        if not missing_set and not missing_template:
            self._check_tenant_send(params, region, template_name)
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

    # ------------------------------------------------------------------ tenants

    def _new_tenant(self, name: str, region: str, *, resources: set[str] | None) -> FakeTenant:
        tenant_id = f"tn-{uuid.uuid4().hex[:17]}"
        arn = _TENANT_ARN.format(region=region, account=self.account_id, name=name, tenant_id=tenant_id)
        return FakeTenant(name, tenant_id, arn, time.time(), resources=resources)

    def _tenant(self, name: object) -> FakeTenant:
        tenant = self.tenants.get(str(name))
        if tenant is None:
            raise _Answer(404, "NotFoundException", f"Tenant <{name}> does not exist.")
        return tenant

    def _tenant_by_arn(self, arn: str) -> FakeTenant:
        for tenant in self.tenants.values():
            if tenant.arn == arn:
                return tenant
        raise _Answer(404, "NotFoundException", f"Reputation entity <{arn}> does not exist.")

    def _check_tenant_send(self, params: Mapping[str, Any], region: str, template: str | None) -> None:
        """Refuse a send for a tenant as SES does: unknown, paused, or using a resource not associated."""
        name = params.get("TenantName")
        if name is None:
            return
        with self._lock:
            tenant = self._tenant(name)
            if tenant.sending_status == "DISABLED":
                raise _Answer(400, "SendingPausedException", f"Sending is paused for tenant <{name}>.")
            if tenant.resources is None:
                return
            sender = _bare(str(params.get("FromEmailAddress", "")))
            identities = {sender, sender.rpartition("@")[2]}
            wanted = [("identity", identities)]
            if params.get("ConfigurationSetName") is not None:
                wanted.append(("configuration-set", {params["ConfigurationSetName"]}))
            if template is not None:
                wanted.append(("template", {template}))
            for kind, names in wanted:
                arns = {f"arn:aws:ses:{region}:{self.account_id}:{kind}/{n}" for n in names}
                if not arns & tenant.resources:
                    raise _Answer(
                        400,
                        "BadRequestException",
                        f"The {kind} {sorted(names)[0]} is not associated with tenant <{name}>.",
                    )

    def _tenant_operation(
        self, operation: str, path: Mapping[str, str], params: Mapping[str, Any], region: str
    ) -> dict[str, Any]:
        if operation == "CreateTenant":
            name = str(params["TenantName"])
            if name in self.tenants:
                raise _Answer(400, "AlreadyExistsException", f"Tenant <{name}> already exists.")
            tenant = self._new_tenant(name, region, resources=set())
            tenant.tags = list(params.get("Tags") or [])
            attributes = params.get("SuppressionAttributes")
            if attributes is not None:
                tenant.suppression_scope = attributes.get("SuppressionScope", "ACCOUNT")
                tenant.suppressed_reasons = list(attributes.get("SuppressedReasons") or [])
            self.tenants[name] = tenant
            return tenant.describe()
        if operation == "ListTenants":
            return {
                "Tenants": [
                    {k: v for k, v in t.describe().items() if k not in ("Tags", "SuppressionAttributes")}
                    for t in self.tenants.values()
                ]
            }
        if operation in (
            "UpdateReputationEntityPolicy",
            "GetReputationEntity",
            "UpdateReputationEntityCustomerManagedStatus",
        ):
            return self._reputation(operation, path, params)
        tenant = self._tenant(params.get("TenantName"))
        if operation == "GetTenant":
            return {"Tenant": tenant.describe()}
        if operation == "DeleteTenant":
            del self.tenants[tenant.name]
            return {}
        if operation == "PutTenantSuppressionAttributes":
            tenant.suppression_scope = params.get("SuppressionScope", "ACCOUNT")
            tenant.suppressed_reasons = list(params.get("SuppressedReasons") or [])
            return {}
        if operation == "ListTenantResources":
            resources = sorted(tenant.resources or ())
            return {
                "TenantResources": [
                    {"ResourceType": _RESOURCE_TYPES[_resource(arn).group("kind")], "ResourceArn": arn}
                    for arn in resources
                ]
            }
        arn = str(params.get("ResourceArn"))
        _resource(arn)
        associated = tenant.resources if tenant.resources is not None else set()
        if operation == "CreateTenantResourceAssociation":
            if arn in associated:
                raise _Answer(
                    400, "AlreadyExistsException", f"<{arn}> is already associated with <{tenant.name}>."
                )
            associated.add(arn)
            tenant.resources = associated
            return {}
        # DeleteTenantResourceAssociation
        if arn not in associated:
            raise _Answer(404, "NotFoundException", f"<{arn}> is not associated with <{tenant.name}>.")
        associated.discard(arn)
        return {}

    def _reputation(
        self, operation: str, path: Mapping[str, str], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        if path.get("ReputationEntityType") != "RESOURCE":
            raise _Answer(400, "BadRequestException", "ReputationEntityType must be RESOURCE.")
        tenant = self._tenant_by_arn(path.get("ReputationEntityReference", ""))
        if operation == "UpdateReputationEntityPolicy":
            policy = str(params.get("ReputationEntityPolicy", ""))
            if not _REPUTATION_POLICY.fullmatch(policy):
                raise _Answer(400, "BadRequestException", f"<{policy}> is not a reputation policy.")
            tenant.reputation_policy = policy
            return {}
        if operation == "UpdateReputationEntityCustomerManagedStatus":
            tenant.sending_status = str(params.get("SendingStatus"))
            return {}
        entity: dict[str, Any] = {
            "ReputationEntityReference": tenant.arn,
            "ReputationEntityType": "RESOURCE",
            "SendingStatusAggregate": tenant.sending_status,
        }
        if tenant.reputation_policy is not None:
            entity["ReputationManagementPolicy"] = tenant.reputation_policy
        return {"ReputationEntity": entity}

    # ------------------------------------------------------------------ suppression lists

    def _suppression_list(
        self, operation: str, address: str | None, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        tenant_name = params.get("TenantName")
        if isinstance(tenant_name, list):  # from the query string
            tenant_name = tenant_name[0]
        with self._lock:
            if tenant_name is None:
                entries, fold = self.suppressed, _lower
            else:  # a tenant's list keeps addresses as given and matches them exactly
                entries, fold = self._tenant(tenant_name).suppressed, _exact
        if operation == "PutSuppressedDestination":
            entry = {"Reason": params["Reason"], "LastUpdateTime": time.time()}
            entries[fold(str(params["EmailAddress"]))] = entry
            return {}
        if operation == "ListSuppressedDestinations":
            reasons = params.get("Reason") or []
            rows = [
                {"EmailAddress": email, **entry}
                for email, entry in sorted(entries.items())
                if not reasons or entry["Reason"] in reasons
            ]
            start = int(params.get("NextToken", ["0"])[0])
            page = rows[start : start + 2]
            answer: dict[str, Any] = {"SuppressedDestinationSummaries": page}
            if start + 2 < len(rows):
                answer["NextToken"] = str(start + 2)
            return answer
        key = fold(address or "")
        if key not in entries:
            raise _Answer(
                404,
                "NotFoundException",
                f"Email address ({address}) does not exist on your suppression list.",
            )
        if operation == "DeleteSuppressedDestination":
            del entries[key]
            return {}
        found = {"EmailAddress": address, **entries[key], "Attributes": {}}
        if tenant_name is not None:
            found["TenantName"] = tenant_name
        return {"SuppressedDestination": found}

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


def _lower(address: str) -> str:
    return address.lower()


def _exact(address: str) -> str:
    return address


def _resource(arn: str) -> re.Match[str]:
    match = _RESOURCE_ARN.fullmatch(arn)
    if match is None:
        raise _Answer(
            400,
            "BadRequestException",
            f"<{arn}> is not the ARN of an identity, configuration set or template.",
        )
    return match


# (method, path pattern) -> SES's operation name; the named groups are the URI labels.
_V2_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(pattern), operation)
    for method, pattern, operation in (
        ("POST", "/v2/email/outbound-emails", "SendEmail"),
        ("POST", "/v2/email/outbound-bulk-emails", "SendBulkEmail"),
        ("GET", "/v2/email/account", "GetAccount"),
        ("GET", "/v2/email/configuration-sets/(?P<ConfigurationSetName>[^/]+)", "GetConfigurationSet"),
        ("PUT", "/v2/email/suppression/addresses", "PutSuppressedDestination"),
        ("GET", "/v2/email/suppression/addresses", "ListSuppressedDestinations"),
        ("GET", "/v2/email/suppression/addresses/(?P<EmailAddress>[^/]+)", "GetSuppressedDestination"),
        ("DELETE", "/v2/email/suppression/addresses/(?P<EmailAddress>[^/]+)", "DeleteSuppressedDestination"),
        ("POST", "/v2/email/tenants", "CreateTenant"),
        ("POST", "/v2/email/tenants/get", "GetTenant"),
        ("POST", "/v2/email/tenants/delete", "DeleteTenant"),
        ("POST", "/v2/email/tenants/list", "ListTenants"),
        ("POST", "/v2/email/tenants/resources", "CreateTenantResourceAssociation"),
        ("POST", "/v2/email/tenants/resources/delete", "DeleteTenantResourceAssociation"),
        ("POST", "/v2/email/tenants/resources/list", "ListTenantResources"),
        ("POST", "/v2/email/tenant/suppression", "PutTenantSuppressionAttributes"),
        (
            "PUT",
            "/v2/email/reputation/entities/(?P<ReputationEntityType>[^/]+)/(?P<ReputationEntityReference>[^/]+)/policy",
            "UpdateReputationEntityPolicy",
        ),
        (
            "PUT",
            "/v2/email/reputation/entities/(?P<ReputationEntityType>[^/]+)/(?P<ReputationEntityReference>[^/]+)"
            "/customer-managed-status",
            "UpdateReputationEntityCustomerManagedStatus",
        ),
        (
            "GET",
            "/v2/email/reputation/entities/(?P<ReputationEntityType>[^/]+)/(?P<ReputationEntityReference>[^/]+)",
            "GetReputationEntity",
        ),
    )
)
_TENANT_OPERATIONS = frozenset(
    operation for _, _, operation in _V2_ROUTES if "Tenant" in operation or "ReputationEntity" in operation
)
# SigV4's credential scope names the region; SigV4A's has none (its region set is a header).
_SIGNED_REGION = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/[^/]+/aws4_request")


@attrs.frozen
class _RawV2:
    body: Mapping[str, Any]
    query: Mapping[str, list[str]]
    path: Mapping[str, str]
    headers: Mapping[str, str]


def _route_v2(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    for route_method, pattern, operation in _V2_ROUTES:
        if route_method == method:
            match = pattern.fullmatch(path)
            if match is not None:
                return operation, {k: unquote(v) for k, v in match.groupdict().items()}
    return None


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


def _respond(
    fake: FakeSes,
    method: str,
    path: str,
    body: bytes,
    query: str = "",
    headers: Mapping[str, str] | None = None,
) -> _Response:
    """The answer to one request; raises _Dropped to close the connection instead."""
    if path.startswith("/v2/"):
        return _respond_v2(fake, method, path, body, query, headers or {})
    return _respond_v1(fake, body)


def _respond_v2(
    fake: FakeSes, method: str, path: str, body: bytes, query: str, headers: Mapping[str, str]
) -> _Response:
    request_id = str(uuid.uuid4())
    routed = _route_v2(method, path)
    if routed is None:
        return _Response(404, b'{"message": "unknown operation"}', "application/json", request_id, "NotFound")
    operation, labels = routed
    signed = _SIGNED_REGION.search(headers.get("authorization", ""))
    region = signed.group("region") if signed else "us-east-1"
    body_params: dict[str, Any] = json.loads(body) if body else {}
    query_params = parse_qs(query) if query else {}
    raw = _RawV2(body_params, query_params, labels, dict(headers))
    params: dict[str, Any] = {**body_params, **query_params, **labels}
    try:
        answer = fake.answer_v2(operation, labels, params, region)
    except _Dropped:
        fake._record("v2", operation, params, 0, raw)
        raise
    except _Answer as failure:
        fake._record("v2", operation, params, failure.status, raw)
        payload = json.dumps({"message": failure.message}).encode()
        return _Response(failure.status, payload, "application/json", request_id, failure.code)
    fake._record("v2", operation, params, 200, raw)
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


# Imported on first use by sesflow.testing, which exports these two: that package is their public home.
publish("sesflow.testing", ["FakeSes", "FakeCall"], globals())
