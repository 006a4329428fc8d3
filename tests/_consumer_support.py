"""A queue on the moto server for consumer tests, and SNS envelopes to put in it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import boto3

TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"


def sns_body(record: Mapping[str, Any] | str, *, message_id: str | None = None) -> str:
    """An unsigned SNS envelope carrying ``record`` (as SNS delivers to a queue without raw delivery)."""
    message = record if isinstance(record, str) else json.dumps(record)
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": message_id or str(uuid.uuid4()),
            "TopicArn": TOPIC,
            "Message": message,
            "Timestamp": "2026-01-01T12:00:00.000Z",
        }
    )


class TestQueue:
    """A uniquely named queue (optionally FIFO, optionally with a dead-letter queue) on the moto server."""

    __test__ = False  # not a test class

    def __init__(
        self, endpoint: str, *, fifo: bool = False, max_receive_count: int | None = None, visibility: int = 30
    ) -> None:
        self.endpoint = endpoint
        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        name = f"consumer-{uuid.uuid4().hex[:12]}"
        attributes = {"VisibilityTimeout": str(visibility)}
        self.dlq_url: str | None = None
        if max_receive_count is not None:
            dlq = f"{name}-dlq" + (".fifo" if fifo else "")
            dlq_attributes = {"FifoQueue": "true"} if fifo else {}
            self.dlq_url = self.sqs.create_queue(QueueName=dlq, Attributes=dlq_attributes)["QueueUrl"]
            dlq_arn = self.sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["QueueArn"])
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"],
                    "maxReceiveCount": max_receive_count,
                }
            )
        if fifo:
            name += ".fifo"
            attributes["FifoQueue"] = "true"
        self.url: str = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]

    def send(self, bodies: Sequence[str], *, group: str | None = None) -> list[str]:
        """Send the bodies in order; returns their SQS message ids."""
        ids: list[str] = []
        for start in range(0, len(bodies), 10):
            entries: list[dict[str, Any]] = []
            for offset, body in enumerate(bodies[start : start + 10]):
                entry: dict[str, Any] = {"Id": str(offset), "MessageBody": body}
                if group is not None:
                    entry["MessageGroupId"] = group
                    entry["MessageDeduplicationId"] = uuid.uuid4().hex
                entries.append(entry)
            response = self.sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
            assert not response.get("Failed"), response
            by_id = {s["Id"]: s["MessageId"] for s in response["Successful"]}
            ids.extend(by_id[str(i)] for i in range(len(entries)))
        return ids

    def counts(self, url: str | None = None) -> tuple[int, int]:
        """(visible, in flight) messages."""
        attributes = self.sqs.get_queue_attributes(QueueUrl=url or self.url, AttributeNames=["All"])[
            "Attributes"
        ]
        return int(attributes["ApproximateNumberOfMessages"]), int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def receive_now(self, url: str | None = None) -> list[dict[str, Any]]:
        """What a receive without waiting returns (making it invisible for 30 s)."""
        response = self.sqs.receive_message(
            QueueUrl=url or self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages
