"""
Tests for L{echohub.line._protocol}: the line-echo protocol, in memory.
"""

from __future__ import annotations

import errno

from hypothesis import given, settings
from hypothesis import strategies as st
from OpenSSL import SSL
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.main import CONNECTION_DONE, CONNECTION_LOST
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import Logger, formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import LineConfig
from echohub.line._protocol import (
    COUNT_BY_FIND,
    COUNT_BY_SCAN,
    DRAIN_GRACE,
    LineEcho,
    LineEchoFactory,
    countLines,
    findOverlongLine,
)
from echohub.ops import RECEIVE_BUFFER, IDirectReader
from echohub.ops._connections import ConnectionRegistry
from echohub.testing import DirectReadTransport, HalfCloseTransport

ADDRESS = IPv4Address("TCP", "127.0.0.1", 40000)


def connect(
    config: LineConfig | None = None,
    transport: StringTransport | None = None,
) -> tuple[LineEcho, StringTransport, Clock, ConnectionRegistry]:
    """
    Connect a L{LineEcho} built by its factory to a L{StringTransport} (or
    C{transport}), with its timeouts on a L{Clock}.
    """
    clock = Clock()
    registry = ConnectionRegistry()
    factory = LineEchoFactory(config or LineConfig(), clock, registry)
    protocol = factory.buildProtocol(ADDRESS)
    if transport is None:
        transport = StringTransport(peerAddress=ADDRESS)
    if isinstance(transport, HalfCloseTransport):
        transport.protocol = protocol
    protocol.makeConnection(transport)
    return protocol, transport, clock, registry


def lose(protocol: LineEcho) -> None:
    """
    Tell C{protocol} its connection is gone.
    """
    protocol.connectionLost(Failure(ConnectionDone()))


def naiveOverlong(data: bytes, maxLength: int) -> int:
    """
    The obvious line-by-line version of L{findOverlongLine}.
    """
    start = 0
    for line in data.split(b"\n")[:-1]:
        if len(line) > maxLength:
            return start
        start += len(line) + 1
    return -1


