"""The Parquet layout of the lake: what Firehose's record format conversion writes, and how to read it back.

Firehose converts each JSON record to a row of the AWS Glue table it is given (``glue_table_input``) and
writes Parquet files under the same ``year=/month=/day=`` prefixes, named
``<stream>-<version>-<time>-<uuid>.parquet``. Every column and struct field then carries its Glue name:
``eventType`` is ``eventtype``, ``mail.messageId`` is ``mail.messageid``, ``commonHeaders.from`` is
``commonheaders.from_``; tags stay a ``map<string,array<string>>``. This module turns NDJSON records into
exactly those rows with DuckDB (the ``analytics`` extra; no other Parquet library), and rows back into SES
records for the parts of sesflow that parse every record (the Python report engine, ``Lake.iter_items``).

SQL reads both layouts with the same text: DuckDB and Athena compare column and field names without case.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from .queries import quote
from .schema import Array, Field, MapOf, Scalar, SchemaType, Struct, duckdb_columns, glue_name, table_schema

__all__ = [
    "COMPRESSIONS",
    "Compression",
    "glue_schema",
    "iter_parquet_rows",
    "ndjson_to_parquet",
    "parquet_select",
    "record_from_row",
    "rows_to_parquet",
]


Compression = Literal["snappy", "gzip", "zstd", "uncompressed"]
COMPRESSIONS: tuple[Compression, ...] = ("snappy", "gzip", "zstd", "uncompressed")
"""Parquet codecs sesflow writes. Firehose offers SNAPPY (its default), GZIP and UNCOMPRESSED; Athena and
DuckDB also read ZSTD, which makes smaller files."""

_ROWS_PER_FETCH = 2048


def glue_schema(schema: Struct | None = None) -> Struct:
    """``table_schema`` with every field keyed by its Glue name: the shape of a
    Parquet row (``Field("messageid", ...)``)."""

    def rename(tp: SchemaType) -> SchemaType:
        if isinstance(tp, Struct):
            return Struct(tuple(Field(glue_name(f.key), rename(f.type)) for f in tp.fields))
        if isinstance(tp, Array):
            return Array(rename(tp.item))
        if isinstance(tp, MapOf):
            return MapOf(tp.key, rename(tp.value))
        return tp

    renamed = rename(schema or table_schema())
    assert isinstance(renamed, Struct)
    return renamed


def _quote(name: str) -> str:
    """``name`` as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _renames(tp: SchemaType) -> bool:
    """Whether values of ``tp`` hold struct fields (whose names change between the layouts)."""
    if isinstance(tp, Struct):
        return True
    if isinstance(tp, Array):
        return _renames(tp.item)
    if isinstance(tp, MapOf):
        return _renames(tp.value)
    return False


def _to_glue_sql(expr: str, tp: SchemaType, depth: int = 0) -> str:
    """SQL turning ``expr`` (read from JSON with SES's keys) into the same value with Glue's names."""
    if isinstance(tp, Scalar) or not _renames(tp):
        return expr
    if isinstance(tp, Array):
        item = f"x{depth}"
        return f"list_transform({expr}, lambda {item}: {_to_glue_sql(item, tp.item, depth + 1)})"
    if isinstance(tp, MapOf):
        entry = f"e{depth}"
        value = _to_glue_sql(f"{entry}.value", tp.value, depth + 1)
        pairs = (
            f"list_transform(map_entries({expr}), lambda {entry}: {{'key': {entry}.key, 'value': {value}}})"
        )
        return f"map_from_entries({pairs})"
    fields = ", ".join(
        f"{_quote(glue_name(f.key))} := {_to_glue_sql(f'{expr}.{_quote(f.key)}', f.type, depth)}"
        for f in tp.fields
    )
    # A missing object stays NULL (as Firehose writes it), not a struct of NULLs.
    return f"CASE WHEN {expr} IS NULL THEN NULL ELSE struct_pack({fields}) END"


def parquet_select(schema: Struct | None = None) -> str:
    """The SQL select list that turns rows read from NDJSON with ``duckdb_columns`` into Parquet rows:
    one column per field of ``schema`` (default: the whole table), every name Glue's."""
    return ",\n".join(
        f"{_to_glue_sql(_quote(f.key), f.type)} AS {_quote(glue_name(f.key))}"
        for f in (schema or table_schema()).fields
    )


def _to_record(value: Any, tp: SchemaType) -> Any:
    if value is None:
        return None
    if isinstance(tp, Struct):
        out = {}
        for f in tp.fields:
            item = value.get(glue_name(f.key))
            if item is not None:
                out[f.key] = _to_record(item, f.type)
        return out
    if isinstance(tp, Array):
        return [_to_record(item, tp.item) for item in value]
    if isinstance(tp, MapOf):
        return {key: _to_record(item, tp.value) for key, item in value.items()}
    return value


