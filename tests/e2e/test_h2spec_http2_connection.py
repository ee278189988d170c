"""
HTTP/2 conformance, h2spec's "http2" group, RFC 9113 sections 3 to 5: the
connection preface, frame format and size, header blocks, stream states and
identifiers, concurrency, priority, error handling and extensions, over h2c
and TLS against a real echohub.  See L{tests.h2conformance} for the suite's
rules.
"""

from __future__ import annotations

import pytest
from h2.settings import SettingCodes
from hyperframe.frame import GoAwayFrame, PingFrame

from tests.h2conformance import (
    CANCEL,
    COMPRESSION_ERROR,
    FRAME_SIZE_ERROR,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    STREAM_CLOSED,
    UNKNOWN_FRAME,
    Cases,
    closeStream,
    conformanceTests,
    dummy,
    headersInHeaderBlock,
    openStream,
    priorityInHeaderBlock,
    request,
    serverPrefaceFirst,
)
from tests.h2frames import (
    PING,
    Closed,
    FrameClient,
    NotHTTP2,
    Target,
    TimedOut,
)

pytestmark = pytest.mark.e2e

CASES = Cases()


test_conformance, test_caseList = conformanceTests(CASES, {"http2": 33})


@CASES.case("http2/3.5/1", "Sends client connection preface", handshake=False)
def http2ClientPreface(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 3.4: the server connection preface, a SETTINGS frame,
    MUST be the first frame the server sends.
    """
    serverPrefaceFirst(client)


@CASES.case("http2/3.5/2", "Sends invalid connection preface", handshake=False)
def invalidPreface(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 3.4: an invalid connection preface MUST be treated as
    a connection error of type PROTOCOL_ERROR: GOAWAY PROTOCOL_ERROR or the
    connection closed.

    Over h2c the plain listener also serves HTTP/1.1 to a connection that
    does not start with the preface (nothing tells the two apart), so there
    an HTTP/1.1 4xx answer before the close is accepted too; h2spec, which
    cannot parse it as a frame, would count it a failure.
    """
    client.send(b"INVALID CONNECTION PREFACE\r\n\r\n", "INVALID CONNECTION PREFACE")
    if target.context is not None:
        client.expectConnectionError(PROTOCOL_ERROR)
        return
    expected = "GOAWAY(PROTOCOL_ERROR), an HTTP/1.1 4xx answer, then the close"
    while not isinstance(event := client.next(), Closed):
        if isinstance(event, NotHTTP2):
            if not event.data.startswith(b"HTTP/1.1 4"):
                raise client.fail(expected, event)
            # The rest of the answer, if it came in pieces, then the close.
            while not isinstance(rest := client.next(), Closed):
                if not isinstance(rest, NotHTTP2):
                    raise client.fail("the close after the HTTP/1.1 answer", rest)
            return
        if isinstance(event, TimedOut):
            raise client.fail(expected, event)
        if isinstance(event, GoAwayFrame) and event.error_code != PROTOCOL_ERROR:
            raise client.fail(expected, event)


@CASES.case("http2/4.1/1", "Sends a frame with unknown type")
def unknownFrameType(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.1: a frame of unknown type MUST be ignored and
    discarded; the PING after it is answered.
    """
    client.send(UNKNOWN_FRAME)
    client.ping(b"\0" * 8)
    client.expectPingAck(b"\0" * 8)


@CASES.case("http2/4.1/2", "Sends a frame with undefined flag")
def undefinedFlag(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.1: flags undefined for a frame type MUST be ignored;
    a PING with flags 0x16 (ACK unset) is answered.
    """
    client.raw(PING, 0x16, 0, b"\0" * 8)
    client.expectFrame(PingFrame)


@CASES.case("http2/4.1/3", "Sends a frame with reserved field bit")
def reservedBit(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.1: the reserved bit of the stream identifier MUST be
    ignored when receiving; a PING with it set is answered.
    """
    client.raw(PING, 0x16, 0x80000000, b"\0" * 8)
    client.expectFrame(PingFrame)


@CASES.case("http2/4.2/1", "Sends a DATA frame with 2^14 octets in length")
def dataMaxFrame(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.2: every endpoint MUST be capable of receiving frames
    of 2^14 octets; a request with such a DATA frame is answered.
    """
    client.headers(1, request(target, "POST"), endStream=False)
    client.data(1, b"x" * 16384)
    client.expectHeaders(1)


@CASES.case(
    "http2/4.2/2",
    "Sends a large size DATA frame that exceeds the SETTINGS_MAX_FRAME_SIZE",
)
def dataTooLarge(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.2: a frame over SETTINGS_MAX_FRAME_SIZE MUST get a
    FRAME_SIZE_ERROR (a stream error for DATA, or a connection error).
    """
    client.headers(1, request(target, "POST"), endStream=False)
    client.data(1, b"x" * 16385)
    client.expectStreamError(1, FRAME_SIZE_ERROR)


@CASES.case(
    "http2/4.2/3",
    "Sends a large size HEADERS frame that exceeds the SETTINGS_MAX_FRAME_SIZE",
)
def headersTooLarge(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.2: a frame that carries a header block and exceeds
    SETTINGS_MAX_FRAME_SIZE MUST be a connection error of type
    FRAME_SIZE_ERROR.
    """
    block = client.encode([*request(target), *dummy(5)])
    assert len(block) > 16384
    client.headers(1, block)
    client.expectConnectionError(FRAME_SIZE_ERROR)


@CASES.case(
    "http2/4.3/1",
    "Sends invalid header block fragment",
)
def invalidHeaderBlock(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.3: a header block that cannot be decompressed MUST be
    a connection error of type COMPRESSION_ERROR.  The block is one octet,
    a literal with incremental indexing whose name and value are missing.
    """
    client.headers(1, b"\x40")
    client.expectConnectionError(COMPRESSION_ERROR)


@CASES.case("http2/4.3/2", "Sends a PRIORITY frame while sending the header blocks")
def priorityInsideHeaderBlock(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.3: a header block MUST be a contiguous sequence of
    frames; any other frame in between (here PRIORITY) is a connection
    error of type PROTOCOL_ERROR.
    """
    priorityInHeaderBlock(client, target)


@CASES.case(
    "http2/4.3/3",
    "Sends a HEADERS frame to another stream while sending the header blocks",
)
def headersInsideHeaderBlock(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 4.3: a frame from another stream inside a header block
    (here HEADERS on stream 3) is a connection error of type PROTOCOL_ERROR.
    """
    headersInHeaderBlock(client, target)


@CASES.case("http2/5.1/1", "idle: Sends a DATA frame")
def idleData(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (idle): a frame other than HEADERS or PRIORITY on
    an idle stream MUST be a connection error of type PROTOCOL_ERROR
    (section 6.1 says STREAM_CLOSED for DATA: h2spec accepts either).
    """
    client.data(1, b"test")
    client.expectStreamError(1, PROTOCOL_ERROR, STREAM_CLOSED)


@CASES.case("http2/5.1/2", "idle: Sends a RST_STREAM frame")
def idleRstStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (idle) and 6.4: RST_STREAM on an idle stream MUST
    be a connection error of type PROTOCOL_ERROR.
    """
    client.rstStream(1, CANCEL)
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case("http2/5.1/3", "idle: Sends a WINDOW_UPDATE frame")
def idleWindowUpdate(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (idle): WINDOW_UPDATE on an idle stream MUST be a
    connection error of type PROTOCOL_ERROR.
    """
    client.windowUpdate(1, 100)
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case("http2/5.1/4", "idle: Sends a CONTINUATION frame")
def idleContinuation(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (idle) and 6.10: CONTINUATION on an idle stream,
    with no header block open, MUST be a connection error of type
    PROTOCOL_ERROR.
    """
    client.continuation(1, client.encode(request(target)), endHeaders=True)
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case("http2/5.1/5", "half closed (remote): Sends a DATA frame")
def halfClosedData(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (half-closed (remote)): DATA after the client's
    END_STREAM MUST be a stream error of type STREAM_CLOSED.
    """
    client.headers(1, request(target))
    client.data(1, b"test")
    client.expectStreamError(1, STREAM_CLOSED)


@CASES.case("http2/5.1/6", "half closed (remote): Sends a HEADERS frame")
def halfClosedHeaders(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (half-closed (remote)): HEADERS after the client's
    END_STREAM MUST be a stream error of type STREAM_CLOSED.
    """
    client.headers(1, request(target))
    client.headers(1, request(target))
    client.expectStreamError(1, STREAM_CLOSED)


@CASES.case("http2/5.1/7", "half closed (remote): Sends a CONTINUATION frame")
def halfClosedContinuation(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (half-closed (remote)) and 6.10: a CONTINUATION
    after a complete header block is a stream error of type STREAM_CLOSED,
    or the connection error PROTOCOL_ERROR of section 6.10.
    """
    block = client.encode(request(target))
    client.headers(1, block)
    client.continuation(1, block, endHeaders=True)
    client.expectStreamError(1, STREAM_CLOSED, PROTOCOL_ERROR)


@CASES.case("http2/5.1/8", "closed: Sends a DATA frame after sending RST_STREAM frame")
def dataAfterReset(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (closed): a frame other than PRIORITY after the
    client's RST_STREAM MUST be a stream error of type STREAM_CLOSED.
    """
    openStream(client, target)
    client.rstStream(1, CANCEL)
    client.data(1, b"test")
    client.expectStreamError(1, STREAM_CLOSED)


@CASES.case(
    "http2/5.1/9", "closed: Sends a HEADERS frame after sending RST_STREAM frame"
)
def headersAfterReset(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (closed): HEADERS after the client's RST_STREAM
    MUST be a stream error of type STREAM_CLOSED.
    """
    openStream(client, target)
    client.rstStream(1, CANCEL)
    client.headers(1, request(target))
    client.expectStreamError(1, STREAM_CLOSED)


@CASES.case(
    "http2/5.1/10",
    "closed: Sends a CONTINUATION frame after sending RST_STREAM frame",
)
def continuationAfterReset(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (closed) and 6.10: a CONTINUATION after the
    client's RST_STREAM is a stream error of type STREAM_CLOSED, or the
    connection error PROTOCOL_ERROR of section 6.10.
    """
    openStream(client, target)
    client.rstStream(1, CANCEL)
    client.continuation(1, client.encode(dummy(1)), endHeaders=True)
    client.expectStreamError(1, STREAM_CLOSED, PROTOCOL_ERROR)


@CASES.case("http2/5.1/11", "closed: Sends a DATA frame")
def closedData(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (closed): a frame after END_STREAM both ways MUST
    be a connection error of type STREAM_CLOSED; for DATA h2spec also
    accepts the stream error STREAM_CLOSED (section 6.1).
    """
    closeStream(client, target)
    client.data(1, b"test")
    client.expectStreamError(1, STREAM_CLOSED)


@CASES.case("http2/5.1/12", "closed: Sends a HEADERS frame")
def closedHeaders(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (closed): HEADERS on a stream closed by END_STREAM
    both ways MUST be a connection error of type STREAM_CLOSED.
    """
    closeStream(client, target)
    client.headers(1, request(target))
    client.expectConnectionError(STREAM_CLOSED)


@CASES.case("http2/5.1/13", "closed: Sends a CONTINUATION frame")
def closedContinuation(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (closed) and 6.10: a CONTINUATION on a closed
    stream, with no header block open, is a connection error of type
    STREAM_CLOSED or PROTOCOL_ERROR.
    """
    closeStream(client, target)
    client.continuation(1, client.encode(dummy(1)), endHeaders=True)
    client.expectConnectionError(STREAM_CLOSED, PROTOCOL_ERROR)


@CASES.case("http2/5.1.1/1", "Sends even-numbered stream identifier")
def evenStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1.1: a client stream with an even identifier MUST be
    a connection error of type PROTOCOL_ERROR.
    """
    client.headers(2, request(target))
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case(
    "http2/5.1.1/2",
    "Sends stream identifier that is numerically smaller than previous",
)
def smallerStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1.1: a new stream's identifier MUST be larger than
    every one opened before; a smaller one is a connection error of type
    PROTOCOL_ERROR.
    """
    client.headers(5, request(target))
    client.headers(3, request(target))
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case(
    "http2/5.1.2/1",
    "Sends HEADERS frames that causes their advertised concurrent stream limit"
    " to be exceeded",
)
def tooManyStreams(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1.2: a HEADERS frame over the advertised
    SETTINGS_MAX_CONCURRENT_STREAMS MUST be a stream error of type
    PROTOCOL_ERROR or REFUSED_STREAM.  A zero initial window keeps every
    response open.
    """
    limit = client.serverSettings[SettingCodes.MAX_CONCURRENT_STREAMS]
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 0))
    block = client.encode(request(target))
    for index in range(limit + 1):
        client.headers(1 + 2 * index, block)
    client.expectStreamError(1 + 2 * limit, PROTOCOL_ERROR, REFUSED_STREAM)


@CASES.case("http2/5.3.1/1", "Sends HEADERS frame that depends on itself")
def headersDependsOnItself(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.3.1: a stream that depends on itself MUST be a
    stream error of type PROTOCOL_ERROR.
    """
    client.headers(1, request(target), dependsOn=1, weight=255)
    client.expectStreamError(1, PROTOCOL_ERROR)


@CASES.case("http2/5.3.1/2", "Sends PRIORITY frame that depend on itself")
def priorityDependsOnItself(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.3.1: a PRIORITY frame making a stream depend on
    itself MUST be a stream error of type PROTOCOL_ERROR.
    """
    client.priority(1, 1, 255)
    client.expectStreamError(1, PROTOCOL_ERROR)


@CASES.case("http2/5.4.1/1", "Sends an invalid PING frame for connection close")
def invalidPingCloses(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.4.1: after a connection error the endpoint MUST
    close the TCP connection (here a PING on stream 3).
    """
    client.raw(PING, 0, 3, b"\0" * 8)
    client.expectConnectionClosed()


@CASES.case("http2/5.4.1/2", "Sends an invalid PING frame to receive GOAWAY frame")
def invalidPingGoAway(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.4.1: an endpoint that encounters a connection error
    SHOULD first send a GOAWAY (h2spec's strict case; the code is
    PROTOCOL_ERROR, section 6.7).
    """
    client.raw(PING, 0, 3, b"\0" * 8)
    client.expectGoAway(PROTOCOL_ERROR)


@CASES.case("http2/5.5/1", "Sends an unknown extension frame")
def unknownExtension(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.5: unknown extension frames MUST be ignored; the
    PING after one is answered.
    """
    unknownFrameType(client, target)


@CASES.case(
    "http2/5.5/2", "Sends an unknown extension frame in the middle of a header block"
)
def unknownInHeaderBlock(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.5: an extension frame in the middle of a header block
    MUST be a connection error of type PROTOCOL_ERROR.
    """
    client.headers(1, request(target), endHeaders=False)
    client.send(UNKNOWN_FRAME)
    client.expectConnectionError(PROTOCOL_ERROR)
