"""Outcome events: who may record them, when they may have happened, what they move.

Owners
------
An outcome that counts anywhere (the contracts' ledgers and the statistics count hires and
retention, the training replay labels every stage, live state follows hires) is stored only
when the employer of the vacancy (an employer user of the vacancy's supplier organisation)
records it, for a person who was *proposed* there (a ``proposals`` row) or *shortlisted*
there (the person appeared in an audited shortlist of the vacancy). A coach's report of such
an outcome (``interviewed``, ``hired``, ``retained_6m``, ``declined_by_employer``) is a
*claim* (:class:`~service.storage.tables.OutcomeClaim`) that counts nowhere until the employer
confirms it; confirming writes the outcome and its change-feed rows in one transaction.

A coach records directly only what the jobseeker's side knows first-hand:

* ``declined_by_jobseeker`` — the person's own decision, about a vacancy they were proposed
  or shortlisted to;
* ``employment_ended`` — the person's job ended; it needs a hire of the pair that is already
  recorded (so by the employer), and it never takes a hire out of a ledger (a vacancy's hires
  count whether or not the employment lasted). Registering the person as unemployed again
  (``unemployment_start``) has the same effect on live state.

Dates
-----
``occurred_at`` must lie (as a UTC day) on or after the vacancy's ``opens_on``; on or after
the person's ``unemployment_start`` when one is recorded (the service matches registered
jobseekers; ``employment_ended`` is bounded by the hire it ends instead); for
``interviewed``, ``hired`` and the declines at most :data:`DAYS_AFTER_CLOSING` days after the
vacancy's ``closes_on`` (recruiting goes on after applications close, not for half a year
more); and not in the future, i.e. not after the service's day (``state.today``, the day
live state is derived for, as for an assessment's ``assessed_on``). Each refusal is a 422
naming the field.

Live state
----------
Who is in work and which vacancies are filled is derived from the outcome events
(:mod:`features.live_state`), so recording one of these stages changes what every worker's
engine must hold: the person leaves matching or comes back, the vacancy's hires count toward
its openings, and the hires still owed under its employment condition change for every
vacancy of that condition. Every operation here that stores an outcome (the employer's
record, a confirmed claim, a coach's direct stage) appends those change-feed rows in the
transaction that stores the event, so no worker can see the event without the change or the
change without the event. The same transaction appends the outcome's audit entry
(routes ``outcome.employer``, ``outcome.claim_confirmed``, ``outcome.coach``; the query names
the event id, the person is named by their audit pseudonym), which the payment statements of
performance-based contracts cite. Each operation is one function and one transaction; the
API's routes only translate bodies and answers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from fastapi import HTTPException, status
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matching.domain import OutcomeStage, ReasonCode
from service.api import audit
from service.api.ownership import own_jobseeker, own_vacancy
from service.api.problems import invalid
from service.api.security import Caller, not_found, pseudonym
from service.operations.errors import InvalidError
from service.storage.changes import record_changes
from service.storage.exposure_log import SHORTLIST_ROUTE
from service.storage.tables import (
    AuditLogEntry,
    ChangeEntity,
    ClaimStage,
    ClaimStatus,
    JobseekerRecord,
    OutcomeClaim,
    OutcomeRecord,
    Proposal,
    SupplierRecord,
    VacancyRecord,
)

if TYPE_CHECKING:
    from service.api.runtime import ServingState

#: Stages after which a person's or a vacancy's live state must be derived again.
LIVE_STATE_STAGES = frozenset({OutcomeStage.HIRED.value, OutcomeStage.EMPLOYMENT_ENDED.value})
#: Stages a coach records directly: the jobseeker's side knows them first-hand.
COACH_STAGES = frozenset(
    {OutcomeStage.DECLINED_BY_JOBSEEKER.value, OutcomeStage.EMPLOYMENT_ENDED.value}
)
#: Stages a coach can only claim; the vacancy's employer confirms them.
CLAIM_STAGES = frozenset(stage.value for stage in ClaimStage)
#: Stages the employer of the vacancy records (or confirms from a claim).
EMPLOYER_STAGES = CLAIM_STAGES | {OutcomeStage.EMPLOYMENT_ENDED.value}
#: How long after a vacancy closes an interview, a hire or a decline can still happen.
DAYS_AFTER_CLOSING = 180
#: Stages bounded by the vacancy's closing day (retention and an ended job come later).
_RECRUITING_STAGES = frozenset(
    {
        OutcomeStage.INTERVIEWED.value,
        OutcomeStage.HIRED.value,
        OutcomeStage.DECLINED_BY_EMPLOYER.value,
        OutcomeStage.DECLINED_BY_JOBSEEKER.value,
    }
)


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
        raise invalid(
            ["body", "stage"],
            "employment_ended needs a hire of the same jobseeker at this vacancy, and none is "
            "recorded: record the hire first",
            OutcomeStage.EMPLOYMENT_ENDED.value,
        )
    if first_hire > occurred_at:
        raise invalid(
            ["body", "occurred_at"],
            f"is before the hire it would end ({first_hire.isoformat()})",
            occurred_at.isoformat(),
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


# ---- owners, candidates and dates ----------------------------------------------------------


def _unprocessable(field: str, message: str, value: object) -> InvalidError:
    return invalid(["body", field], message, value)


def utc_instant(value: datetime, field: str = "occurred_at") -> datetime:
    """``value`` in UTC (a naive one is read as UTC); 422 when it has no UTC equivalent.

    An instant such as ``0001-01-01T00:00:00+01:00`` lies before the first representable UTC
    instant: converting it raises, and that must be the caller's error, not the service's.
    """
    try:
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC)
    except (OverflowError, ValueError) as error:
        raise _unprocessable(field, "is outside the range of dates", value.isoformat()) from error


def date_problem(
    state: ServingState,
    stage: str,
    occurred_at: datetime,
    vacancy: VacancyRecord,
    person: JobseekerRecord,
) -> str | None:
    """What is wrong with ``occurred_at`` (the module's "Dates" rules), or None."""
    # The service's day, as for assessments: live state is derived as of it, so a later
    # event would be stored but counted by nobody until that day comes.
    if occurred_at >= datetime.combine(state.today + timedelta(days=1), time(), tzinfo=UTC):
        return f"is in the future (after today, {state.today})"
    day = occurred_at.date()
    if day < vacancy.opens_on:
        return f"is before the vacancy opened ({vacancy.opens_on})"
    if stage in _RECRUITING_STAGES and day > vacancy.closes_on + timedelta(days=DAYS_AFTER_CLOSING):
        return (
            f"is more than {DAYS_AFTER_CLOSING} days after the vacancy closed ({vacancy.closes_on})"
        )
    registered = person.unemployment_start
    if stage != OutcomeStage.EMPLOYMENT_ENDED.value and registered is not None and day < registered:
        return f"is before the person registered as unemployed ({registered})"
    return None


def check_dates(
    state: ServingState,
    stage: str,
    occurred_at: datetime,
    vacancy: VacancyRecord,
    person: JobseekerRecord,
) -> None:
    """422 naming ``occurred_at`` unless it fits the vacancy, the person and today."""
    problem = date_problem(state, stage, occurred_at, vacancy, person)
    if problem is not None:
        raise _unprocessable("occurred_at", problem, occurred_at.isoformat())


def check_reason(stage: str, reason: ReasonCode | None) -> None:
    if stage.startswith("declined") and reason is None:
        raise _unprocessable("reason", "a decline needs a reason code", None)


def shortlisted_ids(session: Session, vacancy_id: str) -> set[str]:
    """The people an audited shortlist of ``vacancy_id`` has ever shown (erased ones aside).

    The audit log is the record of what each shortlist answered (the exposure log reads it the
    same way), so "shortlisted" means what an employer actually saw. Entries name people by
    their audit pseudonym, resolved here through the audit's key table.
    """
    answers = session.scalars(
        select(AuditLogEntry.results).where(
            AuditLogEntry.route == SHORTLIST_ROUTE,
            AuditLogEntry.query["vacancy_id"].as_string() == vacancy_id,
        )
    )
    named = {str(item[0]) for results in answers for item in results if item}
    return set(audit.people(session.connection(), named).values())


def is_candidate(session: Session, vacancy_id: str, jobseeker_id: str) -> bool:
    """Whether the person was proposed to the vacancy or appeared in a shortlist of it."""
    proposed = session.scalar(
        select(Proposal.proposal_id).where(
            Proposal.vacancy_id == vacancy_id, Proposal.jobseeker_id == jobseeker_id
        )
    )
    return proposed is not None or jobseeker_id in shortlisted_ids(session, vacancy_id)


def candidates_by_pseudonym(
    session: Session, state: ServingState, vacancy_id: str
) -> dict[str, str]:
    """Pseudonym -> jobseeker id of everyone proposed or shortlisted to ``vacancy_id``."""
    proposed = set(
        session.scalars(select(Proposal.jobseeker_id).where(Proposal.vacancy_id == vacancy_id))
    )
    people = proposed | shortlisted_ids(session, vacancy_id)
    return {pseudonym(state.pseudonym_key, vacancy_id, person): person for person in people}


def _any_vacancy(session: Session, vacancy_id: str) -> VacancyRecord:
    record = session.get(VacancyRecord, vacancy_id)
    if record is None:
        raise not_found("vacancy", vacancy_id)
    return record


#: Audit routes of a stored outcome, by how it was recorded (the payment statements of
#: performance-based contracts trace each credited outcome to its entry).
OUTCOME_BY_EMPLOYER = "outcome.employer"
OUTCOME_CLAIM_CONFIRMED = "outcome.claim_confirmed"
OUTCOME_BY_COACH = "outcome.coach"


def _audit_outcome(
    session: Session,
    state: ServingState,
    caller: Caller,
    route: str,
    record: OutcomeRecord,
    claim_id: str | None,
) -> None:
    """Append the outcome's audit entry in the transaction that stores it (the person by
    their audit pseudonym), so an outcome is never stored without its entry. A worker built
    without a sealer audits nothing (unit tests), as for every other entry."""
    if state.sealer is None:
        return
    audit.lock_chain(session)  # before the pseudonym: a key is only created inside an append
    named = audit.pseudonyms(session.connection(), [record.jobseeker_id], state.pseudonyms)
    query: dict[str, object] = {
        "event_id": record.event_id,
        "vacancy_id": record.vacancy_id,
        "stage": record.stage,
        "reason": record.reason,
        "occurred_at": record.occurred_at.isoformat(),
    }
    if claim_id is not None:
        query["claim_id"] = claim_id
    audit.append(
        session,
        sealer=state.sealer,
        user_id=caller.user_id,
        role=caller.role.value,
        organisation_id=caller.organisation_id,
        route=route,
        query=query,
        model_version=None,
        results=[[named[record.jobseeker_id]]],
        explanation_digest=None,
    )


def _store(
    session: Session,
    state: ServingState,
    caller: Caller,
    route: str,
    stage: str,
    reason: ReasonCode | str | None,
    occurred_at: datetime,
    jobseeker_id: str,
    vacancy_id: str,
    claim_id: str | None = None,
) -> OutcomeRecord:
    """Add the outcome, its change-feed rows and its audit entry to the session's
    transaction (no commit)."""
    if stage == OutcomeStage.EMPLOYMENT_ENDED.value:
        check_employment_ended(session, jobseeker_id, vacancy_id, occurred_at)
    record = OutcomeRecord(
        event_id=f"EV-{uuid.uuid4().hex[:16]}",
        jobseeker_id=jobseeker_id,
        vacancy_id=vacancy_id,
        stage=stage,
        reason=None if reason is None else str(reason),
        occurred_at=occurred_at,
    )
    session.add(record)
    record_live_state_changes(session, stage, jobseeker_id, vacancy_id)
    _audit_outcome(session, state, caller, route, record, claim_id)
    return record


# ---- the operations (one transaction each) -------------------------------------------------


def record_by_employer(
    session: Session,
    state: ServingState,
    caller: Caller,
    vacancy_id: str,
    candidate: str,
    stage: str,
    reason: ReasonCode | None,
    occurred_at: datetime,
) -> OutcomeRecord:
    """The employer of ``vacancy_id`` records an outcome of a candidate, by pseudonym."""
    vacancy = own_vacancy(session, caller, vacancy_id)
    if stage not in EMPLOYER_STAGES:
        raise _unprocessable("stage", f"is not one of {sorted(EMPLOYER_STAGES)}", stage)
    jobseeker_id = candidates_by_pseudonym(session, state, vacancy_id).get(candidate)
    person = None if jobseeker_id is None else session.get(JobseekerRecord, jobseeker_id)
    if jobseeker_id is None or person is None:
        raise _unprocessable(
            "candidate",
            "is not a candidate proposed to or shortlisted for this vacancy",
            candidate,
        )
    check_reason(stage, reason)
    occurred = utc_instant(occurred_at)
    check_dates(state, stage, occurred, vacancy, person)
    record = _store(
        session,
        state,
        caller,
        OUTCOME_BY_EMPLOYER,
        stage,
        reason,
        occurred,
        jobseeker_id,
        vacancy_id,
    )
    session.commit()
    return record


def report_by_coach(
    session: Session,
    state: ServingState,
    caller: Caller,
    jobseeker_id: str,
    vacancy_id: str,
    stage: str,
    reason: ReasonCode | None,
    occurred_at: datetime,
) -> OutcomeRecord | OutcomeClaim:
    """A coach's report: an outcome for :data:`COACH_STAGES`, a pending claim otherwise."""
    person = own_jobseeker(session, caller, jobseeker_id)
    vacancy = _any_vacancy(session, vacancy_id)
    if stage not in COACH_STAGES | CLAIM_STAGES:
        raise _unprocessable("stage", f"is not one of {sorted(COACH_STAGES | CLAIM_STAGES)}", stage)
    check_reason(stage, reason)
    occurred = utc_instant(occurred_at)
    if stage != OutcomeStage.EMPLOYMENT_ENDED.value and not is_candidate(
        session, vacancy_id, jobseeker_id
    ):
        raise _unprocessable(
            "vacancy_id",
            "the jobseeker was neither proposed to nor shortlisted for this vacancy",
            vacancy_id,
        )
    check_dates(state, stage, occurred, vacancy, person)
    if stage in COACH_STAGES:
        record = _store(
            session,
            state,
            caller,
            OUTCOME_BY_COACH,
            stage,
            reason,
            occurred,
            jobseeker_id,
            vacancy_id,
        )
        session.commit()
        return record
    pending = session.scalar(
        select(OutcomeClaim.claim_id).where(
            OutcomeClaim.jobseeker_id == jobseeker_id,
            OutcomeClaim.vacancy_id == vacancy_id,
            OutcomeClaim.stage == stage,
            OutcomeClaim.status == ClaimStatus.PENDING.value,
        )
    )
    if pending is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"claim {pending} of {stage!r} for this vacancy awaits the employer already",
        )
    claim = OutcomeClaim(
        claim_id=f"CL-{uuid.uuid4().hex[:16]}",
        jobseeker_id=jobseeker_id,
        vacancy_id=vacancy_id,
        stage=stage,
        reason=None if reason is None else reason.value,
        occurred_at=occurred,
        status=ClaimStatus.PENDING.value,
        claimed_by=caller.user_id,
        claimed_at=datetime.now(UTC),
    )
    session.add(claim)
    session.commit()
    return claim


