# -*- test-case-name: tests.test_command -*-
"""
The C{echohub} console command: the service C{echohub.tac} and C{twist
echohub} run, without needing to know either.

Its options are the plugin's (L{echohub.tap.Options}: every setting, with
the same precedence over the environment and the TOML files) plus shortcuts
for the common case, each of which only fills in existing settings:
C{--line-port}, C{--web-port}, C{--line-tls-port} and C{--web-tls-port} add
a listener on C{--host} to C{[line] listen} or C{[web] listen} (with
C{--tls-cert} and C{--tls-key} for the TLS ones), C{--config FILE} names the
TOML file as C{ECHOHUB_CONFIG} does, and C{--workers N} is C{[server]
workers}.

C{--reference-config} prints every setting as a TOML file, with its
default and help (L{echohub.config.referenceTOML}).  C{--deploy-files DIR}
writes out what an installed echohub needs beside the
package (C{echohub.tac}, the systemd units, the HAProxy configuration and the
Kubernetes manifests) and exits.  C{--healthcheck} asks the configuration's
first web listener for C{/healthz} and exits 0 or 1: the container image's
C{HEALTHCHECK}, which has no shell and no C{curl} to do it.
"""

from __future__ import annotations

import http.client
import os
import shutil
import ssl
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from twisted.application.service import IService
from twisted.internet.endpoints import quoteStringArgument
from twisted.internet.interfaces import IReactorCore
from twisted.logger import globalLogBeginner
from twisted.python import usage

from echohub._upstream import endpointTokens
from echohub.config import CONFIG_ENV, Config, referenceTOML
from echohub.ops import makeObserver
from echohub.tap import Options, configFromEnvironment, serviceFromConfig


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise ValueError(f"{value} is not a port number (0-65535)")
    return port


_port.coerceDoc = "A port number, 0 to 65535."  # type: ignore[attr-defined]


class CommandOptions(Options):
    """
    The C{echohub} command's options: the plugin's, and shortcuts onto them.
    """

    synopsis = "[--web-port PORT] [--line-port PORT] [--host ADDRESS] [options]"
    longdesc = (
        "Run echohub: a line echo, an HTTP echo site and more, on any Twisted"
        " endpoint strings.  With no option it serves the defaults (line"
        " 127.0.0.1:7007, web 127.0.0.1:8080) or what ECHOHUB_CONFIG and the"
        " ECHOHUB_* variables say; options override both."
    )
    optFlags = [
        [
            "healthcheck",
            None,
            "Ask the first plain or TLS web listener for /healthz (over"
            " loopback when it listens on every address); exit 0 if it answers"
            " 200, else 1.",
        ],
        [
            "reference-config",
            None,
            "Print a TOML file with every setting, its default and its help, and exit.",
        ],
    ]
    optParameters: list[list[Any]] = [
        [
            "host",
            None,
            "127.0.0.1",
            "Address the --*-port shortcuts listen on (:: for every IPv6 and"
            " IPv4 address, 0.0.0.0 for every IPv4 one).",
        ],
        ["line-port", None, None, "Add a line echo listener on this TCP port.", _port],
        ["web-port", None, None, "Add a web listener on this TCP port.", _port],
        [
            "line-tls-port",
            None,
            None,
            "Add a line echo listener over TLS on this port (needs --tls-cert).",
            _port,
        ],
        [
            "web-tls-port",
            None,
            None,
            "Add an HTTPS listener on this port (needs --tls-cert).",
            _port,
        ],
        ["tls-cert", None, None, "PEM certificate (chain) of the TLS shortcuts."],
        [
            "tls-key",
            None,
            None,
            "PEM private key of the TLS shortcuts; the --tls-cert file by default.",
        ],
        ["config", None, None, f"TOML configuration file (as {CONFIG_ENV} names)."],
        ["workers", None, None, "Processes serving the listeners ([server] workers)."],
        [
            "deploy-files",
            None,
            None,
            "Write echohub.tac, the systemd units, haproxy.cfg and the Kubernetes"
            " manifests into this directory, and exit.",
        ],
    ]

    def postOptions(self) -> None:
        """
        A TLS shortcut needs a certificate.
        """
        tlsPorts = [self["line-tls-port"], self["web-tls-port"]]
        if any(port is not None for port in tlsPorts) and not self["tls-cert"]:
            raise usage.UsageError("--line-tls-port and --web-tls-port need --tls-cert")

    def _shortcut(self, port: int, tls: bool) -> str:
        """
        The endpoint string of one port shortcut.
        """
        interface = quoteStringArgument(self["host"])
        if tls:
            key = quoteStringArgument(self["tls-key"] or self["tls-cert"])
            cert = quoteStringArgument(self["tls-cert"])
            return f"ssl:{port}:interface={interface}:privateKey={key}:certKey={cert}"
        kind = "tcp6" if ":" in self["host"] else "tcp"
        return f"{kind}:{port}:interface={interface}"

    def overrides(self) -> dict[tuple[str, str], object]:
        """
        The plugin's overrides, with the shortcuts' listeners added to
        C{[line] listen} and C{[web] listen} and C{--workers} as C{[server]
        workers}.
        """
        found = super().overrides()
        for service in ("line", "web"):
            shortcuts = ((f"{service}-port", False), (f"{service}-tls-port", True))
            added = [
                self._shortcut(self[option], tls)
                for option, tls in shortcuts
                if self[option] is not None
            ]
            if added:
                given = found.get((service, "listen"), ())
                assert isinstance(given, tuple)
                found[service, "listen"] = (*given, *added)
        if self["workers"] is not None:
            found["server", "workers"] = self["workers"]
        return found

    def environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        """
        C{environ}, with C{--config} as C{ECHOHUB_CONFIG}: the file keeps its
        place under the environment variables.
        """
        environment = dict(environ)
        if self["config"]:
            environment[CONFIG_ENV] = self["config"]
        return environment


