"""Employers (a supplier's recruiters): their vacancies and pseudonymous shortlists.

A shortlist shows what a recruiter needs to judge fit — skills with evidence strength, a
distance band, availability, accepted job forms — and never name, contact details, age, sex,
origin, health or work-capacity details, or why someone counts toward a condition. Identity is
added only for people a coach has proposed to this vacancy with their consent.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, UploadFile, status
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from matching.domain import (
    LanguageSkill,
    PhysicalDemand,
    Vacancy,
    VacancySkill,
    check_references,
)
from service.api import audit
from service.api.catalog import catalog_of
from service.api.deps import EmployerDep, SessionDep, StateDep, json_response, release
from service.api.imports import employer_ownership, run_import
from service.api.outcomes import (
    EmployerClaim,
    check_credited_hires_stay,
    confirm_claim,
    employer_claims,
    record_by_employer,
    reject_claim,
)
from service.api.ownership import own_vacancy
from service.api.problems import invalid
from service.api.routing import ReadRetryRoute
from service.api.runtime import ServingState
from service.api.schemas import (
    ERROR_RESPONSES,
    CandidateOut,
    CandidateSkillOut,
    EmployerOutcomeIn,
    OutcomeClaimOut,
    OutcomeOut,
    ShortlistOut,
    VacancyIn,
    VacancyOut,
    VacancySkillIn,
)
from service.api.security import Caller, not_found, pseudonym
from service.storage.changes import record_changes
from service.storage.tables import (
    ChangeEntity,
    ClaimStatus,
    ContractRecord,
    EmploymentConditionRecord,
    JobseekerRecord,
    Proposal,
    SupplierRecord,
    VacancyRecord,
    VacancySkillRecord,
)

router = APIRouter(
    route_class=ReadRetryRoute,
    prefix="/api/v1/employer",
    tags=["employers"],
    responses=ERROR_RESPONSES,
)

#: Distance bands instead of kilometres: enough to judge a commute, too coarse to locate.
DISTANCE_BANDS = ((5.0, "under 5 km"), (15.0, "5-15 km"), (30.0, "15-30 km"), (60.0, "30-60 km"))


def distance_band(km: float) -> str:
    for limit, label in DISTANCE_BANDS:
        if km < limit:
            return label
    return "over 60 km"


def strength_band(strength: float, method: str | None) -> str:
    if method is None:
        return "related"
    if strength >= 0.7:
        return "strong"
    if strength >= 0.4:
        return "moderate"
    return "weak"


def _supplier_ids(session: Session, caller: Caller) -> list[str]:
    return list(
        session.scalars(
            select(SupplierRecord.supplier_id).where(
                SupplierRecord.organisation_id == caller.organisation_id
            )
        )
    )


def _vacancy_out(session: Session, record: VacancyRecord) -> VacancyOut:
    skills = session.scalars(
        select(VacancySkillRecord).where(VacancySkillRecord.vacancy_id == record.vacancy_id)
    ).all()
    values = {name: getattr(record, name) for name in VacancyOut.model_fields if name != "skills"}
    values["skills"] = [
        VacancySkillIn(skill_uri=s.skill_uri, required=s.required, min_level=s.min_level)
        for s in skills
    ]
    return VacancyOut.model_validate(values)


@router.get("/vacancies")
def list_vacancies(
    caller: EmployerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> list[VacancyOut]:
    query = select(VacancyRecord).where(
        VacancyRecord.supplier_id.in_(_supplier_ids(session, caller))
    )
    if after:
        query = query.where(VacancyRecord.vacancy_id > after)
    rows = session.scalars(query.order_by(VacancyRecord.vacancy_id).limit(limit)).all()
    return [_vacancy_out(session, r) for r in rows]


@router.get("/vacancies/{vacancy_id}")
def read_vacancy(vacancy_id: str, caller: EmployerDep, session: SessionDep) -> VacancyOut:
    return _vacancy_out(session, own_vacancy(session, caller, vacancy_id))


def _validated_vacancy(
    body: VacancyIn, vacancy_id: str, session: Session, caller: Caller, state: ServingState
) -> str:
    """Check a vacancy body against the caller's contracts and the reference data.

    Returns the supplier the vacancy belongs to; raises 409/422 naming the field otherwise.
    """
    suppliers = _supplier_ids(session, caller)
    if not suppliers:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="your organisation is no supplier")
    supplier_id = suppliers[0]
    if body.contract_id is not None:
        contract = session.get(ContractRecord, body.contract_id)
        if contract is None or contract.supplier_id not in suppliers:
            raise invalid(["body", "contract_id"], "is not a contract of yours", body.contract_id)
        supplier_id = contract.supplier_id
    if body.condition_id is not None:
        condition = session.get(EmploymentConditionRecord, body.condition_id)
        if condition is None or condition.contract_id != body.contract_id:
            raise invalid(
                ["body", "condition_id"],
                "is not a condition of the given contract",
                body.condition_id,
            )
        if body.job_form.value not in condition.allowed_job_forms:
            raise invalid(["body", "job_form"], "is not allowed by the condition", body.job_form)
    if body.closes_on < body.opens_on:
        raise invalid(["body", "closes_on"], "is before opens_on", str(body.closes_on))
    vacancy = Vacancy(
        vacancy_id=vacancy_id,
        supplier_id=supplier_id,
        occupation_uri=body.occupation_uri,
        title=body.title,
        municipality=body.municipality,
        job_form=body.job_form,
        opens_on=body.opens_on,
        closes_on=body.closes_on,
        contract_id=body.contract_id,
        condition_id=body.condition_id,
        skills=tuple(VacancySkill(s.skill_uri, s.required, s.min_level) for s in body.skills),
        languages=tuple(LanguageSkill(x.language, x.level) for x in body.languages),
        remote_share=body.remote_share,
        hours_per_week=body.hours_per_week,
        shift_work=body.shift_work,
        night_work=body.night_work,
        physical_demand=PhysicalDemand(body.physical_demand),
        driving_licence_required=body.driving_licence_required,
        openings=body.openings,
    )
    check_references(vacancy, catalog_of(state))
    return supplier_id


def _store_vacancy(session: Session, record: VacancyRecord, body: VacancyIn) -> VacancyOut:
    """Write the body's fields and skills to ``record`` and tell the workers, then commit."""
    for name, value in body.model_dump(mode="json", exclude={"skills"}).items():
        setattr(record, name, value)
    record.opens_on, record.closes_on = body.opens_on, body.closes_on
    session.add(record)
    session.flush()
    session.execute(
        delete(VacancySkillRecord).where(VacancySkillRecord.vacancy_id == record.vacancy_id)
    )
    for s in body.skills:
        session.add(
            VacancySkillRecord(
                vacancy_id=record.vacancy_id,
                skill_uri=s.skill_uri,
                required=s.required,
                min_level=s.min_level,
            )
        )
    session.flush()
    record_changes(session.connection(), ChangeEntity.VACANCY, [record.vacancy_id])
    session.commit()
    return _vacancy_out(session, record)


