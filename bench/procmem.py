"""The memory a pre-fork server really holds: PSS and USS beside RSS, per process and in total.

RSS counts every page a process maps, so the pages that forked workers share copy-on-write
with their supervisor (the matching engine's arrays) are counted once in every process: a sum
of RSS overstates the service about as many times as it has processes. PSS (proportional set
size) divides each page between the processes that map it, so the PSS of all processes adds
up to what the service holds. USS (unique set size: private pages) is what one process alone
holds, and what its end would free. All three come from ``/proc/PID/smaps_rollup``.

    from procmem import service_memory, memory_table   # scripts in bench/
    rows = service_memory(server_pid)                    # the supervisor and its workers
    print(memory_table(rows))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MIB = 1024  # smaps values are in kB


@dataclass(frozen=True)
class ProcessMemory:
    """One process's memory in MiB (NaN when it could not be read, e.g. it has exited)."""

    pid: int
    role: str
    rss: float
    pss: float
    uss: float


def process_memory(pid: int, role: str = "") -> ProcessMemory:
    """RSS, PSS and USS (private clean + private dirty pages) of a process."""
    values: dict[str, float] = {}
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines[1:]:  # the first names the address range
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            values[key] = int(fields[0]) / MIB
    nan = float("nan")
    uss = values.get("Private_Clean", nan) + values.get("Private_Dirty", nan)
    return ProcessMemory(pid, role, values.get("Rss", nan), values.get("Pss", nan), uss)


def children(pid: int) -> list[int]:
    """The direct children of a process (a pre-fork supervisor's workers)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return sorted(int(child) for child in text.split())


def service_memory(server_pid: int) -> list[ProcessMemory]:
    """The supervisor (``server_pid``) and each of its children, supervisor first."""
    rows = [process_memory(server_pid, "supervisor")]
    rows += [process_memory(child, "worker") for child in children(server_pid)]
    return rows


def totals(rows: list[ProcessMemory]) -> ProcessMemory:
    """The sums over ``rows`` (RSS double-counts shared pages; PSS and USS do not)."""
    return ProcessMemory(
        0,
        "total",
        sum(r.rss for r in rows),
        sum(r.pss for r in rows),
        sum(r.uss for r in rows),
    )


def memory_table(rows: list[ProcessMemory], title: str = "") -> str:
    """A markdown table: one line per process and the total, in MiB."""
    lines = [
        f"| {title or 'process'} | pid | RSS MiB | PSS MiB | USS MiB |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in [*rows, totals(rows)]:
        pid = str(row.pid) if row.pid else ""
        lines.append(f"| {row.role} | {pid} | {row.rss:,.0f} | {row.pss:,.0f} | {row.uss:,.0f} |")
    return "\n".join(lines)
