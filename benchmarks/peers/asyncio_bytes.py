"""
A byte echo on asyncio (or uvloop): each read goes back in one write.

The RFC 862 echo as an asyncio programmer writes it with
L{asyncio.Protocol}; echohub's byte echo does the same, plus its guarantees
(backpressure, timeouts, caps, drain, accounting).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import cast

from benchmarks.peers import announce, parseArguments


class ByteEcho(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


async def serve(
    host: str, port: int, context: ssl.SSLContext | None, loop: str
) -> None:
    server = await asyncio.get_running_loop().create_server(
        ByteEcho, host, port, ssl=context
    )
    address = server.sockets[0].getsockname()
    announce("echo", address[0], address[1], f"{loop} byte echo")
    await server.serve_forever()


def main() -> None:
    args = parseArguments(__doc__ or "", uvloop=True)
    context = None
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*args.tls)
    coroutine = serve(
        args.host, args.port, context, "uvloop" if args.uvloop else "asyncio"
    )
    if args.uvloop:
        import uvloop

        uvloop.run(coroutine)
    else:
        asyncio.run(coroutine)


if __name__ == "__main__":
    main()
