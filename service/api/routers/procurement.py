"""Procurement officers: their contracts, employment conditions and fulfilment ledgers.

The operations live in :mod:`service.operations.procurement`; these routes translate.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from service.api.deps import ProcurementDep, SessionDep, StateDep
from service.api.routing import ReadRetryRoute
from service.api.schemas import ERROR_RESPONSES, ContractIn, ContractOut, LedgerOut, StatementOut
from service.operations import performance
from service.operations import procurement as operations
from service.web.statements import StatementFormat, statement_response

router = APIRouter(
    route_class=ReadRetryRoute,
    prefix="/api/v1/procurement",
    tags=["procurement"],
    responses=ERROR_RESPONSES,
)


@router.get("/contracts")
def list_contracts(
    caller: ProcurementDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> list[ContractOut]:
    return operations.list_contracts(session, caller, limit, after)


@router.post("/contracts", status_code=status.HTTP_201_CREATED)
def create_contract(
    body: ContractIn, caller: ProcurementDep, session: SessionDep, state: StateDep
) -> ContractOut:
    """Record a contract the caller's organisation signed, with its employment conditions."""
    return operations.create_contract(session, state, caller, body)


@router.get("/contracts/{contract_id}")
def read_contract(contract_id: str, caller: ProcurementDep, session: SessionDep) -> ContractOut:
    return operations.read_contract(session, caller, contract_id)


@router.get("/contracts/{contract_id}/ledger")
def ledger(
    contract_id: str, caller: ProcurementDep, session: SessionDep, state: StateDep
) -> LedgerOut:
    """Hires required and made per employment condition, by target group and job form.

    A hire counts toward a condition when the person belonged to one of its target groups on
    the day of the hire (the same rules as matching). Hires of erased people keep counting
    (they were checked when made) under the group ``erased``.
    """
    return operations.ledger(session, state, caller, contract_id)


@router.get(
    "/contracts/{contract_id}/statement",
    response_model=StatementOut,
    responses={200: {"content": {"text/csv": {}, "text/html": {}}}},
)
def statement(
    request: Request,
    contract_id: str,
    caller: ProcurementDep,
    session: SessionDep,
    state: StateDep,
    format: StatementFormat = "json",
) -> Response:
    """The running payment statement of the contract's performance-based conditions.

    Every credited outcome (hire, still employed after 6 and 12 months) with its points,
    amount before and after the cap and running total, per payment period, each traced to the
    audit entry that recorded it (docs/performance.md). `format=csv` or `format=html` (a
    printable page) give the same statement.
    """
    answer = performance.buyer_statement(session, state, caller, contract_id)
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
    caller: ProcurementDep,
    session: SessionDep,
    state: StateDep,
    format: StatementFormat = "json",
) -> Response:
    """The payment statement of one period (`2026-03` by month, `2026Q1` by quarter)."""
    answer = performance.buyer_statement(session, state, caller, contract_id, period)
    return statement_response(request, answer, format)
