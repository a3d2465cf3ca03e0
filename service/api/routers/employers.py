"""Employers (a supplier's recruiters): vacancies, pseudonymous shortlists, coaches' proposals.

The routes translate only; every operation, with its ownership check, transaction and audit
entry, is in :mod:`service.operations.recruiting` (which also says what an employer may see
of a person).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, UploadFile, status

from service.api.deps import EmployerDep, SessionDep, StateDep, json_response
from service.api.routing import ReadRetryRoute
from service.api.schemas import (
    ERROR_RESPONSES,
    ContractOut,
    EmployerOutcomeIn,
    OutcomeClaimOut,
    OutcomeOut,
    ProposedCandidateOut,
    ShortlistOut,
    StatementOut,
    VacancyIn,
    VacancyOut,
)
from service.operations import performance, recruiting
from service.storage.tables import ClaimStatus
from service.web.statements import StatementFormat, statement_response

router = APIRouter(
    route_class=ReadRetryRoute,
    prefix="/api/v1/employer",
    tags=["employers"],
    responses=ERROR_RESPONSES,
)

# Kept importable from here (earlier callers).
distance_band = recruiting.distance_band
strength_band = recruiting.strength_band


@router.get("/vacancies")
def list_vacancies(
    caller: EmployerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> list[VacancyOut]:
    return recruiting.list_vacancies(session, caller, limit, after)


@router.get("/vacancies/{vacancy_id}")
def read_vacancy(vacancy_id: str, caller: EmployerDep, session: SessionDep) -> VacancyOut:
    return recruiting.read_vacancy(session, caller, vacancy_id)


@router.post("/vacancies", status_code=status.HTTP_201_CREATED)
def create_vacancy(
    body: VacancyIn, caller: EmployerDep, session: SessionDep, state: StateDep
) -> VacancyOut:
    """A vacancy under one of the employer's contracts (and its employment condition).

    To start from an ESCO occupation, `GET /api/v1/reference/occupations/{uri}/skills` lists
    its essential skills; `GET /contracts` the contracts and conditions it can be under.
    """
    return recruiting.create_vacancy(session, state, caller, body)


@router.put("/vacancies/{vacancy_id}")
def update_vacancy(
    vacancy_id: str, body: VacancyIn, caller: EmployerDep, session: SessionDep, state: StateDep
) -> VacancyOut:
    """Change a vacancy; shortlists use the new requirements at once.

    A vacancy with hires under its employment condition keeps its contract and condition
    (409 otherwise): its hires are credited there.
    """
    return recruiting.update_vacancy(session, state, caller, vacancy_id, body)


@router.post("/vacancies/{vacancy_id}/close")
def close_vacancy(
    vacancy_id: str, caller: EmployerDep, session: SessionDep, state: StateDep
) -> VacancyOut:
    """Stop taking candidates: the vacancy closed yesterday, so it is not open today.

    The vacancy and its outcomes stay, for the contract's ledger and the statistics.
    """
    return recruiting.close_vacancy(session, state, caller, vacancy_id)


@router.get("/vacancies/{vacancy_id}/shortlist", response_model=ShortlistOut)
async def shortlist(
    vacancy_id: str,
    caller: EmployerDep,
    session: SessionDep,
    state: StateDep,
    k: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """Pseudonymous candidates for one of the employer's vacancies, best first.

    People a coach proposed to the vacancy (with their consent) who are in matching follow
    the `k` best when the ranking does not list them, marked `proposed`.
    """
    work = partial(recruiting.shortlist_json, session, state, caller, vacancy_id, k)
    return json_response(await state.in_matching_slot(work))


@router.get("/vacancies/{vacancy_id}/proposals")
async def proposals(
    vacancy_id: str, caller: EmployerDep, session: SessionDep, state: StateDep
) -> list[ProposedCandidateOut]:
    """The coaches' proposals for one of the employer's vacancies, oldest first.

    Each person by the vacancy's pseudonym (the `candidate` that records an outcome), with
    skills and evidence, distance band and availability, and — because the proposal records
    the person's consent — name and contact details; never birth year, sex, origin or
    health. The read is written to the audit log.
    """
    return await state.in_matching_slot(
        partial(recruiting.vacancy_proposals, session, state, caller, vacancy_id)
    )


@router.post("/vacancies/{vacancy_id}/outcomes", status_code=status.HTTP_201_CREATED)
def record_outcome(
    vacancy_id: str,
    body: EmployerOutcomeIn,
    caller: EmployerDep,
    session: SessionDep,
    state: StateDep,
) -> OutcomeOut:
    """Interview, hire, decline or end of employment of a candidate, by pseudonym.

    `candidate` is the pseudonym the shortlist or the proposals list shows; the person must
    have been proposed to this vacancy or shown in one of its shortlists. A decline
    (`declined_by_employer`) needs a `reason` code. A hire takes the person out of matching
    and counts toward the vacancy's openings; `employment_ended` (after a recorded hire here)
    brings the person back to matching.
    """
    return recruiting.record_outcome(session, state, caller, vacancy_id, body)


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
    return recruiting.outcome_claims(session, state, caller, status_, vacancy_id)


@router.post("/outcome-claims/{claim_id}/confirm")
def confirm_outcome_claim(
    claim_id: str, caller: EmployerDep, session: SessionDep, state: StateDep
) -> OutcomeClaimOut:
    """Confirm a coach's claim: the outcome is recorded now, as if you had recorded it."""
    return recruiting.confirm_outcome_claim(session, state, caller, claim_id)


