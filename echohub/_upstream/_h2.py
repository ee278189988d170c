# -*- test-case-name: tests.upstream.test_h2 -*-
"""
Where echohub overrides a behaviour of the C{h2} library (4.x) that has no
switch, all in one class (L{ServerH2Connection}): for each, why, and the
upstream change that would replace it.  C{docs/internals.md} holds the text
of the upstream issue for the ones not filed yet.
"""

from __future__ import annotations

from typing import Any

from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.events import ConnectionTerminated, Event, StreamReset
from h2.exceptions import (
    DenialOfServiceError,
    InvalidBodyLengthError,
    ProtocolError,
    TooManyStreamsError,
)
from hpack import Decoder, Encoder
from hpack.exceptions import HPACKError, OversizedHeaderListError
from hyperframe.frame import DataFrame, Frame, GoAwayFrame, HeadersFrame

ENCODER_TABLE_SIZE = 4096
"""
The most our HPACK encoder keeps, whatever larger table the client allows
(RFC 7541 section 4.2 lets an encoder use less than the peer's
C{SETTINGS_HEADER_TABLE_SIZE}).
"""


class HeaderCompressionError(ProtocolError):
    """
    A header block that does not decode (RFC 7541): a connection error of
    type C{COMPRESSION_ERROR} (RFC 9113 section 4.3).
    """

    error_code = ErrorCodes.COMPRESSION_ERROR


class CappedEncoder(Encoder):
    """
    hpack's encoder, whose dynamic table never grows past
    L{ENCODER_TABLE_SIZE}.

    Why: h2 sets its encoder's table to whatever the client's
    C{SETTINGS_HEADER_TABLE_SIZE} says, up to 2**32-1; a client that asks
    for that much and then reads responses with ever new header values
    makes the server keep and search a table without bound (measured: ten
    times the CPU per request after 12 000 requests, and other clients
    waiting).  h2 has no setting for the encoder's own limit; one would
    replace this.
    """

    @property
    def header_table_size(self) -> int:
        """
        The table's size.
        """
        size: int = self.header_table.maxsize
        return size

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        Encoder.header_table_size.fset(  # type: ignore[attr-defined]
            self, min(value, ENCODER_TABLE_SIZE)
        )


class CheckingDecoder(Decoder):
    """
    hpack's decoder, whose decoding errors are L{HeaderCompressionError}s.

    Why: h2 turns every HPACK decoding error into a plain C{ProtocolError},
    so the connection ends with C{GOAWAY PROTOCOL_ERROR}; RFC 9113 section
    4.3 requires C{COMPRESSION_ERROR}.  h2 catches only hpack's own
    exceptions around C{decode}, so one of its C{ProtocolError}s raised
    here reaches C{receive_data}, which ends the connection with the code
    the exception carries.  A fix in h2 (the code in C{_decode_headers})
    would replace this.
    """

    def decode(self, data: bytes, raw: bool = False) -> Any:
        """
        Decode C{data}; a decoding error (but a list over the size limit,
        which h2 answers as the attack it is) is a compression error.
        """
        try:
            return super().decode(data, raw)
        except OversizedHeaderListError:
            raise
        except (HPACKError, IndexError, TypeError, UnicodeDecodeError) as e:
            raise HeaderCompressionError(f"Error decoding header block: {e}") from e


