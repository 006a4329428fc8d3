"""Every code block in docs/ runs as written, against the local setup its page tells the reader to start, or
says on the line above it why it cannot (see tests/_docs_snippets.py for how and what the suite changes).

The tutorial is also held to what it says: the resources it builds, the events its handlers see, its report,
and that its clean-up leaves nothing behind. examples/README.md must list every example with a test.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from ._docs_snippets import DOCS, LOCAL, ROOT, RUN, Block, PageRun, blocks, check_pip_install, markers

PAGES = sorted(DOCS.glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_block_runs_or_says_why_not(page: Path) -> None:
    found = blocks(page)
    for block in found:
        if block.lang in RUN and block.not_run is not None:
            assert len(block.not_run.split()) >= 3, f"{block.where}: give a reason, not {block.not_run!r}"
    marked = {block.line for block in found if block.not_run is not None and block.lang in RUN}
    for line, reason in markers(page):
        following = next(b for b in found if b.line > line)
        assert following.line in marked, f"docs/{page.name}:{line}: '{reason}' marks no code block"


def test_the_marker_and_the_pip_check_catch_what_they_should(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("<!-- not run: needs a real account -->\n```python\nx = 1\n```\n\n```sh\nls\n```\n")
    first, second = blocks(page)
    assert (first.not_run, second.not_run) == ("needs a real account", None)
    check_pip_install('pip install "sesflow[cli,testing]"  # rich and moto', "here")
    with pytest.raises(AssertionError, match="no such extra"):
        check_pip_install('pip install "sesflow[cli,teleport]"', "here")


def _runnable(page: Path) -> list[Block]:
    return [b for b in blocks(page) if b.lang in RUN and b.not_run is None]


# The tutorial builds every pipeline against moto and runs the demo: the longest page by far.
RUNNABLE = [
    pytest.param(page, marks=[pytest.mark.slow] if page.name == "tutorial.md" else [])
    for page in PAGES
    if _runnable(page)
]


@pytest.mark.parametrize("page", RUNNABLE, ids=lambda page: getattr(page, "name", str(page)))
def test_the_page_runs_as_written(
    page: Path,
    moto_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    check = CHECKS.get(page.name)
    before = _resources(moto_server)
    run = PageRun(page.name, moto_server, tmp_path)
    for block in _runnable(page):
        run.run(block)
    out = capsys.readouterr().out
    if check is not None:
        check(run, out, before, _resources(moto_server))


# ------------------------------------------------------------------ what the pages say they do


def _resources(endpoint: str) -> dict[str, set[str]]:
    """What the moto server holds, by kind, in the region the pages use."""

    def client(service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return {
        "sets": {c["Name"] for c in client("ses").list_configuration_sets()["ConfigurationSets"]},
        "topics": {t["TopicArn"] for t in client("sns").list_topics()["Topics"]},
        "queues": set(client("sqs").list_queues().get("QueueUrls", [])),
        "rules": {r["Name"] for r in client("events").list_rules()["Rules"]},
        "buckets": {b["Name"] for b in client("s3").list_buckets()["Buckets"]},
        "streams": set(client("firehose").list_delivery_streams()["DeliveryStreamNames"]),
        "roles": {r["RoleName"] for r in client("iam").list_roles()["Roles"]},
    }


def _tutorial(run: PageRun, out: str, before: dict[str, set[str]], after: dict[str, set[str]]) -> None:
    namespace = run.namespace
    assert namespace["ENDPOINT"] == run.endpoint  # the page's 127.0.0.1:5000 is the suite's server
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
    # The shell's setup of step 3 found everything in place.
    setup = next(text for text in run.shell_output if "my-transactional-emails" in text)
    assert "Nothing to do: everything exists as wanted." in setup
    assert after == before, "the clean-up of step 9 leaves something behind"


def _getting_started(run: PageRun, out: str, before: dict[str, set[str]], after: dict[str, set[str]]) -> None:
    # The comments beside the prints say what they print.
    page = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    said = re.findall(r"^print\(.*?\)\s+# (.+?)(?:  \(|$)", page, re.MULTILINE)
    assert said
    for expected, printed in zip(said, out.splitlines(), strict=False):
        assert printed == expected


CHECKS: dict[str, Callable[[PageRun, str, dict[str, set[str]], dict[str, set[str]]], None]] = {
    "tutorial.md": _tutorial,
    "getting-started.md": _getting_started,
}


def test_the_tutorial_points_at_the_local_server() -> None:
    page = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    assert f'ENDPOINT = "http://{LOCAL}"' in page
    assert "moto_server -p 5000" in page


# ------------------------------------------------------------------ examples/README.md


def test_the_examples_readme_lists_every_example_with_its_test() -> None:
    readme = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")
    examples = sorted(
        p.name + ("/" if p.is_dir() else "")
        for p in (ROOT / "examples").iterdir()
        if (p.suffix == ".py" or p.is_dir()) and not p.name.startswith(("_", "."))
    )
    for name in examples:
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, f"examples/README.md does not list {name}"
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert len(cells) == 5, f"{name}: what, extras, how to run and the test"
        assert all(cells), f"{name}: what, extras, how to run and the test"
        test = re.search(r"`(tests/test_\w+\.py)`", cells[4])
        assert test is not None, f"{name}: {cells[4]}"
        assert (ROOT / test.group(1)).exists(), f"{name}: {cells[4]}"
        for extra in re.findall(r"`([a-z,]+)`", cells[2]):
            check_pip_install(f'pip install ".[{extra}]"', f"examples/README.md, {name}")
