"""A small Django project for the Django integration's tests: settings, URLs, a model and an event router."""