class ServerH2Connection(H2Connection):
    """
    h2's connection, with what RFC 9113 asks of a server and h2 does not
    do.  Each change is one method, with its test in
    C{tests/upstream/test_h2.py} that fails when h2 changes what it relies
    on.

        - B{A stream over the limit is the application's to refuse}
          (L{open_inbound_streams}).
        - B{A client's GOAWAY ends nothing in flight}
          (L{_receive_goaway_frame}).
        - B{A malformed request is a stream error}, not the end of the
          connection (L{_receive_frame}).
        - B{The encoder's table is capped} and B{decoding errors are
          C{COMPRESSION_ERROR}s} (L{CappedEncoder}, L{CheckingDecoder}).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.encoder = CappedEncoder()
        decoder = CheckingDecoder()
        decoder.max_header_list_size = self.decoder.max_header_list_size
        self.decoder = decoder

    @property
    def open_inbound_streams(self) -> int:
        """
        h2's count of open inbound streams, held below the advertised
        limit.

        Why: h2 checks C{SETTINGS_MAX_CONCURRENT_STREAMS} when it receives
        a new stream's C{HEADERS} and, over it, raises
        C{TooManyStreamsError} from C{receive_data} and ends the whole
        connection with C{GOAWAY PROTOCOL_ERROR}; RFC 9113 section 5.1.2
        makes it a stream error (C{PROTOCOL_ERROR} or C{REFUSED_STREAM}),
        which lets the client retry the stream.  h2 reads the number of
        open streams for that check, and only for it, from this property:
        held below the limit, h2 opens the stream (and keeps its header
        compression in step), and the application resets it with
        C{REFUSED_STREAM}.  An option in h2 to make the limit a stream
        error would replace this.
        """
        count: int = H2Connection.open_inbound_streams.fget(self)  # type: ignore[attr-defined]
        return min(count, self.local_settings.max_concurrent_streams - 1)

    def _receive_goaway_frame(
        self, frame: GoAwayFrame
    ) -> tuple[list[Frame], list[Event]]:
        """
        A client's C{GOAWAY}: a L{ConnectionTerminated} event, and nothing
        else.

        Why: h2 takes any C{GOAWAY} received as the end of the connection
        (its state machine goes to C{CLOSED} and it drops what it had to
        send), so every later send raises: a response in flight never ends
        and a C{PING} gets C{GOAWAY PROTOCOL_ERROR}.  RFC 9113 section 6.8
        only tells the receiver to open no new streams; streams in flight
        may finish.  Node's C{session.close()} sends exactly this.  Upstream:
        python-hyper/h2#1181 ("Support graceful connection close").
        """
        event = ConnectionTerminated()
        event.error_code = _errorCode(frame.error_code)
        event.last_stream_id = frame.last_stream_id
        event.additional_data = frame.additional_data or None
        return [], [event]

    def _receive_frame(self, frame: Frame) -> list[Event]:
        """
        Receive C{frame}; a request h2 finds malformed on its stream (a
        C{content-length} that is not one number, or that the body does
        not match) resets that stream with C{PROTOCOL_ERROR}, as RFC 9113
        section 8.1.1 allows, instead of ending the connection.  The
        application gets a L{StreamReset} that is not the client's.

        Why: h2 raises a plain C{ProtocolError} for those, which ends the
        connection; its C{StreamClosedError} handling shows the shape a
        stream error takes.  A stream-error class in h2 for malformed
        messages would replace this.  (echohub turns h2's own header
        validation off and checks header lists itself, per stream.)
        """
        try:
            return super()._receive_frame(frame)
        except (HeaderCompressionError, TooManyStreamsError, DenialOfServiceError):
            raise
        except ProtocolError as e:
            streamID = frame.stream_id
            stream = self.streams.get(streamID)
            malformed = isinstance(e, InvalidBodyLengthError) or (
                isinstance(frame, HeadersFrame)
                and stream is not None
                and not stream.closed
            )
            if not malformed or stream is None:
                raise
            if not stream.closed:
                self.reset_stream(streamID, ErrorCodes.PROTOCOL_ERROR)
            if isinstance(frame, DataFrame):
                # Its bytes count against the connection's window all the
                # same (RFC 9113 section 6.9).
                self.acknowledge_received_data(frame.flow_controlled_length, streamID)
            return [
                StreamReset(
                    stream_id=streamID,
                    error_code=ErrorCodes.PROTOCOL_ERROR,
                    remote_reset=False,
                )
            ]


def _errorCode(code: int) -> ErrorCodes | int:
    try:
        return ErrorCodes(code)
    except ValueError:
        return code
