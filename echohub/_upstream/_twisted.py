# -*- test-case-name: tests.upstream.test_twisted -*-
"""
Twisted's private or undocumented names that echohub uses, each behind one
function or class: why no public API serves, and what would replace it.
"""

from __future__ import annotations

import errno
import select
import sys
from collections.abc import Callable, MutableMapping
from typing import IO, Any

from OpenSSL import SSL
from twisted.internet import tcp
from twisted.internet.endpoints import _parse
from twisted.internet.epollreactor import EPollReactor
from twisted.internet.interfaces import IReactorTime
from twisted.logger import ILogObserver
from twisted.protocols.tls import BufferingTLSTransport
from twisted.python import log as legacyLog
from twisted.python.failure import Failure

from echohub._upstream._pins import sourceChanged
from echohub._upstream._pyopenssl import RecordConnection

_TWIST_OBSERVER_FACTORY = "fileLogObserverFactory"


def endpointTokens(description: str) -> tuple[list[str], dict[str, str]]:
    """
    Split an endpoint description string into its positional arguments and
    its C{key=value} options, exactly as L{serverFromString} does (quoting,
    C{\\:} escapes), e.g. C{"tcp:7007:interface=\\:\\:1"} into
    C{(["tcp", "7007"], {"interface": "::1"})}.

    Why: echohub's dialect adds options (TLS keys on any endpoint, a
    C{haproxy:} layer outside TLS) that must be read with Twisted's own
    rules, and Twisted's tokenizer is the private
    C{twisted.internet.endpoints._parse}; the public L{serverFromString}
    only builds endpoints and L{quoteStringArgument} only quotes.  A public
    tokenizer would replace this (none is filed upstream that we found).

    @raise ValueError: for a string Twisted cannot tokenize.
    """
    args, kwargs = _parse(description)
    return list(args), dict(kwargs)


def useTwistLogObserver(
    parent: MutableMapping[str, Any] | None,
    factory: Callable[[IO[str]], ILogObserver],
) -> bool:
    """
    Make C{twist} log through C{factory(logFile)} instead of its own text or
    JSON observer.

    Why: C{twist} builds the service (the plugin's C{makeService}) before
    it starts logging, and starts logging with
    C{twistOptions["fileLogObserverFactory"]} (see C{Twist.run} and
    C{Runner.startLogging}); replacing that entry, an undocumented key of
    C{twisted.application.twist._options.TwistOptions}, is the only way for
    a plugin to choose the format.  A public hook (twist asking the service
    maker for its observer) would replace this.  C{twistd} has no such
    entry (its logger is built before the plugin runs), so nothing changes
    there.

    @param parent: the plugin options' C{parent}: twist's or twistd's
        options, or L{None} when the options were parsed alone.

    @return: whether twist's options were changed.
    """
    if parent is None or _TWIST_OBSERVER_FACTORY not in parent:
        return False
    parent[_TWIST_OBSERVER_FACTORY] = factory
    return True


_TCP_PRIVATE = (
    "socket",
    "connected",
    "disconnecting",
    "dataBuffer",
    "_tempDataLen",
    "_writeDisconnecting",
    "_writeDisconnected",
    "TLS",
)
"""
The attributes of Twisted's TCP connection that L{directSendable} reads.
"""

_tcpEligibleTypes: dict[type, bool] = {}
"""
For each transport class met, whether it is a Twisted TCP connection with
every attribute in L{_TCP_PRIVATE}: checked on its first instance, so that
the check costs one dictionary lookup per write and no memory per
connection.
"""


