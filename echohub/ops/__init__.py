# -*- test-case-name: tests.test_exports -*-
"""
What every echohub service shares: listening, the open connections and
their drain, admission (caps) and accounting, metrics, logs, systemd's
notifications, worker processes, and lingering close.

The protocols (L{echohub.line}, L{echohub.web}, L{echohub.tls}) import
these names from here and never from the private modules; nothing here
imports a protocol.
"""

from echohub.ops._access import ICounted, ServiceAccess, logAccess
from echohub.ops._caps import CAP, PEER_CAP, ConnectionCaps
from echohub.ops._connections import ConnectionRegistry, IDrainable
from echohub.ops._fastread import (
    RECEIVE_BUFFER,
    RECEIVE_VIEW,
    DirectReader,
    IDirectReader,
    startDirectDispatch,
)
from echohub.ops._fastwrite import write as fastWrite
from echohub.ops._linger import Lingering, LingeringClose, lingeringClose
from echohub.ops._listeners import ListenError, ListeningService
from echohub.ops._logs import RateLimitedLog, makeObserver
from echohub.ops._metrics import Metrics, Reason
from echohub.ops._notify import Notifier
from echohub.ops._requests import RequestLog
from echohub.ops._workers import (
    ListenAdopter,
    ListenRecorder,
    Worker,
    WorkersService,
    checkWorkers,
    groupMetricsDirectory,
)

__all__ = [
    "CAP",
    "PEER_CAP",
    "RECEIVE_BUFFER",
    "RECEIVE_VIEW",
    "ConnectionCaps",
    "ConnectionRegistry",
    "DirectReader",
    "ICounted",
    "IDirectReader",
    "IDrainable",
    "ListenAdopter",
    "ListenError",
    "ListenRecorder",
    "Lingering",
    "LingeringClose",
    "ListeningService",
    "Metrics",
    "Notifier",
    "RateLimitedLog",
    "Reason",
    "RequestLog",
    "ServiceAccess",
    "Worker",
    "WorkersService",
    "checkWorkers",
    "fastWrite",
    "groupMetricsDirectory",
    "lingeringClose",
    "logAccess",
    "makeObserver",
    "startDirectDispatch",
]
