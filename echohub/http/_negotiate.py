# -*- test-case-name: tests.http.test_negotiate -*-
"""
Which HTTP a web connection speaks: L{NegotiatingFactory}, the factory a
web listener serves, builds a L{ProtocolSelector} per connection, which
hands the connection to the site's HTTP/1.1 channel or to an
L{H2Connection}:

    - over TLS, by ALPN: the factory offers C{h2} then C{http/1.1}
      (L{echohub.tls} picks from what L{NegotiatingFactory.acceptableProtocols}
      lists), and the choice is made when the handshake completes; a
      client that offers no ALPN speaks HTTP/1.1;
    - in the clear, by the first bytes: a connection that starts with the
      HTTP/2 client preface is HTTP/2 with prior knowledge (h2c; there is
      no C{Upgrade: h2c}), any other is HTTP/1.1 from its first byte that
      differs from the preface.

C{[web] http2} and C{[web] h2c} turn either off; then every connection of
that kind is HTTP/1.1 from the start.
"""

from __future__ import annotations

from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IHalfCloseableProtocol,
    IHandshakeListener,
    INegotiated,
    IProtocolNegotiationFactory,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure
from zope.interface import alsoProvides, implementer

from echohub.config import WebConfig
from echohub.http._h2 import H2Connection
from echohub.http._h2checks import PREFACE
from echohub.http._site import HTTPSite

PEEK_TIMEOUT = 1.0
"""
Seconds a plain connection has to send its first byte before it is handed
to HTTP/1.1: HTTP/2 clients with prior knowledge send the preface at once.
"""


@implementer(IProtocolNegotiationFactory)
class NegotiatingFactory(Factory):
    """
    Serve C{site} over HTTP/1.1 and HTTP/2.

    @ivar site: the site every connection serves.
    @ivar wrappedFactory: the site too, for code that looks through wrapping
        factories for the service's C{access} (the PROXY protocol's).
    @ivar http2: offer C{h2} over ALPN.
    @ivar h2c: accept HTTP/2 with prior knowledge in the clear.
    @ivar maxConcurrentStreams: each HTTP/2 connection's stream limit.
    """

    def __init__(
        self,
        site: HTTPSite,
        http2: bool = True,
        h2c: bool = True,
        maxConcurrentStreams: int = 100,
    ) -> None:
        self.site = self.wrappedFactory = site
        self.access = site.access
        self.http2 = http2
        self.h2c = h2c
        self.maxConcurrentStreams = maxConcurrentStreams

    def startFactory(self) -> None:
        self.site.doStart()

    def stopFactory(self) -> None:
        self.site.doStop()

    def acceptableProtocols(self) -> list[bytes]:
        """
        The ALPN protocols, most preferred first.
        """
        return [b"h2", b"http/1.1"] if self.http2 else [b"http/1.1"]

    def buildProtocol(self, addr: IAddress | None) -> ProtocolSelector:
        return ProtocolSelector(self, addr)

    def buildHTTP2(self) -> H2Connection:
        return H2Connection(self.site, self.maxConcurrentStreams)


@implementer(IHandshakeListener)
class ProtocolSelector(Protocol):
    """
    Wait until the connection's HTTP version is known (see the module
    docstring), then hand the transport to that version's protocol and
    pass every event on to it.

    A connection in the clear that says nothing for L{PEEK_TIMEOUT}
    seconds, or only a prefix of the preface for C{header_timeout} seconds,
    is handed to HTTP/1.1, whose own deadlines then apply: a silent client
    gets HTTP/1.1's C{408} at most L{PEEK_TIMEOUT} seconds later than it
    would without h2c.

    @ivar chosen: the protocol the connection was handed to, once chosen.
    """

    chosen: Protocol | None = None
    _received = b""
    _deadline: IDelayedCall | None = None

    def __init__(self, factory: NegotiatingFactory, addr: IAddress | None) -> None:
        self.factory = factory
        self._addr = addr

    def connectionMade(self) -> None:
        """
        Over TLS wait for the handshake; in the clear wait for the first
        bytes if h2c is on; otherwise choose HTTP/1.1 now.
        """
        if INegotiated.providedBy(self.transport):
            return
        if not self.factory.h2c:
            self._choose(self.factory.site.buildHTTP1Channel(self._addr))
            return
        timeout = self.factory.site.limits.headerTimeout
        if timeout is None or timeout > PEEK_TIMEOUT:
            timeout = PEEK_TIMEOUT
        self._deadline = self.factory.site.reactor.callLater(timeout, self._timedOut)

    def handshakeCompleted(self) -> None:
        """
        The TLS handshake is done: ALPN has chosen.
        """
        negotiated = INegotiated(self.transport).negotiatedProtocol
        if negotiated == b"h2" and self.factory.http2:
            self._choose(self.factory.buildHTTP2())
        else:
            self._choose(self.factory.site.buildHTTP1Channel(self._addr))

    def dataReceived(self, data: bytes) -> None:
        if self.chosen is not None:
            self.chosen.dataReceived(data)
            return
        received = self._received + data
        if received.startswith(PREFACE):
            self._choose(self.factory.buildHTTP2(), received)
        elif PREFACE.startswith(received):
            if not self._received and self._deadline is not None:
                # Part of a preface: the client has spoken, and has the
                # header deadline to finish it.
                remaining = self.factory.site.limits.headerTimeout
                if remaining is not None and remaining > PEEK_TIMEOUT:
                    self._deadline.delay(remaining - PEEK_TIMEOUT)
            self._received = received
        else:
            self._choose(self.factory.site.buildHTTP1Channel(self._addr), received)

    def _timedOut(self) -> None:
        self._deadline = None
        self._choose(self.factory.site.buildHTTP1Channel(self._addr), self._received)

    def _choose(self, protocol: Protocol, received: bytes = b"") -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None
        self._received = b""
        self.chosen = protocol
        if IHalfCloseableProtocol.providedBy(protocol):
            alsoProvides(self, IHalfCloseableProtocol)
        protocol.makeConnection(self.transport)
        if received:
            protocol.dataReceived(received)

    def readConnectionLost(self) -> None:
        IHalfCloseableProtocol(self.chosen).readConnectionLost()

    def writeConnectionLost(self) -> None:
        IHalfCloseableProtocol(self.chosen).writeConnectionLost()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        if self.chosen is not None:
            self.chosen.connectionLost(reason)


def negotiate(site: HTTPSite, config: WebConfig) -> NegotiatingFactory:
    """
    The factory a web listener serves: C{site} over HTTP/1.1 and, as
    C{config} allows, HTTP/2.
    """
    return NegotiatingFactory(
        site, config.http2, config.h2c, config.max_concurrent_streams
    )
