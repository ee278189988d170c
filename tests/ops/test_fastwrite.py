"""
Tests for L{echohub.ops._fastwrite}: direct sends keep Twisted's ordering and
backpressure, and the public path takes over when Twisted's private
attributes are missing.

These run over real loopback sockets: the fast path exists only on a real
TCP transport.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import deferLater
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import TestCase

from echohub._upstream import _twisted as _upstream
from echohub.config import LineConfig
from echohub.line._protocol import LineEcho, LineEchoFactory
from echohub.ops import _fastwrite as fastwrite

reactor: Any = _reactor

# Small kernel buffers on both sides, so that a few hundred kilobytes are
# enough to fill them and make Twisted queue.
SMALL_BUFFER = 8192


class _Capture(Protocol):
    """
    Remember the server side of each connection.
    """

    factory: _CaptureFactory

    def connectionMade(self) -> None:
        self.factory.connected.append(self)


class _CaptureFactory(Factory[_Capture]):
    """
    Build L{_Capture}s and keep them.
    """

    def __init__(self) -> None:
        self.protocol = _Capture
        self.connected: list[_Capture] = []


def buffered(transport: Any) -> int:
    """
    Bytes Twisted holds for C{transport}, not yet handed to the kernel.
    """
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


class FastWriteTests(TestCase):
    """
    L{fastwrite.write} over a real TCP connection.
    """

    def listen(self, factory: Any) -> int:
        """
        Listen on loopback with small send buffers; stop at the end of the
        test.
        """
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        port.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
        self.addCleanup(port.stopListening)
        return int(port.getHost().port)

    def client(self, port: int) -> socket.socket:
        """
        A non-blocking client socket with a small receive buffer.
        """
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
        client.connect(("127.0.0.1", port))
        client.setblocking(False)
        self.addCleanup(client.close)
        return client

    async def until(self, condition: Callable[[], object], what: str) -> None:
        """
        Let the reactor run until C{condition()} is true (at most 10 s).
        """
        for _ in range(10000):
            if condition():
                return
            await deferLater(reactor, 0.001, lambda: None)
        self.fail(f"timed out waiting for {what}")

    async def serverSide(self) -> tuple[Any, socket.socket]:
        """
        A connection: the server's transport and the client's socket.
        """
        factory = _CaptureFactory()
        client = self.client(self.listen(factory))
        await self.until(lambda: factory.connected, "the connection")
        transport: Any = factory.connected[0].transport
        self.addCleanup(transport.abortConnection)
        return transport, client

    async def test_sendsAtOnceWhenNothingQueued(self) -> None:
        """
        On a plain TCP transport with nothing queued, the bytes reach the
        kernel during the write call: nothing is left in Twisted's buffer
        and the client can read them before the reactor turns.
        """
        transport, client = await self.serverSide()
        self.assertTrue(_upstream.directSendable(transport))
        fastwrite.write(transport, b"hello\n")
        self.assertEqual(buffered(transport), 0)
        client.setblocking(True)
        client.settimeout(5)
        self.assertEqual(client.recv(100), b"hello\n")

    async def lineEcho(self) -> tuple[LineEcho, socket.socket]:
        """
        A L{LineEcho} connection over loopback, and its client socket.
        """
        factory = LineEchoFactory(LineConfig(), reactor)
        connected: list[LineEcho] = []
        build = factory.buildProtocol

        def buildProtocol(addr: Any) -> LineEcho:
            protocol = build(addr)
            connected.append(protocol)
            return protocol

        factory.buildProtocol = buildProtocol  # type: ignore[method-assign]
        client = self.client(self.listen(factory))
        await self.until(lambda: connected, "the connection")
        self.addCleanup(connected[0].transport.abortConnection)
        return connected[0], client

    async def echoOnce(self) -> list[bytes]:
        """
        Echo one line through a L{LineEcho} over loopback.

        @return: what went through the public C{transport.write}.
        """
        protocol, client = await self.lineEcho()
        public: list[bytes] = []
        transport = protocol.transport
        write = transport.write

        def spy(data: bytes) -> None:
            public.append(data)
            write(data)

        transport.write = spy
        client.send(b"hello\n")
        received = bytearray()

        def echoed() -> bool:
            try:
                received.extend(client.recv(100))
            except BlockingIOError:
                pass
            return received == b"hello\n"

        await self.until(echoed, "the echo")
        return public

    async def test_lineEchoSendsDirectly(self) -> None:
        """
        The line echo sends directly on a plain TCP connection: its echo
        never goes through the public C{transport.write}.
        """
        self.assertEqual(await self.echoOnce(), [])

    async def test_publicPathWithoutPrivateAttributes(self) -> None:
        """
        When a private attribute the fast path needs is missing (a later
        Twisted), the transport is not eligible and the line echo still
        echoes, through the public C{transport.write}.
        """
        self.patch(
            _upstream, "_TCP_PRIVATE", (*_upstream._TCP_PRIVATE, "_noSuchAttribute")
        )
        self.patch(_upstream, "_tcpEligibleTypes", {})
        self.assertEqual(await self.echoOnce(), [b"hello\n"])

    def test_publicPathOnOtherTransports(self) -> None:
        """
        A transport that is not a plain Twisted TCP connection (here an
        in-memory one; in production TLS and PROXY-protocol wrappers) is not
        eligible.
        """
        self.assertFalse(_upstream.directSendable(StringTransport()))

    async def test_orderKeptOnceQueued(self) -> None:
        """
        Writes past what the kernel takes queue in Twisted's buffer, and every
        later write queues behind them: the client receives every byte in the
        order written.
        """
        transport, client = await self.serverSide()
        chunks = [b"%07d\n" % (i,) for i in range(60000)]
        queuedAt = None
        for i, chunk in enumerate(chunks):
            fastwrite.write(transport, chunk)
            if queuedAt is None and buffered(transport):
                queuedAt = i
        self.assertIsNotNone(queuedAt, "the kernel never refused: nothing queued")
        expected = b"".join(chunks)
        received = bytearray()

        def drained() -> bool:
            try:
                received.extend(client.recv(1 << 20))
            except BlockingIOError:
                pass
            return len(received) >= len(expected)

        await self.until(drained, "every byte")
        self.assertEqual(bytes(received), expected)

    async def test_backpressureBoundKept(self) -> None:
        """
        A line-echo client that sends and never reads pauses the connection
        once Twisted holds more than its C{bufferSize}; what the server then
        holds stays under that bound plus one read's echo.
        """
        protocol, client = await self.lineEcho()
        transport = protocol.transport
        lines = b"0123456789abcdef" * 63 + b"012345678901234\n"

        def paused() -> bool:
            try:
                for _ in range(64):
                    client.send(lines)
            except BlockingIOError:
                pass
            return bool(transport.producerPaused)

        await self.until(paused, "the server to stop reading")
        bound = transport.bufferSize + transport.bufferSize
        self.assertLessEqual(buffered(transport), bound)
        for _ in range(20):
            await deferLater(reactor, 0.005, lambda: None)
            self.assertTrue(transport.producerPaused)
            self.assertLessEqual(buffered(transport), bound)
