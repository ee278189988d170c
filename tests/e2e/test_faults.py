"""
End-to-end tests of faults on demand: a real C{twistd -ny echohub.tac} on
loopback, each fault met by a real client (a socket, Python's C{ssl}, curl,
an C{h2} client over a socket) that measures what it sees: the delay, the
rate, the slices, the truncation, the reset, the stall.  Durations are
small and every measurement has a tolerance.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.events import ConnectionTerminated, DataReceived, StreamEnded, StreamReset

from echohub.tls._devcert import DevCertificates
from tests.support import EchohubProcess, runEchohub, running, sslString

pytestmark = pytest.mark.e2e

LINE, TLS_LINE, LATENCY_LINE = 0, 1, 2


@pytest.fixture(scope="module")
def faulty(
    tmp_path_factory: pytest.TempPathFactory, devcerts: DevCertificates
) -> Iterator[EchohubProcess]:
    """
    echohub with fault listeners: line (plain and TLS) taking the client's
    FAULT line, a line listener whose every connection has 150 ms of
    latency, a byte echo cut after 5 bytes, a web listener taking the
    fault controls.
    """
    with running(
        {
            "ECHOHUB_LINE_LISTEN": (
                "tcp:0:interface=127.0.0.1:faults=client"
                f" {sslString(devcerts)}:faults=client"
                " tcp:0:interface=127.0.0.1:fault=latency=150"
            ),
            "ECHOHUB_ECHO_LISTEN": "tcp:0:interface=127.0.0.1:fault=limit_data=5",
            "ECHOHUB_WEB_LISTEN": "tcp:0:interface=127.0.0.1:faults=client",
        },
        cwd=str(tmp_path_factory.mktemp("faults")),
        listeners=5,
    ) as process:
        yield process


def lineClient(server: EchohubProcess, fault: str, index: int = LINE) -> socket.socket:
    """
    A line client that asked for C{fault} with its first line.
    """
    sock = server.connect("line", index)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(b"FAULT " + fault.encode() + b"\n")
    return sock


def receive(
    sock: socket.socket, size: int, timeout: float = 10.0
) -> tuple[bytes, float, int]:
    """
    Receive C{size} bytes (or up to EOF).

    @return: the bytes, the seconds it took, and how many reads it took.
    """
    sock.settimeout(timeout)
    start = time.monotonic()
    data = b""
    reads = 0
    while len(data) < size:
        chunk = sock.recv(65536)
        if not chunk:
            break
        reads += 1
        data += chunk
    return data, time.monotonic() - start, reads


def untilClosed(sock: socket.socket, timeout: float = 10.0) -> tuple[bytes, float, str]:
    """
    Read until the server ends the connection.

    @return: what arrived, the seconds until the end, and how it ended:
        C{"fin"} or C{"reset"}.
    """
    sock.settimeout(timeout)
    start = time.monotonic()
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        return data, time.monotonic() - start, "reset"
    return data, time.monotonic() - start, "fin"


# The stream echoes.


def test_latencyFromTheFaultLine(faulty: EchohubProcess) -> None:
    """
    C{FAULT latency=200ms jitter=50ms}: the FAULT line is consumed, never
    echoed, and each echo comes back 150 to 250 ms later.
    """
    sock = lineClient(faulty, "latency=200ms jitter=50ms")
    for _ in range(3):
        sock.sendall(b"hello\n")
        data, took, _ = receive(sock, 6)
        assert data == b"hello\n"
        assert 0.14 <= took <= 1.0, took
    sock.close()


def test_latencyOverTLS(faulty: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    The TLS line echo takes the same FAULT line.
    """
    context = ssl.create_default_context(cafile=devcerts.ca.certificate.path)
    sock = context.wrap_socket(
        faulty.connect("line", TLS_LINE), server_hostname="localhost"
    )
    sock.sendall(b"FAULT latency=200\nsecure\n")
    data, took, _ = receive(sock, 7)
    assert data == b"secure\n"
    assert 0.18 <= took <= 1.0, took
    sock.close()


def test_listenerLatency(faulty: EchohubProcess) -> None:
    """
    A listener's own fault applies to every connection, and a FAULT line
    there is just a line.
    """
    sock = faulty.connect("line", LATENCY_LINE)
    start = time.monotonic()
    sock.sendall(b"FAULT reset_after=1\n")
    data, _, _ = receive(sock, 20)
    assert data == b"FAULT reset_after=1\n"
    assert time.monotonic() - start >= 0.14
    sock.close()


