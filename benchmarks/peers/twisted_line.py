"""
The tutorial Twisted line echo: a L{LineReceiver} that sends each line back.

Only the delimiter differs from the tutorial (C{\\n}, so the load generator's
lines arrive at all); the rest is what the Twisted documentation shows,
including L{LineReceiver}'s per-line Python work and its 16 KiB line limit.
"""

from __future__ import annotations

from typing import cast

from twisted.internet import endpoints, reactor
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory
from twisted.protocols.basic import LineReceiver

from benchmarks.peers import announce, parseArguments


class Echo(LineReceiver):
    delimiter = b"\n"

    def lineReceived(self, line: bytes) -> None:
        self.sendLine(line)


def main() -> None:
    args = parseArguments(__doc__ or "")
    description = f"tcp:{args.port}:interface={args.host}"
    if args.tls:
        cert, key = args.tls
        description = (
            f"ssl:{args.port}:interface={args.host}:privateKey={key}:certKey={cert}"
        )
    endpoint = endpoints.serverFromString(reactor, description)

    def listening(port: IListeningPort) -> None:
        address = cast(IPv4Address, port.getHost())
        announce("line", address.host, address.port, "twisted LineReceiver")

    def failed(reason: object) -> None:
        print(reason, flush=True)
        reactor.stop()

    endpoint.listen(Factory.forProtocol(Echo)).addCallbacks(listening, failed)
    reactor.run()


if __name__ == "__main__":
    main()
