"""Quota and performance contracts side by side, by sex, on a hand-built world.

The world (as of 2026-06-01, hand parameters: 1,800 EUR of impact a month of employment,
800 a month of pay-subsidised work with 1,000 of pay subsidy; coach hours cost 37 EUR):

- Helsinki (091) buys the quota contract KQ1 (condition EQ1) and the performance contract
  KP1 (EP1: 1,000 EUR a point; 1 point a hire, 1 at 6 months, 2 at 12 months; cap 17,500);
  Espoo (049) buys the quota contract KQ2 (EQ2). Every condition is for the long-term
  unemployed; every person has been unemployed since 2020.
- Every hire is on 2025-01-10, on its own vacancy, retained 6 and 12 months ("++"), only 6
  ("+-") or neither ("--"); months employed 12, 9 and 3.

| condition | hires: person retention days-to-fill |
|---|---|
| EQ1 (091 quota) | F1 ++ 10, F2 ++ 10, F3 -- 10; M1 ++ 20, M2 ++ 20, M3 ++ 20, |
|  | M4 +- 20; O1 ++ 40 (sex "other") |
| EQ2 (049 quota) | F4 ++ 12, F5 ++ 12, F6 +- 12; M5 ++ 30, M6 ++ 30, M7 -- 30 |
| EP1 (091 performance) | F8 ++ 5, F9 ++ 5, F10 +- 5 (employment); |
|  | M8 ++ 50, M9 ++ 50, M10 -- 50 (pay-subsidised) |

Coach C1 proposed F1 and M8 to the vacancies they got, and F2 to M8's vacancy (no hire):
55.50 EUR each (1.5 h x 37), the first two carried by the hires.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.world_store import WorldTables
from matching.domain import JobForm, TargetGroup
from reporting.contract_types import (
    CONTRACT_TYPE_BLOCKS,
    contract_type_table,
    publish_contract_type_table,
)
from reporting.definitions import (
    CONTRACT_TYPE_BASE,
    CONTRACT_TYPE_INDICATORS,
    SEX_GROUPS,
    TOTAL,
    Kind,
    people_column,
    sex_column,
)
from reporting.facts import Facts, build_facts
from reporting.impact import STAKEHOLDERS, impact_table
from reporting.indicators import indicator_table
from reporting.performance import credited_outcomes, payments_by_condition
from reporting.suppression import LinkedTable, cell_bounds, determined_cells
from tests.world_builder import WorldBuilder, hand_parameters

pytestmark = pytest.mark.unit

AS_OF = date(2026, 6, 1)
HIRED = date(2025, 1, 10)
#: (person, sex, condition, job form, retention, days to fill)
HIRES = [
    ("F1", "female", "EQ1", "employment", "++", 10),
    ("F2", "female", "EQ1", "employment", "++", 10),
    ("F3", "female", "EQ1", "employment", "--", 10),
    ("M1", "male", "EQ1", "employment", "++", 20),
    ("M2", "male", "EQ1", "employment", "++", 20),
    ("M3", "male", "EQ1", "employment", "++", 20),
    ("M4", "male", "EQ1", "employment", "+-", 20),
    ("O1", "other", "EQ1", "employment", "++", 40),
    ("F4", "female", "EQ2", "employment", "++", 12),
    ("F5", "female", "EQ2", "employment", "++", 12),
    ("F6", "female", "EQ2", "employment", "+-", 12),
    ("M5", "male", "EQ2", "employment", "++", 30),
    ("M6", "male", "EQ2", "employment", "++", 30),
    ("M7", "male", "EQ2", "employment", "--", 30),
    ("F8", "female", "EP1", "employment", "++", 5),
    ("F9", "female", "EP1", "employment", "++", 5),
    ("F10", "female", "EP1", "employment", "+-", 5),
    ("M8", "male", "EP1", "pay_subsidised", "++", 50),
    ("M9", "male", "EP1", "pay_subsidised", "++", 50),
    ("M10", "male", "EP1", "pay_subsidised", "--", 50),
]
PROPOSAL_EUR = 1.5 * 37


def _terms(condition_id: str) -> dict[str, object]:
    return {
        "condition_id": condition_id,
        "price_per_point_eur": 1000.0,
        "cap_eur": 17_500.0,
        "points_hired": 1.0,
        "points_retained_6m": 1.0,
        "points_retained_12m": 2.0,
        **{f"weight_tg_{g.value}": 1.0 for g in TargetGroup},
        **{f"weight_form_{f.value}": 1.0 for f in JobForm},
        "period": "quarter",
    }


def side_by_side_world() -> WorldTables:
    b = WorldBuilder(as_of=AS_OF)
    helsinki = b.buyer("091", "Helsinki")
    espoo = b.buyer("049", "Espoo")
    b.coach("C1", "091")
    start = date(2024, 12, 1)
    b.contract("KQ1", buyer=helsinki, municipality="091", starts=start, value=1e5)
    b.contract("KQ2", buyer=espoo, municipality="049", starts=start, value=1e5)
    b.contract("KP1", buyer=helsinki, municipality="091", starts=start, value=1e5)
    for condition, contract in (("EQ1", "KQ1"), ("EQ2", "KQ2"), ("EP1", "KP1")):
        b.condition(
            condition,
            contract,
            groups=("long_term_unemployed",),
            required=10,
            deadline=date(2026, 12, 31),
        )
    b.rows["employment_conditions"][-1]["performance_based"] = True
    b.rows["performance_terms"].append(_terms("EP1"))
    municipality = {"EQ1": "091", "EQ2": "049", "EP1": "091"}
    contract_of = {"EQ1": "KQ1", "EQ2": "KQ2", "EP1": "KP1"}
    for person, sex, condition, form, _kept, days in HIRES:
        b.person(person, coach="C1", unemployed_since=date(2020, 1, 1))
        b.rows["jobseekers"][-1]["sex"] = sex
        b.vacancy(
            f"V{person}",
            contract=contract_of[condition],
            condition=condition,
            municipality=municipality[condition],
            job_form=form,
            opens=HIRED - timedelta(days=days),
        )
    for person, _sex, _condition, _form, _kept, _days in HIRES:
        if person in ("F1", "M8"):
            b.event(person, f"V{person}", "proposed", HIRED - timedelta(days=3))
        b.event(person, f"V{person}", "hired", HIRED)
    b.event("F2", "VM8", "proposed", HIRED - timedelta(days=2))
    # Retention events after all hires, person by person: M9's 12 months is credited last.
    for person, _sex, _condition, _form, kept, _days in HIRES:
        if kept[0] == "+":
            b.event(person, f"V{person}", "retained_6m", HIRED + timedelta(days=183))
    for person, _sex, _condition, _form, kept, _days in HIRES:
        if kept[1] == "+":
            b.event(person, f"V{person}", "retained_12m", HIRED + timedelta(days=365))
    return b.build()


@pytest.fixture(scope="module")
def world() -> WorldTables:
    return side_by_side_world()


@pytest.fixture(scope="module")
def facts(world: WorldTables) -> Facts:
    return build_facts(world)


@pytest.fixture(scope="module")
def table(world: WorldTables, facts: Facts) -> pd.DataFrame:
    credited = credited_outcomes(world, facts=facts)
    return contract_type_table(facts, params=hand_parameters(), credited=credited)


def _row(table: pd.DataFrame, area: str, kind: str) -> pd.Series:
    rows = table[(table["municipality"] == area) & (table["contract_type"] == kind)]
    assert len(rows) == 1, (area, kind)
    return rows.iloc[0]


def test_quota_figures_by_hand(table: pd.DataFrame) -> None:
    helsinki = _row(table, "091", "quota")
    assert (helsinki["name"], helsinki["kind"], helsinki["country"]) == (
        "Helsinki",
        "municipality",
        "FI",
    )
    assert (helsinki["contracts"], helsinki["conditions"], helsinki["hires_made"]) == (1, 1, 8)
    assert (helsinki["hires_observed_6m"], helsinki["retained_6m"]) == (8, 7)
    assert (helsinki["hires_observed_12m"], helsinki["retained_12m"]) == (8, 6)
    assert helsinki["retention_12m_rate"] == pytest.approx(6 / 8)
    assert helsinki["vacancies_filled"] == 8
    assert helsinki["time_to_fill_days_median"] == 20  # 10 10 10 20 | 20 20 20 40
    # Months: F 12+12+3, M 12+12+12+9, O 12 = 84, at 1,800 EUR; no subsidy, no payment.
    assert helsinki["impact_eur"] == pytest.approx(84 * 1800)
    assert helsinki["payments_eur"] == 0 and helsinki["pay_subsidy_eur"] == 0
    # F1's proposal is carried by her hire; F2's proposal to M8's vacancy by no hire.
    assert helsinki["coaching_cost_eur"] == pytest.approx(PROPOSAL_EUR)
    assert helsinki["public_cost_eur"] == pytest.approx(PROPOSAL_EUR)
    assert helsinki["cost_per_lasting_hire_eur"] == pytest.approx(PROPOSAL_EUR / 6)
    assert helsinki["impact_per_euro"] == pytest.approx(84 * 1800 / PROPOSAL_EUR)
    assert (helsinki["hires_made_female"], helsinki["retained_12m_female"]) == (3, 2)
    assert (helsinki["hires_made_male"], helsinki["retained_6m_male"]) == (4, 4)
    assert helsinki["retained_12m_male"] == 3
    assert helsinki["hires_made_other_unknown"] == 1
    assert helsinki["time_to_fill_days_median_female"] == 10
    assert helsinki["time_to_fill_days_median_other_unknown"] == 40
    assert helsinki["impact_eur_female"] == pytest.approx(27 * 1800)
    assert helsinki["public_cost_eur_female"] == pytest.approx(PROPOSAL_EUR)
    assert helsinki["public_cost_eur_male"] == 0
    assert np.isnan(helsinki["impact_per_euro_male"])  # no public cost: undefined
    espoo = _row(table, "049", "quota")
    assert (espoo["hires_made"], espoo["retained_6m"], espoo["retained_12m"]) == (6, 5, 4)
    assert espoo["time_to_fill_days_median"] == 21  # 12 12 12 | 30 30 30
    assert espoo["impact_eur"] == pytest.approx((33 + 27) * 1800)
    # No observable public cost (the clause's cost is inside the contract price).
    assert espoo["public_cost_eur"] == 0 and espoo["cost_per_lasting_hire_eur"] == 0
    assert np.isnan(espoo["impact_per_euro"])
    total = _row(table, TOTAL, "quota")
    assert (total["contracts"], total["hires_made"], total["retained_12m"]) == (2, 14, 10)
    assert pd.isna(total["name"])


def test_performance_figures_by_hand(table: pd.DataFrame) -> None:
    row = _row(table, "091", "performance")
    assert (row["contracts"], row["hires_made"], row["retained_6m"], row["retained_12m"]) == (
        1,
        6,
        5,
        4,
    )
    # Points: 6 hires + 5 at six months + 2 x 4 at twelve = 19 000 EUR, capped at 17 500
    # (M9's twelve months, credited last, earns 500 of its 2 000).
    assert row["payments_eur"] == pytest.approx(17_500)
    assert row["payments_eur_female"] == pytest.approx(4000 + 4000 + 2000)
    assert row["payments_eur_male"] == pytest.approx(4000 + 2500 + 1000)
    # The men's jobs are pay-subsidised: 27 months x 1 000 EUR of subsidy.
    assert row["pay_subsidy_eur"] == pytest.approx(27 * 1000)
    assert row["coaching_cost_eur"] == pytest.approx(PROPOSAL_EUR)  # M8's proposal
    cost = 17_500 + 27_000 + PROPOSAL_EUR
    assert row["public_cost_eur"] == pytest.approx(cost)
    assert row["public_cost_observed_12m_eur"] == pytest.approx(cost)
    assert row["cost_per_lasting_hire_eur"] == pytest.approx(cost / 4)
    # Impact: women 33 months x 1 800, men 27 x 800 (the model deducts the subsidy) ...
    assert row["impact_eur"] == pytest.approx(33 * 1800 + 27 * 800)
    # ... and per euro of public cost it counts the impact before that subsidy.
    assert row["impact_before_cost_eur"] == pytest.approx(33 * 1800 + 27 * 1800)
    assert row["impact_per_euro"] == pytest.approx((33 + 27) * 1800 / cost)
    assert row["cost_per_lasting_hire_eur_female"] == pytest.approx(10_000 / 2)
    assert row["impact_per_euro_female"] == pytest.approx(33 * 1800 / 10_000)
    assert row["cost_per_lasting_hire_eur_male"] == pytest.approx(
        (7500 + 27_000 + PROPOSAL_EUR) / 2
    )
    assert row["time_to_fill_days_median"] == 27.5  # 5 5 5 | 50 50 50
    total = _row(table, TOTAL, "performance")
    assert total["payments_eur"] == pytest.approx(17_500)


def test_payments_reconcile_with_the_performance_ledger(
    world: WorldTables, facts: Facts, table: pd.DataFrame
) -> None:
    credited = credited_outcomes(world, facts=facts)
    owed = payments_by_condition(credited, world.performance_terms, world.employment_conditions)
    totals = table[table["municipality"] == TOTAL]
    assert totals["payments_eur"].sum() == pytest.approx(owed["amount_eur"].sum())
    assert owed["amount_eur"].sum() == pytest.approx(17_500)


def test_a_window_counts_what_was_known_at_its_end(facts: Facts, world: WorldTables) -> None:
    credited = credited_outcomes(world, facts=facts)
    early = contract_type_table(
        facts,
        start=date(2025, 1, 1),
        end=date(2025, 7, 1),
        params=hand_parameters(),
        credited=credited,
    )
    row = _row(early, "091", "performance")
    # The contracts started before the window; the hires are in it (a cohort by hire day).
    assert (row["contracts"], row["hires_made"]) == (0, 6)
    assert row["hires_observed_6m"] == 0  # six months after 2025-01-10 is after the end
    assert row["payments_eur"] == pytest.approx(6 * 1000)  # only the hires were known
    assert row["public_cost_observed_12m_eur"] == 0
    assert np.isnan(row["cost_per_lasting_hire_eur"])


def test_by_country_and_bad_arguments(facts: Facts) -> None:
    by_country = contract_type_table(facts, "country", params=hand_parameters())
    finland = by_country[(by_country["country"] == "FI") & (by_country["contract_type"] == "quota")]
    assert finland["hires_made"].tolist() == [14]
    assert by_country["payments_eur"].sum() == 0  # no credited outcomes given
    with pytest.raises(ValueError, match="municipality or country"):
        contract_type_table(facts, "buyer", params=hand_parameters())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hire_event_id"):
        contract_type_table(
            facts, params=hand_parameters(), credited=pd.DataFrame({"day": [HIRED]})
        )


def test_the_sex_groups_add_up_to_every_total(table: pd.DataFrame) -> None:
    additive = [i.name for i in CONTRACT_TYPE_BASE if i.kind in (Kind.PEOPLE, Kind.AMOUNT)]
    for name in additive:
        parts = sum(table[sex_column(name, s)] for s in SEX_GROUPS)
        assert np.allclose(parts, table[name]), name
    # Other and unknown are one group: O1 (recorded "other") is in it.
    assert _row(table, "091", "quota")["hires_made_other_unknown"] == 1


def _quota_linked(table: pd.DataFrame) -> tuple[LinkedTable, list[str], pd.DataFrame]:
    quota = table[table["contract_type"] == "quota"].reset_index(drop=True)
    counts = [i.name for i in CONTRACT_TYPE_INDICATORS if i.kind is Kind.PEOPLE]
    return (
        LinkedTable(
            columns=tuple(counts),
            values=quota[counts].to_numpy(dtype=np.float64),
            blocks=CONTRACT_TYPE_BLOCKS,
        ),
        counts,
        quota,
    )


def test_a_small_cell_and_its_complements_are_hidden(table: pd.DataFrame) -> None:
    # With cells of one person hidden (minimum 2), O1 is alone in the "other" group.
    published = publish_contract_type_table(table, "municipality", minimum=2)
    values, hidden = published.values, published.hidden
    quota = (values["contract_type"] == "quota").to_numpy()
    helsinki = quota & (values["municipality"] == "091").to_numpy()
    total = quota & (values["municipality"] == TOTAL).to_numpy()
    block = ["hires_made_female", "hires_made_male", "hires_made_other_unknown", "hires_made"]
    # By hand (the smallest complement first, totals at four times their value): O1's cell
    # in Helsinki and in the total row (both 1) are primary. Each row needs one more hidden
    # cell: Helsinki its 3 women (< 4 men, 8 x 4 all), the total row its 6 women (6 x 4 <
    # 7 x 4 men < 14 x 4 all). The four cells make a rectangle: adding one to both women's
    # cells and taking one from both "other" cells changes no published figure.
    espoo = quota & (values["municipality"] == "049").to_numpy()
    expected = {
        "091": [True, False, True, False],
        "049": [False, False, False, False],
        TOTAL: [True, False, True, False],
    }
    for area, rows in (("091", helsinki), ("049", espoo), (TOTAL, total)):
        assert hidden.loc[rows, block].to_numpy()[0].tolist() == expected[area], area
    # Hidden figures never show, and those resting on a hidden count hide with it.
    assert values.loc[helsinki, "hires_made_other_unknown"].isna().all()
    for column in (
        "retention_12m_rate_other_unknown",
        "impact_eur_other_unknown",
        "time_to_fill_days_median_other_unknown",
        "public_cost_eur_female",
    ):
        assert hidden.loc[helsinki, column].all(), column
    assert not hidden.loc[helsinki, "hires_made"].any()
    # The performance table is protected on its own: no small cell there, nothing hidden.
    assert not hidden[~quota].to_numpy().any()
    # No hidden count follows from the published ones: each can move by at least one.
    linked, counts, _ = _quota_linked(table)
    mask = hidden.loc[quota, counts].to_numpy()
    assert not determined_cells(linked, mask).any()
    low, high = cell_bounds(linked, mask)
    cells = linked.values[mask]
    assert np.all((low[mask] <= cells - 1) | (high[mask] >= cells + 1))


def test_published_sex_groups_add_up_where_shown(table: pd.DataFrame) -> None:
    published = publish_contract_type_table(table, "municipality", minimum=2)
    values, hidden = published.values, published.hidden
    checked = 0
    for item in CONTRACT_TYPE_BASE:
        if item.kind is not Kind.PEOPLE:
            continue
        parts = [sex_column(item.name, s) for s in SEX_GROUPS]
        shown = ~hidden[[*parts, item.name]].any(axis=1)
        sums = values.loc[shown, parts].sum(axis=1)
        assert np.allclose(sums, values.loc[shown, item.name]), item.name
        checked += int(shown.sum())
    assert checked > 10
    # people_* columns never leave.
    assert not [c for c in values.columns if c.startswith("people_")]
    assert people_column("hires_made") in table.columns


def test_every_side_by_side_indicator_is_documented() -> None:
    text = (Path(__file__).parents[2] / "docs" / "indicators.md").read_text(encoding="utf-8")
    section = text[text.index("## Quota and performance contracts side by side") :]
    missing = [i.name for i in CONTRACT_TYPE_BASE if f"`{i.name}`" not in section]
    assert not missing


def test_sex_changes_nothing_outside_the_equality_figures(world: WorldTables) -> None:
    swapped = dataclasses.replace(
        world,
        jobseekers=world.jobseekers.assign(
            sex=world.jobseekers["sex"].astype(str).map({"female": "male", "male": "female"})
        ),
    )
    params = hand_parameters()
    before = indicator_table(world, params=params, totals=True)
    after = indicator_table(swapped, params=params, totals=True)
    pd.testing.assert_frame_equal(before, after)
    sides = [contract_type_table(build_facts(w), params=params) for w in (world, swapped)]
    assert (sides[0]["hires_made_female"] == sides[1]["hires_made_male"]).all()
    unsplit = [i.name for i in CONTRACT_TYPE_BASE]
    pd.testing.assert_frame_equal(sides[0][unsplit], sides[1][unsplit])


def test_impact_is_the_impact_models_for_the_same_hires(facts: Facts, table: pd.DataFrame) -> None:
    model = impact_table(facts, "country", params=hand_parameters(), totals=True)
    everyone = model[model["country"] == TOTAL].iloc[0]
    expected = sum(everyone[f"{s}_eur"] for s in STAKEHOLDERS)
    totals = table[table["municipality"] == TOTAL]
    assert totals["impact_eur"].sum() == pytest.approx(expected)
    assert totals["hires_made"].sum() == everyone["hires_made"]


def test_an_erased_persons_payments_stay_public_cost_without_a_hire(world: WorldTables) -> None:
    seekers = world.jobseekers
    erased = dataclasses.replace(world, jobseekers=seekers[seekers["jobseeker_id"] != "M9"])
    facts = build_facts(erased)
    table = contract_type_table(
        facts, params=hand_parameters(), credited=credited_outcomes(erased, facts=facts)
    )
    row = _row(table, "091", "performance")
    assert row["hires_made"] == 5  # M9's hire no longer counts ...
    assert row["payments_eur"] == pytest.approx(17_500)  # ... but was paid for: 2 500 EUR
    assert row["payments_eur_other_unknown"] == pytest.approx(2500)
    assert row["hires_made_other_unknown"] == 0
    assert row["pay_subsidy_eur"] == pytest.approx((27 - 12) * 1000)
