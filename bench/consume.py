"""Benchmark: consuming SES events from SQS (moto server), naive loop vs SqsConsumer vs AsyncSqsConsumer.

Run ``python bench/consume.py`` (``--events N``; ``--write`` records the results in docs/benchmarks.md).

All three consume the same events (SES records in SNS envelopes) from a queue on a moto server that this
script starts in a child process (so the server does not compete with the consumers for the GIL):

- **naive loop**: ``receive_message`` of one message, parse it, ``delete_message``: two requests per event;
- **SqsConsumer**: batches of ten, one ``DeleteMessageBatch`` per batch;
- **AsyncSqsConsumer**: several receives in flight and concurrent handlers.

Moto's SQS does work proportional to the queue's length on every send and receive, which a real queue does
not; so the events go into the queue in chunks (not timed), and each implementation's time is the sum of the
times it took to consume each chunk. Before anything is timed, every implementation must handle every event
exactly once. Memory is traced (tracemalloc) in a second pass of each consumer, and the peak is reported per
interval of events: a flat series means memory does not grow with the number of events consumed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import os
import platform
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from sesflow import parse_event
from sesflow.consumers import AsyncSqsConsumer, SqsConsumer
from sesflow.routing import EventRouter
from sesflow.testing import make_record

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs_page import replace_section

DOCS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
SECTION_TITLE = "## Consuming"
COMMAND = "python bench/consume.py --write"
TYPES = ("Delivery", "Bounce", "Complaint", "Open", "Click", "Send", "DeliveryDelay")
TARGET = 5.0  # AsyncSqsConsumer's events/s divided by the naive loop's
NAMES = ("naive loop", "SqsConsumer", "AsyncSqsConsumer")


# --- the server -------------------------------------------------------------------------------------------


def _serve(port_out: Any, stop: Any) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port_out.put(server.get_host_and_port()[1])
    stop.wait()
    server.stop()


class MotoProcess:
    """A ThreadedMotoServer in a child process; ``endpoint`` is its URL."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._ports: Any = context.Queue()
        self._stop = context.Event()
        self._process = context.Process(target=_serve, args=(self._ports, self._stop), daemon=True)

    def __enter__(self) -> str:
        self._process.start()
        self.endpoint = f"http://127.0.0.1:{self._ports.get(timeout=60)}"
        return self.endpoint

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()


# --- the events -------------------------------------------------------------------------------------------


def build_bodies(events: int) -> list[str]:
    """SQS bodies (SNS envelopes around SES records of mixed types), each with a unique message id."""
    bodies = []
    for index in range(events):
        record = make_record(
            TYPES[index % len(TYPES)],
            recipients=[f"user{index}@example.com"],
            message_id=f"0100018c-bench-{index:06d}",
            tags={"campaign": f"c{index % 17}"},
        )
        envelope = {
            "Type": "Notification",
            "MessageId": str(uuid.UUID(int=index)),
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
            "Subject": "Amazon SES Email Event Notification",
            "Message": json.dumps(record),
            "Timestamp": "2026-01-01T12:00:00.000Z",
        }
        bodies.append(json.dumps(envelope))
    return bodies


def expected_ids(events: int) -> list[str]:
    return [f"0100018c-bench-{index:06d}" for index in range(events)]


class Queue:
    def __init__(self, endpoint: str) -> None:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        self.endpoint = endpoint
        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        self.url: str = self.sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:10]}")["QueueUrl"]

    def fill(self, bodies: Sequence[str]) -> None:
        for start in range(0, len(bodies), 10):
            entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
            self.sqs.send_message_batch(QueueUrl=self.url, Entries=entries)


# --- the implementations ----------------------------------------------------------------------------------

# Simulated network round trip added to every SQS request (seconds); 0 is moto over loopback as it is.
ROUND_TRIP = {"value": 0.0}


def add_round_trip(client: Any) -> Any:
    """Make every request of a boto3 client wait ROUND_TRIP before it is sent."""
    if ROUND_TRIP["value"]:
        client.meta.events.register("before-send.sqs", lambda **_: time.sleep(ROUND_TRIP["value"]))
    return client


