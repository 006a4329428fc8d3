"""The Parquet lake's AWS configuration: the Glue table generated from the models and the Firehose record
format conversion that reads it, checked against the operation shapes of botocore's service models, against
moto in server mode (which stores and echoes what it accepts: it checks no constraint itself), and against the
rules AWS documents for format conversion."""

from __future__ import annotations

import re
import typing
import uuid
from typing import Any

import attrs
import boto3
import botocore.session
import pytest
from botocore.validate import ParamValidator

from sesflow.analytics import athena_ddl, glue_columns, glue_table_input
from sesflow.analytics.schema import glue_key_mappings, glue_name, parse_glue_type
from sesflow.events import EVENT_CLASSES, Mail
from sesflow.provisioning import (
    FIREHOSE_PARQUET_PREFIX,
    FIREHOSE_PREFIX,
    Provisioner,
    firehose_s3_destination,
    glue_table_name,
    parquet_conversion,
    policies,
)

from ._hive_types import compatible, expected_type, parse_ddl, parse_type
from ._local_ses_support import unique

ROLE = "arn:aws:iam::123456789012:role/orders-events-firehose"


# --- the Glue table, from the models ------------------------------------------------------------------------


def test_the_glue_columns_are_every_model_field_under_lower_case_names() -> None:
    columns = {c["Name"]: parse_type(c["Type"]) for c in glue_columns()}
    mappings = glue_key_mappings()
    assert mappings == {"from_": "from"}  # the one SES key that is a reserved word in Trino
    assert columns.pop("eventtype") == ("string", None)
    assert columns.pop("notificationtype") == ("string", None)
    compatible(expected_type(Mail), columns.pop("mail"), mappings, "mail", lower=True)
    for cls in EVENT_CLASSES:
        detail = next(f for f in attrs.fields(cls) if f.metadata.get("ses") == cls.DETAIL_KEY)
        expected = expected_type(typing.get_type_hints(cls)[detail.name])
        if expected == ("struct", {}):
            continue  # "send" is always {}: no column
        assert cls.DETAIL_KEY is not None
        compatible(expected, columns.pop(cls.DETAIL_KEY.lower()), mappings, cls.DETAIL_KEY, lower=True)
    assert columns == {}
    assert (
        "commonheaders:struct<from_:array<string>"
        in dict((c["Name"], c["Type"]) for c in glue_columns())["mail"]
    )
    assert all("`" not in c["Type"] and " " not in c["Type"] for c in glue_columns())


def test_the_parquet_ddl_declares_the_glue_columns() -> None:
    ddl = athena_ddl("ses_events", "s3://lake/parquet", layout="parquet", partition_projection=True)
    columns, serde_mappings, partitions = parse_ddl(ddl)
    assert columns == {c["Name"]: parse_type(c["Type"]) for c in glue_columns()}
    assert serde_mappings == {}  # Parquet is read by name: no SerDe mapping
    assert partitions == ["year", "month", "day"]
    assert "STORED AS PARQUET\nLOCATION 's3://lake/parquet/'" in ddl
    assert "'storage.location.template' = 's3://lake/parquet/year=${year}/month=${month}/day=${day}/'" in ddl
    assert "JsonSerDe" not in ddl
    with pytest.raises(ValueError, match="text"):
        athena_ddl(layout="parquet", timestamps="timestamp")
    with pytest.raises(ValueError, match="layout"):
        athena_ddl(layout="orc")  # type: ignore[arg-type]


