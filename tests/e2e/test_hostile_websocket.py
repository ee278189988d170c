"""
Autobahn-style spot checks of the WebSocket echo's limits, with raw frames
against a real C{twistd -ny echohub.tac}: protocol errors get 1002, invalid
UTF-8 1007, oversize and never-ending messages 1009, and tiny fragments cost
linear work.
"""

from __future__ import annotations

import select
import struct
import time

import pytest

from echohub.tls._devcert import DevCertificates
from tests.hostile import cpuSeconds
from tests.support import MAX_MESSAGE, EchohubProcess, RawClient

pytestmark = pytest.mark.e2e


TEXT, BINARY, CONTINUATION, PING = 1, 2, 0, 9


def closeCode(client: RawClient, timeout: float = 5) -> int:
    """
    The code of the close frame the server sends before closing.
    """
    frames = client.readUntilEOF(timeout=timeout)
    closes = [payload for opcode, payload in frames if opcode == 8]
    assert closes, frames
    code: int = struct.unpack("!H", closes[0][:2])[0]
    return code


@pytest.fixture
def client(wsServer: EchohubProcess, devcerts: DevCertificates) -> RawClient:
    raw = RawClient(wsServer, False, devcerts)
    assert raw.status == 101
    return raw


def test_unmaskedFrame(client: RawClient) -> None:
    """
    A client frame without a mask is a protocol error: 1002.
    """
    client.sock.sendall(bytes([0x80 | TEXT, 5]) + b"hello")
    assert closeCode(client) == 1002


def test_oversizeControlFrame(client: RawClient) -> None:
    """
    A ping with a 126-byte payload is a protocol error: 1002.
    """
    client.sock.sendall(RawClient.frame(PING, b"p" * 126))
    assert closeCode(client) == 1002


def test_invalidUTF8Text(client: RawClient) -> None:
    """
    A text message that is not UTF-8 closes with 1007.
    """
    client.sock.sendall(RawClient.frame(TEXT, b"caf\xc3"))
    assert closeCode(client) == 1007


def test_oversizeClosedWithinASecond(client: RawClient) -> None:
    """
    A message that passes the cap is closed with 1009 within a second of
    the byte that crossed it.
    """
    # RawClient writes a 64-bit length, which must then be over 65535.
    client.sock.sendall(RawClient.frame(BINARY, b"", length=70_000))
    client.sock.sendall(b"x" * (MAX_MESSAGE + 1))
    crossed = time.monotonic()
    assert closeCode(client) == 1009
    assert time.monotonic() - crossed < 1


def test_neverEndingFragmentedMessage(client: RawClient) -> None:
    """
    A message whose fragments never end is closed with 1009 once their
    total passes the cap, and a client that goes on sending still reads the
    close frame (the server lingers instead of resetting).
    """
    client.sock.sendall(RawClient.frame(TEXT, b"a" * 100, fin=False))
    sent = 100
    client.sock.settimeout(1)
    while sent < MAX_MESSAGE * 100:
        client.sock.sendall(RawClient.frame(CONTINUATION, b"a" * 100, fin=False))
        sent += 100
        if select.select([client.sock], [], [], 0)[0]:
            break
    assert closeCode(client) == 1009
    assert sent < MAX_MESSAGE * 100


def test_oneByteFragmentsLinear(wsServer: EchohubProcess, client: RawClient) -> None:
    """
    A message of the cap's size in 1-byte fragments is echoed whole, for
    little server CPU: reassembly is not quadratic.
    """
    payload = bytes(i % 251 for i in range(MAX_MESSAGE))
    frames = [RawClient.frame(BINARY, payload[:1], fin=False)]
    frames += [
        RawClient.frame(CONTINUATION, payload[i : i + 1], fin=i == len(payload) - 1)
        for i in range(1, len(payload))
    ]
    cpu = cpuSeconds(wsServer.pid)
    client.sock.sendall(b"".join(frames))
    opcode, echoed = client.readFrame()
    used = cpuSeconds(wsServer.pid) - cpu
    print(f"{len(frames)} one-byte fragments: {used:.3f} s server CPU")
    assert (opcode, echoed) == (BINARY, payload)
    assert used < 1.0
