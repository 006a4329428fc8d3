"""Settings of the example shop: Django sends through SES with sesflow and learns what became of each mail.

Everything AWS-specific comes from the environment, so the same project runs against AWS or, for a try-out,
against a local moto server (``AWS_ENDPOINT_URL``, which boto3 reads itself).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-example-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "shop.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "sesflow.integrations.django",  # the sesflow_consume command and the SESFLOW system checks
    "shop",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SHOP_DATABASE", str(BASE_DIR / "shop.sqlite3")),
    }
}

# Mail goes through SES, with the configuration set attached to every message.
EMAIL_BACKEND = "sesflow.integrations.django.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("SHOP_FROM_EMAIL", "Example Shop <shop@shop.example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

SESFLOW = {
    "CONFIGURATION_SET": os.environ.get("SES_CONFIGURATION_SET", "shop-events"),
    "REGION": os.environ.get("AWS_REGION", "eu-west-1"),
    "TAGS": {"app": "shop"},
    # Events: the router, the SNS topic allowed to post to the webhook, the queue the worker reads.
    "ROUTER": "shop.events.router",
    "TOPIC_ARNS": [
        os.environ.get("SES_EVENTS_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:shop-ses-events")
    ],
    "QUEUE_URL": os.environ.get("SES_EVENTS_QUEUE_URL"),
    "IDEMPOTENCY_STORE": "shop.events.idempotency_store",
}