@router.post("/vacancies", status_code=status.HTTP_201_CREATED)
def create_vacancy(
    body: VacancyIn, caller: EmployerDep, session: SessionDep, state: StateDep
) -> VacancyOut:
    """A vacancy under one of the employer's contracts (and its employment condition)."""
    vacancy_id = f"VA-{uuid.uuid4().hex[:16]}"
    supplier_id = _validated_vacancy(body, vacancy_id, session, caller, state)
    return _store_vacancy(
        session, VacancyRecord(vacancy_id=vacancy_id, supplier_id=supplier_id), body
    )


@router.put("/vacancies/{vacancy_id}")
def update_vacancy(
    vacancy_id: str, body: VacancyIn, caller: EmployerDep, session: SessionDep, state: StateDep
) -> VacancyOut:
    """Change a vacancy; shortlists use the new requirements at once.

    A vacancy with hires under its employment condition keeps its contract and condition
    (409 otherwise): its hires are credited there.
    """
    record = own_vacancy(session, caller, vacancy_id)
    supplier_id = _validated_vacancy(body, vacancy_id, session, caller, state)
    check_credited_hires_stay(session, record, body.contract_id, body.condition_id)
    record.supplier_id = supplier_id
    return _store_vacancy(session, record, body)


@router.post("/vacancies/{vacancy_id}/close")
def close_vacancy(
    vacancy_id: str, caller: EmployerDep, session: SessionDep, state: StateDep
) -> VacancyOut:
    """Stop taking candidates: the vacancy closed yesterday, so it is not open today.

    The vacancy and its outcomes stay, for the contract's ledger and the statistics.
    """
    record = own_vacancy(session, caller, vacancy_id)
    yesterday = state.today - timedelta(days=1)
    record.closes_on = min(record.closes_on, yesterday)
    record.opens_on = min(record.opens_on, record.closes_on)
    session.flush()
    record_changes(session.connection(), ChangeEntity.VACANCY, [vacancy_id])
    session.commit()
    return _vacancy_out(session, record)


