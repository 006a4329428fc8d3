"""Least-privilege IAM policy documents for an SES event pipeline, as plain data (no IO).

Every document names its resources exactly; none uses a managed ``*FullAccess`` policy. Where AWS does not
support resource-level permissions for an action (``ses:GetAccount``, ``ses:GetSendQuota``) the statement is
kept to that action alone with ``"Resource": "*"``, and the docstring says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "PolicyDocument",
    "configuration_set_arn",
    "firehose_glue_policy",
    "firehose_s3_policy",
    "firehose_trust_policy",
    "merge_policies",
    "sender_policy",
    "ses_eventbridge_policy",
    "ses_firehose_policy",
    "ses_sns_topic_policy",
    "ses_trust_policy",
    "sns_to_sqs_queue_policy",
    "tenant_arn",
    "reputation_policy_arn",
    "tenant_suppression_policy",
    "worker_policy",
]

PolicyDocument = dict[str, Any]
_VERSION = "2012-10-17"


def _doc(*statements: dict[str, Any]) -> PolicyDocument:
    return {"Version": _VERSION, "Statement": list(statements)}


def configuration_set_arn(region: str, account_id: str, name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:ses:{region}:{account_id}:configuration-set/{name}"


def tenant_arn(region: str, account_id: str, name: str, tenant_id: str = "*", partition: str = "aws") -> str:
    """A tenant's ARN (``tenant/NAME/ID``); the default id ``*`` matches the tenant of that name, whatever
    its id (AWS's Service Authorization Reference, SES v2 resource types)."""
    return f"arn:{partition}:ses:{region}:{account_id}:tenant/{name}/{tenant_id}"


def reputation_policy_arn(region: str, name: str, partition: str = "aws") -> str:
    """The ARN of an SES-managed reputation policy: ``none``, ``standard`` or ``strict``."""
    return f"arn:{partition}:ses:{region}:aws:reputation-policy/{name}"


def sender_policy(
    region: str,
    account_id: str,
    *,
    identities: Sequence[str],
    configuration_sets: Sequence[str],
    templates: Sequence[str] = (),
    from_addresses: Sequence[str] = (),
    tenants: Sequence[str] = (),
    partition: str = "aws",
) -> PolicyDocument:
    """What an application that sends through sesflow needs, and nothing more.

    ``identities`` are verified identities (``example.com`` or ``sender@example.com``) the app may send as;
    ``configuration_sets`` the sets it attaches (SES authorises a send against both). ``from_addresses``
    optionally pins the From address with the ``ses:FromAddress`` condition. ``tenants`` restricts sending
    to those tenants with the ``ses:TenantName`` condition key (sends naming no tenant, and v1 sends, which
    cannot name one, are then denied) and allows sesflow's tenant check (``ses:GetTenant`` on those tenants).
    Reading the send quota has no resource-level permission in AWS, so that one statement uses ``"*"``.
    """
    if not identities:
        raise ValueError("sender_policy needs at least one identity (a domain or address the app sends as)")
    if not configuration_sets:
        raise ValueError("sender_policy needs at least one configuration set: sesflow always attaches one")
    base = f"arn:{partition}:ses:{region}:{account_id}"
    resources = [f"{base}:identity/{i}" for i in identities]
    resources += [f"{base}:configuration-set/{c}" for c in configuration_sets]
    resources += [f"{base}:template/{t}" for t in templates]
    send: dict[str, Any] = {
        "Sid": "SendWithConfigurationSet",
        "Effect": "Allow",
        "Action": [
            "ses:SendEmail",
            "ses:SendRawEmail",
            "ses:SendTemplatedEmail",
            "ses:SendBulkTemplatedEmail",
            "ses:SendBulkEmail",
        ],
        "Resource": resources,
    }
    conditions: dict[str, list[str]] = {}
    if from_addresses:
        conditions["ses:FromAddress"] = list(from_addresses)
    if tenants:
        conditions["ses:TenantName"] = list(tenants)
    if conditions:
        send["Condition"] = {"StringEquals": conditions}
    extra: list[dict[str, Any]] = []
    if tenants:
        extra.append(
            {
                "Sid": "CheckTenants",
                "Effect": "Allow",
                "Action": ["ses:GetTenant"],
                "Resource": [tenant_arn(region, account_id, t, partition=partition) for t in tenants],
            }
        )
    return _doc(
        send,
        *extra,
        {
            "Sid": "CheckConfigurationSets",
            "Effect": "Allow",
            "Action": ["ses:GetConfigurationSet", "ses:DescribeConfigurationSet"],
            "Resource": [f"{base}:configuration-set/{c}" for c in configuration_sets],
        },
        {
            "Sid": "ReadSendQuota",
            "Effect": "Allow",
            "Action": ["ses:GetAccount", "ses:GetSendQuota"],
            "Resource": "*",
        },
    )


def tenant_suppression_policy(
    region: str, account_id: str, tenants: Sequence[str], partition: str = "aws"
) -> PolicyDocument:
    """What managing these tenants' suppression lists and preferences needs: the suppression list calls
    with ``TenantName`` and ``PutTenantSuppressionAttributes``, on the tenants' ARNs (AWS's Service
    Authorization Reference lists the tenant resource type for them)."""
    if not tenants:
        raise ValueError("tenant_suppression_policy needs at least one tenant name")
    return _doc(
        {
            "Sid": "ManageTenantSuppression",
            "Effect": "Allow",
            "Action": [
                "ses:GetTenant",
                "ses:PutTenantSuppressionAttributes",
                "ses:PutSuppressedDestination",
                "ses:GetSuppressedDestination",
                "ses:DeleteSuppressedDestination",
            ],
            "Resource": [tenant_arn(region, account_id, t, partition=partition) for t in tenants],
        }
    )


def worker_policy(queue_arns: Iterable[str]) -> PolicyDocument:
    """What an SQS worker (``SqsConsumer``) needs on its queue(s): receive, delete, change visibility."""
    arns = list(queue_arns)
    if not arns:
        raise ValueError("worker_policy needs the ARN of at least one queue")
    return _doc(
        {
            "Sid": "ConsumeSesEvents",
            "Effect": "Allow",
            "Action": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
            ],
            "Resource": arns,
        }
    )


