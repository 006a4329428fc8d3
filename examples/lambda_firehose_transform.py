"""A Firehose transformation Lambda for an SES event stream: drop opens, keep one record per line.

Wiring: the configuration set has a Firehose event destination; the delivery stream has data transformation
enabled with this function, and writes to S3 for querying (Athena, DuckDB). Handler: the ``handler`` below.

What it does with each record:

- an ``Open`` event is ``Dropped``: opens are most of the volume and this lake does not need them;
- every other SES record is ``Ok``, its bytes unchanged except for a newline added when it has none, so that
  every object Firehose writes is newline-delimited JSON, one record per line;
- a record that is not a valid SES record (bad base64, bad JSON, not an SES event) is ``ProcessingFailed``:
  Firehose writes it, unchanged, under the stream's error output prefix instead of losing it;
- a rendering failure is also logged as an error, so that a broken template raises an alarm.
"""

from __future__ import annotations

import logging
from typing import Any

from sesflow.events import OpenEvent, ParsedRecord, RenderingFailureEvent
from sesflow.routing import EventRouter, handle_firehose_lambda

logger = logging.getLogger("ses-firehose")

router = EventRouter()


@router.on_rendering_failure
def alert_on_rendering_failure(event: RenderingFailureEvent) -> None:
    logger.error(
        "SES could not render template %r for message %s: %s",
        event.failure.template_name,
        event.message_id,
        event.failure.error_message,
    )


def one_line_per_record(record: ParsedRecord, data: bytes) -> bytes | None:
    """What Firehose delivers for a record whose handlers succeeded: None drops it."""
    if isinstance(record, OpenEvent):
        return None
    return data if data.endswith(b"\n") else data + b"\n"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_firehose_lambda(router, event, context, transform=one_line_per_record)
