"""What a newcomer sees from the ``sesflow`` command: every command reads well at 80 columns (and piped),
anything one may copy is printed whole, errors are one line on standard error with the documented exit
status, Ctrl-C exits 130, long work shows progress only on a terminal, and a missing extra is named at once.

Rendering is checked at a fixed ``COLUMNS=80`` (what rich uses when the output is not a terminal); the tokens
that must come out whole (ARNs, addresses, names, JSON documents) come from the command's own ``--json``
output or from the data the test made, never from the text under test.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

import sesflow
from sesflow.cli import main
from sesflow.testing import LocalSes, make_record, sample_records

from ._local_ses_support import SIM, email, pipeline, unique

pytest.importorskip("rich", reason="the cli extra is not installed")

WIDTH = 80
AWS = ["--region", "us-east-1"]
SRC = str(Path(sesflow.__file__).resolve().parents[1])


@pytest.fixture(autouse=True)
def _columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", str(WIDTH))


@pytest.fixture
def local(moto_server: str) -> Any:
    with LocalSes(moto_server, seed=11) as simulator:
        yield simulator


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_reads_at_80(text: str, whole: Iterable[str] = (), *, json_checked: bool = False) -> None:
    """Every line fits in 80 columns, except one that carries a whole token too long to fit beside its label;
    and every token appears whole, on one line. ``json_checked``: the lines of indented JSON documents are
    left out, since the test decodes those documents as printed."""
    whole = [w for w in whole if w]
    lines = [line.rstrip() for line in text.splitlines()]
    for line in lines:
        if json_checked and line.lstrip()[:1] in ('"', "{", "}", "[", "]"):
            continue
        if len(line) > WIDTH:
            assert any(w in line and len(line) - len(w) <= 24 for w in whole), (
                f"cropped or too wide: {line!r}"
            )
    for token in whole:
        assert any(token in line for line in lines), f"{token!r} is not printed whole"


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update(PYTHONPATH=os.pathsep.join([SRC, env.get("PYTHONPATH", "")]), PYTHONUNBUFFERED="1")
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", COLUMNS=str(WIDTH))
    env.update(extra)
    return env


# A fresh interpreter in which some top-level modules cannot be imported, as if their extra were not
# installed: the import machinery itself refuses them, nothing of sesflow is replaced.
BLOCKING_MAIN = """\
import importlib.abc, sys
class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
BLOCKED = set(sys.argv[1].split(","))
sys.meta_path.insert(0, Missing())
from sesflow.cli import main
sys.exit(main(sys.argv[2:]))
"""


def run_without(blocked: set[str], *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKING_MAIN, ",".join(sorted(blocked)), *argv],
        capture_output=True,
        text=True,
        env=subprocess_env(AWS_DEFAULT_REGION="us-east-1"),
        cwd=cwd,
        timeout=120,
        check=False,
    )


# ------------------------------------------------------------------ 1, 2: setup prints JSON and ARNs whole

LONG_SET = "orders-for-the-european-storefront-and-its-weekly-newsletter"


def _policy_documents(text: str) -> dict[str, Any]:
    """The JSON documents printed after each 'IAM policy: NAME' heading, decoded as printed."""
    documents: dict[str, Any] = {}
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("IAM policy: "):
            end = lines.index("}", number)
            documents[line.removeprefix("IAM policy: ")] = json.loads("\n".join(lines[number + 1 : end + 1]))
    return documents


def test_setup_dry_run_prints_valid_json_and_whole_arns_at_80_columns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["setup", "-c", LONG_SET, "--dry-run", "--identity", "mail.shop.example.com", *AWS]
    argv += ["--pipeline", "sns-sqs", "--pipeline", "firehose-s3", "--bucket", "a-bucket-for-the-event-lake"]
    status, out, _ = run(capsys, *argv, "--json")
    assert status == 0
    plan = json.loads(out)

    status, out, err = run(capsys, *argv)
    assert (status, err) == (0, "")
    assert _policy_documents(out) == plan["policies"]  # every document valid and complete as printed
    arns = [r["arn"] for r in plan["resources"]]
    assert any(len(arn or "") > WIDTH for arn in arns)  # the case that used to be cut
    names = [r["name"] for r in plan["resources"]]
    assert_reads_at_80(out, [*arns, *names, LONG_SET], json_checked=True)


def test_setup_policies_after_a_real_run_are_valid_json_when_piped(
    moto_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique(LONG_SET[:40])
    argv = ["setup", "-c", name, "--endpoint-url", moto_server, "--api", "v1", *AWS, "--policies"]
    argv += ["--sns-destination-name", unique("dest")]
    status, out, _ = run(capsys, *argv, "--json")
    assert status == 0
    built = json.loads(out)
    status, out, err = run(capsys, *argv)
    assert (status, err) == (0, "")
    assert "Nothing to do" in out
    assert _policy_documents(out) == built["policies"]
    resources = built["resources"]
    assert_reads_at_80(out, [r[k] for r in resources for k in ("arn", "name")] + [name], json_checked=True)


# ------------------------------------------------------------------ 2, 4: parse


def test_parse_samples_reads_well_at_80_columns(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "parse", "--samples")
    assert (status, err) == (0, "")
    records = sample_records()
    assert out.startswith(f"{len(records)} records\n")
    addresses = {a for record in records.values() for a in sesflow.parse_event(record).recipients}
    links = [r["click"]["link"] for r in records.values() if "click" in r]
    assert_reads_at_80(out, [*records, *addresses, *links])


def test_parse_one_record_is_one_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps(make_record("Delivery")))
    status, out, err = run(capsys, "parse", str(path))
    assert (status, err) == (0, "")
    assert out.startswith("1 record\n")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{bad", "one.json, line 1: not a valid SES record: invalid JSON"),
        ("[1, 2", "one.json, line 1: not a valid SES record: invalid JSON"),
        ('{"eventType": "Bounce"}', "one.json, #1: not a valid SES record at mail"),
    ],
)
def test_parse_errors_are_one_line_on_standard_error(
    content: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "one.json"
    path.write_text(content)
    status, out, err = run(capsys, "parse", str(path))
    assert status == 1
    assert out == ""  # no table of nothing
    first, summary = err.splitlines()
    assert first.startswith(f"sesflow parse: {tmp_path}/{message}")
    assert summary == "sesflow parse: 1 of 1 record did not parse"


@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_parse_of_an_empty_file_is_an_error(
    content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.ndjson"
    path.write_text(content)
    for fmt in ("table", "json"):
        status, out, err = run(capsys, "parse", str(path), "--format", fmt)
        assert (status, out) == (1, "")
        assert (
            err == f"sesflow parse: {path} holds no records: give a JSON object, a JSON array or one JSON "
            "document a line\n"
        )


# ------------------------------------------------------------------ 2, 3: tail


def test_tail_reads_well_at_80_columns(
    local: LocalSes, moto_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pipe = pipeline(local, unique("a-configuration-set-with-a-long-name"))
    long_address = f"suppressionlist+a-label-long-enough-to-need-a-second-line@{SIM}"
    local.ses_client(pipe.configuration_set.name).send(email(long_address))
    argv = ["tail", "--queue-url", pipe.queue_url, "--endpoint-url", moto_server, *AWS, "--wait", "0"]
    status, out, _ = run(capsys, *argv, "--max-messages", "2")
    assert status == 0
    assert_reads_at_80(out, [long_address, "Permanent/OnAccountSuppressionList", pipe.configuration_set.name])
    assert out.splitlines()[-1] == "2 messages shown: 2 deleted"


def test_tail_ctrl_c_exits_130_and_sums_up_truthfully(local: LocalSes, moto_server: str) -> None:
    sqs = local.client("sqs")
    queue_url = sqs.create_queue(QueueName=unique("tail"))["QueueUrl"]
    good = make_record("Delivery", recipients=["ada@example.org"])
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(good))
    sqs.send_message(QueueUrl=queue_url, MessageBody='{"eventType": "Bounce"}')
    command = [
        sys.executable,
        "-m",
        "sesflow",
        "tail",
        "--queue-url",
        queue_url,
        "--endpoint-url",
        moto_server,
    ]
    process = subprocess.Popen(
        [*command, *AWS, "--wait", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
    assert process.stdout is not None
    shown = []
    guard = threading.Timer(60, process.kill)  # a hung command fails the test instead of hanging it
    guard.start()
    try:
        while not ("ada@example.org" in "".join(shown) and "not a valid SES record" in "".join(shown)):
            line = process.stdout.readline()
            assert line, "tail ended before showing both messages"
            shown.append(line)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate()
    finally:
        guard.cancel()
    assert process.returncode == 130
    assert err == "sesflow tail: interrupted\n"
    assert out.splitlines()[-1] == ("2 messages shown: 1 deleted, 1 could not be parsed (left on the queue)")
    left = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in left] == ['{"eventType": "Bounce"}']  # handed back at once, never lost


# ------------------------------------------------------------------ 5: send


def test_send_against_a_local_endpoint_warns_in_one_line_in_the_commands_terms(
    local: LocalSes, moto_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pipe = pipeline(local)
    argv = ["send", "-c", pipe.configuration_set.name, "--endpoint-url", moto_server, *AWS]
    argv += [
        "--from",
        "shop@example.com",
        "--to",
        f"success+{'x' * 40}@{SIM}",
        "--subject",
        "Hi",
        "--text",
        "Hi",
    ]
    status, out, err = run(capsys, *argv)  # moto has no GetAccount: the account's rate cannot be read
    assert status == 0
    (warning,) = err.splitlines()
    assert warning.startswith("sesflow send: could not read the account's maximum send rate (SES said 404:")
    assert "--max-send-rate N" in warning
    assert "max_send_rate=" not in warning
    assert "<" not in warning  # the emulator's HTML page is named by its title, not printed
    status, json_out, _ = run(capsys, *argv, "--max-send-rate", "none", "--json")
    assert status == 0
    assert_reads_at_80(out, [pipe.configuration_set.name])
    assert len(json.loads(json_out)["message_id"]) == len(out.split()[2])


def test_a_missing_region_is_named_plainly(
    moto_server: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    argv = ["send", "-c", "orders", "--endpoint-url", moto_server, "--from", "shop@example.com"]
    status, out, err = run(capsys, *argv, "--to", "a@example.org", "--subject", "s", "--text", "t")
    assert (status, out) == (2, "")
    assert err == "sesflow send: no AWS region: pass --region REGION or set AWS_DEFAULT_REGION\n"


def test_a_csv_with_bad_rows_names_each_and_sends_nothing(
    local: LocalSes, moto_server: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pipe = pipeline(local)
    recipients = tmp_path / "readers.csv"
    recipients.write_text("email,name\nada@example.org,Ada\nbad@,Bo\n,Cy\ndee@example.org,Dee\n")
    argv = ["send", "-c", pipe.configuration_set.name, "--endpoint-url", moto_server, *AWS, "--api", "v1"]
    argv += ["--from", "news@example.com", "--template", "weekly", "--recipients", str(recipients)]
    sent_before = len(local.messages)
    status, out, err = run(capsys, *argv)
    assert (status, out) == (2, "")
    assert err.splitlines() == [
        f"sesflow send: {recipients}, line 3: to: 'bad@' is not an email address (local@domain)",
        f"sesflow send: {recipients}, line 4: no address in the 'email' column",
        f"sesflow send: 2 rows of {recipients} cannot be sent (above): fix them; nothing was sent",
    ]
    assert len(local.messages) == sent_before


def test_rows_ses_refused_are_listed_whole_at_80_columns(
    local: LocalSes, moto_server: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pipe = pipeline(local)
    recipients = tmp_path / "readers.csv"
    recipients.write_text("email,name\nada@example.org,Ada\n")
    argv = ["send", "-c", pipe.configuration_set.name, "--endpoint-url", moto_server, *AWS, "--api", "v1"]
    argv += [
        "--from",
        "news@example.com",
        "--template",
        unique("never-created"),
        "--recipients",
        str(recipients),
    ]
    status, out, _ = run(capsys, *argv, "--max-send-rate", "none", "--json")
    assert status == 1
    (result,) = json.loads(out)["results"]
    status, out, _ = run(capsys, *argv, "--max-send-rate", "none")
    assert status == 1
    assert "Not sent" in out
    assert_reads_at_80(out, ["ada@example.org", result["status"]])


# ------------------------------------------------------------------ 6: usage


@pytest.mark.parametrize(
    "argv",
    [
        ["parse", "--samples"],
        ["setup", "-c", "orders"],
        ["tail", "--queue-url", "https://sqs.us-east-1.amazonaws.com/123456789012/q"],
        ["send", "--from", "shop@example.com"],
        ["report", "lake"],
        ["demo"],
        ["smtp-password", "--region", "us-east-1"],
    ],
    ids=lambda argv: argv[0],
)
def test_an_unrecognised_option_shows_the_subcommands_usage(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    command = argv[0]
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--no-such-option"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: sesflow {command} ")
    assert err.endswith(f"sesflow {command}: error: unrecognized arguments: --no-such-option\n")


def test_an_option_after_all_required_ones_is_still_the_subcommands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["parse", "--samples", "--colour"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.startswith("usage: sesflow parse ")


# ------------------------------------------------------------------ 7: progress only on a terminal


def _on_a_terminal(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run the command with standard error on a pseudo-terminal; (status, stdout, what the terminal got)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "sesflow", *argv],
        stdout=subprocess.PIPE,
        stderr=follower,
        env=subprocess_env(TERM="xterm", AWS_DEFAULT_REGION="us-east-1", COLUMNS="300"),
        cwd=cwd,
    )
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal is closed once the command has ended
            break
        if not chunk:
            break
        screen += chunk
    out, _ = process.communicate(timeout=120)
    os.close(leader)
    return process.returncode, out.decode(), screen.decode(errors="replace")


def _lake(root: Path) -> Path:
    from sesflow.analytics import LakeWriter

    with LakeWriter(root) as lake:
        lake.write(make_record("Send", recipients=["ada@example.org"]))
    return root


@pytest.mark.parametrize("command", ["setup", "report"])
def test_long_work_shows_progress_on_a_terminal_and_nothing_when_piped(
    command: str, moto_server: str, tmp_path: Path
) -> None:
    if command == "setup":
        name = unique("progress")
        argv = ["setup", "-c", name, "--endpoint-url", moto_server, "--api", "v1"]
        argv += ["--sns-destination-name", unique("dest")]
        expected = f"Building the sns-sqs pipeline of {name}"
    else:
        argv = ["report", str(_lake(tmp_path / "lake")), "--engine", "python"]
        expected = f"Reading {tmp_path / 'lake'} (python)"
    status, _, screen = _on_a_terminal(argv, tmp_path)
    assert status == 0
    assert expected in screen
    piped = subprocess.run(
        [sys.executable, "-m", "sesflow", *argv],
        capture_output=True,
        text=True,
        env=subprocess_env(AWS_DEFAULT_REGION="us-east-1"),
        cwd=tmp_path,
        check=False,
    )
    assert (piped.returncode, piped.stderr) == (0, "")


# ------------------------------------------------------------------ 9: report


def test_report_takes_a_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.write_text("[profile lake-reader]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    status, _, err = run(capsys, "report", "s3://a-bucket/events/", "--profile", "no-such-profile")
    assert status == 2
    assert "no-such-profile" in err  # boto3 looked the profile up: the option reaches the session


def test_report_without_duckdb_says_the_python_engine_needs_no_extra(tmp_path: Path) -> None:
    lake = _lake(tmp_path / "lake")
    refused = run_without({"duckdb"}, "report", str(lake))
    assert refused.returncode == 2
    assert refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert "pip install 'sesflow[analytics]'" in line
    assert line.endswith("(or pass --engine python, which needs no extra)")
    works = run_without({"duckdb"}, "report", str(lake), "--engine", "python", "--format", "json")
    assert works.returncode == 0
    assert json.loads(works.stdout)["total"]["sent"] == 1


# ------------------------------------------------------------------ 14: demo


@pytest.mark.parametrize(
    ("blocked", "named", "extras"),
    [
        ({"rich", "moto"}, "'rich', 'moto[server]'", "cli,testing"),
        ({"moto"}, "'moto[server]'", "testing"),
        ({"rich"}, "'rich'", "cli"),
    ],
)
def test_demo_names_every_missing_extra_at_once(blocked: set[str], named: str, extras: str) -> None:
    result = run_without(blocked, "demo")
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("sesflow demo: the demo needs the optional module")
    assert named in line
    assert line.endswith(f"pip install 'sesflow[{extras}]'")


# ------------------------------------------------------------------ what an endpoint answered, in one line

MOTO_404 = (
    "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
    "<p>The requested URL was not found on the server.</p>\n"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MOTO_404, "an HTML page ('404 Not Found') instead of an AWS API answer"),
        (
            "An error occurred (404) when calling the GetAccount operation: " + MOTO_404,
            "An error occurred (404) when calling the GetAccount operation: an HTML page ('404 Not Found') "
            "instead of an AWS API answer",
        ),
        ("<HTML><BODY>Bad gateway</BODY></HTML>", "an HTML page instead of an AWS API answer"),
        ("Configuration set <orders>\n  does not exist.", "Configuration set <orders> does not exist."),
        ("", ""),
        ("x" * 400, "x" * 299 + "…"),
    ],
    ids=["moto-404", "botocore-wrapped", "untitled-page", "angle-brackets-kept", "empty", "too-long"],
)
def test_text_from_an_endpoint_becomes_one_line(text: str, expected: str) -> None:
    from sesflow._text import one_line

    assert one_line(text) == expected
