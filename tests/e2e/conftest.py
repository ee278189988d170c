"""
Fixtures shared by the end-to-end tests: the WebSocket server, and the
HTTP/2 conformance modules' server and parametrization
(L{tests.h2conformance}).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from echohub.tls import DevCertificates
from tests.h2conformance import conformanceServer
from tests.h2frames import Target
from tests.support import MAX_MESSAGE, EchohubProcess, running, sslString


@pytest.fixture(scope="module")
def wsServer(
    tmp_path_factory: pytest.TempPathFactory, devcerts: DevCertificates
) -> Iterator[EchohubProcess]:
    """
    echohub with the web service on TCP and TLS, a small message cap, a
    one-second ping interval and a close timeout long enough that a close
    that completes at all completes because it works, not because it was
    aborted.
    """
    with running(
        {
            "ECHOHUB_LINE_LISTEN": "",
            "ECHOHUB_WEB_LISTEN": f"tcp:0:interface=127.0.0.1 {sslString(devcerts)}",
            "ECHOHUB_WEBSOCKET_MAX_MESSAGE": str(MAX_MESSAGE),
            "ECHOHUB_WEBSOCKET_PING_INTERVAL": "1",
            "ECHOHUB_WEBSOCKET_CLOSE_TIMEOUT": "60",
        },
        cwd=str(Path(tmp_path_factory.mktemp("ws"))),
        listeners=2,
    ) as process:
        yield process


@pytest.fixture(scope="module")
def h2targets(
    tmp_path_factory: pytest.TempPathFactory, devcerts: DevCertificates
) -> Iterator[dict[str, Target]]:
    """
    One echohub for an HTTP/2 conformance module's cases
    (L{conformanceServer}), by transport.
    """
    with conformanceServer(tmp_path_factory, devcerts) as found:
        yield found


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """
    Parametrize an HTTP/2 conformance module's C{test_conformance} over its
    C{CASES} and both transports.
    """
    cases = getattr(metafunc.module, "CASES", None)
    if cases is not None:
        cases.parametrize(metafunc)
