# -*- test-case-name: tests.line.test_client -*-
"""
C{echohub-client}: send lines to an echohub line service and check the echoes.

Usage::

    echohub-client ENDPOINT [--message TEXT]... [--timeout SECONDS]

C{ENDPOINT} is a Twisted client endpoint description, for example
C{tcp:127.0.0.1:7007}, C{unix:/run/echohub.sock} or
C{tls:localhost:7443:trustRoots=DIR/trust} (add
C{:certificate=F:privateKey=F} for mutual TLS).  Each C{--message} is one
line; without any, the lines of standard input are sent.  Every echoed line is
written to stdout as it arrives.  The byte echo (RFC 862 over TCP) echoes
lines too, so the same endpoints test it.

C{ws://HOST:PORT/ws} (or C{wss://}, with C{--cafile CA.pem} for a CA the
system does not trust) talks to the WebSocket echo: each line is one
message, text when it is UTF-8 and binary otherwise, and each must come back
the same and of the same kind.

C{udp:HOST:PORT} (C{udp:[::1]:7007} for an IPv6 address) talks to a UDP
echo instead: each line is sent as one datagram, without its newline, and
its echo awaited before the next is sent, so that every answer is matched
to its datagram.  Nothing is resent: a datagram or answer lost on the way
is a failure at the timeout, which is the point when testing a firewall,
a NAT or a UDP load balancer.

Exit status: 0 when every line came back identical and in order; 1 on a
mismatch, an C{ERROR} line from the server, a connection that failed or
closed early, a TLS verification failure or the timeout; 2 for a bad command
line or endpoint.  Every failure is one line on stderr.

Over TLS nothing is sent until the handshake has completed, which for a
C{tls:} endpoint includes verifying the server's certificate and host name:
a client talking to an impostor must not hand it the data first.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, NoReturn
from urllib.parse import urlsplit

from OpenSSL import SSL, crypto
from service_identity import VerificationError
from twisted.internet.abstract import isIPv6Address
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.internet.endpoints import clientFromString
from twisted.internet.error import ConnectError, ConnectionDone
from twisted.internet.interfaces import (
    IAddress,
    IHandshakeListener,
    IProtocol,
    IReactorTime,
    ISSLTransport,
    IStreamClientEndpoint,
    ITCPTransport,
)
from twisted.internet.protocol import (
    DatagramProtocol,
    Factory,
    Protocol,
    connectionDone,
)
from twisted.internet.ssl import Certificate, trustRootFromCertificates
from twisted.internet.task import react
from twisted.logger import globalLogBeginner
from twisted.python.failure import Failure
from twisted.web.client import BrowserLikePolicyForHTTPS
from twisted.web.http import RESPONSES
from twisted.web.websocket import (
    ConnectionRejected,
    WebSocketClientEndpoint,
    WebSocketTransport,
)
from zope.interface import implementer

from echohub._net import openSSLReason

DEFAULT_TIMEOUT = 10.0
# Room for an "ERROR ..." line from the server on top of the longest echo.
ERROR_ALLOWANCE = 1024
# Keeps one-line reports readable when a line is huge.
_REPR_LIMIT = 80


class EchoError(Exception):
    """
    The echo exchange failed; C{str()} is a one-line reason for the user.
    """


class ServerError(EchoError):
    """
    The server sent an C{ERROR} line instead of an echo.

    @ivar line: the line, without its newline.
    """

    def __init__(self, line: bytes) -> None:
        super().__init__("server error: " + line.decode("utf-8", "backslashreplace"))
        self.line = line


def _shorten(data: bytes) -> str:
    if len(data) > _REPR_LIMIT:
        return repr(data[:_REPR_LIMIT]) + f"... ({len(data)} bytes)"
    return repr(data)


def _mismatches(error: VerificationError) -> str:
    """
    Name the identities the certificate failed to match, falling back to
    the error's own text if service_identity changes its shape.
    """
    names = []
    for mismatch in getattr(error, "errors", ()):
        identity = getattr(mismatch, "mismatched_id", None)
        name = getattr(identity, "hostname", None) or getattr(identity, "ip", None)
        if isinstance(name, bytes):
            name = name.decode("ascii", "backslashreplace")
        if name is None:
            return str(error)
        names.append(str(name))
    if not names:
        return str(error)
    return "certificate is not valid for " + ", ".join(names)


@implementer(IHandshakeListener)
class EchoClientProtocol(Protocol):
    """
    Send lines and check that each comes back byte for byte, in order.

    @ivar done: fires with L{None} once every echo arrived, or fails with an
        L{EchoError} as soon as the outcome is known, so a caller never waits
        for the rest of a stream that has already gone wrong.  Cancelling it
        aborts the connection.
    """

    def __init__(self, lines: Sequence[bytes], output: Callable[[bytes], None]):
        """
        @param lines: the lines to send, without newlines.
        @param output: called with each echoed line, newline included, as
            soon as it has been checked.
        """
        self._lines = list(lines)
        self._pending = deque(self._lines)
        self._output = output
        self._buffer = b""
        # An echo never needs more buffer than the longest line sent; more
        # than that (plus room for an error line) cannot be a correct echo,
        # so a misbehaving server cannot make the client buffer without bound.
        self._bufferLimit = max(map(len, self._lines), default=0) + ERROR_ALLOWANCE
        self._handshakeDone = False
        self.done: Deferred[None] = Deferred(lambda d: self._abort())

    def _abort(self) -> None:
        # A timed-out peer may not be reading: do not wait to flush to it.
        if ITCPTransport.providedBy(self.transport):
            self.transport.abortConnection()
        elif self.transport is not None:
            self.transport.loseConnection()

    def connectionMade(self) -> None:
        """
        Start at once on a plain transport; over TLS wait for
        L{handshakeCompleted} so nothing is sent to an unverified peer.
        """
        if not ISSLTransport.providedBy(self.transport):
            self._start()

    def handshakeCompleted(self) -> None:
        """
        The TLS layer verified the peer: now it is safe to send.
        """
        self._handshakeDone = True
        self._start()

    def _start(self) -> None:
        if not self._pending:
            self._finish(None)
            return
        assert self.transport is not None
        self.transport.writeSequence([line + b"\n" for line in self._lines])

    def _finish(self, failure: Failure | None) -> None:
        if self.done.called:
            return
        if failure is None:
            self.done.callback(None)
        else:
            self.done.errback(failure)
        if self.transport is not None:
            self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        """
        Split the received bytes into lines in bulk and check each one.
        """
        if self.done.called:
            return
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        for line in lines:
            self._lineReceived(line)
            if self.done.called:
                return
        if len(self._buffer) > self._bufferLimit:
            self._finish(
                Failure(
                    EchoError(
                        f"server sent more than {self._bufferLimit} bytes"
                        " without a newline"
                    )
                )
            )

    def _lineReceived(self, line: bytes) -> None:
        number = len(self._lines) - len(self._pending) + 1
        if self._pending and line == self._pending[0]:
            self._pending.popleft()
            self._output(line + b"\n")
            if not self._pending:
                self._finish(None)
        elif line.startswith(b"ERROR"):
            self._finish(Failure(ServerError(line)))
        else:
            self._finish(
                Failure(
                    EchoError(
                        f"echo {number} differs: sent {_shorten(self._pending[0])},"
                        f" received {_shorten(line)}"
                    )
                )
            )

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        A connection that ends before the last echo is a failure; say why in
        terms of TLS when the handshake never finished.
        """
        if self.done.called:
            return
        value = reason.value
        if not self._handshakeDone and ISSLTransport.providedBy(self.transport):
            if isinstance(value, SSL.Error):
                reasons = openSSLReason(value)
                kind = (
                    "verification" if "certificate verify" in reasons else "handshake"
                )
                message = f"TLS {kind} failed: {reasons}"
            elif isinstance(value, VerificationError):
                # service_identity's error: the certificate is signed by a
                # trusted CA but issued for another host.
                message = f"TLS verification failed: {_mismatches(value)}"
            else:
                message = f"connection closed during the TLS handshake: {value}"
        else:
            received = len(self._lines) - len(self._pending)
            message = f"connection closed after {received} of {len(self._lines)} echoes"
            if not reason.check(ConnectionDone):
                message += f": {_reason(value)}"
        self._finish(Failure(EchoError(message)))


