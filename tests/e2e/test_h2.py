"""
End-to-end tests of HTTP/2: a real C{twistd -ny echohub.tac} on loopback,
driven by C{curl --http2} (TLS, ALPN, verifying the development CA), C{curl
--http2-prior-knowledge} (h2c) and an C{h2} client over a socket that
sends the known attacks frame by frame.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    PingAckReceived,
    StreamEnded,
)
from h2.settings import SettingCodes
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
)

from echohub.tls._devcert import DevCertificates
from tests.support import EchohubProcess, running, sslString

pytestmark = pytest.mark.e2e

GET = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"localhost")]


@pytest.fixture(scope="module")
def h2server(
    tmp_path_factory: pytest.TempPathFactory, devcerts: DevCertificates
) -> Iterator[EchohubProcess]:
    """
    echohub with a plain and a TLS web listener, and a 2 s idle timeout so
    that a stalled peer is cut off quickly.
    """
    with running(
        {
            "ECHOHUB_LINE_LISTEN": "",
            "ECHOHUB_WEB_LISTEN": f"tcp:0:interface=127.0.0.1 {sslString(devcerts)}",
            "ECHOHUB_WEB_IDLE_TIMEOUT": "2",
        },
        cwd=str(Path(tmp_path_factory.mktemp("h2"))),
        listeners=2,
    ) as process:
        yield process


def curl(*args: str) -> tuple[str, str]:
    """
    Run curl; return its body and the HTTP version it used.
    """
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    result = subprocess.run(
        ["curl", "--silent", "--show-error", "--write-out", "\n%{http_version}", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    body, _, version = result.stdout.rpartition("\n")
    return body, version


def test_curlHTTP2OverTLS(h2server: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    C{curl --http2} verifying the development CA negotiates C{h2} by ALPN;
    C{/anything} reports C{HTTP/2} and the TLS facts C{alpn: h2}.
    """
    port = h2server.address("web", 1)[1]
    body, version = curl(
        "--http2",
        "--cacert",
        devcerts.ca.certificate.path,
        "--data-binary",
        "x" * 100_000,
        # Not curl's default form type, which httpbin parses into form.
        "-H",
        "Content-Type: application/octet-stream",
        f"https://localhost:{port}/anything",
    )
    assert version == "2"
    facts = json.loads(body)
    assert facts["protocol"] == "HTTP/2"
    assert facts["tls"]["alpn"] == "h2"
    assert len(facts["data"]) == 100_000


def test_curlPriorKnowledge(h2server: EchohubProcess) -> None:
    """
    C{curl --http2-prior-knowledge} speaks h2c to the plain listener;
    plain HTTP/1.1 on the same listener still works.
    """
    host, port = h2server.address("web", 0)
    body, version = curl("--http2-prior-knowledge", f"http://{host}:{port}/echo?msg=hi")
    assert (body, version) == ("hi", "2")
    body, version = curl("--http1.1", f"http://{host}:{port}/echo?msg=hi")
    assert (body, version) == ("hi", "1.1")


