"""One public name, one place: what ``sesflow`` exports, and the home each public class or function names."""

from __future__ import annotations

import ast
import importlib
import inspect
import pickle
import pkgutil
import subprocess
import sys
import typing
from pathlib import Path
from types import ModuleType

import pytest

import sesflow
from sesflow._public import TOP_LEVEL

SRC = Path(sesflow.__file__).parent


def _public_modules() -> list[ModuleType]:
    """``sesflow`` and every module under it whose dotted path has no private part."""
    modules = [sesflow]
    for info in pkgutil.walk_packages(sesflow.__path__, "sesflow."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        modules.append(importlib.import_module(info.name))
    return modules


PUBLIC_MODULES = _public_modules()
PACKAGES = [m for m in PUBLIC_MODULES if hasattr(m, "__path__")]


def _defined_here(obj: object) -> bool:
    return (isinstance(obj, type) or inspect.isfunction(obj)) and obj.__module__.split(".")[0] == "sesflow"


def test_every_public_class_and_function_reports_a_home_that_exports_it() -> None:
    checked = 0
    for module in PUBLIC_MODULES:
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if not _defined_here(obj):
                continue
            home = obj.__module__
            assert not any(part.startswith("_") for part in home.split(".")), (module.__name__, name, home)
            home_module = importlib.import_module(home)
            assert getattr(home_module, obj.__name__) is obj, (name, home)
            assert obj.__name__ in home_module.__all__, (name, home)
            checked += 1
    assert checked > 200  # the whole surface was walked, not an empty list


def test_sesflow_is_the_home_of_the_names_it_exports() -> None:
    for name in sesflow.__all__:
        obj = getattr(sesflow, name)
        if _defined_here(obj):
            assert obj.__module__ == "sesflow", name
    assert repr(sesflow.SqsConsumer) == "<class 'sesflow.SqsConsumer'>"


def test_a_package_is_the_home_of_what_it_defines_and_exports() -> None:
    top = set(sesflow.__all__)
    for package in PACKAGES:
        if package is sesflow:
            continue
        for name in package.__all__:
            obj = getattr(package, name)
            if _defined_here(obj) and name not in top and obj.__module__.startswith(package.__name__):
                assert obj.__module__ == package.__name__, (package.__name__, name)


def test_a_traceback_names_the_public_home() -> None:
    from sesflow.routing import DispatchError, RouterConfigError

    assert f"{DispatchError.__module__}.{DispatchError.__qualname__}" == "sesflow.DispatchError"
    assert RouterConfigError.__module__ == "sesflow.routing"
    error = pickle.loads(pickle.dumps(DispatchError([])))  # pickled by its home, and found there again
    assert type(error) is DispatchError


def test_type_hints_of_published_classes_still_resolve() -> None:
    """Moving ``__module__`` must not break ``typing.get_type_hints`` (attrs and cattrs rely on it)."""
    for module in PUBLIC_MODULES:
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if isinstance(obj, type) and obj.__module__.split(".")[0] == "sesflow":
                typing.get_type_hints(obj)


def test_the_table_is_what_sesflow_exports() -> None:
    table = {name for names in TOP_LEVEL.values() for name in names}
    assert set(sesflow.__all__) == table | {"__version__"}
    assert len(sesflow.__all__) == len(set(sesflow.__all__))
    for module, names in TOP_LEVEL.items():
        source = importlib.import_module(f"sesflow.{module}")
        for name in names:
            assert getattr(sesflow, name) is getattr(source, name), name
    assert set(sesflow.__all__) <= set(dir(sesflow))
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        sesflow.NoSuchThing  # noqa: B018


def test_the_imports_mypy_reads_are_the_table() -> None:
    """``sesflow/__init__.py`` writes each name once more for mypy (imported now, or under TYPE_CHECKING):
    those imports must be exactly the table, each from the module the table says."""
    tree = ast.parse((SRC / "__init__.py").read_text(encoding="utf-8"))
    imported: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module != "_public":
            for alias in node.names:
                assert alias.asname == alias.name, f"{alias.name}: write 'X as X' so mypy sees a re-export"
                imported[alias.name] = str(node.module)
    expected = {name: module for module, names in TOP_LEVEL.items() for name in names}
    assert imported == expected


def test_mypy_sees_every_name_of_sesflow(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    api = pytest.importorskip("mypy.api", reason="mypy is part of the test extra")
    pytest_cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    cache = pytest_cache.mkdir("mypy-router-typing") if pytest_cache is not None else tmp_path / "cache"
    names = sorted(set(sesflow.__all__) - {"__version__"})
    source = tmp_path / "uses_sesflow.py"
    lines = [f"from sesflow import {name}" for name in names]
    lines += [f"reveal_type({name})" for name in names]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    stdout, _, _ = api.run(["--strict", "--no-error-summary", "--cache-dir", str(cache), str(source)])
    notes = [line for line in stdout.splitlines() if "Revealed type" in line]
    assert [line for line in stdout.splitlines() if ": error:" in line] == [], stdout
    assert len(notes) == len(names), stdout
    assert not [line for line in notes if line.endswith('"Any"')], stdout


def test_importing_sesflow_does_not_import_the_lazy_packages() -> None:
    code = (
        "import sys, sesflow; sesflow.parse_event; "
        "print(sorted(m for m in ('boto3', 'cryptography', 'sesflow.sending', 'sesflow.routing') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
