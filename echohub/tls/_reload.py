# -*- test-case-name: tests.tls.test_reload -*-
"""
Reloading every TLS listener's certificate and key without a restart.

C{SIGHUP} (C{systemctl reload} with C{ExecReload=kill -HUP $MAINPID})
rebuilds each listener's context from its files, through
L{echohub.tls._context.ReloadableServerContext.reload}: new handshakes get the new
certificate, established connections keep theirs, and a listener whose new
files are unusable keeps serving the old certificate, with one log line
saying why.

Certificates delivered as systemd credentials (C{LoadCredential=}) are copied
once when the unit starts and do not change while it runs, so a reload
re-reads the same files: deliver renewable certificates by path instead
(C{BindReadOnlyPaths=}), or restart the unit.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from twisted.application.service import Service
from twisted.internet.interfaces import IReactorThreads
from twisted.logger import Logger

from echohub.tls._context import ReloadableServerContext


class TLSReloadService(Service):
    """
    Reload the TLS listeners of the parent service on C{SIGHUP}.

    The signal handler only schedules L{reload} with C{callFromThread},
    which is safe from a signal handler; the reload itself runs in the
    reactor thread like any other event.
    """

    log = Logger()

    def __init__(self, reactor: IReactorThreads, signum: int = signal.SIGHUP) -> None:
        """
        @param reactor: schedules the reload.
        @param signum: the signal that asks for it.
        """
        self.reactor = reactor
        self.signum = signum
        self._previous: Any = None

    def listeners(self) -> list[tuple[str, ReloadableServerContext]]:
        """
        The endpoint string and context of each TLS listener of the parent.
        """
        found = []
        parent: Any = self.parent
        for child in parent or ():
            creator = getattr(getattr(child, "endpoint", None), "creator", None)
            if isinstance(creator, ReloadableServerContext):
                found.append((str(getattr(child, "description", child)), creator))
        return found

    def reload(self) -> int:
        """
        Reload every TLS listener; each logs one line.

        @return: how many listeners refused their new files.
        """
        return sum(
            not creator.reload(description) for description, creator in self.listeners()
        )

    def _signalled(self, signum: int, frame: FrameType | None) -> None:
        self.reactor.callFromThread(self.reload)

    def startService(self) -> None:
        """
        Install the signal handler, and say so when there is anything to
        reload.
        """
        super().startService()
        self._previous = signal.signal(self.signum, self._signalled)
        count = len(self.listeners())
        if count:
            self.log.info(
                "{signal} reloads the certificates of {count} TLS listener(s)",
                signal=signal.Signals(self.signum).name,
                count=count,
            )

    def stopService(self) -> None:
        """
        Put back the handler that was there before.
        """
        if self._previous is not None:
            signal.signal(self.signum, self._previous)
            self._previous = None
        super().stopService()
