"""
Tests for L{echohub.ops._fastread}: which protocols read their own sockets,
and starting the direct dispatch.
"""

from __future__ import annotations

from twisted.internet import reactor
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from echohub.ops import RECEIVE_BUFFER, RECEIVE_VIEW, IDirectReader, startDirectDispatch
from echohub.ops._fastread import RECEIVE_SIZE, readerFor


@implementer(IDirectReader)
class _Direct(Protocol):
    def socketReadable(self) -> object:
        return None


class ReaderForTests(SynchronousTestCase):
    """
    L{readerFor} finds the reader of a protocol class that provides
    L{IDirectReader}, and none for any other.
    """

    def test_provider(self) -> None:
        """
        An L{IDirectReader}'s reader is its C{socketReadable}.
        """
        self.assertIs(readerFor(_Direct), _Direct.socketReadable)

    def test_other(self) -> None:
        """
        Any other protocol reads through Twisted.
        """
        self.assertIsNone(readerFor(Protocol))

    def test_buffer(self) -> None:
        """
        The shared buffer holds one read of Twisted's size, and the view is
        of it.
        """
        self.assertEqual(len(RECEIVE_BUFFER), RECEIVE_SIZE)
        self.assertIs(RECEIVE_VIEW.obj, RECEIVE_BUFFER)


class StartTests(SynchronousTestCase):
    """
    L{startDirectDispatch} installs on Twisted's epoll reactor, leaves any
    other alone, and says which in the log.
    """

    def setUp(self) -> None:
        self.events: list[dict[str, object]] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def said(self) -> list[str]:
        return [
            str(e["log_format"])
            for e in self.events
            if "direct dispatch" in str(e.get("log_format", ""))
        ]

    def test_epoll(self) -> None:
        """
        On the epoll reactor the loop is replaced until the returned
        function puts Twisted's back.
        """
        stop = startDirectDispatch(reactor)
        assert stop is not None
        self.addCleanup(stop)
        self.assertIn("doIteration", vars(reactor))
        self.assertEqual(
            self.said(), ["direct dispatch on: epoll events dispatched by echohub"]
        )

    def test_otherReactor(self) -> None:
        """
        Another reactor is left alone, with the reason logged.
        """
        other = MemoryReactorClock()
        self.assertIsNone(startDirectDispatch(other))
        self.assertNotIn("doIteration", vars(other))
        [line] = self.said()
        self.assertTrue(line.startswith("direct dispatch off"))
        [event] = [e for e in self.events if "why" in e]
        self.assertIn("MemoryReactorClock", str(event["why"]))
