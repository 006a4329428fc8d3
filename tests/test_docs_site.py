"""The documentation site as a reader gets it: built offline-ready (nothing fetched from the internet), every
object of the API reference under a heading of its own, and docstrings written in what the site renders
(Markdown), not in Sphinx's roles, which would show as raw text."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPHINX = re.compile(r":(?:py:)?(?:meth|class|func|attr|mod|exc|data|obj|const):`")


def test_docstrings_use_no_sphinx_roles_or_literal_markers() -> None:
    found = []
    for path in sorted((ROOT / "src").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if SPHINX.search(line) or re.search(r"[^:\s]::$", line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == [], "write ``name`` (Markdown code) instead:\n" + "\n".join(found)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocs", reason="the docs tools come with the test extra")
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return out


def _pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_no_page_loads_anything_from_the_internet(site: Path) -> None:
    fetched = []
    for page in _pages(site):
        html = page.read_text(encoding="utf-8")
        for tag in re.findall(r"<(?:link|script|img|iframe)\b[^>]*>", html):
            if re.search(r"\b(?:src|href)=\"(?:https?:)?//", tag) and not re.search(
                r'rel="(?:canonical)"', tag
            ):
                fetched.append(f"{page.relative_to(site)}: {tag}")
    assert fetched == []


def test_every_api_object_has_a_heading(site: Path) -> None:
    for source in sorted((ROOT / "docs").glob("*.md")):
        text = source.read_text(encoding="utf-8")
        html = (site / source.stem / "index.html") if source.stem != "index" else site / "index.html"
        rendered = html.read_text(encoding="utf-8")
        for match in re.finditer(r"^::: (\S+)\n((?:    .*\n)*)", text, re.MULTILINE):
            if "show_root_heading: false" in match.group(2):
                continue
            heading = re.search(rf'<h[2-5] id="{re.escape(match.group(1))}"', rendered)
            assert heading is not None, f"docs/{source.name}: {match.group(1)} has no heading"


def test_no_sphinx_role_is_shown_as_text(site: Path) -> None:
    shown = [
        f"{page.relative_to(site)}: {m.group(0)}"
        for page in _pages(site)
        for m in re.finditer(r":(?:meth|class|func|attr|mod|exc):(?:`|<code>)[^<`]*", page.read_text("utf-8"))
    ]
    assert shown == []
