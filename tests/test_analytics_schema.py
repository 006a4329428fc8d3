"""The Athena table is generated from the models: every model field appears with a compatible type."""

from __future__ import annotations

import re
import typing
from typing import Any

import attrs
import pytest

from sesflow.analytics import athena_ddl, duckdb_columns, table_schema
from sesflow.analytics.schema import TRINO_RESERVED, Array, MapOf, Scalar, Struct, athena_name
from sesflow.events import EVENT_CLASSES, Mail

from ._hive_types import compatible, expected_type, parse_ddl


@pytest.mark.parametrize("timestamps", ["string", "timestamp"])
def test_every_model_field_appears_with_a_compatible_type(timestamps: str) -> None:
    columns, mappings, partitions = parse_ddl(
        athena_ddl("ses", "s3://bucket/events/", timestamps=timestamps)  # type: ignore[arg-type]
    )
    assert partitions == ["year", "month", "day"]
    assert columns.pop("eventType") == ("string", None)
    assert columns.pop("notificationType") == ("string", None)
    compatible(expected_type(Mail), columns.pop("mail"), mappings, "mail")
    for cls in EVENT_CLASSES:
        detail = next(f for f in attrs.fields(cls) if f.metadata.get("ses") == cls.DETAIL_KEY)
        expected = expected_type(typing.get_type_hints(cls)[detail.name])
        if expected == ("struct", {}):
            assert cls.DETAIL_KEY not in columns  # "send" is always {}: nothing to store
            continue
        compatible(expected, columns.pop(cls.DETAIL_KEY), mappings, cls.DETAIL_KEY)  # type: ignore[arg-type]
    assert columns == {}, f"columns the models do not have: {sorted(columns)}"
    timestamp_types = re.findall(r"`timestamp`:(\w+)", athena_ddl(timestamps=timestamps))  # type: ignore[arg-type]
    assert set(timestamp_types) == {timestamps}


def test_reserved_words_are_mapped_back_to_ses_keys() -> None:
    ddl = athena_ddl("ses", "s3://bucket/events/")
    columns, mappings, _ = parse_ddl(ddl)
    assert mappings == {"from_": "from"}
    common = columns["mail"][1]["commonHeaders"][1]
    assert "from_" in common
    assert "from" not in common
    for name in re.findall(r"`(\w+)`:", ddl) + re.findall(r"^\s*`(\w+)` ", ddl, re.MULTILINE):
        assert name.lower() not in TRINO_RESERVED, name
    assert athena_name("ses:configuration-set") == "ses_configuration_set"
    assert athena_name("select") == "select_"
    assert athena_name("messageId") == "messageId"


def test_ddl_shape_and_options() -> None:
    ddl = athena_ddl("ses_events", "s3://my-bucket/events", database="mail", ignore_malformed_json=True)
    assert ddl.startswith("CREATE EXTERNAL TABLE IF NOT EXISTS `mail`.`ses_events` (\n")
    assert "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'" in ddl
    assert "'ignore.malformed.json' = 'true'" in ddl
    assert "LOCATION 's3://my-bucket/events/'" in ddl
    assert "TBLPROPERTIES" not in ddl
    assert ddl.count("(") == ddl.count(")")
    assert ddl.count("<") == ddl.count(">")
    projected = athena_ddl(
        "t", "s3://b/p/", partition_projection=True, projection_years=(2022, 2030), if_not_exists=False
    )
    assert projected.startswith("CREATE EXTERNAL TABLE `t` (")
    properties = dict(re.findall(r"'(projection\.[^']+|storage\.location\.template)' = '([^']+)'", projected))
    assert properties == {
        "projection.enabled": "true",
        "projection.year.type": "integer",
        "projection.year.range": "2022,2030",
        "projection.month.type": "integer",
        "projection.month.range": "1,12",
        "projection.month.digits": "2",
        "projection.day.type": "integer",
        "projection.day.range": "1,31",
        "projection.day.digits": "2",
        "storage.location.template": "s3://b/p/year=${year}/month=${month}/day=${day}/",
    }
    with pytest.raises(ValueError, match="s3://"):
        athena_ddl("t", "/local/folder")


def test_the_duckdb_columns_are_the_same_tree() -> None:
    columns = duckdb_columns()
    assert list(columns) == [f.key for f in table_schema().fields]
    assert columns["eventType"] == "VARCHAR"
    assert '"tags" MAP(VARCHAR, VARCHAR[])' in columns["mail"]
    assert (
        '"bouncedRecipients" STRUCT("emailAddress" VARCHAR, "action" VARCHAR, "status" VARCHAR'
        in columns["bounce"]
    )
    assert '"processingTimeMillis" BIGINT' in columns["delivery"]
    assert (
        '"from" VARCHAR[]' in columns["mail"]
    )  # DuckDB reads SES's own key: no reserved-word mapping needed


def test_select_keeps_only_the_paths_asked_for() -> None:
    schema = table_schema().select(
        [("mail", "messageId"), ("bounce", "bouncedRecipients", "emailAddress"), ("open",)]
    )
    assert [f.key for f in schema.fields] == ["mail", "bounce", "open"]
    mail = schema.field("mail").type
    assert isinstance(mail, Struct)
    assert mail.fields[0].key == "messageId"
    assert len(mail.fields) == 1
    recipients = schema.field("bounce").type
    assert isinstance(recipients, Struct)
    array = recipients.field("bouncedRecipients").type
    assert isinstance(array, Array)
    assert isinstance(array.item, Struct)
    assert [f.key for f in array.item.fields] == ["emailAddress"]
    assert schema.field("open").type == table_schema().field("open").type  # a whole subtree
    with pytest.raises(KeyError):
        table_schema().select([("mail", "nope")])
    with pytest.raises(ValueError, match="cannot select"):
        table_schema().select([("mail", "timestamp", "deeper")])


def test_the_duckdb_table_reads_every_sample_record(tmp_path: Any) -> None:
    duckdb = pytest.importorskip("duckdb", reason="the analytics extra is not installed")
    import json

    from sesflow.testing import sample_records

    path = tmp_path / "samples.ndjson"
    samples = [r for r in sample_records().values()]
    path.write_text("".join(json.dumps(r) + "\n" for r in samples))
    spec = "{" + ", ".join(f"'{k}': '{v}'" for k, v in duckdb_columns().items()) + "}"
    rows = duckdb.sql(
        f'SELECT coalesce(eventType, notificationType), mail.messageId, mail.commonHeaders."from"[1], '
        f"bounce.bouncedRecipients[1].emailAddress FROM read_json('{path}', format='newline_delimited', "
        f"columns={spec})"
    ).fetchall()
    assert len(rows) == len(samples)
    bounce = next(r for r, s in zip(rows, samples, strict=True) if s.get("eventType") == "Bounce")
    record = next(s for s in samples if s.get("eventType") == "Bounce")
    assert bounce == (
        "Bounce",
        record["mail"]["messageId"],
        record["mail"]["commonHeaders"]["from"][0],
        record["bounce"]["bouncedRecipients"][0]["emailAddress"],
    )


def test_scalar_leaves() -> None:
    leaves = set()

    def walk(t: Any) -> None:
        if isinstance(t, Scalar):
            leaves.add(t.name)
        elif isinstance(t, Array):
            walk(t.item)
        elif isinstance(t, MapOf):
            walk(t.key)
            walk(t.value)
        else:
            for f in t.fields:
                walk(f.type)

    walk(table_schema())
    assert leaves == {"string", "bigint", "boolean", "timestamp"}
