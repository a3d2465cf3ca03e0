"""Shared fixtures: reference data and small worlds, loaded once per test process, and databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from features.geography import Geography, load_geography
from features.taxonomy import Taxonomy, load_taxonomy
from features.world_store import WorldTables, load_world

if TYPE_CHECKING:
    from sqlalchemy import Engine


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep each ``xdist_group`` on one xdist worker under ``--dist loadgroup``.

    pytest-xdist 3.8 marks a group by appending ``@<group>`` to ``item._nodeid``, which pytest
    9 no longer reads (a node's id is ``item._id``): without this every group was spread over
    the workers, each building the group's world, server or browser again.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import NodeId

    for item in items:
        marks = list(item.iter_markers("xdist_group"))
        if not marks:
            continue
        group = marks[0].args[0] if marks[0].args else marks[0].kwargs.get("name", "default")
        if not item.nodeid.endswith(f"@{group}"):
            item._id = NodeId.parse(f"{item.nodeid}@{group}")


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    # The default cache under var/cache is written atomically, so xdist workers may share it.
    return load_taxonomy()


@pytest.fixture(scope="session")
def geography() -> Geography:
    return load_geography()


@pytest.fixture(scope="session")
def small_world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated world, written once per test process."""
    from training.synthetic import WorldConfig, generate_world

    out = tmp_path_factory.mktemp("small_world")
    generate_world(WorldConfig(seekers=1500, vacancies=500, seed=11), out)
    return out


@pytest.fixture(scope="session")
def small_world(small_world_dir: Path) -> WorldTables:
    return load_world(small_world_dir)


@pytest.fixture(scope="session")
def training_world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A world to retrain on: 3,000 jobseekers and 3,000 vacancies, written once per process.

    Both directions need test queries. A coach's search shows vacancies of the person's area
    and occupations, falling back to the region and the country where the area has few; in the
    small world most of them are beyond the person's reach, so its ``matches`` direction keeps
    no test query the engine could have served. This one keeps a few dozen (16 + 16 weeks of
    validation and test) and hires in both directions' training proposals.
    """
    from training.synthetic import WorldConfig, generate_world

    out = tmp_path_factory.mktemp("training_world")
    generate_world(WorldConfig(seekers=3000, vacancies=3000, seed=11), out)
    return out


@pytest.fixture(scope="session")
def training_world(training_world_dir: Path) -> WorldTables:
    return load_world(training_world_dir)


# --------------------------------------------------------------------------------------------
# Databases: every storage test runs on SQLite and on PostgreSQL
# --------------------------------------------------------------------------------------------

POSTGRES_URL_ENV = "KOHTAANTO_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The PostgreSQL server the tests create their databases on; fails when unreachable.

    A missing server is a failure, not a skip: the service runs on PostgreSQL, so a green
    suite must have tested it (``scripts/ensure-postgres.sh`` starts one).
    """
    from sqlalchemy import text

    from service.storage.database import make_engine

    url = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    engine = make_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        pytest.fail(
            f"PostgreSQL is not reachable at {url} ({type(error).__name__}: {error}). "
            f"Run scripts/ensure-postgres.sh or point {POSTGRES_URL_ENV} at a server.",
            pytrace=False,
        )
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def postgres_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of this test process's own (one per xdist worker), dropped at the end.

    One per worker rather than per module: dropping a database forces a checkpoint, which
    costs a second or more on a busy disk.
    """
    from sqlalchemy import text

    from service.storage.database import make_engine, normalise_url

    admin_url = request.getfixturevalue("postgres_admin_url")
    name = f"kohtaanto_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield normalise_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, unmigrated database: a new SQLite file or a wiped PostgreSQL one.

    PostgreSQL tests share their worker's database and start from an empty ``public``
    schema, which takes milliseconds where creating a database per test would not.
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kohtaanto.db'}"
    url: str = request.getfixturevalue("postgres_database")
    return wipe_postgres(url)


def wipe_postgres(url: str) -> str:
    """Empty the worker's PostgreSQL database (a fresh ``public`` schema); return its URL."""
    from sqlalchemy import text

    from service.storage.database import make_engine

    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    return url


@pytest.fixture
def migrated_engine(database_url: str) -> Iterator[Engine]:
    """An engine on :func:`database_url` after ``upgrade_to_head``; disposed afterwards."""
    from service.storage.database import make_engine, upgrade_to_head

    engine = make_engine(database_url)
    upgrade_to_head(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def tiny_world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-jobseeker, 100-vacancy world: big enough to match on, quick to load."""
    from training.synthetic import WorldConfig, generate_world

    out = tmp_path_factory.mktemp("tiny_world")
    generate_world(WorldConfig(seekers=300, vacancies=100, seed=3), out)
    return out


@pytest.fixture(scope="session")
def tiny_world(tiny_world_dir: Path) -> WorldTables:
    return load_world(tiny_world_dir)
