"""``sesflow tail``: follow an SQS queue of SES events and print them as they arrive."""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

from .._text import one_line
from ..events import SesEvent
from ..sources import SourceItem, sqs_message_item
from ._console import UsageError, console, require_rich
from ._output import plural, print_line
from ._render import detail, item_json, style
from .setup import add_aws_options

__all__ = ["add_tail_parser", "run_tail"]

_DESCRIPTION = """\
Receive SES events from an SQS queue (SNS envelopes, raw records or EventBridge events) and print each as it
arrives. Shown messages are deleted, unless --keep: then they stay on the queue and are made visible again
when the command ends. Messages that cannot be parsed are always left on the queue (and made visible again).
--max-messages and --timeout end the command, for scripts; otherwise it runs until Ctrl-C.
Exit status: 0, 1 when some messages could not be parsed, 130 when ended by Ctrl-C."""


def add_tail_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``tail`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "tail",
        help="follow an SQS queue of SES events and print them as they arrive",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--queue-url", required=True, help="the queue's URL")
    parser.add_argument("--keep", action="store_true", help="leave the messages on the queue")
    parser.add_argument("-n", "--max-messages", type=int, help="stop after this many messages")
    parser.add_argument("--timeout", type=float, help="stop after this many seconds")
    parser.add_argument(
        "--format",
        choices=["pretty", "json"],
        default="pretty",
        help="pretty lines or one JSON object per line",
    )
    parser.add_argument(
        "--wait", type=int, default=20, help="long-poll seconds per receive (0-20, default 20)"
    )
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=30,
        help="seconds a shown message stays hidden from other consumers (default 30)",
    )
    add_aws_options(parser)
    return parser


class _Printer:
    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.out = console() if fmt == "pretty" else None

    def show(self, item: SourceItem) -> None:
        if self.out is None:
            print(json.dumps(item_json(item)), flush=True)
            return
        from rich.text import Text

        record = item.record
        line, extras = Text(), []
        if isinstance(record, SesEvent):
            line.append(record.timestamp.strftime("%H:%M:%S.%f")[:-3] + "  ", "dim")
            line.append(f"{record.event_type.value:<17}", style(record))
            line.append(f"{record.configuration_set or '-':<16}")
            extras = [Text(", ".join(record.recipients)), Text(detail(record), "dim")]
        elif record is not None:
            line.append(f"{'control':<14}{type(record).__name__}", "dim")
        else:
            line.append(f"invalid message {item.item_id}", "red")
            extras = [Text(one_line(str(item.error)), "red")]
        print_line(self.out, line, *extras)

    def summary(self, shown: int, deleted: int, invalid: int) -> None:
        if self.out is None:
            return
        from rich.text import Text

        line = Text(f"{plural(shown, 'message')} shown", style="dim")
        parts = []
        if deleted:
            parts.append(Text(f"{deleted} deleted", style="dim"))
        if shown - deleted - invalid:
            parts.append(Text(f"{shown - deleted - invalid} left on the queue (--keep)", style="dim"))
        if invalid:
            parts.append(Text(f"{invalid} could not be parsed (left on the queue)", style="red"))
        if parts:
            line.append(": ", style="dim")
            line.append_text(Text(", ", style="dim").join(parts))
        self.out.print(line)


def run_tail(args: argparse.Namespace) -> int:
    """Run ``sesflow tail``; returns the exit status."""
    if args.max_messages is not None and args.max_messages < 1:
        raise UsageError("--max-messages must be at least 1")
    if not 0 <= args.wait <= 20:
        raise UsageError("--wait is 0 to 20 seconds (SQS's long-poll limit)")
    if args.format == "pretty":
        require_rich()
    import boto3

    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    sqs = session.client("sqs", endpoint_url=args.endpoint_url)
    printer = _Printer(args.format)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    held: dict[str, str] = {}  # message id -> latest receipt handle, of messages left on the queue
    shown = deleted = invalid = 0
    interrupted = False
    try:
        while args.max_messages is None or shown < args.max_messages:
            wait = args.wait
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(wait, math.ceil(remaining))
            count = 10 if args.max_messages is None else min(10, args.max_messages - shown)
            answer = sqs.receive_message(
                QueueUrl=args.queue_url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=wait,
                VisibilityTimeout=args.visibility_timeout,
                AttributeNames=["All"],
            )
            for message in answer.get("Messages", []):
                message_id, handle = message["MessageId"], message["ReceiptHandle"]
                if message_id in held:  # shown before: it came back while we keep it
                    held[message_id] = handle
                    continue
                if args.max_messages is not None and shown >= args.max_messages:
                    held[message_id] = handle  # not shown: hand it back untouched
                    continue
                item = sqs_message_item(message)
                held[message_id] = handle  # until deleted: Ctrl-C at any point hands it back
                shown += 1
                invalid += not item.ok
                printer.show(item)
                if item.ok and not args.keep:
                    sqs.delete_message(QueueUrl=args.queue_url, ReceiptHandle=handle)
                    del held[message_id]
                    deleted += 1
    except KeyboardInterrupt:
        interrupted = True  # Ctrl-C is how this command usually ends: hand back, sum up, then say so
    finally:
        _release(sqs, args.queue_url, list(held.values()))
    printer.summary(shown, deleted, invalid)
    if interrupted:
        raise KeyboardInterrupt  # main() reports it and exits with 130
    return 1 if invalid else 0


def _release(sqs: Any, queue_url: str, handles: list[str]) -> None:
    """Make these messages visible again at once."""
    for start in range(0, len(handles), 10):
        entries = [
            {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for n, handle in enumerate(handles[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
