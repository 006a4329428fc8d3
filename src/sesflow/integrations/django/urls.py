"""``path("ses/", include("sesflow.integrations.django.urls"))`` puts the webhook at ``ses/events/``.

The URL's name is ``sesflow-sns``. Mount ``sns_webhook_async`` yourself
for the async view.
"""

from __future__ import annotations

from django.urls import path

from .views import sns_webhook

app_name = "sesflow"

urlpatterns = [path("events/", sns_webhook, name="sesflow-sns")]