@router.get("/vacancies/{vacancy_id}/shortlist", response_model=ShortlistOut)
async def shortlist(
    vacancy_id: str,
    caller: EmployerDep,
    session: SessionDep,
    state: StateDep,
    k: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """Pseudonymous candidates for one of the employer's vacancies, best first."""
    return await state.in_matching_slot(
        partial(_shortlist, vacancy_id=vacancy_id, caller=caller, session=session, state=state, k=k)
    )


def _shortlist(
    vacancy_id: str, caller: Caller, session: Session, state: ServingState, k: int
) -> Response:
    # One join for ownership and the closing day, not the whole vacancy row.
    closes_on = session.scalar(
        select(VacancyRecord.closes_on)
        .join(SupplierRecord, SupplierRecord.supplier_id == VacancyRecord.supplier_id)
        .where(
            VacancyRecord.vacancy_id == vacancy_id,
            SupplierRecord.organisation_id == caller.organisation_id,
        )
    )
    if closes_on is None:
        raise not_found("vacancy", vacancy_id)
    if closes_on < state.today:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"vacancy {vacancy_id} closed on {closes_on}: no shortlist",
        )
    release(session)  # the change feed and the audit writer take connections of their own
    state.check_model()
    state.catch_up()
    found = state.engine.shortlist_for_vacancy(vacancy_id, k=k, on=state.today, with_factors=False)
    ids = [m.jobseeker_id for m in found.results]
    consented = {
        p.jobseeker_id
        for p in session.scalars(
            select(Proposal).where(
                Proposal.vacancy_id == vacancy_id, Proposal.jobseeker_id.in_(ids)
            )
        )
    }
    people = {
        p.jobseeker_id: p
        for p in session.execute(
            select(
                JobseekerRecord.jobseeker_id,
                JobseekerRecord.accepted_job_forms,
                JobseekerRecord.first_name,
                JobseekerRecord.last_name,
                JobseekerRecord.email,
                JobseekerRecord.phone,
            ).where(JobseekerRecord.jobseeker_id.in_(ids))
        )
    }
    secret = state.pseudonym_key
    results: list[CandidateOut] = []
    for m in found.results:
        person = people.get(m.jobseeker_id)
        proposed = m.jobseeker_id in consented
        e = m.explanation
        results.append(
            CandidateOut(
                candidate=pseudonym(secret, vacancy_id, m.jobseeker_id),
                rank=m.rank,
                score=round(m.score, 6),
                probability=m.probability,
                skills=[
                    CandidateSkillOut(
                        label=s.label,
                        skill_uri=state.skill_uris[s.skill],
                        evidence_strength=strength_band(s.strength, s.method),
                        level=round(float(s.level), 2),
                        required_level=s.required_level,
                    )
                    for s in e.matched_skills
                ],
                skill_gaps=[s.label for s in e.missing_skills],
                distance_band=distance_band(e.distance_km),
                available=True,
                accepted_job_forms=sorted(person.accepted_job_forms) if person else [],
                proposed=proposed,
                first_name=person.first_name if proposed and person else None,
                last_name=person.last_name if proposed and person else None,
                email=person.email if proposed and person else None,
                phone=person.phone if proposed and person else None,
            )
        )
    digest = audit.response_digest(results)
    release(session)
    # The audit entry is this read's only write: a short writer transaction of its own.
    with state.audit_writer() as (writer, sealer):
        audit.lock_chain(writer)
        shown = [m.jobseeker_id for m in found.results]
        named = audit.pseudonyms(writer.connection(), shown, state.pseudonyms)
        audit.append(
            writer,
            sealer=sealer,
            user_id=caller.user_id,
            role=caller.role.value,
            organisation_id=caller.organisation_id,
            route="employer.shortlist",
            query={"vacancy_id": vacancy_id, "k": k, "on": str(state.today)},
            model_version=found.model_version,
            results=[[named[m.jobseeker_id], round(m.score, 6)] for m in found.results],
            explanation_digest=digest,
        )
    answer = ShortlistOut(
        vacancy_id=vacancy_id,
        on=found.on,
        model_version=found.model_version,
        candidates=found.candidates,
        results=results,
    )
    return json_response(answer)


