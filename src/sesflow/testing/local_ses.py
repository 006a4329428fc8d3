"""``LocalSes``: the SES event publishing that moto leaves out, for local runs and integration tests.

moto accepts sends but publishes no events. A ``LocalSes`` watches the sends made against a moto server
(through sesflow's clients, boto3 clients, or sessions it instruments) and, for every accepted message,
publishes the records real SES would publish to the event destinations of the message's configuration set:
SNS topics (so SQS subscribers receive real SNS envelopes through moto), the EventBridge default bus, and
Firehose streams (the NDJSON object lands in the stream's bucket under the expanded
``events/year=YYYY/month=MM/day=DD/`` prefix). Recipients at the mailbox simulator behave as the simulator
does; other addresses are delivered unless configured otherwise, and open and click at the rates you choose.

    with LocalSes(endpoint_url, seed=7) as local:
        ses = local.instrument(SesClient("orders", endpoint_url=endpoint_url, max_send_rate=None))
        ses.send(Email(...to="bounce@simulator.amazonses.com"...))
        # the Send and Bounce records are now on the set's SNS topic
"""

from __future__ import annotations

import copy
import gzip
import json
import logging
import random
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

import attrs
import boto3
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import BotoCoreError, ClientError

from .._public import publish
from ..errors import MissingExtra, SesflowError
from ..events import EventType, SesEvent, parse_event
from ..sources.eventbridge import EVENTBRIDGE_DETAIL_TYPES
from ._local_core import (
    EICAR_TEST_STRING,
    SIMULATOR_DOMAIN,
    DestinationKind,
    LocalDestination,
    Outcome,
    SentMessage,
    Simulator,
    firehose_key,
    firehose_row,
    messages_from_request,
    paused_tenant_error,
    sending_status_detail,
    simulator_outcome,
    tenant_arn,
)

if TYPE_CHECKING:
    from ..sending import SesClient

__all__ = [
    "EICAR_TEST_STRING",
    "SIMULATOR_DOMAIN",
    "DestinationKind",
    "LocalDestination",
    "LocalSes",
    "LocalSesError",
    "Outcome",
    "Publication",
    "SentMessage",
    "simulator_outcome",
]

log = logging.getLogger("sesflow.testing.local_ses")

T = TypeVar("T")

_SEND_OPERATIONS: Final = frozenset(
    {"SendEmail", "SendRawEmail", "SendTemplatedEmail", "SendBulkTemplatedEmail", "SendBulkEmail"}
)
_TENANT_OPERATIONS: Final = ("SendEmail", "SendBulkEmail")  # the v2 sends that take TenantName
_DESTINATION_OPERATIONS: Final = frozenset(
    {
        "CreateConfigurationSetEventDestination",
        "UpdateConfigurationSetEventDestination",
        "DeleteConfigurationSetEventDestination",
        "DeleteConfigurationSet",
    }
)
_MISSING_SET_CODES: Final = (
    "ConfigurationSetDoesNotExist",
    "ConfigurationSetDoesNotExistException",
    "NotFoundException",
)
_EVENTBRIDGE_DETAIL_TYPES: Final[Mapping[EventType, str]] = {
    t: d for d, t in EVENTBRIDGE_DETAIL_TYPES.items()
}
_ALL_TYPES: Final = frozenset(EventType)
_KEY_ID: Final = "testing"
_SECRET: Final = "testing"  # noqa: S105 - moto accepts any credentials


class LocalSesError(SesflowError):
    """LocalSes could not do what it was asked: publish to a destination that is gone, instrument something
    that is not an SES client, or read the server."""


@attrs.frozen
class Publication:
    """One record LocalSes published to one destination."""

    event_type: EventType
    message_id: str
    destination: LocalDestination
    record: dict[str, Any] = attrs.field(eq=False, repr=False)


_loader_lock = threading.Lock()
_shared_loader: Any = None


