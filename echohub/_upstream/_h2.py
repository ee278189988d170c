# -*- test-case-name: tests.upstream.test_h2 -*-
"""
Where echohub overrides a behaviour of the C{h2} library that has no
switch, each behind one class: why, and the upstream change that would
replace it.
"""

from __future__ import annotations

from h2.connection import H2Connection


class StreamRefusingH2Connection(H2Connection):
    """
    h2's connection, except that a stream the client opens beyond our
    C{SETTINGS_MAX_CONCURRENT_STREAMS} is left to the application to
    refuse.

    Why: h2 checks the limit when it receives a new stream's C{HEADERS}
    and, over it, raises C{TooManyStreamsError} from C{receive_data} and
    ends the whole connection with C{GOAWAY PROTOCOL_ERROR}; RFC 9113
    section 5.1.2 makes it a stream error (C{PROTOCOL_ERROR} or
    C{REFUSED_STREAM}), which lets the client retry the stream.  h2 reads
    the number of open streams for that check, and only for it, from its
    public C{open_inbound_streams}, and has no switch for the check: here
    that count is held below the limit, so h2 opens the stream (and keeps
    its header compression in step), and the application resets it with
    C{REFUSED_STREAM} (L{echohub.http._h2.H2Connection} does, counting such
    refusals against a flood budget).  An option in h2 to make the limit a
    stream error would replace this; C{tests.test_upstream} fails if h2
    stops relying on the property.
    """

    @property
    def open_inbound_streams(self) -> int:
        """
        h2's count of open inbound streams, held below the advertised
        limit.
        """
        count: int = H2Connection.open_inbound_streams.fget(self)  # type: ignore[attr-defined]
        return min(count, self.local_settings.max_concurrent_streams - 1)
