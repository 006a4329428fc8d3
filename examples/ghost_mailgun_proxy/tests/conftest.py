"""Fixtures when these tests run on their own (``pytest examples/ghost_mailgun_proxy/tests``).

Through the project's suite (``tests/test_ghost_proxy.py``), ``moto_server`` comes from ``tests/conftest.py``.
"""

from __future__ import annotations

import pytest

from .fixtures import aws

__all__ = ["aws", "moto_server"]


@pytest.fixture(scope="session")
def moto_server(local_ses_endpoint: str) -> str:
    """The moto server of sesflow's pytest plugin (loopback, one for the session): its endpoint URL."""
    return local_ses_endpoint
