"""Resident memory and CPU time of the stack's processes, each with its descendants.

psutil when it is installed, else Linux's /proc. Every child of the supervisor runs in its own
session (start_new_session), so a process "with its descendants" is every process of that session.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

try:  # optional: /proc is enough on Linux
    import psutil
except ImportError:  # pragma: no cover - depends on the environment
    psutil = None

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")
MB = 1024 * 1024


@dataclass
class Usage:
    """One reading of a process group: resident memory (MB) and CPU time used so far (s)."""

    rss_mb: float
    cpu_seconds: float


def _proc_usage(session_id: int) -> Usage:
    rss = 0
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            statm = (entry / "statm").read_text().split()
        except OSError:  # the process ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[3]) != session_id:  # field 6 of stat: the session id
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime + stime
        rss += int(statm[1]) * PAGE
    return Usage(rss / MB, ticks / TICKS)


def _psutil_usage(pid: int) -> Usage:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return Usage(0.0, 0.0)
    rss = 0
    cpu = 0.0
    for proc in procs:
        try:
            rss += proc.memory_info().rss
            times = proc.cpu_times()
            cpu += times.user + times.system
        except psutil.Error:
            continue
    return Usage(rss / MB, cpu)


def usage(pid: int) -> Usage:
    """Memory and CPU of process `pid` (a session leader) and its descendants."""
    return _psutil_usage(pid) if psutil is not None else _proc_usage(pid)


def own_rss_mb() -> float:
    """Peak resident memory of this (load-generating) process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def own_cpu_seconds() -> float:
    """CPU time of this (load-generating) process so far."""
    times = os.times()
    return times.user + times.system


@dataclass
class Sampler:
    """Reads every process's usage every `every` seconds while a scenario runs."""

    pids: dict[str, int]
    every: float = 1.0
    started: float = field(default_factory=time.monotonic)
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # name -> [(s, rss MB)]
    cpu_start: dict[str, float] = field(default_factory=dict)
    cpu_end: dict[str, float] = field(default_factory=dict)

    def read(self) -> None:
        now = time.monotonic() - self.started
        for name, pid in self.pids.items():
            reading = usage(pid)
            self.series.setdefault(name, []).append((round(now, 1), round(reading.rss_mb, 1)))
            self.cpu_start.setdefault(name, reading.cpu_seconds)
            self.cpu_end[name] = reading.cpu_seconds
        bench = own_cpu_seconds()
        self.cpu_start.setdefault("bench", bench)
        self.cpu_end["bench"] = bench
        self.series.setdefault("bench", []).append((round(now, 1), round(own_rss_mb(), 1)))

    async def run(self) -> None:
        """Sample until cancelled."""
        while True:
            await asyncio.to_thread(self.read)
            await asyncio.sleep(self.every)

    def peak_rss(self) -> dict[str, float]:
        return {name: max(v for _, v in points) for name, points in self.series.items() if points}

    def cpu_seconds(self) -> dict[str, float]:
        return {name: round(self.cpu_end[name] - self.cpu_start.get(name, 0.0), 2) for name in self.cpu_end}
