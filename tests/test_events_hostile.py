"""Hostile input for parsed events and their idempotency keys (issue 13, points 6 and 8).

The contract (DESIGN.md, "Second wave"): ``parse_event``, ``to_dict``, ``==`` and ``idempotency_key`` raise
nothing but ``ParseError``; ``repr`` and ``hash`` of a parsed event never raise. And the same input has the
same outcome with orjson (the ``fast`` extra) or the standard library's decoder: every payload test here runs
under both, switched with ``sesflow.events.parse._use_decoder``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sesflow import ParseError, parse_event, to_dict
from sesflow.consumers import idempotency_key
from sesflow.events import (
    DeliveryEvent,
    ReceivedMail,
    SendEvent,
    UnknownEvent,
    load_json,
)
from sesflow.events import _json as json_rules
from sesflow.events import parse as parse_module

from ._hypothesis import PROFILE
from .conftest import load

DECODERS = [name for name in ("orjson", "json") if name in json_rules.DECODERS]


@pytest.fixture(params=DECODERS)
def decoder(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test under each installed JSON decoder, then restore the one in use."""
    previous = parse_module._use_decoder(request.param)
    yield request.param
    parse_module._use_decoder(previous)


def under_each_decoder(run: Callable[[], Any]) -> dict[str, Any]:
    """``run()``'s result (or the ParseError it raised) under each installed decoder."""
    results: dict[str, Any] = {}
    for name in DECODERS:
        previous = parse_module._use_decoder(name)
        try:
            results[name] = run()
        except ParseError as exc:
            results[name] = exc
        finally:
            parse_module._use_decoder(previous)
    return results


def send_record(**mail: Any) -> dict[str, Any]:
    record = load("event_04_Send.json")
    record["mail"].update(mail)
    return record


def unknown_record(**fields: Any) -> dict[str, Any]:
    record = load("event_04_Send.json")
    del record["send"]
    record["eventType"] = "Teleport"
    record.update(fields)
    return record


def nested_text(depth: int, kind: str) -> str:
    """``depth`` levels of arrays, objects, or both alternating, as JSON text."""
    opens = "".join("[" if kind == "array" or (kind == "mixed" and n % 2) else '{"k":' for n in range(depth))
    closes = "".join(
        "]" if kind == "array" or (kind == "mixed" and n % 2) else "}" for n in reversed(range(depth))
    )
    return opens + ("" if kind == "array" else "0") + closes


