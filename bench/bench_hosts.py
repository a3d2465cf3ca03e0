"""Benchmark what serving from several hosts costs: the change feed's per-request check, and
how soon a write through one host shows in another host's answers.

Usage: ``python bench/bench_hosts.py [--world DIR] [--writes 30] [--postgres URL]``. The
world (default: a 2,000-jobseeker world generated into a temporary folder) is loaded into a
new SQLite file and a new PostgreSQL database (created on the server of ``--postgres``,
default ``KOHTAANTO_TEST_POSTGRES_URL`` or the local test server, dropped afterwards).

Printed:

* the cost of :meth:`ServingState.catch_up` when nothing changed (what every matching
  request pays): SQLite through a pooled session (before) and through the connection the
  worker keeps for it; PostgreSQL through a pooled session (what a worker does while its
  listener is disconnected) and with the listener (no query);
* two ``kohtaanto serve`` processes on loopback ports sharing the PostgreSQL database: after
  each of ``--writes`` writes through host A (a jobseeker's home municipality, alternating),
  whether host B's first matches request sent after A's answer already reflects it, and the
  time from A's answer until a B request that does was sent.

The machine's other load shows in the figures: compare cases of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from features.world_store import WorldTables, load_world
from service.api.app import build_state
from service.api.runtime import ServingState
from service.api.security import hash_token
from service.settings import PathSettings, Settings
from service.storage.database import make_engine, make_session_factory, upgrade_to_head
from service.storage.tables import Change, User
from service.storage.world_io import load_world_into_database

TOKEN = "bench-hosts-coach"
KOHTAANTO = Path(sys.executable).with_name("kohtaanto")


def per_call_us(call: Callable[[], object], calls: int) -> tuple[float, float]:
    """(best, median) microseconds per call over five rounds of ``calls``."""
    call()
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        rounds.append((time.perf_counter() - started) / calls * 1e6)
    return min(rounds), statistics.median(rounds)


def pooled_check(state: ServingState) -> Callable[[], object]:
    newest = select(func.max(Change.seq))

    def check() -> object:
        with state.sessions() as session:
            return session.scalar(newest)

    return check


def loaded(world: WorldTables, url: str) -> str:
    upgrade_to_head(url)
    engine = make_engine(url)
    load_world_into_database(world, engine)
    engine.dispose()
    return url


def report(name: str, figures: tuple[float, float]) -> None:
    print(f"  {name:<44} best {figures[0]:8.2f} µs   median {figures[1]:8.2f} µs")


def bench_catch_up(world: WorldTables, sqlite_url: str, postgres_url: str, var: Path) -> None:
    print("catch_up() when nothing changed, per call:")
    state = build_state(Settings(paths=PathSettings(var_dir=var), database_url=sqlite_url))
    report("SQLite, pooled session + max(seq) (before)", per_call_us(pooled_check(state), 3000))
    report("SQLite, the worker's kept connection", per_call_us(state.catch_up, 20_000))
    state.close()
    state = build_state(Settings(paths=PathSettings(var_dir=var), database_url=postgres_url))
    report("PostgreSQL, pooled session + max(seq)", per_call_us(pooled_check(state), 2000))
    state.catch_up()
    listener = state.change_listener
    assert listener is not None and listener.wait_listening(10)
    report("PostgreSQL, listening (no query)", per_call_us(state.catch_up, 200_000))
    listener.stop()
    report("PostgreSQL, listener disconnected", per_call_us(state.catch_up, 2000))
    state.close()


class Host:
    def __init__(self, name: str, env: dict[str, str], logs: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.name = name
        self.log = logs / f"host-{name}.log"
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [str(KOHTAANTO), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env | {"KOHTAANTO_SERVICE__HOST_ID": name},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def call(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read() or b"null")

    def wait_ready(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"host {self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=5):
                    return
            except OSError:
                time.sleep(0.2)
        sys.exit(f"host {self.name} not ready in {seconds} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def answer_of(matches: Any) -> Any:
    return matches["candidates"], [
        (r["vacancy_id"], r["score"], r["explanation"]["distance_km"]) for r in matches["results"]
    ]


def person(municipality: str) -> dict[str, Any]:
    return {
        "first_name": "Bench",
        "last_name": "Hosts",
        "email": "bench@example.org",
        "phone": "+358401234567",
        "home_municipality": municipality,
        "birth_year": 1990,
        "sex": "female",
        "unemployment_start": "2024-01-15",
        "languages": [{"language": "fi", "level": "native"}],
    }


def bench_two_hosts(world: WorldTables, postgres_url: str, root: Path, writes: int) -> None:
    organisation = str(world.jobseekers["organisation_id"].iloc[0])
    engine = make_engine(postgres_url)
    with make_session_factory(engine)() as session:
        session.add(
            User(
                name="bench-coach",
                role="coach",
                organisation_id=organisation,
                token_hash=hash_token(TOKEN),
            )
        )
        session.commit()
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOHTAANTO_")} | {
        "KOHTAANTO_DATABASE_URL": postgres_url,
        "KOHTAANTO_PATHS__VAR_DIR": str(root / "var"),
        "KOHTAANTO_SERVICE__METRICS_PORT": "0",
        "KOHTAANTO_SERVICE__ACCESS_LOG": "false",
        "KOHTAANTO_SERVICE__PSEUDONYM_KEY": "bench pseudonym key",
        "KOHTAANTO_AUDIT__SEAL_KEY": "bench seal key",
    }
    hosts = [Host("a", env, root), Host("b", env, root)]
    try:
        for host in hosts:
            host.wait_ready(300)
        a, b = hosts
        places = list(dict.fromkeys(world.vacancies["municipality"].astype(str)))[:2]
        made = a.call("POST", "/api/v1/coach/jobseekers", person(places[0]))
        path = f"/api/v1/coach/jobseekers/{made['jobseeker_id']}"
        first_right, waits = 0, []
        for n in range(writes):
            a.call("PUT", path, person(places[(n + 1) % 2]))
            answered = time.monotonic()
            seen = [(answered, answer_of(b.call("GET", path + "/matches?k=10")))]
            wanted = answer_of(a.call("GET", path + "/matches?k=10"))
            while seen[-1][1] != wanted:
                sent = time.monotonic()
                seen.append((sent, answer_of(b.call("GET", path + "/matches?k=10"))))
            first_right += len(seen) == 1
            waits.append((seen[-1][0] - answered) * 1000)
        waits.sort()
        print(f"two hosts, {writes} writes through A:")
        print(f"  B's first request after A's answer reflected the write: {first_right}/{writes}")
        print(
            f"  A's answer -> a B request that reflects it was sent: median "
            f"{statistics.median(waits):.1f} ms, max {waits[-1]:.1f} ms"
        )
    finally:
        for host in hosts:
            host.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path)
    parser.add_argument("--writes", type=int, default=30)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "KOHTAANTO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-hosts-") as folder:
        root = Path(folder)
        world_dir = args.world
        if world_dir is None:
            from training.synthetic import WorldConfig, generate_world

            world_dir = root / "world"
            generate_world(WorldConfig(seekers=2000, vacancies=600, seed=5), world_dir)
        world = load_world(world_dir)
        admin = make_engine(args.postgres, isolation_level="AUTOCOMMIT")
        name = f"kohtaanto_bench_hosts_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            postgres_url = make_engine(args.postgres).url.set(database=name)
            rendered = postgres_url.render_as_string(hide_password=False)
            sqlite_url = loaded(world, f"sqlite:///{root / 'kohtaanto.db'}")
            bench_catch_up(world, sqlite_url, loaded(world, rendered), root / "var-catch-up")
            bench_two_hosts(world, rendered, root, args.writes)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
