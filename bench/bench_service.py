"""Benchmark the HTTP service and the matching engine under it, side by side, in one run.

    python bench/bench_service.py [--world DIR] [--requests 3000] [--concurrency 8 32]
                                  [--checkout DIR] [--no-compare-workers] [--no-floor]

Prepares once, cached under ``--root`` (``var/bench/service/``): a SQLite database migrated to
head and bulk-loaded with the 300,000 jobseeker / 100,000 vacancy world (``var/bench/world``,
generated when missing; the load time is measured and printed), bearer tokens for the coach
organisations and the suppliers' employer organisations the queries need, and the query ids —
jobseekers of each coach's organisation, vacancies of each employer's suppliers open on the
world's ``as_of`` day. Serves the champion of ``var/bench/models`` when it has one (copied
into the service's ``var`` folder), else the documented rule-based scorer; says which.

Then, with the code of ``--checkout`` (this tree by default; another checkout runs with this
venv, ``PYTHONPATH`` and working directory set to it, and the script checks that its modules
are the ones imported), one after another so that nothing measured shares the cores with
another measured thing:

1. The engine's floor (``bench/engine_floor.py``, a process of its own that exits before the
   server starts): the engine built from the same database with the same model, called
   in-process on the same query ids, single-threaded — p50/p95/p99 and req/s = 1 / mean — and
   recall@20 against exhaustive scoring of every admissible pair on a subset.
2. ``kohtaanto serve`` with ``--workers`` (2) on a free loopback port, stage timing on when
   the checkout has it (``Server-Timing`` headers). When ``/readyz`` answers and every worker
   is idle, a warm-up, then a fixed number of requests per endpoint at each concurrency from
   asyncio aiohttp clients in this process:
   ``GET /api/v1/coach/jobseekers/{id}/matches?k=20`` (with TreeSHAP factors, the default),
   the same with ``factors=false``, ``GET /api/v1/employer/vacancies/{id}/shortlist?k=20``,
   and ``GET /healthz`` (the framework's floor: routing, middleware, HTTP, the client).
3. With ``--compare-workers`` (the default), the service again with 1 worker, to the end of
   its warm-up: the memory the second worker costs.

Prints markdown tables: req/s, p50/p95/p99 and non-2xx per endpoint at each concurrency with
the engine's floor beside them; the CPU per request by stage (the mean of the
``Server-Timing`` headers) next to the server's CPU per request from /proc and the load
generator's; RSS and PSS of the started process, each worker and the whole service, when
ready, after the warm-up and after the load. Then the targets, met or MISSED. Every figure
shares 2 cores with the load generator, and with anything else running on the machine: each
phase first waits (bounded) for other work to stop and prints the cores it still took.

The server is always stopped: SIGTERM to the started process, then SIGKILL to the process
group it leads (it is started in a session of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np
import pandas as pd
from service_processes import (
    ServiceMemory,
    cpu_seconds,
    descendants,
    machine_busy_seconds,
    memory_gib,  # noqa: F401 (bench_soak imports it from here)
    server_workers,
    service_memory,
    wait_for_quiet,
)

from matching.stages import STAGES, parse_server_timing

K = 20
MATCHES = "/api/v1/coach/jobseekers/{}/matches"
SHORTLIST = "/api/v1/employer/vacancies/{}/shortlist"
REPO = Path(__file__).resolve().parents[1]
#: The packages whose code a checkout's fingerprint covers.
CODE = ("matching", "features", "training", "service", "reporting")

# The targets of issue 14, on the 2-core reference machine (the load generator included).
TARGET_MATCHES_RPS, TARGET_MATCHES_P99_MS = 400.0, 30.0
TARGET_SHORTLIST_RPS, TARGET_SHORTLIST_P99_MS = 250.0, 40.0
TARGET_ENGINE_MATCHES_P50_MS, TARGET_ENGINE_MATCHES_P99_MS = 3.0, 10.0
TARGET_ENGINE_SHORTLIST_P99_MS = 15.0
TARGET_RECALL = 0.95
TARGET_MEMORY_RATIO = 1.3
#: The concurrency the HTTP targets are stated at.
TARGET_CONCURRENCY = 8


# ---------------------------------------------------------------------------- preparation


@dataclass(frozen=True)
class Prepared:
    database: Path
    as_of: str
    fingerprint: str
    load_seconds: float
    rows: int
    #: (token, jobseeker_id) and (token, vacancy_id) pairs, warm-up first.
    coach_queries: list[tuple[str, str]]
    employer_queries: list[tuple[str, str]]
    users: int
    cached: bool


def prepare(
    world_dir: Path, root: Path, size: tuple[int, int], queries: int, seed: int
) -> Prepared:
    """The database, users and query ids; built once, reused while the world is unchanged."""
    from features.world_store import load_world
    from service.storage.world_io import world_fingerprint
    from training.synthetic import WorldConfig, generate_world

    if not (world_dir / "world.json").exists():
        print(f"generating a {size[0]:,} / {size[1]:,} world into {world_dir} ...")
        generate_world(WorldConfig(seekers=size[0], vacancies=size[1]), world_dir)
        gc.collect()
    manifest = json.loads((world_dir / "world.json").read_text(encoding="utf-8"))
    fingerprint = world_fingerprint(manifest)
    stamp = root / "prepared.json"
    if stamp.exists():
        done = json.loads(stamp.read_text(encoding="utf-8"))
        loaded = done["fingerprint"] == fingerprint and (root / "kohtaanto.db").exists()
        if loaded and len(done["coach_queries"]) < queries:
            # More query ids than an earlier run picked: pick them (and their users) on the
            # database already loaded, whose bulk load is the slow part.
            from service.storage.database import make_engine

            engine = make_engine(f"sqlite:///{root / 'kohtaanto.db'}")
            picked = _users_and_queries(load_world(world_dir), engine, queries, seed)
            engine.dispose()
            done["coach_queries"], done["employer_queries"], done["users"] = picked
            stamp.write_text(json.dumps(done), encoding="utf-8")
        if loaded:
            return Prepared(
                database=root / "kohtaanto.db",
                as_of=done["as_of"],
                fingerprint=fingerprint,
                load_seconds=done["load_seconds"],
                rows=done["rows"],
                coach_queries=[tuple(q) for q in done["coach_queries"]],
                employer_queries=[tuple(q) for q in done["employer_queries"]],
                users=done["users"],
                cached=True,
            )
    from service.storage.database import make_engine, upgrade_to_head
    from service.storage.world_io import load_world_into_database

    root.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    database = root / "kohtaanto.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{database}"

    world = load_world(world_dir)
    started = time.perf_counter()
    upgrade_to_head(url)
    migrate_s = time.perf_counter() - started
    engine = make_engine(url)

    def progress(table: str, done: int, total: int) -> None:
        if done == total:
            print(f"  loaded {table:27} {total:>10,} rows  {time.perf_counter() - started:6.1f} s")

    report = load_world_into_database(world, engine, progress)
    load_s = time.perf_counter() - started
    print(
        f"database: migrated in {migrate_s:.1f} s, {report.total_rows:,} rows bulk-loaded; "
        f"migrate + load {load_s:.1f} s"
    )
    coach_queries, employer_queries, users = _users_and_queries(world, engine, queries, seed)
    engine.dispose()
    _warm_reference_cache(root)
    stamp.write_text(
        json.dumps(
            {
                "fingerprint": fingerprint,
                "as_of": world.as_of.isoformat(),
                "load_seconds": load_s,
                "rows": report.total_rows,
                "coach_queries": coach_queries,
                "employer_queries": employer_queries,
                "users": users,
            }
        ),
        encoding="utf-8",
    )
    return Prepared(
        database,
        world.as_of.isoformat(),
        fingerprint,
        load_s,
        report.total_rows,
        coach_queries,
        employer_queries,
        users,
        cached=False,
    )


def _users_and_queries(
    world: Any, engine: Any, queries: int, seed: int
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], int]:
    """One coach user per employment service and one employer user per supplier organisation
    that owns a sampled query, so every query asks about an object the caller owns."""
    from service.storage.database import make_session_factory
    from service.storage.users import create_user

    rng = np.random.default_rng(seed)
    seekers = world.jobseekers
    picked = seekers.iloc[rng.choice(len(seekers), queries, replace=False)]
    day = pd.Timestamp(world.as_of)
    vacancies = world.vacancies
    open_now = vacancies[(vacancies["opens_on"] <= day) & (vacancies["closes_on"] >= day)]
    chosen = open_now.iloc[rng.choice(len(open_now), queries, replace=False)]
    supplier_org = world.suppliers.set_index("supplier_id")["organisation_id"].astype(str)

    tokens: dict[tuple[str, str], str] = {}
    with make_session_factory(engine)() as session:

        def token(role: str, organisation: str) -> str:
            if (role, organisation) not in tokens:
                name = f"bench {role} {organisation}"
                created = create_user(session, name=name, role=role, organisation_id=organisation)
                tokens[role, organisation] = created.token
            return tokens[role, organisation]

        coach_queries = [
            (token("coach", str(org)), str(jid))
            for jid, org in zip(picked["jobseeker_id"], picked["organisation_id"], strict=True)
        ]
        employer_queries = [
            (token("employer", supplier_org[str(sid)]), str(vid))
            for vid, sid in zip(chosen["vacancy_id"], chosen["supplier_id"], strict=True)
        ]
        session.commit()
    coaches = sum(1 for role, _ in tokens if role == "coach")
    print(
        f"users: {coaches} coach organisations, {len(tokens) - coaches} employer organisations; "
        f"{queries:,} jobseekers and {queries:,} vacancies open on {world.as_of} picked"
    )
    return coach_queries, employer_queries, len(tokens)


def _warm_reference_cache(root: Path) -> None:
    """Build the reference-data cache once, so the two workers do not race to write it."""
    from features.geography import load_geography
    from features.reference_data import default_data_dir
    from features.taxonomy import load_taxonomy

    load_taxonomy(default_data_dir(), root / "cache")
    load_geography(default_data_dir(), root / "cache")


def choose_model(models: Path, root: Path, use_model: bool, fingerprint: str) -> str:
    """Copy the champion's registry into the service's var folder, or serve the rules."""
    target = root / "models"
    shutil.rmtree(target, ignore_errors=True)
    champion = models / "CHAMPION"
    if not use_model or not champion.exists():
        why = "--no-model" if not use_model else f"no CHAMPION in {models}"
        return f"rule-based scorer ({why})"
    shutil.copytree(models, target, ignore=shutil.ignore_patterns(".lock", "*.tmp"))
    version = champion.read_text(encoding="utf-8").strip()
    manifest = json.loads((target / "versions" / version / "manifest.json").read_text("utf-8"))
    same = manifest.get("training_fingerprint") == fingerprint
    # The trees in each direction's booster (early stopping keeps fewer than the maximum).
    trees = ", ".join(
        f"{path.stem.removeprefix('model-')} {_trees(path)} trees"
        for path in sorted((target / "versions" / version).glob("model*.txt"))
    )
    return (
        f"LightGBM champion {version} from {models} ({trees}; trained on "
        f"{'this' if same else 'another'} world)"
    )


def _trees(booster: Path) -> int:
    with booster.open(encoding="utf-8") as text:
        return sum(1 for line in text if line.startswith("Tree="))


# ---------------------------------------------------------------------------- the checkout


@dataclass(frozen=True)
class Checkout:
    """The code measured: where its modules are imported from, and what it supports."""

    directory: Path
    #: sha256 over the checkout's Python sources (the packages in CODE), 12 hex digits.
    fingerprint: str
    #: Its git commit when it is a git work tree, with "+ changes" when files differ from it.
    commit: str
    #: The files ``service`` and ``matching.engine`` resolve to under the checkout's settings.
    modules: tuple[str, str]
    #: The checkout's settings know ``service.stage_timing`` (Server-Timing headers).
    stage_timing: bool

    @property
    def is_this_tree(self) -> bool:
        return self.directory == REPO

    def env(self) -> dict[str, str]:
        """The environment a process of this checkout runs with (this venv, its code)."""
        if self.is_this_tree:
            return dict(os.environ)
        path = os.environ.get("PYTHONPATH")
        return {
            **os.environ,
            "PYTHONPATH": str(self.directory) + (os.pathsep + path if path else ""),
        }

    def describe(self) -> str:
        return f"{self.directory} ({self.commit}; code sha256 {self.fingerprint})"


_PROBE = """
import json, service, matching.engine
from service.settings import ServiceSettings
print(json.dumps({
    "modules": [service.__file__, matching.engine.__file__],
    "stage_timing": "stage_timing" in ServiceSettings.model_fields,
}))
"""


def inspect_checkout(directory: Path) -> Checkout:
    """What ``directory``'s code is, and proof that a process started for it imports it."""
    directory = directory.resolve()
    digest = hashlib.sha256()
    for package in CODE:
        for source in sorted((directory / package).rglob("*.py")):
            digest.update(str(source.relative_to(directory)).encode())
            digest.update(source.read_bytes())
    commit = "not a git work tree"
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        git = ["git", "-C", str(directory)]
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, check=True, text=True
        ).stdout.strip()
        changed = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no", "--", *CODE],
            capture_output=True,
            check=True,
            text=True,
        ).stdout.strip()
        commit = f"commit {head}" + (" + uncommitted changes" if changed else "")
    checkout = Checkout(directory, digest.hexdigest()[:12], commit, ("", ""), False)
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=checkout.env(),
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        raise SystemExit(f"the checkout {directory} does not import:\n{probe.stderr[-2000:]}")
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    modules = tuple(str(Path(m).resolve()) for m in found["modules"])
    if not all(Path(m).is_relative_to(directory) for m in modules):
        raise SystemExit(f"a process for {directory} imports the code at {modules}, not its own")
    return Checkout(
        directory, checkout.fingerprint, commit, (modules[0], modules[1]), found["stage_timing"]
    )


