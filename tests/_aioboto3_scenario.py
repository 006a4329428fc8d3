"""A scenario run by test_aioboto3_compat.py in its own interpreter, with aioboto3 15.5 first on sys.path.

aioboto3 15.5 pins aiobotocore 2.25.1 and botocore 1.40.61, which cannot share an environment with the
suite's current aiobotocore. This script runs with that older stack ahead of everything else on
``sys.path`` and sesflow from the work tree, against the suite's moto server (argv[1]) and a FakeSes it
starts itself. It prints one JSON object with what happened; the test asserts on it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from typing import Any

import aioboto3
import aiobotocore
import boto3
import botocore

import sesflow

# run as a script, this file's folder (tests/) is first on sys.path
from _consumer_support import sns_body  # type: ignore[import-not-found]
from sesflow import AsyncSesClient, Email, EventRouter
from sesflow.consumers import AsyncSqsConsumer
from sesflow.sending import ValidationError
from sesflow.testing import FakeSes, make_record

CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


async def main(endpoint: str) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    configuration_set = f"compat-{suffix}"
    sync = boto3.session.Session(**CREDENTIALS)
    sync.client("sesv2", endpoint_url=endpoint).create_configuration_set(
        ConfigurationSetName=configuration_set
    )
    sync.client("ses", endpoint_url=endpoint).verify_email_identity(EmailAddress="shop@example.com")
    session = aioboto3.Session(**CREDENTIALS)
    out: dict[str, Any] = {
        "aioboto3": aioboto3.__version__,
        "aiobotocore": aiobotocore.__version__,
        "botocore": botocore.__version__,
        "sesflow_file": sesflow.__file__,
    }

    async with AsyncSesClient(
        configuration_set, session=session, endpoint_url=endpoint, max_send_rate=None
    ) as ses:
        result = await ses.send(Email("shop@example.com", "jane@example.com", subject="Hi", text="Hello"))
    out["message_id"] = result.message_id
    out["configuration_set"] = result.configuration_set

    queue_url = sync.client("sqs", endpoint_url=endpoint).create_queue(QueueName=f"compat-{suffix}")[
        "QueueUrl"
    ]
    sync.client("sqs", endpoint_url=endpoint).send_message(
        QueueUrl=queue_url, MessageBody=sns_body(make_record("Bounce", message_id=f"bounce-{suffix}"))
    )
    handled: list[str] = []
    router = EventRouter()
    router.on_bounce(lambda event: handled.append(event.message_id))
    consumer = AsyncSqsConsumer(
        queue_url,
        router,
        session=session,
        endpoint_url=endpoint,
        region="us-east-1",
        wait_time_seconds=0,
    )
    await consumer.run_until_empty(wait_time_seconds=0)
    out["handled"] = handled

    with FakeSes(configuration_sets=["events"], tenants=["acme"]) as fake:
        async with AsyncSesClient(
            "events", session=session, endpoint_url=fake.endpoint_url, max_send_rate=None, tenant="acme"
        ) as ses:
            tenant_result = await ses.send(
                Email("shop@example.com", "jane@example.com", subject="Hi", text="Hello")
            )
            out["tenant_sent"] = [call.params.get("TenantName") for call in fake.calls_of("SendEmail")]
            out["tenant_result"] = tenant_result.tenant
            try:  # tenant-level suppression came after botocore 1.40.61: a clear error, nothing sent
                await ses.suppress("jane@example.com", tenant="acme")
            except ValidationError as exc:
                out["suppression_error"] = str(exc)
            out["suppression_calls"] = len(fake.calls_of("PutSuppressedDestination"))
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
