"""
C{python -m benchmarks}: build the load generator, run the scenarios with
every server interleaved, print the table, write the JSON and the chart.

Interleaving (echohub, peer 1, peer 2, echohub, peer 1, ...) rather than all
of one server's repetitions in a row means a change in the machine's load
during the run spreads over every server instead of favouring one; each run
starts its server afresh, so no run inherits another's heap.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import procstat
from benchmarks.build import BUILD, BuildError, Loadgen, buildLoadgen, certificate
from benchmarks.clients import Measurement
from benchmarks.report import Outcome, chart, human, table, writeJSON
from benchmarks.scenarios import SCENARIOS, Context, NotApplicableError, Scenario
from benchmarks.servers import (
    BASELINE,
    LINE_TLS,
    ROOT,
    SERVERS,
    Server,
    ServerError,
    ServerProcess,
    TLSFiles,
    pinned,
)

RESULTS = Path(__file__).resolve().parent / "results"


def parseArguments(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark echohub side by side with its peers.",
        epilog="Defaults can also come from BENCH_DURATION, BENCH_WARMUP,"
        " BENCH_REPEAT, BENCH_SCENARIOS and BENCH_SERVERS.",
    )
    parser.add_argument(
        "--scenarios",
        default=env("BENCH_SCENARIOS", ",".join(SCENARIOS)),
        help="comma-separated scenarios (default: all; see --list)",
    )
    parser.add_argument(
        "--servers",
        default=env("BENCH_SERVERS", ""),
        help="comma-separated servers to include (default: each scenario's own)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=float(env("BENCH_DURATION", "5")),
        help="measured seconds per run (default 5)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=float(env("BENCH_WARMUP", "1")),
        help="unmeasured seconds of load before each measurement (default 1)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=int(env("BENCH_REPEAT", "3")),
        help="runs of each server in each scenario (default 3)",
    )
    parser.add_argument(
        "--idle-conns", type=int, default=1000, help="connections of the idle scenarios"
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="where results go"
    )
    parser.add_argument("--build-dir", type=Path, default=BUILD, help="where builds go")
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG chart")
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin server and client to cores"
    )
    parser.add_argument(
        "--echohub-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra ECHOHUB_* setting for echohub (repeatable)",
    )
    parser.add_argument(
        "--echohub-tree",
        type=Path,
        default=ROOT,
        metavar="DIR",
        help="run echohub from this source tree, e.g. another checkout to compare"
        " a change against (default: this one)",
    )
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        default=None,
        metavar="DIR",
        help="also run echohub from DIR, as server echohub-base, in every"
        " scenario: a change A/B-compared within one interleaved run",
    )
    parser.add_argument(
        "--list", action="store_true", help="list scenarios and servers"
    )
    return parser.parse_args(argv)


def _list() -> None:
    print("scenarios:")
    for s in SCENARIOS.values():
        print(f"  {s.name:15} {s.title}\n  {'':15} servers: {', '.join(s.servers)}")
    print("servers:")
    for server in SERVERS.values():
        print(f"  {server.name:16} {server.label}")


def _raiseFileLimit() -> None:
    """
    Let the load generator and the servers (which inherit it) open the
    thousand-connection scenarios' descriptors.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (
        hard == resource.RLIM_INFINITY or soft < hard
    ):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Progress:
    """
    One line per run on stderr, with a count and an estimate of the time
    left; on a terminal the line shows the run in progress first.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.began = time.monotonic()
        self.live = sys.stderr.isatty()

    def heading(self, scenario: Scenario) -> None:
        print(f"== {scenario.name}: {scenario.title}", file=sys.stderr, flush=True)

    def _prefix(self, what: str) -> str:
        width = len(str(self.total))
        return f"[{self.done + 1:>{width}}/{self.total}] {what}"

    def starting(self, what: str) -> None:
        if self.live:
            print(self._prefix(what) + " ...", end="", file=sys.stderr, flush=True)

    def finished(self, what: str, outcome: str) -> None:
        line = f"{self._prefix(what)}: {outcome}"
        self.done += 1
        elapsed = time.monotonic() - self.began
        left = elapsed / self.done * (self.total - self.done)
        if self.done < self.total:
            line += f"  (about {int(left // 60)} min {int(left % 60):02d} s left)"
        print(("\r\033[K" if self.live else "") + line, file=sys.stderr, flush=True)


def _describe(scenario: Scenario, m: Measurement) -> str:
    if m.get("skip"):
        return f"skipped: {m['skip']}"
    parts = [human(m.get(scenario.metric), scenario.unit)]
    if m.get("client_cpu") is not None:
        parts.append(f"client CPU {m['client_cpu'] * 100:.0f} %")
    if m.get("server_cpu") is not None:
        parts.append(f"server CPU {m['server_cpu'] * 100:.0f} %")
    if m.get("errors"):
        parts.append(f"{m['errors']} ERRORS: {m.get('detail', '')}")
    return ", ".join(parts)


@dataclass(frozen=True)
class Tools:
    """
    What every run shares.

    @ivar serverCpu: the CPU servers are pinned to, if pinning.
    @ivar clientCpu: the CPU load generators are pinned to, if pinning.
    @ivar tls: the certificate of the TLS scenarios, if any is planned.
    """

    loadgen: Loadgen
    serverCpu: str | None
    clientCpu: str | None
    tls: TLSFiles | None = None


def runOnce(
    scenario: Scenario,
    server: Server,
    args: argparse.Namespace,
    tools: Tools,
    log: Path,
) -> Measurement:
    """
    Start C{server} for C{scenario}, measure, stop it.  Never raises for
    a failing server: the failure is the measurement's C{detail}.
    """
    extra = dict(scenario.echohubEnv)
    extra.update(e.split("=", 1) for e in args.echohub_env)
    tree = args.echohub_tree
    if server.name == BASELINE.name and args.baseline_tree is not None:
        tree = args.baseline_tree
    argv, env, listeners = server.command(
        scenario.service, tools.tls, extra, tree.resolve()
    )
    cpu = tools.serverCpu if scenario.pinServer else None
    process = ServerProcess(server, pinned(argv, cpu), env, listeners, log)
    try:
        process.start()
    except ServerError as e:
        return {"errors": 1, "detail": str(e)}
    try:
        ctx = Context(
            loadgen=tools.loadgen,
            server=process,
            duration=args.duration,
            warmup=args.warmup,
            clientCpu=tools.clientCpu,
            workDir=args.build_dir,
            idleConns=args.idle_conns,
        )
        try:
            measurement = scenario.measure(ctx)
        except NotApplicableError as e:
            return {"skip": str(e)}
        measurement["startup_s"] = process.startup
        if process.process is not None and process.process.poll() is not None:
            measurement["errors"] = measurement.get("errors", 0) + 1
            measurement["detail"] = f"the server exited during the run (log {log})"
        else:
            measurement["peak_rss"] = process.memory()[1]
        return measurement
    finally:
        process.stop()


def scenarioServers(scenario: Scenario, baseline: bool) -> list[str]:
    """
    The servers C{scenario} runs, in order: its own, with the baseline
    (C{--baseline-tree}) second unless the scenario already names it.
    """
    servers = list(scenario.servers)
    if baseline and BASELINE.name not in servers:
        servers.insert(1, BASELINE.name)
    return servers


def _plan(
    args: argparse.Namespace, loadgen: Loadgen
) -> list[tuple[Scenario, list[Outcome]]]:
    """
    The scenarios to run and, for each, the servers with any reason to skip.
    """
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {', '.join(unknown)}; see --list")
    wanted = {n.strip() for n in args.servers.split(",") if n.strip()}
    unknownServers = wanted - set(SERVERS)
    if unknownServers:
        raise SystemExit(
            f"unknown server(s) {', '.join(sorted(unknownServers))}; see --list"
        )
    plan = []
    for scenario in (SCENARIOS[n] for n in names):
        why = None
        if "tls" in scenario.needs and not loadgen.tls:
            why = "the load generator was built without OpenSSL (libssl-dev)"
        if "deflate" in scenario.needs and not loadgen.deflate:
            why = "the load generator was built without zlib (zlib1g-dev)"
        if "wrk" in scenario.needs and shutil.which("wrk") is None:
            why = "wrk is not installed (apt-get install wrk)"
        if "h2load" in scenario.needs and shutil.which("h2load") is None:
            why = "h2load is not installed (apt-get install nghttp2-client)"
        outcomes = []
        servers = scenarioServers(scenario, args.baseline_tree is not None)
        if args.baseline_tree is not None and wanted:
            wanted |= {BASELINE.name}
        for name in servers:
            if wanted and name not in wanted:
                continue
            missing = SERVERS[name].missing()
            reason = why or (
                f"{', '.join(missing)} not installed (pip install '.[bench]')"
                if missing
                else None
            )
            outcomes.append(Outcome(name, skipped=reason))
        if outcomes:
            plan.append((scenario, outcomes))
    return plan


def main(argv: list[str] | None = None) -> int:
    """
    Run the benchmark; the exit status is 1 when any run had an error (a
    byte echoed wrong, a lost connection, a server that did not start), 2
    when nothing could run.
    """
    args = parseArguments(argv)
    if args.list:
        _list()
        return 0
    _raiseFileLimit()
    try:
        loadgen = buildLoadgen(args.build_dir)
    except BuildError as e:
        print(f"benchmarks: {e}", file=sys.stderr)
        return 2
    # Server and load generator each get a core of their own, when there
    # are two and taskset to pin them with.
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset")
    plan = _plan(args, loadgen)
    tls = None
    if any(s.service == LINE_TLS for s, _ in plan):
        tls = TLSFiles(*certificate(args.build_dir))
    tools = Tools(loadgen, "0" if pin else None, "1" if pin else None, tls)

    meta: dict[str, Any] = {
        "machine": procstat.machine(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "options": {
            "duration": args.duration,
            "warmup": args.warmup,
            "repeat": args.repeat,
            "pinned": bool(pin),
            "echohub_env": args.echohub_env,
            "loadgen_tls": loadgen.tls,
        },
    }
    load = procstat.loadAverage()
    if load > 0.5:
        print(
            f"note: load average {load:.2f}: the machine is busy, so these figures"
            " compare servers only roughly",
            file=sys.stderr,
        )

    active = sum(1 for _, outcomes in plan for o in outcomes if not o.skipped)
    progress = Progress(active * args.repeat)
    for scenario, outcomes in plan:
        progress.heading(scenario)
        for repetition in range(1, args.repeat + 1):
            for outcome in outcomes:
                if outcome.skipped:
                    continue
                what = f"{scenario.name} · {outcome.server}"
                what += f" · run {repetition}/{args.repeat}"
                progress.starting(what)
                log = args.build_dir / "logs" / f"{scenario.name}-{outcome.server}.log"
                measurement = runOnce(
                    scenario, SERVERS[outcome.server], args, tools, log
                )
                progress.finished(what, _describe(scenario, measurement))
                if measurement.get("skip"):
                    outcome.skipped = measurement["skip"]
                    progress.total -= args.repeat - repetition
                else:
                    outcome.runs.append(measurement)

    meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
    meta["load_average_end"] = procstat.loadAverage()
    text = table(plan)
    print()
    print(text)
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("bench-%Y%m%d-%H%M%S")
    writeJSON(args.results / f"{stamp}.json", plan, meta)
    (args.results / f"{stamp}.md").write_text(text)
    written = [f"{stamp}.json", f"{stamp}.md"]
    if not args.no_chart:
        title = f"echohub vs peers: {meta['machine']['cpu']}, {meta['started']}"
        if chart(args.results / f"{stamp}.png", plan, title):
            written.append(f"{stamp}.png")
        else:
            print("no chart: matplotlib is not installed (pip install '.[bench]')")
    # latest.* always describe one run: no chart from an older one.
    (args.results / "latest.png").unlink(missing_ok=True)
    for name in written:
        shutil.copyfile(
            args.results / name, args.results / ("latest" + Path(name).suffix)
        )
    print(
        f"results: {', '.join(str(args.results / n) for n in written)} (and latest.*)"
    )
    errors = sum(o.errors for _, outcomes in plan for o in outcomes)
    return 1 if errors else 0
