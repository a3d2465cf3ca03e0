"""Procurement officers: their contracts, employment conditions and fulfilment ledgers."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from features.world_store import SCHEMAS, condition_from_row, jobseeker_from_row
from matching.domain import (
    BuyerKind,
    DomainValidationError,
    EmploymentCondition,
    ProcurementContract,
    check_references,
)
from matching.eligibility import eligibility
from service.api.catalog import catalog_of
from service.api.deps import ProcurementDep, SessionDep, StateDep
from service.api.problems import invalid
from service.api.routing import ReadRetryRoute
from service.api.runtime import record_dict
from service.api.schemas import (
    ERROR_RESPONSES,
    ConditionOut,
    ContractIn,
    ContractOut,
    LedgerLine,
    LedgerOut,
)
from service.api.security import Caller, not_found
from service.storage.tables import (
    ContractRecord,
    EmploymentConditionRecord,
    JobseekerRecord,
    OrganisationRecord,
    OutcomeRecord,
    SupplierRecord,
    VacancyRecord,
)

router = APIRouter(
    route_class=ReadRetryRoute,
    prefix="/api/v1/procurement",
    tags=["procurement"],
    responses=ERROR_RESPONSES,
)


def own_contract(session: Session, caller: Caller, contract_id: str) -> ContractRecord:
    record = session.get(ContractRecord, contract_id)
    if record is None or record.buyer_id != caller.organisation_id:
        raise not_found("contract", contract_id)
    return record


def _conditions(session: Session, contract_id: str) -> list[EmploymentConditionRecord]:
    return list(
        session.scalars(
            select(EmploymentConditionRecord)
            .where(EmploymentConditionRecord.contract_id == contract_id)
            .order_by(EmploymentConditionRecord.condition_id)
        )
    )


def _contract_out(session: Session, record: ContractRecord) -> ContractOut:
    return ContractOut(
        contract_id=record.contract_id,
        buyer_id=record.buyer_id,
        supplier_id=record.supplier_id,
        cpv_code=record.cpv_code,
        title=record.title,
        starts_on=record.starts_on,
        ends_on=record.ends_on,
        value_eur=record.value_eur,
        conditions=[
            ConditionOut(
                condition_id=c.condition_id,
                target_groups=list(c.target_groups),
                hires_required=c.hires_required,
                deadline=c.deadline,
                allowed_job_forms=list(c.allowed_job_forms),
                performance_based=c.performance_based,
            )
            for c in _conditions(session, record.contract_id)
        ],
    )


@router.get("/contracts")
def list_contracts(
    caller: ProcurementDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> list[ContractOut]:
    query = select(ContractRecord).where(ContractRecord.buyer_id == caller.organisation_id)
    if after:
        query = query.where(ContractRecord.contract_id > after)
    rows = session.scalars(query.order_by(ContractRecord.contract_id).limit(limit)).all()
    return [_contract_out(session, r) for r in rows]


@router.post("/contracts", status_code=status.HTTP_201_CREATED)
def create_contract(
    body: ContractIn, caller: ProcurementDep, session: SessionDep, state: StateDep
) -> ContractOut:
    """Record a contract the caller's organisation signed, with its employment conditions."""
    buyer = session.get(OrganisationRecord, caller.organisation_id)
    if buyer is None or buyer.kind not in ("buyer", "central_purchasing_body"):
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="your organisation is not a buying organisation"
        )
    if session.get(SupplierRecord, body.supplier_id) is None:
        raise invalid(["body", "supplier_id"], "is not a known supplier", body.supplier_id)
    central = buyer.kind == "central_purchasing_body"
    contract_id = f"CT-{uuid.uuid4().hex[:16]}"
    contract = ProcurementContract(
        contract_id=contract_id,
        buyer_id=buyer.organisation_id,
        buyer_kind=BuyerKind.CENTRAL_PURCHASING_BODY if central else BuyerKind.MUNICIPALITY,
        supplier_id=body.supplier_id,
        cpv_code=body.cpv_code,
        title=body.title,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        value_eur=body.value_eur,
        buyer_municipality=None if central else buyer.municipality,
    )
    check_references(contract, catalog_of(state))
    conditions = []
    for i, item in enumerate(body.conditions):
        try:
            conditions.append(
                EmploymentCondition(
                    condition_id=f"EC-{uuid.uuid4().hex[:16]}",
                    contract_id=contract_id,
                    target_groups=frozenset(item.target_groups),
                    hires_required=item.hires_required,
                    deadline=item.deadline,
                    allowed_job_forms=frozenset(item.allowed_job_forms),
                    performance_based=item.performance_based,
                )
            )
        except DomainValidationError as error:
            raise DomainValidationError(
                f"conditions[{i}].{error.field}", error.value, error.problem
            ) from error
        if item.deadline < body.starts_on:
            raise invalid(
                ["body", "conditions", str(i), "deadline"],
                "is before the contract starts",
                str(item.deadline),
            )
    session.add(
        ContractRecord(
            contract_id=contract_id,
            buyer_id=contract.buyer_id,
            buyer_kind=contract.buyer_kind.value,
            buyer_municipality=contract.buyer_municipality,
            supplier_id=contract.supplier_id,
            cpv_code=contract.cpv_code,
            title=contract.title,
            starts_on=contract.starts_on,
            ends_on=contract.ends_on,
            value_eur=contract.value_eur,
        )
    )
    session.flush()
    for condition in conditions:
        session.add(
            EmploymentConditionRecord(
                condition_id=condition.condition_id,
                contract_id=contract_id,
                target_groups=sorted(g.value for g in condition.target_groups),
                hires_required=condition.hires_required,
                deadline=condition.deadline,
                allowed_job_forms=sorted(f.value for f in condition.allowed_job_forms),
                performance_based=condition.performance_based,
            )
        )
    session.commit()
    record = session.get(ContractRecord, contract_id)
    assert record is not None
    return _contract_out(session, record)


