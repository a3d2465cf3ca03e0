"""The procurement's pages under ``/app/procurement/``: contracts, ledgers, statistics.

Each page calls the operation the JSON API calls (:mod:`service.operations.procurement`) and
only turns its answer into a page: the ledger's counts are the JSON ledger's, the statistics'
figures the published (small-cell suppressed) rows of ``/api/v1/statistics`` about the
caller's organisation, and every chart is drawn by the ``kohtaanto stats`` chart code with its
numbers in a table beside it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from matching.domain import JobForm, TargetGroup
from reporting.definitions import (
    CONTRACT_TYPE_BASE,
    CONTRACT_TYPES,
    INDICATORS,
    SEX_GROUPS,
    TOTAL,
    Kind,
    sex_column,
)
from reporting.impact import STAKEHOLDERS
from reporting.publish import PublishedTable
from service.api.deps import SessionDep, StateDep
from service.api.runtime import ServingState
from service.api.security import Caller
from service.operations import performance
from service.operations import procurement as operations
from service.operations.errors import InvalidError
from service.operations.procurement import (
    CHARTS,
    ChartName,
    OrganisationContractTypes,
    OrganisationStatistics,
)
from service.web.auth import WebProcurement
from service.web.statements import statement_response
from service.web.templating import render, translator

router = APIRouter(prefix="/app/procurement", include_in_schema=False)

#: Contracts per page of the list.
PAGE_SIZE = 50


def _format(kind: Kind, unit: str) -> tuple[bool, int | None]:
    """How an indicator's value shows: (as a percentage, decimals or None for plain)."""
    if unit == "share":
        return True, None
    if kind is Kind.AMOUNT:
        return False, 0
    if kind in (Kind.RATIO, Kind.STATISTIC):
        return False, 1
    return False, None


#: Each indicator of the table: its column, whether a share, how many decimals.
INDICATOR_FORMATS = [
    {"name": item.name, "share": share, "digits": digits}
    for item in INDICATORS
    for share, digits in [_format(item.kind, item.unit)]
]

#: The side-by-side indicators the statistics page shows (all of them are in the JSON).
CONTRACT_TYPE_ROWS = [
    "conditions",
    "hires_made",
    "retention_6m_rate",
    "retention_12m_rate",
    "time_to_fill_days_median",
    "payments_eur",
    "pay_subsidy_eur",
    "coaching_cost_eur",
    "public_cost_eur",
    "cost_per_lasting_hire_eur",
    "impact_eur",
    "impact_per_euro",
]
#: The by-sex columns of the page's second table (the numbers of its chart).
CONTRACT_TYPE_SEX_COLUMNS = [
    "hires_made",
    "retention_6m_rate",
    "retention_12m_rate",
    "time_to_fill_days_median",
    "cost_per_lasting_hire_eur",
    "impact_per_euro",
]
CONTRACT_TYPE_FORMATS = {
    item.name: {
        "share": share,
        "digits": 2 if item.name == "impact_per_euro" else digits,
    }
    for item in CONTRACT_TYPE_BASE
    for share, digits in [_format(item.kind, item.unit)]
}


