"""Benchmark the HTTP service under a bounded loopback load on a national-size world.

    python bench/bench_service.py [--world DIR] [--requests 3000] [--concurrency 8 16]

Prepares once, cached under ``var/bench/service/``: a SQLite database migrated to head and
bulk-loaded with the 300,000 jobseeker / 100,000 vacancy world (``var/bench/world``, generated
when missing; the load time is measured and printed), bearer tokens for the coach
organisations and the suppliers' employer organisations the queries need, and the query ids —
jobseekers of each coach's organisation, vacancies of each employer's suppliers open on the
world's ``as_of`` day.

Serves the champion of ``var/bench/models`` when it has one (copied into the service's
``var`` folder), else the documented rule-based scorer; says which. Starts ``kohtaanto serve``
with 2 uvicorn workers on a free loopback port, waits for ``/readyz`` and for both workers to
finish building their engines (bounded), warms up, then sends a fixed number of requests per
endpoint at each fixed concurrency from asyncio aiohttp clients in this process:

- ``GET /api/v1/coach/jobseekers/{id}/matches?k=20`` (with TreeSHAP factors, the default),
- the same with ``factors=false`` (no TreeSHAP),
- ``GET /api/v1/employer/vacancies/{id}/shortlist?k=20``,
- ``GET /healthz`` (the framework's floor: routing, middleware, HTTP, the client itself).

Prints req/s and p50/p95/p99 per endpoint and concurrency, non-2xx responses, the CPU the
server workers and the load generator used (they share the machine's cores), and each
worker's RSS; the server is always stopped (SIGTERM to the started process id, then SIGKILL).

Targets (2 cores, generator included): matches and shortlists >= 300 req/s, p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np
import pandas as pd

K = 20
MATCHES = "/api/v1/coach/jobseekers/{}/matches"
SHORTLIST = "/api/v1/employer/vacancies/{}/shortlist"
TARGET_RPS = 300.0
TARGET_P99_MS = 50.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
REPO = Path(__file__).resolve().parents[1]


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
        usable = len(done["coach_queries"]) >= queries and (root / "kohtaanto.db").exists()
        if done["fingerprint"] == fingerprint and usable:
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
    # The trees in the saved model (early stopping keeps fewer than the config's maximum).
    model_text = (target / "versions" / version / "model.txt").read_text("utf-8")
    trees = sum(1 for line in model_text.splitlines() if line.startswith("Tree="))
    return (
        f"LightGBM champion {version} from {models} ({trees} trees; trained on "
        f"{'this' if same else 'another'} world)"
    )


# ---------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Process ids below ``pid`` (from /proc), children first."""
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
    found, frontier = [], [pid]
    while frontier:
        children = [c for p in frontier for c in parents.get(p, [])]
        found += children
        frontier = children
    return found


def cpu_seconds(pid: int) -> float:
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


