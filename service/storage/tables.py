"""The service's database tables as typed SQLAlchemy 2 declarative classes.

Two families live here:

* **World tables** mirror :data:`features.world_store.SCHEMAS` column for column (same table
  and column names), so a generated world loads into the database and reads back as the same
  DataFrames. List and struct columns (``languages``, ``restrictions``, ``target_groups``...)
  are JSON, dates are ``Date`` and timestamps timezone-aware. The classes end in ``Record`` so
  they are never confused with the :mod:`matching.domain` value objects of the same name.
* **Service tables**: users and their token hashes, proposals (with the jobseeker's
  consent), feedback, the append-only audit log, the change feed the workers poll, and
  ``meta`` (the loaded world's ``as_of`` and fingerprint).

Schema changes go through an Alembic migration in :mod:`service.storage.migrations`; a test
checks that the migrated schema equals this metadata on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    REAL,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from matching.domain import ReasonCode

__all__ = [
    "WORLD_RECORDS",
    "AssessmentRecord",
    "AuditLogEntry",
    "AuditSeal",
    "AuditVerification",
    "Base",
    "Change",
    "ChangeEntity",
    "ChangeOp",
    "ClaimStage",
    "ClaimStatus",
    "CoachRecord",
    "ContractRecord",
    "EmploymentConditionRecord",
    "ExposureRecord",
    "Feedback",
    "JobseekerRecord",
    "MetaEntry",
    "OrganisationRecord",
    "OutcomeClaim",
    "OutcomeRecord",
    "PerformanceTermsRecord",
    "PersonKey",
    "Proposal",
    "Role",
    "SkillObservationRecord",
    "SupplierRecord",
    "User",
    "UtcDateTime",
    "VacancyRecord",
    "VacancySkillRecord",
    "WebSession",
    "WorkingLifeObservationRecord",
    "utc_now",
]

#: Deterministic constraint names, so migrations can name what they create and drop.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Lengths: identifiers are at most 64 characters (matching.domain), ESCO URIs about 80.
ID = 64
URI = 200
CODE = 16
NAME = 200
TITLE = 300
DIGEST = 64  # sha256 hex
PASSWORD_HASH = 255  # an argon2 PHC string (about 100 characters)


def utc_now() -> datetime:
    """The current instant, timezone-aware (the default of every ``*_at`` column)."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, stored as UTC.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so the naive UTC value is
    stored and read back as UTC. Naive datetimes are refused: their zone would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{value!r} has no time zone; store timezone-aware instants")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: JSON everywhere, JSONB on PostgreSQL (binary, indexable, equality-comparable).
JsonType = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _in(column: str, values: type[StrEnum]) -> str:
    """A CHECK expression limiting ``column`` to the values of an enum."""
    return f"{column} IN ({', '.join(repr(member.value) for member in values)})"


def _fk(target: str, *, cascade: bool = False) -> ForeignKey:
    return ForeignKey(target, ondelete="CASCADE" if cascade else None)


# --------------------------------------------------------------------------------------------
# World tables (features.world_store.SCHEMAS)
# --------------------------------------------------------------------------------------------


class OrganisationRecord(Base):
    __tablename__ = "organisations"

    organisation_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(NAME))
    country: Mapped[str] = mapped_column(String(2))
    municipality: Mapped[str] = mapped_column(String(4))


class CoachRecord(Base):
    __tablename__ = "coaches"

    coach_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(
        String(ID), _fk("organisations.organisation_id"), index=True
    )
    first_name: Mapped[str] = mapped_column(String(NAME))
    last_name: Mapped[str] = mapped_column(String(NAME))
    municipality: Mapped[str] = mapped_column(String(4))


