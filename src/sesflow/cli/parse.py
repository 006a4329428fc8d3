"""``sesflow parse``: records in (bare or in their envelopes), typed events out, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

from .._text import one_line
from ..errors import ParseError
from ..events import SesEvent, load_json, parse_event
from ..sources import (
    SourceItem,
    Transport,
    eventbridge_item,
    firehose_lambda_items,
    sns_http_item,
    sns_lambda_items,
    sqs_lambda_items,
    sqs_message_item,
)
from ._console import UsageError, console, require_rich, warn
from ._output import plural, show_table
from ._render import detail, item_json, style

__all__ = ["add_parse_parser", "run_parse", "unwrap"]

_DESCRIPTION = """\
Parse SES records and print them. The input is a JSON object, a JSON array, or one JSON document per line;
each document is an SES record, or a record in any envelope it travels in: an SNS envelope, an SQS message
(boto3's receive_message answer or one of its messages, whose body is an SNS envelope, a raw record or an
EventBridge event), an EventBridge event, or the event a Lambda function receives from SNS, SQS or Firehose.
Records that do not parse are reported on standard error, one line each. Exit status: 0 when every record
parsed, 1 when some did not (or there was none), 2 when the input cannot be read."""


def add_parse_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``parse`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "parse",
        help="parse SES records (bare or in SNS, SQS, EventBridge, Lambda envelopes) and print them",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", help="a file of records, or - for standard input")
    source.add_argument(
        "--samples",
        action="store_true",
        help="parse the SES Developer Guide's example records bundled with sesflow",
    )
    parser.add_argument(
        "--format", choices=["table", "json"], default="table", help="output format (default: table)"
    )
    return parser


def _documents(text: str) -> Iterator[tuple[str, Any]]:
    """(label, payload) for each document of a JSON object, a JSON array, or NDJSON text."""
    stripped = text.strip()
    if not stripped:
        return
    try:
        whole = load_json(stripped)
    except ValueError:
        whole = None  # not one JSON document: try one document per line
    else:
        items = whole if isinstance(whole, list) else [whole]
        for i, item in enumerate(items, 1):
            yield f"#{i}", item
        return
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                yield f"line {number}", load_json(line)
            except ValueError:
                yield f"line {number}", line  # parse_event reports what is wrong with it


def _is(payload: object, *keys: str) -> bool:
    return isinstance(payload, dict) and all(k in payload for k in keys)


def unwrap(payload: Any) -> list[SourceItem]:
    """The items in one document: its envelope recognised by its keys, each record parsed.

    A bare record (or anything unrecognised) is parsed as an SES record.
    """
    if _is(payload, "Records") and isinstance(payload["Records"], list):
        first = payload["Records"][0] if payload["Records"] else {}
        if isinstance(first, dict) and ("Sns" in first or first.get("EventSource") == "aws:sns"):
            return sns_lambda_items(payload)
        if isinstance(first, dict) and first.get("eventSource") == "aws:sqs":
            return sqs_lambda_items(payload)
    if _is(payload, "records") and ("deliveryStreamArn" in payload or "invocationId" in payload):
        return firehose_lambda_items(payload)
    if _is(payload, "Messages") and isinstance(payload["Messages"], list):
        return [sqs_message_item(message) for message in payload["Messages"]]
    if _is(payload, "Body") and ("MessageId" in payload or "ReceiptHandle" in payload):
        return [sqs_message_item(payload)]
    if _is(payload, "Type", "Message") and "eventType" not in payload and "notificationType" not in payload:
        headers = {
            "x-amz-sns-message-type": str(payload.get("Type")),
            "x-amz-sns-message-id": str(payload.get("MessageId")),
            "x-amz-sns-topic-arn": str(payload.get("TopicArn")),
        }
        return [sns_http_item(json.dumps(payload), headers)]
    if _is(payload, "detail-type", "source"):
        return [eventbridge_item(payload)]
    try:
        record = parse_event(payload)
    except ParseError as exc:
        return [SourceItem(Transport.FILE, "", payload, error=exc)]
    return [SourceItem(Transport.FILE, "", payload, record=record)]


def _labelled(payloads: list[tuple[str, Any]]) -> list[tuple[str, SourceItem]]:
    out = []
    for label, payload in payloads:
        items = unwrap(payload)
        for index, item in enumerate(items, 1):
            out.append((label if len(items) == 1 else f"{label}/{index}", item))
    return out


def _via(item: SourceItem) -> str:
    if item.transport is Transport.FILE:
        return ""  # a bare record
    envelope = item.meta.get("envelope")
    return f"{item.transport.value}/{envelope}" if envelope else item.transport.value


def _read(args: argparse.Namespace) -> tuple[str, list[tuple[str, Any]]]:
    """(what the input is called, its documents); an input that cannot be read is a usage error."""
    if args.samples:
        from ..testing import sample_records

        return "the samples", list(sample_records().items())
    if args.file == "-":
        return "standard input", list(_documents(sys.stdin.read()))
    try:
        with open(args.file, encoding="utf-8") as fh:
            return args.file, list(_documents(fh.read()))
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{args.file} is not UTF-8 text ({exc.reason})") from exc


def run_parse(args: argparse.Namespace) -> int:
    """Run ``sesflow parse``; returns the exit status."""
    name, payloads = _read(args)
    if not payloads:
        warn(
            "parse", f"{name} holds no records: give a JSON object, a JSON array or one JSON document a line"
        )
        return 1
    results = _labelled(payloads)
    failures = [(label, item) for label, item in results if not item.ok]
    if args.format == "table":
        require_rich()
        _table([(label, item) for label, item in results if item.ok], failures)
    else:
        for label, item in results:
            print(json.dumps(item_json(item, label)))
    for label, item in failures:  # the errors, one line each, where errors go
        where = label if args.samples else f"{name}, {label}"
        warn("parse", f"{where}: {one_line(str(item.error))}")
    if failures:
        warn("parse", f"{len(failures)} of {plural(len(results), 'record')} did not parse")
    return 1 if failures else 0


def _table(results: list[tuple[str, SourceItem]], failures: list[tuple[str, SourceItem]]) -> None:
    from rich.text import Text

    rows = []
    for label, item in results:
        record = item.record
        if isinstance(record, SesEvent):
            kind = record.event_type.value
            if record.family.value == "notificationType":
                kind += " (notification)"
            rows.append(
                (
                    label,
                    Text(kind, style=style(record)),
                    record.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
                    _via(item),
                    ", ".join(record.recipients),
                    record.configuration_set or "-",
                    detail(record),
                )
            )
        else:  # a control message: topic validation, subscription confirmation...
            rows.append(
                (label, Text(type(record).__name__, "dim"), "", _via(item), "", "", "control message")
            )
    if not rows:
        return
    title = plural(len(rows), "record") + (f" (and {len(failures)} that did not parse)" if failures else "")
    headers = ("record", "type", "time", "via", "recipients", "configuration set", "detail")
    show_table(console(), headers, rows, title=title, headline=4, prose=["detail"])