class SocketClient:
    """
    An C{h2} client over a blocking loopback socket, prior knowledge.
    """

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=10)
        self.h2 = H2Connection(H2Configuration(client_side=True, header_encoding=None))
        self.h2.initiate_connection()
        self.flush()
        self.goaway: ConnectionTerminated | None = None

    def flush(self, data: bytes = b"") -> None:
        self.sock.sendall(self.h2.data_to_send() + data)

    def readUntilGoaway(self, timeout: float = 10.0) -> bool:
        """
        Read until the server's C{GOAWAY} and close.

        @return: whether the server closed the connection after it.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                return True
            if not data:
                return True
            if self.goaway is None:
                for event in self.h2.receive_data(data):
                    if isinstance(event, ConnectionTerminated):
                        self.goaway = event
        return False

    def get(self, path: bytes) -> bytes:
        streamID = self.h2.get_next_available_stream_id()
        self.h2.send_headers(streamID, [*GET, (b":path", path)], end_stream=True)
        self.flush()
        body = b""
        while True:
            for event in self.h2.receive_data(self.sock.recv(65536)):
                if isinstance(event, DataReceived) and event.stream_id == streamID:
                    body += event.data  # type: ignore[operator]
                if isinstance(event, StreamEnded) and event.stream_id == streamID:
                    self.flush()
                    return body
            self.flush()


def test_rapidReset(h2server: EchohubProcess) -> None:
    """
    CVE-2023-44487 against the real server: streams opened and reset in
    one burst end in C{GOAWAY ENHANCE_YOUR_CALM} and a close, and the
    server goes on serving others.
    """
    client = SocketClient(h2server.address("web", 0))
    for _ in range(300):
        streamID = client.h2.get_next_available_stream_id()
        client.h2.send_headers(
            streamID, [*GET, (b":path", b"/delay/5")], end_stream=True
        )
        client.h2.reset_stream(streamID)
    client.flush()
    assert client.readUntilGoaway()
    assert client.goaway is not None
    assert client.goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM
    assert SocketClient(h2server.address("web", 0)).get(b"/echo?msg=ok") == b"ok"


def test_continuationFlood(h2server: EchohubProcess) -> None:
    """
    CVE-2024-27316: an endless header block is cut off with C{GOAWAY
    ENHANCE_YOUR_CALM} after a bounded number of bytes.
    """
    client = SocketClient(h2server.address("web", 0))
    headers = HeadersFrame(1)
    headers.data = client.h2.encoder.encode([*GET, (b":path", b"/echo")])
    sent = 0
    try:
        client.flush(headers.serialize())
        for _ in range(64):
            frame = ContinuationFrame(1)
            frame.data = b"\x00" * 16000
            client.flush(frame.serialize())
            sent += 16000
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert client.readUntilGoaway()
    assert client.goaway is not None
    assert client.goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM


def test_pingFlood(h2server: EchohubProcess) -> None:
    """
    CVE-2019-9512: a ping flood ends in C{GOAWAY ENHANCE_YOUR_CALM}.
    """
    client = SocketClient(h2server.address("web", 0))
    try:
        client.flush(PingFrame(0, b"12345678").serialize() * 1000)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert client.readUntilGoaway()
    assert client.goaway is not None
    assert client.goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM


def test_windowNeverOpened(h2server: EchohubProcess) -> None:
    """
    CVE-2019-9517: a client that asks for responses with a zero window and
    never opens it is cut off after the idle timeout (2 s here).
    """
    client = SocketClient(h2server.address("web", 0))
    client.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 0})
    for _ in range(10):
        streamID = client.h2.get_next_available_stream_id()
        client.h2.send_headers(
            streamID, [*GET, (b":path", b"/echo?msg=" + b"x" * 4000)], end_stream=True
        )
    client.flush()
    started = time.monotonic()
    assert client.readUntilGoaway(timeout=10)
    assert 1.5 < time.monotonic() - started < 8


def test_drainOnSIGTERM(tmp_path: Path) -> None:
    """
    On SIGTERM an HTTP/2 connection gets C{GOAWAY NO_ERROR} naming its open
    stream, that stream's response still arrives, then the connection
    closes and the process exits.
    """
    with running(
        {"ECHOHUB_LINE_LISTEN": "", "ECHOHUB_WEB_LISTEN": "tcp:0:interface=127.0.0.1"},
        cwd=str(tmp_path),
        listeners=1,
    ) as process:
        client = SocketClient(process.address("web"))
        client.h2.send_headers(1, [*GET, (b":path", b"/delay/1")], end_stream=True)
        client.h2.ping(b"in-order")
        client.flush()
        # The server handles frames in order: the ping's acknowledgement
        # says the request is in before the signal.
        while not any(
            isinstance(e, PingAckReceived)
            for e in client.h2.receive_data(client.sock.recv(65536))
        ):
            pass
        assert process.process is not None
        process.process.send_signal(signal.SIGTERM)
        body, ended, received = b"", False, b""
        client.sock.settimeout(10)
        while data := client.sock.recv(65536):
            # h2 closes its state machine at any GOAWAY, which RFC 9113
            # allows streams to outlive: read the frames ourselves.
            received += data
            parsed, received = frames(received)
            for frame in parsed:
                if isinstance(frame, GoAwayFrame):
                    client.goaway = frame  # type: ignore[assignment]
                elif isinstance(frame, DataFrame) and frame.stream_id == 1:
                    body += frame.data
                    ended = ended or "END_STREAM" in frame.flags
        assert client.goaway is not None
        assert (client.goaway.error_code, client.goaway.last_stream_id) == (0, 1)
        assert ended and json.loads(body)["protocol"] == "HTTP/2"
        assert process.wait() == -signal.SIGTERM


def frames(data: bytes) -> tuple[list[Frame], bytes]:
    """
    The whole frames at the start of C{data}, and the rest.
    """
    parsed = []
    while len(data) >= 9:
        frame, length = Frame.parse_frame_header(memoryview(data[:9]))
        if len(data) < 9 + length:
            break
        frame.parse_body(memoryview(data[9 : 9 + length]))
        parsed.append(frame)
        data = data[9 + length :]
    return parsed, data
