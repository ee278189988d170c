"""
A UDP echo on asyncio (or uvloop): each datagram goes back to its sender.

What asyncio's documentation shows (L{asyncio.DatagramProtocol}); echohub's
UDP echo does the same, plus its abuse limits and accounting.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from benchmarks.peers import announce, parseArguments


class DatagramEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.transport.sendto(data, addr)


async def serve(host: str, port: int, loop: str) -> None:
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        DatagramEcho, local_addr=(host, port)
    )
    address = transport.get_extra_info("sockname")
    announce("udp", address[0], address[1], f"{loop} DatagramProtocol echo")
    await asyncio.Event().wait()


def main() -> None:
    args = parseArguments(__doc__ or "", uvloop=True)
    coroutine = serve(args.host, args.port, "uvloop" if args.uvloop else "asyncio")
    if args.uvloop:
        import uvloop

        uvloop.run(coroutine)
    else:
        asyncio.run(coroutine)


if __name__ == "__main__":
    main()
