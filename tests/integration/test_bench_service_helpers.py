"""The service benchmark's process and report helpers (bench/service_processes.py and
bench/bench_service.py), on real process trees read from /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import bench_service  # noqa: E402
import service_processes  # noqa: E402

pytestmark = pytest.mark.integration

MIB = 2**20

#: A supervisor that fills ``size`` bytes (resident), then forks ``workers`` children that
#: only sleep: their pages stay shared with it (copy-on-write) until written.
FORKING = """
import os, sys, time
size, workers = int(sys.argv[1]), int(sys.argv[2])
block = bytearray(b"x" * size)
for _ in range(workers):
    if os.fork() == 0:
        time.sleep(120)
        os._exit(0)
print("forked", flush=True)
time.sleep(120)
"""


@contextmanager
def forking_server(size: int, workers: int) -> Iterator[int]:
    """The supervisor's pid once its workers exist; the group it leads is killed after."""
    server = subprocess.Popen(
        [sys.executable, "-c", FORKING, str(size), str(workers)],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == b"forked"
        yield server.pid
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def test_the_workers_are_the_children_of_a_supervisor_that_forked_them() -> None:
    with forking_server(MIB, 2) as pid:
        children = service_processes.descendants(pid)
        assert len(children) == 2
        assert service_processes.server_workers(pid) == sorted(children)


def test_a_process_without_children_is_its_own_only_worker() -> None:
    with forking_server(MIB, 0) as pid:
        assert service_processes.server_workers(pid) == [pid]
        # For the soak, which kills workers: the started process is never one of them.
        assert service_processes.server_workers(pid, itself_when_alone=False) == []
        roles = [role for _, role, _ in service_processes.service_memory(pid).processes]
        assert roles == ["server (its only worker)"]


def test_pss_counts_pages_shared_after_a_fork_once_where_rss_counts_them_per_process() -> None:
    size = 96 * MIB
    with forking_server(size, 2) as pid:
        found = service_processes.service_memory(pid)
        roles = sorted(role for _, role, _ in found.processes)
        assert roles == ["supervisor", "worker", "worker"]
        # Every process maps the block: RSS counts it three times, PSS splits it three ways.
        assert found.total_rss * 2**30 > 3 * size
        assert found.total_pss * 2**30 < 1.7 * size
        for _, _, memory in found.processes:
            assert 0 < memory.pss <= memory.rss <= memory.peak_rss


def test_cpu_seconds_grow_with_the_work_a_process_does() -> None:
    before = service_processes.cpu_seconds(os.getpid())
    started = time.process_time()
    while time.process_time() - started < 0.2:
        pass
    assert service_processes.cpu_seconds(os.getpid()) - before >= 0.1
    assert service_processes.cpu_seconds(2**22 + 12345) == 0.0  # no such process


def test_stop_server_ends_the_workers_of_the_group_it_started() -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", FORKING, str(MIB), "2"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert server.stdout is not None
    assert server.stdout.readline().strip() == b"forked"
    children = service_processes.descendants(server.pid)
    bench_service.stop_server(server, grace=5.0)
    deadline = time.monotonic() + 10
    alive = children
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in children if Path(f"/proc/{pid}").exists() and not _zombie(pid)]
        time.sleep(0.05)
    assert server.returncode == -signal.SIGTERM
    assert alive == []


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def test_a_checkout_is_the_code_its_processes_import() -> None:
    here = bench_service.inspect_checkout(bench_service.REPO)
    assert here.modules[1] == str(bench_service.REPO / "matching" / "engine.py")
    assert len(here.fingerprint) == 12


def test_a_folder_without_the_code_is_refused(tmp_path: Path) -> None:
    # Its processes fall back on the venv's editable install: this tree's code, not its own.
    with pytest.raises(SystemExit, match=r"imports the code at .*, not its own"):
        bench_service.inspect_checkout(tmp_path)


def test_a_checkout_whose_code_does_not_import_is_refused(tmp_path: Path) -> None:
    (tmp_path / "service").mkdir()
    (tmp_path / "service" / "__init__.py").write_text("raise ImportError('broken')\n")
    with pytest.raises(SystemExit, match="does not import"):
        bench_service.inspect_checkout(tmp_path)


