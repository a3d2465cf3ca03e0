"""What a job coach does: jobseekers, assessments, matches, proposals, feedback, outcomes.

One function per operation. Each checks that the caller's organisation serves the person
(a foreign person is :class:`NotFoundError`, exactly as a missing one), validates, writes in
one transaction and commits; the JSON routes (:mod:`service.api.routers.coaches`) and the
coach's pages (:mod:`service.web.routes.coach`) only translate in and out.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from fastapi import UploadFile
from sqlalchemy import String, cast, delete, false, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from matching.domain import (
    FULL_TIME_HOURS,
    CoachingAssessment,
    DomainValidationError,
    JobForm,
    JobPreferences,
    Jobseeker,
    LanguageSkill,
    SkillObservation,
    TargetGroup,
    WorkCapacity,
    WorkingLifeObservation,
    check_references,
)
from matching.eligibility import RuleKind, TargetGroupRule, add_months, rules_for
from matching.engine import Match, MatchFilters, MatchList
from matching.stages import stage
from service.api import audit, encoding
from service.api.catalog import catalog_of, municipality_row
from service.api.deps import release
from service.api.explain import explanation_body, optional_float
from service.api.imports import coach_ownership, run_import
from service.api.outcomes import coach_claims, report_by_coach
from service.api.ownership import own_jobseeker
from service.api.runtime import ServingState
from service.api.schemas import (
    AssessmentIn,
    AssessmentOut,
    FeedbackIn,
    FeedbackOut,
    JobseekerIn,
    JobseekerOut,
    MatchesOut,
    OutcomeClaimOut,
    OutcomeIn,
    OutcomeOut,
    ProposalIn,
    ProposalOut,
    SkillObservationIn,
    WorkingLifeIn,
)
from service.api.security import Caller
from service.operations.bands import score_band
from service.operations.errors import ConflictError, InvalidError, NotFoundError
from service.storage.changes import forget_jobseeker, record_changes
from service.storage.database import checkpoint_wal
from service.storage.tables import (
    AssessmentRecord,
    ChangeEntity,
    ChangeOp,
    CoachRecord,
    EmploymentConditionRecord,
    ExposureRecord,
    Feedback,
    JobseekerRecord,
    OutcomeClaim,
    OutcomeRecord,
    Proposal,
    SkillObservationRecord,
    VacancyRecord,
    WorkingLifeObservationRecord,
)

__all__ = [
    "CASELOAD_PAGE_SIZE",
    "AssessmentSummary",
    "Caseload",
    "CaseloadQuery",
    "CaseloadRow",
    "EmploymentPlan",
    "PlanGap",
    "SkillEvidenceRow",
    "assessment_summaries",
    "check_own_jobseeker",
    "create_assessment",
    "create_jobseeker",
    "delete_assessment",
    "employment_plan",
    "erase_jobseeker",
    "give_feedback",
    "import_jobseekers",
    "list_assessments",
    "list_caseload",
    "list_jobseekers",
    "list_outcome_claims",
    "list_outcomes",
    "list_proposals",
    "matches",
    "matches_json",
    "plan_gaps",
    "propose",
    "read_assessment",
    "read_jobseeker",
    "record_outcome",
    "skill_evidence",
    "update_assessment",
    "update_jobseeker",
    "vacancy_for_proposal",
    "vacancy_titles",
]


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def _invalid(error: DomainValidationError, field: str | None = None) -> InvalidError:
    """A domain error as the body field it names (the API's loc: ``body``, then the path)."""
    path = error.field if field is None else field
    loc = ["body", *str(path).replace("[", ".").replace("]", "").split(".")]
    return InvalidError(loc, error.problem, str(error.value))


def check_own_jobseeker(session: Session, caller: Caller, jobseeker_id: str) -> None:
    """Refuse unless the caller's organisation serves the jobseeker (reads one column)."""
    owner = session.scalar(
        select(JobseekerRecord.organisation_id).where(JobseekerRecord.jobseeker_id == jobseeker_id)
    )
    if owner is None or owner != caller.organisation_id:
        raise NotFoundError("jobseeker", jobseeker_id)


def _coach_id(session: Session, caller: Caller) -> str:
    """The coach record this user acts as: one of the organisation's coaches."""
    coach = session.scalars(
        select(CoachRecord.coach_id)
        .where(CoachRecord.organisation_id == caller.organisation_id)
        .order_by(CoachRecord.coach_id)
        .limit(1)
    ).first()
    if coach is None:
        raise ConflictError(f"organisation {caller.organisation_id} has no coach records")
    return coach


# ---- jobseekers -----------------------------------------------------------------------------

#: Domain field paths of :class:`Jobseeker` -> the request body's flat field names.
_BODY_FIELDS = {
    "preferences.occupations": "preferred_occupations",
    "preferences.": "",
    "work_capacity.": "",
}


def _body_path(field: str) -> str:
    for domain, body in _BODY_FIELDS.items():
        if field.startswith(domain):
            return body + field[len(domain) :]
    return field


def _validated_person(
    body: JobseekerIn, jobseeker_id: str, coach_id: str, org: str, state: ServingState
) -> Jobseeker:
    """The jobseeker as a validated domain object; errors name the request's field."""
    try:
        person = Jobseeker(
            jobseeker_id=jobseeker_id,
            home_municipality=body.home_municipality,
            birth_year=body.birth_year,
            sex=body.sex,
            coach_id=coach_id,
            organisation_id=org,
            languages=tuple(LanguageSkill(x.language, x.level) for x in body.languages),
            driving_licence=body.driving_licence,
            unemployment_start=body.unemployment_start,
            migrant_background=body.migrant_background,
            work_capacity=WorkCapacity(body.max_hours_per_week, frozenset(body.restrictions)),
            preferences=JobPreferences(
                occupations=tuple(body.preferred_occupations),
                max_commute_km=body.max_commute_km,
                willing_to_relocate=body.willing_to_relocate,
                accepted_job_forms=frozenset(body.accepted_job_forms),
            ),
        )
        check_references(person, catalog_of(state))
    except DomainValidationError as error:
        raise _invalid(error, _body_path(error.field)) from error
    return person


def _record_change(session: Session, entity: ChangeEntity, entity_id: str, op: ChangeOp) -> None:
    """Tell every worker's engine, in this request's transaction (see storage.changes)."""
    session.flush()
    record_changes(session.connection(), entity, [entity_id], op)


def _jobseeker_out(record: JobseekerRecord) -> JobseekerOut:
    return JobseekerOut.model_validate(
        {name: getattr(record, name) for name in JobseekerOut.model_fields}
    )


def _apply(body: JobseekerIn, record: JobseekerRecord) -> None:
    values = body.model_dump(mode="json")
    for name, value in values.items():
        setattr(record, name, value)
    record.unemployment_start = body.unemployment_start


def create_jobseeker(
    session: Session, state: ServingState, caller: Caller, body: JobseekerIn
) -> JobseekerOut:
    """Register a jobseeker with the organisation (served by its first coach record)."""
    coach_id = _coach_id(session, caller)
    jobseeker_id = _new_id("JS")
    _validated_person(body, jobseeker_id, coach_id, caller.organisation_id, state)
    record = JobseekerRecord(
        jobseeker_id=jobseeker_id, coach_id=coach_id, organisation_id=caller.organisation_id
    )
    _apply(body, record)
    session.add(record)
    _record_change(session, ChangeEntity.JOBSEEKER, jobseeker_id, ChangeOp.UPSERT)
    session.commit()
    return _jobseeker_out(record)


def list_jobseekers(
    session: Session, caller: Caller, limit: int = 50, after: str | None = None
) -> list[JobseekerOut]:
    """The organisation's jobseekers by id, ``limit`` at a time after the id ``after``."""
    query = select(JobseekerRecord).where(JobseekerRecord.organisation_id == caller.organisation_id)
    if after:
        query = query.where(JobseekerRecord.jobseeker_id > after)
    rows = session.scalars(query.order_by(JobseekerRecord.jobseeker_id).limit(limit)).all()
    return [_jobseeker_out(r) for r in rows]


def read_jobseeker(session: Session, caller: Caller, jobseeker_id: str) -> JobseekerOut:
    """One of the organisation's jobseekers."""
    return _jobseeker_out(own_jobseeker(session, caller, jobseeker_id))


def update_jobseeker(
    session: Session, state: ServingState, caller: Caller, jobseeker_id: str, body: JobseekerIn
) -> JobseekerOut:
    """Replace what is recorded about a jobseeker."""
    record = own_jobseeker(session, caller, jobseeker_id)
    _validated_person(body, jobseeker_id, record.coach_id, record.organisation_id, state)
    _apply(body, record)
    _record_change(session, ChangeEntity.JOBSEEKER, jobseeker_id, ChangeOp.UPSERT)
    session.commit()
    return _jobseeker_out(record)


def erase_jobseeker(
    session: Session, state: ServingState, caller: Caller, jobseeker_id: str
) -> None:
    """Erase a jobseeker: identity, assessments, proposals, feedback and the training
    exposures are deleted.

    Outcome events stay for the contracts' fulfilment ledgers and statistics, but lose the
    link to the person (their jobseeker id is replaced by an unlinkable token). The audit
    entries stay too (the chain must verify), but the person's key is destroyed, so their
    pseudonyms name nobody any more; their change-feed rows are replaced by one delete row
    that names them by a keyed token (see ``storage.changes``). On SQLite the write-ahead
    log is then checkpointed, so no old page keeps the person's values.
    """
    record = own_jobseeker(session, caller, jobseeker_id)
    erased = _new_id("ERASED")
    outcomes = session.scalars(
        select(OutcomeRecord).where(OutcomeRecord.jobseeker_id == jobseeker_id)
    ).all()
    for outcome in outcomes:
        outcome.jobseeker_id = erased
    session.execute(delete(Proposal).where(Proposal.jobseeker_id == jobseeker_id))
    session.execute(delete(Feedback).where(Feedback.jobseeker_id == jobseeker_id))
    assessment_ids = select(AssessmentRecord.assessment_id).where(
        AssessmentRecord.jobseeker_id == jobseeker_id
    )
    session.execute(
        delete(WorkingLifeObservationRecord).where(
            WorkingLifeObservationRecord.assessment_id.in_(assessment_ids)
        )
    )
    session.execute(
        delete(SkillObservationRecord).where(SkillObservationRecord.jobseeker_id == jobseeker_id)
    )
    session.execute(delete(AssessmentRecord).where(AssessmentRecord.jobseeker_id == jobseeker_id))
    session.execute(delete(ExposureRecord).where(ExposureRecord.jobseeker_id == jobseeker_id))
    session.delete(record)
    session.flush()
    audit.shred(session.connection(), jobseeker_id)
    forget_jobseeker(session.connection(), state.pseudonym_key, jobseeker_id)
    session.commit()
    state.pseudonyms.pop(jobseeker_id, None)
    state.display.forget_person(jobseeker_id)
    checkpoint_wal(state.db)


# ---- the caseload (pages) -------------------------------------------------------------------

#: People per caseload page.
CASELOAD_PAGE_SIZE = 50
#: How far ahead "becomes eligible soon" looks.
SOON_DAYS = 90

Eligibility = Literal["", "now", "soon"]
Sort = Literal["days_desc", "days_asc", "name"]


@dataclass(frozen=True)
class CaseloadQuery:
    """What the coach asked of the caseload: every field optional (all people, longest first).

    ``group`` keeps the people who belong to that target group; ``eligibility`` ``"now"``
    those who count toward the groups of the employment conditions in force (or ``group``)
    today, ``"soon"`` those who will within :data:`SOON_DAYS` days but do not yet.
    """

    name: str = ""
    group: TargetGroup | None = None
    eligibility: Eligibility = ""
    sort: Sort = "days_desc"
    page: int = 1


@dataclass(frozen=True)
class CaseloadRow:
    jobseeker_id: str
    first_name: str
    last_name: str
    home_municipality: str
    unemployment_start: date | None
    days_unemployed: int | None


@dataclass(frozen=True)
class Caseload:
    rows: list[CaseloadRow]
    total: int
    page: int
    pages: int
    page_size: int


def _last_start(today: date, months: int) -> date:
    """The latest unemployment start ``d`` with ``add_months(d, months) <= today``."""
    day = add_months(today, -months)
    # add_months clamps to the month's end, so a few later starts may still qualify.
    while add_months(day + timedelta(days=1), months) <= today:
        day += timedelta(days=1)
    while add_months(day, months) > today:
        day -= timedelta(days=1)
    return day


def _restricted() -> ColumnElement[bool]:
    """A non-empty restrictions list (JSON text ``[]`` in SQLite and PostgreSQL alike)."""
    return cast(JobseekerRecord.restrictions, String) != "[]"


def _member(rule: TargetGroupRule, on: date) -> ColumnElement[bool]:
    """SQL for :func:`matching.eligibility.decide` ``.member`` on a day, for a rule in force."""
    person = JobseekerRecord
    threshold = rule.threshold or 0
    match rule.kind:
        case RuleKind.UNEMPLOYED_AT_LEAST_MONTHS:
            # Never NULL: NOT (NULL OR ...) would drop the person from "not yet" filters.
            start = person.unemployment_start
            return start.is_not(None) & (start <= _last_start(on, threshold))
        case RuleKind.AGE_UNDER:
            # Member from birth to the end of the year the person turns threshold - 1.
            return (person.birth_year <= on.year) & (person.birth_year >= on.year - threshold + 1)
        case RuleKind.AGE_AT_LEAST:
            return person.birth_year <= on.year - threshold
        case RuleKind.MIGRANT_BACKGROUND:
            return person.migrant_background.is_(True)
        case RuleKind.PARTIAL_WORK_CAPACITY:
            hours = person.max_hours_per_week
            return or_(_restricted(), hours.is_not(None) & (hours < FULL_TIME_HOURS))
    raise AssertionError(rule.kind)  # pragma: no cover - every kind is handled


def _in_groups(groups: frozenset[TargetGroup], on: date) -> ColumnElement[bool]:
    rules = rules_for(groups, on)
    if not rules:
        return false()
    return or_(*(_member(rule, on) for rule in rules))


def _condition_groups(session: Session, on: date) -> frozenset[TargetGroup]:
    """The target groups named by employment conditions whose deadline has not passed."""
    # DISTINCT: a national database holds some 30,000 conditions but a few dozen different
    # lists of groups; decoding every row's JSON took the caseload page 200-400 ms.
    values = session.scalars(
        select(EmploymentConditionRecord.target_groups)
        .where(EmploymentConditionRecord.deadline >= on)
        .distinct()
    ).all()
    known = {g.value for g in TargetGroup}
    return frozenset(TargetGroup(g) for groups in values for g in groups if g in known)


def list_caseload(
    session: Session, state: ServingState, caller: Caller, query: CaseloadQuery
) -> Caseload:
    """One page of the organisation's jobseekers: one query for the rows, one for the count.

    Days unemployed are counted to the service's day (``state.today``); people with no
    unemployment start (in work, not registered) sort last.
    """
    today = state.today
    person = JobseekerRecord
    where: list[ColumnElement[bool]] = [person.organisation_id == caller.organisation_id]
    words = query.name.split()
    if words:
        full = func.lower(person.first_name + " " + person.last_name)
        where.extend(full.contains(word.lower(), autoescape=True) for word in words)
    if query.group is not None and query.eligibility != "soon":
        where.append(_in_groups(frozenset({query.group}), today))
    if query.eligibility:
        groups = (
            frozenset({query.group})
            if query.group is not None
            else _condition_groups(session, today)
        )
        now = _in_groups(groups, today)
        if query.eligibility == "now":
            where.append(now)
        else:
            later = _in_groups(groups, today + timedelta(days=SOON_DAYS))
            where.extend([~now, later])
    start = person.unemployment_start
    # NULLS LAST rather than an "IS NULL" key: the caseload index (migration 0004) then gives
    # the order, and a page of a 53,000-person caseload reads 50 index entries, not a sort.
    order = {
        "days_desc": (start.asc().nulls_last(), person.jobseeker_id),
        "days_asc": (start.desc().nulls_last(), person.jobseeker_id.desc()),
        "name": (person.last_name, person.first_name, person.jobseeker_id),
    }[query.sort]
    total = session.scalar(select(func.count()).select_from(person).where(*where)) or 0
    pages = max(1, -(-total // CASELOAD_PAGE_SIZE))
    page = min(max(1, query.page), pages)
    rows = session.execute(
        select(
            person.jobseeker_id,
            person.first_name,
            person.last_name,
            person.home_municipality,
            person.unemployment_start,
        )
        .where(*where)
        .order_by(*order)
        .limit(CASELOAD_PAGE_SIZE)
        .offset((page - 1) * CASELOAD_PAGE_SIZE)
    ).all()
    return Caseload(
        rows=[
            CaseloadRow(
                jobseeker_id=r.jobseeker_id,
                first_name=r.first_name,
                last_name=r.last_name,
                home_municipality=r.home_municipality,
                unemployment_start=r.unemployment_start,
                days_unemployed=(
                    None
                    if r.unemployment_start is None
                    else max(0, (today - r.unemployment_start).days)
                ),
            )
            for r in rows
        ],
        total=total,
        page=page,
        pages=pages,
        page_size=CASELOAD_PAGE_SIZE,
    )


# ---- assessments ----------------------------------------------------------------------------


def _assessment_out(session: Session, record: AssessmentRecord) -> AssessmentOut:
    observations = session.scalars(
        select(SkillObservationRecord).where(
            SkillObservationRecord.assessment_id == record.assessment_id
        )
    ).all()
    working = session.scalars(
        select(WorkingLifeObservationRecord).where(
            WorkingLifeObservationRecord.assessment_id == record.assessment_id
        )
    ).all()
    return AssessmentOut(
        assessment_id=record.assessment_id,
        jobseeker_id=record.jobseeker_id,
        coach_id=record.coach_id,
        assessed_on=record.assessed_on,
        method=record.method,  # type: ignore[arg-type]
        note=record.note,
        observations=[
            SkillObservationIn(skill_uri=o.skill_uri, level=o.level, confidence=o.confidence)
            for o in observations
        ],
        working_life=[WorkingLifeIn(skill=w.skill, level=w.level) for w in working],  # type: ignore[arg-type]
    )


def _observation(index: int, uri: str, level: int, confidence: float) -> SkillObservation:
    """One observation, its errors named by their place in the body."""
    try:
        return SkillObservation(uri, level, confidence)
    except DomainValidationError as error:
        raise DomainValidationError(
            f"observations[{index}].{error.field}", error.value, error.problem
        ) from error


def _save_assessment(
    session: Session,
    state: ServingState,
    person: JobseekerRecord,
    record: AssessmentRecord,
    body: AssessmentIn,
) -> AssessmentOut:
    """Validate ``body`` and write it to ``record`` with its observations; one commit."""
    if body.assessed_on > state.today:
        raise InvalidError(
            ["body", "assessed_on"], f"is after today ({state.today})", str(body.assessed_on)
        )
    try:
        assessment = CoachingAssessment(
            assessment_id=record.assessment_id,
            jobseeker_id=person.jobseeker_id,
            coach_id=person.coach_id,
            assessed_on=body.assessed_on,
            method=body.method,
            observations=tuple(
                _observation(i, o.skill_uri, o.level, o.confidence)
                for i, o in enumerate(body.observations)
            ),
            working_life=tuple(WorkingLifeObservation(w.skill, w.level) for w in body.working_life),
            note=body.note,
        )
        check_references(assessment, catalog_of(state))
    except DomainValidationError as error:
        raise _invalid(error) from error
    record.jobseeker_id = person.jobseeker_id
    record.coach_id = person.coach_id
    record.assessed_on = body.assessed_on
    record.method = body.method.value
    record.note = body.note
    session.add(record)
    session.flush()
    aid = record.assessment_id
    session.execute(
        delete(SkillObservationRecord).where(SkillObservationRecord.assessment_id == aid)
    )
    session.execute(
        delete(WorkingLifeObservationRecord).where(
            WorkingLifeObservationRecord.assessment_id == aid
        )
    )
    for o in body.observations:
        session.add(
            SkillObservationRecord(
                assessment_id=aid,
                jobseeker_id=person.jobseeker_id,
                skill_uri=o.skill_uri,
                level=o.level,
                confidence=o.confidence,
            )
        )
    for w in body.working_life:
        session.add(
            WorkingLifeObservationRecord(assessment_id=aid, skill=w.skill.value, level=w.level)
        )
    _record_change(session, ChangeEntity.JOBSEEKER, person.jobseeker_id, ChangeOp.UPSERT)
    session.commit()
    return _assessment_out(session, record)


def _own_assessment(session: Session, jobseeker_id: str, assessment_id: str) -> AssessmentRecord:
    record = session.get(AssessmentRecord, assessment_id)
    if record is None or record.jobseeker_id != jobseeker_id:
        raise NotFoundError("assessment", assessment_id)
    return record


def create_assessment(
    session: Session, state: ServingState, caller: Caller, jobseeker_id: str, body: AssessmentIn
) -> AssessmentOut:
    """Record a skill-recognition assessment (work trial, observation, test, certificate)."""
    person = own_jobseeker(session, caller, jobseeker_id)
    record = AssessmentRecord(assessment_id=_new_id("AS"))
    return _save_assessment(session, state, person, record, body)


def update_assessment(
    session: Session,
    state: ServingState,
    caller: Caller,
    jobseeker_id: str,
    assessment_id: str,
    body: AssessmentIn,
) -> AssessmentOut:
    """Correct an assessment; its observations are replaced by the body's."""
    person = own_jobseeker(session, caller, jobseeker_id)
    record = _own_assessment(session, jobseeker_id, assessment_id)
    return _save_assessment(session, state, person, record, body)


def read_assessment(
    session: Session, caller: Caller, jobseeker_id: str, assessment_id: str
) -> AssessmentOut:
    """One assessment of one of the organisation's jobseekers."""
    own_jobseeker(session, caller, jobseeker_id)
    return _assessment_out(session, _own_assessment(session, jobseeker_id, assessment_id))


def list_assessments(session: Session, caller: Caller, jobseeker_id: str) -> list[AssessmentOut]:
    """The person's assessments, oldest first."""
    own_jobseeker(session, caller, jobseeker_id)
    rows = session.scalars(
        select(AssessmentRecord)
        .where(AssessmentRecord.jobseeker_id == jobseeker_id)
        .order_by(AssessmentRecord.assessed_on, AssessmentRecord.assessment_id)
    ).all()
    return [_assessment_out(session, r) for r in rows]


def delete_assessment(
    session: Session, caller: Caller, jobseeker_id: str, assessment_id: str
) -> None:
    """Delete an assessment and its observations."""
    own_jobseeker(session, caller, jobseeker_id)
    record = _own_assessment(session, jobseeker_id, assessment_id)
    session.execute(
        delete(SkillObservationRecord).where(SkillObservationRecord.assessment_id == assessment_id)
    )
    session.execute(
        delete(WorkingLifeObservationRecord).where(
            WorkingLifeObservationRecord.assessment_id == assessment_id
        )
    )
    session.delete(record)
    _record_change(session, ChangeEntity.JOBSEEKER, jobseeker_id, ChangeOp.UPSERT)
    session.commit()


@dataclass(frozen=True)
class SkillEvidenceRow:
    """One observation behind a person's skill: what, how well, how, when, by whom."""

    skill_uri: str
    level: int
    confidence: float
    method: str
    assessed_on: date
    assessment_id: str
    coach_id: str
    coach_name: str


def skill_evidence(session: Session, caller: Caller, jobseeker_id: str) -> list[SkillEvidenceRow]:
    """Every skill observation of the person with its assessment, newest first (one query)."""
    check_own_jobseeker(session, caller, jobseeker_id)
    rows = session.execute(
        select(
            SkillObservationRecord.skill_uri,
            SkillObservationRecord.level,
            SkillObservationRecord.confidence,
            AssessmentRecord.method,
            AssessmentRecord.assessed_on,
            AssessmentRecord.assessment_id,
            CoachRecord.coach_id,
            CoachRecord.first_name,
            CoachRecord.last_name,
        )
        .join(
            AssessmentRecord, AssessmentRecord.assessment_id == SkillObservationRecord.assessment_id
        )
        .join(CoachRecord, CoachRecord.coach_id == AssessmentRecord.coach_id)
        .where(SkillObservationRecord.jobseeker_id == jobseeker_id)
        .order_by(AssessmentRecord.assessed_on.desc(), AssessmentRecord.assessment_id)
    ).all()
    return [
        SkillEvidenceRow(
            skill_uri=r.skill_uri,
            level=r.level,
            confidence=r.confidence,
            method=r.method,
            assessed_on=r.assessed_on,
            assessment_id=r.assessment_id,
            coach_id=r.coach_id,
            coach_name=f"{r.first_name} {r.last_name}",
        )
        for r in rows
    ]


@dataclass(frozen=True)
class AssessmentSummary:
    assessment_id: str
    assessed_on: date
    method: str
    note: str
    coach_name: str
    observations: int


def assessment_summaries(
    session: Session, caller: Caller, jobseeker_id: str
) -> list[AssessmentSummary]:
    """The person's assessments, newest first, with how many skills each observed (one query)."""
    check_own_jobseeker(session, caller, jobseeker_id)
    observed = (
        select(func.count(SkillObservationRecord.observation_id))
        .where(SkillObservationRecord.assessment_id == AssessmentRecord.assessment_id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            AssessmentRecord.assessment_id,
            AssessmentRecord.assessed_on,
            AssessmentRecord.method,
            AssessmentRecord.note,
            CoachRecord.first_name,
            CoachRecord.last_name,
            observed.label("observations"),
        )
        .join(CoachRecord, CoachRecord.coach_id == AssessmentRecord.coach_id)
        .where(AssessmentRecord.jobseeker_id == jobseeker_id)
        .order_by(AssessmentRecord.assessed_on.desc(), AssessmentRecord.assessment_id)
    ).all()
    return [
        AssessmentSummary(
            assessment_id=r.assessment_id,
            assessed_on=r.assessed_on,
            method=r.method,
            note=r.note,
            coach_name=f"{r.first_name} {r.last_name}",
            observations=int(r.observations or 0),
        )
        for r in rows
    ]


def vacancy_titles(session: Session, vacancy_ids: list[str]) -> dict[str, str]:
    """The titles of vacancies a coach's pages name (matches, proposals, outcomes)."""
    if not vacancy_ids:
        return {}
    rows = session.execute(
        select(VacancyRecord.vacancy_id, VacancyRecord.title).where(
            VacancyRecord.vacancy_id.in_(sorted(set(vacancy_ids)))
        )
    ).all()
    return {r.vacancy_id: r.title for r in rows}


def vacancy_for_proposal(
    session: Session, caller: Caller, jobseeker_id: str, vacancy_id: str
) -> VacancyRecord:
    """The vacancy a coach is about to propose the person to (or give feedback on)."""
    check_own_jobseeker(session, caller, jobseeker_id)
    return _open_vacancy(session, vacancy_id)


# ---- matches --------------------------------------------------------------------------------


def _job_forms(values: list[str]) -> frozenset[str]:
    known = {f.value for f in JobForm}
    bad = [v for v in values if v not in known]
    if bad:
        raise InvalidError(["query", "job_form"], f"{bad[0]!r} is not one of {sorted(known)}")
    return frozenset(values)


def _check_serves(session: Session, state: ServingState, caller: Caller, jobseeker_id: str) -> None:
    """:func:`check_own_jobseeker` after ``catch_up``, from memory for people in matching.

    The worker keeps the organisation of the people it answered for, dropped when the feed
    applies a change to them (``state.display``), so it is as fresh as the engine's copy of
    the person. People out of matching (in work, erased, unknown to the engine) are asked of
    the database: an erasure reaches the feed under a token, not the person's id.
    """
    if not state.in_matching(jobseeker_id):
        check_own_jobseeker(session, caller, jobseeker_id)
        return
    person = state.display.people(session, [jobseeker_id]).get(jobseeker_id)
    if person is None or person.organisation_id != caller.organisation_id:
        raise NotFoundError("jobseeker", jobseeker_id)


def _found(
    session: Session,
    state: ServingState,
    caller: Caller,
    jobseeker_id: str,
    k: int,
    municipality: str | None,
    max_distance_km: float | None,
    job_form: list[str] | None,
    factors: bool,
) -> MatchList:
    # The feed first: the ownership below is read from what it keeps up to date.
    with stage("catch_up"):
        state.check_model()
        state.catch_up()
    with stage("database"):
        _check_serves(session, state, caller, jobseeker_id)
        release(session)  # the audit writer takes a connection of its own
    filters = MatchFilters(
        municipality=None if municipality is None else municipality_row(state, municipality),
        max_distance_km=max_distance_km,
        job_forms=None if not job_form else _job_forms(job_form),
    )
    if state.in_matching(jobseeker_id):
        return state.engine.matches_for_jobseeker(
            jobseeker_id, k=k, on=state.today, filters=filters, with_factors=factors
        )
    # In work (or not yet registered as unemployed): out of matching in this direction too,
    # as in shortlists. The empty answer is audited like any other.
    return MatchList("matches", jobseeker_id, state.model_version, state.today, 0, ())


def _audit_matches(
    session: Session,
    state: ServingState,
    caller: Caller,
    route: str,
    jobseeker_id: str,
    query: dict[str, object],
    found: MatchList,
    digest: str,
) -> None:
    release(session)
    # The audit entry is this read's only write: the worker's committer appends it with the
    # entries of the other requests waiting, and returns once it is durable.
    results = [[m.vacancy_id, round(m.score, 6)] for m in found.results]

    def entry(named: Mapping[str, str]) -> audit.EntryFields:
        return audit.EntryFields(
            user_id=caller.user_id,
            role=caller.role.value,
            organisation_id=caller.organisation_id,
            route=route,
            query={"jobseeker_id": named[jobseeker_id], **query, "on": str(state.today)},
            model_version=found.model_version,
            results=results,
            explanation_digest=digest,
        )

    state.audit_committer.record([jobseeker_id], entry)


def matches_json(
    session: Session,
    state: ServingState,
    caller: Caller,
    jobseeker_id: str,
    k: int = 20,
    municipality: str | None = None,
    max_distance_km: float | None = None,
    job_form: list[str] | None = None,
    factors: bool = True,
) -> bytes:
    """The best open vacancies for one of the coach's jobseekers, with reasons, gaps and band,
    as the JSON of :class:`~service.api.schemas.MatchesOut`.

    Runs on a worker thread (the engine's work is CPU-bound): route handlers call it through
    ``state.in_matching_slot``. The answer is audited. Built as plain values and written by
    one encoder (:mod:`service.api.encoding`), the same bytes the models gave, at a fraction
    of the cost; the vacancies' fields come from the worker's memory (``state.display``).
    """
    found = _found(
        session, state, caller, jobseeker_id, k, municipality, max_distance_km, job_form, factors
    )
    with stage("database"):
        vacancies = state.display.vacancies(session, [m.vacancy_id for m in found.results])
    with stage("response"):
        explanations = [explanation_body(m.explanation, state) for m in found.results]
    with stage("serialisation"):
        # Each explanation is written once: its bytes are both the digest's and the answer's.
        explained = [encoding.to_json(e) for e in explanations]
        digest = encoding.items_digest(explained)
    _audit_matches(
        session,
        state,
        caller,
        "coach.matches",
        jobseeker_id,
        {
            "k": k,
            "municipality": municipality,
            "max_distance_km": max_distance_km,
            "job_form": job_form,
        },
        found,
        digest,
    )
    with stage("response"):
        results = []
        for m, explanation in zip(found.results, explained, strict=True):
            vacancy = vacancies[m.vacancy_id]
            # The fields of schemas.MatchOut, in its order.
            results.append(
                {
                    "rank": int(m.rank),
                    "vacancy_id": m.vacancy_id,
                    "title": vacancy.title,
                    "job_form": vacancy.job_form,
                    "municipality": vacancy.municipality,
                    "closes_on": vacancy.closes_on,
                    "score": float(m.score),
                    "probability": optional_float(m.probability),
                    "band": score_band(m.probability, m.score),
                    "explanation": encoding.Fragment(explanation),
                }
            )
        answer = {
            "jobseeker_id": jobseeker_id,
            "on": found.on,
            "model_version": found.model_version,
            "candidates": int(found.candidates),
            "results": results,
        }
    with stage("serialisation"):
        return encoding.to_json(answer)


def matches(
    session: Session,
    state: ServingState,
    caller: Caller,
    jobseeker_id: str,
    k: int = 20,
    municipality: str | None = None,
    max_distance_km: float | None = None,
    job_form: list[str] | None = None,
    factors: bool = True,
) -> MatchesOut:
    """:func:`matches_json` as the model, for the coach's pages (one audited read)."""
    return MatchesOut.model_validate_json(
        matches_json(
            session,
            state,
            caller,
            jobseeker_id,
            k,
            municipality,
            max_distance_km,
            job_form,
            factors,
        )
    )


#: How many of the person's best matches the employment plan reads.
PLAN_MATCHES = 50


@dataclass(frozen=True)
class PlanGap:
    """A required skill the person lacks, and how many near-miss vacancies it would unlock."""

    skill_uri: str
    label: str
    vacancies: int
    #: Of those, the vacancies where it is the only missing skill.
    only_gap: int
    #: The highest level those vacancies require.
    required_level: int


@dataclass(frozen=True)
class EmploymentPlan:
    jobseeker_id: str
    on: date
    #: Matches read (at most :data:`PLAN_MATCHES`).
    considered: int
    #: Of those, the vacancies that miss at least one required skill.
    near_misses: int
    gaps: list[PlanGap] = field(default_factory=list)


def employment_plan(
    session: Session, state: ServingState, caller: Caller, jobseeker_id: str, k: int = PLAN_MATCHES
) -> EmploymentPlan:
    """What to learn next: required skills missing across the person's best near-miss vacancies.

    Reads the person's ``k`` best matches; each vacancy missing at least one required skill
    is a near miss, and each missing skill counts the near misses it appears in (a skill
    that appears in many is worth learning first). Audited as a matches read.
    """
    found = _found(session, state, caller, jobseeker_id, k, None, None, None, False)
    near, gaps = plan_gaps(found.results, state.skill_uris)
    digest = encoding.items_digest(
        [encoding.to_json(explanation_body(m.explanation, state)) for m in found.results]
    )
    _audit_matches(session, state, caller, "coach.plan", jobseeker_id, {"k": k}, found, digest)
    return EmploymentPlan(
        jobseeker_id=jobseeker_id,
        on=found.on,
        considered=len(found.results),
        near_misses=near,
        gaps=gaps,
    )


def plan_gaps(results: Sequence[Match], skill_uris: Sequence[str]) -> tuple[int, list[PlanGap]]:
    """How many results miss a required skill, and each missing skill's count, most first.

    Ties are broken by how many vacancies the skill is the only gap of, then by label.
    """
    counts: Counter[int] = Counter()
    alone: Counter[int] = Counter()
    levels: dict[int, int] = {}
    labels: dict[int, str] = {}
    near = 0
    for match in results:
        missing = match.explanation.missing_skills
        if not missing:
            continue
        near += 1
        for gap in missing:
            counts[gap.skill] += 1
            labels[gap.skill] = gap.label
            levels[gap.skill] = max(levels.get(gap.skill, 0), gap.required_level)
        if len(missing) == 1:
            alone[missing[0].skill] += 1
    ranked = sorted(counts, key=lambda s: (-counts[s], -alone[s], labels[s]))
    return near, [
        PlanGap(
            skill_uri=skill_uris[skill],
            label=labels[skill],
            vacancies=counts[skill],
            only_gap=alone[skill],
            required_level=levels[skill],
        )
        for skill in ranked
    ]


# ---- proposals, feedback, outcomes ----------------------------------------------------------


def _open_vacancy(session: Session, vacancy_id: str) -> VacancyRecord:
    record = session.get(VacancyRecord, vacancy_id)
    if record is None:
        raise NotFoundError("vacancy", vacancy_id)
    return record


def propose(
    session: Session, state: ServingState, caller: Caller, jobseeker_id: str, body: ProposalIn
) -> ProposalOut:
    """Propose the jobseeker to a vacancy; their consent (when and how) is required."""
    person = own_jobseeker(session, caller, jobseeker_id)
    vacancy = _open_vacancy(session, body.vacancy_id)
    consent = (
        body.consent_given_at
        if body.consent_given_at.tzinfo
        else body.consent_given_at.replace(tzinfo=UTC)
    )
    if consent > datetime.now(UTC):
        raise InvalidError(["body", "consent_given_at"], "is in the future")
    # Consent is asked by the person's coach, so not before they registered with the service:
    # an earlier date (0001-01-01) is a typing error, and an audit would find no such consent.
    registered = person.unemployment_start
    if registered is not None and consent.date() < registered:
        raise InvalidError(
            ["body", "consent_given_at"],
            f"is before the person registered as unemployed ({registered})",
        )
    existing = session.scalars(
        select(Proposal).where(
            Proposal.jobseeker_id == jobseeker_id, Proposal.vacancy_id == vacancy.vacancy_id
        )
    ).first()
    if existing is not None:
        raise ConflictError("already proposed to this vacancy")
    proposal = Proposal(
        proposal_id=_new_id("PR"),
        jobseeker_id=jobseeker_id,
        vacancy_id=vacancy.vacancy_id,
        proposed_by=caller.user_id,
        consent_given_at=consent,
        consent_method=body.consent_method,
        note=body.note,
        created_at=datetime.now(UTC),
    )
    session.add(proposal)
    session.add(
        OutcomeRecord(
            event_id=_new_id("EV"),
            jobseeker_id=jobseeker_id,
            vacancy_id=vacancy.vacancy_id,
            stage="proposed",
            reason=None,
            occurred_at=datetime.now(UTC),
        )
    )
    session.commit()
    return ProposalOut.model_validate(proposal, from_attributes=True)


def list_proposals(session: Session, caller: Caller, jobseeker_id: str) -> list[ProposalOut]:
    """The person's proposals, oldest first."""
    own_jobseeker(session, caller, jobseeker_id)
    rows = session.scalars(
        select(Proposal).where(Proposal.jobseeker_id == jobseeker_id).order_by(Proposal.created_at)
    ).all()
    return [ProposalOut.model_validate(p, from_attributes=True) for p in rows]


def give_feedback(
    session: Session, caller: Caller, jobseeker_id: str, body: FeedbackIn
) -> FeedbackOut:
    """Why a suggestion did not fit (commute, language, skills, work ability, ...)."""
    own_jobseeker(session, caller, jobseeker_id)
    _open_vacancy(session, body.vacancy_id)
    record = Feedback(
        jobseeker_id=jobseeker_id,
        vacancy_id=body.vacancy_id,
        user_id=caller.user_id,
        reason_code=body.reason_code.value,
        comment=body.comment,
        created_at=datetime.now(UTC),
    )
    session.add(record)
    session.commit()
    return FeedbackOut(
        feedback_id=record.feedback_id,
        jobseeker_id=jobseeker_id,
        vacancy_id=record.vacancy_id,
        reason_code=body.reason_code,
        comment=record.comment,
        created_at=record.created_at,
    )


def record_outcome(
    session: Session, state: ServingState, caller: Caller, jobseeker_id: str, body: OutcomeIn
) -> OutcomeOut | OutcomeClaimOut:
    """An outcome the coach learnt of: stored (``OutcomeOut``) or a pending claim.

    ``declined_by_jobseeker`` and ``employment_ended`` are stored at once; what the employer
    decides (``interviewed``, ``hired``, ``retained_6m``, ``declined_by_employer``) becomes a
    claim that counts nowhere until the vacancy's employer confirms it
    (see :mod:`service.api.outcomes`).
    """
    stored = report_by_coach(
        session,
        state,
        caller,
        jobseeker_id,
        body.vacancy_id,
        body.stage,
        body.reason,
        body.occurred_at,
    )
    if isinstance(stored, OutcomeClaim):
        return OutcomeClaimOut.of(stored)
    return OutcomeOut(
        event_id=stored.event_id,
        jobseeker_id=jobseeker_id,
        vacancy_id=stored.vacancy_id,
        stage=stored.stage,
        reason=stored.reason,
        occurred_at=stored.occurred_at,
    )


def list_outcome_claims(
    session: Session, caller: Caller, jobseeker_id: str
) -> list[OutcomeClaimOut]:
    """The person's outcome claims and where each stands (pending, confirmed, rejected)."""
    return [OutcomeClaimOut.of(c) for c in coach_claims(session, caller, jobseeker_id)]


def list_outcomes(session: Session, caller: Caller, jobseeker_id: str) -> list[OutcomeOut]:
    """The person's outcome events (proposed, interviewed, hired, ...), oldest first."""
    check_own_jobseeker(session, caller, jobseeker_id)
    rows = session.scalars(
        select(OutcomeRecord)
        .where(OutcomeRecord.jobseeker_id == jobseeker_id)
        .order_by(OutcomeRecord.occurred_at, OutcomeRecord.event_id)
    ).all()
    return [
        OutcomeOut(
            event_id=r.event_id,
            jobseeker_id=jobseeker_id,
            vacancy_id=r.vacancy_id,
            stage=r.stage,
            reason=r.reason,
            occurred_at=r.occurred_at,
        )
        for r in rows
    ]


def import_jobseekers(
    session: Session,
    state: ServingState,
    caller: Caller,
    files: dict[str, UploadFile | None],
) -> dict[str, int]:
    """Import CSV files (docs/csv-import.md): every bad row is reported, or all are imported."""
    return run_import(session, state, files, coach_ownership(session, caller))
