# -*- test-case-name: tests.test_pytest_plugin -*-
"""
pytest-httpbin's fixture names over echohub's (L{echohub.pytest_plugin}),
registered only when asked for with C{--echohub-httpbin}: a suite that has
pytest-httpbin installed as well keeps its own.
"""

from __future__ import annotations

import pytest

from echohub.pytest_plugin import EchohubServer


@pytest.fixture(scope="session")
def httpbin(echohub: EchohubServer) -> EchohubServer:
    """
    pytest-httpbin's C{httpbin}: echohub over HTTP.
    """
    return echohub


@pytest.fixture(scope="session")
def httpbin_secure(echohub_secure: EchohubServer) -> EchohubServer:
    """
    pytest-httpbin's C{httpbin_secure}: echohub over HTTPS.
    """
    return echohub_secure


@pytest.fixture(scope="session", params=["http", "https"])
def httpbin_both(
    request: pytest.FixtureRequest,
    echohub: EchohubServer,
    echohub_secure: EchohubServer,
) -> EchohubServer:
    """
    pytest-httpbin's C{httpbin_both}: each test runs over HTTP and HTTPS.
    """
    return echohub if request.param == "http" else echohub_secure


@pytest.fixture(scope="class")
def class_based_httpbin(request: pytest.FixtureRequest, echohub: EchohubServer) -> None:
    """
    pytest-httpbin's C{class_based_httpbin}: C{self.httpbin} in a class.
    """
    request.cls.httpbin = echohub


@pytest.fixture(scope="class")
def class_based_httpbin_secure(
    request: pytest.FixtureRequest, echohub_secure: EchohubServer
) -> None:
    """
    pytest-httpbin's C{class_based_httpbin_secure}.
    """
    request.cls.httpbin_secure = echohub_secure


@pytest.fixture
def httpbin_ca_bundle(echohub_ca_bundle: str) -> str:
    """
    pytest-httpbin's C{httpbin_ca_bundle}: C{REQUESTS_CA_BUNDLE} set to
    echohub's CA (and its path, where pytest-httpbin gives L{None}).
    """
    return echohub_ca_bundle
