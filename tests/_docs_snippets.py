"""Run the code blocks of a docs/ page as a reader would: the test side of tests/test_docs_snippets.py.

A page's ``python`` blocks run in order in one namespace (one Python session, as the pages say), its ``sh``,
``bash`` and ``console`` blocks in bash, in the same order as they appear, with the environment one block
exports carried to the next. A block that cannot run is marked on the line above its fence::

    <!-- not run: the reason -->

What the suite changes, and only this (CONTRIBUTING.md lists it too):

- ``moto_server -p 5000`` is not started: the suite's moto server stands in for it, and every
  ``127.0.0.1:5000`` in a block becomes that server's address;
- ``pip install ...`` is not run (the suite runs in a checkout installed with ``.[test]``); what it would
  install is checked instead: sesflow's extras must exist;
- ``sesflow`` is this checkout's command (``python -m sesflow``).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import attrs

import sesflow

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RUN = ("python", "sh", "bash", "console")
LOCAL = "127.0.0.1:5000"
_MARK = re.compile(r"^\s*<!--\s*not run:\s*(?P<reason>.*?)\s*-->\s*$")
_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)\s*$")


@attrs.frozen
class Block:
    page: str
    line: int  # of the opening fence, counted from 1
    lang: str
    code: str
    not_run: str | None  # the reason given in its marker, or None: the block runs

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Every fenced code block of ``page``, with the reason of its ``not run`` marker if it has one."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found = []
    number = 0
    while number < len(lines):
        fence = _FENCE.match(lines[number])
        if fence is None:
            number += 1
            continue
        indent = len(fence["indent"])
        end = number + 1
        while not re.match(rf"^\s{{0,{indent}}}```\s*$", lines[end]):
            end += 1
        code = "\n".join(line[indent:] for line in lines[number + 1 : end]) + "\n"
        previous = next((lines[i] for i in range(number - 1, -1, -1) if lines[i].strip()), "")
        mark = _MARK.match(previous)
        found.append(Block(page.name, number + 1, fence["lang"], code, mark["reason"] if mark else None))
        number = end + 1
    return found


def markers(page: Path) -> list[tuple[int, str]]:
    """(line, reason) of every ``not run`` marker on the page."""
    return [
        (n, m["reason"])
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if (m := _MARK.match(line))
    ]


def extras() -> set[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return set(pyproject["project"]["optional-dependencies"])


def check_pip_install(line: str, where: str) -> None:
    """A documented ``pip install`` names sesflow (or this checkout) with extras that exist."""
    words = shlex.split(line, comments=True)
    assert words[:2] == ["pip", "install"], f"{where}: {line!r}"
    for word in words[2:]:
        if word.startswith("-"):
            continue
        name, _, rest = word.partition("[")
        if name not in ("sesflow", "."):
            continue  # another project's package, named as the page says
        wanted = set(rest.rstrip("]").split(",")) if rest else set()
        assert wanted <= extras(), f"{where}: no such extra {sorted(wanted - extras())} in {line!r}"


class PageRun:
    """One page being run: the Python namespace and the shell environment its blocks share."""

    def __init__(self, page: str, endpoint: str, workdir: Path) -> None:
        self.page = page
        self.endpoint = endpoint
        self.workdir = workdir
        self.namespace: dict[str, Any] = {"__name__": f"docs_{Path(page).stem}"}
        self.env = _shell_env(workdir)
        self.shell_output: list[str] = []

    def local(self, code: str) -> str:
        return code.replace(f"http://{LOCAL}", self.endpoint)

    def run(self, block: Block) -> None:
        if block.lang == "python":
            self.run_python(block)
        else:
            self.run_shell(block)

    def run_python(self, block: Block) -> None:
        # Blank lines before the code keep tracebacks pointing at the page's own line numbers.
        source = "\n" * block.line + self.local(block.code)
        exec(compile(source, f"docs/{block.page}", "exec"), self.namespace)

    def run_shell(self, block: Block) -> None:
        lines = block.code.splitlines()
        if block.lang == "console":
            lines = [line[2:] for line in lines if line.startswith("$ ")]
        script = []
        for line in lines:
            command = line.strip()
            if command.startswith("pip install "):
                check_pip_install(command, block.where)
            elif re.fullmatch(r"moto_server -p 5000( &)?", command):
                continue
            else:
                script.append(self.local(line))
        env_file = self.workdir / ".env-after"
        body = "\n".join(["set -euo pipefail", *script, f"env -0 > {shlex.quote(str(env_file))}"])
        done = subprocess.run(
            ["bash", "-c", body],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, (
            f"{block.where}: the shell block failed ({done.returncode})\n{block.code}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
        self.shell_output.append(done.stdout)
        self.env = dict(entry.split("=", 1) for entry in env_file.read_text().split("\0") if "=" in entry)


def _shell_env(workdir: Path) -> dict[str, str]:
    """The environment of a reader's shell, with this checkout's ``sesflow`` first on the PATH."""
    bin_dir = workdir / ".bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "sesflow"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m sesflow "$@"\n')
    shim.chmod(0o755)
    src = str(Path(sesflow.__file__).resolve().parents[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_", "SESFLOW_"))}
    env.update(
        PATH=os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), env.get("PATH", "")]),
        PYTHONPATH=os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p),
        COLUMNS="80",
        HOME=str(workdir),
    )
    return env