def test_bandwidth(faulty: EchohubProcess) -> None:
    """
    At 50 KB/s, 30 000 bytes take about 0.6 s: the client measures the rate.
    """
    sock = lineClient(faulty, "bandwidth=50")
    payload = (b"x" * 999 + b"\n") * 30
    sock.sendall(payload)
    data, took, reads = receive(sock, len(payload))
    assert data == payload
    rate = len(data) / took
    assert 35_000 <= rate <= 55_000, (rate, took)
    assert reads >= 5
    sock.close()


def test_slicer(faulty: EchohubProcess) -> None:
    """
    The slicer echoes a 1000-byte line in writes of about 100 bytes, 10 ms
    apart: the client reads it in many pieces over about 90 ms.
    """
    sock = lineClient(faulty, "slicer average_size=100 size_variation=20 delay=10ms")
    line = b"s" * 999 + b"\n"
    sock.sendall(line)
    data, took, reads = receive(sock, len(line))
    assert data == line
    assert reads >= 4, reads
    assert took >= 0.07, took
    sock.close()


def test_timeout(faulty: EchohubProcess) -> None:
    """
    timeout: nothing comes back, and the server closes after 300 ms.
    """
    sock = lineClient(faulty, "timeout=300")
    sock.sendall(b"anyone there?\n")
    data, took, how = untilClosed(sock)
    assert (data, how) == (b"", "fin")
    assert 0.25 <= took <= 2.0, took


def test_limitData(faulty: EchohubProcess) -> None:
    """
    limit_data=7: the first 7 bytes of the echo, then a clean EOF (FIN).
    """
    sock = lineClient(faulty, "limit_data=7")
    sock.sendall(b"hello\nworld\n")
    assert untilClosed(sock)[::2] == (b"hello\nw", "fin")


def test_resetAfter(faulty: EchohubProcess) -> None:
    """
    reset_after=7: the first 7 bytes, then a reset (RST).
    """
    sock = lineClient(faulty, "reset_after=7")
    sock.sendall(b"hello\nworld\n")
    data, _, how = untilClosed(sock)
    assert how == "reset"
    assert b"hello\nw".startswith(data)


def test_resetPeer(faulty: EchohubProcess) -> None:
    """
    reset_peer=200: nothing is echoed, and the connection is reset 200 ms
    after the first bytes.
    """
    sock = lineClient(faulty, "reset_peer timeout=200")
    sock.sendall(b"hello\n")
    data, took, how = untilClosed(sock)
    assert (data, how) == (b"", "reset")
    assert 0.17 <= took <= 2.0, took


def test_slowClose(faulty: EchohubProcess) -> None:
    """
    slow_close=300: after the client's half-close, the echo comes back at
    once and the server's FIN 300 ms later.
    """
    sock = lineClient(faulty, "slow_close=300")
    sock.sendall(b"bye\n")
    sock.shutdown(socket.SHUT_WR)
    data, took, how = untilClosed(sock)
    assert (data, how) == (b"bye\n", "fin")
    assert 0.28 <= took <= 2.0, took


def test_refuseRead(faulty: EchohubProcess) -> None:
    """
    refuse_read=400: the server reads nothing for 400 ms (the client's
    sends pile up in the kernel), then echoes everything.
    """
    sock = lineClient(faulty, "refuse_read=400")
    sock.sendall(b"later\n")
    data, took, _ = receive(sock, 6)
    assert data == b"later\n"
    assert 0.35 <= took <= 2.0, took
    sock.close()


def test_refuseReadBackpressure(faulty: EchohubProcess) -> None:
    """
    refuse_read for good: a client pushing without pause is stopped by TCP
    after what the kernels buffer, and nothing comes back.
    """
    sock = lineClient(faulty, "refuse_read")
    sock.setblocking(False)
    pushed = 0
    chunk = b"p" * 65535 + b"\n"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            pushed += sock.send(chunk)
        except BlockingIOError:
            break
    else:
        pytest.fail(f"{pushed} bytes accepted without backpressure")
    assert 0 < pushed < 64 * 1024 * 1024
    sock.setblocking(True)
    sock.settimeout(0.3)
    with pytest.raises(TimeoutError):
        sock.recv(1)
    sock.close()