def _phase(name: str, concurrency: int, latency_ms: float, rps: float) -> bench_service.Phase:
    requests = 100
    seconds = requests / rps
    return bench_service.Phase(
        name,
        concurrency,
        [latency_ms / 1000] * requests,
        {200: requests},
        seconds,
        client_cpu=0.03,
        worker_cpu=[0.5, 0.5],
        server_cpu=1.0,
        machine_cpu=1.03,
        stage_ms={"scoring": 300.0, "features": 100.0},
        timed_answers=requests,
    )


def _memory(pss: float) -> service_processes.ServiceMemory:
    return service_processes.ServiceMemory(
        [(1, "worker", service_processes.Memory(rss=pss * 1.5, pss=pss, peak_rss=pss * 2))]
    )


def _run(workers: int, pss: float, phases: list[bench_service.Phase]) -> bench_service.ServiceRun:
    return bench_service.ServiceRun(
        workers, 1, [1], 1.0, {}, "", _memory(pss), _memory(pss), None, phases, []
    )


def test_the_targets_are_met_or_missed_by_the_figures_measured() -> None:
    fast = [_phase("matches", 8, 20.0, 450.0), _phase("shortlist", 8, 50.0, 300.0)]
    floor = {
        "matches": {"p50": 2.0, "p99": 9.0},
        "shortlist": {"p99": 16.0},
        "recall_matches": 0.97,
        "recall_shortlist": 0.9,
    }
    run = _run(2, 1.2, fast)
    ratios = bench_service.memory_ratios(run, _run(1, 1.0, []))
    verdicts = dict(bench_service.targets(run, floor, ratios, [8, 32]))
    assert verdicts == {
        "HTTP matches at 8 in flight >= 400 req/s": True,
        "HTTP matches at 8 in flight p99 <= 30 ms": True,
        "HTTP shortlist at 8 in flight >= 250 req/s": True,
        "HTTP shortlist at 8 in flight p99 <= 40 ms": False,
        "no non-2xx answers": True,
        "engine matches p50 <= 3 ms": True,
        "engine matches p99 <= 10 ms": True,
        "engine shortlists p99 <= 15 ms": False,
        "recall@20 of matches >= 0.95": True,
        "recall@20 of shortlist >= 0.95": False,
        "total PSS with 2 workers <= 1.3 x 1 worker's (ready and warm)": True,
    }
    unmeasured = dict(bench_service.targets(run, None, None, [32]))
    assert unmeasured["engine matches p50 <= 3 ms"] is None
    assert unmeasured["HTTP matches at 32 in flight >= 400 req/s"] is None


def test_the_stage_table_averages_the_server_timing_of_each_phase() -> None:
    text = bench_service.stage_table(_run(2, 1.0, [_phase("matches", 8, 20.0, 450.0)]), None)
    lines = text.splitlines()
    assert lines[0] == "| CPU ms per request | matches @8 |"
    # Stages in the canonical order, each the mean over the answers that carried them.
    assert lines[2] == "| features | 1.00 |"
    assert lines[3] == "| scoring | 3.00 |"
    assert "| **sum of the stages** | 4.00 |" in lines
    assert "| **service CPU (/proc, every process)** | 10.00 |" in lines
    assert "| outside the stages (framework, HTTP, logging) | 6.00 |" in lines


def test_the_before_after_table_pairs_the_figures_both_runs_measured() -> None:
    before = {"checkout": "/tmp/before", "figures": {"matches @8: req/s": 100.0, "old": 1.0}}
    after = {
        "checkout": "/work/main",
        "figures": {"matches @8: req/s": 400.0, "recall@20 matches": 0.97},
    }
    rows = bench_service.comparison_table(before, after).splitlines()
    assert rows[0] == "| measure | before: /tmp/before | after: /work/main | ratio |"
    assert rows[2:] == ["| matches @8: req/s | 100.00 | 400.00 | 4.00x |"]
