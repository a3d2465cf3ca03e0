"""The targeting advisor: for a planned procurement, a condition the local labour market can meet.

For one plan line the advisor answers, from what was known on the day it advises on
(:class:`AdvisorContext`), in this order (every rule and constant is in ``docs/targeting.md``):

1. **Occupations.** The CPV codes' occupation mix (:mod:`targeting.occupation_mix`).
2. **Staff estimate.** ``value_eur × labour share of the main CPV division / annual labour
   cost of the country / duration in years``: the average headcount the contract's work
   needs (tables in ``targeting/data``).
3. **Hires cap.** ``min(floor(value_eur / VALUE_PER_HIRE_EUR), ceil(person-years of work))``:
   the Finnish practice of one hire per EUR 100,000–500,000 of value, at the labour-intensive
   end (services bought with employment conditions are labour-intensive), and never more
   hires than person-years of work in the contract.
4. **Target groups.** Local supply is estimated for each weak-position group alone
   (:data:`WEAK_GROUPS`, weakest first). Groups with at least :data:`MIN_GROUP_SUPPLY`
   well-ranked people (mix-weighted) are chosen weakest first until they number
   :data:`COVERAGE_PER_OPENING` per opening the cap would need; none qualifying, all six.
5. **Job forms.** Employment always; apprenticeship when the young are chosen or the
   occupations' past vacancies used it (≥ :data:`FORM_SHARE_FOR_ADVICE` of openings); pay-
   subsidised work when the long-term unemployed or people with partial work capacity are
   chosen or the occupations used it. Work trials are no employment and are not proposed.
6. **Deadline.** The earliest of 1/4, 1/2, 3/4 of the duration (at least
   :data:`MIN_DEADLINE_DAYS` days) by which the occupations' fill curve reaches
   :data:`DEADLINE_FILL_SHARE` of what the whole duration gives; else the contract's end.
7. **Feasibility.** The supplier opens ``M = ceil(N × openings per required hire)`` openings
   (the ratio learned from past conditions), shared among the occupations by the mix. An
   opening of occupation ``o`` gets a credited hire with probability
   ``p_o = F_o(days) × s_o``: ``F_o`` the fill probability within the days from the
   vacancies' typical opening (the start plus the learned opening lag) to the deadline, and
   ``s_o = s_0 + (1 − s_0)(1 − exp(−E_o / m_o))`` the supply factor: ``1 − exp(−E_o / m_o)``
   is the chance that an opening finds one of the claimable well-ranked people when they
   spread at random over the openings, and the floor ``s_0`` (:data:`SUPPLY_FLOOR`) the
   rate at which openings are filled from people below the well-ranked cut, where
   ``E_o = well-ranked × m_o / (m_o + competing openings)`` is the share of the well-ranked
   people the line can claim against the competing open vacancies. Credited hires are
   Poisson-binomial over the openings, capped at ``N``; the feasibility is ``P(hires ≥ N)``,
   with the expectation and the 80 % interval of the credited hires. The recommendation is
   the largest ``N ≤ cap`` with feasibility ≥ :attr:`AdvisorSettings.min_feasibility`.
8. **Impact.** Expected credited hires × the per-hire impact of
   :func:`reporting.impact.reference_impacts` for the country and the job-form mix, scaled
   to the months employed in the first year that the occupations' retention gives.
9. **Performance-based offer.** When not even one hire reaches the feasibility (and the
   value carries a hire), no quota is recommended: a quota the supplier is likely to miss
   helps nobody. The advisor offers a performance-based condition instead, for the same
   groups and forms, running to the contract's end: points per verified outcome
   (:data:`PERFORMANCE_POINTS`), weighted toward the weakest groups
   (:data:`PERFORMANCE_GROUP_WEIGHTS`), at a price per point of
   :data:`PRICE_SHARE_OF_PUBLIC_GAIN` of what a year of the employment brings the
   municipality and the state divided by a lasting hire's points, and a cap paying for the
   upper end of the 80 % interval of the hires (at least one) at the highest weight. Its
   ``feasibility`` is the probability of at least one paid hire; the expected payment is the
   expected hires × the points a hire earns with the occupations' retention × the price.
   Step 8's impact uses the expected hires by the contract's end.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.geography import Geography
from features.taxonomy import Taxonomy
from features.world_store import WorldTables
from matching.domain import JobForm, TargetGroup
from matching.eligibility import add_months
from reporting.definitions import MIN_PEOPLE
from reporting.impact import STAKEHOLDERS, reference_impacts
from reporting.impact_parameters import ImpactParameters, load_parameters
from targeting.fill_rates import FillModel, country_of, fill_model
from targeting.history import History, history_as_of
from targeting.occupation_mix import OccupationMix, learn_occupation_mix
from targeting.types import (
    Advice,
    ConditionProposal,
    HypotheticalVacancy,
    OccupationShare,
    PerformanceOffer,
    PlanLine,
    Supply,
)

__all__ = [
    "CONDITION_FORMS",
    "WEAK_GROUPS",
    "AdvisorContext",
    "AdvisorSettings",
    "Feasibility",
    "HiringRates",
    "LabourTables",
    "SupplySource",
    "advise",
    "advise_plan",
    "allocate",
    "assess",
    "build_context",
    "country_of",
    "expected_months",
    "feasibility",
    "hires_cap",
    "hiring_rates",
    "load_labour_tables",
    "poisson_binomial",
    "staff_estimate",
]

#: Weak-position target groups, weakest first (the order in which groups are chosen).
WEAK_GROUPS: tuple[str, ...] = (
    TargetGroup.LONG_TERM_UNEMPLOYED.value,
    TargetGroup.PARTIAL_WORK_CAPACITY.value,
    TargetGroup.MIGRANT_BACKGROUND.value,
    TargetGroup.OLDER.value,
    TargetGroup.YOUNG.value,
    TargetGroup.UNEMPLOYED_3M.value,
)
#: Job forms a recommended condition may allow (a work trial is no employment).
CONDITION_FORMS: tuple[str, ...] = (
    JobForm.EMPLOYMENT.value,
    JobForm.APPRENTICESHIP.value,
    JobForm.PAY_SUBSIDISED.value,
)
#: The job form that suits each group beyond ordinary employment.
GROUP_FORMS: dict[str, str] = {
    TargetGroup.YOUNG.value: JobForm.APPRENTICESHIP.value,
    TargetGroup.LONG_TERM_UNEMPLOYED.value: JobForm.PAY_SUBSIDISED.value,
    TargetGroup.PARTIAL_WORK_CAPACITY.value: JobForm.PAY_SUBSIDISED.value,
}
#: A job form the occupations' past vacancies used for at least this share of openings is
#: allowed in the recommendation.
FORM_SHARE_FOR_ADVICE = 0.10
#: Contract value per required hire (TYLLI practice: one hire per EUR 100,000-500,000).
VALUE_PER_HIRE_EUR = 100_000.0
MIN_DEADLINE_DAYS = 90
DEADLINE_SHARES: tuple[float, ...] = (0.25, 0.5, 0.75)
DEADLINE_FILL_SHARE = 0.9
#: Defaults of the learned hiring rates when history has too few examples.
DEFAULT_OPENINGS_PER_HIRE = 1.25
DEFAULT_OPEN_LAG_DAYS = 30
#: A group is chosen when at least this many of its people rank well (mix-weighted) ...
MIN_GROUP_SUPPLY = 1.0
#: ... and groups are added, weakest first, until their well-ranked people number this many
#: per opening the cap would need.
COVERAGE_PER_OPENING = 2.0
#: Share of its occupation's fill rate an opening keeps with no well-ranked supply at all:
#: in the demo world's backtest, conditions without well-ranked people within reach were
#: fulfilled about half as often (9 % of 148) as those with (16 % of 137).
SUPPLY_FLOOR = 0.5
#: Fewest examples from which a hiring rate is learned rather than defaulted.
MIN_EXAMPLES = 20
#: A performance-based offer (step 9): points per verified outcome, as the service's default
#: terms (docs/performance.md) ...
PERFORMANCE_POINTS: tuple[tuple[str, float], ...] = (
    ("hired", 1.0),
    ("retained_6m", 1.0),
    ("retained_12m", 2.0),
)
#: ... weighted toward the weakest groups (positive discrimination, DESIGN.md) ...
PERFORMANCE_GROUP_WEIGHTS: dict[str, float] = {
    TargetGroup.LONG_TERM_UNEMPLOYED.value: 1.5,
    TargetGroup.PARTIAL_WORK_CAPACITY.value: 1.5,
    TargetGroup.MIGRANT_BACKGROUND.value: 1.25,
    TargetGroup.OLDER.value: 1.25,
}
#: ... priced so that a lasting hire's points cost this share of what a year of the
#: employment brings the municipality and the state (the impact model's central values) ...
PRICE_SHARE_OF_PUBLIC_GAIN = 0.5
#: ... and never less than this a point (rounded to EUR 10).
MIN_POINT_PRICE_EUR = 100.0
LABOUR_SHARES = Path(__file__).with_name("data") / "cpv_division_labour.csv"
LABOUR_COSTS = Path(__file__).with_name("data") / "labour_costs.csv"
#: Labour share of a CPV division missing from the table (goods: mostly materials).
DEFAULT_LABOUR_SHARE = 0.25


class SupplySource(Protocol):
    """What the advisor needs of :class:`targeting.supply.SupplyEstimator`."""

    def supply(
        self, vacancies: Sequence[HypotheticalVacancy], profiles: int = 20
    ) -> list[Supply]: ...


@dataclass(frozen=True)
class AdvisorSettings:
    """The advisor's knobs (defaults documented in ``docs/targeting.md``)."""

    min_feasibility: float = 0.7
    interval: float = 0.8
    value_per_hire_eur: float = VALUE_PER_HIRE_EUR
    supply_floor: float = SUPPLY_FLOOR
    profiles: int = 20


