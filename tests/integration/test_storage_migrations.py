"""The Alembic migrations build exactly the schema the ORM declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, inspect, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from features.world_store import SCHEMAS
from service.storage.database import (
    current_revision,
    head_revision,
    make_engine,
    upgrade_to_head,
)
from service.storage.tables import WORLD_RECORDS, AuditLogEntry, Base, UtcDateTime

pytestmark = pytest.mark.integration


def test_migrated_schema_equals_the_orm_metadata(database_url: str) -> None:
    upgrade_to_head(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        assert current_revision(engine) == head_revision() == "0006"
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(database_url: str) -> None:
    upgrade_to_head(database_url)
    upgrade_to_head(database_url)
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) == "0006"
    finally:
        engine.dispose()


def test_compare_metadata_notices_a_drifted_column(migrated_engine: Engine) -> None:
    """Guards the test above: the comparison does look at columns."""
    with migrated_engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_exposures_query_id"))
    with migrated_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert [entry[0] for entry in diff] == ["add_index"]


def test_world_tables_mirror_the_world_schema() -> None:
    assert list(WORLD_RECORDS) == list(SCHEMAS)
    for name, record in WORLD_RECORDS.items():
        columns = [c.name for c in record.__table__.columns if c.autoincrement is not True]
        assert columns == list(SCHEMAS[name].names), name


def test_dialect_settings(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as connection:
        if migrated_engine.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
        else:
            assert migrated_engine.driver == "psycopg"
    foreign_keys = inspect(migrated_engine).get_foreign_keys("skill_observations")
    assert {fk["referred_table"]: fk["options"].get("ondelete") for fk in foreign_keys} == {
        "assessments": "CASCADE",
        "jobseekers": "CASCADE",
    }


def _audit_row(seq_hash: str) -> dict[str, object]:
    return {
        "recorded_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "user_id": 1,
        "role": "coach",
        "organisation_id": "ES-FI-EA-01",
        "route": "/coaches/jobseekers/JS1/matches",
        "query": {"k": 10},
        "model_version": "rules",
        "results": [{"vacancy_id": "VA1", "score": 0.5}],
        "explanation_digest": "0" * 64,
        "prev_hash": "0" * 64,
        "entry_hash": seq_hash,
    }


def test_audit_log_is_append_only(migrated_engine: Engine) -> None:
    with migrated_engine.begin() as connection:
        connection.execute(insert(AuditLogEntry), [_audit_row("a" * 64), _audit_row("b" * 64)])
    with pytest.raises(DBAPIError, match="append-only"), migrated_engine.begin() as connection:
        connection.execute(update(AuditLogEntry).values(route="/elsewhere"))
    with pytest.raises(DBAPIError, match="append-only"), migrated_engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log"))
    with migrated_engine.connect() as connection:
        rows = connection.execute(text("SELECT seq, route FROM audit_log ORDER BY seq")).all()
    assert [tuple(row) for row in rows] == [
        (1, "/coaches/jobseekers/JS1/matches"),
        (2, "/coaches/jobseekers/JS1/matches"),
    ]


def test_check_constraints_refuse_unknown_roles(migrated_engine: Engine) -> None:
    with pytest.raises(IntegrityError), migrated_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO changes (entity, entity_id, op, recorded_at) "
                "VALUES ('coach', 'X', 'upsert', '2026-01-01 00:00:00')"
            )
        )


def test_instants_round_trip_as_utc(migrated_engine: Engine) -> None:
    helsinki = datetime.fromisoformat("2026-03-01T12:00:00+02:00")
    with migrated_engine.begin() as connection:
        connection.execute(
            insert(AuditLogEntry), [_audit_row("c" * 64) | {"recorded_at": helsinki}]
        )
        stored = connection.execute(AuditLogEntry.__table__.select()).one()
    assert stored.recorded_at == helsinki
    assert stored.recorded_at.tzinfo == UTC
    with pytest.raises(Exception, match="no time zone"):
        UtcDateTime().process_bind_param(datetime(2026, 1, 1), migrated_engine.dialect)
