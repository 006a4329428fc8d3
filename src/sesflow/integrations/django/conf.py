"""``settings.SESFLOW``: the one settings dict of the Django integration, read once and checked key by key.

Sending keys map to ``SesClient`` keyword arguments through ``CLIENT_SETTINGS`` (the only
place the two spellings meet); the other keys configure the webhook views and the worker command. Everything
built from the settings (the shared client, the router, the verifier, the idempotency store) is built once per
process and rebuilt when Django reports that ``SESFLOW`` changed (``override_settings`` in tests).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Collection, Mapping
from types import MappingProxyType
from typing import Any, Final, TypeVar

import attrs
import botocore.exceptions
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from ...consumers import IdempotencyStore
from ...errors import SesflowError
from ...routing import EventRouter
from ...sending import SesClient, ValidationError
from ...sources import MessageVerifier
from .._core import MAX_BODY_SIZE

__all__ = [
    "CLIENT_SETTINGS",
    "EVENT_SETTINGS",
    "SesflowSettings",
    "SettingsError",
    "client_options",
    "event_router",
    "idempotency_store",
    "new_client",
    "read_settings",
    "reset",
    "shared_client",
    "sns_verifier",
]

CLIENT_SETTINGS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "CONFIGURATION_SET": "configuration_set",
        "TENANT": "tenant",
        "VERIFY_TENANT": "verify_tenant",
        "REGION": "region",
        "ENDPOINT_URL": "endpoint_url",
        "ENDPOINT_ID": "endpoint_id",
        "API": "api",
        "MAX_SEND_RATE": "max_send_rate",
        "TAGS": "tags",
        "ALLOW_NO_CONFIGURATION_SET": "allow_no_configuration_set",
        "VERIFY_CONFIGURATION_SET": "verify_configuration_set",
        "CONFIGURATION_SET_TTL": "configuration_set_ttl",
        "RETRY": "retry",
        "BOTO_CONFIG": "config",
        "AWS_ACCESS_KEY_ID": "aws_access_key_id",
        "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
        "AWS_SESSION_TOKEN": "aws_session_token",
    }
)
"""``SESFLOW`` key -> ``SesClient`` keyword argument, for every sending setting.

A key left out of ``SESFLOW`` is not passed, so the client's own default holds; so is ``TENANT`` set to
``None``."""

_MISSING: Final = object()

EVENT_SETTINGS: Final[Mapping[str, object]] = MappingProxyType(
    {
        "ROUTER": None,
        "TOPIC_ARNS": _MISSING,
        "VERIFIER_OPTIONS": MappingProxyType({}),
        "CONFIRM_SUBSCRIPTIONS": True,
        "CONFIRM_ANY_TOPIC": False,
        "MAX_BODY_SIZE": MAX_BODY_SIZE,
        "SIGNALS": True,
        "QUEUE_URL": None,
        "SQS_ENDPOINT_URL": None,
        "VERIFY_SQS_MESSAGES": False,
        "IDEMPOTENCY_STORE": None,
    }
)
"""The keys for receiving events (webhook views and ``sesflow_consume``) and their defaults."""

T = TypeVar("T")


class SettingsError(SesflowError, ImproperlyConfigured):
    """``settings.SESFLOW`` lacks something, or holds a value that cannot work; the message names the key.

    It is Django's ``ImproperlyConfigured`` as well, so Django reports it as the configuration error it is.
    """


def _key(name: str) -> str:
    return f"SESFLOW[{name!r}]"


def _check_type(name: str, value: object, kinds: type | tuple[type, ...], what: str) -> None:
    if not isinstance(value, kinds):
        raise SettingsError(f"{_key(name)} is {what}, not {type(value).__name__} {value!r}")


@attrs.frozen
class SesflowSettings:
    """``settings.SESFLOW`` checked: the client's keyword arguments and the event settings."""

    client: Mapping[str, Any]
    """SesClient keyword arguments (only the keys that were given)."""
    router: object
    topic_arns: tuple[str, ...] | None
    topic_arns_given: bool
    verifier_options: Mapping[str, Any]
    confirm_subscriptions: bool
    confirm_any_topic: bool
    max_body_size: int
    signals: bool
    queue_url: str | None
    sqs_endpoint_url: str | None
    verify_sqs_messages: bool
    idempotency_store: object
    region: str | None
    """``SESFLOW['REGION']``, also the region of the worker's SQS client."""


