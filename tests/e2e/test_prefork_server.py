"""`kohtaanto serve --workers 2`: workers forked from one built engine (service.server).

A real server on a loaded small world, started as a process of its own (a new session, stopped
by its process id). Requests are sent to a chosen worker over a kept-alive connection: a
connection stays with the worker that accepted it, and /readyz names that worker's pid (checked
again after each request, so an answer is known to come from that worker).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from features.world_store import WorldTables
from service.api.app import create_app
from service.api.security import hash_token
from service.settings import PathSettings, Settings
from service.storage.database import make_engine, make_session_factory, upgrade_to_head
from service.storage.tables import User
from service.storage.world_io import load_world_into_database
from tests.conftest import wipe_postgres
from tests.e2e.conftest import _facts
from tests.integration.test_registry import CONFIG, tiny_boosters
from training.registry import ModelRegistry

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("prefork-server")]

KOHTAANTO = Path(sys.executable).with_name("kohtaanto")
START_SECONDS = 180.0
#: A replacement forked from the built state serves in about a second; a rebuild would take
#: as long as the first start.
REPLACEMENT_SECONDS = 10.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> set[int]:
    """The process's children (its workers), from /proc."""
    try:
        return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    metrics: str
    log: Path
    registry: ModelRegistry
    facts: dict[str, str]

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