@dataclass(frozen=True)
class LabourTables:
    """Labour share of contract value per CPV division and yearly labour cost per country."""

    labour_share: Mapping[str, float]
    annual_cost_eur: Mapping[str, float]

    def share(self, division: str) -> float:
        return float(self.labour_share.get(division, DEFAULT_LABOUR_SHARE))


@cache
def load_labour_tables(shares: Path | None = None, costs: Path | None = None) -> LabourTables:
    """Read ``targeting/data/cpv_division_labour.csv`` and ``labour_costs.csv`` (once per
    process and pair of files: every advisor context, one per backtest month, shares them)."""
    share_frame = pd.read_csv(shares or LABOUR_SHARES, dtype={"cpv_division": str})
    cost_frame = pd.read_csv(costs or LABOUR_COSTS, dtype={"country": str})
    share_map = dict(zip(share_frame["cpv_division"], share_frame["labour_share"], strict=True))
    cost_map = dict(zip(cost_frame["country"], cost_frame["annual_labour_cost_eur"], strict=True))
    if not all(0 < float(v) <= 1 for v in share_map.values()):
        raise ValueError(f"{shares or LABOUR_SHARES}: labour_share must be in (0, 1]")
    return LabourTables(
        {str(k): float(v) for k, v in share_map.items()},
        {str(k): float(v) for k, v in cost_map.items()},
    )