def test_byteEchoListenerFault(faulty: EchohubProcess) -> None:
    """
    The byte echo takes its listener's fault (limit_data=5): 5 bytes, then
    FIN; a FAULT line means nothing to it.
    """
    sock = faulty.connect("echo")
    sock.sendall(b"FAULT latency=1\n")
    assert untilClosed(sock)[::2] == (b"FAULT", "fin")


def test_byteEchoTakesNoClientFaults(tmp_path: Path) -> None:
    """
    faults=client on the byte echo, which must stay pure, is a
    configuration error.
    """
    code, output = runEchohub(
        {"ECHOHUB_ECHO_LISTEN": "tcp:0:interface=127.0.0.1:faults=client"}
    )
    assert code == 1
    assert "faults=client" in output and "listener only" in output


# HTTP.

needsCurl = pytest.mark.skipif(
    shutil.which("curl") is None, reason="curl is not installed"
)


def curl(
    server: EchohubProcess, fault: str, *args: str, body: int = 20000
) -> tuple[int, dict[str, str]]:
    """
    POST C{body} bytes to /echo with the fault header.

    @return: curl's exit status and its measurements.
    """
    host, port = server.address("web")
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "--max-time",
            "10",
            "-H",
            f"echohub-fault: {fault}",
            "--data-binary",
            "@-",
            "-w",
            "%{http_code} %{size_download} %{time_starttransfer} %{time_total}",
            *args,
            f"http://{host}:{port}/echo",
        ],
        input=b"b" * body,
        capture_output=True,
        timeout=20,
    )
    code, size, first, total = result.stdout.decode().split()
    return result.returncode, {
        "code": code,
        "size": size,
        "first": first,
        "total": total,
        "stderr": result.stderr.decode(),
    }


@needsCurl
def test_httpLatency(faulty: EchohubProcess) -> None:
    """
    latency=250: curl's first byte comes 250 ms later, the body whole.
    """
    status, seen = curl(faulty, "latency=250")
    assert status == 0
    assert (seen["code"], seen["size"]) == ("200", "20000")
    assert 0.24 <= float(seen["first"]) <= 2.0, seen


@needsCurl
def test_httpBandwidth(faulty: EchohubProcess) -> None:
    """
    bandwidth=40: 20 000 bytes at 40 KB/s take about 0.5 s.
    """
    status, seen = curl(faulty, "bandwidth=40")
    assert (status, seen["size"]) == (0, "20000")
    assert 0.45 <= float(seen["total"]) <= 2.0, seen


@needsCurl
def test_httpSlicer(faulty: EchohubProcess) -> None:
    """
    slicer=1000,delay=20ms: 20 pieces 20 ms apart, about 0.4 s, whole.
    """
    status, seen = curl(faulty, "slicer=1000,delay=20ms")
    assert (status, seen["size"]) == (0, "20000")
    assert 0.35 <= float(seen["total"]) <= 2.0, seen


@needsCurl
def test_httpTruncated(faulty: EchohubProcess) -> None:
    """
    limit_data=1000 over HTTP/1.1: 1000 body bytes, then FIN; curl reports
    the truncation (exit 18).
    """
    status, seen = curl(faulty, "limit_data=1000")
    assert status == 18, seen
    assert seen["size"] == "1000"
    assert "19000 bytes remaining" in seen["stderr"]


@needsCurl
def test_httpReset(faulty: EchohubProcess) -> None:
    """
    reset_after=1000 over HTTP/1.1: a reset mid-body (curl exit 56).
    """
    status, seen = curl(faulty, "reset_after=1000")
    assert status == 56, seen
    assert "reset" in seen["stderr"].lower()


@needsCurl
def test_httpStalled(faulty: EchohubProcess) -> None:
    """
    timeout=500: the head, then a stalled body, then the close at 500 ms.
    """
    status, seen = curl(faulty, "timeout=500")
    assert status == 18, seen
    assert seen["code"] == "200"
    assert 0.45 <= float(seen["total"]) <= 3.0, seen


@needsCurl
def test_httpCloseWithoutBody(faulty: EchohubProcess) -> None:
    """
    limit_data=0: the head, then FIN without a body byte.
    """
    status, seen = curl(faulty, "limit_data=0")
    assert status == 18, seen
    assert (seen["code"], seen["size"]) == ("200", "0")


@needsCurl
def test_httpResetPeer(faulty: EchohubProcess) -> None:
    """
    reset_peer=300: the head, then a reset 300 ms on.
    """
    status, seen = curl(faulty, "reset_peer=300")
    assert status == 56, seen
    assert 0.28 <= float(seen["total"]) <= 3.0, seen


