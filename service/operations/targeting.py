"""The targeting advisor for procurement units: one operation, called by the JSON route
(``POST /api/v1/procurement/targeting``), the page (``/app/procurement/targeting``) and, on a
world or database of its own, by ``kohtaanto target``.

A plan's lines are checked by the same rules as a plan CSV (:mod:`targeting.plan`), so a bad
cell is a 422 naming the item and field. The advisor reads the service's own data as of the
service's day: the history (contracts, conditions, vacancies, outcomes) from the database,
rebuilt at most once per ``statistics_cache_seconds`` like the statistics, and the local
supply from this worker's matching engine as it serves now (read, never changed). The answer
is the table ``kohtaanto target`` writes (:func:`targeting.report.advice_table` and
``supply_table``), so the CLI, the API and the page show the same figures; supply is counts
by target group with small counts shown as ``<5``, never a person.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from service.api.runtime import ServingState
from service.api.security import Caller
from service.operations.errors import InvalidError
from service.storage.world_io import read_world_tables
from targeting.advisor import AdvisorContext, advise_plan, build_context
from targeting.plan import CPV_SEPARATOR, PlanError, parse_plan_csv_text, parse_plan_rows
from targeting.report import advice_table, plan_chart, profile_table, supply_table
from targeting.supply import SupplyEstimator
from targeting.types import Advice, PlanLine

__all__ = [
    "MAX_API_LINES",
    "PlanLineIn",
    "TargetingIn",
    "TargetingOut",
    "TargetingResult",
    "advise",
    "advise_csv",
    "chart_data_uri",
    "targeting_out",
]

#: Lines one request may hold: the advice of a line costs tens of milliseconds to a few
#: seconds of engine time, so a whole yearly plan goes through ``kohtaanto target``.
MAX_API_LINES = 100
#: The world tables the advisor's history is built from.
HISTORY_TABLES = ("organisations", "contracts", "employment_conditions", "vacancies", "outcomes")


class PlanLineIn(BaseModel):
    """One planned procurement (the columns of a plan CSV; ``buyer`` defaults to yours)."""

    model_config = {"extra": "forbid"}

    line_id: str = Field(min_length=1, max_length=64)
    buyer: str | None = Field(default=None, max_length=64)
    cpv_codes: list[str] = Field(min_length=1, max_length=10)
    municipality: str = Field(min_length=1, max_length=8)
    value_eur: float = Field(ge=0, le=1e12)
    starts_on: date
    duration_months: int = Field(ge=1, le=1200)


class TargetingIn(BaseModel):
    """A procurement plan to advise on."""

    model_config = {"extra": "forbid"}

    lines: list[PlanLineIn] = Field(min_length=1, max_length=MAX_API_LINES)


class TargetingOut(BaseModel):
    """The advice: one ``lines`` row per plan line (the columns of ``advice.csv``), the local
    supply per line, occupation and target group (``supply.csv``), the best-ranked profiles
    without names (``profiles.csv``), and each line's reasons."""

    on: date
    model_version: str
    lines: list[dict[str, Any]]
    supply: list[dict[str, Any]]
    profiles: list[dict[str, Any]]
    reasons: dict[str, list[str]]


@dataclass(frozen=True)
class TargetingResult:
    """The advice of one plan as the page and the route show it."""

    on: date
    model_version: str
    advices: list[Advice]
    #: An occupation's label by its URI (the advisor's occupation mix names them).
    label: Callable[[str], str] = str

    @property
    def lines(self) -> list[dict[str, Any]]:
        return _records(advice_table(self.advices, self.label))

    @property
    def supply(self) -> list[dict[str, Any]]:
        return _records(supply_table(self.advices, self.label))

    @property
    def profiles(self) -> list[dict[str, Any]]:
        return _records(profile_table(self.advices, self.label))


def _records(frame: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = frame.to_dict("records")
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in rows
    ]


