"""Dispatch benchmark: a Lambda SQS batch through sesflow's router against the same work written by hand.

The workload is what an SQS-triggered Lambda function does with SES events that an SNS topic delivered to the
queue: for each of the ten messages of a batch, decode the SQS body (the SNS envelope), decode its ``Message``
(the SES record), find the event type, call that type's handler (a trivial one), and answer with the partial
batch response. The batches are built from the SES records in ``tests/data`` (the ten event types and the five
feedback notifications), each wrapped in an SNS envelope and an SQS Lambda record as AWS delivers them.

Implementations:

* ``sesflow``: ``handle_sqs_lambda(router, event)`` with one handler per event type (``on_bounce``...).
  This is the whole path: source unwrapping, typed parsing (``parse_event``), dispatch and the response.
* ``hand-written, json.loads``: the loop people write without a library: ``json.loads`` of the body, then of
  the ``Message``, an ``if``/``elif`` chain on ``eventType``/``notificationType``, a ``try`` per message to
  report failures. It checks nothing else and builds no model: the floor the target is measured against.
* ``hand-written, orjson.loads`` and ``sesflow, stdlib json``: the same two with the other JSON decoder, so
  the like-for-like ratios are visible too (sesflow uses orjson when the ``fast`` extra is installed).

Before timing, every implementation runs over every batch with recording handlers and must call the same
handlers for the same records in the same order, and all must report the same failed message of a batch that
holds a body that is not JSON. Timings are interleaved (each repetition times every implementation once)
and the best repetition of each is reported.

Run ``python bench/dispatch.py`` (``--quick`` for a smoke run, ``--write`` to record the results in the
"Dispatch" section of ``docs/benchmarks.md``). Needs the ``fast`` extra for the orjson rows.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sesflow.events.parse as _parse_module
from sesflow.events import EventType, load_json, parse_event
from sesflow.routing import EventRouter, handle_sqs_lambda
from sesflow.sources import sqs_lambda_items

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs_page import machine, replace_section, versions

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR.parent / "tests" / "data"
DOCS_PAGE = BENCH_DIR.parent / "docs" / "benchmarks.md"
# Whose versions the docs record.
PACKAGES = ("sesflow", "attrs", "cattrs", "orjson")
SECTION_TITLE = "## Dispatch"
COMMAND = "python bench/dispatch.py --write"
BATCH_SIZE = 10
TARGET = 1.5
"""sesflow's time per event may be at most this multiple of the hand-written json.loads loop's (issue 3)."""

Event = dict[str, Any]
Response = dict[str, list[dict[str, str]]]
Seen = list[tuple[str, str]]  # (event type, SES message id) of every handler call


# --- the batches ------------------------------------------------------------------------------------------


def _records() -> list[str]:
    """The SES records of tests/data as SES publishes them (compact JSON text)."""
    paths = sorted(DATA_DIR.glob("*.json"))
    if not paths:
        raise SystemExit(f"no SES records found in {DATA_DIR}")
    return [json.dumps(json.loads(p.read_text(encoding="utf-8")), separators=(",", ":")) for p in paths]


def _sns_body(record: str, n: int) -> str:
    """An SQS message body as an SNS subscription (raw delivery off) writes it: the signed envelope."""
    topic = "arn:aws:sns:us-east-1:123456789012:ses-events"
    envelope = {
        "Type": "Notification",
        "MessageId": str(uuid.UUID(int=n)),
        "TopicArn": topic,
        "Message": record,
        "Timestamp": f"2026-01-01T12:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE" + "x" * 337 + "==",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-"
        "9c6465fa7f48f5cacd23014631ec1136.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
        f"{topic}:4b4d0a4e-7a51-4c43-8c04-0c3e5bd2c0f1",
    }
    return json.dumps(envelope, separators=(",", ":"))


def _sqs_record(body: str, n: int) -> dict[str, Any]:
    message_id = str(uuid.UUID(int=n + (1 << 64)))
    return {
        "messageId": message_id,
        "receiptHandle": f"AQEB{message_id.replace('-', '')}" + "Z" * 120,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1767268800000",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1767268800050",
        },
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ses-events",
        "awsRegion": "us-east-1",
    }


def build_batches(count: int = 30) -> list[Event]:
    """``count`` Lambda SQS events of ten SNS-wrapped SES records each, cycling through tests/data."""
    records = _records()
    batches: list[Event] = []
    n = 0
    for _ in range(count):
        batch = []
        for _ in range(BATCH_SIZE):
            batch.append(_sqs_record(_sns_body(records[n % len(records)], n), n))
            n += 1
        batches.append({"Records": batch})
    return batches


def bad_batch() -> Event:
    """A batch whose fourth message body is not JSON: every implementation must report exactly that one."""
    batch = build_batches(1)[0]
    batch["Records"][3]["body"] = '{"Type": "Notification", "Message": '
    return batch


# --- the implementations ----------------------------------------------------------------------------------

_TYPES = [t.value for t in EventType]


@dataclass
class Impl:
    name: str
    make: Callable[[Seen | None], Callable[[Event], Response]]
    """``make(seen)``: a Lambda handler; with a list, its handlers record what they are called with."""


def _sesflow(seen: Seen | None) -> Callable[[Event], Response]:
    router = EventRouter()
    if seen is None:

        def handler(event: Any) -> None:
            return None

        for shortcut in (
            router.on_send,
            router.on_delivery,
            router.on_bounce,
            router.on_complaint,
            router.on_reject,
            router.on_open,
            router.on_click,
            router.on_rendering_failure,
            router.on_delivery_delay,
            router.on_subscription,
        ):
            shortcut(handler)
    else:
        for event_type in EventType:
            router.on(event_type)(lambda e, t=event_type.value: seen.append((t, e.message_id)))

    return lambda event: handle_sqs_lambda(router, event)


def _hand_written(loads: Callable[[Any], Any]) -> Callable[[Seen | None], Callable[[Event], Response]]:
    def make(seen: Seen | None) -> Callable[[Event], Response]:
        if seen is None:

            def noop(record: dict[str, Any]) -> None:
                return None

            on_send = on_delivery = on_bounce = on_complaint = on_reject = noop
            on_open = on_click = on_rendering_failure = on_delivery_delay = on_subscription = noop
        else:

            def recorder(event_type: str) -> Callable[[dict[str, Any]], None]:
                return lambda record: seen.append((event_type, record["mail"]["messageId"]))

            on_send, on_delivery, on_bounce, on_complaint, on_reject = map(recorder, _TYPES[:5])
            on_open, on_click, on_rendering_failure, on_delivery_delay, on_subscription = map(
                recorder, _TYPES[5:]
            )

        def handler(event: Event) -> Response:
            failures = []
            for message in event["Records"]:
                try:
                    envelope = loads(message["body"])
                    record = loads(envelope["Message"])
                    event_type = record.get("eventType") or record.get("notificationType")
                    if event_type == "Bounce":
                        on_bounce(record)
                    elif event_type == "Complaint":
                        on_complaint(record)
                    elif event_type == "Delivery":
                        on_delivery(record)
                    elif event_type == "Send":
                        on_send(record)
                    elif event_type == "Reject":
                        on_reject(record)
                    elif event_type == "Open":
                        on_open(record)
                    elif event_type == "Click":
                        on_click(record)
                    elif event_type == "Rendering Failure":
                        on_rendering_failure(record)
                    elif event_type == "DeliveryDelay":
                        on_delivery_delay(record)
                    elif event_type == "Subscription":
                        on_subscription(record)
                except Exception:
                    failures.append({"itemIdentifier": message["messageId"]})
            return {"batchItemFailures": failures}

        return handler

    return make


@contextmanager
def stdlib_json() -> Iterator[None]:
    """sesflow as it runs without the ``fast`` extra: the standard library's decoder."""
    saved = _parse_module._loads
    _parse_module._loads = json.loads
    try:
        yield
    finally:
        _parse_module._loads = saved


