"""
Tests for L{echohub.faults._shell}, and the faults of the TCP echoes
(L{echohub.line}) in memory: the pump's timers, the faulted transport's
write and read paths, the reset, and the line echo's C{FAULT} line.
"""

from __future__ import annotations

import socket
import struct
from random import Random

from prometheus_client import generate_latest
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import EchoConfig, LineConfig
from echohub.faults import (
    READ_HOLD,
    FaultBounds,
    FaultedTransport,
    FaultPolicy,
    Step,
    parseFault,
    resetConnection,
)
from echohub.line import ByteEchoFactory, LineEchoFactory
from echohub.ops import ConnectionCaps, ConnectionRegistry, Metrics, ServiceAccess
from echohub.testing import HalfCloseTransport

PEER = IPv4Address("TCP", "127.0.0.1", 40000)


def faulted(
    text: str,
) -> tuple[FaultedTransport, HalfCloseTransport, Clock, list[Step]]:
    """
    A faulted transport over a L{HalfCloseTransport}, on a clock.
    """
    clock = Clock()
    inner = HalfCloseTransport(peerAddress=PEER)
    ends: list[Step] = []
    transport = FaultedTransport(inner, parseFault(text), clock, ends.append, Random(0))
    transport.registerProducer(transport, True)
    transport.start()
    return transport, inner, clock, ends


class FaultedTransportTests(SynchronousTestCase):
    """
    The write path runs on the schedule's time; the read path stops when
    the fault or the delayed output says so.
    """

    def test_latency(self) -> None:
        """
        Writes go out after the latency, not before.
        """
        transport, inner, clock, _ = faulted("latency=200")
        transport.write(b"hello\n")
        clock.advance(0.199)
        self.assertEqual(inner.value(), b"")
        clock.advance(0.002)
        self.assertEqual(inner.value(), b"hello\n")
        self.assertEqual(transport.sent, 6)

    def test_delegates(self) -> None:
        """
        Everything but the write and read paths is the wrapped transport's,
        interfaces included.
        """
        transport, inner, _, _ = faulted("latency=1")
        self.assertEqual(transport.getPeer(), PEER)
        from twisted.internet.interfaces import ITransport

        self.assertTrue(ITransport.providedBy(transport))

    def test_heldOutputStopsReading(self) -> None:
        """
        Once more than L{READ_HOLD} bytes wait, reading stops until they go.
        """
        transport, inner, clock, _ = faulted("latency=100")
        transport.write(b"x" * (READ_HOLD + 1))
        self.assertEqual(inner.producerState, "paused")
        clock.advance(0.1)
        self.assertEqual(inner.producerState, "producing")

    def test_backpressureStillPauses(self) -> None:
        """
        The transport's own backpressure pauses reading through the wrapper.
        """
        transport, inner, _, _ = faulted("latency=1")
        inner.producer.pauseProducing()
        self.assertEqual(inner.producerState, "paused")
        inner.producer.resumeProducing()
        self.assertEqual(inner.producerState, "producing")

    def test_refuseRead(self) -> None:
        """
        refuse_read stops reading for its timeout, then reads again; 0
        refuses for good.
        """
        _, inner, clock, _ = faulted("refuse_read=300")
        self.assertEqual(inner.producerState, "paused")
        clock.advance(0.3)
        self.assertEqual(inner.producerState, "producing")
        _, inner, clock, _ = faulted("refuse_read")
        clock.advance(100)
        self.assertEqual(inner.producerState, "paused")

    def test_slowClose(self) -> None:
        """
        A close waits for what is queued, then slow_close's delay.
        """
        transport, inner, clock, _ = faulted("latency=100,slow_close=500")
        transport.write(b"bye")
        transport.loseConnection()
        clock.advance(0.1)
        self.assertEqual(inner.value(), b"bye")
        self.assertFalse(inner.disconnecting)
        clock.advance(0.499)
        self.assertFalse(inner.disconnecting)
        clock.advance(0.002)
        self.assertTrue(inner.disconnecting)

    def test_limitDataEnds(self) -> None:
        """
        The fault's end is reported once, after the bytes before it.
        """
        transport, inner, clock, ends = faulted("limit_data=4")
        transport.write(b"abcdef")
        clock.advance(0)
        self.assertEqual(inner.value(), b"abcd")
        self.assertEqual([(s.action, s.cause) for s in ends], [("close", "limit_data")])
        transport.write(b"more")
        clock.advance(1)
        self.assertEqual(inner.value(), b"abcd")

    def test_resetAfter(self) -> None:
        """
        reset_after resets the connection under the transport after its
        bytes.
        """
        transport, inner, clock, ends = faulted("reset_after=2")
        transport.write(b"abc")
        clock.advance(0)
        self.assertEqual(inner.value(), b"ab")
        self.assertTrue(inner.aborted)
        self.assertEqual(ends[0].action, "reset")


