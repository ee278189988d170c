"""
Tests for L{echohub._upstream._h2}: each h2 behaviour echohub overrides is
still the one it overrides.  These fail loudly when an upgrade changes one.
"""

from __future__ import annotations

from typing import Any

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.events import ConnectionTerminated, RequestReceived, StreamReset
from h2.exceptions import InvalidBodyLengthError, ProtocolError, TooManyStreamsError
from h2.settings import SettingCodes
from hyperframe.frame import DataFrame, GoAwayFrame, HeadersFrame, RstStreamFrame
from twisted.trial.unittest import SynchronousTestCase

from echohub._upstream import _h2 as _upstream


class ServerH2ConnectionTests(SynchronousTestCase):
    """
    L{_upstream.ServerH2Connection} lets a stream over the limit
    open, where h2 ends the connection.
    """

    def opened(self, kind: type[Any]) -> list[object]:

        server = kind(H2Configuration(client_side=False))
        server.local_settings.update({SettingCodes.MAX_CONCURRENT_STREAMS: 1})
        server.local_settings.acknowledge()
        server.initiate_connection()
        client = H2Connection(H2Configuration(client_side=True))
        client.initiate_connection()
        for stream in (1, 3):
            client.send_headers(
                stream,
                [
                    (":method", "GET"),
                    (":path", "/"),
                    (":scheme", "http"),
                    (":authority", "x"),
                ],
            )
        return server.receive_data(client.data_to_send())  # type: ignore[no-any-return]

    def test_h2RefusesTheConnection(self) -> None:
        """
        Plain h2 raises for the second stream: the behaviour (and the check
        through C{open_inbound_streams}) the subclass changes.  Should h2
        make this a stream error itself, this fails, and the subclass can
        go.
        """

        self.assertRaises(TooManyStreamsError, self.opened, H2Connection)

    def test_streamOpens(self) -> None:
        """
        The subclass opens both streams, for the application to refuse the
        second.
        """

        events = self.opened(_upstream.ServerH2Connection)
        received = [e.stream_id for e in events if isinstance(e, RequestReceived)]
        self.assertEqual(received, [1, 3])


GET = [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x")]


def pair(kind: type[Any]) -> tuple[Any, H2Connection]:
    """
    A server of C{kind} and a client, past the prefaces.
    """
    server = kind(H2Configuration(client_side=False, validate_inbound_headers=False))
    server.initiate_connection()
    client = H2Connection(H2Configuration(client_side=True))
    client.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    server.receive_data(client.data_to_send())
    return server, client


class GoAwayTests(SynchronousTestCase):
    """
    h2 still closes its state machine on a client's C{GOAWAY}; the subclass
    does not.
    """

    def exchange(self, kind: type[Any]) -> tuple[Any, list[object]]:
        server, client = pair(kind)
        client.send_headers(1, GET, end_stream=True)
        server.receive_data(client.data_to_send())
        goaway = GoAwayFrame(0)
        goaway.last_stream_id = 0
        return server, server.receive_data(goaway.serialize())

    def test_h2ClosesOnGoAway(self) -> None:
        """
        Plain h2 can send nothing more after the client's C{GOAWAY}: the
        behaviour the subclass changes.  Should h2 let streams finish
        (python-hyper/h2#1181), this fails, and the override can go.
        """
        server, _ = self.exchange(H2Connection)
        self.assertRaises(ProtocolError, server.send_headers, 1, [(":status", "200")])

    def test_streamsFinish(self) -> None:
        """
        The subclass reports the C{GOAWAY} and goes on sending.
        """
        server, events = self.exchange(_upstream.ServerH2Connection)
        self.assertEqual([type(e) for e in events], [ConnectionTerminated])
        server.send_headers(1, [(":status", "200")], end_stream=True)
        self.assertTrue(server.data_to_send())


class CompressionTests(SynchronousTestCase):
    """
    The encoder's table is capped; a decoding error is C{COMPRESSION_ERROR}.
    """

    def test_h2FollowsTheClient(self) -> None:
        """
        Plain h2 sizes its encoder's table as the client says, however
        large: the behaviour L{_upstream.CappedEncoder} changes.
        """
        for kind, expected in [
            (H2Connection, 2**32 - 1),
            (_upstream.ServerH2Connection, _upstream.ENCODER_TABLE_SIZE),
        ]:
            server, client = pair(kind)
            client.update_settings({SettingCodes.HEADER_TABLE_SIZE: 2**32 - 1})
            server.receive_data(client.data_to_send())
            self.assertEqual(server.encoder.header_table_size, expected, kind)

    def test_smallerTablesFollowed(self) -> None:
        """
        A client's table smaller than the cap is followed.
        """
        server, client = pair(_upstream.ServerH2Connection)
        client.update_settings({SettingCodes.HEADER_TABLE_SIZE: 100})
        server.receive_data(client.data_to_send())
        self.assertEqual(server.encoder.header_table_size, 100)

    def test_decodingError(self) -> None:
        """
        A header block index past the tables: plain h2 ends the connection
        with C{PROTOCOL_ERROR}, the subclass with C{COMPRESSION_ERROR}.
        """
        for kind, code in [
            (H2Connection, ErrorCodes.PROTOCOL_ERROR),
            (_upstream.ServerH2Connection, ErrorCodes.COMPRESSION_ERROR),
        ]:
            server, _ = pair(kind)
            headers = HeadersFrame(1, flags=["END_HEADERS", "END_STREAM"])
            headers.data = b"\xff\x7f"
            with self.assertRaises(ProtocolError) as raised:
                server.receive_data(headers.serialize())
            self.assertEqual(raised.exception.error_code, code, kind)


class MalformedTests(SynchronousTestCase):
    """
    A body that does not match its C{content-length}: a connection error
    in h2, a stream error in the subclass.
    """

    def test_contentLengthMismatch(self) -> None:
        """
        Plain h2 raises L{InvalidBodyLengthError}; the subclass resets the
        stream with C{PROTOCOL_ERROR} and reports a L{StreamReset} that is
        not the client's.
        """
        for kind in (H2Connection, _upstream.ServerH2Connection):
            server, client = pair(kind)
            client.send_headers(
                1, [(":method", "POST"), *GET[1:], ("content-length", "3")]
            )
            server.receive_data(client.data_to_send())
            server.data_to_send()
            data = DataFrame(1, flags=["END_STREAM"])
            data.data = b"four"
            if kind is H2Connection:
                self.assertRaises(
                    InvalidBodyLengthError, server.receive_data, data.serialize()
                )
                continue
            [event] = server.receive_data(data.serialize())
            assert isinstance(event, StreamReset)
            self.assertEqual(
                (event.stream_id, event.error_code, event.remote_reset),
                (1, ErrorCodes.PROTOCOL_ERROR, False),
            )
            reset = RstStreamFrame(1)
            reset.error_code = ErrorCodes.PROTOCOL_ERROR
            self.assertIn(reset.serialize(), server.data_to_send())
