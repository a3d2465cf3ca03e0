"""Every indicator on the hand-built world of :func:`tests.world_builder.hand_world`,
whose answers are worked out in its docstring and below by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from features.world_store import WorldTables
from reporting.definitions import INDICATORS, TOTAL, people_column
from reporting.facts import build_facts
from reporting.indicators import indicator_table, period_labels
from tests.world_builder import hand_parameters, hand_world

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def world() -> WorldTables:
    return hand_world()


def _row(table: pd.DataFrame, **keys: str) -> pd.Series:
    mask = np.ones(len(table), dtype=bool)
    for column, value in keys.items():
        mask &= (table[column] == value).to_numpy()
    assert mask.sum() == 1, keys
    return table[mask].iloc[0]


def test_facts_apply_eligibility_form_and_first_hire(world: WorldTables) -> None:
    hires = build_facts(world).hires.set_index(["jobseeker_id", "vacancy_id"])
    assert hires.loc[("P1", "V1"), "deciding_group"] == "long_term_unemployed"
    assert hires.loc[("P2", "V2"), "deciding_group"] == "young"
    assert hires.loc[("P3", "V4"), "deciding_group"] == "unemployed_3m"
    assert not hires.loc[("P3", "V3"), "counted"]  # pay-subsidised, E2 allows employment only
    assert not hires.loc[("P4", "V4"), "counted"]  # unemployed 2 months on the hire day
    assert hires.loc[("P4", "V4"), "first_of_vacancy"]
    assert not hires.loc[("P3", "V4"), "first_of_vacancy"]
    assert hires.loc[("P3", "V3"), "days_to_fill"] == 32


def test_condition_family_by_buyer_municipality(world: WorldTables) -> None:
    table = indicator_table(world, "municipality", params=hand_parameters(), totals=True)
    helsinki = _row(table, municipality="091")
    assert (helsinki["contracts"], helsinki["contract_value_eur"]) == (1, 100_000)
    assert (helsinki["hires_required"], helsinki["hires_credited"]) == (2, 2)
    assert helsinki["fulfilment_rate"] == 1.0
    assert (helsinki["conditions_due"], helsinki["hires_required_due"]) == (1, 2)
    assert helsinki["fulfilment_rate_due"] == 1.0
    espoo = _row(table, municipality="049")
    assert (espoo["hires_required"], espoo["hires_credited"], espoo["fulfilment_rate"]) == (1, 0, 0)
    assert (espoo["conditions_due"], espoo["fulfilment_rate_due"]) == (1, 0.0)
    hansel = _row(table, municipality="CPB-FI-HANSEL")
    assert hansel["kind"] == "central_purchasing_body"
    assert hansel["name"] == "Hansel Oy"
    assert (hansel["contracts"], hansel["hires_required"], hansel["hires_credited"]) == (1, 3, 1)
    assert hansel["fulfilment_rate"] == pytest.approx(1 / 3)
    assert hansel["conditions_due"] == 0
    assert np.isnan(hansel["fulfilment_rate_due"])
    assert hansel["hires_made"] == 0  # hires belong to the vacancies' municipalities
    total = _row(table, municipality=TOTAL)
    assert (total["contracts"], total["contract_value_eur"], total["hires_required"]) == (
        3,
        350_000,
        6,
    )
    assert total["fulfilment_rate"] == pytest.approx(3 / 6)


def test_hire_family_by_vacancy_municipality(world: WorldTables) -> None:
    table = indicator_table(world, "municipality", params=hand_parameters(), totals=True)
    helsinki = _row(table, municipality="091")
    assert helsinki["hires_made"] == 2  # P1 on V1, P3 on V4
    assert helsinki["hires_tg_long_term_unemployed"] == 1
    assert helsinki["hires_tg_unemployed_3m"] == 1
    assert helsinki["hires_form_employment"] == 2
    assert helsinki["vacancies_filled"] == 2
    assert helsinki["time_to_fill_days_median"] == 30  # V1: 30 days, V4: 30 days
    assert (helsinki["hires_observed_6m"], helsinki["retained_6m"]) == (2, 2)
    assert helsinki["retention_6m_rate"] == 1.0
    assert (helsinki["hires_observed_12m"], helsinki["retained_12m"]) == (1, 1)
    espoo = _row(table, municipality="049")
    assert espoo["hires_made"] == 1
    assert (espoo["hires_tg_young"], espoo["hires_form_apprenticeship"]) == (1, 1)
    assert espoo["vacancies_filled"] == 2
    assert espoo["time_to_fill_days_median"] == 31.5  # V2: 31, V3: 32
    assert espoo["time_to_fill_days_mean"] == 31.5
    assert (espoo["hires_observed_6m"], espoo["retained_6m"], espoo["retention_6m_rate"]) == (
        1,
        0,
        0.0,
    )
    assert espoo["retention_12m_rate"] == 0.0
    total = _row(table, municipality=TOTAL)
    assert total["hires_made"] == 3
    tg = [c for c in table.columns if c.startswith("hires_tg_")]
    forms = [c for c in table.columns if c.startswith("hires_form_")]
    assert (table[tg].sum(axis=1) == table["hires_made"]).all()
    assert (table[forms].sum(axis=1) == table["hires_made"]).all()


def test_coaching_family_and_cost(world: WorldTables) -> None:
    table = indicator_table(world, "municipality", params=hand_parameters(), totals=True)
    helsinki = _row(table, municipality="091")
    # C1: (6 + 1) h of assessments over 3 proposals; C2: 2 h over 3; plus 1.5 h a proposal.
    c1, c2 = 7 / 3 + 1.5, 2 / 3 + 1.5
    assert helsinki["proposals"] == 4
    assert helsinki["placements"] == 3
    assert helsinki["proposals_per_hire"] == pytest.approx(4 / 3)
    assert helsinki["active_coaches"] == 2
    assert helsinki["placements_per_coach"] == 1.5
    assert helsinki["coach_hours"] == pytest.approx(2 * c1 + 2 * c2)
    assert helsinki["coaching_cost_eur"] == pytest.approx(37 * (2 * c1 + 2 * c2))
    assert helsinki["cost_per_placement_eur"] == pytest.approx(37 * 12 / 3)
    espoo = _row(table, municipality="049")
    assert (espoo["proposals"], espoo["placements"], espoo["active_coaches"]) == (2, 2, 2)
    assert espoo["coach_hours"] == pytest.approx(c1 + c2)
    total = _row(table, municipality=TOTAL)
    assert total["coach_hours"] == pytest.approx(6 + 1 + 2 + 6 * 1.5)
    assert total["people_proposals"] == 4


def test_people_columns_count_distinct_people(world: WorldTables) -> None:
    table = indicator_table(world, "municipality", params=hand_parameters(), totals=True)
    total = _row(table, municipality=TOTAL)
    assert total["placements"] == 5
    assert total[people_column("placements")] == 4  # P3 was hired twice
    assert total[people_column("hires_made")] == 3


def test_by_period_attributes_each_family_to_its_own_day(world: WorldTables) -> None:
    table = indicator_table(world, "period", "quarter", params=hand_parameters(), totals=True)
    q1, q2, q3 = (_row(table, period=p) for p in ("2025Q1", "2025Q2", "2025Q3"))
    assert (q1["contracts"], q2["contracts"], q3["contracts"]) == (2, 1, 0)  # K1+K3, K2
    assert (q1["hires_made"], q2["hires_made"], q3["hires_made"]) == (1, 1, 1)
    assert (q2["placements"], q3["placements"]) == (2, 2)  # P2, P3@V3 | P4, P3@V4
    assert _row(table, period=TOTAL)["hires_made"] == 3


def test_by_buyer_and_contract_follow_the_contract(world: WorldTables) -> None:
    buyers = indicator_table(world, "buyer", params=hand_parameters())
    helsinki = _row(buyers, buyer_id="MUN-091")
    assert helsinki["hires_made"] == 2  # V1 and V2 (in Espoo) are both under K1
    assert _row(buyers, buyer_id="CPB-FI-HANSEL")["hires_made"] == 1
    contracts = indicator_table(world, "contract", params=hand_parameters())
    assert _row(contracts, contract_id="K2")["placements"] == 1
    assert _row(contracts, contract_id="K2")["cpv_division"] == "90"
    divisions = indicator_table(world, "cpv_division", params=hand_parameters())
    assert _row(divisions, cpv_division="45")["contracts"] == 2


def test_window_limits_events_and_judges_retention_at_the_cutoff(world: WorldTables) -> None:
    table = indicator_table(
        world, "period", "year", date(2025, 4, 1), date(2025, 10, 1), params=hand_parameters()
    )
    year = _row(table, period="2025")
    assert year["hires_made"] == 2  # P2 (04-01) and P3 (09-01)
    assert year["hires_observed_6m"] == 0  # 2025-04-01 + 183 days is the cutoff itself
    assert year["contracts"] == 1  # only K2 starts in the window


def test_every_indicator_is_a_column() -> None:
    table = indicator_table(hand_world(), params=hand_parameters())
    assert [i.name for i in INDICATORS if i.name not in table.columns] == []


def test_period_labels_and_bad_arguments() -> None:
    days = pd.Series(pd.to_datetime(["2025-03-31", "2025-04-01"]))
    assert list(period_labels(days, "quarter")) == ["2025Q1", "2025Q2"]
    assert list(period_labels(days, "month")) == ["2025-03", "2025-04"]
    with pytest.raises(ValueError, match="period must be one of"):
        period_labels(days, "week")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="by must be one of"):
        indicator_table(hand_world(), "region", params=hand_parameters())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be after start"):
        indicator_table(
            hand_world(), start=date(2025, 2, 1), end=date(2025, 1, 1), params=hand_parameters()
        )


def test_an_empty_window_gives_empty_tables() -> None:
    from reporting.impact import impact_table
    from reporting.publish import publish_impact_table, publish_indicator_table

    start, end, params = date(2020, 1, 1), date(2020, 6, 1), hand_parameters()
    table = indicator_table(
        hand_world(), "municipality", None, start, end, params=params, totals=True
    )
    assert table.empty
    assert publish_indicator_table(table, ["municipality"]).values.empty
    impact = impact_table(hand_world(), "period", None, start, end, params=params, totals=True)
    assert publish_impact_table(impact, ["period"]).values.empty
