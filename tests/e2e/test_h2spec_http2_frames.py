"""
HTTP/2 conformance, h2spec's "http2" group, RFC 9113 sections 6 to 8: each
frame type's rules (DATA to CONTINUATION), SETTINGS and flow control, error
codes, and the HTTP rules of requests (pseudo-header and connection-specific
fields, malformed requests, server push), over h2c and TLS against a real
echohub.  See L{tests.h2conformance} for the suite's rules.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from h2.settings import SettingCodes
from hyperframe.frame import DataFrame

from tests.h2conformance import (
    CANCEL,
    FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR,
    PING_DATA,
    PROTOCOL_ERROR,
    STREAM_CLOSED,
    Cases,
    Fields,
    Run,
    conformanceTests,
    dummy,
    headersInHeaderBlock,
    malformed,
    openStream,
    plus,
    priorityInHeaderBlock,
    request,
    trailers,
)
from tests.h2frames import (
    GOAWAY,
    HEADERS,
    PING,
    PRIORITY,
    PUSH_PROMISE,
    RST_STREAM,
    SETTINGS,
    WINDOW_UPDATE,
    FrameClient,
    Target,
)

pytestmark = pytest.mark.e2e

CASES = Cases()


test_conformance, test_caseList = conformanceTests(CASES, {"http2": 62})


@CASES.case("http2/6.1/1", "Sends a DATA frame with 0x0 stream identifier")
def dataStreamZero(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.1: DATA on stream 0 MUST be a connection error of
    type PROTOCOL_ERROR.
    """
    client.data(0, b"test")
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case(
    "http2/6.1/2",
    'Sends a DATA frame on the stream that is not in "open" or'
    ' "half-closed (local)" state',
)
def dataNotOpen(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.1: DATA on a stream neither open nor half-closed
    (local) MUST be a stream error of type STREAM_CLOSED.
    """
    client.headers(1, request(target, "POST"))
    client.data(1, b"test")
    client.expectStreamError(1, STREAM_CLOSED)


@CASES.case("http2/6.1/3", "Sends a DATA frame with invalid pad length")
def dataBadPadding(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.1: padding as long as the payload or longer MUST be a
    connection error of type PROTOCOL_ERROR (here: 5 octets, pad length 6).
    """
    client.headers(
        1, [*request(target, "POST"), ("content-length", "4")], endStream=False
    )
    client.raw(0x0, 0x9, 1, b"\x06Test")
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case(
    "http2/6.2/1",
    "Sends a HEADERS frame without the END_HEADERS flag, and a PRIORITY frame",
)
def headersThenPriority(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.2: HEADERS without END_HEADERS MUST be followed by a
    CONTINUATION on the same stream; anything else is a connection error of
    type PROTOCOL_ERROR.
    """
    priorityInHeaderBlock(client, target)


@CASES.case(
    "http2/6.2/2",
    "Sends a HEADERS frame to another stream while sending a HEADERS frame",
)
def headersThenHeaders(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.2: a frame on another stream after HEADERS without
    END_HEADERS is a connection error of type PROTOCOL_ERROR.
    """
    headersInHeaderBlock(client, target)


@CASES.case("http2/6.2/3", "Sends a HEADERS frame with 0x0 stream identifier")
def headersStreamZero(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.2: HEADERS on stream 0 MUST be a connection error of
    type PROTOCOL_ERROR.
    """
    client.raw(HEADERS, 0x5, 0, client.encode(request(target)))
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case("http2/6.2/4", "Sends a HEADERS frame with invalid pad length")
def headersBadPadding(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.2: padding that exceeds the room left for the header
    block MUST be treated as a PROTOCOL_ERROR.
    """
    block = client.encode(request(target))
    client.raw(HEADERS, 0x0D, 1, bytes([len(block) + 2]) + block)
    client.expectStreamError(1, PROTOCOL_ERROR)


@CASES.case("http2/6.3/1", "Sends a PRIORITY frame with 0x0 stream identifier")
def priorityStreamZero(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.3: PRIORITY on stream 0 MUST be a connection error of
    type PROTOCOL_ERROR.
    """
    client.priority(0, 0, 255)
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case("http2/6.3/2", "Sends a PRIORITY frame with a length other than 5 octets")
def priorityBadLength(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.3: a PRIORITY frame not 5 octets long MUST be a
    stream error of type FRAME_SIZE_ERROR.
    """
    client.headers(1, request(target))
    client.raw(PRIORITY, 0, 1, b"\x80\x00\x00\x01")
    client.expectStreamError(1, FRAME_SIZE_ERROR)


@CASES.case("http2/6.4/1", "Sends a RST_STREAM frame with 0x0 stream identifier")
def rstStreamZero(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.4: RST_STREAM on stream 0 MUST be a connection error
    of type PROTOCOL_ERROR.
    """
    client.rstStream(0, CANCEL)
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case("http2/6.4/2", "Sends a RST_STREAM frame on a idle stream")
def rstIdle(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.4: RST_STREAM on an idle stream MUST be a connection
    error of type PROTOCOL_ERROR.
    """
    client.rstStream(1, CANCEL)
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case("http2/6.4/3", "Sends a RST_STREAM frame with a length other than 4 octets")
def rstBadLength(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.4: a RST_STREAM not 4 octets long MUST be a
    connection error of type FRAME_SIZE_ERROR (h2spec accepts it on the
    stream too).
    """
    client.headers(1, request(target))
    client.raw(RST_STREAM, 0, 1, b"\0\0\0")
    client.expectStreamError(1, FRAME_SIZE_ERROR)


@CASES.case(
    "http2/6.5/1",
    "Sends a SETTINGS frame with ACK flag and payload",
)
def settingsAckPayload(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.5: a SETTINGS frame with ACK and a non-zero length
    MUST be a connection error of type FRAME_SIZE_ERROR.
    """
    client.raw(SETTINGS, 0x1, 0, b"\0")
    client.expectConnectionError(FRAME_SIZE_ERROR)


@CASES.case(
    "http2/6.5/2", "Sends a SETTINGS frame with a stream identifier other than 0x0"
)
def settingsOnStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.5: SETTINGS on a stream other than 0 MUST be a
    connection error of type PROTOCOL_ERROR.
    """
    client.raw(SETTINGS, 0, 1, b"\x00\x03\x00\x00\x00\x64")
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case(
    "http2/6.5/3",
    "Sends a SETTINGS frame with a length other than a multiple of 6 octets",
)
def settingsBadLength(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.5: a SETTINGS length not a multiple of 6 MUST be a
    connection error of type FRAME_SIZE_ERROR (h2spec also accepts
    PROTOCOL_ERROR, a badly formed SETTINGS frame).
    """
    client.raw(SETTINGS, 0, 0, b"\x00\x03\x00")
    client.expectConnectionError(FRAME_SIZE_ERROR, PROTOCOL_ERROR)


def badSetting(setting: int, value: int, code: int) -> Run:
    """
    A SETTINGS frame with C{setting} at C{value}, expected to be a
    connection error with C{code}.
    """

    def run(client: FrameClient, target: Target) -> None:
        client.settings((setting, value))
        client.expectConnectionError(code)

    return run


for number, description, settingArgs, rfc in [
    (
        1,
        "SETTINGS_ENABLE_PUSH (0x2): Sends the value other than 0 or 1",
        (SettingCodes.ENABLE_PUSH, 2, PROTOCOL_ERROR),
        "SETTINGS_ENABLE_PUSH other than 0 or 1 MUST be a connection error"
        " of type PROTOCOL_ERROR",
    ),
    (
        2,
        "SETTINGS_INITIAL_WINDOW_SIZE (0x4): Sends the value above the maximum"
        " flow control window size",
        (SettingCodes.INITIAL_WINDOW_SIZE, 2**31, FLOW_CONTROL_ERROR),
        "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 MUST be a connection error"
        " of type FLOW_CONTROL_ERROR",
    ),
    (
        3,
        "SETTINGS_MAX_FRAME_SIZE (0x5): Sends the value below the initial value",
        (SettingCodes.MAX_FRAME_SIZE, 16383, PROTOCOL_ERROR),
        "SETTINGS_MAX_FRAME_SIZE below 2^14 MUST be a connection error of"
        " type PROTOCOL_ERROR",
    ),
    (
        4,
        "SETTINGS_MAX_FRAME_SIZE (0x5): Sends the value above the maximum"
        " allowed frame size",
        (SettingCodes.MAX_FRAME_SIZE, 2**24, PROTOCOL_ERROR),
        "SETTINGS_MAX_FRAME_SIZE above 2^24-1 MUST be a connection error of"
        " type PROTOCOL_ERROR",
    ),
]:
    CASES.add(
        f"http2/6.5.2/{number}",
        description,
        badSetting(*settingArgs),
        f"RFC 9113 section 6.5.2: {rfc}.",
    )


@CASES.case("http2/6.5.2/5", "Sends a SETTINGS frame with unknown identifier")
def unknownSetting(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.5.2: a setting with an unknown identifier MUST be
    ignored; the PING after it is answered.
    """
    client.settings((0xFF, 1))
    client.ping(b"\0" * 8)
    client.expectPingAck(b"\0" * 8)


@CASES.case("http2/6.5.3/1", "Sends multiple values of SETTINGS_INITIAL_WINDOW_SIZE")
def settingsInOrder(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.5.3: the values of a SETTINGS frame MUST be processed
    in order: INITIAL_WINDOW_SIZE 100 then 1 leaves a window of 1, so the
    response's first DATA frame is 1 octet.
    """
    client.settings(
        (SettingCodes.INITIAL_WINDOW_SIZE, 100), (SettingCodes.INITIAL_WINDOW_SIZE, 1)
    )
    client.expectSettingsAck()
    client.headers(1, request(target))
    client.expectData(1, 1)


@CASES.case("http2/6.5.3/2", "Sends a SETTINGS frame without ACK flag")
def settingsAcked(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.5.3: once the values are processed the recipient
    MUST immediately emit SETTINGS with ACK.
    """
    client.settings((SettingCodes.ENABLE_PUSH, 0))
    client.expectSettingsAck()


@CASES.case("http2/6.7/1", "Sends a PING frame")
def http2Ping(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.7: a PING without ACK MUST be answered with PING ACK
    and an identical payload.
    """
    client.ping(PING_DATA)
    client.expectPingAck(PING_DATA)


@CASES.case("http2/6.7/2", "Sends a PING frame with ACK")
def pingAckNotAnswered(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.7: an endpoint MUST NOT respond to a PING with ACK:
    the first PING the server sends acknowledges the second one sent.
    """
    client.ping(b"invalid\0", ack=True)
    client.ping(PING_DATA)
    client.expectPingAck(PING_DATA)


@CASES.case(
    "http2/6.7/3",
    "Sends a PING frame with a stream identifier field value other than 0x0",
)
def pingOnStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.7: PING on a stream other than 0 MUST be a connection
    error of type PROTOCOL_ERROR.
    """
    client.raw(PING, 0, 1, b"\0" * 8)
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case("http2/6.7/4", "Sends a PING frame with a length field value other than 8")
def pingBadLength(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.7: a PING not 8 octets long MUST be a connection
    error of type FRAME_SIZE_ERROR.
    """
    client.raw(PING, 0, 0, b"\0" * 6)
    client.expectConnectionError(FRAME_SIZE_ERROR)


@CASES.case(
    "http2/6.8/1", "Sends a GOAWAY frame with a stream identifier other than 0x0"
)
def goAwayOnStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.8: GOAWAY on a stream other than 0 MUST be a
    connection error of type PROTOCOL_ERROR.
    """
    client.raw(GOAWAY, 0, 1, b"\0" * 8)
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case(
    "http2/6.9/1",
    "Sends a WINDOW_UPDATE frame with a flow control window increment of 0",
)
def windowUpdateZero(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9: an increment of 0 on the connection's window MUST
    be a connection error of type PROTOCOL_ERROR.
    """
    client.windowUpdate(0, 0)
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case(
    "http2/6.9/2",
    "Sends a WINDOW_UPDATE frame with a flow control window increment of 0 on a stream",
)
def windowUpdateZeroStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9: an increment of 0 on a stream MUST be a stream
    error of type PROTOCOL_ERROR.
    """
    openStream(client, target)
    client.windowUpdate(1, 0)
    client.expectStreamError(1, PROTOCOL_ERROR)


@CASES.case(
    "http2/6.9/3", "Sends a WINDOW_UPDATE frame with a length other than 4 octets"
)
def windowUpdateBadLength(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9: a WINDOW_UPDATE not 4 octets long MUST be a
    connection error of type FRAME_SIZE_ERROR.
    """
    client.raw(WINDOW_UPDATE, 0, 0, b"\0\0\x01")
    client.expectConnectionError(FRAME_SIZE_ERROR)


@CASES.case(
    "http2/6.9.1/1",
    "Sends SETTINGS frame to set the initial window size to 1 and sends HEADERS frame",
)
def windowOfOne(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9.1: the sender MUST NOT send a flow-controlled frame
    larger than the window: with an initial window of 1, the first DATA is
    1 octet.
    """
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 1))
    client.expectSettingsAck()
    client.headers(1, request(target))
    client.expectData(1, 1)


@CASES.case(
    "http2/6.9.1/2",
    "Sends multiple WINDOW_UPDATE frames increasing the flow control window to"
    " above 2^31-1",
)
def connectionWindowOverflow(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9.1: a WINDOW_UPDATE that takes the connection's
    window over 2^31-1 MUST end the connection with GOAWAY
    FLOW_CONTROL_ERROR.
    """
    client.windowUpdate(0, 2**31 - 1)
    client.windowUpdate(0, 2**31 - 1)
    client.expectGoAway(FLOW_CONTROL_ERROR)


@CASES.case(
    "http2/6.9.1/3",
    "Sends multiple WINDOW_UPDATE frames increasing the flow control window to"
    " above 2^31-1 on a stream",
)
def streamWindowOverflow(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9.1: a WINDOW_UPDATE that takes a stream's window
    over 2^31-1 MUST reset the stream with RST_STREAM FLOW_CONTROL_ERROR.
    """
    openStream(client, target)
    client.windowUpdate(1, 2**31 - 1)
    client.windowUpdate(1, 2**31 - 1)
    client.expectRstStream(1, FLOW_CONTROL_ERROR)


@CASES.case(
    "http2/6.9.2/1", "Changes SETTINGS_INITIAL_WINDOW_SIZE after sending HEADERS frame"
)
def initialWindowChanged(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9.2: a change of SETTINGS_INITIAL_WINDOW_SIZE MUST
    adjust every stream's window: from 0 to 1 after the request, the
    response's first DATA is 1 octet.
    """
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 0))
    client.expectSettingsAck()
    client.headers(1, request(target))
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 1))
    client.expectData(1, 1)


@CASES.case("http2/6.9.2/2", "Sends a SETTINGS frame for window size to be negative")
def negativeWindow(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9.2: the sender MUST track a negative window: after 3
    octets sent on a window of 3, a new initial window of 2 leaves -1, and a
    WINDOW_UPDATE of 2 allows exactly 1 more octet.
    """
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 3))
    client.expectSettingsAck()
    client.headers(1, request(target))
    client.expectFrame(DataFrame)
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 2))
    client.expectSettingsAck()
    client.windowUpdate(1, 2)
    client.expectData(1, 1)


@CASES.case(
    "http2/6.9.2/3",
    "Sends a SETTINGS_INITIAL_WINDOW_SIZE settings with an exceeded maximum window"
    " size value",
)
def initialWindowTooLarge(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9.2: a SETTINGS_INITIAL_WINDOW_SIZE that takes a
    window over 2^31-1 MUST be a connection error of type
    FLOW_CONTROL_ERROR.
    """
    client.raw(SETTINGS, 0, 0, b"\x00\x04\x80\x00\x00\x00")
    client.expectConnectionError(FLOW_CONTROL_ERROR)


@CASES.case(
    "http2/6.10/1", "Sends multiple CONTINUATION frames preceded by a HEADERS frame"
)
def continuationsAfterHeaders(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.10: any number of CONTINUATION frames may follow
    HEADERS without END_HEADERS; the request is answered.
    """
    client.headers(1, request(target), endHeaders=False)
    client.continuation(1, client.encode(dummy(1)), endHeaders=False)
    client.continuation(1, client.encode(dummy(1)), endHeaders=True)
    client.expectHeaders(1)


@CASES.case(
    "http2/6.10/2",
    "Sends a CONTINUATION frame followed by any frame other than CONTINUATION",
)
def continuationThenData(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.10: a CONTINUATION without END_HEADERS MUST be
    followed by another CONTINUATION; anything else is a connection error
    of type PROTOCOL_ERROR.
    """
    client.headers(1, request(target, "POST"), endStream=False, endHeaders=False)
    client.continuation(1, client.encode(dummy(1)), endHeaders=False)
    client.data(1, b"test")
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case("http2/6.10/3", "Sends a CONTINUATION frame with 0x0 stream identifier")
def continuationStreamZero(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.10: CONTINUATION on stream 0 MUST be a connection
    error of type PROTOCOL_ERROR.
    """
    client.headers(1, request(target), endHeaders=False)
    client.continuation(0, client.encode(dummy(1)), endHeaders=True)
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case(
    "http2/6.10/4",
    "Sends a CONTINUATION frame preceded by a HEADERS frame with END_HEADERS flag",
)
def continuationAfterEndHeaders(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.10: a CONTINUATION not preceded by HEADERS,
    PUSH_PROMISE or CONTINUATION without END_HEADERS MUST be a connection
    error of type PROTOCOL_ERROR.
    """
    client.headers(1, request(target))
    client.continuation(1, client.encode(dummy(1)), endHeaders=True)
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case(
    "http2/6.10/5",
    "Sends a CONTINUATION frame preceded by a CONTINUATION frame with END_HEADERS flag",
)
def continuationAfterEndedContinuation(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.10: a CONTINUATION after one with END_HEADERS MUST be
    a connection error of type PROTOCOL_ERROR.
    """
    client.headers(1, request(target), endHeaders=False)
    client.continuation(1, client.encode(dummy(1)), endHeaders=True)
    client.continuation(1, client.encode(dummy(1)), endHeaders=True)
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case("http2/6.10/6", "Sends a CONTINUATION frame preceded by a DATA frame")
def continuationAfterData(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.10: a CONTINUATION after DATA MUST be a connection
    error of type PROTOCOL_ERROR (the DATA inside the header block already
    is one).
    """
    client.headers(1, request(target, "POST"), endStream=False, endHeaders=False)
    client.data(1, b"test")
    client.continuation(1, client.encode(dummy(1)), endHeaders=False)
    client.continuation(0, client.encode(dummy(1)), endHeaders=True)
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case("http2/7/1", "Sends a GOAWAY frame with unknown error code")
def goAwayUnknownCode(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 7: unknown error codes MUST NOT trigger special
    behaviour: after a GOAWAY with code 0xff a PING is answered (or the
    connection closed).
    """
    client.goAway(0, 0xFF)
    client.ping(PING_DATA)
    client.expectPingAckOrClose(PING_DATA)


@CASES.case("http2/7/2", "Sends a RST_STREAM frame with unknown error code")
def rstUnknownCode(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 7: a RST_STREAM with code 0xff ends the stream and
    nothing more; a PING is answered (or the connection closed).
    """
    client.headers(1, request(target, "POST"), endStream=False)
    client.rstStream(1, 0xFF)
    client.ping(b"\0" * 8)
    client.expectPingAckOrClose(b"\0" * 8)


def without(name: str) -> Callable[[Target], Fields]:
    """
    h2spec's request without C{name}.
    """
    return lambda t: [f for f in request(t) if f[0] != name]


def twice(name: str) -> Callable[[Target], Fields]:
    """
    h2spec's request with C{name} repeated at the end.
    """
    return lambda t: [*request(t), *[f for f in request(t) if f[0] == name]]


CASES.malformed(
    "http2/8.1/1",
    "Sends a second HEADERS frame without the END_STREAM flag",
    "RFC 9113 section 8.1: a HEADERS frame without END_STREAM after the"
    " request's header section (a trailer section that does not end the"
    " stream)",
    trailers([("x-test", "ok")], endStream=False),
)
CASES.malformed(
    "http2/8.1.2/1",
    "Sends a HEADERS frame that contains the header field name in uppercase letters",
    "RFC 9113 section 8.2.1: a field name with uppercase letters (X-TEST)",
    malformed(plus(("X-TEST", "ok"))),
)
CASES.malformed(
    "http2/8.1.2.1/1",
    "Sends a HEADERS frame that contains a unknown pseudo-header field",
    "RFC 9113 section 8.3: an undefined pseudo-header field (:test)",
    malformed(plus((":test", "ok"))),
)
CASES.malformed(
    "http2/8.1.2.1/2",
    "Sends a HEADERS frame that contains the pseudo-header field defined for response",
    "RFC 9113 section 8.3: a response pseudo-header field (:status) in a request",
    malformed(plus((":status", "200"))),
)
CASES.malformed(
    "http2/8.1.2.1/3",
    "Sends a HEADERS frame that contains a pseudo-header field as trailers",
    "RFC 9113 section 8.3: a pseudo-header field (:method) in a trailer section",
    trailers([(":method", "POST")], endStream=True),
)
CASES.malformed(
    "http2/8.1.2.1/4",
    "Sends a HEADERS frame that contains a pseudo-header field that appears in a"
    " header block after a regular header field",
    "RFC 9113 section 8.3: a pseudo-header field after a regular field",
    malformed(lambda t: [("x-test", "ok"), *request(t)]),
)
CASES.malformed(
    "http2/8.1.2.2/1",
    "Sends a HEADERS frame that contains the connection-specific header field",
    "RFC 9113 section 8.2.2: a connection-specific field (connection: keep-alive)",
    malformed(plus(("connection", "keep-alive"))),
)
CASES.malformed(
    "http2/8.1.2.2/2",
    "Sends a HEADERS frame that contains the TE header field with any value other"
    ' than "trailers"',
    'RFC 9113 section 8.2.2: TE with a value other than "trailers"'
    ' ("trailers, deflate")',
    malformed(plus(("trailers", "test"), ("te", "trailers, deflate"))),
)
CASES.malformed(
    "http2/8.1.2.3/1",
    'Sends a HEADERS frame with empty ":path" pseudo-header field',
    "RFC 9113 section 8.3.1: an empty :path for an http or https URI",
    malformed(lambda t: [(n, "" if n == ":path" else v) for n, v in request(t)]),
)
for number, name in enumerate([":method", ":scheme", ":path"], start=2):
    CASES.malformed(
        f"http2/8.1.2.3/{number}",
        f'Sends a HEADERS frame that omits "{name}" pseudo-header field',
        f"RFC 9113 section 8.3.1: a request without {name}",
        malformed(without(name)),
    )
for number, name in enumerate([":method", ":scheme", ":path"], start=5):
    CASES.malformed(
        f"http2/8.1.2.3/{number}",
        f'Sends a HEADERS frame with duplicated "{name}" pseudo-header field',
        f"RFC 9113 section 8.3.1: {name} twice",
        malformed(twice(name)),
    )


def contentLengthMismatch(pieces: list[bytes]) -> Run:
    """
    A POST with C{content-length: 1} and C{pieces} as its DATA frames,
    expected to be a stream error of type PROTOCOL_ERROR.
    """

    def run(client: FrameClient, target: Target) -> None:
        client.headers(
            1, [*request(target, "POST"), ("content-length", "1")], endStream=False
        )
        for index, piece in enumerate(pieces):
            client.data(1, piece, endStream=index == len(pieces) - 1)
        client.expectStreamError(1, PROTOCOL_ERROR)

    return run


CASES.malformed(
    "http2/8.1.2.6/1",
    'Sends a HEADERS frame with the "content-length" header field which does not'
    " equal the DATA frame payload length",
    "RFC 9113 section 8.1.1: content-length 1 with 4 octets of DATA",
    contentLengthMismatch([b"test"]),
)
CASES.malformed(
    "http2/8.1.2.6/2",
    'Sends a HEADERS frame with the "content-length" header field which does not'
    " equal the sum of the multiple DATA frames payload length",
    "RFC 9113 section 8.1.1: content-length 1 with 4 + 4 octets of DATA",
    contentLengthMismatch([b"test", b"test"]),
)


@CASES.case("http2/8.2/1", "Sends a PUSH_PROMISE frame")
def pushPromise(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 8.4 (and 6.6): a server MUST treat a PUSH_PROMISE from
    a client as a connection error of type PROTOCOL_ERROR.
    """
    block = client.encode(request(target))
    client.raw(PUSH_PROMISE, 0x4, 1, b"\x00\x00\x00\x03" + block)
    client.expectConnectionError(PROTOCOL_ERROR)
