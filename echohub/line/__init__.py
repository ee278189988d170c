# -*- test-case-name: tests.line -*-
"""
The line echo: every complete line comes back byte for byte, with
half-close, backpressure, a line-length limit and deadlines; and
C{echohub-client}, which talks to it (and to any TLS echo) after verifying
the server.
"""

from echohub.line._client import main as clientMain
from echohub.line._protocol import LineEcho, LineEchoFactory

__all__ = ["LineEcho", "LineEchoFactory", "clientMain"]
