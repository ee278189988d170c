"""
Running the load: the compiled load generator and wrk, each on its own core,
with the server's CPU time sampled over exactly the window they measure.

Every function returns a flat dict of figures (see L{Measurement}) and never
raises for a misbehaving server: errors are counted and described, so one
bad run does not end a long benchmark.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.servers import ServerProcess, pinned

Measurement = dict[str, Any]

# How long past its own duration a client may take before it is killed.
_GRACE = 60.0


def _errors(counts: dict[str, int]) -> int:
    return sum(counts.values())


def runLoadgen(
    binary: Path | list[str],
    server: ServerProcess,
    arguments: list[str],
    cpu: str | None,
    duration: float,
) -> Measurement:
    """
    Run the load generator against C{server} and read its JSON result.

    The generator prints C{#measure-start} and C{#measure-end} as its
    measured window opens and closes; the server's CPU time is read at both,
    so set-up, warm-up and drain are left out of it.

    @param binary: the compiled load generator, or the command of another
        that speaks its protocol (L{benchmarks.udpload}).
    """
    host, port = server.address
    command = [str(binary)] if isinstance(binary, Path) else binary
    argv = pinned([*command, "--host", host, "--port", str(port), *arguments], cpu)
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killer = _Deadline(process, duration + _GRACE)
    assert process.stdout is not None
    marks: dict[str, tuple[float, float]] = {}
    result: Measurement = {}
    for line in process.stdout:
        line = line.strip()
        if line in ("#measure-start", "#measure-end"):
            marks[line] = (time.monotonic(), server.cpuSeconds())
        elif line.startswith("{"):
            result = json.loads(line)
    stderr = process.stderr.read() if process.stderr else ""
    process.wait()
    killer.cancel()
    if not result:
        return {
            "errors": 1,
            "detail": f"load generator failed ({process.returncode}): {stderr.strip()}",
        }
    figures: Measurement = {
        "rate": result["records_per_s"],
        "bytes_per_s": result["bytes_per_s"],
        "p50_us": result["p50_us"],
        "p99_us": result["p99_us"],
        "client_cpu": result["client_cpu_share"],
        "errors": _errors(result["errors"]),
        "error_counts": result["errors"],
        "detail": result["detail"],
    }
    if "deflate" in result:
        figures["deflate"] = result["deflate"]
    if len(marks) == 2:
        (t0, c0), (t1, c1) = marks["#measure-start"], marks["#measure-end"]
        figures["server_cpu_s"] = c1 - c0
        figures["server_cpu"] = (c1 - c0) / (t1 - t0) if t1 > t0 else 0.0
        # Records and bytes per second of server CPU: what compares servers
        # fairly when the client, not the server, sets the pace, or the
        # machine is shared.
        if c1 > c0:
            window = t1 - t0
            figures["per_cpu_s"] = figures["rate"] * window / (c1 - c0)
            figures["bytes_per_cpu_s"] = figures["bytes_per_s"] * window / (c1 - c0)
    return figures


def runIdle(
    binary: Path,
    server: ServerProcess,
    conns: int,
    tls: bool,
    cpu: str | None,
    grpc: bool = False,
) -> Measurement:
    """
    Server memory per idle connection: open C{conns} connections (echoing
    one line on each, so the server has fully set them up), wait for the
    server to settle, and divide its resident memory growth by C{conns}.

    With C{grpc}, each connection is HTTP/2 that made one gRPC call (a
    message echoed on a bidirectional stream, then the call ended): an
    idle gRPC connection.

    A short burst of traffic on a few connections first warms the server up,
    so one-off allocations (first TLS context use, lazy imports) are not
    charged to the idle connections.
    """
    tlsFlag = ["--tls"] if tls else []
    warm = runLoadgen(
        binary,
        server,
        [
            *(("--mode", "grpc") if grpc else ()),
            "--conns",
            "10",
            "--window",
            "4",
            "--duration",
            "0.3",
            "--warmup",
            "0",
            *tlsFlag,
        ],
        cpu,
        0.3,
    )
    if warm["errors"]:
        return warm
    time.sleep(0.2)
    before, _ = server.memory()
    host, port = server.address
    argv = pinned(
        [str(binary), "--host", host, "--port", str(port)]
        + ["--mode", "grpc-idle" if grpc else "idle"]
        + ["--conns", str(conns), "--duration", "60", *tlsFlag],
        cpu,
    )
    process = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killer = _Deadline(process, 60 + _GRACE)
    assert process.stdout is not None and process.stdin is not None
    after = before
    result: Measurement = {}
    for line in process.stdout:
        line = line.strip()
        if line == "#idle-ready":
            time.sleep(0.5)
            after, _ = server.memory()
            process.stdin.close()
        elif line.startswith("{"):
            result = json.loads(line)
    process.wait()
    killer.cancel()
    if not result:
        return {"errors": 1, "detail": "idle load generator failed"}
    return {
        "per_conn": (after - before) / conns,
        "errors": _errors(result["errors"]),
        "error_counts": result["errors"],
        "detail": result["detail"],
    }


_WRK_SCRIPT = """
-- Written by benchmarks/clients.py: checks every response body, reports JSON.
local expected = %(expected)s
%(request)s
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body)
  if status ~= 200 or (expected ~= nil and body ~= expected) then bad = bad + 1 end
end
function done(summary, latency, requests)
  local wrong = 0
  for _, thread in ipairs(threads) do wrong = wrong + thread:get("bad") end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, "wrong": %%d,'
    .. ' "connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    wrong, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def _lua(data: bytes) -> str:
    return '"' + "".join(f"\\{b:03d}" for b in data) + '"'


