# -*- test-case-name: tests.test_exports -*-
"""
echohub's TCP echoes: the line echo (every complete line comes back byte for
byte, with a line-length limit) and the RFC 862 byte echo (every byte comes
back as it arrives), sharing half-close, backpressure, deadlines, caps and
drain; and C{echohub-client}, which talks to them (and to any TLS echo)
after verifying the server, and to the UDP echo.
"""

from echohub.line._bytes import ByteEcho, ByteEchoFactory
from echohub.line._client import main as clientMain
from echohub.line._protocol import LineEcho, LineEchoFactory

__all__ = ["ByteEcho", "ByteEchoFactory", "LineEcho", "LineEchoFactory", "clientMain"]
