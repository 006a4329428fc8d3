"""Settings of the test project.

In the test process they are applied with ``settings.configure`` (tests/_django_support.py) and the tests
replace ``SESFLOW`` per test with ``override_settings``; a ``sesflow_consume`` subprocess uses this module as
its ``DJANGO_SETTINGS_MODULE`` and gets the moto endpoint, the queue and the database from the environment.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

SECRET_KEY = "sesflow-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.django_project.urls"
INSTALLED_APPS = ["sesflow.integrations.django", "tests.django_project"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware", "django.middleware.csrf.CsrfViewMiddleware"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get(
            "SESFLOW_TEST_DB", str(Path(tempfile.gettempdir()) / "sesflow-django-test.db")
        ),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
EMAIL_BACKEND = "sesflow.integrations.django.EmailBackend"
DEFAULT_FROM_EMAIL = "Shop <shop@shop.example.com>"

SESFLOW = {
    "CONFIGURATION_SET": os.environ.get("SESFLOW_TEST_CONFIGURATION_SET", "shop-events"),
    "REGION": "us-east-1",
    "MAX_SEND_RATE": None,  # moto does not answer the v2 GetAccount that reads it
    "ENDPOINT_URL": os.environ.get("SESFLOW_TEST_ENDPOINT"),
    "ROUTER": "tests.django_project.events.router",
    "TOPIC_ARNS": ["arn:aws:sns:us-east-1:123456789012:ses-events"],
    "QUEUE_URL": os.environ.get("SESFLOW_TEST_QUEUE_URL"),
    "SQS_ENDPOINT_URL": os.environ.get("SESFLOW_TEST_ENDPOINT"),
    "IDEMPOTENCY_STORE": "tests.django_project.events.idempotency_store",
}
