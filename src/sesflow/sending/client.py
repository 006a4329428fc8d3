"""``SesClient``: the synchronous (boto3) transport over the sending core."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, TypeVar

import boto3
import botocore.config

from ..errors import MissingExtra
from . import _core
from ._core import CoreProperties, Exclusive, Flow, ProgressCallback, SendingCore, SendRate, Sleep
from ._requests import Api, Request, service_name, unsupported_by_model
from .errors import SendingError, ValidationError
from .message import AddressesLike, AddressLike, Destination, Email, Template
from .ratelimit import RetryPolicy
from .results import BulkResult, SendQuota, SendResult, SuppressedAddress, TenantInfo

__all__ = ["SesClient", "resolve_api", "client_config", "require_sigv4a"]

T = TypeVar("T")


def resolve_api(api: str | None, client: Any) -> Api:
    """The API version to use: from ``client``'s service when given, else ``api`` (default v2)."""
    if api is not None and api not in ("v1", "v2"):
        raise ValidationError("api", f"api is 'v2' (sesv2, the default) or 'v1' (ses), not {api!r}")
    if client is None:
        return "v1" if api == "v1" else "v2"
    try:
        service = client.meta.service_model.service_name
    except AttributeError:
        raise ValidationError("client", "give a boto3 'sesv2' or 'ses' client") from None
    from_client: Api
    if service == "sesv2":
        from_client = "v2"
    elif service == "ses":
        from_client = "v1"
    else:
        raise ValidationError("client", f"give a boto3 'sesv2' or 'ses' client, not {service!r}")
    if api is not None and api != from_client:
        raise ValidationError("api", f"api={api!r} does not match the {service!r} client given")
    return from_client


def client_config(config: botocore.config.Config | None, *, max_pool_connections: int | None = None) -> Any:
    """botocore options for a client sesflow creates, merged under ``config`` (whose settings win).

    botocore's own retries are off: sesflow retries, paced by its rate limit.
    """
    options: dict[str, Any] = {"retries": {"total_max_attempts": 1}}
    if max_pool_connections is not None:
        options["max_pool_connections"] = max_pool_connections
    base = botocore.config.Config(**options)
    return base.merge(config) if config is not None else base


def require_sigv4a() -> None:
    """Raise ``MissingExtra`` unless botocore can sign with SigV4A (global endpoints need it)."""
    from botocore.compat import HAS_CRT

    if not HAS_CRT:
        raise MissingExtra(
            "endpoint_id (global endpoints are signed with SigV4A, which botocore does through the AWS CRT)",
            "global",
            "awscrt",
        )


def _no_build_options(client: Any, **options: Any) -> None:
    given = sorted(name for name, value in options.items() if value is not None)
    if client is not None and given:
        raise ValidationError(
            "client", f"pass either client= or the options to build one ({', '.join(given)}), not both"
        )


