"""
Tests for echohub's public surface and layout: each package's C{__all__} is
pinned, no module imports another subpackage's private module, and every
module names test modules that exist.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "echohub"

EXPORTS = {
    "echohub": ["Config", "ConfigError", "__version__", "loadConfig", "makeService"],
    "echohub._upstream": [
        "EPOLL_DOPOLL_SHA256",
        "PYOPENSSL_IO_SHA256",
        "RECORD_CONNECTION_UNAVAILABLE",
        "ReaderFor",
        "RecordConnection",
        "StreamRefusingH2Connection",
        "TLSProtocolHooks",
        "directDispatchUnavailable",
        "directSendable",
        "endpointTokens",
        "installDirectDispatch",
        "newServerConnection",
        "recordConnectionUnavailable",
        "setGroups",
        "useTwistLogObserver",
        "verifyErrorString",
        "verifyResult",
    ],
    "echohub.line": [
        "ByteEcho",
        "ByteEchoFactory",
        "LineEcho",
        "LineEchoFactory",
        "clientMain",
    ],
    "echohub.ops": [
        "CAP",
        "ConnectionCaps",
        "ConnectionRegistry",
        "DirectReader",
        "ICounted",
        "IDirectReader",
        "IDrainable",
        "Lingering",
        "LingeringClose",
        "ListenAdopter",
        "ListenError",
        "ListenRecorder",
        "ListeningService",
        "Metrics",
        "Notifier",
        "PEER_CAP",
        "RECEIVE_BUFFER",
        "RECEIVE_VIEW",
        "RateLimitedLog",
        "Reason",
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
    ],
    "echohub.proxy": [
        "HEADER_TIMEOUT",
        "InvalidProxyHeaderError",
        "ProxyHeader",
        "ProxyHeaderProtocol",
        "ProxyServerEndpoint",
        "ProxyWrappingFactory",
        "parseHeader",
    ],
    "echohub.tls": [
        "CLIENT_AUTH",
        "DevCertificates",
        "ListenerTLS",
        "PROFILES",
        "ReloadableServerContext",
        "TLSConfigError",
        "TLSInfoFactory",
        "TLSReloadService",
        "TLSServerEndpoint",
        "TLSServerFactory",
        "devcertMain",
        "ensureDevCertificates",
        "tlsFacts",
    ],
    "echohub.udp": [
        "AdoptedDatagramServerEndpoint",
        "DatagramLimits",
        "Drop",
        "UDPEcho",
        "UDPServerEndpoint",
    ],
    "echohub.web": [
        "EchoChannel",
        "EchoSite",
        "H2Connection",
        "NegotiatingFactory",
        "buildSite",
        "negotiate",
    ],
}

_TEST_CASE_NAME = re.compile(r"-\*- test-case-name: *([\w.,]+) *-\*-")


def modules() -> list[Path]:
    """
    Every module of the package, and the plugin dropin.
    """
    found = sorted(PACKAGE.rglob("*.py"))
    return [*found, ROOT / "twisted" / "plugins" / "echohub_plugin.py"]


def moduleName(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def importedModules(path: Path) -> list[tuple[int, str]]:
    """
    The modules C{path} imports, with the line of each import.
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
            found += [
                (node.lineno, f"{node.module}.{alias.name}") for alias in node.names
            ]
    return found


def privateOwner(module: str) -> str | None:
    """
    The subpackage a private module belongs to (C{echohub.web} for
    C{echohub.web._site}), or L{None} for a public module or one at the
    bottom of the package (C{echohub._net}, C{echohub._upstream}), which
    every layer may import.
    """
    parts = module.split(".")
    if parts[0] != "echohub" or len(parts) < 3:
        return None
    for i, part in enumerate(parts[2:], start=2):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


class ExportsTests(SynchronousTestCase):
    """
    Each package's public names are the ones pinned here: adding or removing
    one is a decision, made by changing this test.
    """

    def test_all(self) -> None:
        """
        C{__all__} of echohub and of each subpackage, and each name in it
        exists.
        """
        for name, expected in EXPORTS.items():
            module = importlib.import_module(name)
            self.assertEqual(sorted(module.__all__), sorted(expected), name)
            for export in module.__all__:
                self.assertTrue(hasattr(module, export), f"{name}.{export}")

    def test_everySubpackagePinned(self) -> None:
        """
        Every subpackage of echohub has its C{__all__} pinned here.
        """
        packages = {moduleName(init) for init in PACKAGE.rglob("__init__.py")}
        self.assertEqual(packages, set(EXPORTS))


class LayoutTests(SynchronousTestCase):
    """
    The import rules of the layout, read from the source.
    """

    def test_noSidewaysPrivateImports(self) -> None:
        """
        No module imports a private module of another subpackage: other
        packages go through its public C{__init__}.
        """
        offences = []
        for path in modules():
            importer = moduleName(path)
            for line, imported in importedModules(path):
                owner = privateOwner(imported)
                if owner is not None and not (
                    importer == owner or importer.startswith(owner + ".")
                ):
                    offences.append(f"{path.relative_to(ROOT)}:{line}: {imported}")
        self.assertEqual(offences, [])

    def test_privateOwner(self) -> None:
        """
        The rule's notion of "private module of a subpackage".
        """
        self.assertEqual(privateOwner("echohub.web._site.EchoSite"), "echohub.web")
        self.assertIsNone(privateOwner("echohub._net.formatAddress"))
        self.assertIsNone(privateOwner("echohub.web.buildSite"))
        self.assertIsNone(privateOwner("twisted.web._newclient"))

    def test_testCaseNames(self) -> None:
        """
        Every module starts with a C{test-case-name} line, and each test
        module it names exists.
        """
        problems = []
        for path in modules():
            first = path.read_text().splitlines()[0] if path.read_text() else ""
            match = _TEST_CASE_NAME.search(first)
            if match is None:
                problems.append(f"{path.relative_to(ROOT)}: no test-case-name")
                continue
            for name in match.group(1).split(","):
                target = ROOT.joinpath(*name.split("."))
                if not (target.with_suffix(".py").is_file()):
                    problems.append(f"{path.relative_to(ROOT)}: {name} does not exist")
        self.assertEqual(problems, [])
