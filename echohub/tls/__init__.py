# -*- test-case-name: tests.test_exports -*-
"""
TLS for echohub's listeners: one policy for every context, the server-side
TLS protocol (handshake deadline, half-close, readable failures), reload on
SIGHUP, the facts of a session that the echoes report, the TLS info service
and development certificates.

How a TLS listener is written in an endpoint string is
L{echohub.endpoints}'s business; this package builds what it asks for.
"""

from echohub.tls._context import (
    CLIENT_AUTH,
    PROFILES,
    ListenerTLS,
    ReloadableServerContext,
    TLSConfigError,
)
from echohub.tls._devcert import DevCertificates, ensureDevCertificates
from echohub.tls._devcert import main as devcertMain
from echohub.tls._facts import tlsFacts
from echohub.tls._info import TLSInfoFactory
from echohub.tls._protocol import TLSServerEndpoint, TLSServerFactory
from echohub.tls._reload import TLSReloadService
from echohub.tls._scenarios import (
    SCENARIOS,
    Scenario,
    ensureScenarios,
    scenarioListener,
)

__all__ = [
    "CLIENT_AUTH",
    "PROFILES",
    "SCENARIOS",
    "Scenario",
    "DevCertificates",
    "ListenerTLS",
    "ReloadableServerContext",
    "TLSConfigError",
    "TLSInfoFactory",
    "TLSReloadService",
    "TLSServerEndpoint",
    "TLSServerFactory",
    "devcertMain",
    "ensureDevCertificates",
    "ensureScenarios",
    "scenarioListener",
    "tlsFacts",
]