def directSendable(transport: Any) -> bool:
    """
    Whether bytes may be sent on C{transport}'s socket at once, bypassing
    C{transport.write}: it is a plain (not TLS) Twisted TCP connection,
    connected, not closing either direction, with nothing queued (neither
    in C{dataBuffer} nor in the not yet joined C{_tempData}).

    Why: L{echohub.ops._fastwrite} saves the echo a reactor turn and two
    C{epoll_ctl} calls per read by sending directly when Twisted's buffer is
    empty, and whether that buffer is empty and the connection still open
    is only in C{twisted.internet.abstract.FileDescriptor}'s private
    C{_tempDataLen}, C{_writeDisconnecting} and C{_writeDisconnected}.  No
    public API says "nothing is queued"; a public
    C{ITransport.write} that sends at once when it can (as asyncio's
    transports do) would replace this.  A transport class without one of
    the attributes is never sent on directly, and C{tests.test_upstream}
    fails on it.
    """
    t = transport
    kind = type(t)
    known = _tcpEligibleTypes.get(kind)
    if known is None:
        known = _tcpEligibleTypes[kind] = issubclass(kind, tcp.Connection) and all(
            hasattr(t, name) for name in _TCP_PRIVATE
        )
    return (
        known
        and not t.TLS
        and t.connected
        and not (
            t.dataBuffer
            or t._tempDataLen
            or t.disconnecting
            or t._writeDisconnecting
            or t._writeDisconnected
        )
    )


