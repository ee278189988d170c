"""
End-to-end tests of the web echo's core behaviour against a real twistd:
plain HTTP and HTTPS with a verifying client (curl and Python's ssl).
"""

from __future__ import annotations

import http.client
import select
import shutil
import socket
import ssl
import subprocess

import pytest

from echohub.tls._devcert import DevCertificates
from tests.support import EchohubProcess, recvAll


def get(
    server: EchohubProcess,
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> http.client.HTTPResponse:
    host, port = server.address("web")
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request(method, path, body=body, headers=headers or {})
    return connection.getresponse()


def test_getEcho(server: EchohubProcess) -> None:
    """
    GET /echo?msg= returns exactly the bytes of msg as UTF-8 plain text,
    with nosniff.
    """
    response = get(server, "/echo?msg=h%C3%A9llo%20w%0Arld")
    assert response.status == 200
    assert response.read() == "héllo w\nrld".encode()
    assert response.getheader("Content-Type") == "text/plain; charset=utf-8"
    assert response.getheader("X-Content-Type-Options") == "nosniff"


def test_postEcho(server: EchohubProcess) -> None:
    """
    POST /echo returns the body byte for byte with its content type.
    """
    body = bytes(range(256)) * 1000
    response = get(
        server, "/echo", "POST", body, {"Content-Type": "application/x-test"}
    )
    assert response.status == 200
    assert response.read() == body
    assert response.getheader("Content-Type") == "application/x-test"


def test_bodyOverLimit(server: EchohubProcess) -> None:
    """
    A body over max_body gets 413 before the body is sent, with no
    100 Continue even when the client asked for one.
    """
    with server.connect("web") as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        reply = recvAll(sock)
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in reply


def test_healthNotFoundMethod(server: EchohubProcess) -> None:
    """
    /healthz is ok, unknown paths 404, unsupported methods 405 with Allow.
    """
    assert get(server, "/healthz").read() == b"ok\n"
    assert get(server, "/no/such/thing").status == 404
    response = get(server, "/echo", "DELETE")
    assert response.status == 405
    assert "POST" in (response.getheader("Allow") or "")


def test_pageIsSelfContainedHtml(server: EchohubProcess) -> None:
    """
    / is an HTML page with a form posting to echo (relative, so that it
    follows [web] prefix) and no external resources.
    """
    response = get(server, "/")
    page = response.read()
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert b'action="echo"' in page
    assert b"<script src=" not in page and b"https://fonts" not in page


def test_httpsVerifiedByPythonSsl(
    server: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    The ssl: web listener serves HTTPS that verifies against the dev CA.
    """
    context = ssl.create_default_context(cafile=devcerts.ca.certificate.path)
    _, port = server.address("web", 1)
    connection = http.client.HTTPSConnection(
        "localhost", port, context=context, timeout=10
    )
    connection.request("GET", "/echo?msg=secure")
    assert connection.getresponse().read() == b"secure"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_httpsVerifiedByCurl(server: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    curl, verifying the certificate against the dev CA, gets the echo.
    """
    _, port = server.address("web", 1)
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "--fail",
            "--cacert",
            devcerts.ca.certificate.path,
            f"https://localhost:{port}/echo?msg=curl",
        ],
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"curl"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_lineViaOpensslSClient(
    server: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    openssl s_client, verifying the certificate and host name against the dev
    CA, gets the line echo.  s_client closes as soon as its input ends, so the
    input stays open until the echo has been read.
    """
    _, port = server.address("line", 1)
    client = subprocess.Popen(
        [
            "openssl",
            "s_client",
            "-quiet",
            "-verify_return_error",
            "-CAfile",
            devcerts.ca.certificate.path,
            "-connect",
            f"127.0.0.1:{port}",
            "-servername",
            "localhost",
            "-verify_hostname",
            "localhost",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert client.stdin is not None and client.stdout is not None
        client.stdin.write(b"over openssl\n")
        client.stdin.flush()
        ready, _, _ = select.select([client.stdout], [], [], 10)
        assert ready, "no echo within 10 s"
        assert client.stdout.readline() == b"over openssl\n"
    finally:
        client.kill()
        client.wait(timeout=10)


def test_httpsClientThatClosesIsClosed(
    server: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    An HTTPS client that closes its TCP connection without close_notify
    (what most clients do) gets the server's side closed too: the connection
    does not linger in CLOSE-WAIT holding a descriptor.
    """
    context = ssl.create_default_context(cafile=devcerts.ca.certificate.path)
    raw = socket.create_connection(server.address("web", 1), timeout=10)
    with context.wrap_socket(raw, server_hostname="localhost") as sock:
        sock.sendall(b"GET /echo?msg=bye HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
        # SSLSocket.shutdown drops TLS without close_notify and sends a FIN;
        # what follows is read as raw bytes, the server's close_notify at most.
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(5)
        while sock.recv(4096):
            pass
