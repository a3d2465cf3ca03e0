"""Initial schema: the world tables and the service tables.

Written out in full rather than generated at run time, and independent of
``service.storage.tables`` (a migration must keep meaning what it meant when it was written;
the helpers below are local for that reason). ``tests/integration/test_storage_migrations.py``
checks that the result equals the ORM metadata on SQLite and PostgreSQL.

Revision ID: 0001
Revises:
Create Date: 2026-01-12
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 64


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _instant() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _id(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(ID), nullable=nullable)


def _string(name: str, length: int, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def _column(name: str, kind: sa.types.TypeEngine[Any], *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, kind, nullable=nullable)


def _serial(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), autoincrement=True, nullable=False)


def _fk(
    table: str, column: str, target: str, target_column: str, *, cascade: bool = False
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.{target_column}"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="CASCADE" if cascade else None,
    )


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def _unique(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


def _check(table: str, name: str, column: str, values: Sequence[str]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=op.f(f"ck_{table}_{name}"))


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns), unique=False)


def upgrade() -> None:
    _world_tables()
    _service_tables()
    _audit_log_append_only()


def _world_tables() -> None:
    op.create_table(
        "organisations",
        _id("organisation_id"),
        _string("kind", 32),
        _string("name", 200),
        _string("country", 2),
        _string("municipality", 4),
        _pk("organisations", "organisation_id"),
    )
    op.create_table(
        "coaches",
        _id("coach_id"),
        _id("organisation_id"),
        _string("first_name", 200),
        _string("last_name", 200),
        _string("municipality", 4),
        _fk("coaches", "organisation_id", "organisations", "organisation_id"),
        _pk("coaches", "coach_id"),
    )
    _index("coaches", "organisation_id")
    op.create_table(
        "jobseekers",
        _id("jobseeker_id"),
        _string("first_name", 200),
        _string("last_name", 200),
        _string("email", 254, nullable=True),
        _string("phone", 32, nullable=True),
        _string("home_municipality", 4),
        _column("birth_year", sa.SmallInteger()),
        _string("sex", 16),
        _column("migrant_background", sa.Boolean()),
        _column("unemployment_start", sa.Date(), nullable=True),
        _column("driving_licence", sa.Boolean()),
        _column("max_hours_per_week", sa.Float(), nullable=True),
        _column("restrictions", _json()),
        _column("preferred_occupations", _json()),
        _column("max_commute_km", sa.Float()),
        _column("willing_to_relocate", sa.Boolean()),
        _column("accepted_job_forms", _json()),
        _column("languages", _json()),
        _id("coach_id"),
        _id("organisation_id"),
        _fk("jobseekers", "coach_id", "coaches", "coach_id"),
        _fk("jobseekers", "organisation_id", "organisations", "organisation_id"),
        _pk("jobseekers", "jobseeker_id"),
    )
    _index("jobseekers", "coach_id")
    _index("jobseekers", "organisation_id")
    op.create_table(
        "assessments",
        _id("assessment_id"),
        _id("jobseeker_id"),
        _id("coach_id"),
        _column("assessed_on", sa.Date()),
        _string("method", 16),
        _column("note", sa.Text()),
        _fk("assessments", "coach_id", "coaches", "coach_id"),
        _fk("assessments", "jobseeker_id", "jobseekers", "jobseeker_id", cascade=True),
        _pk("assessments", "assessment_id"),
    )
    _index("assessments", "coach_id")
    _index("assessments", "jobseeker_id")
    op.create_table(
        "skill_observations",
        _serial("observation_id"),
        _id("assessment_id"),
        _id("jobseeker_id"),
        _string("skill_uri", 200),
        _column("level", sa.SmallInteger()),
        _column("confidence", sa.REAL()),
        _fk("skill_observations", "assessment_id", "assessments", "assessment_id", cascade=True),
        _fk("skill_observations", "jobseeker_id", "jobseekers", "jobseeker_id", cascade=True),
        _pk("skill_observations", "observation_id"),
        _unique("skill_observations", "assessment_id", "skill_uri"),
    )
    _index("skill_observations", "jobseeker_id")
    op.create_table(
        "working_life_observations",
        _serial("observation_id"),
        _id("assessment_id"),
        _string("skill", 32),
        _column("level", sa.SmallInteger()),
        _fk(
            "working_life_observations",
            "assessment_id",
            "assessments",
            "assessment_id",
            cascade=True,
        ),
        _pk("working_life_observations", "observation_id"),
        _unique("working_life_observations", "assessment_id", "skill"),
    )
    op.create_table(
        "suppliers",
        _id("supplier_id"),
        _id("organisation_id"),
        _string("name", 200),
        _string("country", 2),
        _string("municipality", 4),
        _string("business_id", 32),
        _fk("suppliers", "organisation_id", "organisations", "organisation_id"),
        _pk("suppliers", "supplier_id"),
    )
    _index("suppliers", "organisation_id")
    op.create_table(
        "contracts",
        _id("contract_id"),
        _id("buyer_id"),
        _string("buyer_kind", 32),
        _string("buyer_municipality", 4, nullable=True),
        _id("supplier_id"),
        _string("cpv_code", 16),
        _string("title", 300),
        _column("starts_on", sa.Date()),
        _column("ends_on", sa.Date()),
        _column("value_eur", sa.Float()),
        _fk("contracts", "buyer_id", "organisations", "organisation_id"),
        _fk("contracts", "supplier_id", "suppliers", "supplier_id"),
        _pk("contracts", "contract_id"),
    )
    _index("contracts", "buyer_id")
    _index("contracts", "supplier_id")
    op.create_table(
        "employment_conditions",
        _id("condition_id"),
        _id("contract_id"),
        _column("target_groups", _json()),
        _column("hires_required", sa.Integer()),
        _column("deadline", sa.Date()),
        _column("allowed_job_forms", _json()),
        _column("performance_based", sa.Boolean()),
        _fk("employment_conditions", "contract_id", "contracts", "contract_id"),
        _pk("employment_conditions", "condition_id"),
    )
    _index("employment_conditions", "contract_id")
    op.create_table(
        "vacancies",
        _id("vacancy_id"),
        _id("supplier_id"),
        _id("contract_id", nullable=True),
        _id("condition_id", nullable=True),
        _string("occupation_uri", 200),
        _string("title", 300),
        _string("municipality", 4),
        _string("job_form", 16),
        _column("opens_on", sa.Date()),
        _column("closes_on", sa.Date()),
        _column("remote_share", sa.Float()),
        _column("hours_per_week", sa.Float()),
        _column("shift_work", sa.Boolean()),
        _column("night_work", sa.Boolean()),
        _string("physical_demand", 16),
        _column("languages", _json()),
        _column("driving_licence_required", sa.Boolean()),
        _column("openings", sa.Integer()),
        _fk("vacancies", "condition_id", "employment_conditions", "condition_id"),
        _fk("vacancies", "contract_id", "contracts", "contract_id"),
        _fk("vacancies", "supplier_id", "suppliers", "supplier_id"),
        _pk("vacancies", "vacancy_id"),
    )
    _index("vacancies", "condition_id")
    _index("vacancies", "contract_id")
    _index("vacancies", "supplier_id")
    op.create_table(
        "vacancy_skills",
        _serial("vacancy_skill_id"),
        _id("vacancy_id"),
        _string("skill_uri", 200),
        _column("required", sa.Boolean()),
        _column("min_level", sa.SmallInteger()),
        _fk("vacancy_skills", "vacancy_id", "vacancies", "vacancy_id", cascade=True),
        _pk("vacancy_skills", "vacancy_skill_id"),
        _unique("vacancy_skills", "vacancy_id", "skill_uri"),
    )
    # Outcomes and exposures reference nothing: the history outlives the rows it mentions.
    op.create_table(
        "outcomes",
        _id("event_id"),
        _id("jobseeker_id"),
        _id("vacancy_id"),
        _string("stage", 32),
        _string("reason", 32, nullable=True),
        _column("occurred_at", _instant()),
        _pk("outcomes", "event_id"),
    )
    _index("outcomes", "jobseeker_id")
    _index("outcomes", "vacancy_id")
    op.create_table(
        "exposures",
        _id("exposure_id"),
        _string("query_kind", 32),
        _id("query_id"),
        _id("jobseeker_id"),
        _id("vacancy_id"),
        _column("position", sa.SmallInteger()),
        _column("shown_at", _instant()),
        _column("propensity", sa.Float()),
        _string("policy", 32),
        _pk("exposures", "exposure_id"),
    )
    _index("exposures", "query_id")


ROLES = ("coach", "employer", "procurement", "admin")
REASON_CODES = (
    "commute",
    "language",
    "skills",
    "work_ability",
    "hours",
    "not_interested",
    "position_filled",
    "other",
)


def _service_tables() -> None:
    op.create_table(
        "users",
        _serial("user_id"),
        _string("name", 200),
        _string("role", 16),
        _id("organisation_id"),
        _string("token_hash", 64),
        _column("created_at", _instant()),
        _column("active", sa.Boolean()),
        _check("users", "role", "role", ROLES),
        _fk("users", "organisation_id", "organisations", "organisation_id"),
        _pk("users", "user_id"),
        _unique("users", "token_hash"),
    )
    _index("users", "organisation_id")
    op.create_table(
        "proposals",
        _id("proposal_id"),
        _id("jobseeker_id"),
        _id("vacancy_id"),
        _column("proposed_by", sa.Integer()),
        _column("consent_given_at", _instant()),
        _string("consent_method", 32),
        _column("note", sa.Text()),
        _column("created_at", _instant()),
        _fk("proposals", "jobseeker_id", "jobseekers", "jobseeker_id", cascade=True),
        _fk("proposals", "proposed_by", "users", "user_id"),
        _fk("proposals", "vacancy_id", "vacancies", "vacancy_id", cascade=True),
        _pk("proposals", "proposal_id"),
        _unique("proposals", "jobseeker_id", "vacancy_id"),
    )
    _index("proposals", "proposed_by")
    _index("proposals", "vacancy_id")
    op.create_table(
        "feedback",
        _serial("feedback_id"),
        _id("jobseeker_id"),
        _id("vacancy_id"),
        _column("user_id", sa.Integer()),
        _string("reason_code", 32),
        _column("comment", sa.Text()),
        _column("created_at", _instant()),
        _check("feedback", "reason_code", "reason_code", REASON_CODES),
        _fk("feedback", "jobseeker_id", "jobseekers", "jobseeker_id", cascade=True),
        _fk("feedback", "user_id", "users", "user_id"),
        _fk("feedback", "vacancy_id", "vacancies", "vacancy_id", cascade=True),
        _pk("feedback", "feedback_id"),
    )
    _index("feedback", "jobseeker_id")
    _index("feedback", "user_id")
    _index("feedback", "vacancy_id")
    op.create_table(
        "audit_log",
        _serial("seq"),
        _column("recorded_at", _instant()),
        _column("user_id", sa.Integer(), nullable=True),
        _string("role", 16, nullable=True),
        _id("organisation_id", nullable=True),
        _string("route", 300),
        _column("query", _json()),
        _string("model_version", 128, nullable=True),
        _column("results", _json()),
        _string("explanation_digest", 64, nullable=True),
        _string("prev_hash", 64),
        _string("entry_hash", 64),
        _pk("audit_log", "seq"),
        _unique("audit_log", "entry_hash"),
        sqlite_autoincrement=True,
    )
    _index("audit_log", "user_id")
    op.create_table(
        "changes",
        _serial("seq"),
        _string("entity", 16),
        _id("entity_id"),
        _string("op", 16),
        _column("recorded_at", _instant()),
        _check("changes", "entity", "entity", ("jobseeker", "vacancy")),
        _check("changes", "op", "op", ("upsert", "delete")),
        _pk("changes", "seq"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "meta",
        _string("key", ID),
        _column("value", sa.Text()),
        _pk("meta", "key"),
    )


def _audit_log_append_only() -> None:
    """Triggers that refuse UPDATE and DELETE on the audit log, whoever connects."""
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only';
            END;
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_log_no_{action.lower()} BEFORE {action} ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in (
        "meta",
        "changes",
        "audit_log",
        "feedback",
        "proposals",
        "users",
        "exposures",
        "outcomes",
        "vacancy_skills",
        "vacancies",
        "employment_conditions",
        "contracts",
        "suppliers",
        "working_life_observations",
        "skill_observations",
        "assessments",
        "jobseekers",
        "coaches",
        "organisations",
    ):
        op.drop_table(table)