class TLSProtocolHooks(BufferingTLSTransport):
    """
    Twisted's TLS protocol with its private state and steps given public
    names, for L{echohub.tls._protocol.TLSServerProtocol} to build on.

    Why: echohub's TLS server needs what Twisted's does not do: a handshake
    timeout, the peer's C{close_notify} ending only the peer's direction
    (half-close), a connection that does not sit in CLOSE-WAIT behind a
    registered producer, a log line per failed handshake.  Each is a change
    to a step of C{twisted.protocols.tls.TLSMemoryBIOProtocol} that has no
    public hook (C{_checkHandshakeStatus}, C{_flushReceiveBIO},
    C{_shutdownTLS}, C{_tlsShutdownFinished}) and reads its private state
    (C{_handshakeDone}, C{_lostTLSConnection}, C{_aborted},
    C{_appSendBuffer}, C{_producer}, C{_tlsConnection}, the factory's
    C{_clock}).  Half-close over Twisted's TLS is open upstream as
    twisted/twisted#5341 ("loseConnection is a no-op after
    loseWriteConnection with new TLS code"); a TLS protocol that forwarded
    half-close and offered a handshake timeout would replace this class.

    Writes are echohub's too: Twisted's L{BufferingTLSTransport} gathers
    small writes and encrypts them on the next reactor turn (a
    C{callLater(0)} per batch), and sends the records with the TCP
    transport's C{write} (another turn, and two C{epoll_ctl} calls).  Here,
    between L{batchWrites} and L{flushWrites} (a subclass brackets its
    delivery of one read with them) the application's writes are kept and
    encrypted in one piece at the end, and every record goes out through
    L{sendCiphertext}, which a subclass may send at once.  Outside a batch,
    writes take Twisted's aggregator (its private C{_aggregator}), and
    both keep their order: a batch is written after whatever the
    aggregator holds.

    Subclasses override the public hooks below, never the private steps.
    """

    _writeBatch: list[bytes] | None = None

    def __init__(
        self, factory: Any, wrappedProtocol: Any, _connectWrapped: bool = True
    ) -> None:
        super().__init__(factory, wrappedProtocol, _connectWrapped)
        # BufferingTLSTransport points write at its aggregator with an
        # instance attribute; write below chooses between it and a batch.
        del self.write

    def write(self, data: bytes) -> None:
        """
        Encrypt and send C{data}: with the batch while one is open, else
        with Twisted's aggregator.
        """
        batch = self._writeBatch
        if batch is not None:
            batch.append(data)
        else:
            self._aggregator.write(data)

    def writeSequence(self, sequence: Any) -> None:
        """
        Encrypt and send the joined C{sequence}, as L{write}.
        """
        self.write(b"".join(sequence))

    def batchWrites(self) -> None:
        """
        Keep what the application writes from now until L{flushWrites}.
        """
        if self._writeBatch is None:
            self._writeBatch = []

    def flushWrites(self) -> None:
        """
        Encrypt what was written since L{batchWrites} as one piece (after
        anything Twisted's aggregator holds) and stop batching.
        """
        batch, self._writeBatch = self._writeBatch, None
        if batch:
            self._aggregator.flush()
            super().write(b"".join(batch))

    def sendCiphertext(self, data: bytes) -> None:
        """
        Send TLS records OpenSSL produced: by default as Twisted does, with
        the TCP transport's C{write}.
        """
        transport: Any = self.transport
        transport.write(data)

    def loseConnection(self) -> None:
        """
        Close after what was written, batched writes included.
        """
        self.flushWrites()
        super().loseConnection()

    def tlsClock(self) -> IReactorTime:
        """
        The clock the factory was built with (Twisted keeps it as the
        factory's private C{_clock}).
        """
        clock: IReactorTime = self.factory._clock
        return clock

    @property
    def handshakeDone(self) -> bool:
        """
        Whether the TLS handshake has completed.
        """
        return bool(self._handshakeDone)

    @property
    def tlsLost(self) -> bool:
        """
        Whether the TLS connection is over (closed or failed).
        """
        return bool(self._lostTLSConnection)

    @property
    def tlsAborted(self) -> bool:
        """
        Whether the connection was aborted.
        """
        return bool(self._aborted)

    @property
    def sendPending(self) -> bool:
        """
        Whether application data written before the handshake is still
        waiting to be encrypted.
        """
        return bool(self._appSendBuffer)

    @property
    def producerRegistered(self) -> bool:
        """
        Whether the application registered a producer with this transport.
        """
        return self._producer is not None

    def recvDecrypted(self, size: int) -> bytes | None:
        """
        Read up to C{size} bytes of application data OpenSSL has decrypted.

        @return: the bytes, or L{None} when none is ready.
        @raise OpenSSL.SSL.ZeroReturnError: the peer sent C{close_notify}.
        @raise OpenSSL.SSL.Error: TLS failed.
        """
        connection = self._tlsConnection
        if type(connection) is RecordConnection:
            return connection.readDecrypted(size)
        try:
            data: bytes = connection.recv(size)
        except SSL.WantReadError:
            return None
        return data

    def flushSend(self) -> None:
        """
        Send what OpenSSL has encrypted.
        """
        self._flushSendBIO()

    def handshakeAdvanced(self) -> None:
        """
        Called after each step of the handshake; L{handshakeDone} says
        whether it completed.
        """

    def receiveDecrypted(self) -> None:
        """
        Deliver the application data OpenSSL has decrypted: by default as
        Twisted does.
        """
        super()._flushReceiveBIO()

    def shutdownTLS(self) -> None:
        """
        Send our C{close_notify}: by default as Twisted does.
        """
        super()._shutdownTLS()

    def tlsShutdownFinished(self, reason: Failure | None) -> None:
        """
        TLS ended (C{reason} L{None}) or failed: by default Twisted's
        clean-up.
        """
        super()._tlsShutdownFinished(reason)

    def _checkHandshakeStatus(self) -> None:
        super()._checkHandshakeStatus()
        self.handshakeAdvanced()

    def _flushSendBIO(self) -> None:
        connection = self._tlsConnection
        if type(connection) is RecordConnection:
            data = connection.readCiphertext(2**15)
            if data is not None:
                self.sendCiphertext(data)
            return
        try:
            data = connection.bio_read(2**15)
        except SSL.WantReadError:
            return
        self.sendCiphertext(data)

    def _flushReceiveBIO(self) -> None:
        self.receiveDecrypted()

    def _shutdownTLS(self) -> None:
        self.shutdownTLS()

    def _tlsShutdownFinished(self, reason: Failure | None) -> None:
        self.tlsShutdownFinished(reason)


_EPOLL_PRIVATE = ("_poller", "_selectables", "_doReadOrWrite", "_disconnectSelectable")
"""
The members of Twisted's epoll reactor that L{installDirectDispatch} uses.
"""

EPOLL_DOPOLL_SHA256 = "09b62ae68ef01b4bc5eaa170827e2baf0a2a5098e7e7ce7b5e1c80cda187c827"
"""
The SHA-256 of the source of C{EPollReactor.doPoll} (Twisted 26.10) that
L{installDirectDispatch}'s loop is a copy of, less the logging context.
"""

ReaderFor = Callable[[type], Callable[[Any], object] | None]
"""
Given a protocol class, the function that reads the socket of one of its
connections (called with the protocol), or L{None} for Twisted's own
C{doRead}.
"""


