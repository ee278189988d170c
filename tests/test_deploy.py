"""
Tests for C{deploy/}: the systemd units pass systemd's own checker and its
security review, the multi-process template stays in step with the main
unit, and HAProxy accepts its configuration.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

DEPLOY = ROOT / "deploy"
UNITS = [
    "echohub.service",
    "echohub@.service",
    *sorted(p.name for p in DEPLOY.glob("*.socket")),
]

needsAnalyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (Debian package systemd)",
)


def installed(tmp_path: Path) -> Path:
    """
    Copy the units to C{tmp_path} with their install prefix (/opt/echohub)
    pointing at a real virtualenv, this one, as an install would.
    """
    prefix = Path(sys.prefix)
    assert (prefix / "bin" / "twistd").exists()
    for name in UNITS:
        text = (DEPLOY / name).read_text()
        (tmp_path / name).write_text(text.replace("/opt/echohub", str(prefix)))
    return tmp_path


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *args], capture_output=True, text=True, timeout=120
    )


@needsAnalyze
def test_unitsVerify(tmp_path: Path) -> None:
    """
    C{systemd-analyze verify} accepts every unit: the service, the worker
    template (as an instance) and the sockets.
    """
    text = (DEPLOY / "echohub.service").read_text()
    assert (
        "/opt/echohub/bin/twistd --nodaemon --pidfile= -y /opt/echohub/echohub.tac"
        in text
    )
    units = installed(tmp_path)
    (units / "echohub@1.service").write_text((units / "echohub@.service").read_text())
    names = [str(units / n) for n in UNITS if n != "echohub@.service"]
    result = analyze("verify", *names, str(units / "echohub@1.service"))
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "echohub" in line
    ]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


@needsAnalyze
@pytest.mark.parametrize("unit", ["echohub.service", "echohub@.service"])
def test_securityExposure(tmp_path: Path, unit: str) -> None:
    """
    C{systemd-analyze security --offline=true} rates each service at an
    exposure of 3.0 or less.
    """
    result = analyze("security", "--offline=true", str(installed(tmp_path) / unit))
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert match, result.stdout + result.stderr
    print(f"{unit}: exposure {match.group(1)}")
    assert float(match.group(1)) <= 3.0


def test_hardening() -> None:
    """
    The unit is socket-activated, Type=notify, stops after the drain
    deadline, has descriptors for 4x the caps, and does not set
    MemoryDenyWriteExecute (it breaks pyOpenSSL).
    """
    from echohub.config import Config

    text = (DEPLOY / "echohub.service").read_text()
    settings = dict(
        line.split("=", 1)
        for line in text.splitlines()
        if re.match(r"^[A-Z]\w+=", line)
    )
    assert settings["Type"] == "notify"
    assert "MemoryDenyWriteExecute" not in settings
    config = Config()
    assert int(settings["LimitNOFILE"]) >= 4 * (
        config.line.max_connections + config.web.max_connections
    )
    stop = float(settings["TimeoutStopSec"].rstrip("s"))
    assert stop > config.server.drain_timeout
    assert "SystemCallFilter=@system-service" in text.splitlines()
    for socketUnit in DEPLOY.glob("*.socket"):
        socketText = socketUnit.read_text()
        name = re.search(r"^FileDescriptorName=(\w+)$", socketText, re.M)
        assert name, socketUnit
        assert f"name={name.group(1)}" in socketText
        assert "Service=echohub.service" in socketText


def test_templateInStep() -> None:
    """
    The multi-process template runs and hardens exactly as the main unit:
    it differs only in its description, its Sockets= and its install
    section.
    """

    def serviceSection(name: str) -> list[str]:
        text = (DEPLOY / name).read_text()
        section = text.split("[Service]", 1)[1].split("[Install]", 1)[0]
        return [
            line
            for line in section.splitlines()
            if line and not line.startswith("#") and not line.startswith("Sockets=")
        ]

    assert serviceSection("echohub.service") == serviceSection("echohub@.service")
    assert (
        "Sockets=echohub.socket echohub-web.socket"
        in (DEPLOY / "echohub@.service").read_text()
    )


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
def test_haproxyConfigValid() -> None:
    """
    C{haproxy -c} accepts C{deploy/haproxy.cfg}: servers send PROXY v2 and
    are health-checked on /healthz.
    """
    path = DEPLOY / "haproxy.cfg"
    text = path.read_text()
    assert "send-proxy-v2" in text and "GET /healthz" in text
    result = subprocess.run(
        ["haproxy", "-c", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"MAXCONN": "1000", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
