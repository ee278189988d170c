"""
End-to-end tests of inspection, response controls and streaming against a
real C{twistd -ny echohub.tac}, with curl and raw sockets, over HTTP and
HTTPS.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time

import pytest

from echohub.tls._devcert import DevCertificates
from tests.support import EchohubProcess, recvAll

pytestmark = pytest.mark.e2e

needsCurl = pytest.mark.skipif(
    shutil.which("curl") is None, reason="curl is not installed"
)


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "20", *args],
        capture_output=True,
        timeout=30,
        check=True,
    )


@needsCurl
def test_anythingOverHTTPS(server: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    Over HTTPS, /anything reports the TLS version, cipher, ALPN and SNI, the
    client's address and the request as curl sent it.
    """
    _, port = server.address("web", 1)
    result = curl(
        "--cacert",
        devcerts.ca.certificate.path,
        "-H",
        "X-Test: a",
        "-H",
        "Authorization: Bearer t",
        "--data",
        "a=1&a=2",
        f"https://localhost:{port}/anything/p?q=1",
    )
    facts = json.loads(result.stdout)
    assert facts["method"] == "POST"
    assert facts["url"] == f"https://localhost:{port}/anything/p?q=1"
    assert facts["form"] == {"a": ["1", "2"]}
    assert facts["headers"]["X-Test"] == "a"
    assert "Bearer t" not in result.stdout.decode()
    assert facts["tls"]["version"] in ("TLSv1.2", "TLSv1.3")
    assert facts["tls"]["sni"] == "localhost"
    assert facts["tls"]["alpn"] == "h2"  # curl prefers HTTP/2 over HTTPS
    assert facts["client"]["host"] == "127.0.0.1"


def test_delayDoesNotBlockOthers(server: EchohubProcess) -> None:
    """
    While one client waits for /delay/2, another is answered at once; the
    delayed answer comes after two seconds.
    """
    started = time.monotonic()
    with server.connect("web") as delayed:
        delayed.sendall(
            b"GET /delay/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        with server.connect("web") as other:
            other.sendall(b"GET /ip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert b"200 OK" in recvAll(other)
        assert time.monotonic() - started < 1.5
        reply = recvAll(delayed)
    assert reply.startswith(b"HTTP/1.1 200 OK")
    assert time.monotonic() - started >= 2


@needsCurl
def test_streamAndBytes(server: EchohubProcess) -> None:
    """
    /stream/5 is five JSON lines; /bytes with a seed is reproducible; a
    count over the limit is a 400.
    """
    host, port = server.address("web")
    lines = curl(
        "-N", f"http://{host}:{port}/stream/5?interval=0.05"
    ).stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [0, 1, 2, 3, 4]
    one = curl(f"http://{host}:{port}/bytes/1000?seed=3").stdout
    assert (
        len(one) == 1000
        and one == curl(f"http://{host}:{port}/bytes/1000?seed=3").stdout
    )
    refused = curl(
        "-o", "/dev/null", "-w", "%{http_code}", f"http://{host}:{port}/stream/101"
    )
    assert refused.stdout == b"400"


def test_sseClientLeavingIsForgotten(server: EchohubProcess) -> None:
    """
    A client that leaves an SSE stream after its first event leaves the
    server serving others at once.
    """
    with server.connect("web") as sock:
        sock.sendall(b"GET /sse?count=100&interval=0.05 HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(10)
        data = b""
        while b"data: " not in data:
            chunk = sock.recv(4096)
            assert chunk
            data += chunk
        assert b"text/event-stream" in data
        sock.shutdown(socket.SHUT_RDWR)
    with server.connect("web") as other:
        other.sendall(b"GET /headers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert b"200 OK" in recvAll(other)
