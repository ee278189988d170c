"""
Tests for L{echohub.ops._notify}: the sd_notify datagrams.
"""

from __future__ import annotations

import os
import socket
import tempfile

from twisted.trial.unittest import SynchronousTestCase

from echohub.ops._notify import Notifier


class NotifierTests(SynchronousTestCase):
    """
    L{Notifier} sends C{KEY=VALUE} datagrams to C{$NOTIFY_SOCKET}.
    """

    def listen(self, address: str) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(address)
        sock.settimeout(5)
        self.addCleanup(sock.close)
        return sock

    def test_readyToPathSocket(self) -> None:
        """
        C{ready} sends C{READY=1} and a status to a filesystem socket.
        """
        directory = tempfile.mkdtemp()
        path = os.path.join(directory, "notify")
        sock = self.listen(path)
        self.addCleanup(os.unlink, path)
        self.assertTrue(Notifier({"NOTIFY_SOCKET": path}).ready("serving on 2"))
        self.assertEqual(sock.recv(4096), b"READY=1\nSTATUS=serving on 2")

    def test_stoppingToAbstractSocket(self) -> None:
        """
        A leading C{@} names the abstract namespace; C{stopping} sends
        C{STOPPING=1}.
        """
        name = f"echohub-test-{os.getpid()}-{id(self)}"
        sock = self.listen("\0" + name)
        self.assertTrue(Notifier({"NOTIFY_SOCKET": "@" + name}).stopping("draining"))
        self.assertEqual(sock.recv(4096), b"STOPPING=1\nSTATUS=draining")

    def test_noSocketDoesNothing(self) -> None:
        """
        Without C{$NOTIFY_SOCKET} (not under systemd) nothing is sent.
        """
        self.assertFalse(Notifier({}).ready("x"))

    def test_deadSocketIsLoggedNotRaised(self) -> None:
        """
        A socket nobody listens on is a logged warning, not an exception.
        """
        notifier = Notifier({"NOTIFY_SOCKET": "/nonexistent/notify"})
        self.assertFalse(notifier.ready("x"))