class ResetTests(SynchronousTestCase):
    """
    L{resetConnection} sets C{SO_LINGER} 0 on the socket under any wrapper.
    """

    def test_lingerZero(self) -> None:
        """
        The innermost socket gets C{SO_LINGER} on with 0 seconds, and its
        transport is aborted.
        """
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)

        class Inner:
            aborted = False

            def getHandle(self) -> socket.socket:
                return a

            def abortConnection(self) -> None:
                self.aborted = True

        class Wrapper:
            transport = Inner()

            def getHandle(self) -> object:
                return "an SSL connection, say"

            def abortConnection(self) -> None:
                raise AssertionError("the wrapper is not the one aborted")

        wrapper = Wrapper()
        resetConnection(wrapper)
        self.assertTrue(wrapper.transport.aborted)
        self.assertEqual(
            struct.unpack("ii", a.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8)),
            (1, 0),
        )


def lineConnection(
    policy: FaultPolicy | None, metrics: Metrics | None = None
) -> tuple[object, HalfCloseTransport, Clock]:
    clock = Clock()
    access = ServiceAccess("line", ConnectionCaps(0, 0), clock, metrics)
    factory = LineEchoFactory(
        LineConfig(), clock, ConnectionRegistry(), access, "line", policy
    )
    protocol = factory.buildProtocol(PEER)
    transport = HalfCloseTransport(peerAddress=PEER)
    transport.protocol = protocol
    protocol.makeConnection(transport)
    return protocol, transport, clock


class FaultLineTests(SynchronousTestCase):
    """
    A line echo's first line C{FAULT ...} on a C{faults=client} listener is
    consumed and applied; anywhere else it is an ordinary line.
    """

    def test_consumedAndApplied(self) -> None:
        """
        The FAULT line is never echoed; the lines after it are, under the
        fault, even when the FAULT line arrives in pieces.
        """
        metrics = Metrics(processStats=False)
        protocol, transport, clock = lineConnection(FaultPolicy(client=True), metrics)
        protocol.dataReceived(b"FAU")  # type: ignore[attr-defined]
        protocol.dataReceived(b"LT latency=50ms\nhel")  # type: ignore[attr-defined]
        protocol.dataReceived(b"lo\n")  # type: ignore[attr-defined]
        self.assertEqual(transport.value(), b"")
        clock.advance(0.05)
        self.assertEqual(transport.value(), b"hello\n")
        exposition = generate_latest(metrics.registry).decode()
        self.assertIn(
            'echohub_faults_total{kind="latency",service="line"} 1.0', exposition
        )

    def test_otherFirstLineEchoed(self) -> None:
        """
        A first line that is not a FAULT line is echoed, and a later FAULT
        line is just a line.
        """
        protocol, transport, clock = lineConnection(FaultPolicy(client=True))
        protocol.dataReceived(b"FAULTY\nFAULT latency=10\n")  # type: ignore[attr-defined]
        self.assertEqual(transport.value(), b"FAULTY\nFAULT latency=10\n")

    def test_notAllowed(self) -> None:
        """
        Without faults=client a FAULT line is echoed like any other.
        """
        protocol, transport, clock = lineConnection(
            FaultPolicy(parseFault("limit_data=1000"))
        )
        protocol.dataReceived(b"FAULT latency=10\n")  # type: ignore[attr-defined]
        clock.advance(0)
        self.assertEqual(transport.value(), b"FAULT latency=10\n")
        protocol, transport, _ = lineConnection(None)
        protocol.dataReceived(b"FAULT latency=10\n")  # type: ignore[attr-defined]
        self.assertEqual(transport.value(), b"FAULT latency=10\n")

    def test_badFaultLine(self) -> None:
        """
        A FAULT line out of bounds gets one ERROR line and a lingering
        close.
        """
        protocol, transport, _ = lineConnection(
            FaultPolicy(client=True, bounds=FaultBounds(maxDelay=1))
        )
        protocol.dataReceived(b"FAULT latency=5s\nhello\n")  # type: ignore[attr-defined]
        self.assertEqual(
            transport.value(),
            b"ERROR fault: latency: latency=5000ms is over this listener's 1 s;"
            b" closing\n",
        )
        self.assertTrue(transport.writeDisconnected)

    def test_listenerFaultOnByteEcho(self) -> None:
        """
        The byte echo takes its listener's fault, and a limit_data close
        lingers (a FIN after the bytes, not a reset).
        """
        clock = Clock()
        factory = ByteEchoFactory(
            EchoConfig(), clock, faults=FaultPolicy(parseFault("limit_data=3"))
        )
        protocol = factory.buildProtocol(PEER)
        transport = HalfCloseTransport(peerAddress=PEER)
        transport.protocol = protocol
        protocol.makeConnection(transport)
        protocol.dataReceived(b"FAULT abc")
        clock.advance(0)
        self.assertEqual(transport.value(), b"FAU")
        self.assertTrue(transport.writeDisconnected)


class RefusedWithTheFaultLineTests(SynchronousTestCase):
    """
    Lines read with a FAULT line asking to refuse reading wait with the
    rest.
    """

    def test_heldUntilReading(self) -> None:
        """
        The line that came in the same read as C{FAULT refuse_read=200} is
        echoed only once the refusal ends.
        """
        protocol, transport, clock = lineConnection(FaultPolicy(client=True))
        protocol.dataReceived(b"FAULT refuse_read=200\nlater\n")  # type: ignore[attr-defined]
        clock.advance(0.1)
        self.assertEqual(transport.value(), b"")
        self.assertEqual(transport.producerState, "paused")
        clock.advance(0.1)
        clock.advance(0)
        self.assertEqual(transport.value(), b"later\n")
