"""The ``sesflow`` command through its entry point (``sesflow.cli.main``): setup, send, tail, parse and
smtp-password, against the moto server where AWS is needed."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from sesflow.cli import main
from sesflow.testing import LocalSes

from ._local_ses_support import SIM, drain, email, events_of, pipeline, unique

pytest.importorskip("rich", reason="the cli extra is not installed")

AWS = ["--region", "us-east-1"]
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def local(moto_server: str) -> Any:
    with LocalSes(moto_server, seed=5) as simulator:
        yield simulator


# ------------------------------------------------------------------ help and usage


@pytest.mark.parametrize(
    "command", ["demo", "setup", "send", "tail", "parse", "report", "lake", "smtp-password"]
)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert f"usage: sesflow {command}" in capsys.readouterr().out


def test_an_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["tail"])  # --queue-url is required
    assert exited.value.code == 2
    assert "--queue-url" in capsys.readouterr().err


# ------------------------------------------------------------------ setup


@pytest.mark.parametrize(
    ("pipeline_options", "kinds"),
    [
        (["--pipeline", "sns-sqs"], {"sns-topic", "sqs-queue", "sns-subscription", "event-destination:sns"}),
        (
            ["--pipeline", "firehose-s3"],
            {"s3-bucket", "iam-role", "firehose-stream", "event-destination:firehose"},
        ),
        (
            [
                "--pipeline",
                "firehose-s3",
                "--lake",
                "parquet",
                "--glue-database",
                unique("db").replace("-", "_"),
            ],
            {
                "s3-bucket",
                "glue-database",
                "glue-table",
                "iam-role",
                "firehose-stream",
                "event-destination:firehose",
            },
        ),
    ],
)
def test_setup_twice_changes_nothing_the_second_time(
    pipeline_options: list[str], kinds: set[str], moto_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # One pipeline per set: moto keeps a single v1 event destination per configuration set.
    argv = ["setup", "-c", unique("setup"), *pipeline_options, "--bucket", unique("lake")]
    argv += ["--event-types", "bounce,Complaint,DELIVERY", "--sns-destination-name", unique("sns")]
    argv += [
        "--firehose-destination-name",
        unique("fh"),
        "--endpoint-url",
        moto_server,
        "--api",
        "v1",
        *AWS,
    ]
    status, out, _ = run(capsys, *argv, "--json")
    assert status == 0
    first = json.loads(out)
    assert {r["kind"] for r in first["resources"]} == {"configuration-set", *kinds}
    assert {r["status"] for r in first["resources"]} == {"created"}

    status, out, _ = run(capsys, *argv, "--json")
    assert status == 0
    second = json.loads(out)
    assert {r["status"] for r in second["resources"]} == {"exists"}
    names = [(r["kind"], r["name"]) for r in second["resources"]]
    assert names == [(r["kind"], r["name"]) for r in first["resources"]]

    status, out, _ = run(capsys, *argv)
    assert status == 0
    assert "Nothing to do" in out
    assert "exists" in out


def test_setup_dry_run_calls_nothing_and_prints_the_policies(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "setup",
        "-c",
        "orders",
        "--dry-run",
        "--identity",
        "example.com",
        "--endpoint-url",
        "http://127.0.0.1:9",
    ]
    status, out, _ = run(capsys, *argv, *AWS, "--json")
    assert status == 0
    plan = json.loads(out)
    assert plan["dry_run"] is True
    assert {r["status"] for r in plan["resources"]} == {"planned"}
    policies = plan["policies"]
    assert set(policies) == {
        "sender (the application that sends)",
        "worker (the SQS consumer)",
        "SNS topic policy (SES publishes this set's events)",
        "SQS queue policy (only the topic may send)",
    }
    (statement,) = policies["SQS queue policy (only the topic may send)"]["Statement"]
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:orders-events"}
    }
    worker = policies["worker (the SQS consumer)"]["Statement"][0]
    assert worker["Resource"] == ["arn:aws:sqs:us-east-1:123456789012:orders-events"]

    status, out, _ = run(capsys, *argv, *AWS)
    assert status == 0
    assert "Plan (dry run" in out
    assert "IAM policy: worker (the SQS consumer)" in out
    assert '"sqs:DeleteMessage"' in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--pipeline", "firehose-s3"], "needs --bucket"),
        (["--pipeline", "eventbridge", "--api", "v1"], "only in the SES v2 API"),
        (["--lake", "parquet"], "add --pipeline firehose-s3"),
    ],
)
def test_setup_usage_errors(extra: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "setup", "-c", "orders", *extra, *AWS)
    assert status == 2
    assert message in err


def test_setup_dry_run_of_a_parquet_lake_prints_the_glue_policy(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "setup",
        "-c",
        "orders",
        "--pipeline",
        "firehose-s3",
        "--bucket",
        "lake-bucket",
        "--lake",
        "parquet",
    ]
    status, out, _ = run(capsys, *argv, "--dry-run", "--glue-table", "ses_lake", *AWS, "--json")
    assert status == 0
    plan = json.loads(out)
    tables = [r for r in plan["resources"] if r["kind"] == "glue-table"]
    assert [(t["name"], t["parent"]) for t in tables] == [("ses_lake", "sesflow")]
    glue = plan["policies"]["Firehose role: read the Glue table"]["Statement"][0]
    assert glue["Resource"][-1] == "arn:aws:glue:us-east-1:123456789012:table/sesflow/ses_lake"
    write = plan["policies"]["Firehose role: write to the bucket"]["Statement"][1]
    assert write["Resource"] == ["arn:aws:s3:::lake-bucket/parquet/*", "arn:aws:s3:::lake-bucket/errors/*"]


def test_setup_with_v2_on_moto_stops_before_creating_anything(
    moto_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    name = unique("v2")
    status, out, err = run(capsys, "setup", "-c", name, "--endpoint-url", moto_server, *AWS)
    assert status == 2
    assert err.count("\n") == 1  # one line: no HTML page, no repeated prefix
    assert err.startswith(f"sesflow setup: {moto_server} has no SES v2 event destinations")
    assert "add --api v1; nothing was created" in err
    assert "<" not in err
    assert out == ""
    ses = boto3.client("ses", endpoint_url=moto_server, region_name="us-east-1")
    assert name not in {c["Name"] for c in ses.list_configuration_sets()["ConfigurationSets"]}
    sns = boto3.client("sns", endpoint_url=moto_server, region_name="us-east-1")
    assert not any(t["TopicArn"].endswith(f":{name}-events") for t in sns.list_topics()["Topics"])


def test_setup_rejects_an_unknown_event_type(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["setup", "-c", "orders", "--event-types", "bounce,teleport"])
    assert exited.value.code == 2
    assert "unknown event type(s) teleport" in capsys.readouterr().err


# ------------------------------------------------------------------ tail


def _tail(moto_server: str, queue_url: str, *extra: str) -> list[str]:
    return ["tail", "--queue-url", queue_url, "--endpoint-url", moto_server, *AWS, "--wait", "0", *extra]


def test_tail_prints_the_events_local_ses_published(
    local: LocalSes, moto_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pipe = pipeline(local)
    ses = local.ses_client(pipe.configuration_set.name)
    for mailbox in ("success", "bounce+t1", "complaint"):
        ses.send(email(f"{mailbox}@{SIM}"))
    published = [(r["eventType"], r["mail"]["messageId"]) for r in local.records()]
    assert len(published) == 7

    status, out, _ = run(
        capsys, *_tail(moto_server, pipe.queue_url, "--format", "json", "--max-messages", "7")
    )
    assert status == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert sorted(
        (line["event"]["eventType"], line["event"]["mail"]["messageId"]) for line in lines
    ) == sorted(published)
    assert {line["via"] for line in lines} == {"sqs/sns"}
    sqs = local.client("sqs")
    assert "Messages" not in sqs.receive_message(QueueUrl=pipe.queue_url)  # shown means deleted


def test_tail_pretty_and_keep(local: LocalSes, moto_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    pipe = pipeline(local)
    local.ses_client(pipe.configuration_set.name).send(email(f"bounce+kept@{SIM}"))
    status, out, _ = run(capsys, *_tail(moto_server, pipe.queue_url, "--keep", "--max-messages", "2"))
    assert status == 0
    assert "Bounce" in out
    assert f"bounce+kept@{SIM}" in out
    assert "Permanent/General" in out
    assert "2 messages shown: 2 left on the queue (--keep)" in out
    assert "deleted" not in out
    # --keep handed them back at once: visible again, not after the visibility timeout.
    again = local.client("sqs").receive_message(QueueUrl=pipe.queue_url, MaxNumberOfMessages=10)
    assert len(again["Messages"]) == 2


def test_tail_leaves_what_it_cannot_parse(
    local: LocalSes, moto_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = local.client("sqs")
    queue_url = sqs.create_queue(QueueName=unique("junk"))["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody='{"eventType": "Bounce"}')
    status, out, _ = run(capsys, *_tail(moto_server, queue_url, "--format", "json", "--max-messages", "1"))
    assert status == 1
    (line,) = [json.loads(line) for line in out.splitlines()]
    assert "error" in line
    assert len(sqs.receive_message(QueueUrl=queue_url)["Messages"]) == 1  # never lost


def test_tail_of_a_missing_queue_is_an_error_without_traceback(
    moto_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{moto_server}/123456789012/{unique('missing')}"
    status, _, err = run(capsys, *_tail(moto_server, url, "--timeout", "1"))
    assert status == 1
    assert err.startswith("sesflow tail: AWS error:")


# ------------------------------------------------------------------ send


def _send(moto_server: str, *argv: str) -> list[str]:
    return ["send", "--endpoint-url", moto_server, *AWS, "--max-send-rate", "none", *argv]


def test_send_one_message_with_the_set_from_the_environment(
    local: LocalSes, moto_server: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipe = pipeline(local)
    monkeypatch.setenv("SESFLOW_CONFIGURATION_SET", pipe.configuration_set.name)
    argv = _send(moto_server, "--from", "shop@example.com", "--to", f"success@{SIM}", "--subject", "Hi")
    status, out, _ = run(capsys, *argv, "--text", "Hello", "--tag", "campaign=cli", "--json")
    assert status == 0
    answer = json.loads(out)
    assert answer["ok"] is True
    assert answer["configuration_set"] == pipe.configuration_set.name
    assert answer["message_id"]

    status, out, _ = run(capsys, *argv, "--text", "Hello again")
    assert status == 0
    assert f"with configuration set {pipe.configuration_set.name}" in " ".join(out.split())


def test_send_events_reach_the_pipeline(
    local: LocalSes, moto_server: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The command's boto3 session is LocalSes's observed one, so its send publishes events as SES would.
    pipe = pipeline(local)
    observed = local.session()
    monkeypatch.setattr("boto3.session.Session", lambda **_: observed)
    argv = _send(moto_server, "-c", pipe.configuration_set.name, "--from", "shop@example.com")
    argv += ["--to", f"complaint@{SIM}", "--subject", "Hi", "--html", "<p>Hi</p>", "--tag", "campaign=cli"]
    status, out, _ = run(capsys, *argv, "--json")
    assert status == 0
    events = events_of(drain(local.client("sqs"), pipe.queue_url))
    assert [e.event_type.value for e in events] == ["Send", "Delivery", "Complaint"]
    assert {e.message_id for e in events} == {json.loads(out)["message_id"]}
    assert {e.tags.first("campaign") for e in events} == {"cli"}


def test_send_a_template_to_a_csv(
    local: LocalSes, moto_server: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pipe = pipeline(local)
    template = unique("welcome")
    local.client("ses").create_template(
        Template={"TemplateName": template, "SubjectPart": "Hi {{name}}", "TextPart": "Welcome {{name}}"}
    )
    recipients = tmp_path / "recipients.csv"
    rows = [("ada@example.org", "Ada", "a"), (f"bounce@{SIM}", "Bo", ""), ("cy@example.org", "Cy", "c")]
    with recipients.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["email", "name", "tag:segment"])
        writer.writerows(rows)
    argv = _send(moto_server, "-c", pipe.configuration_set.name, "--from", "news@example.com", "--api", "v1")
    argv += ["--template", template, "--recipients", str(recipients)]

    status, out, _ = run(capsys, *argv, "--json")
    assert status == 0
    answer = json.loads(out)
    assert (answer["sent"], answer["failed"]) == (3, 0)
    assert [r["email"] for r in answer["results"]] == [r[0] for r in rows]
    assert all(r["status"] == "SUCCESS" and r["message_id"] for r in answer["results"])

    status, out, err = run(capsys, *argv)
    assert status == 0
    assert "3 sent" in out
    assert err == ""  # the progress bar is for a terminal: piped, standard error stays quiet


def test_send_usage_errors(
    moto_server: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SESFLOW_CONFIGURATION_SET", raising=False)
    base = _send(moto_server, "--from", "shop@example.com")
    status, _, err = run(capsys, *base, "--to", "a@example.org", "--subject", "s", "--text", "t")
    assert status == 2
    assert "no configuration set" in err
    status, _, err = run(capsys, *base, "-c", "x", "--recipients", "r.csv")
    assert (status, "add --template NAME" in err) == (2, True)
    empty = tmp_path / "empty.csv"
    empty.write_text("email,name\n")
    status, _, err = run(capsys, *base, "-c", "x", "--template", "t", "--recipients", str(empty))
    assert (status, "has no recipients" in err) == (2, True)
    status, _, err = run(capsys, *base, "-c", "x", "--to", "not an address", "--subject", "s", "--text", "t")
    assert status == 2
    assert "Traceback" not in err


def test_send_to_a_missing_configuration_set_fails(
    moto_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _send(moto_server, "-c", unique("nope"), "--from", "shop@example.com", "--to", "a@example.org")
    status, _, err = run(capsys, *argv, "--subject", "s", "--text", "t")
    assert status == 1
    assert err.startswith("sesflow send:")
    assert "Traceback" not in err


# ------------------------------------------------------------------ parse


def test_parse_reads_records_in_their_envelopes(
    local: LocalSes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipe = pipeline(local)
    local.ses_client(pipe.configuration_set.name).send(email(f"bounce@{SIM}"))
    answer = local.client("sqs").receive_message(QueueUrl=pipe.queue_url, MaxNumberOfMessages=10)
    envelope = json.loads(answer["Messages"][0]["Body"])
    record = json.loads(envelope["Message"])
    eventbridge = {
        "version": "0",
        "id": "eb-1",
        "detail-type": f"Email {'Sent' if record['eventType'] == 'Send' else 'Bounced'}",
        "source": "aws.ses",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": record,
    }
    lambda_sns = {"Records": [{"EventSource": "aws:sns", "Sns": {**envelope, "SigningCertUrl": "x"}}]}
    documents = [answer, envelope, eventbridge, lambda_sns, record, {"eventType": "Bounce"}]
    path = tmp_path / "mixed.ndjson"
    path.write_text("\n".join(json.dumps(d) for d in documents) + "\n")

    status, out, _ = run(capsys, "parse", str(path), "--format", "json")
    assert status == 1  # the last record is not valid
    lines = [json.loads(line) for line in out.splitlines()]
    vias = [line["via"] for line in lines]
    assert vias == ["sqs/sns", "sqs/sns", "sns", "eventbridge", "sns", "file", "file"]
    assert [line["record"] for line in lines[:2]] == ["line 1/1", "line 1/2"]
    assert all("event" in line for line in lines[:-1])
    assert lines[-1]["path"] == "mail"  # says what is missing
    assert {line["event"]["mail"]["messageId"] for line in lines[:-1]} == {record["mail"]["messageId"]}

    status, out, err = run(capsys, "parse", str(path))
    assert status == 1
    assert out.startswith("6 records (and 1 that did not parse)\n")
    assert "sqs/sns" in out
    assert "not a valid SES record" not in out  # errors go to standard error, one line each
    assert err.splitlines() == [
        f"sesflow parse: {path}, line 6: not a valid SES record at mail: required field is missing",
        "sesflow parse: 1 of 7 records did not parse",
    ]


def test_parse_reads_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sesflow.testing import make_record

    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps([make_record("Delivery"), make_record("Open")])))
    status, out, _ = run(capsys, "parse", "-", "--format", "json")
    assert status == 0
    assert [json.loads(line)["event"]["eventType"] for line in out.splitlines()] == ["Delivery", "Open"]


def test_parse_of_a_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "parse", str(tmp_path / "nope.json"))
    assert status == 2
    assert "cannot read" in err


def test_parse_samples(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "parse", "--samples", "--format", "json")
    assert status == 0
    assert len(out.splitlines()) == 15


# ------------------------------------------------------------------ smtp-password

VECTORS = {
    "us-east-1": "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9",
    "eu-west-1": "BMW5RDrXmmVs0lV7GpI4oLkHXpZ4stDsk6q91z1g38Pk",
    "us-west-2": "BF2PynzbSCAjX08zhZZnP/kW+T9P5zs/1Er0pi5vTEmd",
}


@pytest.mark.parametrize(("region", "password"), sorted(VECTORS.items()))
def test_smtp_password_from_the_environment(
    region: str, password: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", EXAMPLE_SECRET)
    assert run(capsys, "smtp-password", "--region", region) == (0, password + "\n", "")


def test_smtp_password_from_stdin_for_several_regions(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(EXAMPLE_SECRET + "\n"))
    status, out, _ = run(
        capsys, "smtp-password", "--stdin", "--region", "us-east-1", "--region", "eu-west-1", "--json"
    )
    assert status == 0
    assert json.loads(out) == [
        {
            "region": "us-east-1",
            "host": "email-smtp.us-east-1.amazonaws.com",
            "password": VECTORS["us-east-1"],
        },
        {
            "region": "eu-west-1",
            "host": "email-smtp.eu-west-1.amazonaws.com",
            "password": VECTORS["eu-west-1"],
        },
    ]


def test_smtp_password_never_from_argv_and_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["smtp-password", "--region", "us-east-1", "--secret", EXAMPLE_SECRET])
    assert exited.value.code == 2
    capsys.readouterr()
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    status, out, err = run(capsys, "smtp-password", "--region", "us-east-1")
    assert (status, out) == (2, "")
    assert "AWS_SECRET_ACCESS_KEY is not set" in err
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", EXAMPLE_SECRET)
    status, _, err = run(capsys, "smtp-password", "--region", "moon-1")
    assert status == 2
    assert "not an AWS region name" in err
