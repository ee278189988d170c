"""
Tests for L{echohub.grpc._controls}: the echo controls read from request
metadata, within their bounds.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from echohub.config import GRPCConfig
from echohub.controls import METADATA, names
from echohub.grpc import Code
from echohub.grpc._controls import parseControls
from echohub.grpc._wire import GRPCError
from echohub.http import HIDDEN


class ControlsTests(SynchronousTestCase):
    """
    L{parseControls} reads each control, echoes the rest, and refuses what
    is out of bounds.
    """

    config = GRPCConfig(max_stream_count=10, max_stream_interval=1, max_delay=2)

    def test_defaults(self) -> None:
        """
        No control: one message, at once, the call's own status.
        """
        controls = parseControls([], self.config, False)
        self.assertEqual(
            (controls.count, controls.interval, controls.delay, controls.status),
            (1, 0.0, 0.0, None),
        )

    def test_each(self) -> None:
        """
        Every control, in its unit; all of them echoed but the trailers.
        """
        controls = parseControls(
            [
                (b"echo-count", b"10"),
                (b"echo-interval-ms", b"1000"),
                (b"echo-delay-ms", b"1500"),
                (b"echo-status", b"16"),
                (b"echo-message", b"denied"),
                (b"echo-trailer-x-a", b"1"),
                (b"x-other", b"2"),
            ],
            self.config,
            False,
        )
        self.assertEqual(
            (controls.count, controls.interval, controls.delay),
            (10, 1.0, 1.5),
        )
        self.assertEqual((controls.status, controls.message), (16, "denied"))
        self.assertEqual(controls.trailers, [(b"x-a", b"1")])
        self.assertEqual(
            [name for name, _ in controls.headers],
            [
                b"echo-count",
                b"echo-interval-ms",
                b"echo-delay-ms",
                b"echo-status",
                b"echo-message",
                b"x-other",
            ],
        )

    def test_bounds(self) -> None:
        """
        Over a bound, negative, or not a number: C{INVALID_ARGUMENT} naming
        the setting.
        """
        for name, value, text in [
            (b"echo-count", b"11", "[grpc] max_stream_count"),
            (b"echo-interval-ms", b"1001", "[grpc] max_stream_interval"),
            (b"echo-delay-ms", b"2001", "[grpc] max_delay"),
            (b"echo-status", b"17", "0-16"),
            (b"echo-count", b"-1", "integer"),
            (b"echo-delay-ms", b"1e3", "integer"),
            (b"echo-trailer-", b"x", "reserved"),
            (b"echo-trailer-te", b"x", "reserved"),
        ]:
            error = self.assertRaises(
                GRPCError, parseControls, [(name, value)], self.config, False
            )
            self.assertEqual(error.code, Code.INVALID_ARGUMENT)
            self.assertIn(text, error.message)

    def test_sensitive(self) -> None:
        """
        Credentials are echoed hidden unless shown by the setting.
        """
        for show, value in [(False, HIDDEN.encode()), (True, b"Basic x")]:
            controls = parseControls(
                [(b"authorization", b"Basic x")], self.config, show
            )
            self.assertEqual(controls.headers, [(b"authorization", value)])

    def test_oneList(self) -> None:
        """
        The control names read here are those L{echohub.controls} lists.
        """
        self.assertEqual(
            names(METADATA),
            {
                "echo-count",
                "echo-interval-ms",
                "echo-delay-ms",
                "echo-status",
                "echo-message",
                "echo-trailer-*",
            },
        )
