"""Async AWS clients for the asyncio twins (extra ``async``): aiobotocore, from its or an aioboto3 session.

The ``async`` extra depends on aiobotocore alone, whose releases follow botocore within weeks. Users who
already have aioboto3 pass its ``Session``: it makes the same aiobotocore clients, so the rest is shared.
"""

from __future__ import annotations

from typing import Any

from .errors import MissingExtra

__all__ = ["load_aiobotocore", "new_session", "session_problem", "client_context"]


def load_aiobotocore(feature: str) -> Any:
    """The ``aiobotocore.session`` module; ``MissingExtra`` naming ``feature`` when it is missing."""
    try:
        import aiobotocore.session
    except ImportError as exc:
        raise MissingExtra(feature, "async", "aiobotocore") from exc
    return aiobotocore.session


def new_session(feature: str) -> Any:
    """A default aiobotocore session (credentials and region from the environment, as botocore finds them)."""
    return load_aiobotocore(feature).AioSession()


def _is_aiobotocore_session(session: Any) -> bool:
    try:
        from aiobotocore.session import AioSession
    except ImportError:
        return False
    return isinstance(session, AioSession)


def _is_aioboto3_session(session: Any) -> bool:
    # aioboto3.Session wraps an aiobotocore session and opens clients with .client(...)
    return _is_aiobotocore_session(getattr(session, "_session", None)) and callable(
        getattr(session, "client", None)
    )


def session_problem(session: Any) -> str | None:
    """None when ``session`` can open async clients; otherwise what is wrong with it, to put in an error."""
    if _is_aiobotocore_session(session) or _is_aioboto3_session(session):
        return None
    return (
        f"give an aiobotocore session (aiobotocore.session.AioSession) or an aioboto3.Session, not "
        f"{type(session).__module__}.{type(session).__qualname__} (a boto3 session makes blocking clients: "
        "use it with the synchronous twin)"
    )


def client_context(session: Any, service: str, **options: Any) -> Any:
    """The async context manager that opens an aiobotocore ``service`` client from ``session``."""
    if _is_aiobotocore_session(session):
        return session.create_client(service, **options)
    return session.client(service, **options)
