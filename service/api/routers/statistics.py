"""Employment-condition statistics for procurement units and operators.

The common indicator set (docs/indicators.md) and the economic impact, computed from the
service database exactly as `kohtaanto stats` computes them from a world, and published with
small-cell suppression: only aggregates resting on at least five people leave the service, so
every procurement unit may compare every municipality.

Statistics are not real-time: a worker builds its fact tables from the database at most once
per ``statistics_cache_seconds`` and answers from them in between. The operations live in
:mod:`service.operations.procurement`; these routes translate.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from reporting.contract_types import AreaBy
from reporting.definitions import TOTAL
from service.api.deps import StateDep, require
from service.api.routing import ReadRetryRoute
from service.api.schemas import ERROR_RESPONSES, Day
from service.api.security import Caller
from service.operations import procurement as operations
from service.operations.procurement import By, ChartName, Period, StatisticsOut
from service.storage.tables import Role

router = APIRouter(
    route_class=ReadRetryRoute,
    prefix="/api/v1/statistics",
    tags=["statistics"],
    responses=ERROR_RESPONSES,
)
StatisticsDep = Annotated[Caller, Depends(require(Role.PROCUREMENT, Role.ADMIN))]

DateQuery = Annotated[Day | None, Query(description="First day counted / the day after the last.")]


@router.get("/indicators")
def indicators(
    caller: StatisticsDep,
    state: StateDep,
    by: By = "municipality",
    period: Period | None = None,
    start: DateQuery = None,
    end: DateQuery = None,
) -> StatisticsOut:
    """The common indicators per municipality, buyer, contract, CPV division, country or period."""
    return operations.indicators(state, by, period, start, end)


@router.get("/impact")
def impact(
    caller: StatisticsDep,
    state: StateDep,
    by: By = "country",
    period: Period | None = None,
    start: DateQuery = None,
    end: DateQuery = None,
) -> StatisticsOut:
    """Economic impact for the person, the municipality and the state, with ranges."""
    return operations.impact(state, by, period, start, end)


@router.get("/contract-types")
def contract_types(
    caller: StatisticsDep,
    state: StateDep,
    by: AreaBy = "municipality",
    start: DateQuery = None,
    end: DateQuery = None,
) -> StatisticsOut:
    """Quota and performance contracts side by side per municipality (or central purchasing
    body) or country: hires, retention, time to fill, public cost, cost per lasting hire and
    impact per euro, every figure about hires also by sex, small cells hidden."""
    return operations.contract_types(state, by, start, end)


@router.get(
    "/contract-types/chart.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "A PNG chart."}},
)
def contract_types_chart(
    caller: StatisticsDep,
    state: StateDep,
    area: Annotated[
        str,
        Query(
            min_length=1,
            max_length=64,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="A municipality code or central purchasing body id; TOTAL: all areas.",
        ),
    ] = TOTAL,
    start: DateQuery = None,
    end: DateQuery = None,
) -> Response:
    """Cost per lasting hire, impact per euro and hires by sex, quota beside performance."""
    png = operations.contract_types_chart_png(state, area, start, end)
    return Response(content=png, media_type="image/png")


@router.get(
    "/charts/{name}.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "A PNG chart."}},
)
def chart(name: ChartName, caller: StatisticsDep, state: StateDep) -> Response:
    """Fulfilment by municipality, hires by target group over time, impact per placement."""
    return Response(content=operations.chart_png(state, name), media_type="image/png")
