"""The proxy's settings, read from the environment (``GHOST_PROXY_*``).

Every setting has one environment variable; :meth:`Settings.from_env` reads them all and says exactly which
one is wrong. Tests build :class:`Settings` directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal, TypeAlias, TypeVar

import attrs

from sesflow.errors import SesflowError
from sesflow.sending import ValidationError, validate_configuration_set_name

__all__ = ["ProxyConfigError", "Settings"]

_T = TypeVar("_T")
SendRate: TypeAlias = "float | Literal['account'] | None"


class ProxyConfigError(SesflowError):
    """A setting is missing or malformed; the message names the environment variable to fix."""


def _rate(value: str) -> SendRate:
    if value == "account":
        return "account"
    if value in ("none", "off", "0"):
        return None
    rate = float(value)
    if rate <= 0:
        raise ValueError("a send rate is a positive number of messages per second")
    return rate


def _flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("use 1/true/yes or 0/false/no")


def _send_events(value: str) -> Literal["check", "yes", "no"]:
    lowered = value.strip().lower()
    if lowered == "check":
        return "check"
    return "yes" if _flag(lowered) else "no"


def _seconds(value: str) -> float:
    seconds = float(value)
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError("give a positive number of seconds")
    return seconds


@attrs.frozen
class Settings:
    """Everything the proxy needs to run. Only ``api_key`` and ``configuration_set`` have no default."""

    api_key: str = attrs.field(repr=False)
    """The password Ghost sends with user ``api`` (``bulkEmail__mailgun__apiKey``)."""
    configuration_set: str
    """The SES configuration set of every message (its event destination feeds ``queue_url``)."""
    untracked_configuration_set: str | None = None
    """The set used when Ghost sends ``o:tracking-opens=no``: one without open tracking. When unset, the
    main set is used and the proxy drops the Open events of those messages instead."""
    queue_url: str | None = None
    """The SQS queue subscribed to the sets' SNS topic. Unset: no event worker runs in this process."""
    database: Path = Path("ghost-mailgun-proxy.sqlite3")
    public_url: str | None = None
    """Base of the absolute ``paging`` URLs (``https://mail-proxy.example.com``); default: the request's."""
    region: str | None = None
    ses_endpoint_url: str | None = None
    sqs_endpoint_url: str | None = None
    ses_api: Literal["v1", "v2"] = "v2"
    max_send_rate: SendRate = "account"
    send_concurrency: int = 10
    send_events: Literal["check", "yes", "no"] = "check"
    """Whether the configuration sets publish ``Send`` events to the queue, which exactly-once delivery
    across restarts needs: ``check`` asks SES at startup (needs ``ses:GetConfigurationSetEventDestinations``,
    or ``ses:DescribeConfigurationSet`` with the v1 API), ``yes`` trusts that they do, ``no`` that they
    do not."""
    send_event_window: float = 3600.0
    """Seconds to wait for the ``Send`` event of a send whose outcome is unknown (counted from the request,
    or from when the event worker caught up with its queue if that is later) before sending it again."""
    queue_visibility_timeout: int = 60
    """The event worker's SQS visibility timeout: a message it was handling when the proxy stopped comes
    back after this many seconds. Shorter than ``send_event_window``."""
    resend_interrupted: bool = False
    """Only without ``Send`` events (at most once by default): False, a recipient whose send was in flight
    when the proxy stopped is not sent again (SES may have accepted it); True, at least once (it is sent
    again; a duplicate is possible)."""
    unsubscribe_mailto: str | None = None
    """Replaces Mailgun's ``%tag_unsubscribe_email%`` in ``List-Unsubscribe``; unset, that entry is dropped.
    Set it only to a mailbox whose messages you act on."""
    verify_sns: bool = False
    """Verify the SNS signature of every queued event (needs the ``cryptography`` certificate fetch)."""
    shutdown_grace: float = 10.0
    """Seconds a stopping proxy lets sends in flight finish before it cancels them."""
    host: str = "127.0.0.1"
    port: int = 8025

    def __attrs_post_init__(self) -> None:
        if not self.api_key:
            raise ProxyConfigError("GHOST_PROXY_API_KEY is empty: set the key Ghost is configured with")
        for variable, name in (
            ("GHOST_PROXY_CONFIGURATION_SET", self.configuration_set),
            ("GHOST_PROXY_UNTRACKED_CONFIGURATION_SET", self.untracked_configuration_set),
        ):
            if name is not None:
                try:
                    validate_configuration_set_name(name)
                except ValidationError as exc:
                    raise ProxyConfigError(f"{variable}: {exc.reason}") from None
        if self.send_concurrency < 1:
            raise ProxyConfigError("GHOST_PROXY_SEND_CONCURRENCY must be at least 1")
        if self.send_events not in ("check", "yes", "no"):
            raise ProxyConfigError(f"GHOST_PROXY_SEND_EVENTS={self.send_events!r}: use check, yes or no")
        if not 1 <= self.queue_visibility_timeout <= 43200:
            raise ProxyConfigError(
                "GHOST_PROXY_QUEUE_VISIBILITY_TIMEOUT is SQS's visibility timeout: 1 to 43200 seconds"
            )
        if not self.send_event_window > self.queue_visibility_timeout:
            # A Send event the worker was handling when the proxy died is invisible that long.
            raise ProxyConfigError(
                f"GHOST_PROXY_SEND_EVENT_WINDOW ({self.send_event_window:g} s) must be longer than "
                f"GHOST_PROXY_QUEUE_VISIBILITY_TIMEOUT ({self.queue_visibility_timeout} s)"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``GHOST_PROXY_*`` variables (and ``AWS_REGION`` / ``AWS_DEFAULT_REGION``)."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(f"GHOST_PROXY_{name}")
            return value if value not in (None, "") else None

        def required(name: str, what: str) -> str:
            value = get(name)
            if value is None:
                raise ProxyConfigError(f"GHOST_PROXY_{name} is not set: give {what}")
            return value

        def convert(name: str, parse: Callable[[str], _T], default: _T) -> _T:
            raw = get(name)
            if raw is None:
                return default
            try:
                return parse(raw)
            except ValueError as exc:
                raise ProxyConfigError(f"GHOST_PROXY_{name}={raw!r} is not valid: {exc}") from None

        api: Literal["v1", "v2"]
        given_api = get("SES_API") or "v2"
        if given_api == "v1":
            api = "v1"
        elif given_api == "v2":
            api = "v2"
        else:
            raise ProxyConfigError(f"GHOST_PROXY_SES_API={given_api!r}: use 'v2' (sesv2) or 'v1' (ses)")
        default_rate: SendRate = "account"
        endpoint = get("ENDPOINT_URL")
        return cls(
            api_key=required("API_KEY", "the Mailgun API key configured in Ghost"),
            configuration_set=required("CONFIGURATION_SET", "the SES configuration set to send with"),
            untracked_configuration_set=get("UNTRACKED_CONFIGURATION_SET"),
            queue_url=get("QUEUE_URL"),
            database=Path(get("DATABASE") or "ghost-mailgun-proxy.sqlite3"),
            public_url=get("PUBLIC_URL"),
            region=get("REGION") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            ses_endpoint_url=get("SES_ENDPOINT_URL") or endpoint,
            sqs_endpoint_url=get("SQS_ENDPOINT_URL") or endpoint,
            ses_api=api,
            max_send_rate=convert("MAX_SEND_RATE", _rate, default_rate),
            send_concurrency=convert("SEND_CONCURRENCY", int, 10),
            send_events=convert("SEND_EVENTS", _send_events, "check"),
            send_event_window=convert("SEND_EVENT_WINDOW", _seconds, 3600.0),
            queue_visibility_timeout=convert("QUEUE_VISIBILITY_TIMEOUT", int, 60),
            resend_interrupted=convert("RESEND_INTERRUPTED", _flag, False),
            unsubscribe_mailto=get("UNSUBSCRIBE_MAILTO"),
            verify_sns=convert("VERIFY_SNS", _flag, False),
            shutdown_grace=convert("SHUTDOWN_GRACE", float, 10.0),
            host=get("HOST") or "127.0.0.1",
            port=convert("PORT", int, 8025),
        )
