"""The Django app (``INSTALLED_APPS += ["sesflow.integrations.django"]``): the ``sesflow_consume`` command and
system checks of ``settings.SESFLOW`` (run by ``manage.py check`` and before ``runserver`` / ``migrate``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks


class SesflowConfig(AppConfig):
    name = "sesflow.integrations.django"
    label = "sesflow"
    verbose_name = "sesflow (Amazon SES)"

    def ready(self) -> None:
        checks.register(check_settings, "sesflow")


def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``settings.SESFLOW`` as the email backend, the webhook and the worker will read it.

    - ``sesflow.E001``: a setting is wrong (the message names it);
    - ``sesflow.E002``: sesflow sends the project's mail, but with no configuration set and without
      ``ALLOW_NO_CONFIGURATION_SET`` every send would be refused;
    - ``sesflow.E003``: ``ROUTER`` is set but cannot be loaded.
    """
    from django.conf import settings

    from .conf import SettingsError, client_options, event_router, read_settings, reset

    reset()  # read the settings as they are now
    errors: list[checks.CheckMessage] = []
    try:
        current = read_settings()
        options = client_options()
    except SettingsError as exc:
        return [checks.Error(str(exc), id="sesflow.E001")]
    backend = getattr(settings, "EMAIL_BACKEND", "")
    if (
        backend.startswith("sesflow.integrations.django")
        and options.get("configuration_set") is None
        and not options.get("allow_no_configuration_set", False)
    ):
        errors.append(
            checks.Error(
                "EMAIL_BACKEND is sesflow's but SESFLOW has no CONFIGURATION_SET, so SES would publish no "
                "events and every send is refused",
                hint="set SESFLOW['CONFIGURATION_SET'] (ALLOW_NO_CONFIGURATION_SET=True sends without one)",
                id="sesflow.E002",
            )
        )
    if current.router is not None:
        try:
            event_router(asynchronous=True)
        except SettingsError as exc:
            errors.append(checks.Error(str(exc), id="sesflow.E003"))
    return errors
