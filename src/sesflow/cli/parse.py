"""``sesflow parse``: records in, typed events out, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

from ..errors import ParseError
from ..events import ControlMessage, SesEvent, load_json, parse_event, to_dict
from ._console import console, require_rich


def _records(text: str) -> Iterator[tuple[str, Any]]:
    """(label, payload) for each record in a JSON object, a JSON array, or NDJSON text."""
    stripped = text.strip()
    if not stripped:
        return
    try:
        whole = load_json(stripped)
    except ValueError:
        whole = None  # not one JSON document: try one record per line
    else:
        items = whole if isinstance(whole, list) else [whole]
        for i, item in enumerate(items, 1):
            yield f"#{i}", item
        return
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield f"line {number}", line


def _summary(event: SesEvent) -> str:
    detail = ""
    if hasattr(event, "bounce"):
        detail = f"{event.bounce.bounce_type}/{event.bounce.bounce_sub_type}"
    elif hasattr(event, "complaint"):
        detail = str(event.complaint.complaint_feedback_type or "")
    elif hasattr(event, "click"):
        detail = event.click.link
    elif hasattr(event, "delivery_delay"):
        detail = str(event.delivery_delay.delay_type)
    elif hasattr(event, "failure"):
        detail = event.failure.error_message or ""
    return detail


def run_parse(args: argparse.Namespace) -> int:
    if args.samples:
        from ..testing import sample_records

        payloads: list[tuple[str, Any]] = list(sample_records().items())
    elif args.file == "-":
        payloads = list(_records(sys.stdin.read()))
    else:
        try:
            with open(args.file, encoding="utf-8") as fh:
                payloads = list(_records(fh.read()))
        except OSError as exc:
            print(f"sesflow parse: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return 2

    results: list[tuple[str, SesEvent | ControlMessage | ParseError]] = []
    for label, payload in payloads:
        try:
            results.append((label, parse_event(payload)))
        except ParseError as exc:
            results.append((label, exc))
    failures = sum(isinstance(r, ParseError) for _, r in results)

    if args.format == "json":
        for label, result in results:
            if isinstance(result, SesEvent):
                out: dict[str, Any] = {"record": label, "event": to_dict(result)}
            elif isinstance(result, ParseError):
                out = {"record": label, "error": str(result), "path": result.location}
            else:
                out = {"record": label, "control": type(result).__name__}
            print(json.dumps(out))
        return 1 if failures else 0

    require_rich()
    from rich.table import Table

    table = Table(title=f"{len(results)} records", show_lines=False)
    for column in ("record", "type", "family", "time", "recipients", "configuration set", "detail"):
        table.add_column(column, overflow="fold")
    for label, result in results:
        if isinstance(result, SesEvent):
            table.add_row(
                label,
                result.event_type.value,
                "notification" if result.family.value == "notificationType" else "event",
                result.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
                ", ".join(result.recipients),
                result.configuration_set or "-",
                _summary(result),
            )
        elif isinstance(result, ParseError):
            table.add_row(label, "[red]invalid[/red]", "", "", "", "", f"[red]{result}[/red]")
        else:
            table.add_row(label, type(result).__name__, "control", "", "", "", "")
    console().print(table)
    return 1 if failures else 0
