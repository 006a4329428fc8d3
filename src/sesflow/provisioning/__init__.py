"""Provisioning: configuration sets, event destinations, the SNS → SQS and Firehose → S3 pipelines (NDJSON, or
Parquet with the Glue table Firehose converts records with), tenants, and least-privilege IAM policy
documents. Idempotent: safe to run twice."""

from .._public import publish
from . import policies
from .resources import (
    ALL_EVENT_TYPES,
    FIREHOSE_PARQUET_PREFIX,
    FIREHOSE_PREFIX,
    REPUTATION_POLICIES,
    FirehosePipeline,
    Provisioner,
    ProvisioningError,
    Resource,
    SnsSqsPipeline,
    TenantSetup,
    firehose_s3_destination,
    glue_table_name,
    parquet_conversion,
)

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
    "policies",
]


publish(__name__, __all__, globals())