@dataclass(frozen=True)
class HiringRates:
    """How suppliers under past conditions hired (see :func:`hiring_rates`)."""

    openings_per_hire: float  # openings opened per hire required
    open_lag_days: int  # days from a contract's start to its vacancies' opening
    form_shares: Mapping[str, Mapping[str, float]]  # ISCO unit group -> job form -> share
    overall_forms: Mapping[str, float]
    conditions: int  # past conditions behind openings_per_hire


def hiring_rates(history: History, taxonomy: Taxonomy) -> HiringRates:
    """Learn the hiring rates from ``history``.

    - openings per required hire: the median, over conditions whose deadline had passed, of
      the openings of their vacancies over the hires they required;
    - opening lag: the median days from a contract's start to the opening of the vacancies
      of those conditions;
    - job-form shares: openings per job form of each ISCO unit group's past vacancies.

    Each falls back to its documented default with fewer than :data:`MIN_EXAMPLES` examples.
    """
    cutoff = pd.Timestamp(history.as_of)
    conditions = history.conditions
    contracts = history.contracts.set_index(history.contracts["contract_id"].astype(str))
    vacancies = history.vacancies
    deadline = pd.to_datetime(conditions["deadline"])
    over = conditions[(deadline < cutoff).to_numpy()]
    openings = vacancies.groupby(vacancies["condition_id"].astype("string"))["openings"].sum()
    per_condition = over["condition_id"].astype(str).map(openings).fillna(0.0).astype(float)
    ratio = per_condition / over["hires_required"].astype(float).clip(lower=1.0)
    openings_per_hire = (
        float(np.median(ratio)) if len(ratio) >= MIN_EXAMPLES else DEFAULT_OPENINGS_PER_HIRE
    )
    openings_per_hire = max(openings_per_hire, 1.0)

    # Vacancies of conditions whose deadline has passed: all of them have opened, so recent
    # contracts (with only their first vacancies open) do not shorten the lag.
    done = set(over["condition_id"].astype(str))
    under = vacancies[vacancies["condition_id"].astype("string").isin(done).to_numpy()]
    starts = pd.to_datetime(contracts["starts_on"]).astype("datetime64[ms]")
    started = starts.reindex(pd.Index(under["contract_id"].astype(str))).to_numpy()
    opened = pd.to_datetime(under["opens_on"]).astype("datetime64[ms]").to_numpy()
    lag = ((opened - started) / np.timedelta64(1, "D")).astype(np.float64)
    lag = lag[~np.isnan(lag)]
    open_lag = (
        int(np.median(np.maximum(lag, 0.0))) if len(lag) >= MIN_EXAMPLES else DEFAULT_OPEN_LAG_DAYS
    )

    isco_of = taxonomy.occupations.set_index("uri")["isco_code"].astype(str)
    forms = pd.DataFrame(
        {
            "isco": vacancies["occupation_uri"].astype(str).map(isco_of),
            "form": vacancies["job_form"].astype(str),
            "openings": vacancies["openings"].astype(float),
        }
    ).dropna()
    by_group = forms.groupby(["isco", "form"])["openings"].sum()
    totals = by_group.groupby(level="isco").sum()
    form_shares: dict[str, dict[str, float]] = {}
    for record in by_group.reset_index().to_dict("records"):
        isco, form = str(record["isco"]), str(record["form"])
        form_shares.setdefault(isco, {})[form] = float(record["openings"]) / float(totals[isco])
    overall = forms.groupby("form")["openings"].sum()
    overall_forms = {str(k): float(v / overall.sum()) for k, v in overall.items()}
    return HiringRates(
        openings_per_hire=openings_per_hire,
        open_lag_days=open_lag,
        form_shares=form_shares,
        overall_forms=overall_forms or {JobForm.EMPLOYMENT.value: 1.0},
        conditions=len(ratio),
    )