@router.post("/vacancies/{vacancy_id}/outcomes", status_code=status.HTTP_201_CREATED)
def record_outcome(
    vacancy_id: str,
    body: EmployerOutcomeIn,
    caller: EmployerDep,
    session: SessionDep,
    state: StateDep,
) -> OutcomeOut:
    """Interview, hire, decline or end of employment of a candidate, by pseudonym.

    The candidate must have been proposed to this vacancy or shown in one of its shortlists.
    A hire takes the person out of matching and counts toward the vacancy's openings;
    ``employment_ended`` (after a recorded hire here) brings the person back to matching.
    """
    record = record_by_employer(
        session,
        state,
        caller,
        vacancy_id,
        body.candidate,
        body.stage,
        body.reason,
        body.occurred_at,
    )
    return OutcomeOut(
        event_id=record.event_id,
        candidate=body.candidate,
        vacancy_id=vacancy_id,
        stage=record.stage,
        reason=record.reason,
        occurred_at=record.occurred_at,
    )


def _claim_out(found: EmployerClaim) -> OutcomeClaimOut:
    return OutcomeClaimOut.of(found.claim, candidate=found.candidate)


@router.get("/outcome-claims")
def list_outcome_claims(
    caller: EmployerDep,
    session: SessionDep,
    state: StateDep,
    status_: Annotated[
        ClaimStatus | None, Query(alias="status", description="Default: pending only.")
    ] = ClaimStatus.PENDING,
    vacancy_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[OutcomeClaimOut]:
    """Coaches' outcome claims about your vacancies, by candidate pseudonym, oldest first."""
    return [_claim_out(c) for c in employer_claims(session, state, caller, status_, vacancy_id)]


@router.post("/outcome-claims/{claim_id}/confirm")
def confirm_outcome_claim(
    claim_id: str, caller: EmployerDep, session: SessionDep, state: StateDep
) -> OutcomeClaimOut:
    """Confirm a coach's claim: the outcome is recorded now, as if you had recorded it."""
    return _claim_out(confirm_claim(session, state, caller, claim_id))


@router.post("/outcome-claims/{claim_id}/reject")
def reject_outcome_claim(
    claim_id: str, caller: EmployerDep, session: SessionDep, state: StateDep
) -> OutcomeClaimOut:
    """Reject a coach's claim: nothing is recorded; the coach sees it rejected."""
    return _claim_out(reject_claim(session, state, caller, claim_id))


@router.post("/imports", status_code=status.HTTP_201_CREATED)
def import_vacancies(
    caller: EmployerDep,
    session: SessionDep,
    state: StateDep,
    vacancies: UploadFile | None = None,
    vacancy_skills: UploadFile | None = None,
) -> dict[str, int]:
    """Upload CSV files (docs/csv-import.md): every bad row is reported, or all are imported."""
    files = {"vacancies": vacancies, "vacancy_skills": vacancy_skills}
    return run_import(session, state, files, employer_ownership(session, caller))
