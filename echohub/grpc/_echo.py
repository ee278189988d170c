# -*- test-case-name: tests.grpc.test_echo -*-
"""
The echo service, C{grpc.examples.echo.Echo}, in the shape of grpc-go's
example echo (its example clients fit):

    - C{UnaryEcho}: the message back;
    - C{ServerStreamingEcho}: the message back C{echo-count} times,
      C{echo-interval-ms} apart, each sent only once the response is not
      backed up (a client that does not read costs one message of memory);
    - C{ClientStreamingEcho}: one answer, every message received
      concatenated in order;
    - C{BidirectionalStreamingEcho}: each message back as it arrives.

The controls common to every call (C{echo-status}, C{echo-delay-ms}, the
metadata echoed as headers and trailers) are the call's
(L{echohub.grpc._call}).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from echohub.grpc._call import Call, Handler, Method
from echohub.grpc._schema import ECHO_PACKAGE, ECHO_SERVICE, Schema
from echohub.grpc._wire import Code


class _Echo(Handler):
    """
    An echo method's handler.

    @ivar response: the response message class.
    """

    def __init__(self, call: Call, response: Any) -> None:
        super().__init__(call)
        self.response = response


class _Unary(_Echo):
    def received(self, request: Any) -> None:
        self.call.reply(self.response(message=request.message))


class _ServerStreaming(_Echo):
    """
    Send the message C{count} times, C{interval} seconds apart.
    """

    _message: Any = None
    _left = 0

    def received(self, request: Any) -> None:
        self._message = self.response(message=request.message)
        self._left = self.call.controls.count

    def ended(self) -> None:
        self._next()

    def _next(self) -> None:
        call = self.call
        interval = call.controls.interval
        while self._left and not call.done:
            if call.paused:
                call.whenWritable(self._next)
                return
            call.send(self._message)
            self._left -= 1
            if interval and self._left:
                call.later(interval, self._next)
                return
        call.finish()


class _ClientStreaming(_Echo):
    """
    Keep every message, within C{[grpc] max_message} in all; answer their
    concatenation.
    """

    def __init__(self, call: Call, response: Any) -> None:
        super().__init__(call, response)
        self._parts: list[str] = []
        self._size = 0

    def received(self, request: Any) -> None:
        text = request.message
        self._size += len(text)
        limit = self.call.server.config.max_message
        if self._size > limit:
            self.call.finish(
                Code.RESOURCE_EXHAUSTED,
                f"the concatenated messages are longer than max ({limit} bytes,"
                " [grpc] max_message)",
            )
            return
        self._parts.append(text)

    def ended(self) -> None:
        self.call.reply(self.response(message="".join(self._parts)))


class _Bidirectional(_Echo):
    def received(self, request: Any) -> None:
        self.call.send(self.response(message=request.message))


def echoMethods(schema: Schema) -> list[Method]:
    """
    The echo service's methods.
    """
    request = schema.message(f"{ECHO_PACKAGE}.EchoRequest")
    response = schema.message(f"{ECHO_PACKAGE}.EchoResponse")
    kinds: list[tuple[str, type[_Echo], bool, bool]] = [
        ("UnaryEcho", _Unary, False, False),
        ("ServerStreamingEcho", _ServerStreaming, False, True),
        ("ClientStreamingEcho", _ClientStreaming, True, False),
        ("BidirectionalStreamingEcho", _Bidirectional, True, True),
    ]
    methods = []
    for name, kind, clientStreams, serverStreams in kinds:
        methods.append(
            Method(
                f"/{ECHO_SERVICE}/{name}".encode(),
                request,
                clientStreams,
                serverStreams,
                partial(kind, response=response),
                controlled=True,
                echoes=True,
            )
        )
    return methods