class LineEchoTests(SynchronousTestCase):
    """
    L{LineEcho} echoes complete lines byte for byte.
    """

    def test_completeLinesEchoedExactly(self) -> None:
        """
        Complete lines come back exactly, carriage returns and bytes that
        are not UTF-8 included.
        """
        protocol, transport, _, _ = connect()
        data = b"hello\r\n\xff\xfe binary\n\n"
        protocol.dataReceived(data)
        self.assertEqual(transport.value(), data)

    def test_partialLineHeldUntilTerminated(self) -> None:
        """
        Bytes after the last newline are held until their line is complete,
        then echoed with it in one piece.
        """
        protocol, transport, _, _ = connect()
        protocol.dataReceived(b"one\ntw")
        self.assertEqual(transport.value(), b"one\n")
        protocol.dataReceived(b"o and")
        self.assertEqual(transport.value(), b"one\n")
        protocol.dataReceived(b" three\nfo")
        self.assertEqual(transport.value(), b"one\ntwo and three\n")

    def test_pipelinedLinesEchoedWithOneWrite(self) -> None:
        """
        All the complete lines of one read go out as one write: the echo does
        not wait for the client to read each line.
        """
        protocol, transport, _, _ = connect()
        writes: list[bytes] = []
        transport.write = writes.append  # type: ignore[method-assign]
        protocol.dataReceived(b"a\nb\nc\nd")
        self.assertEqual(writes, [b"a\nb\nc\n"])

    def test_halfCloseEchoesUnterminatedLastLine(self) -> None:
        """
        When the client shuts down its sending side, its unterminated last
        line is echoed as received and the connection is then closed.
        """
        protocol, transport, _, _ = connect()
        self.assertTrue(IHalfCloseableProtocol.providedBy(protocol))
        protocol.dataReceived(b"line\npartial")
        protocol.readConnectionLost()
        self.assertEqual(transport.value(), b"line\npartial")
        self.assertTrue(transport.disconnecting)

    def test_transportIsItsOwnStreamingProducer(self) -> None:
        """
        The transport is registered as a streaming producer of itself, so
        the reactor stops reading while echoes are unsent; it is unregistered
        before the connection is closed, or a paused connection would never
        close.
        """
        protocol, transport, _, _ = connect()
        self.assertIs(transport.producer, transport)
        self.assertTrue(transport.streaming)
        protocol.readConnectionLost()
        self.assertIsNone(transport.producer)
        self.assertTrue(transport.disconnecting)

    def test_lineAtTheLimitIsAccepted(self) -> None:
        """
        A line of exactly C{max_line_length} bytes, newline not counted, is
        echoed, whether it arrives whole or in pieces.
        """
        protocol, transport, _, _ = connect(LineConfig(max_line_length=8))
        protocol.dataReceived(b"12345678\n1234")
        protocol.dataReceived(b"5678")
        protocol.dataReceived(b"\n")
        self.assertEqual(transport.value(), b"12345678\n12345678\n")
        self.assertFalse(transport.disconnecting)

    def test_overlongLineInOneRead(self) -> None:
        """
        The lines before an over-long line are echoed, then one ERROR line
        naming the limit, and the connection closes; nothing after it is
        echoed.
        """
        protocol, transport, _, _ = connect(LineConfig(max_line_length=8))
        protocol.dataReceived(b"ok\n123456789\nafter\n")
        self.assertEqual(
            transport.value(),
            b"ok\nERROR line too long: the limit is 8 bytes (max_line_length);"
            b" closing\n",
        )
        self.assertTrue(transport.disconnecting)
        self.assertIsNone(transport.producer)

    def test_overlongPartialLineReportedBeforeItEnds(self) -> None:
        """
        A line is reported as soon as its unterminated part passes the limit:
        the server does not buffer an endless line waiting for its newline.
        """
        protocol, transport, _, _ = connect(LineConfig(max_line_length=8))
        protocol.dataReceived(b"ok\n12345")
        protocol.dataReceived(b"6789")
        self.assertTrue(transport.value().startswith(b"ok\nERROR "))
        self.assertTrue(transport.disconnecting)

    def test_overlongLineSplitAcrossReads(self) -> None:
        """
        A line that is under the limit in each read but over it once joined
        is refused when its newline arrives: the lines before it are echoed,
        then the C{ERROR} line, and nothing after it.
        """
        protocol, transport, _, _ = connect(LineConfig(max_line_length=8))
        protocol.dataReceived(b"ok\n1234")
        protocol.dataReceived(b"56789\nnext\n")
        self.assertTrue(transport.value().startswith(b"ok\nERROR "))
        self.assertNotIn(b"next", transport.value())
        self.assertTrue(transport.disconnecting)

    def test_overlongTailAfterCompleteLines(self) -> None:
        """
        Complete lines in a read are echoed even when the unterminated rest
        of the same read is already over the limit.
        """
        protocol, transport, _, _ = connect(LineConfig(max_line_length=4))
        protocol.dataReceived(b"abc\n123456")
        self.assertTrue(transport.value().startswith(b"abc\nERROR "))
        self.assertTrue(transport.disconnecting)

    def test_overlongLineLingers(self) -> None:
        """
        After the ERROR line only the write side is shut (a lingering
        close): what the client still sends is read and discarded, the
        connection stays registered (a drain waits for it) and under the
        caps, and the client's EOF closes it.
        """
        protocol, transport, clock, registry = connect(
            LineConfig(max_line_length=8, max_connections_per_peer=1),
            HalfCloseTransport(peerAddress=ADDRESS),
        )
        assert isinstance(transport, HalfCloseTransport)
        protocol.dataReceived(b"123456789")
        self.assertTrue(transport.value().startswith(b"ERROR line too long"))
        self.assertTrue(transport.writeDisconnected)
        self.assertFalse(transport.disconnecting)
        before = transport.value()
        protocol.dataReceived(b"x" * 100000)
        self.assertEqual(transport.value(), before)
        self.assertEqual(len(registry), 1)
        access = protocol.factory.access
        self.assertEqual(access.caps.openFrom(ADDRESS.host), 1)
        protocol.readConnectionLost()
        self.assertTrue(transport.disconnecting)
        lose(protocol)
        self.assertEqual((len(registry), access.caps.openFrom(ADDRESS.host)), (0, 0))
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_lingeringBoundedByIdle(self) -> None:
        """
        A lingering connection whose client goes silent is aborted after the
        service's idle bound (C{[server] lingering_timeout}), and its access
        log line says so.
        """
        protocol, transport, clock, _ = connect(
            LineConfig(max_line_length=8), HalfCloseTransport(peerAddress=ADDRESS)
        )
        assert isinstance(transport, HalfCloseTransport)
        protocol.dataReceived(b"123456789")
        idle = protocol.factory.access.lingering.idle
        clock.advance(idle - 0.1)
        protocol.dataReceived(b"more")
        clock.advance(idle - 0.1)
        self.assertFalse(transport.aborted)
        clock.advance(0.1)
        self.assertTrue(transport.aborted)
        events: list[dict[str, object]] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        lose(protocol)
        reasons = [e.get("reason") for e in events if "bytes_in" in e]
        self.assertEqual(
            reasons,
            ["line too long, lingered (4 bytes discarded, lingering idle)"],
        )

    def test_inputIgnoredWhileClosing(self) -> None:
        """
        Once the connection is closing nothing more is echoed.
        """
        protocol, transport, _, _ = connect(LineConfig(max_line_length=4))
        protocol.dataReceived(b"123456\n")
        before = transport.value()
        protocol.dataReceived(b"more\n")
        self.assertEqual(transport.value(), before)

    def test_idleTimeout(self) -> None:
        """
        A connection without input for C{idle_timeout} seconds is closed;
        input restarts the timer.
        """
        protocol, transport, clock, _ = connect(LineConfig(idle_timeout=10))
        clock.advance(9)
        protocol.dataReceived(b"x\n")
        clock.advance(9)
        self.assertFalse(transport.disconnecting)
        clock.advance(1)
        self.assertTrue(transport.disconnecting)

    def test_idleTimeoutRearmedLazily(self) -> None:
        """
        Input does not move the idle timer; when it fires after input it is
        armed again for what is left, so the connection still closes exactly
        C{idle_timeout} seconds after its last input, and repeated input
        keeps postponing it.
        """
        protocol, transport, clock, _ = connect(LineConfig(idle_timeout=10))
        [timer] = clock.getDelayedCalls()
        clock.advance(3)
        protocol.dataReceived(b"x\n")
        self.assertEqual(clock.getDelayedCalls(), [timer])
        self.assertEqual(timer.getTime(), 10)
        clock.advance(7)
        self.assertFalse(transport.disconnecting)
        [rearmed] = clock.getDelayedCalls()
        self.assertEqual(rearmed.getTime(), 13)
        for _ in range(5):
            clock.advance(2.5)
            protocol.dataReceived(b"y")
        clock.advance(9.9)
        self.assertFalse(transport.disconnecting)
        clock.advance(0.1)
        self.assertTrue(transport.disconnecting)

    def test_idleTimeoutZeroDisables(self) -> None:
        """
        C{idle_timeout = 0} keeps idle connections open indefinitely.
        """
        protocol, transport, clock, _ = connect(LineConfig(idle_timeout=0))
        clock.advance(10**6)
        self.assertFalse(transport.disconnecting)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_closeTimeoutAborts(self) -> None:
        """
        A closing connection whose peer does not take its last echoes is
        aborted after C{close_timeout} seconds.
        """
        protocol, transport, clock, _ = connect(LineConfig(close_timeout=3))
        protocol.readConnectionLost()
        clock.advance(2.9)
        self.assertFalse(transport.disconnected)
        clock.advance(0.1)
        self.assertTrue(transport.disconnected)

    def test_connectionLostStopsTimers(self) -> None:
        """
        A lost connection leaves no timer behind.
        """
        protocol, _, clock, _ = connect()
        lose(protocol)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_registryTracksConnection(self) -> None:
        """
        The protocol is in the registry while connected, out of it after.
        """
        protocol, _, _, registry = connect()
        self.assertEqual(len(registry), 1)
        lose(protocol)
        self.assertEqual(len(registry), 0)

    def test_drainEchoesPendingAndCloses(self) -> None:
        """
        Draining, as a stopping server does, keeps echoing for
        L{DRAIN_GRACE} seconds (input already sent is still read), then
        echoes the unterminated rest and closes the connection.
        """
        protocol, transport, clock, _ = connect()
        protocol.dataReceived(b"a\nb")
        protocol.drain()
        protocol.dataReceived(b"c\nd")
        self.assertEqual(transport.value(), b"a\nbc\n")
        self.assertFalse(transport.disconnecting)
        clock.advance(DRAIN_GRACE)
        self.assertEqual(transport.value(), b"a\nbc\nd")
        self.assertTrue(transport.disconnecting)

    @settings(max_examples=300, deadline=None)
    @given(
        data=st.binary(max_size=2000),
        cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=30),
    )
    def test_anySegmentationEchoesCompleteLines(
        self, data: bytes, cuts: list[int]
    ) -> None:
        """
        Random bytes split at random points come back as exactly the complete
        lines they contain, and on half-close as exactly the bytes sent.
        """
        protocol, transport, _, _ = connect(LineConfig(max_line_length=4096))
        points = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
        for start, end in zip(points, points[1:], strict=False):
            protocol.dataReceived(data[start:end])
        self.assertEqual(transport.value(), data[: data.rfind(b"\n") + 1])
        protocol.readConnectionLost()
        self.assertEqual(transport.value(), data)