class Pinned:
    """Requests over one kept-alive connection, hence to one worker."""

    def __init__(self, client: httpx.Client, worker: int) -> None:
        self.client = client
        self.worker = worker

    def request(self, method: str, path: str, who: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer token-{who}"} if who else {}
        response = self.client.request(method, path, headers=headers, **kwargs)
        # Still the same connection, so the answer above came from this worker too.
        assert self.client.get("/readyz").json()["worker_pid"] == self.worker
        return response


@contextlib.contextmanager
def pinned_to_workers(server: Server, count: int = 2) -> Iterator[dict[int, Pinned]]:
    """One connection to each of ``count`` distinct workers (new connections until found)."""
    found: dict[int, Pinned] = {}
    deadline = time.monotonic() + 30.0
    try:
        while len(found) < count:
            assert time.monotonic() < deadline, f"only workers {sorted(found)} answered"
            client = httpx.Client(
                base_url=server.base,
                timeout=30.0,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            )
            worker = client.get("/readyz").json()["worker_pid"]
            if worker in found:
                client.close()
            else:
                found[worker] = Pinned(client, worker)
        yield found
    finally:
        for pinned in found.values():
            pinned.client.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the session the test started, whole
        process.wait(10)


def _prepare(root: Path, url: str, world: WorldTables) -> tuple[dict[str, str], ModelRegistry]:
    """The world and a coach in the database; a champion in the registry of ``root/var``."""
    upgrade_to_head(url)
    engine = make_engine(url)
    load_world_into_database(world, engine)
    facts = _facts(world)
    with make_session_factory(engine)() as session:
        session.add(
            User(
                name="coach",
                role="coach",
                organisation_id=facts["org"],
                token_hash=hash_token("token-coach"),
            )
        )
        session.commit()
    engine.dispose()
    # A champion the supervisor loads while it builds (LightGBM's OpenMP runs in it).
    registry = ModelRegistry(root / "var" / "models")
    first = registry.register(tiny_boosters(1), config=CONFIG, metrics={}, training_fingerprint="x")
    registry.promote(first.version)
    return facts, registry


@contextlib.contextmanager
def _serving(
    root: Path, url: str, facts: dict[str, str], registry: ModelRegistry, workers: int
) -> Iterator[Server]:
    """`kohtaanto serve` in a session of its own, once /readyz answers; stopped at the end."""
    port, metrics_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "KOHTAANTO_PATHS__VAR_DIR": str(root / "var"),
        "KOHTAANTO_DATABASE_URL": url,
        "KOHTAANTO_SERVICE__METRICS_PORT": str(metrics_port),
        "KOHTAANTO_SERVICE__MODEL_CHECK_SECONDS": "0.2",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = root / f"serve-{workers}.log"
    command = [str(KOHTAANTO), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--workers", str(workers)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    found = Server(
        process,
        f"http://127.0.0.1:{port}",
        f"http://127.0.0.1:{metrics_port}/metrics",
        log,
        registry,
        facts,
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert process.poll() is None, f"serve exited: {found.log_text()[-3000:]}"
            assert time.monotonic() < deadline, f"not ready: {found.log_text()[-3000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{found.base}/readyz", timeout=5.0).status_code == 200:
                    break
            time.sleep(0.2)
        yield found
    finally:
        _stop(process)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest,
    small_world: WorldTables,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    root = tmp_path_factory.mktemp(f"prefork-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'kohtaanto.db'}"
    else:
        url = wipe_postgres(request.getfixturevalue("postgres_database"))
    facts, registry = _prepare(root, url, small_world)
    with _serving(root, url, facts, registry, workers=2) as found:
        yield found


def _person(server: Server, first_name: str) -> dict[str, Any]:
    """A new jobseeker of the coach's organisation, living where matches exist."""
    return {
        "first_name": first_name,
        "last_name": "Testinen",
        "email": "testinen@example.org",
        "phone": "+358401234567",
        "home_municipality": server.facts["municipality"],
        "birth_year": 1990,
        "sex": "female",
        "unemployment_start": "2024-01-15",
        "languages": [{"language": "fi", "level": "native"}],
    }


def test_every_worker_serves_the_engine_the_supervisor_built(server: Server) -> None:
    workers = _children(server.pid)
    assert len(workers) == 2
    with pinned_to_workers(server) as pinned:
        assert set(pinned) == workers
        for worker in pinned.values():
            ready = worker.client.get("/readyz").json()
            assert ready["engine_built_by_pid"] == server.pid != ready["worker_pid"]
    assert server.log_text().count("engine built by the supervisor") == 1


def test_a_jobseeker_created_through_one_worker_is_matched_by_both(server: Server) -> None:
    with pinned_to_workers(server) as pinned:
        one, other = pinned.values()
        created = one.request(
            "POST",
            "/api/v1/coach/jobseekers",
            "coach",
            json=_person(server, "Aino"),
        )
        assert created.status_code == 201, created.text
        person = created.json()["jobseeker_id"]
        # The other worker never saw the request: only the change feed tells it of the person.
        for worker in (other, one):
            found = worker.request("GET", f"/api/v1/coach/jobseekers/{person}/matches", "coach")
            assert found.status_code == 200, found.text
            assert found.json()["results"], found.json()


def test_the_metrics_listener_counts_every_workers_requests(server: Server) -> None:
    def healthz_count() -> float:
        text = httpx.get(server.metrics, timeout=10.0).text
        prefix = 'kohtaanto_http_requests_total{method="GET",route="/healthz",status="200"} '
        counts = [
            float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)
        ]
        return sum(counts)

    before = healthz_count()
    with pinned_to_workers(server) as pinned:
        one, other = pinned.values()
        for worker, times in ((one, 3), (other, 5)):
            for _ in range(times):
                assert worker.request("GET", "/healthz").status_code == 200
    assert healthz_count() - before == 8


def test_a_promoted_champion_is_loaded_by_every_forked_worker(server: Server) -> None:
    """The supervisor ran LightGBM before forking: loading a model in a worker must not wait
    for OpenMP threads that did not survive the fork."""
    second = server.registry.register(
        tiny_boosters(2), config=CONFIG, metrics={}, training_fingerprint="x"
    )
    server.registry.promote(second.version)
    path = f"/api/v1/coach/jobseekers/{server.facts['jobseeker']}/matches"
    with pinned_to_workers(server) as pinned:
        for worker in pinned.values():
            deadline = time.monotonic() + 20.0
            while True:
                answer = worker.request("GET", path, "coach", params={"k": 3})
                assert answer.status_code == 200, answer.text
                if answer.json()["model_version"] == second.version:
                    break
                assert time.monotonic() < deadline, answer.json()["model_version"]
                time.sleep(0.2)


def test_a_killed_worker_is_replaced_by_a_fork_that_catches_up(server: Server) -> None:
    before = _children(server.pid)
    with pinned_to_workers(server) as pinned:
        victim, survivor = pinned.values()
        # Written after the build: the replacement learns of it from the change feed only.
        created = survivor.request(
            "POST",
            "/api/v1/coach/jobseekers",
            "coach",
            json=_person(server, "Eero"),
        )
        assert created.status_code == 201, created.text
        person = created.json()["jobseeker_id"]
        os.kill(victim.worker, signal.SIGKILL)
        killed_at = time.monotonic()
    # New connections until one reaches a worker that was not there before the kill.
    ready: dict[str, Any] = {}
    while not ready:
        assert time.monotonic() - killed_at < REPLACEMENT_SECONDS, _children(server.pid)
        with contextlib.suppress(httpx.HTTPError), pinned_to_workers(server, 1) as one:
            (worker,) = one.values()
            if worker.worker not in before:
                path = f"/api/v1/coach/jobseekers/{person}/matches"
                answer = worker.request("GET", path, "coach")
                ready = worker.client.get("/readyz").json()
                continue
        time.sleep(0.05)
    assert time.monotonic() - killed_at < REPLACEMENT_SECONDS
    assert ready["engine_built_by_pid"] == server.pid  # a fork of the built state
    # It loaded the champion promoted after the build (on its main thread, where the
    # supervisor had run LightGBM's OpenMP loops) and learnt the new person from the feed.
    assert ready["model"] == server.registry.champion_version()
    assert answer.status_code == 200 and answer.json()["results"], answer.text
    assert server.log_text().count("engine built by the supervisor") == 1  # nothing rebuilt
    assert len(_children(server.pid)) == 2


def test_sigterm_stops_the_supervisor_and_every_worker(server: Server) -> None:
    workers = _children(server.pid)
    assert workers
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(60) == 0, server.log_text()[-3000:]
    for worker in workers:
        assert not Path(f"/proc/{worker}").exists() or _is_zombie(worker), worker
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.base + "/healthz", timeout=5.0)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_one_worker_takes_the_same_path(small_world: WorldTables, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kohtaanto.db'}"
    facts, registry = _prepare(tmp_path, url, small_world)
    with _serving(tmp_path, url, facts, registry, workers=1) as server:
        (worker,) = _children(server.pid)
        ready = httpx.get(f"{server.base}/readyz", timeout=10.0).json()
        assert ready["worker_pid"] == worker and ready["engine_built_by_pid"] == server.pid
        path = f"/api/v1/coach/jobseekers/{facts['jobseeker']}/matches"
        answer = httpx.get(
            server.base + path, headers={"Authorization": "Bearer token-coach"}, timeout=30.0
        )
        assert answer.status_code == 200 and answer.json()["results"], answer.text
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(60) == 0


class _DatabaseDown:
    """What a forked worker's state does while the database cannot be reached."""

    def __init__(self) -> None:
        self.closed = False
        self.audit_committer = SimpleNamespace(close=lambda: None)

    def check_model(self, force: bool = False) -> str:
        return "rules"

    def catch_up(self) -> int:
        raise OperationalError("SELECT max(changes.seq)", {}, ConnectionRefusedError())

    def close(self) -> None:
        self.closed = True


def test_a_forked_worker_starts_while_the_database_is_down(tmp_path: Path) -> None:
    """Its catch-up at start-up fails, but the worker serves: gunicorn would stop the whole
    server for a worker that cannot start, and the feed is read again before each match."""
    state = _DatabaseDown()
    settings = Settings(paths=PathSettings(var_dir=tmp_path))
    app = create_app(settings, state, forked=True)  # type: ignore[arg-type]
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "alive"}
    assert state.closed
