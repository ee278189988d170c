"""
End-to-end tests of the TLS failure scenarios: C{echohub-devcert --scenarios}
makes the certificates, a real C{twistd -ny echohub.tac} serves each on a
web listener given by its endpoint string, and curl, Python's C{ssl} and
C{openssl s_client} get exactly the verification error each is meant to
produce, trusting the scenario CA; where a client trusts what the scenario
needs on purpose, the connection succeeds and the page names the scenario.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from echohub.tls import SCENARIOS, devcertMain, scenarioListener
from tests.support import EchohubProcess, running

pytestmark = pytest.mark.e2e

NAMES = list(SCENARIOS)

# What each client reports, trusting the scenario CA.
PYTHON = {
    "expired": "certificate has expired",
    "not-yet-valid": "certificate is not yet valid",
    "wrong-host": "Hostname mismatch",
    "self-signed": "self-signed certificate",
    "untrusted-root": "self-signed certificate in certificate chain",
    "incomplete-chain": "unable to get local issuer certificate",
    "client-cert-required": "CERTIFICATE_REQUIRED",
    "weak-key": "EE certificate key too weak",
    "sha1": "CA signature digest algorithm too weak",
    "tls-v1-0": "PROTOCOL_VERSION",
    "tls-v1-1": "PROTOCOL_VERSION",
}
CURL = {
    **PYTHON,
    "wrong-host": "no alternative certificate subject name matches",
    "client-cert-required": "alert certificate required",
    "tls-v1-0": "",
    "tls-v1-1": "",
}
CURL_EXIT = {"client-cert-required": 56, "tls-v1-0": 35, "tls-v1-1": 35}


@pytest.fixture(scope="module")
def scenarios(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[EchohubProcess, Path]]:
    """
    One echohub serving every scenario, its files made by the command.
    """
    directory = tmp_path_factory.mktemp("scenarios")
    assert devcertMain([str(directory), "--scenarios"]) == 0
    with running(
        {
            "ECHOHUB_LINE_LISTEN": "",
            "ECHOHUB_WEB_LISTEN": " ".join(
                scenarioListener(str(directory), name) for name in NAMES
            ),
        },
        cwd=str(directory),
        listeners=len(NAMES),
    ) as process:
        yield process, directory / "scenarios"


def port(server: EchohubProcess, name: str) -> int:
    return server.address("web", NAMES.index(name))[1]


def pythonGet(
    server: EchohubProcess, name: str, context: ssl.SSLContext, host: str = "localhost"
) -> bytes:
    """
    GET / with C{context}; the page, up to EOF.
    """
    raw = socket.create_connection(("127.0.0.1", port(server, name)), timeout=10)
    with context.wrap_socket(raw, server_hostname=host) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


@pytest.mark.parametrize("name", NAMES)
def test_python(scenarios: tuple[EchohubProcess, Path], name: str) -> None:
    """
    Python's C{ssl}, trusting the scenario CA, fails with the scenario's
    error.
    """
    server, directory = scenarios
    context = ssl.create_default_context(cafile=str(directory / "ca.pem"))
    with pytest.raises(OSError) as caught:
        pythonGet(server, name, context)
    if name == "client-cert-required" and isinstance(
        caught.value, ConnectionResetError
    ):
        # TLS 1.3: the client's handshake ended before the server's check,
        # and its request, unread by the closing server, turned the
        # server's close into a reset that overtook the alert.
        return
    assert isinstance(caught.value, ssl.SSLError)
    assert PYTHON[name] in str(caught.value)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_curl(scenarios: tuple[EchohubProcess, Path], name: str) -> None:
    """
    curl, trusting the scenario CA, fails with the scenario's error.
    """
    server, directory = scenarios
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            str(directory / "ca.pem"),
            f"https://localhost:{port(server, name)}/",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    if name == "client-cert-required" and result.returncode != 56:
        # With TLS 1.3 curl's handshake is over before the server refuses:
        # it may find the connection already closed (55, getpeername) or
        # reset (56) rather than read the alert.
        assert result.returncode == 55, result.stderr
        return
    assert result.returncode == CURL_EXIT.get(name, 60), result.stderr
    if name == "client-cert-required" and "reset by peer" in result.stderr:
        return
    assert CURL[name] in result.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_opensslExpired(scenarios: tuple[EchohubProcess, Path]) -> None:
    """
    C{openssl s_client} names the expired certificate (verify error 10).
    """
    server, directory = scenarios
    result = subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"127.0.0.1:{port(server, 'expired')}",
            "-CAfile",
            str(directory / "ca.pem"),
            "-verify_return_error",
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode != 0
    assert "certificate has expired" in result.stdout + result.stderr


def trusting(*files: Path, weak: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context()
    for path in files:
        context.load_verify_locations(cafile=str(path))
    if weak:
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def test_trustedOnPurpose(scenarios: tuple[EchohubProcess, Path]) -> None:
    """
    Where the client trusts what a scenario needs (its own root, the
    missing intermediate, the self-signed certificate, a client
    certificate, the name, the weak algorithms), the handshake succeeds and
    the page says which failure the listener is meant to produce.
    """
    server, directory = scenarios
    ca = directory / "ca.pem"
    withClient = trusting(ca)
    withClient.load_cert_chain(
        str(directory / "client.pem"), str(directory / "client-key.pem")
    )
    cases = {
        "untrusted-root": trusting(directory / "untrusted-root-ca.pem"),
        "incomplete-chain": trusting(
            ca, directory / "incomplete-chain-intermediate.pem"
        ),
        "self-signed": trusting(directory / "self-signed.pem"),
        "client-cert-required": withClient,
        "weak-key": trusting(ca, weak=True),
        "sha1": trusting(ca, weak=True),
    }
    for name, context in cases.items():
        page = pythonGet(server, name, context)
        assert page.startswith(b"HTTP/1.1 200 "), (name, page[:100])
        assert f"TLS scenario {name}</strong>".encode() in page, name
    page = pythonGet(server, "wrong-host", trusting(ca), host="wrong.host.echohub.test")
    assert b"TLS scenario wrong-host" in page


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_oldVersionsOnPurpose(scenarios: tuple[EchohubProcess, Path]) -> None:
    """
    A client that allows TLS 1.0 (or 1.1) at security level 0 gets through;
    the version is the scenario's.
    """
    server, directory = scenarios
    for name, version in (("tls-v1-0", "TLSv1"), ("tls-v1-1", "TLSv1.1")):
        context = trusting(directory / "ca.pem", weak=True)
        context.minimum_version = ssl.TLSVersion.TLSv1
        raw = socket.create_connection(("127.0.0.1", port(server, name)), timeout=10)
        try:
            with context.wrap_socket(raw, server_hostname="localhost") as sock:
                assert sock.version() == version
        except ssl.SSLError as e:
            pytest.skip(f"this machine's OpenSSL will not speak {version}: {e}")
