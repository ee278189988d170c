"""
grpcio's own Python server, C{grpc.aio}, serving the same echo service as
echohub (C{grpc.examples.echo.Echo}, from echohub's descriptors: the same
protobuf classes a generated module would give), the way grpcio's
documentation writes an asyncio servicer: echohub's peer for gRPC.  h2c only
(C{add_insecure_port}).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc

from benchmarks.peers import announce, parseArguments
from echohub.grpc import Schema

_SCHEMA = Schema()
EchoRequest = _SCHEMA.message("grpc.examples.echo.EchoRequest")
EchoResponse = _SCHEMA.message("grpc.examples.echo.EchoResponse")


async def unaryEcho(request: Any, context: grpc.aio.ServicerContext) -> Any:
    return EchoResponse(message=request.message)


async def serverStreamingEcho(
    request: Any, context: grpc.aio.ServicerContext
) -> AsyncIterator[Any]:
    yield EchoResponse(message=request.message)


async def clientStreamingEcho(
    requests: AsyncIterator[Any], context: grpc.aio.ServicerContext
) -> Any:
    return EchoResponse(message="".join([r.message async for r in requests]))


async def bidirectionalStreamingEcho(
    requests: AsyncIterator[Any], context: grpc.aio.ServicerContext
) -> AsyncIterator[Any]:
    async for request in requests:
        yield EchoResponse(message=request.message)


def handlers() -> grpc.GenericRpcHandler:
    codec = {
        "request_deserializer": EchoRequest.FromString,
        "response_serializer": EchoResponse.SerializeToString,
    }
    return grpc.method_handlers_generic_handler(
        "grpc.examples.echo.Echo",
        {
            "UnaryEcho": grpc.unary_unary_rpc_method_handler(unaryEcho, **codec),
            "ServerStreamingEcho": grpc.unary_stream_rpc_method_handler(
                serverStreamingEcho, **codec
            ),
            "ClientStreamingEcho": grpc.stream_unary_rpc_method_handler(
                clientStreamingEcho, **codec
            ),
            "BidirectionalStreamingEcho": grpc.stream_stream_rpc_method_handler(
                bidirectionalStreamingEcho, **codec
            ),
        },
    )


async def serve(host: str, port: int) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handlers(),))
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    announce("web", host, bound, f"grpc.aio {grpc.__version__}")
    await server.wait_for_termination()


def main() -> None:
    args = parseArguments(__doc__ or "")
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
