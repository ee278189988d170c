"""
Tests for L{echohub._upstream._h2}: each h2 behaviour echohub overrides is
still the one it overrides.  These fail loudly when an upgrade changes one.
"""

from __future__ import annotations

from typing import Any

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import RequestReceived
from h2.exceptions import TooManyStreamsError
from h2.settings import SettingCodes
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