def counts(protocol: LineEcho) -> tuple[int, int, int]:
    return (protocol.bytesIn, protocol.bytesOut, protocol.echoed)


class DirectReadTests(SynchronousTestCase):
    """
    L{LineEcho.socketReadable}, the read under C{[server] direct_dispatch},
    echoes exactly as C{dataReceived} does, from the shared receive buffer.
    """

    def connectDirect(
        self, config: LineConfig | None = None
    ) -> tuple[LineEcho, DirectReadTransport]:
        transport = DirectReadTransport(peerAddress=ADDRESS)
        protocol, _, _, _ = connect(config, transport)
        return protocol, transport

    def test_isDirectReader(self) -> None:
        """
        The line echo reads its own socket when the dispatch lets it.
        """
        self.assertTrue(IDirectReader.implementedBy(LineEcho))

    def test_echoesCompleteLinesAndKeepsTheRest(self) -> None:
        """
        Complete lines go back at once; the unterminated rest waits for its
        newline, which may come by either path.
        """
        protocol, transport = self.connectDirect()
        self.assertIsNone(transport.deliver(b"one\ntwo\nthr"))
        self.assertEqual(transport.value(), b"one\ntwo\n")
        self.assertIsNone(transport.deliver(b"ee\nfo"))
        protocol.dataReceived(b"ur\n")
        self.assertEqual(transport.value(), b"one\ntwo\nthree\nfour\n")
        self.assertEqual(counts(protocol), (19, 19, 4))

    def test_keptBytesAreCopied(self) -> None:
        """
        What waits for its newline is a copy: the receive buffer is reused
        by every connection's next read.
        """
        protocol, transport = self.connectDirect()
        transport.deliver(b"partial")
        RECEIVE_BUFFER[:16] = b"X" * 16
        transport.deliver(b" line\n")
        self.assertEqual(transport.value(), b"partial line\n")

    def test_endOfFileAndErrors(self) -> None:
        """
        As Twisted's C{doRead}: EOF is C{CONNECTION_DONE}, a failed read
        C{CONNECTION_LOST}, and a socket with nothing to read after all
        nothing.
        """
        protocol, transport = self.connectDirect()
        self.assertIsNone(protocol.socketReadable())
        transport.socket.fail(ConnectionResetError(errno.ECONNRESET, "reset"))
        self.assertIs(protocol.socketReadable(), CONNECTION_LOST)
        transport.socket.end()
        self.assertIs(protocol.socketReadable(), CONNECTION_DONE)

    def test_overlongLineAcrossDirectReads(self) -> None:
        """
        A line over the limit, arriving in reads each within it, gets the
        C{ERROR} line after the complete lines before it.
        """
        protocol, transport = self.connectDirect(LineConfig(max_line_length=10))
        transport.deliver(b"ok\n" + b"x" * 8)
        transport.deliver(b"x" * 8)
        self.assertEqual(
            transport.value(),
            b"ok\nERROR line too long: the limit is 10 bytes (max_line_length);"
            b" closing\n",
        )
        self.assertTrue(transport.writeDisconnected)
        before = transport.value()
        transport.deliver(b"still sending\n")
        self.assertEqual(transport.value(), before)

    def test_overlongLineCompletedByADirectRead(self) -> None:
        """
        A partial line that the read bringing its newline takes over the
        limit gets the C{ERROR} line; the lines after it are not echoed.
        """
        protocol, transport = self.connectDirect(LineConfig(max_line_length=10))
        transport.deliver(b"ok\n" + b"x" * 8)
        transport.deliver(b"xxx\nlater\n")
        self.assertEqual(
            transport.value(),
            b"ok\nERROR line too long: the limit is 10 bytes (max_line_length);"
            b" closing\n",
        )

    def test_partialLinesJoinedOnce(self) -> None:
        """
        A long line arriving in several reads goes out once, whole, in one
        write, when its newline arrives.
        """
        protocol, transport = self.connectDirect()
        writes: list[bytes] = []
        transport.write = writes.append  # type: ignore[method-assign]
        for piece in (b"a" * 20000, b"b" * 20000, b"c" * 20000 + b"\nd"):
            transport.deliver(piece)
        self.assertEqual(writes, [b"a" * 20000 + b"b" * 20000 + b"c" * 20000 + b"\n"])
        self.assertEqual(counts(protocol), (60002, 60001, 1))

    def test_readLongerThanTheLimit(self) -> None:
        """
        A read longer than the limit, which may hold an over-long line, is
        checked line by line.
        """
        protocol, transport = self.connectDirect(LineConfig(max_line_length=10))
        transport.deliver(b"short\n" + b"y" * 12 + b"\nlate\n")
        self.assertEqual(
            transport.value(),
            b"short\nERROR line too long: the limit is 10 bytes (max_line_length);"
            b" closing\n",
        )

    @settings(max_examples=300, deadline=None)
    @given(
        data=st.binary(max_size=3000),
        cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=30),
        direct=st.lists(st.booleans(), min_size=31, max_size=31),
        limit=st.sampled_from([64, 700, 4096]),
    )
    def test_anyMixOfPathsEchoesAsDataReceived(
        self, data: bytes, cuts: list[int], direct: list[bool], limit: int
    ) -> None:
        """
        Any bytes, cut anywhere, delivered by any mix of direct reads and
        C{dataReceived}, give the same bytes, counts and close as
        C{dataReceived} alone; then so does a half-close.
        """
        config = LineConfig(max_line_length=limit)
        protocol, transport = self.connectDirect(config)
        reference, referenceTransport, _, _ = connect(config, HalfCloseTransport())
        points = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
        for i, (start, end) in enumerate(zip(points, points[1:], strict=False)):
            if direct[i]:
                transport.deliver(data[start:end])
            else:
                protocol.dataReceived(data[start:end])
            reference.dataReceived(data[start:end])
            self.assertEqual(transport.value(), referenceTransport.value())
        protocol.readConnectionLost()
        reference.readConnectionLost()
        self.assertEqual(transport.value(), referenceTransport.value())
        self.assertEqual(counts(protocol), counts(reference))
        self.assertEqual(transport.disconnecting, referenceTransport.disconnecting)


