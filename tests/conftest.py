"""
Shared fixtures for the end-to-end tests: development certificates and
running echohub processes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from echohub.tls._devcert import DevCertificates, ensureDevCertificates
from tests.support import EchohubProcess, running, sslString

IMAGE_TESTS = Path(__file__).parent / "image"


def pytest_addoption(parser: pytest.Parser) -> None:
    """
    The image tests' options: C{make image-test} passes them.
    """
    parser.addoption(
        "--image",
        help="the container image tests/image tests (make image-test);"
        " without it tests/image is not collected",
    )
    parser.addoption("--engine", default="podman", help="the engine that runs --image")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """
    Leave C{tests/image} out unless an image is named: those tests need a
    built image and have their own make target.
    """
    if config.getoption("image") is None and collection_path.is_relative_to(
        IMAGE_TESTS
    ):
        return True
    return None


@pytest.fixture(scope="session")
def devcerts(tmp_path_factory: pytest.TempPathFactory) -> DevCertificates:
    """
    A development CA, a localhost server certificate and a client
    certificate, generated once per test run.
    """
    return ensureDevCertificates(str(tmp_path_factory.mktemp("devcerts")), ["alice"])


@pytest.fixture
def echohub() -> Iterator[Callable[..., EchohubProcess]]:
    """
    Start echohub processes for one test; every one is stopped afterwards.

    Call it with the C{ECHOHUB_*} environment and the number of listeners
    to wait for.
    """
    started: list[EchohubProcess] = []

    def start(env: dict[str, str], listeners: int, **kwargs: object) -> EchohubProcess:
        process = EchohubProcess(env, **kwargs)  # type: ignore[arg-type]
        started.append(process)
        return process.start(listeners)

    yield start
    for process in started:
        process.kill()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, devcerts: DevCertificates
) -> Iterator[EchohubProcess]:
    """
    One echohub shared by a module's tests: line on TCP and TLS, web on TCP
    and TLS, all on loopback with ports chosen by the kernel, and small
    limits so the tests can cross them quickly.
    """
    with running(
        {
            "ECHOHUB_LINE_LISTEN": f"tcp:0:interface=127.0.0.1 {sslString(devcerts)}",
            "ECHOHUB_WEB_LISTEN": f"tcp:0:interface=127.0.0.1 {sslString(devcerts)}",
            "ECHOHUB_LINE_MAX_LINE_LENGTH": "65536",
            "ECHOHUB_WEB_MAX_BODY": "1048576",
        },
        cwd=str(Path(tmp_path_factory.mktemp("server"))),
        listeners=4,
    ) as process:
        yield process
