"""A Mailgun-compatible proxy that lets Ghost CMS send newsletters through Amazon SES, built on sesflow.

Ghost speaks only Mailgun: it posts batches to ``/v3/{domain}/messages`` and polls ``/v3/{domain}/events``.
This app answers both: batches are stored, then sent one message per recipient through
:class:`sesflow.sending.AsyncSesClient`; SES events come back through SNS → SQS
(:class:`sesflow.consumers.AsyncSqsConsumer` and :class:`sesflow.EventRouter`) and are served to Ghost as
Mailgun events. See ``README.md`` beside this file.
"""

from __future__ import annotations

from .app import create_app
from .settings import ProxyConfigError, Settings

__all__ = ["ProxyConfigError", "Settings", "create_app"]
