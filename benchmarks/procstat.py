"""
What the harness reads about a process and the machine, straight from
C{/proc}: no psutil, so the benchmark needs nothing the server does not.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """
    C{pid} and every process below it (an echohub with workers is several),
    from C{/proc/PID/task/TID/children}.
    """
    found = [pid]
    for parent in found:
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                found += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return found


def cpuSeconds(pid: int) -> float:
    """
    User plus system CPU time the process has used so far, in seconds.
    """
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces and parentheses: split after
    # its closing one; utime and stime are fields 14 and 15.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def memory(pid: int) -> tuple[int, int]:
    """
    The process's resident memory now and at its peak, in bytes.
    """
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values["VmRSS"], values["VmHWM"]


def loadAverage() -> float:
    """
    The one-minute load average: a busy machine makes every figure suspect.
    """
    return float(Path("/proc/loadavg").read_text().split()[0])


def machine() -> dict[str, object]:
    """
    A description of the machine, stored with the results.
    """
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average": loadAverage(),
    }
