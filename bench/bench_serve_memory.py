"""Memory, start and worker replacement of `kohtaanto serve` with 1 and with N workers.

    python bench/bench_serve_memory.py [--database var/bench/service/kohtaanto.db]
                                       [--models var/bench/models] [--workers 1 2]

The workers of `kohtaanto serve` are forked from a supervisor that built the matching engine
(service.server), so they share its pages: RSS counts those once per process, PSS splits them
(see service_processes.py). For each worker count this starts the server on the database (a free
loopback port, no metrics listener, a temporary var folder with a copy of the registry's
champion; only /readyz is asked, so nothing is written to the database), and measures:

- seconds until every worker answers /readyz (the supervisor builds the engine, then forks);
- RSS, PSS and USS of the supervisor and of each worker, and their totals, once ready;
- after a SIGKILL of one worker: seconds until a replacement answers (and that it serves the
  supervisor's engine, not one it rebuilt), and the memory again.

The server is always stopped (SIGTERM to the process started, then SIGKILL to its session).
Prints markdown tables and total PSS with the most workers / total PSS with one (target
<= 1.3). The machine is shared: other processes' load makes the times noisy, not the memory.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from service_processes import ServiceMemory, server_workers, service_memory

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.3


@dataclass
class Run:
    workers: int
    ready_seconds: float
    replacement_seconds: float
    ready: ServiceMemory
    replaced: ServiceMemory


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ask_ready(base: str) -> dict[str, object] | None:
    """/readyz over a new connection (so any worker may take it), or None."""
    with contextlib.suppress(httpx.HTTPError, ValueError):
        answer = httpx.get(f"{base}/readyz", timeout=10.0, headers={"Connection": "close"})
        if answer.status_code == 200:
            ready: dict[str, object] = answer.json()
            return ready
    return None


def wait_for_workers(
    server: subprocess.Popen[bytes], base: str, wanted: set[int] | int, deadline: float, log: Path
) -> dict[str, object]:
    """Poll /readyz until ``wanted`` distinct workers answered (or a worker of the set)."""
    seen: set[int] = set()
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"serve exited {server.returncode}:\n{log.read_text()[-3000:]}")
        ready = ask_ready(base)
        if ready is not None:
            worker = int(str(ready["worker_pid"]))
            if isinstance(wanted, set) and worker in wanted:
                return ready
            seen.add(worker)
            if isinstance(wanted, int) and len(seen) >= wanted:
                return ready
        else:
            time.sleep(0.2)
    raise TimeoutError(f"workers {wanted} did not answer in time; saw {sorted(seen)}")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)  # the session this script started
        server.wait(10)


def memory_table(memory: ServiceMemory, title: str) -> str:
    """A markdown table in MiB: one line per process of the service and the total."""
    lines = [f"| {title} | pid | RSS MiB | PSS MiB | USS MiB |", "|---|---:|---:|---:|---:|"]
    rows = [(str(pid), role, m.rss, m.pss, m.uss) for pid, role, m in memory.processes]
    rows.append(("", "total", memory.total_rss, memory.total_pss, memory.total_uss))
    for pid, role, *gib in rows:
        rss, pss, uss = (value * 1024 for value in gib)
        lines.append(f"| {role} | {pid} | {rss:,.0f} | {pss:,.0f} | {uss:,.0f} |")
    return "\n".join(lines)


def measure(database: str, models: Path, workers: int, timeout: float, settle: float) -> Run:
    var_dir = Path(tempfile.mkdtemp(prefix="kohtaanto-memory-"))
    try:
        if (models / "CHAMPION").is_file():
            shutil.copytree(models, var_dir / "models")
        if (REPO / "var" / "cache").is_dir():
            (var_dir / "cache").symlink_to(REPO / "var" / "cache")  # reference data, built
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "KOHTAANTO_PATHS__VAR_DIR": str(var_dir),
            "KOHTAANTO_DATABASE_URL": database,
            "KOHTAANTO_SERVICE__METRICS_PORT": "0",
            "KOHTAANTO_SERVICE__ACCESS_LOG": "false",
        }
        command = [
            str(Path(sys.executable).with_name("kohtaanto")),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
        log = var_dir / "serve.log"
        started = time.monotonic()
        with log.open("wb") as output:
            server = subprocess.Popen(
                command,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                start_new_session=True,
            )
        try:
            wait_for_workers(server, base, workers, started + timeout, log)
            ready_seconds = time.monotonic() - started
            time.sleep(settle)
            ready = service_memory(server.pid)
            before = set(server_workers(server.pid, itself_when_alone=False))
            os.kill(min(before), signal.SIGKILL)
            killed = time.monotonic()
            replacement: dict[str, object] | None = None
            while replacement is None:
                if time.monotonic() - killed > 60:
                    raise TimeoutError("no replacement worker answered within 60 s")
                newcomers = set(server_workers(server.pid, itself_when_alone=False)) - before
                if newcomers:
                    replacement = wait_for_workers(server, base, newcomers, killed + 60, log)
                else:
                    time.sleep(0.01)
            replacement_seconds = time.monotonic() - killed
            if replacement["engine_built_by_pid"] != server.pid:
                raise RuntimeError(f"the replacement rebuilt its engine: {replacement}")
            time.sleep(settle)
            replaced = service_memory(server.pid)
        finally:
            stop(server)
        return Run(workers, ready_seconds, replacement_seconds, ready, replaced)
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", type=Path, default=Path("var/bench/service/kohtaanto.db"))
    parser.add_argument("--database-url", help="instead of --database (e.g. PostgreSQL)")
    parser.add_argument("--models", type=Path, default=Path("var/bench/models"))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to be ready")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds before measuring")
    args = parser.parse_args()
    database = args.database_url or f"sqlite:///{args.database.resolve()}"
    if args.database_url is None and not args.database.is_file():
        sys.exit(f"{args.database} does not exist (bench/bench_service.py prepares it)")
    pointer = args.models / "CHAMPION"
    champion = pointer.read_text().strip() if pointer.is_file() else "none (the rules)"
    print(f"database {database}; champion of {args.models}: {champion}")
    runs = [measure(database, args.models, n, args.timeout, args.settle) for n in args.workers]
    for run in runs:
        print(f"\n### {run.workers} worker(s)\n")
        print(memory_table(run.ready, "when ready"))
        print()
        print(memory_table(run.replaced, "after a worker was killed and replaced"))
    print(
        "\n| workers | ready s | replacement serves s | total RSS MiB | total PSS MiB "
        "| total USS MiB |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        total = run.ready
        print(
            f"| {run.workers} | {run.ready_seconds:.1f} | {run.replacement_seconds:.2f} "
            f"| {total.total_rss * 1024:,.0f} | {total.total_pss * 1024:,.0f} "
            f"| {total.total_uss * 1024:,.0f} |"
        )
    one = next((r for r in runs if r.workers == 1), None)
    most = max(runs, key=lambda r: r.workers)
    if one is not None and most is not one:
        ratio = most.ready.total_pss / one.ready.total_pss
        verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
        print(
            f"\ntotal PSS with {most.workers} workers / with 1: {ratio:.2f} "
            f"(target <= {TARGET_RATIO}: {verdict})"
        )


if __name__ == "__main__":
    main()
