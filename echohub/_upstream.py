# -*- test-case-name: tests.test_upstream -*-
"""
Every use echohub makes of a Twisted or pyOpenSSL name that is private or
undocumented, each behind one function or class, with why no public API
serves and what would replace it.

Nothing else in echohub may reach into those libraries' internals: when an
upgrade changes one, this module and L{tests.test_upstream} are the only
places to look, and those tests fail loudly instead of echohub quietly
falling back.  C{docs/internals.md} lists them all, with where they are
used.

This module sits at the bottom of the package, beside L{echohub._net}: it
imports nothing of echohub's.
"""

from __future__ import annotations

import errno
import hashlib
import inspect
import select
import sys
from collections.abc import Callable, MutableMapping
from typing import IO, Any

from h2.connection import H2Connection
from OpenSSL import SSL, _util
from twisted.internet import tcp
from twisted.internet.endpoints import _parse
from twisted.internet.epollreactor import EPollReactor
from twisted.internet.interfaces import IReactorTime
from twisted.logger import ILogObserver
from twisted.protocols.tls import BufferingTLSTransport
from twisted.python import log as legacyLog
from twisted.python.failure import Failure

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


def setGroups(context: SSL.Context, groups: bytes) -> bool:
    """
    Set the key exchange groups a TLS context offers, e.g.
    C{b"X25519:prime256v1:secp384r1"}.

    Why: pyOpenSSL has no API for the groups (only C{set_tmp_ecdh}, one
    curve), so this calls OpenSSL's C{SSL_CTX_set1_curves_list} (the older
    name of C{SSL_CTX_set1_groups_list}) through pyOpenSSL's private
    C{_util.lib} on the private C{Context._context}.  A pyOpenSSL
    C{Context.set_groups} would replace it.

    @return: whether OpenSSL accepted every group.
    """
    return bool(_util.lib.SSL_CTX_set1_curves_list(context._context, groups) == 1)


def verifyErrorString(code: int) -> str:
    """
    OpenSSL's text for a certificate verification result code, e.g.
    C{"certificate has expired"} for 10.

    Why: pyOpenSSL exposes no table of these texts
    (C{X509_verify_cert_error_string}); it is called through the private
    C{_util.lib} and C{_util.ffi}.  A pyOpenSSL function for it would
    replace this.
    """
    text = _util.lib.X509_verify_cert_error_string(code)
    return str(_util.ffi.string(text).decode("ascii", "replace")) if text else str(code)


def verifyResult(connection: SSL.Connection) -> int:
    """
    The verification result of the peer's certificate on C{connection}
    (0: verified), as OpenSSL recorded it.

    Why: pyOpenSSL has no C{Connection.get_verify_result}; this calls
    C{SSL_get_verify_result} through the private C{_util.lib} on the
    private C{Connection._ssl}.  A pyOpenSSL method would replace it.
    """
    return int(_util.lib.SSL_get_verify_result(connection._ssl))


_CONNECTION_METHODS = ("recv", "send", "bio_read", "bio_write")

PYOPENSSL_IO_SHA256 = "4ce21edd4d7278228229a66cb654176d1181b320f7825d2474c8dd81f1d9e253"
"""
The SHA-256 of the sources of pyOpenSSL's (26.4) C{Connection.recv},
C{send}, C{bio_read} and C{bio_write}, which L{RecordConnection} mirrors.
"""

_RECORD_SIZE = 2**16
_recordBuffer = _util.ffi.new("char[]", _RECORD_SIZE)
"""
Where L{RecordConnection} has OpenSSL put what it reads: allocated once,
as every connection is used by the reactor thread alone.
"""


def _sourceChanged(digest: str, *functions: object) -> str | None:
    """
    Why the source of C{functions} is not the one whose SHA-256 is
    C{digest} (the upstream code a piece here copies or mirrors), or
    L{None} when it is.
    """
    try:
        source = "".join(inspect.getsource(f) for f in functions)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return "its source is not available"
    if hashlib.sha256(source.encode("utf-8")).hexdigest() != digest:
        return "it is not the version echohub copies"
    return None


def recordConnectionUnavailable() -> str | None:
    """
    Why L{newServerConnection} would make plain pyOpenSSL connections, or
    L{None} when it makes L{RecordConnection}s.
    """
    why = _sourceChanged(
        PYOPENSSL_IO_SHA256,
        *(getattr(SSL.Connection, name) for name in _CONNECTION_METHODS),
    )
    return None if why is None else f"pyOpenSSL's Connection I/O: {why}"


