"""
Tests for L{echohub.ops._caps}: the global and per-peer connection caps.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from echohub.ops._caps import CAP, PEER_CAP, ConnectionCaps


class ConnectionCapsTests(SynchronousTestCase):
    """
    L{ConnectionCaps} admits up to its caps and frees places on release.
    """

    def test_perPeerCap(self) -> None:
        """
        One host gets at most C{maxPerPeer} places; another host is not
        affected; a release frees one.
        """
        caps = ConnectionCaps(0, 2)
        self.assertIsNone(caps.admit("10.0.0.1"))
        self.assertIsNone(caps.admit("10.0.0.1"))
        self.assertEqual(caps.admit("10.0.0.1"), PEER_CAP)
        self.assertIsNone(caps.admit("10.0.0.2"))
        caps.release("10.0.0.1")
        self.assertIsNone(caps.admit("10.0.0.1"))
        self.assertEqual(caps.openFrom("10.0.0.1"), 2)

    def test_globalCap(self) -> None:
        """
        The total cap applies across hosts and is reported before the
        per-peer one.
        """
        caps = ConnectionCaps(2, 1)
        self.assertIsNone(caps.admit("a"))
        self.assertIsNone(caps.admit("b"))
        self.assertEqual(caps.admit("a"), CAP)
        self.assertEqual(caps.admit("c"), CAP)
        self.assertEqual(len(caps), 2)

    def test_releaseForgetsHost(self) -> None:
        """
        A host with no connection left takes no memory: a flood from many
        addresses does not grow the table for ever.
        """
        caps = ConnectionCaps(0, 0)
        for n in range(100):
            caps.admit(f"10.0.{n}.1")
            caps.release(f"10.0.{n}.1")
        self.assertEqual(caps._byPeer, {})
        self.assertEqual(len(caps), 0)