@dataclass
class TargetingCache:
    """One worker's advisor context without supply, rebuilt with the statistics' period."""

    seconds: float
    context: AdvisorContext | None = None
    built_on: date | None = None
    built_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, state: ServingState, supply: SupplyEstimator) -> AdvisorContext:
        with self.lock:
            stale = time.monotonic() - self.built_at > self.seconds
            if self.context is None or stale or self.built_on != state.today:
                world = read_world_tables(state.db, HISTORY_TABLES)
                vocab = state.vocab
                self.context = build_context(
                    world, state.today, supply, vocab.taxonomy, vocab.geography
                )
                self.built_on = state.today
                self.built_at = time.monotonic()
            return dataclasses.replace(self.context, supply=supply)


def _cache(state: ServingState) -> TargetingCache:
    cache = state.caches.get("targeting")
    if not isinstance(cache, TargetingCache):
        cache = state.caches["targeting"] = TargetingCache(state.statistics_cache_seconds)
    return cache


def _invalid(error: PlanError, item_loc: Sequence[str | int], first_line: int) -> InvalidError:
    """A plan problem as a 422 naming the item and field (line ``first_line`` is item 0)."""
    loc = [*item_loc]
    if error.line >= first_line:
        loc.append(error.line - first_line)
    if error.field not in ("row", "file"):
        loc.append(error.field)
    return InvalidError(loc, error.problem)


def _cells(item: PlanLineIn, caller: Caller) -> dict[str, str]:
    return {
        "line_id": item.line_id,
        "buyer": item.buyer or caller.organisation_id or "",
        "cpv_codes": CPV_SEPARATOR.join(item.cpv_codes),
        "municipality": item.municipality,
        "value_eur": repr(item.value_eur),
        "starts_on": item.starts_on.isoformat(),
        "duration_months": str(item.duration_months),
    }


def _run(state: ServingState, lines: Sequence[PlanLine]) -> TargetingResult:
    vocab = state.vocab
    version = state.model.version  # read first: a model swapped meanwhile is newer, not older
    supply = SupplyEstimator.live(state.engine, vocab, vocab.taxonomy, state.today)
    context = _cache(state).get(state, supply)
    advices = advise_plan(lines, context)
    return TargetingResult(state.today, version, advices, context.mix.label)


def advise(state: ServingState, caller: Caller, body: TargetingIn) -> TargetingResult:
    """The advice for a plan sent as JSON; every line's buyer is the caller's organisation."""
    rows = [_cells(item, caller) for item in body.lines]
    try:
        lines = parse_plan_rows(
            rows,
            "body",
            state.vocab.taxonomy,
            state.vocab.geography,
            buyers=[caller.organisation_id or ""],
            first_line=0,
        )
    except PlanError as error:
        raise _invalid(error, ["body", "lines"], 0) from None
    return _run(state, lines)


def advise_csv(
    state: ServingState, caller: Caller, content: bytes, filename: str
) -> TargetingResult:
    """The advice for a plan uploaded as CSV (the columns of ``kohtaanto target --plan``)."""
    try:
        lines = parse_plan_csv_text(
            content,
            filename,
            state.vocab.taxonomy,
            state.vocab.geography,
            buyers=[caller.organisation_id or ""],
        )
    except PlanError as error:
        raise InvalidError(["plan"], str(error).splitlines()[0]) from None
    if len(lines) > MAX_API_LINES:
        raise InvalidError(
            ["plan"], f"has {len(lines)} lines; at most {MAX_API_LINES} are advised here"
        )
    return _run(state, lines)


def targeting_out(result: TargetingResult) -> TargetingOut:
    return TargetingOut(
        on=result.on,
        model_version=result.model_version,
        lines=result.lines,
        supply=result.supply,
        profiles=result.profiles,
        reasons={a.line.line_id: list(a.reasons) for a in result.advices},
    )


def chart_data_uri(result: TargetingResult, title: str = "") -> str:
    """The plan chart of ``kohtaanto target`` as a ``data:`` URI for the page."""
    with tempfile.TemporaryDirectory(prefix="kohtaanto-plan-") as folder:
        path = plan_chart(result.advices, Path(folder) / "plan-chart.png", title)
        data = path.read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
