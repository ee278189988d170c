"""
A minimal twisted.web echo: one leaf resource answering C{GET /echo?msg=}
and C{POST /echo}, on a default L{Site}.

This is the floor for echohub's web service: the same framework with none
of echohub's checks, headers or access log formatting.
"""

from __future__ import annotations

from typing import cast

from twisted.internet import endpoints, reactor
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IListeningPort
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from benchmarks.peers import announce, parseArguments


class Echo(Resource):
    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        args: dict[bytes, list[bytes]] = request.args or {}
        return args.get(b"msg", [b""])[0]

    def render_POST(self, request: Request) -> bytes:
        assert request.content is not None
        return request.content.read()


def main() -> None:
    args = parseArguments(__doc__ or "")
    description = f"tcp:{args.port}:interface={args.host}"
    endpoint = endpoints.serverFromString(reactor, description)

    def listening(port: IListeningPort) -> None:
        address = cast(IPv4Address, port.getHost())
        announce("web", address.host, address.port, "twisted.web Resource")

    endpoint.listen(Site(Echo())).addCallback(listening)
    reactor.run()


if __name__ == "__main__":
    main()
