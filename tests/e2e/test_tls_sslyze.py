"""
echohub's TLS listeners checked by sslyze against Mozilla's Server Side TLS
5.7 profiles.

sslyze pins an older C{cryptography} than echohub, so it lives in its own
virtualenv: C{.venv-sslyze} in the source tree (C{make sslyze} creates it;
this module tries to as well), or wherever C{ECHOHUB_SSLYZE} points.  The
tests skip, saying why, only when sslyze cannot be installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from echohub.tls._devcert import DevCertificates
from tests.support import ROOT, EchohubProcess, issueServerCertificate, ssl0

pytestmark = pytest.mark.e2e

VENV = ROOT / ".venv-sslyze"


@pytest.fixture(scope="session")
def sslyze() -> Path:
    """
    The sslyze command, installed into L{VENV} if it is not there yet.
    """
    configured = os.environ.get("ECHOHUB_SSLYZE")
    command = Path(configured) if configured else VENV / "bin" / "sslyze"
    if not command.exists() and not configured:
        try:
            subprocess.run(
                [sys.executable, "-m", "venv", str(VENV)],
                check=True,
                capture_output=True,
                timeout=120,
            )
            subprocess.run(
                [str(VENV / "bin" / "pip"), "install", "--quiet", "sslyze"],
                check=True,
                capture_output=True,
                timeout=600,
            )
        except (OSError, subprocess.SubprocessError) as e:
            pytest.skip(f"sslyze cannot be installed into {VENV}: {e}")
    if not command.exists():
        pytest.skip(f"sslyze is not installed at {command}")
    return command


def verdicts(
    sslyze: Path, profile: str, ca: str, addresses: list[tuple[str, int]]
) -> str:
    """
    Run sslyze against C{addresses} with a Mozilla profile and return its
    compliance verdicts.
    """
    result = subprocess.run(
        [
            str(sslyze),
            f"--mozilla_config={profile}",
            f"--certinfo_ca_file={ca}",
            *(f"localhost:{port}" for _, port in addresses),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    # The verdicts come last, after a heading; the rest is the scan itself.
    return output[output.rfind("COMPLIANCE AGAINST") :]


def test_mozillaProfiles(
    sslyze: Path,
    echohub: Callable[..., EchohubProcess],
    devcerts: DevCertificates,
    tmp_path: Path,
) -> None:
    """
    The line and web TLS listeners comply with Mozilla's I{intermediate}
    profile, and a C{profile=modern} listener with I{modern}, in sslyze's
    own words.
    """
    cert, key, _ = issueServerCertificate(devcerts.ca, tmp_path, "server")
    process = echohub(
        {
            "ECHOHUB_LINE_LISTEN": " ".join(
                [
                    ssl0(devcerts, cert=cert, key=key),
                    ssl0(devcerts, "profile=modern", cert=cert, key=key),
                ]
            ),
            "ECHOHUB_WEB_LISTEN": ssl0(devcerts, cert=cert, key=key),
        },
        listeners=3,
        cwd=str(tmp_path),
    )
    ca = devcerts.ca.certificate.path
    intermediate = [process.address("line"), process.address("web")]
    output = verdicts(sslyze, "intermediate", ca, intermediate)
    print(output)
    for _, port in intermediate:
        assert f"localhost:{port}: OK - Compliant." in output, output
    modern = process.address("line", 1)
    output = verdicts(sslyze, "modern", ca, [modern])
    print(output)
    assert f"localhost:{modern[1]}: OK - Compliant." in output, output
