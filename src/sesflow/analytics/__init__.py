"""Email analytics: the Firehose → S3 event lake, its Athena table, and reports (extra ``analytics``).

- ``Lake`` reads a lake laid out as Firehose writes it (``year=YYYY/month=MM/day=DD/`` NDJSON, gzip or
  not, or Parquet), locally or in S3, pruned by date; ``LakeWriter`` builds one from any source of
  events; ``compact_lake`` turns an NDJSON lake into the Parquet layout, incrementally.
- ``athena_ddl`` is the ``CREATE EXTERNAL TABLE`` statement generated from the event models (for either
  layout), ``glue_table_input`` the Glue table Firehose converts records to Parquet with, and
  ``report_sql`` the report query for Athena (or DuckDB), which reads either table.
- ``build_report`` counts sends, deliveries, bounces, complaints, opens, clicks... by configuration set,
  sender, recipient domain, message tag or day, with rates against the thresholds AWS reviews accounts by;
  ``Report`` renders as JSON, CSV and a self-contained HTML page.

DuckDB (the ``analytics`` extra) is imported only when a report runs with ``engine="duckdb"``, and to read or
write Parquet.
"""

from __future__ import annotations

from .._public import publish
from .compact import CompactionResult, compact_lake
from .lake import DEFAULT_ARRIVAL_LAG, Lake, LakeError, LakeFile, TimeRange, partition_path
from .metrics import AWS_THRESHOLDS_SOURCE, GroupRow, Metrics, Status, Thresholds
from .queries import ATHENA, DUCKDB, Dialect, Dimension, report_columns, report_sql
from .report import Engine, Report, build_report
from .schema import Layout, athena_ddl, duckdb_columns, glue_columns, glue_table_input, table_schema
from .writer import LakeWriter, recover_incomplete

__all__ = [
    # the lake
    "Lake",
    "LakeFile",
    "LakeWriter",
    "LakeError",
    "TimeRange",
    "DEFAULT_ARRIVAL_LAG",
    "partition_path",
    "recover_incomplete",
    "compact_lake",
    "CompactionResult",
    "Layout",
    # Athena and SQL
    "athena_ddl",
    "glue_table_input",
    "glue_columns",
    "table_schema",
    "duckdb_columns",
    "report_sql",
    "report_columns",
    "Dialect",
    "ATHENA",
    "DUCKDB",
    # reports
    "build_report",
    "Report",
    "Metrics",
    "GroupRow",
    "Dimension",
    "Thresholds",
    "Status",
    "Engine",
    "AWS_THRESHOLDS_SOURCE",
]


publish(__name__, __all__, globals())
