"""The audit log: append-only in the database, and tampering found by the hash chain."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DatabaseError
from typer.testing import CliRunner

from service.api import audit
from service.cli import app
from service.storage.database import make_session_factory

pytestmark = pytest.mark.integration
SEAL_KEY = "a test key that only the tests know"


@pytest.fixture
def sealer(tmp_path: Path) -> audit.Sealer:
    """A key outside the database and an empty seal file, as the service sets them up."""
    made = audit.Sealer(SEAL_KEY.encode(), tmp_path / "seals" / "audit-seals.log")
    made.create_file()
    return made


def _append(engine: Engine, sealer: audit.Sealer, n: int) -> None:
    sessions = make_session_factory(engine, writer=True)
    for i in range(n):
        with sessions() as session:
            audit.append(
                session,
                sealer=sealer,
                user_id=i,
                role="coach",
                organisation_id="ES-X",
                route="coach.matches",
                query={"jobseeker_id": f"JS{i}", "k": 3},
                model_version="m1",
                results=[[f"VA{i}", 0.5], [f"VA{i + 1}", 0.25]],
                explanation_digest=audit.explanation_digest([{"i": i}]),
            )
            session.commit()


def test_a_negative_zero_score_verifies_after_the_round_trip(
    migrated_engine: Engine, sealer: audit.Sealer
) -> None:
    """PostgreSQL's jsonb reads -0.0 back as 0.0: the entry is hashed as it will be read."""
    sessions = make_session_factory(migrated_engine, writer=True)
    with sessions() as session:
        entry = audit.append(
            session,
            sealer=sealer,
            user_id=1,
            role="coach",
            organisation_id="ES-X",
            route="coach.matches",
            query={"jobseeker_id": "JS1", "max_distance_km": -0.0},
            model_version="rules",
            results=[["VA1", round(-2.7755575615628914e-17, 6)], ["VA2", 1e-17]],
            explanation_digest=None,
        )
        session.commit()
    assert entry.results == [["VA1", 0.0], ["VA2", 1e-17]]
    with make_session_factory(migrated_engine)() as session:
        report = audit.verify_chain(session, sealer)
    assert report.ok and report.entries == 1, report


def test_an_intact_chain_verifies(migrated_engine: Engine, sealer: audit.Sealer) -> None:
    _append(migrated_engine, sealer, 5)
    with make_session_factory(migrated_engine)() as session:
        report = audit.verify_chain(session, sealer, batch=2)  # crosses batch boundaries
    assert report.ok and report.entries == 5 and report.unpublished == 0


def test_the_database_refuses_updates_and_deletes(
    migrated_engine: Engine, sealer: audit.Sealer
) -> None:
    _append(migrated_engine, sealer, 2)
    for statement in ("UPDATE audit_log SET route = 'x'", "DELETE FROM audit_log"):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            migrated_engine.begin() as connection,
        ):
            connection.execute(text(statement))


def _drop_guards(engine: Engine) -> None:
    """What someone with owner rights could do: remove the triggers first."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
        else:
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
            connection.execute(text("DROP TRIGGER audit_log_no_delete"))


@pytest.mark.parametrize(
    ("tamper", "bad_seq", "problem"),
    [
        ("UPDATE audit_log SET results = '[]' WHERE seq = 3", 3, "contents"),
        ("UPDATE audit_log SET model_version = 'm2' WHERE seq = 5", 5, "contents"),
        ("DELETE FROM audit_log WHERE seq = 2", 3, "previous hash"),
    ],
)
def test_tampering_is_found_at_the_changed_entry(
    migrated_engine: Engine, sealer: audit.Sealer, tamper: str, bad_seq: int, problem: str
) -> None:
    _append(migrated_engine, sealer, 6)
    _drop_guards(migrated_engine)
    with migrated_engine.begin() as connection:
        connection.execute(text(tamper))
    with make_session_factory(migrated_engine)() as session:
        report = audit.verify_chain(session, sealer)
    assert not report.ok
    assert report.first_bad_seq == bad_seq
    assert problem in str(report.problem)


def test_the_cli_verifies_and_exits_1_on_tampering(
    migrated_engine: Engine,
    sealer: audit.Sealer,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from service.settings import get_settings

    _append(migrated_engine, sealer, 3)
    monkeypatch.setenv("KOHTAANTO_DATABASE_URL", database_url)
    monkeypatch.setenv("KOHTAANTO_AUDIT__SEAL_KEY", SEAL_KEY)
    monkeypatch.setenv("KOHTAANTO_AUDIT__SEAL_FILE", str(sealer.path))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        intact = runner.invoke(app, ["audit", "verify"], terminal_width=200)
        assert intact.exit_code == 0, intact.output
        assert "3 entries" in intact.output
        _drop_guards(migrated_engine)
        with migrated_engine.begin() as connection:
            connection.execute(text("UPDATE audit_log SET route = 'employer.shortlist'"))
        broken = runner.invoke(app, ["audit", "verify"], terminal_width=200)
        assert broken.exit_code == 1
        assert "tampered at entry 1" in broken.output
    finally:
        get_settings.cache_clear()
