"""Load the project's scripts (bench/, examples/) as modules, so tests can call what they define."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_script(path: Path, module_name: str) -> ModuleType:
    """``path`` imported as ``module_name``, registered in ``sys.modules`` (dataclasses and pydantic look a
    class's module up while the class is built)."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def load_bench(script: str) -> ModuleType:
    """``bench/<script>.py`` (never run for its timings in tests)."""
    return load_script(ROOT / "bench" / f"{script}.py", f"sesflow_bench_{script}")


def load_example(name: str) -> ModuleType:
    """A fresh import of ``examples/<name>.py``: each call gets its own module-level state."""
    return load_script(ROOT / "examples" / f"{name}.py", f"sesflow_example_{name}_{uuid.uuid4().hex}")
