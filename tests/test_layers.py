"""The layers of docs/architecture.md, held against the code: no import climbs back up a layer."""

from __future__ import annotations

import ast
from pathlib import Path

import sesflow

SRC = Path(sesflow.__file__).parent

# The rank of each top-level module or package of sesflow: each may import only ranks below its own (and
# itself). Packages of one rank do not import each other: sending and sources are two wings over events, and
# the edges stand side by side.
LAYERS: dict[str, int] = {
    "_public": 0,
    "errors": 1,
    "_text": 1,  # one-line text for messages (errors and the command quote outside answers with it)
    "events": 2,
    "_aio": 2,  # opening aiobotocore clients, for the async twins of sending and consuming
    "sources": 3,
    "sending": 3,
    "routing": 4,
    "consumers": 5,
    "analytics": 5,
    # Provisioning builds the Glue table from the analytics schema, LocalSes writes the lake's Parquet, and
    # Django's worker command runs SqsConsumer: these stand on the consumers and analytics.
    "provisioning": 6,
    "testing": 6,
    "integrations": 6,
    "__init__": 7,
    "cli": 8,
    "__main__": 9,
}


def _top(path: Path) -> str:
    """The top-level module or package of sesflow that ``path`` belongs to."""
    parts = path.relative_to(SRC).with_suffix("").parts
    return parts[0]


def _imported(path: Path) -> set[str]:
    """The top-level parts of sesflow that ``path`` imports: anywhere in it, type checking included."""
    module = ["sesflow", *path.relative_to(SRC).with_suffix("").parts]
    package = module if module[-1] == "__init__" else module[:-1]
    if package[-1] == "__init__":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                target = package[: len(package) - node.level + 1] + (node.module or "").split(".")
            else:
                target = (node.module or "").split(".")
            target = [part for part in target if part]
            if target[:1] != ["sesflow"]:
                continue
            if len(target) == 1:  # from sesflow import x, or from .. import x: x may be a module
                found.update(a.name if a.name in LAYERS else "__init__" for a in node.names)
            else:
                found.add(target[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("sesflow."))
    return found


def test_every_part_of_sesflow_has_a_layer() -> None:
    parts = {_top(path) for path in SRC.rglob("*.py")}
    assert parts == set(LAYERS)


def test_no_import_climbs_back_up_a_layer() -> None:
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        here = _top(path)
        for target in _imported(path) - {here}:
            if LAYERS[target] >= LAYERS[here]:
                where = f"{path.relative_to(SRC)} ({here}, layer {LAYERS[here]})"
                wrong.append(f"{where} imports {target} (layer {LAYERS[target]})")
    assert wrong == []


def test_the_check_sees_imports() -> None:
    """The walk finds the imports that exist (so an empty list of wrong ones means something)."""
    assert _imported(SRC / "routing" / "_lambda.py") >= {"events", "sources"}
    assert "__init__" in _imported(SRC / "cli" / "__init__.py")  # from .. import __version__
    assert _imported(SRC / "__init__.py") >= {"consumers", "sending", "routing", "sources", "events"}
