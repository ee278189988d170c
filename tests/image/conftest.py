"""
Fixtures of the container image's tests (C{make image-test}): the image,
its engine, and echohub containers run like the processes of C{tests/e2e}.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
from collections.abc import Callable, Iterator, Sequence

import pytest

from tests.support import EchohubProcess


def freePort() -> int:
    """
    A loopback port that was free a moment ago, for a published port or a
    listener the test must know in advance.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Container(EchohubProcess):
    """
    An echohub container run in the foreground (C{ENGINE run --rm}), so that
    its log is read, and its listeners found, as a process's; the engine
    passes SIGTERM on to the container's PID 1.
    """

    _names = itertools.count()

    def __init__(
        self,
        engine: str,
        image: str,
        env: dict[str, str] | None = None,
        options: Sequence[str] = (),
        args: Sequence[str] = (),
        healthcheck: bool = False,
    ) -> None:
        """
        @param healthcheck: whether to keep the image's C{HEALTHCHECK} (which
            the engine cannot schedule without systemd, and says so).
        """
        self.engine = engine
        self.name = f"echohub-test-{os.getpid()}-{next(self._names)}"
        command = [engine, "run", "--rm", "--name", self.name]
        if not healthcheck:
            command.append("--no-healthcheck")
        for key, value in (env or {}).items():
            command += ["--env", f"{key}={value}"]
        super().__init__({}, args=[*command, *options, image, *args])

    def inspect(self, template: str) -> str:
        return subprocess.run(
            [self.engine, "inspect", "--format", template, self.name],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()

    def kill(self) -> None:
        """
        Remove the container, whatever its state; then the engine's process.
        """
        subprocess.run(
            [self.engine, "rm", "--force", "--time", "0", self.name],
            capture_output=True,
            timeout=60,
        )
        super().kill()


@pytest.fixture(scope="session")
def image(pytestconfig: pytest.Config) -> str:
    """
    The image under test, as C{--image} names it.
    """
    name: str = pytestconfig.getoption("image")
    return name


@pytest.fixture(scope="session")
def engine(pytestconfig: pytest.Config) -> str:
    """
    The engine that runs it (C{--engine}: podman, or docker).
    """
    name: str = pytestconfig.getoption("engine")
    return name


@pytest.fixture
def container(engine: str, image: str) -> Iterator[Callable[..., Container]]:
    """
    Start echohub containers for one test; every one is removed afterwards.

    Call it with the C{ECHOHUB_*} environment, the engine's options, the
    command's arguments and the number of listeners to wait for.
    """
    started: list[Container] = []

    def start(
        env: dict[str, str] | None = None,
        options: Sequence[str] = (),
        args: Sequence[str] = (),
        listeners: int = 2,
        healthcheck: bool = False,
    ) -> Container:
        running = Container(engine, image, env, options, args, healthcheck)
        started.append(running)
        running.start(listeners, timeout=60)
        return running

    yield start
    for running in started:
        running.kill()