class EchoClientFactory(Factory):
    """
    Build one L{EchoClientProtocol} for the lines to send.
    """

    def __init__(self, lines: Sequence[bytes], output: Callable[[bytes], None]):
        self._lines = lines
        self._output = output

    def buildProtocol(self, addr: IAddress | None) -> EchoClientProtocol:
        protocol = EchoClientProtocol(self._lines, self._output)
        protocol.factory = self
        return protocol


def echo(
    clock: IReactorTime,
    endpoint: IStreamClientEndpoint,
    lines: Sequence[bytes],
    output: Callable[[bytes], None],
    timeout: float = DEFAULT_TIMEOUT,
) -> Deferred[None]:
    """
    Connect, send C{lines} and check their echoes.

    @param clock: bounds the whole exchange, connecting included.
    @param timeout: seconds before giving up.

    @return: a L{Deferred} that fires with L{None} on success and fails with
        L{EchoError}, or with the connection error, otherwise.
    """
    connecting = endpoint.connect(EchoClientFactory(lines, output))

    def exchange(protocol: IProtocol) -> Deferred[None]:
        assert isinstance(protocol, EchoClientProtocol)
        return protocol.done

    def timedOut(result: object, after: float) -> NoReturn:
        if isinstance(result, Failure) and not result.check(CancelledError):
            result.raiseException()
        raise EchoError(f"timed out after {after:g} seconds")

    return connecting.addCallback(exchange).addTimeout(timeout, clock, timedOut)


