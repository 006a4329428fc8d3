"""An aioboto3 session still works: the async twins on aioboto3 15.5 (botocore 1.40.61), in its own env.

The ``async`` extra depends on aiobotocore; the suite's environment has a current one, with which aioboto3
15.5 (pinning aiobotocore 2.25.1) cannot be installed. So this test installs aioboto3 15.5 and its pinned
dependencies once into a cache folder (``.cache/`` at the project root, or ``$SESFLOW_TEST_CACHE``) with
``pip install --target``, and runs ``_aioboto3_scenario.py`` in a fresh interpreter with that folder first on
``sys.path`` and sesflow from this work tree: an ``AsyncSesClient`` and an ``AsyncSqsConsumer`` built from an
``aioboto3.Session`` send and consume against the suite's moto server, a tenant send goes through FakeSes, and
tenant-level suppression (newer than botocore 1.40.61) is refused with a clear error. The first run downloads
the packages (skipped, saying so, only when the package registry cannot be reached); later runs reuse them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AIOBOTO3 = "15.5.0"
PINNED_BOTOCORE = "1.40.61"
_UNREACHABLE = (
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "Connection refused",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "No matching distribution found",
    "Could not find a version that satisfies",
)


def _cached_aioboto3() -> Path:
    base = Path(os.environ.get("SESFLOW_TEST_CACHE") or ROOT / ".cache")
    target = base / f"aioboto3-{AIOBOTO3}-py{sys.version_info.major}{sys.version_info.minor}"
    done = target / ".sesflow-complete"
    if done.exists():
        return target
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--upgrade",
        "--target",
        str(target),
        f"aioboto3=={AIOBOTO3}",
    ]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(
            f"installing aioboto3 {AIOBOTO3} took over 10 minutes: the package registry is unreachable"
        )
    if completed.returncode != 0:
        output = completed.stdout + completed.stderr
        if any(sign in output for sign in _UNREACHABLE):
            pytest.skip(
                f"the package registry cannot be reached to install aioboto3 {AIOBOTO3}: {output[-300:]}"
            )
        raise AssertionError(f"pip could not install aioboto3 {AIOBOTO3}:\n{output}")
    done.write_text(AIOBOTO3 + "\n", encoding="utf-8")
    return target


def test_an_aioboto3_session_drives_the_async_twins(moto_server: str) -> None:
    packages = _cached_aioboto3()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(packages), str(ROOT / "src")]),
        "PYTHONNOUSERSITE": "1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    completed = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "_aioboto3_scenario.py"), moto_server],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    out = json.loads(completed.stdout.strip().splitlines()[-1])

    # the scenario really ran on aioboto3's pinned stack, with this work tree's sesflow
    assert (out["aioboto3"], out["botocore"]) == (AIOBOTO3, PINNED_BOTOCORE)
    assert out["aiobotocore"].startswith("2.25.")
    assert Path(out["sesflow_file"]).resolve() == (ROOT / "src" / "sesflow" / "__init__.py").resolve()

    assert out["message_id"]
    assert out["configuration_set"].startswith("compat-")
    assert len(out["handled"]) == 1
    assert out["handled"][0].startswith("bounce-")
    assert out["tenant_sent"] == ["acme"]
    assert out["tenant_result"] == "acme"
    assert "newer botocore" in out["suppression_error"]
    assert PINNED_BOTOCORE in out["suppression_error"]
    assert out["suppression_calls"] == 0
