"""``python manage.py sesflow_consume``: see ``.sesflow_consume``."""

__all__: list[str] = []
