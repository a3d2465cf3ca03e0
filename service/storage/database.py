"""Engines, sessions and migrations for SQLite (development, tests) and PostgreSQL.

``make_engine`` is the one place that knows dialect quirks: SQLite gets foreign keys, WAL and
a busy timeout on every connection, and SQLAlchemy (not the ``sqlite3`` module) decides where
transactions begin, so DDL and bulk loads are transactional as on PostgreSQL. PostgreSQL
always goes through psycopg 3 (``postgresql+psycopg://``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = [
    "MIGRATIONS_DIR",
    "SQLITE_BUSY_TIMEOUT_MS",
    "alembic_config",
    "checkpoint_wal",
    "current_revision",
    "head_revision",
    "make_engine",
    "make_session_factory",
    "normalise_url",
    "upgrade_to_head",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: How long a SQLite writer waits for another one before failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalise_url(url: str | URL) -> URL:
    """The URL with PostgreSQL pinned to psycopg 3 (``postgresql://`` would pick psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url``; the folder of a SQLite file is created when missing."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        if parsed.get_backend_name() == "postgresql":
            kwargs["connect_args"] = _postgresql_options(parsed, kwargs.get("connect_args"))
        return create_engine(parsed, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, **kwargs)
    _configure_sqlite(engine, in_memory=not parsed.database or parsed.database == ":memory:")
    return engine


#: Server settings for the service's PostgreSQL sessions. Its queries are short index reads
#: (a page, a count over one organisation); a parallel plan starts worker processes for each
#: and waits for the slowest, which on a busy 2-core server made the caseload's eligibility
#: filters 4-6x slower (bench/bench_pages.py: p50 104-158 ms with parallel workers, 24-27 ms
#: without). Bulk reads are COPY, which never runs in parallel anyway.
POSTGRESQL_OPTIONS = "-c max_parallel_workers_per_gather=0"


def _postgresql_options(url: URL, connect_args: dict[str, Any] | None) -> dict[str, Any]:
    """``connect_args`` with :data:`POSTGRESQL_OPTIONS`, unless the URL, the caller or
    ``PGOPTIONS`` already give the server options (theirs win)."""
    merged = dict(connect_args or {})
    if "options" not in url.query and "options" not in merged and not os.environ.get("PGOPTIONS"):
        merged["options"] = POSTGRESQL_OPTIONS
    return merged


def _configure_sqlite(engine: Engine, *, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level; the "begin" hook below emits BEGIN itself. Left to
        # the sqlite3 module, DDL would run outside transactions and SAVEPOINTs would break.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            # Deleted rows are overwritten with zeros, not left in free pages: an erased
            # person's values must not stay readable in the file (see checkpoint_wal).
            cursor.execute("PRAGMA secure_delete = ON")
            if not in_memory:
                # WAL: readers (every service worker polling the change feed) never block
                # the writer; synchronous=NORMAL is durable enough with WAL.
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # ``execution_options(sqlite_begin="IMMEDIATE")`` takes the write lock up front: a
        # deferred transaction that reads and then writes cannot wait for the lock (SQLite
        # answers "database is locked" at once), an immediate one waits for busy_timeout.
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


def checkpoint_wal(engine: Engine) -> None:
    """Copy SQLite's write-ahead log into the database file and truncate it to zero bytes.

    After an erasure the WAL still holds the pages as they were before it; a TRUNCATE
    checkpoint waits (busy_timeout) for readers of older snapshots and then leaves no old
    frame behind. Nothing to do on PostgreSQL or an in-memory database.
    """
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        # On the driver's connection: SQLAlchemy would wrap it in a BEGIN, and a checkpoint
        # cannot finish inside a transaction.
        driver = connection.connection.driver_connection
        if driver is not None:
            driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def make_session_factory(engine: Engine, *, writer: bool = False) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (API responses read them).

    ``writer`` sessions begin SQLite transactions IMMEDIATE (see ``_configure_sqlite``), so
    concurrent writers queue instead of failing; elsewhere the option is ignored.
    """
    bind = engine.execution_options(sqlite_begin="IMMEDIATE") if writer else engine
    return sessionmaker(bind, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration without an ``alembic.ini``: the scripts ship in the package.

    With ``connection`` the migration runs on it (inside the caller's transaction).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_to_head(url: str | URL | Engine) -> None:
    """Migrate the database at ``url`` (or behind an engine) to the newest schema."""
    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
    finally:
        if engine is not url:
            engine.dispose()


def head_revision() -> str:
    """The newest migration shipped with the package."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
