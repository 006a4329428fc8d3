"""Hive type strings read independently of sesflow's own parser, and the types an independent walk of the
models expects: what the table tests hold sesflow's generated tables (Athena DDL, Glue columns) to."""

from __future__ import annotations

import re
import typing
from datetime import datetime
from typing import Any

import attrs

from sesflow.events import Tags
from sesflow.events.enums import OpenEnum

# --- a small parser of Hive type strings, written for this test -------------------------------------------

Type = tuple[str, Any]  # ("string", None) | ("array", T) | ("map", (K, V)) | ("struct", {name: T})


def parse_type(text: str) -> Type:
    tokens = re.findall(r"`[^`]*`|[A-Za-z_][A-Za-z0-9_]*|[<>,:]", text)
    pos = 0

    def take() -> str:
        nonlocal pos
        token = tokens[pos]
        pos += 1
        return token

    def one() -> Type:
        name = take().lower()
        if name == "array":
            assert take() == "<"
            item = one()
            assert take() == ">"
            return ("array", item)
        if name == "map":
            assert take() == "<"
            key = one()
            assert take() == ","
            value = one()
            assert take() == ">"
            return ("map", (key, value))
        if name == "struct":
            assert take() == "<"
            fields: dict[str, Type] = {}
            while True:
                field = take().strip("`")
                assert take() == ":"
                assert field not in fields, f"duplicate struct field {field}"
                fields[field] = one()
                separator = take()
                if separator == ">":
                    return ("struct", fields)
                assert separator == ","
        return (name, None)

    result = one()
    assert pos == len(tokens), f"trailing tokens in {text!r}"
    return result


def parse_ddl(ddl: str) -> tuple[dict[str, Type], dict[str, str], list[str]]:
    """(columns, SerDe mappings, partition columns) of a CREATE EXTERNAL TABLE statement."""
    body = ddl[ddl.index("(\n") + 2 : ddl.index("\n)\nPARTITIONED BY")]
    columns = {}
    for line in body.split(",\n"):
        match = re.fullmatch(r"\s*`([^`]+)` (.+)", line)
        assert match, line
        columns[match[1]] = parse_type(match[2])
    mappings = dict(re.findall(r"'mapping\.([^']+)' = '([^']+)'", ddl))
    partitions = re.findall(r"`(\w+)` string", ddl[ddl.index("PARTITIONED BY") :].split("\n", 1)[0])
    return columns, mappings, partitions


# --- an independent walk of the models ---------------------------------------------------------------------


def expected_type(tp: Any) -> Type:
    if typing.get_origin(tp) in (typing.Union, __import__("types").UnionType):
        (tp,) = [a for a in typing.get_args(tp) if a is not type(None)]
    if tp is Tags:
        return ("map", (("string", None), ("array", ("string", None))))
    if tp is bool:
        return ("boolean", None)
    if tp is int:
        return ("bigint", None)
    if tp is str or (isinstance(tp, type) and issubclass(tp, OpenEnum)):
        return ("string", None)
    if tp is datetime:
        return ("timestamp", None)
    if typing.get_origin(tp) is tuple:
        return ("array", expected_type(typing.get_args(tp)[0]))
    assert attrs.has(tp), tp
    hints = typing.get_type_hints(tp)
    fields = {}
    for f in attrs.fields(tp):
        if "ses" in f.metadata:
            fields[f.metadata["ses"]] = expected_type(f.metadata.get("lazy") or hints[f.name])
    return ("struct", fields)


def compatible(
    expected: Type, actual: Type, mappings: dict[str, str], where: str, *, lower: bool = False
) -> None:
    """``actual`` (from a table) holds every field of ``expected`` (from the models) with a compatible type;
    ``lower``: the table names fields in lower case (Glue), so names are compared without case."""
    kind, inner = expected
    if kind == "timestamp":  # timestamps are kept as SES's ISO 8601 text (or declared timestamps)
        assert actual[0] in ("string", "timestamp"), where
        return
    assert actual[0] == kind, f"{where}: expected {kind}, the table has {actual[0]}"
    if kind == "array":
        compatible(inner, actual[1], mappings, where + "[]", lower=lower)
    elif kind == "map":
        compatible(inner[0], actual[1][0], mappings, where + "{key}", lower=lower)
        compatible(inner[1], actual[1][1], mappings, where + "{value}", lower=lower)
    elif kind == "struct":
        by_key = {mappings.get(name.lower(), name): t for name, t in actual[1].items()}
        if lower:
            assert all(name == name.lower() for name in actual[1]), f"{where} has names not in lower case"
            inner = {key.lower(): t for key, t in inner.items()}
            by_key = {key.lower(): t for key, t in by_key.items()}
        for key, field_type in inner.items():
            assert key in by_key, f"{where}.{key} is missing from the table"
            compatible(field_type, by_key[key], mappings, f"{where}.{key}", lower=lower)
        assert set(by_key) == set(inner), f"{where} has fields the model does not: {set(by_key) - set(inner)}"
