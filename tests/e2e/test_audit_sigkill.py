"""A worker killed mid-load loses no audit entry of an answer it gave, and the log verifies.

A real ``kohtaanto serve --workers 2`` on a tiny world: threads send matches requests, each
with a query of its own (jobseeker and ``k``); one worker is SIGKILLed while they run, and
the load goes on against the other. Every answer that came back 200 must have its entry in
the log (an answer leaves only once its entry committed), and ``kohtaanto audit verify``
must still pass: the killed worker may have committed a group and died before that group's
seal-file line, but any later group's line (sent after the kill) covers it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from features.world_store import WorldTables
from service.api import audit
from service.api.security import hash_token
from service.settings import PathSettings, Settings
from service.storage.database import make_engine, make_session_factory, upgrade_to_head
from service.storage.tables import AuditLogEntry, PersonKey, User
from service.storage.world_io import load_world_into_database
from tests.conftest import wipe_postgres

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
KOHTAANTO = str(Path(sys.executable).with_name("kohtaanto"))
TOKEN = "token-coach-sigkill"
#: Bounds of every wait: start-up, the load's phases, shutdown.
START_SECONDS = 180.0
PHASE_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _parent_of(pid: int) -> int:
    # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ")".
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    env: dict[str, str]
    url: str
    var: Path
    log: Path

    def stop(self) -> None:
        """SIGTERM to the process group it leads (started with a session of its own)."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=PHASE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=PHASE_SECONDS)


@pytest.fixture(params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tiny_world: WorldTables, tmp_path: Path
) -> Iterator[tuple[Server, list[str]]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'kohtaanto.db'}"
    else:
        url = wipe_postgres(request.getfixturevalue("postgres_database"))
    upgrade_to_head(url)
    engine = make_engine(url)
    load_world_into_database(tiny_world, engine)
    seekers = tiny_world.jobseekers
    org = str(seekers["organisation_id"].astype(str).value_counts().index[0])
    mine = sorted(seekers.loc[seekers["organisation_id"].astype(str) == org, "jobseeker_id"])
    with make_session_factory(engine)() as session:
        session.add(
            User(name="coach", role="coach", organisation_id=org, token_hash=hash_token(TOKEN))
        )
        session.commit()
    engine.dispose()
    port = _free_port()
    env = os.environ | {
        "KOHTAANTO_DATABASE_URL": url,
        "KOHTAANTO_PATHS__VAR_DIR": str(tmp_path / "var"),
        "KOHTAANTO_SERVICE__WORKERS": "2",
        "KOHTAANTO_SERVICE__METRICS_PORT": "0",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [KOHTAANTO, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Server(process, f"http://127.0.0.1:{port}", env, url, tmp_path / "var", log)
    try:
        yield running, [str(s) for s in mine]
    finally:
        running.stop()


def _ready_worker(server: Server) -> int:
    """The pid of a worker that answers, once the server is up (bounded)."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.log.read_text()[-3000:]
        try:
            answer = httpx.get(f"{server.base}/readyz", timeout=5.0)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if answer.status_code == 200:
            return int(answer.json()["worker_pid"])
        time.sleep(0.2)
    raise AssertionError(f"the server did not start: {server.log.read_text()[-3000:]}")


@dataclass
class Load:
    """Requests numbered in sending order; each one's query is its own."""

    people: list[str]
    next_number: int = 0
    answered: dict[int, tuple[str, int]] = field(default_factory=dict)
    #: Answered 200 although sent after the kill.
    after_kill: int = 0
    failed: list[str] = field(default_factory=list)
    killed_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def query(self) -> tuple[int, str, int, float]:
        with self.lock:
            number = self.next_number
            self.next_number += 1
        person = self.people[number % len(self.people)]
        k = 1 + (number // len(self.people)) % 100
        return number, person, k, time.monotonic()


def _send(server: Server, load: Load, stop: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.base, headers=headers, timeout=20.0) as client:
        while not stop.is_set():
            number, person, k, sent = load.query()
            try:
                answer = client.get(f"/api/v1/coach/jobseekers/{person}/matches", params={"k": k})
            except httpx.TransportError as error:  # the killed worker's connections
                load.failed.append(f"transport {number}: {type(error).__name__}")
                continue
            if answer.status_code != 200:
                load.failed.append(f"status {number}: {answer.status_code} {answer.text[:200]}")
                continue
            with load.lock:
                load.answered[number] = (person, k)
                if load.killed_at is not None and sent > load.killed_at:
                    load.after_kill += 1


def _wait_for(test: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PHASE_SECONDS
    while not test():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_every_answer_of_a_killed_worker_is_in_the_log(
    server: tuple[Server, list[str]],
) -> None:
    running, people = server
    victim = _ready_worker(running)
    assert _parent_of(victim) == running.process.pid  # a worker: the server's child
    load = Load(people)
    stop = threading.Event()
    senders = [threading.Thread(target=_send, args=(running, load, stop)) for _ in range(8)]
    for sender in senders:
        sender.start()
    try:
        _wait_for(lambda: len(load.answered) >= 40, "no answers before the kill")
        os.kill(victim, signal.SIGKILL)
        with load.lock:
            load.killed_at = time.monotonic()
        _wait_for(lambda: load.after_kill >= 40, "too few answers after the kill")
    finally:
        stop.set()
        for sender in senders:
            sender.join(PHASE_SECONDS)
        running.stop()
    assert running.process.returncode is not None
    # Only the killed worker's requests may fail, and only by their connection.
    assert all(failure.startswith("transport") for failure in load.failed), load.failed

    engine = make_engine(running.url)
    try:
        with make_session_factory(engine)() as session:
            named = {
                str(p): str(j)
                for p, j in session.execute(select(PersonKey.pseudonym, PersonKey.jobseeker_id))
            }
            logged = {
                (named[entry.query["jobseeker_id"]], int(entry.query["k"]))
                for entry in session.scalars(
                    select(AuditLogEntry).where(AuditLogEntry.route == "coach.matches")
                )
            }
            missing = [n for n, query in load.answered.items() if query not in logged]
            assert missing == [], f"{len(missing)} answered requests have no audit entry"
            sealer = audit.Sealer.from_settings(_settings(running))
            report = audit.verify_chain(session, sealer, unpublished_allowed=1)
            assert report.ok and report.entries >= len(load.answered), report
    finally:
        engine.dispose()
    verify = subprocess.run(
        [KOHTAANTO, "audit", "verify"],
        env=running.env,
        capture_output=True,
        timeout=PHASE_SECONDS,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout.decode() + verify.stderr.decode()


def _settings(server: Server) -> Settings:
    return Settings(paths=PathSettings(var_dir=server.var), database_url=server.url)