@dataclass(frozen=True, eq=False)
class AdvisorContext:
    """Everything the advisor reads, as known on ``as_of`` (build with :func:`build_context`)."""

    as_of: date
    mix: OccupationMix
    fill: FillModel
    supply: SupplySource
    params: ImpactParameters
    rates: HiringRates
    labour: LabourTables
    settings: AdvisorSettings = field(default_factory=AdvisorSettings)
    #: (country, job form, stakeholder) -> EUR for one placement of 12 months.
    impacts: Mapping[tuple[str, str, str], float] = field(default_factory=dict)


def build_context(
    world: WorldTables,
    as_of: date,
    supply: SupplySource,
    taxonomy: Taxonomy,
    geography: Geography,
    params: ImpactParameters | None = None,
    *,
    settings: AdvisorSettings | None = None,
) -> AdvisorContext:
    """The advisor's view of ``world`` on ``as_of``: nothing dated on or after it is read."""
    history = history_as_of(world, as_of)
    parameters = load_parameters() if params is None else params
    reference = reference_impacts(parameters, months=12.0)
    impacts = {
        (str(r["country"]), str(r["job_form"]), str(r["stakeholder"])): float(r["eur"])
        for r in reference.to_dict("records")
    }
    return AdvisorContext(
        as_of=as_of,
        mix=learn_occupation_mix(history, taxonomy),
        fill=fill_model(history, geography, taxonomy),
        supply=supply,
        params=parameters,
        rates=hiring_rates(history, taxonomy),
        labour=load_labour_tables(),
        settings=settings or AdvisorSettings(),
        impacts=impacts,
    )


# --------------------------------------------------------------------------------------------
# Arithmetic (pure functions, tested by hand)
# --------------------------------------------------------------------------------------------


def staff_estimate(line: PlanLine, labour: LabourTables) -> float:
    """Average headcount the line's work needs (module docstring, step 2)."""
    division = line.cpv_codes[0][:2]
    cost = labour.annual_cost_eur[country_of(line.municipality)]
    years = line.duration_months / 12.0
    return line.value_eur * labour.share(division) / cost / years


def hires_cap(line: PlanLine, staff: float, value_per_hire: float = VALUE_PER_HIRE_EUR) -> int:
    """Most hires a condition of the line may ask (module docstring, step 3)."""
    person_years = staff * line.duration_months / 12.0
    by_value = math.floor(line.value_eur / value_per_hire)
    return max(0, min(by_value, math.ceil(person_years - 1e-9)))


def poisson_binomial(probabilities: Sequence[float]) -> npt.NDArray[np.float64]:
    """P(exactly k successes) for k = 0..n of independent trials with these probabilities."""
    pmf = np.ones(1, dtype=np.float64)
    for probability in probabilities:
        p = min(max(float(probability), 0.0), 1.0)
        pmf = np.concatenate([pmf * (1.0 - p), [0.0]]) + np.concatenate([[0.0], pmf * p])
    return pmf


def allocate(total: int, shares: Sequence[float]) -> list[int]:
    """``total`` split in proportion to ``shares`` by largest remainders (ties: first)."""
    if total <= 0 or not shares:
        return [0] * len(shares)
    weights = np.asarray(shares, dtype=np.float64)
    exact = weights / weights.sum() * total
    base = np.floor(exact).astype(np.int64)
    remainder = exact - base
    for index in np.argsort(-remainder, kind="stable")[: total - int(base.sum())]:
        base[index] += 1
    return [int(x) for x in base]


@dataclass(frozen=True)
class Feasibility:
    """The credited-hires distribution of one condition."""

    feasibility: float
    expected_hires: float
    interval: tuple[int, int]
    openings: tuple[int, ...]  # per occupation of the mix
    probabilities: tuple[float, ...]  # p_o per occupation
    fill: tuple[float, ...]  # F_o per occupation
    supply_factor: tuple[float, ...]  # s_o per occupation
    days: int  # days from the vacancies' opening to the deadline


def feasibility(
    hires: int,
    days: int,
    mix: Sequence[OccupationShare],
    supplies: Sequence[Supply],
    fill: Sequence[float],
    rates: HiringRates,
    interval: float = 0.8,
    supply_floor: float = SUPPLY_FLOOR,
    openings_total: int | None = None,
) -> Feasibility:
    """Module docstring, step 7: ``fill[o]`` is ``F_o(days)`` of the mix's occupation ``o``.

    ``openings_total`` overrides the openings the supplier is taken to open (step 9 asks
    for one hire among the openings of the cap's hires)."""
    if openings_total is None:
        openings_total = max(hires, math.ceil(hires * rates.openings_per_hire - 1e-9))
    openings = allocate(openings_total, [share.share for share in mix])
    probabilities: list[float] = []
    factors: list[float] = []
    trials: list[float] = []
    for own, supply, filled in zip(openings, supplies, fill, strict=True):
        if own == 0:
            factors.append(0.0)
            probabilities.append(0.0)
            continue
        claim = own / (own + max(supply.competing_openings, 0))
        effective = supply.well_ranked * claim
        factor = supply_floor + (1.0 - supply_floor) * (1.0 - math.exp(-effective / own))
        p = filled * factor
        factors.append(factor)
        probabilities.append(p)
        trials.extend([p] * own)
    pmf = poisson_binomial(trials)
    counts = np.arange(len(pmf))
    credited = np.minimum(counts, hires)
    feasible = float(pmf[hires:].sum()) if hires < len(pmf) else 0.0
    expected = float((credited * pmf).sum())
    credited_pmf = np.bincount(credited, weights=pmf, minlength=hires + 1)
    cdf = np.cumsum(credited_pmf)
    tail = (1.0 - interval) / 2.0
    low = int(np.searchsorted(cdf, tail - 1e-12, side="left"))
    high = int(np.searchsorted(cdf, 1.0 - tail - 1e-12, side="left"))
    return Feasibility(
        feasibility=min(max(feasible, 0.0), 1.0),
        expected_hires=expected,
        interval=(min(low, hires), min(high, hires)),
        openings=tuple(openings),
        probabilities=tuple(probabilities),
        fill=tuple(fill),
        supply_factor=tuple(factors),
        days=days,
    )


