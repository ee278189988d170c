"""
A hypercorn echo: C{GET /echo?msg=} as a bare ASGI application, the way
hypercorn's documentation shows, served over HTTP/1.1 and HTTP/2 with prior
knowledge (h2c): echohub's Python peer for HTTP/2.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any
from urllib.parse import parse_qs

from hypercorn.asyncio import serve
from hypercorn.config import Config

from benchmarks.peers import announce, parseArguments


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    if scope["path"] == "/echo":
        if scope["method"] == "POST":
            more = True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
        else:
            values = parse_qs(scope["query_string"]).get(b"msg", [b""])
            body = values[0]
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    args = parseArguments(__doc__ or "")
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(1024)
    host, port = listener.getsockname()[:2]
    config = Config()
    config.bind = [f"fd://{listener.fileno()}"]
    config.accesslog = None
    config.errorlog = None
    # Its default ends a connection after 1 000 requests; h2load does not
    # reconnect, and echohub has no such limit.
    config.keep_alive_max_requests = 2**31
    announce("web", host, port, "hypercorn on asyncio")
    asyncio.run(serve(app, config))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
