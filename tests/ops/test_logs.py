"""
Tests for L{echohub.ops._logs}: journald and JSON lines, the choice of format,
and rate-limited warnings.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile

from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import (
    Logger,
    LogLevel,
    LogPublisher,
    formatEvent,
    formatEventAsClassicLogText,
    globalLogPublisher,
)
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from echohub.ops._logs import (
    ClassicTextFormatter,
    DescriptorExhaustionFilter,
    JournaldObserver,
    JSONLinesObserver,
    NoiseFilter,
    RateLimitedLog,
    TurnBufferedWriter,
    makeObserver,
    underJournal,
)


def emit(observer: object, level: LogLevel, format: str, **kwargs: object) -> None:
    """
    Log one event through a private publisher to C{observer}.
    """
    publisher = LogPublisher(observer)  # type: ignore[arg-type]
    Logger(namespace="test", observer=publisher).emit(level, format, **kwargs)


class ClassicTextFormatterTests(SynchronousTestCase):
    """
    L{ClassicTextFormatter} writes what Twisted's text log writes.
    """

    def test_sameAsTwisted(self) -> None:
        """
        Preformatted and ordinary events, with or without a system, time or
        traceback, and over several lines, give Twisted's classic line.
        """
        try:
            raise ZeroDivisionError("boom")
        except ZeroDivisionError:
            failure = Failure()
        base = {
            "log_time": 1700000000.75,
            "log_namespace": "ns",
            "log_level": LogLevel.info,
        }
        events: list[dict[str, object]] = [
            {**base, "log_format": "{log_text}", "log_text": "web access: a b"},
            {**base, "log_format": "{log_text}", "log_text": "two\nlines"},
            {**base, "log_format": "{log_text}", "log_text": ""},
            {"log_format": "{log_text}", "log_text": "no time, level, namespace"},
            {**base, "log_format": "{log_text}", "log_text": 7},
            {**base, "log_format": "{log_text}", "log_text": "x", "log_system": "s"},
            {
                **base,
                "log_format": "{log_text}",
                "log_text": "x",
                "log_failure": failure,
            },
            {**base, "log_format": "hello {who}", "who": "world"},
            {**base, "log_format": None},
        ]
        formatter = ClassicTextFormatter()
        for event in events:
            self.assertEqual(formatter(event), formatEventAsClassicLogText(event))

    def test_timestampOncePerSecond(self) -> None:
        """
        Events within one second share one formatted timestamp; the next
        second gets its own; no time format means C{-}.
        """
        formatter = ClassicTextFormatter()
        first = formatter.formatTime(1700000000.1)
        self.assertIs(formatter.formatTime(1700000000.9), first)
        self.assertNotEqual(formatter.formatTime(1700000001.0), first)
        self.assertEqual(ClassicTextFormatter(None).formatTime(1700000000.1), "-")
        self.assertEqual(formatter.formatTime(None), "-")


class JournaldObserverTests(SynchronousTestCase):
    """
    L{JournaldObserver} writes C{<N>text}, one line per event.
    """

    def test_levels(self) -> None:
        """
        Each level gets its syslog priority; no timestamp is written.
        """
        out = io.StringIO()
        observer = JournaldObserver(out)
        for level in (LogLevel.debug, LogLevel.info, LogLevel.warn, LogLevel.error):
            emit(observer, level, "hello {who}", who="world")
        self.assertEqual(
            out.getvalue().splitlines(),
            ["<7>hello world", "<6>hello world", "<4>hello world", "<3>hello world"],
        )

    def test_tracebackOnOneLine(self) -> None:
        """
        A failure's traceback stays on the event's one line.
        """
        out = io.StringIO()
        try:
            raise ZeroDivisionError("boom")
        except ZeroDivisionError:
            failure = Failure()
        emit(JournaldObserver(out), LogLevel.critical, "boom", log_failure=failure)
        lines = out.getvalue().splitlines()
        self.assertEqual(len(lines), 1)
        self.assertTrue(lines[0].startswith("<2>boom"))
        self.assertIn("ZeroDivisionError", lines[0])


class JSONLinesObserverTests(SynchronousTestCase):
    """
    L{JSONLinesObserver} writes one JSON object per event.
    """

    def test_fields(self) -> None:
        """
        The object holds level, namespace, the formatted message and the
        event's simple fields and documents of them, not Twisted's internal
        ones nor other objects.
        """
        out = io.StringIO()
        emit(
            JSONLinesObserver(out),
            LogLevel.info,
            "{peer} {bytes_in} bytes",
            peer="1.2.3.4:5",
            bytes_in=7,
            complex=object(),
            document={"headers": [["a", "b"]], "n": 1},
            mixed={"x": object()},
        )
        record = json.loads(out.getvalue())
        self.assertEqual(record["level"], "info")
        self.assertEqual(record["namespace"], "test")
        self.assertEqual(record["message"], "1.2.3.4:5 7 bytes")
        self.assertEqual((record["peer"], record["bytes_in"]), ("1.2.3.4:5", 7))
        self.assertNotIn("complex", record)
        self.assertEqual(record["document"], {"headers": [["a", "b"]], "n": 1})
        self.assertNotIn("mixed", record)
        self.assertIsInstance(record["time"], float)


class ChoiceTests(SynchronousTestCase):
    """
    The format comes from C{[server] log_format}; C{auto} means journald
    only when standard output is the journal's stream.
    """

    def test_underJournalComparesDeviceAndInode(self) -> None:
        """
        C{$JOURNAL_STREAM} must name the output's own device and inode.
        """
        with tempfile.TemporaryFile("w") as out:
            stat = os.fstat(out.fileno())
            mine = f"{stat.st_dev}:{stat.st_ino}"
            self.assertTrue(underJournal({"JOURNAL_STREAM": mine}, out))
            self.assertFalse(underJournal({"JOURNAL_STREAM": "1:2"}, out))
            self.assertFalse(underJournal({}, out))
            chosen = makeObserver("auto", {"JOURNAL_STREAM": mine}, out)
            assert isinstance(chosen, DescriptorExhaustionFilter)
            assert isinstance(chosen.observer, NoiseFilter)
            self.assertIsInstance(chosen.observer.observer, JournaldObserver)

    def test_formats(self) -> None:
        """
        Each C{log_format} value the caller hands in picks its observer,
        always behind the descriptor-exhaustion and noise filters; C{text}
        (and C{auto} off the journal) is Twisted's file observer.
        """
        out = io.StringIO()
        chosen = {}
        for logFormat in ("json", "journald", "text", "auto"):
            observer = makeObserver(logFormat, {}, out)
            assert isinstance(observer, DescriptorExhaustionFilter)
            assert isinstance(observer.observer, NoiseFilter)
            chosen[logFormat] = type(observer.observer.observer)
        self.assertEqual(chosen["json"], JSONLinesObserver)
        self.assertEqual(chosen["journald"], JournaldObserver)
        self.assertEqual(chosen["text"], chosen["auto"])
        self.assertNotIn(chosen["text"], (JSONLinesObserver, JournaldObserver))

    def test_standardOutputByDefault(self) -> None:
        """
        Without C{out}, the observer writes to standard output as it is when
        the observer is made (what twistd's application component needs).
        """
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        emit(makeObserver("json", {}), LogLevel.info, "to {where}", where="stdout")
        self.assertEqual(json.loads(out.getvalue())["message"], "to stdout")


class _Recording(io.StringIO):
    """
    A stream that records each write and flush.
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def write(self, text: str) -> int:
        self.calls.append("write")
        return super().write(text)

    def flush(self) -> None:
        self.calls.append("flush")


class TurnBufferedWriterTests(SynchronousTestCase):
    """
    L{TurnBufferedWriter} writes a reactor turn's lines once, at its end,
    and never holds one past the reactor's end.
    """

    def setUp(self) -> None:
        self.out = _Recording()
        self.clock = MemoryReactorClock()
        self.clock.running = True

    def test_oneWritePerTurn(self) -> None:
        """
        Lines written and "flushed" one by one, as an observer does, reach
        the stream in one write and one flush at the end of the turn.
        """
        writer = TurnBufferedWriter(self.out, self.clock)
        for n in range(3):
            writer.write(f"line {n}\n")
            writer.flush()
        self.assertEqual(self.out.calls, [])
        self.clock.advance(0)
        self.assertEqual(self.out.calls, ["write", "flush"])
        self.assertEqual(self.out.getvalue(), "line 0\nline 1\nline 2\n")
        self.clock.advance(1)
        self.assertEqual(self.out.calls, ["write", "flush"])

    def test_limit(self) -> None:
        """
        Past L{TurnBufferedWriter.LIMIT} characters, what waits is written
        at once.
        """
        writer = TurnBufferedWriter(self.out, self.clock)
        writer.write("x" * (writer.LIMIT - 1))
        self.assertEqual(self.out.getvalue(), "")
        writer.write("yz")
        self.assertEqual(len(self.out.getvalue()), writer.LIMIT + 1)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_notRunning(self) -> None:
        """
        Before the reactor runs (start-up) and after, lines go out at once.
        """
        self.clock.running = False
        writer = TurnBufferedWriter(self.out, self.clock)
        writer.write("listening\n")
        self.assertEqual(self.out.getvalue(), "listening\n")

    def test_shutdown(self) -> None:
        """
        What waits is written when the reactor has shut down, when no turn
        end will come.
        """
        writer = TurnBufferedWriter(self.out, self.clock)
        writer.write("stopped\n")
        [(flush, args, kwargs)] = self.clock.triggers["after"]["shutdown"]
        flush(*args, **kwargs)
        self.assertEqual(self.out.getvalue(), "stopped\n")

    def test_observer(self) -> None:
        """
        C{makeObserver} with C{batchBy} writes its format's lines through
        one.
        """
        observer = makeObserver("json", {}, self.out, batchBy=self.clock)
        emit(observer, LogLevel.info, "one")
        emit(observer, LogLevel.warn, "two")
        self.assertEqual(self.out.getvalue(), "")
        self.clock.advance(0)
        messages = [
            json.loads(x)["message"] for x in self.out.getvalue().split("\n")[:-1]
        ]
        self.assertEqual(messages, ["one", "two"])


class RateLimitedLogTests(SynchronousTestCase):
    """
    L{RateLimitedLog} logs a kind of warning once per interval.
    """

    def setUp(self) -> None:
        self.events: list[dict[str, object]] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)
        self.clock = Clock()
        self.log = RateLimitedLog(Logger(namespace="rl"), 10, self.clock)

    def messages(self) -> list[object]:
        return [e["suppressed"] for e in self.events if e.get("log_namespace") == "rl"]

    def test_floodIsOneLinePerInterval(self) -> None:
        """
        A hundred warnings within the interval make one line; the next one
        after it carries the count of those left out.
        """
        for _ in range(100):
            self.log.warn("cap", "refused {peer}", peer="x")
            self.clock.advance(0.05)
        self.assertEqual(self.messages(), [0])
        self.clock.advance(10)
        self.log.warn("cap", "refused {peer}", peer="x")
        self.assertEqual(self.messages(), [0, 99])

    def test_kindsAreSeparate(self) -> None:
        """
        Different kinds do not suppress each other.
        """
        self.log.warn("a", "one")
        self.log.warn("b", "two")
        self.assertEqual(len(self.messages()), 2)

    def test_stopReportsTheRest(self) -> None:
        """
        At shutdown the warnings left out are reported.
        """
        for _ in range(3):
            self.log.warn("cap", "refused")
        self.log.stop()
        self.assertEqual(self.messages(), [0, 2])
        self.assertEqual(self.clock.getDelayedCalls(), [])


