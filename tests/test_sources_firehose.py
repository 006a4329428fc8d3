"""Firehose transformation Lambda: the input records and the response built from them."""

from __future__ import annotations

import base64
import json

import pytest

from sesflow.errors import ParseError, SourceError
from sesflow.events import BounceEvent, DeliveryEvent, parse_event
from sesflow.sources import (
    FirehoseResponseError,
    FirehoseResult,
    SourceItem,
    Transport,
    firehose_lambda_items,
    firehose_response,
    sqs_message_item,
)

from ._sources_support import firehose_event, ses_line, ses_record

STREAM_ARN = "arn:aws:firehose:us-east-1:123456789012:deliverystream/ses-events"


def test_records_are_parsed_with_their_identity() -> None:
    payloads = [ses_line("event_01_Bounce.json") + b"\n", ses_line("notification_05_Delivery.json") + b"\n"]
    event = firehose_event(payloads)
    items = firehose_lambda_items(event)
    assert [item.item_id for item in items] == [record["recordId"] for record in event["records"]]
    assert [item.raw for item in items] == event["records"]
    assert all(item.transport is Transport.FIREHOSE for item in items)
    assert isinstance(items[0].record, BounceEvent)
    assert items[0].record == parse_event(ses_record("event_01_Bounce.json"))
    assert isinstance(items[1].record, DeliveryEvent)
    assert items[1].meta == {
        "delivery_stream_arn": STREAM_ARN,
        "approximate_arrival_timestamp": 1495072949454,
    }


def test_malformed_records_are_items_with_errors() -> None:
    event = firehose_event(
        [
            "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0IDEyMy4=",  # valid base64 of text that is not JSON
            "not*base64!",
            base64.b64encode(b'{"eventType": "Bounce"}').decode(),
            ses_line("event_06_Open.json"),
        ]
    )
    event["records"].append({"approximateArrivalTimestamp": 1, "data": "e30="})
    event["records"].append({"recordId": "no-data", "approximateArrivalTimestamp": 2})
    items = firehose_lambda_items(event)
    assert [item.ok for item in items] == [False, False, False, True, False, False]
    assert isinstance(items[0].error, ParseError)
    assert isinstance(items[1].error, SourceError)
    assert "not valid base64" in str(items[1].error)
    assert isinstance(items[2].error, ParseError)
    assert items[2].error.location == "mail"
    assert "no recordId" in str(items[4].error)
    assert "missing or not a string" in str(items[5].error)
    assert [item.raw for item in items] == event["records"]
    for event_shape in ({"Records": []}, "x"):
        (item,) = firehose_lambda_items(event_shape)  # type: ignore[arg-type]
        assert isinstance(item.error, SourceError)


def decoded(entry: dict[str, str]) -> bytes:
    return base64.b64decode(entry["data"], validate=True)


def test_default_response_passes_good_records_and_fails_bad_ones() -> None:
    good = ses_line("event_03_Delivery.json") + b"\n"
    event = firehose_event([good, b"{broken", "not*base64!"])
    response = firehose_response(firehose_lambda_items(event))
    records = response["records"]
    assert [record["recordId"] for record in records] == [record["recordId"] for record in event["records"]]
    assert [record["result"] for record in records] == ["Ok", "ProcessingFailed", "ProcessingFailed"]
    assert records[0]["data"] == event["records"][0]["data"]
    assert decoded(records[1]) == b"{broken"
    assert decoded(records[2]) == b"not*base64!"  # invalid base64 cannot be echoed; its text is kept
    assert json.loads(json.dumps(response)) == response  # what Lambda serialises


def test_outcomes_transform_drop_and_fail() -> None:
    lines = [
        ses_line(name) + b"\n"
        for name in ("event_01_Bounce.json", "event_06_Open.json", "event_07_Click.json")
    ]
    items = firehose_lambda_items(firehose_event([*lines, b"{broken"]))
    bounce, opened, click, broken = items
    assert isinstance(bounce.record, BounceEvent)
    compact = json.dumps({"messageId": bounce.record.message_id, "type": "Bounce"}).encode() + b"\n"
    response = firehose_response(
        items,
        {
            bounce.item_id: (FirehoseResult.OK, compact),
            opened.item_id: "Dropped",
            click.item_id: (FirehoseResult.PROCESSING_FAILED, None),
            broken.item_id: ("Ok", b"{}\n"),
        },
    )
    records = response["records"]
    assert [record["result"] for record in records] == ["Ok", "Dropped", "ProcessingFailed", "Ok"]
    assert decoded(records[0]) == compact
    assert decoded(records[1]) == lines[1]
    assert decoded(records[2]) == lines[2]
    assert decoded(records[3]) == b"{}\n"


def test_response_refuses_what_firehose_would_reject() -> None:
    items = firehose_lambda_items(firehose_event([ses_line("event_04_Send.json")]))
    record_id = items[0].item_id
    with pytest.raises(FirehoseResponseError, match="not among the items: ghost"):
        firehose_response(items, {"ghost": "Ok"})
    with pytest.raises(FirehoseResponseError, match="'Okay'"):
        firehose_response(items, {record_id: "Okay"})
    with pytest.raises(FirehoseResponseError, match="must be bytes"):
        firehose_response(items, {record_id: ("Ok", "text")})  # type: ignore[dict-item]
    with pytest.raises(FirehoseResponseError, match="pair"):
        firehose_response(items, {record_id: ("Ok", b"", b"")})  # type: ignore[dict-item]
    sqs_item: SourceItem = sqs_message_item({"MessageId": "m", "ReceiptHandle": "h", "Body": "{}"})
    with pytest.raises(FirehoseResponseError, match="came from sqs"):
        firehose_response([*items, sqs_item])
