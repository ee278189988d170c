"""
A client that keeps sending while the server refuses what it sends, and
reports whether it read the server's answer: the WebSocket C{1009} close
frame, the whole C{413} response, the line C{ERROR} line.

By default it behaves as browsers, curl and WebSocket libraries do: one
thread sends (until done, or until the server's answer has been read, or the
connection fails), the other reads.  Sequentially (C{sequential=True}) it
sends everything first and only then reads, as a simple blocking client
does: the case a server that closes at once loses every time (the reset
destroys the answer before it is read).  The end-to-end tests run it
in-process over loopback and, as C{python -m tests.lingerclient KIND HOST
PORT SIZE [sequential]}, in another network namespace across a rate-limited
link; it prints one JSON object.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
from dataclasses import asdict, dataclass

CHUNK = 16384
KINDS = ("ws", "http", "line")


@dataclass
class Outcome:
    """
    What one run saw.

    @ivar answer: the server's answer as read: C{"close 1009"}, C{"413
        complete"} or the C{ERROR} line; empty if none arrived whole.
    @ivar seconds: from the first byte sent to the answer read whole.
    @ivar sent: bytes the client had sent when the answer was read.
    @ivar error: the socket error that ended reading, if any.
    @ivar ended: how the connection ended after the answer: C{"eof"},
        C{"reset"} or C{"open"} (still open when the client gave up).
    """

    answer: str = ""
    seconds: float = 0.0
    sent: int = 0
    error: str = ""
    ended: str = ""


def _prefix(kind: str, size: int) -> bytes:
    if kind == "ws":
        return (
            b"GET /ws HTTP/1.1\r\nHost: echo.test\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
    if kind == "http":
        return (
            b"POST /echo HTTP/1.1\r\nHost: echo.test\r\nContent-Length: %d\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" % (size,)
        )
    return b""


def _frameHeader(size: int) -> bytes:
    """
    The header of one masked binary frame of C{size} bytes (all-zero mask,
    so the payload is sent as is).
    """
    return bytes([0x82, 0x80 | 127]) + struct.pack("!Q", size) + b"\x00" * 4


class _Reader:
    """
    Reads until the answer for C{kind} is complete.
    """

    def __init__(self, sock: socket.socket, kind: str) -> None:
        self.sock = sock
        self.kind = kind
        self.data = b""

    def answer(self) -> str:
        """
        The answer in what was read so far, or C{""} if not complete yet.
        """
        data = self.data
        if self.kind == "line":
            end = data.find(b"\n")
            return data[:end].decode("ascii", "replace") if end != -1 else ""
        head, separator, rest = data.partition(b"\r\n\r\n")
        if not separator:
            return ""
        if self.kind == "http":
            status = head.split(b" ", 2)[1].decode()
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            return f"{status} complete" if len(rest) >= length else ""
        while len(rest) >= 2:
            opcode, length = rest[0] & 0x0F, rest[1] & 0x7F
            if len(rest) < 2 + length:
                return ""
            if opcode == 8:
                code = struct.unpack("!H", rest[2:4])[0] if length >= 2 else 1005
                return f"close {code}"
            rest = rest[2 + length :]
        return ""


def run(
    host: str,
    port: int,
    kind: str,
    size: int,
    timeout: float = 60.0,
    sequential: bool = False,
    tls: ssl.SSLContext | None = None,
) -> Outcome:
    """
    Connect, send the request of C{kind} with C{size} bytes of payload
    while reading (or, C{sequential}, before reading), and report what came
    back.

    @param tls: speak TLS with this context (server name C{localhost}).
    """
    outcome = Outcome()
    sock = socket.create_connection((host, port), timeout=timeout)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname="localhost")
    answered = threading.Event()
    sentTotal = [0]
    sendError: list[str] = []

    def send() -> None:
        payload = b"\x00" * CHUNK
        try:
            sock.sendall(_prefix(kind, size))
            if kind == "ws":
                sock.sendall(_frameHeader(size))
            left = size
            while left > 0 and not answered.is_set():
                piece = payload[: min(CHUNK, left)]
                sock.sendall(piece)
                sentTotal[0] += len(piece)
                left -= len(piece)
        except OSError as e:
            sendError.append(f"send: {type(e).__name__}: {e}")

    started = time.monotonic()
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    if sequential:
        sender.join(timeout)
        if sendError:
            # A blocking client (a WebSocket library's send(), say) raises
            # here and never reads the answer.
            outcome.error = sendError[0]
            outcome.ended = "reset"
            outcome.sent = sentTotal[0]
            sock.close()
            return outcome
    reader = _Reader(sock, kind)
    deadline = started + timeout
    try:
        while not reader.answer() and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                outcome.ended = "eof"
                break
            reader.data += chunk
    except OSError as e:
        outcome.error = f"{type(e).__name__}: {e}"
        outcome.ended = "reset" if isinstance(e, ConnectionResetError) else "error"
    outcome.answer = reader.answer()
    outcome.seconds = round(time.monotonic() - started, 3)
    outcome.sent = sentTotal[0]
    answered.set()
    if outcome.answer and not outcome.ended:
        outcome.ended = _afterAnswer(sock)
    sender.join(timeout)
    sock.close()
    return outcome


def _afterAnswer(sock: socket.socket) -> str:
    """
    After the answer, stop sending (as a client does once refused) and see
    how the server ends the connection.
    """
    try:
        if isinstance(sock, ssl.SSLSocket):
            # The server's close_notify ends our reading; ours (unwrap)
            # tells the server we are done, and it closes TCP.
            sock.settimeout(10)
            while sock.recv(65536):
                pass
            raw = sock.unwrap()
            while raw.recv(65536):
                pass
            return "eof"
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(10)
        while sock.recv(65536):
            pass
        return "eof"
    except ConnectionResetError:
        return "reset"
    except OSError as e:
        return f"{type(e).__name__}"


def main(argv: list[str]) -> int:
    """
    C{KIND HOST PORT SIZE [sequential]}: run once and print the outcome as
    JSON.
    """
    kind, host, port, size = argv[0], argv[1], int(argv[2]), int(argv[3])
    sequential = argv[4:] == ["sequential"]
    if kind not in KINDS:
        raise SystemExit(f"KIND must be one of {', '.join(KINDS)}")
    outcome = run(host, port, kind, size, sequential=sequential)
    print(json.dumps(asdict(outcome)), flush=True)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