@router.get("/", response_class=HTMLResponse)
def contracts(
    request: Request,
    caller: WebProcurement,
    session: SessionDep,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """The organisation's contracts with their employment conditions."""
    views = operations.contract_views(session, caller, PAGE_SIZE + 1, after)
    more = len(views) > PAGE_SIZE
    views = views[:PAGE_SIZE]
    return render(
        request,
        "procurement/contracts.html",
        {
            "contracts": views,
            "after": after,
            "next_after": views[-1].contract.contract_id if more and views else None,
        },
    )


@router.get("/contracts/{contract_id}", response_class=HTMLResponse)
def contract(
    request: Request,
    contract_id: str,
    caller: WebProcurement,
    session: SessionDep,
    state: StateDep,
) -> HTMLResponse:
    """One contract, its conditions and its ledger (hires required and made)."""
    view = operations.contract_view(session, caller, contract_id)
    ledger = operations.ledger(session, state, caller, contract_id)
    statement = (
        performance.buyer_statement(session, state, caller, contract_id)
        if any(c.performance_based for c in view.contract.conditions)
        else None
    )
    return render(
        request,
        "procurement/contract.html",
        {"view": view, "ledger": ledger, "statement": statement},
    )


@router.get("/contracts/{contract_id}/statement.{suffix}", response_class=Response)
def statement_file(
    request: Request,
    contract_id: str,
    suffix: Literal["html", "csv"],
    caller: WebProcurement,
    session: SessionDep,
    state: StateDep,
    period: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """The contract's payment statement (or one period's) as a printable page or CSV."""
    answer = performance.buyer_statement(session, state, caller, contract_id, period or None)
    return statement_response(request, answer, suffix)


def _day(request: Request, name: str, errors: dict[str, str]) -> date | None:
    value = request.query_params.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _ = translator(request)
        errors[name] = _("Enter a date as YYYY-MM-DD.")
        return None


def _cells(table: PublishedTable) -> list[dict[str, Any]]:
    """Rows as ``{column: value or None (hidden, undefined)}`` with ``hidden``: the hidden
    columns."""
    values = table.values.astype(object).where(table.values.notna(), None)
    rows = [{str(k): v for k, v in row.items()} for row in values.to_dict("records")]
    hidden = table.hidden.to_numpy(dtype=bool)
    columns = list(table.hidden.columns)
    for row, flags in zip(rows, hidden, strict=True):
        row["hidden"] = {c for c, flag in zip(columns, flags, strict=True) if flag}
    return rows


def _figures(statistics: OrganisationStatistics) -> dict[str, Any]:
    indicator_row = _cells(statistics.indicators)
    impact_row = _cells(statistics.impact)
    return {
        "indicator_row": indicator_row[0] if indicator_row else None,
        "contract_rows": [
            r for r in _cells(statistics.top_contracts) if r.get("contract_id") != TOTAL
        ],
        "contract_count": len(statistics.contracts.values),
        "period_rows": [r for r in _cells(statistics.over_time) if r.get("period") != TOTAL],
        "impact_row": impact_row[0] if impact_row else None,
    }


def _contract_type_figures(side_by_side: OrganisationContractTypes) -> dict[str, Any]:
    """Rows keyed ``<area>:<contract type>`` (``TOTAL`` for all areas), and per contract type
    of all areas one row per sex group (``all`` first) with the figures of that group."""
    rows = {
        f"{row['municipality']}:{row['contract_type']}": row
        for table in (side_by_side.national, side_by_side.own)
        for row in _cells(table)
    }
    by_sex = []
    for kind in CONTRACT_TYPES:
        row = rows.get(f"{TOTAL}:{kind}")
        if row is None:
            continue
        for group in ("all", *SEX_GROUPS):
            cells: dict[str, Any] = {"contract_type": kind, "group": group, "hidden": set()}
            for name in CONTRACT_TYPE_SEX_COLUMNS:
                column = name if group == "all" else sex_column(name, group)
                cells[name] = row[column]
                if column in row["hidden"]:
                    cells["hidden"].add(name)
            by_sex.append(cells)
    return {
        "type_rows": rows,
        "own_areas": list(side_by_side.areas),
        "by_sex_rows": by_sex,
    }


def _organisation_figures(
    state: ServingState, caller: Caller, start: date | None, end: date | None
) -> dict[str, Any]:
    """The page's figures, made once per fact tables and window (the statistics' cache)."""
    figures: dict[str, Any] = operations.facts_cache(state).memo(
        state,
        ("web.figures", caller.organisation_id, start, end),
        lambda _facts: {
            **_figures(operations.organisation_statistics(state, caller, start, end)),
            **_contract_type_figures(
                operations.organisation_contract_types(state, caller, start, end)
            ),
        },
    )
    return figures


@router.get("/statistics", response_class=HTMLResponse)
def statistics(
    request: Request, caller: WebProcurement, session: SessionDep, state: StateDep
) -> HTMLResponse:
    """The organisation's indicators, hires over time and impact, with the charts' numbers."""
    errors: dict[str, str] = {}
    start, end = _day(request, "start", errors), _day(request, "end", errors)
    figures: dict[str, Any] = {}
    if not errors:
        try:
            figures = _organisation_figures(state, caller, start, end)
        except InvalidError as error:
            _ = translator(request)
            errors[error.field] = _("The end must be after the start.")
    window = {k: v.isoformat() for k, v in (("start", start), ("end", end)) if v is not None}
    query = "&".join(f"{k}={v}" for k, v in window.items())
    return render(
        request,
        "procurement/statistics.html",
        {
            **figures,
            "errors": errors,
            "start": request.query_params.get("start", ""),
            "end": request.query_params.get("end", ""),
            "chart_query": ("?" + query) if query else "",
            "titles": operations.contract_titles(session, caller),
            "indicators": INDICATOR_FORMATS,
            "target_groups": [g.value for g in TargetGroup],
            "job_forms": [f.value for f in JobForm],
            "stakeholders": STAKEHOLDERS,
            "charts": CHARTS,
            "contract_types": CONTRACT_TYPES,
            "type_indicators": CONTRACT_TYPE_ROWS,
            "sex_columns": CONTRACT_TYPE_SEX_COLUMNS,
            "type_formats": CONTRACT_TYPE_FORMATS,
        },
        status_code=422 if errors else 200,
    )


@router.get("/statistics/charts/{name}.png", response_class=Response)
async def chart(
    name: ChartName,
    caller: WebProcurement,
    state: StateDep,
    start: Annotated[date | None, Query()] = None,
    end: Annotated[date | None, Query()] = None,
) -> Response:
    """A chart of the organisation's figures, drawn by the ``kohtaanto stats`` chart code."""
    png = await run_in_threadpool(
        operations.organisation_chart_png, state, caller, name, start, end
    )
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})


@router.get("/statistics/contract-types/chart.png", response_class=Response)
async def contract_types_chart(
    caller: WebProcurement,
    state: StateDep,
    start: Annotated[date | None, Query()] = None,
    end: Annotated[date | None, Query()] = None,
) -> Response:
    """Quota and performance contracts side by side over all areas, by sex (the page's
    table beside it has the numbers), drawn by the ``kohtaanto stats`` chart code."""
    png = await run_in_threadpool(operations.contract_types_chart_png, state, TOTAL, start, end)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})