def memory_gib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in GiB."""
    values = {"VmRSS": float("nan"), "VmHWM": float("nan")}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in values:
                values[key] = int(line.split()[1]) / 2**20
    except OSError:
        pass
    return values["VmRSS"], values["VmHWM"]


def worker_pids(server: subprocess.Popen[bytes]) -> list[int]:
    """uvicorn's worker processes (spawned interpreters running the app)."""
    workers = []
    for pid in descendants(server.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"spawn_main" in command and b"resource_tracker" not in command:
            workers.append(pid)
    return workers


def start_server(
    var_dir: Path, url: str, port: int, workers: int, log_path: Path
) -> subprocess.Popen[bytes]:
    """`kohtaanto serve` on loopback over ``url``, its output in ``log_path``."""
    env = {
        **os.environ,
        "KOHTAANTO_PATHS__VAR_DIR": str(var_dir.resolve()),
        "KOHTAANTO_DATABASE_URL": url,
        # No metrics listener: its fixed default port may be taken by another server.
        "KOHTAANTO_SERVICE__METRICS_PORT": "0",
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
    with log_path.open("wb") as output:
        return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, cwd=REPO)


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
            # A worker listens only after its engine is built, so one ready worker can answer
            # /readyz while the other still builds: wait until every worker is idle as well.
            pids = worker_pids(server)
            now = {pid: cpu_seconds(pid) for pid in pids}
            busy = any(now[p] - previous.get(p, 0.0) > 0.1 for p in pids)
            previous = now
            idle_rounds = idle_rounds + 1 if ready and len(pids) == workers and not busy else 0
            if idle_rounds >= 3:
                return time.perf_counter() - started
            time.sleep(1.0)
    raise TimeoutError(f"the service was not ready within {timeout:.0f} s")


def stop_server(server: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    """SIGTERM to the process we started, then SIGKILL to it and its workers if needed."""
    if server.poll() is not None:
        return
    children = descendants(server.pid)
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(grace)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------------------- the load


@dataclass
class Phase:
    name: str
    concurrency: int
    latencies: list[float]
    statuses: dict[int, int]
    seconds: float
    client_cpu: float
    #: CPU cores busy in each worker during the phase.
    worker_cpu: list[float]
    #: CPU cores busy on the whole machine during the phase (every process).
    machine_cpu: float

    @property
    def other_cpu(self) -> float:
        """Cores busy with neither the server nor the load generator (other work)."""
        return max(0.0, self.machine_cpu - self.server_cpu - self.client_cpu)

    @property
    def server_cpu(self) -> float:
        return sum(self.worker_cpu)

    @property
    def errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if not 200 <= code < 300)

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    def percentiles(self) -> tuple[float, float, float]:
        p50, p95, p99 = np.percentile(np.asarray(self.latencies) * 1000, [50, 95, 99])
        return float(p50), float(p95), float(p99)


Request = tuple[str, dict[str, str], dict[str, str]]  # path, params, headers


async def run_load(
    base: str, requests: Sequence[Request], concurrency: int, workers: Sequence[int] = ()
) -> tuple[list[float], dict[int, int], float, float, list[float], float]:
    """Send every request with ``concurrency`` in flight.

    Returns latencies, status counts, wall seconds, and the CPU seconds this process, each of
    ``workers`` and the whole machine used meanwhile.

    Each of the ``concurrency`` virtual clients has its own keep-alive connection, opened one
    after another before the clock starts, as independent clients arrive. (Opened in one
    burst, they all queue up before either worker wakes, and the first worker to wake
    accepts every one of them: the other worker would sit idle for the whole phase.)
    """
    latencies: list[float] = []
    statuses: dict[int, int] = {}
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
    try:
        for client in clients:
            async with client.get("/healthz") as response:
                await response.read()
            await asyncio.sleep(0.02)

        async def user(client: aiohttp.ClientSession) -> None:
            for path, params, headers in queue:
                started = time.perf_counter()
                try:
                    async with client.get(path, params=params, headers=headers) as response:
                        await response.read()
                        code = response.status
                except (aiohttp.ClientError, TimeoutError):
                    code = 0
                latencies.append(time.perf_counter() - started)
                statuses[code] = statuses.get(code, 0) + 1

        server_before = [cpu_seconds(p) for p in workers]
        client_before = time.process_time()
        machine_before = machine_busy_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(user(client) for client in clients))
        seconds = time.perf_counter() - started
        client_cpu = time.process_time() - client_before
        machine_cpu = machine_busy_seconds() - machine_before
        server_cpu = [cpu_seconds(p) - b for p, b in zip(workers, server_before, strict=True)]
    finally:
        for client in clients:
            await client.close()
    return latencies, statuses, seconds, client_cpu, server_cpu, machine_cpu


def wait_for_quiet(workers: Sequence[int], limit: float, timeout: float) -> float | None:
    """Wait until other work on the machine uses under ``limit`` cores (sampled over 1 s).

    Returns the other work's last sample when ``timeout`` passed first, else None.
    """
    deadline = time.monotonic() + timeout
    while True:
        own = time.process_time() + sum(cpu_seconds(p) for p in workers)
        machine = machine_busy_seconds()
        time.sleep(1.0)
        own = time.process_time() + sum(cpu_seconds(p) for p in workers) - own
        others = machine_busy_seconds() - machine - own
        if others < limit:
            return None
        if time.monotonic() > deadline:
            return others


def phase(
    name: str,
    base: str,
    requests: Sequence[Request],
    concurrency: int,
    workers: list[int],
    quiet_timeout: float = 0.0,
) -> Phase:
    if quiet_timeout > 0:
        busy = wait_for_quiet(workers, 0.25, quiet_timeout)
        if busy is not None:
            print(f"  (other work kept {busy:.2f} cores busy; measuring {name} anyway)")
    latencies, statuses, seconds, client_cpu, server_cpu, machine_cpu = asyncio.run(
        run_load(base, requests, concurrency, workers)
    )
    return Phase(
        name,
        concurrency,
        latencies,
        statuses,
        seconds,
        client_cpu / seconds,
        [cpu / seconds for cpu in server_cpu],
        machine_cpu / seconds,
    )


def matches_requests(pairs: Sequence[tuple[str, str]], factors: bool) -> list[Request]:
    params = {"k": str(K)} if factors else {"k": str(K), "factors": "false"}
    return [(MATCHES.format(jid), params, {"Authorization": f"Bearer {tok}"}) for tok, jid in pairs]


def shortlist_requests(pairs: Sequence[tuple[str, str]]) -> list[Request]:
    return [
        (SHORTLIST.format(vid), {"k": str(K)}, {"Authorization": f"Bearer {tok}"})
        for tok, vid in pairs
    ]


