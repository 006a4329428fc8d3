"""The one sending core shared by ``SesClient`` and ``AsyncSesClient``.

Everything that decides anything lives here: which configuration set a send uses, when to check it exists (and
what the cached answer is), how many tokens a send takes from the rate limit, which failures to retry and
after how long, how a bulk send is chunked and how each destination's outcome is recorded. It does no IO. Each
operation is a generator ("flow") that yields effects and receives their outcomes:

- ``Request``: make this API call; the transport sends back the response, or
  throws in what the call raised;
- ``Sleep``: wait this long;
- ``Exclusive``: run this sub-flow while holding the lock named ``key`` (so that concurrent sends check a
  configuration set, or read the account's quota, once).

The transports (``client.py`` with boto3 and ``time.sleep``, ``aio.py`` with aioboto3 and ``asyncio.sleep``)
only run effects, with ``run_flow`` / ``run_flow_async``. The rules every path shares (which
configuration set a send uses, how tags merge, what ``send_many`` returns for a failed message) are module
functions here, so that the SMTP dialogue (``sesflow.sending.smtp``) applies the same ones.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, TypeVar

import attrs

from ._requests import (
    _BY_STATUS,
    Api,
    Describing,
    Request,
    Routing,
    bulk_request,
    describe_configuration_set_request,
    error_for_status,
    error_from_exception,
    get_tenant_request,
    list_suppressed_request,
    parse_bulk_response,
    parse_quota_response,
    parse_send_response,
    parse_suppressed,
    parse_tenant,
    quota_request,
    send_request,
    suppression_reason,
    suppression_request,
    tenant_suppression_request,
)
from .errors import (
    ConfigurationSetNotFound,
    ConfigurationSetRequired,
    SendingError,
    SendOutcomeUnknown,
    SesError,
    TenantNotFound,
    ValidationError,
)
from .message import (
    Address,
    AddressesLike,
    AddressLike,
    Destination,
    Email,
    Template,
    _addresses,
    _one_address,
)
from .ratelimit import RetryPolicy, TokenBucket, make_bucket
from .results import (
    BulkEntryResult,
    BulkProgress,
    BulkResult,
    BulkStatus,
    SendResult,
    SuppressedAddress,
    TenantInfo,
)
from .validation import (
    MAX_BULK_DESTINATIONS,
    validate_configuration_set_name,
    validate_endpoint_id,
    validate_tags,
    validate_tenant_name,
)

__all__ = [
    "Sleep",
    "Exclusive",
    "Effect",
    "Flow",
    "SendingCore",
    "BulkRun",
    "SendRate",
    "ProgressCallback",
    "run_flow",
    "run_flow_async",
    "choose_configuration_set",
    "merge_tags",
    "failed_send",
]

log = logging.getLogger("sesflow.sending")

T = TypeVar("T")
SendRate: TypeAlias = "float | Literal['account'] | TokenBucket | None"
ProgressCallback: TypeAlias = Callable[[BulkProgress], object]


@attrs.frozen
class Sleep:
    """Wait ``seconds``."""

    seconds: float


@attrs.frozen
class Exclusive:
    """Run ``flow`` holding the lock ``key``; the result is the flow's."""

    key: str
    flow: Generator[Any, Any, Any] = attrs.field(eq=False, repr=False)


Effect: TypeAlias = "Request | Sleep | Exclusive"
Flow: TypeAlias = Generator[Effect, Any, T]

_NEGATIVE_TTL = 30.0


def run_flow(flow: Generator[Any, Any, T], perform: Callable[[Any], Any]) -> T:
    """Drive ``flow`` to its end: each effect it yields goes to ``perform``, whose result (or exception) is
    sent (or thrown) back in."""
    value: Any = None
    error: Exception | None = None
    while True:
        try:
            effect = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            result: T = stop.value
            return result
        value, error = None, None
        try:
            value = perform(effect)
        except Exception as exc:
            error = exc