def test_the_table_input() -> None:
    table = glue_table_input("orders_events", "s3://lake/parquet", projection_years=(2024, 2030))
    assert table["Name"] == "orders_events"
    assert table["TableType"] == "EXTERNAL_TABLE"
    storage = table["StorageDescriptor"]
    assert storage["Location"] == "s3://lake/parquet/"
    assert storage["SerdeInfo"]["SerializationLibrary"] == (
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    )
    assert storage["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert storage["OutputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    assert storage["Columns"] == glue_columns()
    assert table["PartitionKeys"] == [{"Name": k, "Type": "string"} for k in ("year", "month", "day")]
    parameters = table["Parameters"]
    assert parameters["classification"] == "parquet"
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.year.range"] == "2024,2030"
    assert (
        parameters["storage.location.template"] == "s3://lake/parquet/year=${year}/month=${month}/day=${day}/"
    )
    assert "projection.enabled" not in glue_table_input(partition_projection=False)["Parameters"]
    with pytest.raises(ValueError, match="s3://"):
        glue_table_input("t", "/local/folder")
    with pytest.raises(ValueError, match="first <= last"):
        glue_table_input(projection_years=(2030, 2020))


def test_glue_names() -> None:
    assert glue_name("messageId") == "messageid"
    assert glue_name("from") == "from_"
    assert glue_name("deliveryDelay") == "deliverydelay"
    assert glue_table_name("Orders-EU") == "orders_eu_events"


def test_the_glue_type_parser_reads_every_column_back() -> None:
    for column in glue_columns():
        tree = parse_glue_type(column["Type"])
        # The same type string again, from the parsed tree: nothing was lost on the way.
        assert _render(tree) == column["Type"]
    assert _render(parse_glue_type("struct<a:varchar(10),b:array<map<string,int>>,c:float>")) == (
        "struct<a:string,b:array<map<string,bigint>>,c:double>"
    )


def _render(tp: Any) -> str:
    from sesflow.analytics.schema import Array, MapOf, Scalar

    if isinstance(tp, Scalar):
        return tp.name
    if isinstance(tp, Array):
        return f"array<{_render(tp.item)}>"
    if isinstance(tp, MapOf):
        return f"map<{_render(tp.key)},{_render(tp.value)}>"
    return "struct<" + ",".join(f"{f.key}:{_render(f.type)}" for f in tp.fields) + ">"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "struct<",
        "struct<a string>",
        "struct<a:string;b:int>",
        "array<string",
        "map<string>",
        "decimal(10,2)",
        "binary",
        "uniontype<int,string>",
        "string extra",
        "struct<a:string>>",
        "array<@>",
    ],
)
def test_the_glue_type_parser_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError, match=r"type|expected|unexpected"):
        parse_glue_type(text)


# --- botocore's service models ------------------------------------------------------------------------------


def _python_pattern(pattern: str) -> str:
    """An AWS model pattern (Java syntax; a whole-value match) for Python's ``re``: UTF-16 surrogate pairs
    become the code points they stand for."""
    pattern = pattern.replace("\\uD800\\uDC00-\\uDBFF\\uDFFF", "\\U00010000-\\U0010FFFF")
    return pattern.removeprefix("^").removesuffix("$")


def _constraints(value: Any, shape: Any, path: str) -> list[str]:
    """What ParamValidator leaves out: maximum lengths and values, patterns and enums, at every depth."""
    problems = []
    meta = shape.metadata
    kind = shape.type_name
    if kind == "string":
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: longer than {meta['max']}")
        if "pattern" in meta and not re.fullmatch(_python_pattern(meta["pattern"]), value, re.DOTALL):
            problems.append(f"{path}: {value[:40]!r} does not match {meta['pattern']}")
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} not in {shape.enum}")
    elif kind in ("integer", "long"):
        if "max" in meta and value > meta["max"]:
            problems.append(f"{path}: more than {meta['max']}")
    elif kind == "list":
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: more than {meta['max']} items")
        for i, item in enumerate(value):
            problems += _constraints(item, shape.member, f"{path}[{i}]")
    elif kind == "map":
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: more than {meta['max']} entries")
        for k, v in value.items():
            problems += _constraints(k, shape.key, f"{path}{{key {k}}}")
            problems += _constraints(v, shape.value, f"{path}.{k}")
    elif kind == "structure":
        for name, item in value.items():
            problems += _constraints(item, shape.members[name], f"{path}.{name}")
    return problems


