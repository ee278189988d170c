# -*- test-case-name: tests.ops.test_logs -*-
"""
Where echohub's log events go, and how often a repeated warning is logged.

echohub logs through L{twisted.logger} only.  This module chooses the shape
of each line, by C{[server] log_format}:

    - C{text}: twistd's usual timestamped lines (L{ClassicTextFormatter}).
    - C{journald}: one line per event, prefixed with the syslog level
      (C{<3>} error .. C{<7>} debug) that journald reads from a service's
      standard output, and no timestamp (the journal adds its own).  A
      traceback stays inside its event's line (newlines are escaped), so one
      event is one journal entry with one priority.
    - C{json}: one JSON object per line (C{time}, C{level}, C{namespace},
      C{message} and the event's simple fields, e.g. an access log's
      C{peer}, C{bytes_in}, C{bytes_out}, C{duration}, C{reason}).
    - C{auto} (the default): C{journald} when standard output is the journal
      (C{$JOURNAL_STREAM} names its device and inode), else C{text}.

The configuration is loaded once, by C{echohub.tac} or the plugin
(L{echohub.tap}), which hand its C{log_format} to L{makeObserver}: twistd
picks the observer up from the application, twist from its options.

Lines may be written once per reactor turn rather than once per event
(L{TurnBufferedWriter}, what C{echohub.tac} asks for): an HTTP server logs
a line per request, and a C{write} system call per line was a tenth of a
small request's cost.

L{RateLimitedLog} keeps a flood (of refused connections, of bad PROXY
headers) from becoming a flood of log lines: one line per kind per interval,
then a count of the ones left out.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import re
import sys
from collections.abc import Mapping
from typing import IO, Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import (
    FileLogObserver,
    ILogObserver,
    LogEvent,
    Logger,
    LogLevel,
    eventAsText,
    formatEventAsClassicLogText,
    formatTime,
    timeFormatRFC3339,
)
from zope.interface import implementer

JOURNAL_STREAM = "JOURNAL_STREAM"

SYSLOG_LEVELS = {
    LogLevel.debug: 7,
    LogLevel.info: 6,
    LogLevel.warn: 4,
    LogLevel.error: 3,
    LogLevel.critical: 2,
}


def _preformatted(event: LogEvent) -> str | None:
    """
    The text of an event that carries its line already formatted, as
    C{log_format="{log_text}"} with a string C{log_text} and no failure
    (Twisted's own legacy-log bridge and echohub's access log emit these),
    or L{None} for any other event.

    Such a line needs no format parsing: for a small HTTP request, running
    it through L{twisted.logger.formatEvent} cost as much as building it.
    """
    if event.get("log_format") != "{log_text}" or "log_failure" in event:
        return None
    text = event.get("log_text")
    return text if isinstance(text, str) and text else None


def _message(event: LogEvent) -> str:
    """
    The event's text, with its traceback if any, without timestamp or
    system: what L{eventAsText} gives, without parsing a preformatted line.
    """
    text = _preformatted(event)
    if text is None:
        text = eventAsText(event, includeTimestamp=False, includeSystem=False)
    return text


def _oneLine(event: LogEvent) -> str:
    """
    The event's text with its traceback, if any, on one line.
    """
    return _message(event).replace("\\", "\\\\").replace("\n", "\\n")


class ClassicTextFormatter:
    """
    Format events as L{twisted.logger.formatEventAsClassicLogText} does
    (C{"{timestamp} [{system}] {text}"}, continuation lines indented), only
    cheaper, because the text log writes one of these per HTTP request.

        - The timestamp has whole seconds, so it is formatted once per
          second rather than once per event (that cost about 4.5 µs).
        - A preformatted event (see L{_preformatted}) is not parsed again.

    @ivar timeFormat: the C{strftime} format of the timestamp, or L{None}
        for C{-}.
    """

    def __init__(self, timeFormat: str | None = timeFormatRFC3339) -> None:
        self.timeFormat = timeFormat
        self._second: int | None = None
        self._stamp = "-"

    def formatTime(self, when: float | None) -> str:
        """
        Format C{when} as L{twisted.logger.formatTime} does, reusing the
        text of the last second formatted.
        """
        if when is None or self.timeFormat is None:
            return "-"
        second = math.floor(when)
        if second != self._second:
            self._stamp = formatTime(second, self.timeFormat)
            self._second = second
        return self._stamp

    def __call__(self, event: LogEvent) -> str | None:
        """
        The event's line, newline included, or L{None} for an event with
        no text.
        """
        text = _preformatted(event)
        if text is None or "log_system" in event:
            return formatEventAsClassicLogText(event, formatTime=self.formatTime)
        level = event.get("log_level")
        system = f"{event.get('log_namespace', '-')}#{level.name if level else '-'}"
        when = self.formatTime(event.get("log_time"))
        return f"{when} [{system}] {text}".replace("\n", "\n\t") + "\n"


@implementer(ILogObserver)
class JournaldObserver:
    """
    Write each event as C{<N>text}: one line, syslog level prefix, no
    timestamp.
    """

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def __call__(self, event: LogEvent) -> None:
        level = SYSLOG_LEVELS.get(event.get("log_level", LogLevel.info), 6)
        self.out.write(f"<{level}>{_oneLine(event)}\n")
        self.out.flush()


_SIMPLE = (str, int, float, bool, type(None))


def _isDocument(value: object, depth: int = 4) -> bool:
    """
    Whether C{value} is a simple value, or a dict or list made only of them
    (a logged request, L{echohub.ops._requests}), a few levels deep.
    """
    if isinstance(value, _SIMPLE):
        return True
    if depth == 0:
        return False
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and _isDocument(v, depth - 1) for k, v in value.items()
        )
    if isinstance(value, list):
        return all(_isDocument(v, depth - 1) for v in value)
    return False


@implementer(ILogObserver)
class JSONLinesObserver:
    """
    Write each event as one JSON object on one line.

    Unlike L{twisted.logger.jsonFileLogObserver}, whose records serialise
    every key of the event (and start with an RS byte), these carry the
    formatted message and only the event's own simple fields (and documents
    made of them, such as a logged request), which is what a log shipper
    wants.
    """

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def __call__(self, event: LogEvent) -> None:
        level = event.get("log_level", LogLevel.info)
        record: dict[str, Any] = {
            "time": event.get("log_time"),
            "level": level.name,
            "namespace": event.get("log_namespace"),
            "message": _message(event),
        }
        for key, value in event.items():
            if not key.startswith("log_") and key not in record:
                if _isDocument(value):
                    record[key] = value
        self.out.write(json.dumps(record, default=str) + "\n")
        self.out.flush()


def underJournal(environ: Mapping[str, str], out: IO[str]) -> bool:
    """
    Whether C{out} is connected to systemd's journal.

    systemd sets C{$JOURNAL_STREAM} to the C{DEVICE:INODE} of the stream it
    connects; comparing them (as sd_journal_stream_fd's documentation
    advises) keeps a child whose output was redirected from taking it.
    """
    stream = environ.get(JOURNAL_STREAM)
    if not stream:
        return False
    try:
        stat = os.fstat(out.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return stream == f"{stat.st_dev}:{stat.st_ino}"


class TurnBufferedWriter:
    """
    A text stream for log observers that writes, and flushes, what it was
    given during one reactor turn once, at the end of the turn.

    The observers flush after every line, which for a file or a pipe is a
    C{write} system call per line; here their C{flush} waits for the end of
    the turn (a C{callLater(0)}), so a turn that answers fifty requests
    writes their fifty access lines at once.  Lines are no later than the
    turn that logged them, and no line is lost at a normal exit: the stream
    is flushed when the reactor has shut down, at interpreter exit, while
    the reactor is not running, and whenever L{LIMIT} characters wait.

    @cvar LIMIT: the most characters kept before they are written at once.
    """

    LIMIT = 65536

    def __init__(self, out: IO[str], clock: IReactorTime) -> None:
        self.out = out
        self.clock = clock
        self._pending: list[str] = []
        self._size = 0
        self._call: IDelayedCall | None = None
        atexit.register(self.flushNow)
        addTrigger = getattr(clock, "addSystemEventTrigger", None)
        if addTrigger is not None:
            addTrigger("after", "shutdown", self.flushNow)

    def write(self, text: str) -> int:
        """
        Keep C{text} for the end of the turn.
        """
        self._pending.append(text)
        self._size += len(text)
        if self._size >= self.LIMIT or not getattr(self.clock, "running", True):
            self.flushNow()
        elif self._call is None:
            self._call = self.clock.callLater(0, self.flushNow)
        return len(text)

    def flush(self) -> None:
        """
        What an observer calls after each line: the lines wait for the end
        of the turn.
        """

    def flushNow(self) -> None:
        """
        Write and flush every line kept.
        """
        if self._call is not None:
            if self._call.active():
                self._call.cancel()
            self._call = None
        if self._pending:
            text = "".join(self._pending)
            self._pending = []
            self._size = 0
            self.out.write(text)
            self.out.flush()

    def fileno(self) -> int:
        """
        The descriptor of the stream written to.
        """
        return self.out.fileno()


def makeObserver(
    logFormat: str,
    environ: Mapping[str, str] | None = None,
    out: IO[str] | None = None,
    batchBy: IReactorTime | None = None,
) -> ILogObserver:
    """
    The observer for C{logFormat}, the C{[server] log_format} of the
    configuration the caller loaded (this module loads none).

    @param environ: where C{$JOURNAL_STREAM} is read, for C{auto}.
    @param out: where the lines go; standard output by default.
    @param batchBy: the reactor whose turns the lines are written at the
        end of (L{TurnBufferedWriter}); L{None} writes each at once.
    """
    environ = os.environ if environ is None else environ
    out = sys.stdout if out is None else out
    if logFormat == "auto":
        logFormat = "journald" if underJournal(environ, out) else "text"
    if batchBy is not None:
        out = TurnBufferedWriter(out, batchBy)  # type: ignore[assignment]
    observer: ILogObserver
    if logFormat == "journald":
        observer = JournaldObserver(out)
    elif logFormat == "json":
        observer = JSONLinesObserver(out)
    else:
        observer = FileLogObserver(out, ClassicTextFormatter())
    return DescriptorExhaustionFilter(NoiseFilter(observer))


# Twisted's lines about ports and factories: each listener's start is
# echohub's own "SERVICE listening on ADDRESS (ENDPOINT)" line and the
# ready line, so these say it again, with an object's repr.
_NOISE_FORMATS = frozenset(
    {
        "Starting factory {factory!r}",
        "Stopping factory {factory!r}",
        "Starting protocol {protocol!r}",
        "Stopping protocol {protocol!r}",
    }
)
_NOISE_TEXT = re.compile(
    r"\S.* starting on \S+"
    r"|\((?:\w+ )?Port \S+ Closed\)"
    r"|(?:Start|Stopp)ing protocol <.*>"
)


@implementer(ILogObserver)
class NoiseFilter:
    """
    Drop Twisted's start and stop lines of factories, protocols and ports
    ("Starting factory <...>", "NegotiatingFactory starting on 8080",
    "(TCP Port 8080 Closed)"): a start is said by echohub's own listening
    and ready lines, and a stop by the drain.  Every other event passes.
    """

    def __init__(self, observer: ILogObserver) -> None:
        self.observer = observer

    def __call__(self, event: LogEvent) -> None:
        if event.get("log_format") in _NOISE_FORMATS:
            return
        message = event.get("message")
        if (
            message
            and len(message) == 1
            and isinstance(message[0], str)
            and _NOISE_TEXT.fullmatch(message[0])
        ):
            return
        self.observer(event)


@implementer(ILogObserver)
class DescriptorExhaustionFilter:
    """
    Fold Twisted's descriptor-exhaustion messages into one line per burst.

    When C{accept} fails with C{EMFILE}, Twisted's TCP port frees a reserved
    descriptor, accepts and closes every pending connection, and logs one
    line per connection it closed: a flood of clients would flood the log.
    This observer drops those lines, counts them, and passes on one warning
    when the port re-reserves its descriptor.  Every other event passes
    through unchanged.
    """

    _STARTED = "EMFILE encountered; releasing reserved file descriptor."
    _CLOSED = "EMFILE recovery: Closed socket from {address}"
    _FINISHED = "Re-reserving EMFILE recovery file descriptor."

    def __init__(self, observer: ILogObserver) -> None:
        self.observer = observer
        self._closed = 0

    def __call__(self, event: LogEvent) -> None:
        logFormat = event.get("log_format")
        if logFormat == self._STARTED:
            return
        if logFormat == self._CLOSED:
            self._closed += 1
            return
        if logFormat == self._FINISHED:
            event = dict(
                event,
                log_format="Out of file descriptors: closed {closed} new"
                " connection(s) unserved; raise LimitNOFILE (ulimit -n) or lower"
                " max_connections",
                log_level=LogLevel.warn,
                closed=self._closed,
            )
            self._closed = 0
        self.observer(event)


class RateLimitedLog:
    """
    Log a repeated warning at most once per interval, with a count of the
    ones left out.

    The first warning of a kind is logged at once and opens a window of
    C{interval} seconds; the same kind within the window is only counted.
    The next one after the window is logged with that count, so a flood of
    refused connections costs one line per interval and loses no number.
    No timer is involved: a quiet service schedules nothing.
    """

    def __init__(self, log: Logger, interval: float, clock: IReactorTime) -> None:
        self.log = log
        self.interval = interval
        self.clock = clock
        self._windows: dict[str, list[float]] = {}

    def warn(self, kind: str, format: str, **kwargs: object) -> None:
        """
        Log a warning of C{kind} unless one was logged within the interval.

        @param kind: what makes two warnings "the same", e.g. C{"line cap"}.
        """
        now = self.clock.seconds()
        window = self._windows.get(kind)
        if window is not None and now - window[0] < self.interval:
            window[1] += 1
            return
        suppressed = int(window[1]) if window is not None else 0
        if suppressed:
            format += " ({suppressed} more like this since the last report)"
        self.log.warn(format, suppressed=suppressed, **kwargs)
        self._windows[kind] = [now, 0]

    def stop(self) -> None:
        """
        Report the warnings left out since their last report, e.g. at
        shutdown.
        """
        for kind, (_, count) in sorted(self._windows.items()):
            if count:
                self.log.warn(
                    "{kind}: {suppressed} more like this since the last report",
                    kind=kind,
                    suppressed=int(count),
                )
        self._windows.clear()