def _sesflow_stdlib(seen: Seen | None) -> Callable[[Event], Response]:
    handler = _sesflow(seen)

    def run(event: Event) -> Response:
        with stdlib_json():
            return handler(event)

    return run


def implementations() -> list[Impl]:
    impls = [
        Impl("sesflow", _sesflow),
        Impl("hand-written, json.loads", _hand_written(json.loads)),
    ]
    try:
        import orjson
    except ImportError:
        print("orjson is not installed (the fast extra): its rows are left out", file=sys.stderr)
    else:
        impls.insert(1, Impl("sesflow, stdlib json", _sesflow_stdlib))
        impls.append(Impl("hand-written, orjson.loads", _hand_written(orjson.loads)))
    return impls


BASELINE = "hand-written, json.loads"
PARSE_ONLY = "part: decode + parse_event"
SOURCES_ONLY = "part: sqs_lambda_items"


def parts() -> list[Impl]:
    """Parts of sesflow's path, timed alongside to show where its time goes (not compared, not checked)."""

    def parse_only(seen: Seen | None) -> Callable[[Event], Response]:
        def run(event: Event) -> Response:
            for message in event["Records"]:
                parse_event(load_json(message["body"])["Message"])
            return {"batchItemFailures": []}

        return run

    def sources_only(seen: Seen | None) -> Callable[[Event], Response]:
        def run(event: Event) -> Response:
            sqs_lambda_items(event)
            return {"batchItemFailures": []}

        return run

    return [Impl(PARSE_ONLY, parse_only), Impl(SOURCES_ONLY, sources_only)]