async def run_flow_async(flow: Generator[Any, Any, T], perform: Callable[[Any], Awaitable[Any]]) -> T:
    """``run_flow`` with an async ``perform``."""
    value: Any = None
    error: Exception | None = None
    while True:
        try:
            effect = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            result: T = stop.value
            return result
        value, error = None, None
        try:
            value = await perform(effect)
        except Exception as exc:
            error = exc


def choose_configuration_set(candidates: Iterable[tuple[str | None, str]], *, allow_none: bool) -> str | None:
    """The configuration set a send uses: the first name given among ``candidates``.

    ``candidates`` are ``(name, field)`` pairs, most specific first (the send's own, then defaults); the
    chosen name is checked by SES's naming rule, an error naming its ``field``. When none names a set this
    raises ``ConfigurationSetRequired``, unless ``allow_none``.
    """
    for name, field in candidates:
        if name is not None:
            return validate_configuration_set_name(name, field=field)
    if allow_none:
        return None
    raise ConfigurationSetRequired()


def merge_tags(*layers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> Mapping[str, str]:
    """The tags of ``layers`` in one read-only mapping, a later layer winning on equal names; each layer is
    checked by SES's tag rules."""
    merged: dict[str, str] = {}
    for layer in layers:
        merged.update(validate_tags(layer))
    return MappingProxyType(merged)


def failed_send(exc: Exception, *, before_io: bool = False) -> SendingError:
    """What ``send_many`` returns in the place of a message whose send raised ``exc``.

    A ``SendingError`` is returned as it is. Anything else is a fault sesflow did not foresee (in the
    message's encoding, a library below, or sesflow itself): it is logged with its traceback and returned with
    the exception as its ``__cause__``: as a ``ValidationError`` of the field ``"message"`` when it came
    ``before_io`` (nothing was sent), else as a ``SendOutcomeUnknown`` whose ``code`` is the exception's
    class name, since where it happened the message may already have been handed over.
    """
    if isinstance(exc, SendingError):
        return exc
    log.error("a send failed with an unexpected %s", type(exc).__name__, exc_info=exc)
    error: SendingError
    if before_io:
        error = ValidationError("message", f"cannot be sent ({type(exc).__name__}: {exc})")
    else:
        error = SendOutcomeUnknown(f"{type(exc).__name__}: {exc}", code=type(exc).__name__)
    error.__cause__ = exc
    return error


class _Abandoned(Exception):
    """A bulk chunk's call was not made because the run stopped meanwhile."""


@attrs.frozen
class _Cached:
    """What the existence cache knows of one configuration set or tenant until ``expires``."""

    expires: float
    missing: SesError | None


class BulkRun:
    """One bulk send: its chunks and an outcome slot per destination, each filled exactly once."""

    def __init__(
        self,
        *,
        template: Template,
        destinations: Sequence[Destination],
        sender: Address,
        reply_to: tuple[Address, ...],
        feedback_address: Address | None,
        configuration_set: str | None,
        tags: Mapping[str, str],
        progress: ProgressCallback | None,
        routing: Routing,
    ) -> None:
        self.template = template
        self.routing = routing
        self.destinations = destinations
        self.sender = sender
        self.reply_to = reply_to
        self.feedback_address = feedback_address
        self.configuration_set = configuration_set
        self.tags = tags
        self.progress = progress
        count = len(destinations)
        self.chunks: list[list[int]] = [
            list(range(start, min(start + MAX_BULK_DESTINATIONS, count)))
            for start in range(0, count, MAX_BULK_DESTINATIONS)
        ]
        self.first_requests: list[Request] = []
        self.stopped: SesError | None = None
        self.calls = 0
        self._entries: list[BulkEntryResult | None] = [None] * count
        self._attempts = [0] * count
        self._done = 0
        self._succeeded = 0

    def attempted_all(self, indexes: Iterable[int]) -> bool:
        """A call is about to carry these destinations; False (and no call) once the run has stopped."""
        if self.stopped is not None:
            return False
        self.calls += 1
        for index in indexes:
            self._attempts[index] += 1
        return True

    def record(self, index: int, status: BulkStatus, message_id: str | None, error: SesError | None) -> None:
        if self._entries[index] is not None:
            raise AssertionError(f"destination {index} of a bulk send got two outcomes")  # never happens
        self._entries[index] = BulkEntryResult(
            index=index,
            destination=self.destinations[index],
            status=status,
            message_id=message_id,
            error=error,
            attempts=self._attempts[index],
        )
        self._done += 1
        if status == BulkStatus.SUCCESS:
            self._succeeded += 1

    def stop(self, error: SesError) -> None:
        if self.stopped is None:
            log.warning("bulk send stopping: %s", error)
            self.stopped = error

    def report(self) -> None:
        if self.progress is not None:
            self.progress(
                BulkProgress(
                    done=self._done,
                    total=len(self._entries),
                    succeeded=self._succeeded,
                    failed=self._done - self._succeeded,
                    calls=self.calls,
                )
            )

    def result(self) -> BulkResult:
        entries = []
        for index, entry in enumerate(self._entries):
            if entry is None:
                entry = BulkEntryResult(
                    index=index,
                    destination=self.destinations[index],
                    status=BulkStatus.NOT_SENT,
                    error=self.stopped,
                    attempts=self._attempts[index],
                )
            entries.append(entry)
        return BulkResult(
            entries=tuple(entries),
            configuration_set=self.configuration_set,
            tags=self.tags,
            calls=self.calls,
            tenant=self.routing.tenant,
        )


class SendingCore:
    """Configuration-set and tenant checks, rate limit, retries and bulk bookkeeping of one client."""

    def __init__(
        self,
        *,
        api: Api,
        configuration_set: str | None,
        allow_no_configuration_set: bool,
        verify_configuration_set: bool,
        configuration_set_ttl: float,
        tags: Mapping[str, str] | None,
        max_send_rate: SendRate,
        retry: RetryPolicy | None,
        tenant: str | None = None,
        verify_tenant: bool = True,
        endpoint_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if api not in ("v1", "v2"):
            raise ValidationError("api", f"api is 'v2' (sesv2, the default) or 'v1' (ses), not {api!r}")
        if configuration_set is not None:
            validate_configuration_set_name(configuration_set)
        if tenant is not None:
            validate_tenant_name(tenant)
            _tenants_need_v2(api)
        if endpoint_id is not None:
            validate_endpoint_id(endpoint_id)
            if api != "v2":
                raise ValidationError(
                    "endpoint_id",
                    "global endpoints (EndpointId) are in SES's v2 API only: create the client with "
                    "api='v2' (the default)",
                )
        if not configuration_set_ttl > 0:
            raise ValidationError(
                "configuration_set_ttl", "the cache lifetime is a positive number of seconds"
            )
        self.api: Api = api
        self.configuration_set = configuration_set
        self.allow_no_configuration_set = allow_no_configuration_set
        self.verify_configuration_set = verify_configuration_set
        self.configuration_set_ttl = float(configuration_set_ttl)
        self.tenant = tenant
        self.verify_tenant = verify_tenant
        self.endpoint_id = endpoint_id
        self.tags = validate_tags(tags)
        self.retry = retry or RetryPolicy()
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._known: dict[tuple[Describing, str], _Cached] = {}
        self._bucket: TokenBucket | None = None
        self._rate_pending = False
        if max_send_rate == "account":
            self._rate_pending = True
        else:
            allowed = ", 'account' (read it from SES) or None (no limit)"
            self._bucket = make_bucket(max_send_rate, clock=clock, allowed=allowed)

    # ------------------------------------------------------------------ configuration set

    def choose_configuration_set(self, override: str | None) -> str | None:
        """The set a send uses: its own, else the default; raises when there is none and none is allowed."""
        return choose_configuration_set(
            [(override, "configuration_set"), (self.configuration_set, "configuration_set")],
            allow_none=self.allow_no_configuration_set,
        )

    def cached_configuration_set(self, name: str) -> bool | None:
        """True / False when the cache knows whether ``name`` exists, None when it must be asked."""
        return self._cached("configuration_set", name)

    def forget_configuration_set(self, name: str) -> None:
        """Drop what the cache knows about ``name``."""
        self._known.pop(("configuration_set", name), None)

    def ensure_configuration_set(self, name: str | None) -> Flow[None]:
        """Raise ``ConfigurationSetNotFound`` unless ``name`` exists (asking SES once per ttl)."""
        yield from self._ensure("configuration_set", name, self.verify_configuration_set)

    def check_configuration_set(self, name: str) -> Flow[None]:
        """Ask SES now (bypassing the cache) whether ``name`` exists; raise if it does not."""
        validate_configuration_set_name(name)
        yield from self._recheck("configuration_set", name)

    # ------------------------------------------------------------------ tenant

    def choose_tenant(self, override: str | None) -> str | None:
        """The tenant a send is for: its own, else the client's default (None: no tenant)."""
        chosen = override if override is not None else self.tenant
        if chosen is None:
            return None
        validate_tenant_name(chosen)
        _tenants_need_v2(self.api)
        return chosen

    def cached_tenant(self, name: str) -> bool | None:
        """True / False when the cache knows whether tenant ``name`` exists, None when it must be asked."""
        return self._cached("tenant", name)

    def forget_tenant(self, name: str) -> None:
        """Drop what the cache knows about tenant ``name``."""
        self._known.pop(("tenant", name), None)

    def ensure_tenant(self, name: str | None) -> Flow[None]:
        """Raise ``TenantNotFound`` unless tenant ``name`` exists (asking SES once per ttl)."""
        yield from self._ensure("tenant", name, self.verify_tenant)

    def check_tenant(self, name: str) -> Flow[None]:
        """Ask SES now (bypassing the cache) whether tenant ``name`` exists; raise if it does not."""
        validate_tenant_name(name)
        _tenants_need_v2(self.api)
        yield from self._recheck("tenant", name)

    def get_tenant(self, name: str) -> Flow[TenantInfo]:
        """What ``GetTenant`` says of tenant ``name`` (``TenantNotFound`` when there is none)."""
        validate_tenant_name(name)
        _tenants_need_v2(self.api)
        try:
            response, _ = yield from self._call(
                get_tenant_request(name), None, describing="tenant", tenant=name
            )
        except TenantNotFound as exc:
            self._remember("tenant", name, exc)
            raise
        self._remember("tenant", name, None)
        return parse_tenant(response)

    def set_tenant_suppression(self, name: str, scope: str, reasons: Sequence[str]) -> Flow[None]:
        """Set tenant ``name``'s suppression list preferences (``PutTenantSuppressionAttributes``)."""
        validate_tenant_name(name)
        _tenants_need_v2(self.api)
        request = tenant_suppression_request(name, scope, reasons)
        yield from self._call(request, None, describing="tenant", tenant=name)

    # ------------------------------------------------------------------ the existence cache (both kinds)

    def _cached(self, kind: Describing, name: str) -> bool | None:
        entry = self._known.get((kind, name))
        if entry is None or entry.expires <= self._clock():
            return None
        return entry.missing is None

    def _remember(self, kind: Describing, name: str, missing: SesError | None) -> _Cached:
        ttl = self.configuration_set_ttl
        if missing is not None:
            ttl = min(ttl, _NEGATIVE_TTL)
        entry = _Cached(self._clock() + ttl, missing)
        self._known[(kind, name)] = entry
        return entry

    def _ensure(self, kind: Describing, name: str | None, verify: bool) -> Flow[None]:
        """Nothing when ``name`` is None, checking is off, or the cache knows it exists; else ask SES once
        (concurrent sends of one client wait for the same answer)."""
        if name is None or not verify or self._cached(kind, name) is True:
            return
        yield Exclusive(f"{kind.replace('_', '-')}:{name}", self._check(kind, name))

    def _recheck(self, kind: Describing, name: str) -> Flow[None]:
        self._known.pop((kind, name), None)
        yield Exclusive(f"{kind.replace('_', '-')}:{name}", self._check(kind, name))

    def _check(self, kind: Describing, name: str) -> Flow[None]:
        entry = self._known.get((kind, name))
        if entry is None or entry.expires <= self._clock():
            missing: SesError | None = None
            if kind == "configuration_set":
                request = describe_configuration_set_request(name, self.api)
                missing_class: type[SesError] = ConfigurationSetNotFound
                option, what = "verify_configuration_set", f"configuration set {name!r}"
            else:
                request = get_tenant_request(name)
                missing_class = TenantNotFound
                option, what = "verify_tenant", f"tenant {name!r}"
            try:
                if kind == "configuration_set":
                    yield from self._call(request, name, describing=kind)
                else:
                    yield from self._call(request, None, describing=kind, tenant=name)
            except (ConfigurationSetNotFound, TenantNotFound) as exc:
                if not isinstance(exc, missing_class):
                    raise
                missing = exc
            except SesError as exc:
                exc.add_note(
                    f"sesflow was checking that {what} exists before sending; create the client with "
                    f"{option}=False to skip that check"
                )
                raise
            entry = self._remember(kind, name, missing)
            log.debug("%s %s", what, "exists" if missing is None else "does not exist")
        if entry.missing is not None:
            if kind == "configuration_set":
                raise ConfigurationSetNotFound(
                    entry.missing.ses_message or f"Configuration set <{name}> does not exist.",
                    code=entry.missing.code,
                    request_id=entry.missing.request_id,
                    http_status=entry.missing.http_status,
                    configuration_set=name,
                )
            raise TenantNotFound(
                entry.missing.ses_message or f"Tenant <{name}> does not exist.",
                code=entry.missing.code,
                request_id=entry.missing.request_id,
                http_status=entry.missing.http_status,
                tenant=name,
            )

    # ------------------------------------------------------------------ rate

    @property
    def max_send_rate(self) -> float | None:
        """The rate limit in force (sends per second), None when there is none (yet)."""
        return None if self._bucket is None else self._bucket.rate

    # ------------------------------------------------------------------ suppression lists (account, tenant)

    def _suppression_list_api(self) -> None:
        if self.api != "v2":
            raise ValidationError(
                "api",
                "the account-level suppression list is in SES's v2 API only: create the client with api='v2'",
            )

    def _suppressed_address(self, address: str) -> str:
        self._suppression_list_api()
        return _one_address(address, "address").ascii_email

    def _suppression_tenant(self, tenant: str | None) -> Flow[None]:
        """Check a named tenant exists first, so that a "not found" afterwards is about the address."""
        if tenant is not None:
            validate_tenant_name(tenant)
            yield from self.ensure_tenant(tenant)

    def get_suppression(self, address: str, tenant: str | None = None) -> Flow[SuppressedAddress | None]:
        """The suppression list's entry for ``address`` (``tenant``'s list when named), or None."""
        request = suppression_request("get", self._suppressed_address(address), tenant=tenant)
        yield from self._suppression_tenant(tenant)
        try:
            response, _ = yield from self._call(request, None, tenant=tenant)
        except SesError as exc:
            # the tenant was just checked to exist: "not found" is about the address
            if exc.code == "NotFoundException":
                return None
            raise
        return parse_suppressed(response["SuppressedDestination"], tenant)

    def suppress(self, address: str, reason: str, tenant: str | None = None) -> Flow[None]:
        """Put ``address`` on the suppression list (``tenant``'s when named) for ``reason``."""
        request = suppression_request(
            "put", self._suppressed_address(address), suppression_reason(reason), tenant=tenant
        )
        yield from self._suppression_tenant(tenant)
        yield from self._call(request, None, tenant=tenant)

    def unsuppress(self, address: str, tenant: str | None = None) -> Flow[bool]:
        """Take ``address`` off the suppression list (``tenant``'s when named); False when it was not on."""
        request = suppression_request("delete", self._suppressed_address(address), tenant=tenant)
        yield from self._suppression_tenant(tenant)
        try:
            yield from self._call(request, None, tenant=tenant)
        except SesError as exc:
            if exc.code == "NotFoundException":
                return False
            raise
        return True

    def list_suppressed_page(
        self,
        reasons: Sequence[str],
        since: datetime | None,
        until: datetime | None,
        token: str | None,
        tenant: str | None = None,
    ) -> Flow[tuple[list[SuppressedAddress], str | None]]:
        """One page of the suppression list (``tenant``'s when named) and the token of the next."""
        self._suppression_list_api()
        request = list_suppressed_request(
            [suppression_reason(r) for r in reasons], since, until, token, tenant=tenant
        )
        if token is None:
            yield from self._suppression_tenant(tenant)
        response, _ = yield from self._call(request, None, tenant=tenant)
        items = response.get("SuppressedDestinationSummaries") or ()
        page = [parse_suppressed(item, tenant) for item in items]
        return page, response.get("NextToken") or None

    def read_quota(self) -> Flow[tuple[float, float]]:
        """``(max_send_rate, max_24_hour_send)`` read from the account."""
        response, _ = yield from self._call(quota_request(self.api), None)
        return parse_quota_response(response, self.api)

    def _discover_rate(self) -> Flow[None]:
        if not self._rate_pending:
            return
        try:
            rate, _ = yield from self.read_quota()
        except SesError as exc:
            log.warning(
                "could not read the account's maximum send rate (%s); sending without a client-side rate "
                "limit. Pass max_send_rate= to set one",
                exc,
            )
        else:
            if rate > 0:
                self._bucket = TokenBucket(rate, clock=self._clock)
                log.debug("rate limit from the account: %s sends/s", rate)
        self._rate_pending = False

    def acquire(self, tokens: int) -> Flow[None]:
        """Wait for ``tokens`` sends' worth of the rate limit (reading the account's rate the first time)."""
        if self._rate_pending:
            yield Exclusive("send-rate", self._discover_rate())
        if self._bucket is not None:
            wait = self._bucket.reserve(tokens)
            if wait > 0:
                yield Sleep(wait)

    # ------------------------------------------------------------------ calls and retries

    def _call(
        self,
        request: Request,
        configuration_set: str | None,
        *,
        tokens: int = 0,
        describing: Describing | None = None,
        tenant: str | None = None,
        on_attempt: Callable[[], bool] | None = None,
    ) -> Flow[tuple[Any, int]]:
        """Make ``request``, retrying what is retryable; returns ``(response, attempts)`` or raises SesError.

        ``on_attempt`` runs just before each attempt goes out; when it returns False the call is abandoned
        (``_Abandoned``) without being made.
        """
        attempt = 0
        while True:
            attempt += 1
            if tokens:
                yield from self.acquire(tokens)
            if on_attempt is not None and not on_attempt():
                raise _Abandoned()
            try:
                response = yield request
            except Exception as exc:
                error = error_from_exception(
                    exc, configuration_set=configuration_set, describing=describing, tenant=tenant
                )
                if error is None:
                    raise
                if error.retryable and attempt < self.retry.max_attempts:
                    delay = self.retry.delay(attempt, self._rng)
                    log.info(
                        "%s failed (%s), attempt %d; retrying in %.3fs",
                        request.operation,
                        error,
                        attempt,
                        delay,
                    )
                    yield Sleep(delay)
                    continue
                if isinstance(error, ConfigurationSetNotFound) and configuration_set is not None:
                    self.forget_configuration_set(configuration_set)
                if isinstance(error, TenantNotFound) and tenant is not None:
                    self.forget_tenant(tenant)
                raise error from exc
            return response, attempt

    # ------------------------------------------------------------------ send

    def _routing(self, tenant: str | None) -> Routing:
        """The tenant (the message's own, else the default) and global endpoint of a send."""
        return Routing(self.choose_tenant(tenant), self.endpoint_id)

    def prepare_send(self, email: Email) -> tuple[Request, str | None, Mapping[str, str], Routing]:
        """The request for ``email`` and the configuration set, tags and routing it carries (no IO)."""
        if not isinstance(email, Email):
            raise ValidationError("email", f"send an sesflow Email, not {type(email).__name__}")
        configuration_set = self.choose_configuration_set(email.configuration_set)
        routing = self._routing(email.tenant)
        tags = merge_tags(self.tags, email.tags)
        request = send_request(
            email, api=self.api, configuration_set=configuration_set, tags=tags, routing=routing
        )
        return request, configuration_set, tags, routing

    def send(self, email: Email) -> Flow[SendResult]:
        """Send one message."""
        request, configuration_set, tags, routing = self.prepare_send(email)
        yield from self.ensure_configuration_set(configuration_set)
        yield from self.ensure_tenant(routing.tenant)
        response, attempts = yield from self._call(
            request, configuration_set, tokens=len(email.recipients), tenant=routing.tenant
        )
        message_id, request_id = parse_send_response(response)
        log.debug("sent %s with configuration set %r", message_id, configuration_set)
        return SendResult(
            message_id=message_id,
            configuration_set=configuration_set,
            tags=tags,
            request_id=request_id,
            attempts=attempts,
            tenant=routing.tenant,
        )

    # ------------------------------------------------------------------ bulk

    def prepare_bulk(
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
    ) -> BulkRun:
        """Check everything about a bulk send and build its first requests (no IO)."""
        if not isinstance(template, Template):
            raise ValidationError("template", f"give a sesflow Template, not {type(template).__name__}")
        destination_list = list(destinations)
        for index, destination in enumerate(destination_list):
            if not isinstance(destination, Destination):
                raise ValidationError(
                    f"destinations[{index}]",
                    f"give sesflow Destination objects, not {type(destination).__name__}",
                )
        chosen = self.choose_configuration_set(configuration_set)
        routing = self._routing(tenant)
        merged = merge_tags(self.tags, tags)
        run = BulkRun(
            template=template,
            destinations=destination_list,
            sender=_one_address(sender, "sender"),
            reply_to=_addresses(reply_to, "reply_to"),
            feedback_address=None
            if feedback_address is None
            else _one_address(feedback_address, "feedback_address"),
            configuration_set=chosen,
            tags=merged,
            progress=progress,
            routing=routing,
        )
        run.first_requests = [self._bulk_request(run, chunk) for chunk in run.chunks]
        return run

    def _bulk_request(self, run: BulkRun, indexes: Sequence[int]) -> Request:
        return bulk_request(
            run.template,
            [run.destinations[i] for i in indexes],
            api=self.api,
            sender=run.sender,
            reply_to=run.reply_to,
            feedback_address=run.feedback_address,
            configuration_set=run.configuration_set,
            tags=run.tags,
            routing=run.routing,
        )

    def bulk_start(self, run: BulkRun) -> Flow[None]:
        """What comes before the first chunk: the configuration set and tenant checks (raise before anything
        is sent)."""
        if run.chunks:
            yield from self.ensure_configuration_set(run.configuration_set)
            yield from self.ensure_tenant(run.routing.tenant)

    def bulk_chunk(self, run: BulkRun, chunk_number: int) -> Flow[None]:
        """Send one chunk (retrying its retryable entries); record an outcome for each destination."""
        pending = list(run.chunks[chunk_number])
        request = run.first_requests[chunk_number]
        attempt = 0
        while pending and run.stopped is None:
            attempt += 1
            tokens = sum(len(run.destinations[i].recipients) for i in pending)
            try:
                response, _ = yield from self._call(
                    request,
                    run.configuration_set,
                    tokens=tokens,
                    tenant=run.routing.tenant,
                    on_attempt=functools.partial(run.attempted_all, pending),
                )
            except _Abandoned:
                return
            except SesError as call_error:
                stop = call_error.stops_bulk or isinstance(call_error, SendOutcomeUnknown)
                _fail(run, pending, _status_for_call_error(call_error), call_error, stop=stop)
                return
            except Exception as exc:
                log.exception("bulk send: unexpected error; its destinations are marked OUTCOME_UNKNOWN")
                unknown = SendOutcomeUnknown(
                    str(exc),
                    code=type(exc).__name__,
                    configuration_set=run.configuration_set,
                    tenant=run.routing.tenant,
                )
                _fail(run, pending, BulkStatus.OUTCOME_UNKNOWN, unknown, stop=True)
                return
            outcomes, request_id = parse_bulk_response(response, self.api)
            if len(outcomes) != len(pending):
                mismatch = SendOutcomeUnknown(
                    f"SES answered {len(outcomes)} results for {len(pending)} destinations",
                    code="ResultCountMismatch",
                    request_id=request_id,
                    configuration_set=run.configuration_set,
                    tenant=run.routing.tenant,
                )
                _fail(run, pending, BulkStatus.OUTCOME_UNKNOWN, mismatch, stop=True)
                return
            again = []
            for index, outcome in zip(pending, outcomes, strict=True):
                if outcome.status.retryable and attempt < self.retry.max_attempts:
                    again.append(index)
                    continue
                entry_error = error_for_status(
                    outcome,
                    configuration_set=run.configuration_set,
                    request_id=request_id,
                    tenant=run.routing.tenant,
                )
                run.record(index, outcome.status, outcome.message_id, entry_error)
                if entry_error is not None and entry_error.stops_bulk:
                    run.stop(entry_error)
            run.report()
            pending = again
            if pending and run.stopped is None:
                delay = self.retry.delay(attempt, self._rng)
                log.info(
                    "bulk send: %d destinations throttled or failed transiently; retrying in %.3fs",
                    len(pending),
                    delay,
                )
                yield Sleep(delay)
                request = self._bulk_request(run, pending)


def _tenants_need_v2(api: Api) -> None:
    if api != "v2":
        raise ValidationError(
            "tenant",
            "tenants are in SES's v2 API only (the v1 API has no TenantName, and sesflow never drops it "
            "silently): create the client with api='v2' (the default)",
        )


def _fail(run: BulkRun, pending: Sequence[int], status: BulkStatus, error: SesError, *, stop: bool) -> None:
    for index in pending:
        run.record(index, status, None, error)
    if stop:
        run.stop(error)
    run.report()


def _status_for_call_error(error: SesError) -> BulkStatus:
    if isinstance(error, SendOutcomeUnknown):
        return BulkStatus.OUTCOME_UNKNOWN
    for status, cls in _BY_STATUS.items():
        if type(error) is cls:
            return BulkStatus(status)
    return BulkStatus.FAILED


class CoreProperties:
    """The read-only views both clients give of their ``SendingCore`` (one definition for the twins)."""

    _core: SendingCore

    @property
    def api(self) -> Api:
        """``"v2"`` (sesv2) or ``"v1"`` (ses)."""
        return self._core.api

    @property
    def configuration_set(self) -> str | None:
        """The default configuration set."""
        return self._core.configuration_set

    @property
    def max_send_rate(self) -> float | None:
        """The client-side rate limit in force (sends per second), None when there is none (yet)."""
        return self._core.max_send_rate

    @property
    def tenant(self) -> str | None:
        """The default tenant sends are made for (None: none)."""
        return self._core.tenant

    @property
    def endpoint_id(self) -> str | None:
        """The global endpoint sends go through (None: the client's regional endpoint)."""
        return self._core.endpoint_id
