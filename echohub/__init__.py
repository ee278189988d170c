# -*- test-case-name: tests.test_exports -*-
"""
echohub: a multi-protocol echo service on Twisted.

A line-echo service and a twisted.web echo site, each listening on any number
of Twisted endpoint description strings.  L{loadConfig} reads the settings
once, L{makeService} turns them into the L{MultiService} that C{echohub.tac}
and the C{twist}/C{twistd} plugin run.

The tree, top down (dependencies point down only):

    - L{echohub.service}, L{echohub.tap}: the composition root and plugin;
    - L{echohub.endpoints}: echohub's endpoint-string dialect;
    - L{echohub.line}, L{echohub.web}: the protocols;
    - L{echohub.tls}: TLS contexts, protocol, reload, facts, certificates;
    - L{echohub.ops}: what every service shares (listeners, connections,
      caps, metrics, logs, systemd, workers, PROXY protocol);
    - L{echohub.config}, L{echohub._net}, L{echohub._upstream}: settings,
      small helpers, and the one home of Twisted's private names.

L{echohub.testing} holds in-memory helpers for testing against echohub.
"""

__version__ = "0.1.0"

from echohub.config import Config, ConfigError, loadConfig
from echohub.service import makeService

__all__ = ["Config", "ConfigError", "__version__", "loadConfig", "makeService"]
