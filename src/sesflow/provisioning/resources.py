"""Idempotent ``ensure_*`` operations that build the SES event pipelines, and their teardown.

Each operation looks before it creates: running it twice changes nothing the second time, and every call
reports what it found, created or updated as a ``Resource``. With ``dry_run=True`` nothing is called at
all; the report lists what would be ensured, with the exact parameters.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .._text import one_line
from ..analytics.schema import Layout, glue_key_mappings, glue_table_input
from ..errors import SesflowError
from ..events import EventType
from . import policies

__all__ = [
    "ALL_EVENT_TYPES",
    "FIREHOSE_PARQUET_PREFIX",
    "FIREHOSE_PREFIX",
    "FirehosePipeline",
    "Provisioner",
    "ProvisioningError",
    "Resource",
    "SnsSqsPipeline",
    "firehose_s3_destination",
    "glue_table_name",
    "parquet_conversion",
    "TenantSetup",
    "REPUTATION_POLICIES",
]

log = logging.getLogger("sesflow.provisioning")

ALL_EVENT_TYPES: tuple[EventType, ...] = tuple(EventType)
FIREHOSE_PREFIX = "events/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
FIREHOSE_PARQUET_PREFIX = "parquet/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
"""Where a stream converting to Parquet writes: a prefix of its own, so the NDJSON lake under ``events/``
(written before the switch, or by another stream) never mixes with it; ``sesflow lake compact`` can write
the NDJSON lake's history into the same prefix."""
FIREHOSE_ERROR_PREFIX = (
    "errors/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/!{firehose:error-output-type}/"
)

# MatchingEventTypes spellings: v1 (ses) is camelCase, v2 (sesv2) is upper snake case.
_V1_EVENT_NAMES = {
    EventType.SEND: "send",
    EventType.REJECT: "reject",
    EventType.BOUNCE: "bounce",
    EventType.COMPLAINT: "complaint",
    EventType.DELIVERY: "delivery",
    EventType.OPEN: "open",
    EventType.CLICK: "click",
    EventType.RENDERING_FAILURE: "renderingFailure",
    EventType.DELIVERY_DELAY: "deliveryDelay",
    EventType.SUBSCRIPTION: "subscription",
}
_V2_EVENT_NAMES = {
    EventType.SEND: "SEND",
    EventType.REJECT: "REJECT",
    EventType.BOUNCE: "BOUNCE",
    EventType.COMPLAINT: "COMPLAINT",
    EventType.DELIVERY: "DELIVERY",
    EventType.OPEN: "OPEN",
    EventType.CLICK: "CLICK",
    EventType.RENDERING_FAILURE: "RENDERING_FAILURE",
    EventType.DELIVERY_DELAY: "DELIVERY_DELAY",
    EventType.SUBSCRIPTION: "SUBSCRIPTION",
}


class ProvisioningError(SesflowError):
    """An AWS call made while provisioning failed.

    ``action`` is the call (``"sns.create_topic"``), ``reason`` what went wrong, on one line, and ``code``
    AWS's error code when there is one.
    """

    def __init__(self, action: str, reason: str, *, code: str | None = None) -> None:
        self.action = action
        self.reason = reason
        self.code = code
        super().__init__(f"{action} failed: {reason}")


@attrs.frozen
class Resource:
    """One thing an ``ensure_*`` call dealt with.

    ``status`` is ``"created"``, ``"updated"``, ``"exists"`` (found as wanted, left alone) or ``"planned"``
    (dry run). ``parent`` names the configuration set of an event destination.
    """

    kind: str
    name: str
    arn: str | None
    status: str
    parent: str | None = None
    details: dict[str, Any] = attrs.field(factory=dict, eq=False)

    @property
    def changed(self) -> bool:
        return self.status in ("created", "updated")


@attrs.frozen
class SnsSqsPipeline:
    """Configuration set → SNS topic → SQS queue (with a dead-letter queue)."""

    configuration_set: Resource
    topic: Resource
    queue: Resource
    dead_letter_queue: Resource
    subscription: Resource
    destination: Resource
    queue_url: str

    @property
    def resources(self) -> list[Resource]:
        return [
            self.configuration_set,
            self.topic,
            self.dead_letter_queue,
            self.queue,
            self.subscription,
            self.destination,
        ]


@attrs.frozen
class FirehosePipeline:
    """Configuration set → Firehose delivery stream → S3 (``events/year=/month=/day=/``, or ``parquet/...``
    with the Glue database and table the stream converts records with)."""

    configuration_set: Resource
    bucket: Resource
    firehose_role: Resource
    delivery_stream: Resource
    ses_role: Resource
    destination: Resource
    glue_database: Resource | None = None
    glue_table: Resource | None = None
    lake: Layout = "ndjson"

    @property
    def resources(self) -> list[Resource]:
        glue = [r for r in (self.glue_database, self.glue_table) if r is not None]
        return [
            self.configuration_set,
            self.bucket,
            *glue,
            self.firehose_role,
            self.delivery_stream,
            self.ses_role,
            self.destination,
        ]

    @property
    def location(self) -> str:
        """The S3 prefix of the lake's partitions (what ``sesflow report`` and Athena read)."""
        prefix = FIREHOSE_PARQUET_PREFIX if self.lake == "parquet" else FIREHOSE_PREFIX
        return f"s3://{self.bucket.name}/{prefix.split('/', 1)[0]}/"


REPUTATION_POLICIES = ("none", "standard", "strict")
"""SES's managed reputation policies for a tenant (``UpdateReputationEntityPolicy``)."""


