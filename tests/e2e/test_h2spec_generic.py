"""
HTTP/2 conformance, h2spec's "generic" group: what an HTTP/2 server must
accept (the client preface, every frame type used properly in each stream
state, GET, HEAD, POST and trailers, every HPACK representation), over h2c
and TLS against a real echohub.  See L{tests.h2conformance} for the suite's
rules.
"""

from __future__ import annotations

import pytest
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hyperframe.frame import DataFrame

from tests.h2conformance import (
    CANCEL,
    PING_DATA,
    Cases,
    Run,
    closeStream,
    conformanceTests,
    openStream,
    request,
    serverPrefaceFirst,
)
from tests.h2frames import (
    FrameClient,
    Target,
)
from tests.hpackraw import (
    hpackIndexed,
    hpackLiteral,
    hpackTableSizeUpdate,
)

pytestmark = pytest.mark.e2e

CASES = Cases()


test_conformance, test_caseList = conformanceTests(CASES, {"generic": 44})


# generic: frames and requests a server must accept (h2spec "generic").


@CASES.case("generic/1/1", "Sends a client connection preface", handshake=False)
def clientPreface(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 3.4: the server connection preface is a SETTINGS frame
    that MUST be the first frame the server sends.
    """
    serverPrefaceFirst(client)


@CASES.case("generic/2/1", "Sends a PRIORITY frame on idle stream")
def priorityOnIdle(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (idle): PRIORITY may be received on an idle stream;
    the connection goes on (the PING is answered).
    """
    client.priority(1, 0, 255)
    client.ping(b"\0" * 8)
    client.expectPingAck(b"\0" * 8)


@CASES.case("generic/2/2", "Sends a WINDOW_UPDATE frame on half-closed (remote) stream")
def windowUpdateHalfClosed(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (half-closed (remote)): WINDOW_UPDATE may be
    received; with the stream's window opened by 1 the response's DATA
    flows.
    """
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 0))
    client.headers(1, request(target))
    client.windowUpdate(1, 1)
    client.expectFrame(DataFrame)


@CASES.case("generic/2/3", "Sends a PRIORITY frame on half-closed (remote) stream")
def priorityHalfClosed(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (half-closed (remote)): PRIORITY may be received;
    the stream goes on (its DATA flows once its window opens).
    """
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 0))
    client.headers(1, request(target))
    client.priority(1, 0, 255)
    client.windowUpdate(1, 1)
    client.expectFrame(DataFrame)


