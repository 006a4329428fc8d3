"""Keep bench/dispatch.py working: its batches, its correctness check and its report (never its timings)."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from ._scripts import load_bench


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("dispatch")


def test_batches_are_lambda_sqs_events_of_sns_wrapped_records(bench: ModuleType) -> None:
    batches: list[dict[str, Any]] = bench.build_batches(3)
    assert [len(b["Records"]) for b in batches] == [10, 10, 10]
    ids = [r["messageId"] for b in batches for r in b["Records"]]
    assert len(set(ids)) == 30
    for record in batches[0]["Records"]:
        assert record["eventSource"] == "aws:sqs"
        envelope = json.loads(record["body"])
        assert envelope["Type"] == "Notification"
        ses = json.loads(envelope["Message"])
        assert "mail" in ses
        assert ("eventType" in ses) != ("notificationType" in ses)


def test_the_timed_parts_run(bench: ModuleType) -> None:
    batch = bench.build_batches(1)[0]
    for part in bench.parts():
        assert part.make(None)(batch) == {"batchItemFailures": []}


def test_every_implementation_agrees(bench: ModuleType) -> None:
    batches = bench.build_batches(2)  # 20 messages: every record of tests/data at least once
    impls = bench.implementations()
    assert {i.name for i in impls} >= {"sesflow", "hand-written, json.loads"}
    calls = bench.check(batches, impls)
    assert calls == 20 + 9  # and the nine good messages of the bad batch


def test_check_catches_an_implementation_that_dispatches_differently(bench: ModuleType) -> None:
    def skips_the_first_of_each_batch(seen: list[tuple[str, str]] | None) -> Any:
        calls: list[tuple[str, str]] = []
        right = bench.implementations()[0].make(calls)

        def handler(event: dict[str, Any]) -> Any:
            response = right(event)
            if seen is not None:
                seen.extend(calls[1:])
            calls.clear()
            return response

        return handler

    impls = [*bench.implementations(), bench.Impl("wrong", skips_the_first_of_each_batch)]
    with pytest.raises(AssertionError, match="wrong called other handlers"):
        bench.check(bench.build_batches(1), impls)


def test_report_and_docs_section(bench: ModuleType) -> None:
    impls = bench.implementations()
    # Made-up timings: the report is tested, not the speed.
    per_event = {
        "sesflow": 2.0e-5,
        "sesflow, stdlib json": 3.0e-5,
        "hand-written, json.loads": 1.6e-5,
        "hand-written, orjson.loads": 0.5e-5,
    }
    per_event |= {bench.PARSE_ONLY: 1.0e-5, bench.SOURCES_ONLY: 1.5e-5}
    timings = [bench.Timing(impl, [per_event[impl.name], 1.0]) for impl in [*impls, *bench.parts()]]
    assert bench.overhead(timings) == pytest.approx(1.25)
    assert bench.breakdown(timings) == [
        "decoding the SNS envelope and parsing the record (`parse_event`): 50%",
        "the rest of source unwrapping (envelope checks, `SourceItem`s): 25%",
        "routing, handler calls, results and the partial batch response: 25%",
    ]
    text = bench.render_text(timings, 30, 9)
    assert "sesflow / hand-written, json.loads: 1.25x the time per event (target <= 1.50x): met" in text

    noisy = [bench.Timing(t.impl, [3e-5 if t.impl.name == bench.SOURCES_ONLY else t.best]) for t in timings]
    assert bench.breakdown(noisy)[0].startswith("not measurable in this run")

    section = bench.render_markdown(timings, 30, 9)
    assert section.startswith("## Dispatch\n")
    assert "| **sesflow** | 50,000 | 1.25 |" in section
    assert "part:" not in section.split("Target")[0]  # the parts are not rows of the table
    assert "- routing, handler calls, results and the partial batch response: 25%" in section
    assert "python bench/dispatch.py --write" in section

    parsing = "## Parsing\n\nparse numbers\n"
    page = "# Benchmarks\n\nintro\n\n" + parsing
    once = bench.replace_section(page, section)
    assert once.index("## Parsing") < once.index("## Dispatch")
    assert "parse numbers" in once
    slower = [bench.Timing(t.impl, [t.best * (2 if t.impl.name == "sesflow" else 1)]) for t in timings]
    twice = bench.replace_section(once, bench.render_markdown(slower, 30, 9))
    assert twice.count("## Dispatch") == 1
    assert "target <= 1.50x): NOT met" in twice
    assert "parse numbers" in twice
    # another script rewriting its own section before ours leaves ours alone
    again = bench.replace_section(twice, "## Parsing\n\nnew parse numbers\n", "## Parsing")
    assert "new parse numbers" in again
    assert "NOT met" in again
