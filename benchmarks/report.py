"""
Turning runs into what a person reads: medians with their range, ratios to
echohub, a Markdown table (pasteable into the README as is), the JSON of
every run, and a PNG chart.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.clients import Measurement
from benchmarks.scenarios import Scenario


@dataclass
class Outcome:
    """
    Every run of one server in one scenario.

    @ivar skipped: why the server did not run the scenario, if it did not.
    """

    server: str
    runs: list[Measurement] = field(default_factory=list)
    skipped: str | None = None

    def values(self, key: str) -> list[float]:
        return [r[key] for r in self.runs if r.get(key) is not None]

    def median(self, key: str) -> float | None:
        values = self.values(key)
        return statistics.median(values) if values else None

    @property
    def errors(self) -> int:
        return sum(r.get("errors", 0) for r in self.runs)


def scale(value: float, unit: str) -> tuple[float, str]:
    """
    The divisor and unit to show C{value} in: an SI prefix for rates and
    sizes, milliseconds or microseconds for times.
    """
    if unit == "µs":
        return (1000.0, "ms") if value >= 1000 else (1.0, "µs")
    if unit == "s":
        return (1e-3, "ms") if value < 1 else (1.0, "s")
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return factor, prefix + unit
    return 1.0, unit


def human(value: float | None, unit: str) -> str:
    """
    A figure with three significant digits and a fitting prefix.
    """
    if value is None:
        return "–"
    factor, shown = scale(value, unit)
    return f"{value / factor:.3g} {shown}"


def _span(low: float | None, high: float | None, unit: str) -> str:
    """
    A min–max range in the unit of its upper end: C{412–440 k}.
    """
    if low is None or high is None:
        return "–"
    factor, shown = scale(high, unit)
    return f"{low / factor:.3g}–{high / factor:.3g} {shown}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f} %"


def summary(scenario: Scenario, outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """
    One row per server: the metric's median, min and max, its ratio to
    echohub's median (the peer's value divided by echohub's), and the
    medians of the server's CPU, memory and the client's CPU share.
    """
    base = next(
        (o.median(scenario.metric) for o in outcomes if o.server == "echohub"), None
    )
    perCpu = scenario.perCpu
    basePerCpu = next(
        (o.median(perCpu) for o in outcomes if o.server == "echohub" and perCpu),
        None,
    )
    rows = []
    for o in outcomes:
        values = o.values(scenario.metric)
        median = o.median(scenario.metric)
        cpuMedian = o.median(perCpu) if perCpu else None
        rows.append(
            {
                "server": o.server,
                "skipped": o.skipped,
                "runs": len(o.runs),
                "median": median,
                "min": min(values) if values else None,
                "max": max(values) if values else None,
                "ratio": median / base if median is not None and base else None,
                "per_cpu": cpuMedian,
                "cpu_ratio": (
                    cpuMedian / basePerCpu
                    if cpuMedian is not None and basePerCpu
                    else None
                ),
                "p50_us": o.median("p50_us"),
                "p99_us": o.median("p99_us"),
                "server_cpu_s": o.median("server_cpu_s"),
                "server_cpu": o.median("server_cpu"),
                "peak_rss": o.median("peak_rss"),
                "client_cpu": o.median("client_cpu"),
                "errors": o.errors,
                "details": sorted(
                    {r[k] for r in o.runs for k in ("detail", "note") if r.get(k)}
                ),
            }
        )
    return rows


LEGEND = (
    "↑ higher is better, ↓ lower is better. median and min–max over the runs;"
    " ×echohub: the server's median divided by echohub's; per CPU-s: the"
    " same figure per second of server CPU (median), and its ×echohub;"
    " p99: latency;"
    " server CPU: seconds used in the measured window (share of one core);"
    " peak RSS: the server's VmHWM; client CPU: the load generator's share of"
    " its core (near 100 % means the client, not the server, set the figure)."
)


def table(results: list[tuple[Scenario, list[Outcome]]]) -> str:
    """
    The Markdown table of a whole run, with notes for skips and errors.
    """
    lines = [
        "| scenario | server | median | min–max | ×echohub | per CPU-s | ×echohub"
        " | p99 | server CPU | peak RSS | client CPU | errors |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    notes: list[str] = []
    for scenario, outcomes in results:
        name = f"{scenario.name} {'↑' if scenario.higherIsBetter else '↓'}"
        for row in summary(scenario, outcomes):
            if row["skipped"]:
                notes.append(
                    f"{scenario.name} / {row['server']}: skipped: {row['skipped']}"
                )
                lines.append(
                    f"| {name} | {row['server']} | skipped | | | | | | | | | |"
                )
                name = ""
                continue
            unit = scenario.unit
            span = _span(row["min"], row["max"], unit)
            ratio = "–" if row["ratio"] is None else f"{row['ratio']:.2f}×"
            perCpu, cpuRatio = "", ""
            if scenario.perCpu is not None:
                perCpu = human(row["per_cpu"], unit.removesuffix("/s"))
                cpuRatio = (
                    "–" if row["cpu_ratio"] is None else f"{row['cpu_ratio']:.2f}×"
                )
            p99 = human(row["p99_us"], "µs") if scenario.latency else ""
            cpu = ""
            if row["server_cpu_s"] is not None:
                cpu = f"{row['server_cpu_s']:.2f} s ({_percent(row['server_cpu'])})"
            rss = human(row["peak_rss"], "B")
            lines.append(
                f"| {name} | {row['server']} | {human(row['median'], unit)} | {span}"
                f" | {ratio} | {perCpu} | {cpuRatio} | {p99} | {cpu} | {rss}"
                f" | {_percent(row['client_cpu'])}"
                f" | {row['errors']} |"
            )
            name = ""
            for detail in row["details"]:
                notes.append(f"{scenario.name} / {row['server']}: {detail}")
    text = "\n".join(lines) + "\n\n" + LEGEND
    if notes:
        text += "\n\n" + "\n".join(f"- {n}" for n in notes)
    return text + "\n"


def writeJSON(
    path: Path,
    results: list[tuple[Scenario, list[Outcome]]],
    meta: dict[str, Any],
) -> None:
    """
    Every run's figures, the summaries, and how the run was made.
    """
    document = {
        **meta,
        "scenarios": [
            {
                "name": s.name,
                "title": s.title,
                "metric": s.metric,
                "unit": s.unit,
                "higher_is_better": s.higherIsBetter,
                "summary": summary(s, outcomes),
                "runs": {o.server: o.runs for o in outcomes},
            }
            for s, outcomes in results
        ],
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


def chart(
    path: Path, results: list[tuple[Scenario, list[Outcome]]], title: str
) -> bool:
    """
    One bar chart per scenario: each server's median, its min–max as an
    error bar, echohub in its own colour.

    @return: False when matplotlib is not installed (C{pip install
        '.[bench]'}), and no chart was drawn.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    shown = [(s, summary(s, o)) for s, o in results]
    shown = [(s, [r for r in rows if r["median"] is not None]) for s, rows in shown]
    shown = [(s, rows) for s, rows in shown if rows]
    if not shown:
        return False
    columns = min(3, len(shown))
    rowsNeeded = (len(shown) + columns - 1) // columns
    figure, axes = plt.subplots(
        rowsNeeded, columns, figsize=(5.2 * columns, 3.6 * rowsNeeded), squeeze=False
    )
    for ax in axes.flat[len(shown) :]:
        ax.set_visible(False)
    for ax, (scenario, rows) in zip(axes.flat, shown, strict=False):
        factor, unit = scale(max(r["median"] for r in rows), scenario.unit)
        names = [r["server"] for r in rows]
        medians = [r["median"] / factor for r in rows]
        below = [(r["median"] - r["min"]) / factor for r in rows]
        above = [(r["max"] - r["median"]) / factor for r in rows]
        colours = ["tab:red" if n == "echohub" else "tab:blue" for n in names]
        ax.bar(names, medians, yerr=[below, above], color=colours, capsize=4)
        better = "higher" if scenario.higherIsBetter else "lower"
        ax.set_title(f"{scenario.name} ({better} is better)", fontsize=10)
        ax.set_ylabel(unit)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        for index, row in enumerate(rows):
            ax.annotate(
                human(row["median"], scenario.unit),
                (index, medians[index] + above[index]),
                ha="center",
                va="bottom",
                fontsize=7,
            )
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True
