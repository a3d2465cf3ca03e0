"""The advisor replayed on past contracts, as of each contract's start (issue 15, item 2).

A backtest asks: had the advisor been asked on the day a past contract was signed, would its
feasibility have told the contracts that were fulfilled from those that were not? For each
past employment condition whose deadline has passed by the world's day:

1. **The plan line as known at signing** (:func:`past_contracts`): the buyer, the CPV code,
   the value, the start and the duration (to the contract's end, fixed at signing), and the
   place of performance: the buyer municipality, or for a central purchasing body its seat
   (the organisation's own municipality). A central body's vacancies are spread over the
   country, and the municipality most of *this* contract's vacancies turned out to be in is
   known only after the start, so it is not used; the seat is what an officer would write.
   The condition (target groups, hires required, job forms, deadline) is the contract's own.
2. **The advice as of the start** (:func:`replay`): the advisor's context (history, fill
   rates, local supply) is built with only what was known before its *as-of day*; the as-of
   day is the first day of the contract's start month (one context serves every contract
   starting that month, and it knows no more than a context of the start day would) or,
   with ``per="day"``, the start day itself.
3. **The realised outcome** (:func:`realised_fulfilment`): hires credited to the condition
   by its deadline under the indicator rules of :mod:`reporting.facts` (counted, on time, in
   credit order up to the requirement), the credited share and whether the condition was
   fulfilled (credited >= required).
4. **Metrics** (pure functions): Spearman rank correlation of the predicted feasibility with
   the credited share and with the fulfilled flag; calibration by decile of the prediction,
   expected calibration error and Brier score; the fulfilment rates of the contracts rated
   feasible (>= 0.5) and infeasible, and their ratio; the same for two naive baselines that
   know only the past fulfilment rates (:func:`baseline_predictions`).

:func:`write_outputs` writes the per-contract table, the calibration table, a chart and a
Markdown summary; ``kohtaanto target-backtest`` (:mod:`service.cli_backtest`) runs it all.

Performance-based conditions are left out: such a contract buys points per verified outcome
and lets the supplier choose how many people to hire, so "hires required by the deadline" is
not its obligation and a fulfilled flag would not mean what it means for a quota. The report
says how many were left out.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot: no display in a server or CI

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import spearmanr

from features.geography import Geography
from features.matching_data import Vocabularies, build_matching_data
from features.profiles import ProfileConfig
from features.taxonomy import Taxonomy
from features.world_store import WorldTables
from matching.domain import BuyerKind
from matching.engine import MatchingConfig
from matching.entities import MatchingData
from matching.scoring import RankingModel
from reporting.facts import Facts
from reporting.impact_parameters import ImpactParameters, load_parameters
from targeting.advisor import (
    AdvisorContext,
    AdvisorSettings,
    assess,
    build_context,
    feasibility,
)
from targeting.report import markdown_table
from targeting.supply import SupplyEstimator
from targeting.types import Advice, ConditionProposal, PlanLine

__all__ = [
    "FEASIBLE",
    "PREDICTORS",
    "THRESHOLDS",
    "ContextFactory",
    "ContextPer",
    "PastContract",
    "RateSplit",
    "Replayed",
    "Report",
    "Summary",
    "advisor_contexts",
    "backtest_table",
    "baseline_predictions",
    "brier_score",
    "calibration_by_decile",
    "context_day",
    "expected_calibration_error",
    "feasibility_split",
    "figure_rows",
    "past_contracts",
    "ratio_interval",
    "realised_fulfilment",
    "reliability_chart",
    "render_markdown",
    "replay",
    "sample_contracts",
    "spearman",
    "summaries",
    "summarise",
    "threshold_table",
    "write_outputs",
]

log = logging.getLogger(__name__)

#: A condition is *rated feasible* when its predicted feasibility is at least this.
FEASIBLE = 0.5
#: Fewer contracts than this on either side of the cut make the ratio anecdotal.
FEW = 20
#: Calibration groups: deciles of the predicted feasibility.
DECILES = 10
#: Bands of hires required for the size baseline (lower bounds; the last is open).
SIZE_BANDS: tuple[int, ...] = (1, 2, 3, 5, 9)
#: Weight of the overall rate in the size baseline (pseudo-conditions per band).
BAND_PRIOR = 5.0

ContextPer = Literal["month", "day"]
FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------------------------
# Which contracts, as known at signing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PastContract:
    """A past contract's condition: the plan line and condition as they were at signing."""

    condition_id: str
    contract_id: str
    buyer_kind: str
    line: PlanLine
    condition: ConditionProposal


def _months_between(start: date, end: date) -> int:
    """Whole months from ``start`` to ``end``, rounded, at least one."""
    return max(1, round((end - start).days / 30.4375))


def _as_date(value: object) -> date:
    return pd.Timestamp(value).date()  # type: ignore[arg-type]


def _items(value: object) -> list[object]:
    """A list column's value as a list (a missing list is empty)."""
    if isinstance(value, list | tuple | np.ndarray):
        return list(value)
    return []


