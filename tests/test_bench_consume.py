"""Keep bench/consume.py working: every implementation's correctness, its server-side fix for moto, its
report (no timings)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from types import ModuleType

import pytest

from ._scripts import load_bench


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("consume")


def test_every_implementation_handles_every_event_and_the_report_shows_them(
    bench: ModuleType, moto_server: str
) -> None:
    events = 30
    runs = bench.benchmark(moto_server, events, chunk=10, memory=True)
    expected = set(bench.expected_ids(events))
    assert list(runs) == list(bench.NAMES)
    for run in runs.values():
        assert set(run.handled) == expected
        assert run.seconds > 0
        assert run.server_cpu is None  # no server process id given: not measurable
    for name in bench.NAMES[1:]:
        assert len(runs[name].memory_peaks) == len(runs[name].memory_retained) == 3
        assert all(
            0 < kept <= peak
            for kept, peak in zip(runs[name].memory_retained, runs[name].memory_peaks, strict=True)
        )

    scenario = bench.Scenario("On the test server", memory=True)
    section = bench.render_markdown({scenario: runs}, events, 10)
    assert section.startswith(bench.SECTION_TITLE)
    assert "**On the test server**:" in section
    for name in bench.NAMES:
        assert f"| {name} | " in section
    ratio = runs[bench.NAMES[2]].events_per_second / runs[bench.NAMES[0]].events_per_second
    assert f"On the test server: AsyncSqsConsumer ÷ naive loop = {ratio:.1f}" in section


def test_a_missing_event_stops_the_benchmark(bench: ModuleType) -> None:
    run = bench.Run("broken", 3, handled=bench.expected_ids(3)[:2])
    with pytest.raises(SystemExit, match="did not handle every event"):
        bench.check(run, 3)


def test_the_report_replaces_only_its_own_section(bench: ModuleType) -> None:
    runs = {
        name: bench.Run(name, 100, seconds=1.0 / (i + 1), memory_peaks=[1024, 2048])
        for i, name in enumerate(bench.NAMES)
    }
    plain, delayed = bench.scenarios(10.0, memory=True)[::2]
    section = bench.render_markdown({plain: runs, delayed: runs}, 100, 20)
    assert section.startswith("## Consuming\n")
    assert "Moto as it is: AsyncSqsConsumer ÷ naive loop = 3.0 (target >= 5): not met" in section
    assert "simulated 10 ms round trip: AsyncSqsConsumer ÷ naive loop = 3.0" in section
    page = "# Benchmarks\n\nintro\n\n## Parsing\n\nparse table\n"
    once = bench.replace_section(page, section)
    twice = bench.replace_section(once, section)
    assert once == twice
    assert "## Parsing\n\nparse table\n" in once
    assert once.count("## Consuming") == 1
    updated = bench.replace_section(once + "\n## Later\n\nkept\n", section.replace("3.0", "9.9"))
    assert "## Later\n\nkept" in updated


def test_a_rewritten_section_keeps_its_command_out_of_the_docs_runner(
    bench: ModuleType, tmp_path: Path
) -> None:
    from ._docs_snippets import blocks

    runs = {name: bench.Run(name, 100, seconds=1.0, memory_peaks=[1024]) for name in bench.NAMES}
    plain, delayed = bench.scenarios(10.0, memory=True)[::2]
    section = bench.render_markdown({plain: runs, delayed: runs}, 100, 20)
    page = tmp_path / "benchmarks.md"
    once = bench.replace_section("# Benchmarks\n", section)
    page.write_text(bench.replace_section(once, section))  # written twice: one marker, not two
    shell = [b for b in blocks(page) if b.lang in ("sh", "bash", "console")]
    assert shell
    assert all(b.not_run and "takes minutes" in b.not_run for b in shell)
    assert page.read_text().count("<!-- not run") == len(shell)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_cpu_seconds_follows_a_process(bench: ModuleType) -> None:
    before = bench.cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    after = bench.cpu_seconds(os.getpid())
    assert before is not None
    assert after is not None
    assert after > before
    assert bench.cpu_seconds(None) is None


def test_the_fixed_retention_lookup_gives_moto_s_answer(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.sqs.models import SQSBackend, sqs_backends

    original = SQSBackend.is_message_valid_based_on_retention_period
    monkeypatch.setattr(SQSBackend, "is_message_valid_based_on_retention_period", original)  # restored after
    backend = sqs_backends["123456789012"]["us-east-1"]
    name = f"bench-fix-{uuid.uuid4().hex[:8]}"
    backend.create_queue(name, MessageRetentionPeriod="60")
    try:
        fresh = backend.send_message(name, "fresh")
        old = backend.send_message(name, "old")
        old.sent_timestamp -= 61_000  # older than the retention period
        expected = [original(backend, name, fresh), original(backend, name, old)]
        assert expected == [True, False]

        assert bench.fix_moto_retention_lookup() is True
        fixed = SQSBackend.is_message_valid_based_on_retention_period
        assert fixed is not original
        assert [fixed(backend, name, fresh), fixed(backend, name, old)] == expected
    finally:
        backend.delete_queue(name)