class UDPEchoClient(DatagramProtocol):
    """
    Send each datagram once, each after the echo of the one before, and
    check that each echo is identical.

    @ivar done: as L{EchoClientProtocol.done}.
    """

    transport: Any

    def __init__(
        self,
        datagrams: Sequence[bytes],
        output: Callable[[bytes], None],
        address: tuple[str, int],
    ) -> None:
        """
        @param address: the server's IP address and port: the socket is
            connected to it, so nothing from another address is taken for
            an echo.
        """
        self._datagrams = list(datagrams)
        self._pending = deque(self._datagrams)
        self._output = output
        self._address = address
        self.done: Deferred[None] = Deferred()

    @property
    def answered(self) -> int:
        """
        How many datagrams were echoed so far.
        """
        return len(self._datagrams) - len(self._pending)

    def startProtocol(self) -> None:
        """
        Connect the socket to the server and send the first datagram.
        """
        self.transport.connect(*self._address)
        self._sendNext()

    def _sendNext(self) -> None:
        if not self._pending:
            self.done.callback(None)
            return
        self.transport.write(self._pending[0])

    def datagramReceived(self, datagram: bytes, addr: object) -> None:
        """
        Check the echo of the datagram in flight, then send the next.
        """
        if self.done.called:
            return
        expected = self._pending.popleft()
        if datagram != expected:
            number = self.answered
            self.done.errback(
                EchoError(
                    f"echo {number} differs: sent {_shorten(expected)},"
                    f" received {_shorten(datagram)}"
                )
            )
            return
        self._output(datagram + b"\n")
        self._sendNext()

    def connectionRefused(self) -> None:
        """
        The server's host answered with ICMP port unreachable.
        """
        if not self.done.called:
            self.done.errback(
                EchoError("nothing listens there (ICMP port unreachable)")
            )


