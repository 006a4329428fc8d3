"""The AWS side of the proxy, built with sesflow's :class:`~sesflow.provisioning.Provisioner`.

Two configuration sets publish to one SNS topic, which feeds one SQS queue (with a dead-letter queue):

- the main set (every event type: opens and clicks are tracked);
- optionally an *untracked* set, used when Ghost sends ``o:tracking-opens=no``: the same events without
  ``Open``, so SES adds no open-tracking pixel to those messages.

Every step is idempotent; running it again changes nothing. Both sets publish ``Send`` events, which is what
lets the proxy deliver each newsletter exactly once across crashes (:mod:`.reconcile`);
:func:`send_event_destinations` checks it on any set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal

from sesflow.events import EventType
from sesflow.provisioning import ALL_EVENT_TYPES, Provisioner, SnsSqsPipeline

__all__ = [
    "UNTRACKED_EVENT_TYPES",
    "destinations_request",
    "provision",
    "read_send_event_destinations",
    "send_event_destinations",
]

# Destinations whose events can reach the proxy's SQS queue (SNS subscription, EventBridge rule), in the
# spellings of both APIs. Firehose, CloudWatch and Pinpoint destinations cannot feed the queue.
_QUEUE_FEEDING: Final = ("SNSDestination", "SnsDestination", "EventBridgeDestination")

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


def destinations_request(configuration_set: str, api: Literal["v1", "v2"]) -> tuple[str, dict[str, Any]]:
    """The SES call (operation, parameters) that lists a set's event destinations: v2
    ``GetConfigurationSetEventDestinations`` or v1 ``DescribeConfigurationSet``."""
    if api == "v2":
        return "get_configuration_set_event_destinations", {"ConfigurationSetName": configuration_set}
    return "describe_configuration_set", {
        "ConfigurationSetName": configuration_set,
        "ConfigurationSetAttributeNames": ["eventDestinations"],
    }


def send_event_destinations(destinations: Iterable[Mapping[str, Any]]) -> list[str]:
    """The names of the destinations (as either SES API lists them) that are enabled, publish ``Send``
    events and can feed an SQS queue (SNS or EventBridge)."""
    names = []
    for destination in destinations:
        types = {str(t).lower() for t in destination.get("MatchingEventTypes") or ()}
        if (
            destination.get("Enabled") is True
            and "send" in types
            and any(destination.get(kind) for kind in _QUEUE_FEEDING)
        ):
            names.append(str(destination.get("Name", "")))
    return names


def read_send_event_destinations(
    provisioner: Provisioner, configuration_sets: Sequence[str]
) -> dict[str, list[str]]:
    """For each set, the destinations that publish its ``Send`` events to a queue (empty: none does)."""
    api: Literal["v1", "v2"] = "v2" if provisioner.api == "v2" else "v1"
    client = provisioner.client("sesv2" if api == "v2" else "ses")
    out = {}
    for name in configuration_sets:
        operation, params = destinations_request(name, api)
        answer = getattr(client, operation)(**params)
        out[name] = send_event_destinations(answer.get("EventDestinations") or ())
    return out
