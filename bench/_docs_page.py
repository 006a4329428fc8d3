"""Shared by the benchmark scripts: each owns one ``## `` section of docs/benchmarks.md, rewrites only it,
and describes the machine and the versions it ran with the same way."""

from __future__ import annotations

import os
import platform
import re
from importlib import metadata


def machine() -> str:
    """``CPython 3.11.7 on Linux x86_64, 2 CPUs``."""
    return (
        f"{platform.python_implementation()} {platform.python_version()} on {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs"
    )


def versions(*names: str) -> str:
    """``sesflow 0.1.0, duckdb 2.0.1, ...``: the installed version of each distribution named."""
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


# The docs runner (tests/test_docs_snippets.py) runs every block of docs/ unless this marks it: a benchmark's
# command is marked, since it takes minutes and rewrites the page it is on.
DOCS_NOT_RUN = (
    "<!-- not run: a benchmark run takes minutes and rewrites this page; tests/test_*bench*.py run the same "
    "code small -->"
)
_UNMARKED_FENCE = re.compile(r"(?<!-->\n)^```(?:sh|bash|console)\n", re.MULTILINE)


def replace_section(page: str, section: str, title: str | None = None) -> str:
    """``page`` with its ``title`` section (up to the next ``## `` heading) replaced, or appended.

    ``title`` defaults to the section's own first line (``"## Parsing"``). Each shell block of the section
    (the command that reproduces it) gets ``DOCS_NOT_RUN`` above it, unless it has a marker already.
    """
    title = title or section.splitlines()[0]
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    section = _UNMARKED_FENCE.sub(lambda m: f"{DOCS_NOT_RUN}\n{m.group(0)}", section.rstrip("\n") + "\n")
    if pattern.search(page):
        return pattern.sub(lambda _m: section + "\n", page, count=1).rstrip("\n") + "\n"
    return page.rstrip("\n") + "\n\n" + section
