# -*- test-case-name: tests.grpc.test_controls -*-
"""
What an echo call's request metadata asks of its answer (the names are
L{echohub.controls}'s): how many messages and how far apart
(C{echo-count}, C{echo-interval-ms}), a delay (C{echo-delay-ms}), the
status to end with (C{echo-status}, C{echo-message}), trailers
(C{echo-trailer-*}); and the rest of the metadata, echoed back as response
headers.

Each bounded control is checked against its C{[grpc]} setting: over it, or
not a number, the call ends with C{INVALID_ARGUMENT} naming the setting,
never a silent clamp.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from echohub.config import GRPCConfig
from echohub.controls import (
    ECHO_COUNT,
    ECHO_DELAY_MS,
    ECHO_INTERVAL_MS,
    ECHO_MESSAGE,
    ECHO_STATUS,
    ECHO_TRAILER_PREFIX,
)
from echohub.grpc._wire import Code, GRPCError, reservedName
from echohub.http import HIDDEN, SENSITIVE_HEADERS

_COUNT = ECHO_COUNT.encode()
_DELAY = ECHO_DELAY_MS.encode()
_INTERVAL = ECHO_INTERVAL_MS.encode()
_STATUS = ECHO_STATUS.encode()
_MESSAGE = ECHO_MESSAGE.encode()
_TRAILER = ECHO_TRAILER_PREFIX.encode()
_HIDDEN = HIDDEN.encode()


@dataclass(frozen=True)
class Controls:
    """
    What one echo call was asked to do.

    @ivar count: how many times a streamed answer repeats the message.
    @ivar interval: seconds between those messages.
    @ivar delay: seconds to wait before answering.
    @ivar status: the status to end with, or L{None} for the call's own.
    @ivar message: the status message to end with.
    @ivar headers: the metadata to echo as response headers.
    @ivar trailers: the trailers to add (from C{echo-trailer-*}).
    """

    count: int = 1
    interval: float = 0.0
    delay: float = 0.0
    status: Code | None = None
    message: str = ""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)


NONE = Controls()
"""
No control: a call of a service that takes none (health, reflection).
"""


def _invalid(message: str) -> GRPCError:
    return GRPCError(Code.INVALID_ARGUMENT, message)


def _number(name: bytes, value: bytes, most: float, bound: str) -> int:
    """
    The non-negative integer C{value} of control C{name}, at most C{most}.

    @param bound: what sets C{most}, for the error message.
    """
    text = value.decode("ascii", "replace").strip()
    if not text.isdigit() or len(text) > 12:
        raise _invalid(f"{name.decode()} must be a non-negative integer, not {text!r}")
    number = int(text)
    if number > most:
        raise _invalid(
            f"{name.decode()} {number} is over the limit of {most:g} ({bound})"
        )
    return number


def parseControls(
    metadata: Sequence[tuple[bytes, bytes]], config: GRPCConfig, showSensitive: bool
) -> Controls:
    """
    Read the controls in C{metadata} (the request's custom metadata: no
    reserved name), and the headers to echo.

    @param showSensitive: echo credential and cookie values rather than
        L{HIDDEN}.
    @raise GRPCError: C{INVALID_ARGUMENT}, naming the control and, for a
        bound, its setting.
    """
    count = 1
    interval = delay = 0.0
    status: Code | None = None
    message = ""
    headers = []
    trailers = []
    for name, value in metadata:
        if name[:13] == _TRAILER:
            trailer = name[13:]
            if not trailer or reservedName(trailer):
                raise _invalid(
                    f"{name.decode()} would set the reserved trailer"
                    f" {trailer.decode()!r}"
                )
            trailers.append((trailer, value))
            continue
        if name == _COUNT:
            count = _number(
                name, value, config.max_stream_count, "[grpc] max_stream_count"
            )
        elif name == _INTERVAL:
            interval = (
                _number(
                    name,
                    value,
                    config.max_stream_interval * 1000,
                    "[grpc] max_stream_interval",
                )
                / 1000
            )
        elif name == _DELAY:
            delay = (
                _number(name, value, config.max_delay * 1000, "[grpc] max_delay") / 1000
            )
        elif name == _STATUS:
            status = Code(_number(name, value, max(Code), "status codes are 0-16"))
        elif name == _MESSAGE:
            message = value.decode("utf-8", "replace")
        if name in SENSITIVE_HEADERS and not showSensitive:
            value = _HIDDEN
        headers.append((name, value))
    return Controls(count, interval, delay, status, message, headers, trailers)
