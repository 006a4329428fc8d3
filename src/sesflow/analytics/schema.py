"""The SES event schema as a table, generated from the attrs models, and its Athena DDL.

The lake's table has one row per SES record and one column per top-level key of the record: ``eventType`` and
``notificationType`` (whichever family the record belongs to), ``mail``, and one column per detail object
(``bounce``, ``delivery``...). Nested objects are structs, lists are arrays and SES's tag maps are
``map<string, array<string>>``. Nothing here is written by hand: ``table_schema`` walks the models'
``attrs`` fields and their ``metadata["ses"]`` keys, so the table cannot drift from what ``parse_event``
understands. The same tree renders as Athena DDL (``athena_ddl``) and as the column types DuckDB's JSON
reader is given (``duckdb_columns``), so the report's SQL sees the same table on both engines.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

import attrs

from ..events import EVENT_CLASSES, EventFamily, Mail, SesEvent, Tags
from ..events.enums import OpenEnum

__all__ = [
    "Array",
    "Field",
    "MapOf",
    "Scalar",
    "SchemaType",
    "Struct",
    "athena_ddl",
    "duckdb_columns",
    "table_schema",
]


# --- the type tree ------------------------------------------------------------------------------------------


@attrs.frozen
class Scalar:
    """A leaf: ``"string"``, ``"bigint"``, ``"boolean"``, ``"double"`` or ``"timestamp"``."""

    name: Literal["string", "bigint", "boolean", "double", "timestamp"]


@attrs.frozen
class Array:
    item: SchemaType


@attrs.frozen
class MapOf:
    key: SchemaType
    value: SchemaType


@attrs.frozen
class Field:
    """One key of a JSON object: SES's spelling and its type."""

    key: str
    type: SchemaType


@attrs.frozen
class Struct:
    fields: tuple[Field, ...]

    def field(self, key: str) -> Field:
        """The field with SES key ``key``; ``KeyError`` when there is none."""
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)

    def select(self, paths: Iterable[Sequence[str]]) -> Struct:
        """This struct restricted to ``paths`` (SES keys from here down; a path that stops early keeps the
        whole subtree). Arrays are looked through: ``("bouncedRecipients", "emailAddress")`` keeps an array of
        structs holding only ``emailAddress``. Order follows the model, not ``paths``.
        """
        wanted: dict[str, list[Sequence[str]]] = {}
        for path in paths:
            if not path:
                return self
            wanted.setdefault(path[0], []).append(path[1:])
        for key in wanted:
            self.field(key)  # unknown keys are a programming error: fail loudly
        kept = []
        for f in self.fields:
            if f.key in wanted:
                rest = wanted[f.key]
                kept.append(Field(f.key, f.type if any(not p for p in rest) else _select(f.type, rest)))
        return Struct(tuple(kept))


SchemaType = Scalar | Array | MapOf | Struct
"""A node of the schema tree."""


def _select(tp: SchemaType, paths: list[Sequence[str]]) -> SchemaType:
    if isinstance(tp, Struct):
        return tp.select(paths)
    if isinstance(tp, Array):
        return Array(_select(tp.item, paths))
    raise ValueError(f"cannot select {paths!r} inside a {type(tp).__name__}")


_STRING = Scalar("string")
_TAGS = MapOf(_STRING, Array(_STRING))


