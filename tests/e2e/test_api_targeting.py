"""The targeting advisor over HTTP: what `kohtaanto target` computes, for procurement only.

The route advises on the service's own data (history from the database, supply from the
worker's engine); these tests compute the same advice directly from the world the database
was loaded with and compare the tables, then check that bad plans are refused naming the item
and field, and that no person is named in the answer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from service.composition import build_engine
from targeting.advisor import advise_plan, build_context
from targeting.plan import parse_plan_rows
from targeting.report import advice_table
from targeting.supply import SupplyEstimator
from tests.e2e.conftest import Api

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api-targeting")]


def _plan(api: Api) -> list[dict[str, Any]]:
    """Two lines of the buyer's own kind of work, at its municipality, and a third CPV."""
    contracts = api.world.contracts
    mine = contracts[contracts["buyer_id"].astype(str) == api.facts["buyer"]]
    contract = mine.iloc[0]
    organisations = api.world.organisations.set_index("organisation_id")
    place = contract["buyer_municipality"]
    if not isinstance(place, str) or not place:
        place = str(organisations.loc[api.facts["buyer"], "municipality"])
    start = api.world.as_of + timedelta(days=30)
    other_cpv = next(
        c for c in contracts["cpv_code"].astype(str) if c[:2] != contract["cpv_code"][:2]
    )
    return [
        {
            "line_id": "L1",
            "cpv_codes": [str(contract["cpv_code"])],
            "municipality": place,
            "value_eur": 2_500_000.0,
            "starts_on": start.isoformat(),
            "duration_months": 24,
        },
        {
            "line_id": "L2",
            "cpv_codes": [other_cpv, str(contract["cpv_code"])],
            "municipality": place,
            "value_eur": 400_000.0,
            "starts_on": start.isoformat(),
            "duration_months": 12,
        },
    ]


def test_the_advice_is_what_the_advisor_computes_on_the_same_world(api: Api) -> None:
    plan = _plan(api)
    answer = api.post("procurement", "/api/v1/procurement/targeting", {"lines": plan})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [row["line_id"] for row in body["lines"]] == ["L1", "L2"]
    assert set(body["reasons"]) == {"L1", "L2"} and all(body["reasons"].values())

    state = api.client.app.state.serving
    taxonomy, geography = state.vocab.taxonomy, state.vocab.geography
    rows = [
        {
            **{k: str(v) for k, v in line.items() if k != "cpv_codes"},
            "cpv_codes": ";".join(line["cpv_codes"]),
            "buyer": api.facts["buyer"],
        }
        for line in plan
    ]
    lines = parse_plan_rows(rows, "test", taxonomy, geography)
    engine = build_engine(api.world, api.settings)
    supply = SupplyEstimator.live(engine, state.vocab, taxonomy, state.today)
    context = build_context(api.world, state.today, supply, taxonomy, geography)
    expected = advice_table(advise_plan(lines, context), context.mix.label)
    for got, want in zip(body["lines"], expected.to_dict("records"), strict=True):
        for column in ("occupations", "supply_by_group", "target_groups", "hires", "deadline"):
            assert got[column] == want[column], column
        assert got["feasibility"] == pytest.approx(want["feasibility"], abs=1e-9)
        assert got["impact_total_eur"] == pytest.approx(want["impact_total_eur"], abs=1.0)


def test_no_person_is_named_in_the_advice(api: Api) -> None:
    answer = api.post("procurement", "/api/v1/procurement/targeting", {"lines": _plan(api)})
    assert answer.status_code == 200, answer.text
    profiles = answer.json()["profiles"]
    allowed = {
        "line_id",
        "occupation",
        "rank",
        "target_group",
        "distance_band",
        "required_coverage",
        "probability",
    }
    assert all(set(profile) == allowed for profile in profiles)
    text = answer.text
    seekers = api.world.jobseekers
    for column in ("jobseeker_id", "last_name", "email"):
        values = seekers[column].dropna().astype(str)
        assert not any(value in text for value in values if len(value) > 3), column


def test_a_bad_plan_is_refused_naming_the_item_and_field(api: Api) -> None:
    plan = _plan(api)
    bad_cpv = [plan[0], {**plan[1], "cpv_codes": ["99999999"]}]
    answer = api.post("procurement", "/api/v1/procurement/targeting", {"lines": bad_cpv})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["body", "lines", 1, "cpv_codes"]

    elsewhere = [{**plan[0], "municipality": "0000"}]
    answer = api.post("procurement", "/api/v1/procurement/targeting", {"lines": elsewhere})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["body", "lines", 0, "municipality"]

    someone_else = [{**plan[0], "buyer": api.facts["other_buyer"]}]
    answer = api.post("procurement", "/api/v1/procurement/targeting", {"lines": someone_else})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["body", "lines", 0, "buyer"]

    twice = [plan[0], {**plan[1], "line_id": "L1"}]
    answer = api.post("procurement", "/api/v1/procurement/targeting", {"lines": twice})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"][:3] == ["body", "lines", 1]

    unknown = [{**plan[0], "colour": "blue"}]
    answer = api.post("procurement", "/api/v1/procurement/targeting", {"lines": unknown})
    assert answer.status_code == 422
    empty = api.post("procurement", "/api/v1/procurement/targeting", {"lines": []})
    assert empty.status_code == 422


def test_the_advisor_is_for_procurement_officers_only(api: Api) -> None:
    for who in ("coach", "employer"):
        refused = api.post(who, "/api/v1/procurement/targeting", {"lines": _plan(api)})
        assert refused.status_code == 403
