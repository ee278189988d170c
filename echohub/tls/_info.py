# -*- test-case-name: tests.tls.test_info -*-
"""
The TLS info service: a port that answers every connection with one JSON
line describing that connection's TLS session, then closes.

It is how a line client asks about its TLS connection without polluting the
echo: configure an info listener with the same TLS options as the line
listener (C{[tls] info_listen}), connect to it with the same client
settings, and read one line::

    {"tls": {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", ...}}

(C{{"tls": null}} on a listener without TLS).  Nothing the client sends is
read.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.interfaces import IAddress, IHandshakeListener, ISSLTransport
from twisted.internet.protocol import Protocol, ServerFactory
from zope.interface import implementer

from echohub.tls._facts import tlsFacts


def factsDocument(transport: object) -> bytes:
    """
    The JSON document that describes C{transport}'s TLS session, as served
    by the info service and by the web service's C{/tls}.
    """
    return json.dumps({"tls": tlsFacts(transport)}, sort_keys=True).encode("utf-8")


@implementer(IHandshakeListener)
class TLSInfo(Protocol):
    """
    Send the facts once the handshake is done (at once without TLS), then
    close.
    """

    transport: Any

    def connectionMade(self) -> None:
        if not ISSLTransport.providedBy(self.transport):
            self._answer()

    def handshakeCompleted(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.transport.write(factsDocument(self.transport) + b"\n")
        self.transport.loseConnection()


class TLSInfoFactory(ServerFactory[TLSInfo]):
    """
    Build L{TLSInfo} protocols.
    """

    def buildProtocol(self, addr: IAddress | None) -> TLSInfo:
        protocol = TLSInfo()
        protocol.factory = self
        return protocol
