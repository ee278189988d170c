"""
Tests for L{echohub.ops._linger}: a lingering close shuts the write side,
discards what the client still sends, and closes within its bounds.
"""

from __future__ import annotations

from twisted.internet.interfaces import ISSLTransport
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import directlyProvides

from echohub.ops import Lingering, lingeringClose
from echohub.testing import HalfCloseTransport


class LingeringCloseTests(SynchronousTestCase):
    """
    L{Lingering.close} and L{lingeringClose} over in-memory transports.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.transport = HalfCloseTransport()
        self.transport.registerProducer(self.transport, True)
        self.transport.pauseProducing()
        self.transport.write(b"last words\n")

    def test_shutsWriteSideAndReadsAgain(self) -> None:
        """
        Starting unregisters the producer (a paused one would hold the close
        back), resumes reading, and shuts down only the write side, after
        the last words.
        """
        linger = lingeringClose(self.transport, self.clock, total=30, idle=5)
        self.assertIsNone(self.transport.producer)
        self.assertEqual(self.transport.producerState, "producing")
        self.assertTrue(self.transport.writeDisconnected)
        self.assertFalse(self.transport.disconnecting)
        self.assertEqual(self.transport.value(), b"last words\n")
        self.assertIsNone(linger.ended)

    def test_idleBound(self) -> None:
        """
        Input restarts the idle bound; silence for C{idle} seconds aborts.
        """
        linger = lingeringClose(self.transport, self.clock, total=30, idle=5)
        for _ in range(4):
            self.clock.advance(4)
            linger.discard(b"x" * 1000)
        self.assertFalse(self.transport.aborted)
        self.assertEqual(linger.discarded, 4000)
        self.clock.advance(5)
        self.assertTrue(self.transport.aborted)
        self.assertEqual(linger.ended, "lingering idle")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_totalBound(self) -> None:
        """
        A client that never stops sending is aborted C{total} seconds after
        the write side was shut, however busy.
        """
        linger = lingeringClose(self.transport, self.clock, total=30, idle=5)
        for _ in range(29):
            self.clock.advance(1)
            linger.discard(b"x")
        self.assertFalse(self.transport.aborted)
        self.clock.advance(1)
        self.assertTrue(self.transport.aborted)
        self.assertEqual(linger.ended, "lingering time")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_clientCloses(self) -> None:
        """
        The client's EOF closes the connection politely (after anything
        unsent) and stops both bounds.
        """
        linger = lingeringClose(self.transport, self.clock)
        linger.readConnectionLost()
        self.assertTrue(self.transport.disconnecting)
        self.assertFalse(self.transport.aborted)
        self.assertEqual(linger.ended, "client closed")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_connectionLostStopsTimers(self) -> None:
        """
        A connection lost while lingering (a reset, an abort elsewhere)
        leaves no timer behind.
        """
        linger = Lingering().close(self.transport, self.clock)
        linger.connectionLost()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_tlsSendsCloseNotify(self) -> None:
        """
        On a TLS transport the write side is shut by TLS's own close
        (C{close_notify}, then reading on), never by a TCP half-close
        beneath it, which the client would see as a truncation.
        """
        transport = HalfCloseTransport()
        directlyProvides(transport, ISSLTransport)
        lingeringClose(transport, self.clock)
        self.assertTrue(transport.disconnecting)
        self.assertFalse(transport.writeDisconnected)
        self.assertEqual(len(self.clock.getDelayedCalls()), 2)

    def test_noHalfClose(self) -> None:
        """
        A transport that cannot half-close is closed the ordinary way, with
        the bounds still armed against a client that does not read.
        """
        transport = StringTransport()
        transport.registerProducer(transport, True)
        linger = lingeringClose(transport, self.clock)
        self.assertTrue(transport.disconnecting)
        self.clock.advance(5)
        self.assertEqual(linger.ended, "lingering idle")

    def test_disabled(self) -> None:
        """
        A bound of C{0} disables lingering: a plain close, no timers.
        """
        for total, idle in ((0, 5), (30, 0)):
            transport = HalfCloseTransport()
            lingeringClose(transport, self.clock, total=total, idle=idle)
            self.assertTrue(transport.disconnecting)
            self.assertFalse(transport.writeDisconnected)
            self.assertEqual(self.clock.getDelayedCalls(), [])
