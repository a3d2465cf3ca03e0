"""Sealed heads: a trimmed, emptied or recomputed audit log is found, TRUNCATE and REPLACE
are refused, and ``kohtaanto audit verify`` exits 0, 1 or 2 with one line (probe finding S4).

Each tamper below is what someone with the database owner's rights could do; the seal key
and the seal file are what they cannot reach. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DatabaseError
from typer.testing import CliRunner

from service.api import audit
from service.cli import app
from service.storage.database import make_session_factory
from service.storage.tables import AuditLogEntry
from tests.integration.test_audit_chain import SEAL_KEY, _append

pytestmark = pytest.mark.integration


@pytest.fixture
def sealer(tmp_path: Path) -> audit.Sealer:
    made = audit.Sealer(SEAL_KEY.encode(), tmp_path / "audit-seals.log")
    made.create_file()
    return made


def _verify(engine: Engine, sealer: audit.Sealer, allowed: int = 1) -> audit.ChainReport:
    with make_session_factory(engine)() as session:
        return audit.verify_chain(session, sealer, unpublished_allowed=allowed)


def _owner(engine: Engine, *statements: str) -> None:
    """Run ``statements`` after removing the append-only triggers, as an owner could."""
    if engine.dialect.name == "postgresql":
        guards = [
            "DROP TRIGGER audit_log_append_only ON audit_log",
            "DROP TRIGGER audit_seals_append_only ON audit_seals",
        ]
    else:
        guards = [
            f"DROP TRIGGER {table}_no_{action}"
            for table in ("audit_log", "audit_seals")
            for action in ("update", "delete", "replace")
        ]
    with engine.begin() as connection:
        for statement in (*guards, *statements):
            connection.execute(text(statement))


def test_an_intact_sealed_chain_verifies(migrated_engine: Engine, sealer: audit.Sealer) -> None:
    _append(migrated_engine, sealer, 4)
    assert len(sealer.path.read_text().splitlines()) == 4
    report = _verify(migrated_engine, sealer)
    assert report.ok and report.entries == 4 and report.unpublished == 0, report


@pytest.mark.parametrize("with_seals", [False, True])
def test_deleting_the_tail_is_found(
    migrated_engine: Engine, sealer: audit.Sealer, with_seals: bool
) -> None:
    _append(migrated_engine, sealer, 5)
    tamper = ["DELETE FROM audit_log WHERE seq > 3"]
    if with_seals:
        tamper.append("DELETE FROM audit_seals WHERE seq > 3")
    _owner(migrated_engine, *tamper)
    report = _verify(migrated_engine, sealer)
    assert not report.ok, report
    assert "removed" in str(report.problem) or "gone" in str(report.problem), report


def test_deleting_every_entry_is_found(migrated_engine: Engine, sealer: audit.Sealer) -> None:
    _append(migrated_engine, sealer, 5)
    _owner(migrated_engine, "DELETE FROM audit_log", "DELETE FROM audit_seals")
    report = _verify(migrated_engine, sealer)
    assert not report.ok and report.entries == 0, report
    assert "entries were removed" in str(report.problem)


def _recompute(engine: Engine, changed_seq: int) -> None:
    """Change one entry and recompute every hash after it, as the probe did."""
    with make_session_factory(engine)() as session:
        rows = session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.seq)).all()
        previous = audit.GENESIS
        for row in rows:
            if row.seq == changed_seq:
                row.results = []
            row.prev_hash = previous
            row.entry_hash = audit.entry_hash(previous, audit._fields(row))
            previous = row.entry_hash
        session.commit()


def test_a_chain_recomputed_after_a_change_is_found(
    migrated_engine: Engine, sealer: audit.Sealer
) -> None:
    _append(migrated_engine, sealer, 4)
    _owner(migrated_engine)
    _recompute(migrated_engine, 2)
    report = _verify(migrated_engine, sealer)
    assert not report.ok and report.first_bad_seq == 2, report
    assert "not the one that was sealed" in str(report.problem)


def test_seals_forged_without_the_key_are_found(
    migrated_engine: Engine, sealer: audit.Sealer
) -> None:
    """The recomputed chain with seals recomputed too, under a key that is not the real one."""
    _append(migrated_engine, sealer, 4)
    _owner(migrated_engine, "DELETE FROM audit_seals")
    _recompute(migrated_engine, 2)
    forger = audit.Sealer(b"a guessed key", sealer.path)
    with make_session_factory(migrated_engine)() as session:
        rows = session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.seq)).all()
        for count, row in enumerate(rows, start=1):
            forged = forger.seal(row.seq, row.entry_hash, count)
            session.execute(
                text("INSERT INTO audit_seals VALUES (:seq, :hash, :entries, :mac)"),
                {"seq": forged.seq, "hash": forged.entry_hash, "entries": count, "mac": forged.mac},
            )
        session.commit()
    report = _verify(migrated_engine, sealer)
    assert not report.ok and report.first_bad_seq == 1, report
    assert report.problem == "its seal is not valid"


def test_deleted_seal_rows_are_found(migrated_engine: Engine, sealer: audit.Sealer) -> None:
    _append(migrated_engine, sealer, 4)
    _owner(migrated_engine, "DELETE FROM audit_seals")
    report = _verify(migrated_engine, sealer)
    assert not report.ok and report.first_bad_seq == 4 and report.problem == "it has no seal"


def test_an_entry_appended_without_a_seal_is_found(
    migrated_engine: Engine, sealer: audit.Sealer
) -> None:
    _append(migrated_engine, sealer, 2)
    with make_session_factory(migrated_engine)() as session:
        head = session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.seq.desc())).first()
        assert head is not None
        forged = AuditLogEntry(
            recorded_at=head.recorded_at,
            user_id=None,
            role=None,
            organisation_id=None,
            route="forged",
            query={},
            model_version=None,
            results=[],
            explanation_digest=None,
            prev_hash=head.entry_hash,
            entry_hash="",
        )
        forged.entry_hash = audit.entry_hash(head.entry_hash, audit._fields(forged))
        session.add(forged)
        session.commit()
    report = _verify(migrated_engine, sealer)
    assert not report.ok and report.first_bad_seq == 3 and report.problem == "it has no seal"


def test_a_forged_line_in_the_seal_file_is_found(
    migrated_engine: Engine, sealer: audit.Sealer
) -> None:
    _append(migrated_engine, sealer, 2)
    with sealer.path.open("a") as lines:
        lines.write(f"99 {'0' * 64} 99 {'f' * 64}\n")
    report = _verify(migrated_engine, sealer)
    assert not report.ok and "line 3 of the seal file" in str(report.problem), report


def test_one_commit_group_per_worker_may_be_missing_from_the_file(
    migrated_engine: Engine, sealer: audit.Sealer
) -> None:
    """A crash between commit and the file's write loses that worker's last line only."""
    _append(migrated_engine, sealer, 4)
    lines = sealer.path.read_text().splitlines(keepends=True)
    sealer.path.write_text("".join(lines[:-1]))
    report = _verify(migrated_engine, sealer)
    assert report.ok and report.unpublished == 1, report
    sealer.path.write_text("".join(lines[:-2]))
    assert not _verify(migrated_engine, sealer).ok
    assert _verify(migrated_engine, sealer, allowed=2).ok  # two workers


def test_a_rolled_back_append_is_not_sealed(migrated_engine: Engine, sealer: audit.Sealer) -> None:
    _append(migrated_engine, sealer, 1)
    with make_session_factory(migrated_engine, writer=True)() as session:
        audit.append(
            session,
            sealer=sealer,
            user_id=1,
            role="coach",
            organisation_id="ES-X",
            route="coach.matches",
            query={},
            model_version="m1",
            results=[],
            explanation_digest=None,
        )
        session.rollback()
    assert len(sealer.path.read_text().splitlines()) == 1
    assert _verify(migrated_engine, sealer).ok


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has no TRUNCATE
def test_truncate_is_refused_on_postgresql(migrated_engine: Engine, sealer: audit.Sealer) -> None:
    assert migrated_engine.dialect.name == "postgresql"
    _append(migrated_engine, sealer, 2)
    for table in ("audit_log", "audit_seals"):
        with pytest.raises(DatabaseError, match="append-only"), migrated_engine.begin() as c:
            c.execute(text(f"TRUNCATE {table}"))
    assert _verify(migrated_engine, sealer).entries == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # SQLite's own statement
def test_insert_or_replace_is_refused_on_sqlite(
    migrated_engine: Engine, sealer: audit.Sealer
) -> None:
    assert migrated_engine.dialect.name == "sqlite"
    _append(migrated_engine, sealer, 2)
    for statement in (
        "INSERT OR REPLACE INTO audit_log SELECT seq, recorded_at, user_id, role, "
        "organisation_id, 'rewritten', query, model_version, results, explanation_digest, "
        "prev_hash, entry_hash FROM audit_log WHERE seq = 1",
        "REPLACE INTO audit_seals SELECT seq, entry_hash, entries + 1, mac FROM audit_seals "
        "WHERE seq = 1",
    ):
        with pytest.raises(DatabaseError, match="append-only"), migrated_engine.begin() as c:
            c.execute(text(statement))
    assert _verify(migrated_engine, sealer).ok


def _cli(monkeypatch: pytest.MonkeyPatch, url: str, **audit_env: str) -> tuple[int, str]:
    from service.settings import get_settings

    monkeypatch.setenv("KOHTAANTO_DATABASE_URL", url)
    for name in ("SEAL_KEY", "SEAL_FILE", "SEAL_KEY_FILE"):
        monkeypatch.delenv(f"KOHTAANTO_AUDIT__{name}", raising=False)
    for name, value in audit_env.items():
        monkeypatch.setenv(f"KOHTAANTO_AUDIT__{name.upper()}", value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["audit", "verify"], terminal_width=400)
    finally:
        get_settings.cache_clear()
    # One clear line, never a traceback.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    return result.exit_code, result.output


def test_verify_exits_0_intact_1_tampered_2_cannot_verify(
    migrated_engine: Engine,
    sealer: audit.Sealer,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    _append(migrated_engine, sealer, 3)
    sealed = {"seal_key": SEAL_KEY, "seal_file": str(sealer.path)}
    code, output = _cli(monkeypatch, database_url, **sealed)
    assert code == 0 and "intact: 3 entries" in output

    missing_file = sealed | {"seal_file": str(tmp_path / "nowhere.log")}
    code, output = _cli(monkeypatch, database_url, **missing_file)
    assert code == 2 and "does not exist" in output
    code, output = _cli(
        monkeypatch, database_url, seal_file=str(sealer.path), seal_key_file=str(tmp_path / "k")
    )
    assert code == 2 and "key file" in output
    unreachable = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    code, output = _cli(monkeypatch, unreachable, **sealed)
    assert code == 2 and "cannot be read" in output, output

    _owner(migrated_engine, "DELETE FROM audit_log WHERE seq = 3")
    code, output = _cli(monkeypatch, database_url, **sealed)
    assert code == 1 and "tampered" in output


def test_entries_from_before_the_seals_are_sealed_by_the_next_append(
    database_url: str, sealer: audit.Sealer
) -> None:
    """A log written under revision 0001 has no seals; the first sealed head covers it."""
    from alembic import command

    from service.storage.database import alembic_config, make_engine

    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0001")
        with make_session_factory(engine)() as session:
            previous = audit.GENESIS
            for n in range(3):
                old = AuditLogEntry(
                    recorded_at=datetime.now(UTC),
                    user_id=n,
                    role="coach",
                    organisation_id="ES-X",
                    route="coach.matches",
                    query={"k": n},
                    model_version="m0",
                    results=[],
                    explanation_digest=None,
                    prev_hash=previous,
                    entry_hash="",
                )
                old.entry_hash = previous = audit.entry_hash(previous, audit._fields(old))
                session.add(old)
            session.commit()
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
        assert _verify(engine, sealer).ok  # nothing sealed yet, nothing to contradict
        _append(engine, sealer, 2)
        report = _verify(engine, sealer)
        assert report.ok and report.entries == 5, report
        assert sealer.path.read_text().splitlines()[-1].split()[2] == "5"
    finally:
        engine.dispose()
