"""docs/tutorial.md runs: its Python blocks, in order, in one namespace, against the moto server, and the
results are what the page says they are."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
LOCAL_ENDPOINT = 'ENDPOINT = "http://127.0.0.1:5000"'


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def test_the_tutorial_runs_as_written(moto_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("duckdb", reason="the analytics extra is not installed")  # build_report's module
    blocks = _python_blocks(PAGE.read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    assert blocks[0].startswith(LOCAL_ENDPOINT)
    source = "\n".join(blocks).replace(LOCAL_ENDPOINT, f"ENDPOINT = {moto_server!r}", 1)
    namespace: dict[str, Any] = {"__name__": "tutorial"}
    exec(compile(source, str(PAGE), "exec"), namespace)
    out = capsys.readouterr().out

    assert namespace["config_set"].status in ("created", "exists")
    assert [r.kind for r in namespace["pipeline"].resources] == [
        "configuration-set",
        "sns-topic",
        "sqs-queue",
        "sqs-queue",
        "sns-subscription",
        "event-destination:sns",
    ]
    # Four messages: Send for each, Delivery for three, one Bounce, one Complaint, and the reader's tracking.
    metrics = namespace["metrics"]
    assert metrics.handled >= 4 + 3 + 1 + 1
    assert metrics.failed == metrics.invalid == 0
    assert namespace["suppressed"] == {
        "bounce+order-2@simulator.amazonses.com",
        "complaint+order-3@simulator.amazonses.com",
        "bounce@simulator.amazonses.com",  # step 8's bounce, through EventBridge, to the same router
    }
    report = namespace["report"]
    assert (report.total.sent, report.total.delivered) == (1, 1)
    assert namespace["bounced"].handled == 1
    assert "1 sent, 1 delivered" in out
    assert "1 bounce from EventBridge" in out
    assert "Bounce     bounce+order-2@simulator.amazonses.com" in out
    assert namespace["removed"]