def running_code(pid: int) -> str:
    """The working directory and PYTHONPATH a running process was started with."""
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    path = next((e[11:].decode() for e in environ if e.startswith(b"PYTHONPATH=")), "(unset)")
    return f"cwd {cwd}, PYTHONPATH {path}"


# ---------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def worker_pids(server: subprocess.Popen[bytes]) -> list[int]:
    """The server's worker processes below it, whatever made them (none while there are none).

    For the soak, which kills workers and waits for new ones: never the started process.
    """
    return server_workers(server.pid, itself_when_alone=False)


def serving_pids(server: subprocess.Popen[bytes]) -> list[int]:
    """The processes serving requests: the workers, or the started process serving alone."""
    return server_workers(server.pid)


def start_server(
    var_dir: Path,
    url: str,
    port: int,
    workers: int,
    log_path: Path,
    checkout: Checkout | None = None,
    stage_timing: bool = False,
) -> subprocess.Popen[bytes]:
    """`kohtaanto serve` on loopback over ``url``, its output in ``log_path``.

    In a session of its own, so that :func:`stop_server` can end every process it started
    by its group; with ``checkout``'s code (this tree's by default).
    """
    env = {
        **(checkout.env() if checkout else os.environ),
        "KOHTAANTO_PATHS__VAR_DIR": str(var_dir.resolve()),
        "KOHTAANTO_DATABASE_URL": url,
        # No metrics listener: its fixed default port may be taken by another server.
        "KOHTAANTO_SERVICE__METRICS_PORT": "0",
    }
    if stage_timing:
        # Only where the settings know it: their service group forbids unknown keys.
        env["KOHTAANTO_SERVICE__STAGE_TIMING"] = "true"
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
    with log_path.open("wb") as output:
        return subprocess.Popen(
            command,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=checkout.directory if checkout else REPO,
            start_new_session=True,
        )