def expected_months(after_6m: float, after_12m: float, params: ImpactParameters) -> float:
    """Months employed in the first year: 12 if kept a year, the parameter file's months
    for people who leave between 6 and 12 months, and before 6 months."""
    values = params.values("value")
    before = values["employment.months_if_left_before_6m"]
    between = values["employment.months_if_left_between_6m_and_12m"]
    return after_12m * 12.0 + (after_6m - after_12m) * between + (1.0 - after_6m) * before


# --------------------------------------------------------------------------------------------
# The advisor
# --------------------------------------------------------------------------------------------


def _form_shares(mix: Sequence[OccupationShare], rates: HiringRates) -> dict[str, float]:
    """Openings per job form of the mix's occupations' past vacancies (mix-weighted)."""
    out: dict[str, float] = {}
    for share in mix:
        forms = rates.form_shares.get(share.isco_code, rates.overall_forms)
        for form, value in forms.items():
            out[form] = out.get(form, 0.0) + share.share * value
    return out


def _vacancy_form(isco: str, allowed: Sequence[str], rates: HiringRates) -> str:
    """The allowed job form the occupation's past vacancies used most."""
    forms = rates.form_shares.get(isco, rates.overall_forms)
    ranked = sorted(allowed, key=lambda form: (-forms.get(form, 0.0), allowed.index(form)))
    return ranked[0] if ranked else JobForm.EMPLOYMENT.value


def _hypothetical(
    line: PlanLine,
    mix: Sequence[OccupationShare],
    groups: Sequence[str],
    forms: Sequence[str],
    context: AdvisorContext,
) -> list[HypotheticalVacancy]:
    return [
        HypotheticalVacancy(
            key=f"{line.line_id}/{share.occupation_uri}",
            occupation_uri=share.occupation_uri,
            municipality=line.municipality,
            job_form=_vacancy_form(share.isco_code, forms, context.rates),
            target_groups=tuple(groups),
            opens_on=context.as_of,
        )
        for share in mix
    ]


def _survey(
    line: PlanLine, mix: Sequence[OccupationShare], forms: Sequence[str], context: AdvisorContext
) -> tuple[Supply, ...]:
    """Supply of every weak-position group alone, for every occupation of the mix."""
    vacancies = [
        replace(vacancy, key=f"{vacancy.key}/{group}", target_groups=(group,))
        for vacancy in _hypothetical(line, mix, (), forms, context)
        for group in WEAK_GROUPS
    ]
    found = context.supply.supply(vacancies, profiles=context.settings.profiles)
    by_key = {s.vacancy.key: s for s in found}
    return tuple(by_key[v.key] for v in vacancies if v.key in by_key)


def _supplies(
    line: PlanLine,
    mix: Sequence[OccupationShare],
    groups: Sequence[str],
    forms: Sequence[str],
    context: AdvisorContext,
) -> tuple[Supply, ...]:
    vacancies = _hypothetical(line, mix, groups, forms, context)
    found = context.supply.supply(vacancies, profiles=context.settings.profiles)
    by_key = {s.vacancy.key: s for s in found}
    missing = [v.key for v in vacancies if v.key not in by_key]
    if missing:
        raise ValueError(f"the supply estimator gave no answer for {missing[0]!r}")
    return tuple(by_key[v.key] for v in vacancies)


def _opening_days(line: PlanLine, deadline: date, rates: HiringRates) -> int:
    return (deadline - line.starts_on).days - rates.open_lag_days


def _fill(
    line: PlanLine, mix: Sequence[OccupationShare], days: int, context: AdvisorContext
) -> list[float]:
    return [
        context.fill.fill_probability(share.isco_code, line.municipality, days)[0]
        if days >= 0
        else 0.0
        for share in mix
    ]


def _impact(
    line: PlanLine,
    mix: Sequence[OccupationShare],
    forms: Sequence[str],
    hires: float,
    context: AdvisorContext,
) -> dict[str, float]:
    """Expected hires × per-hire impact (module docstring, step 8)."""
    country = country_of(line.municipality)
    weights = _form_weights(mix, forms, context.rates)
    months = 0.0
    for share in mix:
        retained = context.fill.retention(share.isco_code, line.municipality)
        months += share.share * expected_months(
            retained.after_6m, retained.after_12m, context.params
        )
    out = {}
    for stakeholder in STAKEHOLDERS:
        per_placement = sum(
            weight * context.impacts[(country, form, stakeholder)]
            for form, weight in weights.items()
        )
        out[stakeholder] = hires * per_placement * months / 12.0
    return out


