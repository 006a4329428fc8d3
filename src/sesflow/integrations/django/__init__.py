"""Django integration (extra ``django``): an email backend, the SNS webhook views, a signal per event and a
worker command, all configured by one ``settings.SESFLOW`` dict.

::

    # settings.py
    INSTALLED_APPS = [..., "sesflow.integrations.django"]   # for sesflow_consume and the system checks
    EMAIL_BACKEND = "sesflow.integrations.django.EmailBackend"
    SESFLOW = {
        "CONFIGURATION_SET": "my-app-events",
        "REGION": "eu-west-1",
        "ROUTER": "myapp.events.router",
        "TOPIC_ARNS": ["arn:aws:sns:eu-west-1:123456789012:ses-events"],
        "QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/ses-events",
    }

    # urls.py
    urlpatterns = [path("ses/", include("sesflow.integrations.django.urls"))]   # POST ses/events/

See the Django page of the documentation for every key, the migration guides and the comparison with
django-ses and django-anymail.
"""

from __future__ import annotations

from ..._public import publish
from ...errors import MissingExtra

try:
    import django  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised with the module hidden
    raise MissingExtra("sesflow.integrations.django", "django", "django") from exc

from .backend import EmailBackend, SesflowOptions, email_from_django
from .conf import CLIENT_SETTINGS, EVENT_SETTINGS, SettingsError
from .signals import EventNotHandled, ses_event
from .views import sns_webhook, sns_webhook_async

__all__ = [
    "CLIENT_SETTINGS",
    "EVENT_SETTINGS",
    "EmailBackend",
    "EventNotHandled",
    "SesflowOptions",
    "SettingsError",
    "email_from_django",
    "ses_event",
    "sns_webhook",
    "sns_webhook_async",
]

publish(__name__, __all__, globals())