def coach_claims(session: Session, caller: Caller, jobseeker_id: str) -> list[OutcomeClaim]:
    """Every claim made for one of the coach's jobseekers, oldest first."""
    own_jobseeker(session, caller, jobseeker_id)
    return list(
        session.scalars(
            select(OutcomeClaim)
            .where(OutcomeClaim.jobseeker_id == jobseeker_id)
            .order_by(OutcomeClaim.claimed_at, OutcomeClaim.claim_id)
        )
    )


@dataclass(frozen=True)
class EmployerClaim:
    """A claim as the vacancy's employer sees it: the person by pseudonym only."""

    claim: OutcomeClaim
    candidate: str


def employer_claims(
    session: Session,
    state: ServingState,
    caller: Caller,
    claim_status: ClaimStatus | None = ClaimStatus.PENDING,
    vacancy_id: str | None = None,
) -> list[EmployerClaim]:
    """Claims about the vacancies of the caller's organisation, oldest first."""
    query = (
        select(OutcomeClaim)
        .join(VacancyRecord, VacancyRecord.vacancy_id == OutcomeClaim.vacancy_id)
        .join(SupplierRecord, SupplierRecord.supplier_id == VacancyRecord.supplier_id)
        .where(SupplierRecord.organisation_id == caller.organisation_id)
        .order_by(OutcomeClaim.claimed_at, OutcomeClaim.claim_id)
    )
    if claim_status is not None:
        query = query.where(OutcomeClaim.status == claim_status.value)
    if vacancy_id is not None:
        own_vacancy(session, caller, vacancy_id)
        query = query.where(OutcomeClaim.vacancy_id == vacancy_id)
    return [
        EmployerClaim(c, pseudonym(state.pseudonym_key, c.vacancy_id, c.jobseeker_id))
        for c in session.scalars(query)
    ]


