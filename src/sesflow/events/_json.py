"""JSON decoding with one outcome, whichever decoder is installed.

orjson (the ``fast`` extra) and the standard library's ``json`` disagree at the edges of the format. Left
alone, the same payload would parse with one and fail with the other. Here the rules are fixed once, and each
decoder is made to follow them:

* **Nesting**: at most ``MAX_DEPTH`` (1,024) levels of arrays and objects, orjson's own limit. The
  standard library's decoder recurses, so it can fail sooner (depending on the caller's stack); such a
  payload is decoded again by ``_decode_iteratively``, which does not recurse. Deeper payloads are refused
  by both.
* **Numbers**: an integer within 64 bits (``-2**63`` to ``2**64 - 1``) is an ``int``; a larger one becomes a
  ``float``, as orjson makes it. A number too large for a ``float``, and ``NaN``/``Infinity`` (not JSON), are
  refused.
* **Text**: bytes must be UTF-8 (no byte order mark, no UTF-16). A lone surrogate (half of a UTF-16 pair,
  ``"\\ud83d"``) is valid JSON and is kept as it is; orjson refuses it, so such a payload is decoded by the
  standard library instead.

``loads`` is the reference implementation of these rules (the standard library's decoder with hooks);
orjson is only an accelerator: where it decodes a payload, the value is the same, and where it refuses one,
``loads`` decides.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Callable
from json.decoder import scanstring  # type: ignore[attr-defined]  # (public, missing from typeshed)
from json.scanner import make_scanner
from typing import Any, Final

__all__ = ["DECODERS", "ENV_VAR", "MAX_DEPTH", "configured_decoder", "loads"]

MAX_DEPTH: Final = 1024
"""The deepest nesting of arrays and objects a payload may have (orjson's limit)."""

ENV_VAR: Final = "SESFLOW_JSON_DECODER"
"""``orjson`` or ``json``: which decoder sesflow uses; unset, orjson when it is installed."""

_I64_MIN: Final = -(2**63)
_U64_MAX: Final = 2**64 - 1


def _parse_int(text: str) -> int | float:
    if len(text) < 20:  # 19 characters, sign included, always fit in 64 bits
        return int(text)
    value = float(text)  # beyond 64 bits orjson gives a float: so do we
    if math.isinf(value):
        raise ValueError(f"number out of range: {text[:32]}...")
    if len(text) < 22:
        exact = int(text)
        if _I64_MIN <= exact <= _U64_MAX:
            return exact
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number out of range: {text[:32]}")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_decoder = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant)
_decode_text = _decoder.decode
_scan_once = make_scanner(_decoder)  # type: ignore[arg-type]  # (typeshed's stub takes itself as context)
_scan_string = scanstring
_space = re.compile(r"[ \t\n\r]*").match
_getrecursionlimit = sys.getrecursionlimit
# Before 3.12 the decoder's nesting is bounded by the recursion limit; from 3.12 by a separate C limit, which
# lets it go deeper than MAX_DEPTH. Where it can, a payload that might be too deep is decoded iteratively.
_C_RECURSION_UNBOUNDED = sys.version_info >= (3, 12)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Decode one JSON document by the rules of this module; raises ``ValueError`` on anything else."""
    if isinstance(data, str):
        text = data
    elif isinstance(data, (bytes, bytearray, memoryview)):
        text = bytes(data).decode("utf-8")  # UnicodeDecodeError is a ValueError
    else:
        raise TypeError(f"expected bytes or str, got {type(data).__name__}")
    if text.startswith("\ufeff"):  # (json.loads says so too; JSONDecoder.decode only fails on it)
        raise json.JSONDecodeError("Unexpected UTF-8 BOM", text, 0)
    if (
        len(text) > 2 * MAX_DEPTH  # a shorter text cannot nest deeper than the limit
        and (_C_RECURSION_UNBOUNDED or _getrecursionlimit() > MAX_DEPTH)
        and text.count("[") + text.count("{") > MAX_DEPTH
    ):
        return _decode_iteratively(text)
    try:
        return _decode_text(text)
    except RecursionError:
        return _decode_iteratively(text)


def _decode_iteratively(text: str) -> Any:
    """The same as ``_decoder.decode(text)``, without recursion, refusing more than ``MAX_DEPTH`` levels.

    Containers are kept on an explicit stack; scalars (strings, numbers, literals) go to the standard
    library's scanner, so they decode exactly as in ``loads``.
    """
    error = json.JSONDecodeError
    # Each frame: [container, key of the value being read (objects) or None (arrays)].
    stack: list[list[Any]] = []
    pos = _space(text, 0).end()  # type: ignore[union-attr]
    while True:
        # A value starts at pos.
        char = text[pos : pos + 1]
        if char == "{" or char == "[":
            if len(stack) >= MAX_DEPTH:
                raise error("nested too deeply", text, pos)
            pos = _space(text, pos + 1).end()  # type: ignore[union-attr]
            if char == "[":
                if text[pos : pos + 1] != "]":
                    stack.append([[], None])
                    continue
                value: Any = []
            else:
                if text[pos : pos + 1] != "}":
                    key, pos = _read_key(text, pos)
                    stack.append([{}, key])
                    continue
                value = {}
            pos += 1
        else:
            try:
                value, pos = _scan_once(text, pos)
            except StopIteration as stop:
                raise error("Expecting value", text, stop.value) from None
        # A value ended at pos: add it to its container, and close every container that ends here.
        while True:
            if not stack:
                pos = _space(text, pos).end()  # type: ignore[union-attr]
                if pos != len(text):
                    raise error("Extra data", text, pos)
                return value
            frame = stack[-1]
            container, key = frame
            if key is None:
                container.append(value)
            else:
                container[key] = value
            pos = _space(text, pos).end()  # type: ignore[union-attr]
            char = text[pos : pos + 1]
            if char == ",":
                pos = _space(text, pos + 1).end()  # type: ignore[union-attr]
                if key is not None:
                    frame[1], pos = _read_key(text, pos)
                break
            if char != ("]" if key is None else "}"):
                raise error("Expecting ',' delimiter", text, pos)
            stack.pop()
            value = container
            pos += 1


def _read_key(text: str, pos: int) -> tuple[str, int]:
    """An object's key and the position of its value (``pos`` is where the key's quote should be)."""
    if text[pos : pos + 1] != '"':
        raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, pos)
    key, pos = _scan_string(text, pos + 1, True)
    pos = _space(text, pos).end()  # type: ignore[union-attr]
    if text[pos : pos + 1] != ":":
        raise json.JSONDecodeError("Expecting ':' delimiter", text, pos)
    return key, _space(text, pos + 1).end()  # type: ignore[union-attr]


DECODERS: dict[str, Callable[[Any], Any]] = {"json": loads}
"""The decoders sesflow can use, by name: the value each gives is the same (see the module documentation).

``orjson`` is ``orjson.loads`` itself, for speed: a payload it refuses is handed to ``loads`` by the
caller (``sesflow.events.load_json``, ``sesflow.parse_event``).
"""
try:  # orjson (extra "fast") decodes about twice as fast as the standard library
    import orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    pass
else:
    DECODERS["orjson"] = orjson.loads


def configured_decoder() -> str:
    """The decoder named by ``ENV_VAR``, or the fastest installed one when it is unset or empty."""
    name = os.environ.get(ENV_VAR, "").strip()
    if not name:
        return "orjson" if "orjson" in DECODERS else "json"
    if name not in ("orjson", "json"):
        raise ValueError(f"{ENV_VAR} must be 'orjson' or 'json', got {name!r}")
    if name not in DECODERS:
        raise ImportError(f"{ENV_VAR}=orjson but orjson is not installed: pip install 'sesflow[fast]'")
    return name
