from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sesflow.testing import embedded_moto

DATA = Path(__file__).parent / "data"


def load(name: str) -> dict[str, Any]:
    """A test vector from tests/data (copied from shared/vectors)."""
    data: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server in server mode on a loopback port, for the whole session; yields its endpoint URL.

    Tests that use it must create uniquely named resources (or reset with :func:`moto_reset`).
    """
    with embedded_moto("the test suite", dummy_credentials=True) as endpoint:
        yield endpoint


@pytest.fixture
def moto_reset(moto_server: str) -> str:
    """The moto endpoint, reset to empty before the test."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).close()
    return moto_server


@pytest.fixture(scope="session")
def django_project(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The Django test project (tests/django_project) configured in this process, with its tables."""
    from ._django_support import setup_django

    setup_django(tmp_path_factory.mktemp("django") / "db.sqlite3")


@pytest.fixture
def provisioner(moto_server: str) -> Any:
    """A :class:`~sesflow.provisioning.Provisioner` on the session's moto server (SES v1: moto has no v2
    event destinations)."""
    import boto3

    from sesflow.provisioning import Provisioner

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return Provisioner(session, endpoint_url=moto_server, api="v1")