def _form_weights(
    mix: Sequence[OccupationShare], forms: Sequence[str], rates: HiringRates
) -> dict[str, float]:
    """The condition's job forms weighted by the occupations' past openings per form (equal
    when none was used), summing to 1: how the impact of a placement is averaged."""
    shares = _form_shares(mix, rates)
    weights = {form: shares.get(form, 0.0) for form in forms}
    if sum(weights.values()) <= 0:
        weights = dict.fromkeys(forms, 1.0)
    total = sum(weights.values())
    return {form: weight / total for form, weight in weights.items()}


def _count(n: int) -> str:
    """A count as a procurement unit may see it: small counts are not published."""
    return f"fewer than {MIN_PEOPLE}" if 0 < n < MIN_PEOPLE else str(n)


def _group_supply(mix: Sequence[OccupationShare], survey: Sequence[Supply]) -> dict[str, float]:
    """Well-ranked people of each group alone, weighted by the mix's shares."""
    shares = {share.occupation_uri: share.share for share in mix}
    out: dict[str, float] = {}
    for supply in survey:
        (group,) = supply.vacancy.target_groups
        weight = shares.get(supply.vacancy.occupation_uri, 0.0)
        out[group] = out.get(group, 0.0) + weight * supply.well_ranked
    return out


def _choose_groups(
    group_supply: Mapping[str, float], cap: int, rates: HiringRates
) -> tuple[str, ...]:
    """Module docstring, step 4."""
    need_one = MIN_GROUP_SUPPLY
    need_all = COVERAGE_PER_OPENING * math.ceil(rates.openings_per_hire * max(cap, 1))
    chosen: list[str] = []
    covered = 0.0
    for group in WEAK_GROUPS:
        available = group_supply.get(group, 0.0)
        if available < need_one:
            continue
        chosen.append(group)
        covered += available
        if covered >= need_all:
            break
    return tuple(chosen) if chosen else WEAK_GROUPS


def _choose_forms(
    groups: Sequence[str], mix: Sequence[OccupationShare], rates: HiringRates
) -> tuple[str, ...]:
    """Module docstring, step 5."""
    used = _form_shares(mix, rates)
    forms = [JobForm.EMPLOYMENT.value]
    for form in CONDITION_FORMS[1:]:
        wanted = any(GROUP_FORMS.get(group) == form for group in groups)
        if wanted or used.get(form, 0.0) >= FORM_SHARE_FOR_ADVICE:
            forms.append(form)
    return tuple(forms)


def _deadline(line: PlanLine, mix: Sequence[OccupationShare], context: AdvisorContext) -> date:
    """Module docstring, step 6."""
    end = add_months(line.starts_on, line.duration_months)
    lag = context.rates.open_lag_days

    def mean_fill(day: date) -> float:
        days = (day - line.starts_on).days - lag
        if days < 0:
            return 0.0
        return sum(
            share.share * p for share, p in zip(mix, _fill(line, mix, days, context), strict=True)
        )

    best = mean_fill(end)
    for fraction in DEADLINE_SHARES:
        days = max(MIN_DEADLINE_DAYS, round((end - line.starts_on).days * fraction))
        candidate = min(end, line.starts_on + timedelta(days=days))
        if best <= 0 or mean_fill(candidate) >= DEADLINE_FILL_SHARE * best:
            return candidate
    return end


def _occupation_names(mix: Sequence[OccupationShare], context: AdvisorContext) -> str:
    return ", ".join(f"{context.mix.label(s.occupation_uri)} ({s.share:.0%})" for s in mix)


def _groups_text(groups: Sequence[str]) -> str:
    return ", ".join(group.replace("_", " ") for group in groups) or "any registered jobseeker"


