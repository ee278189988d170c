# -*- test-case-name: tests.tls.test_protocol -*-
"""
The TLS layer of echohub's listeners: Twisted's memory-BIO TLS protocol with
three things added that an echo server needs.

    - B{Half-close.}  Twisted's L{TLSMemoryBIOProtocol} ends the whole
      connection when the peer sends C{close_notify}, so echoes still to be
      written are lost, and it hides L{IHalfCloseableProtocol} from the TCP
      transport below it, so a FIN ends everything too.
      L{TLSServerProtocol} treats the peer's C{close_notify} (or a FIN
      without one: a truncated stream whose records were each authenticated
      all the same) as the end of the peer's input only: a wrapped protocol
      that provides L{IHalfCloseableProtocol} gets C{readConnectionLost}, may
      go on writing, and when it calls C{loseConnection} its last bytes go
      out, then our C{close_notify}, then FIN.  Any other protocol gets what
      Twisted gives it, except that what it already wrote is still sent.
    - B{A handshake timeout.}  A connection whose handshake has not finished
      within C{handshakeTimeout} seconds (one that never sends a
      C{ClientHello}, say) is closed: the client reads the end of the
      stream (FIN), not a reset.  One that does not take that close within
      C{handshakeTimeout} more seconds is aborted.
    - B{One log line per failed handshake}, naming the peer and OpenSSL's
      reason; plaintext (an HTTP request, a line of text) sent to a TLS port
      is named as such.  Failures of one kind are logged at most once per
      L{FAILURE_LOG_INTERVAL} seconds, with a count of the others, so a TLS
      scanner costs a few lines.  A connection that closes without sending a
      byte (a port probe) is not logged.

And it is faster for an echo: what the application writes while one read
is delivered is encrypted in one piece at the end of it, records go out at
once when nothing is queued (L{echohub.ops.fastWrite}), and on a plain TCP
connection under C{[server] direct_dispatch} the ciphertext is read
straight into the shared receive buffer (L{echohub.ops.DirectReader}).
"""

from __future__ import annotations

from typing import Any

from OpenSSL.SSL import Error, ZeroReturnError
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IDelayedCall,
    IHalfCloseableProtocol,
    IListeningPort,
    IOpenSSLServerConnectionCreator,
    IProtocolFactory,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from zope.interface import implementer

from echohub._net import cancelCall, formatAddress, openSSLReason
from echohub._upstream import TLSProtocolHooks
from echohub.ops import RECEIVE_VIEW, DirectReader, RateLimitedLog, fastWrite

FAILURE_LOG_INTERVAL = 10.0

# OpenSSL's reasons for a first record that is not TLS at all.
_PLAINTEXT_REASONS = ("http request", "https proxy request", "wrong version number")


