"""Employment-condition statistics for procurement units and operators.

The common indicator set (docs/indicators.md) and the economic impact, computed from the
service database exactly as `kohtaanto stats` computes them from a world, and published with
small-cell suppression: only aggregates resting on at least five people leave the service, so
every procurement unit may compare every municipality.

Statistics are not real-time: a worker builds its fact tables from the database at most once
per ``statistics_cache_seconds`` and answers from them in between.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from reporting.definitions import MIN_PEOPLE
from reporting.facts import Facts, build_facts
from reporting.impact import impact_table
from reporting.impact_parameters import ImpactParameters, load_parameters
from reporting.indicators import indicator_table, key_columns
from reporting.publish import (
    PublishedTable,
    hires_by_target_group,
    publish_impact_table,
    publish_indicator_table,
)
from service.api.deps import StateDep, require
from service.api.problems import invalid
from service.api.routing import ReadRetryRoute
from service.api.runtime import ServingState
from service.api.schemas import ERROR_RESPONSES, Day
from service.api.security import Caller
from service.storage.tables import Role
from service.storage.world_io import read_world_tables

router = APIRouter(
    route_class=ReadRetryRoute,
    prefix="/api/v1/statistics",
    tags=["statistics"],
    responses=ERROR_RESPONSES,
)
StatisticsDep = Annotated[Caller, Depends(require(Role.PROCUREMENT, Role.ADMIN))]

By = Literal["municipality", "buyer", "contract", "cpv_division", "country", "period"]
Period = Literal["month", "quarter", "year"]
TABLES = (
    "organisations",
    "coaches",
    "jobseekers",
    "assessments",
    "contracts",
    "employment_conditions",
    "vacancies",
    "outcomes",
)


class StatisticsOut(BaseModel):
    """A published table: ``data`` rows name their ``hidden`` (suppressed) cells."""

    meta: dict[str, Any]
    columns: list[str]
    data: list[dict[str, Any]]
    count: int


@dataclass
class FactsCache:
    """One worker's fact tables and when they were built."""

    seconds: float
    parameters: ImpactParameters = field(default_factory=load_parameters)
    facts: Facts | None = None
    built_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, state: ServingState) -> Facts:
        with self.lock:
            if self.facts is None or time.monotonic() - self.built_at > self.seconds:
                self.facts = build_facts(read_world_tables(state.db, TABLES))
                self.built_at = time.monotonic()
            return self.facts


def _cache(state: ServingState) -> FactsCache:
    cache = state.caches.get("statistics")
    if not isinstance(cache, FactsCache):
        cache = state.caches["statistics"] = FactsCache(state.statistics_cache_seconds)
    return cache


def _window(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and end <= start:
        raise invalid(["query", "end"], f"must be after start ({start})", str(end))


def _meta(
    by: str, period: str | None, start: date | None, end: date | None, params: ImpactParameters
) -> dict[str, Any]:
    return {
        "by": by,
        "period": period,
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "parameters_version": params.version,
        "suppression": f"cells resting on 1-{MIN_PEOPLE - 1} people are hidden, with "
        "complementary cells so that no hidden cell follows from published totals",
    }


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
    _window(start, end)
    cache = _cache(state)
    facts = cache.get(state)
    table_period = period if by != "period" else (period or "quarter")
    raw = indicator_table(facts, by, table_period, start, end, params=cache.parameters, totals=True)
    published = publish_indicator_table(raw, key_columns(by, table_period))
    meta = _meta(by, table_period, start, end, cache.parameters)
    return StatisticsOut.model_validate(published.to_document(meta))


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
    _window(start, end)
    cache = _cache(state)
    facts = cache.get(state)
    table_period = period if by != "period" else (period or "quarter")
    published = publish_impact_table(
        impact_table(facts, by, table_period, start, end, params=cache.parameters, totals=True),
        key_columns(by, table_period),
    )
    meta = _meta(by, table_period, start, end, cache.parameters)
    return StatisticsOut.model_validate(published.to_document(meta))


def _png(draw: Any, table: PublishedTable, name: str) -> Response:
    with tempfile.TemporaryDirectory(prefix="kohtaanto-chart-") as folder:
        path = draw(table, Path(folder) / f"{name}.png")
        content = Path(path).read_bytes()
    return Response(content=content, media_type="image/png")


@router.get(
    "/charts/{name}.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "A PNG chart."}},
)
def chart(
    name: Literal["fulfilment", "hires_by_target_group", "impact_per_hire"],
    caller: StatisticsDep,
    state: StateDep,
) -> Response:
    """Fulfilment by municipality, hires by target group over time, impact per placement."""
    from reporting.charts import fulfilment_chart, impact_chart, target_group_chart

    cache = _cache(state)
    facts = cache.get(state)
    params = cache.parameters
    if name == "fulfilment":
        table = publish_indicator_table(
            indicator_table(facts, "municipality", None, params=params, totals=True),
            ["municipality"],
        )
        return _png(fulfilment_chart, table, name)
    if name == "hires_by_target_group":
        over_time = publish_indicator_table(
            indicator_table(facts, "period", "quarter", params=params, totals=True), ["period"]
        )
        return _png(target_group_chart, hires_by_target_group(over_time), name)
    table = publish_impact_table(
        impact_table(facts, "country", None, params=params, totals=True), ["country"]
    )
    return _png(impact_chart, table, name)
