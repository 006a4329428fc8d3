"""``sesflow demo``, through the command's entry point: the numbers it reports are what the mailbox simulator
makes of what it sent, for all the mail and for the tenant's, and it leaves nothing running."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections import Counter

import pytest

from sesflow.cli import main
from sesflow.cli.demo import COLUMNS, TENANT, plan
from sesflow.testing import Outcome, simulator_outcome

pytest.importorskip("rich", reason="the cli extra is not installed")
pytest.importorskip("moto.server", reason="the demo needs moto[server]")


def _from_addresses(sent_to: list[dict[str, str]]) -> dict[str, Counter[str]]:
    """What the simulator makes of each address, counted per set (opens and clicks aside)."""
    out: dict[str, Counter[str]] = {}
    for entry in sent_to:
        row = out.setdefault(entry["configuration_set"], Counter())
        row["sent"] += 1
        outcome = simulator_outcome(entry["to"]) or Outcome.DELIVERED  # readers are delivered by default
        if outcome in (Outcome.DELIVERED, Outcome.COMPLAINT):
            row["delivered"] += 1
        if outcome is Outcome.COMPLAINT:
            row["complained"] += 1
        if outcome in (Outcome.BOUNCE, Outcome.SUPPRESSED):
            row["bounced"] += 1
    return out


def test_the_summary_matches_what_was_sent(capsys: pytest.CaptureFixture[str]) -> None:
    before = set(threading.enumerate())
    assert main(["demo", "--json", "--readers", "8", "--seed", "3"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["ok"] is True
    assert outcome["received"] == outcome["published"] > 0
    assert outcome["failed"] == 0

    summary = outcome["summary"]
    assert set(summary) == {"demo-orders", "demo-newsletter"}
    expected = _from_addresses(outcome["sent_to"])
    for cs, row in summary.items():
        for column in ("sent", "delivered", "bounced", "complained"):
            assert row[column] == expected[cs][column], (cs, column)
    assert summary["demo-orders"] == {
        "sent": 7,
        "delivered": 5,  # success x3, ooto, complaint
        "bounced": 2,  # bounce, suppressionlist
        "complained": 1,
        "opened": 0,  # the simulator never opens
        "clicked": 0,
    }
    newsletter = summary["demo-newsletter"]
    assert newsletter["sent"] == 8 + 3
    assert 0 < newsletter["opened"] <= 8
    assert newsletter["clicked"] <= 8
    assert sum(summary[cs][c] for cs in summary for c in COLUMNS) == outcome["published"]
    assert sum(1 for e in outcome["sent_to"] if "+" in e["to"]) == 10  # the simulator addresses carry labels

    # The tenant's mail, counted by a handler that the router gives only the events tagged for it.
    tenant = outcome["tenant"]
    assert tenant["name"] == TENANT == "acme"
    ours = [e for e in outcome["sent_to"] if e["tenant"] == TENANT]
    assert len(ours) == 4 + 8 // 2  # orders 1001-1004 and half the readers
    assert {e["tenant"] for e in outcome["sent_to"]} == {TENANT, None}
    certain = _from_addresses(ours)
    for cs, row in tenant["summary"].items():
        for column in ("sent", "delivered", "bounced", "complained"):
            assert row[column] == certain[cs][column], (cs, column)
        assert row["opened"] <= summary[cs]["opened"]
        assert row["clicked"] <= summary[cs]["clicked"]
    assert tenant["summary"]["demo-orders"]["bounced"] == 1  # bounce+order-1004
    assert tenant["summary"] == tenant["expected"]
    assert tenant["summary"]["demo-newsletter"]["sent"] == 4

    leftover = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert leftover == []
    with pytest.raises(urllib.error.URLError, match="refused"):  # the embedded server is gone
        urllib.request.urlopen(outcome["endpoint"], timeout=2)


def test_the_same_seed_gives_the_same_opens_and_clicks(capsys: pytest.CaptureFixture[str]) -> None:
    runs = []
    for _ in range(2):
        assert main(["demo", "--json", "--readers", "4", "--seed", "11"]) == 0
        runs.append(json.loads(capsys.readouterr().out)["summary"])
    assert runs[0] == runs[1]


def test_python_m_sesflow_runs_the_demo_and_reads_well_at_80_columns() -> None:
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run(
        [sys.executable, "-m", "sesflow", "demo", "--readers", "4"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = done.stdout
    row = re.search(r"demo-orders\s*│\s*7\s*│\s*5\s*│\s*2\s*│\s*1\s*│\s*0\s*│\s*0\s*│", out)
    assert row, out
    assert re.search(r"demo-newsletter\s*│\s*7\s*│\s*5\s*│\s*2\s*│\s*1\s*│", out), out
    # The tenant's table: orders 1001-1004 (three delivered, one bounce) and two of the four readers.
    tenant = out.split(f"The tenant {TENANT}'s mail", 1)[1]
    assert re.search(r"demo-orders\s*│\s*4\s*│\s*3\s*│\s*1\s*│\s*0\s*│\s*0\s*│\s*0\s*│", tenant), out
    assert re.search(r"demo-newsletter\s*│\s*2\s*│\s*2\s*│\s*0\s*│\s*0\s*│", tenant), out
    tagged = {m.to for m in plan(4) if m.tenant == TENANT}
    for line in out.splitlines():  # each event of the tenant's mail names it, and no other event does
        match = re.match(r"^  (Send|Delivery)\s+\S+\s+(\S+)(.*)$", line)
        if match:
            assert (f"  {TENANT}" in match.group(3)) == (match.group(2) in tagged), line
    assert "nothing is left running" in out
    addresses = [m.to for m in plan(4)]
    for line in out.splitlines():
        assert len(line.rstrip()) <= 80, line
    names = [*addresses, "demo-orders-events-dlq", "demo-newsletter-events-dlq"]
    assert all(re.search(rf"(^|\s){re.escape(name)}(\s|$)", out, re.MULTILINE) for name in names)

    # The demo says what each mailbox simulator address it mails stands for, as the simulator behaves.
    mailboxes = {a.partition("+")[0] for a in addresses if a.endswith("@simulator.amazonses.com")}
    assert mailboxes == {"success", "bounce", "ooto", "complaint", "suppressionlist"}
    for mailbox in mailboxes:
        said = re.search(rf"^\s+{mailbox}\s+(.+)$", out, re.MULTILINE)
        assert said, f"the demo does not explain {mailbox}@"
        outcome = simulator_outcome(f"{mailbox}@simulator.amazonses.com")
        assert ("hard bounce" in said.group(1)) == (outcome in (Outcome.BOUNCE, Outcome.SUPPRESSED)), mailbox
        assert ("complaint" in said.group(1)) == (outcome is Outcome.COMPLAINT), mailbox
        assert said.group(1).startswith("delivered") == (outcome in (Outcome.DELIVERED, Outcome.COMPLAINT))


@pytest.mark.parametrize("argv", [["--readers", "500"], ["--open-rate", "2"]])
def test_bad_options_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", *argv]) == 2
    assert "sesflow demo:" in capsys.readouterr().err


def test_the_parquet_lake_counts_what_the_consumer_counted() -> None:
    pytest.importorskip("duckdb", reason="the analytics extra is not installed")
    # A process of its own: moto's servers in one process share their state, and moto shows one v1 event
    # destination per set, so a set left by another test would hide its SNS destination from LocalSes.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sesflow",
            "demo",
            "--json",
            "--readers",
            "6",
            "--seed",
            "5",
            "--lake",
            "parquet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout[-2000:]
    outcome = json.loads(done.stdout)
    lake = outcome["lake"]
    assert lake["layout"] == "parquet"
    assert lake["location"] == "s3://sesflow-demo-lake/parquet/"
    assert lake["objects"] == outcome["messages"]  # one Firehose object per message in the demo
    assert lake["report"] == outcome["summary"]
    tenant_total = {c: sum(row[c] for row in outcome["tenant"]["summary"].values()) for c in COLUMNS}
    assert lake["tenant_report"] == tenant_total  # the report by tenant, from the Parquet lake
    assert tenant_total["sent"] == 4 + 6 // 2
    assert lake["matches"] is True
    assert outcome["ok"] is True
