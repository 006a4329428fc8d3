"""Django management commands of sesflow (found by Django through the app's ``management`` package)."""

__all__: list[str] = []
