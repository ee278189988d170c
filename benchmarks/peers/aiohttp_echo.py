"""
An aiohttp echo: C{GET /echo?msg=}, C{POST /echo} and a WebSocket echo at
C{/ws}, written as aiohttp's documentation shows, on asyncio or uvloop.

The WebSocket agrees to a client's permessage-deflate offer (aiohttp's
default, C{compress=True}, spelled out below: 15-bit windows, context
takeover) and then compresses every message it sends; a client that offers
nothing gets plain frames.
"""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web

from benchmarks.peers import announce, parseArguments


async def echoGet(request: web.Request) -> web.Response:
    return web.Response(body=request.query.get("msg", "").encode())


async def echoPost(request: web.Request) -> web.Response:
    return web.Response(body=await request.read())


async def echoSocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=True)
    await ws.prepare(request)
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            await ws.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    return ws


async def serve(host: str, port: int, loop: str) -> None:
    app = web.Application()
    app.router.add_get("/echo", echoGet)
    app.router.add_post("/echo", echoPost)
    app.router.add_get("/ws", echoSocket)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    announce("web", bound[0], bound[1], f"aiohttp on {loop}")
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
