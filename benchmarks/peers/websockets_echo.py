"""
The C{websockets} library's echo server, as in its documentation: every
message goes back as it came, on any path.

It agrees to a client's permessage-deflate offer with the library's defaults
(C{compression="deflate"}, spelled out below: 12-bit windows both ways,
memLevel 5, context takeover), and compresses every message it sends then; a
client that offers nothing gets plain frames.
"""

from __future__ import annotations

import asyncio

from websockets.asyncio.server import ServerConnection, serve

from benchmarks.peers import announce, parseArguments


async def echo(connection: ServerConnection) -> None:
    async for message in connection:
        await connection.send(message)


async def run(host: str, port: int) -> None:
    async with serve(echo, host, port, compression="deflate") as server:
        bound = next(iter(server.sockets)).getsockname()
        announce("web", bound[0], bound[1], "websockets")
        await server.serve_forever()


def main() -> None:
    args = parseArguments(__doc__ or "")
    asyncio.run(run(args.host, args.port))


if __name__ == "__main__":
    main()