class RecordConnection(SSL.Connection):
    """
    A pyOpenSSL memory-BIO connection whose four data calls (C{recv},
    C{send}, C{bio_read}, C{bio_write}) go straight to OpenSSL.

    Why: pyOpenSSL wraps each OpenSSL call in Python that costs more than
    the call: C{recv} allocates a fresh buffer, every call checks the
    context's callback helpers and classifies the result.  For one read of
    sixteen 64-byte lines (decrypt, echo, encrypt) that was 30 us against
    10 us for the same OpenSSL calls made directly (and 11 us for the
    standard library's C{ssl}, which asyncio uses).  These methods make the
    call themselves, through pyOpenSSL's private cffi binding
    (C{OpenSSL._util.lib}, C{ffi}) on its private C{_ssl}, C{_into_ssl} and
    C{_from_ssl}, and hand any result that is not a success to pyOpenSSL's
    own private C{_raise_ssl_error} or C{_handle_bio_errors}: the same
    exceptions, from the same code.  What they leave out is the check of
    the context's callback helpers (verification, ALPN, OCSP) on success:
    those callbacks run during the handshake, which goes through
    pyOpenSSL unchanged.  Public C{recv_into}-style calls without the
    allocation, upstream, would replace this.
    """

    def recv(self, bufsiz: int, flags: int | None = None) -> bytes:
        """
        As pyOpenSSL's, read decrypted bytes (a C{MSG_PEEK} or an oversized
        read takes pyOpenSSL's own path).
        """
        if flags is not None or bufsiz > _RECORD_SIZE:
            return super().recv(bufsiz, flags)
        data = self.readDecrypted(bufsiz)
        if data is None:
            raise SSL.WantReadError()
        return data

    read = recv

    def send(self, buf: Any, flags: int = 0) -> int:
        """
        As pyOpenSSL's, encrypt C{buf} (anything but C{bytes} takes
        pyOpenSSL's own path).
        """
        if type(buf) is not bytes:
            return super().send(buf, flags)
        result: int = _util.lib.SSL_write(self._ssl, buf, len(buf))
        if result <= 0:
            self._raise_ssl_error(self._ssl, result)
        return result

    write = send

    def bio_read(self, bufsiz: int) -> bytes:
        """
        As pyOpenSSL's, take encrypted bytes from the outgoing memory BIO.
        """
        if self._from_ssl is None or type(bufsiz) is not int or bufsiz > _RECORD_SIZE:
            return super().bio_read(bufsiz)
        data = self.readCiphertext(bufsiz)
        if data is None:
            raise SSL.WantReadError()
        return data

    def readDecrypted(self, bufsiz: int) -> bytes | None:
        """
        L{recv}, but L{None} instead of C{WantReadError} when nothing is
        ready: the loop that reads until then ends without an exception.
        """
        result = _util.lib.SSL_read(self._ssl, _recordBuffer, bufsiz)
        if result > 0:
            data: bytes = _util.ffi.buffer(_recordBuffer, result)[:]
            return data
        if _util.lib.SSL_get_error(self._ssl, result) == _util.lib.SSL_ERROR_WANT_READ:
            return None
        self._raise_ssl_error(self._ssl, result)
        return b""

    def readCiphertext(self, bufsiz: int) -> bytes | None:
        """
        L{bio_read}, but L{None} instead of C{WantReadError} when the BIO
        is empty.
        """
        bio = self._from_ssl
        result = _util.lib.BIO_read(bio, _recordBuffer, bufsiz)
        if result > 0:
            data: bytes = _util.ffi.buffer(_recordBuffer, result)[:]
            return data
        if _util.lib.BIO_should_retry(bio) and _util.lib.BIO_should_read(bio):
            return None
        self._handle_bio_errors(bio, result)

    def bio_write(self, buf: Any) -> int:
        """
        As pyOpenSSL's, put received bytes (C{bytes} or a memoryview) into
        the incoming memory BIO.
        """
        if self._into_ssl is None or isinstance(buf, str):
            return super().bio_write(buf)
        data = buf if type(buf) is bytes else _util.ffi.from_buffer(buf)
        result: int = _util.lib.BIO_write(self._into_ssl, data, len(buf))
        if result <= 0:
            self._handle_bio_errors(self._into_ssl, result)
        return result


RECORD_CONNECTION_UNAVAILABLE = recordConnectionUnavailable()
"""
Why this pyOpenSSL gets plain connections, or L{None}: checked once, at
import.
"""


def newServerConnection(context: SSL.Context) -> SSL.Connection:
    """
    A memory-BIO server connection on C{context}: a L{RecordConnection}
    when pyOpenSSL's I/O is the one it mirrors, else pyOpenSSL's own (and
    C{tests.test_upstream} fails).
    """
    if RECORD_CONNECTION_UNAVAILABLE is None:
        return RecordConnection(context, None)
    return SSL.Connection(context, None)


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
    why = _sourceChanged(EPOLL_DOPOLL_SHA256, EPollReactor.doPoll)
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


class StreamRefusingH2Connection(H2Connection):
    """
    h2's connection, except that a stream the client opens beyond our
    C{SETTINGS_MAX_CONCURRENT_STREAMS} is left to the application to
    refuse.

    Why: h2 checks the limit when it receives a new stream's C{HEADERS}
    and, over it, raises C{TooManyStreamsError} from C{receive_data} and
    ends the whole connection with C{GOAWAY PROTOCOL_ERROR}; RFC 9113
    section 5.1.2 makes it a stream error (C{PROTOCOL_ERROR} or
    C{REFUSED_STREAM}), which lets the client retry the stream.  h2 reads
    the number of open streams for that check, and only for it, from its
    public C{open_inbound_streams}, and has no switch for the check: here
    that count is held below the limit, so h2 opens the stream (and keeps
    its header compression in step), and the application resets it with
    C{REFUSED_STREAM} (L{echohub.web._h2.H2Connection} does, counting such
    refusals against a flood budget).  An option in h2 to make the limit a
    stream error would replace this; C{tests.test_upstream} fails if h2
    stops relying on the property.
    """

    @property
    def open_inbound_streams(self) -> int:
        """
        h2's count of open inbound streams, held below the advertised
        limit.
        """
        count: int = H2Connection.open_inbound_streams.fget(self)  # type: ignore[attr-defined]
        return min(count, self.local_settings.max_concurrent_streams - 1)