def past_contracts(world: WorldTables) -> tuple[list[PastContract], int]:
    """The quota conditions whose deadlines passed before the world's day, as known at signing.

    Returns the contracts in (start, condition id) order and how many performance-based
    conditions with a passed deadline were left out (see the module docstring).
    """
    conditions = world.employment_conditions.merge(
        world.contracts, on="contract_id", how="inner", validate="many_to_one"
    )
    due = pd.to_datetime(conditions["deadline"]) < pd.Timestamp(world.as_of)
    performance = conditions["performance_based"].fillna(False).astype(bool)
    left_out = int((due & performance).sum())
    chosen = conditions[due & ~performance].copy()
    chosen["_start"] = pd.to_datetime(chosen["starts_on"])
    chosen = chosen.sort_values(["_start", "condition_id"], kind="stable")
    organisations = world.organisations.drop_duplicates("organisation_id")
    seat = dict(
        zip(
            organisations["organisation_id"].astype(str),
            organisations["municipality"].astype("string"),
            strict=True,
        )
    )
    cpb = BuyerKind.CENTRAL_PURCHASING_BODY.value
    contracts: list[PastContract] = []
    records: list[dict[str, Any]] = chosen.to_dict("records")  # type: ignore[assignment]
    for row in records:
        buyer = str(row["buyer_id"])
        kind = str(row["buyer_kind"])
        place = seat.get(buyer) if kind == cpb else row["buyer_municipality"]
        if place is None or pd.isna(place):
            raise ValueError(
                f"contract {row['contract_id']}: no place of performance (buyer {buyer} has "
                "no municipality)"
            )
        starts_on = _as_date(row["starts_on"])
        line = PlanLine(
            line_id=str(row["contract_id"]),
            buyer=buyer,
            cpv_codes=(str(row["cpv_code"]),),
            municipality=str(place),
            value_eur=float(row["value_eur"]),
            starts_on=starts_on,
            duration_months=_months_between(starts_on, _as_date(row["ends_on"])),
        )
        condition = ConditionProposal(
            target_groups=tuple(str(group) for group in _items(row["target_groups"])),
            hires=int(row["hires_required"]),
            job_forms=tuple(str(form) for form in _items(row["allowed_job_forms"])),
            deadline=_as_date(row["deadline"]),
        )
        contracts.append(
            PastContract(str(row["condition_id"]), str(row["contract_id"]), kind, line, condition)
        )
    return contracts, left_out


def sample_contracts(
    contracts: Sequence[PastContract], size: int | None, seed: int = 0
) -> list[PastContract]:
    """A sample of ``size`` contracts stratified by start month (all when ``size`` is None
    or at least their number), in the input order.

    Each month gets its proportional share (largest remainders round it to whole contracts),
    drawn at random within the month with ``seed``: the sample's months are the population's.
    """
    if size is None or size >= len(contracts):
        return list(contracts)
    if size < 1:
        raise ValueError(f"sample size must be at least 1, got {size}")
    months = np.array([c.line.starts_on.strftime("%Y-%m") for c in contracts])
    labels, counts = np.unique(months, return_counts=True)
    exact = counts * size / len(contracts)
    quota = np.floor(exact).astype(np.int64)
    remainder = exact - quota
    # Ties in the remainders go to the earlier month (a stable, reproducible order).
    extra = np.argsort(-remainder, kind="stable")[: size - int(quota.sum())]
    quota[extra] += 1
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for label, take in zip(labels, quota, strict=True):
        members = np.flatnonzero(months == label)
        chosen.extend(rng.choice(members, size=int(take), replace=False).tolist())
    return [contracts[i] for i in sorted(chosen)]


def context_day(starts_on: date, per: ContextPer) -> date:
    """The as-of day of the context that advises a contract starting on ``starts_on``.

    ``month``: the first day of the start month, so one context serves the month and knows
    only what was known before that day, never more than the start day's context would.
    """
    if per == "month":
        return starts_on.replace(day=1)
    if per == "day":
        return starts_on
    raise ValueError(f"per must be 'month' or 'day', got {per!r}")


# --------------------------------------------------------------------------------------------
# What happened
# --------------------------------------------------------------------------------------------


def _credited(facts: Facts) -> pd.Series:
    """Hires credited to each condition by its deadline (the indicator rule), by condition."""
    hires = facts.hires
    credited = hires["credit_rank"].notna() & (hires["credit_rank"] <= hires["hires_required"])
    return hires.loc[credited.to_numpy(dtype=bool), "condition_id"].astype(str).value_counts()


