"""What the release files hold, built offline with the project's own build backend (hatchling).

The sdist is the release's source and what checks and documents it: the package, the tests with their data,
the examples and benchmarks the tests load, the docs. Not CI's script, git's files or caches. The wheel is
the package alone, with its data files and its typing marker.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SDIST_TOP = {
    "src",
    "tests",
    "docs",
    "examples",
    "bench",
    "README.md",
    "CHANGELOG.md",
    "CONTRIBUTING.md",
    "LICENSE",
    "mkdocs.yml",
    "pyproject.toml",
    "hatch_build.py",
    "PKG-INFO",
}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling", reason="hatchling comes with the test extra")
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-t", "wheel", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return out


def _sdist_names(dist: Path) -> list[str]:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        return [name.split("/", 1)[1] for name in tar.getnames() if "/" in name]


def test_the_sdist_holds_the_source_and_what_checks_it_and_nothing_else(dist: Path) -> None:
    names = _sdist_names(dist)
    assert {name.split("/")[0] for name in names} == SDIST_TOP
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    assert not [n for n in names if n.startswith(("bench/.cache", ".ci", ".git"))]
    for needed in ("src/sesflow/py.typed", "tests/conftest.py", "docs/index.md", "examples/README.md"):
        assert needed in names


def test_the_sdist_has_every_tracked_file_of_what_it_holds(dist: Path) -> None:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to compare the sdist with")
    tracked = subprocess.run(
        [git, "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    wanted = {name for name in tracked if name.split("/")[0] in SDIST_TOP and (ROOT / name).exists()}
    assert wanted - set(_sdist_names(dist)) == set()


def test_the_wheel_is_the_package_with_its_data_and_typing_marker(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    packaged = {name.split("/")[0] for name in names}
    assert {p for p in packaged if not p.endswith(".dist-info")} == {"sesflow"}
    assert "sesflow/py.typed" in names
    data = [p.relative_to(ROOT / "src").as_posix() for p in (ROOT / "src" / "sesflow").rglob("*.json")]
    assert data  # the bundled sample records
    assert set(data) <= set(names)
