"""``AsyncSesClient``: the asyncio (aiobotocore) transport over the sending core (the ``async`` extra)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, TypeVar

import botocore.config

from .._aio import client_context, new_session, session_problem
from . import _core
from ._core import CoreProperties, Exclusive, Flow, ProgressCallback, SendingCore, SendRate, Sleep
from ._requests import Request, service_name, unsupported_by_model
from .client import _no_build_options, client_config, require_sigv4a, resolve_api
from .errors import ClientNotOpen, SendingError, ValidationError
from .message import AddressesLike, AddressLike, Destination, Email, Template
from .ratelimit import RetryPolicy
from .results import BulkResult, SendQuota, SendResult, SuppressedAddress, TenantInfo

__all__ = ["AsyncSesClient"]

T = TypeVar("T")


class AsyncSesClient(CoreProperties):
    """Send through SES with a configuration set always attached and checked (aiobotocore, asyncio).

    Takes the same options as ``SesClient`` (``session=`` is an aiobotocore ``AioSession`` or an
    ``aioboto3.Session``, ``client=`` an aiobotocore ``sesv2``/``ses`` client that is already open, as an
    aioboto3 session's ``client()`` opens it too), plus ``max_concurrency``: how many API calls
    may be in flight at once across all sends of this client. Open it before use and close it after:

        async with AsyncSesClient("my-config-set") as ses:
            result = await ses.send(email)

    Concurrent sends (``asyncio.gather``, ``send_many``, the chunks of ``send_bulk``) share one rate
    limit, one configuration-set (and tenant) check and one connection pool. ``tenant``, ``verify_tenant`` and
    ``endpoint_id`` are as for ``SesClient``.
    """

    def __init__(
        self,
        configuration_set: str | None = None,
        *,
        client: Any = None,
        session: Any = None,
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
        max_concurrency: int = 50,
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
        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ValidationError("max_concurrency", "is a whole number of calls in flight, at least 1")
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
        self._client: Any = client
        self._client_context: Any = None
        self._session: Any = None
        self._client_kwargs: dict[str, Any] = {}
        if session is not None:
            problem = session_problem(session)
            if problem is not None:
                raise ValidationError("session", problem)
        if client is None:
            self._session = session if session is not None else new_session("AsyncSesClient")
            self._client_kwargs = {
                "region_name": region,
                "endpoint_url": endpoint_url,
                "aws_access_key_id": aws_access_key_id,
                "aws_secret_access_key": aws_secret_access_key,
                "aws_session_token": aws_session_token,
                "config": client_config(config, max_pool_connections=max_concurrency),
            }
        self._max_concurrency = max_concurrency
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._locks: dict[str, asyncio.Lock] = {}

    # ------------------------------------------------------------------ properties

    @property
    def client(self) -> Any:
        """The underlying aiobotocore client (None until opened)."""
        return self._client

    @property
    def max_concurrency(self) -> int:
        """How many API calls may be in flight at once."""
        return self._max_concurrency

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> AsyncSesClient:
        """Create the aiobotocore client (when this object builds it). ``async with`` calls this."""
        if self._client is None:
            context = client_context(self._session, service_name(self._core.api), **self._client_kwargs)
            self._client = await context.__aenter__()
            self._client_context = context
        return self

    async def close(self) -> None:
        """Close the aiobotocore client if this object created it."""
        context, self._client_context = self._client_context, None
        if context is not None:
            self._client = None
            await context.__aexit__(None, None, None)

    async def __aenter__(self) -> AsyncSesClient:
        return await self.open()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ sending

    async def send(self, email: Email) -> SendResult:
        """Send one message: its SES message id and what was attached, or a ``SendingError``."""
        return await self._run(self._core.send(email))

    async def send_many(self, emails: Iterable[Email]) -> list[SendResult | SendingError]:
        """Send the messages concurrently (up to ``max_concurrency`` calls at once); results in input order.

        A failure is returned in its message's place instead of stopping the others (as with
        ``SesClient.send_many``, an unexpected exception comes back as a ``SendOutcomeUnknown``).
        """

        async def one(email: Email) -> SendResult | SendingError:
            try:
                return await self.send(email)
            except Exception as exc:
                return _core.failed_send(exc)

        return list(await asyncio.gather(*(one(email) for email in emails)))

    async def send_bulk(
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
        """Send ``template`` to every destination, 50 per call, calls running concurrently; see
        ``SesClient.send_bulk``."""
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
        await self._run(self._core.bulk_start(run))
        # A chunk starts only when a slot is free, so one that would start after the run stopped never sends.
        slots = asyncio.Semaphore(self._max_concurrency)

        async def chunk(number: int) -> None:
            async with slots:
                await self._run(self._core.bulk_chunk(run, number))

        await asyncio.gather(*(chunk(number) for number in range(len(run.chunks))))
        return run.result()

    async def check_configuration_set(self, name: str | None = None) -> None:
        """Ask SES now whether ``name`` (default: the client's) exists; ConfigurationSetNotFound if not."""
        chosen = name if name is not None else self._core.choose_configuration_set(None)
        if chosen is None:
            raise ValidationError("name", "no configuration set to check: pass a name")
        await self._run(self._core.check_configuration_set(chosen))

    async def get_send_quota(self) -> SendQuota:
        """The account's maximum send rate and 24-hour quota, read from SES."""
        rate, daily = await self._run(self._core.read_quota())
        return SendQuota(max_send_rate=rate, max_24_hour_send=daily)

    # ------------------------------------------------------------------ tenants

    async def check_tenant(self, name: str | None = None) -> None:
        """See ``SesClient.check_tenant``."""
        chosen = name if name is not None else self._core.tenant
        if chosen is None:
            raise ValidationError("name", "no tenant to check: pass a name")
        await self._run(self._core.check_tenant(chosen))

    async def get_tenant(self, name: str) -> TenantInfo:
        """See ``SesClient.get_tenant``."""
        return await self._run(self._core.get_tenant(name))

    async def set_tenant_suppression(
        self, name: str, *, scope: str = "TENANT", reasons: Iterable[str] = ("BOUNCE", "COMPLAINT")
    ) -> None:
        """See ``SesClient.set_tenant_suppression``."""
        await self._run(self._core.set_tenant_suppression(name, scope, tuple(reasons)))

    # ------------------------------------------------------------------ suppression lists

    async def get_suppression(self, address: str, *, tenant: str | None = None) -> SuppressedAddress | None:
        """See ``SesClient.get_suppression``."""
        return await self._run(self._core.get_suppression(address, tenant))

    async def suppress(self, address: str, reason: str = "BOUNCE", *, tenant: str | None = None) -> None:
        """See ``SesClient.suppress``."""
        await self._run(self._core.suppress(address, reason, tenant))

    async def unsuppress(self, address: str, *, tenant: str | None = None) -> bool:
        """See ``SesClient.unsuppress``."""
        return await self._run(self._core.unsuppress(address, tenant))

    async def list_suppressed(
        self,
        *,
        reasons: Iterable[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        tenant: str | None = None,
    ) -> AsyncIterator[SuppressedAddress]:
        """See ``SesClient.list_suppressed`` (``async for``)."""
        wanted = tuple(reasons)
        token: str | None = None
        while True:
            page, token = await self._run(
                self._core.list_suppressed_page(wanted, since, until, token, tenant)
            )
            for address in page:
                yield address
            if token is None:
                return

    # ------------------------------------------------------------------ the effects

    async def _run(self, flow: Flow[T]) -> T:
        return await _core.run_flow_async(flow, self._perform)

    async def _perform(self, effect: Request | Sleep | Exclusive) -> Any:
        if isinstance(effect, Request):
            client = self._client
            if client is None:
                raise ClientNotOpen()
            if effect.feature is not None:
                gap = unsupported_by_model(effect, client)
                if gap is not None:
                    raise gap
            async with self._semaphore:
                return await getattr(client, effect.operation)(**effect.params)
        if isinstance(effect, Sleep):
            await asyncio.sleep(effect.seconds)
            return None
        lock = self._locks.get(effect.key)
        if lock is None:
            lock = self._locks[effect.key] = asyncio.Lock()
        async with lock:
            return await self._run(effect.flow)
