"""
Run the Autobahn|Testsuite (the WebSocket conformance suite) against
echohub's C{/ws}.

C{make autobahn} runs this, for a developer: it builds the suite with
C{../shared/tools/autobahn/setup.sh} (once, into C{--work}), starts
C{twistd -ny echohub.tac} with only a web listener on a free loopback port
and C{[websocket] max_message} raised for the 9.x cases (which send up to
16 MiB), runs every case, prints the count of each verdict, and exits 1 if
any case is FAILED, NON-STRICT or UNIMPLEMENTED.  Not part of C{make test}: CI has no
C{../shared/}.  Loopback only: the suite connects to the URL it is given.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TOOLS = ROOT.parent / "shared" / "tools" / "autobahn"
_LISTENING = re.compile(r"web listening on 127\.0\.0\.1:(\d+) ")
BAD = ("FAILED", "NON-STRICT", "UNIMPLEMENTED", "WRONG CODE", "UNCLEAN")


def start(log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """
    Start echohub with a web listener alone; return it and its port.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECHOHUB_")}
    env.update(
        PYTHONPATH=str(ROOT),
        ECHOHUB_WEB_LISTEN="tcp:0:interface=127.0.0.1",
        ECHOHUB_LINE_LISTEN="",
        ECHOHUB_WEBSOCKET_MAX_MESSAGE="20000000",
    )
    twistd = Path(sys.executable).parent / "twistd"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(twistd), "--pidfile=", "-ny", str(ROOT / "echohub.tac")],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = _LISTENING.search(log.read_text(errors="replace"))
        if found:
            return server, int(found.group(1))
        if server.poll() is not None:
            break
        time.sleep(0.05)
    server.kill()
    raise SystemExit(f"echohub did not start; see {log}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=Path("/tmp/echohub-autobahn"))
    parser.add_argument("--tools", type=Path, default=TOOLS)
    parser.add_argument("--cases", default="*", help="e.g. 1.*,9.1.*")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    wstest = work / "venv" / "bin" / "wstest"
    if not wstest.exists():
        subprocess.run(["bash", str(args.tools / "setup.sh"), str(work)], check=True)
    server, port = start(work / "echohub.log")
    try:
        reports = work / "reports"
        spec = {
            "outdir": str(reports),
            "servers": [{"agent": "echohub", "url": f"ws://127.0.0.1:{port}/ws"}],
            "cases": args.cases.split(","),
            "exclude-cases": [],
            "exclude-agent-cases": {},
        }
        (work / "spec.json").write_text(json.dumps(spec))
        with (work / "wstest.log").open("wb") as output:
            subprocess.run(
                [str(wstest), "-m", "fuzzingclient", "-s", "spec.json"],
                cwd=work,
                stdout=output,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=900,
            )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    cases = json.loads((reports / "index.json").read_text())["echohub"]
    verdicts = collections.Counter(c["behavior"] for c in cases.values())
    closes = collections.Counter(c["behaviorClose"] for c in cases.values())
    print(f"{len(cases)} cases: {dict(verdicts)}; close behaviour: {dict(closes)}")
    bad = sorted(
        name
        for name, case in cases.items()
        if case["behavior"] in BAD or case["behaviorClose"] in BAD
    )
    if bad:
        print("not conforming:", ", ".join(bad))
        return 1
    print(f"report: {reports / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
