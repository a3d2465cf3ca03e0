"""Outcome events that move live state: a hire and the end of an employment.

Who is in work and which vacancies are filled is derived from the outcome events
(:mod:`features.live_state`), so recording one of these stages changes what every worker's
engine must hold: the person leaves matching or comes back, the vacancy's hires count toward
its openings, and the hires still owed under its employment condition change for every
vacancy of that condition. Both routes that record outcomes (the coach's and the employer's)
append those change-feed rows in the transaction that stores the event, so no worker can
see the event without the change or the change without the event.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import HTTPException, status
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matching.domain import OutcomeStage
from service.storage.changes import record_changes
from service.storage.tables import ChangeEntity, OutcomeRecord, VacancyRecord

#: Stages after which a person's or a vacancy's live state must be derived again.
LIVE_STATE_STAGES = frozenset({OutcomeStage.HIRED.value, OutcomeStage.EMPLOYMENT_ENDED.value})


def check_employment_ended(
    session: Session, jobseeker_id: str, vacancy_id: str, occurred_at: datetime
) -> None:
    """422 unless a hire of the same person at the same vacancy is recorded by ``occurred_at``.

    An employment that never started cannot end: without this check the event would be kept
    but ignored by every reader of live state, and the coach would believe the person was
    back in matching for the wrong reason.
    """
    first_hire = session.scalar(
        select(func.min(OutcomeRecord.occurred_at)).where(
            OutcomeRecord.jobseeker_id == jobseeker_id,
            OutcomeRecord.vacancy_id == vacancy_id,
            OutcomeRecord.stage == OutcomeStage.HIRED.value,
        )
    )
    if first_hire is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[
                {
                    "loc": ["body", "stage"],
                    "msg": "employment_ended needs a hire of the same jobseeker at this "
                    "vacancy, and none is recorded: record the hire first",
                    "type": "value_error",
                    "input": OutcomeStage.EMPLOYMENT_ENDED.value,
                }
            ],
        )
    if first_hire > occurred_at:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[
                {
                    "loc": ["body", "occurred_at"],
                    "msg": f"is before the hire it would end ({first_hire.isoformat()})",
                    "type": "value_error",
                    "input": occurred_at.isoformat(),
                }
            ],
        )


def record_live_state_changes(
    session: Session, stage: str, jobseeker_id: str, vacancy_id: str
) -> None:
    """Append the change-feed rows an outcome of ``stage`` needs, in the caller's transaction.

    A hire or an ended employment changes the person's availability and the vacancy's row.
    A hire also changes the hires owed under the vacancy's employment condition, a ranking
    feature of every vacancy of that condition, so those vacancies are re-read as well.
    """
    if stage not in LIVE_STATE_STAGES:
        return
    session.flush()
    connection = session.connection()
    vacancies = [vacancy_id]
    if stage == OutcomeStage.HIRED.value:
        condition = select(VacancyRecord.condition_id).where(VacancyRecord.vacancy_id == vacancy_id)
        vacancies += session.scalars(
            select(VacancyRecord.vacancy_id)
            .where(VacancyRecord.condition_id.is_not(None))
            .where(VacancyRecord.condition_id == condition.scalar_subquery())
            .order_by(VacancyRecord.vacancy_id)
        ).all()
    record_changes(connection, ChangeEntity.JOBSEEKER, [jobseeker_id])
    record_changes(connection, ChangeEntity.VACANCY, vacancies)
