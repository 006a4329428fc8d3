"""A short run of bench/fuzz.py on every test run (the full one, 100,000 inputs, is recorded in
docs/benchmarks.md): hostile records through parse_event and everything done with its result, under both JSON
decoders, with nothing but ParseError raised and the same outcome from either decoder."""

from __future__ import annotations

from types import ModuleType

import pytest

from sesflow.events import _json
from sesflow.events import parse as parse_module

from ._scripts import load_bench

INPUTS = 2_000


@pytest.fixture(scope="module")
def fuzz() -> ModuleType:
    return load_bench("fuzz")


def test_a_short_fuzz_run_finds_nothing(fuzz: ModuleType) -> None:
    decoders = [name for name in fuzz.DECODERS if name in _json.DECODERS]
    before = parse_module._decoder_name
    report = fuzz.run(INPUTS, seed=20261201, decoders=decoders)
    assert parse_module._decoder_name == before  # the run restores the decoder in use
    problems = "\n".join(fuzz.summary(report, 20261201, decoders))
    assert report.failures == 0, problems
    assert report.inputs == INPUTS
    assert report.parses == INPUTS * len(decoders)
    # The inputs reach every outcome, so that "nothing unexpected" means something.
    assert report.events > INPUTS // 4
    assert report.control_messages > INPUTS // 50
    assert report.parse_errors > INPUTS // 4


def test_the_inputs_cover_the_cases_of_the_issue(fuzz: ModuleType) -> None:
    # The generator itself: every kind of hostile input it is documented to make shows up in a short run.
    fuzzer = fuzz.Fuzzer(7, fuzz.seed_records())
    payloads = list(fuzzer.inputs(INPUTS))
    kinds = {type(p).__name__ for p in payloads}
    assert {"bytes", "str", "dict", "bytearray", "memoryview", "NoneType"} <= kinds
    texts = [
        p.decode("utf-8", "replace") if isinstance(p, bytes) else p
        for p in payloads
        if isinstance(p, bytes | str)
    ]
    assert any("\\ud8" in t or any(0xD800 <= ord(c) <= 0xDFFF for c in t) for t in texts)  # lone surrogates
    assert any("[" * 1000 in t or '{"k":' * 1000 in t for t in texts)  # nesting at orjson's limit and past it
    assert any("1000000000000000000000000000000" in t for t in texts)  # 10**30
    assert any("2016-01-28.23" in t for t in texts)  # a timestamp fromisoformat takes and SES never writes
    assert any(
        isinstance(container, dict) and type(key) is not str
        for p in payloads
        if isinstance(p, dict)
        for container, key in fuzzer.slots(p)
    )
