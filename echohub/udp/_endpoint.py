# -*- test-case-name: tests.udp.test_endpoint -*-
"""
Where the UDP echo listens: a port it binds, or a datagram socket inherited
from systemd.

Twisted has endpoints only for streams.  These two objects have the shape of
one (C{listen(protocol)} returns a L{Deferred} that fires with the
L{IListeningPort}), so that L{echohub.ops.ListeningService} binds them at
start-up, reports a failure naming the endpoint string and stops them, as it
does every stream listener.  The strings that name them are parsed by
L{echohub.endpoints.datagramEndpoint}.
"""

from __future__ import annotations

import os
import socket

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IListeningPort, IReactorSocket, IReactorUDP
from twisted.internet.protocol import DatagramProtocol


class UDPServerEndpoint:
    """
    Bind a UDP port (C{udp:PORT}, C{udp6:PORT}).
    """

    def __init__(
        self, reactor: IReactorUDP, port: int, interface: str, maxPacketSize: int
    ) -> None:
        """
        @param interface: the address to bind, C{""} for every IPv4
            address, C{"::"} for every address.
        @param maxPacketSize: the receive buffer: the longest datagram read
            whole.
        """
        self.reactor = reactor
        self.port = port
        self.interface = interface
        self.maxPacketSize = maxPacketSize

    def listen(self, protocol: DatagramProtocol) -> Deferred[IListeningPort]:
        """
        Bind now and start reading datagrams into C{protocol}.
        """
        try:
            port: IListeningPort = self.reactor.listenUDP(
                self.port, protocol, self.interface, self.maxPacketSize
            )
        except Exception:
            return fail()
        return succeed(port)


class AdoptedDatagramServerEndpoint:
    """
    Serve on an inherited datagram socket, e.g. from a systemd socket unit's
    C{ListenDatagram=}.
    """

    def __init__(
        self,
        reactor: IReactorSocket,
        fileno: int,
        addressFamily: socket.AddressFamily,
        maxPacketSize: int,
    ) -> None:
        """
        @raise ValueError: C{fileno} is not a datagram socket.
        """
        probe = socket.socket(fileno=os.dup(fileno))
        try:
            kind = probe.type
        finally:
            probe.close()
        if kind != socket.SOCK_DGRAM:
            raise ValueError(
                f"inherited descriptor {fileno} is a {kind.name} socket, not a"
                " datagram socket (ListenDatagram=)"
            )
        self.reactor = reactor
        self.fileno = fileno
        self.addressFamily = addressFamily
        self.maxPacketSize = maxPacketSize
        self._used = False

    def listen(self, protocol: DatagramProtocol) -> Deferred[IListeningPort]:
        """
        Adopt the socket (Twisted duplicates it; the inherited descriptor is
        closed) and start reading datagrams into C{protocol}.
        """
        if self._used:
            return fail(ValueError(f"descriptor {self.fileno} is already adopted"))
        self._used = True
        try:
            # adoptDatagramPort requires a non-blocking socket.
            os.set_blocking(self.fileno, False)
            port: IListeningPort = self.reactor.adoptDatagramPort(
                self.fileno, self.addressFamily, protocol, self.maxPacketSize
            )
            os.close(self.fileno)
        except Exception:
            return fail()
        return succeed(port)
