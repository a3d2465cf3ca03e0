"""Job coaches: their jobseekers, assessments, matches, proposals with consent, feedback."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, UploadFile, status
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from matching.domain import (
    CoachingAssessment,
    DomainValidationError,
    JobPreferences,
    Jobseeker,
    LanguageSkill,
    SkillObservation,
    WorkCapacity,
    WorkingLifeObservation,
    check_references,
)
from matching.engine import MatchFilters, MatchList
from service.api import audit
from service.api.catalog import catalog_of, municipality_row
from service.api.deps import CoachDep, SessionDep, StateDep, json_response, release
from service.api.explain import explanation_out
from service.api.imports import coach_ownership, run_import
from service.api.outcomes import coach_claims, report_by_coach
from service.api.ownership import own_jobseeker
from service.api.problems import invalid
from service.api.routing import ReadRetryRoute
from service.api.runtime import ServingState
from service.api.schemas import (
    ERROR_RESPONSES,
    AssessmentIn,
    AssessmentOut,
    FeedbackIn,
    FeedbackOut,
    JobseekerIn,
    JobseekerOut,
    MatchesOut,
    MatchOut,
    OutcomeClaimOut,
    OutcomeIn,
    OutcomeOut,
    ProposalIn,
    ProposalOut,
    SkillObservationIn,
    WorkingLifeIn,
)
from service.api.security import Caller, not_found
from service.storage.changes import forget_jobseeker, record_changes
from service.storage.database import checkpoint_wal
from service.storage.tables import (
    AssessmentRecord,
    ChangeEntity,
    ChangeOp,
    CoachRecord,
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

router = APIRouter(
    route_class=ReadRetryRoute, prefix="/api/v1/coach", tags=["coaches"], responses=ERROR_RESPONSES
)


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def check_own_jobseeker(session: Session, caller: Caller, jobseeker_id: str) -> None:
    """404 unless the caller's organisation serves the jobseeker (reads one column)."""
    owner = session.scalar(
        select(JobseekerRecord.organisation_id).where(JobseekerRecord.jobseeker_id == jobseeker_id)
    )
    if owner is None or owner != caller.organisation_id:
        raise not_found("jobseeker", jobseeker_id)


def _coach_id(session: Session, caller: Caller) -> str:
    """The coach record this user acts as: one of the organisation's coaches."""
    coach = session.scalars(
        select(CoachRecord.coach_id)
        .where(CoachRecord.organisation_id == caller.organisation_id)
        .order_by(CoachRecord.coach_id)
        .limit(1)
    ).first()
    if coach is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"organisation {caller.organisation_id} has no coach records",
        )
    return coach


def _domain_person(
    body: JobseekerIn, jobseeker_id: str, coach_id: str, org: str, state: ServingState
) -> Jobseeker:
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
    return person


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
        return _domain_person(body, jobseeker_id, coach_id, org, state)
    except DomainValidationError as error:
        raise DomainValidationError(_body_path(error.field), error.value, error.problem) from error


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


@router.post("/jobseekers", status_code=status.HTTP_201_CREATED)
def create_jobseeker(
    body: JobseekerIn, caller: CoachDep, session: SessionDep, state: StateDep
) -> JobseekerOut:
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


