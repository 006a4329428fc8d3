"""Fixtures when these tests run on their own (``pytest examples/ghost_mailgun_proxy/tests``).

Through the project's suite (``tests/test_ghost_proxy.py``), ``moto_server`` comes from ``tests/conftest.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .fixtures import aws

__all__ = ["aws", "moto_server"]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server in server mode on a loopback port for the session; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