@router.post("/outcome-claims/{claim_id}/reject")
def reject_outcome_claim(
    claim_id: str, caller: EmployerDep, session: SessionDep, state: StateDep
) -> OutcomeClaimOut:
    """Reject a coach's claim: nothing is recorded; the coach sees it rejected."""
    return recruiting.reject_outcome_claim(session, state, caller, claim_id)


@router.get("/contracts")
def list_contracts(caller: EmployerDep, session: SessionDep) -> list[ContractOut]:
    """Your suppliers' contracts and their employment conditions (target groups, job forms):
    what a new vacancy can be created under."""
    return recruiting.employer_contracts(session, caller)


@router.get(
    "/contracts/{contract_id}/statement",
    response_model=StatementOut,
    responses={200: {"content": {"text/csv": {}, "text/html": {}}}},
)
def statement(
    request: Request,
    contract_id: str,
    caller: EmployerDep,
    session: SessionDep,
    state: StateDep,
    format: StatementFormat = "json",
) -> Response:
    """The running payment statement of one of your suppliers' performance-based contracts:
    the same statement the buyer reads (docs/performance.md)."""
    answer = performance.supplier_statement(session, state, caller, contract_id)
    return statement_response(request, answer, format)


@router.get(
    "/contracts/{contract_id}/statement/periods/{period}",
    response_model=StatementOut,
    responses={200: {"content": {"text/csv": {}, "text/html": {}}}},
)
def period_statement(
    request: Request,
    contract_id: str,
    period: str,
    caller: EmployerDep,
    session: SessionDep,
    state: StateDep,
    format: StatementFormat = "json",
) -> Response:
    """The payment statement of one period (`2026-03` by month, `2026Q1` by quarter)."""
    answer = performance.supplier_statement(session, state, caller, contract_id, period)
    return statement_response(request, answer, format)


@router.post("/imports", status_code=status.HTTP_201_CREATED)
def import_vacancies(
    caller: EmployerDep,
    session: SessionDep,
    state: StateDep,
    vacancies: UploadFile | None = None,
    vacancy_skills: UploadFile | None = None,
) -> dict[str, int]:
    """Upload CSV files (docs/csv-import.md): every bad row is reported, or all are imported."""
    return recruiting.import_vacancies(session, state, caller, vacancies, vacancy_skills)
