"""
Tests for C{deploy/}: the systemd unit is accepted by systemd's own checker.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

UNIT = ROOT / "deploy" / "echohub.service"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_unitVerifies(tmp_path: Path) -> None:
    """
    C{systemd-analyze verify} accepts the unit once its install prefix
    (/opt/echohub) points at a real virtualenv: this one.
    """
    text = UNIT.read_text()
    assert "/opt/echohub/bin/twistd --nodaemon --pidfile=" in text
    prefix = Path(sys.prefix)
    assert (prefix / "bin" / "twistd").exists()
    unit = tmp_path / "echohub.service"
    unit.write_text(text.replace("/opt/echohub", str(prefix)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "echohub" in line
    ]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr
