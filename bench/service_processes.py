"""A running service's processes, their CPU and their memory, read from ``/proc``.

The benchmarks find a server's workers as the descendants of the process they started, not
by a command line: ``kohtaanto serve`` may run uvicorn's spawned workers, workers forked from
a supervisor that built the engine, or (one worker) serve in the started process itself.

Memory is read twice over: RSS counts every page a process maps, so pages the workers share
with their supervisor (copy-on-write after a fork) are counted once per process and a sum of
RSS overstates the service; PSS divides each shared page between the processes that map it,
so the PSS of the processes adds up to what the service really holds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: Helpers of the multiprocessing module: neither a worker nor the supervisor.
HELPERS = (b"resource_tracker", b"semaphore_tracker", b"forkserver")


def _parents() -> dict[int, list[int]]:
    """Children of every process, from /proc (one snapshot)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    return parents


def descendants(pid: int) -> list[int]:
    """Process ids below ``pid`` (from /proc), children first."""
    parents = _parents()
    found: list[int] = []
    frontier = [pid]
    while frontier:
        children = [c for p in frontier for c in parents.get(p, [])]
        found += children
        frontier = children
    return found


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").strip()
    except OSError:
        return b""


def is_helper(pid: int) -> bool:
    command = command_line(pid)
    return any(helper in command for helper in HELPERS)


def server_workers(server_pid: int, itself_when_alone: bool = True) -> list[int]:
    """The processes below ``server_pid`` that serve requests.

    The descendants that are neither multiprocessing helpers nor parents of other serving
    processes (a supervisor's children are its workers, whichever way it made them); with
    ``itself_when_alone``, the started process itself when it has none (one worker serving
    in the process started, or a supervisor that has not forked yet).
    """
    parents = _parents()
    below = descendants(server_pid)
    serving = [pid for pid in below if not is_helper(pid)]
    leaves = [pid for pid in serving if not any(child in serving for child in parents.get(pid, []))]
    return sorted(leaves) or ([server_pid] if itself_when_alone else [])


@dataclass(frozen=True)
class Memory:
    """A process's memory in GiB: resident, proportional (shared pages split), peak RSS, and
    unique (its private pages: what its end would free)."""

    rss: float
    pss: float
    peak_rss: float
    uss: float = float("nan")


NAN = float("nan")


def memory(pid: int) -> Memory:
    """RSS, PSS and USS from ``/proc/PID/smaps_rollup``, peak RSS (VmHWM) from ``status``."""
    values: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
                values[key] = int(rest.split()[0]) / 2**20
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                values["VmHWM"] = int(line.split()[1]) / 2**20
    except OSError:
        pass
    uss = values.get("Private_Clean", NAN) + values.get("Private_Dirty", NAN)
    return Memory(values.get("Rss", NAN), values.get("Pss", NAN), values.get("VmHWM", NAN), uss)


def memory_gib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in GiB."""
    found = memory(pid)
    return found.rss, found.peak_rss


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (every thread), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def machine_busy_seconds() -> float:
    """CPU seconds all cores have been busy since boot (every process, from /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


@dataclass(frozen=True)
class ServiceMemory:
    """Memory of each process of a service: the started process, its workers, helpers."""

    #: (pid, role, memory), role "supervisor", "worker", "server (its only worker)" or "helper".
    processes: list[tuple[int, str, Memory]]

    @property
    def total_rss(self) -> float:
        return sum(m.rss for _, _, m in self.processes)

    @property
    def total_pss(self) -> float:
        return sum(m.pss for _, _, m in self.processes)

    @property
    def total_uss(self) -> float:
        return sum(m.uss for _, _, m in self.processes)


def service_memory(server_pid: int) -> ServiceMemory:
    """RSS and PSS of the started process and every process below it."""
    workers = server_workers(server_pid)
    rows: list[tuple[int, str, Memory]] = []
    for pid in [server_pid, *descendants(server_pid)]:
        if pid == server_pid:
            role = "server (its only worker)" if workers == [server_pid] else "supervisor"
        elif pid in workers:
            role = "worker"
        else:
            # A multiprocessing helper, or a process between the started one and the workers
            # (a server the started process runs as a child, which forks the workers).
            role = "helper" if is_helper(pid) else "supervisor"
        rows.append((pid, role, memory(pid)))
    return ServiceMemory(rows)


def wait_for_quiet(processes: Sequence[int], limit: float, timeout: float) -> float | None:
    """Wait until other work on the machine uses under ``limit`` cores (sampled over 1 s).

    ``processes`` (the server's) and this one are not other work. Returns the other work's
    last sample when ``timeout`` passed first, else None.
    """
    deadline = time.monotonic() + timeout
    while True:
        own = time.process_time() + sum(cpu_seconds(p) for p in processes)
        machine = machine_busy_seconds()
        time.sleep(1.0)
        own = time.process_time() + sum(cpu_seconds(p) for p in processes) - own
        others = machine_busy_seconds() - machine - own
        if others < limit:
            return None
        if time.monotonic() > deadline:
            return others
