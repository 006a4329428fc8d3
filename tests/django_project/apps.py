from __future__ import annotations

from django.apps import AppConfig


class TestProjectConfig(AppConfig):
    name = "tests.django_project"
    label = "django_project"
