"""Trust under misuse: a sealed audit log, owned outcomes, expiring tokens.

Like 0001 this is written out in full and independent of ``service.storage.tables``;
``tests/integration/test_storage_migrations.py`` checks the result equals the ORM metadata.
Each section below belongs to one capability of issue 12.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _audit_upgrade()
    _outcomes_upgrade()
    _tokens_upgrade()


def downgrade() -> None:
    _tokens_downgrade()
    _outcomes_downgrade()
    _audit_downgrade()


# ---- audit log: sealed heads, operator role, keyed pseudonyms (deliverables 3 and 4) -------


#: The users' roles before and after this revision (the platform operator is new).
_ROLES_BEFORE = ("coach", "employer", "procurement", "admin")
_ROLES_AFTER = (*_ROLES_BEFORE, "operator")
#: The tables no row of which may ever change or go: the log and its sealed heads.
_APPEND_ONLY = ("audit_log", "audit_seals")


def _audit_upgrade() -> None:
    """Sealed heads, keyed pseudonyms, the operator role; TRUNCATE and REPLACE refused."""
    op.create_table(
        "audit_seals",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_seals")),
    )
    op.create_table(
        "person_keys",
        sa.Column("jobseeker_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("pseudonym", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("jobseeker_id", name=op.f("pk_person_keys")),
        sa.UniqueConstraint("pseudonym", name=op.f("uq_person_keys_pseudonym")),
    )
    _set_roles(_ROLES_BEFORE, _ROLES_AFTER)
    if op.get_context().dialect.name == "postgresql":
        # One function for both tables and every statement; 0001's stays for audit_log rows.
        op.execute(
            """
            CREATE FUNCTION kohtaanto_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
            END;
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_seals_append_only BEFORE UPDATE OR DELETE ON audit_seals "
            "FOR EACH ROW EXECUTE FUNCTION kohtaanto_append_only()"
        )
        for table in _APPEND_ONLY:
            # Row triggers do not fire on TRUNCATE: without this it emptied the log.
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION kohtaanto_append_only()"
            )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_seals_no_{action.lower()} BEFORE {action} ON audit_seals "
            "BEGIN SELECT RAISE(ABORT, 'audit_seals is append-only'); END"
        )
    # INSERT OR REPLACE removes the conflicting row without firing DELETE triggers (unless a
    # connection turns recursive_triggers on), so it rewrote entries: refuse any insert whose
    # key is taken, whatever the connection's settings. An autoincremented seq is -1 here.
    for table, key in (
        ("audit_log", "seq = NEW.seq OR entry_hash = NEW.entry_hash"),
        ("audit_seals", "seq = NEW.seq"),
    ):
        op.execute(
            f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {key}) "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


def _audit_downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in _APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER IF EXISTS audit_seals_append_only ON audit_seals")
        op.execute("DROP FUNCTION IF EXISTS kohtaanto_append_only()")
    else:
        for trigger in (
            "audit_log_no_replace",
            "audit_seals_no_replace",
            "audit_seals_no_update",
            "audit_seals_no_delete",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DELETE FROM users WHERE role = 'operator'")
    _set_roles(_ROLES_AFTER, _ROLES_BEFORE)
    op.drop_table("person_keys")
    op.drop_table("audit_seals")


def _set_roles(before: Sequence[str], after: Sequence[str]) -> None:
    """Replace the users table's CHECK on ``role``.

    SQLite cannot alter a constraint, and rebuilding ``users`` (what Alembic's batch mode
    does) inside the migration's transaction trips the foreign keys of proposals and
    feedback. Changing only the allowed values changes no stored row, so the SQLite manual's
    procedure for such changes applies: edit the table's SQL in the schema and bump
    ``schema_version`` so that every connection reads it again.
    """
    old, new = (", ".join(f"'{role}'" for role in roles) for roles in (before, after))
    if op.get_context().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_users_role"), "users", type_="check")
        op.create_check_constraint(op.f("ck_users_role"), "users", f"role IN ({new})")
        return
    connection = op.get_bind()
    version = connection.exec_driver_sql("PRAGMA schema_version").scalar_one()
    connection.exec_driver_sql("PRAGMA writable_schema = ON")
    connection.exec_driver_sql(
        "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'users'",
        (f"role IN ({old})", f"role IN ({new})"),
    )
    connection.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    connection.exec_driver_sql("PRAGMA writable_schema = OFF")


# ---- outcomes with owners: claims and confirmations (deliverable 1) ------------------------


def _outcomes_upgrade() -> None:
    """``outcome_claims``: a coach's report of an outcome, counted nowhere until confirmed."""
    table = "outcome_claims"
    instant = sa.DateTime(timezone=True)
    op.create_table(
        table,
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("jobseeker_id", sa.String(64), nullable=False),
        sa.Column("vacancy_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("occurred_at", instant, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.Integer(), nullable=False),
        sa.Column("claimed_at", instant, nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", instant, nullable=True),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.CheckConstraint(
            "stage IN ('interviewed', 'hired', 'retained_6m', 'declined_by_employer')",
            name=op.f("ck_outcome_claims_stage"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'rejected')",
            name=op.f("ck_outcome_claims_status"),
        ),
        sa.ForeignKeyConstraint(
            ["jobseeker_id"],
            ["jobseekers.jobseeker_id"],
            name=op.f("fk_outcome_claims_jobseeker_id_jobseekers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["vacancy_id"],
            ["vacancies.vacancy_id"],
            name=op.f("fk_outcome_claims_vacancy_id_vacancies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["claimed_by"], ["users.user_id"], name=op.f("fk_outcome_claims_claimed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.user_id"], name=op.f("fk_outcome_claims_decided_by_users")
        ),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_outcome_claims")),
    )
    for column in ("jobseeker_id", "vacancy_id"):
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def _outcomes_downgrade() -> None:
    for column in ("vacancy_id", "jobseeker_id"):
        op.drop_index(op.f(f"ix_outcome_claims_{column}"), table_name="outcome_claims")
    op.drop_table("outcome_claims")


# ---- token lifecycle: expiry and rotation (deliverable 5) ----------------------------------


#: How long the tokens of users that exist before this revision stay valid (the settings'
#: default for new tokens, ``service.token_lifetime_days``, written out here on purpose).
EXISTING_TOKEN_DAYS = 90


def _tokens_upgrade() -> None:
    op.add_column("users", sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True))
    # Tokens issued before expiry existed get the default lifetime from now on, rather than
    # staying valid for ever: a token nobody rotates is the one that leaks.
    expires = datetime.now(UTC) + timedelta(days=EXISTING_TOKEN_DAYS)
    if op.get_bind().dialect.name == "sqlite":
        expires = expires.replace(tzinfo=None)  # stored as naive UTC (tables.UtcDateTime)
    users = sa.table("users", sa.column("token_expires_at", sa.DateTime(timezone=True)))
    op.execute(users.update().values(token_expires_at=expires))


def _tokens_downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("token_expires_at")
