# -*- test-case-name: tests.ops.test_fastread -*-
"""
Read a connection's socket directly when the reactor finds it readable,
instead of through Twisted's dispatch and C{doRead}.

For a small echo, Twisted spends more Python on delivering a read than the
echo spends on answering it: the epoll reactor wraps each event in the
legacy logging context (C{callWithLogger}), then C{_doReadOrWrite} checks
the descriptor, C{doRead} reads into a new 64 KiB bytes object, and
C{_dataReceived} calls the protocol.  L{startDirectDispatch} installs
L{echohub._upstream.installDirectDispatch}'s loop, which dispatches every
event without the logging context and hands a plain read event on a TCP
connection whose protocol provides L{IDirectReader} to its
L{IDirectReader.socketReadable}: the protocol reads the socket itself, into
the one shared L{RECEIVE_BUFFER}, and answers from there.

The readers are the line and byte echoes and echohub's TLS protocol (which
reads the ciphertext under any TLS listener's protocol).  Anything else
takes Twisted's public path and works unchanged: another reactor
(C{twistd --reactor=asyncio}), PROXY-protocol connections (their protocol
is a wrapper), HTTP, and every protocol when C{[server] direct_dispatch} is
off.  So an L{IDirectReader} still implements C{dataReceived}, and both
paths must have the same effect; the tests run the protocols through both,
and an end-to-end test runs echohub on the asyncio reactor.
"""

from __future__ import annotations

from collections.abc import Callable
from errno import EAGAIN, EWOULDBLOCK
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.internet.main import CONNECTION_DONE, CONNECTION_LOST
from twisted.logger import Logger
from zope.interface import Interface, implementer

from echohub._upstream import directDispatchUnavailable, installDirectDispatch

_log = Logger()

RECEIVE_SIZE = 65536
"""
The most one direct read takes: what Twisted's TCP transport reads at once
(C{tcp.Connection.bufferSize}).
"""

RECEIVE_BUFFER = bytearray(RECEIVE_SIZE)
"""
Where every direct read lands.  One buffer for the whole process is
enough: the reactor runs one event at a time, and a reader copies out what
it keeps before it returns.
"""

RECEIVE_VIEW = memoryview(RECEIVE_BUFFER)
"""
L{RECEIVE_BUFFER} as a memoryview, to slice it without copying.
"""


class IDirectReader(Interface):
    """
    A protocol that reads its own connection's socket when it is readable.
    """

    def socketReadable() -> object:
        """
        The socket (C{self.transport.socket}, a plain TCP connection's) has
        bytes or EOF: read them (into L{RECEIVE_BUFFER}) and handle them as
        C{dataReceived} would.

        @return: what C{tcp.Connection.doRead} returns: L{None}, or why the
            connection ends (C{CONNECTION_DONE} at EOF, C{CONNECTION_LOST}
            on a read error).
        """


_RETRY = frozenset({EAGAIN, EWOULDBLOCK})


@implementer(IDirectReader)
class DirectReader:
    """
    An L{IDirectReader} mixin for a protocol: L{socketReadable} reads into
    L{RECEIVE_BUFFER} and hands the size to L{bufferReceived}, which a
    protocol implements.
    """

    transport: Any

    def socketReadable(self) -> object:
        """
        Read the socket into L{RECEIVE_BUFFER} and hand what arrived to
        L{bufferReceived}, with C{tcp.Connection.doRead}'s outcomes.
        """
        try:
            size: int = self.transport.socket.recv_into(RECEIVE_BUFFER)
        except OSError as e:
            return None if e.errno in _RETRY else CONNECTION_LOST
        if not size:
            return CONNECTION_DONE
        self.bufferReceived(size)
        return None

    def bufferReceived(self, size: int) -> None:
        """
        The first C{size} bytes of L{RECEIVE_BUFFER} arrived: handle them
        as C{dataReceived} would, copying out whatever is kept beyond this
        call.
        """
        raise NotImplementedError


def readerFor(kind: type) -> Callable[[Any], object] | None:
    """
    The direct reader of protocol class C{kind}, if it has one.
    """
    if IDirectReader.implementedBy(kind):
        reader: Callable[[Any], object] = kind.socketReadable
        return reader
    return None


def startDirectDispatch(reactor: IReactorTime) -> Callable[[], None] | None:
    """
    Dispatch C{reactor}'s events directly, and reads to L{IDirectReader}s,
    when it is Twisted's epoll reactor as echohub knows it.

    Either way one line says which: a Twisted release whose epoll reactor
    echohub does not know runs on the public path, and says so.

    @return: what stops it, or L{None} when C{reactor} keeps Twisted's own
        dispatch.
    """
    stop = installDirectDispatch(reactor, readerFor)
    if stop is None:
        _log.info(
            "direct dispatch off, Twisted's own in use: {why}",
            why=directDispatchUnavailable(reactor),
        )
    else:
        _log.info("direct dispatch on: epoll events dispatched by echohub")
    return stop
