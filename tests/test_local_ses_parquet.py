"""LocalSes writes the Parquet layout a stream with record format conversion writes: rows of the stream's Glue
table (read from the moto server), keys lower-cased by the OpenX JSON SerDe. The same sends land as NDJSON
through a second stream; both lakes, and the NDJSON lake compacted, give the same report (by tenant too: a
tenant is the ``ses:tenant-name`` tag LocalSes adds to the events of a v2 send naming one)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb", reason="the analytics extra is not installed")

from sesflow import Email
from sesflow.analytics import Lake, build_report, compact_lake
from sesflow.analytics.schema import Field, Struct, glue_columns, parse_glue_type
from sesflow.events import to_dict
from sesflow.provisioning import FIREHOSE_PARQUET_PREFIX, Provisioner, parquet_conversion
from sesflow.testing import LocalSes, LocalSesError
from sesflow.testing._local_core import firehose_row

from ._local_ses_support import SIM, unique

DIMENSIONS = [None, "configuration-set", "tenant", "tag:campaign", "recipient-domain", "sender", "day"]
# The tenant of each of _send's ten messages (by index): acme's are success, bounce and complaint, globex's
# success and bounce; the rest are sent for no tenant.
TENANTS = {0: "acme", 1: "acme", 2: "acme", 5: "globex", 6: "globex"}


@pytest.fixture
def local(moto_server: str) -> Any:
    with LocalSes(moto_server, seed=17, open_rate=0.5, click_rate=0.4) as simulator:
        yield simulator


def _both_lakes(local: LocalSes) -> tuple[str, str, str]:
    """A configuration set publishing to an NDJSON stream and to a Parquet stream of one bucket."""
    cs, bucket = unique("cs"), unique("lake")
    provisioner = Provisioner(local.session(), endpoint_url=local.endpoint_url, api="v1")
    provisioner.ensure_firehose_s3_pipeline(cs, bucket, destination_name=unique("nd"))
    provisioner.ensure_firehose_s3_pipeline(
        cs, bucket, stream_name=f"{cs}-parquet", destination_name=unique("pq"), lake="parquet"
    )
    local.client("ses").verify_domain_identity(Domain="example.com")
    return cs, bucket, f"{cs}-parquet"


def _send(local: LocalSes, cs: str) -> None:
    html = '<p>Hi</p><a href="https://example.com/offer">offer</a>'
    # moto answers no GetTenant: the client does not check that the tenants exist.
    with local.ses_client(cs, verify_tenant=False) as ses:
        for i, to in enumerate(
            [f"success@{SIM}", f"bounce@{SIM}", f"complaint@{SIM}", "ann@a.example", "bob@b.example"] * 2
        ):
            ses.send(
                Email(
                    "Shop <shop@example.com>",
                    to,
                    subject=f"Order {i}",
                    text="Thanks",
                    html=html,
                    tags={"campaign": f"c{i % 2}"},
                    tenant=TENANTS.get(i),
                )
            )


def _records(lake: Lake) -> Counter[str]:
    out: Counter[str] = Counter()
    for item in lake.iter_items():
        assert item.ok, item.error
        out[json.dumps(to_dict(item.record), sort_keys=True)] += 1  # type: ignore[arg-type]
    return out


def test_the_parquet_lake_gives_the_ndjson_lakes_report(local: LocalSes, tmp_path: Path) -> None:
    cs, bucket, stream = _both_lakes(local)
    _send(local, cs)
    s3 = local.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    parquet_keys = [k for k in keys if k.startswith("parquet/")]
    assert parquet_keys
    assert all(k.endswith(".parquet") and f"/{stream}-1-" in k for k in parquet_keys)
    body = s3.get_object(Bucket=bucket, Key=parquet_keys[0])["Body"].read()
    assert body[:4] == b"PAR1"

    ndjson = Lake(f"s3://{bucket}/events/", s3_client=s3)
    parquet = Lake(f"s3://{bucket}/parquet/", s3_client=s3)
    cache = tmp_path / "cache"  # each object is downloaded once for all the reports
    for by in DIMENSIONS:
        expected = build_report(ndjson, by=by, cache_dir=cache)
        assert expected.total.sent == 10
        got = build_report(parquet, by=by, cache_dir=cache)
        assert (got.total, got.groups, got.daily) == (expected.total, expected.groups, expected.daily)
    python = build_report(parquet, by="tag:campaign", engine="python")
    expected = build_report(ndjson, by="tag:campaign", cache_dir=cache)
    assert python.total.opens_unique == expected.total.opens_unique > 0
    assert [(g.key, g.metrics.sent) for g in python.groups] == [
        (g.key, g.metrics.sent) for g in expected.groups
    ]
    # By tenant, what the simulator makes certain: acme sent to success, bounce and complaint; globex to
    # success and bounce; no tenant to complaint and the four readers (delivered). Both engines read the
    # Parquet lake Firehose wrote.
    for engine in ("duckdb", "python"):
        tenants = build_report(parquet, by="tenant", engine=engine, cache_dir=cache)  # type: ignore[arg-type]
        certain = {
            g.key: (g.metrics.sent, g.metrics.delivered, g.metrics.hard_bounces, g.metrics.complaints)
            for g in tenants.groups
        }
        assert certain == {"acme": (3, 2, 1, 1), "globex": (2, 1, 1, 0), None: (5, 5, 0, 1)}, engine

    # Firehose's rows and compaction's rows are the same rows, in files of the same schema.
    compacted = tmp_path / "compacted"
    compact_lake(ndjson, compacted)
    assert _records(Lake(compacted)) == _records(parquet)
    import duckdb

    firehose_file = tmp_path / "firehose.parquet"
    firehose_file.write_bytes(body)
    ours = next(compacted.rglob("*.parquet"))

    def schema(path: Path) -> list[Any]:
        return duckdb.sql(
            f"DESCRIBE SELECT * FROM read_parquet('{path}', hive_partitioning = false)"
        ).fetchall()

    assert schema(firehose_file) == schema(ours)


def test_firehose_lower_cases_tag_names(local: LocalSes) -> None:
    """The OpenX SerDe lower-cases every JSON key before it reads it, map keys included: on a lake Firehose
    converted, a tag is found under its lower-case name (the compaction of an NDJSON lake keeps tags as SES
    wrote them)."""
    cs, bucket, _ = _both_lakes(local)
    with local.ses_client(cs) as ses:
        ses.send(
            Email("shop@example.com", f"success@{SIM}", subject="s", text="t", tags={"Campaign": "Spring"})
        )
    s3 = local.client("s3")
    parquet = Lake(f"s3://{bucket}/parquet/", s3_client=s3)
    ndjson = Lake(f"s3://{bucket}/events/", s3_client=s3)
    assert [g.key for g in build_report(parquet, by="tag:campaign").groups] == ["Spring"]
    assert [g.key for g in build_report(parquet, by="tag:Campaign").groups] == [None]
    assert [g.key for g in build_report(ndjson, by="tag:Campaign").groups] == ["Spring"]


def test_the_row_firehose_makes_of_a_record() -> None:
    schema = Struct(tuple(Field(c["Name"], parse_glue_type(c["Type"])) for c in glue_columns()))
    record = {
        "eventType": "Click",
        "Unknown": 1,
        "mail": {
            "messageId": "m-1",
            "destination": "solo@a.example",  # not an array: read as an array of one
            "headersTruncated": "true",
            "commonHeaders": {"from": ["a@b.example"], "subject": "S"},
            "tags": {"Campaign": ["x"], "ses:configuration-set": ["cs"]},
        },
        "click": {"link": "https://e.example", "linkTags": {"Kind": ["cta"]}, "timestamp": 5},
    }
    row = firehose_row(record, schema, mappings={"from_": "from"})
    assert row["eventtype"] == "Click"
    assert row["notificationtype"] is None
    assert "unknown" not in row
    mail = row["mail"]
    assert mail["messageid"] == "m-1"
    assert mail["destination"] == ["solo@a.example"]
    assert mail["headerstruncated"] is True
    assert mail["commonheaders"]["from_"] == ["a@b.example"]
    assert mail["tags"] == {"campaign": ["x"], "ses:configuration-set": ["cs"]}
    assert row["click"]["linktags"] == {"kind": ["cta"]}
    assert row["click"]["timestamp"] == "5"  # a number where the table has text: its JSON text
    assert row["bounce"] is None
    exact = firehose_row(record, schema, case_insensitive=False, mappings={"messageid": "messageId"})
    assert exact["eventtype"] is None  # "eventType" is not "eventtype" when case matters
    assert exact["mail"]["messageid"] == "m-1"
    assert exact["mail"]["tags"] == {"Campaign": ["x"], "ses:configuration-set": ["cs"]}
    assert firehose_row({"mail": "not an object"}, schema)["mail"] is None


def test_a_stream_converting_to_orc_or_without_its_table(local: LocalSes) -> None:
    cs, bucket = unique("cs"), unique("lake")
    provisioner = Provisioner(local.session(), endpoint_url=local.endpoint_url, api="v1")
    pipeline = provisioner.ensure_firehose_s3_pipeline(
        cs, bucket, destination_name=unique("pq"), lake="parquet"
    )
    local.client("ses").verify_domain_identity(Domain="example.com")
    firehose = local.client("firehose")

    def reconfigure(conversion: dict[str, Any]) -> None:
        description = firehose.describe_delivery_stream(DeliveryStreamName=pipeline.delivery_stream.name)
        stream = description["DeliveryStreamDescription"]
        firehose.update_destination(
            DeliveryStreamName=pipeline.delivery_stream.name,
            CurrentDeliveryStreamVersionId=stream["VersionId"],
            DestinationId=stream["Destinations"][0]["DestinationId"],
            ExtendedS3DestinationUpdate={"DataFormatConversionConfiguration": conversion},
        )

    conversion = parquet_conversion(
        "sesflow", "missing_table", "arn:aws:iam::123456789012:role/r", "us-east-1"
    )
    reconfigure(conversion)
    with pytest.raises(LocalSesError, match=r"Glue table sesflow\.missing_table"):
        local.ses_client(cs).send(Email("shop@example.com", f"success@{SIM}", subject="s", text="t"))
    conversion = parquet_conversion("sesflow", pipeline.glue_table.name, "arn:r", "us-east-1")  # type: ignore[union-attr]
    conversion["OutputFormatConfiguration"] = {"Serializer": {"OrcSerDe": {}}}
    reconfigure(conversion)
    with pytest.raises(LocalSesError, match="ORC"):
        local.ses_client(cs).send(Email("shop@example.com", f"success@{SIM}", subject="s", text="t"))
    assert FIREHOSE_PARQUET_PREFIX.startswith("parquet/")
