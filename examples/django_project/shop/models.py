from django.db import models


class Suppression(models.Model):
    """An address the shop no longer mails: it bounced for good, or its owner complained."""

    address = models.EmailField(unique=True)
    reason = models.CharField(max_length=32)
    message_id = models.CharField(max_length=128)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.address} ({self.reason})"
