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
        "ENCODER_TABLE_SIZE",
        "HeaderCompressionError",
        "EPOLL_DOPOLL_SHA256",
        "PYOPENSSL_IO_SHA256",
        "RECORD_CONNECTION_UNAVAILABLE",
        "ReaderFor",
        "RecordConnection",
        "ServerH2Connection",
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
    ],
    "echohub.faults": [
        "CLOSE",
        "FAULT_OPTIONS",
        "KINDS",
        "READ_HOLD",
        "RESET",
        "SEND",
        "Fault",
        "FaultBounds",
        "FaultError",
        "FaultPolicy",
        "FaultPump",
        "FaultedTransport",
        "Schedule",
        "Step",
        "Toxic",
        "kindNames",
        "parseFault",
        "parsePolicy",
        "reportFault",
        "resetConnection",
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
        "SCENARIOS",
        "Scenario",
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
    ],
    "echohub.udp": [
        "AdoptedDatagramServerEndpoint",
        "DatagramLimits",
        "Drop",
        "UDPEcho",
        "UDPServerEndpoint",
    ],
    "echohub.http": [
        "HIDDEN",
        "PLAIN_TEXT",
        "SENSITIVE_HEADERS",
        "DateCache",
        "H2Connection",
        "HTTP1Channel",
        "HTTPLimits",
        "HTTPRequest",
        "HTTPSite",
        "IHTTPStream",
        "ILeanRoute",
        "ILeanRoutes",
        "IStreamHandler",
        "IStreamRoute",
        "IStreamRoutes",
        "NegotiatingFactory",
        "RawHead",
        "connectionHeaders",
        "hstsValue",
        "negotiate",
        "normalOrigin",
        "plainText",
        "rawRequestHead",
    ],
    "echohub.websocket": [
        "WEBSOCKET_VERSION",
        "EchoSession",
        "WebSocketResource",
        "WebSocketStreamRoutes",
        "acceptKey",
    ],
    "echohub.grpc": [
        "Code",
        "GRPCServer",
        "GRPCStreamRoutes",
        "GRPCWebResource",
        "Schema",
        "webResources",
    ],
    "echohub.web": ["buildSite"],
    "echohub.web.httpbin": [
        "ECHO_HEADERS",
        "HTTPBIN_REASONS",
        "JSON",
        "NO_CONTENT",
        "InspectionPolicy",
        "NotFound",
        "PlainTextResource",
        "badRequest",
        "describeOrRefuse",
        "directory",
        "echoContentType",
        "headerRefusal",
        "httpbinRoutes",
        "isActiveType",
        "jsonBody",
        "requestBody",
    ],
}

LAYERS = [
    {"echohub._net", "echohub._version", "echohub._upstream", "echohub._sections"},
    {"echohub.config", "echohub.controls"},
    {"echohub.ops"},
    {"echohub.faults"},
    {"echohub.proxy", "echohub.tls", "echohub.udp", "echohub.line"},
    {"echohub.http"},
    {"echohub.websocket", "echohub.grpc"},
    {"echohub.web.httpbin"},
    {"echohub.web"},
    {"echohub.endpoints"},
    {"echohub.service", "echohub.testing"},
    {"echohub", "echohub.tap", "echohub.pytest_plugin"},
    {"echohub.command", "echohub._pytest_httpbin"},
    {"echohub.__main__"},
]
"""
echohub's packages from the bottom up (LAYOUT.md): a module may import
from its own package or from a lower layer, never from its own layer's
other packages or from above, so that dependencies point one way: the
wire (C{http}) knows no route, a route module never reaches into the site
that serves it.
"""

LIBRARIES = frozenset(
    ["twisted", "OpenSSL", "h2", "hpack", "hyperframe", "httptools", "zope", "google"]
)
"""
The libraries whose private names only L{echohub._upstream} may use.
"""

MAX_MODULE_LINES = 900
MAX_PACKAGE_MODULES = 14

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


def unitOf(module: str) -> str:
    """
    The layered unit (package or top-level module) of C{module}, a module
    or a name in one: C{echohub.web.httpbin._auth.BasicAuth} is in
    C{echohub.web.httpbin}, C{echohub._upstream._twisted} in
    C{echohub._upstream}, C{echohub.config.WebConfig} in C{echohub.config}.
    """
    parts = module.split(".")
    unit = ["echohub"]
    for part in parts[1:]:
        candidate = PACKAGE.joinpath(*unit[1:], part)
        if candidate.is_dir():
            unit.append(part)
            continue
        if len(unit) == 1 and candidate.with_suffix(".py").is_file():
            unit.append(part)
        break
    return ".".join(unit)


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

    def test_dependenciesPointDown(self) -> None:
        """
        Every import of echohub's own goes to the importer's package or to
        a lower layer of L{LAYERS}.
        """
        rank = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}
        offences = []
        for path in modules()[:-1]:
            importer = unitOf(moduleName(path))
            for line, imported in importedModules(path):
                # "from echohub import service" names the module, not the
                # root package's own names.
                if not imported.startswith("echohub.") or imported == "echohub":
                    continue
                target = unitOf(imported)
                if target == importer:
                    continue
                if rank[target] >= rank[importer]:
                    offences.append(
                        f"{path.relative_to(ROOT)}:{line}: {importer} -> {target}"
                    )
        self.assertEqual(offences, [])

    def test_everyUnitLayered(self) -> None:
        """
        Every package and top-level module has its place in L{LAYERS}.
        """
        units = {unitOf(moduleName(path)) for path in modules()[:-1]}
        self.assertEqual(units - set().union(*LAYERS), set())

    def test_roomSizes(self) -> None:
        """
        No module over L{MAX_MODULE_LINES} lines, no package folder with more
        than L{MAX_PACKAGE_MODULES} modules: past that, it is two things.
        """
        large = [
            f"{path.relative_to(ROOT)}: {lines} lines"
            for path in modules()
            if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
        ]
        crowded = [
            f"{folder.relative_to(ROOT)}: {count} modules"
            for folder in {path.parent for path in PACKAGE.rglob("*.py")}
            if (count := len(list(folder.glob("*.py")))) > MAX_PACKAGE_MODULES
        ]
        self.assertEqual(large + crowded, [])

    def test_libraryInternalsOnlyInUpstream(self) -> None:
        """
        No module outside C{echohub._upstream} imports a private name of
        the libraries echohub builds on, or reaches into one through a
        module it imported: every such use sits behind one guarded piece
        there (C{docs/internals.md}).
        """
        offences = []
        for path in modules()[:-1]:
            if "_upstream" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            libraryNames = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        if alias.name.split(".")[0] in LIBRARIES:
                            libraryNames.add(alias.asname or alias.name.split(".")[0])
                elif isinstance(node, ast.ImportFrom) and node.module:
                    if node.module.split(".")[0] not in LIBRARIES:
                        continue
                    names = [*node.module.split("."), *(a.name for a in node.names)]
                    if any(n.startswith("_") and not n.startswith("__") for n in names):
                        offences.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                    libraryNames.update(a.asname or a.name for a in node.names)
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr.startswith("_")
                    and not node.attr.startswith("__")
                    and isinstance(node.value, ast.Name)
                    and node.value.id in libraryNames
                ):
                    offences.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        self.assertEqual(offences, [])

    def test_privateOwner(self) -> None:
        """
        The rule's notion of "private module of a subpackage".
        """
        self.assertEqual(privateOwner("echohub.web._site.HTTPSite"), "echohub.web")
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