def realised_fulfilment(facts: Facts, condition_ids: Sequence[str]) -> pd.DataFrame:
    """Per condition (index ``condition_id``): ``hires_required``, ``hires_credited`` (by the
    deadline, capped at the requirement), ``credited_share`` and ``fulfilled``.

    Raises ``KeyError`` naming a condition the facts do not have.
    """
    conditions = facts.conditions.set_index(facts.conditions["condition_id"].astype(str))
    ids = pd.Index([str(i) for i in condition_ids], name="condition_id")
    missing = ids.difference(conditions.index)
    if len(missing):
        raise KeyError(f"condition {missing[0]!r} is not in the facts")
    required = conditions.loc[ids, "hires_required"].astype(np.int64)
    credited = _credited(facts).reindex(ids, fill_value=0).astype(np.int64)
    return pd.DataFrame(
        {
            "hires_required": required.to_numpy(),
            "hires_credited": credited.to_numpy(),
            "credited_share": (credited / required).to_numpy(dtype=np.float64),
            "fulfilled": (credited >= required).to_numpy(dtype=bool),
        },
        index=ids,
    )


def _size_band(required: npt.ArrayLike) -> npt.NDArray[np.int64]:
    return np.searchsorted(np.asarray(SIZE_BANDS), np.asarray(required), side="right") - 1


def baseline_predictions(
    facts: Facts,
    population: Sequence[PastContract],
    contracts: Sequence[PastContract],
    per: ContextPer,
) -> pd.DataFrame:
    """Two naive predictions per contract from what was known on its context day.

    ``population`` is every quota condition due before the world's day (:func:`past_contracts`),
    the history any context day can look back on; ``contracts`` are those to predict.
    ``baseline_overall``: the share of the population's conditions whose deadline passed
    before the day that were fulfilled (Laplace-smoothed: (fulfilled + 1) / (due + 2), so 0.5
    with no history). ``baseline_size``: the same within the contract's band of hires
    required (:data:`SIZE_BANDS`), shrunk toward the overall rate with :data:`BAND_PRIOR`
    pseudo-conditions. A condition due before the day has all its credited hires before it.
    """
    history = realised_fulfilment(facts, [c.condition_id for c in population])
    deadlines = np.array([c.condition.deadline for c in population], dtype="datetime64[D]")
    fulfilled = history["fulfilled"].to_numpy(dtype=bool)
    bands = _size_band(history["hires_required"].to_numpy())
    n_bands = len(SIZE_BANDS)
    # Per context day (many contracts share one): due and fulfilled conditions per band.
    rates: dict[date, tuple[float, FloatArray]] = {}
    overall: list[float] = []
    sized: list[float] = []
    for contract in contracts:
        day = context_day(contract.line.starts_on, per)
        if day not in rates:
            due = deadlines < np.datetime64(day, "D")
            rate = (fulfilled[due].sum() + 1.0) / (due.sum() + 2.0)
            due_in = np.bincount(bands[due], minlength=n_bands)
            done_in = np.bincount(bands[due & fulfilled], minlength=n_bands)
            rates[day] = (float(rate), (done_in + BAND_PRIOR * rate) / (due_in + BAND_PRIOR))
        rate, by_band = rates[day]
        overall.append(rate)
        sized.append(float(by_band[_size_band([contract.condition.hires])[0]]))
    index = pd.Index([c.condition_id for c in contracts], name="condition_id")
    return pd.DataFrame({"baseline_overall": overall, "baseline_size": sized}, index=index)


# --------------------------------------------------------------------------------------------
# The advice as of the start
# --------------------------------------------------------------------------------------------

#: Builds the advisor's context as of a day, able to answer for the given places.
ContextFactory = Callable[[date, Collection[str]], AdvisorContext]
#: Progress callback: (contracts done, contracts in all, what is being done).
Progress = Callable[[int, int, str], None]


def advisor_contexts(
    world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    scorer: RankingModel | None,
    *,
    params: ImpactParameters | None = None,
    settings: AdvisorSettings | None = None,
    config: MatchingConfig | None = None,
    profile_config: ProfileConfig | None = None,
    base: MatchingData | None = None,
) -> ContextFactory:
    """The contexts the live advisor would have had: history as of the day
    (:func:`targeting.history.history_as_of`) and local supply replayed as of the day
    (:meth:`targeting.supply.SupplyEstimator.as_of`), ranked by ``scorer`` (None: the rules).

    ``base`` is the world's matching data (built once here when not given); the replay reads
    only its columns without history.
    """
    vocab = Vocabularies.build(taxonomy, geography)
    data = (
        base
        if base is not None
        else build_matching_data(world, taxonomy, geography, world.as_of, profile_config)
    )
    parameters = params if params is not None else load_parameters()

    def make(day: date, places: Collection[str]) -> AdvisorContext:
        supply = SupplyEstimator.as_of(
            world,
            data,
            taxonomy,
            vocab,
            scorer,
            day,
            places,
            config=config,
            profile_config=profile_config,
        )
        return build_context(world, day, supply, taxonomy, geography, parameters, settings=settings)

    return make


@dataclass(frozen=True)
class Replayed:
    """One contract's advice as of its context day, and the parts of its feasibility."""

    contract: PastContract
    context_day: date
    advice: Advice
    #: Mix-weighted fill probability F_o by the deadline and supply factor s_o (advisor step
    #: 7); NaN when they do not reproduce the advice's feasibility (see :func:`_parts`).
    fill: float
    supply_factor: float
    openings: int


