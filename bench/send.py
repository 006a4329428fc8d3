"""Sending benchmark: a sequential boto3 loop against sesflow's clients, side by side in one run.

Every implementation sends through the same local endpoint that answers like SES (``sesflow.testing.FakeSes``,
speaking the sesv2 REST-JSON protocol) after a fixed delay (20 ms by default, a realistic round trip to SES):

* ``boto3 loop``: ``sesv2.send_email`` one message at a time, the way most code sends;
* ``SesClient.send``: the same loop through sesflow's sync client (validation, configuration set, tags), to
  measure its overhead over raw boto3;
* ``aiobotocore gather``: raw aiobotocore calls under ``asyncio.gather`` with the same concurrency cap, for
  reference;
* ``AsyncSesClient.send_many``: 2,000 messages, one ``SendEmail`` each, up to 50 calls in flight;
* ``AsyncSesClient.send_bulk``: 2,000 destinations of one template, 50 per ``SendBulkEmail`` call.

Before timing, each implementation sends a few messages to an in-process endpoint, which checks that every
call carried the configuration set and the tags, and that every message got its own id. The endpoint then runs
in its own process (pinned to other CPUs than the client when the machine has several), the client process is
pinned to one CPU, and the implementations are timed in turn, repetition after repetition; the best repetition
of each is reported. The sequential loops send fewer messages than the concurrent runs (2,000 one-at-a-time
sends at 20 ms would take 40 s each): rates, not totals, are compared.

Run ``python bench/send.py`` (``--quick`` for a smoke run, ``--write`` to record the results in
``docs/benchmarks.md``). Needs the ``async`` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.config
from aiobotocore.session import AioSession

from sesflow.sending import AsyncSesClient, Destination, Email, SesClient, Template
from sesflow.testing import FakeSes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs_page import machine, replace_section, versions

BENCH_DIR = Path(__file__).resolve().parent
DOCS_PAGE = BENCH_DIR.parent / "docs" / "benchmarks.md"
# Whose versions the docs record.
PACKAGES = ("sesflow", "boto3", "botocore", "aiobotocore", "aiohttp")
SECTION_TITLE = "## Sending"
COMMAND = "python bench/send.py --write"

CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
# sesflow's clients say region= where boto3 says region_name=.
CLIENT_CREDENTIALS = {"region" if k == "region_name" else k: v for k, v in CREDENTIALS.items()}
CONFIGURATION_SET = "bench-events"
TEMPLATE = "bench-promo"
SENDER = "Shop <news@shop.example.com>"
TAGS = {"campaign": "bench"}
TARGET_SPEEDUP = 10.0
TARGET_RATE = 500.0
TARGET_SYNC_OVERHEAD = 0.10

SERVER_CODE = """
import sys
from sesflow.testing import FakeSes
fake = FakeSes(
    configuration_sets={sys.argv[2]}, templates={sys.argv[3]}, delay=float(sys.argv[1]), record=False
)
with fake:
    sys.stdout.write(fake.endpoint_url + "\\n")
    sys.stdout.flush()
    sys.stdin.read()