class JobseekerRecord(Base):
    __tablename__ = "jobseekers"
    # The caseload pages (migration 0004): in order of unemployment, covering the filters.
    __table_args__ = (
        Index(
            "ix_jobseekers_caseload",
            "organisation_id",
            "unemployment_start",
            "jobseeker_id",
            "last_name",
            "first_name",
            "home_municipality",
            "birth_year",
            "migrant_background",
            "max_hours_per_week",
            "restrictions",
        ),
        Index("ix_jobseekers_organisation_id_jobseeker_id", "organisation_id", "jobseeker_id"),
        Index(
            "ix_jobseekers_organisation_name",
            "organisation_id",
            "last_name",
            "first_name",
            "jobseeker_id",
        ),
    )

    jobseeker_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(NAME))
    last_name: Mapped[str] = mapped_column(String(NAME))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    home_municipality: Mapped[str] = mapped_column(String(4))
    birth_year: Mapped[int] = mapped_column(SmallInteger)
    sex: Mapped[str] = mapped_column(String(CODE))
    migrant_background: Mapped[bool] = mapped_column(Boolean)
    unemployment_start: Mapped[date | None] = mapped_column(Date)
    driving_licence: Mapped[bool] = mapped_column(Boolean)
    max_hours_per_week: Mapped[float | None] = mapped_column(Float)  # null = full time
    restrictions: Mapped[list[str]] = mapped_column(JsonType)
    preferred_occupations: Mapped[list[str]] = mapped_column(JsonType)
    max_commute_km: Mapped[float] = mapped_column(Float)
    willing_to_relocate: Mapped[bool] = mapped_column(Boolean)
    accepted_job_forms: Mapped[list[str]] = mapped_column(JsonType)
    languages: Mapped[list[dict[str, str]]] = mapped_column(JsonType)
    coach_id: Mapped[str] = mapped_column(String(ID), _fk("coaches.coach_id"), index=True)
    organisation_id: Mapped[str] = mapped_column(
        String(ID), _fk("organisations.organisation_id"), index=True
    )


class AssessmentRecord(Base):
    __tablename__ = "assessments"

    assessment_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    jobseeker_id: Mapped[str] = mapped_column(
        String(ID), _fk("jobseekers.jobseeker_id", cascade=True), index=True
    )
    coach_id: Mapped[str] = mapped_column(String(ID), _fk("coaches.coach_id"), index=True)
    assessed_on: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(CODE))
    note: Mapped[str] = mapped_column(Text)


class SkillObservationRecord(Base):
    """One skill of an assessment; the surrogate id keeps the rows in the order written."""

    __tablename__ = "skill_observations"
    __table_args__ = (UniqueConstraint("assessment_id", "skill_uri"),)

    observation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assessment_id: Mapped[str] = mapped_column(
        String(ID), _fk("assessments.assessment_id", cascade=True)
    )
    jobseeker_id: Mapped[str] = mapped_column(
        String(ID), _fk("jobseekers.jobseeker_id", cascade=True), index=True
    )
    skill_uri: Mapped[str] = mapped_column(String(URI))
    level: Mapped[int] = mapped_column(SmallInteger)
    confidence: Mapped[float] = mapped_column(REAL)  # float32 in the world


class WorkingLifeObservationRecord(Base):
    __tablename__ = "working_life_observations"
    __table_args__ = (UniqueConstraint("assessment_id", "skill"),)

    observation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assessment_id: Mapped[str] = mapped_column(
        String(ID), _fk("assessments.assessment_id", cascade=True)
    )
    skill: Mapped[str] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(SmallInteger)


class SupplierRecord(Base):
    __tablename__ = "suppliers"

    supplier_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(
        String(ID), _fk("organisations.organisation_id"), index=True
    )
    name: Mapped[str] = mapped_column(String(NAME))
    country: Mapped[str] = mapped_column(String(2))
    municipality: Mapped[str] = mapped_column(String(4))
    business_id: Mapped[str] = mapped_column(String(32))


