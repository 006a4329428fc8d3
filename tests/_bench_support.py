"""Load a benchmark script from bench/ as a module, so tests can call its functions (never its timings)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"


def load_bench(script: str) -> ModuleType:
    """``bench/<script>.py`` imported as ``sesflow_bench_<script>``."""
    spec = importlib.util.spec_from_file_location(f"sesflow_bench_{script}", BENCH_DIR / f"{script}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module