class WebSocketEchoClient:
    """
    Send each line as one WebSocket message (text when it is UTF-8, else
    binary) and check that each comes back identical, of the same kind and
    in order; then close with 1000.  A Twisted C{WebSocketProtocol}.

    @ivar done: as L{EchoClientProtocol.done}.
    """

    def __init__(self, lines: Sequence[bytes], output: Callable[[bytes], None]):
        self._lines = list(lines)
        self._pending = deque(self._lines)
        self._output = output
        self._transport: WebSocketTransport | None = None
        self._open = False
        self.done: Deferred[None] = Deferred(lambda d: self._close(1001))

    def _close(self, code: int) -> None:
        if self._open:
            self._open = False
            assert self._transport is not None
            self._transport.loseConnection(code)

    def failed(self, failure: Failure) -> None:
        """
        Connecting failed (refused, or the handshake answered with another
        status than 101): that is the outcome.
        """
        if not self.done.called:
            self.done.errback(failure)

    def buildProtocol(self, url: str) -> WebSocketEchoClient:
        """
        The client factory's one protocol: this object.
        """
        return self

    def negotiationStarted(self, transport: WebSocketTransport) -> None:
        self._transport = transport

    def negotiationFinished(self) -> None:
        """
        The server accepted the handshake: send every message.
        """
        assert self._transport is not None
        self._open = True
        if not self._pending:
            self._finish(None)
        for line in self._lines:
            try:
                self._transport.sendTextMessage(line.decode("utf-8"))
            except UnicodeDecodeError:
                self._transport.sendBytesMessage(line)

    def textMessageReceived(self, message: str) -> None:
        self._received(message.encode("utf-8"), text=True)

    def bytesMessageReceived(self, data: bytes | bytearray) -> None:
        self._received(bytes(data), text=False)

    def _received(self, data: bytes, text: bool) -> None:
        if self.done.called:
            return
        number = len(self._lines) - len(self._pending) + 1
        expected = self._pending.popleft() if self._pending else b""
        if data != expected:
            self._finish(
                EchoError(
                    f"echo {number} differs: sent {_shorten(expected)},"
                    f" received {_shorten(data)}"
                )
            )
            return
        try:
            expected.decode("utf-8")
            sentText = True
        except UnicodeDecodeError:
            sentText = False
        if text != sentText:
            kind = "text" if text else "binary"
            self._finish(EchoError(f"echo {number} came back as a {kind} message"))
            return
        self._output(data + b"\n")
        if not self._pending:
            self._finish(None)

    def pongReceived(self, payload: bytes) -> None:
        """
        Nothing to do: Twisted answers pings itself.
        """

    def _finish(self, error: EchoError | None) -> None:
        if self.done.called:
            return
        if error is None:
            self.done.callback(None)
        else:
            self.done.errback(error)
        self._close(1000)

    def connectionLost(self, reason: Failure) -> None:
        """
        A connection that ends before the last echo is a failure; before
        the handshake finished, say why (a TLS failure, say).
        """
        wasOpen, self._open = self._open, False
        received = len(self._lines) - len(self._pending)
        if wasOpen:
            message = f"connection closed after {received} of {len(self._lines)} echoes"
        elif isinstance(reason.value, SSL.Error):
            reasons = openSSLReason(reason.value)
            kind = "verification" if "certificate verify" in reasons else "handshake"
            message = f"TLS {kind} failed: {reasons}"
        else:
            message = (
                "connection closed before the WebSocket handshake:"
                f" {_reason(reason.value)}"
            )
        self._finish(EchoError(message))


def parseWebSocket(description: str) -> str | None:
    """
    A C{ws://} or C{wss://} URL, or L{None} if C{description} is not one.

    @raise ValueError: it is one, but has no host.
    """
    url = urlsplit(description)
    if url.scheme.lower() not in ("ws", "wss"):
        return None
    if not url.hostname:
        raise ValueError("expected ws://HOST:PORT/PATH, e.g. ws://127.0.0.1:8080/ws")
    return description


def webSocketEcho(
    reactor: Any,
    url: str,
    lines: Sequence[bytes],
    output: Callable[[bytes], None],
    timeout: float = DEFAULT_TIMEOUT,
    caFile: str | None = None,
) -> Deferred[None]:
    """
    Send C{lines} as messages to the WebSocket echo at C{url} and check
    their echoes, within C{timeout} seconds in all.

    @param caFile: a PEM file of the CAs that may sign a C{wss://} server's
        certificate; the system's by default.  The host name is verified
        either way.
    """
    policy = BrowserLikePolicyForHTTPS()
    if caFile is not None:
        with open(caFile, "rb") as f:
            roots = [Certificate.loadPEM(pem) for pem in _pemBlocks(f.read())]
        policy = BrowserLikePolicyForHTTPS(trustRootFromCertificates(roots))
    client = WebSocketEchoClient(lines, output)
    connecting = Deferred.fromCoroutine(
        WebSocketClientEndpoint.new(reactor, url, policy).connect(client)
    )

    def timedOut(result: object, after: float) -> NoReturn:
        if isinstance(result, Failure) and not result.check(CancelledError):
            result.raiseException()
        raise EchoError(f"timed out after {after:g} seconds")

    # Twisted's client never fires connecting when TLS fails: the client's
    # connectionLost reports that, and a failure to connect is routed to it.
    connecting.addErrback(client.failed)
    return client.done.addTimeout(timeout, reactor, timedOut)


