"""Procurement units: the targeting advisor for a procurement plan.

The operation lives in :mod:`service.operations.targeting`; this route translates.
"""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import ProcurementDep, StateDep
from service.api.schemas import ERROR_RESPONSES
from service.operations import targeting as operations

router = APIRouter(prefix="/api/v1/procurement", tags=["procurement"], responses=ERROR_RESPONSES)


@router.post("/targeting")
def advise_plan(
    body: operations.TargetingIn, caller: ProcurementDep, state: StateDep
) -> operations.TargetingOut:
    """Advice for a procurement plan: for each planned procurement, the occupations its work
    needs, the local supply of each target group who would rank well for them (counts, never
    people; a count under 5 is shown as `<5`), the competing open vacancies, a recommended
    employment condition with its feasibility, an 80 % interval of the hires and the expected
    economic impact. The same figures as `kohtaanto target --plan`.

    Every line's `buyer` is your organisation (leave it out). At most 100 lines a request.
    """
    return operations.targeting_out(operations.advise(state, caller, body))
