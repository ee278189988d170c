# -*- test-case-name: tests.test_pytest_plugin -*-
"""
Tests for L{echohub.pytest_plugin}: a small suite written for pytest-httpbin
runs, in a pytest subprocess, against echohub through the installed plugin.
"""

from __future__ import annotations

import ast
import subprocess
import sys
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
    L{EchohubServer} has pytest-httpbin's server's URL helpers.
    """
    server = EchohubServer("127.0.0.1", 8080, "http")
    assert server.url == "http://127.0.0.1:8080"
    assert server + "/get" == "http://127.0.0.1:8080/get"
    assert server.join("get") == "http://127.0.0.1:8080/get"


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