def check_against_the_model(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    report = ParamValidator().validate(params, model.input_shape)
    problems = [report.generate_report()] if report.has_errors() else []
    return problems + _constraints(params, model.input_shape, operation)


def _stream_params(
    conversion: dict[str, Any] | None, prefix: str = FIREHOSE_PARQUET_PREFIX
) -> dict[str, Any]:
    return {
        "DeliveryStreamName": "orders-events",
        "DeliveryStreamType": "DirectPut",
        "ExtendedS3DestinationConfiguration": firehose_s3_destination(
            "lake-bucket", ROLE, prefix=prefix, conversion=conversion
        ),
    }


def test_the_glue_calls_fit_the_glue_model() -> None:
    assert check_against_the_model("glue", "CreateDatabase", {"DatabaseInput": {"Name": "sesflow"}}) == []
    table = glue_table_input("orders_events", "s3://lake-bucket/parquet/")
    for operation in ("CreateTable", "UpdateTable"):
        params = {"DatabaseName": "sesflow", "TableInput": table}
        assert check_against_the_model("glue", operation, params) == []


def test_the_firehose_calls_fit_the_firehose_model() -> None:
    conversion = parquet_conversion("sesflow", "orders_events", ROLE, "eu-west-1")
    assert check_against_the_model("firehose", "CreateDeliveryStream", _stream_params(conversion)) == []
    assert (
        check_against_the_model("firehose", "CreateDeliveryStream", _stream_params(None, FIREHOSE_PREFIX))
        == []
    )
    update = {k: v for k, v in _stream_params(conversion)["ExtendedS3DestinationConfiguration"].items()}
    del update["RoleARN"], update["BucketARN"]
    params = {
        "DeliveryStreamName": "orders-events",
        "CurrentDeliveryStreamVersionId": "1",
        "DestinationId": "destinationId-000000000001",
        "ExtendedS3DestinationUpdate": update,
    }
    assert check_against_the_model("firehose", "UpdateDestination", params) == []


def test_the_model_check_catches_what_aws_would_refuse() -> None:
    conversion = parquet_conversion("sesflow", "orders events", ROLE, "eu-west-1")  # a space: pattern ^\S+$
    conversion["InputFormatConfiguration"]["Deserializer"]["OpenXJsonSerDe"]["ColumnToJsonKeyMappings"] = {
        "bad key": "from"
    }
    conversion["OutputFormatConfiguration"]["Serializer"]["ParquetSerDe"]["Compression"] = "LZ4"
    problems = check_against_the_model("firehose", "CreateDeliveryStream", _stream_params(conversion))
    assert any("TableName" in p and "does not match" in p for p in problems)
    assert any("{key bad key}" in p for p in problems)
    assert any("'LZ4' not in" in p for p in problems)
    table = glue_table_input()
    table["StorageDescriptor"]["Columns"][0]["Type"] = "x" * 200_000
    assert check_against_the_model("glue", "CreateTable", {"DatabaseName": "db", "TableInput": table})
    missing = check_against_the_model("glue", "CreateTable", {"TableInput": glue_table_input()})
    assert "DatabaseName" in missing[0]


def test_the_conversion_follows_the_documented_rules() -> None:
    """Record format conversion: S3 compression off (Parquet compresses its pages), a buffer of at least 64
    MiB, the three parts (schema, deserializer, serializer), the OpenX SerDe lower-casing keys so camelCase
    JSON meets Glue's lower-case names, and the renamed reserved word mapped back."""
    destination = firehose_s3_destination(
        "lake-bucket",
        ROLE,
        prefix=FIREHOSE_PARQUET_PREFIX,
        conversion=parquet_conversion("db", "t", ROLE, "us-east-1"),
    )
    assert destination["CompressionFormat"] == "UNCOMPRESSED"
    assert destination["BufferingHints"]["SizeInMBs"] >= 64
    conversion = destination["DataFormatConversionConfiguration"]
    assert conversion["Enabled"] is True
    assert conversion["SchemaConfiguration"] == {
        "DatabaseName": "db",
        "TableName": "t",
        "RoleARN": ROLE,
        "Region": "us-east-1",
        "VersionId": "LATEST",
    }
    openx = conversion["InputFormatConfiguration"]["Deserializer"]["OpenXJsonSerDe"]
    assert openx["CaseInsensitive"] is True
    assert openx["ColumnToJsonKeyMappings"] == {"from_": "from"}
    assert conversion["OutputFormatConfiguration"]["Serializer"] == {
        "ParquetSerDe": {"Compression": "SNAPPY"}
    }
    assert destination["Prefix"].startswith("parquet/year=!{timestamp:yyyy}/")
    plain = firehose_s3_destination("lake-bucket", ROLE)
    assert plain["CompressionFormat"] == "GZIP"
    assert "DataFormatConversionConfiguration" not in plain


def test_the_glue_policy_names_one_table() -> None:
    document = policies.firehose_glue_policy("eu-west-1", "111122223333", "sesflow", "orders_events")
    (statement,) = document["Statement"]
    assert statement["Action"] == ["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"]
    assert statement["Resource"] == [
        "arn:aws:glue:eu-west-1:111122223333:catalog",
        "arn:aws:glue:eu-west-1:111122223333:database/sesflow",
        "arn:aws:glue:eu-west-1:111122223333:table/sesflow/orders_events",
    ]
    merged = policies.merge_policies(policies.firehose_s3_policy("lake"), document)
    assert [s["Sid"] for s in merged["Statement"]] == ["FindBucket", "WriteEvents", "ReadTheLakeSchema"]


# --- moto in server mode ------------------------------------------------------------------------------------


def test_the_parquet_pipeline_on_moto(provisioner: Provisioner) -> None:
    cs, bucket, database = unique("cs"), unique("lake"), f"db_{uuid.uuid4().hex[:8]}"
    first = provisioner.ensure_firehose_s3_pipeline(
        cs, bucket, destination_name=cs, lake="parquet", glue_database=database
    )
    assert [(r.kind, r.status) for r in first.resources] == [
        ("configuration-set", "created"),
        ("s3-bucket", "created"),
        ("glue-database", "created"),
        ("glue-table", "created"),
        ("iam-role", "created"),
        ("firehose-stream", "created"),
        ("iam-role", "created"),
        ("event-destination:firehose", "created"),
    ]
    assert first.location == f"s3://{bucket}/parquet/"
    again = provisioner.ensure_firehose_s3_pipeline(
        cs, bucket, destination_name=cs, lake="parquet", glue_database=database
    )
    assert {r.status for r in again.resources} == {"exists"}

    glue = provisioner.client("glue")
    table = glue.get_table(DatabaseName=database, Name=glue_table_name(cs))["Table"]
    assert table["StorageDescriptor"]["Columns"] == glue_columns()
    assert table["StorageDescriptor"]["Location"] == f"s3://{bucket}/parquet/"
    assert table["Parameters"]["projection.enabled"] == "true"

    stream = provisioner.client("firehose").describe_delivery_stream(DeliveryStreamName=f"{cs}-events")
    s3 = stream["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert s3["Prefix"] == FIREHOSE_PARQUET_PREFIX
    assert s3["CompressionFormat"] == "UNCOMPRESSED"
    conversion = s3["DataFormatConversionConfiguration"]
    assert conversion["SchemaConfiguration"]["TableName"] == glue_table_name(cs)
    assert conversion["SchemaConfiguration"]["RoleARN"] == first.firehose_role.arn
    role = provisioner.client("iam").get_role_policy(RoleName=f"{cs}-events-firehose", PolicyName="sesflow")
    statements = role["PolicyDocument"]["Statement"]
    assert statements[-1]["Resource"][-1].endswith(f":table/{database}/{glue_table_name(cs)}")

    deleted = provisioner.teardown(first.resources)
    assert {r.kind for r in deleted} >= {"glue-table", "glue-database"}
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_database(Name=database)


def test_an_ndjson_stream_is_switched_to_parquet_in_place(provisioner: Provisioner) -> None:
    cs, bucket = unique("cs"), unique("lake")
    before = provisioner.ensure_firehose_s3_pipeline(cs, bucket, destination_name=cs)
    assert before.delivery_stream.details["format"] == "ndjson"
    after = provisioner.ensure_firehose_s3_pipeline(cs, bucket, destination_name=cs, lake="parquet")
    assert after.delivery_stream.status == "updated"
    assert after.firehose_role.status == "updated"  # it may now read the Glue table
    description = provisioner.client("firehose").describe_delivery_stream(DeliveryStreamName=f"{cs}-events")
    s3 = description["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert s3["Prefix"] == FIREHOSE_PARQUET_PREFIX
    assert s3["DataFormatConversionConfiguration"]["Enabled"] is True
    back = provisioner.ensure_firehose_s3_pipeline(cs, bucket, destination_name=cs)
    assert back.delivery_stream.status == "updated"
    description = provisioner.client("firehose").describe_delivery_stream(DeliveryStreamName=f"{cs}-events")
    s3 = description["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert s3["Prefix"] == FIREHOSE_PREFIX
    assert s3["DataFormatConversionConfiguration"]["Enabled"] is False


def test_a_table_that_lacks_a_column_is_updated(provisioner: Provisioner) -> None:
    database, bucket = f"db_{uuid.uuid4().hex[:8]}", unique("lake")
    provisioner.ensure_glue_database(database)
    older = glue_table_input("events", f"s3://{bucket}/parquet/")
    older["StorageDescriptor"]["Columns"] = older["StorageDescriptor"]["Columns"][
        :-1
    ]  # before a field was added
    assert provisioner.ensure_glue_table(database, older).status == "created"
    current = glue_table_input("events", f"s3://{bucket}/parquet/")
    assert provisioner.ensure_glue_table(database, current).status == "updated"
    assert provisioner.ensure_glue_table(database, current).status == "exists"
    table = provisioner.client("glue").get_table(DatabaseName=database, Name="events")["Table"]
    assert table["StorageDescriptor"]["Columns"] == glue_columns()


def test_the_dry_run_plans_the_glue_table() -> None:
    dry = Provisioner(boto3.session.Session(region_name="eu-west-1"), dry_run=True)
    pipeline = dry.ensure_firehose_s3_pipeline("orders", "lake", lake="parquet")
    planned = {r.kind: r for r in pipeline.resources}
    assert planned["glue-table"].arn == "arn:aws:glue:eu-west-1:123456789012:table/sesflow/orders_events"
    assert planned["glue-table"].details["location"] == "s3://lake/parquet/"
    assert planned["firehose-stream"].details == {"prefix": FIREHOSE_PARQUET_PREFIX, "format": "parquet"}
    with pytest.raises(ValueError, match="ndjson"):
        dry.ensure_firehose_s3_pipeline("orders", "lake", lake="orc")  # type: ignore[arg-type]