def _parse(raw: object) -> SesflowSettings:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SettingsError(f"settings.SESFLOW is a dict of settings, not {type(raw).__name__}")
    unknown = sorted(str(k) for k in raw if k not in CLIENT_SETTINGS and k not in EVENT_SETTINGS)
    if unknown:
        known = ", ".join(sorted([*CLIENT_SETTINGS, *EVENT_SETTINGS]))
        raise SettingsError(
            f"settings.SESFLOW has unknown key(s) {', '.join(unknown)}; the keys are: {known}"
        )
    client: dict[str, Any] = {}
    for name, keyword in CLIENT_SETTINGS.items():
        if name not in raw:
            continue
        if name == "TENANT" and raw[name] is None:
            continue
        if name == "TAGS":
            _check_type(name, raw[name], Mapping, "a dict of tag name to value")
        client[keyword] = raw[name]
    values = {name: raw.get(name, default) for name, default in EVENT_SETTINGS.items()}
    for name in ("CONFIRM_SUBSCRIPTIONS", "CONFIRM_ANY_TOPIC", "SIGNALS", "VERIFY_SQS_MESSAGES"):
        _check_type(name, values[name], bool, "True or False")
    size = values["MAX_BODY_SIZE"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise SettingsError(f"{_key('MAX_BODY_SIZE')} is a positive number of bytes, not {size!r}")
    for name in ("QUEUE_URL", "SQS_ENDPOINT_URL"):
        if values[name] is not None:
            _check_type(name, values[name], str, "a URL (str)")
    _check_type("VERIFIER_OPTIONS", values["VERIFIER_OPTIONS"], Mapping, "a dict of SnsVerifier options")
    if "topic_arns" in values["VERIFIER_OPTIONS"]:
        raise SettingsError(f"give the topics as {_key('TOPIC_ARNS')}, not in {_key('VERIFIER_OPTIONS')}")
    topics = values["TOPIC_ARNS"]
    arns: tuple[str, ...] | None = None
    if topics is not _MISSING and topics is not None:
        if isinstance(topics, str) or not isinstance(topics, Collection):
            raise SettingsError(f"{_key('TOPIC_ARNS')} is a list of SNS topic ARNs, not {topics!r}")
        arns = tuple(topics)
        if not all(isinstance(t, str) for t in arns):
            raise SettingsError(f"{_key('TOPIC_ARNS')} is a list of SNS topic ARNs, not {topics!r}")
    region = raw.get("REGION")
    return SesflowSettings(
        client=MappingProxyType(client),
        router=values["ROUTER"],
        topic_arns=arns,
        topic_arns_given=topics is not _MISSING,
        verifier_options=MappingProxyType(dict(values["VERIFIER_OPTIONS"])),
        confirm_subscriptions=bool(values["CONFIRM_SUBSCRIPTIONS"]),
        confirm_any_topic=bool(values["CONFIRM_ANY_TOPIC"]),
        max_body_size=int(size),
        signals=bool(values["SIGNALS"]),
        queue_url=values["QUEUE_URL"],
        sqs_endpoint_url=values["SQS_ENDPOINT_URL"],
        verify_sqs_messages=bool(values["VERIFY_SQS_MESSAGES"]),
        idempotency_store=values["IDEMPOTENCY_STORE"],
        region=region if isinstance(region, str) else None,
    )


# ---------------------------------------------------------------------------------------------- the cache

_lock = threading.RLock()
_built: dict[str, Any] = {}


def _once(name: str, build: Callable[[], T]) -> T:
    with _lock:
        if name not in _built:
            _built[name] = build()
        value: T = _built[name]
        return value


def reset() -> None:
    """Forget everything built from the settings (the next use reads ``settings.SESFLOW`` again)."""
    with _lock:
        client = _built.pop("client", None)
        _built.clear()
    if client is not None:
        client.close()


def _on_setting_changed(*, setting: str, **_: Any) -> None:
    if setting == "SESFLOW":
        reset()


setting_changed.connect(_on_setting_changed, dispatch_uid="sesflow-settings-changed")


def read_settings() -> SesflowSettings:
    """``settings.SESFLOW``, checked (raises ``SettingsError``)."""
    return _once("settings", lambda: _parse(getattr(django_settings, "SESFLOW", None)))


# ---------------------------------------------------------------------------------------------- sending


def client_options(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The keyword arguments of the backend's ``SesClient``: the settings, then ``overrides``
    (keyword names, as ``get_connection(**overrides)`` passes them)."""
    options = dict(read_settings().client)
    keywords = {keyword: name for name, keyword in CLIENT_SETTINGS.items()}
    for keyword, value in (overrides or {}).items():
        if keyword not in keywords:
            raise SettingsError(
                f"the sesflow email backend takes no option {keyword!r}; its options are "
                f"{', '.join(sorted(keywords))} (the SESFLOW keys {', '.join(CLIENT_SETTINGS)})"
            )
        options[keyword] = value
    return options


def _setting_for(field: str) -> str:
    keyword = field.split("[", 1)[0].split(".", 1)[0]
    for name, candidate in CLIENT_SETTINGS.items():
        if candidate == keyword:
            return _key(name)
    return "settings.SESFLOW"


def new_client(options: Mapping[str, Any]) -> SesClient:
    """A ``SesClient`` built with ``options``; a bad option raises ``SettingsError``."""
    try:
        return SesClient(**options)
    except ValidationError as exc:
        raise SettingsError(f"{_setting_for(exc.field)}: {exc.reason}") from exc
    except (TypeError, ValueError, botocore.exceptions.BotoCoreError) as exc:
        raise SettingsError(f"the SesClient cannot be built from settings.SESFLOW: {exc}") from exc


def shared_client() -> SesClient:
    """The process's one ``SesClient`` built from the settings (thread-safe, so shared by every
    backend instance: one connection pool, one rate limit, one configuration-set check)."""
    return _once("client", lambda: new_client(client_options()))


# ---------------------------------------------------------------------------------------------- events


def _load(name: str, value: object) -> object:
    """A setting that may be given as a dotted import path: the object it names."""
    if isinstance(value, str):
        try:
            return import_string(value)
        except ImportError as exc:
            raise SettingsError(f"{_key(name)}: cannot import {value!r} ({exc})") from exc
    return value


def _router() -> EventRouter:
    given = read_settings().router
    if given is None:
        raise SettingsError(
            f"{_key('ROUTER')} is not set: name your EventRouter by its dotted path ('myapp.events.router')"
        )
    router = _load("ROUTER", given)
    if not isinstance(router, EventRouter) and callable(router):
        router = router()
    if not isinstance(router, EventRouter):
        raise SettingsError(
            f"{_key('ROUTER')} names {router!r}, which is not an EventRouter (or a function returning one)"
        )
    return router


def event_router(*, asynchronous: bool) -> EventRouter:
    """The router the views and the worker dispatch to: ``SESFLOW['ROUTER']``, and when ``SIGNALS`` is on,
    ``ses_event`` sent after its handlers (see ``signals``)."""
    from .signals import signalling_router

    def build() -> EventRouter:
        router = _router()
        if not asynchronous and router.has_async_handlers:
            raise SettingsError(
                f"{_key('ROUTER')} has coroutine handlers, which the synchronous webhook view and "
                "sesflow_consume cannot run: route to sns_webhook_async, or make the handlers plain functions"
            )
        if not read_settings().signals:
            return router
        return signalling_router(router, asynchronous=asynchronous)

    return _once(f"router:{asynchronous}", build)


def sns_verifier() -> MessageVerifier:
    """The process's ``SnsVerifier``, with ``TOPIC_ARNS`` as its allowlist."""

    def build() -> MessageVerifier:
        from ...sources.sns_verify import SnsVerifier

        current = read_settings()
        if not current.topic_arns_given:
            raise SettingsError(
                f"{_key('TOPIC_ARNS')} is not set: list the SNS topic ARNs that may deliver SES events "
                "(None accepts any topic, and then no subscription is confirmed unless CONFIRM_ANY_TOPIC)"
            )
        try:
            return SnsVerifier(topic_arns=current.topic_arns, **current.verifier_options)
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{_key('TOPIC_ARNS')} / {_key('VERIFIER_OPTIONS')}: {exc}") from exc

    return _once("verifier", build)


def idempotency_store() -> IdempotencyStore | None:
    """The worker's idempotency store (``SESFLOW['IDEMPOTENCY_STORE']``), or None."""

    def build() -> IdempotencyStore | None:
        given = read_settings().idempotency_store
        if given is None:
            return None
        store = _load("IDEMPOTENCY_STORE", given)
        if inspect.isclass(store) or inspect.isfunction(store):
            store = store()
        if not isinstance(store, IdempotencyStore):
            raise SettingsError(
                f"{_key('IDEMPOTENCY_STORE')} names {store!r}, which is not an idempotency store (an object "
                "with seen(key) and mark(key), or a function returning one)"
            )
        return store

    return _once("idempotency", build)
