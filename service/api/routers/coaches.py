"""Job coaches: their jobseekers, assessments, matches, proposals with consent, feedback.

Each route translates HTTP to one operation of :mod:`service.operations.coaching`, which owns
the ownership check, the transaction and the audit entry.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, UploadFile, status

from service.api.deps import CoachDep, SessionDep, StateDep, json_response
from service.api.routing import ReadRetryRoute
from service.api.schemas import (
    ERROR_RESPONSES,
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
)
from service.operations import coaching

router = APIRouter(
    route_class=ReadRetryRoute, prefix="/api/v1/coach", tags=["coaches"], responses=ERROR_RESPONSES
)


@router.post("/jobseekers", status_code=status.HTTP_201_CREATED)
def create_jobseeker(
    body: JobseekerIn, caller: CoachDep, session: SessionDep, state: StateDep
) -> JobseekerOut:
    return coaching.create_jobseeker(session, state, caller, body)


@router.get("/jobseekers")
def list_jobseekers(
    caller: CoachDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> list[JobseekerOut]:
    return coaching.list_jobseekers(session, caller, limit, after)


@router.get("/jobseekers/{jobseeker_id}")
def read_jobseeker(jobseeker_id: str, caller: CoachDep, session: SessionDep) -> JobseekerOut:
    return coaching.read_jobseeker(session, caller, jobseeker_id)


@router.put("/jobseekers/{jobseeker_id}")
def update_jobseeker(
    jobseeker_id: str, body: JobseekerIn, caller: CoachDep, session: SessionDep, state: StateDep
) -> JobseekerOut:
    return coaching.update_jobseeker(session, state, caller, jobseeker_id, body)


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
    coaching.erase_jobseeker(session, state, caller, jobseeker_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---- assessments ----------------------------------------------------------------------------


@router.post("/jobseekers/{jobseeker_id}/assessments", status_code=status.HTTP_201_CREATED)
def create_assessment(
    jobseeker_id: str, body: AssessmentIn, caller: CoachDep, session: SessionDep, state: StateDep
) -> AssessmentOut:
    """Record a skill-recognition assessment (work trial, observation, test, certificate)."""
    return coaching.create_assessment(session, state, caller, jobseeker_id, body)


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
    return coaching.update_assessment(session, state, caller, jobseeker_id, assessment_id, body)


@router.get("/jobseekers/{jobseeker_id}/assessments")
def list_assessments(
    jobseeker_id: str, caller: CoachDep, session: SessionDep
) -> list[AssessmentOut]:
    return coaching.list_assessments(session, caller, jobseeker_id)


@router.delete(
    "/jobseekers/{jobseeker_id}/assessments/{assessment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
)
def delete_assessment(
    jobseeker_id: str, assessment_id: str, caller: CoachDep, session: SessionDep
) -> Response:
    coaching.delete_assessment(session, caller, jobseeker_id, assessment_id)
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
    """The best open vacancies for one of the coach's jobseekers, with reasons and skill gaps.

    Each result's ``band`` reads the score in words (see ``service.operations.bands``).
    """

    def answer() -> Response:
        # Serialised on the matching thread too: the answer is large.
        return json_response(
            coaching.matches_json(
                session,
                state,
                caller,
                jobseeker_id,
                k=k,
                municipality=municipality,
                max_distance_km=max_distance_km,
                job_form=job_form,
                factors=factors,
            )
        )

    return await state.in_matching_slot(answer)


# ---- proposals, feedback, outcomes ----------------------------------------------------------


@router.post("/jobseekers/{jobseeker_id}/proposals", status_code=status.HTTP_201_CREATED)
def propose(
    jobseeker_id: str, body: ProposalIn, caller: CoachDep, session: SessionDep, state: StateDep
) -> ProposalOut:
    """Propose the jobseeker to a vacancy; their consent (when and how) is required."""
    return coaching.propose(session, state, caller, jobseeker_id, body)


@router.get("/jobseekers/{jobseeker_id}/proposals")
def list_proposals(jobseeker_id: str, caller: CoachDep, session: SessionDep) -> list[ProposalOut]:
    return coaching.list_proposals(session, caller, jobseeker_id)


@router.post("/jobseekers/{jobseeker_id}/feedback", status_code=status.HTTP_201_CREATED)
def give_feedback(
    jobseeker_id: str, body: FeedbackIn, caller: CoachDep, session: SessionDep
) -> FeedbackOut:
    """Why a suggestion did not fit (commute, language, skills, work ability, ...)."""
    return coaching.give_feedback(session, caller, jobseeker_id, body)


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
    answer = coaching.record_outcome(session, state, caller, jobseeker_id, body)
    code = (
        status.HTTP_202_ACCEPTED if isinstance(answer, OutcomeClaimOut) else status.HTTP_201_CREATED
    )
    return Response(answer.model_dump_json(), status_code=code, media_type="application/json")


@router.get("/jobseekers/{jobseeker_id}/outcome-claims")
def list_outcome_claims(
    jobseeker_id: str, caller: CoachDep, session: SessionDep
) -> list[OutcomeClaimOut]:
    """The person's outcome claims and where each stands (pending, confirmed, rejected)."""
    return coaching.list_outcome_claims(session, caller, jobseeker_id)


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
    return coaching.import_jobseekers(session, state, caller, files)
