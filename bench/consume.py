"""Benchmark: consuming SES events from SQS (moto server), naive loop vs SqsConsumer vs AsyncSqsConsumer.

Run ``python bench/consume.py`` (``--events N``; ``--write`` records the results in docs/benchmarks.md).

All three consume the same events (SES records in SNS envelopes) from a queue on a moto server that this
script starts in a child process (so the server does not compete with the consumers for the GIL):

- **naive loop**: ``receive_message`` of one message, parse it, ``delete_message``: two requests per event;
- **SqsConsumer**: batches of ten, one ``DeleteMessageBatch`` per batch;
- **AsyncSqsConsumer**: several receives in flight and concurrent handlers.

Three scenarios, each on its own server: moto as it is; moto with one inefficiency removed (its check of each
received message against the retention period recomputes every queue attribute, walking the whole queue,
see :func:`fix_moto_retention_lookup`); and that server behind a simulated network round trip.

Moto's SQS does work proportional to the queue's length on every send and receive, which a real queue does
not; so the events go into the queue in chunks (not timed), and each implementation's time is the sum of the
times it took to consume each chunk. The server's CPU time over those same intervals is measured too (Linux),
which shows whether the server or the consumer is the busy one. Before anything is timed, every
implementation must handle every event. Memory is traced (tracemalloc) in a second pass of each consumer:
per interval of events, the peak, and what is still allocated after a garbage collection (retained); a flat
retained series means memory does not grow with the number of events consumed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import multiprocessing
import os
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
from _docs_page import machine, replace_section, versions

DOCS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
# Whose versions the docs record.
PACKAGES = ("sesflow", "boto3", "aiobotocore", "moto")
SECTION_TITLE = "## Consuming"
COMMAND = "python bench/consume.py --write"
TYPES = ("Delivery", "Bounce", "Complaint", "Open", "Click", "Send", "DeliveryDelay")
TARGET = 5.0  # AsyncSqsConsumer's events/s divided by the naive loop's
NAMES = ("naive loop", "SqsConsumer", "AsyncSqsConsumer")


# --- the server -------------------------------------------------------------------------------------------


def fix_moto_retention_lookup() -> bool:
    """Make moto's per-message retention check read the one attribute it needs; False if moto changed.

    Moto 5 checks each message it is about to return against the queue's retention period by computing
    *all* the queue's attributes (three times), and three of those walk every message in the queue, so each
    message received costs time in proportion to the queue's length: server work that real SQS does not do,
    paid by every implementation alike. The replacement gives the same answer (a message past the retention
    period is not returned) in constant time.
    """
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    if not hasattr(SQSBackend, "is_message_valid_based_on_retention_period"):
        return False

    def within_retention(self: Any, queue_name: str, message: Any) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > unix_time())

    SQSBackend.is_message_valid_based_on_retention_period = within_retention  # type: ignore[method-assign]
    return True


def _serve(port_out: Any, stop: Any, fix_retention: bool) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    fixed = fix_moto_retention_lookup() if fix_retention else False
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port_out.put((server.get_host_and_port()[1], fixed))
    stop.wait()
    server.stop()


class MotoProcess:
    """A ThreadedMotoServer in a child process; ``endpoint`` is its URL, ``pid`` its process id, ``fixed``
    whether :func:`fix_moto_retention_lookup` was applied in it."""

    def __init__(self, *, fix_retention: bool = False) -> None:
        context = multiprocessing.get_context("spawn")
        self._ports: Any = context.Queue()
        self._stop = context.Event()
        self._process = context.Process(
            target=_serve, args=(self._ports, self._stop, fix_retention), daemon=True
        )
        self.fixed = False

    def __enter__(self) -> MotoProcess:
        self._process.start()
        port, self.fixed = self._ports.get(timeout=60)
        self.endpoint = f"http://127.0.0.1:{port}"
        self.pid: int | None = self._process.pid
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of process ``pid`` (all its threads) from /proc; None where there is none."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
        from aiobotocore.config import AioConfig
        from aiobotocore.session import AioSession

        config = AioConfig(max_pool_connections=self.receivers * 2 + 8)
        self._client_context = AioSession().create_client(
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
    server_cpu: float | None = 0.0  # the server's CPU seconds over the same intervals; None: not measurable
    handled: list[str] = field(default_factory=list)
    memory_peaks: list[int] = field(default_factory=list)  # bytes, one per interval
    memory_retained: list[int] = field(default_factory=list)  # bytes after a collection, one per interval

    @property
    def repeats(self) -> int:
        return len(self.handled) - len(set(self.handled))

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def server_busy(self) -> float | None:
        """The share of the consuming time the server spent on the CPU (1.0: it was the bottleneck)."""
        if self.server_cpu is None or not self.seconds:
            return None
        return self.server_cpu / self.seconds


def consume_all(
    endpoint: str,
    implementation: Callable[[Queue, list[str]], Any],
    bodies: Sequence[str],
    *,
    chunk: int,
    trace_every: int | None = None,
    server_pid: int | None = None,
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
            cpu_before = cpu_seconds(server_pid)
            began = time.perf_counter()
            while _progress(handled) < target:  # a message delivered twice is not a second event
                impl.consume(target - _progress(handled))
            run.seconds += time.perf_counter() - began
            cpu_after = cpu_seconds(server_pid)
            if cpu_before is None or cpu_after is None or run.server_cpu is None:
                run.server_cpu = None
            else:
                run.server_cpu += cpu_after - cpu_before
            done = start + len(part)
            if trace_every and (done % trace_every == 0 or done == len(bodies)):
                run.memory_peaks.append(tracemalloc.get_traced_memory()[1])
                gc.collect()  # garbage waiting for the cycle collector is not growth
                run.memory_retained.append(tracemalloc.get_traced_memory()[0])
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


@dataclass(frozen=True)
class Scenario:
    title: str
    fix_retention: bool = False
    round_trip: float = 0.0  # seconds added before every request
    memory: bool = False  # also run the tracemalloc pass


def benchmark(
    endpoint: str,
    events: int,
    *,
    chunk: int = 20,
    memory: bool = True,
    round_trip: float = 0.0,
    server_pid: int | None = None,
) -> dict[str, Run]:
    """Run every implementation over the same ``events``; returns the runs by implementation name."""
    ROUND_TRIP["value"] = round_trip
    bodies = build_bodies(events)
    runs: dict[str, Run] = {}
    for implementation in IMPLEMENTATIONS:
        run = consume_all(endpoint, implementation, bodies, chunk=chunk, server_pid=server_pid)
        check(run, events)
        runs[run.name] = run
    if memory:
        interval = max(chunk, (events // 5) // chunk * chunk)
        for implementation in IMPLEMENTATIONS[1:]:
            traced = consume_all(endpoint, implementation, bodies, chunk=chunk, trace_every=interval)
            runs[traced.name].memory_peaks = traced.memory_peaks
            runs[traced.name].memory_retained = traced.memory_retained
    return runs


def scenarios(round_trip_ms: float, memory: bool) -> list[Scenario]:
    chosen = [
        Scenario("Moto as it is", memory=memory),
        Scenario("Moto with its per-message retention lookup fixed", fix_retention=True),
    ]
    if round_trip_ms:
        chosen.append(
            Scenario(
                f"The fixed moto behind a simulated {round_trip_ms:.0f} ms round trip",
                fix_retention=True,
                round_trip=round_trip_ms / 1000,
            )
        )
    return chosen


# --- reporting ------------------------------------------------------------------------------------------


def _busy(run: Run) -> str:
    busy = run.server_busy
    return "-" if busy is None else f"{busy:.0%}"


def _table(runs: dict[str, Run]) -> list[str]:
    naive = runs[NAMES[0]].events_per_second
    lines = [
        "| implementation | events/s | ÷ naive loop | server CPU busy | repeated deliveries |",
        "|---|---:|---:|---:|---:|",
    ]
    for run in runs.values():
        rate = run.events_per_second
        lines.append(f"| {run.name} | {rate:,.0f} | {rate / naive:.1f} | {_busy(run)} | {run.repeats} |")
    return lines


def ratio(runs: dict[str, Run]) -> float:
    return runs[NAMES[2]].events_per_second / runs[NAMES[0]].events_per_second


def verdicts(results: dict[Scenario, dict[str, Run]]) -> list[str]:
    out = []
    for scenario, runs in results.items():
        value = ratio(runs)
        verdict = "met" if value >= TARGET else "not met"
        out.append(
            f"{scenario.title}: AsyncSqsConsumer ÷ naive loop = {value:.1f} "
            f"(target >= {TARGET:.0f}): {verdict}"
        )
    return out


def _kib(values: Sequence[int]) -> str:
    return ", ".join(f"{value / 1024:,.0f}" for value in values)


def render_markdown(results: dict[Scenario, dict[str, Run]], events: int, chunk: int) -> str:
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
        "- Server CPU busy: the moto process's CPU time over those same intervals, divided by their wall "
        "time (from `/proc`): the share of the time the server was working (moto answers in one Python "
        "process, so one core at most).",
        f"- Machine: {machine()}.",
        f"- Versions: {versions(*PACKAGES)}.",
    ]
    for scenario, runs in results.items():
        lines += ["", f"**{scenario.title}**:", "", *_table(runs)]
    memory = [(s, runs) for s, runs in results.items() if any(r.memory_peaks for r in runs.values())]
    for scenario, runs in memory:
        lines += [
            "",
            f"Memory (`tracemalloc`, a second pass, {scenario.title.lower()}), KiB, one value per fifth of "
            "the events: the peak within the interval, and what is still allocated after a garbage "
            "collection at its end (retained):",
            "",
        ]
        for name in NAMES[1:]:
            lines.append(
                f"- {name}: peak {_kib(runs[name].memory_peaks)}; retained {_kib(runs[name].memory_retained)}"
            )
    lines += [
        "",
        "Targets:",
        "",
        *(f"- {line}" for line in verdicts(results)),
        "",
        "Reading the numbers: on moto as it is, most of the server's time goes to a check it makes for "
        "every message it returns (is the message older than the queue's retention period?), for which it "
        "recomputes all the queue's attributes three times, walking the whole queue each time. That cost is "
        "the same however the messages are fetched, and it grows with the number of messages in flight, "
        "which is what several receives in flight raise: so on bare moto batching wins only what it saves "
        "in requests, and concurrency wins nothing while the server's one process is saturated. The second "
        "scenario replaces that check, in the benchmark's server process only, with one that reads the "
        "retention period directly (`fix_moto_retention_lookup`: same answer, constant time); what is left "
        "is moto's cost per request, which is what batching and concurrency save on real SQS. The third "
        "adds a network round trip to every request, in every implementation alike (a botocore "
        "`before-send` hook that waits; requests to SQS within a region take milliseconds): that is where "
        "several requests in flight pay off.",
        "",
        "Memory does not grow with the events consumed: what each consumer retains stays level from the "
        "first fifth of the run to the last (its state is bounded by the messages in flight); the peaks, "
        "also level, add the garbage botocore's parsing leaves for the cycle collector.",
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


def render_text(results: dict[Scenario, dict[str, Run]]) -> str:
    out = []
    for scenario, runs in results.items():
        naive = runs[NAMES[0]].events_per_second
        out.append(scenario.title)
        out.append(f"{'implementation':<20}{'events/s':>12}{'÷ naive':>10}{'server':>9}{'repeats':>9}")
        for run in runs.values():
            rate = run.events_per_second
            out.append(f"{run.name:<20}{rate:>12,.0f}{rate / naive:>10.1f}{_busy(run):>9}{run.repeats:>9}")
            if run.memory_peaks:
                out.append(f"{'':<20}peak KiB {_kib(run.memory_peaks)}")
                out.append(f"{'':<20}retained KiB {_kib(run.memory_retained)}")
        out.append("")
    out += verdicts(results)
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000, help="how many events (default 5000)")
    parser.add_argument("--chunk", type=int, default=20, help="events put into the queue at a time")
    parser.add_argument(
        "--round-trip-ms", type=float, default=10.0, help="simulated round trip of the third run (0: none)"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument("--write", action="store_true", help=f"record the results in {DOCS_PAGE.name}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results: dict[Scenario, dict[str, Run]] = {}
    for scenario in scenarios(args.round_trip_ms, memory=not args.no_memory):
        with MotoProcess(fix_retention=scenario.fix_retention) as server:
            if scenario.fix_retention and not server.fixed:
                print(f"skipped: {scenario.title} (this moto has no retention lookup to replace)")
                continue
            results[scenario] = benchmark(
                server.endpoint,
                args.events,
                chunk=args.chunk,
                memory=scenario.memory,
                round_trip=scenario.round_trip,
                server_pid=server.pid,
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
