"""Impact arithmetic on hand cases, months of employment, sensitivity, parameter refusal."""

from __future__ import annotations

import copy
from datetime import date

import pandas as pd
import pytest

from reporting.impact import (
    MONTH_DAYS,
    employment_months,
    impact_table,
    monthly_impact,
    placement_impacts,
    reference_impacts,
    scenarios,
)
from reporting.impact_parameters import ParameterError, parse_parameters
from tests.world_builder import AS_OF, hand_parameter_dict, hand_parameters, hand_world

pytestmark = pytest.mark.unit


def test_monthly_impact_by_hand() -> None:
    values = hand_parameters().values()
    # Wage 2000, benefit 40 x 20 = 800, municipal tax 10 % on 80 % of the wage and 50 % of
    # the benefit, other taxes 5 % (wage) and 10 % (benefit), contributions 10 %.
    employment = monthly_impact(values, "FI", "employment")
    assert employment["person"] == pytest.approx(2000 * 0.85 - 160 - 800 * 0.9 + 40)  # 860
    assert employment["municipality"] == pytest.approx(160 - 40 + 0.3 * 800)  # 360
    assert employment["state"] == pytest.approx(100 - 80 + 0.7 * 800)  # 580
    subsidised = monthly_impact(values, "FI", "pay_subsidised")
    assert subsidised["municipality"] == pytest.approx(360 - 0.5 * 2000)  # it pays the subsidy
    assert subsidised["state"] == pytest.approx(580)
    trial = monthly_impact(values, "FI", "work_trial")
    assert trial == pytest.approx({"person": 180.0, "municipality": 0.0, "state": -180.0})
    # Swedish amounts are in SEK and converted at 10 SEK per EUR.
    assert monthly_impact(values, "SE", "employment")["person"] == pytest.approx(86.0)


def test_months_of_employment_from_retention_events() -> None:
    values = hand_parameters().values()
    cutoff = pd.Timestamp("2026-06-01")
    hires = pd.DataFrame(
        {
            "hired_on": pd.to_datetime(
                ["2025-03-03", "2025-04-01", "2025-09-01", "2026-05-01", "2025-01-10"]
            ),
            "retained_6m_on": pd.to_datetime(
                ["2025-09-02", None, "2026-03-03", None, "2025-07-12"]
            ),
            "retained_12m_on": pd.to_datetime(["2026-03-03", None, None, None, None]),
        }
    )
    months = employment_months(hires, cutoff, values)
    assert months[0] == 12  # retained twelve months
    assert months[1] == 3  # left before six months: months_if_left_before_6m
    assert months[2] == pytest.approx((cutoff - pd.Timestamp("2025-09-01")).days / MONTH_DAYS)
    assert months[3] == pytest.approx(31 / MONTH_DAYS)  # a month to date
    assert months[4] == 9  # six months kept, twelve passed without: the between value


def test_placement_impacts_on_the_hand_world() -> None:
    impacts = placement_impacts(hand_world(), params=hand_parameters()).set_index("jobseeker_id")
    assert list(impacts.index) == ["P1", "P2", "P3"]  # the three hires made
    assert impacts.loc["P1", "person_eur"] == pytest.approx(12 * 860)
    apprentice = 1500 * 0.85 - 1500 * 0.08 - 720 + 40  # 475 a month, left before 6 months
    assert impacts.loc["P2", "person_eur"] == pytest.approx(3 * apprentice)
    elapsed = (pd.Timestamp(AS_OF) - pd.Timestamp("2025-09-01")).days / MONTH_DAYS
    assert impacts.loc["P3", "municipality_eur"] == pytest.approx(elapsed * 360)
    # No ranges in the hand parameters: low = central = high.
    assert (impacts["state_eur_low"] == impacts["state_eur_high"]).all()


def test_sensitivity_ranges_come_from_the_parameter_ranges() -> None:
    raw = hand_parameter_dict()
    raw["countries"]["FI"]["wage_employment"].update(low=1000.0, high=3000.0)
    params = parse_parameters(raw)
    names = [s.name for s in scenarios(params)]
    assert names == [
        "central",
        "all_low",
        "all_high",
        "FI.wage_employment=low",
        "FI.wage_employment=high",
    ]
    reference = reference_impacts(params).set_index(["country", "job_form", "stakeholder"])
    person = reference.loc[("FI", "employment", "person")]
    # The wage moves the person's monthly gain by 0.85 - 0.08 = 0.77 per euro.
    assert person["eur"] == pytest.approx(12 * 860)
    assert person["eur_low"] == pytest.approx(12 * (860 - 0.77 * 1000))
    assert person["eur_high"] == pytest.approx(12 * (860 + 0.77 * 1000))
    table = impact_table(hand_world(), "municipality", params=params, totals=True)
    helsinki = table.set_index("municipality").loc["091"]
    assert helsinki["hires_made"] == 2
    assert helsinki["person_eur_low"] < helsinki["person_eur"] < helsinki["person_eur_high"]
    assert helsinki["person_eur_per_hire"] == pytest.approx(helsinki["person_eur"] / 2)


@pytest.mark.parametrize("field", ["source", "valid_from", "retrieved"])
def test_a_parameter_without_source_or_date_is_refused(field: str) -> None:
    raw = hand_parameter_dict()
    del raw["countries"]["SE"]["benefit_daily"][field]
    with pytest.raises(ParameterError, match=rf"countries\.SE\.benefit_daily: has no {field}"):
        parse_parameters(raw)


def test_incomplete_sources_ranges_and_typos_are_refused() -> None:
    raw = hand_parameter_dict()
    raw["coaching"]["hours_per_proposal"]["source"]["url"] = ""
    with pytest.raises(ParameterError, match=r"coaching\.hours_per_proposal\.source\.url"):
        parse_parameters(raw)
    raw = hand_parameter_dict()
    raw["exchange"]["sek_per_eur"].update(low=12.0)
    with pytest.raises(ParameterError, match=r"exchange\.sek_per_eur: .*low <= value <= high"):
        parse_parameters(raw)
    raw = copy.deepcopy(hand_parameter_dict())
    raw["employment"]["months_if_left_before_6m"]["vaule"] = 3
    with pytest.raises(ParameterError, match="Extra inputs are not permitted"):
        parse_parameters(raw)
    raw = hand_parameter_dict()
    del raw["countries"]["FI"]["municipal_tax_rate"]
    with pytest.raises(ParameterError, match=r"countries\.FI: is missing 'municipal_tax_rate'"):
        parse_parameters(raw)


def test_window_end_before_the_hires_gives_an_empty_impact() -> None:
    impacts = placement_impacts(hand_world(), end=date(2025, 3, 1), params=hand_parameters())
    assert impacts.empty
