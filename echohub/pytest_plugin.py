# -*- test-case-name: tests.test_pytest_plugin -*-
"""
A pytest plugin that runs echohub for a test session, for testing HTTP
clients against it as against httpbin.

Installed with echohub (entry point C{pytest11}), it offers:

    - C{echohub}: an echohub web server on a free loopback port, started
      once per session in a subprocess, as an L{EchohubServer} (C{.url},
      C{.host}, C{.port}, C{.protocol}, C{server + "/get"},
      C{server.join("get")}).
    - C{echohub_secure}: the same over TLS, with a development CA made for
      the session; C{.ca_bundle} is the CA's PEM file.
    - C{echohub_ca_bundle}: that file's path, also set as
      C{REQUESTS_CA_BUNDLE} for the test, as pytest-httpbin does.
    - With C{--echohub-httpbin} (or C{echohub_httpbin = true} in the
      pytest ini file): pytest-httpbin's names for them too, C{httpbin},
      C{httpbin_secure}, C{httpbin_both}, C{httpbin_ca_bundle},
      C{class_based_httpbin} and C{class_based_httpbin_secure}, so that a
      client's suite written for pytest-httpbin runs unchanged once
      pytest-httpbin is replaced by echohub.  In that mode the session's CA
      is made before any test module is imported, and
      C{pytest_httpbin.certs.where()} returns its file: pytest-httpbin's
      own when it is installed (patched for the session), else a stand-in
      C{pytest_httpbin} module (C{certs.where}, C{serve.Server},
      C{use_class_based_httpbin...}), so suites that take their CA from
      there verify echohub's certificate.  echohub never serves
      pytest-httpbin's bundled key, which every installation shares: each
      session makes its own CA and key, in a directory only its user can
      read, removed at the end.  C{HTTPBIN_HTTP_PORT} and
      C{HTTPBIN_HTTPS_PORT} fix the ports, as with pytest-httpbin.

The server shows credential headers (C{[web] show_sensitive_headers}), as
httpbin does: tests of clients need to see what they sent.  Other
C{ECHOHUB_*} settings in the environment apply to it as usual.
"""

from __future__ import annotations

import importlib
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

_LISTENING = re.compile(r"web listening on (\S+):(\d+) \((tcp|ssl):")
_START_TIMEOUT = 30.0
# twistd by module (no console script need be on PATH), running the same
# few lines as echohub.tac.
_TWISTD = ["-c", "from twisted.scripts.twistd import run; run()"]
_TAC = """\
from twisted.application.service import Application
from twisted.internet import reactor
from twisted.logger import ILogObserver

from echohub.ops import makeObserver
from echohub.tap import configFromEnvironment, serviceFromConfig

config = configFromEnvironment()
application = Application("echohub")
observer = makeObserver(config.server.log_format, batchBy=reactor)
application.setComponent(ILogObserver, observer)
serviceFromConfig(config).setServiceParent(application)
"""