def _parts(
    contract: PastContract, advice: Advice, context: AdvisorContext
) -> tuple[float, float, int]:
    """The fill probability and supply factor behind ``advice`` (mix-weighted), recomputed
    with the advisor's public :func:`~targeting.advisor.feasibility` and checked against it."""
    line, condition = contract.line, contract.condition
    if not advice.occupations or len(advice.supply) != len(advice.occupations):
        return math.nan, math.nan, 0
    days = (condition.deadline - line.starts_on).days - context.rates.open_lag_days
    fill = [
        context.fill.fill_probability(share.isco_code, line.municipality, days)[0]
        if days >= 0
        else 0.0
        for share in advice.occupations
    ]
    detail = feasibility(
        max(condition.hires, 0),
        days,
        advice.occupations,
        advice.supply,
        fill,
        context.rates,
        interval=context.settings.interval,
        supply_floor=context.settings.supply_floor,
    )
    if not math.isclose(detail.feasibility, advice.feasibility, abs_tol=1e-9):
        return math.nan, math.nan, sum(detail.openings)
    shares = [share.share for share in advice.occupations]
    return (
        float(np.dot(shares, detail.fill)),
        float(np.dot(shares, detail.supply_factor)),
        sum(detail.openings),
    )


def replay(
    contracts: Sequence[PastContract],
    contexts: ContextFactory,
    per: ContextPer = "month",
    on_progress: Progress | None = None,
) -> tuple[list[Replayed], dict[str, float]]:
    """Assess every contract's own condition as of its context day (:func:`context_day`).

    One context is built per context day, for the places of the contracts it advises, and
    dropped before the next. Returns the replayed contracts in input order and the seconds
    spent building contexts and assessing.
    """
    groups: dict[date, list[int]] = {}
    for index, contract in enumerate(contracts):
        groups.setdefault(context_day(contract.line.starts_on, per), []).append(index)
    results: list[Replayed | None] = [None] * len(contracts)
    timings = {"contexts": 0.0, "assessing": 0.0}
    done = 0
    for day in sorted(groups):
        members = groups[day]
        if on_progress is not None:
            on_progress(done, len(contracts), f"context as of {day.isoformat()}")
        built_before = timings["contexts"]
        started = time.perf_counter()
        context = contexts(day, sorted({contracts[i].line.municipality for i in members}))
        timings["contexts"] += time.perf_counter() - started
        started = time.perf_counter()
        for index in members:
            contract = contracts[index]
            advice = assess(contract.line, contract.condition, context)
            fill, factor, openings = _parts(contract, advice, context)
            results[index] = Replayed(contract, day, advice, fill, factor, openings)
            done += 1
            if on_progress is not None:
                on_progress(done, len(contracts), f"assessing as of {day.isoformat()}")
        assessed = time.perf_counter() - started
        timings["assessing"] += assessed
        log.info(
            "context as of %s: %d contracts, built in %.1f s, assessed in %.1f s (%d/%d done)",
            day,
            len(members),
            timings["contexts"] - built_before,
            assessed,
            done,
            len(contracts),
        )
    return [r for r in results if r is not None], timings


def backtest_table(
    replayed: Sequence[Replayed], realised: pd.DataFrame, baselines: pd.DataFrame
) -> pd.DataFrame:
    """One row per contract: what it was, what was predicted at its start, what happened.

    ``realised`` is :func:`realised_fulfilment` and ``baselines`` :func:`baseline_predictions`
    of the same conditions. No row names a person: the counts are of well-ranked people.
    """
    rows = []
    for item in replayed:
        contract, advice = item.contract, item.advice
        line, condition = contract.line, contract.condition
        sources = {share.source for share in advice.occupations}
        rows.append(
            {
                "condition_id": contract.condition_id,
                "contract_id": contract.contract_id,
                "buyer": line.buyer,
                "buyer_kind": contract.buyer_kind,
                "cpv_code": line.cpv_codes[0],
                "place": line.municipality,
                "value_eur": line.value_eur,
                "starts_on": line.starts_on.isoformat(),
                "duration_months": line.duration_months,
                "deadline": condition.deadline.isoformat(),
                "target_groups": ";".join(condition.target_groups),
                "job_forms": ";".join(condition.job_forms),
                "context_day": item.context_day.isoformat(),
                "occupations": ";".join(share.isco_code for share in advice.occupations),
                "mix_source": "+".join(sorted(sources)) or "none",
                "well_ranked": sum(s.well_ranked for s in advice.supply),
                "competing_openings": sum(s.competing_openings for s in advice.supply),
                "openings_assumed": item.openings,
                "fill_probability": item.fill,
                "supply_factor": item.supply_factor,
                "feasibility": advice.feasibility,
                "expected_hires": advice.expected_hires,
                "hires_low": advice.hires_interval[0],
                "hires_high": advice.hires_interval[1],
            }
        )
    table = pd.DataFrame(rows)
    ids = table["condition_id"]
    for frame in (baselines, realised):
        for column in frame.columns:
            table[column] = frame[column].reindex(ids).to_numpy()
    return table


