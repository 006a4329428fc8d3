"""Keep bench/parse.py working: its corpus, its correctness check and its report (never its timings)."""

from __future__ import annotations

import dataclasses
import json
from types import ModuleType

import pytest

pytest.importorskip("pydantic", reason="the bench extra is not installed")
pytest.importorskip("msgspec", reason="the bench extra is not installed")
pytest.importorskip("orjson", reason="the fast extra is not installed")

from sesflow import EventType

from ._scripts import load_bench


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("parse")


@pytest.fixture(scope="module")
def corpus(bench: ModuleType) -> object:
    return bench.build_corpus(variants_per_type=3)


def test_corpus_has_every_event_type_in_both_shapes(bench: ModuleType, corpus: object) -> None:
    records = corpus.records  # type: ignore[attr-defined]
    assert len(records) == 10 * 4  # the ten samples and three variations of each
    assert {r["eventType"] for r in records} == {t.value for t in EventType}
    assert len(corpus.raw) == len(corpus.sqs) == len(records)  # type: ignore[attr-defined]
    for record, raw, body in zip(records, corpus.raw, corpus.sqs, strict=True):  # type: ignore[attr-defined]
        assert json.loads(raw) == record
        envelope = json.loads(body)
        assert envelope["Type"] == "Notification"
        assert json.loads(envelope["Message"]) == record


def test_variations_are_realistic(corpus: object) -> None:
    variants = [r for r in corpus.records if r["mail"]["messageId"].startswith("0100019")]  # type: ignore[attr-defined]
    assert len(variants) == 30
    for record in variants:
        names = [h["name"] for h in record["mail"]["headers"]]
        assert 10 <= len(names) <= 20
        dkim = next(h["value"] for h in record["mail"]["headers"] if h["name"] == "DKIM-Signature")
        assert len(dkim) > 400
        custom = [name for name in record["mail"]["tags"] if not name.startswith("ses:")]
        assert 2 <= len(custom) <= 5
    assert max(len(r["mail"]["destination"]) for r in variants) > 1


def test_every_implementation_agrees_on_every_record(bench: ModuleType, corpus: object) -> None:
    impls = bench.implementations()
    names = [impl.name for impl in impls["raw"]]
    assert {"json.loads", "orjson.loads", "sesflow", "pydantic v2", "msgspec"} <= set(names)
    assert names == [impl.name for impl in impls["sqs"]]
    assert [impl.name for group in impls.values() for impl in group if impl.is_sesflow] == ["sesflow"] * 2
    checked = bench.check(corpus, impls)
    assert checked == len(names) * 2 * len(corpus.records)  # type: ignore[attr-defined]


def test_check_catches_a_misreading_implementation(bench: ModuleType, corpus: object) -> None:
    impls = bench.implementations()
    pydantic = next(impl for impl in impls["sqs"] if impl.name == "pydantic v2")

    def drop_recipients(event: object) -> object:
        kind, message_id, when, _recipients, headers = pydantic.summarize(event)
        return kind, message_id, when, (), headers

    impls["sqs"] = [dataclasses.replace(pydantic, summarize=drop_recipients)]
    with pytest.raises(bench.Disagreement, match=r"pydantic v2 \(sqs\) misread record 0"):
        bench.check(corpus, {"sqs": impls["sqs"]})


def test_check_catches_a_failing_implementation(bench: ModuleType, corpus: object) -> None:
    sesflow_impl = next(impl for impl in bench.implementations()["raw"] if impl.is_sesflow)
    broken = dataclasses.replace(sesflow_impl, parse=lambda payload: sesflow_impl.parse(payload[:-1]))
    with pytest.raises(bench.Disagreement, match=r"sesflow \(raw\) failed on record 0: ParseError"):
        bench.check(corpus, {"raw": [broken]})


def _fake_results(bench: ModuleType) -> dict[str, list[object]]:
    # Seconds per event chosen so the ratios are known: sesflow 10 us, pydantic 20 us, msgspec 40 us...
    per_event = {"sesflow": 10e-6, "pydantic v2": 20e-6, "msgspec": 2.5e-6}
    return {
        shape: [bench.Timing(impl, [per_event.get(impl.name, 5e-6), 1.0]) for impl in group]
        for shape, group in bench.implementations().items()
    }


def test_ratios_and_verdicts(bench: ModuleType) -> None:
    results = _fake_results(bench)
    ratios = bench.ratios(results)
    assert ratios["raw"]["pydantic v2"] == pytest.approx(2.0)
    assert ratios["sqs"]["msgspec"] == pytest.approx(0.25)
    assert ratios["raw"]["sesflow"] == pytest.approx(1.0)
    verdicts = bench.verdicts(results)
    assert "raw SES JSON: sesflow/pydantic v2 = 2.00 (target >= 1.00): met" in verdicts
    assert "SNS-in-SQS body: sesflow/msgspec = 0.25 (target >= 0.33): MISSED" in verdicts
    # Unlisted rows take 5 us per event, so sesflow + lazy fields runs at 4x the fake pydantic's rate.
    assert bench.lazy_costs(results)[0].startswith(
        "raw SES JSON: (sesflow + lazy fields)/pydantic v2 = 4.00 "
    )


def test_markdown_report_lists_every_implementation(bench: ModuleType, corpus: object) -> None:
    section = bench.render_markdown(corpus, _fake_results(bench), 9)
    assert section.startswith("## Parsing\n")
    assert "| **sesflow** | 100,000 | 1.00 | 100,000 | 1.00 |" in section
    assert "| pydantic v2 | 50,000 | 2.00 | 50,000 | 2.00 |" in section
    for impl in bench.implementations()["raw"]:
        assert f"| {impl.name} |" in section or f"| **{impl.name}** |" in section
    assert bench.COMMAND in section
    assert "CPUs" in section


def test_replace_section_keeps_the_rest_of_the_page(bench: ModuleType) -> None:
    page = "# Benchmarks\n\nIntro.\n\n## Parsing\n\nold numbers\n\n## Sending\n\nother numbers\n"
    new = bench.replace_section(page, "## Parsing\n\nnew numbers\n")
    assert new == "# Benchmarks\n\nIntro.\n\n## Parsing\n\nnew numbers\n\n## Sending\n\nother numbers\n"
    last = bench.replace_section("# B\n\n## Parsing\n\nold\n", "## Parsing\n\nnew\n")
    assert last == "# B\n\n## Parsing\n\nnew\n"
    appended = bench.replace_section("# B\n\nIntro.\n", "## Parsing\n\nnew\n")
    assert appended == "# B\n\nIntro.\n\n## Parsing\n\nnew\n"