def _employer_claim(
    session: Session, state: ServingState, caller: Caller, claim_id: str
) -> EmployerClaim:
    """The claim if it concerns a vacancy of the caller's organisation; 404 otherwise.

    Locked for the decision (PostgreSQL ``FOR UPDATE``; SQLite has a single writer), so two
    employers cannot confirm the same claim twice.
    """
    claim = session.scalars(
        select(OutcomeClaim).where(OutcomeClaim.claim_id == claim_id).with_for_update()
    ).first()
    if claim is None:
        raise not_found("claim", claim_id)
    own_vacancy(session, caller, claim.vacancy_id)
    if claim.status != ClaimStatus.PENDING.value:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"claim {claim_id} is {claim.status} already"
        )
    return EmployerClaim(
        claim, pseudonym(state.pseudonym_key, claim.vacancy_id, claim.jobseeker_id)
    )


def confirm_claim(
    session: Session, state: ServingState, caller: Caller, claim_id: str
) -> EmployerClaim:
    """The employer confirms a claim: the outcome and its live-state changes, one commit.

    The claim is checked again as if the employer recorded it now: the vacancy's dates may
    have changed since the coach claimed it.
    """
    found = _employer_claim(session, state, caller, claim_id)
    claim = found.claim
    vacancy = own_vacancy(session, caller, claim.vacancy_id)
    person = session.get(JobseekerRecord, claim.jobseeker_id)
    if person is None or not is_candidate(session, claim.vacancy_id, claim.jobseeker_id):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"claim {claim_id}: the person is no candidate of this vacancy any more",
        )
    problem = date_problem(state, claim.stage, claim.occurred_at, vacancy, person)
    if problem is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"claim {claim_id} no longer fits the vacancy: occurred_at {problem}",
        )
    record = _store(
        session,
        state,
        caller,
        OUTCOME_CLAIM_CONFIRMED,
        claim.stage,
        claim.reason,
        claim.occurred_at,
        claim.jobseeker_id,
        claim.vacancy_id,
        claim.claim_id,
    )
    claim.status = ClaimStatus.CONFIRMED.value
    claim.decided_by = caller.user_id
    claim.decided_at = datetime.now(UTC)
    claim.event_id = record.event_id
    session.commit()
    return found


