"""pytest fixtures for testing SES pipelines locally: a moto server and a ``LocalSes`` on it.

Installed with sesflow, this plugin is loaded by pytest through the ``pytest11`` entry point
(``-p no:sesflow`` turns it off); without the entry point, add
``pytest_plugins = ["sesflow.testing.pytest_plugin"]`` to your top-level ``conftest.py``. The fixtures need
the ``testing`` extra (``moto[server]``).

- ``local_ses_endpoint`` (session): the URL of a moto server on a loopback port, started once. Define a
  fixture of the same name in your ``conftest.py`` to use a server of your own.
- ``local_ses`` (function): a ``LocalSes`` on that server, seeded (``seed=0``), closed after the test.
  ``@pytest.mark.local_ses(seed=..., open_rate=..., click_rate=..., outcomes=..., default_outcome=...)``
  passes options to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from ._moto import embedded_moto

if TYPE_CHECKING:  # imported by the fixture: loading the plugin stays cheap for every pytest run
    from .local_ses import LocalSes

__all__ = ["local_ses", "local_ses_endpoint"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "local_ses(**options): options for the local_ses fixture (seed, open_rate, click_rate, outcomes, "
        "default_outcome, region, clock, account_id)",
    )


@pytest.fixture(scope="session")
def local_ses_endpoint() -> Iterator[str]:
    """A moto server on 127.0.0.1 (a free port) for the whole session; yields its endpoint URL.

    Sets dummy AWS credentials in the environment when there are none, so that clients made by the code
    under test can sign their requests.
    """
    with embedded_moto("the local_ses fixtures", dummy_credentials=True) as endpoint:
        yield endpoint


@pytest.fixture
def local_ses(request: pytest.FixtureRequest, local_ses_endpoint: str) -> Iterator[LocalSes]:
    """A ``LocalSes`` on ``local_ses_endpoint``, options from the ``local_ses`` marker (seed 0 by
    default); its hooks are removed after the test."""
    from .local_ses import LocalSes

    marker = request.node.get_closest_marker("local_ses")
    options = dict(marker.kwargs) if marker is not None else {}
    options.setdefault("seed", 0)
    with LocalSes(local_ses_endpoint, **options) as local:
        yield local
