# -*- test-case-name: tests.test_pytest_plugin -*-
"""
Tests for L{echohub.pytest_plugin}: a small suite written for pytest-httpbin
runs, in a pytest subprocess, against echohub through the installed plugin.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from echohub.pytest_plugin import _TAC, EchohubServer

SUITE = """
import json
import ssl
import urllib.request

import pytest


def fetch(url, **kwargs):
    with urllib.request.urlopen(url, timeout=10, **kwargs) as response:
        return json.load(response)


def test_echohub(echohub):
    assert fetch(echohub + "/get?a=1")["args"] == {"a": "1"}


def test_secure(echohub_secure, echohub_ca_bundle):
    context = ssl.create_default_context(cafile=echohub_ca_bundle)
    facts = fetch(echohub_secure.join("/anything"), context=context)
    assert facts["url"].startswith("https://127.0.0.1:")
    assert facts["tls"]


def test_names(httpbin, httpbin_secure, httpbin_ca_bundle):
    import os
    assert os.environ["REQUESTS_CA_BUNDLE"] == httpbin_ca_bundle
    assert httpbin.protocol == "http" and httpbin_secure.protocol == "https"
    asked = urllib.request.Request(httpbin + "/headers", headers={"Authorization": "x"})
    assert fetch(asked)["headers"]["Authorization"] == "x"


def test_both(httpbin_both):
    assert httpbin_both.protocol in ("http", "https")
"""


def runSuite(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_suite.py").write_text(SUITE)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_fixtures(tmp_path: Path) -> None:
    """
    With C{--echohub-httpbin}, pytest-httpbin's names and echohub's own all
    work, over HTTP and HTTPS with the session's CA, credentials shown.
    """
    result = runSuite(tmp_path, "--echohub-httpbin")
    assert "5 passed" in result.stdout, result.stdout + result.stderr


def test_namesOnlyWhenAsked(tmp_path: Path) -> None:
    """
    Without the option, pytest-httpbin's names are not defined.
    """
    result = runSuite(tmp_path, "-k", "names")
    assert "fixture 'httpbin' not found" in result.stdout, result.stdout


def test_serverObject() -> None:
    """
    L{EchohubServer} has what pytest-httpbin's server offers: the URL
    helpers, C{str()} as the URL, and C{start}, C{stop} and C{with}, which
    leave the session's server running.
    """
    server = EchohubServer("127.0.0.1", 8080, "http")
    assert server.url == "http://127.0.0.1:8080"
    assert server + "/get" == "http://127.0.0.1:8080/get"
    assert server.join("get") == "http://127.0.0.1:8080/get"
    assert f"{server}/get" == str(server) + "/get" == "http://127.0.0.1:8080/get"
    with server as entered:
        entered.start()
        entered.stop()
    assert entered is server


STAND_IN = """
import json
import ssl
import urllib.request
import warnings

import pytest_httpbin
import pytest_httpbin.certs
from pytest_httpbin.serve import Server


def test_certs(httpbin_secure):
    context = ssl.create_default_context(cafile=pytest_httpbin.certs.where())
    with urllib.request.urlopen(f"{httpbin_secure}/get", context=context) as r:
        assert json.load(r)["url"] == httpbin_secure + "/get"
    assert Server is type(httpbin_secure)


@pytest_httpbin.use_class_based_httpbin
class TestClass:
    def test_class(self):
        assert str(self.httpbin).startswith("http://127.0.0.1:")


def test_ports(httpbin):
    import os
    assert httpbin.port == int(os.environ["HTTPBIN_HTTP_PORT"])
"""


def test_standIn(tmp_path: Path) -> None:
    """
    In pytest-httpbin's mode without pytest-httpbin installed, a stand-in
    C{pytest_httpbin} module gives C{certs.where()} (the session's own CA,
    made before test modules are imported), C{serve.Server} and the class
    markers; C{HTTPBIN_HTTP_PORT} fixes the port.  Under C{-W error} the
    run exits 0: no pipe or process is left behind, and the session's CA
    directory is removed.
    """
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "test_standin.py").write_text(STAND_IN)
    before = set(Path(tempfile.gettempdir()).glob("echohub-pytest-*"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            "--echohub-httpbin",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HTTPBIN_HTTP_PORT": str(port)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout, result.stdout
    assert set(Path(tempfile.gettempdir()).glob("echohub-pytest-*")) == before


def test_sameAsTheTac() -> None:
    """
    The plugin runs the same statements as C{echohub.tac} (which is not
    installed with the package, so the plugin carries a copy).
    """
    tac = ast.parse((Path(__file__).parent.parent / "echohub.tac").read_text())
    statements = tac.body[1:] if ast.get_docstring(tac) else tac.body
    assert [ast.dump(s) for s in statements] == [
        ast.dump(s) for s in ast.parse(_TAC).body
    ]
