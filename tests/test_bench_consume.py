"""Keep bench/consume.py working: its events, every implementation's correctness, its report (no timings)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH_SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "consume.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sesflow_bench_consume", BENCH_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_every_implementation_handles_every_event(bench: ModuleType, moto_server: str) -> None:
    runs = bench.benchmark(moto_server, 24, chunk=8, memory=True)
    assert list(runs) == list(bench.NAMES)
    for run in runs.values():
        assert sorted(set(run.handled)) == bench.expected_ids(24)
    assert len(runs["SqsConsumer"].memory_peaks) == len(runs["AsyncSqsConsumer"].memory_peaks) >= 3


def test_a_missing_event_stops_the_benchmark(bench: ModuleType) -> None:
    run = bench.Run("broken", 3, handled=bench.expected_ids(3)[:2])
    with pytest.raises(SystemExit, match="did not handle every event"):
        bench.check(run, 3)


def test_the_report_replaces_only_its_own_section(bench: ModuleType) -> None:
    runs = {
        name: bench.Run(name, 100, seconds=1.0 / (i + 1), memory_peaks=[1024, 2048])
        for i, name in enumerate(bench.NAMES)
    }
    section = bench.render_markdown({0.0: runs, 0.01: runs}, 100, 20)
    assert section.startswith("## Consuming\n")
    assert "AsyncSqsConsumer ÷ naive loop = 3.0 (target >= 5): not met" in section
    assert "with a 10 ms round trip" in section
    page = "# Benchmarks\n\nintro\n\n## Parsing\n\nparse table\n"
    once = bench.replace_section(page, section)
    twice = bench.replace_section(once, section)
    assert once == twice
    assert "## Parsing\n\nparse table\n" in once
    assert once.count("## Consuming") == 1
    updated = bench.replace_section(once + "\n## Later\n\nkept\n", section.replace("3.0", "9.9"))
    assert "## Later\n\nkept" in updated
