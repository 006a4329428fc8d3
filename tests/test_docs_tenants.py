"""The sending, suppression and provisioning examples of docs/tenants.md and the "Global endpoints" section of
docs/sending.md print what the pages say they print.

Each of those Python blocks is run on its own, against the FakeSes it starts itself, and what it prints is
compared with the ``# ...`` comments after its ``print(...)`` calls. (tests/test_docs_snippets.py runs every
block of every page once more, in order; the SMTP, events and EventBridge examples of the tenants page, which
use the process's moto state, are run only there.)
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
TENANTS = (DOCS / "tenants.md").read_text(encoding="utf-8").split("## Sending over SMTP", 1)[0]
GLOBAL = (
    (DOCS / "sending.md").read_text(encoding="utf-8").split("## Global endpoints", 1)[1].split("\n## ", 1)[0]
)
BLOCKS = [
    *re.findall(r"```python\n(.*?)```", TENANTS, re.S),
    *re.findall(r"```python\n(.*?)```", GLOBAL, re.S),
]


def _promised(block: str) -> list[str]:
    """The output a block's comments promise: ``print(...)  # text`` lines, in order."""
    return [m.group(1).strip() for m in re.finditer(r"^\s*print\(.*\)\s*#\s*(.+)$", block, re.M)]


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_the_example_runs_and_prints_what_the_page_says(block: str) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "<docs>", "exec"), {})
    printed = out.getvalue().splitlines()
    for promise in _promised(block):
        text = promise.split(":", 1)[0].strip() if promise.startswith("None:") else promise
        assert any(line.startswith(text) for line in printed), (promise, printed)


def test_there_are_examples_for_sending_suppression_provisioning_and_global_endpoints() -> None:
    assert len(BLOCKS) == 4