class EchohubServer:
    """
    One of the running server's listeners, shaped like pytest-httpbin's
    server object: C{url}, C{host}, C{port}, C{protocol}, C{join},
    C{server + "/get"}, C{str(server)} (the URL, so C{f"{server}/get"}
    works), and C{start}, C{stop} and C{with server:}, which do nothing
    here: the session owns the process, and one test must not stop it for
    the others.

    @ivar host: the loopback address it listens on.
    @ivar port: its port.
    @ivar protocol: C{http} or C{https}.
    @ivar ca_bundle: for C{https}, the PEM file of the CA that signed its
        certificate.
    """

    def __init__(
        self, host: str, port: int, protocol: str, caBundle: str | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.protocol = protocol
        self.ca_bundle = caBundle

    @property
    def url(self) -> str:
        """
        The base URL, without a trailing slash.
        """
        return f"{self.protocol}://{self.host}:{self.port}"

    def __add__(self, other: str) -> str:
        return self.url + other

    def __str__(self) -> str:
        return self.url

    def start(self) -> None:
        """
        Nothing: the server runs for the whole session.
        """

    def stop(self) -> None:
        """
        Nothing: the session stops the server when it ends.
        """

    def __enter__(self) -> EchohubServer:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def join(self, url: str, allow_fragments: bool = True) -> str:
        """
        C{url} resolved against the base URL.
        """
        return urljoin(self.url, url, allow_fragments=allow_fragments)

    def __repr__(self) -> str:
        return f"<EchohubServer {self.url}>"


class EchohubRun:
    """
    One echohub subprocess serving HTTP and HTTPS on loopback.

    @ivar servers: the listeners by protocol, once started.
    @ivar ports: the port of each protocol, C{0} for any free one.
    """

    def __init__(self, certificates: Path, ports: dict[str, int] | None = None) -> None:
        self.certificates = certificates
        self.ports = {"http": 0, "https": 0, **(ports or {})}
        self.servers: dict[str, EchohubServer] = {}
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self._reader: threading.Thread | None = None

    def start(self) -> EchohubRun:
        """
        Start the process and wait until both listeners are bound.

        @raise RuntimeError: with the process's output, if it did not start.
        """
        from echohub.tls import ensureDevCertificates

        devcerts = ensureDevCertificates(str(self.certificates))
        tls = (
            f"ssl:{self.ports['https']}:interface=127.0.0.1"
            f":privateKey={devcerts.server.privateKey.path}"
            f":certKey={devcerts.server.certificate.path}"
        )
        tac = self.certificates / "echohub.tac"
        tac.write_text(_TAC)
        self.process = subprocess.Popen(
            [sys.executable, *_TWISTD, "--nodaemon", "--pidfile=", "-y", str(tac)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env={
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "ECHOHUB_LINE_LISTEN": "",
                "ECHOHUB_WEB_LISTEN": (
                    f"tcp:{self.ports['http']}:interface=127.0.0.1 {tls}"
                ),
                "ECHOHUB_WEB_SHOW_SENSITIVE_HEADERS": "true",
                "ECHOHUB_SERVER_LOG_FORMAT": "text",
            },
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                lines.put(line)
            lines.put(None)

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while len(self.servers) < 2:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                raise RuntimeError("echohub did not start:\n" + "".join(self.output))
            match = _LISTENING.search(line)
            if match:
                host, port, kind = match.groups()
                protocol = "https" if kind == "ssl" else "http"
                ca = devcerts.ca.certificate.path if kind == "ssl" else None
                self.servers[protocol] = EchohubServer(host, int(port), protocol, ca)
        return self

    def stop(self) -> None:
        """
        Stop the process (SIGTERM, then SIGKILL after 10 s), read its output
        to the end and close the pipe: nothing is left running or open.
        """
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(10)
        if process.stdout is not None:
            process.stdout.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    """
    C{--echohub-httpbin} and the ini setting C{echohub_httpbin}.
    """
    help = "also offer pytest-httpbin's fixture names (httpbin, httpbin_secure...)"
    parser.getgroup("echohub").addoption(
        "--echohub-httpbin", action="store_true", default=False, help=help
    )
    parser.addini("echohub_httpbin", help, type="bool", default=False)


def _httpbinMode(config: pytest.Config) -> bool:
    """
    Whether pytest-httpbin's names were asked for, by option or ini file;
    early enough for L{pytest_load_initial_conftests}, when only the known
    arguments are parsed.
    """
    option = getattr(config.known_args_namespace, "echohub_httpbin", False)
    return bool(
        option
        or config.getoption("echohub_httpbin")
        or config.getini("echohub_httpbin")
    )


_CERTIFICATES = pytest.StashKey[Path]()
_RESTORE = pytest.StashKey[Any]()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """
    In pytest-httpbin's mode, make the session's CA before any conftest or
    test module is imported, and point C{pytest_httpbin.certs.where()} at
    it (L{_standIn}).
    """
    if not _httpbinMode(early_config):
        return
    from echohub.tls import ensureDevCertificates

    directory = Path(tempfile.mkdtemp(prefix="echohub-pytest-"))
    early_config.stash[_CERTIFICATES] = directory
    ca = ensureDevCertificates(str(directory)).ca.certificate.path
    early_config.stash[_RESTORE] = _standIn(ca)


def _standIn(ca: str) -> Any:
    """
    Make C{pytest_httpbin.certs.where()} return C{ca}: pytest-httpbin's own
    function replaced when it is installed, else stand-in modules.

    @return: what L{pytest_unconfigure} undoes: the original function, or
        the names of the stand-in modules.
    """

    def where() -> str:
        return ca

    try:
        certs = importlib.import_module("pytest_httpbin.certs")
    except ImportError:
        package = types.ModuleType("pytest_httpbin")
        package.__path__ = []
        package.__doc__ = "echohub's stand-in for pytest-httpbin."
        package.use_class_based_httpbin = pytest.mark.usefixtures(  # type: ignore[attr-defined]
            "class_based_httpbin"
        )
        package.use_class_based_httpbin_secure = pytest.mark.usefixtures(  # type: ignore[attr-defined]
            "class_based_httpbin_secure"
        )
        certsModule = types.ModuleType("pytest_httpbin.certs")
        certsModule.where = where  # type: ignore[attr-defined]
        serve = types.ModuleType("pytest_httpbin.serve")
        serve.Server = serve.SecureServer = EchohubServer  # type: ignore[attr-defined]
        package.certs, package.serve = certsModule, serve  # type: ignore[attr-defined]
        modules = {m.__name__: m for m in (package, certsModule, serve)}
        sys.modules.update(modules)
        return list(modules)
    original = getattr(certs, "where")  # noqa: B009 (a module's attribute)
    setattr(certs, "where", where)  # noqa: B010
    return original


def pytest_configure(config: pytest.Config) -> None:
    """
    Register pytest-httpbin's names when asked to.
    """
    if _httpbinMode(config):
        config.pluginmanager.import_plugin("echohub._pytest_httpbin")


def pytest_unconfigure(config: pytest.Config) -> None:
    """
    Undo L{pytest_load_initial_conftests}: the stand-in and the CA go.
    """
    restore = config.stash.get(_RESTORE, None)
    if isinstance(restore, list):
        for name in restore:
            sys.modules.pop(name, None)
    elif restore is not None:
        setattr(importlib.import_module("pytest_httpbin.certs"), "where", restore)  # noqa: B010
    directory = config.stash.get(_CERTIFICATES, None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def _echohub_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EchohubRun]:
    config = request.config
    certificates = config.stash.get(_CERTIFICATES, None)
    ports = {}
    if certificates is None:
        certificates = tmp_path_factory.mktemp("echohub-certificates")
    else:
        for protocol, variable in [
            ("http", "HTTPBIN_HTTP_PORT"),
            ("https", "HTTPBIN_HTTPS_PORT"),
        ]:
            if os.environ.get(variable, "").isdigit():
                ports[protocol] = int(os.environ[variable])
    run = EchohubRun(certificates, ports)
    try:
        yield run.start()
    finally:
        run.stop()


@pytest.fixture(scope="session")
def echohub(_echohub_run: EchohubRun) -> EchohubServer:
    """
    The session's echohub over plain HTTP.
    """
    return _echohub_run.servers["http"]


@pytest.fixture(scope="session")
def echohub_secure(_echohub_run: EchohubRun) -> EchohubServer:
    """
    The session's echohub over HTTPS; its CA is C{.ca_bundle}.
    """
    return _echohub_run.servers["https"]


@pytest.fixture
def echohub_ca_bundle(
    monkeypatch: pytest.MonkeyPatch, echohub_secure: EchohubServer
) -> str:
    """
    The PEM file of the CA of C{echohub_secure}, also set as
    C{REQUESTS_CA_BUNDLE} for the test.
    """
    assert echohub_secure.ca_bundle is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", echohub_secure.ca_bundle)
    return echohub_secure.ca_bundle