def record_from_row(row: Mapping[str, Any], schema: Struct | None = None) -> dict[str, Any]:
    """The SES record of a Parquet row (as DuckDB returns it: structs and maps as dicts), under SES's keys.

    Fields that are NULL are left out, as SES leaves them out of its JSON; fields the table does not have
    (unknown to the models when the row was written) are not in a Parquet row to begin with.
    """
    record = _to_record(row, schema or table_schema())
    assert isinstance(record, dict)
    return record


# --- writing and reading with DuckDB ------------------------------------------------------------------------


def _connect(memory_limit: str | None = None) -> Any:
    from ._engines import require_duckdb

    duckdb = require_duckdb()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    return con


def _copy_options(compression: Compression) -> str:
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression is one of {', '.join(COMPRESSIONS)}, not {compression!r}")
    return f"FORMAT PARQUET, COMPRESSION {compression.upper()}"


def ndjson_to_parquet(
    files: Sequence[str | os.PathLike[str]],
    target: str | os.PathLike[str],
    *,
    compression: Compression = "snappy",
    skip_bad_records: bool = False,
    memory_limit: str | None = None,
) -> int:
    """Convert NDJSON ``files`` (gzip or not, told apart by content) into one Parquet file at ``target`` in
    the layout Firehose writes; returns the number of rows.

    A line that is not JSON fails the conversion (DuckDB's ``duckdb.Error``), and so does a JSON line that is
    not an SES record (neither ``eventType`` nor ``notificationType``: ``LakeError``),
    unless ``skip_bad_records``, which leaves both out.
    """
    from ._engines import duckdb_view_sql
    from .lake import LakeError

    con = _connect(memory_limit)
    try:
        con.execute(
            duckdb_view_sql(
                [Path(f) for f in files],
                duckdb_columns(),
                ignore_errors=skip_bad_records,
                name="ses_source",
                hive=False,
            )
        )
        sql = (  # the target is an SQL literal made by quote(), the rest is generated from the schema
            f"COPY (SELECT {parquet_select()} FROM ses_source) "  # noqa: S608
            f"TO {_literal(target)} ({_copy_options(compression)})"
        )
        (rows,) = con.execute(sql).fetchone()
        # Two columns of the file just written: cheap to read back, and they tell a record from anything else.
        (strays,) = con.execute(
            f"SELECT count(*) FROM read_parquet({_literal(target)}) "  # noqa: S608
            "WHERE eventtype IS NULL AND notificationtype IS NULL"
        ).fetchone()
        if strays and not skip_bad_records:
            names = ", ".join(os.fspath(f) for f in files)
            raise LakeError(
                f"{strays} line(s) of {names} are not SES records (no eventType or notificationType): "
                "skip_bad_records / --skip-bad-records leaves them out"
            )
        if strays:  # rare: write the file again without them
            kept = Path(os.fspath(target) + ".kept")
            con.execute(
                f"COPY (SELECT * FROM read_parquet({_literal(target)}) "  # noqa: S608
                "WHERE eventtype IS NOT NULL OR notificationtype IS NOT NULL) "
                f"TO {_literal(kept)} ({_copy_options(compression)})"
            )
            os.replace(kept, target)
        return int(rows) - int(strays)
    finally:
        con.close()


def rows_to_parquet(
    rows: Iterable[Mapping[str, Any]],
    schema: Struct,
    target: str | os.PathLike[str],
    *,
    compression: Compression = "snappy",
) -> int:
    """Write ``rows`` (dicts keyed by the names of ``schema``, as Parquet will name them) to ``target``, typed
    by ``schema``; returns the number of rows."""
    columns = duckdb_columns(schema)
    with tempfile.TemporaryDirectory(prefix="sesflow-rows-") as folder:
        staged = Path(folder) / "rows.ndjson"
        with open(staged, "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, separators=(",", ":")) + "\n")
        spec = "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in columns.items()) + "}"
        con = _connect()
        try:
            select = ", ".join(_quote(name) for name in columns)
            sql = (
                f"COPY (SELECT {select} FROM read_json({_literal(staged)}, format = 'newline_delimited', "  # noqa: S608
                f"columns = {spec})) TO {_literal(target)} ({_copy_options(compression)})"
            )
            (count,) = con.execute(sql).fetchone()
            return int(count)
        finally:
            con.close()


def iter_parquet_rows(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The rows of one Parquet file, one dict each (streamed in chunks, never the whole file at once)."""
    con = _connect()
    try:
        cursor = con.execute(f"SELECT * FROM read_parquet({_literal(path)})")  # noqa: S608
        names = [column[0] for column in cursor.description]
        while True:
            chunk = cursor.fetchmany(_ROWS_PER_FETCH)
            if not chunk:
                return
            for values in chunk:
                yield dict(zip(names, values, strict=True))
    finally:
        con.close()


def _literal(value: str | os.PathLike[str]) -> str:
    return quote(os.fspath(value))
