"""
The benchmark harness (C{benchmarks/}) works: a tiny run produces its table
and result file, and the load generator notices a byte echoed wrong.

Nothing here asserts a speed: figures from a shared test machine mean
nothing, and C{make bench} is where they are measured.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
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
        assert row["errors"] == 0 and row["median"] > 0, row


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
