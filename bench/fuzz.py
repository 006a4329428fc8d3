"""Fuzzing the parser: hostile SES records through everything a consumer does with a parsed event.

Each input is made from a real record (the SES Developer Guide's examples in ``tests/data``, the
tenant-era records built after AWS's examples in ``tests/data/tenants``, the records inside the AWS-signed
SNS messages there, and ``--vectors`` folders): mutated field by field (dropped,
retyped, replaced by hostile values: lone surrogates, numbers beyond 64 bits, ``NaN``, timestamps in the wrong
shape, unknown type names), broken character by character after encoding, nested 1 to 5,000 levels deep, or
not a record at all. Each is given as bytes, text, a bytearray, a memoryview or a dict (with what only a dict
can hold: keys that are not strings, cycles, objects that are not JSON).

Every input goes through both JSON decoders (orjson and the standard library's, switched with sesflow's
internal ``_use_decoder``), and each time through: ``parse_event``; reading every attribute of the result,
lazy ones and every detail object included; ``repr``; ``hash``; ``==`` (with itself, a second parse, and the
previous result); ``to_dict``, then ``parse_event`` and ``to_dict`` of what it gave (the same again:
``to_dict`` normalises once); and ``idempotency_key`` (twice: it must not change). The contract (DESIGN.md,
"Second wave"): ``parse_event``, ``to_dict``, ``==`` and the key raise nothing but ``ParseError``, ``repr``
and ``hash`` nothing at all.

Counted and reported: unexpected exceptions (anything else, with a sample input), decoder disagreements (a
text or bytes input whose outcome differs between the decoders: accepted by one only, another error path
or message, another event, key or ``to_dict``), and round-trip failures. The run fails unless all three are 0.

Run ``python bench/fuzz.py`` (100,000 inputs; ``--inputs N``, ``--seed S``; ``--write`` records the result
in ``docs/benchmarks.md``). Needs the ``fast`` extra (orjson) for the comparison of decoders.
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import math
import random
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

import sesflow
from sesflow import ParseError, parse_event, to_dict
from sesflow.consumers import idempotency_key
from sesflow.events import ControlMessage, EventType, OpenEnum, SesEvent, Tags
from sesflow.events import parse as _parse

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from _docs_page import machine, replace_section, versions  # noqa: E402  (a sibling module of this script)

DOCS_PAGE = ROOT / "docs" / "benchmarks.md"
SECTION_TITLE = "## Fuzzing"
COMMAND = "python bench/fuzz.py --write"
DECODERS = ("orjson", "json")

# --- the seed records --------------------------------------------------------------------------------------

Record = dict[str, Any]


def seed_records(folders: Sequence[Path] = ()) -> list[Record]:
    """Real records: ``tests/data/*.json`` and ``tests/data/tenants/*.json``, the ``Message`` of the SNS
    messages in ``tests/data/sns``, and the ``*.json`` records of ``folders``; each record once."""
    found: dict[str, Record] = {}
    for folder in (ROOT / "tests" / "data", ROOT / "tests" / "data" / "tenants", *folders):
        for path in sorted(folder.glob("*.json")):
            found.setdefault(path.read_text(encoding="utf-8"), json.loads(path.read_text(encoding="utf-8")))
    for path in sorted((ROOT / "tests" / "data" / "sns").glob("*.json")):
        message = json.loads(path.read_text(encoding="utf-8"))["Message"]
        found.setdefault(message, json.loads(message))
    return [record for record in found.values() if isinstance(record, dict)]


# --- hostile values ----------------------------------------------------------------------------------------

TIMESTAMPS = [
    "2016-01-27T14:59:38.237Z",  # SES's own
    "2016-01-27T14:59:38Z",
    "2016-01-27T14:59:38.5+02:00",
    "2016-01-27T14:59:38.123456",
    "2016-01-27T14:59:38.1234567890123Z",
    "0001-01-01T00:30:00.000+01:00",
    "9999-12-31T23:59:59.999-01:00",
    "2016-01-28.23",  # accepted by fromisoformat (any separator)
    "2016-01-28 23:00:00.000Z",
    "2016-W04-4T23:00:00.000Z",
    "20160128T230000Z",
    "2016-01-28",
    "2016-01-28T23",
    "2016-01-28T23:00",
    "2016-01-28T23:00:00,123Z",
    "2016-01-28T23:00:00+0100",
    "2016-01-28T23:00:00+01",
    "2016-01-28T23:00:00+01:00:30",
    "2016-01-28T23:00:00.Z",
    "2016-01-28t23:00:00.000z",
    "2016-01-28T24:00:00.000Z",
    "2016-02-30T00:00:00.000Z",
    "\uff12016-01-28T23:00:00.000Z",
    "2016-01-28T23:00:00.000Z\ud800",
    "2016-01-28T23:00:00.0\u00b9\u00b2Z",
    "",
]
STRINGS = [
    "",
    "\ud800",
    "\udfff",
    "subject \ud83d",  # an emoji cut in half
    "\ud83d\ude00",
    "\x00",
    "\u2028\u0085\x0b",
    "é" * 50,
    "x" * 5000,
    '"\\',
    "Bounce",
    "Permanent",
    "ses:configuration-set",
    "ses:tenant-name",
    "Likely",
]
NUMBERS = [
    0,
    -1,
    2**63 - 1,
    2**63,
    2**64 - 1,
    2**64,
    -(2**63),
    -(2**63) - 1,
    10**30,
    -(10**30),
    10**300,
    1.5,
    -0.0,
    1e308,
    5e-324,
    math.nan,
    math.inf,
    -math.inf,
]
TYPE_NAMES = [
    *(t.value for t in EventType),
    "Received",
    "AmazonSnsSubscriptionSucceeded",
    "Teleport",
    "",
    "bounce",
    "Rendering Failure ",
]


class Opaque:
    """An object that is not JSON, whose methods all fail: only a dict passed in can hold one."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no ==")

    __hash__ = object.__hash__


def deep(depth: int, kind: str) -> Any:
    """Arrays, objects or both, nested ``depth`` levels (built without recursion)."""
    value: Any = "bottom" if kind != "array" else []
    for level in range(depth - (1 if kind == "array" else 0)):
        value = [value] if kind == "array" or (kind == "mixed" and level % 2) else {"k": value}
    return value


def deep_text(depth: int, kind: str) -> str:
    """The JSON text of ``deep(depth, kind)``, written without json.dumps (which recurses)."""
    opens, closes = [], []
    for level in range(depth):
        if kind == "array" or (kind == "mixed" and level % 2):
            opens.append("[")
            closes.append("]")
        else:
            opens.append('{"k":')
            closes.append("}")
    inner = "" if kind == "array" else '"bottom"'
    if kind == "array":
        return "".join(opens) + "".join(reversed(closes))
    return "".join(opens) + inner + "".join(reversed(closes))


_DEEP_MARK = "\x00sesflow-fuzz-deep\x00"


class Fuzzer:
    """Generates the inputs; everything is drawn from one seeded ``random.Random``."""

    def __init__(self, seed: int, records: Sequence[Record]) -> None:
        self.rng = random.Random(seed)
        self.records = records

    # Values

    def depth(self) -> int:
        rng = self.rng
        return rng.choice([rng.randint(1, 60), rng.randint(990, 1030), rng.randint(1020, 1030), 5000])

    def hostile(self, dict_only: bool) -> Any:
        rng = self.rng
        pick = rng.random()
        if pick < 0.2:
            return rng.choice(TIMESTAMPS)
        if pick < 0.4:
            return rng.choice(STRINGS)
        if pick < 0.55:
            return rng.choice(NUMBERS)
        if pick < 0.65:
            return rng.choice(TYPE_NAMES)
        if pick < 0.75:
            return rng.choice([None, True, False, [], {}, [None], {"": None}, ["a", 1], {"a": ["b"]}])
        if pick < 0.8:
            return deep(rng.randint(1, 40), rng.choice(["array", "object", "mixed"]))
        if pick < 0.85 and not dict_only:
            return _DEEP_MARK  # replaced by a deep structure once encoded
        if dict_only:
            return rng.choice([10**5000, Opaque(), (1, 2), b"bytes", {1, 2}, datetime(2020, 1, 1), {1: "x"}])
        return rng.choice(STRINGS)

    # Mutations of a decoded record

    def slots(self, value: Any) -> list[tuple[Any, Any]]:
        """Every (container, key) inside ``value``, without recursion (each container once: cycles)."""
        found: list[tuple[Any, Any]] = []
        todo = [value]
        seen: set[int] = set()
        while todo:
            item = todo.pop()
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, dict):
                for key, child in item.items():
                    found.append((item, key))
                    todo.append(child)
            elif isinstance(item, list):
                for index, child in enumerate(item):
                    found.append((item, index))
                    todo.append(child)
        return found

    def mutate(self, record: Record, dict_only: bool) -> None:
        rng = self.rng
        for _ in range(rng.choice([1, 1, 1, 2, 3, 4])):  # mostly one change: more of them parse
            slots = self.slots(record)
            if not slots:
                return
            container, key = rng.choice(slots)
            action = rng.random()
            if action < 0.15:
                del container[key]
            elif action < 0.55:
                container[key] = self.hostile(dict_only)
            elif action < 0.65:
                container[key] = None
            elif action < 0.72:
                container[key] = [container[key]] if rng.random() < 0.5 else {"value": container[key]}
            elif action < 0.8:
                value = container[key]
                container[key] = (
                    rng.choice(["1", "true", "[]", "x"])
                    if not isinstance(value, str)
                    else rng.choice([1, 1.5, True, [value], {}])
                )
            elif action < 0.88 and isinstance(container[key], dict):
                container[key][rng.choice(["timestamp", "messageId", "tags", "x", "", "\ud800"])] = (
                    self.hostile(dict_only)
                )
            elif action < 0.94 and isinstance(container[key], list):
                container[key].insert(rng.randint(0, len(container[key])), self.hostile(dict_only))
            elif dict_only and isinstance(container[key], dict):
                if rng.random() < 0.5:
                    container[key][rng.choice([1, None, 1.5, True, (1, 2)])] = "odd key"
                else:
                    container[key]["self"] = container[key]  # a cycle
            else:
                container[key] = self.hostile(dict_only)

    def retype(self, record: Record) -> None:
        """Another type name, so that the record reaches another parser (or none)."""
        rng = self.rng
        family = "eventType" if "eventType" in record else "notificationType"
        record.pop("eventType", None)
        record.pop("notificationType", None)
        record[rng.choice([family, "eventType", "notificationType"])] = rng.choice(TYPE_NAMES)

    # Encodings

    def to_text(self, record: Any) -> str:
        """``record`` as JSON (lone surrogates escaped or not), each deep mark replaced by deep nesting."""
        rng = self.rng
        text = json.dumps(record, ensure_ascii=rng.random() < 0.5)
        while _DEEP_MARK_JSON in text:
            nested = deep_text(self.depth(), rng.choice(["array", "object", "mixed"]))
            text = text.replace(_DEEP_MARK_JSON, nested, 1)
        return text

    def encode(self, record: Any, dict_only: bool) -> Any:
        rng = self.rng
        if dict_only or rng.random() < 0.3:
            return self.place_deep_value(record)
        text = self.to_text(record)
        form = rng.random()
        if form < 0.35:
            return text
        data = text.encode("utf-8", "surrogatepass")  # a raw surrogate is not UTF-8: refused
        if form < 0.85:
            return data
        if form < 0.9:
            return bytearray(data)
        if form < 0.95:
            return memoryview(data)
        return rng.choice([b"\xef\xbb\xbf" + data, text.encode("utf-16", "surrogatepass"), data[:-1]])

    def place_deep_value(self, record: Any) -> Any:
        """``record`` with each deep mark replaced by deep nesting."""
        if type(record) is str and record == _DEEP_MARK:
            return deep(self.depth(), self.rng.choice(["array", "object", "mixed"]))
        for container, key in self.slots(record):
            if type(container[key]) is str and container[key] == _DEEP_MARK:
                container[key] = deep(self.depth(), self.rng.choice(["array", "object", "mixed"]))
        return record

    def char_mutate(self, text: str) -> str:
        rng = self.rng
        chars = list(text)
        tokens = ["[", "]", "{", "}", ",", ":", '"', "\\", "\\u", "\\ud800", "NaN", "1e400", "1" * 30,
                  "-", " ", "\x00", "\ud800", "é", "null", "true", "\n"]  # fmt: skip
        for _ in range(rng.randint(1, 8)):
            pos = rng.randint(0, len(chars))
            action = rng.random()
            if action < 0.4:
                chars[pos:pos] = list(rng.choice(tokens))
            elif action < 0.7 and chars:
                del chars[min(pos, len(chars) - 1) : pos + rng.randint(1, 4)]
            elif action < 0.85 and chars:
                chars[min(pos, len(chars) - 1)] = rng.choice(tokens)
            elif chars:
                chars = chars[:pos] if rng.random() < 0.5 else chars + chars[pos:]
        return "".join(chars)

    # Inputs

    def inputs(self, count: int) -> Iterator[Any]:
        rng = self.rng
        for _ in range(count):
            pick = rng.random()
            record = copy.deepcopy(rng.choice(self.records))
            if pick < 0.5:  # a mutated record, in any form
                dict_only = rng.random() < 0.15
                if rng.random() < 0.2:
                    self.retype(record)
                self.mutate(record, dict_only)
                yield self.encode(record, dict_only)
            elif pick < 0.7:  # a record broken character by character
                if rng.random() < 0.5:
                    self.mutate(record, False)
                text = self.char_mutate(self.to_text(record))
                form = rng.random()
                yield text if form < 0.5 else text.encode("utf-8", "surrogatepass")
            elif pick < 0.8:  # one of the cases found by review, on a real record
                yield self.encode(self.known_case(record), rng.random() < 0.3)
            elif pick < 0.9:  # deep nesting where a record may hold it
                yield self.deep_case(record)
            elif pick < 0.95:  # control messages and what looks like them
                yield self.control_case()
            else:  # not a record at all
                yield rng.choice(
                    [None, 0, 1.5, True, [], ["a"], (), set(), object(), b"", "", b"null", "[]", "1", b"\xff",
                     "Successfully validated SNS topic for Amazon SES event publishing.\ud800", Opaque(),
                     bytearray(b"{}"), memoryview(b"[1]"), "x" * rng.randint(0, 100)]
                )  # fmt: skip

    def known_case(self, record: Record) -> Record:
        rng = self.rng
        mail = record.setdefault("mail", {})
        case = rng.randrange(7)
        if case == 0:
            mail["messageId"] = rng.choice(["\ud800", "a\udfffb", "\ud83d"])
        elif case == 1:
            mail["commonHeaders"] = {"subject": rng.choice(STRINGS), "from": [rng.choice(STRINGS)]}
        elif case == 2:
            for key in ("delivery", "bounce", "complaint", "open", "click", "deliveryDelay", "subscription"):
                if isinstance(record.get(key), dict):
                    record[key]["timestamp"] = rng.choice(TIMESTAMPS)
            mail["timestamp"] = rng.choice(TIMESTAMPS)
        elif case == 3:
            record["eventType"] = "Delivery"
            record.pop("notificationType", None)
            record["delivery"] = {
                "timestamp": "2016-01-27T14:59:38.237Z",
                "recipients": ["a@example.com"],
                "processingTimeMillis": rng.choice(NUMBERS),
            }
        elif case == 4:
            mail["tags"] = rng.choice(
                [
                    {"a": [_DEEP_MARK], "b": deep(rng.randint(1, 50), "array")},
                    {
                        "ses:tenant-name": rng.choice(
                            [[rng.choice(STRINGS)], [], rng.choice(STRINGS), [1], None]
                        )
                    },
                ]
            )
        elif case == 5:
            record.pop("eventType", None)
            record["notificationType"] = "Received"
            record["mail"] = rng.choice([{}, {"messageId": "m"}, {"x": _DEEP_MARK}, []])
        else:
            record.pop("notificationType", None)
            record["eventType"] = rng.choice(["Teleport", "Future Event"])
            record["teleport"] = rng.choice(
                [{"x": _DEEP_MARK}, {"n": rng.choice(NUMBERS)}, rng.choice(STRINGS)]
            )
        return record

    def deep_case(self, record: Record) -> Any:
        rng = self.rng
        kind = rng.choice(["array", "object", "mixed"])
        depth = self.depth()
        where = rng.randrange(4)
        if where == 0:  # the whole payload
            return deep_text(depth, kind) if rng.random() < 0.7 else deep(depth, kind)
        if where == 1:
            record["x-unknown"] = _DEEP_MARK
        elif where == 2:
            record.setdefault("mail", {})["tags"] = {"deep": _DEEP_MARK}
        else:
            record.setdefault("mail", {})["headers"] = [{"name": "X", "value": _DEEP_MARK}]
        if rng.random() < 0.5:
            record["eventType"] = "Teleport"
        return self.encode(record, rng.random() < 0.3)

    def control_case(self) -> Any:
        rng = self.rng
        record: Any = rng.choice(
            [
                {
                    "notificationType": "AmazonSnsSubscriptionSucceeded",
                    "message": rng.choice([*STRINGS, 1, None]),
                },
                {"notificationType": "Received", "mail": {"messageId": rng.choice(STRINGS)}, "receipt": {}},
                {"notificationType": "Received", "mail": {}},
            ]
        )
        if rng.random() < 0.3:
            return rng.choice(
                [
                    "Successfully validated SNS topic for Amazon SES event publishing.",
                    b"Successfully validated SNS topic \xff",
                    "Successfully validated SNS topic\ud800",
                ]
            )
        if rng.random() < 0.5:
            self.mutate(record, False)
        return self.encode(record, rng.random() < 0.3)


_DEEP_MARK_JSON = json.dumps(_DEEP_MARK)

# --- exercising one input ---------------------------------------------------------------------------------

_FAILED: Any = object()


@dataclass
class Report:
    inputs: int = 0
    parses: int = 0
    events: int = 0
    control_messages: int = 0
    parse_errors: int = 0
    unexpected: collections.Counter[str] = field(default_factory=collections.Counter)
    disagreements: collections.Counter[str] = field(default_factory=collections.Counter)
    round_trip_failures: collections.Counter[str] = field(default_factory=collections.Counter)
    samples: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def note(self, counter: collections.Counter[str], what: str, payload: Any) -> None:
        counter[what] += 1
        if what not in self.samples:
            try:
                self.samples[what] = repr(payload)[:300]
            except Exception:  # a payload the harness itself cannot print
                self.samples[what] = f"<{type(payload).__name__}>"

    @property
    def failures(self) -> int:
        return (
            sum(self.unexpected.values())
            + sum(self.disagreements.values())
            + sum(self.round_trip_failures.values())
        )


def _properties(cls: type) -> list[str]:
    found = _PROPERTIES.get(cls)
    if found is None:
        found = _PROPERTIES[cls] = sorted(
            name
            for name in dir(cls)
            if not name.startswith("_") and isinstance(getattr(cls, name, None), property)
        )
    return found


_PROPERTIES: dict[type, list[str]] = {}


class Exerciser:
    """Runs every operation on one payload's result under the current decoder; notes what went wrong."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.previous: Any = None

    def attempt(self, what: str, payload: Any, run: Callable[[], Any], allowed: tuple[type, ...]) -> Any:
        try:
            return run()
        except allowed:
            return _FAILED
        except Exception as exc:
            self.report.note(self.report.unexpected, f"{what}: {type(exc).__name__}", payload)
            return _FAILED

    def read(self, value: Any, payload: Any, what: str) -> None:
        """Read ``value`` and everything in it: fields, properties, items (models are shallow)."""
        todo = [(value, what)]
        while todo:
            item, where = todo.pop()
            cls = type(item)
            if attrs.has(cls):
                names = [str(f.alias) for f in attrs.fields(cls) if f.name != "raw"] + _properties(cls)
                for name in dict.fromkeys(names):
                    got = self.attempt(
                        f"{where}.{name}",
                        payload,
                        lambda item=item, name=name: getattr(item, name),
                        (ParseError,),
                    )
                    if got is not _FAILED:
                        todo.append((got, f"{cls.__name__}.{name}"))
                if hasattr(item, "header"):
                    self.attempt(
                        f"{where}.header()", payload, lambda item=item: item.header("From"), (ParseError,)
                    )
            elif isinstance(item, Tags):
                item.first("ses:configuration-set")
                item.first("ses:tenant-name")
                todo.extend((values, f"{where}[]") for values in item.values())
            elif isinstance(item, tuple):
                todo.extend((child, f"{where}[]") for child in item)
            elif isinstance(item, OpenEnum):
                _ = (item.value, item.is_known, str(item))
            elif isinstance(item, datetime):
                _ = (item.isoformat(), item.utcoffset())

    def exercise(self, payload: Any) -> tuple[Any, ...]:
        """Everything on ``payload``; returns its outcome, for comparing the decoders."""
        report = self.report
        report.parses += 1
        try:
            event = parse_event(payload)
        except ParseError as exc:
            report.parse_errors += 1
            return ("ParseError", exc.path, str(exc))
        except Exception as exc:
            report.note(report.unexpected, f"parse_event: {type(exc).__name__}", payload)
            return ("unexpected",)
        if isinstance(event, ControlMessage):
            report.control_messages += 1
        else:
            report.events += 1
        nothing: tuple[type, ...] = ()
        text = self.attempt("repr", payload, lambda: repr(event), nothing)
        self.attempt("hash", payload, lambda: hash(event), nothing)
        self.read(event, payload, type(event).__name__)
        self.attempt("== itself", payload, lambda: event == event, (ParseError,))
        self.attempt("== previous", payload, lambda: event == self.previous, (ParseError,))
        self.previous = event
        again = self.attempt("a second parse_event", payload, lambda: parse_event(payload), (ParseError,))
        if again is _FAILED:
            report.note(report.round_trip_failures, "a second parse_event of the same input failed", payload)
            return ("unexpected",)
        self.attempt("== a second parse", payload, lambda: event == again, (ParseError,))
        key = self.attempt("idempotency_key", payload, lambda: idempotency_key(event), (ParseError,))
        key_again = self.attempt("idempotency_key", payload, lambda: idempotency_key(again), (ParseError,))
        if key != key_again and not (key is _FAILED and key_again is _FAILED):
            report.note(report.round_trip_failures, "idempotency_key changed between two parses", payload)
        if isinstance(event, ControlMessage):
            return ("ok", type(event).__name__, text, key)
        out = self.attempt("to_dict", payload, lambda: to_dict(event), (ParseError,))
        if out is not _FAILED:
            self.round_trip(event, out, payload)
        return ("ok", type(event).__name__, text, key, _FAILED if out is _FAILED else _Json(out))

    def round_trip(self, event: SesEvent, out: dict[str, Any], payload: Any) -> None:
        report = self.report
        try:
            back = parse_event(out)
        except ParseError:
            report.note(report.round_trip_failures, "parse_event(to_dict(event)) raised ParseError", payload)
            return
        except Exception as exc:
            report.note(report.unexpected, f"parse_event(to_dict(event)): {type(exc).__name__}", payload)
            return
        # to_dict normalises (timestamps to milliseconds...): what it gives must then be stable.
        self.attempt("== after to_dict", payload, lambda: back == event, (ParseError,))
        out_again = self.attempt("to_dict", payload, lambda: to_dict(back), (ParseError,))
        if out_again is _FAILED or not same_json(out, out_again):
            report.note(
                report.round_trip_failures, "to_dict(parse_event(to_dict(event))) != to_dict(event)", payload
            )


class _Json:
    """A ``to_dict`` result, compared as JSON (iteratively: it may be 1,024 levels deep)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Json) and same_json(self.value, other.value)

    __hash__ = None  # type: ignore[assignment]


def same_json(a: Any, b: Any) -> bool:
    """Deep equality of two JSON-like values, without recursion (NaN equals NaN, 1 differs from 1.0; a pair of
    containers met again, through a cycle of a dict input, is taken as equal)."""
    todo = [(a, b)]
    seen: set[tuple[int, int]] = set()
    while todo:
        x, y = todo.pop()
        if x is y:
            continue
        if isinstance(x, (dict, list)):
            if (id(x), id(y)) in seen:
                continue
            seen.add((id(x), id(y)))
        if type(x) is not type(y):
            return False
        if isinstance(x, dict):
            if list(x) != list(y):
                return False
            todo.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            todo.extend(zip(x, y, strict=True))
        elif x != y and not (isinstance(x, float) and math.isnan(x) and math.isnan(y)):
            return False
    return True


def run(
    count: int, seed: int = 0, folders: Sequence[Path] = (), decoders: Sequence[str] = DECODERS
) -> Report:
    """Fuzz ``count`` inputs through each of ``decoders``; the decoder in use is restored afterwards."""
    report = Report()
    fuzzer = Fuzzer(seed, seed_records(folders))
    exercisers = {name: Exerciser(report) for name in decoders}
    previous = _parse._decoder_name
    start = time.perf_counter()
    try:
        for payload in fuzzer.inputs(count):
            report.inputs += 1
            outcomes = {}
            for name in decoders:
                _parse._use_decoder(name)
                outcomes[name] = exercisers[name].exercise(payload)
            if (
                isinstance(payload, (bytes, bytearray, memoryview, str))
                and len(set(map(_frozen, outcomes.values()))) > 1
            ):
                report.note(report.disagreements, _describe(outcomes), payload)
    finally:
        _parse._use_decoder(previous)
    report.seconds = time.perf_counter() - start
    return report


def _frozen(outcome: tuple[Any, ...]) -> Any:
    """An outcome in a form that compares by value (the ``to_dict`` part by JSON equality)."""
    return tuple(_Frozen(part) for part in outcome)


class _Frozen:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Frozen) and (self.value is other.value or bool(self.value == other.value))

    def __hash__(self) -> int:
        return 0


def _describe(outcomes: Mapping[str, tuple[Any, ...]]) -> str:
    return "decoders disagree: " + ", ".join(f"{name} -> {outcome[0]}" for name, outcome in outcomes.items())


# --- the report --------------------------------------------------------------------------------------------


def summary(report: Report, seed: int, decoders: Sequence[str]) -> list[str]:
    lines = [
        f"inputs: {report.inputs:,} (seed {seed}), through {len(decoders)} decoders ({', '.join(decoders)}): "
        f"{report.parses:,} parses in {report.seconds:,.0f} s",
        f"parsed: {report.events:,} events, {report.control_messages:,} control messages; "
        f"ParseError: {report.parse_errors:,}",
        f"unexpected exceptions: {sum(report.unexpected.values())}",
        f"decoder disagreements: {sum(report.disagreements.values())}",
        f"round-trip failures: {sum(report.round_trip_failures.values())}",
    ]
    for counter in (report.unexpected, report.disagreements, report.round_trip_failures):
        for what, n in counter.most_common():
            lines.append(f"  {n:>6}  {what}\n          e.g. {report.samples[what]}")
    return lines


def docs_section(report: Report, seed: int, decoders: Sequence[str]) -> str:
    return "\n".join(
        [
            SECTION_TITLE,
            "",
            "`bench/fuzz.py` is not a benchmark but a long test run, recorded here with the others: "
            "it makes hostile SES records from real ones (fields dropped, retyped or replaced by lone "
            "surrogates, numbers beyond 64 bits, `NaN`, timestamps in the wrong shape; text broken character "
            "by character; nesting up to 5,000 levels; what only a dict can hold: keys that are not strings, "
            "cycles, objects that are not JSON) and runs each through both JSON decoders: `parse_event`, "
            "every attribute of the result (the lazy ones and every detail object included), `repr`, `hash`, "
            "`==`, `to_dict` and back, and `idempotency_key`. Nothing may raise but `ParseError` (`repr` and "
            "`hash`: nothing at all), and a text or bytes input must have the same outcome with either "
            "decoder. See [Parsing and errors](parsing.md#hostile-input). The test suite runs 2,000 of these "
            "inputs on every run (`tests/test_events_fuzz.py`).",
            "",
            f"- Inputs: {report.inputs:,} (seed {seed}), each through {', '.join(decoders)}: "
            f"{report.parses:,} parses, {report.events:,} events and {report.control_messages:,} control "
            f"messages parsed, {report.parse_errors:,} `ParseError`.",
            f"- Unexpected exceptions: {sum(report.unexpected.values())}. Decoder disagreements: "
            f"{sum(report.disagreements.values())}. Round-trip failures: "
            f"{sum(report.round_trip_failures.values())}.",
            f"- Time: {report.seconds:,.0f} s.",
            f"- Machine: {machine()}.",
            f"- Versions: {versions('sesflow', 'orjson')}.",
            "",
            "Reproduce:",
            "",
            "```sh",
            'pip install -e ".[fast]"',
            COMMAND,
            "```",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="how many inputs (default 100,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vectors", type=Path, action="append", default=[], help="another folder of records")
    parser.add_argument("--write", action="store_true", help=f"record the result in {DOCS_PAGE.name}")
    args = parser.parse_args(argv)
    decoders = [name for name in DECODERS if name in sesflow.events._json.DECODERS]
    report = run(args.inputs, args.seed, args.vectors, decoders)
    print("\n".join(summary(report, args.seed, decoders)))
    if args.write:
        if report.failures or len(decoders) < 2:
            print("not written: the run did not pass with both decoders", file=sys.stderr)
            return 1
        DOCS_PAGE.write_text(
            replace_section(DOCS_PAGE.read_text(), docs_section(report, args.seed, decoders))
        )
        print(f"written to {DOCS_PAGE}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
