# -*- test-case-name: tests.websocket.test_session -*-
"""
Tests for L{echohub.websocket._session}: the WebSocket echo at C{/ws}, driven through
the real site over an in-memory transport and clock, with hand-made frames.
Framing itself is the codec's, tested without a transport in
C{tests/websocket/test_codec.py}.
"""

from __future__ import annotations

import struct

from twisted.internet.testing import (
    EventLoggingObserver,
)
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from echohub.config import WebSocketConfig
from echohub.testing import (
    CLIENT_PEER,
    HalfCloseTransport,
)
from echohub.websocket._session import EchoSession
from tests.websocket.support import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    TEXT,
    Connection,
    closeFrame,
    frame,
)


class EchoTests(SynchronousTestCase):
    """
    Messages come back exactly; pings and closes are answered.
    """

    def test_handshake(self) -> None:
        """
        The handshake is answered with C{101}, and the transport becomes its
        own streaming producer (the HTTP channel's registration is gone).
        """
        connection = Connection()
        self.assertEqual(connection.status, 101)
        self.assertIs(connection.transport.producer, connection.transport)
        self.assertTrue(connection.transport.streaming)

    def test_textAndBinary(self) -> None:
        """
        Text and binary messages, fragmented or not, are echoed exactly,
        each as one message of its type.
        """
        connection = Connection()
        self.assertEqual(
            connection.send(frame(TEXT, "h\u00e9llo".encode())),
            [(TEXT, "h\u00e9llo".encode())],
        )
        self.assertEqual(
            connection.send(frame(BINARY, b"\x00\xff")), [(BINARY, b"\x00\xff")]
        )
        echoed = connection.send(
            frame(TEXT, b"ab", fin=False),
            frame(CONTINUATION, b"cd", fin=False),
            frame(PING, b"p"),
            frame(CONTINUATION, b"ef"),
        )
        self.assertEqual(echoed, [(PONG, b"p"), (TEXT, b"abcdef")])

    def test_clientClose(self) -> None:
        """
        The client's close is answered with the same code and reason, and
        the connection closes with no producer left registered (which would
        stall a TLS shutdown).
        """
        connection = Connection()
        close = closeFrame(4000, "bye \u20ac".encode())
        self.assertEqual(connection.send(frame(*close)), [close])
        self.assertTrue(connection.transport.disconnecting)
        self.assertIsNone(connection.transport.producer)


class ViolationTests(SynchronousTestCase):
    """
    A violation the codec finds closes the session with its code.
    """

    def test_closesAtOnce(self) -> None:
        """
        The frame whose header takes a message over C{max_message} closes
        the connection with C{1009} at once; nothing of the message is
        echoed and later frames are ignored.
        """
        connection = Connection()
        self.assertEqual(connection.send(frame(TEXT, b"a" * 60, fin=False)), [])
        [(opcode, payload)] = connection.send(frame(CONTINUATION, b"b" * 41, fin=False))
        self.assertEqual(
            (opcode, payload),
            (CLOSE, struct.pack("!H", 1009) + b"message over 100 bytes"),
        )
        self.assertTrue(connection.transport.disconnecting)
        self.assertEqual(
            connection.send(frame(CONTINUATION, b"c"), frame(TEXT, b"x")), []
        )

    def test_answersBeforeTheCloseOnly(self) -> None:
        """
        In the read that breaks the protocol, what came before is answered,
        then the close; what came after is not.
        """
        connection = Connection()
        answered = connection.send(
            frame(TEXT, b"ok") + frame(BINARY, b"a" * 101) + frame(PING, b"k")
        )
        self.assertEqual([f[0] for f in answered], [TEXT, CLOSE])
        self.assertEqual(answered[0], (TEXT, b"ok"))


class IdleTests(SynchronousTestCase):
    """
    The server pings every C{ping_interval} and closes when no pong comes.
    """

    def test_pingAndPong(self) -> None:
        """
        A client that answers its pings stays open.
        """
        connection = Connection()
        for _ in range(3):
            connection.clock.advance(30)
            [(opcode, payload)] = connection.received()
            self.assertEqual(opcode, PING)
            connection.send(frame(PONG, payload))
        self.assertFalse(connection.transport.disconnecting)

    def test_noPongCloses(self) -> None:
        """
        A client that has not answered by the next ping is closed with
        C{1011}; if it still does not close, it is aborted after
        C{close_timeout}.
        """
        connection = Connection()
        connection.clock.advance(30)
        connection.received()
        connection.clock.advance(30)
        self.assertEqual(connection.received(), [closeFrame(1011, b"no pong")])
        self.assertTrue(connection.transport.disconnecting)
        self.assertFalse(connection.transport.disconnected)
        connection.clock.advance(5)
        self.assertTrue(connection.transport.disconnected)

    def test_disabled(self) -> None:
        """
        With C{ping_interval = 0} no ping is ever sent.
        """
        connection = Connection(WebSocketConfig(ping_interval=0))
        connection.clock.advance(3600)
        self.assertEqual(connection.received(), [])

    def test_closedLeavesNoTimer(self) -> None:
        """
        Once the connection is lost no timer is left.
        """
        connection = Connection()
        connection.send(frame(CLOSE, struct.pack("!H", 1000)))
        connection.lose()
        self.assertEqual(
            [c for c in connection.clock.getDelayedCalls() if c.active()], []
        )


