"""
The soak: mixed line, HTTP, WebSocket and TLS traffic against a real
C{twistd -ny echohub.tac} on loopback, with faults injected (resets
mid-write, slowloris headers, clients that never read, vanishing WebSocket
clients), for C{SOAK_SECONDS} (default 60).

It prints memory, descriptors and error counts every few seconds and exits
non-zero if any echo differs, the log shows a traceback, or descriptors or
memory have not come back to their baseline at the end.  Run with
C{make soak}; it is not part of C{make test}.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import sys
import tempfile
import time

from websockets.sync.client import connect as ws_connect

from echohub.tls._devcert import ensureDevCertificates
from tests.hostile import openFds, raiseFileLimit, resetOnClose, rss, waitFor
from tests.support import EchohubProcess, recvUntil

MB = 1024 * 1024


def main() -> int:
    seconds = float(os.environ.get("SOAK_SECONDS", "60"))
    raiseFileLimit()
    work = tempfile.mkdtemp(prefix="echohub-soak-")
    certs = ensureDevCertificates(work, [])
    tls = (
        f"ssl:0:interface=127.0.0.1:privateKey={certs.server.privateKey.path}"
        f":certKey={certs.server.certificate.path}"
    )
    tcp = "tcp:0:interface=127.0.0.1:backlog=1024"
    server = EchohubProcess(
        {
            "ECHOHUB_LINE_LISTEN": f"{tcp} {tls}",
            "ECHOHUB_WEB_LISTEN": f"{tcp} {tls}",
            "ECHOHUB_LINE_MAX_CONNECTIONS_PER_PEER": "0",
            "ECHOHUB_WEB_MAX_CONNECTIONS_PER_PEER": "0",
            "ECHOHUB_WEB_HEADER_TIMEOUT": "2",
            "ECHOHUB_TLS_HANDSHAKE_TIMEOUT": "2",
        },
        cwd=work,
    ).start(listeners=4)
    context = ssl.create_default_context(cafile=certs.ca.certificate.path)
    errors: dict[str, int] = {}

    def check(name: str, ok: bool) -> None:
        if not ok:
            errors[name] = errors.get(name, 0) + 1

    def lineEcho(index: int, payload: bytes) -> None:
        with socket.create_connection(server.address("line", index), timeout=10) as raw:
            sock = (
                context.wrap_socket(raw, server_hostname="localhost") if index else raw
            )
            sock.sendall(payload)
            check(f"line{index}", recvUntil(sock, len(payload)) == payload)

    def httpEcho(index: int, payload: bytes) -> None:
        host, port = server.address("web", index)
        conn = (
            http.client.HTTPSConnection("localhost", port, context=context, timeout=10)
            if index
            else http.client.HTTPConnection(host, port, timeout=10)
        )
        conn.request("POST", "/echo", body=payload)
        check(f"http{index}", conn.getresponse().read() == payload)
        conn.close()

    def wsEcho(payload: bytes) -> None:
        host, port = server.address("web")
        with ws_connect(f"ws://{host}:{port}/ws", proxy=None) as ws:
            ws.send(payload)
            check("ws", ws.recv(timeout=10) == payload)

    def faults() -> list[socket.socket]:
        held = []
        for service in ("line", "web"):
            sock = socket.create_connection(server.address(service), timeout=10)
            sock.setblocking(False)
            try:
                for _ in range(16):
                    sock.send(b"GET /echo?msg=" + b"x" * 60000 + b"\n")
            except BlockingIOError:
                pass
            resetOnClose(sock)
            sock.close()
        slow = socket.create_connection(server.address("web"), timeout=10)
        slow.sendall(b"GET / HTTP/1.1\r\nHo")
        held.append(slow)
        silent = socket.create_connection(server.address("web", 1), timeout=10)
        held.append(silent)
        return held

    for i in range(20):
        lineEcho(i % 2, b"warm-up\n")
        httpEcho(i % 2, b"warm-up")
    baseFds, baseRss = openFds(server.pid), rss(server.pid)
    print(f"baseline: {baseRss / MB:.1f} MB, {baseFds} fds", flush=True)
    started = last = time.monotonic()
    held: list[socket.socket] = []
    rounds = 0
    while time.monotonic() - started < seconds:
        payload = os.urandom(512).hex().encode()
        lineEcho(rounds % 2, payload + b"\n")
        httpEcho(rounds % 2, payload * (1 + rounds % 50))
        wsEcho(payload)
        if rounds % 10 == 0:
            held += faults()
        if len(held) > 200:
            for sock in held[:100]:
                sock.close()
            held = held[100:]
        rounds += 1
        if time.monotonic() - last >= 5:
            last = time.monotonic()
            print(
                f"{last - started:6.1f} s: {rounds} rounds,"
                f" {rss(server.pid) / MB:.1f} MB,"
                f" {openFds(server.pid)} fds, errors {errors or 0}",
                flush=True,
            )
    for sock in held:
        sock.close()
    back = waitFor(lambda: openFds(server.pid) <= baseFds + 2, 20)
    grown = rss(server.pid) - baseRss
    server.stop()
    print(
        f"end: {rounds} rounds, memory +{grown / MB:.1f} MB,"
        f" fds {'back' if back else 'NOT back'} to baseline, errors {errors or 0}"
    )
    failed = bool(errors) or not back or grown > 32 * MB
    if "Traceback" in server.output:
        print(server.output)
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