@CASES.case("generic/2/4", "Sends a RST_STREAM frame on half-closed (remote) stream")
def rstHalfClosed(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (half-closed (remote)): RST_STREAM may be
    received; the connection answers a PING (or is closed).
    """
    client.headers(1, request(target))
    client.rstStream(1, CANCEL)
    client.ping(b"\0" * 8)
    client.expectPingAckOrClose(b"\0" * 8)


@CASES.case("generic/2/5", "Sends a PRIORITY frame on closed stream")
def priorityOnClosed(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (closed): PRIORITY may be received on a closed
    stream; the connection goes on.
    """
    closeStream(client, target)
    client.priority(1, 0, 255)
    client.ping(b"\0" * 8)
    client.expectPingAck(b"\0" * 8)


@CASES.case("generic/3.1/1", "Sends a DATA frame")
def dataFrame(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.1: DATA carries a request's content; the request is
    answered.
    """
    client.headers(1, request(target, "POST"), endStream=False)
    client.data(1, b"test")
    client.expectHeaders(1)


@CASES.case("generic/3.1/2", "Sends multiple DATA frames")
def dataFrames(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.1: content in several DATA frames; the request is
    answered.
    """
    client.headers(1, request(target, "POST"), endStream=False)
    client.data(1, b"test", endStream=False)
    client.data(1, b"test")
    client.expectHeaders(1)


@CASES.case("generic/3.1/3", "Sends a DATA frame with padding")
def dataPadded(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.1: DATA MAY be padded; the request is answered.
    """
    client.headers(1, request(target, "POST"), endStream=False)
    client.data(1, b"test", padLength=5)
    client.expectHeaders(1)


@CASES.case("generic/3.2/1", "Sends a HEADERS frame")
def headersFrame(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.2: HEADERS opens a stream; the request is answered.
    """
    client.headers(1, request(target))
    client.expectHeaders(1)


@CASES.case("generic/3.2/2", "Sends a HEADERS frame with padding")
def headersPadded(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.2: HEADERS MAY be padded; the request is answered.
    """
    client.headers(1, request(target), padLength=8)
    client.expectHeaders(1)


@CASES.case("generic/3.2/3", "Sends a HEADERS frame with priority")
def headersPriority(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.2: HEADERS MAY carry the (deprecated) priority
    fields, which a server may ignore; the request is answered.
    """
    client.headers(1, request(target), dependsOn=0, weight=255)
    client.expectHeaders(1)


def priorityThenRequest(
    streamID: int, dependsOn: int, weight: int, exclusive: bool
) -> Run:
    """
    A PRIORITY frame on C{streamID} (C{weight} is the octet sent), then a
    request on stream 1, expected to be answered.
    """

    def run(client: FrameClient, target: Target) -> None:
        client.priority(streamID, dependsOn, weight, exclusive)
        client.headers(1, request(target))
        client.expectHeaders(1)

    return run


for number, description, priorityArgs, rfc in [
    (1, "Sends a PRIORITY frame with priority 1", (1, 0, 0, False), "weight 1"),
    (2, "Sends a PRIORITY frame with priority 256", (1, 0, 255, False), "weight 256"),
    (
        3,
        "Sends a PRIORITY frame with stream dependency",
        (3, 1, 0, False),
        "stream 3 depending on stream 1",
    ),
    (4, "Sends a PRIORITY frame with exclusive", (1, 0, 0, True), "the E bit set"),
    (
        5,
        "Sends a PRIORITY frame for an idle stream, then send a HEADER frame"
        " for a lower stream ID",
        (3, 0, 255, False),
        "idle stream 3, then a request on stream 1",
    ),
]:
    CASES.add(
        f"generic/3.3/{number}",
        description,
        priorityThenRequest(*priorityArgs),
        f"RFC 9113 section 6.3: PRIORITY ({rfc}) can be sent in any stream"
        " state and a server may ignore it; a request on stream 1 is then"
        " answered.",
    )


@CASES.case("generic/3.4/1", "Sends a RST_STREAM frame")
def rstStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.4: RST_STREAM ends a stream; the connection answers a
    PING (or is closed).
    """
    openStream(client, target)
    client.rstStream(1, CANCEL)
    client.ping(b"\0" * 8)
    client.expectPingAckOrClose(b"\0" * 8)


@CASES.case("generic/3.5/1", "Sends a SETTINGS frame")
def settingsFrame(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.5: SETTINGS with every defined parameter at a valid
    value is acknowledged (section 6.5.3).
    """
    client.settings(
        (SettingCodes.HEADER_TABLE_SIZE, 4096),
        (SettingCodes.ENABLE_PUSH, 1),
        (SettingCodes.MAX_CONCURRENT_STREAMS, 100),
        (SettingCodes.INITIAL_WINDOW_SIZE, 65535),
        (SettingCodes.MAX_FRAME_SIZE, 16384),
        (SettingCodes.MAX_HEADER_LIST_SIZE, 100),
    )
    client.expectSettingsAck()


@CASES.case("generic/3.7/1", "Sends a PING frame")
def pingFrame(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.7: a PING is answered with PING ACK and the same
    payload.
    """
    client.ping(PING_DATA)
    client.expectPingAck(PING_DATA)


@CASES.case("generic/3.8/1", "Sends a GOAWAY frame")
def goAwayFrame(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.8: a client's GOAWAY NO_ERROR is accepted; a PING
    after it is still answered (or the connection is closed).
    """
    client.goAway(0, ErrorCodes.NO_ERROR, b"h2spec")
    client.ping(PING_DATA)
    client.expectPingAckOrClose(PING_DATA)


@CASES.case("generic/3.9/1", "Sends a WINDOW_UPDATE frame with stream ID 0")
def windowUpdateConnection(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9: WINDOW_UPDATE on stream 0 grows the connection's
    window; the connection goes on.
    """
    client.windowUpdate(0, 1)
    client.ping(b"\0" * 8)
    client.expectPingAck(b"\0" * 8)


@CASES.case("generic/3.9/2", "Sends a WINDOW_UPDATE frame with stream ID 1")
def windowUpdateStream(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.9: WINDOW_UPDATE on an open stream; the request is
    answered.
    """
    client.headers(1, request(target))
    client.windowUpdate(1, 1)
    client.expectHeaders(1)


@CASES.case("generic/3.10/1", "Sends a CONTINUATION frame")
def continuationFrame(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.10: a header block split over HEADERS and one
    CONTINUATION; the request is answered.
    """
    block = client.encode(request(target))
    client.headers(1, block[:5], endHeaders=False)
    client.continuation(1, block[5:], endHeaders=True)
    client.expectHeaders(1)


@CASES.case("generic/3.10/2", "Sends multiple CONTINUATION frames")
def continuationFrames(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.10: any number of CONTINUATION frames; the request is
    answered.
    """
    block = client.encode(request(target))
    client.headers(1, block[:5], endHeaders=False)
    client.continuation(1, block[5:10], endHeaders=False)
    client.continuation(1, block[10:], endHeaders=True)
    client.expectHeaders(1)


@CASES.case("generic/4/1", "Sends a GET request")
def getRequest(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 8.1: a GET request is answered on its stream.
    """
    client.headers(1, request(target))
    client.expectHeaders(1)


@CASES.case("generic/4/2", "Sends a HEAD request")
def headRequest(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 8.1: a HEAD request is answered on its stream.
    """
    client.headers(1, request(target, "HEAD"))
    client.expectHeaders(1)


@CASES.case("generic/4/3", "Sends a POST request")
def postRequest(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 8.1: a POST request with content is answered on its
    stream.
    """
    client.headers(1, request(target, "POST"), endStream=False)
    client.data(1, b"test")
    client.expectHeaders(1)


@CASES.case("generic/4/4", "Sends a POST request with trailers")
def postTrailers(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 8.1: a request may end with a trailer section (a
    HEADERS frame with END_STREAM after the DATA); it is answered.
    """
    client.headers(
        1, [*request(target, "POST"), ("trailer", "x-test")], endStream=False
    )
    client.data(1, b"test", endStream=False)
    client.headers(1, [("x-test", "ok")])
    client.expectHeaders(1)


def hpackAccepted(representation: bytes, first: bool) -> Run:
    """
    A request whose header block has C{representation} after (or, with
    C{first}, before) the usual fields, expected to be answered.
    """

    def run(client: FrameClient, target: Target) -> None:
        block = client.encode(request(target))
        block = representation + block if first else block + representation
        client.headers(1, block)
        client.expectHeaders(1)

    return run


USER_AGENT = 58
"""
C{user-agent}'s index in the static table (RFC 7541 appendix A).
"""

HPACK_ACCEPTED: list[tuple[str, bytes, bool, str]] = [
    # h2spec's description, the representation, whether it comes first in
    # the block, and RFC 7541's section and words.
    (
        "Sends a indexed header field representation",
        hpackIndexed(USER_AGENT),
        False,
        "section 6.1: an indexed header field (user-agent, static table)",
    ),
    (
        "Sends a literal header field with incremental indexing - indexed name",
        hpackLiteral(USER_AGENT, b"h2spec", "incremental"),
        False,
        "section 6.2.1: a literal with incremental indexing, indexed name",
    ),
    (
        "Sends a literal header field with incremental indexing - indexed name"
        " (with Huffman coding)",
        hpackLiteral(USER_AGENT, b"h2spec", "incremental", True),
        False,
        "section 6.2.1: a literal with incremental indexing, indexed name,"
        " Huffman-coded value",
    ),
    (
        "Sends a literal header field with incremental indexing - new name",
        hpackLiteral(b"x-test", b"h2spec", "incremental"),
        False,
        "section 6.2.1: a literal with incremental indexing, new name",
    ),
    (
        "Sends a literal header field with incremental indexing - new name (with"
        " Huffman coding)",
        hpackLiteral(b"x-test", b"h2spec", "incremental", True),
        False,
        "section 6.2.1: a literal with incremental indexing, new name, Huffman-coded",
    ),
    (
        "Sends a literal header field without indexing - indexed name",
        hpackLiteral(USER_AGENT, b"h2spec", "without"),
        False,
        "section 6.2.2: a literal without indexing, indexed name",
    ),
    (
        "Sends a literal header field without indexing - indexed name (with"
        " Huffman coding)",
        hpackLiteral(USER_AGENT, b"h2spec", "without", True),
        False,
        "section 6.2.2: a literal without indexing, indexed name, Huffman-coded value",
    ),
    (
        "Sends a literal header field without indexing - new name",
        hpackLiteral(b"x-test", b"h2spec", "without"),
        False,
        "section 6.2.2: a literal without indexing, new name",
    ),
    (
        "Sends a literal header field without indexing - new name (huffman encoded)",
        hpackLiteral(b"x-test", b"h2spec", "without", True),
        False,
        "section 6.2.2: a literal without indexing, new name, Huffman-coded",
    ),
    (
        "Sends a literal header field never indexed - indexed name",
        hpackLiteral(USER_AGENT, b"h2spec", "never"),
        False,
        "section 6.2.3: a literal never indexed, indexed name",
    ),
    (
        "Sends a literal header field never indexed - indexed name (huffman encoded)",
        hpackLiteral(USER_AGENT, b"h2spec", "never", True),
        False,
        "section 6.2.3: a literal never indexed, indexed name, Huffman-coded value",
    ),
    (
        "Sends a literal header field never indexed - new name",
        hpackLiteral(b"x-test", b"h2spec", "never"),
        False,
        "section 6.2.3: a literal never indexed, new name",
    ),
    (
        "Sends a literal header field never indexed - new name (huffman encoded)",
        hpackLiteral(b"x-test", b"h2spec", "never", True),
        False,
        "section 6.2.3: a literal never indexed, new name, Huffman-coded",
    ),
    (
        "Sends a dynamic table size update",
        hpackTableSizeUpdate(128),
        True,
        "section 6.3: a dynamic table size update (to 128) first in the block",
    ),
    (
        "Sends multiple dynamic table size update",
        hpackTableSizeUpdate(128) + hpackTableSizeUpdate(4096),
        True,
        "section 4.2: two dynamic table size updates (128, then 4096) first in"
        " the block",
    ),
]

for number, (description, accepted, first, rfc) in enumerate(HPACK_ACCEPTED, 1):
    CASES.add(
        f"generic/5/{number}",
        description,
        hpackAccepted(accepted, first),
        f"RFC 7541 {rfc}: the block is decoded and the request answered (RFC"
        " 9113 section 4.3).",
    )