@router.get("/contracts/{contract_id}")
def read_contract(contract_id: str, caller: ProcurementDep, session: SessionDep) -> ContractOut:
    return _contract_out(session, own_contract(session, caller, contract_id))


def deadline_status(required: int, made: int, deadline: date, starts_on: date, today: date) -> str:
    """``met``; ``missed`` after the deadline; ``at_risk`` when behind a straight-line pace."""
    if made >= required:
        return "met"
    if today > deadline:
        return "missed"
    span = max((deadline - starts_on).days, 1)
    elapsed = min(max((today - starts_on).days, 0), span)
    return "at_risk" if made < required * elapsed / span else "on_track"


@router.get("/contracts/{contract_id}/ledger")
def ledger(
    contract_id: str, caller: ProcurementDep, session: SessionDep, state: StateDep
) -> LedgerOut:
    """Hires required and made per employment condition, by target group and job form.

    A hire counts toward a condition when the person belonged to one of its target groups on
    the day of the hire (the same rules as matching). Hires of erased people keep counting
    (they were checked when made) under the group ``erased``.
    """
    contract = own_contract(session, caller, contract_id)
    today = state.today
    lines: list[LedgerLine] = []
    for condition_record in _conditions(session, contract_id):
        condition = condition_from_row(
            record_dict(condition_record, tuple(SCHEMAS["employment_conditions"].names))
        )
        hires = session.execute(
            select(OutcomeRecord, VacancyRecord.job_form)
            .join(VacancyRecord, VacancyRecord.vacancy_id == OutcomeRecord.vacancy_id)
            .where(
                VacancyRecord.condition_id == condition.condition_id,
                OutcomeRecord.stage == "hired",
            )
            .order_by(OutcomeRecord.occurred_at)
        ).all()
        seen: set[tuple[str, str]] = set()
        by_group: Counter[str] = Counter()
        by_form: Counter[str] = Counter()
        made = not_counted = 0
        for outcome, job_form in hires:
            key = (outcome.jobseeker_id, outcome.vacancy_id)
            if key in seen:
                continue
            seen.add(key)
            hired_on = outcome.occurred_at.date()
            person_record = session.get(JobseekerRecord, outcome.jobseeker_id)
            if person_record is None:
                made += 1
                by_group["erased"] += 1
                by_form[job_form] += 1
                continue
            person = jobseeker_from_row(
                record_dict(person_record, tuple(SCHEMAS["jobseekers"].names))
            )
            decision = eligibility(person, condition, hired_on)
            if not decision.eligible:
                not_counted += 1
                continue
            made += 1
            rule = decision.deciding_rule
            by_group[rule.group.value if rule else "unknown"] += 1
            by_form[job_form] += 1
        lines.append(
            LedgerLine(
                condition_id=condition.condition_id,
                target_groups=sorted(g.value for g in condition.target_groups),
                hires_required=condition.hires_required,
                hires_made=made,
                hires_not_counted=not_counted,
                by_target_group=dict(sorted(by_group.items())),
                by_job_form=dict(sorted(by_form.items())),
                deadline=condition.deadline,
                deadline_status=deadline_status(
                    condition.hires_required, made, condition.deadline, contract.starts_on, today
                ),
            )
        )
    return LedgerOut(contract_id=contract_id, on=today, lines=lines)
