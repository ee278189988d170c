"""
End-to-end tests of WebSocket over HTTP/2 (RFC 8441) against a real
C{twistd -ny echohub.tac} on loopback, in the clear (prior knowledge) and
over TLS (ALPN C{h2}): an C{h2} client over a socket performs the extended
C{CONNECT} and sends masked WebSocket frames in its stream's C{DATA}, frame
by frame; the server's log and C{/metrics} say what it saw.
"""

from __future__ import annotations

import signal
import socket
import struct
import time
import urllib.request
import zlib
from collections import deque
from collections.abc import Callable
from pathlib import Path

import pytest
from h2.config import H2Configuration
from h2.connection import ConnectionState, H2Connection
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    RemoteSettingsChanged,
    ResponseReceived,
    StreamEnded,
    StreamReset,
)
from hyperframe.frame import GoAwayFrame

from echohub.tls import DevCertificates
from tests.support import (
    MAX_MESSAGE,
    EchohubProcess,
    running,
    sslString,
    wsClientContext,
)
from tests.websocket.support import BINARY, CLOSE, PING, PONG, TEXT, frame

pytestmark = pytest.mark.e2e

VERSION = (b"sec-websocket-version", b"13")


@pytest.fixture(scope="module")
def server(wsServer: EchohubProcess) -> EchohubProcess:
    """
    The WebSocket tests' server (a plain and a TLS web listener, a small
    message cap, a one-second ping interval).
    """
    return wsServer


class Stream:
    """
    What arrived on one stream: the response head, its C{DATA} (read as
    WebSocket frames: the server's pings apart), its end or reset.
    """

    def __init__(self) -> None:
        self.headers: dict[bytes, bytes] | None = None
        self.data = b""
        self.frames: deque[tuple[int, bytes]] = deque()
        self.compressed: list[bool] = []
        self.pings: list[bytes] = []
        self.ended = False
        self.reset: int | None = None

    @property
    def status(self) -> int:
        assert self.headers is not None
        return int(self.headers[b":status"])

    def nextFrame(self) -> tuple[int, bytes] | None:
        """
        The next whole WebSocket frame received, if one is; whether RSV1
        marked it compressed goes to C{compressed}.
        """
        data = self.data
        if len(data) < 2:
            return None
        length, offset = data[1] & 0x7F, 2
        if length == 126:
            if len(data) < 4:
                return None
            (length,), offset = struct.unpack("!H", data[2:4]), 4
        elif length == 127:
            if len(data) < 10:
                return None
            (length,), offset = struct.unpack("!Q", data[2:10]), 10
        if len(data) < offset + length:
            return None
        self.data = data[offset + length :]
        self.compressed.append(bool(data[0] & 0x40))
        return data[0] & 0x0F, data[offset : offset + length]