def add_round_trip_async(client: Any) -> Any:
    """The same for an aiobotocore client (its event handlers may be coroutines)."""
    if ROUND_TRIP["value"]:

        async def wait(**_: Any) -> None:
            await asyncio.sleep(ROUND_TRIP["value"])

        client.meta.events.register("before-send.sqs", wait)
    return client


def counting_router(handled: list[str]) -> EventRouter:
    router = EventRouter()
    router.on_any(lambda event: handled.append(event.message_id))
    return router


class Naive:
    """Receive one message, parse it, delete it."""

    name = NAMES[0]

    def __init__(self, queue: Queue, handled: list[str]) -> None:
        self.queue, self.handled = queue, handled
        self.sqs = add_round_trip(boto3.client("sqs", endpoint_url=queue.endpoint, region_name="us-east-1"))

    def consume(self, count: int) -> None:
        done = 0
        while done < count:
            response = self.sqs.receive_message(
                QueueUrl=self.queue.url, MaxNumberOfMessages=1, WaitTimeSeconds=1
            )
            for message in response.get("Messages", []):
                envelope = json.loads(message["Body"])
                event = parse_event(envelope["Message"])
                self.handled.append(event.message_id)  # type: ignore[union-attr]
                self.sqs.delete_message(QueueUrl=self.queue.url, ReceiptHandle=message["ReceiptHandle"])
                done += 1

    def close(self) -> None:
        self.sqs.close()


class Sync:
    name = NAMES[1]

    def __init__(self, queue: Queue, handled: list[str]) -> None:
        client = add_round_trip(boto3.client("sqs", endpoint_url=queue.endpoint, region_name="us-east-1"))
        self.consumer = SqsConsumer(queue.url, counting_router(handled), client=client, wait_time_seconds=1)

    def consume(self, count: int) -> None:
        self.consumer.run(max_messages=count)

    def close(self) -> None:
        self.consumer.close()


class Async:
    name = NAMES[2]

    def __init__(
        self, queue: Queue, handled: list[str], *, receivers: int = 4, concurrency: int = 40
    ) -> None:
        self.queue, self.handled = queue, handled
        self.receivers, self.concurrency = receivers, concurrency
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self._open())

    async def _open(self) -> None:
        import aioboto3
        from aiobotocore.config import AioConfig

        config = AioConfig(max_pool_connections=self.receivers * 2 + 8)
        self._client_context = aioboto3.Session().client(
            "sqs", endpoint_url=self.queue.endpoint, region_name="us-east-1", config=config
        )
        client = add_round_trip_async(await self._client_context.__aenter__())
        self.consumer = AsyncSqsConsumer(
            self.queue.url,
            counting_router(self.handled),
            client=client,
            wait_time_seconds=1,
            receivers=self.receivers,
            concurrency=self.concurrency,
        )

    def consume(self, count: int) -> None:
        self.loop.run_until_complete(self.consumer.run(max_messages=count))

    def close(self) -> None:
        self.loop.run_until_complete(self._client_context.__aexit__(None, None, None))
        self.loop.close()


IMPLEMENTATIONS: tuple[Callable[[Queue, list[str]], Any], ...] = (Naive, Sync, Async)


# --- running --------------------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    events: int
    seconds: float = 0.0
    handled: list[str] = field(default_factory=list)
    memory_peaks: list[int] = field(default_factory=list)  # bytes, one per interval

    @property
    def repeats(self) -> int:
        return len(self.handled) - len(set(self.handled))

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def consume_all(
    endpoint: str,
    implementation: Callable[[Queue, list[str]], Any],
    bodies: Sequence[str],
    *,
    chunk: int,
    trace_every: int | None = None,
) -> Run:
    """Put ``bodies`` in a fresh queue chunk by chunk and consume each chunk; time only the consuming."""
    queue = Queue(endpoint)
    # The memory pass only counts, so that what it measures is the consumer, not a growing list of ids.
    handled: Any = Tally() if trace_every else []
    impl = implementation(queue, handled)
    run = Run(impl.name, len(bodies))
    if trace_every:
        tracemalloc.start()
    try:
        for start in range(0, len(bodies), chunk):
            part = bodies[start : start + chunk]
            queue.fill(part)
            target = _progress(handled) + len(part)
            began = time.perf_counter()
            while _progress(handled) < target:  # a message delivered twice is not a second event
                impl.consume(target - _progress(handled))
            run.seconds += time.perf_counter() - began
            done = start + len(part)
            if trace_every and (done % trace_every == 0 or done == len(bodies)):
                run.memory_peaks.append(tracemalloc.get_traced_memory()[1])
                tracemalloc.reset_peak()
    finally:
        if trace_every:
            tracemalloc.stop()
        impl.close()
    run.handled = handled if isinstance(handled, list) else []
    return run