class DescriptorExhaustionFilterTests(SynchronousTestCase):
    """
    L{DescriptorExhaustionFilter} folds Twisted's EMFILE recovery lines.
    """

    def test_burstIsOneWarning(self) -> None:
        """
        The per-connection lines of one EMFILE recovery become one warning
        with their count; other events pass through untouched.
        """
        seen: list[dict[str, object]] = []
        observer = DescriptorExhaustionFilter(seen.append)
        other = {"log_format": "something else", "log_level": LogLevel.info}
        observer(other)
        observer({"log_format": DescriptorExhaustionFilter._STARTED})
        for port in range(3):
            observer(
                {"log_format": DescriptorExhaustionFilter._CLOSED, "address": port}
            )
        observer(
            {
                "log_format": DescriptorExhaustionFilter._FINISHED,
                "log_level": LogLevel.info,
            }
        )
        self.assertEqual(seen[0], other)
        self.assertEqual(len(seen), 2)
        self.assertEqual(seen[1]["closed"], 3)
        self.assertEqual(seen[1]["log_level"], LogLevel.warn)
        self.assertIn("Out of file descriptors", formatEvent(seen[1]))


class NoiseFilterTests(SynchronousTestCase):
    """
    L{NoiseFilter} drops Twisted's factory and port start and stop lines.
    """

    def test_drops(self) -> None:
        """
        "Starting factory", "X starting on N" and "(TCP Port N Closed)" are
        dropped; other events, a line that merely mentions a port among
        them, pass.
        """
        seen: list[dict[str, object]] = []
        observer = NoiseFilter(seen.append)
        noise = [
            {"log_format": "Starting factory {factory!r}", "factory": object()},
            {"log_format": "Stopping factory {factory!r}", "factory": object()},
            {"log_format": "{log_text}", "message": ("HTTPSite starting on 8080",)},
            {"log_format": "{log_text}", "message": ("(TCP Port 8080 Closed)",)},
            {"log_format": "{log_text}", "message": ("(UDP Port 7 Closed)",)},
            {"log_format": "{log_text}", "message": ("Stopping protocol <a.B at 1>",)},
        ]
        kept = [
            {"log_format": "web listening on {address}", "address": "x"},
            {"log_format": "{log_text}", "message": ("a", "b starting on 1")},
            {"log_format": "{log_text}", "message": ("echohub: stopping",)},
        ]
        for event in noise + kept:
            observer(event)
        self.assertEqual(seen, kept)