# --- correctness ------------------------------------------------------------------------------------------


def check(batches: Sequence[Event], impls: Sequence[Impl]) -> int:
    """Every implementation calls the same handlers in the same order and reports the same failures.

    Returns the number of handler calls each made. Raises AssertionError when they disagree.
    """
    expected: Seen | None = None
    for impl in impls:
        seen: Seen = []
        handler = impl.make(seen)
        for batch in batches:
            response = handler(batch)
            assert response == {"batchItemFailures": []}, f"{impl.name} reported failures: {response}"
        bad = bad_batch()
        response = handler(bad)
        wanted = [{"itemIdentifier": bad["Records"][3]["messageId"]}]
        assert response == {"batchItemFailures": wanted}, f"{impl.name} answered {response} for the bad batch"
        if expected is None:
            expected = seen
        assert seen == expected, f"{impl.name} called other handlers than {impls[0].name}"
    assert expected is not None
    messages = sum(len(b["Records"]) for b in batches) + BATCH_SIZE - 1
    assert len(expected) == messages, f"{len(expected)} handler calls for {messages} good messages"
    assert {t for t, _ in expected} == set(_TYPES), "not every event type was dispatched"
    return len(expected)


# --- timing -----------------------------------------------------------------------------------------------


@dataclass
class Timing:
    impl: Impl
    runs: list[float] = field(default_factory=list)  # seconds per event

    @property
    def best(self) -> float:
        return min(self.runs)

    @property
    def events_per_second(self) -> float:
        return 1 / self.best


