"""
End-to-end test of every httpbin and go-httpbin route against a real
C{twistd -ny echohub.tac} over loopback, under a URL prefix, with
C{http.client} (which follows nothing on its own).
"""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import time
from base64 import b64encode
from collections.abc import Iterator

import pytest

from tests.support import EchohubProcess, running

pytestmark = pytest.mark.e2e

P = "/hub"


@pytest.fixture(scope="module")
def server() -> Iterator[EchohubProcess]:
    """
    echohub on loopback under the prefix C{/hub}, with small bounds.
    """
    with running(
        {
            "ECHOHUB_LINE_LISTEN": "",
            "ECHOHUB_WEB_LISTEN": "tcp:0:interface=127.0.0.1",
            "ECHOHUB_WEB_PREFIX": P,
            "ECHOHUB_WEB_MAX_DELAY": "2",
            "ECHOHUB_WEB_TRUSTED_PROXIES": "127.0.0.1",
        },
        1,
    ) as process:
        yield process


def fetch(
    server: EchohubProcess,
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    host, port = server.address("web")
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request(method, P + path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_everyRoute(server: EchohubProcess) -> None:
    """
    Each route answers with its status and the one fact that defines it.
    """
    basic = {"Authorization": "Basic " + b64encode(b"u:p").decode()}
    cases: list[tuple[str, str, int, object]] = [
        ("GET", "/get?a=1", 200, lambda j: j["args"] == {"a": "1"}),
        ("HEAD", "/head", 200, None),
        ("POST", "/post", 200, lambda j: j["json"] == {"x": 1}),
        ("PUT", "/put", 200, lambda j: j["data"] == '{"x": 1}'),
        ("PATCH", "/patch", 200, None),
        ("DELETE", "/delete", 200, None),
        ("POST", "/upload", 200, lambda j: j["bytes_received"] == 8),
        ("GET", "/anything/x", 200, lambda j: j["method"] == "GET" and "tls" in j),
        ("GET", "/headers", 200, lambda j: "Host" in j["headers"]),
        ("GET", "/user-agent", 200, lambda j: "user-agent" in j),
        ("GET", "/uuid", 200, lambda j: len(j["uuid"]) == 36),
        ("GET", "/env", 200, lambda j: j == {"env": {}}),
        ("GET", "/hostname", 200, lambda j: j == {"hostname": "echohub"}),
        ("GET", "/version", 200, lambda j: j["service"] == "echohub"),
        ("GET", "/unstable?failure_rate=1", 500, None),
        ("GET", "/status/418", 418, b"teapot"),
        ("GET", "/status/302", 302, {"Location": P + "/redirect/1"}),
        ("GET", "/delay/0.2s", 200, lambda j: "origin" in j),
        ("GET", "/bytes/16", 200, lambda b: len(b) == 16),
        ("GET", "/response-headers?X-A=1", 200, {"X-A": "1"}),
        ("GET", "/stream/2", 200, lambda b: len(b.splitlines()) == 2),
        ("GET", "/sse?count=1&interval=0", 200, b"event: end"),
        ("GET", "/redirect/2", 302, {"Location": P + "/relative-redirect/1"}),
        ("GET", "/relative-redirect/1", 302, {"Location": P + "/get"}),
        ("GET", "/absolute-redirect/1", 302, None),
        ("GET", "/redirect-to?url=https://elsewhere.test/", 403, None),
        ("GET", "/redirect-to?url=get", 302, {"Location": "get"}),
        ("GET", "/basic-auth/u/p", 200, lambda j: j["authenticated"]),
        ("GET", "/hidden-basic-auth/u/x", 404, None),
        ("GET", "/bearer", 401, {"WWW-Authenticate": "Bearer"}),
        ("GET", "/digest-auth/auth/u/p", 401, None),
        ("GET", "/cookies/set?k=v", 302, {"Set-Cookie": f"k=v; Path={P}"}),
        ("GET", "/cookies/delete?k", 302, None),
        ("GET", "/cookies", 200, lambda j: j == {"cookies": {}}),
        ("GET", "/gzip", 200, lambda b: json.loads(gzip.decompress(b))["gzipped"]),
        ("GET", "/deflate", 200, {"Content-Encoding": "deflate"}),
        ("GET", "/brotli", 501, None),
        ("GET", "/cache", 200, None),
        ("GET", "/cache/5", 200, {"Cache-Control": "public, max-age=5"}),
        ("GET", "/etag/e", 200, {"ETag": "e"}),
        ("GET", "/drip?numbytes=3&duration=0.2", 200, b"***"),
        ("GET", "/range/5", 200, b"abcde"),
        ("GET", "/stream-bytes/7", 200, lambda b: len(b) == 7),
        ("GET", "/jsonl?count=2", 200, lambda b: len(b.splitlines()) == 2),
        ("GET", "/links/2/0", 200, f"href='{P}/links/2/1'".encode()),
        ("GET", "/image/png", 200, b"PNG"),
        ("GET", "/image/jpeg", 200, {"Content-Type": "image/jpeg"}),
        ("GET", "/image/webp", 200, b"WEBP"),
        ("GET", "/image/svg", 200, b"<svg"),
        ("GET", "/image", 200, {"Content-Type": "image/png"}),
        ("GET", "/html", 200, b"<html"),
        ("GET", "/json", 200, lambda j: "slideshow" in j),
        ("GET", "/xml", 200, b"<slideshow"),
        ("GET", "/encoding/utf8", 200, "∀".encode()),
        ("GET", "/forms/post", 200, f'action="{P}/post"'.encode()),
        ("GET", "/robots.txt", 200, b"Disallow: /deny"),
        ("GET", "/deny", 200, b"SHOULDN'T"),
        ("GET", "/base64/aGk", 200, b"hi"),
        ("GET", "/trailers?X-T=1", 200, None),
        ("GET", "/websocket/echo", 426, b"WebSocket"),
        ("GET", "", 301, {"Location": P + "/"}),
        ("GET", "/", 200, b"echohub"),
    ]
    for method, path, status, check in cases:
        body = b'{"x": 1}' if method in ("POST", "PUT", "PATCH") else None
        headers = dict(basic) if "basic-auth" in path else {}
        code, responseHeaders, content = fetch(server, path, method, body, headers)
        assert code == status, (path, code, content[:200])
        if callable(check):
            isJSON = responseHeaders.get_content_type() == "application/json"
            single = isJSON and not path.startswith("/stream/")
            single = single and "Content-Encoding" not in responseHeaders
            decoded = json.loads(content) if single else content
            assert check(decoded), (path, content[:300])
        elif isinstance(check, bytes):
            assert check in content, (path, content[:300])
        elif isinstance(check, dict):
            for name, value in check.items():
                assert responseHeaders[name] == value, (path, name, responseHeaders)


def test_trustedProxy(server: EchohubProcess) -> None:
    """
    From a trusted proxy (loopback here), C{X-Forwarded-For} is the origin.
    """
    _, _, content = fetch(server, "/ip", headers={"X-Forwarded-For": "203.0.113.7"})
    assert json.loads(content)["origin"] == "203.0.113.7"


def test_dripStopsWhenClientLeaves(server: EchohubProcess) -> None:
    """
    A client that leaves mid-drip does not stop the server from answering
    the next one at once.
    """
    host, port = server.address("web")
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(
            f"GET {P}/drip?numbytes=100&duration=2 HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        assert sock.recv(1024)
    started = time.monotonic()
    assert fetch(server, "/get")[0] == 200
    assert time.monotonic() - started < 1
