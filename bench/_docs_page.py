"""Shared by the benchmark scripts: each owns one ``## `` section of docs/benchmarks.md, rewrites only it."""

from __future__ import annotations

import re


def replace_section(page: str, section: str, title: str | None = None) -> str:
    """``page`` with its ``title`` section (up to the next ``## `` heading) replaced, or appended.

    ``title`` defaults to the section's own first line (``"## Parsing"``).
    """
    title = title or section.splitlines()[0]
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    section = section.rstrip("\n") + "\n"
    if pattern.search(page):
        return pattern.sub(lambda _m: section + "\n", page, count=1).rstrip("\n") + "\n"
    return page.rstrip("\n") + "\n\n" + section
