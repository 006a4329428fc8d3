"""``python manage.py sesflow_consume``: see :mod:`.sesflow_consume`."""

__all__: list[str] = []