class FindOverlongLineTests(SynchronousTestCase):
    """
    L{findOverlongLine} finds the first line over the limit.
    """

    @settings(max_examples=500, deadline=None)
    @given(
        lines=st.lists(
            st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=20
        ),
        limit=st.integers(min_value=1, max_value=30),
    )
    def test_matchesLineByLineScan(self, lines: list[bytes], limit: int) -> None:
        """
        The windowed search agrees with a line-by-line scan for any lines and
        any limit.
        """
        data = b"".join(line + b"\n" for line in lines)
        self.assertEqual(findOverlongLine(data, limit), naiveOverlong(data, limit))

    def test_atLimit(self) -> None:
        """
        Lines of exactly the limit are fine; one byte more is not.
        """
        self.assertEqual(findOverlongLine(b"abc\nabc\n", 3), -1)
        self.assertEqual(findOverlongLine(b"abc\nabcd\n", 3), 4)


class CountLinesTests(SynchronousTestCase):
    """
    L{countLines} counts newlines exactly, whichever way it takes.
    """

    @settings(max_examples=300, deadline=None)
    @given(
        lines=st.lists(st.integers(min_value=0, max_value=600), max_size=40),
        tail=st.integers(min_value=0, max_value=5),
    )
    def test_matchesCount(self, lines: list[int], tail: int) -> None:
        """
        For any number of lines of any lengths (fewer and more than
        L{COUNT_BY_FIND}), with or without a tail, the count is
        C{bytes.count}'s.
        """
        data = b"".join(b"x" * n + b"\n" for n in lines) + b"y" * tail
        self.assertEqual(countLines(data), data.count(b"\n"))
        self.assertEqual(countLines(data), len(lines))

    def test_boundary(self) -> None:
        """
        Exactly L{COUNT_BY_FIND} newlines, and one more, are counted.
        """
        pad = b"x" * COUNT_BY_SCAN
        for n in (COUNT_BY_FIND - 1, COUNT_BY_FIND, COUNT_BY_FIND + 1):
            self.assertEqual(countLines(b"a\n" * n), n)
            self.assertEqual(countLines(pad + b"a\n" * n), n)
            self.assertEqual(countLines(b"a\n" * n + pad), n)


class TLSFailureLogTests(SynchronousTestCase):
    """
    A TLS failure on a line connection is in its access line in OpenSSL's
    words, and not logged again (the TLS layer logs it, once).
    """

    def test_readableReason(self) -> None:
        """
        The access line names OpenSSL's reason, not the raw list of
        C{(library, function, reason)} tuples; no warning is added.
        """
        protocol, _, _, _ = connect()
        events: list[dict[str, object]] = []
        access = protocol.factory.access
        access.log = access.warnings.log = Logger(observer=events.append)
        error = SSL.Error([("SSL routines", "", "wrong version number")])
        protocol.connectionLost(Failure(error))
        [line] = [formatEvent(e) for e in events]
        self.assertIn("line access: ", line)
        self.assertTrue(line.endswith(", TLS failure: wrong version number"), line)
