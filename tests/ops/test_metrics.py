"""
Tests for L{echohub.ops._metrics}: with workers, every process's metrics in
one exposition (C{prometheus_client}'s multiprocess mode).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import generate_latest, values
from twisted.trial.unittest import SynchronousTestCase

from echohub.ops._metrics import (
    MULTIPROCESS_DIRECTORY,
    Metrics,
    forgetProcess,
    multiprocessValues,
)
from echohub.testing import temporaryDirectory


class MultiprocessTests(SynchronousTestCase):
    """
    Two processes' metrics in one directory, the second faked in this one
    by a value class that writes under another process ID.
    """

    def setUp(self) -> None:
        previous = values.ValueClass, os.environ.get(MULTIPROCESS_DIRECTORY)
        self.addCleanup(self._restore, *previous)
        self.directory = str(temporaryDirectory(self))

    def _restore(self, valueClass: type, directory: str | None) -> None:
        values.ValueClass = valueClass
        if directory is None:
            os.environ.pop(MULTIPROCESS_DIRECTORY, None)
        else:
            os.environ[MULTIPROCESS_DIRECTORY] = directory

    def _asProcess(self, pid: int) -> Metrics:
        """
        Metrics written as process C{pid} would write them, until the next
        call: labelled values are created when first used, by the value
        class of that moment.
        """
        os.environ[MULTIPROCESS_DIRECTORY] = self.directory
        values.ValueClass = values.MultiProcessValue(lambda: pid)
        return Metrics(multiprocessDirectory=self.directory)

    def _value(self, metrics: Metrics) -> Callable[..., float | None]:
        return metrics.exposition.get_sample_value

    def test_multiprocessValuesAreCollected(self) -> None:
        """
        After L{multiprocessValues}, the values of metrics created in this
        process (already imported C{prometheus_client}) are written to the
        directory, where the exposition collects them: this fails if
        C{prometheus_client} stops choosing its value class through
        C{values.ValueClass}.
        """
        multiprocessValues(self.directory)
        metrics = Metrics(multiprocessDirectory=self.directory)
        metrics.linesEchoed.inc(3)
        self.assertEqual(os.environ[MULTIPROCESS_DIRECTORY], self.directory)
        self.assertTrue(os.listdir(self.directory))
        self.assertEqual(self._value(metrics)("echohub_lines_echoed_total"), 3)

    def test_everyProcessInOneExposition(self) -> None:
        """
        Either process's exposition sums the counters and the open
        connections of both, and leaves out the per-process collectors,
        which cannot be merged.
        """
        labels = {"service": "line", "listener": "tcp:7007"}
        one = self._asProcess(101)
        one.connections.labels(**labels).inc(5)
        one.connectionsOpen.labels(**labels).set(2)
        two = self._asProcess(102)
        two.connections.labels(**labels).inc(7)
        two.connectionsOpen.labels(**labels).set(3)
        for metrics in (one, two):
            value = self._value(metrics)
            self.assertEqual(value("echohub_connections_total", labels), 12)
            self.assertEqual(value("echohub_connections_open", labels), 5)
        self.assertNotIn(b"process_", generate_latest(one.exposition))

    def test_deadProcessLeavesTheGaugesNotTheTotals(self) -> None:
        """
        Once L{forgetProcess} drops a dead process, its open connections
        and draining flag are gone from the exposition while its counters
        stay in the totals.
        """
        labels = {"service": "web", "listener": "tcp:8080"}
        one = self._asProcess(201)
        one.connections.labels(**labels).inc(1)
        one.connectionsOpen.labels(**labels).set(1)
        two = self._asProcess(202)
        two.connections.labels(**labels).inc(4)
        two.connectionsOpen.labels(**labels).set(4)
        two.draining.set(1)
        value = self._value(one)
        self.assertEqual(value("echohub_draining"), 1)
        forgetProcess(202, self.directory)
        self.assertEqual(value("echohub_connections_open", labels), 1)
        self.assertEqual(value("echohub_draining"), 0)
        self.assertEqual(value("echohub_connections_total", labels), 5)

    def test_oneProcessExposesItsOwnRegistry(self) -> None:
        """
        Without a directory the exposition is the process's own registry.
        """
        metrics = Metrics(processStats=False)
        self.assertIs(metrics.exposition, metrics.registry)
