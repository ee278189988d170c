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
      pytest-httpbin is replaced by echohub.

The server shows credential headers (C{[web] show_sensitive_headers}), as
httpbin does: tests of clients need to see what they sent.  Other
C{ECHOHUB_*} settings in the environment apply to it as usual.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
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
    server object.

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
    """

    def __init__(self, certificates: Path) -> None:
        self.certificates = certificates
        self.servers: dict[str, EchohubServer] = {}
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self) -> EchohubRun:
        """
        Start the process and wait until both listeners are bound.

        @raise RuntimeError: with the process's output, if it did not start.
        """
        from echohub.tls import ensureDevCertificates

        devcerts = ensureDevCertificates(str(self.certificates))
        tls = (
            "ssl:0:interface=127.0.0.1"
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
                "ECHOHUB_WEB_LISTEN": f"tcp:0:interface=127.0.0.1 {tls}",
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

        threading.Thread(target=read, daemon=True).start()
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
        Stop the process (SIGTERM, then SIGKILL after 10 s).
        """
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def pytest_addoption(parser: pytest.Parser) -> None:
    """
    C{--echohub-httpbin} and the ini setting C{echohub_httpbin}.
    """
    help = "also offer pytest-httpbin's fixture names (httpbin, httpbin_secure...)"
    parser.getgroup("echohub").addoption(
        "--echohub-httpbin", action="store_true", default=False, help=help
    )
    parser.addini("echohub_httpbin", help, type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    """
    Register pytest-httpbin's names when asked to.
    """
    if config.getoption("echohub_httpbin") or config.getini("echohub_httpbin"):
        config.pluginmanager.import_plugin("echohub._pytest_httpbin")


@pytest.fixture(scope="session")
def _echohub_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EchohubRun]:
    run = EchohubRun(tmp_path_factory.mktemp("echohub-certificates")).start()
    try:
        yield run
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