# --------------------------------------------------------------------------------------------
# Metrics: pure functions over arrays
# --------------------------------------------------------------------------------------------


def _arrays(predicted: npt.ArrayLike, observed: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    p = np.asarray(predicted, dtype=np.float64)
    y = np.asarray(observed, dtype=np.float64)
    if p.shape != y.shape or p.ndim != 1:
        raise ValueError(f"predicted {p.shape} and observed {y.shape} must be equal 1-d shapes")
    if not (np.isfinite(p).all() and np.isfinite(y).all()):
        raise ValueError("predicted and observed must be finite")
    return p, y


def spearman(predicted: npt.ArrayLike, observed: npt.ArrayLike) -> float:
    """Spearman's rank correlation (ties share their average rank); NaN when either side is
    constant or there are fewer than two values, where no ranking can be judged."""
    p, y = _arrays(predicted, observed)
    if len(p) < 2 or np.ptp(p) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(spearmanr(p, y).statistic)


def calibration_by_decile(
    predicted: npt.ArrayLike, observed: npt.ArrayLike, groups: int = DECILES
) -> pd.DataFrame:
    """Mean prediction vs observed rate in ``groups`` equal-count groups of the prediction.

    Contracts are sorted by prediction (ties in input order) and cut into consecutive groups
    whose sizes differ by at most one (fewer groups when there are fewer contracts). Columns:
    ``decile`` (1 = lowest predictions), ``contracts``, ``predicted_min``, ``predicted_max``,
    ``predicted_mean``, ``observed_rate`` and ``gap`` (observed - predicted).
    """
    p, y = _arrays(predicted, observed)
    order = np.argsort(p, kind="stable")
    parts = [part for part in np.array_split(order, min(groups, len(p))) if len(part)]
    rows = [
        {
            "decile": number,
            "contracts": len(part),
            "predicted_min": float(p[part].min()),
            "predicted_max": float(p[part].max()),
            "predicted_mean": float(p[part].mean()),
            "observed_rate": float(y[part].mean()),
        }
        for number, part in enumerate(parts, start=1)
    ]
    columns = ["decile", "contracts", "predicted_min", "predicted_max", "predicted_mean"]
    table = pd.DataFrame(rows, columns=[*columns, "observed_rate"])
    table["gap"] = table["observed_rate"] - table["predicted_mean"]
    return table


def expected_calibration_error(
    predicted: npt.ArrayLike, observed: npt.ArrayLike, groups: int = DECILES
) -> float:
    """Sum over the calibration groups of (group share) x |mean prediction - observed rate|."""
    table = calibration_by_decile(predicted, observed, groups)
    if table.empty:
        return math.nan
    weights = table["contracts"] / table["contracts"].sum()
    return float((weights * table["gap"].abs()).sum())


def brier_score(predicted: npt.ArrayLike, observed: npt.ArrayLike) -> float:
    """Mean squared difference of the prediction and the 0/1 outcome."""
    p, y = _arrays(predicted, observed)
    return float(np.mean((p - y) ** 2)) if len(p) else math.nan


@dataclass(frozen=True)
class RateSplit:
    """Fulfilment of the contracts rated feasible (prediction >= threshold) and infeasible."""

    threshold: float
    feasible: int
    feasible_fulfilled: int
    infeasible: int
    infeasible_fulfilled: int

    @property
    def feasible_rate(self) -> float:
        return self.feasible_fulfilled / self.feasible if self.feasible else math.nan

    @property
    def infeasible_rate(self) -> float:
        return self.infeasible_fulfilled / self.infeasible if self.infeasible else math.nan

    @property
    def ratio(self) -> float:
        """How many times as often feasible-rated contracts were fulfilled (NaN when a side
        is empty, infinite when no infeasible-rated contract was fulfilled)."""
        feasible, infeasible = self.feasible_rate, self.infeasible_rate
        if math.isnan(feasible) or math.isnan(infeasible):
            return math.nan
        if infeasible == 0:
            return math.inf if feasible > 0 else math.nan
        return feasible / infeasible


def feasibility_split(
    predicted: npt.ArrayLike, fulfilled: npt.ArrayLike, threshold: float = FEASIBLE
) -> RateSplit:
    """Count the contracts rated feasible and infeasible at ``threshold``, and their fulfilled."""
    p, y = _arrays(predicted, fulfilled)
    feasible = p >= threshold
    done = y > 0.5
    return RateSplit(
        threshold=threshold,
        feasible=int(feasible.sum()),
        feasible_fulfilled=int((feasible & done).sum()),
        infeasible=int((~feasible).sum()),
        infeasible_fulfilled=int((~feasible & done).sum()),
    )


#: Bootstrap draws and level of the ratio's interval.
BOOTSTRAP_DRAWS = 1000
BOOTSTRAP_LEVEL = 0.95


def ratio_interval(
    predicted: npt.ArrayLike,
    fulfilled: npt.ArrayLike,
    threshold: float = FEASIBLE,
    draws: int = BOOTSTRAP_DRAWS,
    level: float = BOOTSTRAP_LEVEL,
    seed: int = 0,
) -> tuple[float, float]:
    """A percentile bootstrap interval of :attr:`RateSplit.ratio` over the contracts.

    Contracts are drawn with replacement ``draws`` times; draws where the ratio is undefined
    (a side empty, or 0 / 0) are left out, an infinite ratio counts as the largest. NaN, NaN
    when fewer than half of the draws give a ratio. Shows how much a sample's ratio can move.
    """
    p, y = _arrays(predicted, fulfilled)
    if len(p) == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(p), size=(draws, len(p)))
    feasible = p[rows] >= threshold
    done = y[rows] > 0.5
    n_feasible = feasible.sum(axis=1)
    n_infeasible = len(p) - n_feasible
    with np.errstate(divide="ignore", invalid="ignore"):
        feasible_rate = (feasible & done).sum(axis=1) / n_feasible
        infeasible_rate = (~feasible & done).sum(axis=1) / n_infeasible
        ratios = feasible_rate / infeasible_rate
    ratios = ratios[(n_feasible > 0) & (n_infeasible > 0) & ~np.isnan(ratios)]
    if len(ratios) < draws / 2:
        return math.nan, math.nan
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(ratios, [tail, 1.0 - tail], method="nearest")
    return float(low), float(high)


