from __future__ import annotations

from django.urls import include, path

from sesflow.integrations.django import sns_webhook_async

urlpatterns = [
    path("ses/", include("sesflow.integrations.django.urls")),
    path("ses/async/", sns_webhook_async, name="sns-async"),
]