@implementer(IHalfCloseableProtocol)
class TLSServerProtocol(TLSProtocolHooks, DirectReader):
    """
    The server side of one TLS connection; see the module docstring.

    @ivar _readClosed: the peer will send no more application data: its
        C{close_notify} or its FIN has arrived.
    @ivar _received: whether any byte arrived, so that a probe that connects
        and closes is not logged as a failed handshake.
    @ivar _failureLogged: whether this connection's failed handshake was
        logged: one line per failure, however the connection then ends.
    """

    factory: TLSServerFactory
    transport: Any
    _readClosed = False
    _received = False
    _failureLogged = False
    _timeoutCall: IDelayedCall | None = None

    def makeConnection(self, transport: Any) -> None:
        """
        Arm the handshake timeout, then connect and start the handshake.
        """
        timeout = self.factory.handshakeTimeout
        if timeout:
            self._timeoutCall = self.tlsClock().callLater(
                timeout, self._handshakeTimedOut
            )
        super().makeConnection(transport)

    def _cancelTimeout(self) -> None:
        cancelCall(self._timeoutCall)
        self._timeoutCall = None

    def _handshakeTimedOut(self) -> None:
        timeout = self.factory.handshakeTimeout
        assert timeout is not None
        self.factory.handshakeFailed(
            self.transport.getPeer(), f"timed out after {timeout:g} s", "timeout"
        )
        # No TLS to shut down: close TCP after what is queued (a
        # ServerHello, say), and abort if even that is not taken.  The
        # failure is logged: the close must not log it again.
        self._failureLogged = True
        self._timeoutCall = self.tlsClock().callLater(
            timeout, self.transport.abortConnection
        )
        self.transport.loseConnection()

    def handshakeAdvanced(self) -> None:
        """
        Stop the timeout once the handshake is done.
        """
        if self.handshakeDone:
            self._cancelTimeout()

    def dataReceived(self, data: bytes) -> None:
        """
        Note that the peer sent something, then decrypt as usual.
        """
        self._received = True
        super().dataReceived(data)

    def bufferReceived(self, size: int) -> None:
        """
        Ciphertext was read straight into the receive buffer: hand it to
        OpenSSL, which copies it.
        """
        self.dataReceived(RECEIVE_VIEW[:size])  # type: ignore[arg-type]

    def receiveDecrypted(self) -> None:
        """
        Deliver the application data OpenSSL has decrypted, the
        application's writes meanwhile batched into one.  Unlike
        Twisted's, the peer's C{close_notify} ends only its direction
        (L{_peerFinished}).
        """
        self.batchWrites()
        try:
            while not self.tlsLost and not self._readClosed:
                try:
                    data = self.recvDecrypted(2**15)
                    if data is None:
                        break
                except ZeroReturnError:
                    self._peerFinished()
                    break
                except Error:
                    self.tlsShutdownFinished(Failure())
                else:
                    if not self.tlsAborted:
                        ProtocolWrapper.dataReceived(self, data)
        finally:
            self.flushWrites()
        self.flushSend()

    def sendCiphertext(self, data: bytes) -> None:
        """
        Send TLS records at once when the TCP transport has nothing queued.
        """
        fastWrite(self.transport, data)

    def readConnectionLost(self) -> None:
        """
        The TCP connection's read side closed (FIN).  After C{close_notify}
        there is nothing to do; before the handshake finished the connection
        is simply lost; otherwise the stream was truncated, which ends the
        peer's input just as C{close_notify} would.
        """
        if self._readClosed:
            return
        if not self.handshakeDone:
            self.transport.loseConnection()
            return
        self._peerFinished()

    def writeConnectionLost(self) -> None:
        """
        Our TCP write side closed: nothing more can be sent.
        """
        self.transport.loseConnection()

    def _peerFinished(self) -> None:
        """
        The peer will send no more: tell a half-closeable protocol, which
        closes when it has written its last bytes; close any other once what
        it wrote is sent.
        """
        self._readClosed = True
        wrapped = self.wrappedProtocol
        wasClosing = self.disconnecting
        if IHalfCloseableProtocol.providedBy(wrapped):
            wrapped.readConnectionLost()
        else:
            self.loseConnection()
            if self.producerRegistered and not self.tlsLost:
                # loseConnection() has flushed what the protocol wrote, but
                # waits for a registered producer to unregister before it
                # shuts TLS down, and Twisted's HTTP channel stays registered
                # until connectionLost: the connection would sit in
                # CLOSE-WAIT for ever.  The peer is gone; shut down now.
                self.shutdownTLS()
                return
        if (
            wasClosing
            and not self.tlsLost
            and not self.sendPending
            and not self.producerRegistered
        ):
            # Our close_notify went out before the peer's arrived (a
            # lingering close, say): Twisted's own reply to the peer's
            # close_notify would close TCP now, and loseConnection, already
            # called, does nothing a second time.  Finish the shutdown here.
            self.shutdownTLS()

    def shutdownTLS(self) -> None:
        """
        Send our C{close_notify}.  Twisted then waits for the peer's unless
        it has come; once the peer's input has ended there is nothing to
        wait for, so the TCP connection is closed after it.
        """
        super().shutdownTLS()
        if self._readClosed:
            self.transport.loseConnection()

    def tlsShutdownFinished(self, reason: Failure | None) -> None:
        """
        TLS failed or ended: log a failed handshake once, then close.
        """
        if (
            reason is not None
            and not self.handshakeDone
            and not self.tlsLost
            and not self.tlsAborted
            and not self._failureLogged
            and self._received
            and isinstance(reason.value, Error)
        ):
            self._failureLogged = True
            why = openSSLReason(reason.value)
            kind = why
            if any(r in why for r in _PLAINTEXT_REASONS):
                why += " (plaintext sent to a TLS port)"
                kind = "plaintext"
            self.factory.handshakeFailed(self.transport.getPeer(), why, kind)
        super().tlsShutdownFinished(reason)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Stop the handshake timeout.
        """
        self._cancelTimeout()
        super().connectionLost(reason)


class TLSServerFactory(TLSMemoryBIOFactory):
    """
    Wrap a factory's protocols in L{TLSServerProtocol}.

    @ivar handshakeTimeout: seconds a handshake may take, or L{None}.
    @ivar failures: where failed handshakes are logged: the first of a kind
        at once, then at most one line per L{FAILURE_LOG_INTERVAL} seconds
        with a count, so a scanner or a flood costs a few lines.
    """

    protocol = TLSServerProtocol
    log = Logger()

    def __init__(
        self,
        creator: IOpenSSLServerConnectionCreator,
        wrappedFactory: IProtocolFactory,
        clock: IReactorTime,
        handshakeTimeout: float | None,
    ) -> None:
        super().__init__(creator, False, wrappedFactory, clock)
        self.handshakeTimeout = handshakeTimeout
        self.failures = RateLimitedLog(self.log, FAILURE_LOG_INTERVAL, clock)

    def handshakeFailed(self, peer: object, why: str, kind: str) -> None:
        """
        Log one failed handshake.

        @param kind: failures of the same kind share one line per interval.
        """
        self.failures.warn(
            f"TLS handshake {kind}",
            "TLS handshake with {peer} failed: {reason}",
            peer=formatAddress(peer),
            reason=why,
        )


@implementer(IStreamServerEndpoint)
class TLSServerEndpoint:
    """
    TLS with echohub's protocol over any stream server endpoint (TCP, a
    socket from systemd, a PROXY-protocol endpoint).

    @ivar transport: the endpoint under TLS.
    @ivar creator: makes each connection's OpenSSL connection; an
        L{echohub.tls._context.ReloadableServerContext} for echohub's listeners.
    @ivar handshakeTimeout: seconds a handshake may take, or L{None}.
    """

    def __init__(
        self,
        transport: IStreamServerEndpoint,
        creator: IOpenSSLServerConnectionCreator,
        clock: IReactorTime,
        handshakeTimeout: float | None,
    ) -> None:
        self.transport = transport
        self.creator = creator
        self.clock = clock
        self.handshakeTimeout = handshakeTimeout

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        """
        Listen on the transport endpoint with TLS around C{protocolFactory}.
        """
        return self.transport.listen(
            TLSServerFactory(
                self.creator, protocolFactory, self.clock, self.handshakeTimeout
            )
        )