# ---------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--world", type=Path, default=Path("var/bench/world"))
    parser.add_argument("--models", type=Path, default=Path("var/bench/models"))
    parser.add_argument("--root", type=Path, default=Path("var/bench/service"))
    parser.add_argument("--seekers", type=int, default=300_000, help="when generating")
    parser.add_argument("--vacancies", type=int, default=100_000, help="when generating")
    parser.add_argument("--requests", type=int, default=3000, help="per endpoint and level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--warmup", type=int, default=300, help="requests per endpoint")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ready-timeout", type=float, default=600.0)
    parser.add_argument("--no-model", action="store_true", help="serve the rule-based scorer")
    parser.add_argument(
        "--quiet-timeout",
        type=float,
        default=300.0,
        help="before each phase wait up to this long for other work on the machine to stop",
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    root: Path = args.root

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

    warm_coach = prepared.coach_queries[: args.warmup]
    warm_employer = prepared.employer_queries[: args.warmup]
    coach = prepared.coach_queries[args.warmup : args.warmup + args.requests]
    employer = prepared.employer_queries[args.warmup : args.warmup + args.requests]
    rng = np.random.default_rng(args.seed)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cores = os.cpu_count() or 1
    phases: list[Phase] = []
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {cores} cores, load average {load} before the server starts")
    server = start_server(
        root, f"sqlite:///{prepared.database.resolve()}", port, args.workers, root / "server.log"
    )
    try:
        started = time.perf_counter()
        ready_s = wait_ready(server, base, args.workers, args.ready_timeout, root / "server.log")
        workers = worker_pids(server)
        print(
            f"server pid {server.pid}, {len(workers)} workers {workers} on {base}: ready in "
            f"{ready_s:.0f} s (every worker builds its engine from the database)"
        )
        with httpx.Client(base_url=base) as client:
            print(f"/readyz: {client.get('/readyz').json()}")
        memory_ready = {pid: memory_gib(pid) for pid in workers}

        warm = (
            matches_requests(warm_coach, True)
            + shortlist_requests(warm_employer)
            + matches_requests(warm_coach, False)
        )
        phase("warm-up", base, warm, max(args.concurrency), workers)

        def shuffled(items: list[Request]) -> list[Request]:
            return [items[i] for i in rng.permutation(len(items))]

        health: list[Request] = [("/healthz", {}, {})] * args.requests
        for concurrency in args.concurrency:
            runs = (
                ("healthz (floor)", health),
                ("matches", matches_requests(coach, True)),
                ("matches factors=false", matches_requests(coach, False)),
                ("shortlist", shortlist_requests(employer)),
            )
            for name, requests in runs:
                done = phase(
                    name, base, shuffled(requests), concurrency, workers, args.quiet_timeout
                )
                phases.append(done)
                print(
                    f"  {name:22} c={concurrency:<3} {done.rps:7.1f} req/s  "
                    f"p99 {done.percentiles()[2]:7.1f} ms  non-2xx {done.errors}",
                    flush=True,
                )
        memory_after = {pid: memory_gib(pid) for pid in workers}
        total_s = time.perf_counter() - started
    finally:
        stop_server(server)
    print(f"server stopped (pid {server.pid}, exit {server.returncode})")

    print(
        f"\n{args.requests:,} requests per endpoint and concurrency, k={K}, as of "
        f"{prepared.as_of}, {args.workers} uvicorn workers, one keep-alive connection per "
        f"in-flight request from asyncio aiohttp clients in this process.\nThe load generator "
        f"shares the {cores} cores with the server. CPU columns are cores busy during the "
        f"phase (of {cores}): the server's workers, the load generator, and 'other' work on "
        f"the machine (anything else running skews the figures)."
    )
    header = (
        f"{'endpoint':24} {'conc':>4} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'non-2xx':>7} {'server (per worker)':>19} {'client':>6} {'other':>5}"
    )
    print(header)
    for p in phases:
        p50, p95, p99 = p.percentiles()
        print(
            f"{p.name:24} {p.concurrency:>4} {p.rps:7.1f} {p50:7.1f} {p95:7.1f} {p99:7.1f} "
            f"{p.errors:>7} {p.server_cpu:5.2f} ({'+'.join(f'{c:.2f}' for c in p.worker_cpu):>11}) "
            f"{p.client_cpu:6.2f} {p.other_cpu:5.2f}"
        )
    odd: dict[int, int] = {}
    for p in phases:
        for code, n in p.statuses.items():
            if not 200 <= code < 300:
                odd[code] = odd.get(code, 0) + n
    if odd:
        print(f"non-2xx status codes (0 = transport error): {odd}; see {root / 'server.log'}")

    print("\nworker memory (GiB): RSS when ready -> after the load (peak)")
    for pid in workers:
        ready_rss = memory_ready[pid][0]
        rss, peak = memory_after[pid]
        print(f"  worker {pid}: {ready_rss:.2f} -> {rss:.2f} ({peak:.2f})")

    print(
        f"\ndatabase load (migrate + bulk load into SQLite): {prepared.load_seconds:.1f} s"
        f"{' (cached)' if prepared.cached else ''}; server up {total_s:.0f} s"
    )
    print(f"model served: {model}")
    checks = []
    for p in phases:
        if p.name in ("matches", "shortlist"):
            p99 = p.percentiles()[2]
            checks += [
                (f"{p.name} c={p.concurrency} >= {TARGET_RPS:.0f} req/s", p.rps >= TARGET_RPS),
                (f"{p.name} c={p.concurrency} p99 <= {TARGET_P99_MS:.0f} ms", p99 <= TARGET_P99_MS),
            ]
    checks.append(("no non-2xx responses", not odd))
    print("\n".join(f"  [{'met' if ok else 'MISSED'}] {name}" for name, ok in checks))


if __name__ == "__main__":
    main()