@router.get("/jobseekers")
def list_jobseekers(
    caller: CoachDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> list[JobseekerOut]:
    query = select(JobseekerRecord).where(JobseekerRecord.organisation_id == caller.organisation_id)
    if after:
        query = query.where(JobseekerRecord.jobseeker_id > after)
    rows = session.scalars(query.order_by(JobseekerRecord.jobseeker_id).limit(limit)).all()
    return [_jobseeker_out(r) for r in rows]


@router.get("/jobseekers/{jobseeker_id}")
def read_jobseeker(jobseeker_id: str, caller: CoachDep, session: SessionDep) -> JobseekerOut:
    return _jobseeker_out(own_jobseeker(session, caller, jobseeker_id))


@router.put("/jobseekers/{jobseeker_id}")
def update_jobseeker(
    jobseeker_id: str, body: JobseekerIn, caller: CoachDep, session: SessionDep, state: StateDep
) -> JobseekerOut:
    record = own_jobseeker(session, caller, jobseeker_id)
    _validated_person(body, jobseeker_id, record.coach_id, record.organisation_id, state)
    _apply(body, record)
    _record_change(session, ChangeEntity.JOBSEEKER, jobseeker_id, ChangeOp.UPSERT)
    session.commit()
    return _jobseeker_out(record)


@router.delete("/jobseekers/{jobseeker_id}", status_code=status.HTTP_204_NO_CONTENT)
def erase_jobseeker(
    jobseeker_id: str, caller: CoachDep, session: SessionDep, state: StateDep
) -> Response:
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
    checkpoint_wal(state.db)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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
        raise invalid(
            ["body", "assessed_on"], f"is after today ({state.today})", str(body.assessed_on)
        )
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


@router.post("/jobseekers/{jobseeker_id}/assessments", status_code=status.HTTP_201_CREATED)
def create_assessment(
    jobseeker_id: str, body: AssessmentIn, caller: CoachDep, session: SessionDep, state: StateDep
) -> AssessmentOut:
    """Record a skill-recognition assessment (work trial, observation, test, certificate)."""
    person = own_jobseeker(session, caller, jobseeker_id)
    record = AssessmentRecord(assessment_id=_new_id("AS"))
    return _save_assessment(session, state, person, record, body)


@router.put("/jobseekers/{jobseeker_id}/assessments/{assessment_id}")
def update_assessment(
    jobseeker_id: str,
    assessment_id: str,
    body: AssessmentIn,
    caller: CoachDep,
    session: SessionDep,
    state: StateDep,
) -> AssessmentOut:
    """Correct an assessment; its observations are replaced by the body's."""
    person = own_jobseeker(session, caller, jobseeker_id)
    record = session.get(AssessmentRecord, assessment_id)
    if record is None or record.jobseeker_id != jobseeker_id:
        raise not_found("assessment", assessment_id)
    return _save_assessment(session, state, person, record, body)


@router.get("/jobseekers/{jobseeker_id}/assessments")
def list_assessments(
    jobseeker_id: str, caller: CoachDep, session: SessionDep
) -> list[AssessmentOut]:
    own_jobseeker(session, caller, jobseeker_id)
    rows = session.scalars(
        select(AssessmentRecord)
        .where(AssessmentRecord.jobseeker_id == jobseeker_id)
        .order_by(AssessmentRecord.assessed_on, AssessmentRecord.assessment_id)
    ).all()
    return [_assessment_out(session, r) for r in rows]


@router.delete(
    "/jobseekers/{jobseeker_id}/assessments/{assessment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
)
def delete_assessment(
    jobseeker_id: str, assessment_id: str, caller: CoachDep, session: SessionDep
) -> Response:
    own_jobseeker(session, caller, jobseeker_id)
    record = session.get(AssessmentRecord, assessment_id)
    if record is None or record.jobseeker_id != jobseeker_id:
        raise not_found("assessment", assessment_id)
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
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---- matches --------------------------------------------------------------------------------


@router.get("/jobseekers/{jobseeker_id}/matches", response_model=MatchesOut)
async def matches(
    jobseeker_id: str,
    caller: CoachDep,
    session: SessionDep,
    state: StateDep,
    k: Annotated[int, Query(ge=1, le=100)] = 20,
    municipality: Annotated[str | None, Query(max_length=8, pattern=r"^[0-9]{3,4}$")] = None,
    max_distance_km: Annotated[float | None, Query(gt=0, le=2000, allow_inf_nan=False)] = None,
    job_form: Annotated[list[str] | None, Query(max_length=4)] = None,
    factors: Annotated[bool, Query(description="Add the model's top factors (TreeSHAP).")] = True,
) -> Response:
    """The best open vacancies for one of the coach's jobseekers, with reasons and skill gaps."""
    return await state.in_matching_slot(
        partial(
            _matches,
            jobseeker_id=jobseeker_id,
            caller=caller,
            session=session,
            state=state,
            k=k,
            municipality=municipality,
            max_distance_km=max_distance_km,
            job_form=job_form,
            factors=factors,
        )
    )


def _matches(
    jobseeker_id: str,
    caller: Caller,
    session: Session,
    state: ServingState,
    k: int,
    municipality: str | None,
    max_distance_km: float | None,
    job_form: list[str] | None,
    factors: bool,
) -> Response:
    check_own_jobseeker(session, caller, jobseeker_id)
    release(session)  # the change feed and the audit writer take connections of their own
    state.check_model()
    state.catch_up()
    filters = MatchFilters(
        municipality=None if municipality is None else municipality_row(state, municipality),
        max_distance_km=max_distance_km,
        job_forms=None if not job_form else _job_forms(job_form),
    )
    if state.in_matching(jobseeker_id):
        found = state.engine.matches_for_jobseeker(
            jobseeker_id, k=k, on=state.today, filters=filters, with_factors=factors
        )
    else:
        # In work (or not yet registered as unemployed): out of matching in this direction
        # too, as in shortlists. The empty answer is audited like any other.
        found = MatchList("matches", jobseeker_id, state.model_version, state.today, 0, ())
    # Only the columns the answer shows: whole ORM rows (skills JSON and all) were a fifth of
    # the request.
    vacancies = {
        row.vacancy_id: row
        for row in session.execute(
            select(
                VacancyRecord.vacancy_id,
                VacancyRecord.title,
                VacancyRecord.job_form,
                VacancyRecord.municipality,
                VacancyRecord.closes_on,
            ).where(VacancyRecord.vacancy_id.in_([m.vacancy_id for m in found.results]))
        )
    }
    results = [
        MatchOut(
            rank=m.rank,
            vacancy_id=m.vacancy_id,
            title=vacancies[m.vacancy_id].title,
            job_form=vacancies[m.vacancy_id].job_form,
            municipality=vacancies[m.vacancy_id].municipality,
            closes_on=vacancies[m.vacancy_id].closes_on,
            score=m.score,
            probability=m.probability,
            explanation=explanation_out(m.explanation, state),
        )
        for m in found.results
    ]
    digest = audit.response_digest([r.explanation for r in results])
    release(session)
    # The audit entry is this read's only write: a short writer transaction of its own.
    with state.audit_writer() as (writer, sealer):
        audit.lock_chain(writer)
        named = audit.pseudonyms(writer.connection(), [jobseeker_id], state.pseudonyms)
        audit.append(
            writer,
            sealer=sealer,
            user_id=caller.user_id,
            role=caller.role.value,
            organisation_id=caller.organisation_id,
            route="coach.matches",
            query={
                "jobseeker_id": named[jobseeker_id],
                "k": k,
                "municipality": municipality,
                "max_distance_km": max_distance_km,
                "job_form": job_form,
                "on": str(state.today),
            },
            model_version=found.model_version,
            results=[[m.vacancy_id, round(m.score, 6)] for m in found.results],
            explanation_digest=digest,
        )
    answer = MatchesOut(
        jobseeker_id=jobseeker_id,
        on=found.on,
        model_version=found.model_version,
        candidates=found.candidates,
        results=results,
    )
    return json_response(answer)


def _job_forms(values: list[str]) -> frozenset[str]:
    from matching.domain import JobForm

    known = {f.value for f in JobForm}
    bad = [v for v in values if v not in known]
    if bad:
        raise invalid(["query", "job_form"], f"{bad[0]!r} is not one of {sorted(known)}")
    return frozenset(values)


# ---- proposals, feedback, outcomes ----------------------------------------------------------


def _open_vacancy(session: Session, vacancy_id: str) -> VacancyRecord:
    record = session.get(VacancyRecord, vacancy_id)
    if record is None:
        raise not_found("vacancy", vacancy_id)
    return record


@router.post("/jobseekers/{jobseeker_id}/proposals", status_code=status.HTTP_201_CREATED)
def propose(
    jobseeker_id: str, body: ProposalIn, caller: CoachDep, session: SessionDep, state: StateDep
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
        raise invalid(["body", "consent_given_at"], "is in the future")
    # Consent is asked by the person's coach, so not before they registered with the service:
    # an earlier date (0001-01-01) is a typing error, and an audit would find no such consent.
    registered = person.unemployment_start
    if registered is not None and consent.date() < registered:
        raise invalid(
            ["body", "consent_given_at"],
            f"is before the person registered as unemployed ({registered})",
        )
    existing = session.scalars(
        select(Proposal).where(
            Proposal.jobseeker_id == jobseeker_id, Proposal.vacancy_id == vacancy.vacancy_id
        )
    ).first()
    if existing is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="already proposed to this vacancy")
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


@router.get("/jobseekers/{jobseeker_id}/proposals")
def list_proposals(jobseeker_id: str, caller: CoachDep, session: SessionDep) -> list[ProposalOut]:
    own_jobseeker(session, caller, jobseeker_id)
    rows = session.scalars(
        select(Proposal).where(Proposal.jobseeker_id == jobseeker_id).order_by(Proposal.created_at)
    ).all()
    return [ProposalOut.model_validate(p, from_attributes=True) for p in rows]


@router.post("/jobseekers/{jobseeker_id}/feedback", status_code=status.HTTP_201_CREATED)
def give_feedback(
    jobseeker_id: str, body: FeedbackIn, caller: CoachDep, session: SessionDep
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


@router.post(
    "/jobseekers/{jobseeker_id}/outcomes",
    status_code=status.HTTP_201_CREATED,
    response_model=OutcomeOut,
    responses={
        202: {
            "model": OutcomeClaimOut,
            "description": "A claim (interviewed, hired, retained_6m, declined_by_employer): "
            "it counts nowhere until the vacancy's employer confirms it.",
        }
    },
)
def record_outcome(
    jobseeker_id: str, body: OutcomeIn, caller: CoachDep, session: SessionDep, state: StateDep
) -> Response:
    """An outcome the coach learnt of, for a vacancy the person was proposed or shortlisted to.

    ``declined_by_jobseeker`` (the person's own decision) and ``employment_ended`` (after a
    hire the employer recorded) are stored at once (201). Whatever the employer decides
    (``interviewed``, ``hired``, ``retained_6m``, ``declined_by_employer``) becomes a claim
    (202) that counts in no ledger, statistic or live state until the vacancy's employer
    confirms it (see service.api.outcomes).
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
        claim = OutcomeClaimOut.of(stored)
        return Response(
            claim.model_dump_json(),
            status_code=status.HTTP_202_ACCEPTED,
            media_type="application/json",
        )
    answer = OutcomeOut(
        event_id=stored.event_id,
        jobseeker_id=jobseeker_id,
        vacancy_id=stored.vacancy_id,
        stage=stored.stage,
        reason=stored.reason,
        occurred_at=stored.occurred_at,
    )
    return Response(
        answer.model_dump_json(), status_code=status.HTTP_201_CREATED, media_type="application/json"
    )


@router.get("/jobseekers/{jobseeker_id}/outcome-claims")
def list_outcome_claims(
    jobseeker_id: str, caller: CoachDep, session: SessionDep
) -> list[OutcomeClaimOut]:
    """The person's outcome claims and where each stands (pending, confirmed, rejected)."""
    return [OutcomeClaimOut.of(c) for c in coach_claims(session, caller, jobseeker_id)]


@router.post("/imports", status_code=status.HTTP_201_CREATED)
def import_jobseekers(
    caller: CoachDep,
    session: SessionDep,
    state: StateDep,
    jobseekers: UploadFile | None = None,
    assessments: UploadFile | None = None,
    skill_observations: UploadFile | None = None,
) -> dict[str, int]:
    """Upload CSV files (docs/csv-import.md): every bad row is reported, or all are imported."""
    files = {
        "jobseekers": jobseekers,
        "assessments": assessments,
        "skill_observations": skill_observations,
    }
    return run_import(session, state, files, coach_ownership(session, caller))