def ses_sns_topic_policy(
    topic_arn: str, account_id: str, configuration_set_arns: Iterable[str]
) -> PolicyDocument:
    """The topic's resource policy that lets SES publish events from these configuration sets only."""
    return _doc(
        {
            "Sid": "AllowSesEventPublishing",
            "Effect": "Allow",
            "Principal": {"Service": "ses.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {
                "StringEquals": {"AWS:SourceAccount": account_id},
                "ArnLike": {"AWS:SourceArn": list(configuration_set_arns)},
            },
        }
    )


def sns_to_sqs_queue_policy(queue_arn: str, topic_arn: str) -> PolicyDocument:
    """The queue's resource policy: only this topic may ``sqs:SendMessage`` (``aws:SourceArn`` condition)."""
    return _doc(
        {
            "Sid": "AllowTopicToSend",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
        }
    )


def ses_trust_policy(account_id: str) -> PolicyDocument:
    """Trust policy of the role SES assumes to write to Firehose, limited to this account's SES."""
    return _doc(
        {
            "Effect": "Allow",
            "Principal": {"Service": "ses.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )


def ses_firehose_policy(delivery_stream_arn: str) -> PolicyDocument:
    """What SES needs to put event records into one Firehose delivery stream."""
    return _doc(
        {
            "Sid": "SesPutsEvents",
            "Effect": "Allow",
            "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
            "Resource": delivery_stream_arn,
        }
    )


def firehose_trust_policy(account_id: str) -> PolicyDocument:
    """Trust policy of the role Firehose assumes to write to S3, limited to this account."""
    return _doc(
        {
            "Effect": "Allow",
            "Principal": {"Service": "firehose.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": account_id}},
        }
    )


def firehose_s3_policy(
    bucket: str, prefixes: Sequence[str] = ("events/", "errors/"), partition: str = "aws"
) -> PolicyDocument:
    """What Firehose needs to deliver into ``bucket``, writing only under ``prefixes``."""
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    return _doc(
        {
            "Sid": "FindBucket",
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            "Resource": bucket_arn,
        },
        {
            "Sid": "WriteEvents",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
            "Resource": [f"{bucket_arn}/{p.lstrip('/')}*" for p in prefixes],
        },
    )


def ses_eventbridge_policy(event_bus_arn: str) -> PolicyDocument:
    """``events:PutEvents`` on one bus: for a role publishing SES events there yourself (SES's own
    EventBridge destination uses the default bus and needs no role)."""
    return _doc(
        {"Sid": "PutSesEvents", "Effect": "Allow", "Action": "events:PutEvents", "Resource": event_bus_arn}
    )


def firehose_glue_policy(
    region: str, account_id: str, database: str, table: str, partition: str = "aws"
) -> PolicyDocument:
    """What Firehose needs to read the schema of one Glue table for record format conversion.

    Firehose's documentation asks for ``glue:GetTable``, ``glue:GetTableVersion`` and
    ``glue:GetTableVersions`` on the table; Glue authorises table reads against the catalog, the database and
    the table, so the statement names all three (and nothing else).
    """
    base = f"arn:{partition}:glue:{region}:{account_id}"
    return _doc(
        {
            "Sid": "ReadTheLakeSchema",
            "Effect": "Allow",
            "Action": ["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
            "Resource": [
                f"{base}:catalog",
                f"{base}:database/{database}",
                f"{base}:table/{database}/{table}",
            ],
        }
    )


def merge_policies(*documents: PolicyDocument) -> PolicyDocument:
    """One document holding the statements of ``documents`` in order (a role's single inline policy)."""
    return _doc(*(statement for document in documents for statement in document["Statement"]))
