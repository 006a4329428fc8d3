"""The AWS side of the proxy, built with sesflow's :class:`~sesflow.provisioning.Provisioner`.

Two configuration sets publish to one SNS topic, which feeds one SQS queue (with a dead-letter queue):

- the main set (every event type: opens and clicks are tracked);
- optionally an *untracked* set, used when Ghost sends ``o:tracking-opens=no``: the same events without
  ``Open``, so SES adds no open-tracking pixel to those messages.

Every step is idempotent; running it again changes nothing.
"""

from __future__ import annotations

from sesflow.events import EventType
from sesflow.provisioning import ALL_EVENT_TYPES, Provisioner, SnsSqsPipeline

__all__ = ["UNTRACKED_EVENT_TYPES", "provision"]

UNTRACKED_EVENT_TYPES: tuple[EventType, ...] = tuple(t for t in ALL_EVENT_TYPES if t is not EventType.OPEN)
"""The untracked set's events: everything but Open (no Open destination, so no tracking pixel)."""


def provision(
    provisioner: Provisioner, configuration_set: str, untracked_configuration_set: str | None = None
) -> tuple[SnsSqsPipeline, dict[str, str]]:
    """Build (or find) the pipeline; returns it and the ``GHOST_PROXY_*`` settings that point at it."""
    pipeline = provisioner.ensure_sns_sqs_pipeline(
        configuration_set, destination_name=f"{configuration_set}-events"
    )
    env = {
        "GHOST_PROXY_CONFIGURATION_SET": configuration_set,
        "GHOST_PROXY_QUEUE_URL": pipeline.queue_url,
        "GHOST_PROXY_REGION": provisioner.region,
    }
    if untracked_configuration_set is not None:
        provisioner.ensure_configuration_set(untracked_configuration_set)
        topic_name = pipeline.topic.name
        topic = provisioner.ensure_topic(
            topic_name, configuration_sets=[configuration_set, untracked_configuration_set]
        )
        provisioner.ensure_sns_destination(
            untracked_configuration_set,
            topic.arn or "",
            name=f"{untracked_configuration_set}-events",
            event_types=UNTRACKED_EVENT_TYPES,
        )
        env["GHOST_PROXY_UNTRACKED_CONFIGURATION_SET"] = untracked_configuration_set
    return pipeline, env
