"""Keep bench/send.py working: its correctness path and its report (never its timings or 2,000 sends)."""

from __future__ import annotations

from types import ModuleType

import pytest

from ._scripts import load_bench


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("send")


def test_every_implementation_attaches_the_set_and_tags(bench: ModuleType) -> None:
    runs = bench.check_correctness(n_single=3, n_concurrent=20, n_bulk=60)
    assert set(runs) == set(bench.ROWS)
    assert runs["boto3 loop"].messages == 3
    assert runs["AsyncSesClient.send_many"].calls == 20
    assert runs["AsyncSesClient.send_bulk"].messages == 60
    assert runs["AsyncSesClient.send_bulk"].calls == 2
    for run in runs.values():
        assert len(set(run.message_ids)) == run.messages


def test_the_report_states_targets_and_replaces_only_its_section(bench: ModuleType) -> None:
    def run(name: str, messages: int, calls: int, seconds: float) -> object:
        return bench.Run(name, messages, calls, seconds, seconds / 4, [str(i) for i in range(messages)])

    best = {
        "boto3 loop": run("boto3 loop", 100, 100, 2.5),
        "SesClient.send": run("SesClient.send", 100, 100, 2.55),
        "aiobotocore gather": run("aiobotocore gather", 2000, 2000, 2.0),
        "AsyncSesClient.send_many": run("AsyncSesClient.send_many", 2000, 2000, 2.5),
        "AsyncSesClient.send_bulk": run("AsyncSesClient.send_bulk", 2000, 40, 0.5),
    }
    results = bench.Results(best, 0.02, 3, 50, "client pinned to 1 CPU")
    report = bench.render_markdown(results, messages=2000, sequential=100)
    assert report.startswith("## Sending\n")
    assert "| **AsyncSesClient.send_many** | 2,000 | 2,000 | 800 | 20.0 | 0.31 |" in report
    assert "AsyncSesClient.send_many ÷ boto3 loop = 20.0x (target >= 10x): met" in report
    assert "SesClient.send over boto3: +2.0% per message (target < 10%): met" in report
    slow = dict(best, **{"AsyncSesClient.send_bulk": run("AsyncSesClient.send_bulk", 2000, 40, 10.0)})
    assert "200 messages/s from one process on one CPU (target >= 500): NOT met" in bench.render_markdown(
        bench.Results(slow, 0.02, 3, 50, ""), messages=2000, sequential=100
    )
    page = "# Benchmarks\n\nIntro.\n\n## Parsing\n\nparse results\n\n## Sending\n\nold\n\n## Later\n\nkept\n"
    updated = bench.replace_section(page, report)
    assert "old" not in updated
    assert "parse results" in updated
    assert updated.index("## Parsing") < updated.index("## Sending") < updated.index("## Later")
    assert updated.endswith("## Later\n\nkept\n")
    assert bench.replace_section("# Benchmarks\n", report).startswith("# Benchmarks\n\n## Sending\n")
