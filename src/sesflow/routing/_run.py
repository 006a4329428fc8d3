"""Running the async entry points from a synchronous Lambda handler, on one loop kept for the process."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .errors import RoutingError

__all__ = ["run_async"]

_T = TypeVar("_T")
_local = threading.local()


def run_async(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coroutine`` to completion from synchronous code and return its result.

    Unlike ``asyncio.run``, the event loop is kept (one per thread) and reused by the next call, so
    what is bound to a loop — an aioboto3 client, an aiohttp session, a connection pool created on first
    use — survives from one warm Lambda invocation to the next:

        def handler(event, context):
            return run_async(handle_sqs_lambda_async(router, event, context))

    Raises ``RoutingError`` when called from inside a running event loop (``await`` the coroutine
    there instead).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coroutine.close()
        raise RoutingError("run_async() was called inside a running event loop; await the coroutine instead")
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
    asyncio.set_event_loop(loop)
    return loop.run_until_complete(coroutine)