class ContractRecord(Base):
    __tablename__ = "contracts"

    contract_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    buyer_id: Mapped[str] = mapped_column(
        String(ID), _fk("organisations.organisation_id"), index=True
    )
    buyer_kind: Mapped[str] = mapped_column(String(32))
    buyer_municipality: Mapped[str | None] = mapped_column(String(4))  # null for a CPB
    supplier_id: Mapped[str] = mapped_column(String(ID), _fk("suppliers.supplier_id"), index=True)
    cpv_code: Mapped[str] = mapped_column(String(CODE))
    title: Mapped[str] = mapped_column(String(TITLE))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    value_eur: Mapped[float] = mapped_column(Float)


class EmploymentConditionRecord(Base):
    __tablename__ = "employment_conditions"

    condition_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    contract_id: Mapped[str] = mapped_column(String(ID), _fk("contracts.contract_id"), index=True)
    target_groups: Mapped[list[str]] = mapped_column(JsonType)
    hires_required: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[date] = mapped_column(Date)
    allowed_job_forms: Mapped[list[str]] = mapped_column(JsonType)
    performance_based: Mapped[bool] = mapped_column(Boolean)


class PerformanceTermsRecord(Base):
    """The terms of a performance-based condition (docs/performance.md): points per verified
    outcome, weighted by deciding target group and job form, a price per point and a cap."""

    __tablename__ = "performance_terms"
    __table_args__ = (
        CheckConstraint("price_per_point_eur > 0", name="price_positive"),
        CheckConstraint("cap_eur > 0", name="cap_positive"),
        CheckConstraint("period IN ('month', 'quarter')", name="period"),
    )

    condition_id: Mapped[str] = mapped_column(
        String(ID), _fk("employment_conditions.condition_id"), primary_key=True
    )
    price_per_point_eur: Mapped[float] = mapped_column(Float)
    cap_eur: Mapped[float] = mapped_column(Float)
    points_hired: Mapped[float] = mapped_column(Float)
    points_retained_6m: Mapped[float] = mapped_column(Float)
    points_retained_12m: Mapped[float] = mapped_column(Float)
    weight_tg_registered_unemployed: Mapped[float] = mapped_column(Float)
    weight_tg_unemployed_3m: Mapped[float] = mapped_column(Float)
    weight_tg_long_term_unemployed: Mapped[float] = mapped_column(Float)
    weight_tg_young: Mapped[float] = mapped_column(Float)
    weight_tg_older: Mapped[float] = mapped_column(Float)
    weight_tg_migrant_background: Mapped[float] = mapped_column(Float)
    weight_tg_partial_work_capacity: Mapped[float] = mapped_column(Float)
    weight_form_employment: Mapped[float] = mapped_column(Float)
    weight_form_apprenticeship: Mapped[float] = mapped_column(Float)
    weight_form_work_trial: Mapped[float] = mapped_column(Float)
    weight_form_pay_subsidised: Mapped[float] = mapped_column(Float)
    period: Mapped[str] = mapped_column(String(CODE))


class VacancyRecord(Base):
    __tablename__ = "vacancies"

    vacancy_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    supplier_id: Mapped[str] = mapped_column(String(ID), _fk("suppliers.supplier_id"), index=True)
    contract_id: Mapped[str | None] = mapped_column(
        String(ID), _fk("contracts.contract_id"), index=True
    )
    condition_id: Mapped[str | None] = mapped_column(
        String(ID), _fk("employment_conditions.condition_id"), index=True
    )
    occupation_uri: Mapped[str] = mapped_column(String(URI))
    title: Mapped[str] = mapped_column(String(TITLE))
    municipality: Mapped[str] = mapped_column(String(4))
    job_form: Mapped[str] = mapped_column(String(CODE))
    opens_on: Mapped[date] = mapped_column(Date)
    closes_on: Mapped[date] = mapped_column(Date)
    remote_share: Mapped[float] = mapped_column(Float)
    hours_per_week: Mapped[float] = mapped_column(Float)
    shift_work: Mapped[bool] = mapped_column(Boolean)
    night_work: Mapped[bool] = mapped_column(Boolean)
    physical_demand: Mapped[str] = mapped_column(String(CODE))
    languages: Mapped[list[dict[str, str]]] = mapped_column(JsonType)
    driving_licence_required: Mapped[bool] = mapped_column(Boolean)
    openings: Mapped[int] = mapped_column(Integer)