def _reasons(
    mix: Sequence[OccupationShare],
    supplies: Sequence[Supply],
    survey: Sequence[Supply],
    result: Feasibility | None,
    condition: ConditionProposal | None,
    context: AdvisorContext,
    staff: float,
    cap: int,
) -> list[str]:
    reasons: list[str] = []
    source = (
        "past vacancies of the division"
        if mix and mix[0].source == "history"
        else "the documented table (too few past vacancies in the division)"
    )
    reasons.append(f"The work needs {_occupation_names(mix, context)}, from {source}.")
    reasons.append(
        f"About {staff:.1f} people work on the contract on average; its value allows at most "
        f"{cap} required hire{'s' if cap != 1 else ''}."
    )
    for share, supply in zip(mix, supplies, strict=True):
        label = context.mix.label(share.occupation_uri)
        per_group = [
            (s.vacancy.target_groups[0], s.well_ranked)
            for s in survey
            if s.vacancy.occupation_uri == share.occupation_uri and s.well_ranked > 0
        ]
        competition = (
            f"{supply.competing_vacancies} other open vacancies of the occupation group "
            f"({supply.competing_openings} openings) compete for them"
        )
        if per_group:
            ranked = sorted(per_group, key=lambda item: -item[1])[:3]
            people = ", ".join(f"{_count(n)} {g.replace('_', ' ')}" for g, n in ranked)
            reasons.append(f"Within reach and ranking well as {label}: {people}; {competition}.")
        elif supply.well_ranked > 0:
            groups = _groups_text(supply.vacancy.target_groups)
            reasons.append(
                f"{_count(supply.well_ranked)} people ({groups}) within reach rank well as "
                f"{label}; {competition}."
            )
        else:
            reasons.append(f"Nobody in the target groups within reach ranks well as {label}.")
    if result is not None:
        fill = ", ".join(
            f"{context.mix.label(s.occupation_uri)} {f:.0%}"
            for s, f in zip(mix, result.fill, strict=True)
        )
        reasons.append(
            f"Vacancies of these occupations here got a hire within {max(result.days, 0)} days "
            f"in {fill} of past cases."
        )
    if condition is not None and result is not None:
        reasons.append(
            f"{condition.hires} hire{'s' if condition.hires != 1 else ''} by {condition.deadline} "
            f"are met with probability {result.feasibility:.0%} "
            f"(80 % interval {result.interval[0]}-{result.interval[1]})."
        )
    return reasons


def _advice(
    line: PlanLine,
    mix: tuple[OccupationShare, ...],
    supplies: tuple[Supply, ...],
    survey: tuple[Supply, ...],
    staff: float,
    condition: ConditionProposal | None,
    result: Feasibility | None,
    reasons: Sequence[str],
    context: AdvisorContext,
    forms: Sequence[str],
) -> Advice:
    expected = result.expected_hires if result is not None else 0.0
    impact = (
        _impact(line, mix, forms, expected, context)
        if mix and result is not None
        else dict.fromkeys(STAKEHOLDERS, 0.0)
    )
    return Advice(
        line=line,
        occupations=mix,
        supply=supplies,
        staff_estimate=staff,
        condition=condition,
        feasibility=result.feasibility if result is not None else 0.0,
        expected_hires=expected,
        hires_interval=result.interval if result is not None else (0, 0),
        expected_impact_eur=impact,
        reasons=tuple(reasons),
        supply_by_group=survey,
    )


def assess(line: PlanLine, condition: ConditionProposal, context: AdvisorContext) -> Advice:
    """The advice for ``line`` with a given condition: its feasibility, hires and impact.

    The backtest calls this with a past contract's actual condition, as of its start day.
    """
    mix = context.mix.for_cpv(line.cpv_codes)
    staff = staff_estimate(line, context.labour)
    cap = hires_cap(line, staff, context.settings.value_per_hire_eur)
    if not mix:
        reasons = [_no_mix_reason(line)]
        return _advice(line, mix, (), (), staff, condition, None, reasons, context, ())
    forms = [f for f in condition.job_forms if f in {j.value for j in JobForm}] or [
        JobForm.EMPLOYMENT.value
    ]
    supplies = _supplies(line, mix, condition.target_groups, forms, context)
    days = _opening_days(line, condition.deadline, context.rates)
    result = feasibility(
        max(condition.hires, 0),
        days,
        mix,
        supplies,
        _fill(line, mix, days, context),
        context.rates,
        context.settings.interval,
        context.settings.supply_floor,
    )
    reasons = _reasons(mix, supplies, (), result, condition, context, staff, cap)
    return _advice(line, mix, supplies, (), staff, condition, result, reasons, context, forms)


def _no_mix_reason(line: PlanLine) -> str:
    division = line.cpv_codes[0][:2]
    return (
        f"CPV division {division} has neither past vacancies nor an entry in the occupation "
        "table: it buys goods made elsewhere, so no employment condition is recommended."
    )


