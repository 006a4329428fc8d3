"""``python manage.py sesflow_consume``: the SQS worker of a Django project."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from .....consumers import ConsumerError, ConsumerMetrics, SqsConsumer
from ...conf import SettingsError, event_router, idempotency_store, read_settings, sns_verifier


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Receive SES events from SESFLOW['QUEUE_URL'] and route them to SESFLOW['ROUTER'] (deleting only "
        "what its handlers handled) until SIGTERM or SIGINT; a second signal stops at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue-url", help="the queue to read (default: SESFLOW['QUEUE_URL'])")
        parser.add_argument(
            "--wait-time-seconds", type=int, default=20, choices=range(21), metavar="0-20", help="long poll"
        )
        parser.add_argument("--batch-size", type=int, default=10, choices=range(1, 11), metavar="1-10")
        parser.add_argument("--visibility-timeout", type=_positive, default=30, metavar="SECONDS")
        parser.add_argument(
            "--max-workers", type=_positive, default=1, help="handler threads (1: handle in this thread)"
        )
        parser.add_argument("--max-messages", type=_positive, help="stop after receiving this many messages")
        parser.add_argument(
            "--until-empty", action="store_true", help="stop once a receive finds the queue empty"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            consumer = self._consumer(options)
        except SettingsError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"sesflow: consuming {consumer.settings.queue_url} (SIGTERM or Ctrl-C stops)")
        try:
            with consumer:
                if options["until_empty"]:
                    metrics = consumer.run_until_empty(
                        max_messages=options["max_messages"], install_signal_handlers=True
                    )
                else:
                    metrics = consumer.run(max_messages=options["max_messages"], install_signal_handlers=True)
        except ConsumerError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"sesflow: stopped; received {metrics.received}, handled {metrics.handled}, "
            f"failed {metrics.failed}, deleted {metrics.deleted}"
        )

    def _consumer(self, options: dict[str, Any]) -> SqsConsumer:
        current = read_settings()
        queue_url = options["queue_url"] or current.queue_url
        if not queue_url:
            raise SettingsError("SESFLOW['QUEUE_URL'] is not set (or pass --queue-url)")

        def after_batch(metrics: ConsumerMetrics) -> None:
            # A worker lives longer than CONN_MAX_AGE: drop database connections that expired or broke, as
            # Django does around each request.
            close_old_connections()

        return SqsConsumer(
            queue_url,
            event_router(asynchronous=False),
            region=current.region,
            endpoint_url=current.sqs_endpoint_url,
            verifier=sns_verifier() if current.verify_sqs_messages else None,
            idempotency=idempotency_store(),
            wait_time_seconds=options["wait_time_seconds"],
            batch_size=options["batch_size"],
            visibility_timeout=options["visibility_timeout"],
            max_workers=options["max_workers"],
            on_metrics=after_batch,
        )