def reject_claim(
    session: Session, state: ServingState, caller: Caller, claim_id: str
) -> EmployerClaim:
    """The employer rejects a claim: it stays, rejected, and nothing is counted."""
    found = _employer_claim(session, state, caller, claim_id)
    found.claim.status = ClaimStatus.REJECTED.value
    found.claim.decided_by = caller.user_id
    found.claim.decided_at = datetime.now(UTC)
    session.commit()
    return found


def check_credited_hires_stay(
    session: Session, vacancy: VacancyRecord, contract_id: str | None, condition_id: str | None
) -> None:
    """409 when a vacancy with hires under its employment condition would leave it.

    The ledgers and statistics credit a vacancy's hires to the condition the vacancy is under;
    detaching it (or moving it to another contract or condition) would take hires out of one
    contract's fulfilment, or put them into another's, after the fact.
    """
    if vacancy.condition_id is None:
        return
    if contract_id == vacancy.contract_id and condition_id == vacancy.condition_id:
        return
    hires = session.scalar(
        select(func.count(func.distinct(OutcomeRecord.jobseeker_id))).where(
            OutcomeRecord.vacancy_id == vacancy.vacancy_id,
            OutcomeRecord.stage == OutcomeStage.HIRED.value,
        )
    )
    if hires:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"vacancy {vacancy.vacancy_id} has {hires} hire(s) credited under employment "
            f"condition {vacancy.condition_id} of contract {vacancy.contract_id}: it cannot "
            "leave that contract or change its condition",
        )
