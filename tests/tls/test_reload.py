"""
Tests for L{echohub.tls._reload}: SIGHUP reloads every TLS listener.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

from twisted.application.service import MultiService
from twisted.internet.protocol import Factory
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from echohub.endpoints import parseListener
from echohub.ops._listeners import ListeningService
from echohub.testing import temporaryDirectory
from echohub.tls._devcert import ensureDevCertificates
from echohub.tls._reload import TLSReloadService


class ThreadCalls:
    """
    A reactor's C{callFromThread} that only records.
    """

    def __init__(self) -> None:
        self.calls: list[Callable[[], object]] = []

    def callFromThread(self, f: Callable[[], object]) -> None:
        self.calls.append(f)


class TLSReloadServiceTests(SynchronousTestCase):
    """
    L{TLSReloadService} finds the TLS listeners of its parent and reloads
    them on its signal.
    """

    def setUp(self) -> None:
        certs = ensureDevCertificates(str(temporaryDirectory(self) / "1"))
        self.key = Path(certs.server.privateKey.path)
        cert = certs.server.certificate.path
        self.parent = MultiService()
        reactor = MemoryReactorClock()
        for description in [
            f"ssl:7443:privateKey={self.key}:certKey={cert}",
            f"tcp:8443:privateKey={self.key}:certKey={cert}",
            "tcp:7007",
        ]:
            ListeningService(
                "line",
                description,
                parseListener(reactor, description).endpoint,
                Factory(),
            ).setServiceParent(self.parent)
        self.reactor = ThreadCalls()
        self.service = TLSReloadService(self.reactor)  # type: ignore[arg-type]
        self.service.setServiceParent(self.parent)

    def test_findsTLSListeners(self) -> None:
        """
        Every listener with echohub's TLS is found, whatever its string;
        plain ones are not.
        """
        found = [description for description, _ in self.service.listeners()]
        self.assertEqual([d.split(":")[0] for d in found], ["ssl", "tcp"])

    def test_reloadCountsRefusals(self) -> None:
        """
        L{TLSReloadService.reload} reloads each listener and counts those
        whose files are now unusable.
        """
        self.assertEqual(self.service.reload(), 0)
        self.key.write_bytes(b"garbage")
        self.assertEqual(self.service.reload(), 2)

    def test_signalSchedulesReload(self) -> None:
        """
        While running, the signal schedules a reload in the reactor thread;
        once stopped, the previous handler is back.
        """
        previous = signal.getsignal(signal.SIGHUP)
        self.service.startService()
        self.addCleanup(signal.signal, signal.SIGHUP, previous)
        os.kill(os.getpid(), signal.SIGHUP)
        self.assertEqual(self.reactor.calls, [self.service.reload])
        self.service.stopService()
        self.assertEqual(signal.getsignal(signal.SIGHUP), previous)
