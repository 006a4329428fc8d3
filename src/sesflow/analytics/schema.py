"""The SES event schema as a table, generated from the attrs models, and its Athena DDL.

The lake's table has one row per SES record and one column per top-level key of the record: ``eventType`` and
``notificationType`` (whichever family the record belongs to), ``mail``, and one column per detail object
(``bounce``, ``delivery``...). Nested objects are structs, lists are arrays and SES's tag maps are
``map<string, array<string>>``. Nothing here is written by hand: ``table_schema`` walks the models'
``attrs`` fields and their ``metadata["ses"]`` keys, so the table cannot drift from what ``parse_event``
understands. The same tree renders as Athena DDL (``athena_ddl``, for the NDJSON lake and the Parquet
lake), as the AWS Glue table Firehose's record format conversion reads its schema from
(``glue_table_input``), and as the column types DuckDB's JSON reader is given (``duckdb_columns``),
so the report's SQL sees the same table on every engine and layout.

A field the models gain (such as the tenant, once the models carry it) becomes one more column or struct field
everywhere at once: Athena and DuckDB read Parquet by name, so older files read it as NULL.
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
    "Layout",
    "MapOf",
    "Scalar",
    "SchemaType",
    "Struct",
    "athena_ddl",
    "duckdb_columns",
    "glue_columns",
    "glue_key_mappings",
    "glue_name",
    "glue_table_input",
    "parse_glue_type",
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

    The tenant has no column: SES publishes it only as the ``ses:tenant-name`` tag, so it is in ``mail.tags``
    (in Athena ``element_at(mail.tags['ses:tenant-name'], 1)``; the report's ``tenant`` breakdown reads it).
    Should SES add a field for it, a field of ``Mail`` with an ``ses`` key appears here, in the Glue table and
    in Parquet files with no change to this module.
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


def _athena_type(tp: SchemaType, timestamps: str, mappings: dict[str, str], *, glue: bool = False) -> str:
    """The Hive type of ``tp``: backquoted SES-cased names for the JSON table, Glue's lower-case names (no
    quotes: every name is a plain identifier) for the Parquet table."""
    if isinstance(tp, Scalar):
        return timestamps if tp.name == "timestamp" else tp.name
    if isinstance(tp, Array):
        return f"array<{_athena_type(tp.item, timestamps, mappings, glue=glue)}>"
    if isinstance(tp, MapOf):
        key = _athena_type(tp.key, timestamps, mappings, glue=glue)
        return f"map<{key},{_athena_type(tp.value, timestamps, mappings, glue=glue)}>"
    parts = []
    for name, f in _struct_names(tp, mappings, glue=glue):
        inner = _athena_type(f.type, timestamps, mappings, glue=glue)
        parts.append(f"{name}:{inner}" if glue else f"`{name}`:{inner}")
    return f"struct<{','.join(parts)}>"


def _struct_names(tp: Struct, mappings: dict[str, str], *, glue: bool) -> list[tuple[str, Field]]:
    """Each field of ``tp`` with its table name; two keys that would share a name raise ``ValueError``."""
    named: list[tuple[str, Field]] = []
    seen: dict[str, str] = {}
    for f in tp.fields:
        name = _mapped(f.key, mappings)
        if glue:
            name = name.lower()
        previous = seen.setdefault(name.lower(), f.key)
        if previous != f.key:  # Hive, Glue and Athena compare names without case
            raise ValueError(f"SES keys {previous!r} and {f.key!r} both become the table name {name!r}")
        named.append((name, f))
    return named


def _mapped(key: str, mappings: dict[str, str]) -> str:
    name = athena_name(key)
    if name != key:
        previous = mappings.setdefault(name.lower(), key)
        if previous != key:  # two SES keys would share one column name: the mapping could not tell them apart
            raise ValueError(f"SES keys {previous!r} and {key!r} both become the Athena name {name!r}")
    return name


def glue_name(key: str) -> str:
    """The name AWS Glue gives the column or struct field of SES key ``key``: ``athena_name``,
    lower-cased (Glue and Hive keep names in lower case): ``"messageId"`` -> ``"messageid"``, ``"from"`` ->
    ``"from_"``."""
    return athena_name(key).lower()


def _projection(location: str, years: tuple[int, int]) -> dict[str, str]:
    """Athena partition projection properties for the ``year=/month=/day=`` partitions under ``location``."""
    first, last = years
    if first > last:
        raise ValueError(f"projection_years must be (first, last) with first <= last, got {years!r}")
    return {
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


def _s3_location(location: str) -> str:
    if not location.startswith("s3://"):
        raise ValueError(f"location must be an s3:// URL of the events prefix, got {location!r}")
    return location if location.endswith("/") else location + "/"


Layout = Literal["ndjson", "parquet"]
"""How a lake's objects are stored: Firehose's default newline-delimited JSON (gzip or not), or Parquet
(Firehose record format conversion, or ``sesflow lake compact``)."""

PARTITION_KEYS = ("year", "month", "day")
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


def athena_ddl(
    table: str = "ses_events",
    location: str = "s3://BUCKET/events/",
    *,
    database: str | None = None,
    layout: Layout = "ndjson",
    partition_projection: bool = False,
    projection_years: tuple[int, int] = (2020, 2050),
    timestamps: Literal["string", "timestamp"] = "string",
    ignore_malformed_json: bool = False,
    if_not_exists: bool = True,
) -> str:
    """The ``CREATE EXTERNAL TABLE`` statement for a Firehose lake of SES events, generated from the models.

    ``location`` is the S3 prefix that holds the ``year=YYYY/month=MM/day=DD/`` partitions (Firehose's
    ``events/`` prefix). ``layout="ndjson"`` (the default) reads Firehose's newline-delimited JSON (gzip or
    not) with the OpenX JSON SerDe; a key Athena cannot use as a name (a reserved word such as ``from``)
    becomes ``<key>_`` with a ``mapping.<name>`` SerDe property, the way the model itself spells
    ``CommonHeaders.from_``. ``layout="parquet"`` is the table of the Parquet lake Firehose writes with record
    format conversion (and ``sesflow lake compact``): the same columns under the lower-case names of
    ``glue_table_input``, ``STORED AS PARQUET``. The report query (``report_sql``)
    reads either table.

    Partitions are ``year``, ``month`` and ``day`` strings; without ``partition_projection`` load them with
    ``MSCK REPAIR TABLE <table>``, with it Athena computes them from the query's predicates
    (``projection_years`` bounds the year).

    ``timestamps="string"`` (the default) keeps SES's ISO 8601 text (``2024-01-15T10:20:30.123Z``): it is
    exact, it sorts in time order, ``from_iso8601_timestamp`` turns it into a timestamp in a query, and the
    report queries of ``sesflow.analytics`` expect it. ``"timestamp"`` declares Hive timestamps instead,
    which leaves their parsing to the SerDe (JSON only: the Parquet files hold the text).
    """
    location = _s3_location(location)
    if layout not in ("ndjson", "parquet"):
        raise ValueError(f"layout is 'ndjson' or 'parquet', not {layout!r}")
    glue = layout == "parquet"
    if glue and timestamps != "string":
        raise ValueError("the Parquet table keeps SES's timestamps as text: use timestamps='string'")
    mappings: dict[str, str] = {}
    columns = [
        f"  `{name}` {_athena_type(f.type, timestamps, mappings, glue=glue)}"
        for name, f in _struct_names(table_schema(), mappings, glue=glue)
    ]
    name = f"`{database}`.`{table}`" if database else f"`{table}`"
    partitions = ", ".join(f"`{key}` string" for key in PARTITION_KEYS)
    lines = [
        f"CREATE EXTERNAL TABLE {'IF NOT EXISTS ' if if_not_exists else ''}{name} (",
        ",\n".join(columns),
        ")",
        f"PARTITIONED BY ({partitions})",
    ]
    properties = _projection(location, projection_years) if partition_projection else {}
    if glue:
        lines += ["STORED AS PARQUET", f"LOCATION '{location}'"]
        properties = {"parquet.compression": "SNAPPY", **properties}
    else:
        serde = {"ignore.malformed.json": "true" if ignore_malformed_json else "false"}
        serde.update({f"mapping.{column}": key for column, key in sorted(mappings.items())})
        lines += [
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


# --- AWS Glue: the Parquet table ----------------------------------------------------------------------------


def glue_columns(schema: Struct | None = None) -> list[dict[str, str]]:
    """The Glue ``Columns`` of the lake's table (``[{"Name": "mail", "Type": "struct<...>"}, ...]``): every
    column of ``table_schema`` under its ``glue_name``, nested names lower-cased too, timestamps as
    ``string``. Record format conversion writes Parquet files with exactly these names and types.
    """
    mappings: dict[str, str] = {}
    return [
        {"Name": name, "Type": _athena_type(f.type, "string", mappings, glue=True)}
        for name, f in _struct_names(schema or table_schema(), mappings, glue=True)
    ]


def glue_key_mappings(schema: Struct | None = None) -> dict[str, str]:
    """``{glue name: JSON key}`` for the names that are not the key lower-cased (``{"from_": "from"}``): the
    OpenX JSON SerDe's ``ColumnToJsonKeyMappings`` for record format conversion. The keys are given
    lower-cased, as the deserializer sees them once ``CaseInsensitive`` has lower-cased the JSON.
    """
    mappings: dict[str, str] = {}
    _athena_type(schema or table_schema(), "string", mappings, glue=True)  # fails on names keys would share
    return {name: key.lower() for name, key in sorted(mappings.items())}


def glue_table_input(
    table: str = "ses_events",
    location: str = "s3://BUCKET/events/",
    *,
    partition_projection: bool = True,
    projection_years: tuple[int, int] = (2020, 2050),
    description: str | None = None,
) -> dict[str, Any]:
    """The ``TableInput`` of Glue ``CreateTable`` for the Parquet lake: ``glue_columns`` stored as Parquet
    (``ParquetHiveSerDe``) under ``location``, partitioned by ``year``, ``month`` and ``day`` strings, with
    Athena partition projection by default (no partitions to load). Firehose's record format conversion
    reads its schema from this table; Athena queries it as is.
    """
    location = _s3_location(location)
    parameters = {"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "SNAPPY"}
    if partition_projection:
        parameters.update(_projection(location, projection_years))
    table_input: dict[str, Any] = {
        "Name": table,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
        "PartitionKeys": [{"Name": key, "Type": "string"} for key in PARTITION_KEYS],
        "StorageDescriptor": {
            "Columns": glue_columns(),
            "Location": location,
            "InputFormat": PARQUET_INPUT_FORMAT,
            "OutputFormat": PARQUET_OUTPUT_FORMAT,
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
        },
    }
    if description:
        table_input["Description"] = description
    return table_input


_TYPE_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|[<>,:()]|[0-9]+)")
_GLUE_SCALARS: dict[str, Literal["string", "bigint", "boolean", "double", "timestamp"]] = {
    "string": "string",
    "varchar": "string",
    "char": "string",
    "bigint": "bigint",
    "int": "bigint",
    "integer": "bigint",
    "smallint": "bigint",
    "tinyint": "bigint",
    "boolean": "boolean",
    "double": "double",
    "float": "double",
    "timestamp": "timestamp",
}


def parse_glue_type(text: str) -> SchemaType:
    """The schema tree of a Hive/Glue type string (``struct<a:string,b:array<bigint>>``); struct fields are
    keyed by their names as written. Integer types read as ``bigint``, ``float`` as ``double``,
    ``varchar(n)``/``char(n)`` as ``string``; anything else raises ``ValueError`` naming it.
    """
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        match = _TYPE_TOKEN.match(text, pos)
        if match is None:
            if text[pos:].strip():
                raise ValueError(f"cannot read the type {text!r} at {text[pos:]!r}")
            break
        tokens.append(match[1])
        pos = match.end()
    at = 0

    def take(expected: str | None = None) -> str:
        nonlocal at
        if at >= len(tokens):
            raise ValueError(f"the type {text!r} ends too early")
        token = tokens[at]
        at += 1
        if expected is not None and token != expected:
            raise ValueError(f"expected {expected!r} in the type {text!r}, found {token!r}")
        return token

    def one() -> SchemaType:
        name = take().lower()
        if name == "array":
            take("<")
            item = one()
            take(">")
            return Array(item)
        if name == "map":
            take("<")
            key = one()
            take(",")
            value = one()
            take(">")
            return MapOf(key, value)
        if name == "struct":
            take("<")
            fields: list[Field] = []
            while True:
                field = take()
                take(":")
                fields.append(Field(field, one()))
                separator = take()
                if separator == ">":
                    return Struct(tuple(fields))
                if separator != ",":
                    raise ValueError(f"expected ',' or '>' in the type {text!r}, found {separator!r}")
        scalar = _GLUE_SCALARS.get(name)
        if scalar is None:
            raise ValueError(f"no lake type for the Glue type {name!r} (in {text!r})")
        if at < len(tokens) and tokens[at] == "(":  # varchar(255), char(10)
            take("(")
            take()
            take(")")
        return Scalar(scalar)

    result = one()
    if at != len(tokens):
        raise ValueError(f"unexpected {tokens[at]!r} after the type in {text!r}")
    return result


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
