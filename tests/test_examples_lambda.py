"""The Lambda examples, imported and invoked as Lambda would: examples/lambda_sqs.py against DynamoDB in
moto (server mode), examples/lambda_firehose_transform.py on a Firehose transformation input."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from typing import Any

import boto3
import pytest

from sesflow.events import EventType
from sesflow.testing import make_record

from ._router_events import firehose_event, firehose_line, record_text, sns_envelope, sqs_event
from ._scripts import load_example

# --- examples/lambda_sqs.py -------------------------------------------------------------------------------


@pytest.fixture
def suppression_table(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh DynamoDB table in moto, and the environment the example reads."""
    name = f"suppression-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", moto_server)
    monkeypatch.setenv("SUPPRESSION_TABLE", name)
    dynamodb = boto3.resource("dynamodb", endpoint_url=moto_server, region_name="us-east-1")
    table = dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "email", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "email", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table.wait_until_exists()
    return table


def _body(record: dict[str, Any] | str) -> str:
    return json.dumps(sns_envelope(record if isinstance(record, str) else json.dumps(record)))


def _suppressed(table: Any) -> dict[str, str]:
    return {item["email"]: item["reason"] for item in table.scan()["Items"]}


def _sqs_batch() -> dict[str, Any]:
    transient = make_record(
        EventType.BOUNCE,
        recipients=["full@example.org"],
        detail={"bounceType": "Transient", "bounceSubType": "MailboxFull"},
    )
    not_spam = make_record(
        EventType.COMPLAINT, recipients=["fine@example.net"], detail={"complaintFeedbackType": "not-spam"}
    )
    two_hard = make_record(EventType.BOUNCE, recipients=["Gone@Example.com", "left@example.com"])
    return sqs_event(
        [
            ("m-bounce", _body(record_text("event_01_Bounce.json"))),  # recipient@example.com, Permanent
            ("m-notification", _body(record_text("notification_02_Bounce.json"))),
            ("m-transient", _body(transient)),
            ("m-garbage", "<html>502 Bad Gateway</html>"),
            ("m-complaint", _body(make_record(EventType.COMPLAINT, recipients=["angry@example.net"]))),
            ("m-not-spam", _body(not_spam)),
            ("m-delivery", _body(record_text("event_03_Delivery.json"))),
            ("m-two", _body(two_hard)),
        ]
    )


def test_lambda_sqs_suppresses_hard_bounces_and_complaints(
    suppression_table: Any, caplog: pytest.LogCaptureFixture
) -> None:
    example = load_example("lambda_sqs")
    with caplog.at_level(logging.ERROR, logger="suppression"):
        response = example.handler(_sqs_batch(), None)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-garbage"}]}
    assert _suppressed(suppression_table) == {
        "recipient@example.com": "bounce:General",
        "jane@example.com": "bounce:General",  # the feedback notification's two recipients
        "richard@example.com": "bounce:General",
        "angry@example.net": "complaint",
        "gone@example.com": "bounce:General",
        "left@example.com": "bounce:General",
    }
    assert "unreadable SQS message m-garbage" in caplog.text

    # Delivered again (SQS is at-least-once): the table is the same, nothing fails.
    again = sqs_event([("m-bounce-again", _body(record_text("event_01_Bounce.json")))])
    assert example.handler(again, None) == {"batchItemFailures": []}
    assert len(_suppressed(suppression_table)) == 6


def test_lambda_sqs_returns_messages_whose_write_failed(
    suppression_table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPRESSION_TABLE", f"missing-{uuid.uuid4().hex[:12]}")  # writes fail: no such table
    example = load_example("lambda_sqs")
    response = example.handler(_sqs_batch(), None)
    # Only the messages that needed a write, and the unreadable one, go back to the queue.
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == [
        "m-bounce",
        "m-complaint",
        "m-garbage",
        "m-notification",
        "m-two",
    ]
    assert _suppressed(suppression_table) == {}


# --- examples/lambda_firehose_transform.py ----------------------------------------------------------------


def test_lambda_firehose_transform_drops_opens_and_delimits_records(caplog: pytest.LogCaptureFixture) -> None:
    example = load_example("lambda_firehose_transform")
    without_newline = firehose_line("event_03_Delivery.json").rstrip(b"\n")
    event = firehose_event(
        [
            ("open", firehose_line("event_06_Open.json")),
            ("bounce", firehose_line("event_01_Bounce.json")),
            ("delivery", without_newline),
            ("rendering", firehose_line("event_08_RenderingFailure.json")),
            ("not-json", b"\x00\x01garbage"),
            ("not-base64", "***"),
            ("click", firehose_line("event_07_Click.json")),
        ]
    )
    with caplog.at_level(logging.ERROR, logger="ses-firehose"):
        response = example.handler(event, None)

    records = {r["recordId"]: r for r in response["records"]}
    assert [r["recordId"] for r in response["records"]] == [
        "open",
        "bounce",
        "delivery",
        "rendering",
        "not-json",
        "not-base64",
        "click",
    ]
    assert {k: r["result"] for k, r in records.items()} == {
        "open": "Dropped",
        "bounce": "Ok",
        "delivery": "Ok",
        "rendering": "Ok",
        "not-json": "ProcessingFailed",
        "not-base64": "ProcessingFailed",
        "click": "Ok",
    }

    def data(record_id: str) -> bytes:
        return base64.b64decode(records[record_id]["data"])

    assert data("bounce") == firehose_line("event_01_Bounce.json")  # already delimited: unchanged
    assert data("delivery") == without_newline + b"\n"
    assert data("not-json") == b"\x00\x01garbage"  # the original, for the error output
    assert "SES could not render template 'MyTemplate'" in caplog.text