class VacancySkillRecord(Base):
    __tablename__ = "vacancy_skills"
    __table_args__ = (UniqueConstraint("vacancy_id", "skill_uri"),)

    vacancy_skill_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    vacancy_id: Mapped[str] = mapped_column(String(ID), _fk("vacancies.vacancy_id", cascade=True))
    skill_uri: Mapped[str] = mapped_column(String(URI))
    required: Mapped[bool] = mapped_column(Boolean)
    min_level: Mapped[int] = mapped_column(SmallInteger)


class OutcomeRecord(Base):
    """An outcome event. No foreign keys on purpose: the training history outlives the
    jobseeker and vacancy rows it mentions, and tens of millions of rows should not pay for
    reference checks on every load."""

    __tablename__ = "outcomes"

    event_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    jobseeker_id: Mapped[str] = mapped_column(String(ID), index=True)
    vacancy_id: Mapped[str] = mapped_column(String(ID), index=True)
    stage: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(32))  # null unless a decline
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ExposureRecord(Base):
    """A logged shortlist position (no foreign keys, like :class:`OutcomeRecord`)."""

    __tablename__ = "exposures"

    exposure_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    query_kind: Mapped[str] = mapped_column(String(32))
    query_id: Mapped[str] = mapped_column(String(ID), index=True)
    jobseeker_id: Mapped[str] = mapped_column(String(ID))
    vacancy_id: Mapped[str] = mapped_column(String(ID))
    position: Mapped[int] = mapped_column(SmallInteger)
    shown_at: Mapped[datetime] = mapped_column(UtcDateTime)
    propensity: Mapped[float] = mapped_column(Float)
    policy: Mapped[str] = mapped_column(String(32))


#: World table name -> its class, in load order (every table after those it references).
WORLD_RECORDS: dict[str, type[Base]] = {
    record.__tablename__: record
    for record in (
        OrganisationRecord,
        CoachRecord,
        JobseekerRecord,
        AssessmentRecord,
        SkillObservationRecord,
        WorkingLifeObservationRecord,
        SupplierRecord,
        ContractRecord,
        EmploymentConditionRecord,
        PerformanceTermsRecord,
        VacancyRecord,
        VacancySkillRecord,
        OutcomeRecord,
        ExposureRecord,
    )
}


# --------------------------------------------------------------------------------------------
# Service tables
# --------------------------------------------------------------------------------------------


class Role(StrEnum):
    """What a user may do (see the users table in DESIGN.md)."""

    COACH = "coach"
    EMPLOYER = "employer"
    PROCUREMENT = "procurement"
    ADMIN = "admin"
    #: The platform operator: reads every organisation's audit entries (an admin reads only
    #: its own organisation's).
    OPERATOR = "operator"


class ChangeEntity(StrEnum):
    JOBSEEKER = "jobseeker"
    VACANCY = "vacancy"


