"""The layers import one way (pyproject.toml [tool.importlinter]): contract and settings at the
bottom, then ingestion, validation and publishing, the outputs, the Dagster definitions and the
commands. An import against the flow breaks the contract, and this test with it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _lint_imports(cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(exe), "--no-cache"], cwd=cwd, capture_output=True, text=True, check=False, env=env
    )


def test_imports_flow_one_way():
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    """The contract has teeth: ingestion importing the outputs is reported."""
    copy = tmp_path / "repo"
    shutil.copytree(
        REPO / "reentry", copy / "reentry", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(
        REPO / "simulation", copy / "simulation", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    summary = copy / "reentry" / "ingest" / "summary.py"
    summary.write_text(summary.read_text() + "\nfrom reentry.outputs import site  # noqa\n")
    result = _lint_imports(copy, env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    assert "reentry.ingest.summary -> reentry.outputs.site" in result.stdout
