"""
Run client libraries' own test suites against echohub and against httpbin.

C{make clientsuite} runs this: in a virtualenv of its own it installs, from
their source distributions (which ship their tests), the C{requests}
library, the C{httpie} client and the C{pytest-httpbin} plugin, with
httpbin and echohub from this tree; then it runs each suite twice, once with
pytest-httpbin's fixtures (httpbin) and once with echohub's (C{-p no:httpbin
--echohub-httpbin}), both under L{guard}, which refuses every connection and
name lookup beyond loopback.  The tests that need the internet, and the
tests of pytest-httpbin's own internals, are deselected (L{Suite.deselect},
each with its reason); tests that fail against echohub because its wire
keeps to RFC 9110 where httpbin does not are run and reported apart
(L{Suite.differences}).  It prints every count and exits 1 if a test fails
against echohub that does not fail against httpbin, or if a run has no
summary line.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tarfile
import venv
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTEST_HTTPBIN = "2.1.0"


@dataclass(frozen=True)
class Suite:
    """
    One client's test suite, as its source distribution ships it.

    @ivar name: the distribution's name on PyPI.
    @ivar version: the version whose sdist is run.
    @ivar tools: what its tests need beyond the distribution itself.
    @ivar deselect: test node ids left out, each to its reason.
    @ivar options: pytest options the suite needs in both runs.
    @ivar marker: a marker whose tests are left out, and why; empty for
        none.
    @ivar differences: tests that fail against echohub by design, where
        echohub's wire keeps to RFC 9110 and httpbin does not, each to its
        reason: still run, reported, and not counted against echohub.
    """

    name: str
    version: str
    tools: tuple[str, ...] = ()
    deselect: dict[str, str] = field(default_factory=dict)
    options: tuple[str, ...] = ()
    marker: tuple[str, str] = ("", "")
    differences: dict[str, str] = field(default_factory=dict)

    @property
    def directory(self) -> str:
        """
        The sdist's top directory (and file name, without C{.tar.gz}).
        """
        return f"{self.name.replace('-', '_')}-{self.version}"


SUITES = (
    Suite(
        "requests",
        "2.34.2",
        ("trustme", "pysocks"),
        {
            "tests/test_requests.py::TestTimeout::test_connect_timeout": (
                "internet: connects to an unroutable address to time out"
            ),
            "tests/test_requests.py::TestTimeout::test_total_timeout_connect": (
                "internet: connects to an unroutable address to time out"
            ),
        },
    ),
    Suite(
        "httpie",
        "3.2.4",
        ("pytest-mock", "responses"),
        # Its tests of pie.dev skip themselves when the guard refuses the
        # lookup; these reach the internet without asking first.
        {
            "tests/test_update_warnings.py": (
                "internet: fetches the latest version from packages.httpie.io"
            ),
        },
        # httpie's setup.cfg adds --doctest-modules over httpie/ too.
        ("-o", "addopts=--tb=native", "-o", "testpaths=tests"),
        (
            "requires_installation",
            "internet: `httpie cli plugins install` runs pip in a subprocess,"
            " which the guard cannot see, to fetch build dependencies",
        ),
        {},
    ),
    Suite(
        "pytest-httpbin",
        PYTEST_HTTPBIN,
        ("requests",),
        {
            "tests/test_server.py::test_dont_crash_on_handshake_timeout": (
                "pytest-httpbin's internals: asserts pytest-httpbin's own log"
                " text; against echohub its first half (the silent TLS client"
                " is closed, recv gives b'') is checked by echohub's tests"
            ),
        },
    ),
)
TOOLS = ["pytest", "httpbin", f"pytest-httpbin=={PYTEST_HTTPBIN}"]
_SUMMARY = re.compile(
    r"^=* ?(\d+ (?:passed|failed|skipped|deselected|errors?).*?) in [\d.]+s",
    re.MULTILINE,
)
_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)


def run(*command: str | Path, **kwargs: object) -> None:
    subprocess.run([str(c) for c in command], check=True, **kwargs)  # type: ignore[call-overload]


def prepare(where: Path, suites: tuple[Suite, ...]) -> tuple[Path, dict[str, Path]]:
    """
    The virtualenv's Python and each suite's extracted source, made if
    missing.
    """
    python = where / "bin" / "python"
    if not python.exists():
        venv.create(where, with_pip=True)
    pip = [python, "-m", "pip", "install", "--quiet"]
    run(*pip, *TOOLS, *(tool for s in suites for tool in s.tools))
    sources = {}
    for s in suites:
        source = where / s.directory
        if not source.exists():
            run(
                python,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                where,
                f"{s.name}=={s.version}",
            )
            with tarfile.open(where / f"{s.directory}.tar.gz") as archive:
                archive.extractall(where, filter="data")
        run(*pip, source)
        sources[s.name] = source
    run(*pip, ROOT)  # echohub's dependencies, then this tree's echohub itself
    run(*pip, "--force-reinstall", "--no-deps", ROOT)
    return python, sources


def suite(
    python: Path, s: Suite, source: Path, label: str, *options: str
) -> tuple[str, set[str], int]:
    """
    Run a suite once; its summary line, the tests that failed and its exit
    status.
    """
    deselect = [f"--deselect={test}" for test in s.deselect]
    if s.marker[0]:
        deselect += ["-m", f"not {s.marker[0]}"]
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    result = subprocess.run(
        [
            str(python),
            "-m",
            "pytest",
            "-q",
            "-rfE",
            "-p",
            "guard",
            "-p",
            "no:cacheprovider",
            *s.options,
            *deselect,
            *options,
            "tests",
        ],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
    )
    log = source.parent / f"{s.name}-{label}.log"
    log.write_text(result.stdout + result.stderr)
    summary = _SUMMARY.findall(result.stdout)
    return (
        (summary[-1] if summary else f"no summary, see {log}"),
        set(_FAILED.findall(result.stdout)),
        result.returncode,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-clientsuite")
    parser.add_argument(
        "--suites",
        default=",".join(s.name for s in SUITES),
        help="comma-separated suites to run (default: all)",
    )
    options = parser.parse_args(argv)
    chosen = tuple(s for s in SUITES if s.name in options.suites.split(","))
    python, sources = prepare(options.venv.resolve(), chosen)
    status = 0
    for s in chosen:
        for test, why in s.deselect.items():
            print(f"{s.name} {s.version}: deselected {test} ({why})")
        if s.marker[0]:
            print(f"{s.name} {s.version}: deselected -m {s.marker[0]} ({s.marker[1]})")
        httpbin, httpbinFailed, _ = suite(python, s, sources[s.name], "httpbin")
        echohub, echohubFailed, code = suite(
            python,
            s,
            sources[s.name],
            "echohub",
            "-p",
            "no:httpbin",
            "--echohub-httpbin",
        )
        print(f"{s.name} {s.version} suite against httpbin: {httpbin}")
        print(f"{s.name} {s.version} suite against echohub: {echohub} (exit {code})")
        for test in sorted(httpbinFailed & echohubFailed):
            print(f"  fails against both: {test}")
        only = sorted(echohubFailed - httpbinFailed - set(s.differences))
        for test in sorted(echohubFailed & set(s.differences)):
            print(f"  fails against echohub by design: {test} ({s.differences[test]})")
        for test in only:
            print(f"  fails against echohub only: {test}")
        if only or "no summary" in httpbin + echohub:
            status = 1
        if not echohubFailed and code != 0:
            print(f"  exit {code} against echohub with no failed test")
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
