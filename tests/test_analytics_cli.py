"""``sesflow report``: run_report with the arguments add_report_parser defines."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytest.importorskip("duckdb", reason="the analytics extra is not installed")
pytest.importorskip("rich", reason="the cli extra is not installed")

from sesflow.analytics import LakeWriter
from sesflow.cli.report import add_report_parser, run_report
from sesflow.testing import make_record

from ._analytics import EXPECTED_GROUPS, TOTAL_COUNTS, s3_bucket, write_known_lake

RANGE = ["--since", "2026-03-01", "--until", "2026-03-05"]


def sesflow(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="sesflow")
    add_report_parser(parser.add_subparsers(dest="command"))
    return run_report(parser.parse_args(list(argv)))


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_known_lake(tmp_path_factory.mktemp("cli"))


def test_json(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sesflow("report", str(lake), *RANGE, "--format", "json", "--by", "tag:campaign") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"]["sent"] == TOTAL_COUNTS["sent"]
    assert data["by"] == "tag:campaign"
    assert [g["key"] for g in data["groups"]] == ["welcome", "promo", None]


def test_by_tenant(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sesflow("report", str(lake), *RANGE, "--format", "json", "--by", "tenant") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["by"] == "tenant"
    assert {g["key"]: g["sent"] for g in data["groups"]} == {
        key: metrics["sent"] for key, metrics in EXPECTED_GROUPS["tenant"].items()
    }
    # For Athena, the tenant is the first value of SES's ses:tenant-name tag in the table's mail.tags map.
    assert sesflow("report", "s3://my-bucket/events/", "--athena", "--by", "tenant", *RANGE) == 0
    out = capsys.readouterr().out
    assert "element_at(element_at(mail.tags, 'ses:tenant-name'), 1) AS dim" in out
    assert "`tags`:map<string,array<string>>" in out


def test_csv_to_a_file(lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.csv"
    assert (
        sesflow("report", str(lake), *RANGE, "--format", "csv", "--by", "recipient-domain", "-o", str(out))
        == 0
    )
    assert capsys.readouterr().out == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    groups = [r["recipient_domain"] for r in rows if r["scope"] == "group"]
    assert groups == ["c.example", "a.example", "b.example"]  # the most sends first


def test_html(lake: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert sesflow("report", str(lake), *RANGE, "--format", "html", "-o", str(out)) == 0
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<svg" in page


def test_table(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sesflow("report", str(lake), *RANGE, "--by", "configuration-set") == 0
    out = capsys.readouterr().out
    assert "transactional" in out
    assert "marketing" in out
    assert "(none)" in out
    assert "sent" in out
    assert "19" in out
    assert "funnel sent 19 → delivered 15 → opened 4 → clicked 2" in out
    assert "5.26%" in out  # the bounce rate, 1 of 19


def test_table_by_day_to_a_file(lake: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    assert sesflow("report", str(lake), *RANGE, "--by", "none", "--engine", "python", "-o", str(out)) == 0
    text = out.read_text()
    assert "2026-03-01" in text
    assert "2026-03-05" in text
    assert "by day" in text


def test_athena_prints_the_ddl_and_the_query(capsys: pytest.CaptureFixture[str]) -> None:
    code = sesflow(
        "report", "s3://my-bucket/events/", "--athena", "--partition-projection", "--table", "mail", *RANGE
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "CREATE EXTERNAL TABLE IF NOT EXISTS `mail` (" in out
    assert "LOCATION 's3://my-bucket/events/'" in out
    assert "'projection.enabled' = 'true'" in out
    assert "FROM mail" in out
    assert "from_iso8601_timestamp('2026-03-01T00:00:00.000Z')" in out


def test_athena_for_the_parquet_table(lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sesflow("report", "local-folder", "--athena", "--lake", "parquet") == 0
    out = capsys.readouterr().out
    assert "STORED AS PARQUET\nLOCATION 's3://BUCKET/parquet/'" in out
    assert "`eventtype` string" in out
    assert "FROM ses_events" in out  # the same report query as for the NDJSON table
    from sesflow.analytics import compact_lake

    compact_lake(lake, tmp_path / "parquet")
    assert sesflow("report", str(tmp_path / "parquet"), *RANGE, "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["total"]["sent"] == TOTAL_COUNTS["sent"]


def test_days(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC)
    with LakeWriter(tmp_path) as writer:
        for age in (0, 1, 2, 5):  # sends today, yesterday, two and five days ago
            writer.write(make_record("Send", sent_at=now - timedelta(days=age), delay=timedelta(0)))
    assert sesflow("report", str(tmp_path), "--days", "3", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["total"]["sent"] == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--days", "2", "--since", "2026-01-01"], "--days or --since"),
        (["--days", "0"], "at least 1"),
        (["--by", "colour"], "cannot group by"),
        (["--since", "2026-03-05", "--until", "2026-03-01"], "empty"),
    ],
)
def test_bad_arguments(lake: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert sesflow("report", str(lake), *argv) == 2
    assert message in capsys.readouterr().err


def test_a_missing_lake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sesflow("report", str(tmp_path / "nowhere")) == 2
    assert "does not exist" in capsys.readouterr().err


def test_unparseable_date() -> None:
    with pytest.raises(SystemExit):
        sesflow("report", ".", "--since", "yesterday")


def test_fail_on(tmp_path: Path) -> None:
    with LakeWriter(tmp_path) as writer:
        for i in range(100):
            writer.write(make_record("Send", recipients=[f"u{i}@x.example"], message_id=f"m{i}"))
        for i in range(6):  # 6% hard bounces: at the review level, under the pause level
            writer.write(make_record("Bounce", recipients=[f"u{i}@x.example"], message_id=f"m{i}"))
    assert sesflow("report", str(tmp_path), "--format", "json", "--fail-on", "review") == 3
    assert sesflow("report", str(tmp_path), "--format", "json", "--fail-on", "pause") == 0
    assert sesflow("report", str(tmp_path), "--format", "json") == 0


def test_s3(moto_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with s3_bucket(moto_server, "cli") as (client, bucket):
        local = write_known_lake(tmp_path / "src", compress=True)
        for path in local.rglob("*.gz"):
            client.upload_file(str(path), bucket, "ses/events/" + path.relative_to(local).as_posix())
        cache = tmp_path / "cache"
        argv = [
            "report",
            f"s3://{bucket}/ses/",
            *RANGE,
            "--endpoint-url",
            moto_server,
            "--region",
            "us-east-1",
        ]
        assert sesflow(*argv, "--format", "json", "--cache-dir", str(cache)) == 0
        assert json.loads(capsys.readouterr().out)["total"]["sent"] == TOTAL_COUNTS["sent"]
        assert any(cache.rglob("*.gz"))