def wait_ready(
    server: subprocess.Popen[bytes], base: str, workers: int, timeout: float, log: Path
) -> float:
    """Seconds until /readyz answers and every worker has finished building (is idle)."""
    started = time.perf_counter()
    deadline = started + timeout
    ready = False
    idle_rounds = 0
    previous: dict[int, float] = {}
    with httpx.Client(base_url=base, timeout=5.0) as client:
        while time.perf_counter() < deadline:
            if server.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {server.returncode}:\n{log.read_text()[-3000:]}"
                )
            if not ready:
                with contextlib.suppress(httpx.HTTPError):
                    ready = client.get("/readyz").status_code == 200
            # One ready worker can answer /readyz while another still builds (or before a
            # supervisor has forked them all): wait until every worker is there and idle.
            pids = serving_pids(server)
            now = {pid: cpu_seconds(pid) for pid in pids}
            busy = any(now[p] - previous.get(p, 0.0) > 0.1 for p in pids)
            previous = now
            idle_rounds = idle_rounds + 1 if ready and len(pids) == workers and not busy else 0
            if idle_rounds >= 3:
                return time.perf_counter() - started
            time.sleep(1.0)
    raise TimeoutError(f"the service was not ready within {timeout:.0f} s")


def stop_server(server: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    """SIGTERM to the process we started, then SIGKILL to what is left of its group."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(grace)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    # The group the server leads (start_new_session): workers that outlived it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.pid, signal.SIGKILL)


# ---------------------------------------------------------------------------- the load


@dataclass
class Phase:
    """One endpoint at one concurrency: latencies and answers, CPU used, stage profile."""

    name: str
    concurrency: int
    latencies: list[float]
    statuses: dict[int, int]
    seconds: float
    #: CPU seconds used during the phase by the load generator, each worker, every process of
    #: the service (supervisor and helpers too), and the whole machine.
    client_cpu: float
    worker_cpu: list[float]
    server_cpu: float
    machine_cpu: float
    #: Summed milliseconds per stage over the answers that carried a Server-Timing header.
    stage_ms: dict[str, float] = field(default_factory=dict)
    timed_answers: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def other_cores(self) -> float:
        """Cores busy with neither the server nor the load generator (other work)."""
        return max(0.0, self.machine_cpu - self.server_cpu - self.client_cpu) / self.seconds

    @property
    def errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if not 200 <= code < 300)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentiles(self) -> tuple[float, float, float]:
        p50, p95, p99 = np.percentile(np.asarray(self.latencies) * 1000, [50, 95, 99])
        return float(p50), float(p95), float(p99)

    def per_request_ms(self, cpu_seconds: float) -> float:
        return cpu_seconds * 1000 / self.requests

    def stage_mean_ms(self, name: str) -> float | None:
        return self.stage_ms[name] / self.timed_answers if name in self.stage_ms else None


Request = tuple[str, dict[str, str], dict[str, str]]  # path, params, headers


async def run_load(
    base: str,
    requests: Sequence[Request],
    concurrency: int,
    server_pid: int,
    workers: Sequence[int],
) -> tuple[list[float], dict[int, int], dict[str, float], int, dict[str, float]]:
    """Send every request with ``concurrency`` in flight.

    Returns latencies, status counts, the summed Server-Timing stages and how many answers
    carried them, and the seconds: wall, and CPU of this process, each of ``workers``
    (``worker:PID``), the whole service and the machine meanwhile.

    Each of the ``concurrency`` virtual clients has its own keep-alive connection, opened one
    after another before the clock starts, as independent clients arrive. (Opened in one
    burst, they all queue up before either worker wakes, and the first worker to wake
    accepts every one of them: the other worker would sit idle for the whole phase.)
    """
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stages: dict[str, float] = {}
    timed = 0
    queue = iter(requests)
    # aiohttp, not httpx: its C parser costs the shared cores ~0.3 ms per request where
    # httpx's pure-Python stack took ~1.5 ms, which the server's workers had to give up.
    clients = [
        aiohttp.ClientSession(
            base,
            connector=aiohttp.TCPConnector(limit=1),
            timeout=aiohttp.ClientTimeout(total=60.0),
        )
        for _ in range(concurrency)
    ]
    service = [server_pid, *descendants(server_pid)]
    try:
        for client in clients:
            async with client.get("/healthz") as response:
                await response.read()
            await asyncio.sleep(0.02)

        async def user(client: aiohttp.ClientSession) -> None:
            nonlocal timed
            for path, params, headers in queue:
                started = time.perf_counter()
                timing = None
                try:
                    async with client.get(path, params=params, headers=headers) as response:
                        await response.read()
                        code = response.status
                        timing = response.headers.get("Server-Timing")
                except (aiohttp.ClientError, TimeoutError):
                    code = 0
                latencies.append(time.perf_counter() - started)
                statuses[code] = statuses.get(code, 0) + 1
                if timing is not None and 200 <= code < 300:
                    timed += 1
                    for name, ms in parse_server_timing(timing).items():
                        stages[name] = stages.get(name, 0.0) + ms

        workers_before = [cpu_seconds(p) for p in workers]
        service_before = sum(cpu_seconds(p) for p in service)
        client_before = time.process_time()
        machine_before = machine_busy_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(user(client) for client in clients))
        used = {
            "wall": time.perf_counter() - started,
            "client": time.process_time() - client_before,
            "machine": machine_busy_seconds() - machine_before,
            "service": sum(cpu_seconds(p) for p in service) - service_before,
        }
        for pid, before in zip(workers, workers_before, strict=True):
            used[f"worker:{pid}"] = cpu_seconds(pid) - before
    finally:
        for client in clients:
            await client.close()
    return latencies, statuses, stages, timed, used


def phase(
    name: str,
    base: str,
    requests: Sequence[Request],
    concurrency: int,
    server_pid: int,
    workers: list[int],
    quiet_timeout: float = 0.0,
) -> Phase:
    if quiet_timeout > 0:
        busy = wait_for_quiet([server_pid, *descendants(server_pid)], 0.25, quiet_timeout)
        if busy is not None:
            print(f"  (other work kept {busy:.2f} cores busy; measuring {name} anyway)")
    latencies, statuses, stages, timed, used = asyncio.run(
        run_load(base, requests, concurrency, server_pid, workers)
    )
    return Phase(
        name,
        concurrency,
        latencies,
        statuses,
        used["wall"],
        used["client"],
        [used[f"worker:{pid}"] for pid in workers],
        used["service"],
        used["machine"],
        stages,
        timed,
    )


def matches_requests(pairs: Sequence[tuple[str, str]], factors: bool) -> list[Request]:
    params = {"k": str(K)} if factors else {"k": str(K), "factors": "false"}
    return [(MATCHES.format(jid), params, {"Authorization": f"Bearer {tok}"}) for tok, jid in pairs]


def shortlist_requests(pairs: Sequence[tuple[str, str]]) -> list[Request]:
    return [
        (SHORTLIST.format(vid), {"k": str(K)}, {"Authorization": f"Bearer {tok}"})
        for tok, vid in pairs
    ]


# ---------------------------------------------------------------------------- the measurements

#: The endpoints in the order of the tables; the first three have an engine floor.
ENDPOINTS = ("matches", "matches factors=false", "shortlist", "healthz")


def engine_floor(
    checkout: Checkout,
    root: Path,
    url: str,
    queries: dict[str, list[str]],
    recall_queries: int,
    quiet_timeout: float,
    timeout: float,
) -> dict[str, Any]:
    """The engine's figures from ``bench/engine_floor.py``, run with ``checkout``'s code."""
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as scratch:
        spec = Path(scratch) / "spec.json"
        output = Path(scratch) / "floor.json"
        spec.write_text(
            json.dumps(
                {
                    **queries,
                    "k": K,
                    "recall_queries": recall_queries,
                    "quiet_timeout": quiet_timeout,
                    "output": str(output),
                }
            ),
            encoding="utf-8",
        )
        env = {
            **checkout.env(),
            "KOHTAANTO_PATHS__VAR_DIR": str(root.resolve()),
            "KOHTAANTO_DATABASE_URL": url,
        }
        command = [sys.executable, str(Path(__file__).with_name("engine_floor.py")), str(spec)]
        # Its own session (a terminal's Ctrl-C does not reach it): on a timeout or an
        # interruption of this process, its group goes, and nothing else.
        run = subprocess.Popen(command, env=env, cwd=checkout.directory, start_new_session=True)
        try:
            run.wait(timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pid, signal.SIGKILL)
            run.wait()
            raise
        if run.returncode != 0:
            raise RuntimeError(f"the engine floor failed with exit code {run.returncode}")
        floor: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    engine_module = str(Path(floor["engine_module"]).resolve())
    if not Path(engine_module).is_relative_to(checkout.directory):
        raise RuntimeError(f"the engine floor ran {engine_module}, not {checkout.directory}'s")
    return floor


@dataclass
class ServiceRun:
    """One start of the service: readiness, memory at three moments, the phases measured."""

    workers: int
    server_pid: int
    worker_pids: list[int]
    ready_seconds: float
    readyz: dict[str, Any]
    running: str
    memory_ready: ServiceMemory
    memory_warm: ServiceMemory
    memory_after: ServiceMemory | None
    phases: list[Phase]
    #: Workers found after the load that were not there before it (a restarted worker).
    replaced: list[int]


def measure_service(
    checkout: Checkout,
    root: Path,
    url: str,
    workers: int,
    warm: list[Request],
    runs: Sequence[tuple[str, list[Request]]],
    levels: Sequence[int],
    args: argparse.Namespace,
) -> ServiceRun:
    """Start the service, wait until it is ready, warm it up, measure ``runs`` at ``levels``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = root / f"server-{workers}w.log"
    timing = checkout.stage_timing and not args.no_stage_timing
    server = start_server(root, url, port, workers, log, checkout, timing)
    try:
        ready_s = wait_ready(server, base, workers, args.ready_timeout, log)
        pids = serving_pids(server)
        with httpx.Client(base_url=base) as client:
            readyz = client.get("/readyz").json()
        running = running_code(pids[0])
        print(
            f"service pid {server.pid}, workers {pids} on {base}: ready in {ready_s:.0f} s; "
            f"/readyz {readyz}; a worker runs with {running}",
            flush=True,
        )
        memory_ready = service_memory(server.pid)
        warmed = phase("warm-up", base, warm, max(levels), server.pid, pids)
        if warmed.errors:
            codes = warmed.statuses
            print(f"  warm-up: {warmed.errors} of {warmed.requests} answers non-2xx: {codes}")
        memory_warm = service_memory(server.pid)
        phases = []
        for concurrency in levels:
            for name, requests in runs:
                done = phase(
                    name, base, requests, concurrency, server.pid, pids, args.quiet_timeout
                )
                phases.append(done)
                p50, _, p99 = done.percentiles()
                print(
                    f"  {name:22} c={concurrency:<3} {done.rps:7.1f} req/s  p50 {p50:6.1f} ms  "
                    f"p99 {p99:7.1f} ms  non-2xx {done.errors}  other work "
                    f"{done.other_cores:.2f} cores",
                    flush=True,
                )
        memory_after = service_memory(server.pid) if runs else None
        replaced = sorted(set(serving_pids(server)) - set(pids))
    finally:
        stop_server(server)
    print(f"service stopped (pid {server.pid}, exit {server.returncode}); its log: {log}")
    return ServiceRun(
        workers,
        server.pid,
        pids,
        ready_s,
        readyz,
        running,
        memory_ready,
        memory_warm,
        memory_after,
        phases,
        replaced,
    )


# ---------------------------------------------------------------------------- the report

LABELS = {
    "matches": "matches (TreeSHAP factors)",
    "matches factors=false": "matches factors=false",
    "shortlist": "shortlist",
    "healthz": "/healthz (framework floor)",
}


def table(header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1) -> str:
    """A markdown table; columns from ``right_from`` on are right-aligned (figures)."""
    rule = ["---" if i < right_from else "---:" for i in range(len(header))]
    lines = [header, rule, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def ms3(p50: float, p95: float, p99: float, digits: int = 1) -> str:
    return f"{p50:.{digits}f} / {p95:.{digits}f} / {p99:.{digits}f}"


def latency_table(run: ServiceRun, floor: dict[str, Any] | None, levels: Sequence[int]) -> str:
    header = ["endpoint"]
    for level in levels:
        header += [f"{level} in flight: req/s", "p50 / p95 / p99 ms", "non-2xx"]
    rows = []
    for name in ENDPOINTS:
        measured = {p.concurrency: p for p in run.phases if p.name == name}
        if measured:
            row = [LABELS[name]]
            for level in levels:
                p = measured.get(level)
                row += (
                    [f"{p.rps:,.0f}", ms3(*p.percentiles()), str(p.errors)]
                    if p
                    else ["–", "–", "–"]
                )
            rows.append(row)
        if floor and name in floor:
            f = floor[name]
            row = [f"↳ engine in-process ({f['n']:,} calls, 1 thread, no HTTP; wall time)"]
            row += [f"{f['rps']:,.0f}", ms3(f["p50"], f["p95"], f["p99"], 2), "–"]
            row += ["(concurrency does not apply)", "", ""] * (len(levels) - 1)
            rows.append(row)
    return table(header, rows)


def stage_table(run: ServiceRun, floor: dict[str, Any] | None) -> str:
    phases = [p for p in run.phases if p.requests]
    seen = {name for p in phases for name in p.stage_ms}
    names = [s for s in STAGES if s in seen] + sorted(seen - set(STAGES))
    header = ["CPU ms per request", *(f"{p.name} @{p.concurrency}" for p in phases)]
    rows = []
    for name in names:
        label = name if name in STAGES else f"{name} (not in STAGES)"
        rows.append([label, *(_ms(p.stage_mean_ms(name)) for p in phases)])
    if names:
        rows.append(["**sum of the stages**", *(_ms(_stage_sum(p)) for p in phases)])
    server = [p.per_request_ms(p.server_cpu) for p in phases]
    rows.append(["**service CPU (/proc, every process)**", *(f"{x:.2f}" for x in server)])
    if names:
        rows.append(
            [
                "outside the stages (framework, HTTP, logging)",
                *(_ms(x - (_stage_sum(p) or 0.0)) for x, p in zip(server, phases, strict=True)),
            ]
        )
    rows.append(
        [
            "load generator CPU (this process)",
            *(f"{p.per_request_ms(p.client_cpu):.2f}" for p in phases),
        ]
    )
    if floor:
        rows.append(
            [
                "engine in-process: CPU ms per call (1 thread, no HTTP)",
                *(f"{floor[p.name]['cpu_mean']:.2f}" if p.name in floor else "–" for p in phases),
            ]
        )
    rows.append(
        [
            "answers with a Server-Timing header",
            *(f"{p.timed_answers:,} of {p.requests:,}" for p in phases),
        ]
    )
    return table(header, rows)


def _stage_sum(p: Phase) -> float | None:
    return sum(p.stage_ms.values()) / p.timed_answers if p.timed_answers else None


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def memory_table(runs: Sequence[ServiceRun]) -> str:
    header = [
        "service",
        "process",
        "RSS ready",
        "PSS ready",
        "RSS warm",
        "PSS warm",
        "RSS after load",
        "PSS after load",
        "peak RSS",
    ]
    rows = []
    for run in runs:
        label = f"{run.workers} worker{'s' if run.workers > 1 else ''}"
        after = {pid: m for pid, _, m in run.memory_after.processes} if run.memory_after else {}
        warm = {pid: m for pid, _, m in run.memory_warm.processes}
        for pid, role, ready in run.memory_ready.processes:
            w, a = warm.get(pid), after.get(pid)
            peak = (a or w or ready).peak_rss
            rows.append(
                [
                    label,
                    f"{role} {pid}",
                    f"{ready.rss:.2f}",
                    f"{ready.pss:.2f}",
                    _gib(w.rss if w else None),
                    _gib(w.pss if w else None),
                    _gib(a.rss if a else None),
                    _gib(a.pss if a else None),
                    f"{peak:.2f}",
                ]
            )
        totals = [run.memory_ready, run.memory_warm, run.memory_after]
        cells = []
        for m in totals:
            cells += [_gib(m.total_rss if m else None), _gib(m.total_pss if m else None)]
        rows.append([label, "**total**", *cells, ""])
    return table(header, rows, right_from=2)


def _gib(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def memory_ratios(main: ServiceRun, single: ServiceRun) -> dict[str, float]:
    """Total memory of the measured service over the 1-worker service's, RSS and PSS."""
    return {
        "PSS ready": main.memory_ready.total_pss / single.memory_ready.total_pss,
        "PSS warm": main.memory_warm.total_pss / single.memory_warm.total_pss,
        "RSS ready": main.memory_ready.total_rss / single.memory_ready.total_rss,
        "RSS warm": main.memory_warm.total_rss / single.memory_warm.total_rss,
    }


def targets(
    run: ServiceRun,
    floor: dict[str, Any] | None,
    ratios: dict[str, float] | None,
    levels: Sequence[int],
) -> list[tuple[str, bool | None]]:
    """(target, met) pairs; None where this run did not measure it."""
    level = TARGET_CONCURRENCY if TARGET_CONCURRENCY in levels else min(levels)
    found = {(p.name, p.concurrency): p for p in run.phases}
    checks: list[tuple[str, bool | None]] = []
    for name, rps, p99 in (
        ("matches", TARGET_MATCHES_RPS, TARGET_MATCHES_P99_MS),
        ("shortlist", TARGET_SHORTLIST_RPS, TARGET_SHORTLIST_P99_MS),
    ):
        p = found.get((name, level))
        where = f"HTTP {name} at {level} in flight"
        checks.append((f"{where} >= {rps:.0f} req/s", None if p is None else p.rps >= rps))
        checks.append(
            (f"{where} p99 <= {p99:.0f} ms", None if p is None else p.percentiles()[2] <= p99)
        )
    checks.append(("no non-2xx answers", not any(p.errors for p in run.phases)))
    m = floor.get("matches") if floor else None
    s = floor.get("shortlist") if floor else None
    checks += [
        (
            f"engine matches p50 <= {TARGET_ENGINE_MATCHES_P50_MS:.0f} ms",
            None if m is None else m["p50"] <= TARGET_ENGINE_MATCHES_P50_MS,
        ),
        (
            f"engine matches p99 <= {TARGET_ENGINE_MATCHES_P99_MS:.0f} ms",
            None if m is None else m["p99"] <= TARGET_ENGINE_MATCHES_P99_MS,
        ),
        (
            f"engine shortlists p99 <= {TARGET_ENGINE_SHORTLIST_P99_MS:.0f} ms",
            None if s is None else s["p99"] <= TARGET_ENGINE_SHORTLIST_P99_MS,
        ),
    ]
    for direction in ("matches", "shortlist"):
        value = floor.get(f"recall_{direction}") if floor else None
        checks.append(
            (
                f"recall@{K} of {direction} >= {TARGET_RECALL}",
                None if value is None else value >= TARGET_RECALL,
            )
        )
    checks.append(
        (
            f"total PSS with {run.workers} workers <= {TARGET_MEMORY_RATIO} x 1 worker's "
            "(ready and warm)",
            None
            if ratios is None
            else max(ratios["PSS ready"], ratios["PSS warm"]) <= TARGET_MEMORY_RATIO,
        )
    )
    return checks


# ---------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--world", type=Path, default=Path("var/bench/world"))
    parser.add_argument("--models", type=Path, default=Path("var/bench/models"))
    parser.add_argument("--root", type=Path, default=Path("var/bench/service"))
    parser.add_argument("--seekers", type=int, default=300_000, help="when generating")
    parser.add_argument("--vacancies", type=int, default=100_000, help="when generating")
    parser.add_argument("--requests", type=int, default=3000, help="per endpoint and level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--warmup", type=int, default=300, help="requests per endpoint")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--checkout",
        type=Path,
        default=REPO,
        help="run the server and the engine floor from this checkout of the code (with this "
        "venv), e.g. a pristine copy from before a change",
    )
    parser.add_argument(
        "--compare-workers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also start the service with 1 worker for the memory ratio",
    )
    parser.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure the engine in-process (a process of its own, before the server)",
    )
    parser.add_argument(
        "--recall-queries", type=int, default=100, help="queries per direction for recall@20"
    )
    parser.add_argument(
        "--no-stage-timing", action="store_true", help="serve without Server-Timing headers"
    )
    parser.add_argument("--ready-timeout", type=float, default=600.0)
    parser.add_argument("--no-model", action="store_true", help="serve the rule-based scorer")
    parser.add_argument(
        "--quiet-timeout",
        type=float,
        default=300.0,
        help="before each phase wait up to this long for other work on the machine to stop",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--save",
        type=Path,
        help="write the headline figures as JSON here (default: ROOT/results/<code sha256>.json)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="figures saved by an earlier run (e.g. of the code before a change): print a "
        "before -> after table",
    )
    args = parser.parse_args()
    root: Path = args.root
    levels: list[int] = args.concurrency

    checkout = inspect_checkout(args.checkout)
    print(f"checkout measured: {checkout.describe()}")
    print(f"  a process started for it imports {checkout.modules[0]}, {checkout.modules[1]}")
    prepared = prepare(
        args.world, root, (args.seekers, args.vacancies), args.warmup + args.requests, args.seed
    )
    if prepared.cached:
        print(
            f"database cached in {prepared.database} ({prepared.rows:,} rows; its migrate + "
            f"bulk load took {prepared.load_seconds:.1f} s when prepared)"
        )
    model = choose_model(args.models, root, not args.no_model, prepared.fingerprint)
    print(f"model: {model}")
    url = f"sqlite:///{prepared.database.resolve()}"

    warm_coach = prepared.coach_queries[: args.warmup]
    warm_employer = prepared.employer_queries[: args.warmup]
    coach = prepared.coach_queries[args.warmup : args.warmup + args.requests]
    employer = prepared.employer_queries[args.warmup : args.warmup + args.requests]
    cores = os.cpu_count() or 1
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {cores} cores, load average {load} before the measurements", flush=True)

    floor = None
    if args.floor:
        # It waits for quiet itself, before each timing (its build's time is not a figure).
        floor = engine_floor(
            checkout,
            root,
            url,
            {
                "seekers": [jid for _, jid in coach],
                "vacancies": [vid for _, vid in employer],
                "warm_seekers": [jid for _, jid in warm_coach],
                "warm_vacancies": [vid for _, vid in warm_employer],
            },
            args.recall_queries,
            args.quiet_timeout,
            args.ready_timeout + 60 * 60,
        )
        for name in ENDPOINTS[:3]:
            f = floor[name]
            print(
                f"  engine in-process {name:22} {f['rps']:7.1f} calls/s  p50 {f['p50']:6.2f} ms  "
                f"p99 {f['p99']:6.2f} ms  CPU {f['cpu_mean']:6.2f} ms/call  other work "
                f"{f['other_cores']:.2f} cores"
            )

    rng = np.random.default_rng(args.seed)

    def shuffled(items: list[Request]) -> list[Request]:
        return [items[i] for i in rng.permutation(len(items))]

    warm = (
        matches_requests(warm_coach, True)
        + shortlist_requests(warm_employer)
        + matches_requests(warm_coach, False)
    )
    health: list[Request] = [("/healthz", {}, {})] * args.requests
    runs: list[tuple[str, list[Request]]] = [
        ("matches", shuffled(matches_requests(coach, True))),
        ("matches factors=false", shuffled(matches_requests(coach, False))),
        ("shortlist", shuffled(shortlist_requests(employer))),
        ("healthz", health),
    ]
    started = time.perf_counter()
    run = measure_service(checkout, root, url, args.workers, warm, runs, levels, args)
    up_s = time.perf_counter() - started
    single = None
    if args.compare_workers and args.workers != 1:
        print("the service with 1 worker, to the end of its warm-up (memory only):")
        single = measure_service(checkout, root, url, 1, warm, (), levels, args)

    print_report(args, checkout, prepared, model, cores, floor, run, single, up_s)
    figures = headline(checkout, run, floor, single)
    saved = args.save or root / "results" / f"{checkout.fingerprint}.json"
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    print(f"\nheadline figures saved to {saved} (for --baseline)")
    if args.baseline:
        baseline = json.loads(args.baseline.read_text(encoding="utf-8"))
        print(f"\n#### Before -> after\n\n{comparison_table(baseline, figures)}")


def print_report(
    args: argparse.Namespace,
    checkout: Checkout,
    prepared: Prepared,
    model: str,
    cores: int,
    floor: dict[str, Any] | None,
    run: ServiceRun,
    single: ServiceRun | None,
    up_seconds: float,
) -> None:
    levels: list[int] = args.concurrency
    stage_note = (
        "on"
        if checkout.stage_timing and not args.no_stage_timing
        else "off (--no-stage-timing)"
        if checkout.stage_timing
        else "not in this checkout"
    )
    print(
        f"\n### kohtaanto serve --workers {run.workers}: {checkout.directory}\n\n"
        f"Checkout {checkout.describe()}; its workers ran with {run.running}. "
        f"Model: {model}; /readyz {run.readyz}. World as of {prepared.as_of}, "
        f"{prepared.rows:,} rows in SQLite. {args.requests:,} requests per endpoint and "
        f"level (shuffled), k={K}, after a warm-up of {args.warmup:,} per endpoint; one "
        f"keep-alive connection per request in flight, from asyncio aiohttp clients in the "
        f"benchmark's process, which shares the {cores} cores with the server (and with "
        f"anything else running: see 'other work'). Stage timing: {stage_note}.\n"
    )
    print(latency_table(run, floor, levels))
    other = ", ".join(f"{p.name} @{p.concurrency} {p.other_cores:.2f}" for p in run.phases)
    print(f"\nOther work on the machine during each phase (cores of {cores}): {other}.")
    if floor:
        floor_other = ", ".join(f"{n} {floor[n]['other_cores']:.2f}" for n in ENDPOINTS[:3])
        print(
            f"The engine floor: built in {floor['build_seconds']:.0f} s, serving "
            f"{floor['model']}, RSS {floor['rss_gib']:.2f} GiB; other work during its "
            f"timing (cores): {floor_other}."
        )
        if "recall_n" in floor:
            print(
                f"Recall@{K} of the engine against exhaustive scoring of every admissible pair "
                f"({floor['recall_n']} queries each): matches {floor['recall_matches']:.3f}, "
                f"shortlists {floor['recall_shortlist']:.3f}."
            )
    print(f"\n#### CPU per request by stage (ms; {run.workers} workers)\n")
    print(stage_table(run, floor))
    print(
        "\nStages are the CPU of the request's threads (Server-Timing); the service's CPU "
        "is every process of the service over the phase divided by its requests."
    )
    print("\n#### Memory (GiB): when ready, after the warm-up, after the load\n")
    print(memory_table([run, single] if single else [run]))
    ratios = memory_ratios(run, single) if single else None
    if ratios:
        print(
            f"\nTotal with {run.workers} workers / total with 1 worker: "
            + ", ".join(f"{name} {value:.2f}" for name, value in ratios.items())
            + ". RSS counts a page shared by several processes once in each of them; PSS "
            "splits it between them, so the PSS of the processes adds up to the service's."
        )
    if run.replaced:
        print(f"\nWARNING: workers {run.replaced} appeared during the load (a worker restarted)")
    odd: dict[int, int] = {}
    for p in run.phases:
        for code, n in p.statuses.items():
            if not 200 <= code < 300:
                odd[code] = odd.get(code, 0) + n
    if odd:
        print(f"\nnon-2xx status codes (0 = transport error): {odd}; see the server log")
    print(
        f"\nDatabase load (migrate + bulk load into SQLite): {prepared.load_seconds:.1f} s"
        f"{' (cached)' if prepared.cached else ''}; service ready in "
        f"{run.ready_seconds:.0f} s, up {up_seconds:.0f} s\n"
    )
    print(f"#### Targets ({checkout.directory})\n")
    for name, met in targets(run, floor, ratios, levels):
        verdict = "not measured" if met is None else "met" if met else "MISSED"
        print(f"- [{verdict}] {name}")


def headline(
    checkout: Checkout,
    run: ServiceRun,
    floor: dict[str, Any] | None,
    single: ServiceRun | None,
) -> dict[str, Any]:
    """The figures a before/after comparison reads: ``{"checkout": ..., "figures": {...}}``."""
    figures: dict[str, float] = {}
    for p in run.phases:
        where = f"{p.name} @{p.concurrency}"
        p50, _, p99 = p.percentiles()
        figures[f"{where}: req/s"] = p.rps
        figures[f"{where}: p50 ms"] = p50
        figures[f"{where}: p99 ms"] = p99
        figures[f"{where}: service CPU ms/request"] = p.per_request_ms(p.server_cpu)
        figures[f"{where}: other work (cores)"] = p.other_cores
    for name in ENDPOINTS[:3]:
        if floor and name in floor:
            figures[f"engine in-process {name}: p50 ms"] = floor[name]["p50"]
            figures[f"engine in-process {name}: p99 ms"] = floor[name]["p99"]
            figures[f"engine in-process {name}: CPU ms/call"] = floor[name]["cpu_mean"]
    for direction in ("matches", "shortlist"):
        if floor and f"recall_{direction}" in floor:
            figures[f"recall@{K} {direction}"] = floor[f"recall_{direction}"]
    memory = run.memory_after or run.memory_warm
    figures[f"total PSS GiB, {run.workers} workers after the load"] = memory.total_pss
    figures[f"total RSS GiB, {run.workers} workers after the load"] = memory.total_rss
    if single:
        ratios = memory_ratios(run, single)
        figures[f"total PSS {run.workers} workers / 1 worker (warm)"] = ratios["PSS warm"]
    label = f"{checkout.directory} ({checkout.fingerprint})"
    return {"checkout": label, "described": checkout.describe(), "figures": figures}


def comparison_table(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Figures of two runs side by side, in the later run's order."""
    rows = [
        [name, f"{before['figures'][name]:,.2f}", f"{value:,.2f}", _ratio(before, name, value)]
        for name, value in after["figures"].items()
        if name in before["figures"]
    ]
    header = ["measure", f"before: {before['checkout']}", f"after: {after['checkout']}", "ratio"]
    return table(header, rows)


def _ratio(before: dict[str, Any], name: str, value: float) -> str:
    old = before["figures"][name]
    return f"{value / old:.2f}x" if old else "–"


if __name__ == "__main__":
    main()