def advise(line: PlanLine, context: AdvisorContext) -> Advice:
    """Recommend a condition for ``line`` (module docstring), or none when none is feasible."""
    mix = context.mix.for_cpv(line.cpv_codes)
    staff = staff_estimate(line, context.labour)
    cap = hires_cap(line, staff, context.settings.value_per_hire_eur)
    if not mix:
        return _advice(line, mix, (), (), staff, None, None, [_no_mix_reason(line)], context, ())
    rates = context.rates
    survey = _survey(line, mix, _choose_forms(WEAK_GROUPS, mix, rates), context)
    groups = _choose_groups(_group_supply(mix, survey), cap, rates)
    forms = _choose_forms(groups, mix, rates)
    deadline = _deadline(line, mix, context)
    supplies = _supplies(line, mix, groups, forms, context)
    days = _opening_days(line, deadline, rates)
    fill = _fill(line, mix, days, context)
    settings = context.settings
    best: tuple[ConditionProposal, Feasibility] | None = None
    smallest: Feasibility | None = None
    for hires in range(max(cap, 1), 0, -1):
        result = feasibility(
            hires, days, mix, supplies, fill, rates, settings.interval, settings.supply_floor
        )
        smallest = result
        if hires <= cap and result.feasibility >= settings.min_feasibility:
            best = (ConditionProposal(groups, hires, forms, deadline), result)
            break
    if best is not None:
        condition, result = best
        reasons = _reasons(mix, supplies, survey, result, condition, context, staff, cap)
        return _advice(
            line, mix, supplies, survey, staff, condition, result, reasons, context, forms
        )
    assert smallest is not None
    if cap == 0:
        reasons = _reasons(mix, supplies, survey, smallest, None, context, staff, cap)
        reasons.append(
            f"The value is below EUR {settings.value_per_hire_eur:,.0f} a hire: too small a "
            "contract to carry a condition."
        )
        return _advice(line, mix, supplies, survey, staff, None, smallest, reasons, context, forms)
    offer, result, at_least_one = _performance_offer(
        line, mix, supplies, groups, forms, cap, context
    )
    reasons = _reasons(mix, supplies, survey, result, None, context, staff, cap)
    terms = offer.performance
    assert terms is not None
    weights = ", ".join(f"{g.replace('_', ' ')} x{w:g}" for g, w in terms.target_group_weights)
    reasons += [
        f"Even one hire by {deadline} is met with probability only {smallest.feasibility:.0%} "
        f"(< {settings.min_feasibility:.0%}): a quota the supplier is likely to miss is not "
        "recommended. A performance-based condition buys the outcomes instead and lets the "
        "supplier choose how.",
        f"Paying EUR {terms.price_per_point_eur:,.0f} a point (hire 1, still employed at 6 "
        f"months 1, at 12 months 2{'; ' + weights if weights else ''}) is half of what a year "
        "of such employment brings the municipality and the state; the cap of EUR "
        f"{terms.cap_eur:,.0f} pays for {offer.hires} lasting hire{_plural(offer.hires)}.",
        f"Expected: {result.expected_hires:.1f} hires by the contract's end (80 % interval "
        f"{result.interval[0]}-{result.interval[1]}), at least one with probability "
        f"{at_least_one:.0%}, and EUR {terms.expected_payment_eur:,.0f} paid.",
    ]
    advice = _advice(line, mix, supplies, survey, staff, offer, result, reasons, context, forms)
    return replace(advice, feasibility=at_least_one)


def _plural(n: int) -> str:
    return "" if n == 1 else "s"


def _performance_offer(
    line: PlanLine,
    mix: tuple[OccupationShare, ...],
    supplies: tuple[Supply, ...],
    groups: tuple[str, ...],
    forms: tuple[str, ...],
    cap: int,
    context: AdvisorContext,
) -> tuple[ConditionProposal, Feasibility, float]:
    """Module docstring, step 9: the terms, the hires they buy, and P(at least one hire)."""
    settings, rates = context.settings, context.rates
    end = add_months(line.starts_on, line.duration_months)
    days = _opening_days(line, end, rates)
    fill = _fill(line, mix, days, context)

    def outlook(hires: int, openings: int | None = None) -> Feasibility:
        return feasibility(
            hires,
            days,
            mix,
            supplies,
            fill,
            rates,
            settings.interval,
            settings.supply_floor,
            openings_total=openings,
        )

    result = outlook(cap)
    # One paid hire among the openings the supplier opens for the cap's hires.
    at_least_one = outlook(1, sum(result.openings)).feasibility
    after_6m = after_12m = 0.0
    for share in mix:
        retained = context.fill.retention(share.isco_code, line.municipality)
        after_6m += share.share * retained.after_6m
        after_12m += share.share * retained.after_12m
    points = dict(PERFORMANCE_POINTS)
    lasting = sum(points.values())
    country = country_of(line.municipality)
    public_gain = sum(
        weight
        * (
            context.impacts[(country, form, "municipality")]
            + context.impacts[(country, form, "state")]
        )
        for form, weight in _form_weights(mix, forms, rates).items()
    )
    price = max(round(PRICE_SHARE_OF_PUBLIC_GAIN * public_gain / lasting, -1), MIN_POINT_PRICE_EUR)
    group_weights = tuple(
        (group, PERFORMANCE_GROUP_WEIGHTS[group])
        for group in groups
        if PERFORMANCE_GROUP_WEIGHTS.get(group, 1.0) != 1.0
    )
    top_weight = max((w for _, w in group_weights), default=1.0)
    mean_weight = sum(PERFORMANCE_GROUP_WEIGHTS.get(g, 1.0) for g in groups) / max(len(groups), 1)
    paid_hires = max(result.interval[1], 1)
    cap_eur = price * lasting * top_weight * paid_hires
    points_per_hire = (
        points["hired"] + after_6m * points["retained_6m"] + after_12m * points["retained_12m"]
    )
    expected_payment = min(cap_eur, result.expected_hires * points_per_hire * mean_weight * price)
    offer = ConditionProposal(
        groups,
        paid_hires,
        forms,
        end,
        PerformanceOffer(
            price_per_point_eur=float(price),
            cap_eur=float(cap_eur),
            points=tuple(points.items()),
            target_group_weights=group_weights,
            expected_payment_eur=float(expected_payment),
        ),
    )
    return offer, result, at_least_one


def advise_plan(lines: Sequence[PlanLine], context: AdvisorContext) -> list[Advice]:
    """:func:`advise` for every line, in plan order."""
    return [advise(line, context) for line in lines]
