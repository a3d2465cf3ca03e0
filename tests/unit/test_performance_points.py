"""Points, weights, retention and the cap of performance-based conditions, computed by hand.

A hand-built world (as of 2026-06-01): Helsinki buys K1 with the performance-based condition
E1 (long-term unemployed or young; employment, apprenticeship, work trial) at EUR 1,000 a
point, capped at EUR 4,500, points 1 / 1 / 2, long-term unemployed weighing 2, apprenticeship
1.5 and a work trial 0.5, paid by quarter. K2's E2 is a quota condition with a hire.

========  ==========  ==========================================  ======  ========  ======
when      who         what                                        points  amount    paid
========  ==========  ==========================================  ======  ========  ======
25-03-03  P1 (LTU)    hired at V1 (employment)                    1x2x1   2,000     2,000
25-04-01  P2 (young)  hired at V2 (apprenticeship)                1x1x1.5 1,500     1,500
25-04-05  P2          hired again at V2: not a new hire           —       —         —
25-05-01  P3          hired at V1, in no target group: not counted —      —         —
25-05-02  P5 (LTU)    hired at V4, pay-subsidised (not allowed)   —       —         —
25-06-10  P4 (young)  hired at V3 (work trial)                    1x1x0.5 500       500
25-07-10  P4          retained_6m 30 days after the hire: too early —     —         —
25-08-01  erased      hired at V1: lowest weight of E1's groups   1x1x1   1,000     500 (cap)
25-09-02  P1          retained_6m (183 days)                      1x2x1   2,000     0
25-11-01  P3          retained_6m of a hire that was not credited —       —         —
26-03-03  P1          retained_12m (365 days)                     2x2x1   4,000     0
========  ==========  ==========================================  ======  ========  ======
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from features.world_store import WorldTables
from reporting.facts import build_facts
from reporting.performance import (
    ERASED,
    credited_outcomes,
    payments_by_condition,
    payments_by_period,
)
from tests.world_builder import WorldBuilder

pytestmark = pytest.mark.unit

AS_OF = date(2026, 6, 1)
FORMS = ("employment", "apprenticeship", "work_trial")


def _world(*, cap: float = 4500.0, period: str = "quarter") -> WorldTables:
    b = WorldBuilder(as_of=AS_OF)
    helsinki = b.buyer("091", "Helsinki")
    b.coach("C1", "091")
    b.person("P1", coach="C1", birth_year=1970, unemployed_since=date(2023, 1, 1))
    b.person("P2", coach="C1", birth_year=2000, unemployed_since=date(2025, 1, 1))
    b.person("P3", coach="C1", birth_year=1985, unemployed_since=date(2025, 1, 1))
    b.person("P4", coach="C1", birth_year=1998, unemployed_since=date(2025, 1, 1))
    b.person("P5", coach="C1", birth_year=1970, unemployed_since=date(2023, 1, 1))
    b.contract("K1", buyer=helsinki, municipality="091", starts=date(2025, 1, 15), value=1e5)
    b.contract("K2", buyer=helsinki, municipality="091", starts=date(2025, 1, 15), value=1e5)
    b.condition(
        "E1",
        "K1",
        groups=("long_term_unemployed", "young"),
        required=3,
        deadline=date(2026, 12, 31),
        forms=FORMS,
        performance=True,
    )
    b.performance_terms(
        "E1",
        price=1000.0,
        cap=cap,
        group_weights={"long_term_unemployed": 2.0},
        form_weights={"apprenticeship": 1.5, "work_trial": 0.5},
        period=period,
    )
    b.condition("E2", "K2", groups=("long_term_unemployed",), required=1, deadline=AS_OF)
    b.condition("E3", "K2", groups=("young",), required=1, deadline=AS_OF)
    for vacancy, form, condition, contract in (
        ("V1", "employment", "E1", "K1"),
        ("V2", "apprenticeship", "E1", "K1"),
        ("V3", "work_trial", "E1", "K1"),
        ("V4", "pay_subsidised", "E1", "K1"),
        ("V5", "employment", "E2", "K2"),
    ):
        b.vacancy(
            vacancy,
            contract=contract,
            condition=condition,
            municipality="091",
            job_form=form,
            opens=date(2025, 2, 1),
        )
    b.event("P1", "V1", "hired", date(2025, 3, 3))
    b.event("P2", "V2", "hired", date(2025, 4, 1))
    b.event("P2", "V2", "hired", date(2025, 4, 5))
    b.event("P3", "V1", "hired", date(2025, 5, 1))
    b.event("P5", "V4", "hired", date(2025, 5, 2))
    b.event("P4", "V3", "hired", date(2025, 6, 10))
    b.event("P4", "V3", "retained_6m", date(2025, 7, 10))
    b.event("ERASED-1", "V1", "hired", date(2025, 8, 1))
    b.event("P1", "V1", "retained_6m", date(2025, 3, 3) + timedelta(days=183))
    b.event("P3", "V1", "retained_6m", date(2025, 11, 1))
    b.event("P1", "V1", "retained_12m", date(2025, 3, 3) + timedelta(days=365))
    b.event("P1", "V5", "hired", date(2025, 3, 10))  # under the quota condition
    return b.build()


def _rows(credited: pd.DataFrame) -> list[tuple[object, ...]]:
    return [
        (r.jobseeker_id, r.vacancy_id, r.stage, r.points, r.amount_eur, r.capped_amount_eur)
        for r in credited.itertuples()
    ]


def test_points_weights_and_the_cap_by_hand() -> None:
    credited = credited_outcomes(_world())
    assert _rows(credited) == [
        ("P1", "V1", "hired", 2.0, 2000.0, 2000.0),
        ("P2", "V2", "hired", 1.5, 1500.0, 1500.0),
        ("P4", "V3", "hired", 0.5, 500.0, 500.0),
        ("ERASED-1", "V1", "hired", 1.0, 1000.0, 500.0),
        ("P1", "V1", "retained_6m", 2.0, 2000.0, 0.0),
        ("P1", "V1", "retained_12m", 4.0, 4000.0, 0.0),
    ]
    assert credited["running_total_eur"].tolist() == [2000.0, 3500.0, 4000.0, 4500.0] + [4500.0] * 2
    assert credited["over_cap"].tolist() == [False, False, False, True, True, True]
    assert set(credited["condition_id"]) == {"E1"} and set(credited["contract_id"]) == {"K1"}
    # Every retention points at the credited hire it follows.
    hires = credited.set_index("event_id")
    for row in credited[credited["stage"] != "hired"].itertuples():
        assert hires.loc[row.hire_event_id, "jobseeker_id"] == row.jobseeker_id


def test_the_deciding_group_and_the_erased_persons_weight() -> None:
    credited = credited_outcomes(_world())
    groups = dict(zip(credited["event_id"], credited["deciding_group"], strict=True))
    by_person = credited.drop_duplicates("jobseeker_id").set_index("jobseeker_id")
    # P1 is long-term unemployed (weight 2), P2 and P4 young (weight 1), and the erased
    # person's group cannot be known: the lowest of E1's weights (young, 1).
    assert by_person.loc["P1", "deciding_group"] == "long_term_unemployed"
    assert by_person.loc["P2", "deciding_group"] == "young"
    assert by_person.loc["ERASED-1", "deciding_group"] == ERASED
    assert by_person.loc["ERASED-1", "group_weight"] == 1.0
    assert by_person.loc["P4", "form_weight"] == 0.5
    assert len(groups) == len(credited)


def test_without_a_cap_every_outcome_is_paid_in_full() -> None:
    credited = credited_outcomes(_world(cap=1e9))
    assert credited["capped_amount_eur"].tolist() == credited["amount_eur"].tolist()
    assert credited["capped_amount_eur"].sum() == 2000 + 1500 + 500 + 1000 + 2000 + 4000
    assert not credited["over_cap"].any()


def test_a_cap_reached_exactly_leaves_nothing_partial() -> None:
    credited = credited_outcomes(_world(cap=5000.0))
    assert credited["capped_amount_eur"].tolist() == [2000, 1500, 500, 1000, 0, 0]
    assert credited["over_cap"].tolist() == [False, False, False, False, True, True]


def test_credited_hires_are_the_hires_the_statistics_count() -> None:
    """The credited hires of E1 are its first hires of counted (eligible, allowed form)
    pairs, plus the erased person's: the quota ledger's hires_made."""
    world = _world()
    facts = build_facts(world)
    credited = credited_outcomes(world, facts=facts)
    hires = facts.hires[(facts.hires["condition_id"] == "E1") & facts.hires["counted"]]
    counted_pairs = set(zip(hires["jobseeker_id"], hires["vacancy_id"], strict=True))
    credited_hires = credited[credited["stage"] == "hired"]
    pairs = set(zip(credited_hires["jobseeker_id"], credited_hires["vacancy_id"], strict=True))
    assert pairs == counted_pairs | {("ERASED-1", "V1")}
    assert len(credited_hires) == len(pairs)  # P2's second hire is not a new one


def test_payment_periods_sum_to_the_conditions_payment() -> None:
    world = _world()
    credited = credited_outcomes(world)
    periods = payments_by_period(credited)
    assert periods["period"].tolist() == ["2025Q1", "2025Q2", "2025Q3", "2026Q1"]
    assert periods["amount_eur"].tolist() == [2000.0, 2000.0, 500.0, 0.0]
    assert periods["amount_before_cap_eur"].tolist() == [2000.0, 2000.0, 3000.0, 4000.0]
    payments = payments_by_condition(credited, world.performance_terms, world.employment_conditions)
    row = payments.set_index("condition_id").loc["E1"]
    assert row["amount_eur"] == periods["amount_eur"].sum() == 4500.0
    assert row["points"] == 11.0 and row["amount_before_cap_eur"] == 11000.0
    assert row["credited_hires"] == 4 and row["credited_outcomes"] == 6
    assert row["cap_remaining_eur"] == 0.0 and row["contract_id"] == "K1"


def test_monthly_periods() -> None:
    credited = credited_outcomes(_world(period="month"))
    assert credited["period"].tolist() == [
        "2025-03",
        "2025-04",
        "2025-06",
        "2025-08",
        "2025-09",
        "2026-03",
    ]


def test_terms_apply_per_condition_and_one_without_outcomes_is_listed_with_zeros() -> None:
    world = _world()
    copied = world.performance_terms
    terms = pd.concat(
        [copied.assign(condition_id="E2"), copied.assign(condition_id="E3")], ignore_index=True
    )
    credited = credited_outcomes(world, terms)
    # E2's one hire (P1 at V5, long-term unemployed, employment) earns 1 x 2 x 1 points.
    assert _rows(credited) == [("P1", "V5", "hired", 2.0, 2000.0, 2000.0)]
    payments = payments_by_condition(credited, terms, world.employment_conditions)
    assert payments.to_dict("records")[1] == {
        "condition_id": "E3",
        "contract_id": "K2",
        "credited_hires": 0,
        "credited_outcomes": 0,
        "points": 0.0,
        "amount_before_cap_eur": 0.0,
        "amount_eur": 0.0,
        "cap_eur": 4500.0,
        "cap_remaining_eur": 4500.0,
    }


def test_a_world_without_terms_credits_nothing() -> None:
    world = _world()
    empty = world.performance_terms.iloc[0:0]
    assert credited_outcomes(world, empty).empty
