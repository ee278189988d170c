"""
HTTP/2 conformance beyond h2spec: requirements of RFC 9113 that h2spec does
not test (idle streams after another was opened, connection-specific and
invalid fields, content-length without content, a client's GOAWAY), over
h2c and TLS against a real echohub, several found broken in issue 19.  See
L{tests.h2conformance} for the suite's rules.
"""

from __future__ import annotations

import pytest
from h2.settings import SettingCodes
from hyperframe.frame import GoAwayFrame, PingFrame

from tests.h2conformance import (
    CANCEL,
    NO_ERROR,
    PING_DATA,
    PROTOCOL_ERROR,
    STREAM_CLOSED,
    Cases,
    conformanceTests,
    malformed,
    openStream,
    plus,
    request,
)
from tests.h2frames import (
    Closed,
    FrameClient,
    NotHTTP2,
    Target,
    TimedOut,
)

pytestmark = pytest.mark.e2e

CASES = Cases()


test_conformance, test_caseList = conformanceTests(CASES)


# Stream states (section 5.1), GOAWAY (6.8), HTTP messages and fields (8).


@CASES.case(
    "echohub/5.1/1",
    "Sends a RST_STREAM frame on an idle stream after opening another stream",
)
def idleRstAfterOpen(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (idle) and 6.4: RST_STREAM on an idle stream MUST
    be a connection error of type PROTOCOL_ERROR, also when a lower stream
    has been opened (stream 3 stays idle after stream 1).
    """
    openStream(client, target)
    client.rstStream(3, CANCEL)
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case(
    "echohub/5.1/2",
    "Sends a WINDOW_UPDATE frame on an idle stream after opening another stream",
)
def idleWindowUpdateAfterOpen(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (idle): WINDOW_UPDATE on an idle stream MUST be a
    connection error of type PROTOCOL_ERROR, also when a lower stream has
    been opened.
    """
    openStream(client, target)
    client.windowUpdate(3, 100)
    client.expectConnectionError(PROTOCOL_ERROR)


@CASES.case(
    "echohub/5.1/3",
    "Sends a DATA frame on an idle stream after opening another stream",
)
def idleDataAfterOpen(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 5.1 (idle): DATA on an idle stream MUST be a connection
    error of type PROTOCOL_ERROR (STREAM_CLOSED by section 6.1), also when a
    lower stream has been opened.
    """
    openStream(client, target)
    client.data(3, b"test")
    client.expectStreamError(3, PROTOCOL_ERROR, STREAM_CLOSED)


@CASES.case(
    "echohub/6.8/1",
    "Sends a PING frame after a GOAWAY frame, with a stream open",
)
def pingAfterGoAway(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.7: a PING MUST be answered with PING ACK; a client's
    GOAWAY (section 6.8) only says which pushed streams it will still
    accept, and the PING after it violates nothing.  The server answers the
    PING, or ends the connection without blaming the client (GOAWAY
    NO_ERROR and the close).
    """
    openStream(client, target)
    client.goAway(0, NO_ERROR)
    client.ping(PING_DATA)
    expected = "PING(ACK) or GOAWAY(NO_ERROR) and the close"
    while not isinstance(event := client.next(), Closed):
        if isinstance(event, PingFrame) and "ACK" in event.flags:
            assert event.opaque_data == PING_DATA, client.fail(expected, event)
            return
        if isinstance(event, GoAwayFrame) and event.error_code:
            raise client.fail(expected, event)
        if isinstance(event, (TimedOut, NotHTTP2)):
            raise client.fail(expected, event)


@CASES.case(
    "echohub/6.8/2",
    "Sends a GOAWAY frame while a response is in flight",
)
def responseAfterGoAway(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 6.8: GOAWAY stops new streams "while still finishing
    processing of previously established streams"; a client's GOAWAY
    concerns the streams the server would push, not the client's own.  A
    response held by a zero window when the client sends GOAWAY is
    completed once the window opens (issue 19, point 6).
    """
    client.settings((SettingCodes.INITIAL_WINDOW_SIZE, 0))
    client.headers(1, request(target))
    client.goAway(0, NO_ERROR)
    client.windowUpdate(1, 65535)
    client.expectStreamClosed(1)


@CASES.case(
    "echohub/8.1.1/1",
    "Sends a request with content-length 4 and no content",
)
def contentLengthWithoutContent(client: FrameClient, target: Target) -> None:
    """
    RFC 9113 section 8.1.1: a request whose content-length differs from the
    content received (4 declared, END_STREAM on the HEADERS) is malformed:
    a stream error of type PROTOCOL_ERROR.
    """
    client.headers(1, [*request(target, "POST"), ("content-length", "4")])
    client.expectStreamError(1, PROTOCOL_ERROR)


for number, (name, value), rfc in [
    (1, ("x-test", "a\0b"), "a field value containing NUL"),
    (2, ("x-test", "a\rb"), "a field value containing CR"),
    (3, ("x-test", "a\nb"), "a field value containing LF"),
    (4, ("x-test", " ok"), "a field value starting with SP"),
    (5, ("x-test", "ok\t"), "a field value ending with HTAB"),
    (6, ("x test", "ok"), "a field name containing SP"),
    (7, ("x:test", "ok"), "a field name containing a colon"),
    (8, ("x-t\x7fst", "ok"), "a field name containing DEL"),
]:
    CASES.malformed(
        f"echohub/8.2.1/{number}",
        f"Sends a HEADERS frame with {rfc}",
        f"RFC 9113 section 8.2.1: {rfc}",
        malformed(plus((name, value))),
    )


for number, fields, rfc in [
    (1, [("keep-alive", "timeout=5")], "keep-alive"),
    (2, [("proxy-connection", "keep-alive")], "proxy-connection"),
    (3, [("transfer-encoding", "chunked")], "transfer-encoding"),
    (4, [("upgrade", "h2c")], "upgrade"),
    (5, [("te", "gzip")], 'TE with the value "gzip"'),
]:
    CASES.malformed(
        f"echohub/8.2.2/{number}",
        f"Sends a HEADERS frame with the connection-specific field {rfc}",
        f"RFC 9113 section 8.2.2: a connection-specific field ({rfc})",
        malformed(plus(*fields)),
    )