def depth_of(value: Any) -> int:
    """How many levels of arrays and objects ``value`` has (without recursion)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            todo.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def nested_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


# --- point 8: one outcome with either decoder ---------------------------------------------------------------


def with_unknown_field(text: str) -> bytes:
    """A valid record with ``text`` (JSON) as the value of a field sesflow does not model."""
    record = json.dumps(send_record())
    return (record[:-1] + ', "x-extra": ' + text + "}").encode()


ACCEPTED = [
    # (payload, what the decoded value of x-extra must be)
    pytest.param(with_unknown_field('"\\ud800"'), "\ud800", id="lone-high-surrogate-escape"),
    pytest.param(with_unknown_field('"a\\udfffb"'), "a\udfffb", id="lone-low-surrogate-escape"),
    pytest.param(with_unknown_field('"\\udc00\\ud800"'), "\udc00\ud800", id="surrogates-in-wrong-order"),
    pytest.param(with_unknown_field('"\\ud83d\\ude00"'), "\U0001f600", id="a-valid-pair"),
    pytest.param(with_unknown_field("18446744073709551615"), 2**64 - 1, id="u64-max-is-an-int"),
    pytest.param(with_unknown_field("-9223372036854775808"), -(2**63), id="i64-min-is-an-int"),
    pytest.param(with_unknown_field("18446744073709551616"), float(2**64), id="beyond-u64-is-a-float"),
    pytest.param(with_unknown_field("-9223372036854775809"), -float(2**63), id="beyond-i64-is-a-float"),
    pytest.param(with_unknown_field("1" + "0" * 30), 1e30, id="1e30-integer-is-a-float"),
    pytest.param(with_unknown_field("1e308"), 1e308, id="largest-floats"),
    # The record itself is the first level: 1,023 more inside it make the 1,024 levels allowed.
    pytest.param(with_unknown_field(nested_text(1023, "array")), 1023, id="1024-levels-of-arrays"),
    pytest.param(with_unknown_field(nested_text(1023, "object")), 1023, id="1024-levels-of-objects"),
    pytest.param(with_unknown_field(nested_text(1023, "mixed")), 1023, id="1024-levels-mixed"),
    pytest.param(with_unknown_field(nested_text(995, "array")), 995, id="996-levels"),
]


def as_bytes_and_text(params: list[Any]) -> list[Any]:
    """Each payload as bytes, and as text too when it is UTF-8."""
    out = []
    for param in params:
        payload, *rest = param.values
        out.append(pytest.param(payload, *rest, id=f"{param.id}-bytes"))
        with contextlib.suppress(UnicodeDecodeError):
            out.append(pytest.param(payload.decode(), *rest, id=f"{param.id}-str"))
    return out


@pytest.mark.parametrize(("data", "expected"), as_bytes_and_text(ACCEPTED))
def test_payloads_both_decoders_accept(data: bytes | str, expected: Any) -> None:
    results = under_each_decoder(lambda: parse_event(data))
    for name, event in results.items():
        assert isinstance(event, SendEvent), f"{name}: {event!r}"
        value = event.raw["x-extra"]
        if isinstance(expected, int) and not isinstance(expected, bool) and isinstance(value, list | dict):
            assert depth_of(value) == expected, name
        else:
            assert value == expected, name
            assert type(value) is type(expected), name


def test_a_raw_lone_surrogate_in_text_is_kept_by_both() -> None:
    # Not an escape: the character itself, in a str (json.dumps(..., ensure_ascii=False) writes such text).
    text = json.dumps(send_record(messageId="id-\ud800"), ensure_ascii=False)
    results = under_each_decoder(lambda: parse_event(text))
    assert {name: event.message_id for name, event in results.items()} == {
        name: "id-\ud800" for name in DECODERS
    }


def test_subclasses_of_bytes_and_str_are_decoded_as_their_values() -> None:
    class Text(str):
        pass

    class Data(bytes):
        pass

    text = json.dumps(send_record())
    for payload in (Text(text), Data(text.encode()), bytearray(text.encode()), memoryview(text.encode())):
        results = under_each_decoder(lambda payload=payload: parse_event(payload))
        assert all(isinstance(event, SendEvent) for event in results.values()), results


def test_a_lone_surrogate_in_a_subject_reaches_the_handler() -> None:
    # An emoji cut in half by a truncated subject: the event (a bounce) must not be lost over its subject.
    record = load("event_01_Bounce.json")
    record["mail"]["commonHeaders"]["subject"] = "Your order \ud83d"
    body = json.dumps(record).encode()  # escaped as \ud83d, as a JSON writer working in UTF-16 produces it
    results = under_each_decoder(lambda: parse_event(body))
    for event in results.values():
        assert event.mail.common_headers.subject == "Your order \ud83d"
        assert event.should_suppress  # what the handler is there for still works
        assert idempotency_key(event).startswith("ses2:")
    assert len({idempotency_key(event) for event in results.values()}) == 1


BOM = "Unexpected UTF-8 BOM"
REFUSED = [
    # (payload, the error's path, what its reason says)
    pytest.param(with_unknown_field("NaN"), (), "NaN is not JSON", id="NaN"),
    pytest.param(with_unknown_field("-Infinity"), (), "-Infinity is not JSON", id="-Infinity"),
    pytest.param(with_unknown_field("1e400"), (), "number out of range", id="float-beyond-double"),
    pytest.param(with_unknown_field("1" + "0" * 400), (), "number out of range", id="integer-beyond-double"),
    pytest.param(with_unknown_field("1" * 5000), (), "number out of range", id="integer-of-5000-digits"),
    pytest.param(
        with_unknown_field(nested_text(1024, "array")), (), "nested too deeply", id="1025-levels-of-arrays"
    ),
    pytest.param(
        with_unknown_field(nested_text(1024, "object")), (), "nested too deeply", id="1025-levels-of-objects"
    ),
    pytest.param(
        with_unknown_field(nested_text(1024, "mixed")), (), "nested too deeply", id="1025-levels-mixed"
    ),
    pytest.param(nested_text(1025, "object").encode(), (), "nested too deeply", id="1025-levels-alone"),
    pytest.param(nested_text(5000, "array").encode(), (), "nested too deeply", id="5000-levels-alone"),
    pytest.param(b"\xef\xbb\xbf" + json.dumps(send_record()).encode(), (), BOM, id="utf-8-byte-order-mark"),
    pytest.param(json.dumps(send_record()).encode("utf-16"), (), "codec can't decode", id="utf-16"),
    pytest.param(
        json.dumps(send_record()).encode()[:-2] + b'\xff"}', (), "codec can't decode", id="invalid-utf-8"
    ),
    pytest.param(
        json.dumps(send_record(messageId="\ud800"), ensure_ascii=False).encode("utf-8", "surrogatepass"),
        (),
        "codec can't decode",
        id="surrogate-encoded-as-utf-8-bytes",
    ),
    pytest.param(
        json.dumps(load("event_03_Delivery.json"))
        .replace('"processingTimeMillis": 11893', '"processingTimeMillis": 1' + "0" * 30)
        .encode(),
        ("delivery", "processingTimeMillis"),
        "expected an integer, got float",
        id="processingTimeMillis-10**30",
    ),
    pytest.param(
        json.dumps(send_record(timestamp="2016-01-28.23")).encode(),
        ("mail", "timestamp"),
        "not an ISO 8601 timestamp",
        id="timestamp-any-separator",
    ),
]


@pytest.mark.parametrize(("data", "path", "reason"), as_bytes_and_text(REFUSED))
def test_payloads_both_decoders_refuse(data: bytes | str, path: tuple[str, ...], reason: str) -> None:
    results = under_each_decoder(lambda: parse_event(data))
    for name, error in results.items():
        assert isinstance(error, ParseError), f"{name} accepted it"
        assert error.path == path, name
        assert reason in error.reason, name
        assert error.raw is data
    assert len({str(error) for error in results.values()}) == 1  # the same message, too


def test_load_json_has_the_same_outcome_with_either_decoder() -> None:
    for param in ACCEPTED:
        payload = param.values[0]
        values = under_each_decoder(lambda payload=payload: load_json(payload))
        first = values[DECODERS[0]]
        assert all(depth_of(v) == depth_of(first) for v in values.values())
        if depth_of(first) < 50:
            assert all(json.dumps(v) == json.dumps(first) for v in values.values())
    for param in REFUSED:
        payload = param.values[0]
        if param.values[1]:  # decodes fine; the record is what is wrong
            continue
        for name in DECODERS:
            previous = parse_module._use_decoder(name)
            try:
                with pytest.raises(ValueError, match=re.escape(param.values[2])):
                    load_json(payload)
            finally:
                parse_module._use_decoder(previous)


def call_from_depth(frames: int, run: Callable[[], Any]) -> Any:
    """``run()`` called ``frames`` Python frames deep, as from inside a deep framework stack."""
    if frames <= 0:
        return run()
    return call_from_depth(frames - 1, run)


@pytest.mark.parametrize("frames", [0, 600, sys.getrecursionlimit() - 150])
def test_the_outcome_does_not_depend_on_the_callers_stack(decoder: str, frames: int) -> None:
    # The standard library's decoder recurses; near the recursion limit it fails on shallow input, and the
    # iterative decoder takes over. Both limits of MAX_DEPTH hold from anywhere.
    accepted = with_unknown_field(nested_text(json_rules.MAX_DEPTH - 1, "mixed"))  # the record is a level
    refused = with_unknown_field(nested_text(json_rules.MAX_DEPTH, "mixed"))
    event = call_from_depth(frames, lambda: parse_event(accepted))
    assert depth_of(event.raw) == json_rules.MAX_DEPTH
    with pytest.raises(ParseError) as caught:
        call_from_depth(frames, lambda: parse_event(refused))
    assert caught.value.path == ()


# The rules of sesflow.events._json, checked against independent oracles: orjson (whose behaviour is the
# reference for numbers and depth) and the standard library's json (for everything it decodes the same way).

json_documents = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(
        alphabet=st.characters() | st.sampled_from(["\ud800", "\udc00", "\ud83d", "\ude00", '"', "\\"]),
        max_size=8,
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


def _has_lone_surrogate(value: Any) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in json.dumps(value, ensure_ascii=False))


@PROFILE
@given(value=json_documents, ascii_only=st.booleans(), cut=st.integers(0, 30))
def test_the_reference_decoder_agrees_with_orjson_and_json(value: Any, ascii_only: bool, cut: int) -> None:
    orjson = pytest.importorskip("orjson")
    text = json.dumps(value, ensure_ascii=ascii_only)
    for candidate in (text, text[: max(0, len(text) - cut)]):  # and a truncated, often invalid, copy
        ours = decoded(json_rules.loads, candidate)
        theirs = decoded(orjson.loads, candidate, (ValueError, TypeError))
        if theirs is ValueError and ours is not ValueError:
            assert _has_lone_surrogate(ours)  # the one thing orjson refuses that is JSON
        elif theirs is not ValueError:
            assert ours == theirs
            assert json.dumps(ours) == json.dumps(theirs)  # types too: 1 and 1.0 differ here
        if decoded(json.loads, candidate, (ValueError, RecursionError)) is ValueError:
            assert ours is ValueError  # what the standard library refuses, the rules refuse too


def decoded(
    decode: Callable[[str], Any], text: str, refusals: tuple[type[Exception], ...] = (ValueError,)
) -> Any:
    """``decode(text)``, or ``ValueError`` when it refuses the text."""
    try:
        return decode(text)
    except refusals:
        return ValueError


@PROFILE
@given(
    value=json_documents,
    noise=st.lists(st.tuples(st.integers(0, 200), st.sampled_from('[]{},:"\\ 0e-.nu')), max_size=3),
)
def test_the_iterative_decoder_is_the_recursive_one_without_recursion(
    value: Any, noise: list[tuple[int, str]]
) -> None:
    text = json.dumps(value)
    for position, char in noise:  # a few characters inserted: mostly invalid JSON, sometimes other JSON
        text = text[:position] + char + text[position:]
    expected = decoded(json_rules._decode_text, text)
    got = decoded(json_rules._decode_iteratively, text)
    assert (got is ValueError) == (expected is ValueError)
    if got is not ValueError:
        assert json.dumps(got) == json.dumps(expected)


def test_the_decoder_can_be_chosen_with_an_environment_variable() -> None:
    code = "import sesflow.events.parse as p; print(p._decoder_name)"
    for name in DECODERS:
        env = {**_env(), json_rules.ENV_VAR: name}
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() == name
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**_env(), json_rules.ENV_VAR: "simdjson"},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "SESFLOW_JSON_DECODER must be 'orjson' or 'json', got 'simdjson'" in result.stderr


def test_without_orjson_the_standard_library_decodes() -> None:
    # orjson made unimportable, as where the fast extra is not installed.
    code = (
        "import sys; sys.modules['orjson'] = None\n"
        "import sesflow.events.parse as p\n"
        'print(p._decoder_name, p.parse_event(b\'{"notificationType": "Received"}\').__class__.__name__)'
    )
    result = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["json", "ReceivedMail"]
    asked = {**_env(), json_rules.ENV_VAR: "orjson"}
    result = subprocess.run([sys.executable, "-c", code], env=asked, capture_output=True, text=True)
    assert result.returncode != 0
    assert "pip install 'sesflow[fast]'" in result.stderr


def _env() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if key != json_rules.ENV_VAR}


def test_the_switch_refuses_an_unknown_decoder() -> None:
    with pytest.raises(ValueError, match="unknown JSON decoder 'ujson'"):
        parse_module._use_decoder("ujson")


# --- timestamps: the shapes SES writes, strictly ------------------------------------------------------------

UTC_PLUS_2 = timezone(timedelta(hours=2))

GOOD_TIMESTAMPS = [
    ("2016-01-27T14:59:38.237Z", datetime(2016, 1, 27, 14, 59, 38, 237000, tzinfo=UTC)),  # SES's own
    ("2016-01-27T14:59:38Z", datetime(2016, 1, 27, 14, 59, 38, tzinfo=UTC)),
    ("2016-01-27T14:59:38.5+02:00", datetime(2016, 1, 27, 14, 59, 38, 500000, tzinfo=UTC_PLUS_2)),
    ("2016-01-27T14:59:38.123456-00:00", datetime(2016, 1, 27, 14, 59, 38, 123456, tzinfo=UTC)),
    ("2016-01-27T14:59:38.123456", datetime(2016, 1, 27, 14, 59, 38, 123456, tzinfo=UTC)),  # no offset: UTC
    ("2016-01-27T14:59:38.1234567891Z", datetime(2016, 1, 27, 14, 59, 38, 123456, tzinfo=UTC)),
    ("0001-01-01T00:30:00.000+01:00", datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))),
]

BAD_TIMESTAMPS = [
    "2016-01-28.23",  # the case from the review: any separator
    "2016-01-28 23:00:00.000Z",
    "2016-01-28x23:00:00.000Z",
    "2016-01-28t23:00:00.000z",
    "2016-W04-4T23:00:00.000Z",  # a week date
    "2016-W04-4T23:00:00.00Z",  # ... of SES's length
    "20160128T230000Z",  # basic format
    "2016-01-28",
    "2016-01-28T23",
    "2016-01-28T23:00",
    "2016-01-28T23:00Z",
    "2016-01-28T23:00:00,123Z",  # a decimal comma
    "2016-01-28T23:00:00.Z",
    "2016-01-28T23:00:00+0100",
    "2016-01-28T23:00:00+01",
    "2016-01-28T23:00:00+01:00:30",
    "2016-01-28T23:00:00.000+01:00:30.5",
    "2016-01-28T24:00:00.000Z",
    "2016-02-30T00:00:00.000Z",
    "2016-01-28T23:00:00.0\u00b9\u00b2Z",  # superscript digits
    "\uff12016-01-28T23:00:00.000Z",  # a fullwidth digit
    "2016-01-28T23:00:00.000Z\ud800",
    "2016-01-28T23:00:00.000Z ",
    " 2016-01-28T23:00:00.000Z",
    "",
]


@pytest.mark.parametrize(("text", "expected"), GOOD_TIMESTAMPS)
@pytest.mark.parametrize("field", ["mail.timestamp", "delivery.timestamp"])
def test_timestamps_in_rfc_3339_shape_are_accepted(
    decoder: str, text: str, expected: datetime, field: str
) -> None:
    record = load("event_03_Delivery.json")
    part, key = field.split(".")
    record[part][key] = text
    event = parse_event(json.dumps(record).encode())
    assert isinstance(event, DeliveryEvent)
    value = event.mail.timestamp if part == "mail" else event.delivery.timestamp
    assert value == expected
    assert value.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("text", BAD_TIMESTAMPS)
@pytest.mark.parametrize("field", ["mail.timestamp", "delivery.timestamp", "complaint.arrivalDate"])
def test_timestamps_of_any_other_shape_raise_parse_error(decoder: str, text: str, field: str) -> None:
    record = load("event_02_Complaint.json" if field.startswith("complaint") else "event_03_Delivery.json")
    part, key = field.split(".")
    record[part][key] = text
    with pytest.raises(ParseError) as caught:
        parse_event(json.dumps(record))
    assert caught.value.path == (part, key)
    assert "not an ISO 8601 timestamp" in caught.value.reason


# RFC 3339's date-time (section 5.6), with 'T' and 'Z' upper case, and the offset optional: written here
# independently of the parser's own pattern.
RFC_3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?", re.ASCII)


def _oracle(text: str) -> datetime | None:
    if RFC_3339.fullmatch(text) is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@PROFILE
@given(
    base=st.sampled_from([text for text, _ in GOOD_TIMESTAMPS] + BAD_TIMESTAMPS),
    edits=st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from("0123456789-:.TZ+ ,Wtz\u0663\uff10"), st.booleans()),
        max_size=3,
    ),
)
def test_timestamp_parsing_is_exactly_rfc_3339(base: str, edits: list[tuple[int, str, bool]]) -> None:
    text = base
    for position, char, replace in edits:
        text = text[:position] + char + text[position + (1 if replace else 0) :]
    record = send_record(timestamp=text)
    expected = _oracle(text)
    try:
        got = parse_event(record).mail.timestamp
    except ParseError:
        got = None
    assert got == expected
    if got is not None:
        assert got.utcoffset() == expected.utcoffset()  # type: ignore[union-attr]


# --- point 6: after parse_event succeeds, nothing but ParseError ------------------------------------------


def test_hash_of_inbound_mail_does_not_raise() -> None:
    first = parse_event('{"notificationType":"Received","mail":{}}')
    assert isinstance(first, ReceivedMail)
    assert hash(first) == hash(parse_event(b'{"notificationType": "Received", "mail": {}}'))
    one = parse_event({"notificationType": "Received", "mail": {"messageId": "m-1"}, "receipt": {"a": [1]}})
    same = parse_event({"notificationType": "Received", "mail": {"messageId": "m-1"}, "receipt": {"a": [1]}})
    other = parse_event({"notificationType": "Received", "mail": {"messageId": "m-1"}, "receipt": {"a": [2]}})
    assert one == same
    assert hash(one) == hash(same)
    assert one != other
    assert {one, same, other} == {one, other}


def test_inbound_mail_too_deep_to_compare_raises_parse_error(decoder: str) -> None:
    text = '{"notificationType":"Received","mail":{"x":' + nested_text(1022, "array") + "}}"  # 1,024 levels
    one, two = parse_event(text), parse_event(text.encode())
    hash(one)
    assert "[[[[" in repr(one)
    assert len(repr(one)) < 1000
    assert one == one  # the same object: nothing inside is compared
    with pytest.raises(ParseError, match="cannot be compared"):
        call_from_depth(sys.getrecursionlimit() // 2, lambda: one == two)


def test_repr_survives_deeply_nested_tags() -> None:
    record = send_record(tags={"deep": nested_list(20_000), "big": [10**5000], "odd": [object()]})
    event = parse_event(record)
    text = repr(event)
    assert "tags=<invalid: {" in text
    assert "'deep': [[[[...]]]]" in text
    assert "'big': [<int of 16610 bits>]" in text
    assert "'odd': [<object object at" in text
    hash(event)
    with pytest.raises(ParseError) as caught:
        _ = event.mail.tags
    assert caught.value.path == ("mail", "tags", "deep", 0)


def test_repr_survives_tags_nested_as_deep_as_json_allows(decoder: str) -> None:
    deepest = nested_text(1021, "array")  # and the record, mail and tags: 1,024 levels
    text = json.dumps(send_record()).replace('"tags": {', '"tags": {"deep": ' + deepest + ", ", 1)
    event = parse_event(text.encode())
    assert "tags=<invalid: {'deep': [[[[...]]]]" in call_from_depth(
        sys.getrecursionlimit() - 100, lambda: repr(event)
    )


def test_hash_of_an_event_with_malformed_lazy_fields_does_not_raise_and_eq_raises_parse_error() -> None:
    record = send_record(headers=[{"name": 1}], commonHeaders={"to": "not a list"}, tags={"a": "b"})
    event, again = parse_event(record), parse_event(json.dumps(record))
    assert hash(event) == hash(again)  # equal eager fields, equal hashes
    with pytest.raises(ParseError):
        _ = event == again
    valid = parse_event(send_record())
    assert hash(valid) == hash(parse_event(json.dumps(send_record())))
    assert valid == parse_event(json.dumps(send_record()))


def test_tags_with_a_key_that_is_not_a_string_raise_parse_error_on_read() -> None:
    event = parse_event(send_record(tags={1: ["a"]}))
    with pytest.raises(ParseError, match="expected a string key, got int") as caught:
        _ = event.mail.tags
    assert caught.value.path == ("mail", "tags")
    with pytest.raises(ParseError):
        to_dict(event)


def test_an_integer_beyond_64_bits_in_a_mapping_raises_parse_error() -> None:
    record = load("event_03_Delivery.json")
    for value, ok in [
        (2**64 - 1, True),
        (-(2**63), True),
        (2**64, False),
        (-(2**63) - 1, False),
        (10**30, False),
    ]:
        record["delivery"]["processingTimeMillis"] = value
        if ok:
            assert parse_event(record).delivery.processing_time_millis == value
        else:
            with pytest.raises(ParseError, match="out of range") as caught:
                parse_event(record)
            assert caught.value.path == ("delivery", "processingTimeMillis")


def test_a_mapping_that_cannot_be_read_raises_parse_error() -> None:
    class Broken(Mapping[str, Any]):
        def __getitem__(self, key: str) -> Any:
            raise KeyError(key)

        def __iter__(self) -> Iterator[str]:
            raise RuntimeError("cannot iterate")

        def __len__(self) -> int:
            return 1

    broken = Broken()
    with pytest.raises(ParseError, match="could not read the mapping") as caught:
        parse_event(broken)
    assert caught.value.raw is broken


# --- idempotency keys --------------------------------------------------------------------------------------


def expected_unknown_key(record: dict[str, Any]) -> str:
    """The key of an unknown event as version ses2 defines it: json.dumps of the raw record, after the type
    and the message id, each part preceded by its length."""
    raw = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    parts = ["eventType", record["eventType"], record["mail"]["messageId"], raw]
    text = "".join(f"{len(part)}:{part}" for part in parts)
    return "ses2:" + hashlib.sha256(text.encode()).hexdigest()


def test_the_key_of_an_unknown_event_is_unchanged_for_ordinary_records(decoder: str) -> None:
    record = unknown_record(teleport={"to": "mars", "n": [1, 2.5, None, True, "é\u2028"], "a": {}})
    assert idempotency_key(parse_event(json.dumps(record))) == expected_unknown_key(record)
    assert idempotency_key(parse_event(record)) == expected_unknown_key(record)


@pytest.mark.parametrize("depth", [900, 1000, 1023])  # and the record itself
def test_the_key_of_a_deeply_nested_unknown_event(decoder: str, depth: int) -> None:
    body = json.dumps(unknown_record(teleport="X")).replace('"X"', nested_text(depth, "array")).encode()
    event = parse_event(body)
    key = idempotency_key(event)
    assert key is not None
    # The same with the deepest list holding something: another record, another key.
    other = parse_event(body.replace(b"[]", b"[1]"))
    assert idempotency_key(other) not in (None, key)
    assert under_each_decoder(lambda: idempotency_key(parse_event(body))) == {name: key for name in DECODERS}


def test_the_key_of_an_unknown_event_from_a_mapping_of_any_depth() -> None:
    event = parse_event(unknown_record(teleport=nested_list(20_000)))
    deeper = parse_event(unknown_record(teleport=nested_list(20_001)))
    assert idempotency_key(event) not in (None, idempotency_key(deeper))
    assert idempotency_key(event) == idempotency_key(
        parse_event(unknown_record(teleport=nested_list(20_000)))
    )


def test_a_lone_surrogate_in_the_message_id_gives_a_key(decoder: str) -> None:
    keys = {idempotency_key(parse_event(send_record(messageId=text))) for text in ("\ud800", "\udfff", "x")}
    assert len(keys) == 3
    record = send_record(messageId="\ud800")
    assert idempotency_key(parse_event(json.dumps(record))) == idempotency_key(parse_event(record))
    assert idempotency_key(parse_event(json.dumps(record, ensure_ascii=False))) == idempotency_key(
        parse_event(record)
    )
    unknown = unknown_record(teleport="\udc00")
    unknown["mail"]["messageId"] = "\ud800"
    assert idempotency_key(parse_event(unknown)) == idempotency_key(parse_event(json.dumps(unknown)))


def test_keys_that_are_not_strings_in_a_mapping_give_a_key() -> None:
    mixed = unknown_record(teleport={1: "a", "b": 2, None: 3, 2.5: 4, False: 5})
    key = idempotency_key(parse_event(mixed))
    # The key is the one of the JSON json.dumps would write for those keys (written as strings).
    as_json = unknown_record(teleport={"1": "a", "b": 2, "null": 3, "2.5": 4, "false": 5})
    assert key == idempotency_key(parse_event(as_json)) == expected_unknown_key(as_json)


HOSTILE_MAPPINGS: list[Any] = [
    pytest.param({(1, 2): "a tuple key"}, "has a key of type tuple", id="tuple-key"),
    pytest.param({"n": 10**5000}, "integer too large", id="integer-of-5000-digits"),
    pytest.param({10**5000: "n"}, "integer key too large", id="integer-key-of-5000-digits"),
]


@pytest.mark.parametrize(("teleport", "reason"), HOSTILE_MAPPINGS)
def test_a_mapping_json_cannot_write_gives_parse_error_from_the_key(teleport: Any, reason: str) -> None:
    record = unknown_record(teleport=teleport)
    event = parse_event(record)
    assert isinstance(event, UnknownEvent)
    with pytest.raises(ParseError, match=reason) as caught:
        idempotency_key(event)
    assert caught.value.raw is record


def test_a_cycle_or_a_failing_object_gives_parse_error_from_the_key() -> None:
    record = unknown_record(teleport={})
    record["teleport"]["self"] = record["teleport"]

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no")

    for hostile, reason in [
        (record, "contains itself"),
        (unknown_record(teleport=[Unprintable()]), "cannot be written"),
    ]:
        event = parse_event(hostile)
        repr(event)
        hash(event)
        with pytest.raises(ParseError, match=reason):
            idempotency_key(event)
    # A value that is not JSON but can be written keeps the key it always had (its text).
    dated = unknown_record(teleport=[datetime(2020, 1, 2, tzinfo=UTC)])
    assert idempotency_key(parse_event(dated)) == expected_unknown_key(dated)


def test_nan_and_infinity_in_a_mapping_give_a_key() -> None:
    record = unknown_record(teleport=[math.nan, math.inf, -math.inf])
    assert idempotency_key(parse_event(record)) == expected_unknown_key(record)


@pytest.mark.parametrize(
    "payload",
    [
        '{"notificationType":"Received","mail":{}}',
        b"Successfully validated SNS topic for Amazon SES event publishing.",
        {"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "\ud800"},
    ],
)
def test_control_messages_have_no_key(payload: Any) -> None:
    assert idempotency_key(parse_event(payload)) is None