@attrs.frozen
class TenantSetup:
    """A tenant with its resources associated, its reputation policy and its suppression preferences."""

    tenant: Resource
    associations: tuple[Resource, ...]
    reputation_policy: Resource | None
    suppression: Resource | None

    @property
    def resources(self) -> list[Resource]:
        out = [self.tenant, *self.associations]
        out += [r for r in (self.reputation_policy, self.suppression) if r is not None]
        return out


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def glue_table_name(configuration_set: str) -> str:
    """The default Glue table of a configuration set's lake: ``<set>_events`` in Athena's spelling (lower
    case; letters, digits and underscores)."""
    return re.sub(r"[^a-z0-9_]", "_", f"{configuration_set}_events".lower())


def parquet_conversion(
    database: str, table: str, role_arn: str, region: str, *, compression: str = "SNAPPY"
) -> dict[str, Any]:
    """The ``DataFormatConversionConfiguration`` that has Firehose write SES records as Parquet rows of the
    Glue table ``database.table`` (``glue_table_input``).

    Records are read with the OpenX JSON SerDe: ``CaseInsensitive`` (its default) lower-cases the JSON keys so
    SES's camelCase keys meet Glue's lower-case names at every depth, and ``ColumnToJsonKeyMappings`` maps the
    renamed reserved words back (``from_`` -> ``from``). The table version is ``LATEST``, so a column added to
    the table (a field the models gain) is picked up without touching the stream.
    """
    return {
        "Enabled": True,
        "SchemaConfiguration": {
            "DatabaseName": database,
            "TableName": table,
            "RoleARN": role_arn,
            "Region": region,
            "VersionId": "LATEST",
        },
        "InputFormatConfiguration": {
            "Deserializer": {
                "OpenXJsonSerDe": {
                    "CaseInsensitive": True,
                    "ConvertDotsInJsonKeysToUnderscores": False,
                    "ColumnToJsonKeyMappings": glue_key_mappings(),
                }
            }
        },
        "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"Compression": compression}}},
    }