class Client:
    """
    An C{h2} client over a blocking socket, for WebSockets over HTTP/2; it
    answers the server's WebSocket pings as a browser does.

    @ivar settings: the server's settings.
    @ivar goaway: the server's C{GOAWAY}, once it came.
    @ivar closed: the server closed the connection.
    """

    def __init__(
        self, address: tuple[str, int], tls: bool, devcerts: DevCertificates
    ) -> None:
        host, port = address
        raw = socket.create_connection(address, timeout=10)
        if tls:
            context = wsClientContext(devcerts)
            context.set_alpn_protocols(["h2"])
            self.sock = context.wrap_socket(raw, server_hostname="localhost")
            assert self.sock.selected_alpn_protocol() == "h2"
        else:
            self.sock = raw
        self.scheme = b"https" if tls else b"http"
        self.authority = b"localhost:%d" % (port,)
        self.h2 = H2Connection(H2Configuration(client_side=True, header_encoding=None))
        self.h2.initiate_connection()
        self.streams: dict[int, Stream] = {}
        self.settings: dict[int, int] | None = None
        self.goaway: ConnectionTerminated | None = None
        self.closed = False
        self._partial = b""
        self.flush()
        self.pump(lambda: self.settings is not None)

    def flush(self, raw: bytes = b"") -> None:
        self.sock.sendall(self.h2.data_to_send() + raw)

    def pump(self, done: Callable[[], bool], timeout: float = 10.0) -> None:
        """
        Read and handle what the server sends until C{done()}, or the
        connection closes.
        """
        deadline = time.monotonic() + timeout
        while not done():
            if self.closed:
                return
            left = deadline - time.monotonic()
            assert left > 0, "timed out"
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                # As a browser does: the server's TLS close waits for ours.
                self.closed = True
                self.sock.close()
                return
            # Frame by frame: after a graceful GOAWAY (which h2 takes as the
            # end, see _handle) the frames of the streams in flight follow.
            data = self._partial + data
            while len(data) >= 9 and len(data) >= 9 + int.from_bytes(data[:3]):
                end = 9 + int.from_bytes(data[:3])
                for event in self.h2.receive_data(data[:end]):
                    self._handle(event)
                data = data[end:]
            self._partial = data
            self.flush()

    def _handle(self, event: object) -> None:
        if isinstance(event, RemoteSettingsChanged):
            self.settings = {
                code: change.new_value
                for code, change in event.changed_settings.items()
            }
        elif isinstance(event, ResponseReceived):
            self.streams[event.stream_id].headers = dict(event.headers)
        elif isinstance(event, DataReceived):
            self.h2.acknowledge_received_data(
                event.flow_controlled_length, event.stream_id
            )
            stream = self.streams[event.stream_id]
            stream.data += event.data
            if stream.status == 200:
                self._frames(event.stream_id, stream)
        elif isinstance(event, StreamEnded):
            self.streams[event.stream_id].ended = True
        elif isinstance(event, StreamReset):
            self.streams[event.stream_id].reset = event.error_code
        elif isinstance(event, ConnectionTerminated):
            self.goaway = event
            if event.error_code == ErrorCodes.NO_ERROR:
                # h2 takes every GOAWAY as the end, while RFC 9113 section
                # 6.8 lets the streams in flight finish: see them finish.
                self.h2.state_machine.state = ConnectionState.CLIENT_OPEN

    def _frames(self, streamID: int, stream: Stream) -> None:
        """
        Read the whole WebSocket frames that arrived; answer the server's
        pings, as a browser does.
        """
        while (parsed := stream.nextFrame()) is not None:
            if parsed[0] == PING:
                stream.pings.append(parsed[1])
                self.h2.send_data(streamID, frame(PONG, parsed[1]))
            else:
                stream.frames.append(parsed)

    def open(
        self,
        path: bytes = b"/ws",
        fields: tuple[tuple[bytes, bytes], ...] = (VERSION,),
        protocol: bytes = b"websocket",
    ) -> int:
        """
        Send an extended C{CONNECT} and wait for the answer's head.

        @return: the stream's identifier.
        """
        streamID = self.h2.get_next_available_stream_id()
        self.streams[streamID] = stream = Stream()
        self.h2.send_headers(
            streamID,
            [
                (b":method", b"CONNECT"),
                (b":protocol", protocol),
                (b":scheme", self.scheme),
                (b":path", path),
                (b":authority", self.authority),
                *fields,
            ],
        )
        self.flush()
        self.pump(lambda: stream.headers is not None or stream.reset is not None)
        return streamID

    def send(self, streamID: int, data: bytes, end: bool = False) -> None:
        self.h2.send_data(streamID, data, end_stream=end)
        self.flush()

    def receive(self, streamID: int) -> tuple[int, bytes]:
        """
        The next WebSocket frame (not a ping) on C{streamID}.
        """
        stream = self.streams[streamID]
        self.pump(lambda: bool(stream.frames) or self.over(streamID))
        assert stream.frames, (stream.ended, stream.reset)
        return stream.frames.popleft()

    def over(self, streamID: int) -> bool:
        """
        Whether the server ended or reset C{streamID}.
        """
        stream = self.streams[streamID]
        return stream.ended or stream.reset is not None

    def untilOver(self, streamID: int) -> None:
        """
        Read until the server ends or resets C{streamID}.
        """
        self.pump(lambda: self.over(streamID))

    def echo(self, streamID: int, opcode: int, payload: bytes) -> None:
        self.send(streamID, frame(opcode, payload, mask=b"\x37\xfa\x21\x3d"))
        assert self.receive(streamID) == (opcode, payload)


def connect(server: EchohubProcess, tls: bool, devcerts: DevCertificates) -> Client:
    """
    A client of the module's server, over TLS or in the clear.
    """
    return Client(server.address("web", 1 if tls else 0), tls, devcerts)


def closeCode(payload: bytes) -> int:
    code: int = struct.unpack("!H", payload[:2])[0]
    return code


