from django.urls import include, path

urlpatterns = [
    # SNS posts SES's events here: https://<your host>/ses/events/
    path("ses/", include("sesflow.integrations.django.urls")),
]