class LifecycleTests(SynchronousTestCase):
    """
    Draining, registry bookkeeping and the access log.
    """

    def test_registryHoldsSession(self) -> None:
        """
        After the upgrade the registry holds the session, not the channel;
        after the connection is lost it holds nothing.
        """
        connection = Connection()
        self.assertEqual(len(connection.connections), 1)
        [session] = list(connection.connections._connections)
        self.assertIsInstance(session, EchoSession)
        connection.lose()
        self.assertEqual(len(connection.connections), 0)

    def test_drainClosesWith1001(self) -> None:
        """
        Draining sends close code C{1001} and the drain completes once the
        connection is gone.
        """
        connection = Connection()
        drained = connection.connections.drain(connection.clock, 10)
        self.assertEqual(
            connection.received(), [closeFrame(1001, b"server shutting down")]
        )
        self.assertNoResult(drained)
        connection.lose()
        self.successResultOf(drained)

    def test_accessLogLine(self) -> None:
        """
        One access-log line per session: client, 101, message counts and
        the close code with who closed.
        """
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        connection = Connection()
        connection.send(frame(TEXT, b"hi"), frame(CLOSE, struct.pack("!H", 1000)))
        connection.lose()
        [event] = [e for e in observer if e.get("websocket")]
        self.assertEqual(
            (event["messages_in"], event["code"], event["closed_by"]),
            (1, 1000, "client"),
        )
        self.assertEqual(event["peer"], "127.0.0.1:50000")


class LostBeforeCloseTests(SynchronousTestCase):
    """
    A connection lost between passing the cap and the close being sent.
    """

    def test_noCloseAfterLoss(self) -> None:
        """
        Nothing is written to a connection already lost.
        """
        connection = Connection()
        connection.send(frame(BINARY, b"a" * 101))
        connection.lose()
        connection.clock.advance(0)
        self.assertEqual(connection.received(), [])


class EarlyFrameTests(SynchronousTestCase):
    """
    Frames sent in the same read as the handshake are not lost.
    """

    def test_framesWithTheHandshake(self) -> None:
        """
        Frames that arrive with the upgrade request are echoed after the
        C{101}, in order, and the session goes on normally.
        """
        connection = Connection(
            early=frame(TEXT, b"one") + frame(BINARY, b"two") + frame(PING, b"p")
        )
        self.assertEqual(connection.status, 101)
        self.assertEqual(
            connection.early, [(TEXT, b"one"), (BINARY, b"two"), (PONG, b"p")]
        )
        self.assertEqual(connection.send(frame(TEXT, b"three")), [(TEXT, b"three")])

    def test_partialFrameWithTheHandshake(self) -> None:
        """
        Part of a frame with the handshake is completed by the next read.
        """
        whole = frame(TEXT, b"split")
        connection = Connection(early=whole[:3])
        self.assertEqual(connection.early, [])
        self.assertEqual(connection.send(whole[3:]), [(TEXT, b"split")])


class LingeringTests(SynchronousTestCase):
    """
    Closes for what the client sent are lingering closes.
    """

    def lingering(self, data: bytes, code: int) -> Connection:
        """
        Send C{data}, expect a close with C{code}, and check the close
        lingers: write side shut, input discarded, session registered.
        """
        connection = Connection(transport=HalfCloseTransport(peerAddress=CLIENT_PEER))
        transport = connection.transport
        assert isinstance(transport, HalfCloseTransport)
        [(opcode, payload)] = connection.send(data)
        self.assertEqual((opcode, payload[:2]), (CLOSE, struct.pack("!H", code)))
        self.assertTrue(transport.writeDisconnected)
        self.assertFalse(transport.disconnecting)
        self.assertIsNone(transport.producer)
        self.assertEqual(connection.send(b"\x00" * 100000), [])
        self.assertEqual(len(connection.connections), 1)
        return connection

    def test_messageTooBig(self) -> None:
        """
        C{1009} lingers, and the lingering's idle bound ends it.
        """
        connection = self.lingering(frame(BINARY, b"a" * 101), 1009)
        transport = connection.transport
        assert isinstance(transport, HalfCloseTransport)
        connection.clock.advance(5)
        self.assertTrue(transport.aborted)

    def test_protocolError(self) -> None:
        """
        C{1002} for a frame with a reserved opcode lingers, and
        the access log says the server closed, lingering.
        """
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        connection = self.lingering(frame(3, b"?"), 1002)
        connection.channel.dataReceived(b"\x00" * 10)
        connection.lose()
        [event] = [e for e in observer if e.get("websocket")]
        self.assertEqual((event["code"], event["closed_by"]), (1002, "server"))
        self.assertEqual(
            event["lingered"], "; lingered (100010 bytes discarded, client closed)"
        )

    def test_invalidUTF8(self) -> None:
        """
        C{1007} for a text message that is not UTF-8 lingers.
        """
        self.lingering(frame(TEXT, b"\xff\xfe"), 1007)

    def test_normalCloseDoesNotLinger(self) -> None:
        """
        A close the client started is not a lingering one: the client is
        done sending.
        """
        connection = Connection(transport=HalfCloseTransport(peerAddress=CLIENT_PEER))
        connection.send(frame(CLOSE, struct.pack("!H", 1000)))
        self.assertTrue(connection.transport.disconnecting)


class CloseCodeLogTests(SynchronousTestCase):
    """
    The access log names the close code RFC 6455 gives.
    """

    def test_closeWithoutStatusIs1005(self) -> None:
        """
        A close frame without a status is logged as C{1005}, not C{1006}
        (which means no close frame at all).
        """
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        connection = Connection()
        self.assertEqual(connection.send(frame(CLOSE)), [(CLOSE, b"")])
        connection.lose()
        [event] = [e for e in observer if e.get("websocket")]
        self.assertEqual(event["code"], 1005)

    def test_noCloseFrameIs1006(self) -> None:
        """
        A connection lost without any close frame is logged as C{1006}.
        """
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        Connection().lose()
        [event] = [e for e in observer if e.get("websocket")]
        self.assertEqual(event["code"], 1006)