def metrics(server: EchohubProcess) -> str:
    host, port = server.address("web", 0)
    text: bytes = urllib.request.urlopen(
        f"http://{host}:{port}/metrics", timeout=10
    ).read()
    return text.decode()


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "h2"])
def test_echo(server: EchohubProcess, devcerts: DevCertificates, tls: bool) -> None:
    """
    The server's C{SETTINGS} carry C{SETTINGS_ENABLE_CONNECT_PROTOCOL = 1};
    an extended C{CONNECT} gets C{200} without C{sec-websocket-accept};
    masked text and binary frames come back, up to the cap, a ping gets its
    pong and the server's pings are answered; the close handshake ends the
    stream with C{END_STREAM}; the access line says the session rode
    HTTP/2.
    """
    client = connect(server, tls, devcerts)
    assert client.settings is not None
    assert client.settings.get(0x8) == 1
    streamID = client.open()
    stream = client.streams[streamID]
    assert stream.status == 200
    assert stream.headers is not None
    assert b"sec-websocket-accept" not in stream.headers
    client.echo(streamID, TEXT, "h\u00e9llo".encode())
    client.echo(streamID, BINARY, bytes(range(256)) * (MAX_MESSAGE // 256))
    client.send(streamID, frame(PING, b"are you there"))
    assert client.receive(streamID) == (PONG, b"are you there")
    client.send(streamID, frame(TEXT, b"frag", fin=False) + frame(0, b"mented"))
    assert client.receive(streamID) == (TEXT, b"fragmented")
    client.pump(lambda: len(stream.pings) >= 2, timeout=5)
    client.echo(streamID, TEXT, b"still open")
    client.send(streamID, frame(CLOSE, struct.pack("!H", 1000) + b"bye"), end=True)
    assert client.receive(streamID) == (CLOSE, struct.pack("!H", 1000) + b"bye")
    client.untilOver(streamID)
    assert stream.ended and stream.reset is None
    server.waitForOutput(
        rf"access: 127\.0\.0\.1:{client.sock.getsockname()[1]} CONNECT /ws 200 .*"
        r"websocket over HTTP/2, none, 4 messages in, 4 out, close 1000 by client"
    )


def test_manySessionsAndRequests(
    server: EchohubProcess, devcerts: DevCertificates
) -> None:
    """
    Several WebSockets, at both paths, share one connection with ordinary
    requests.
    """
    client = connect(server, True, devcerts)
    streams = [client.open(path) for path in (b"/ws", b"/websocket/echo", b"/ws")]
    for i, streamID in enumerate(streams):
        client.echo(streamID, TEXT, b"session %d" % (i,))
    get = client.h2.get_next_available_stream_id()
    client.streams[get] = Stream()
    client.h2.send_headers(
        get,
        [
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":path", b"/echo?msg=alongside"),
            (b":authority", client.authority),
        ],
        end_stream=True,
    )
    client.flush()
    client.pump(lambda: client.streams[get].ended)
    assert client.streams[get].data == b"alongside"
    for streamID in reversed(streams):
        client.echo(streamID, BINARY, b"again")


def test_resetEndsSession(server: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    The client's C{RST_STREAM} ends the session (logged closed by the
    network, C{1006}); the connection and its other streams go on.
    """
    client = connect(server, False, devcerts)
    gone, kept = client.open(), client.open()
    client.echo(gone, TEXT, b"before the reset")
    client.h2.reset_stream(gone, ErrorCodes.CANCEL)
    client.flush()
    server.waitForOutput(
        rf"access: 127\.0\.0\.1:{client.sock.getsockname()[1]} CONNECT /ws 200 .*"
        r"websocket over HTTP/2, none, 1 messages in, 1 out, close 1006 by network"
    )
    client.echo(kept, TEXT, b"after the reset")


def test_tooBig(server: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    A message over the cap gets C{1009} and the stream ends; the
    connection goes on.
    """
    client = connect(server, True, devcerts)
    big, other = client.open(), client.open()
    client.send(big, frame(BINARY, b"x" * (MAX_MESSAGE + 1)))
    opcode, payload = client.receive(big)
    assert (opcode, closeCode(payload)) == (CLOSE, 1009)
    client.untilOver(big)
    assert client.streams[big].ended
    client.echo(other, TEXT, b"unharmed")


def test_refusals(server: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    Another Origin gets C{403} (the page's own is fine), another version
    C{400} naming 13, another C{:protocol} C{501}, another path C{404}:
    each on its stream only.
    """
    client = connect(server, True, devcerts)
    evil = client.open(fields=(VERSION, (b"origin", b"https://evil.example")))
    assert client.streams[evil].status == 403
    own = client.open(fields=(VERSION, (b"origin", b"https://" + client.authority)))
    assert client.streams[own].status == 200
    old = client.open(fields=((b"sec-websocket-version", b"8"),))
    assert client.streams[old].status == 400
    assert client.streams[old].headers is not None
    assert client.streams[old].headers[b"sec-websocket-version"] == b"13"
    assert client.streams[client.open(protocol=b"connect-udp")].status == 501
    assert client.streams[client.open(path=b"/echo")].status == 404
    client.echo(own, TEXT, b"unharmed")


def test_clientGoAway(server: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    After the client's C{GOAWAY} its WebSocket goes on, and the connection
    closes once the session ends.
    """
    client = connect(server, False, devcerts)
    streamID = client.open()
    goAway = GoAwayFrame(0)
    goAway.last_stream_id = 0
    # By hand: the client's h2 would take its own GOAWAY as the end.
    client.flush(goAway.serialize())
    client.echo(streamID, TEXT, b"after my GOAWAY")
    client.pump(lambda: len(client.streams[streamID].pings) >= 1, timeout=5)
    client.echo(streamID, TEXT, b"and after a ping")
    client.send(streamID, frame(CLOSE, struct.pack("!H", 1000)), end=True)
    assert closeCode(client.receive(streamID)[1]) == 1000
    client.pump(lambda: False)
    assert client.closed


def test_compression(server: EchohubProcess, devcerts: DevCertificates) -> None:
    """
    permessage-deflate is agreed in the C{200}: a compressed message (RSV1)
    comes back compressed, and one that inflates past the cap gets
    C{1009}; the access line and C{/metrics} say the session rode HTTP/2,
    compressed.
    """
    client = connect(server, True, devcerts)
    offer = (b"sec-websocket-extensions", b"permessage-deflate; client_max_window_bits")
    streamID = client.open(fields=(VERSION, offer))
    stream = client.streams[streamID]
    assert stream.headers is not None
    assert stream.headers[b"sec-websocket-extensions"].startswith(b"permessage-deflate")
    text = b"compress me, " * 100
    client.send(streamID, frame(TEXT, deflated(text), rsv1=True))
    opcode, payload = client.receive(streamID)
    assert (opcode, stream.compressed[-1]) == (TEXT, True)
    inflater = zlib.decompressobj(-15)
    assert inflater.decompress(payload + b"\x00\x00\xff\xff") == text
    client.send(streamID, frame(BINARY, deflated(b"\0" * (4 * MAX_MESSAGE)), rsv1=True))
    opcode, payload = client.receive(streamID)
    assert (opcode, closeCode(payload)) == (CLOSE, 1009)
    server.waitForOutput(
        rf"access: 127\.0\.0\.1:{client.sock.getsockname()[1]} CONNECT /ws 200 .*"
        r"websocket over HTTP/2, permessage-deflate, 1 messages in, 1 out,"
        r" close 1009 by server"
    )
    counted = [
        line
        for line in metrics(server).splitlines()
        if line.startswith("echohub_websocket_sessions_total{")
    ]
    assert any(
        'http="HTTP/2"' in line and 'compression="permessage-deflate"' in line
        for line in counted
    ), counted


def deflated(data: bytes) -> bytes:
    """
    C{data} as a client's permessage-deflate message payload (RFC 7692
    section 7.2.1).
    """
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def test_off(tmp_path: Path, devcerts: DevCertificates) -> None:
    """
    With C{over_http2 = false} the setting is not advertised, and an
    extended C{CONNECT} is malformed: C{RST_STREAM PROTOCOL_ERROR}.
    """
    with running(
        {
            "ECHOHUB_LINE_LISTEN": "",
            "ECHOHUB_WEB_LISTEN": "tcp:0:interface=127.0.0.1",
            "ECHOHUB_WEBSOCKET_OVER_HTTP2": "false",
        },
        cwd=str(tmp_path),
        listeners=1,
    ) as process:
        client = Client(process.address("web"), False, devcerts)
        assert client.settings is not None
        assert client.settings.get(0x8, 0) == 0
        streamID = client.open()
        assert client.streams[streamID].reset == ErrorCodes.PROTOCOL_ERROR


def test_drain(tmp_path: Path, devcerts: DevCertificates) -> None:
    """
    On SIGTERM each session gets close C{1001}, then its stream ends, the
    connection gets C{GOAWAY} and closes, and the process exits.
    """
    with running(
        {
            "ECHOHUB_LINE_LISTEN": "",
            "ECHOHUB_WEB_LISTEN": sslString(devcerts),
        },
        cwd=str(tmp_path),
        listeners=1,
    ) as process:
        client = Client(process.address("web"), True, devcerts)
        streams = [client.open(), client.open()]
        client.echo(streams[0], TEXT, b"before")
        assert process.process is not None
        process.process.send_signal(signal.SIGTERM)
        for streamID in streams:
            opcode, payload = client.receive(streamID)
            assert (opcode, closeCode(payload)) == (CLOSE, 1001)
            client.untilOver(streamID)
            assert client.streams[streamID].ended
        client.pump(lambda: False)
        assert client.closed
        assert client.goaway is not None
        assert client.goaway.error_code == ErrorCodes.NO_ERROR
        assert process.wait() == -signal.SIGTERM
