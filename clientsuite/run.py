"""
Run a client library's own test suite against echohub and against httpbin.

C{make clientsuite} runs this: in a virtualenv of its own it installs the
C{requests} library from its source distribution (which ships its tests),
pytest-httpbin with httpbin, and echohub from this tree; then it runs the
suite twice, once with pytest-httpbin's fixtures (httpbin) and once with
echohub's (C{-p no:httpbin --echohub-httpbin}), both under L{guard}, which
refuses every connection and name lookup beyond loopback.  The tests that
need the internet are deselected.  It prints both counts and exits 1 if a
test fails against echohub that does not fail against httpbin.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tarfile
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REQUESTS = "2.34.2"
# They connect to an unroutable address to time out: the guard refuses it.
INTERNET = [
    "tests/test_requests.py::TestTimeout::test_connect_timeout",
    "tests/test_requests.py::TestTimeout::test_total_timeout_connect",
]
TOOLS = ["pytest", "trustme", "pysocks", "httpbin", "pytest-httpbin"]
_SUMMARY = re.compile(r"^=* ?(\d+ (?:passed|failed).*?) in [\d.]+s", re.MULTILINE)
_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)


def run(*command: str | Path, **kwargs: object) -> None:
    subprocess.run([str(c) for c in command], check=True, **kwargs)  # type: ignore[call-overload]


def prepare(where: Path, version: str) -> tuple[Path, Path]:
    """
    The virtualenv's Python and the extracted suite, made if missing.
    """
    python = where / "bin" / "python"
    if not python.exists():
        venv.create(where, with_pip=True)
    pip = [python, "-m", "pip", "install", "--quiet"]
    run(*pip, *TOOLS)
    source = where / f"requests-{version}"
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
            f"requests=={version}",
        )
        with tarfile.open(where / f"requests-{version}.tar.gz") as archive:
            archive.extractall(where, filter="data")
    run(*pip, source)
    run(*pip, ROOT)  # echohub's dependencies, then this tree's echohub itself
    run(*pip, "--force-reinstall", "--no-deps", ROOT)
    return python, source


def suite(
    python: Path, source: Path, label: str, *options: str
) -> tuple[str, set[str]]:
    """
    Run the suite once; its summary line and the tests that failed.
    """
    deselect = [f"--deselect={test}" for test in INTERNET]
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
            *deselect,
            *options,
            "tests",
        ],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
    )
    log = source.parent / f"{label}.log"
    log.write_text(result.stdout + result.stderr)
    summary = _SUMMARY.findall(result.stdout)
    return (summary[-1] if summary else f"no summary, see {log}"), set(
        _FAILED.findall(result.stdout)
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv-clientsuite")
    parser.add_argument("--requests", default=REQUESTS, help="version of requests")
    options = parser.parse_args(argv)
    python, source = prepare(options.venv.resolve(), options.requests)
    httpbin, httpbinFailed = suite(python, source, "httpbin")
    echohub, echohubFailed = suite(
        python, source, "echohub", "-p", "no:httpbin", "--echohub-httpbin"
    )
    print(f"requests {options.requests} suite against httpbin: {httpbin}")
    print(f"requests {options.requests} suite against echohub: {echohub}")
    only = sorted(echohubFailed - httpbinFailed)
    for test in only:
        print(f"fails against echohub only: {test}")
    return 1 if only or "no summary" in httpbin + echohub else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