"""


@dataclass
class Run:
    """One timed run of one implementation."""

    name: str
    messages: int
    calls: int
    seconds: float
    cpu_seconds: float
    """CPU time of this process (the client) during the run: the endpoint runs in another process."""
    message_ids: list[str]

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_ms_per_message(self) -> float:
        return self.cpu_seconds / self.messages * 1000


# --- what is sent -------------------------------------------------------------------------------------------


def raw_params(i: int) -> dict[str, Any]:
    """What a hand-written boto3 loop passes for message ``i`` (configuration set and tags included)."""
    return {
        "FromEmailAddress": SENDER,
        "Destination": {"ToAddresses": [f"user{i}@example.com"]},
        "Content": {
            "Simple": {
                "Subject": {"Data": f"Order {i} shipped", "Charset": "UTF-8"},
                "Body": {"Text": {"Data": f"Hello, order {i} is on its way.", "Charset": "UTF-8"}},
            }
        },
        "ConfigurationSetName": CONFIGURATION_SET,
        "EmailTags": [{"Name": name, "Value": value} for name, value in TAGS.items()],
    }


def email(i: int) -> Email:
    """The same message as an sesflow Email."""
    return Email(
        SENDER,
        f"user{i}@example.com",
        subject=f"Order {i} shipped",
        text=f"Hello, order {i} is on its way.",
        tags=TAGS,
    )


def destinations(n: int) -> list[Destination]:
    return [Destination(f"user{i}@example.com", data={"order": i}) for i in range(n)]


# --- the implementations ------------------------------------------------------------------------------------


class Bench:
    """Clients for one endpoint, created once and reused by every repetition (as an application would)."""

    def __init__(self, endpoint: str, concurrency: int) -> None:
        self.endpoint = endpoint
        self.concurrency = concurrency
        session = boto3.session.Session()
        self.boto3 = session.client("sesv2", endpoint_url=endpoint, **CREDENTIALS)  # type: ignore[call-overload]
        self.sync = SesClient(
            CONFIGURATION_SET,
            session=session,
            endpoint_url=endpoint,
            max_send_rate=None,
            **CLIENT_CREDENTIALS,
        )
        self.loop = asyncio.new_event_loop()
        self.aio_session = AioSession()
        self.async_client = AsyncSesClient(
            CONFIGURATION_SET,
            session=self.aio_session,
            endpoint_url=endpoint,
            max_send_rate=None,
            max_concurrency=concurrency,
            **CLIENT_CREDENTIALS,
        )
        self.loop.run_until_complete(self.async_client.open())
        config = botocore.config.Config(max_pool_connections=concurrency, retries={"total_max_attempts": 1})
        self._raw_async_context = self.aio_session.create_client(
            "sesv2", endpoint_url=endpoint, config=config, **CREDENTIALS
        )
        self.raw_async = self.loop.run_until_complete(self._raw_async_context.__aenter__())

    def close(self) -> None:
        self.loop.run_until_complete(self.async_client.close())
        self.loop.run_until_complete(self._raw_async_context.__aexit__(None, None, None))
        self.loop.close()
        self.sync.close()
        self.boto3.close()

    @staticmethod
    def _timed(name: str, n: int, calls: int, work: Callable[[], list[str]]) -> Run:
        cpu, start = time.process_time(), time.perf_counter()
        ids = work()
        return Run(name, n, calls, time.perf_counter() - start, time.process_time() - cpu, ids)

    def boto3_loop(self, n: int) -> Run:
        return self._timed(
            "boto3 loop",
            n,
            n,
            lambda: [self.boto3.send_email(**raw_params(i))["MessageId"] for i in range(n)],
        )

    def sesflow_sync(self, n: int) -> Run:
        return self._timed(
            "SesClient.send", n, n, lambda: [self.sync.send(email(i)).message_id for i in range(n)]
        )

    def _timed_async(self, name: str, n: int, calls: int, work: Callable[[], Awaitable[list[str]]]) -> Run:
        return self._timed(name, n, calls, lambda: self.loop.run_until_complete(work()))

    def aiobotocore_gather(self, n: int) -> Run:
        limit = asyncio.Semaphore(self.concurrency)

        async def one(i: int) -> str:
            async with limit:
                response = await self.raw_async.send_email(**raw_params(i))
            return str(response["MessageId"])

        async def work() -> list[str]:
            return list(await asyncio.gather(*(one(i) for i in range(n))))

        return self._timed_async("aiobotocore gather", n, n, work)

    def async_send_many(self, n: int) -> Run:
        async def work() -> list[str]:
            results = await self.async_client.send_many([email(i) for i in range(n)])
            ids = []
            for result in results:
                if isinstance(result, Exception):
                    raise result
                ids.append(result.message_id)
            return ids

        return self._timed_async("AsyncSesClient.send_many", n, n, work)

    def async_send_bulk(self, n: int) -> Run:
        calls = (n + 49) // 50

        async def work() -> list[str]:
            result = await self.async_client.send_bulk(
                Template(TEMPLATE), destinations(n), sender=SENDER, tags=TAGS
            )
            if not result.ok:
                raise RuntimeError(f"{len(result.failed)} destinations failed: {result.failed[0]}")
            return [str(message_id) for message_id in result.message_ids]

        return self._timed_async("AsyncSesClient.send_bulk", n, calls, work)


# --- correctness --------------------------------------------------------------------------------------------


def check_correctness(n_single: int = 5, n_concurrent: int = 60, n_bulk: int = 120) -> dict[str, Run]:
    """Run every implementation against an in-process endpoint and check what reached it; raise if wrong."""
    runs: dict[str, Run] = {}
    with FakeSes(configuration_sets={CONFIGURATION_SET}, templates={TEMPLATE}) as fake:
        bench = Bench(fake.endpoint_url, concurrency=10)
        try:
            plan: list[tuple[Callable[[int], Run], int, str]] = [
                (bench.boto3_loop, n_single, "SendEmail"),
                (bench.sesflow_sync, n_single, "SendEmail"),
                (bench.aiobotocore_gather, n_concurrent, "SendEmail"),
                (bench.async_send_many, n_concurrent, "SendEmail"),
                (bench.async_send_bulk, n_bulk, "SendBulkEmail"),
            ]
            for run_one, n, operation in plan:
                fake.calls.clear()
                run = run_one(n)
                sends = [call for call in fake.calls if call.operation == operation]
                if len(sends) != run.calls:
                    raise AssertionError(f"{run.name}: {len(sends)} {operation} calls, expected {run.calls}")
                for call in sends:
                    if call.params.get("ConfigurationSetName") != CONFIGURATION_SET or call.status != 200:
                        raise AssertionError(f"{run.name}: a call without the configuration set: {call}")
                    tags = call.params.get("EmailTags") or call.params.get("DefaultEmailTags")
                    if tags != [{"Name": "campaign", "Value": "bench"}]:
                        raise AssertionError(f"{run.name}: tags missing on a call: {tags}")
                recipients = sorted(
                    address
                    for call in sends
                    for entry in call.params.get("BulkEmailEntries", [call.params])
                    for address in entry["Destination"]["ToAddresses"]
                )
                if recipients != sorted(f"user{i}@example.com" for i in range(n)):
                    raise AssertionError(f"{run.name}: the recipients that reached the endpoint differ")
                if len(set(run.message_ids)) != n:
                    raise AssertionError(
                        f"{run.name}: {len(set(run.message_ids))} distinct message ids for {n}"
                    )
                runs[run.name] = run
        finally:
            bench.close()
    return runs


# --- timing -------------------------------------------------------------------------------------------------


def start_endpoint(delay: float) -> tuple[subprocess.Popen[str], str]:
    """The endpoint in its own process; returns it and its URL."""
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER_CODE, str(delay), CONFIGURATION_SET, TEMPLATE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        process.kill()
        raise RuntimeError(f"the endpoint did not start: {url!r}")
    return process, url


def pin(endpoint_pid: int) -> str:
    """Pin this process to one CPU and the endpoint to the others; describe what was done."""
    if not hasattr(os, "sched_setaffinity"):
        return "no CPU pinning on this platform"
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return "one CPU shared by client and endpoint"
    os.sched_setaffinity(0, {cpus[0]})
    os.sched_setaffinity(endpoint_pid, set(cpus[1:]))
    return f"client pinned to 1 CPU, endpoint to the other {len(cpus) - 1}"


@dataclass
class Results:
    best: dict[str, Run]
    delay: float
    reps: int
    concurrency: int
    pinning: str


def measure(*, messages: int, sequential: int, delay: float, reps: int, concurrency: int) -> Results:
    process, url = start_endpoint(delay)
    try:
        pinning = pin(process.pid)
        bench = Bench(url, concurrency)
        try:
            # Warm up: connections opened, models loaded, the configuration set checked and cached.
            bench.boto3_loop(3)
            bench.sesflow_sync(3)
            bench.aiobotocore_gather(concurrency)
            bench.async_send_many(concurrency)
            bench.async_send_bulk(100)
            best: dict[str, Run] = {}
            for _ in range(reps):
                for run in (
                    bench.boto3_loop(sequential),
                    bench.sesflow_sync(sequential),
                    bench.aiobotocore_gather(messages),
                    bench.async_send_many(messages),
                    bench.async_send_bulk(messages),
                ):
                    if run.name not in best or run.rate > best[run.name].rate:
                        best[run.name] = run
        finally:
            bench.close()
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=10)
    return Results(best, delay, reps, concurrency, pinning)


# --- report -------------------------------------------------------------------------------------------------

ROWS = {
    "boto3 loop": "boto3 `sesv2.send_email`, one message at a time (the baseline)",
    "SesClient.send": "sesflow's sync client, one message at a time",
    "aiobotocore gather": "raw aiobotocore `send_email` under `asyncio.gather`, same cap on calls in flight",
    "AsyncSesClient.send_many": "sesflow's async client, one `SendEmail` per message, calls in flight capped",
    "AsyncSesClient.send_bulk": "sesflow's async client, one template to every destination, 50 per call",
}


def sync_overhead(best: dict[str, Run]) -> float:
    """How much longer a message takes through SesClient than through boto3 (a fraction)."""
    return best["boto3 loop"].rate / best["SesClient.send"].rate - 1.0


def verdicts(results: Results) -> list[str]:
    best = results.best
    base = best["boto3 loop"].rate
    lines = []
    for name in ("AsyncSesClient.send_many", "AsyncSesClient.send_bulk"):
        speedup = best[name].rate / base
        met = "met" if speedup >= TARGET_SPEEDUP else "NOT met"
        lines.append(f"{name} ÷ boto3 loop = {speedup:.1f}x (target >= {TARGET_SPEEDUP:.0f}x): {met}")
    for name in ("AsyncSesClient.send_many", "AsyncSesClient.send_bulk"):
        rate = best[name].rate
        met = "met" if rate >= TARGET_RATE else "NOT met"
        lines.append(
            f"{name}: {rate:,.0f} messages/s from one process on one CPU (target >= {TARGET_RATE:.0f}): {met}"
        )
    overhead = sync_overhead(best)
    met = "met" if overhead < TARGET_SYNC_OVERHEAD else "NOT met"
    lines.append(
        f"SesClient.send over boto3: {overhead:+.1%} per message (target < {TARGET_SYNC_OVERHEAD:.0%}): {met}"
    )
    return lines


def _load() -> str:
    return f", load average {os.getloadavg()[0]:.1f} after the run" if hasattr(os, "getloadavg") else ""


def render_markdown(results: Results, *, messages: int, sequential: int) -> str:
    best = results.best
    base = best["boto3 loop"].rate
    lines = [
        SECTION_TITLE,
        "",
        "`bench/send.py` sends through a local endpoint that answers like SES's v2 API "
        f"(`sesflow.testing.FakeSes`) after a fixed {results.delay * 1000:.0f} ms, with each implementation "
        "in turn. Before timing, every implementation sends to an in-process endpoint that checks each call "
        "carried the configuration set and the tags, every recipient arrived once, and every message got its "
        "own id.",
        "",
        f"- Messages: {messages:,} for the concurrent runs, {sequential:,} for the one-at-a-time loops "
        f"(rates are compared, not totals); at most {results.concurrency} calls in flight.",
        f"- Machine: {machine()}{_load()}; {results.pinning}.",
        f"- Versions: {versions(*PACKAGES)}.",
        f"- Method: `time.perf_counter` around each run, best of {results.reps} repetitions, implementations "
        "in turn; clients created once and warmed up (connections open, configuration set checked and "
        "cached).",
        "",
        "`client CPU` is the CPU time the sending process spent per message (the endpoint runs in another "
        "process): it is what bounds a process's rate once waiting is overlapped, and it is steadier than "
        "wall time on a busy machine.",
        "",
        "| implementation | messages | API calls | messages/s | x boto3 loop | client CPU, ms/message |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in ROWS:
        run = best[name]
        label = f"**{name}**" if "SesClient" in name else name
        lines.append(
            f"| {label} | {run.messages:,} | {run.calls:,} | {run.rate:,.0f} | {run.rate / base:.1f} "
            f"| {run.cpu_ms_per_message:.2f} |"
        )
    per_call_ms = (1 / best["SesClient.send"].rate - 1 / base) * 1000
    lines += [
        "",
        "What the rows are:",
        "",
        *(f"- **{name}**: {text}." for name, text in ROWS.items()),
        "",
        "Targets:",
        "",
        *(f"- {line}" for line in verdicts(results)),
        "",
        f"SesClient's overhead is {per_call_ms:+.2f} ms per message: building and checking the `Email`, "
        "choosing and attaching the configuration set and tags, and interpreting the answer. The "
        "configuration set's existence is checked once and cached, so it costs one call per run, not per "
        "message.",
        "",
        "Reproduce:",
        "",
        "```sh",
        'pip install -e ".[async]"',
        COMMAND,
        "```",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer messages and repetitions")
    parser.add_argument("--write", action="store_true", help=f"record the results in {DOCS_PAGE.name}")
    parser.add_argument("--messages", type=int, default=2000, help="messages per concurrent run")
    parser.add_argument("--sequential", type=int, default=200, help="messages per one-at-a-time run")
    parser.add_argument("--delay", type=float, default=0.020, help="the endpoint's answer delay (seconds)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=50, help="calls in flight for the async runs")
    args = parser.parse_args(argv)
    messages, sequential, reps = (200, 30, 1) if args.quick else (args.messages, args.sequential, args.reps)

    check_correctness()
    print("correctness: every implementation attached the configuration set and tags to every call")
    results = measure(
        messages=messages, sequential=sequential, delay=args.delay, reps=reps, concurrency=args.concurrency
    )
    report = render_markdown(results, messages=messages, sequential=sequential)
    print(report)
    if args.write:
        page = DOCS_PAGE.read_text(encoding="utf-8") if DOCS_PAGE.exists() else "# Benchmarks\n"
        DOCS_PAGE.write_text(replace_section(page, report), encoding="utf-8")
        print(f"wrote the {SECTION_TITLE[3:]} section of {DOCS_PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
