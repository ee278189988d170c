# -*- test-case-name: tests.test_fuzz -*-
"""
Property tests and a bounded fuzz target for the two parsers facing the
network: the line framer (L{echohub.line._protocol}) and the HTTP front
(L{echohub.web._site} with L{echohub.http._channel}).

C{FUZZ_EXAMPLES} sets how many examples the fuzz target runs (default 300,
what CI runs); raise it for a longer local run.
"""

from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import LineConfig, WebConfig
from echohub.line._protocol import LineEchoFactory
from echohub.testing import connect, parseResponses

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))


def segmented(data: bytes, cuts: list[int]) -> list[bytes]:
    """
    Split C{data} at the offsets in C{cuts} (taken modulo its length).
    """
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]


def expectedLineEcho(data: bytes, limit: int) -> tuple[bytes, bool]:
    """
    The model of the line echo: every complete line up to the first line
    (complete or not) over C{limit}, then an C{ERROR} line and a close.

    @return: the expected output and whether the connection closes.
    """
    *complete, tail = data.split(b"\n")
    out = []
    for index, line in enumerate([*complete, tail]):
        if len(line) > limit:
            out.append(b"ERROR line too long: the limit is %d bytes" % (limit,))
            return b"".join(out), True
        if index < len(complete):
            out.append(line + b"\n")
    return b"".join(out), False


class LineFramerProperties(SynchronousTestCase):
    """
    Whatever the bytes, their segmentation and the limit, the line echo
    returns exactly the complete lines, in order, or stops at the first
    over-long line with one C{ERROR} line.
    """

    @settings(max_examples=400, deadline=None)
    @given(
        data=st.binary(max_size=400)
        | st.lists(st.sampled_from([b"a", b"\n", b"bc", b"\r\n", b"\x00"])).map(
            b"".join
        ),
        cuts=st.lists(st.integers(min_value=0), max_size=30),
        limit=st.integers(min_value=1, max_value=40),
    )
    def test_anySegmentationAnyLimit(
        self, data: bytes, cuts: list[int], limit: int
    ) -> None:
        factory = LineEchoFactory(
            LineConfig(max_line_length=limit), reactor=MemoryReactorClock()
        )
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 7007))
        transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 5))
        protocol.makeConnection(transport)
        for piece in segmented(data, cuts):
            protocol.dataReceived(piece)
        expected, closes = expectedLineEcho(data, limit)
        if closes:
            self.assertTrue(transport.value().startswith(expected))
            self.assertTrue(transport.value().endswith(b"closing\n"))
        else:
            self.assertEqual(transport.value(), expected)
        self.assertEqual(transport.disconnecting, closes)


VALID_REQUESTS = [
    b"GET /echo?msg=hi HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: t\r\n\r\n",
    b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /headers HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-B:  two \r\n\r\n",
]
LIMITS = WebConfig(max_request_line=200, max_header_bytes=400, max_headers=8)


def respond(chunks: list[bytes]) -> bytes:
    """
    Everything a new connection answers to C{chunks}.
    """
    channel, transport, _ = connect(LIMITS)
    for chunk in chunks:
        channel.dataReceived(chunk)
    return transport.value()


STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3}) ", re.M)


class HTTPFrontProperties(SynchronousTestCase):
    """
    The HTTP front answers the same whatever the segmentation, and never
    with a 5xx, whatever the bytes.
    """

    @settings(max_examples=200, deadline=None)
    @given(
        requests=st.lists(st.sampled_from(VALID_REQUESTS[:3]), min_size=1, max_size=4),
        cuts=st.lists(st.integers(min_value=0), max_size=40),
    )
    def test_segmentationDoesNotMatter(
        self, requests: list[bytes], cuts: list[int]
    ) -> None:
        """
        Pipelined valid requests split anywhere get the same responses as
        sent in one piece.
        """
        data = b"".join(requests)
        whole = [r.withoutDate() for r in parseResponses(respond([data]))]
        split = [
            r.withoutDate() for r in parseResponses(respond(segmented(data, cuts)))
        ]
        self.assertEqual(split, whole)
        self.assertEqual(len(whole), len(requests))

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        data=st.one_of(
            st.binary(max_size=600),
            st.tuples(
                st.sampled_from(VALID_REQUESTS),
                st.integers(min_value=0, max_value=200),
                st.binary(min_size=1, max_size=8),
            ).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]),
        ),
        cuts=st.lists(st.integers(min_value=0), max_size=10),
    )
    def test_fuzzRequestParser(self, data: bytes, cuts: list[int]) -> None:
        """
        The fuzz target: random bytes, or a valid request with random bytes
        inserted, get responses that are never 5xx (and no logged error,
        which trial would fail the test for).
        """
        reply = respond(segmented(data, cuts))
        codes = [int(code) for code in STATUS.findall(reply)]
        self.assertTrue(all(code < 500 for code in codes), reply)
