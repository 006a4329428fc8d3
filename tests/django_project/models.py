from __future__ import annotations

from django.db import models


class Suppression(models.Model):
    """An address the shop stops mailing, written by the event handlers (through the ORM)."""

    address = models.CharField(max_length=254)
    reason = models.CharField(max_length=64)
    message_id = models.CharField(max_length=128)

    class Meta:
        app_label = "django_project"