class ChangeOp(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"


class User(Base):
    """A person who calls the API; only the sha256 of their bearer token is stored."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", Role), name="role"),)

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME))
    role: Mapped[str] = mapped_column(String(CODE))
    organisation_id: Mapped[str] = mapped_column(
        String(ID), _fk("organisations.organisation_id"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(DIGEST), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: After this instant the token is refused ("token expired"); NULL: it does not expire.
    token_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # ---- signing in to the web application (service.operations.accounts) ----
    #: The name typed at sign-in; unique. NULL: the user cannot sign in to the pages.
    username: Mapped[str | None] = mapped_column(
        String(NAME), nullable=True, index=True, unique=True
    )
    #: The argon2id hash of the password (PHC string); NULL: no password set.
    password_hash: Mapped[str | None] = mapped_column(String(PASSWORD_HASH), nullable=True)
    #: The pages' language ("fi", "sv", "en"); NULL: from the browser's Accept-Language.
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)
    #: Failed sign-ins in a row (reset by a successful one).
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Until this instant every sign-in is refused (after too many failures in a row).
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class WebSession(Base):
    """A signed-in browser: only the sha256 of the session cookie's value is stored."""

    __tablename__ = "web_sessions"

    session_hash: Mapped[str] = mapped_column(String(DIGEST), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, _fk("users.user_id", cascade=True), index=True)
    #: The synchronizer token every form posted in this session must carry.
    csrf_token: Mapped[str] = mapped_column(String(DIGEST))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    #: The absolute end of the session, however active it is.
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Proposal(Base):
    """A coach proposes a jobseeker to a vacancy; without recorded consent there is none."""

    __tablename__ = "proposals"
    __table_args__ = (UniqueConstraint("jobseeker_id", "vacancy_id"),)

    proposal_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    jobseeker_id: Mapped[str] = mapped_column(
        String(ID), _fk("jobseekers.jobseeker_id", cascade=True)
    )
    vacancy_id: Mapped[str] = mapped_column(
        String(ID), _fk("vacancies.vacancy_id", cascade=True), index=True
    )
    proposed_by: Mapped[int] = mapped_column(Integer, _fk("users.user_id"), index=True)
    consent_given_at: Mapped[datetime] = mapped_column(UtcDateTime)
    consent_method: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class ClaimStatus(StrEnum):
    """Where a coach's outcome claim stands: only a confirmed one became an outcome."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class ClaimStage(StrEnum):
    """Outcome stages a coach can only claim: the vacancy's employer decides them."""

    INTERVIEWED = "interviewed"
    HIRED = "hired"
    RETAINED_6M = "retained_6m"
    DECLINED_BY_EMPLOYER = "declined_by_employer"


class OutcomeClaim(Base):
    """An outcome a coach reports and the vacancy's employer confirms or rejects.

    A claim counts nowhere (no ledger, statistics, live state or training label reads this
    table): confirming it writes the outcome event, in the same transaction, and links it
    here by ``event_id``. Erasing the person or deleting the vacancy deletes the claim.
    """

    __tablename__ = "outcome_claims"
    __table_args__ = (
        CheckConstraint(_in("stage", ClaimStage), name="stage"),
        CheckConstraint(_in("status", ClaimStatus), name="status"),
    )

    claim_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    jobseeker_id: Mapped[str] = mapped_column(
        String(ID), _fk("jobseekers.jobseeker_id", cascade=True), index=True
    )
    vacancy_id: Mapped[str] = mapped_column(
        String(ID), _fk("vacancies.vacancy_id", cascade=True), index=True
    )
    stage: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(32))  # null unless a decline
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(CODE))
    claimed_by: Mapped[int] = mapped_column(Integer, _fk("users.user_id"))
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    decided_by: Mapped[int | None] = mapped_column(Integer, _fk("users.user_id"))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    event_id: Mapped[str | None] = mapped_column(String(ID))  # the outcome once confirmed


