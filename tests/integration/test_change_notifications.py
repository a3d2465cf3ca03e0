"""How a worker learns of changes: PostgreSQL notifications heard by a listener thread (no
query per request while nothing changed), its own commits at once, and a per-request check
of the feed where there is no listener (SQLite, or while the listener is disconnected)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text, update

from features.world_store import WorldTables
from service.api.app import build_state
from service.api.change_listener import APPLICATION_NAME, ChangeListener
from service.api.runtime import ServingState
from service.settings import PathSettings, Settings
from service.storage.changes import COMMITTED_HERE, record_changes
from service.storage.database import make_engine, make_session_factory, upgrade_to_head
from service.storage.tables import ChangeEntity, JobseekerRecord
from service.storage.world_io import load_world_into_database
from tests.conftest import wipe_postgres
from tests.e2e.test_hot_swap import _model
from training.ranker import RankerConfig

pytestmark = pytest.mark.integration


def _until(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` passed; returns whether it held."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _change(engine: Engine, jobseeker_id: str, municipality: str | None = None) -> int:
    """Another host's write: a person's row (when ``municipality``) and the feed row."""
    with make_session_factory(engine)() as session:
        if municipality is not None:
            session.execute(
                update(JobseekerRecord)
                .where(JobseekerRecord.jobseeker_id == jobseeker_id)
                .values(home_municipality=municipality)
            )
        record_changes(session.connection(), ChangeEntity.JOBSEEKER, [jobseeker_id])
        session.commit()
        return int(session.scalar(text("SELECT max(seq) FROM changes")) or 0)


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    url = wipe_postgres(postgres_database)
    upgrade_to_head(url)
    return url


def test_the_listener_hears_commits_and_survives_its_connection_being_killed(
    postgres_url: str,
) -> None:
    engine = make_engine(postgres_url)
    listener = ChangeListener(postgres_url, probe_seconds=0.5).start()
    try:
        assert listener.wait_listening(10)
        seq = _change(engine, "JS-1")
        assert COMMITTED_HERE.seq >= seq  # the writer's own process knows at once
        assert _until(lambda: listener.announced.seq == seq, 5)

        with make_session_factory(engine)() as session:  # rolled back: nobody is told
            record_changes(session.connection(), ChangeEntity.JOBSEEKER, ["JS-2"])
            session.rollback()
        seq = _change(engine, "JS-3")
        assert _until(lambda: listener.announced.seq == seq, 5)

        # The database drops the listening connection (as a restart does); a change made
        # before it listens again is still found (it reads the feed's position first).
        with engine.begin() as connection:
            named = connection.scalar(
                text("SELECT application_name FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": listener.backend_pid},
            )
            assert named == APPLICATION_NAME
            connection.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": listener.backend_pid}
            )
        seq = _change(engine, "JS-4")
        assert _until(lambda: listener.connections == 2 and listener.listening, 10)
        assert _until(lambda: listener.announced.seq == seq, 5)
    finally:
        listener.stop()
        engine.dispose()
    assert not listener.listening


@pytest.fixture
def state_on(
    tiny_world: WorldTables, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], ServingState]]:
    """A worker's state on a database with the tiny world loaded."""
    built: list[ServingState] = []

    def build(url: str) -> ServingState:
        upgrade_to_head(url)
        engine = make_engine(url)
        load_world_into_database(tiny_world, engine)
        engine.dispose()
        settings = Settings(paths=PathSettings(var_dir=tmp_path / "var"), database_url=url)
        built.append(build_state(settings))
        return built[-1]

    yield build
    for state in built:
        state.close()


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", note)
    return seen


def test_with_a_listener_an_unchanged_feed_costs_no_query(
    state_on: Callable[[str], ServingState], postgres_url: str, tiny_world: WorldTables
) -> None:
    state = state_on(postgres_url)
    assert state.catch_up() == 0  # starts the listener; asks the database meanwhile
    assert state.change_listener is not None and state.change_listener.wait_listening(10)
    statements = _statements(state.db)
    for _ in range(50):
        assert state.catch_up() == 0
    assert statements == []

    person = str(tiny_world.jobseekers["jobseeker_id"].iloc[0])
    moved_to = next(
        str(m)
        for m in tiny_world.vacancies["municipality"].astype(str)
        if m != str(tiny_world.jobseekers["home_municipality"].iloc[0])
    )
    other_host = make_engine(postgres_url)
    try:
        seq = _change(other_host, person, moved_to)
        assert _until(lambda: state.catch_up() == 1, 2)  # within 2 s of the commit
        assert state.last_change == seq
        statements.clear()
        assert state.catch_up() == 0
        assert statements == []

        # Disconnected: every request asks the database again, and sees the next change.
        state.change_listener.stop()
        seq = _change(other_host, person)
        assert state.catch_up() == 1
        assert state.last_change == seq
        assert statements, "without a listener the feed is read per request"
    finally:
        other_host.dispose()


def test_an_idle_worker_loads_a_new_champion_on_its_listeners_thread(
    state_on: Callable[[str], ServingState], postgres_url: str
) -> None:
    state = state_on(postgres_url)
    state.catch_up()
    assert state.change_listener is not None and state.change_listener.wait_listening(10)
    record = state.registry.register(
        _model(5), config=RankerConfig(num_threads=1), metrics={}, training_fingerprint="x"
    )
    state.registry.promote(record.version)
    # No request asks: the listener's thread checks the pointer about once a second.
    assert _until(lambda: state.model_version == record.version, 10)
    assert state.change_listener.listening


def test_without_a_listener_every_request_looks_at_the_feed(
    state_on: Callable[[str], ServingState], tmp_path: Path, tiny_world: WorldTables
) -> None:
    state = state_on(f"sqlite:///{tmp_path / 'kohtaanto.db'}")
    assert state.catch_up() == 0
    assert state.change_listener is None
    other_process = make_engine(state.db.url)
    try:
        seq = _change(other_process, str(tiny_world.jobseekers["jobseeker_id"].iloc[0]))
    finally:
        other_process.dispose()
    assert state.catch_up() == 1  # the very next request
    assert state.last_change == seq
    assert state.catch_up() == 0