class SesClient(CoreProperties):
    """Send through SES with a configuration set always attached and checked (boto3, synchronous).

    ``SesClient("my-config-set")`` builds a boto3 ``sesv2`` client from the environment; pass ``session=``,
    ``region=``, ``endpoint_url=``, credentials or ``config=`` (as boto3 takes them), or an existing
    ``client=`` (``sesv2`` or ``ses``; its service decides the API version). ``api="v1"`` uses the ``ses``
    API.

    Every send needs a configuration set (the message's own, else ``configuration_set``) unless
    ``allow_no_configuration_set=True``. A set is checked to exist once per ``configuration_set_ttl`` seconds
    (``verify_configuration_set=False`` skips that), raising ``ConfigurationSetNotFound`` before sending.
    ``max_send_rate`` is sends (recipients) per second: ``"account"`` reads it from SES on first use, a number
    sets it, a ``TokenBucket`` is shared with the other senders given it, ``None`` turns
    client-side pacing off. Throttling and transient failures are retried as ``retry``
    says. ``tags`` are added to every message's own tags. Safe to share between threads.

    ``tenant`` is the tenant every send is made for unless the message names its own (``Email.tenant``,
    ``send_bulk(tenant=)``); a tenant is checked to exist like a configuration set (``GetTenant``, cached;
    ``verify_tenant=False`` skips that), raising ``TenantNotFound`` before sending. ``endpoint_id`` sends
    through a global (multi-region) endpoint; it needs the ``global`` extra (SigV4A signing). Both: v2 only.
    """

    def __init__(
        self,
        configuration_set: str | None = None,
        *,
        client: Any = None,
        session: boto3.session.Session | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        config: botocore.config.Config | None = None,
        api: Literal["v2", "v1"] | None = None,
        allow_no_configuration_set: bool = False,
        verify_configuration_set: bool = True,
        configuration_set_ttl: float = 300.0,
        tags: Mapping[str, str] | None = None,
        max_send_rate: SendRate = "account",
        retry: RetryPolicy | None = None,
        tenant: str | None = None,
        verify_tenant: bool = True,
        endpoint_id: str | None = None,
    ) -> None:
        _no_build_options(
            client,
            session=session,
            region=region,
            endpoint_url=endpoint_url,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            config=config,
        )
        resolved = resolve_api(api, client)
        self._core = SendingCore(
            api=resolved,
            configuration_set=configuration_set,
            allow_no_configuration_set=allow_no_configuration_set,
            verify_configuration_set=verify_configuration_set,
            configuration_set_ttl=configuration_set_ttl,
            tags=tags,
            max_send_rate=max_send_rate,
            retry=retry,
            tenant=tenant,
            verify_tenant=verify_tenant,
            endpoint_id=endpoint_id,
        )
        if endpoint_id is not None:
            require_sigv4a()
        self._owns_client = client is None
        if client is None:
            make_client: Any = (session or boto3.session.Session()).client
            client = make_client(
                service_name(resolved),
                region_name=region,
                endpoint_url=endpoint_url,
                aws_access_key_id=aws_access_key_id,
                aws_secret_access_key=aws_secret_access_key,
                aws_session_token=aws_session_token,
                config=client_config(config),
            )
        self._client: Any = client
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # ------------------------------------------------------------------ properties

    @property
    def client(self) -> Any:
        """The underlying boto3 client."""
        return self._client

    # ------------------------------------------------------------------ sending

    def send(self, email: Email) -> SendResult:
        """Send one message: its SES message id and what was attached, or a ``SendingError``."""
        return self._run(self._core.send(email))

    def send_many(self, emails: Iterable[Email]) -> list[SendResult | SendingError]:
        """Send each message in turn; a failure is returned in its place instead of stopping the others.

        Any failure of one message is returned, never raised: an exception that is not a
        ``SendingError`` comes back as a ``SendOutcomeUnknown`` (see the sending guide).
        """
        out: list[SendResult | SendingError] = []
        for email in emails:
            try:
                out.append(self.send(email))
            except Exception as exc:
                out.append(_core.failed_send(exc))
        return out

    def send_bulk(
        self,
        template: Template,
        destinations: Iterable[Destination],
        *,
        sender: AddressLike,
        reply_to: AddressesLike | None = None,
        feedback_address: AddressLike | None = None,
        tags: Mapping[str, str] | None = None,
        configuration_set: str | None = None,
        progress: ProgressCallback | None = None,
        tenant: str | None = None,
    ) -> BulkResult:
        """Send ``template`` to every destination, 50 per call; one result per destination, in order.

        Everything is checked before the first call (including that the configuration set exists). Throttled
        and transiently failed destinations are retried; an error that dooms the rest (missing set or
        template, paused or suspended account, daily quota) stops the run and marks the unsent destinations
        ``NOT_SENT``. ``progress`` is called with a ``BulkProgress`` after each call.
        """
        run = self._core.prepare_bulk(
            template,
            destinations,
            sender=sender,
            reply_to=reply_to,
            feedback_address=feedback_address,
            tags=tags,
            configuration_set=configuration_set,
            progress=progress,
            tenant=tenant,
        )
        self._run(self._core.bulk_start(run))
        for number in range(len(run.chunks)):
            if run.stopped is not None:
                break
            self._run(self._core.bulk_chunk(run, number))
        return run.result()

    def check_configuration_set(self, name: str | None = None) -> None:
        """Ask SES now whether ``name`` (default: the client's) exists; ConfigurationSetNotFound if not."""
        chosen = name if name is not None else self._core.choose_configuration_set(None)
        if chosen is None:
            raise ValidationError("name", "no configuration set to check: pass a name")
        self._run(self._core.check_configuration_set(chosen))

    def get_send_quota(self) -> SendQuota:
        """The account's maximum send rate and 24-hour quota, read from SES."""
        rate, daily = self._run(self._core.read_quota())
        return SendQuota(max_send_rate=rate, max_24_hour_send=daily)

    # ------------------------------------------------------------------ tenants

    def check_tenant(self, name: str | None = None) -> None:
        """Ask SES now whether tenant ``name`` (default: the client's) exists; TenantNotFound if not."""
        chosen = name if name is not None else self._core.tenant
        if chosen is None:
            raise ValidationError("name", "no tenant to check: pass a name")
        self._run(self._core.check_tenant(chosen))

    def get_tenant(self, name: str) -> TenantInfo:
        """What SES knows of tenant ``name`` (``GetTenant``): its id, ARN, sending status, suppression
        preferences and tags; ``TenantNotFound`` when there is no such tenant."""
        return self._run(self._core.get_tenant(name))

    def set_tenant_suppression(
        self, name: str, *, scope: str = "TENANT", reasons: Iterable[str] = ("BOUNCE", "COMPLAINT")
    ) -> None:
        """Set tenant ``name``'s suppression preferences (``PutTenantSuppressionAttributes``): ``scope``
        ``TENANT`` gives it its own list, ``ACCOUNT`` makes it use the account's; ``reasons`` are why SES adds
        addresses to it. Read them back with ``get_tenant`` (``.suppression``)."""
        self._run(self._core.set_tenant_suppression(name, scope, tuple(reasons)))

    # ------------------------------------------------------------------ suppression lists

    def get_suppression(self, address: str, *, tenant: str | None = None) -> SuppressedAddress | None:
        """Whether SES suppresses ``address`` for this account (or for ``tenant``, on its own list): its entry
        on the suppression list, or None."""
        return self._run(self._core.get_suppression(address, tenant))

    def suppress(self, address: str, reason: str = "BOUNCE", *, tenant: str | None = None) -> None:
        """Put ``address`` on the account's suppression list (or ``tenant``'s; ``reason``: ``BOUNCE`` or
        ``COMPLAINT``): SES then bounces every send to it (``OnAccountSuppressionList``) without trying it."""
        self._run(self._core.suppress(address, reason, tenant))

    def unsuppress(self, address: str, *, tenant: str | None = None) -> bool:
        """Take ``address`` off the account's suppression list (or ``tenant``'s); False when it was not on
        it."""
        return self._run(self._core.unsuppress(address, tenant))

    def list_suppressed(
        self,
        *,
        reasons: Iterable[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        tenant: str | None = None,
    ) -> Iterator[SuppressedAddress]:
        """Every address on the account's suppression list (or ``tenant``'s; only ``reasons``, added or
        updated between ``since`` and ``until`` when given), page by page as it is iterated."""
        wanted = tuple(reasons)
        token: str | None = None
        while True:
            page, token = self._run(self._core.list_suppressed_page(wanted, since, until, token, tenant))
            yield from page
            if token is None:
                return

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the boto3 client if this object created it."""
        if self._owns_client:
            close = getattr(self._client, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> SesClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ the effects

    def _run(self, flow: Flow[T]) -> T:
        return _core.run_flow(flow, self._perform)

    def _perform(self, effect: Request | Sleep | Exclusive) -> Any:
        if isinstance(effect, Request):
            if effect.feature is not None:
                gap = unsupported_by_model(effect, self._client)
                if gap is not None:
                    raise gap
            return getattr(self._client, effect.operation)(**effect.params)
        if isinstance(effect, Sleep):
            time.sleep(effect.seconds)
            return None
        with self._lock(effect.key):
            return self._run(effect.flow)

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = threading.Lock()
            return lock