class Feedback(Base):
    """Why a suggestion was rejected (a structured reason from matching.domain.ReasonCode)."""

    __tablename__ = "feedback"
    __table_args__ = (CheckConstraint(_in("reason_code", ReasonCode), name="reason_code"),)

    feedback_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    jobseeker_id: Mapped[str] = mapped_column(
        String(ID), _fk("jobseekers.jobseeker_id", cascade=True), index=True
    )
    vacancy_id: Mapped[str] = mapped_column(
        String(ID), _fk("vacancies.vacancy_id", cascade=True), index=True
    )
    user_id: Mapped[int] = mapped_column(Integer, _fk("users.user_id"), index=True)
    reason_code: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class AuditLogEntry(Base):
    """One answered request, hash-chained to the one before it.

    Append-only: the migration installs triggers that refuse UPDATE and DELETE. There are no
    foreign keys, so the log keeps its facts when a user or jobseeker row goes away.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_organisation_id_seq", "organisation_id", "seq"),  # 0004
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    role: Mapped[str | None] = mapped_column(String(CODE))
    organisation_id: Mapped[str | None] = mapped_column(String(ID))
    route: Mapped[str] = mapped_column(String(TITLE))
    query: Mapped[dict[str, Any]] = mapped_column(JsonType)
    model_version: Mapped[str | None] = mapped_column(String(128))
    results: Mapped[list[Any]] = mapped_column(JsonType)
    explanation_digest: Mapped[str | None] = mapped_column(String(DIGEST))
    prev_hash: Mapped[str] = mapped_column(String(DIGEST))
    entry_hash: Mapped[str] = mapped_column(String(DIGEST), unique=True)


class AuditSeal(Base):
    """The sealed head of the audit chain after one commit group (see ``service.api.audit``).

    ``mac`` is an HMAC over (seq, entry_hash, entries) with a key the database does not hold,
    so a chain recomputed after a change cannot be sealed again by whoever changed it.
    Append-only like the log itself.
    """

    __tablename__ = "audit_seals"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entry_hash: Mapped[str] = mapped_column(String(DIGEST))
    #: How many entries the chain holds up to and including ``seq``.
    entries: Mapped[int] = mapped_column(Integer)
    mac: Mapped[str] = mapped_column(String(DIGEST))


class AuditVerification(Base):
    """One full check of the audit chain and its verdict (migration 0005).

    The operator's page shows these instead of recomputing the chain on every view. No
    foreign key on ``user_id``: the record keeps its facts when the user goes away.
    """

    __tablename__ = "audit_verifications"
    __table_args__ = (
        CheckConstraint("status IN ('intact', 'tampered', 'cannot_verify')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    verified_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    user_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(CODE))
    entries: Mapped[int] = mapped_column(Integer)
    first_bad_seq: Mapped[int | None] = mapped_column(Integer)
    problem: Mapped[str | None] = mapped_column(Text)


class PersonKey(Base):
    """A random key per jobseeker behind the pseudonyms that name them in the audit log.

    Erasure deletes the row (crypto-shredding): the entries keep verifying, but nobody can
    tell any more whom their pseudonyms named. No foreign key: the key is created at the
    first audit entry naming the person, and the erasure deletes it explicitly. The pseudonym
    is stored beside the key: the row is the only link either way.
    """

    __tablename__ = "person_keys"

    jobseeker_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    key: Mapped[str] = mapped_column(String(DIGEST))  # 32 random bytes, hex
    #: HMAC(key, jobseeker_id), what the entries say; kept for the way back (training and
    #: "was this person shortlisted?" look entries up by it).
    pseudonym: Mapped[str] = mapped_column(String(ID), unique=True)


class Change(Base):
    """The change feed: every write to a jobseeker or vacancy appends one row.

    Each service worker polls ``seq > last_seen`` to update its in-memory engine. On SQLite
    ``sqlite_autoincrement`` keeps sequence numbers from ever being reused.
    """

    __tablename__ = "changes"
    __table_args__ = (
        CheckConstraint(_in("entity", ChangeEntity), name="entity"),
        CheckConstraint(_in("op", ChangeOp), name="op"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(CODE))
    entity_id: Mapped[str] = mapped_column(String(ID))
    op: Mapped[str] = mapped_column(String(CODE))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class MetaEntry(Base):
    """Key-value facts about the database: ``as_of``, ``world_fingerprint``..."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(ID), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
