"""Provisioning: configuration sets, event destinations, the SNS → SQS and Firehose → S3 pipelines, tenants,
and least-privilege IAM policy documents. Idempotent: safe to run twice."""

from . import policies
from .resources import (
    ALL_EVENT_TYPES,
    FIREHOSE_PREFIX,
    REPUTATION_POLICIES,
    FirehosePipeline,
    Provisioner,
    ProvisioningError,
    Resource,
    SnsSqsPipeline,
    TenantSetup,
)

__all__ = [
    "ALL_EVENT_TYPES",
    "FIREHOSE_PREFIX",
    "FirehosePipeline",
    "Provisioner",
    "ProvisioningError",
    "Resource",
    "SnsSqsPipeline",
    "TenantSetup",
    "REPUTATION_POLICIES",
    "policies",
]