#: Thresholds at which the report also splits the contracts (the target uses FEASIBLE).
THRESHOLDS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, FEASIBLE, 0.7)


def threshold_table(
    predicted: npt.ArrayLike, fulfilled: npt.ArrayLike, thresholds: Sequence[float] = THRESHOLDS
) -> pd.DataFrame:
    """:func:`feasibility_split` at each threshold: how the ratio depends on the cut."""
    rows = []
    for threshold in thresholds:
        split = feasibility_split(predicted, fulfilled, threshold)
        rows.append(
            {
                "threshold": threshold,
                "rated_feasible": split.feasible,
                "feasible_fulfilment_rate": split.feasible_rate,
                "rated_infeasible": split.infeasible,
                "infeasible_fulfilment_rate": split.infeasible_rate,
                "ratio": split.ratio,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Summary:
    """The backtest figures of one predictor (the advisor or a baseline)."""

    predictor: str
    contracts: int
    mean_predicted: float
    observed_rate: float
    spearman_share: float  # with the credited share
    spearman_fulfilled: float  # with the 0/1 fulfilled flag
    calibration_error: float  # expected calibration error over deciles
    brier: float
    split: RateSplit
    ratio_interval: tuple[float, float]  # 95 % bootstrap interval of split.ratio

    def as_row(self) -> dict[str, float | int | str]:
        """One flat row for a table: the figures and the split's rates and ratio."""
        row = {k: v for k, v in asdict(self).items() if k not in ("split", "ratio_interval")}
        row.update(
            rated_feasible=self.split.feasible,
            feasible_fulfilment_rate=self.split.feasible_rate,
            rated_infeasible=self.split.infeasible,
            infeasible_fulfilment_rate=self.split.infeasible_rate,
            feasible_to_infeasible_ratio=self.split.ratio,
            ratio_low=self.ratio_interval[0],
            ratio_high=self.ratio_interval[1],
        )
        return row


def summarise(
    predictor: str,
    predicted: npt.ArrayLike,
    credited_share: npt.ArrayLike,
    fulfilled: npt.ArrayLike,
    threshold: float = FEASIBLE,
) -> Summary:
    """Every backtest figure of one predictor over the same contracts."""
    p, share = _arrays(predicted, credited_share)
    _, done = _arrays(predicted, np.asarray(fulfilled, dtype=np.float64))
    return Summary(
        predictor=predictor,
        contracts=len(p),
        mean_predicted=float(p.mean()) if len(p) else math.nan,
        observed_rate=float(done.mean()) if len(p) else math.nan,
        spearman_share=spearman(p, share),
        spearman_fulfilled=spearman(p, done),
        calibration_error=expected_calibration_error(p, done),
        brier=brier_score(p, done),
        split=feasibility_split(p, done, threshold),
        ratio_interval=ratio_interval(p, done, threshold),
    )


# --------------------------------------------------------------------------------------------
# Outputs: backtest.csv, calibration.csv, backtest-chart.png, backtest.md
# --------------------------------------------------------------------------------------------

#: Every chart is SIZE_INCHES at DPI (as :mod:`reporting.charts`): 1200 x 600 pixels.
SIZE_INCHES = (12.0, 6.0)
DPI = 100
_COLOURS = ("#1f4e79", "#f39c12", "#7f8c8d", "#27ae60", "#c0392b")
#: The predictors compared: their column in the backtest table, name and description.
PREDICTORS: tuple[tuple[str, str, str], ...] = (
    ("feasibility", "advisor", "the advisor's feasibility"),
    (
        "baseline_size",
        "size baseline",
        "past fulfilment rate of conditions requiring as many hires",
    ),
    ("baseline_overall", "overall baseline", "past fulfilment rate of all conditions"),
)


@dataclass(frozen=True)
class Report:
    """What the backtest report states besides the table: the run's settings and timings."""

    world: str
    as_of: date
    model: str
    per: ContextPer
    population: int  # quota conditions due before the world's day (starting from ``since``)
    performance_left_out: int
    sample_seed: int
    timings: Mapping[str, float] = field(default_factory=dict)  # step -> seconds
    since: date | None = None  # only contracts starting on or after this day


def summaries(table: pd.DataFrame) -> list[Summary]:
    """:func:`summarise` for the advisor and each baseline over the backtest table."""
    return [
        summarise(
            label,
            table[column].to_numpy(dtype=np.float64),
            table["credited_share"].to_numpy(dtype=np.float64),
            table["fulfilled"].to_numpy(dtype=bool),
        )
        for column, label, _ in PREDICTORS
    ]


def reliability_chart(table: pd.DataFrame, path: Path) -> Path:
    """Left: the reliability diagram (mean prediction vs observed fulfilment per decile) of
    the advisor and the size baseline. Right: each contract's feasibility vs its credited
    share, fulfilled contracts in a second colour."""
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    left, right = figure.subplots(1, 2)
    left.plot([0, 1], [0, 1], linestyle="--", color=_COLOURS[2], label="perfect calibration")
    fulfilled = table["fulfilled"].to_numpy(dtype=bool)
    for (column, label, _), colour in zip(PREDICTORS[:2], _COLOURS, strict=False):
        deciles = calibration_by_decile(table[column].to_numpy(dtype=np.float64), fulfilled)
        left.plot(
            deciles["predicted_mean"],
            deciles["observed_rate"],
            marker="o",
            color=colour,
            label=label,
        )
    left.set_xlim(0, 1)
    left.set_ylim(0, 1)
    left.set_xlabel("mean predicted feasibility")
    left.set_ylabel("share of contracts fulfilled")
    left.set_title("Reliability by decile of the prediction")
    left.legend(loc="upper left", fontsize=8)
    # A little vertical jitter keeps the many 0 and 1 shares apart; it is only drawn.
    jitter = np.random.default_rng(0).uniform(-0.015, 0.015, len(table))
    share = table["credited_share"].to_numpy(dtype=np.float64) + jitter
    feasibility = table["feasibility"].to_numpy(dtype=np.float64)
    right.scatter(
        feasibility[~fulfilled],
        share[~fulfilled],
        s=10,
        alpha=0.5,
        color=_COLOURS[0],
        label="not fulfilled",
    )
    right.scatter(
        feasibility[fulfilled],
        share[fulfilled],
        s=10,
        alpha=0.7,
        color=_COLOURS[1],
        label="fulfilled",
    )
    right.axvline(FEASIBLE, color=_COLOURS[2], linestyle=":", label="rated feasible from here")
    right.set_xlim(-0.02, 1.02)
    right.set_ylim(-0.05, 1.05)
    right.set_xlabel("predicted feasibility at the start")
    right.set_ylabel("hires credited by the deadline / hires required")
    right.set_title(f"{len(table)} past contracts")
    right.legend(loc="center right", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=DPI)
    return path


def _figure(value: float, digits: int = 3) -> str:
    if math.isnan(value):
        return "–"
    if math.isinf(value):
        return "∞"
    return f"{value:.{digits}f}"


def figure_rows(results: Sequence[Summary]) -> list[tuple[str, list[str]]]:
    """The figures of each predictor as printable rows: (figure, one value per predictor)."""
    rows: list[tuple[str, Callable[[Summary], str]]] = [
        ("contracts", lambda s: str(s.contracts)),
        ("mean prediction", lambda s: _figure(s.mean_predicted)),
        ("fulfilled (share)", lambda s: _figure(s.observed_rate)),
        ("Spearman with the credited share", lambda s: _figure(s.spearman_share)),
        ("Spearman with fulfilled (0/1)", lambda s: _figure(s.spearman_fulfilled)),
        ("calibration error (ECE, deciles)", lambda s: _figure(s.calibration_error)),
        ("Brier score", lambda s: _figure(s.brier)),
        (f"rated feasible (>= {FEASIBLE})", lambda s: str(s.split.feasible)),
        ("  of which fulfilled", lambda s: _figure(s.split.feasible_rate)),
        ("rated infeasible", lambda s: str(s.split.infeasible)),
        ("  of which fulfilled", lambda s: _figure(s.split.infeasible_rate)),
        ("ratio feasible / infeasible", lambda s: _figure(s.split.ratio, 2)),
        (
            "  95 % bootstrap interval",
            lambda s: f"{_figure(s.ratio_interval[0], 2)}-{_figure(s.ratio_interval[1], 2)}",
        ),
    ]
    return [(name, [value(s) for s in results]) for name, value in rows]


def render_markdown(
    table: pd.DataFrame,
    calibration: pd.DataFrame,
    report: Report,
    results: Sequence[Summary] | None = None,
) -> str:
    """The backtest summary: settings, the figures of each predictor, the calibration table."""
    if results is None:  # the figures bootstrap their ratio: computed once per run
        results = summaries(table)
    advisor = results[0]
    figures = pd.DataFrame(
        [[name, *values] for name, values in figure_rows(results)],
        columns=["figure", *(s.predictor for s in results)],
    )
    shown = calibration.assign(
        **{
            name: calibration[name].map(lambda v: _figure(float(v)))
            for name in ("predicted_min", "predicted_max", "predicted_mean", "observed_rate", "gap")
        }
    )
    by_kind = []
    for kind, part in table.groupby("buyer_kind", sort=True):
        s = summarise(
            str(kind),
            part["feasibility"].to_numpy(dtype=np.float64),
            part["credited_share"].to_numpy(dtype=np.float64),
            part["fulfilled"].to_numpy(dtype=bool),
        )
        by_kind.append(
            f"- {kind}: {s.contracts} contracts, fulfilled {_figure(s.observed_rate)}, "
            f"Spearman {_figure(s.spearman_fulfilled)}, feasible/infeasible fulfilment "
            f"{_figure(s.split.feasible_rate)} / {_figure(s.split.infeasible_rate)}"
        )
    target = advisor.split.ratio
    verdict = "met" if not math.isnan(target) and target >= 2.0 else "**not met**"
    timings = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in report.timings.items())
    lines = [
        "# Backtest of the targeting advisor",
        "",
        f"World `{report.world}` as of {report.as_of.isoformat()}; ranking model "
        f"`{report.model}`; one advisor context per start {report.per}.",
        "",
        "- Past quota conditions with the deadline passed"
        + (f", starting from {report.since.isoformat()}" if report.since else "")
        + f": {report.population}; backtested: "
        + (
            "all."
            if len(table) == report.population
            else f"{len(table)} (stratified by start month, seed {report.sample_seed})."
        ),
        f"- Performance-based conditions left out: {report.performance_left_out} (they buy "
        "points per outcome, not a number of hires by a deadline).",
        f"- Fulfilled by the deadline: {int(table['fulfilled'].sum())} of {len(table)} "
        f"({_figure(advisor.observed_rate)}); mean predicted feasibility "
        f"{_figure(advisor.mean_predicted)}.",
        f"- Target (contracts rated feasible fulfilled at least twice as often as those rated "
        f"infeasible): ratio {_figure(target, 2)} (95 % bootstrap interval "
        f"{_figure(advisor.ratio_interval[0], 2)}-{_figure(advisor.ratio_interval[1], 2)}; "
        f"{advisor.split.feasible} rated feasible, "
        f"{advisor.split.infeasible} infeasible), {verdict}"
        + (
            f"; fewer than {FEW} contracts on one side, so the ratio says little."
            if min(advisor.split.feasible, advisor.split.infeasible) < FEW
            else "."
        ),
        f"- Runtime: {timings or 'not measured'}.",
        "",
        "## Figures",
        "",
        *(f"- {label}: {description}." for _, label, description in PREDICTORS),
        "",
        f"Rated feasible: predicted feasibility >= {FEASIBLE}. Calibration error: the "
        "contract-weighted mean |mean prediction - observed rate| over deciles of the "
        "prediction. Spearman against the credited share (hires credited by the deadline / "
        "required) and against the fulfilled flag.",
        "",
        markdown_table(figures),
        "",
        "The advisor's split at other thresholds (how much the ratio depends on the cut):",
        "",
        markdown_table(
            threshold_table(
                table["feasibility"].to_numpy(dtype=np.float64),
                table["fulfilled"].to_numpy(dtype=bool),
            ).assign(
                **{
                    name: lambda frame, name=name: frame[name].map(lambda v: _figure(float(v)))
                    for name in (
                        "feasible_fulfilment_rate",
                        "infeasible_fulfilment_rate",
                        "ratio",
                    )
                }
            )
        ),
        "",
        "By buyer kind (advisor):",
        "",
        *by_kind,
        "",
        "## Calibration of the advisor by decile",
        "",
        markdown_table(shown),
        "",
        "Files: `backtest.csv` (one row per contract), `calibration.csv`, `backtest-chart.png`.",
        "",
    ]
    return "\n".join(lines)


def write_outputs(
    table: pd.DataFrame,
    report: Report,
    out: Path,
    results: Sequence[Summary] | None = None,
) -> list[Path]:
    """Write ``backtest.csv``, ``calibration.csv``, ``backtest-chart.png`` and ``backtest.md``
    into ``out`` (``results``: :func:`summaries` of ``table``, when already made); returns
    the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    calibration = calibration_by_decile(
        table["feasibility"].to_numpy(dtype=np.float64), table["fulfilled"].to_numpy(dtype=bool)
    )
    rows = out / "backtest.csv"
    table.to_csv(rows, index=False)
    calibration_file = out / "calibration.csv"
    calibration.to_csv(calibration_file, index=False)
    chart = reliability_chart(table, out / "backtest-chart.png")
    summary = out / "backtest.md"
    summary.write_text(render_markdown(table, calibration, report, results), encoding="utf-8")
    return [rows, calibration_file, chart, summary]
