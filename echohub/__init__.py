# -*- test-case-name: tests.test_exports -*-
"""
echohub: a multi-protocol echo service on Twisted.

A line-echo service and a twisted.web echo site, each listening on any number
of Twisted endpoint description strings.  L{loadConfig} reads the settings
once, L{makeService} turns them into the L{MultiService} that C{echohub.tac}
and the C{twist}/C{twistd} plugin run.

The tree, top down (dependencies point down only; C{tests/test_exports.py}
holds the layers):

    - L{echohub.command}, L{echohub.tap}, L{echohub.pytest_plugin}: the
      C{echohub} command, the C{twist}/C{twistd} plugin, the pytest plugin;
    - L{echohub.service}: the composition root;
    - L{echohub.endpoints}: echohub's endpoint-string dialect;
    - L{echohub.web}: the echo site (its httpbin routes in
      L{echohub.web.httpbin}); L{echohub.websocket}: RFC 6455;
    - L{echohub.http}: the HTTP wire, HTTP/1.1 and HTTP/2 under one policy;
    - L{echohub.line}, L{echohub.udp}, L{echohub.tls}, L{echohub.proxy}: the
      stream and datagram echoes, TLS, the PROXY protocol;
    - L{echohub.ops}: what every service shares (listeners, connections,
      caps, metrics, logs, systemd, workers, lingering close);
    - L{echohub.config}, L{echohub._net}, L{echohub._upstream}: settings,
      small helpers, and the one home of the libraries' private names.

L{echohub.testing} holds in-memory helpers for testing against echohub.
"""

from echohub._version import __version__
from echohub.config import Config, ConfigError, loadConfig
from echohub.service import makeService

__all__ = ["Config", "ConfigError", "__version__", "loadConfig", "makeService"]
