# -*- test-case-name: tests.line.test_bytes -*-
"""
The byte echo of RFC 862 over TCP: every byte comes back as it arrives, in
order, whatever it is.

The line echo needs a C{\\n} before anything comes back; a binary protocol,
a TLS-in-TLS test or any client that does not speak lines gets nothing from
it.  L{ByteEcho} writes each read back with one write, at once.

Everything else, pinned by C{tests/line/test_bytes.py}, is the connection
life every echohub TCP echo shares (L{echohub.line._base.EchoConnection}):
half-close echoes everything, then EOF; backpressure bounds what a client
that never reads costs; idle and close timeouts; caps, drain, the access
log line and metrics.  A client refused by the caps is closed without a
byte: an echo must not send what it did not receive.
"""

from __future__ import annotations

from echohub.config import EchoConfig
from echohub.line._base import EchoConnection, EchoFactory
from echohub.ops import RECEIVE_VIEW, fastWrite


class ByteEcho(EchoConnection):
    """
    Echo every byte received, as it arrives.
    """

    factory: ByteEchoFactory

    def dataReceived(self, data: bytes | memoryview) -> None:
        """
        Write C{data} back at once, counted for the access log and metrics.
        """
        if self._closing:
            return
        size = len(data)
        self.bytesIn += size
        self.bytesOut += size
        self._lastInput = self._seconds()
        fastWrite(self.transport, data)

    def bufferReceived(self, size: int) -> None:
        """
        Write the bytes read into L{RECEIVE_BUFFER} back from there: only
        what the kernel does not take at once is copied.
        """
        self.dataReceived(RECEIVE_VIEW[:size])


class ByteEchoFactory(EchoFactory[ByteEcho]):
    """
    Build L{ByteEcho} protocols sharing one L{EchoConfig}.
    """

    service = "echo"
    connectionClass = ByteEcho
    config: EchoConfig