def _pemBlocks(data: bytes) -> list[bytes]:
    """
    Each certificate of a PEM file.
    """
    end = b"-----END CERTIFICATE-----"
    return [block + end for block in data.split(end) if b"-----BEGIN" in block]


def parseUDP(description: str) -> tuple[str, int] | None:
    """
    Read a C{udp:HOST:PORT} client string (C{udp:[::1]:7007} for IPv6).

    @return: the host and port, or L{None} if C{description} is not one.
    @raise ValueError: it is one, but malformed.
    """
    prefix, _, rest = description.partition(":")
    if prefix.lower() != "udp":
        return None
    host, _, port = rest.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected udp:HOST:PORT, e.g. udp:127.0.0.1:7007")
    return host, int(port)


def udpEcho(
    reactor: Any,
    host: str,
    port: int,
    datagrams: Sequence[bytes],
    output: Callable[[bytes], None],
    timeout: float = DEFAULT_TIMEOUT,
) -> Deferred[None]:
    """
    Send C{datagrams} to a UDP echo at C{(host, port)} and check their
    echoes, within C{timeout} seconds in all (name resolution included).

    @return: a L{Deferred} that fires with L{None} on success and fails with
        L{EchoError} otherwise.
    """
    client: list[UDPEchoClient] = []
    ports: list[Any] = []

    def resolved(address: str) -> Deferred[None]:
        protocol = UDPEchoClient(datagrams, output, (address, port))
        client.append(protocol)
        interface = "::" if isIPv6Address(address) else ""
        ports.append(reactor.listenUDP(0, protocol, interface=interface))
        return protocol.done

    def timedOut(result: object, after: float) -> NoReturn:
        if isinstance(result, Failure) and not result.check(CancelledError):
            result.raiseException()
        answered = client[0].answered if client else 0
        raise EchoError(
            f"timed out after {after:g} seconds with {answered} of"
            f" {len(datagrams)} echoes"
        )

    def stop(result: object) -> object:
        for listening in ports:
            listening.stopListening()
        return result

    # reactor.resolve gives IPv4 addresses only: an IPv6 literal is used as is.
    resolving: Deferred[str] = (
        succeed(host) if isIPv6Address(host) else reactor.resolve(host)
    )
    return (
        resolving.addCallback(resolved)
        .addTimeout(timeout, reactor, timedOut)
        .addBoth(stop)
    )


def _reason(value: BaseException) -> str:
    """
    An error as a person reads it: OpenSSL's reasons rather than its tuples
    (C{tlsv13 alert certificate required}, not C{[('SSL routines', '',
    ...)]}).
    """
    if isinstance(value, SSL.Error):
        return f"TLS: {openSSLReason(value)}"
    return str(value) or type(value).__name__


def describeFailure(failure: Failure) -> str:
    """
    One line saying why L{echo} failed, without a traceback.
    """
    value = failure.value
    if isinstance(value, EchoError):
        return str(value)
    if isinstance(value, ConnectError):
        return f"cannot connect: {value}"
    if isinstance(value, ConnectionRejected):
        code = value.response.code
        phrase = RESPONSES.get(code, b"").decode("latin-1")
        return f"the WebSocket handshake was refused: HTTP {code} {phrase}"
    return _reason(value)