class Tally:
    """Counts handled events without keeping them."""

    def __init__(self) -> None:
        self.count = 0

    def append(self, _message_id: str) -> None:
        self.count += 1


def _progress(handled: list[str] | Tally) -> int:
    return handled.count if isinstance(handled, Tally) else len(set(handled))


def check(run: Run, events: int) -> None:
    """Every event handled, or the benchmark stops. A repeat is allowed (SQS delivers at least once; moto's
    receive is not atomic between concurrent requests) and counted."""
    expected = expected_ids(events)
    if sorted(set(run.handled)) != expected:
        missing = sorted(set(expected) - set(run.handled))[:5]
        raise SystemExit(f"{run.name} did not handle every event: missing {missing}")


def benchmark(
    endpoint: str, events: int, *, chunk: int = 100, memory: bool = True, round_trip: float = 0.0
) -> dict[str, Run]:
    ROUND_TRIP["value"] = round_trip
    bodies = build_bodies(events)
    runs: dict[str, Run] = {}
    for implementation in IMPLEMENTATIONS:
        run = consume_all(endpoint, implementation, bodies, chunk=chunk)
        check(run, events)
        runs[run.name] = run
    if memory:
        interval = max(chunk, (events // 5) // chunk * chunk)
        for implementation in IMPLEMENTATIONS[1:]:
            traced = consume_all(endpoint, implementation, bodies, chunk=chunk, trace_every=interval)
            runs[traced.name].memory_peaks = traced.memory_peaks
    return runs


# --- reporting ------------------------------------------------------------------------------------------


def machine() -> str:
    return f"{platform.python_implementation()} {platform.python_version()} on {platform.system()} " + (
        f"{platform.machine()}, {os.cpu_count()} CPUs"
    )


def _versions() -> str:
    from importlib.metadata import version

    names = ("sesflow", "boto3", "aioboto3", "moto")
    return ", ".join(f"{name} {version(name)}" for name in names)


def _table(runs: dict[str, Run]) -> list[str]:
    naive = runs[NAMES[0]].events_per_second
    lines = ["| implementation | events/s | ÷ naive loop | repeated deliveries |", "|---|---:|---:|---:|"]
    for run in runs.values():
        rate = run.events_per_second
        lines.append(f"| {run.name} | {rate:,.0f} | {rate / naive:.1f} | {run.repeats} |")
    return lines


def ratio(runs: dict[str, Run]) -> float:
    return runs[NAMES[2]].events_per_second / runs[NAMES[0]].events_per_second


def verdicts(results: dict[float, dict[str, Run]]) -> list[str]:
    out = []
    for round_trip, runs in results.items():
        where = "moto as it is" if not round_trip else f"with a {round_trip * 1000:.0f} ms round trip"
        value = ratio(runs)
        verdict = "met" if value >= TARGET else "not met"
        out.append(
            f"{where}: AsyncSqsConsumer ÷ naive loop = {value:.1f} (target >= {TARGET:.0f}): {verdict}"
        )
    return out


def render_markdown(results: dict[float, dict[str, Run]], events: int, chunk: int) -> str:
    plain = results[0.0]
    lines = [
        SECTION_TITLE,
        "",
        "`bench/consume.py` consumes the same SES events (records in SNS envelopes, seven event types) "
        "from an SQS queue on a moto server that the script starts in a child process, with three "
        "implementations: a naive loop (`receive_message` of one message, `parse_event`, `delete_message`), "
        "`SqsConsumer` (batches of ten, one `DeleteMessageBatch` per batch, one thread) and "
        "`AsyncSqsConsumer` (four receives in flight, up to 40 messages handled at once). Each handler "
        "records the event's message id; before anything is reported, every implementation must have handled "
        "every event (a repeat is counted, not hidden: SQS delivers at least once, and moto's receive is not "
        "atomic between concurrent requests, so two receives in flight can return the same message).",
        "",
        f"- Events: {events:,}, put into the queue {chunk} at a time (not timed): moto's SQS does work "
        "proportional to the queue's length on each call, which real SQS does not, so a long queue would "
        "measure moto. The time is the sum of the times spent consuming each chunk.",
        f"- Machine: {machine()}.",
        f"- Versions: {_versions()}.",
        "",
        "**Moto as it is** (loopback, no network latency):",
        "",
        *_table(plain),
    ]
    for round_trip, runs in results.items():
        if not round_trip:
            continue
        lines += [
            "",
            f"**With a simulated network round trip of {round_trip * 1000:.0f} ms** per request (a botocore "
            "`before-send` hook that waits, in every implementation alike; requests to SQS within a region "
            "take milliseconds):",
            "",
            *_table(runs),
        ]
    lines += [
        "",
        "Peak traced memory (`tracemalloc`, a second pass, moto as it is) per interval of events, KiB:",
        "",
    ]
    for name in NAMES[1:]:
        peaks = ", ".join(f"{peak / 1024:,.0f}" for peak in plain[name].memory_peaks)
        lines.append(f"- {name}: {peaks}")
    lines += [
        "",
        "The memory of both consumers stays within a few hundred KiB over the whole run; the slow growth "
        "left comes from botocore (comparing `tracemalloc` snapshots of `SqsConsumer` attributes it to "
        "botocore's response parser, parameter validator and serializer), not from sesflow's own state, "
        "which is bounded by the messages in flight.",
        "",
        "Targets:",
        "",
        *(f"- {line}" for line in verdicts(results)),
        "",
        "Reading the numbers: moto spends most of its time on bookkeeping done for every message received "
        "(it recomputes the queue's attributes, walking the whole queue, several times per message), in one "
        "Python process. That cost is the same however the messages are fetched, so on bare moto batching "
        "wins what it saves in requests and concurrency wins little: the server, not the consumer, is busy. "
        "Real SQS answers each request after a network round trip and scales out behind it; that is what "
        "the simulated round trip shows, and where several requests in flight pay off.",
        "",
        "Reproduce:",
        "",
        "```sh",
        'pip install -e ".[async,testing]"',
        COMMAND,
        "```",
        "",
    ]
    return "\n".join(lines)


def render_text(results: dict[float, dict[str, Run]]) -> str:
    out = []
    for round_trip, runs in results.items():
        naive = runs[NAMES[0]].events_per_second
        out.append(f"round trip {round_trip * 1000:.0f} ms")
        out.append(
            f"{'implementation':<20}{'events/s':>12}{'÷ naive':>10}{'repeats':>9}   peak KiB per interval"
        )
        for run in runs.values():
            peaks = " ".join(f"{p / 1024:,.0f}" for p in run.memory_peaks) or "-"
            rate = run.events_per_second
            out.append(f"{run.name:<20}{rate:>12,.0f}{rate / naive:>10.1f}{run.repeats:>9}   {peaks}")
        out.append("")
    out += verdicts(results)
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000, help="how many events (default 5000)")
    parser.add_argument("--chunk", type=int, default=20, help="events put into the queue at a time")
    parser.add_argument(
        "--round-trip-ms", type=float, default=10.0, help="simulated round trip of the second run (0: none)"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument("--write", action="store_true", help=f"record the results in {DOCS_PAGE.name}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results: dict[float, dict[str, Run]] = {}
    with MotoProcess() as endpoint:
        results[0.0] = benchmark(endpoint, args.events, chunk=args.chunk, memory=not args.no_memory)
        if args.round_trip_ms:
            round_trip = args.round_trip_ms / 1000
            results[round_trip] = benchmark(
                endpoint, args.events, chunk=args.chunk, memory=False, round_trip=round_trip
            )
    print(render_text(results))
    if args.write:
        page = DOCS_PAGE.read_text(encoding="utf-8") if DOCS_PAGE.exists() else "# Benchmarks\n"
        section = render_markdown(results, args.events, args.chunk)
        DOCS_PAGE.write_text(replace_section(page, section), encoding="utf-8")
        print(f"wrote the {SECTION_TITLE[3:]} section of {DOCS_PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