@needsCurl
def test_http2StreamReset(faulty: EchohubProcess) -> None:
    """
    Over HTTP/2, reset_after and limit_data reset the stream (curl exit 92,
    INTERNAL_ERROR and CANCEL).
    """
    status, seen = curl(faulty, "reset_after=1000", "--http2-prior-knowledge")
    assert status == 92 and "INTERNAL_ERROR" in seen["stderr"], seen
    status, seen = curl(faulty, "limit_data=1000", "--http2-prior-knowledge")
    assert status == 92 and "CANCEL" in seen["stderr"], seen


@needsCurl
def test_httpBadControl(faulty: EchohubProcess) -> None:
    """
    A control beyond [web] max_delay gets a 400.
    """
    status, seen = curl(faulty, "latency=60s")
    assert (status, seen["code"]) == (0, "400")


def test_http2OtherStreamsGoOn(faulty: EchohubProcess) -> None:
    """
    On one HTTP/2 connection, a faulted stream is reset (its bytes before
    the reset arrive; RST_STREAM, never a TCP reset or GOAWAY) while the
    streams beside it are answered in full.
    """
    sock = faulty.connect("web")
    client = H2Connection(H2Configuration(client_side=True, header_encoding=None))
    client.initiate_connection()
    host, port = faulty.address("web")
    streams = {}
    for name, fault in (
        ("reset", b"reset_after=3000"),
        ("plain", None),
        ("stalled", b"timeout=300"),
    ):
        streamID = client.get_next_available_stream_id()
        headers = [
            (b":method", b"POST"),
            (b":path", b"/echo"),
            (b":scheme", b"http"),
            (b":authority", f"{host}:{port}".encode()),
        ]
        if fault is not None:
            headers.append((b"echohub-fault", fault))
        client.send_headers(streamID, headers)
        client.send_data(streamID, b"d" * 10000, end_stream=True)
        streams[streamID] = name
    sock.sendall(client.data_to_send())
    bodies = {name: b"" for name in streams.values()}
    ends: dict[str, object] = {}
    sock.settimeout(5)
    while len(ends) < 3:
        data = sock.recv(65536)
        assert data, "the connection closed"
        for event in client.receive_data(data):
            if isinstance(event, DataReceived):
                bodies[streams[event.stream_id]] += event.data
                client.acknowledge_received_data(
                    event.flow_controlled_length, event.stream_id
                )
            elif isinstance(event, StreamEnded):
                ends[streams[event.stream_id]] = "ended"
            elif isinstance(event, StreamReset):
                ends[streams[event.stream_id]] = ErrorCodes(event.error_code)
            elif isinstance(event, ConnectionTerminated):
                pytest.fail(f"GOAWAY {event}")
        sock.sendall(client.data_to_send())
    assert ends == {
        "reset": ErrorCodes.INTERNAL_ERROR,
        "plain": "ended",
        "stalled": ErrorCodes.CANCEL,
    }
    assert bodies == {"reset": b"d" * 3000, "plain": b"d" * 10000, "stalled": b""}
    # The connection still serves.
    streamID = client.get_next_available_stream_id()
    client.send_headers(
        streamID,
        [
            (b":method", b"GET"),
            (b":path", b"/echo?msg=after"),
            (b":scheme", b"http"),
            (b":authority", b"x"),
        ],
        end_stream=True,
    )
    sock.sendall(client.data_to_send())
    body = b""
    while True:
        data = sock.recv(65536)
        assert data
        events = client.receive_data(data)
        body += b"".join(e.data for e in events if isinstance(e, DataReceived))
        if any(isinstance(e, StreamEnded) for e in events):
            break
    assert body == b"after"
    sock.close()


def test_faultMetricsAndLog(faulty: EchohubProcess) -> None:
    """
    Every applied fault is counted by kind and has its log line.
    """
    sock = lineClient(faulty, "latency=1")
    sock.sendall(b"x\n")
    receive(sock, 2)
    sock.close()
    faulty.waitForOutput(
        r"line: fault latency=1,jitter=0 for 127\.0\.0\.1:\d+ \(chosen by the client\)"
    )
    host, port = faulty.address("web")
    with socket.create_connection((host, port)) as web:
        web.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        metrics = untilClosed(web)[0].decode()
    assert 'echohub_faults_total{kind="latency",service="line"}' in metrics
