"""Two hosts on one PostgreSQL database: two `kohtaanto serve` processes, each with its own
engine, on ports of their own.

* A jobseeker created and then changed through host A is matched by host B as A matches them
  within a second of A's answer (B learns of the change from the database's notification).
* Both hosts answering at once keep one audit chain: it verifies (`kohtaanto audit verify`,
  which reads both hosts' seal files) and holds one entry per answered request.
* A champion promoted once in the shared registry is served by both.

The two processes share a var dir (registry, seal folder) and the secrets (from the
environment) but not a host id, so each seals to a file of its own, as hosts on different
machines would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from features.world_store import WorldTables
from service.api.security import hash_token
from service.storage.database import make_engine, make_session_factory, upgrade_to_head
from service.storage.tables import AuditLogEntry, User
from service.storage.world_io import load_world_into_database
from tests.conftest import wipe_postgres
from tests.e2e.test_hot_swap import _model
from training.ranker import RankerConfig
from training.registry import ModelRegistry

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("two-hosts")]

KOHTAANTO = Path(sys.executable).with_name("kohtaanto")
#: How long a host may take to build its engine and answer /readyz (a busy 2-core machine).
START_SECONDS = 180.0
#: How soon a change made through one host must show in the other's answers.
PROPAGATION_SECONDS = 1.0
TOKEN = "token-coach"


@dataclass
class Host:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def matches(self, jobseeker_id: str) -> Any:
        status, body = self.call("GET", f"/api/v1/coach/jobseekers/{jobseeker_id}/matches?k=10")
        assert status == 200, f"{self.name}: {status} {body}"
        return body


@dataclass
class Deployment:
    a: Host
    b: Host
    url: str
    var: Path
    env: dict[str, str]
    world: WorldTables
    organisation: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(url: str, var: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOHTAANTO_")}
    env.update(
        KOHTAANTO_DATABASE_URL=url,
        KOHTAANTO_PATHS__VAR_DIR=str(var),
        KOHTAANTO_SERVICE__METRICS_PORT="0",
        KOHTAANTO_SERVICE__MODEL_CHECK_SECONDS="0.2",
        KOHTAANTO_SERVICE__ACCESS_LOG="false",
        KOHTAANTO_SERVICE__WORKERS="1",
        # The secrets every host must share, as from a secret store (a host with a host id
        # refuses to make up key files of its own).
        KOHTAANTO_SERVICE__PSEUDONYM_KEY="two-hosts pseudonym key",
        KOHTAANTO_AUDIT__SEAL_KEY="two-hosts seal key",
    )
    return env


def _start(name: str, env: dict[str, str], logs: Path) -> Host:
    port = _free_port()
    log = logs / f"host-{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(KOHTAANTO), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env | {"KOHTAANTO_SERVICE__HOST_ID": name},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped by its id below
        )
    return Host(name, port, process, log)


def _stop(host: Host) -> None:
    if host.process.poll() is None:
        os.killpg(host.process.pid, signal.SIGTERM)
        try:
            host.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(host.process.pid, signal.SIGKILL)
            host.process.wait(timeout=10)


def _wait_ready(host: Host, deadline: float) -> None:
    while time.monotonic() < deadline:
        if host.process.poll() is not None:
            pytest.fail(f"host {host.name} exited: {host.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(host.base + "/readyz", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"host {host.name} not ready in {START_SECONDS} s: {host.log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def hosts(
    tiny_world: WorldTables, postgres_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    url = wipe_postgres(postgres_database)
    upgrade_to_head(url)
    engine = make_engine(url)
    load_world_into_database(tiny_world, engine)
    organisation = str(tiny_world.jobseekers["organisation_id"].iloc[0])
    with make_session_factory(engine)() as session:
        session.add(
            User(
                name="coach",
                role="coach",
                organisation_id=organisation,
                token_hash=hash_token(TOKEN),
            )
        )
        session.commit()
    engine.dispose()
    root = tmp_path_factory.mktemp("two-hosts")
    var = root / "var"
    env = _environment(url, var)
    a = _start("a", env, root)
    b = _start("b", env, root)
    try:
        deadline = time.monotonic() + START_SECONDS
        _wait_ready(a, deadline)
        _wait_ready(b, deadline)
        yield Deployment(a, b, url, var, env, tiny_world, organisation)
    finally:
        _stop(a)
        _stop(b)


def _answer(matches: Any) -> tuple[int, list[tuple[str, float, float]]]:
    """What both hosts must agree on: the candidates and each result's score and distance
    (the matches direction has no per-worker state, unlike shortlists' exposure cap)."""
    return matches["candidates"], [
        (r["vacancy_id"], r["score"], r["explanation"]["distance_km"]) for r in matches["results"]
    ]


def _b_agrees_within(deployment: Deployment, jobseeker_id: str, since: float) -> float:
    """Poll host B until its matches are host A's; returns how long it took after ``since``."""
    wanted = _answer(deployment.a.matches(jobseeker_id))  # A reads its own write
    deadline = since + PROPAGATION_SECONDS
    seen = None
    while True:
        seen = _answer(deployment.b.matches(jobseeker_id))
        if seen == wanted:
            return time.monotonic() - since
        if time.monotonic() > deadline:
            pytest.fail(
                f"host B still answers {seen} {PROPAGATION_SECONDS} s after host A's write; "
                f"host A answers {wanted}"
            )
        time.sleep(0.01)


def _person(municipality: str) -> dict[str, Any]:
    return {
        "first_name": "Aino",
        "last_name": "Kahdentalon",
        "email": "aino@example.org",
        "phone": "+358401234567",
        "home_municipality": municipality,
        "birth_year": 1990,
        "sex": "female",
        "unemployment_start": "2024-01-15",
        "languages": [{"language": "fi", "level": "native"}],
    }


def test_a_jobseeker_written_through_one_host_is_matched_by_the_other(
    hosts: Deployment,
) -> None:
    world = hosts.world
    seekers = world.jobseekers
    home = str(
        seekers.loc[seekers["organisation_id"] == hosts.organisation].iloc[0].home_municipality
    )
    elsewhere = next(m for m in world.vacancies["municipality"].astype(str) if m != home)

    status, created = hosts.a.call("POST", "/api/v1/coach/jobseekers", _person(home))
    assert status == 201, created
    written = time.monotonic()
    person = created["jobseeker_id"]
    _b_agrees_within(hosts, person, written)
    first = _answer(hosts.b.matches(person))
    assert first[1], "the new person has matches (else the comparison proves little)"

    # A new assessment: the skills of the person's first match, now observed.
    vacancy = first[1][0][0]
    skills = world.vacancy_skills[world.vacancy_skills["vacancy_id"] == vacancy]["skill_uri"]
    assessment = {
        "assessed_on": str(world.as_of),
        "method": "work_trial",
        "observations": [{"skill_uri": str(uri), "level": 4, "confidence": 0.9} for uri in skills],
    }
    status, body = hosts.a.call(
        "POST", f"/api/v1/coach/jobseekers/{person}/assessments", assessment
    )
    assert status == 201, body
    assessed = time.monotonic()
    _b_agrees_within(hosts, person, assessed)
    second = _answer(hosts.b.matches(person))
    assert second != first, "the assessment changed the answer"

    # A move: every distance changes.
    status, body = hosts.a.call("PUT", f"/api/v1/coach/jobseekers/{person}", _person(elsewhere))
    assert status == 200, body
    moved = time.monotonic()
    _b_agrees_within(hosts, person, moved)
    assert _answer(hosts.b.matches(person)) != second, "the move changed the answer"


def test_both_hosts_answering_at_once_keep_one_audit_chain(hosts: Deployment) -> None:
    engine = make_engine(hosts.url)
    count = select(func.count()).select_from(AuditLogEntry)
    people = hosts.world.jobseekers
    ours = people.loc[people["organisation_id"] == hosts.organisation, "jobseeker_id"]
    ids = [str(p) for p in ours.head(6)]
    answered: list[int] = []
    failures: list[str] = []

    def load(host: Host) -> None:
        for round_ in range(6):
            for person in ids:
                status, body = host.call(
                    "GET", f"/api/v1/coach/jobseekers/{person}/matches?k={5 + round_}"
                )
                if status == 200:
                    answered.append(1)
                else:
                    failures.append(f"{host.name}: {status} {str(body)[:200]}")

    try:
        with make_session_factory(engine)() as session:
            before = int(session.scalar(count) or 0)
        threads = [
            threading.Thread(target=load, args=(host,))
            for host in (hosts.a, hosts.b, hosts.a, hosts.b)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not failures, failures[:3]
        with make_session_factory(engine)() as session:
            after = int(session.scalar(count) or 0)
    finally:
        engine.dispose()
    assert len(answered) == 4 * 6 * len(ids)
    assert after - before == len(answered)

    seal_files = sorted(p.name for p in hosts.var.glob("audit-seals*.log") if p.stat().st_size)
    assert seal_files == ["audit-seals.a.log", "audit-seals.b.log"]
    verified = subprocess.run(
        [str(KOHTAANTO), "audit", "verify"],
        env=hosts.env,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{after} entries" in verified.stdout


def test_a_champion_promoted_once_is_served_by_both_hosts(hosts: Deployment) -> None:
    registry = ModelRegistry(hosts.var / "models")
    record = registry.register(
        _model(7), config=RankerConfig(num_threads=1), metrics={}, training_fingerprint="x"
    )
    promoted = subprocess.run(
        [str(KOHTAANTO), "model", "promote", record.version],
        env=hosts.env,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    # Each worker's listener thread compares the pointer about once a second (at most every
    # model_check_seconds): an idle host loads the new champion too, and says so in /readyz.
    deadline = time.monotonic() + 10.0
    serving: dict[str, str] = {}
    for host in (hosts.a, hosts.b):
        while True:
            with urllib.request.urlopen(host.base + "/readyz", timeout=5) as answer:
                serving[host.name] = json.loads(answer.read())["model"]
            if serving[host.name] == record.version or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert serving == {"a": record.version, "b": record.version}
    person = str(hosts.world.jobseekers["jobseeker_id"].iloc[0])
    assert hosts.b.matches(person)["model_version"] == record.version
