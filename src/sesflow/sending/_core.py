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
only run effects.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, TypeVar

import attrs

from ._requests import (
    _BY_STATUS,
    Api,
    Request,
    bulk_request,
    describe_configuration_set_request,
    error_for_status,
    error_from_exception,
    list_suppressed_request,
    parse_bulk_response,
    parse_quota_response,
    parse_send_response,
    parse_suppressed,
    quota_request,
    send_request,
    suppression_reason,
    suppression_request,
)
from .errors import (
    ConfigurationSetNotFound,
    ConfigurationSetRequired,
    SendOutcomeUnknown,
    SesApiError,
    SesError,
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
from .results import BulkEntryResult, BulkProgress, BulkResult, BulkStatus, SendResult, SuppressedAddress
from .validation import MAX_BULK_DESTINATIONS, validate_configuration_set_name, validate_tags

__all__ = ["Sleep", "Exclusive", "Effect", "Flow", "SendingCore", "BulkRun", "SendRate", "ProgressCallback"]

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


class _Abandoned(Exception):
    """A bulk chunk's call was not made because the run stopped meanwhile."""


@attrs.frozen
class _CachedSet:
    expires: float
    missing: ConfigurationSetNotFound | None


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
    ) -> None:
        self.template = template
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
            entries=tuple(entries), configuration_set=self.configuration_set, tags=self.tags, calls=self.calls
        )


