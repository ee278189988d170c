"""
End-to-end tests of bad configuration: twistd exits non-zero within seconds
and says, in one clear line, which key, endpoint string or file is wrong.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from echohub.tls._devcert import DevCertificates, ensureDevCertificates
from tests.support import runEchohub


def assertClearFailure(env: dict[str, str], *fragments: str) -> str:
    """
    echohub with C{env} exits non-zero within a few seconds and prints a line
    starting with C{echohub:} that contains every fragment.

    @return: that line.
    """
    start = time.monotonic()
    code, output = runEchohub(env)
    assert time.monotonic() - start < 10
    assert code != 0, output
    lines = [
        line
        for line in output.splitlines()
        if "echohub:" in line and all(f in line for f in fragments)
    ]
    assert lines, f"no line naming {fragments} in:\n{output}"
    return lines[0]


def test_unparseableEndpoint() -> None:
    """
    An endpoint string Twisted cannot parse is named.
    """
    assertClearFailure({"ECHOHUB_LINE_LISTEN": "tcp:notaport"}, "'tcp:notaport'")


def test_unknownEndpointType() -> None:
    """
    An endpoint prefix that does not exist is named.
    """
    assertClearFailure({"ECHOHUB_WEB_LISTEN": "tpc:8080"}, "'tpc:8080'")


def test_unknownKey(tmp_path: Path) -> None:
    """
    An unknown key in the TOML file is named with its section and the file.
    """
    path = tmp_path / "echohub.toml"
    path.write_text("[line]\nmax_line_lenght = 10\n")
    assertClearFailure({"ECHOHUB_CONFIG": str(path)}, "max_line_lenght", str(path))


def test_missingConfigFile(tmp_path: Path) -> None:
    """
    A config file that does not exist is named.
    """
    path = str(tmp_path / "nope.toml")
    assertClearFailure({"ECHOHUB_CONFIG": path}, path, "does not exist")


def test_missingCertificate(tmp_path: Path) -> None:
    """
    A missing certificate or key file is named.
    """
    key = str(tmp_path / "missing-key.pem")
    assertClearFailure(
        {"ECHOHUB_LINE_LISTEN": f"ssl:0:interface=127.0.0.1:privateKey={key}"},
        key,
        "does not exist",
    )


def test_keyDoesNotMatchCertificate(tmp_path: Path, devcerts: DevCertificates) -> None:
    """
    A private key that belongs to another certificate is refused at start-up,
    naming both files.
    """
    other = ensureDevCertificates(str(tmp_path / "other"))
    key = other.server.privateKey.path
    cert = devcerts.server.certificate.path
    assertClearFailure(
        {
            "ECHOHUB_WEB_LISTEN": (
                f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"
            )
        },
        "does not match",
        key,
        cert,
    )


def test_portInUse() -> None:
    """
    A port already in use makes echohub exit, naming the endpoint string.
    """
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        line = assertClearFailure(
            {
                "ECHOHUB_WEB_LISTEN": "tcp:0:interface=127.0.0.1",
                "ECHOHUB_LINE_LISTEN": f"tcp:{port}:interface=127.0.0.1",
            },
            f"tcp:{port}:interface=127.0.0.1",
        )
        assert "in use" in line


@pytest.mark.parametrize("value", ["abc", "-5", "1.5"])
def test_badNumber(value: str) -> None:
    """
    A limit that is not a valid number names the variable and the value.
    """
    assertClearFailure(
        {"ECHOHUB_LINE_MAX_LINE_LENGTH": value}, "max_line_length", value
    )