def _model_type(tp: Any) -> SchemaType:
    """The schema type of a model annotation."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"no table type for the union {tp!r}")
        tp = args[0]
    if tp is Tags:
        return _TAGS
    if isinstance(tp, type):
        if issubclass(tp, OpenEnum) or tp is str:
            return _STRING
        if tp is bool:  # before int: bool is an int
            return Scalar("boolean")
        if tp is int:
            return Scalar("bigint")
        if tp is float:
            return Scalar("double")
        if tp is datetime:
            return Scalar("timestamp")
        if attrs.has(tp):
            return model_struct(tp)
    if typing.get_origin(tp) is tuple:
        item, *rest = typing.get_args(tp)
        if rest != [Ellipsis]:
            raise TypeError(f"no table type for the fixed-size tuple {tp!r}")
        return Array(_model_type(item))
    raise TypeError(f"no table type for {tp!r}")


def model_struct(cls: type[Any]) -> Struct:
    """The struct of an attrs model: every field with a ``metadata["ses"]`` key, in declaration order.

    Lazily structured fields (``Mail.headers``...) are typed by their ``metadata["lazy"]`` model.
    """
    hints = typing.get_type_hints(cls)
    fields = []
    for f in attrs.fields(cls):
        key = f.metadata.get("ses")
        if key is None:
            continue
        lazy = f.metadata.get("lazy")
        fields.append(Field(key, _model_type(lazy if lazy is not None else hints[f.name])))
    return Struct(tuple(fields))


def _detail_field(cls: type[SesEvent]) -> attrs.Attribute[Any]:
    for f in attrs.fields(cls):
        if f.metadata.get("ses") == cls.DETAIL_KEY:
            found: attrs.Attribute[Any] = f
            return found
    raise LookupError(f"{cls.__name__} has no field for its detail key {cls.DETAIL_KEY!r}")


def table_schema() -> Struct:
    """The table of SES records: ``eventType``, ``notificationType``, ``mail`` and every detail object.

    A detail model with no fields (``send``, always ``{}`` in SES's records) has no column: the event type
    says everything it would.
    """
    columns = [Field(family.value, _STRING) for family in EventFamily]
    columns.append(Field("mail", model_struct(Mail)))
    for cls in EVENT_CLASSES:
        f = _detail_field(cls)
        hints = typing.get_type_hints(cls)
        detail = _model_type(hints[f.name])
        if isinstance(detail, Struct) and not detail.fields:
            continue
        columns.append(Field(cls.DETAIL_KEY or f.name, detail))
    return Struct(tuple(columns))


# --- Athena -------------------------------------------------------------------------------------------------

# Words Trino (Athena engine 3) reserves in queries: a key spelled like one of these would have to be quoted
# in every query ("from"), so the table names it with a trailing underscore and maps it back to SES's key.
TRINO_RESERVED = frozenset(
    [
        "alter",
        "and",
        "as",
        "between",
        "by",
        "case",
        "cast",
        "constraint",
        "create",
        "cross",
        "cube",
        "current_catalog",
        "current_date",
        "current_path",
        "current_role",
        "current_schema",
        "current_time",
        "current_timestamp",
        "current_user",
        "deallocate",
        "delete",
        "describe",
        "distinct",
        "drop",
        "else",
        "end",
        "escape",
        "except",
        "execute",
        "exists",
        "extract",
        "false",
        "for",
        "from",
        "full",
        "function",
        "group",
        "grouping",
        "having",
        "in",
        "inner",
        "insert",
        "intersect",
        "into",
        "is",
        "join",
        "json_array",
        "json_exists",
        "json_object",
        "json_query",
        "json_table",
        "json_value",
        "left",
        "like",
        "listagg",
        "localtime",
        "localtimestamp",
        "natural",
        "normalize",
        "not",
        "null",
        "on",
        "or",
        "order",
        "outer",
        "prepare",
        "recursive",
        "right",
        "rollup",
        "select",
        "skip",
        "table",
        "then",
        "trim",
        "true",
        "uescape",
        "union",
        "unnest",
        "using",
        "values",
        "when",
        "where",
        "with",
    ]
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def athena_name(key: str) -> str:
    """The column or struct-field name Athena uses for SES key ``key`` (``"from"`` -> ``"from_"``)."""
    if _IDENTIFIER.fullmatch(key) and key.lower() not in TRINO_RESERVED:
        return key
    name = re.sub(r"[^A-Za-z0-9_]", "_", key)
    if not re.match(r"[A-Za-z_]", name):
        name = "_" + name
    return name + "_" if name.lower() in TRINO_RESERVED or name == key else name


def _athena_type(tp: SchemaType, timestamps: str, mappings: dict[str, str]) -> str:
    if isinstance(tp, Scalar):
        return timestamps if tp.name == "timestamp" else tp.name
    if isinstance(tp, Array):
        return f"array<{_athena_type(tp.item, timestamps, mappings)}>"
    if isinstance(tp, MapOf):
        key = _athena_type(tp.key, timestamps, mappings)
        return f"map<{key},{_athena_type(tp.value, timestamps, mappings)}>"
    parts = []
    for f in tp.fields:
        parts.append(f"`{_mapped(f.key, mappings)}`:{_athena_type(f.type, timestamps, mappings)}")
    return f"struct<{','.join(parts)}>"


def _mapped(key: str, mappings: dict[str, str]) -> str:
    name = athena_name(key)
    if name != key:
        previous = mappings.setdefault(name.lower(), key)
        if previous != key:  # two SES keys would share one column name: the mapping could not tell them apart
            raise ValueError(f"SES keys {previous!r} and {key!r} both become the Athena name {name!r}")
    return name


def athena_ddl(
    table: str = "ses_events",
    location: str = "s3://BUCKET/events/",
    *,
    database: str | None = None,
    partition_projection: bool = False,
    projection_years: tuple[int, int] = (2020, 2050),
    timestamps: Literal["string", "timestamp"] = "string",
    ignore_malformed_json: bool = False,
    if_not_exists: bool = True,
) -> str:
    """The ``CREATE EXTERNAL TABLE`` statement for a Firehose lake of SES events, generated from the models.

    ``location`` is the S3 prefix that holds the ``year=YYYY/month=MM/day=DD/`` partitions (Firehose's
    ``events/`` prefix). Records are read with the OpenX JSON SerDe (NDJSON, gzip or not); a key Athena cannot
    use as a name (a reserved word such as ``from``) becomes ``<key>_`` with a ``mapping.<name>`` SerDe
    property, the way the model itself spells ``CommonHeaders.from_``. Partitions are ``year``, ``month`` and
    ``day`` strings; without ``partition_projection`` load them with ``MSCK REPAIR TABLE <table>``, with it
    Athena computes them from the query's predicates (``projection_years`` bounds the year).

    ``timestamps="string"`` (the default) keeps SES's ISO 8601 text (``2024-01-15T10:20:30.123Z``): it is
    exact, it sorts in time order, ``from_iso8601_timestamp`` turns it into a timestamp in a query, and the
    report queries of ``sesflow.analytics`` expect it. ``"timestamp"`` declares Hive timestamps instead,
    which leaves their parsing to the SerDe.
    """
    if not location.startswith("s3://"):
        raise ValueError(f"location must be an s3:// URL of the events prefix, got {location!r}")
    if not location.endswith("/"):
        location += "/"
    mappings: dict[str, str] = {}
    columns = [
        f"  `{_mapped(f.key, mappings)}` {_athena_type(f.type, timestamps, mappings)}"
        for f in table_schema().fields
    ]
    name = f"`{database}`.`{table}`" if database else f"`{table}`"
    serde = {"ignore.malformed.json": "true" if ignore_malformed_json else "false"}
    serde.update({f"mapping.{column}": key for column, key in sorted(mappings.items())})
    properties: dict[str, str] = {}
    if partition_projection:
        first, last = projection_years
        properties = {
            "projection.enabled": "true",
            "projection.year.type": "integer",
            "projection.year.range": f"{first},{last}",
            "projection.month.type": "integer",
            "projection.month.range": "1,12",
            "projection.month.digits": "2",
            "projection.day.type": "integer",
            "projection.day.range": "1,31",
            "projection.day.digits": "2",
            "storage.location.template": location + "year=${year}/month=${month}/day=${day}/",
        }
    lines = [
        f"CREATE EXTERNAL TABLE {'IF NOT EXISTS ' if if_not_exists else ''}{name} (",
        ",\n".join(columns),
        ")",
        "PARTITIONED BY (`year` string, `month` string, `day` string)",
        "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'",
        "WITH SERDEPROPERTIES (",
        ",\n".join(f"  '{k}' = '{v}'" for k, v in serde.items()),
        ")",
        "STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'",
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'",
        f"LOCATION '{location}'",
    ]
    if properties:
        lines += ["TBLPROPERTIES (", ",\n".join(f"  '{k}' = '{v}'" for k, v in properties.items()), ")"]
    return "\n".join(lines) + ";\n"


# --- DuckDB -------------------------------------------------------------------------------------------------


def _duckdb_type(tp: SchemaType) -> str:
    if isinstance(tp, Scalar):
        return {
            "string": "VARCHAR",
            "bigint": "BIGINT",
            "boolean": "BOOLEAN",
            "double": "DOUBLE",
            "timestamp": "VARCHAR",  # as in the Athena table: SES's ISO 8601 text
        }[tp.name]
    if isinstance(tp, Array):
        return f"{_duckdb_type(tp.item)}[]"
    if isinstance(tp, MapOf):
        return f"MAP({_duckdb_type(tp.key)}, {_duckdb_type(tp.value)})"
    return "STRUCT(" + ", ".join(f"{_duckdb_name(f.key)} {_duckdb_type(f.type)}" for f in tp.fields) + ")"


def _duckdb_name(key: str) -> str:
    return '"' + key.replace('"', '""') + '"'


def duckdb_columns(schema: Struct | None = None) -> dict[str, str]:
    """``{column: DuckDB type}`` for ``read_json(columns=...)``: ``table_schema`` or a selection of it.

    Timestamps stay text (``VARCHAR``) as in the Athena table, so one SQL text reads both.
    """
    return {f.key: _duckdb_type(f.type) for f in (schema or table_schema()).fields}
