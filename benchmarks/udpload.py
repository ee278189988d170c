"""
The UDP load generator: C{python -m benchmarks.udpload --host H --port P}.

C{--conns} sockets, each connected to the server, keep C{--window}
datagrams of C{--size} bytes in flight: every echo that comes back, checked
byte for byte, sends the next.  A socket that hears nothing for
C{LOSS_TIMEOUT} seconds counts its window as lost and sends a fresh one, so
datagrams dropped under overload stall nothing.

It speaks the compiled load generator's protocol (L{benchmarks.loadgen}):
C{#measure-start} and C{#measure-end} around the measured window, then one
JSON line with C{records_per_s}, C{bytes_per_s}, C{p50_us}, C{p99_us},
C{client_cpu_share}, C{errors} and C{detail}.  It is Python (stdlib only,
C{select.epoll}) rather than C: what the scenario reports is the server's
CPU time per datagram, which does not depend on how fast the client is.
"""

from __future__ import annotations

import argparse
import json
import resource
import select
import socket
import sys
import time

LOSS_TIMEOUT = 0.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--conns", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()

    payload = bytes(33 + i % 94 for i in range(args.size))
    poller = select.epoll()
    sockets: dict[int, socket.socket] = {}
    lastHeard: dict[int, float] = {}
    for _ in range(args.conns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect((args.host, args.port))
        sock.setblocking(False)
        sockets[sock.fileno()] = sock
        poller.register(sock.fileno(), select.EPOLLIN)
    errors = {"wrong": 0, "lost": 0}

    def fill(sock: socket.socket, count: int) -> None:
        for _ in range(count):
            try:
                sock.send(payload)
            except BlockingIOError:
                return

    now = time.monotonic()
    for fd, sock in sockets.items():
        fill(sock, args.window)
        lastHeard[fd] = now
    start = now + args.warmup
    end = start + args.duration
    measuring = False
    echoed = 0
    cpu0 = 0.0
    while True:
        now = time.monotonic()
        if not measuring and now >= start:
            measuring = True
            echoed = 0
            usage = resource.getrusage(resource.RUSAGE_SELF)
            cpu0 = usage.ru_utime + usage.ru_stime
            print("#measure-start", flush=True)
        if now >= end:
            break
        for fd, _ in poller.poll(LOSS_TIMEOUT / 2):
            sock = sockets[fd]
            got = 0
            while True:
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    break
                except ConnectionRefusedError:
                    errors["lost"] += 1
                    break
                if data != payload:
                    errors["wrong"] += 1
                got += 1
            echoed += got
            lastHeard[fd] = now
            fill(sock, got)
        for fd, heard in lastHeard.items():
            if now - heard > LOSS_TIMEOUT:
                errors["lost"] += args.window
                lastHeard[fd] = now
                fill(sockets[fd], args.window)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    elapsed = time.monotonic() - start
    print("#measure-end", flush=True)
    rate = echoed / elapsed if elapsed > 0 else 0.0
    detail = []
    if errors["wrong"]:
        detail.append(f"{errors['wrong']} echoes differed")
    if errors["lost"]:
        detail.append(f"about {errors['lost']} datagrams lost")
    print(
        json.dumps(
            {
                "records_per_s": rate,
                "bytes_per_s": rate * args.size,
                "p50_us": 0,
                "p99_us": 0,
                "client_cpu_share": cpu / elapsed if elapsed > 0 else 0.0,
                # Loss under overload is UDP's nature, not a wrong echo.
                "errors": {"wrong": errors["wrong"]},
                "detail": "; ".join(detail),
            }
        ),
        flush=True,
    )
    for sock in sockets.values():
        sock.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