# Package data: in a checkout, links to echohub.tac and deploy/; in the
# wheel, copies of them.
FILES = Path(__file__).parent / "_files"


def writeDeployFiles(directory: Path) -> list[Path]:
    """
    Copy the deployment files the package carries (L{FILES}) into
    C{directory}, keeping their layout: C{echohub.tac}, C{deploy/...}.

    @return: every file written.
    """
    written = []
    for parent, _, names in sorted(os.walk(FILES, followlinks=True)):
        for name in sorted(names):
            source = Path(parent, name)
            target = directory / source.relative_to(FILES)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            written.append(target)
    return written


_EVERY_ADDRESS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def healthConnection(config: Config, timeout: float) -> http.client.HTTPConnection:
    """
    A connection to the first C{[web] listen} string that a client can reach
    directly: C{tcp:}, C{tcp6:} or C{ssl:} (a C{haproxy:} or C{systemd:}
    listener would want a PROXY header or is not known by port).  TLS is
    not verified: the check is of this server, over loopback.

    @raise LookupError: no such listener.
    """
    for description in config.web.listen:
        args, kwargs = endpointTokens(description)
        if len(args) == 2 and args[0] in ("tcp", "tcp6", "ssl"):
            interface = kwargs.get("interface", "")
            host = _EVERY_ADDRESS.get(interface, interface)
            if args[0] != "ssl":
                return http.client.HTTPConnection(host, int(args[1]), timeout=timeout)
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(
                host, int(args[1]), timeout=timeout, context=context
            )
    raise LookupError("no tcp:, tcp6: or ssl: web listener to check")


def healthcheck(config: Config, timeout: float = 5.0) -> int:
    """
    Ask this configuration's web listener for C{/healthz}.

    @return: the exit status: 0 when it answered 200, else 1 (with one line
        on standard error saying why).
    """
    try:
        connection = healthConnection(config, timeout)
        connection.request("GET", config.web.prefix + "/healthz")
        status = connection.getresponse().status
    except (LookupError, OSError, http.client.HTTPException) as e:
        print(f"echohub: unhealthy: {e}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"echohub: unhealthy: /healthz answered {status}", file=sys.stderr)
        return 1
    return 0


def run(service: IService, reactor: IReactorCore) -> None:
    """
    Run C{service} as twistd runs an application: bind (a failure exits with
    status 1), start, and stop it (draining) when the reactor shuts down, on
    SIGTERM or SIGINT.
    """
    service.privilegedStartService()
    service.startService()
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.run()


def main(argv: Sequence[str] | None = None) -> None:
    """
    The C{echohub} command.
    """
    options = CommandOptions()
    try:
        options.parseOptions(sys.argv[1:] if argv is None else list(argv))
    except usage.UsageError as e:
        raise SystemExit(f"echohub: {e} (echohub --help lists the options)") from None
    if options["deploy-files"]:
        for path in writeDeployFiles(Path(options["deploy-files"])):
            print(path)
        return
    if options["reference-config"]:
        print(referenceTOML(), end="")
        return
    environ = options.environment(os.environ)
    config = configFromEnvironment(options.overrides(), environ)
    if options["healthcheck"]:
        raise SystemExit(healthcheck(config))
    from twisted.internet import reactor

    globalLogBeginner.beginLoggingTo(
        [makeObserver(config.server.log_format, environ, batchBy=reactor)],
        redirectStandardIO=False,
    )
    run(serviceFromConfig(config, environ), reactor)
