# -*- test-case-name: tests.ops.test_notify -*-
"""
The systemd notification protocol (C{sd_notify}), for C{Type=notify} units.

Twisted has no C{sd_notify}, and the protocol is a single datagram, so this is
the standard library: one C{AF_UNIX} datagram of C{KEY=VALUE} lines to the
socket named by C{$NOTIFY_SOCKET}, where a leading C{@} names Linux's
abstract namespace.  systemd's own variable is read here, where it is used,
as Twisted reads C{$LISTEN_FDS} in its C{systemd:} endpoint: it is not an
echohub setting.

echohub sends C{READY=1} once every listener is bound (so C{systemctl start}
returns only when echohub serves), C{STOPPING=1} when it starts to drain,
and C{STATUS=} lines an operator sees in C{systemctl status}.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

from twisted.logger import Logger

NOTIFY_SOCKET = "NOTIFY_SOCKET"


class Notifier:
    """
    Send notifications to the service manager, if there is one.

    Without C{$NOTIFY_SOCKET} (not under systemd, or C{Type=} other than
    C{notify}) every call does nothing, so echohub runs the same everywhere.

    @ivar address: the socket address to send to, or L{None}.
    """

    log = Logger()

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        """
        @param environ: where to find C{$NOTIFY_SOCKET}; L{os.environ} by
            default.
        """
        path = (os.environ if environ is None else environ).get(NOTIFY_SOCKET, "")
        self.address: str | None = None
        if path.startswith("@"):
            self.address = "\0" + path[1:]
        elif path.startswith("/"):
            self.address = path

    def notify(self, **fields: str) -> bool:
        """
        Send one notification, e.g. C{notify(READY="1", STATUS="serving")}.

        A failure is logged, never raised: the service manager going away
        must not take echohub down with it.

        @return: whether a datagram was sent.
        """
        if self.address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items())
        try:
            with socket.socket(
                socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
            ) as s:
                s.sendto(message.encode("utf-8"), self.address)
        except OSError as e:
            self.log.warn(
                "cannot notify systemd at {address!r}: {error}",
                address=self.address,
                error=e,
            )
            return False
        return True

    def ready(self, status: str) -> bool:
        """
        Tell systemd that the service is up.
        """
        return self.notify(READY="1", STATUS=status)

    def stopping(self, status: str) -> bool:
        """
        Tell systemd that the service is stopping (draining).
        """
        return self.notify(STOPPING="1", STATUS=status)