def wrkScript(
    directory: Path,
    name: str,
    expected: bytes | None,
    post: bool,
    body: bytes | None = None,
) -> Path:
    """
    Write the wrk Lua script for one HTTP scenario.

    @param expected: the exact body every response must have; L{None} to
        check only the status (C{/anything} answers with the client's port).
    @param post: send a POST body rather than GET: C{body}, by default
        C{expected}.
    """
    literal = "nil" if expected is None else _lua(expected)
    payload = expected if body is None else body
    request = (
        f'wrk.method = "POST"\nwrk.body = {_lua(payload or b"")}\n'
        'wrk.headers["Content-Type"] = "application/octet-stream"'
        if post
        else ""
    )
    path = directory / f"{name}.lua"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(_WRK_SCRIPT % {"expected": literal, "request": request})
    return path


def runWrk(
    server: ServerProcess,
    path: str,
    script: Path,
    conns: int,
    duration: float,
    cpu: str | None,
) -> Measurement:
    """
    Run wrk (one thread, C{conns} connections) against C{server}.

    wrk has no warm-up: the server's CPU time is taken over wrk's whole
    life, and wrk's own CPU share from its resource usage.
    """
    wrk = shutil.which("wrk")
    assert wrk is not None
    host, port = server.address
    seconds = max(1, round(duration))
    argv = pinned(
        [
            wrk,
            "-t1",
            f"-c{conns}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
        ]
        + [f"http://{host}:{port}{path}"],
        cpu,
    )
    with tempfile.TemporaryFile("w+") as output:
        began, cpu0 = time.monotonic(), server.cpuSeconds()
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        killer = _Deadline(process, seconds + _GRACE)
        # wait4 rather than wait: it also gives wrk's own CPU time.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall, cpu1 = time.monotonic() - began, server.cpuSeconds()
        killer.cancel()
        output.seek(0)
        text = output.read()
    line = next((x for x in text.splitlines() if x.startswith('{"requests"')), None)
    if line is None:
        return {"errors": 1, "detail": f"wrk failed: {text.strip()[-300:]}"}
    result = json.loads(line)
    counts = {
        k: result[k] for k in ("wrong", "connect", "read", "write", "status", "timeout")
    }
    figures: Measurement = {
        "rate": result["requests"] / (result["duration_us"] / 1e6),
        "p50_us": result["p50_us"],
        "p99_us": result["p99_us"],
        "errors": _errors(counts),
        "error_counts": counts,
        "detail": "responses differed from the request" if counts["wrong"] else "",
        "server_cpu_s": cpu1 - cpu0,
        "server_cpu": (cpu1 - cpu0) / wall,
        # Requests per second of server CPU: under a shared machine, the
        # figure that compares servers fairly.
        "per_cpu_s": result["requests"] / (cpu1 - cpu0) if cpu1 > cpu0 else 0.0,
        "client_cpu": (usage.ru_utime + usage.ru_stime) / wall,
    }
    return figures


class _Deadline:
    """
    Kill one client process (by its PID) if it outlives its time: every run
    is bounded even if a server stops answering.
    """

    def __init__(self, process: subprocess.Popen[str], seconds: float) -> None:
        self._timer = threading.Timer(seconds, self._expire, (process,))
        self._timer.daemon = True
        self._timer.start()

    @staticmethod
    def _expire(process: subprocess.Popen[str]) -> None:
        if process.poll() is None:
            process.kill()

    def cancel(self) -> None:
        self._timer.cancel()


def runH2load(
    server: ServerProcess,
    path: str,
    conns: int,
    streams: int,
    duration: float,
    cpu: str | None,
    http1: bool = False,
    data: Path | None = None,
    headers: tuple[str, ...] = (),
) -> Measurement:
    """
    Run h2load (C{conns} connections, C{streams} requests in flight on
    each) against C{server}: HTTP/2 with prior knowledge, or HTTP/1.1 with
    C{http1} (then the requests in flight are pipelined).

    @param data: the body of every request (a C{POST}), as a file.
    @param headers: more request headers, C{name: value}.
    """
    h2load = shutil.which("h2load")
    assert h2load is not None
    host, port = server.address
    seconds = max(1, round(duration))
    argv = pinned(
        [h2load, "-c", str(conns), "-m", str(streams), "-D", str(seconds)]
        + (["--h1"] if http1 else [])
        + (["-d", str(data)] if data is not None else [])
        + [argument for header in headers for argument in ("-H", header)]
        + [f"http://{host}:{port}{path}"],
        cpu,
    )
    began, cpu0 = time.monotonic(), server.cpuSeconds()
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    killer = _Deadline(process, seconds + _GRACE)
    text, _ = process.communicate()
    wall, cpu1 = time.monotonic() - began, server.cpuSeconds()
    killer.cancel()
    finished = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", text)
    done = re.search(r"requests: .* (\d+) succeeded, (\d+) failed, (\d+) errored", text)
    if finished is None or done is None:
        return {"errors": 1, "detail": f"h2load failed: {text.strip()[-300:]}"}
    errors = int(done.group(2)) + int(done.group(3))
    return {
        "rate": float(finished.group(1)),
        "errors": errors,
        "detail": "" if not errors else f"{errors} requests failed",
        "server_cpu_s": cpu1 - cpu0,
        "server_cpu": (cpu1 - cpu0) / wall,
        "per_cpu_s": int(done.group(1)) / max(cpu1 - cpu0, 1e-9),
    }