def directDispatchUnavailable(reactor: object) -> str | None:
    """
    Why L{installDirectDispatch} would leave C{reactor} alone, or L{None}
    if it can install.
    """
    if type(reactor) is not EPollReactor:
        return f"the reactor is {type(reactor).__name__}, not EPollReactor"
    missing = [name for name in _EPOLL_PRIVATE if not hasattr(reactor, name)]
    if missing:
        return f"EPollReactor has no {', '.join(missing)}"
    why = sourceChanged(EPOLL_DOPOLL_SHA256, EPollReactor.doPoll)
    return None if why is None else f"EPollReactor.doPoll: {why}"


def installDirectDispatch(
    reactor: Any, readerFor: ReaderFor
) -> Callable[[], None] | None:
    """
    Replace C{reactor}'s poll loop (its C{doIteration}) with one that
    dispatches each event without Twisted's legacy logging context, and
    hands a plain read event on a TCP connection to C{readerFor}'s
    function for its protocol, if any, instead of the transport's
    C{doRead}.

    Why: Twisted's C{EPollReactor.doPoll} wraps every event in
    C{twisted.python.log.callWithLogger}, which asks the selectable for its
    log prefix and pushes a copy of the legacy log context, so that a
    C{twisted.python.log.msg} called during the event is tagged with the
    connection's C{system}; for a small echo that wrapping was a quarter
    of the Python work per read.  echohub logs with L{twisted.logger},
    whose events carry their own namespace, so it gives the tag up: a
    legacy log message or error logged while a connection's event is
    handled says C{system "-"}.  The loop is otherwise Twisted's own (the
    poll, C{EINTR}, C{_doReadOrWrite} with its error handling and
    C{_disconnectSelectable}), all private, which is why this lives here;
    a reactor option to dispatch without the legacy context, or a
    buffered-protocol interface (as asyncio's C{BufferedProtocol}), would
    replace it.

    A direct reader is called only for an event that is exactly
    C{EPOLLIN} on a C{tcp.Server} transport; it must do what
    C{tcp.Connection.doRead} does (read, hand the bytes on) and return
    what C{doRead} returns: L{None}, or the reason to disconnect
    (C{main.CONNECTION_DONE} at EOF, which Twisted turns into a
    half-close).  An exception it raises is logged and disconnects, as
    Twisted does for C{doRead}.

    Nothing is installed unless L{directDispatchUnavailable} says the
    reactor is Twisted's epoll reactor with the C{doPoll} this loop copies;
    C{tests.test_upstream} fails when a Twisted release changes it.

    @param readerFor: asked once per protocol class.
    @return: a function that puts Twisted's own loop back, or L{None} when
        nothing was installed.
    """
    if directDispatchUnavailable(reactor) is not None:
        return None
    poller = reactor._poller
    selectables = reactor._selectables
    doReadOrWrite = reactor._doReadOrWrite
    disconnect = reactor._disconnectSelectable
    readers: dict[type, Callable[[Any], object] | None] = {}
    server = tcp.Server
    pollIn = select.EPOLLIN
    logError = legacyLog.err

    def doPoll(timeout: float | None) -> None:
        if timeout is None:
            timeout = -1
        try:
            events = poller.poll(timeout, len(selectables))
        except OSError as e:
            if e.errno == errno.EINTR:
                return
            raise
        get = selectables.get
        for fd, event in events:
            selectable = get(fd)
            if selectable is None:
                continue
            if event == pollIn and type(selectable) is server:
                protocol = selectable.protocol
                kind = type(protocol)
                try:
                    read = readers[kind]
                except KeyError:
                    read = readers[kind] = readerFor(kind)
                if read is not None:
                    try:
                        why = read(protocol)
                    except BaseException:
                        why = sys.exc_info()[1]
                        logError()
                    if why:
                        disconnect(selectable, why, True)
                    continue
            try:
                doReadOrWrite(selectable, fd, event)
            except BaseException:
                logError()

    reactor.doIteration = doPoll

    def restore() -> None:
        if vars(reactor).get("doIteration") is doPoll:
            del reactor.doIteration

    return restore
