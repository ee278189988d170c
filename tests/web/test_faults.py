"""
Tests for L{echohub.web._faults}: faults on the echo routes' responses, over
HTTP/1.1 and HTTP/2, in memory.
"""

from __future__ import annotations

from h2.errors import ErrorCodes
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebConfig
from echohub.controls import FAULT_HEADER, FAULT_QUERY, HEADER, QUERY, names
from echohub.faults import FaultBounds, FaultPolicy, parseFault
from echohub.http import HTTP1Channel
from echohub.testing import H2Client, parseResponses
from echohub.web import buildSite

CLIENTS = FaultPolicy(
    client=True, bounds=FaultBounds(maxDelay=10, http=True, maxBytes=1 << 20)
)


def connect(
    policy: FaultPolicy | None,
) -> tuple[HTTP1Channel, StringTransport, MemoryReactorClock]:
    reactor = MemoryReactorClock()
    site = buildSite(WebConfig(), reactor=reactor, faults=policy)
    channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 8080))
    transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 50000))
    channel.makeConnection(transport)
    return channel, transport, reactor


def post(
    channel: HTTP1Channel, body: bytes, *headers: bytes, target: bytes = b"/echo"
) -> None:
    channel.dataReceived(
        b"\r\n".join(
            [
                b"POST " + target + b" HTTP/1.1",
                b"Host: example.test",
                b"Content-Length: %d" % len(body),
                *headers,
            ]
        )
        + b"\r\n\r\n"
        + body
    )


class ControlsTests(SynchronousTestCase):
    """
    The fault controls are in the one list.
    """

    def test_registered(self) -> None:
        """
        The header and the query argument are declared in L{echohub.controls}.
        """
        self.assertIn(FAULT_HEADER, names(HEADER))
        self.assertIn(FAULT_QUERY, names(QUERY))


