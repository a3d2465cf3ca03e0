"""The advisor: its arithmetic by hand (with a fake supply), then on a world with the real one."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from features.geography import Geography
from features.matching_data import Vocabularies
from features.taxonomy import Taxonomy
from features.world_store import WorldTables
from reporting.impact import monthly_impact
from service.api.schemas import ConditionIn
from service.composition import build_engine
from service.settings import Settings
from targeting.advisor import (
    WEAK_GROUPS,
    AdvisorContext,
    HiringRates,
    LabourTables,
    advise,
    advise_plan,
    allocate,
    assess,
    build_context,
    feasibility,
    hires_cap,
    poisson_binomial,
    staff_estimate,
)
from targeting.report import PROFILE_COLUMNS, advice_table, profile_table, supply_table
from targeting.supply import SupplyEstimator
from targeting.types import (
    Advice,
    ConditionProposal,
    HypotheticalVacancy,
    OccupationShare,
    PlanLine,
    Supply,
    SupplyProfile,
)
from tests.world_builder import WorldBuilder, hand_parameters

pytestmark = pytest.mark.integration

AS_OF = date(2026, 6, 1)
RATES = HiringRates(
    openings_per_hire=1.5,
    open_lag_days=0,
    form_shares={},
    overall_forms={"employment": 1.0},
    conditions=0,
)


def line(**changes: object) -> PlanLine:
    base = PlanLine(
        line_id="L1",
        buyer="MUN-091",
        cpv_codes=("90910000-9",),
        municipality="091",
        value_eur=600_000.0,
        starts_on=date(2026, 7, 1),
        duration_months=24,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def supply(well_ranked: int, competing_openings: int, groups: tuple[str, ...] = ()) -> Supply:
    vacancy = HypotheticalVacancy("k", "uri", "091", "employment", groups, AS_OF)
    return Supply(vacancy, 100, well_ranked, {}, 0.0, competing_openings, competing_openings)


# ---------------------------------------------------------------------------- arithmetic


def test_poisson_binomial_matches_enumeration() -> None:
    probabilities = [0.2, 0.5, 0.9, 0.35]
    brute = np.zeros(len(probabilities) + 1)
    for outcome in itertools.product([0, 1], repeat=len(probabilities)):
        weight = math.prod(p if o else 1 - p for p, o in zip(probabilities, outcome, strict=True))
        brute[sum(outcome)] += weight
    assert poisson_binomial(probabilities) == pytest.approx(brute)
    assert poisson_binomial([]) == pytest.approx([1.0])


def test_allocate_by_largest_remainders() -> None:
    # Exact 1.5, 0.9, 0.6: floors 1, 0, 0, and the two largest remainders get one more.
    assert allocate(3, [0.5, 0.3, 0.2]) == [1, 1, 1]
    assert allocate(4, [0.5, 0.3, 0.2]) == [2, 1, 1]
    assert allocate(1, [0.5, 0.5]) == [1, 0]  # a tie goes to the first
    assert allocate(5, [0.4, 0.4, 0.2]) == [2, 2, 1]
    assert allocate(0, [1.0]) == [0]


def test_staff_estimate_and_cap_by_hand() -> None:
    labour = LabourTables({"90": 0.7}, {"FI": 42_000.0, "SE": 43_000.0})
    # 600,000 EUR x 0.7 / 42,000 EUR / 2 years = 5 people; 10 person-years.
    assert staff_estimate(line(), labour) == pytest.approx(5.0)
    assert hires_cap(line(), 5.0) == 6  # floor(600,000 / 100,000), under 10 person-years
    # Goods (division 30) default to a labour share of 0.25; a small contract caps at 0.
    small = line(cpv_codes=("30200000-1",), value_eur=90_000.0, municipality="0180")
    assert staff_estimate(small, labour) == pytest.approx(90_000 * 0.25 / 43_000 / 2)
    assert hires_cap(small, staff_estimate(small, labour)) == 0
    # Never more hires than person-years of work: 2 people for 1 year.
    assert hires_cap(line(value_eur=900_000.0, duration_months=12), 2.0) == 2


def test_feasibility_by_hand() -> None:
    mix = [OccupationShare("uri", "9112", 1.0, "history")]
    # N = 2 hires, 1.5 openings per hire -> 3 openings; 6 well-ranked people of whom the
    # line can claim 3 / (3 + 3) -> E = 3, s = 0.5 + 0.5 (1 - exp(-3/3)); F = 0.6.
    result = feasibility(2, 100, mix, [supply(6, 3)], [0.6], RATES, interval=0.8)
    p = 0.6 * (0.5 + 0.5 * (1 - math.exp(-1.0)))
    pmf = [(1 - p) ** 3, 3 * p * (1 - p) ** 2, 3 * p**2 * (1 - p), p**3]
    assert result.openings == (3,)
    assert result.probabilities == (pytest.approx(p),)
    assert result.feasibility == pytest.approx(pmf[2] + pmf[3])
    assert result.expected_hires == pytest.approx(pmf[1] + 2 * (pmf[2] + pmf[3]))
    cdf = np.cumsum([pmf[0], pmf[1], pmf[2] + pmf[3]])
    low = int(np.searchsorted(cdf, 0.1))
    high = int(np.searchsorted(cdf, 0.9))
    assert result.interval == (low, high)
    # Nobody well ranked: the openings keep the floor's share of the fill rate, 0.5 x 0.9,
    # over ceil(1.5) = 2 openings; without the floor nothing could be credited.
    nobody = feasibility(1, 100, mix, [supply(0, 0)], [0.9], RATES)
    assert nobody.feasibility == pytest.approx(1 - (1 - 0.45) ** 2)
    assert feasibility(1, 100, mix, [supply(0, 0)], [0.9], RATES, supply_floor=0.0).feasibility == 0
    # Competition lowers the chance.
    crowded = feasibility(2, 100, mix, [supply(6, 30)], [0.6], RATES)
    assert crowded.feasibility < result.feasibility


# ------------------------------------------------------------------- advice, fake supply


class FakeSupply:
    """Well-ranked people per target group for every occupation; a condition's supply is
    the sum over its groups. Records what it was asked."""

    def __init__(self, by_group: dict[str, int], competing: int = 0) -> None:
        self.by_group = by_group
        self.competing = competing
        self.asked: list[HypotheticalVacancy] = []

    def supply(self, vacancies: Sequence[HypotheticalVacancy], profiles: int = 20) -> list[Supply]:
        self.asked.extend(vacancies)
        out = []
        for vacancy in vacancies:
            counts = {g: self.by_group.get(g, 0) for g in vacancy.target_groups}
            total = sum(counts.values())
            out.append(
                Supply(vacancy, 10 * total, total, counts, 0.0, self.competing, self.competing)
            )
        return out


def uri(taxonomy: Taxonomy, label: str) -> str:
    occupations = taxonomy.occupations
    return str(occupations.loc[occupations["label"] == label, "uri"].iloc[0])


def cleaning_world(taxonomy: Taxonomy) -> WorldTables:
    """Twelve past cleaning contracts in Helsinki, each with a cleaner vacancy opened 10 days
    after its start; eight are filled 5 days after opening."""
    b = WorldBuilder(as_of=AS_OF)
    buyer = b.buyer("091", "Helsinki")
    cleaner = uri(taxonomy, "building cleaner")
    for i in range(12):
        start = date(2024, 1, 1) + timedelta(days=30 * i)
        b.contract(
            f"K{i}", buyer=buyer, municipality="091", starts=start, value=2e5, cpv="90910000-9"
        )
        b.condition(
            f"E{i}",
            f"K{i}",
            groups=("long_term_unemployed",),
            required=1,
            deadline=start + timedelta(days=200),
        )
        opens = start + timedelta(days=10)
        b.vacancy(
            f"V{i}",
            contract=f"K{i}",
            condition=f"E{i}",
            municipality="091",
            job_form="employment",
            opens=opens,
            openings=1,
        )
        b.rows["vacancies"][-1]["occupation_uri"] = cleaner
        if i < 8:
            b.person(f"P{i}", coach="C1")
            b.event(f"P{i}", f"V{i}", "hired", opens + timedelta(days=5))
    return b.build()


@pytest.fixture(scope="module")
def hand_context_parts(taxonomy: Taxonomy) -> WorldTables:
    return cleaning_world(taxonomy)


def context(
    world: WorldTables, taxonomy: Taxonomy, geography: Geography, fake: FakeSupply
) -> AdvisorContext:
    return build_context(world, AS_OF, fake, taxonomy, geography, hand_parameters())


def test_context_learns_the_hiring_rates(
    hand_context_parts: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    ctx = context(hand_context_parts, taxonomy, geography, FakeSupply({}))
    # Too few conditions (< 20) for the openings ratio: its default; twelve vacancies for
    # the opening lag... still fewer than 20 examples: the default as well.
    assert ctx.rates.openings_per_hire == 1.25
    assert ctx.rates.open_lag_days == 30
    assert [s.isco_code for s in ctx.mix.for_division("90")] == ["9112"]
    assert ctx.mix.for_division("90")[0].source == "history"


def test_advice_picks_weakest_groups_with_supply_and_the_largest_feasible_hires(
    hand_context_parts: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    fake = FakeSupply({"partial_work_capacity": 4, "migrant_background": 40, "young": 30})
    ctx = context(hand_context_parts, taxonomy, geography, fake)
    advice = advise(line(), ctx)
    condition = advice.condition
    assert condition is not None
    # The long-term unemployed have nobody well ranked; partial capacity (4) and migrant
    # background (40) cover 2 people per opening of the cap (6 hires, 8 openings): 44 >= 16.
    assert condition.target_groups == ("partial_work_capacity", "migrant_background")
    assert condition.job_forms == ("employment", "pay_subsidised")
    # Each weak group was asked about alone, for the one occupation of the mix.
    surveyed = [v.target_groups for v in fake.asked[: len(WEAK_GROUPS)]]
    assert surveyed == [(g,) for g in WEAK_GROUPS]
    assert [s.vacancy.target_groups for s in advice.supply_by_group] == surveyed
    # The largest N with feasibility >= 0.7: N + 1 falls short (or exceeds the cap).
    assert advice.feasibility >= 0.7
    again = assess(line(), condition, ctx)
    assert again.feasibility == pytest.approx(advice.feasibility)
    if condition.hires < 6:
        harder = replace(condition, hires=condition.hires + 1)
        assert assess(line(), harder, ctx).feasibility < 0.7
    low, high = advice.hires_interval
    assert 0 <= low <= advice.expected_hires <= high <= condition.hires
    assert any("partial work capacity" in reason for reason in advice.reasons)


def test_impact_is_expected_hires_times_the_reference_placement(
    hand_context_parts: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    fake = FakeSupply({"long_term_unemployed": 20})
    ctx = context(hand_context_parts, taxonomy, geography, fake)
    condition = ConditionProposal(("long_term_unemployed",), 2, ("employment",), date(2027, 6, 1))
    advice = assess(line(), condition, ctx)
    # The eight past hires are over a year old and none was retained 6 months: each
    # placement is expected to last the hand parameters' months_if_left_before_6m (3).
    params = hand_parameters()
    per_month = monthly_impact(params.values("value"), "FI", "employment")
    assert advice.expected_hires > 0
    for stakeholder, eur in advice.expected_impact_eur.items():
        expected = advice.expected_hires * per_month[stakeholder] * 3.0
        assert eur == pytest.approx(expected)
    assert advice.supply_by_group == ()


def test_an_empty_history_gives_the_documented_defaults(
    taxonomy: Taxonomy, geography: Geography
) -> None:
    empty = WorldBuilder(as_of=AS_OF).build()
    ctx = build_context(empty, AS_OF, FakeSupply({"young": 9}), taxonomy, geography)
    assert (ctx.rates.openings_per_hire, ctx.rates.open_lag_days) == (1.25, 30)
    advice = advise(line(), ctx)
    # The table's mix, the uninformed fill curve: still an answer, not an error or zeros.
    assert advice.occupations[0].source == "fallback"
    assert 0.0 < advice.feasibility <= 1.0


def test_no_condition_for_goods_small_contracts_and_no_supply(
    hand_context_parts: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    ctx = context(hand_context_parts, taxonomy, geography, FakeSupply({}))
    goods = advise(line(cpv_codes=("30200000-1",)), ctx)
    assert goods.condition is None and goods.occupations == () and goods.supply == ()
    assert "goods" in goods.reasons[0]
    small = advise(line(value_eur=50_000.0), replace(ctx, supply=FakeSupply({"young": 50})))
    assert small.condition is None
    assert any("too small" in reason for reason in small.reasons)


def test_an_infeasible_quota_becomes_a_priced_performance_offer(
    hand_context_parts: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    ctx = context(hand_context_parts, taxonomy, geography, FakeSupply({}))
    nobody = advise(line(), ctx)
    offer = nobody.condition
    assert offer is not None and offer.kind == "performance" and offer.performance is not None
    terms = offer.performance
    assert any("performance-based" in reason for reason in nobody.reasons)
    # The quota it replaces: even one hire by the quota's deadline was below 0.7.
    assert any("Even one hire" in reason for reason in nobody.reasons)
    # It runs to the contract's end, for the groups and forms a quota would have had.
    assert offer.deadline == date(2028, 7, 1)
    # Price: half of a year's public gain (municipality + state) over a lasting hire's points,
    # between the cheapest and the dearest job form offered, rounded to EUR 10.
    points = dict(terms.points)
    assert points == {"hired": 1.0, "retained_6m": 1.0, "retained_12m": 2.0}
    country = "FI" if len(line().municipality) == 3 else "SE"
    gains = [
        ctx.impacts[(country, form, "municipality")] + ctx.impacts[(country, form, "state")]
        for form in offer.job_forms
    ]
    low, high = (0.5 * min(gains) / 4.0, 0.5 * max(gains) / 4.0)
    assert max(low - 5.0, 100.0) <= terms.price_per_point_eur <= max(high + 5.0, 100.0)
    # The cap pays the upper end of the hires' interval at the highest weight.
    weights = dict(terms.target_group_weights)
    assert set(weights) <= set(offer.target_groups)
    top = max(weights.values(), default=1.0)
    assert offer.hires == max(nobody.hires_interval[1], 1)
    assert terms.cap_eur == pytest.approx(terms.price_per_point_eur * 4.0 * top * offer.hires)
    assert 0.0 < terms.expected_payment_eur <= terms.cap_eur
    # Its feasibility is P(at least one paid hire), at least that of the one-hire quota.
    one_hire = assess(line(), replace(offer, hires=1, performance=None), ctx)
    assert one_hire.feasibility <= nobody.feasibility <= 1.0
    # The offer is valid terms for the service's performance-based conditions as it is.
    ConditionIn.model_validate(
        {
            "target_groups": list(offer.target_groups),
            "hires_required": offer.hires,
            "deadline": offer.deadline.isoformat(),
            "allowed_job_forms": list(offer.job_forms),
            "performance_based": True,
            "performance": {
                "price_per_point_eur": terms.price_per_point_eur,
                "cap_eur": terms.cap_eur,
                "points": points,
                "target_group_weights": weights,
                "period": terms.period,
            },
        }
    )


# ----------------------------------------------------------------- the real supply estimator


@pytest.mark.slow
def test_advice_on_a_world_with_the_real_supply(
    tiny_world: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    engine = build_engine(tiny_world, Settings())
    vocab = Vocabularies.build(taxonomy, geography)
    estimator = SupplyEstimator.live(engine, vocab, taxonomy, tiny_world.as_of)
    ctx = build_context(tiny_world, tiny_world.as_of, estimator, taxonomy, geography)
    places = tiny_world.vacancies["municipality"].astype(str).value_counts().index[:2]
    lines = [
        line(line_id=f"L{i}", municipality=str(place), cpv_codes=(cpv,))
        for i, (place, cpv) in enumerate(
            zip(
                list(places) * 2,
                ["90910000-9", "85000000-9", "80000000-4", "45000000-7"],
                strict=True,
            )
        )
    ]
    advices = advise_plan(lines, ctx)
    assert [a.line.line_id for a in advices] == ["L0", "L1", "L2", "L3"]
    for advice in advices:
        assert 0.0 <= advice.feasibility <= 1.0
        assert len(advice.supply) == len(advice.occupations) > 0
        for s in [*advice.supply, *advice.supply_by_group]:
            assert 0 <= s.well_ranked <= s.admissible
            assert s.vacancy.municipality == advice.line.municipality
        if advice.condition is not None:
            assert set(advice.condition.target_groups) <= set(WEAK_GROUPS)
            assert advice.condition.deadline > advice.line.starts_on
    # Education (80) has no history in a generated world: the documented table.
    assert advices[2].occupations[0].source == "fallback"
    # What a procurement unit reads names nobody.
    ids = set(tiny_world.jobseekers["jobseeker_id"].astype(str))
    published = pd.concat([advice_table(advices), supply_table(advices)]).to_csv()
    assert not any(person in published for person in ids)


def test_profiles_are_listed_only_for_groups_of_five_or_more() -> None:
    vacancy = HypotheticalVacancy(
        "L1/cook", "occ:cook", "091", "employment", ("a", "b"), date(2027, 1, 1)
    )
    profiles = tuple(
        SupplyProfile(group, "5-15 km", 0.8, 0.04, rank)
        for rank, group in enumerate(["long_term_unemployed"] * 3 + ["young"] * 2, start=1)
    )
    found = Supply(
        vacancy,
        admissible=40,
        well_ranked=9,
        by_target_group={"long_term_unemployed": 7, "young": 2},
        expected_hires=0.3,
        competing_vacancies=1,
        competing_openings=1,
        profiles=profiles,
    )
    advice = Advice(
        line=line(),
        occupations=(OccupationShare("occ:cook", "5120", 1.0, "history"),),
        supply=(found,),
        staff_estimate=2.0,
        condition=None,
        feasibility=0.1,
        expected_hires=0.1,
        hires_interval=(0, 1),
        expected_impact_eur={},
    )
    table = profile_table([advice])
    assert list(table.columns) == list(PROFILE_COLUMNS)
    # The two young people stand for a group of two: not listed; the three others are.
    assert table["target_group"].tolist() == ["long_term_unemployed"] * 3
    assert table["rank"].tolist() == [1, 2, 3]