def _fresh_session(region: str) -> boto3.session.Session:
    """A boto3 session with dummy credentials; every one shares one botocore data loader, so the service
    models are read from disk once per process however many LocalSes are made (a test suite makes many)."""
    import botocore.session

    global _shared_loader
    core = botocore.session.get_session()
    with _loader_lock:
        if _shared_loader is None:
            _shared_loader = core.get_component("data_loader")
        else:
            core.register_component("data_loader", _shared_loader)
    return boto3.session.Session(
        aws_access_key_id=_KEY_ID, aws_secret_access_key=_SECRET, region_name=region, botocore_session=core
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class LocalSes:
    """Publishes the SES events of the sends made against a moto server (``endpoint_url``).

    Args:
        endpoint_url: the moto server (``ThreadedMotoServer`` or ``moto_server``), e.g.
            ``http://127.0.0.1:5000``.
        region: the region of the server's resources (default ``us-east-1``).
        seed: seeds every random choice (timings, opens, clicks, ids), so a run can be repeated exactly.
        open_rate: the chance (0 to 1) that a delivered recipient opens the message. Only messages with an
            HTML body open; mailbox-simulator addresses never do. As with SES, a set publishes Open and
            Click events only if one of its destinations asks for them.
        click_rate: the chance (0 to 1) that a delivered recipient clicks one of the message's tracked
            links (``http(s)`` anchors without ``ses:no-track``).
        outcomes: the ``Outcome`` of addresses that are not the mailbox simulator's, by address
            (``"jane@example.com"``) or domain (``"@example.org"``); ``default_outcome`` for the others
            (delivered).
        clock: gives the send time (default: now, UTC); event times follow it by realistic delays.
        account_id: the account in ARNs and ``mail.sendingAccountId`` (default: asked of the server's STS).
        source_ip: the ``ses:source-ip`` tag of every record.
        caller_identity: the ``ses:caller-identity`` tag of every record.
        session: the boto3 session LocalSes publishes with (default: one with dummy credentials).

    Sends are seen through ``instrument`` (an ``SesClient``, an open ``AsyncSesClient``, a boto3 or
    aiobotocore ``ses``/``sesv2`` client, or a boto3, aiobotocore or aioboto3 session before it makes its
    clients), and through what ``client``, ``session``, ``ses_client``, ``async_session`` and
    ``aioboto3_session`` hand out.
    Sends without a configuration set, to a set the server does not know, or to a set without destinations,
    publish nothing, as with SES. Use it as a context manager (or call ``close``) to remove its hooks.

    Tenants: a v2 send that names a tenant (``TenantName``) publishes events whose ``mail.tags`` carry
    ``ses:tenant-name``. ``pause_tenant`` and ``resume_tenant`` change a tenant's sending status as
    SES's reputation policy or the account would: LocalSes puts the ``Sending Status Disabled`` / ``Enabled``
    event on the server's default EventBridge bus, and refuses an observed send for a paused tenant with SES
    v2's ``SendingPausedException`` before it reaches the server.
    """

    def __init__(
        self,
        endpoint_url: str,
        *,
        region: str = "us-east-1",
        seed: int | None = None,
        open_rate: float = 0.0,
        click_rate: float = 0.0,
        outcomes: Mapping[str, Outcome | str] | None = None,
        default_outcome: Outcome | str = Outcome.DELIVERED,
        clock: Callable[[], datetime] | None = None,
        account_id: str | None = None,
        source_ip: str = "127.0.0.1",
        caller_identity: str = "local-ses",
        session: boto3.session.Session | None = None,
    ) -> None:
        for name, rate in (("open_rate", open_rate), ("click_rate", click_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} is a probability between 0 and 1, not {rate!r}")
        self.endpoint_url = endpoint_url
        self.region = region
        self._clock = clock or (lambda: datetime.now(UTC))
        self._rng = random.Random(seed)  # noqa: S311 - simulation, not security
        self._simulator = Simulator(
            self._rng,
            region=region,
            source_ip=source_ip,
            caller_identity=caller_identity,
            open_rate=open_rate,
            click_rate=click_rate,
            outcomes={k.lower(): Outcome(v) for k, v in (outcomes or {}).items()},
            default_outcome=Outcome(default_outcome),
        )
        self._account_id = account_id
        self._session = session or _fresh_session(region)
        self._instrumented_session: boto3.session.Session | None = None
        self._clients: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._uid = uuid.uuid4().hex
        self._context_key = f"sesflow.local_ses.{self._uid}"
        self._hooked: list[Any] = []
        self._registry: dict[tuple[str, str], LocalDestination | None] = {}
        self._messages: list[SentMessage] = []
        self._publications: list[Publication] = []
        self._paused: dict[str, str] = {}  # paused tenant -> the cause
        self._tenant_ids: dict[str, str] = {}
        self._status_events: list[dict[str, Any]] = []
        self._closed = False

    # ------------------------------------------------------------------ what it hands out

    def client(self, service: str, **options: Any) -> Any:
        """A boto3 client of ``service`` on the server; ``ses`` and ``sesv2`` clients are observed."""
        options.setdefault("region_name", self.region)
        client = self.session().client(service, endpoint_url=self.endpoint_url, **options)  # type: ignore[call-overload]
        return client

    def session(self) -> boto3.session.Session:
        """A boto3 session whose ``ses``/``sesv2`` clients are all observed (made after this call): give it to
        a ``Provisioner`` so that the destinations it creates are known exactly."""
        with self._lock:
            if self._instrumented_session is None:
                session = _fresh_session(self.region)
                self._hook(session.events)
                self._instrumented_session = session
            return self._instrumented_session

    def async_session(self) -> Any:
        """An aiobotocore session whose clients are observed: ``AsyncSesClient(..., session=...)``.
        Needs the ``async`` extra."""
        from .._aio import new_session

        session = new_session("LocalSes.async_session")
        session.set_credentials(_KEY_ID, _SECRET)
        session.set_config_variable("region", self.region)
        self._hook(session)  # an aiobotocore session registers event hooks itself
        return session

    def aioboto3_session(self) -> Any:
        """An ``aioboto3.Session`` whose clients are observed, for apps that use aioboto3 (which the
        ``async`` extra no longer installs: ``async_session`` needs only the extra)."""
        try:
            import aioboto3
        except ImportError as exc:
            raise LocalSesError(
                "LocalSes.aioboto3_session needs aioboto3, which sesflow does not install: pip install "
                "aioboto3, or use local.async_session() (aiobotocore, the 'async' extra)"
            ) from exc
        session = aioboto3.Session(
            aws_access_key_id=_KEY_ID, aws_secret_access_key=_SECRET, region_name=self.region
        )
        self._hook(session.events)
        return session

    def ses_client(
        self, configuration_set: str | None = None, *, api: Literal["v2", "v1"] = "v2", **options: Any
    ) -> SesClient:
        """An observed ``SesClient`` on the server (no client-side rate limit unless
        ``max_send_rate=`` is given; other options as ``SesClient`` takes them)."""
        from ..sending import SesClient

        options.setdefault("max_send_rate", None)
        return SesClient(configuration_set, client=self.client("sesv2" if api == "v2" else "ses"), **options)

    def instrument(self, target: T) -> T:
        """Observe the sends made through ``target`` from now on; returns ``target``.

        ``target`` is an ``SesClient``, an open ``AsyncSesClient``, a boto3 or
        aiobotocore ``ses``/``sesv2`` client, or a boto3, aiobotocore or aioboto3 session (its clients made
        afterwards).
        Instrumenting twice is harmless.
        """
        from ..sending import AsyncSesClient, SesClient

        subject: Any = target
        if isinstance(subject, SesClient | AsyncSesClient):
            inner = subject.client
            if inner is None:
                raise LocalSesError(
                    "this AsyncSesClient is not open yet: instrument it inside 'async with', or build it "
                    "with session=local.async_session()"
                )
            subject = inner
        meta = getattr(subject, "meta", None)
        if meta is not None and hasattr(meta, "events") and hasattr(meta, "service_model"):
            service = meta.service_model.service_name
            if service not in ("ses", "sesv2"):
                raise LocalSesError(f"LocalSes observes 'ses' and 'sesv2' clients, not {service!r} ones")
            self._hook(meta.events)
        elif hasattr(subject, "events") and hasattr(subject, "client"):
            self._hook(subject.events)
        elif hasattr(subject, "create_client") and hasattr(subject, "register"):
            self._hook(subject)  # a botocore / aiobotocore session
        else:
            raise LocalSesError(
                f"cannot observe a {type(target).__name__}: give an SesClient, AsyncSesClient, an ses/sesv2 "
                "client or a boto3, aiobotocore or aioboto3 session"
            )
        return target

    # ------------------------------------------------------------------ destinations

    def add_destination(
        self,
        configuration_set: str,
        name: str,
        *,
        topic_arn: str | None = None,
        delivery_stream_arn: str | None = None,
        event_bus: str | None = None,
        event_types: Iterable[EventType | str] = _ALL_TYPES,
        enabled: bool = True,
    ) -> LocalDestination:
        """Publish the set's events to a destination that is not on the server.

        Give one of ``topic_arn`` (SNS), ``delivery_stream_arn`` (Firehose) or ``event_bus`` (EventBridge:
        ``"default"`` or the bus ARN; moto has no SES v2 API, where EventBridge destinations live). Replaces
        a destination of the same name. The configuration set itself must exist on the server.
        """
        given = [
            (k, t)
            for k, t in (
                (DestinationKind.SNS, topic_arn),
                (DestinationKind.FIREHOSE, delivery_stream_arn),
                (DestinationKind.EVENTBRIDGE, event_bus),
            )
            if t
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of topic_arn, delivery_stream_arn and event_bus")
        kind, target = given[0]
        types = frozenset(EventType(t) for t in event_types)
        if not types:
            raise ValueError("a destination needs at least one event type")
        destination = LocalDestination(configuration_set, name, kind, target, types, enabled)
        with self._lock:
            self._registry[(configuration_set, name)] = destination
        return destination

    def remove_destination(self, configuration_set: str, name: str) -> None:
        """Stop publishing to the destination ``name`` of ``configuration_set`` (wherever it was defined)."""
        with self._lock:
            self._registry[(configuration_set, name)] = None

    def destinations(self, configuration_set: str) -> list[LocalDestination] | None:
        """The destinations events of ``configuration_set`` go to: the server's, with those LocalSes saw
        created or was given; None if the server has no such set.

        moto keeps only one v1 destination per set (and destination names across all sets), so the ones
        created through observed clients are remembered here in full.
        """
        try:
            answer = self._internal("ses").describe_configuration_set(
                ConfigurationSetName=configuration_set, ConfigurationSetAttributeNames=["eventDestinations"]
            )
        except ClientError as exc:
            if _code(exc) in _MISSING_SET_CODES:
                return None
            raise LocalSesError(f"could not read configuration set {configuration_set!r}: {exc}") from exc
        found = {
            d["Name"]: LocalDestination.from_api(configuration_set, d["Name"], d)
            for d in answer.get("EventDestinations") or ()
        }
        merged: dict[str, LocalDestination] = {k: v for k, v in found.items()}
        with self._lock:
            for (cs, name), destination in self._registry.items():
                if cs != configuration_set:
                    continue
                if destination is None:
                    merged.pop(name, None)
                else:
                    merged[name] = destination
        return list(merged.values())

    # ------------------------------------------------------------------ what happened

    @property
    def messages(self) -> list[SentMessage]:
        """Every accepted message seen so far, in order (published to or not)."""
        with self._lock:
            return list(self._messages)

    @property
    def publications(self) -> list[Publication]:
        """Every record published, once per destination it went to, in order."""
        with self._lock:
            return list(self._publications)

    def records(
        self, *, event_type: EventType | str | None = None, configuration_set: str | None = None
    ) -> list[dict[str, Any]]:
        """The records published (each once, however many destinations it went to), optionally only those of
        one event type or configuration set."""
        wanted = None if event_type is None else EventType(event_type)
        seen: set[int] = set()
        out = []
        for publication in self.publications:
            if id(publication.record) in seen:
                continue
            if wanted is not None and publication.event_type != wanted:
                continue
            if (
                configuration_set is not None
                and publication.destination.configuration_set != configuration_set
            ):
                continue
            seen.add(id(publication.record))
            out.append(publication.record)
        return out

    def events(
        self, *, event_type: EventType | str | None = None, configuration_set: str | None = None
    ) -> list[SesEvent]:
        """``records``, parsed."""
        out = []
        for record in self.records(event_type=event_type, configuration_set=configuration_set):
            event = parse_event(record)
            assert isinstance(event, SesEvent)
            out.append(event)
        return out

    # ------------------------------------------------------------------ tenants

    def pause_tenant(
        self, tenant: str, *, cause: str = "Status manually updated.", origin: str = "CUSTOMER_MANAGED"
    ) -> dict[str, Any]:
        """Pause ``tenant``'s sending: observed sends for it are refused from now on, and SES's
        ``Sending Status Disabled`` event goes to the default EventBridge bus (returned as put there).

        ``origin`` ``"AWS_MANAGED"`` plays SES's reputation policy pausing the tenant; the default is the
        account pausing it (``UpdateReputationEntityCustomerManagedStatus``).
        """
        with self._lock:
            self._paused[tenant] = cause
        return self._put_status(tenant, "DISABLED", cause, origin)

    def resume_tenant(
        self, tenant: str, *, cause: str = "Status manually updated.", origin: str = "CUSTOMER_MANAGED"
    ) -> dict[str, Any]:
        """Resume ``tenant``'s sending and put SES's ``Sending Status Enabled`` event on the default bus."""
        with self._lock:
            self._paused.pop(tenant, None)
        return self._put_status(tenant, "ENABLED", cause, origin)

    @property
    def paused_tenants(self) -> frozenset[str]:
        """The tenants whose sending is paused (by ``pause_tenant``)."""
        with self._lock:
            return frozenset(self._paused)

    @property
    def status_events(self) -> list[dict[str, Any]]:
        """The EventBridge events ``pause_tenant`` and ``resume_tenant`` put on the bus, in order
        (EventBridge gives the delivered copies their own ``id``)."""
        with self._lock:
            return list(self._status_events)

    def tenant_arn(self, tenant: str) -> str:
        """The ARN LocalSes gives ``tenant`` in its events: ``...:tenant/<name>/<id>`` (the id made once)."""
        with self._lock:
            tenant_id = self._tenant_ids.get(tenant)
            if tenant_id is None:
                tenant_id = self._tenant_ids[tenant] = f"tn-{self._rng.getrandbits(116):029x}"
        return tenant_arn(self.region, self.account_id, tenant, tenant_id)

    def _put_status(self, tenant: str, status: str, cause: str, origin: str) -> dict[str, Any]:
        detail_type = "Sending Status Disabled" if status == "DISABLED" else "Sending Status Enabled"
        at = self._clock()
        event = {
            "version": "0",
            "id": str(uuid.UUID(int=self._rng.getrandbits(128))),
            "detail-type": detail_type,
            "source": "aws.ses",
            "account": self.account_id,
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [self.tenant_arn(tenant)],
            "detail": sending_status_detail(status, cause=cause, origin=origin, at=at),
        }
        entry = {
            "Source": "aws.ses",
            "DetailType": detail_type,
            "Detail": json.dumps(event["detail"]),
            "Resources": event["resources"],
            "EventBusName": "default",
        }
        try:
            answer = self._internal("events").put_events(Entries=[entry])
        except (ClientError, BotoCoreError) as exc:
            raise LocalSesError(
                f"putting {detail_type!r} for tenant {tenant!r} on the default bus failed: {exc}"
            ) from exc
        if answer.get("FailedEntryCount"):
            raise LocalSesError(
                f"EventBridge refused {detail_type!r} for tenant {tenant!r}: {answer.get('Entries')}"
            )
        with self._lock:
            self._status_events.append(event)
        return event

    def clear(self) -> None:
        """Forget the messages and publications seen so far (destinations are kept)."""
        with self._lock:
            self._messages.clear()
            self._publications.clear()

    # ------------------------------------------------------------------ observing

    def observe(
        self, service: str, operation: str, params: Mapping[str, Any], response: Mapping[str, Any]
    ) -> list[Publication]:
        """Act on one successful SES call: ``service`` ``"ses"`` or ``"sesv2"``, the API ``operation``
        (``SendEmail`` ...), the request ``params`` as boto3 took them and the ``response``.

        The hooks call this; call it yourself for a send LocalSes could not see. Sends publish their events
        (returned); event-destination calls update what LocalSes knows of the set's destinations.
        """
        if operation in _DESTINATION_OPERATIONS:
            self._track_destination(operation, params)
            return []
        if operation not in _SEND_OPERATIONS:
            return []
        messages = messages_from_request(service, operation, params, response, self._template)
        out: list[Publication] = []
        for message in messages:
            out.extend(self._publish_message(message))
        return out

    def _track_destination(self, operation: str, params: Mapping[str, Any]) -> None:
        configuration_set = str(params.get("ConfigurationSetName", ""))
        with self._lock:
            if operation == "DeleteConfigurationSet":
                for key in [k for k in self._registry if k[0] == configuration_set]:
                    del self._registry[key]
                return
            if operation == "DeleteConfigurationSetEventDestination":
                self._registry[(configuration_set, str(params.get("EventDestinationName", "")))] = None
                return
            spec = params.get("EventDestination") or {}
            name = str(params.get("EventDestinationName") or spec.get("Name") or "")
            self._registry[(configuration_set, name)] = LocalDestination.from_api(
                configuration_set, name, spec
            )

    def _template(self, name: str) -> Mapping[str, str | None] | None:
        try:
            found = self._internal("sesv2").get_email_template(TemplateName=name)["TemplateContent"]
            return {"subject": found.get("Subject"), "text": found.get("Text"), "html": found.get("Html")}
        except (ClientError, BotoCoreError):
            pass  # moto has no v2 templates: v1 keeps them
        try:
            template = self._internal("ses").get_template(TemplateName=name)["Template"]
        except (ClientError, BotoCoreError):
            log.warning("template %r is not on the server: its events carry no subject or links", name)
            return None
        return {
            "subject": template.get("SubjectPart"),
            "text": template.get("TextPart"),
            "html": template.get("HtmlPart"),
        }

    def _publish_message(self, message: SentMessage) -> list[Publication]:
        with self._lock:
            self._messages.append(message)
        if message.configuration_set is None:
            log.debug(
                "message %s names no configuration set: SES publishes no events for it", message.message_id
            )
            return []
        destinations = self.destinations(message.configuration_set)
        if destinations is None:
            log.warning(
                "message %s names configuration set %r, which the server does not have: SES would have "
                "refused the send; nothing is published",
                message.message_id,
                message.configuration_set,
            )
            return []
        destinations = [d for d in destinations if d.enabled and d.kind is not DestinationKind.CLOUDWATCH]
        if not destinations:
            return []
        with self._lock:
            self._simulator.account_id = self.account_id
            records = self._simulator.records(message, self._clock())
        out: list[Publication] = []
        for destination in destinations:
            chosen = [(t, r) for t, r in records if destination.wants(t)]
            if not chosen:
                continue
            self._deliver(destination, chosen)
            out.extend(Publication(t, message.message_id, destination, r) for t, r in chosen)
        with self._lock:
            self._publications.extend(out)
        return out

    # ------------------------------------------------------------------ publishing

    @property
    def account_id(self) -> str:
        """The account id in ARNs and records (asked of the server's STS once, unless given)."""
        if self._account_id is None:
            try:
                self._account_id = str(self._internal("sts").get_caller_identity()["Account"])
            except (ClientError, BotoCoreError):
                self._account_id = "123456789012"
        return self._account_id

    def _internal(self, service: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = self._clients[service] = self._session.client(
                    service,  # type: ignore[call-overload]
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                )
            return client

    def _deliver(
        self, destination: LocalDestination, records: list[tuple[EventType, dict[str, Any]]]
    ) -> None:
        try:
            if destination.kind is DestinationKind.SNS:
                for _, record in records:
                    self._internal("sns").publish(TopicArn=destination.target, Message=json.dumps(record))
            elif destination.kind is DestinationKind.EVENTBRIDGE:
                self._put_events(destination, records)
            elif destination.kind is DestinationKind.FIREHOSE:
                self._put_firehose_object(destination, records)
        except (ClientError, BotoCoreError) as exc:
            raise LocalSesError(
                f"publishing to event destination {destination.name!r} of configuration set "
                f"{destination.configuration_set!r} ({destination.kind.value} {destination.target}) failed: "
                f"{exc}; check that the destination's target exists on the server"
            ) from exc

    def _put_events(
        self, destination: LocalDestination, records: list[tuple[EventType, dict[str, Any]]]
    ) -> None:
        resources = [
            f"arn:aws:ses:{self.region}:{self.account_id}:configuration-set/{destination.configuration_set}"
        ]
        entries = [
            {
                "Source": "aws.ses",
                "DetailType": _EVENTBRIDGE_DETAIL_TYPES.get(event_type, f"Email {event_type.value}"),
                "Detail": json.dumps(record),
                "Resources": resources,
                "EventBusName": destination.target or "default",
            }
            for event_type, record in records
        ]
        for start in range(0, len(entries), 10):
            answer = self._internal("events").put_events(Entries=entries[start : start + 10])
            if answer.get("FailedEntryCount"):
                raise LocalSesError(
                    f"EventBridge refused {answer['FailedEntryCount']} events for destination "
                    f"{destination.name!r}: {answer.get('Entries')}"
                )

    def _put_firehose_object(
        self, destination: LocalDestination, records: list[tuple[EventType, dict[str, Any]]]
    ) -> None:
        stream_name = (destination.target or "").rpartition("/")[2]
        description = self._internal("firehose").describe_delivery_stream(DeliveryStreamName=stream_name)
        targets = description["DeliveryStreamDescription"].get("Destinations") or [{}]
        s3 = (
            targets[0].get("ExtendedS3DestinationDescription")
            or targets[0].get("S3DestinationDescription")
            or {}
        )
        bucket = str(s3.get("BucketARN", "")).rpartition(":")[2]
        if not bucket:
            raise LocalSesError(
                f"delivery stream {stream_name!r} does not write to S3: LocalSes can only fill S3"
            )
        conversion = s3.get("DataFormatConversionConfiguration") or {}
        parquet = bool(conversion) and conversion.get("Enabled", True) is not False
        compressed = str(s3.get("CompressionFormat", "UNCOMPRESSED")).upper() == "GZIP"
        if parquet:
            body = self._parquet_object(stream_name, conversion, [record for _, record in records])
        else:
            body = b"".join(json.dumps(record).encode("utf-8") + b"\n" for _, record in records)
            body = gzip.compress(body, mtime=0) if compressed else body
        with self._lock:
            key = firehose_key(
                str(s3.get("Prefix", "")),
                stream_name,
                self._clock(),
                self._rng,
                gzip=compressed and not parquet,
                parquet=parquet,
            )
        self._internal("s3").put_object(Bucket=bucket, Key=key, Body=body)

    def _parquet_object(
        self, stream_name: str, conversion: Mapping[str, Any], records: list[dict[str, Any]]
    ) -> bytes:
        """The Parquet object Firehose's record format conversion would write for ``records``: rows of the
        Glue table the stream names (read from the server), deserialized as its configuration says."""
        from ..analytics.parquet import rows_to_parquet
        from ..analytics.schema import Field, Struct, parse_glue_type

        where = conversion.get("SchemaConfiguration") or {}
        database, table_name = where.get("DatabaseName"), where.get("TableName")
        try:
            table = self._internal("glue").get_table(DatabaseName=database, Name=table_name)["Table"]
        except (ClientError, BotoCoreError) as exc:
            raise LocalSesError(
                f"delivery stream {stream_name!r} converts records with the Glue table "
                f"{database}.{table_name}, which the server cannot give: {exc}"
            ) from exc
        serializer = (conversion.get("OutputFormatConfiguration") or {}).get("Serializer") or {}
        if "ParquetSerDe" not in serializer:
            raise LocalSesError(
                f"delivery stream {stream_name!r} converts to ORC; LocalSes writes Parquet only"
            )
        deserializer = (conversion.get("InputFormatConfiguration") or {}).get("Deserializer") or {}
        openx = deserializer.get("OpenXJsonSerDe")
        columns = table.get("StorageDescriptor", {}).get("Columns") or []
        try:
            schema = Struct(tuple(Field(c["Name"].lower(), parse_glue_type(c["Type"])) for c in columns))
        except ValueError as exc:
            raise LocalSesError(
                f"the Glue table {database}.{table_name} has a type LocalSes cannot write: {exc}"
            ) from exc
        if openx is not None:
            case_insensitive = openx.get("CaseInsensitive", True) is not False
            mappings = openx.get("ColumnToJsonKeyMappings") or {}
            lower_map_keys = case_insensitive
        else:  # the Hive JSON SerDe matches names without case and keeps map keys as written
            case_insensitive, mappings, lower_map_keys = True, {}, False
        rows = [
            firehose_row(
                record,
                schema,
                case_insensitive=case_insensitive,
                mappings=mappings,
                lower_map_keys=lower_map_keys,
            )
            for record in records
        ]
        compression = str(serializer["ParquetSerDe"].get("Compression", "SNAPPY")).lower()
        if compression not in ("snappy", "gzip", "uncompressed"):
            raise LocalSesError(
                f"delivery stream {stream_name!r} asks for Parquet compression {compression!r}"
            )
        try:
            with tempfile.TemporaryDirectory(prefix="sesflow-local-ses-") as folder:
                path = Path(folder) / "object.parquet"
                rows_to_parquet(rows, schema, path, compression=compression)  # type: ignore[arg-type]
                return path.read_bytes()
        except MissingExtra as exc:
            raise MissingExtra(
                "LocalSes writing Parquet (Firehose record format conversion)", "analytics", "duckdb"
            ) from exc

    # ------------------------------------------------------------------ the hooks

    def _hook(self, emitter: Any) -> None:
        with self._lock:
            for service in ("ses", "sesv2"):
                emitter.register(
                    f"before-parameter-build.{service}",
                    self._before,
                    unique_id=f"{self._uid}-before-{service}",
                )
                emitter.register(
                    f"after-call.{service}", self._after, unique_id=f"{self._uid}-after-{service}"
                )
            for operation in _TENANT_OPERATIONS:
                emitter.register(
                    f"before-call.sesv2.{operation}",
                    self._refuse_paused,
                    unique_id=f"{self._uid}-paused-{operation}",
                )
            if all(e is not emitter for e in self._hooked):
                self._hooked.append(emitter)

    def _before(self, params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if self._closed:
            return
        if model.name in _SEND_OPERATIONS or model.name in _DESTINATION_OPERATIONS:
            context[self._context_key] = copy.deepcopy(dict(params))

    def _refuse_paused(self, context: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        """Answer a v2 send for a paused tenant as SES does, without sending it (``before-call`` handlers
        that return a response replace the request)."""
        params = context.get(self._context_key)
        tenant = params.get("TenantName") if isinstance(params, dict) and not self._closed else None
        with self._lock:
            paused = isinstance(tenant, str) and tenant in self._paused
        if not paused:
            return None
        context.pop(self._context_key, None)  # nothing was sent: after-call has nothing to publish
        assert isinstance(tenant, str)
        log.info("refusing a send for paused tenant %r", tenant)
        return AWSResponse(self.endpoint_url, 400, HTTPHeaders(), None), paused_tenant_error(tenant)

    def _after(
        self,
        http_response: Any,
        parsed: Mapping[str, Any],
        model: Any,
        context: dict[str, Any],
        event_name: str,
        **_: Any,
    ) -> None:
        params = context.pop(self._context_key, None)
        if params is None or self._closed:
            return
        status = getattr(http_response, "status_code", 200)
        if status >= 300:
            return
        service = event_name.split(".")[1]
        self.observe(service, model.name, params, parsed)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Remove the hooks (instrumented clients go back to plain sends) and close LocalSes's clients."""
        with self._lock:
            self._closed = True
            for emitter in self._hooked:
                for service in ("ses", "sesv2"):
                    emitter.unregister(
                        f"before-parameter-build.{service}", unique_id=f"{self._uid}-before-{service}"
                    )
                    emitter.unregister(f"after-call.{service}", unique_id=f"{self._uid}-after-{service}")
                for operation in _TENANT_OPERATIONS:
                    emitter.unregister(
                        f"before-call.sesv2.{operation}", unique_id=f"{self._uid}-paused-{operation}"
                    )
            self._hooked.clear()
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def __enter__(self) -> LocalSes:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        counts = f"messages={len(self._messages)}, published={len(self._publications)}"
        return f"LocalSes({self.endpoint_url!r}, {counts})"


# Imported on first use by sesflow.testing, which exports all of it: that package is its public home.
publish("sesflow.testing", __all__, globals())