def firehose_s3_destination(
    bucket: str,
    role_arn: str,
    *,
    prefix: str = FIREHOSE_PREFIX,
    conversion: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``ExtendedS3DestinationConfiguration`` of the lake's delivery stream.

    NDJSON (no ``conversion``): gzip objects, buffered up to 64 MiB or 60 seconds. Parquet: Firehose refuses
    S3 compression with format conversion (each Parquet page is compressed instead) and a buffer under 64
    MiB, so it is 128 MiB (the largest, for the fewest, largest files) or 300 seconds.
    """
    config: dict[str, Any] = {
        "RoleARN": role_arn,
        "BucketARN": f"arn:aws:s3:::{bucket}",
        "Prefix": prefix,
        "ErrorOutputPrefix": FIREHOSE_ERROR_PREFIX,
    }
    if conversion is None:
        config["BufferingHints"] = {"SizeInMBs": 64, "IntervalInSeconds": 60}
        config["CompressionFormat"] = "GZIP"
    else:
        config["BufferingHints"] = {"SizeInMBs": 128, "IntervalInSeconds": 300}
        config["CompressionFormat"] = "UNCOMPRESSED"
        config["DataFormatConversionConfiguration"] = conversion
    return config


class Provisioner:
    """Builds SES event pipelines in one account and region.

    ``session`` is a boto3 session (default: a new one); ``region`` and ``endpoint_url`` are passed to every
    client (``endpoint_url`` points at a local emulator such as moto). ``api`` picks the SES API for event
    destinations: ``"v2"`` (default; all four destination kinds) or ``"v1"`` (SNS, Firehose and CloudWatch
    only — EventBridge destinations exist only in v2). Tenants exist only in v2 and always use it.
    ``account_id`` is the account in the ARNs it builds (default: asked of STS when first needed).
    """

    def __init__(
        self,
        session: boto3.session.Session | None = None,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        api: str = "v2",
        dry_run: bool = False,
        account_id: str | None = None,
    ) -> None:
        if api not in ("v1", "v2"):
            raise ValueError(f"api must be 'v1' or 'v2', got {api!r}")
        self._session = session or boto3.session.Session(region_name=region)
        self.region = region or self._session.region_name or "us-east-1"
        self._endpoint_url = endpoint_url
        self.api = api
        self.dry_run = dry_run
        self._clients: dict[str, Any] = {}
        self._account_id: str | None = account_id

    # --- plumbing -----------------------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """The boto3 client for ``service`` in this provisioner's region (and endpoint)."""
        client = self._clients.get(service)
        if client is None:
            client = self._clients[service] = self._session.client(
                service,  # type: ignore[call-overload]
                region_name=self.region,
                endpoint_url=self._endpoint_url,
            )
        return client

    @property
    def account_id(self) -> str:
        if self._account_id is None:
            self._account_id = (
                "123456789012" if self.dry_run else self._call("sts", "get_caller_identity")["Account"]
            )
        return self._account_id

    def _call(self, service: str, operation: str, **params: Any) -> Any:
        try:
            return getattr(self.client(service), operation)(**params)
        except ClientError as exc:
            raise ProvisioningError(f"{service}.{operation}", one_line(str(exc)), code=_code(exc)) from exc
        except BotoCoreError as exc:  # no answer at all: endpoint unreachable, credentials missing...
            raise ProvisioningError(f"{service}.{operation}", one_line(str(exc))) from exc

    def _find(self, service: str, operation: str, missing: tuple[str, ...], **params: Any) -> Any:
        """The answer of a read call, or None when AWS says the thing is missing (one of ``missing``)."""
        try:
            return getattr(self.client(service), operation)(**params)
        except ClientError as exc:
            if _code(exc) in missing:
                return None
            raise ProvisioningError(f"{service}.{operation}", one_line(str(exc)), code=_code(exc)) from exc
        except BotoCoreError as exc:
            raise ProvisioningError(f"{service}.{operation}", one_line(str(exc))) from exc

    def _planned(self, kind: str, name: str, arn: str | None = None, **details: Any) -> Resource:
        log.info("dry run: would ensure %s %s", kind, name)
        return Resource(kind, name, arn, "planned", details.pop("parent", None), details)

    # --- configuration sets and destinations --------------------------------------------------------------

    def ensure_configuration_set(
        self,
        name: str,
        *,
        custom_redirect_domain: str | None = None,
        reputation_metrics: bool = True,
    ) -> Resource:
        """A configuration set called ``name``; created with tracking and reputation options when new.

        ``custom_redirect_domain`` sets the open/click tracking domain (v2 ``TrackingOptions``).
        """
        from ..sending.validation import validate_configuration_set_name

        validate_configuration_set_name(name)
        arn = policies.configuration_set_arn(self.region, self.account_id, name)
        if self.dry_run:
            return self._planned(
                "configuration-set", name, arn, custom_redirect_domain=custom_redirect_domain
            )
        if self._configuration_set_exists(name):
            return Resource("configuration-set", name, arn, "exists")
        if self.api == "v2":
            params: dict[str, Any] = {
                "ConfigurationSetName": name,
                "ReputationOptions": {"ReputationMetricsEnabled": reputation_metrics},
            }
            if custom_redirect_domain:
                params["TrackingOptions"] = {"CustomRedirectDomain": custom_redirect_domain}
            self._call("sesv2", "create_configuration_set", **params)
        else:
            self._call("ses", "create_configuration_set", ConfigurationSet={"Name": name})
            if custom_redirect_domain:
                self._call(
                    "ses",
                    "create_configuration_set_tracking_options",
                    ConfigurationSetName=name,
                    TrackingOptions={"CustomRedirectDomain": custom_redirect_domain},
                )
        log.info("created configuration set %s", name)
        return Resource("configuration-set", name, arn, "created")

    def _configuration_set_exists(self, name: str) -> bool:
        missing = (
            "NotFoundException",
            "ConfigurationSetDoesNotExist",
            "ConfigurationSetDoesNotExistException",
        )
        if self.api == "v2":
            found = self._find("sesv2", "get_configuration_set", missing, ConfigurationSetName=name)
        else:
            found = self._find("ses", "describe_configuration_set", missing, ConfigurationSetName=name)
        return found is not None

    def _existing_destinations(self, configuration_set: str) -> dict[str, dict[str, Any]]:
        if self.api == "v2":
            answer = self._call(
                "sesv2", "get_configuration_set_event_destinations", ConfigurationSetName=configuration_set
            )
        else:
            answer = self._call(
                "ses",
                "describe_configuration_set",
                ConfigurationSetName=configuration_set,
                ConfigurationSetAttributeNames=["eventDestinations"],
            )
        return {d["Name"]: d for d in answer.get("EventDestinations", [])}

    def _ensure_destination(
        self,
        configuration_set: str,
        name: str,
        kind: str,
        target: dict[str, Any],
        event_types: Iterable[EventType],
        enabled: bool,
    ) -> Resource:
        """Create or update one destination; ``target`` is v2-spelled (``{"SnsDestination": {...}}``)."""
        types = list(dict.fromkeys(EventType(t) for t in event_types))
        if not types:
            raise ValueError("an event destination needs at least one event type")
        if kind == "eventbridge" and self.api == "v1":
            raise ValueError("EventBridge destinations exist only in the SES v2 API: use api='v2'")
        if self.dry_run:
            return self._planned(
                f"event-destination:{kind}",
                name,
                None,
                parent=configuration_set,
                event_types=[t.value for t in types],
                enabled=enabled,
                target=target,
            )
        wanted: dict[str, Any]
        if self.api == "v2":
            wanted = {"Enabled": enabled, "MatchingEventTypes": [_V2_EVENT_NAMES[t] for t in types], **target}
        else:
            wanted = {
                "Name": name,
                "Enabled": enabled,
                "MatchingEventTypes": [_V1_EVENT_NAMES[t] for t in types],
                **_v1_target(target),
            }
        existing = self._existing_destinations(configuration_set).get(name)
        details = {"event_types": [t.value for t in types], "enabled": enabled, **target}
        if existing is not None and _same_destination(existing, wanted):
            return Resource(f"event-destination:{kind}", name, None, "exists", configuration_set, details)
        action = "create" if existing is None else "update"
        # v2 names the destination in the request; v1 carries it inside EventDestination.
        where = {"EventDestinationName": name} if self.api == "v2" else {}
        self._call(
            "sesv2" if self.api == "v2" else "ses",
            f"{action}_configuration_set_event_destination",
            ConfigurationSetName=configuration_set,
            EventDestination=wanted,
            **where,
        )
        log.info("%sd event destination %s on %s", action, name, configuration_set)
        return Resource(f"event-destination:{kind}", name, None, f"{action}d", configuration_set, details)

    def ensure_sns_destination(
        self,
        configuration_set: str,
        topic_arn: str,
        *,
        name: str = "sns",
        event_types: Iterable[EventType] = ALL_EVENT_TYPES,
        enabled: bool = True,
    ) -> Resource:
        """An event destination publishing ``event_types`` to an SNS topic."""
        return self._ensure_destination(
            configuration_set, name, "sns", {"SnsDestination": {"TopicArn": topic_arn}}, event_types, enabled
        )

    def ensure_firehose_destination(
        self,
        configuration_set: str,
        delivery_stream_arn: str,
        iam_role_arn: str,
        *,
        name: str = "firehose",
        event_types: Iterable[EventType] = ALL_EVENT_TYPES,
        enabled: bool = True,
    ) -> Resource:
        """An event destination writing to a Firehose delivery stream through ``iam_role_arn``."""
        target = {
            "KinesisFirehoseDestination": {
                "IamRoleArn": iam_role_arn,
                "DeliveryStreamArn": delivery_stream_arn,
            }
        }
        return self._ensure_destination(configuration_set, name, "firehose", target, event_types, enabled)

    def ensure_eventbridge_destination(
        self,
        configuration_set: str,
        *,
        name: str = "eventbridge",
        event_bus_arn: str | None = None,
        event_types: Iterable[EventType] = ALL_EVENT_TYPES,
        enabled: bool = True,
    ) -> Resource:
        """An event destination sending to EventBridge (the account's default bus unless given). v2 only."""
        bus = event_bus_arn or f"arn:aws:events:{self.region}:{self.account_id}:event-bus/default"
        target = {"EventBridgeDestination": {"EventBusArn": bus}}
        return self._ensure_destination(configuration_set, name, "eventbridge", target, event_types, enabled)

    def ensure_cloudwatch_destination(
        self,
        configuration_set: str,
        dimensions: Sequence[tuple[str, str, str]],
        *,
        name: str = "cloudwatch",
        event_types: Iterable[EventType] = ALL_EVENT_TYPES,
        enabled: bool = True,
    ) -> Resource:
        """An event destination publishing CloudWatch metrics.

        ``dimensions`` are ``(name, source, default)`` with source ``"MESSAGE_TAG"``, ``"EMAIL_HEADER"`` or
        ``"LINK_TAG"``: e.g. ``[("campaign", "MESSAGE_TAG", "none")]``.
        """
        if not dimensions:
            raise ValueError("a CloudWatch destination needs at least one dimension")
        configs = [
            {"DimensionName": d, "DimensionValueSource": source.upper(), "DefaultDimensionValue": default}
            for d, source, default in dimensions
        ]
        target = {"CloudWatchDestination": {"DimensionConfigurations": configs}}
        return self._ensure_destination(configuration_set, name, "cloudwatch", target, event_types, enabled)

    # --- SNS, SQS -----------------------------------------------------------------------------------------

    def ensure_topic(self, name: str, *, configuration_sets: Sequence[str] = ()) -> Resource:
        """An SNS topic; its policy lets SES publish from ``configuration_sets`` of this account only."""
        arn = f"arn:aws:sns:{self.region}:{self.account_id}:{name}"
        if self.dry_run:
            return self._planned("sns-topic", name, arn)
        existing = {t["TopicArn"] for t in self._paginate("sns", "list_topics", "Topics")}
        arn = self._call("sns", "create_topic", Name=name)["TopicArn"]  # idempotent by name
        status = "exists" if arn in existing else "created"
        if configuration_sets:
            cs_arns = [
                policies.configuration_set_arn(self.region, self.account_id, c) for c in configuration_sets
            ]
            policy = json.dumps(policies.ses_sns_topic_policy(arn, self.account_id, cs_arns), sort_keys=True)
            current = self._call("sns", "get_topic_attributes", TopicArn=arn)["Attributes"].get("Policy")
            if current is None or json.loads(current) != json.loads(policy):
                self._call(
                    "sns", "set_topic_attributes", TopicArn=arn, AttributeName="Policy", AttributeValue=policy
                )
                status = "created" if status == "created" else "updated"
        return Resource("sns-topic", name, arn, status)

    def ensure_queue(self, name: str, *, attributes: dict[str, str] | None = None) -> tuple[Resource, str]:
        """An SQS queue with ``attributes`` (updated when they differ); returns it and its URL."""
        wanted = dict(attributes or {})
        if self.dry_run:
            return self._planned("sqs-queue", name, None, attributes=wanted), ""
        missing = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
        found = self._find("sqs", "get_queue_url", missing, QueueName=name)
        if found is not None:
            url, status = found["QueueUrl"], "exists"
        else:
            url = self._call("sqs", "create_queue", QueueName=name, Attributes=wanted)["QueueUrl"]
            status = "created"
        current = self._call("sqs", "get_queue_attributes", QueueUrl=url, AttributeNames=["All"])[
            "Attributes"
        ]
        differing = {k: v for k, v in wanted.items() if not _same_attribute(current.get(k), v)}
        if differing and status == "exists":
            self._call("sqs", "set_queue_attributes", QueueUrl=url, Attributes=differing)
            status = "updated"
        return Resource("sqs-queue", name, current["QueueArn"], status, details={"url": url}), url

    def ensure_subscription(self, topic_arn: str, queue_arn: str, *, raw_delivery: bool = False) -> Resource:
        """The queue subscribed to the topic (raw message delivery optional)."""
        if self.dry_run:
            return self._planned(
                "sns-subscription", queue_arn, None, topic=topic_arn, raw_delivery=raw_delivery
            )
        for sub in self._paginate("sns", "list_subscriptions_by_topic", "Subscriptions", TopicArn=topic_arn):
            if sub["Protocol"] == "sqs" and sub["Endpoint"] == queue_arn:
                arn = sub["SubscriptionArn"]
                attrs_now = self._call("sns", "get_subscription_attributes", SubscriptionArn=arn)[
                    "Attributes"
                ]
                if (attrs_now.get("RawMessageDelivery", "false").lower() == "true") == raw_delivery:
                    return Resource(
                        "sns-subscription", queue_arn, arn, "exists", details={"topic": topic_arn}
                    )
                self._call(
                    "sns",
                    "set_subscription_attributes",
                    SubscriptionArn=arn,
                    AttributeName="RawMessageDelivery",
                    AttributeValue=str(raw_delivery).lower(),
                )
                return Resource("sns-subscription", queue_arn, arn, "updated", details={"topic": topic_arn})
        arn = self._call(
            "sns",
            "subscribe",
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": str(raw_delivery).lower()},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return Resource("sns-subscription", queue_arn, arn, "created", details={"topic": topic_arn})

    def ensure_sns_sqs_pipeline(
        self,
        configuration_set: str,
        *,
        topic_name: str | None = None,
        queue_name: str | None = None,
        dead_letter_queue_name: str | None = None,
        max_receive_count: int = 5,
        visibility_timeout: int = 60,
        raw_delivery: bool = False,
        event_types: Iterable[EventType] = ALL_EVENT_TYPES,
        destination_name: str = "sns-to-sqs",
    ) -> SnsSqsPipeline:
        """The articles' first pipeline, end to end.

        Configuration set → event destination → SNS topic (policy: only SES, only this set) → SQS queue
        (policy: only that topic may send, by ``aws:SourceArn``) with a dead-letter queue after
        ``max_receive_count`` receives. Names default to ``<configuration_set>-events`` and ``...-dlq``.
        """
        topic_name = topic_name or f"{configuration_set}-events"
        queue_name = queue_name or f"{configuration_set}-events"
        dead_letter_queue_name = dead_letter_queue_name or f"{queue_name}-dlq"
        cs = self.ensure_configuration_set(configuration_set)
        topic = self.ensure_topic(topic_name, configuration_sets=[configuration_set])
        dlq, _ = self.ensure_queue(dead_letter_queue_name, attributes={"MessageRetentionPeriod": "1209600"})
        queue_arn = f"arn:aws:sqs:{self.region}:{self.account_id}:{queue_name}"
        attributes = {
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps(
                {
                    "deadLetterTargetArn": dlq.arn
                    or f"arn:aws:sqs:{self.region}:{self.account_id}:{dead_letter_queue_name}",
                    "maxReceiveCount": max_receive_count,
                },
                separators=(",", ":"),
            ),
            "Policy": json.dumps(
                policies.sns_to_sqs_queue_policy(queue_arn, topic.arn or ""), separators=(",", ":")
            ),
        }
        queue, url = self.ensure_queue(queue_name, attributes=attributes)
        subscription = self.ensure_subscription(
            topic.arn or "", queue.arn or queue_arn, raw_delivery=raw_delivery
        )
        destination = self.ensure_sns_destination(
            configuration_set, topic.arn or "", name=destination_name, event_types=event_types
        )
        return SnsSqsPipeline(cs, topic, queue, dlq, subscription, destination, url)

    # --- Firehose, S3, IAM --------------------------------------------------------------------------------

    def ensure_bucket(self, name: str) -> Resource:
        arn = f"arn:aws:s3:::{name}"
        if self.dry_run:
            return self._planned("s3-bucket", name, arn)
        if self._find("s3", "head_bucket", ("404", "NoSuchBucket", "NotFound"), Bucket=name) is not None:
            return Resource("s3-bucket", name, arn, "exists")
        params: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        self._call("s3", "create_bucket", **params)
        return Resource("s3-bucket", name, arn, "created")

    def ensure_role(
        self,
        name: str,
        trust_policy: dict[str, Any],
        inline_policy: dict[str, Any],
        *,
        policy_name: str = "sesflow",
    ) -> Resource:
        """An IAM role with exactly this trust policy and one inline policy (updated when they differ)."""
        if self.dry_run:
            return self._planned(
                "iam-role",
                name,
                f"arn:aws:iam::{self.account_id}:role/{name}",
                trust=trust_policy,
                policy=inline_policy,
            )
        found = self._find("iam", "get_role", ("NoSuchEntity",), RoleName=name)
        if found is not None:
            role = found["Role"]
            status = "exists"
            current_trust = role.get("AssumeRolePolicyDocument")
            if isinstance(current_trust, str):
                current_trust = json.loads(current_trust)
            if current_trust != trust_policy:
                self._call(
                    "iam", "update_assume_role_policy", RoleName=name, PolicyDocument=json.dumps(trust_policy)
                )
                status = "updated"
        else:
            role = self._call(
                "iam", "create_role", RoleName=name, AssumeRolePolicyDocument=json.dumps(trust_policy)
            )["Role"]
            status = "created"
        found = self._find("iam", "get_role_policy", ("NoSuchEntity",), RoleName=name, PolicyName=policy_name)
        current = found["PolicyDocument"] if found is not None else None
        if isinstance(current, str):
            current = json.loads(current)
        if current != inline_policy:
            self._call(
                "iam",
                "put_role_policy",
                RoleName=name,
                PolicyName=policy_name,
                PolicyDocument=json.dumps(inline_policy),
            )
            if status == "exists":
                status = "updated"
        return Resource("iam-role", name, role["Arn"], status)

    def ensure_glue_database(self, name: str) -> Resource:
        """A Glue database (the catalog namespace of the lake's table)."""
        arn = f"arn:aws:glue:{self.region}:{self.account_id}:database/{name}"
        if self.dry_run:
            return self._planned("glue-database", name, arn)
        if self._find("glue", "get_database", ("EntityNotFoundException",), Name=name) is not None:
            return Resource("glue-database", name, arn, "exists")
        self._call("glue", "create_database", DatabaseInput={"Name": name})
        return Resource("glue-database", name, arn, "created")

    def ensure_glue_table(self, database: str, table_input: dict[str, Any]) -> Resource:
        """A Glue table as ``table_input`` (Glue ``TableInput``) describes it: created, or updated in place
        when its columns, partitions, storage or parameters differ (a field the models gained becomes a
        column)."""
        name = str(table_input["Name"])
        arn = f"arn:aws:glue:{self.region}:{self.account_id}:table/{database}/{name}"
        details = {"location": table_input["StorageDescriptor"]["Location"]}
        if self.dry_run:
            return self._planned("glue-table", name, arn, parent=database, **details)
        found = self._find(
            "glue", "get_table", ("EntityNotFoundException",), DatabaseName=database, Name=name
        )
        if found is None:
            self._call("glue", "create_table", DatabaseName=database, TableInput=table_input)
            return Resource("glue-table", name, arn, "created", database, details)
        if _same_table(found["Table"], table_input):
            return Resource("glue-table", name, arn, "exists", database, details)
        self._call("glue", "update_table", DatabaseName=database, TableInput=table_input)
        return Resource("glue-table", name, arn, "updated", database, details)

    def ensure_delivery_stream(
        self,
        name: str,
        bucket: str,
        role_arn: str,
        *,
        prefix: str = FIREHOSE_PREFIX,
        conversion: dict[str, Any] | None = None,
    ) -> Resource:
        """A Firehose delivery stream into ``bucket`` under the date-partitioned ``prefix``.

        ``conversion`` (``parquet_conversion``) has it write Parquet. A stream that exists is left alone
        when it writes the wanted format under the wanted prefix, and switched (``UpdateDestination``) when it
        does not.
        """
        wanted = firehose_s3_destination(bucket, role_arn, prefix=prefix, conversion=conversion)
        details = {"prefix": prefix, "format": "parquet" if conversion else "ndjson"}
        if self.dry_run:
            return self._planned(
                "firehose-stream",
                name,
                f"arn:aws:firehose:{self.region}:{self.account_id}:deliverystream/{name}",
                **details,
            )
        found = self._find(
            "firehose", "describe_delivery_stream", ("ResourceNotFoundException",), DeliveryStreamName=name
        )
        if found is None:
            arn = self._call(
                "firehose",
                "create_delivery_stream",
                DeliveryStreamName=name,
                DeliveryStreamType="DirectPut",
                ExtendedS3DestinationConfiguration=wanted,
            )["DeliveryStreamARN"]
            return Resource("firehose-stream", name, arn, "created", details=details)
        description = found["DeliveryStreamDescription"]
        arn = description["DeliveryStreamARN"]
        destination = (description.get("Destinations") or [{}])[0]
        current = destination.get("ExtendedS3DestinationDescription") or {}
        converting = bool((current.get("DataFormatConversionConfiguration") or {}).get("Enabled", False))
        if current.get("Prefix") == prefix and converting == (conversion is not None):
            return Resource("firehose-stream", name, arn, "exists", details=details)
        update = {k: v for k, v in wanted.items() if k not in ("RoleARN", "BucketARN")}
        if conversion is None:
            update["DataFormatConversionConfiguration"] = {"Enabled": False}
        self._call(
            "firehose",
            "update_destination",
            DeliveryStreamName=name,
            CurrentDeliveryStreamVersionId=description["VersionId"],
            DestinationId=destination["DestinationId"],
            ExtendedS3DestinationUpdate=update,
        )
        log.info("switched delivery stream %s to %s under %s", name, details["format"], prefix)
        return Resource("firehose-stream", name, arn, "updated", details=details)

    def ensure_firehose_s3_pipeline(
        self,
        configuration_set: str,
        bucket: str,
        *,
        stream_name: str | None = None,
        event_types: Iterable[EventType] = ALL_EVENT_TYPES,
        destination_name: str = "firehose-to-s3",
        lake: Layout = "ndjson",
        glue_database: str = "sesflow",
        glue_table: str | None = None,
        projection_years: tuple[int, int] = (2020, 2050),
    ) -> FirehosePipeline:
        """The articles' second pipeline: configuration set → Firehose → S3 ``events/year=/month=/day=/``.

        Creates the bucket, the role Firehose assumes to write to it, the delivery stream (gzip NDJSON), the
        role SES assumes to put records, and the event destination.

        ``lake="parquet"`` has the stream convert every record to Parquet under ``parquet/year=/month=/day=/``
        instead, with the schema of a Glue table generated from the models (``glue_database``.``glue_table``,
        default ``<set>_events``; partition projection over ``projection_years``), which Athena queries as is.
        The Firehose role may then also read that table, and nothing else in Glue.
        """
        if lake not in ("ndjson", "parquet"):
            raise ValueError(f"lake is 'ndjson' or 'parquet', not {lake!r}")
        stream_name = stream_name or f"{configuration_set}-events"
        cs = self.ensure_configuration_set(configuration_set)
        bucket_resource = self.ensure_bucket(bucket)
        database = table = None
        role_policy = policies.firehose_s3_policy(bucket)
        prefix = FIREHOSE_PREFIX
        if lake == "parquet":
            prefix = FIREHOSE_PARQUET_PREFIX
            table_name = glue_table or glue_table_name(configuration_set)
            database = self.ensure_glue_database(glue_database)
            location = f"s3://{bucket}/{prefix.split('/', 1)[0]}/"
            table = self.ensure_glue_table(
                glue_database,
                glue_table_input(table_name, location, projection_years=projection_years),
            )
            role_policy = policies.merge_policies(
                policies.firehose_s3_policy(bucket, ("parquet/", "errors/")),
                policies.firehose_glue_policy(self.region, self.account_id, glue_database, table_name),
            )
        firehose_role = self.ensure_role(
            f"{stream_name}-firehose", policies.firehose_trust_policy(self.account_id), role_policy
        )
        conversion = None
        if lake == "parquet":
            assert table is not None
            conversion = parquet_conversion(glue_database, table.name, firehose_role.arn or "", self.region)
        stream = self.ensure_delivery_stream(
            stream_name, bucket, firehose_role.arn or "", prefix=prefix, conversion=conversion
        )
        ses_role = self.ensure_role(
            f"{stream_name}-ses",
            policies.ses_trust_policy(self.account_id),
            policies.ses_firehose_policy(stream.arn or ""),
        )
        destination = self.ensure_firehose_destination(
            configuration_set,
            stream.arn or "",
            ses_role.arn or "",
            name=destination_name,
            event_types=event_types,
        )
        return FirehosePipeline(
            cs, bucket_resource, firehose_role, stream, ses_role, destination, database, table, lake
        )

    # --- tenants ------------------------------------------------------------------------------------------

    def ensure_tenant(
        self,
        name: str,
        *,
        configuration_sets: Sequence[str] = (),
        identities: Sequence[str] = (),
        templates: Sequence[str] = (),
        reputation_policy: str | None = "standard",
        suppression_scope: str | None = None,
        suppressed_reasons: Sequence[str] = ("BOUNCE", "COMPLAINT"),
        tags: dict[str, str] | None = None,
    ) -> TenantSetup:
        """A tenant called ``name`` that can send (SES v2).

        Creates the tenant when missing (with ``tags``), associates each configuration set, identity
        (``example.com`` or ``sender@example.com``) and template with it (``CreateTenantResourceAssociation``
        by ARN; SES needs at least one identity and one configuration set before the tenant can send), sets
        its ``reputation_policy`` (``none``, ``standard`` or ``strict``; None leaves it as it is) and, when
        ``suppression_scope`` is given (``TENANT`` or ``ACCOUNT``), its suppression preferences. Each step
        looks first and changes only what differs.
        """
        from ..sending._requests import suppression_reason
        from ..sending.validation import validate_configuration_set_name, validate_tenant_name

        validate_tenant_name(name, field="name")
        for cs in configuration_sets:
            validate_configuration_set_name(cs)
        if reputation_policy is not None and reputation_policy not in REPUTATION_POLICIES:
            raise ValueError(
                f"reputation_policy is one of {REPUTATION_POLICIES} or None, not {reputation_policy!r}"
            )
        scope = None if suppression_scope is None else str(suppression_scope).upper()
        if scope is not None and scope not in ("TENANT", "ACCOUNT"):
            raise ValueError(f"suppression_scope is 'TENANT' or 'ACCOUNT', not {suppression_scope!r}")
        reasons = sorted({suppression_reason(r) for r in suppressed_reasons})
        wanted = [policies.configuration_set_arn(self.region, self.account_id, c) for c in configuration_sets]
        base = f"arn:aws:ses:{self.region}:{self.account_id}"
        wanted += [f"{base}:identity/{i}" for i in identities]
        wanted += [f"{base}:template/{t}" for t in templates]
        policy_arn = (
            None
            if reputation_policy is None
            else policies.reputation_policy_arn(self.region, reputation_policy)
        )
        if self.dry_run:
            tenant = self._planned("tenant", name, None, tags=dict(tags or {}))
            associations = tuple(self._planned("tenant-resource", a, a, parent=name) for a in wanted)
            policy = (
                None if policy_arn is None else self._planned("tenant-reputation-policy", name, policy_arn)
            )
            suppression = (
                None
                if scope is None
                else self._planned("tenant-suppression", name, None, scope=scope, reasons=reasons)
            )
            return TenantSetup(tenant, associations, policy, suppression)
        found = self._find("sesv2", "get_tenant", ("NotFoundException",), TenantName=name)
        if found is None:
            params: dict[str, Any] = {"TenantName": name}
            if tags:
                params["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
            info = self._call("sesv2", "create_tenant", **params)
            status = "created"
            log.info("created tenant %s", name)
        else:
            info, status = found["Tenant"], "exists"
        arn = str(info["TenantArn"])
        tenant = Resource("tenant", name, arn, status, details={"tenant_id": info.get("TenantId")})
        associated = {
            r["ResourceArn"]
            for r in self._pages("sesv2", "list_tenant_resources", "TenantResources", TenantName=name)
        }
        made: list[Resource] = []
        for resource_arn in dict.fromkeys(wanted):
            if resource_arn in associated:
                made.append(Resource("tenant-resource", resource_arn, resource_arn, "exists", name))
                continue
            self._call(
                "sesv2", "create_tenant_resource_association", TenantName=name, ResourceArn=resource_arn
            )
            made.append(Resource("tenant-resource", resource_arn, resource_arn, "created", name))
        policy = None
        if policy_arn is not None:
            entity = self._call(
                "sesv2",
                "get_reputation_entity",
                ReputationEntityType="RESOURCE",
                ReputationEntityReference=arn,
            ).get("ReputationEntity", {})
            policy_status = "exists"
            if entity.get("ReputationManagementPolicy") != policy_arn:
                self._call(
                    "sesv2",
                    "update_reputation_entity_policy",
                    ReputationEntityType="RESOURCE",
                    ReputationEntityReference=arn,
                    ReputationEntityPolicy=policy_arn,
                )
                policy_status = "updated"
            policy = Resource("tenant-reputation-policy", name, policy_arn, policy_status, name)
        suppression = None
        if scope is not None:
            current = info.get("SuppressionAttributes") or {}
            same = (
                current.get("SuppressionScope") == scope
                and sorted(current.get("SuppressedReasons") or []) == reasons
            )
            if not same:
                self._call(
                    "sesv2",
                    "put_tenant_suppression_attributes",
                    TenantName=name,
                    SuppressionScope=scope,
                    SuppressedReasons=reasons,
                )
            details = {"scope": scope, "reasons": reasons}
            suppression = Resource(
                "tenant-suppression", name, None, "exists" if same else "updated", name, details
            )
        return TenantSetup(tenant, tuple(made), policy, suppression)

    def _pages(self, service: str, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a ``NextToken``-paged list call (for operations botocore has no paginator for)."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            answer = self._call(service, operation, **params, **({"NextToken": token} if token else {}))
            items += answer.get(key, [])
            token = answer.get("NextToken")
            if not token:
                return items

    # --- teardown -----------------------------------------------------------------------------------------

    def teardown(self, resources: Iterable[Resource]) -> list[Resource]:
        """Delete what an earlier run *created* (not what it found), newest first; returns what it deleted.

        An event destination inside a configuration set that is itself being deleted goes with its set, and a
        tenant's resource associations with the tenant. Settings (a tenant's reputation policy and suppression
        preferences) are not created, so there is nothing of theirs to delete.
        """
        created = [r for r in resources if r.status == "created"]
        doomed_sets = {r.name for r in created if r.kind == "configuration-set"}
        doomed_tenants = {r.name for r in created if r.kind == "tenant"}
        deleted: list[Resource] = []
        for r in reversed(created):
            if self.dry_run:
                deleted.append(r)
                continue
            if r.kind.startswith("event-destination") and r.parent in doomed_sets:
                deleted.append(r)
                continue
            if r.kind == "tenant-resource" and r.parent in doomed_tenants:
                deleted.append(r)
                continue
            self._delete(r)
            deleted.append(r)
        return deleted

    def _delete(self, r: Resource) -> None:
        log.info("deleting %s %s", r.kind, r.name)
        if r.kind == "configuration-set":
            if self.api == "v2":
                self._call("sesv2", "delete_configuration_set", ConfigurationSetName=r.name)
            else:
                self._call("ses", "delete_configuration_set", ConfigurationSetName=r.name)
        elif r.kind.startswith("event-destination"):
            if self.api == "v2":
                self._call(
                    "sesv2",
                    "delete_configuration_set_event_destination",
                    ConfigurationSetName=r.parent,
                    EventDestinationName=r.name,
                )
            else:
                self._call(
                    "ses",
                    "delete_configuration_set_event_destination",
                    ConfigurationSetName=r.parent,
                    EventDestinationName=r.name,
                )
        elif r.kind == "sns-topic":
            self._call("sns", "delete_topic", TopicArn=r.arn)
        elif r.kind == "sns-subscription":
            self._call("sns", "unsubscribe", SubscriptionArn=r.arn)
        elif r.kind == "sqs-queue":
            self._call("sqs", "delete_queue", QueueUrl=r.details["url"])
        elif r.kind == "s3-bucket":
            self._empty_bucket(r.name)
            self._call("s3", "delete_bucket", Bucket=r.name)
        elif r.kind == "iam-role":
            for policy_name in self._call("iam", "list_role_policies", RoleName=r.name)["PolicyNames"]:
                self._call("iam", "delete_role_policy", RoleName=r.name, PolicyName=policy_name)
            self._call("iam", "delete_role", RoleName=r.name)
        elif r.kind == "firehose-stream":
            self._call("firehose", "delete_delivery_stream", DeliveryStreamName=r.name)
        elif r.kind == "glue-table":
            self._call("glue", "delete_table", DatabaseName=r.parent, Name=r.name)
        elif r.kind == "glue-database":
            self._call("glue", "delete_database", Name=r.name)
        elif r.kind == "tenant":
            self._call("sesv2", "delete_tenant", TenantName=r.name)
        elif r.kind == "tenant-resource":
            self._call("sesv2", "delete_tenant_resource_association", TenantName=r.parent, ResourceArn=r.arn)
        else:  # pragma: no cover - every kind this module creates is handled above
            raise ValueError(f"cannot tear down a resource of kind {r.kind!r}")

    def _empty_bucket(self, bucket: str) -> None:
        for obj in self._paginate("s3", "list_objects_v2", "Contents", Bucket=bucket):
            self._call("s3", "delete_object", Bucket=bucket, Key=obj["Key"])

    def _paginate(self, service: str, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        try:
            paginator = self.client(service).get_paginator(operation)
            return [item for page in paginator.paginate(**params) for item in page.get(key, [])]
        except ClientError as exc:
            raise ProvisioningError(f"{service}.{operation}", one_line(str(exc)), code=_code(exc)) from exc


def _v1_target(target: dict[str, Any]) -> dict[str, Any]:
    """The v1 spelling of a v2 destination target (v1 capitalises ARN; it has no EventBridge)."""
    if "SnsDestination" in target:
        return {"SNSDestination": {"TopicARN": target["SnsDestination"]["TopicArn"]}}
    if "KinesisFirehoseDestination" in target:
        t = target["KinesisFirehoseDestination"]
        return {
            "KinesisFirehoseDestination": {
                "IAMRoleARN": t["IamRoleArn"],
                "DeliveryStreamARN": t["DeliveryStreamArn"],
            }
        }
    if "CloudWatchDestination" in target:
        dims = [
            {**d, "DimensionValueSource": _V1_DIMENSION_SOURCES[d["DimensionValueSource"]]}
            for d in target["CloudWatchDestination"]["DimensionConfigurations"]
        ]
        return {"CloudWatchDestination": {"DimensionConfigurations": dims}}
    raise ValueError("this destination kind has no v1 form")


_V1_DIMENSION_SOURCES = {"MESSAGE_TAG": "messageTag", "EMAIL_HEADER": "emailHeader", "LINK_TAG": "linkTag"}


def _same_destination(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    for key, value in wanted.items():
        if key == "Name":
            continue
        have = existing.get(key)
        if key == "MatchingEventTypes":
            if sorted(have or []) != sorted(value):
                return False
        elif have != value:
            return False
    return True


def _same_table(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether the Glue table ``current`` (GetTable) already is what ``wanted`` (TableInput) describes."""
    have, want = current.get("StorageDescriptor") or {}, wanted["StorageDescriptor"]
    for key in ("Columns", "Location", "InputFormat", "OutputFormat", "SerdeInfo"):
        if key == "SerdeInfo":
            if (have.get(key) or {}).get("SerializationLibrary") != want[key]["SerializationLibrary"]:
                return False
        elif have.get(key) != want[key]:
            return False
    parameters = current.get("Parameters") or {}
    if any(parameters.get(k) != v for k, v in wanted["Parameters"].items()):
        return False
    return bool(current.get("PartitionKeys") == wanted["PartitionKeys"])


def _same_attribute(current: str | None, wanted: str) -> bool:
    if current == wanted:
        return True
    if current is None:
        return False
    try:  # JSON attributes (Policy, RedrivePolicy) compare by value, not spelling
        return bool(json.loads(current) == json.loads(wanted))
    except ValueError:
        return False
