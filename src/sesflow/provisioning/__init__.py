"""Provisioning: configuration sets, event destinations, the SNS → SQS and Firehose → S3 pipelines, and
least-privilege IAM policy documents. Idempotent: safe to run twice."""

from .._public import publish
from . import policies
from .resources import (
    ALL_EVENT_TYPES,
    FIREHOSE_PREFIX,
    FirehosePipeline,
    Provisioner,
    ProvisioningError,
    Resource,
    SnsSqsPipeline,
)

__all__ = [
    "ALL_EVENT_TYPES",
    "FIREHOSE_PREFIX",
    "FirehosePipeline",
    "Provisioner",
    "ProvisioningError",
    "Resource",
    "SnsSqsPipeline",
    "policies",
]


publish(__name__, __all__, globals())