class HTTP1Tests(SynchronousTestCase):
    """
    On HTTP/1.1 a fault delays, cuts (FIN) or resets (RST) the response.
    """

    def test_latency(self) -> None:
        """
        The whole response waits for the latency; then the connection goes
        on (the next request is answered).
        """
        channel, transport, clock = connect(CLIENTS)
        post(channel, b"hello", b"Echohub-Fault: latency=200")
        self.assertEqual(transport.value(), b"")
        clock.advance(0.2)
        [response] = parseResponses(transport.value())
        self.assertEqual(response.body, b"hello")
        transport.clear()
        post(channel, b"again")
        clock.advance(0)
        self.assertEqual(parseResponses(transport.value())[0].body, b"again")

    def test_query(self) -> None:
        """
        C{?fault=} works as the header does, on GET /echo too.
        """
        channel, transport, clock = connect(CLIENTS)
        channel.dataReceived(
            b"GET /echo?msg=hi&fault=latency%3D100 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        clock.advance(0.099)
        self.assertEqual(transport.value(), b"")
        clock.advance(0.002)
        self.assertEqual(parseResponses(transport.value())[0].body, b"hi")

    def test_limitData(self) -> None:
        """
        limit_data sends that many body bytes after the head, then closes.
        """
        channel, transport, clock = connect(CLIENTS)
        post(channel, b"0123456789", b"Echohub-Fault: limit_data=4")
        clock.advance(0)
        head, _, body = transport.value().partition(b"\r\n\r\n")
        self.assertIn(b"Content-Length: 10", head)
        self.assertEqual(body, b"0123")
        self.assertTrue(transport.disconnecting)

    def test_resetAfter(self) -> None:
        """
        reset_after aborts the connection after its bytes.
        """
        channel, transport, clock = connect(CLIENTS)
        aborted: list[bool] = []
        transport.abortConnection = lambda: aborted.append(True)  # type: ignore[method-assign]
        post(channel, b"0123456789", b"Echohub-Fault: reset_after=3")
        clock.advance(0)
        self.assertTrue(transport.value().endswith(b"\r\n\r\n012"))
        self.assertEqual(aborted, [True])

    def test_timeout(self) -> None:
        """
        timeout sends the head, no body, and closes after its timeout.
        """
        channel, transport, clock = connect(CLIENTS)
        post(channel, b"0123456789", b"Echohub-Fault: timeout=300")
        clock.advance(0.29)
        self.assertTrue(transport.value().endswith(b"\r\n\r\n"))
        self.assertFalse(transport.disconnecting)
        clock.advance(0.02)
        self.assertTrue(transport.disconnecting)

    def test_badControl(self) -> None:
        """
        A wrong control gets a plain-text 400 naming it.
        """
        channel, transport, _ = connect(CLIENTS)
        post(channel, b"x", b"Echohub-Fault: latency=20s")
        [response] = parseResponses(transport.value())
        self.assertEqual(response.status, 400)
        self.assertIn(b"echohub-fault", response.body)
        self.assertIn(b"10 s", response.body)

    def test_offUnlessConfigured(self) -> None:
        """
        Without faults=client the control is an ordinary header: the echo
        answers at once; other routes never take a fault.
        """
        channel, transport, _ = connect(None)
        post(channel, b"hello", b"Echohub-Fault: limit_data=1")
        self.assertEqual(parseResponses(transport.value())[0].body, b"hello")
        channel, transport, clock = connect(CLIENTS)
        channel.dataReceived(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nEchohub-Fault: latency=500\r\n\r\n"
        )
        self.assertEqual(parseResponses(transport.value())[0].body, b"ok\n")

    def test_listenerFault(self) -> None:
        """
        A listener's own fault applies to every echo response.
        """
        channel, transport, clock = connect(FaultPolicy(parseFault("latency=50")))
        post(channel, b"hello", target=b"/anything")
        self.assertEqual(transport.value(), b"")
        clock.advance(0.05)
        self.assertEqual(parseResponses(transport.value())[0].status, 200)


class HTTP2Tests(SynchronousTestCase):
    """
    On HTTP/2 a fault ends its stream (RST_STREAM), never the connection.
    """

    def test_resetAfterResetsStreamOnly(self) -> None:
        """
        reset_after sends its bytes, then RST_STREAM INTERNAL_ERROR; a
        stream beside it is answered in full and no GOAWAY is sent.
        """
        client = H2Client(faults=CLIENTS)
        faulted = client.request(
            b"/echo", b"POST", ((b"echohub-fault", b"reset_after=3"),), b"abcdef"
        )
        plain = client.request(b"/echo", b"POST", (), b"plain")
        for _ in range(5):
            client.clock.advance(0.01)
            client.send()
        self.assertEqual(client.responses[faulted].body, b"abc")
        self.assertEqual(client.responses[faulted].reset, ErrorCodes.INTERNAL_ERROR)
        self.assertEqual(client.responses[plain].body, b"plain")
        self.assertTrue(client.responses[plain].ended)
        self.assertIsNone(client.goaway)
        self.assertFalse(client.transport.disconnecting)

    def test_limitDataCancels(self) -> None:
        """
        limit_data (a truncated body) is RST_STREAM CANCEL after its bytes.
        """
        client = H2Client(faults=CLIENTS)
        stream = client.request(
            b"/echo", b"POST", ((b"echohub-fault", b"limit_data=2"),), b"abcdef"
        )
        for _ in range(5):
            client.clock.advance(0.01)
            client.send()
        self.assertEqual(client.responses[stream].body, b"ab")
        self.assertEqual(client.responses[stream].reset, ErrorCodes.CANCEL)

    def test_stalledStream(self) -> None:
        """
        timeout stalls the stream (headers, no data) then cancels it.
        """
        client = H2Client(faults=CLIENTS)
        stream = client.request(
            b"/echo", b"POST", ((b"echohub-fault", b"timeout=200"),), b"abcdef"
        )
        client.clock.advance(0.1)
        client.send()
        self.assertEqual(client.responses[stream].status, 200)
        self.assertEqual(client.responses[stream].body, b"")
        self.assertIsNone(client.responses[stream].reset)
        for _ in range(3):
            client.clock.advance(0.1)
            client.send()
        self.assertEqual(client.responses[stream].reset, ErrorCodes.CANCEL)