def _time_once(handler: Callable[[Event], Response], batches: Sequence[Event], loops: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(loops):
        for batch in batches:
            handler(batch)
    elapsed = time.perf_counter() - start
    return elapsed / (loops * len(batches) * BATCH_SIZE)


def measure(batches: Sequence[Event], impls: Sequence[Impl], reps: int, target_s: float) -> list[Timing]:
    """Best time per event of each implementation, repetitions interleaved across implementations."""
    handlers = [impl.make(None) for impl in impls]
    timings = [Timing(impl) for impl in impls]
    slowest = max(_time_once(h, batches, 1) for h in handlers)
    loops = max(1, round(target_s / (slowest * len(batches) * BATCH_SIZE)))
    for _ in range(reps):
        for timing, handler in zip(timings, handlers, strict=True):
            timing.runs.append(_time_once(handler, batches, loops))
    return timings


# --- reporting --------------------------------------------------------------------------------------------


def overhead(timings: Sequence[Timing], name: str = "sesflow", baseline: str = BASELINE) -> float:
    """How many times longer ``name`` takes per event than ``baseline``."""
    by_name = {t.impl.name: t for t in timings}
    return by_name[name].best / by_name[baseline].best


def verdicts(timings: Sequence[Timing]) -> list[str]:
    names = {t.impl.name for t in timings}
    ratio = overhead(timings)
    lines = [
        f"sesflow / {BASELINE}: {ratio:.2f}x the time per event (target <= {TARGET:.2f}x): "
        f"{'met' if ratio <= TARGET else 'NOT met'}"
    ]
    if "hand-written, orjson.loads" in names:
        like = overhead(timings, "sesflow", "hand-written, orjson.loads")
        lines.append(f"like for like, both on orjson: sesflow / hand-written = {like:.2f}x (not a target)")
    if "sesflow, stdlib json" in names:
        like = overhead(timings, "sesflow, stdlib json", BASELINE)
        lines.append(
            f"like for like, both on json.loads: sesflow / hand-written = {like:.2f}x (not a target)"
        )
    return lines


def breakdown(timings: Sequence[Timing]) -> list[str]:
    """Where sesflow's time per event goes, from the parts timed alongside (empty if they were not)."""
    by_name = {t.impl.name: t.best for t in timings}
    if PARSE_ONLY not in by_name or SOURCES_ONLY not in by_name:
        return []
    total = by_name["sesflow"]
    parse = by_name[PARSE_ONLY]
    sources = by_name[SOURCES_ONLY] - parse
    routing = total - by_name[SOURCES_ONLY]
    if sources < 0 or routing < 0:  # a part timed slower than the whole it is part of: noise won
        return ["not measurable in this run: the machine was too noisy (a part took longer than the whole)"]
    return [
        f"decoding the SNS envelope and parsing the record (`parse_event`): {parse / total:.0%}",
        f"the rest of source unwrapping (envelope checks, `SourceItem`s): {sources / total:.0%}",
        f"routing, handler calls, results and the partial batch response: {routing / total:.0%}",
    ]


def _rows(timings: Sequence[Timing]) -> list[tuple[str, str, str]]:
    base = next(t for t in timings if t.impl.name == BASELINE)
    return [
        (t.impl.name, f"{t.events_per_second:,.0f}", f"{t.best / base.best:.2f}")
        for t in sorted(timings, key=lambda t: t.best)
        if t.impl.name not in (PARSE_ONLY, SOURCES_ONLY)
    ]


def render_text(timings: Sequence[Timing], batches: int, reps: int) -> str:
    lines = [
        f"{batches} Lambda SQS batches of {BATCH_SIZE} SNS-wrapped SES records; best of {reps}; {machine()}",
        "",
        f"{'implementation':<30} {'events/s':>12} {'time / hand-written json':>26}",
    ]
    lines += [f"{name:<30} {rate:>12} {ratio:>25}x" for name, rate, ratio in _rows(timings)]
    lines += ["", *verdicts(timings)]
    if breakdown(timings):
        lines += ["", "sesflow's time per event:", *[f"  {line}" for line in breakdown(timings)]]
    return "\n".join(lines)


def render_markdown(timings: Sequence[Timing], batches: int, reps: int) -> str:
    lines = [
        SECTION_TITLE,
        "",
        "`bench/dispatch.py` measures what an SQS-triggered Lambda function does with SES events that an SNS "
        "topic delivered to its queue: for each message of a batch of ten, decode the SQS body (the SNS "
        "envelope), decode its `Message` (the SES record), find the event type, call that type's handler "
        "(a trivial one), and answer with the partial batch response. sesflow does this with "
        "`handle_sqs_lambda(router, event)` and one handler per event type: source unwrapping, typed "
        "parsing, dispatch and the response. The hand-written loop is what people write without a library: "
        "`json.loads` of the body and of the `Message`, an `if`/`elif` chain on "
        "`eventType`/`notificationType`, a `try` per message; it checks nothing else and builds no model. "
        "Before timing, the script checks that every implementation calls the same handlers for the same "
        "records in the same order, and reports the same failed message in a batch holding a body that is "
        "not JSON.",
        "",
        f"- Batches: {batches} Lambda SQS events of {BATCH_SIZE} messages, built from the 15 SES records in "
        "`tests/data` (the ten event types and five feedback notifications), each in an SNS envelope.",
        f"- Machine: {machine()}.",
        f"- Versions: {versions(*PACKAGES)}.",
        f"- Method: `time.perf_counter`, best of {reps} repetitions, implementations interleaved; garbage "
        "collection on.",
        "",
        "| implementation | events/s | time per event ÷ hand-written json.loads |",
        "|---|---:|---:|",
    ]
    for name, rate, ratio in _rows(timings):
        shown = f"**{name}**" if name == "sesflow" else name
        lines.append(f"| {shown} | {rate} | {ratio} |")
    lines += [
        "",
        "`sesflow, stdlib json` is sesflow without the `fast` extra (orjson); `hand-written, orjson.loads` "
        "is the hand-written loop with orjson. The target compares sesflow as installed with the "
        "`fast` extra against the hand-written loop on the standard library.",
        "",
        "Target (issue 3):",
        "",
        *[f"- {line}" for line in verdicts(timings)],
        "",
        *(
            [
                "Where sesflow's time per event goes (its parts timed alongside, as shares of the whole):",
                "",
                *[f"- {line}" for line in breakdown(timings)],
                "",
            ]
            if breakdown(timings)
            else []
        ),
        "Reproduce:",
        "",
        "```sh",
        'pip install -e ".[fast]"',
        COMMAND,
        "```",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer repetitions, shorter runs")
    parser.add_argument("--write", action="store_true", help=f"record the results in {DOCS_PAGE.name}")
    args = parser.parse_args(argv)
    reps, target_s = (3, 0.05) if args.quick else (9, 0.4)

    batches = build_batches()
    impls = implementations()
    print(f"checking {len(impls)} implementations on {len(batches)} batches ...")
    # The check's bad batch makes sesflow log a warning; keep the output to the results.
    logging.getLogger("sesflow").setLevel(logging.ERROR)
    check(batches, impls)
    print("all agree; timing ...\n")
    timings = measure(batches, [*impls, *parts()], reps, target_s)
    print(render_text(timings, len(batches), reps))
    if args.write:
        page = DOCS_PAGE.read_text(encoding="utf-8") if DOCS_PAGE.exists() else "# Benchmarks\n"
        DOCS_PAGE.write_text(
            replace_section(page, render_markdown(timings, len(batches), reps)), encoding="utf-8"
        )
        print(f"\nwrote the results to {DOCS_PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
