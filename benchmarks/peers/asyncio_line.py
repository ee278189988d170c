"""
A bulk line echo on asyncio (or uvloop): each read's complete lines go back
in one write, the unterminated rest waits for the next read.

This is what a performance-minded asyncio programmer writes with
L{asyncio.Protocol}; it is the same algorithm as echohub's line echo, minus
echohub's guarantees (no line limit, no backpressure, no timeouts), so the
gap between the two is the framework's cost plus echohub's features.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import cast

from benchmarks.peers import announce, parseArguments


class BulkLineEcho(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        end = data.rfind(b"\n") + 1
        if not end:
            self.pending += data
            return
        if self.pending:
            self.transport.write(self.pending + data[:end])
        else:
            self.transport.write(data[:end])
        self.pending = data[end:]


async def serve(
    host: str, port: int, context: ssl.SSLContext | None, loop: str
) -> None:
    server = await asyncio.get_running_loop().create_server(
        BulkLineEcho, host, port, ssl=context
    )
    address = server.sockets[0].getsockname()
    announce("line", address[0], address[1], f"{loop} bulk lines")
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