class SendingCore:
    """Configuration-set policy and cache, rate limit, retries and bulk bookkeeping for one client."""

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
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if api not in ("v1", "v2"):
            raise ValidationError("api", f"api is 'v2' (sesv2, the default) or 'v1' (ses), not {api!r}")
        if configuration_set is not None:
            validate_configuration_set_name(configuration_set)
        if not configuration_set_ttl > 0:
            raise ValidationError(
                "configuration_set_ttl", "the cache lifetime is a positive number of seconds"
            )
        self.api: Api = api
        self.configuration_set = configuration_set
        self.allow_no_configuration_set = allow_no_configuration_set
        self.verify_configuration_set = verify_configuration_set
        self.configuration_set_ttl = float(configuration_set_ttl)
        self.tags = validate_tags(tags)
        self.retry = retry or RetryPolicy()
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._sets: dict[str, _CachedSet] = {}
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
        chosen = override if override is not None else self.configuration_set
        if chosen is None:
            if not self.allow_no_configuration_set:
                raise ConfigurationSetRequired()
            return None
        return validate_configuration_set_name(chosen)

    def cached_configuration_set(self, name: str) -> bool | None:
        """True / False when the cache knows whether ``name`` exists, None when it must be asked."""
        entry = self._sets.get(name)
        if entry is None or entry.expires <= self._clock():
            return None
        return entry.missing is None

    def forget_configuration_set(self, name: str) -> None:
        """Drop what the cache knows about ``name``."""
        self._sets.pop(name, None)

    def ensure_configuration_set(self, name: str | None) -> Flow[None]:
        """Raise ``ConfigurationSetNotFound`` unless ``name`` exists (asking SES once per ttl)."""
        if name is None or not self.verify_configuration_set:
            return
        if self.cached_configuration_set(name) is True:
            return
        yield Exclusive(f"configuration-set:{name}", self._check_configuration_set(name))

    def check_configuration_set(self, name: str) -> Flow[None]:
        """Ask SES now (bypassing the cache) whether ``name`` exists; raise if it does not."""
        validate_configuration_set_name(name)
        self.forget_configuration_set(name)
        yield Exclusive(f"configuration-set:{name}", self._check_configuration_set(name))

    def _check_configuration_set(self, name: str) -> Flow[None]:
        entry = self._sets.get(name)
        if entry is None or entry.expires <= self._clock():
            missing: ConfigurationSetNotFound | None = None
            try:
                yield from self._call(
                    describe_configuration_set_request(name, self.api), name, describing=True
                )
            except ConfigurationSetNotFound as exc:
                missing = exc
            except SesError as exc:
                exc.add_note(
                    f"sesflow was checking that configuration set {name!r} exists before sending; create the "
                    "client with verify_configuration_set=False to skip that check"
                )
                raise
            ttl = (
                self.configuration_set_ttl
                if missing is None
                else min(self.configuration_set_ttl, _NEGATIVE_TTL)
            )
            entry = _CachedSet(self._clock() + ttl, missing)
            self._sets[name] = entry
            log.debug("configuration set %r %s", name, "exists" if missing is None else "does not exist")
        if entry.missing is not None:
            raise ConfigurationSetNotFound(
                entry.missing.ses_message or f"Configuration set <{name}> does not exist.",
                code=entry.missing.code,
                request_id=entry.missing.request_id,
                http_status=entry.missing.http_status,
                configuration_set=name,
            )

    # ------------------------------------------------------------------ rate

    @property
    def max_send_rate(self) -> float | None:
        """The rate limit in force (sends per second), None when there is none (yet)."""
        return None if self._bucket is None else self._bucket.rate

    # ------------------------------------------------------------------ the account's suppression list

    def _suppression_list_api(self) -> None:
        if self.api != "v2":
            raise ValidationError(
                "api",
                "the account-level suppression list is in SES's v2 API only: create the client with api='v2'",
            )

    def _suppressed_address(self, address: str) -> str:
        self._suppression_list_api()
        return _one_address(address, "address").ascii_email

    def get_suppression(self, address: str) -> Flow[SuppressedAddress | None]:
        """The suppression list's entry for ``address``, or None when it is not on the list."""
        request = suppression_request("get", self._suppressed_address(address))
        try:
            response, _ = yield from self._call(request, None)
        except SesApiError as exc:
            if exc.code == "NotFoundException":
                return None
            raise
        return parse_suppressed(response["SuppressedDestination"])

    def suppress(self, address: str, reason: str) -> Flow[None]:
        """Put ``address`` on the suppression list for ``reason`` (replacing the reason it had)."""
        request = suppression_request("put", self._suppressed_address(address), suppression_reason(reason))
        yield from self._call(request, None)

    def unsuppress(self, address: str) -> Flow[bool]:
        """Take ``address`` off the suppression list; False when it was not on it."""
        request = suppression_request("delete", self._suppressed_address(address))
        try:
            yield from self._call(request, None)
        except SesApiError as exc:
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
    ) -> Flow[tuple[list[SuppressedAddress], str | None]]:
        """One page of the suppression list and the token of the next (None after the last)."""
        self._suppression_list_api()
        request = list_suppressed_request([suppression_reason(r) for r in reasons], since, until, token)
        response, _ = yield from self._call(request, None)
        page = [parse_suppressed(item) for item in response.get("SuppressedDestinationSummaries") or ()]
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
        describing: bool = False,
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
                error = error_from_exception(exc, configuration_set=configuration_set, describing=describing)
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
                raise error from exc
            return response, attempt

    # ------------------------------------------------------------------ send

    def prepare_send(self, email: Email) -> tuple[Request, str | None, Mapping[str, str]]:
        """The request for ``email`` and the configuration set and tags it carries (all checks, no IO)."""
        if not isinstance(email, Email):
            raise ValidationError("email", f"send an sesflow Email, not {type(email).__name__}")
        configuration_set = self.choose_configuration_set(email.configuration_set)
        tags = MappingProxyType({**self.tags, **email.tags}) if self.tags else email.tags
        request = send_request(email, api=self.api, configuration_set=configuration_set, tags=tags)
        return request, configuration_set, tags

    def send(self, email: Email) -> Flow[SendResult]:
        """Send one message."""
        request, configuration_set, tags = self.prepare_send(email)
        yield from self.ensure_configuration_set(configuration_set)
        response, attempts = yield from self._call(request, configuration_set, tokens=len(email.recipients))
        message_id, request_id = parse_send_response(response)
        log.debug("sent %s with configuration set %r", message_id, configuration_set)
        return SendResult(
            message_id=message_id,
            configuration_set=configuration_set,
            tags=tags,
            request_id=request_id,
            attempts=attempts,
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
        merged = MappingProxyType({**self.tags, **validate_tags(tags)})
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
        )

    def bulk_start(self, run: BulkRun) -> Flow[None]:
        """What comes before the first chunk: the configuration set check (raises before anything is sent)."""
        if run.chunks:
            yield from self.ensure_configuration_set(run.configuration_set)

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
                    str(exc), code=type(exc).__name__, configuration_set=run.configuration_set
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
                )
                _fail(run, pending, BulkStatus.OUTCOME_UNKNOWN, mismatch, stop=True)
                return
            again = []
            for index, outcome in zip(pending, outcomes, strict=True):
                if outcome.status.retryable and attempt < self.retry.max_attempts:
                    again.append(index)
                    continue
                entry_error = error_for_status(
                    outcome, configuration_set=run.configuration_set, request_id=request_id
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