def splitLines(data: bytes) -> list[bytes]:
    """
    Split input into the lines to send.

    Only C{b"\\n"} ends a line, as on the server: a C{b"\\r"} is part of
    the line and comes back in its echo.  A last line without a newline is
    still a line.
    """
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def _parseMessage(text: str) -> bytes:
    # fsencode round-trips arguments that are not valid UTF-8.
    line = os.fsencode(text)
    if b"\n" in line:
        raise argparse.ArgumentTypeError("a message must not contain a newline")
    return line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="echohub-client",
        description=(
            "Send lines to an echohub line service and check that each comes"
            " back unchanged and in order. Exit 0 if so, 1 otherwise, 2 for"
            " usage errors."
        ),
    )
    parser.add_argument(
        "endpoint",
        metavar="ENDPOINT",
        help="Twisted client endpoint, e.g. tcp:127.0.0.1:7007,"
        " unix:/path/to/socket or tls:localhost:7443:trustRoots=DIR/trust;"
        " or udp:HOST:PORT for a UDP echo (each line one datagram);"
        " or ws://HOST:PORT/ws, wss://HOST:PORT/ws for the WebSocket echo"
        " (each line one message)",
    )
    parser.add_argument(
        "--cafile",
        metavar="PEM",
        help="for wss://: the CA certificate(s) to trust, e.g. devcerts/ca.pem"
        " (default: the system's)",
    )
    parser.add_argument(
        "--message",
        metavar="TEXT",
        type=_parseMessage,
        action="append",
        help="a line to send; may be repeated; default: the lines of stdin",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"give up after this many seconds (default {DEFAULT_TIMEOUT:g})",
    )
    return parser


def _endpointError(description: str, error: Exception) -> str:
    if isinstance(error, crypto.Error) and "trustRoots=" in description:
        # Twisted 26.10 loads every *.pem in a trustRoots directory as a
        # certificate and does not skip a private key.
        return (
            f"bad endpoint {description!r}: a .pem file under trustRoots is"
            " not a certificate (a private key?); use a directory holding only"
            " CA certificates, such as echohub-devcert's DIR/trust"
        )
    if isinstance(error, SSL.Error | crypto.Error):
        reason = openSSLReason(error)
    else:
        # FilePath's UnlistableError (a missing trustRoots directory) has an
        # empty message of its own.
        reason = str(getattr(error, "originalException", error)) or repr(error)
    return f"bad endpoint {description!r}: {reason}"


def _run(reactor: Any, options: argparse.Namespace) -> Deferred[None]:
    try:
        udp = parseUDP(options.endpoint)
        url = None if udp else parseWebSocket(options.endpoint)
        endpoint = None if udp or url else clientFromString(reactor, options.endpoint)
        if options.cafile is not None and url is None:
            raise ValueError("--cafile is for wss:// URLs (use trustRoots= for tls:)")
    except Exception as e:
        print(f"echohub-client: {_endpointError(options.endpoint, e)}", file=sys.stderr)
        return fail(SystemExit(2))
    if options.message is not None:
        lines = options.message
    else:
        lines = splitLines(sys.stdin.buffer.read())

    def write(line: bytes) -> None:
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()

    def failed(failure: Failure) -> NoReturn:
        print(f"echohub-client: {describeFailure(failure)}", file=sys.stderr)
        raise SystemExit(1)

    if udp is not None:
        exchange = udpEcho(reactor, *udp, lines, write, options.timeout)
    elif url is not None:
        try:
            exchange = webSocketEcho(
                reactor, url, lines, write, options.timeout, options.cafile
            )
        except (OSError, ValueError) as e:
            print(f"echohub-client: cannot read --cafile: {e}", file=sys.stderr)
            return fail(SystemExit(2))
    else:
        assert endpoint is not None
        exchange = echo(reactor, endpoint, lines, write, options.timeout)
    return exchange.addErrback(failed)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """
    The C{echohub-client} console script; exits with the status described in
    the module docstring.
    """
    options = _parser().parse_args(argv)
    # Every failure is reported as one line by _run.  Starting the global log
    # with no observers stops Twisted from printing critical events (such as
    # a failure its TLS layer logs) to stderr as tracebacks.
    globalLogBeginner.beginLoggingTo([], redirectStandardIO=False)
    react(_run, [options])
