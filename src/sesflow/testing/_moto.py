"""An embedded moto server on a loopback port, for the pytest plugin, `sesflow demo` and the tests.

``embedded_moto`` is public as ``sesflow.testing.embedded_moto``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import MissingExtra

__all__ = ["embedded_moto"]


@contextmanager
def embedded_moto(feature: str, *, dummy_credentials: bool = False) -> Iterator[str]:
    """Start moto in server mode on 127.0.0.1 (a free port); yield its endpoint URL; stop it on exit.

    ``feature`` names what needs it in the ``MissingExtra`` raised without ``moto[server]``.
    ``dummy_credentials`` sets AWS credentials and region in the environment where none are set, so that
    clients the caller does not build itself can sign their requests.
    """
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise MissingExtra(feature, "testing", "moto[server]") from exc
    if dummy_credentials:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)  # the server would log every request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        werkzeug.setLevel(level)
