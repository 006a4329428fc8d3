"""Django for the tests: the test project configured once per process, and SNS deliveries it can receive.

``settings.configure`` (not ``DJANGO_SETTINGS_MODULE``) applies tests/django_project/settings.py, so that
Django does not set the process's time zone (it does that only for a settings module) for the other tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from django.test.utils import override_settings

from ._sns_signing import Clock
from ._webhook_support import Signer

PROJECT = "tests.django_project.settings"


def setup_django(db: Path) -> None:
    """Configure the test project (once per process) with its database at ``db``, and create the tables."""
    if settings.configured:
        return
    os.environ["SESFLOW_TEST_DB"] = str(db)
    from .django_project import settings as project

    settings.configure(**{name: getattr(project, name) for name in dir(project) if name.isupper()})
    django.setup()
    from django.core.management import call_command

    call_command("migrate", run_syncdb=True, verbosity=0)


def sesflow_settings(**changes: Any) -> dict[str, Any]:
    """The project's ``SESFLOW`` with ``changes`` (a key set to ``...`` is removed)."""
    from .django_project import settings as project

    out = {**project.SESFLOW, **changes}
    return {key: value for key, value in out.items() if value is not ...}


def verifier_options(signer: Signer) -> dict[str, Any]:
    """``VERIFIER_OPTIONS`` that trust the signer's local HTTPS server (as ``Signer.verifier`` does)."""
    return {
        "clock": Clock(),
        "ssl_context": signer.tls.client_context(),
        "test_only_allowed_origins": [signer.server.origin],
    }


@contextmanager
def sesflow(**changes: Any) -> Iterator[None]:
    """``override_settings(SESFLOW=...)`` with the project's settings and ``changes``."""
    with override_settings(SESFLOW=sesflow_settings(**changes)):
        yield
