"""
Tests for L{echohub._net}: how addresses are shown and counted, how an
OpenSSL error reads, how a timer is cancelled.
"""

from __future__ import annotations

from OpenSSL import SSL
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from echohub._net import cancelCall, formatAddress, openSSLReason, peerHost


class FormatAddressTests(SynchronousTestCase):
    """
    L{formatAddress} shows an address as an operator types it.
    """

    def test_ip(self) -> None:
        """
        IPv4 as C{host:port}, IPv6 in brackets.
        """
        self.assertEqual(
            formatAddress(IPv4Address("TCP", "127.0.0.1", 7)), "127.0.0.1:7"
        )
        self.assertEqual(formatAddress(IPv6Address("TCP", "::1", 7)), "[::1]:7")

    def test_unix(self) -> None:
        """
        A UNIX socket by its path (bytes decoded); an unnamed one by repr.
        """
        self.assertEqual(formatAddress(UNIXAddress(b"/run/e.sock")), "/run/e.sock")
        self.assertEqual(formatAddress(UNIXAddress(None)), str(UNIXAddress(None)))


class PeerHostTests(SynchronousTestCase):
    """
    L{peerHost} is the key the per-peer cap counts by.
    """

    def test_keys(self) -> None:
        """
        The host of an IP address, whatever the port; one key for every UNIX
        peer.
        """
        self.assertEqual(
            peerHost(IPv4Address("TCP", "192.0.2.1", 1)),
            peerHost(IPv4Address("TCP", "192.0.2.1", 2)),
        )
        self.assertEqual(peerHost(IPv6Address("TCP", "::1", 1)), "::1")
        self.assertEqual(peerHost(UNIXAddress(b"/a")), peerHost(UNIXAddress(b"/b")))


class OpenSSLReasonTests(SynchronousTestCase):
    """
    L{openSSLReason} keeps OpenSSL's reasons only.
    """

    def test_reasons(self) -> None:
        """
        The reasons of every entry, joined; an error without the list falls
        back to its text, then to its type.
        """
        error = SSL.Error(
            [("SSL routines", "", "wrong version number"), ("x", "y", "z")]
        )
        self.assertEqual(openSSLReason(error), "wrong version number; z")
        self.assertEqual(openSSLReason(SSL.Error("plain")), "plain")
        self.assertEqual(openSSLReason(SSL.Error()), "Error")


class CancelCallTests(SynchronousTestCase):
    """
    L{cancelCall} cancels a pending call and ignores any other.
    """

    def test_pending(self) -> None:
        """
        A pending call is cancelled and never runs.
        """
        clock = Clock()
        ran: list[bool] = []
        call = clock.callLater(1, ran.append, True)
        cancelCall(call)
        clock.advance(2)
        self.assertEqual((ran, call.active(), call.cancelled), ([], False, 1))

    def test_doneOrNone(self) -> None:
        """
        L{None}, a call that ran and one already cancelled are no error.
        """
        clock = Clock()
        ran = clock.callLater(0, lambda: None)
        clock.advance(0)
        cancelled = clock.callLater(1, lambda: None)
        cancelled.cancel()
        for call in (None, ran, cancelled):
            cancelCall(call)
