"""
The Makefile's first step on a newcomer's machine: a Python older than 3.11
is refused with a clear message, before any C{.venv} is made, and a C{.venv}
an older Python made is removed, so the next run starts clean.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT

OLD_PYTHON = """#!/bin/sh
case "$1" in -V) echo "Python 3.10.12";; *) exit 1;; esac
"""


@pytest.fixture
def oldPython(tmp_path: Path) -> Path:
    """
    A stand-in for Python 3.10: C{-V} says so, anything else fails.
    """
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    python = tmp_path / "python3.10"
    python.write_text(OLD_PYTHON)
    python.chmod(0o755)
    return python


def make(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_oldPythonRefused(tmp_path: Path, oldPython: Path) -> None:
    """
    C{make run} with Python 3.10 says what is needed and makes no C{.venv}.
    """
    venv = tmp_path / "venv"
    result = make(f"PYTHON={oldPython}", f"VENV={venv}", f"{venv}/.installed")
    assert result.returncode != 0
    assert "echohub needs Python 3.11 or later" in result.stdout
    assert "Python 3.10.12" in result.stdout
    assert not venv.exists()


def test_oldVenvRemoved(tmp_path: Path, oldPython: Path) -> None:
    """
    A C{.venv} left by Python 3.10 is removed with a message saying so,
    rather than failing the same way at every later run.
    """
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    shutil.copy(oldPython, venv / "bin" / "python")
    result = make(f"VENV={venv}", f"{venv}/.installed")
    assert result.returncode != 0
    assert "was made by Python 3.10.12" in result.stdout
    assert not venv.exists()
