"""
The benchmark harness (C{benchmarks/}) works: a tiny run produces its table
and result file, and the load generator notices a byte echoed wrong.

Nothing here asserts a speed: figures from a shared test machine mean
nothing, and C{make bench} is where they are measured.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import pytest

from benchmarks.build import BuildError, buildLoadgen, compiler
from benchmarks.cli import scenarioServers
from benchmarks.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    compiler() is None, reason="no C compiler to build the load generator"
)


@pytest.mark.e2e
def test_tinyRun(tmp_path: Path) -> None:
    """
    One scenario, echohub and the tutorial Twisted server, one short run
    each: the harness prints a table row for both and writes a JSON result
    in which every byte was echoed correctly.
    """
    result = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks", "--scenarios", "line"),
            *("--servers", "echohub,twisted-tutorial", "--duration", "1"),
            *("--warmup", "0.2", "--repeat", "1", "--no-chart"),
            *("--results", str(tmp_path)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "| line ↑ | echohub |" in result.stdout, output
    assert "| twisted-tutorial |" in result.stdout, output

    document = json.loads((tmp_path / "latest.json").read_text())
    [scenario] = document["scenarios"]
    assert scenario["name"] == "line"
    rows = {row["server"]: row for row in scenario["summary"]}
    assert set(rows) == {"echohub", "twisted-tutorial"}
    for row in rows.values():
        assert row["errors"] == 0, row
        assert row["runs"] == 1
        assert row["median"] > 0
        assert row["per_cpu"] > 0 and row["per_cpu"] >= row["median"] * 0.9
    assert (tmp_path / "latest.md").read_text().startswith("| scenario |")


@pytest.mark.e2e
def test_grpcRun(tmp_path: Path) -> None:
    """
    The gRPC scenarios against echohub: the load generator's gRPC mode
    streams messages through a bidirectional call and checks every byte of
    their echo, and the unary one checks its call before h2load runs (when
    h2load is installed).
    """
    result = subprocess.run(
        [
            *(
                sys.executable,
                "-m",
                "benchmarks",
                "--scenarios",
                "grpc-bidi,grpc-unary",
            ),
            *("--servers", "echohub", "--duration", "1"),
            *("--warmup", "0.2", "--repeat", "1", "--no-chart"),
            *("--results", str(tmp_path)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    document = json.loads((tmp_path / "latest.json").read_text())
    measured = {s["name"]: s["summary"] for s in document["scenarios"]}
    [bidi] = measured["grpc-bidi"]
    assert bidi["errors"] == 0 and bidi["median"] > 0, bidi
    for row in measured.get("grpc-unary", []):
        if row["skipped"]:
            assert "h2load" in row["skipped"], row
            continue
        assert row["errors"] == 0 and row["median"] > 0, row


@pytest.mark.e2e
def test_websocketDeflateRun(tmp_path: Path) -> None:
    """
    The compressed WebSocket scenario against echohub and C{websockets}:
    both agree to permessage-deflate, every echo comes back compressed and
    inflates to what was sent, and the table's notes say what was agreed;
    the uncompressed scenario offers no extension.
    """
    result = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks"),
            *("--scenarios", "websocket-deflate,websocket"),
            *("--servers", "echohub,websockets", "--duration", "1"),
            *("--warmup", "0.2", "--repeat", "1", "--no-chart"),
            *("--results", str(tmp_path)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "websocket-deflate / echohub: agreed `permessage-deflate" in output
    document = json.loads((tmp_path / "latest.json").read_text())
    scenarios = {s["name"]: s for s in document["scenarios"]}
    for name in ("echohub", "websockets"):
        [run] = scenarios["websocket-deflate"]["runs"][name]
        assert run["errors"] == 0 and run["rate"] > 0, run
        counts = run["deflate"]
        assert counts["extension"].startswith("permessage-deflate"), counts
        assert counts["echoed_compressed"] > 0 and counts["echoed_plain"] == 0
        assert counts["echo_inflated"] == 1024 * counts["echoed_compressed"]
        assert counts["sent_wire"] < 1024 * counts["sent"] / 2, counts
        [plain] = scenarios["websocket"]["runs"][name]
        assert plain["errors"] == 0 and "deflate" not in plain, plain


class _DeflateEcho(threading.Thread):
    """
    A one-connection WebSocket echo with permessage-deflate, to prove that
    the load generator compresses with the window it was given and checks
    what it inflates: it answers the upgrade with C{extension} (L{None}:
    none), inflates each message with a window of C{clientBits}, and sends
    it back compressed afresh (as C{server_no_context_takeover} says), with
    one byte changed in message C{corrupt}.
    """

    def __init__(self, extension: str | None, clientBits: int, corrupt: int) -> None:
        super().__init__(daemon=True)
        self.extension = extension
        self.clientBits = clientBits
        self.corrupt = corrupt
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.failure: str | None = None

    def run(self) -> None:
        connection, _ = self.listener.accept()
        with connection, self.listener:
            try:
                self._serve(connection)
            except OSError:
                pass  # the load generator hangs up on the bad echo
            except zlib.error as e:
                self.failure = f"the load generator's deflate stream: {e}"

    def _serve(self, connection: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += connection.recv(4096)
        head, data = data.split(b"\r\n\r\n", 1)
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        guid = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        accept = base64.b64encode(hashlib.sha1(key + guid).digest())
        extension = b""
        if self.extension is not None:
            extension = (
                b"Sec-WebSocket-Extensions: " + self.extension.encode() + b"\r\n"
            )
        connection.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + accept
            + b"\r\n"
            + extension
            + b"\r\n"
        )
        inflater = zlib.decompressobj(-self.clientBits)
        count = 0
        while True:
            while (frame := _clientFrame(data)) is None:
                more = connection.recv(65536)
                if not more:
                    return
                data += more
            payload, data = frame
            message = bytearray(inflater.decompress(payload + b"\0\0\xff\xff"))
            if count == self.corrupt:
                message[100] ^= 1
            count += 1
            compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
            echo = compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)
            connection.sendall(_serverFrame(echo[:-4]))


def _clientFrame(data: bytes) -> tuple[bytes, bytes] | None:
    """
    The unmasked payload of the first whole compressed client frame in
    C{data} and what follows it, or L{None} if it has not all come.
    """
    if len(data) < 2:
        return None
    assert data[0] == 0xC1, data[:2]  # FIN, RSV1, text
    length, at = data[1] & 0x7F, 2
    if length == 126:
        length, at = int.from_bytes(data[2:4], "big"), 4
    if len(data) < at + 4 + length:
        return None
    mask = data[at : at + 4]
    payload = bytes(
        b ^ mask[i % 4] for i, b in enumerate(data[at + 4 : at + 4 + length])
    )
    return payload, data[at + 4 + length :]


def _serverFrame(payload: bytes) -> bytes:
    """
    A compressed text frame of C{payload}, as a server sends it.
    """
    if len(payload) < 126:
        return bytes([0xC1, len(payload)]) + payload
    return bytes([0xC1, 126]) + len(payload).to_bytes(2, "big") + payload


def _runDeflateLoadgen(server: _DeflateEcho) -> dict[str, object]:
    """
    Run the load generator's compressed WebSocket mode against C{server}
    and return its report.
    """
    try:
        loadgen = buildLoadgen()
    except BuildError as e:
        pytest.fail(str(e))
    if not loadgen.deflate:
        pytest.skip("the load generator was built without zlib")
    server.start()
    result = subprocess.run(
        [str(loadgen.path), "--port", str(server.port), "--mode", "ws"]
        + ["--deflate", "--compressible", "--size", "1024", "--conns", "1"]
        + ["--window", "4", "--duration", "0.5", "--warmup", "0", "--drain", "1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    server.join(10)
    assert server.failure is None, server.failure
    report: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return report


def test_loadgenDeflateCatchesCorruption() -> None:
    """
    With permessage-deflate agreed (a 10-bit window for the client, no
    context kept by the server), the load generator's messages inflate with
    the window it was given, and an echo that inflates to one byte other
    than was sent is reported as a verification error, with the record
    named.
    """
    server = _DeflateEcho(
        "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
        clientBits=10,
        corrupt=16,
    )
    report = _runDeflateLoadgen(server)
    errors = report["errors"]
    assert isinstance(errors, dict) and errors["verify"] == 1, report
    assert "record 16 differs" in str(report["detail"]), report
    deflate = report["deflate"]
    assert isinstance(deflate, dict) and deflate["echoed_compressed"] >= 16, report


def test_loadgenDeflateNotAgreed() -> None:
    """
    A server that does not agree to permessage-deflate fails the upgrade,
    and the report says why.
    """
    report = _runDeflateLoadgen(_DeflateEcho(None, clientBits=15, corrupt=-1))
    errors = report["errors"]
    assert isinstance(errors, dict) and errors["upgrade"] == 1, report
    assert "did not agree to permessage-deflate" in str(report["detail"]), report


class _CorruptingEcho(threading.Thread):
    """
    A one-connection echo server that changes one byte after the first
    kilobyte, to prove the load generator checks what comes back.
    """

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]

    def run(self) -> None:
        connection, _ = self.listener.accept()
        echoed = 0
        with connection, self.listener:
            try:
                while data := connection.recv(65536):
                    if echoed <= 1024 < echoed + len(data):
                        at = 1024 - echoed
                        data = data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]
                    echoed += len(data)
                    connection.sendall(data)
            except OSError:
                pass  # the load generator hangs up on the bad byte


def test_loadgenCatchesCorruption() -> None:
    """
    A server that echoes one byte wrong is reported as a verification
    error, with the record named.
    """
    try:
        loadgen = buildLoadgen()
    except BuildError as e:
        pytest.fail(str(e))
    server = _CorruptingEcho()
    server.start()
    result = subprocess.run(
        [str(loadgen.path), "--port", str(server.port), "--conns", "1"]
        + ["--window", "4", "--duration", "0.5", "--warmup", "0", "--drain", "1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["errors"]["verify"] == 1, report
    assert "record 16 differs" in report["detail"], report


def test_udploadCatchesCorruption() -> None:
    """
    The UDP load generator (L{benchmarks.udpload}) checks every echo: a
    server that changes one byte of some datagrams is reported as wrong
    echoes, and the result line has the compiled generator's keys.
    """
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        count = 0
        while not stop.is_set():
            try:
                data, address = server.recvfrom(65536)
            except TimeoutError:
                continue
            count += 1
            if count % 10 == 0:
                data = b"~" + data[1:]
            server.sendto(data, address)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        result = subprocess.run(
            [
                *(sys.executable, "-m", "benchmarks.udpload"),
                *("--port", str(server.getsockname()[1]), "--conns", "2"),
                *("--duration", "0.5", "--warmup", "0.1"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        stop.set()
        thread.join()
        server.close()
    lines = result.stdout.splitlines()
    assert lines[:1] == ["#measure-start"] and "#measure-end" in lines, result
    report = json.loads(lines[-1])
    assert report["errors"]["wrong"] > 0
    assert report["records_per_s"] > 0
    assert "echoes differed" in report["detail"]


def test_baselineServerOnce() -> None:
    """
    With C{--baseline-tree}, the baseline runs once in every scenario:
    second in one that does not name it, where it is already in one that
    does (C{http-anything}), and not at all without the option.
    """
    byName = SCENARIOS
    line = scenarioServers(byName["line"], baseline=True)
    assert line[:2] == ["echohub", "echohub-base"]
    assert line.count("echohub-base") == 1
    assert (
        scenarioServers(byName["http-anything"], baseline=True).count("echohub-base")
        == 1
    )
    assert "echohub-base" not in scenarioServers(byName["line"], baseline=False)
