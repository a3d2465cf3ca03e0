"""Performance-based contracts through the API (issue 15, item 3), on SQLite and PostgreSQL.

A buyer writes a performance-based condition with its terms; the supplier's employer records
hires and a retention; the buyer's and the supplier's statements credit them by the rules of
``docs/performance.md``, each line traced to the audit entry that recorded the outcome, and
reconcile with the quota ledger, with their payment periods and with
:func:`reporting.performance.credited_outcomes` run on the whole database (the statistics'
path). Bad terms are refused with a 422 naming the field.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from reporting.performance import credited_outcomes, payments_by_condition
from service.api.security import pseudonym
from service.storage.database import make_engine
from service.storage.tables import AuditLogEntry
from service.storage.world_io import read_world_tables
from tests.e2e.conftest import Api
from tests.e2e.test_api import _contract_body
from tests.e2e.test_api_live_state import (
    assessed_person,
    employer_outcome,
    instant,
    new_vacancy,
    propose,
    serving,
    shortlist,
)
from tests.e2e.test_api_outcome_owners import _problem

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api-performance")]

PRICE = 2000.0
CAP = 7000.0


def _terms(**changes: Any) -> dict[str, Any]:
    terms = {
        "price_per_point_eur": PRICE,
        "cap_eur": CAP,
        "target_group_weights": {"long_term_unemployed": 1.5},
        "job_form_weights": {"apprenticeship": 0.5},
        "period": "month",
    }
    return terms | changes


def _body(api: Api, **condition: Any) -> dict[str, Any]:
    today = serving(api).today
    base = _contract_body(api)
    spec = base["conditions"][0] | {
        "deadline": str(today + timedelta(days=300)),
        "performance_based": True,
        "performance": _terms(),
    }
    return base | {
        "starts_on": str(today - timedelta(days=300)),
        "ends_on": str(today + timedelta(days=400)),
        "conditions": [spec | condition],
    }


def _create(api: Api, body: dict[str, Any]) -> Any:
    return api.post("procurement", "/api/v1/procurement/contracts", body)


def _statement(api: Api, who: str, path: str, **params: Any) -> Any:
    response = api.get(who, path, params=params)
    assert response.status_code == 200, response.text
    return response


def performance_scenario(api: Api) -> dict[str, Any]:
    """One performance-based contract: person A hired 200 days ago and retained 183 days
    later (plus an early retention that earns nothing), person B hired 10 days ago."""
    created = _create(api, _body(api))
    assert created.status_code == 201, created.text
    contract = created.json()
    condition = contract["conditions"][0]["condition_id"]
    vacancy = new_vacancy(
        api,
        3,
        contract_id=contract["contract_id"],
        condition_id=condition,
        opens_on=str(serving(api).today - timedelta(days=250)),
    )
    first, second = assessed_person(api), assessed_person(api)
    for person in (first, second):
        propose(api, person, vacancy)
    shortlist(api, vacancy)  # audited: the proposed people are shown after the ranking
    for person, stage, days in (
        (first, "hired", 200),
        (first, "retained_6m", 100),  # only 100 days after the hire: not credited
        (first, "retained_6m", 17),
        (second, "hired", 10),
    ):
        recorded = employer_outcome(api, person, vacancy, stage, instant(api, days))
        assert recorded.status_code == 201, recorded.text
    return {
        "contract": contract["contract_id"],
        "condition": condition,
        "vacancy": vacancy,
        "first": first,
        "second": second,
        "path": f"/api/v1/procurement/contracts/{contract['contract_id']}/statement",
    }


@pytest.fixture(scope="module")
def scenario(api: Api) -> dict[str, Any]:
    return performance_scenario(api)


def test_the_statement_credits_by_the_rules(api: Api, scenario: dict[str, Any]) -> None:
    statement = _statement(api, "procurement", scenario["path"]).json()
    (condition,) = statement["conditions"]
    key = serving(api).pseudonym_key
    first = pseudonym(key, scenario["vacancy"], scenario["first"])
    second = pseudonym(key, scenario["vacancy"], scenario["second"])
    # Long-term unemployed (1.5) in employment (1): 1.5 points a hire and a 6-month retention.
    assert [
        (line["candidate"], line["stage"], line["points"], line["amount_eur"])
        for line in condition["lines"]
    ] == [
        (first, "hired", 1.5, 3000.0),
        (first, "retained_6m", 1.5, 3000.0),
        (second, "hired", 1.5, 3000.0),
    ]
    # The cap (7,000) is crossed by the third: credited in part.
    assert [line["capped_amount_eur"] for line in condition["lines"]] == [3000.0, 3000.0, 1000.0]
    assert [line["over_cap"] for line in condition["lines"]] == [False, False, True]
    assert condition["amount_eur"] == statement["amount_eur"] == CAP
    assert condition["cap_remaining_eur"] == 0.0 and condition["credited_hires"] == 2
    assert condition["terms"]["target_group_weights"] == {
        "long_term_unemployed": 1.5,
        "young": 1.0,
    }
    assert condition["terms"]["job_form_weights"] == {"apprenticeship": 0.5, "employment": 1.0}
    # Nothing about the person but the employer's pseudonym: no id, no deciding group.
    text = str(statement)
    assert scenario["first"] not in text and scenario["second"] not in text
    for line in condition["lines"]:
        assert not {"deciding_group", "jobseeker_id", "sex"} & set(line)


def test_each_line_is_traced_to_its_audit_entries(api: Api, scenario: dict[str, Any]) -> None:
    statement = _statement(api, "procurement", scenario["path"]).json()
    lines = statement["conditions"][0]["lines"]
    engine = make_engine(api.url)
    try:
        with engine.connect() as connection:
            entries = {
                row.seq: row
                for row in connection.execute(
                    select(
                        AuditLogEntry.seq,
                        AuditLogEntry.entry_hash,
                        AuditLogEntry.route,
                        AuditLogEntry.query,
                    )
                )
            }
    finally:
        engine.dispose()
    for line in lines:
        (recorded,) = line["recorded_by"]
        entry = entries[recorded["seq"]]
        assert entry.entry_hash == recorded["entry_hash"]
        assert entry.route == recorded["route"] == "outcome.employer"
        assert entry.query["event_id"] == line["event_id"]
        assert entry.query["stage"] == line["stage"]
        assert line["source"] == "recorded through the service"
        assert line["shortlisted_in"], line
        for shown in line["shortlisted_in"]:
            assert entries[shown["seq"]].route == "employer.shortlist"
            assert entries[shown["seq"]].query["vacancy_id"] == scenario["vacancy"]
    verified = api.get("operator", "/api/v1/admin/audit/verify")
    assert verified.status_code == 200 and verified.json()["ok"] is True, verified.text


def test_the_statement_reconciles_with_the_ledger_periods_and_statistics(
    api: Api, scenario: dict[str, Any]
) -> None:
    statement = _statement(api, "procurement", scenario["path"]).json()
    (condition,) = statement["conditions"]
    ledger = api.get(
        "procurement", f"/api/v1/procurement/contracts/{scenario['contract']}/ledger"
    ).json()
    (line,) = [x for x in ledger["lines"] if x["condition_id"] == scenario["condition"]]
    assert condition["credited_hires"] == line["hires_made"] == 2
    periods = condition["periods"]
    assert sum(p["amount_eur"] for p in periods) == condition["amount_eur"]
    assert periods[-1]["running_total_eur"] == condition["amount_eur"]
    assert sum(p["outcomes"] for p in periods) == len(condition["lines"])
    # The statistics' path: the whole database through the same crediting code.
    engine = make_engine(api.url)
    try:
        world = read_world_tables(engine)
    finally:
        engine.dispose()
    credited = credited_outcomes(world)
    payments = payments_by_condition(credited, world.performance_terms, world.employment_conditions)
    row = payments.set_index("condition_id").loc[scenario["condition"]]
    assert row["amount_eur"] == condition["amount_eur"]
    assert row["points"] == condition["points"]
    assert row["credited_hires"] == condition["credited_hires"]
    own = credited[credited["condition_id"] == scenario["condition"]]
    assert own["event_id"].tolist() == [x["event_id"] for x in condition["lines"]]


def test_a_period_statement_and_the_formats(api: Api, scenario: dict[str, Any]) -> None:
    running = _statement(api, "procurement", scenario["path"]).json()
    lines = running["conditions"][0]["lines"]
    period = lines[0]["period"]
    one = _statement(api, "procurement", f"{scenario['path']}/periods/{period}").json()
    (condition,) = one["conditions"]
    assert one["period"] == period
    assert [x["event_id"] for x in condition["lines"]] == [
        x["event_id"] for x in lines if x["period"] == period
    ]
    assert [p["period"] for p in condition["periods"]] == [period]
    assert one["amount_eur"] == sum(x["capped_amount_eur"] for x in condition["lines"])

    as_csv = _statement(api, "procurement", scenario["path"], format="csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    outcomes = [r for r in rows if r["record"] == "outcome"]
    assert [r["event_id"] for r in outcomes] == [x["event_id"] for x in lines]
    assert all(r["recorded_by"].split(":")[1] for r in outcomes)
    paid = sum(float(r["capped_amount_eur"]) for r in outcomes)
    periods = sum(float(r["capped_amount_eur"]) for r in rows if r["record"] == "period_total")
    (total,) = [r for r in rows if r["record"] == "condition_total"]
    assert paid == periods == float(total["capped_amount_eur"]) == running["amount_eur"]

    as_html = api.client.get(
        scenario["path"],
        params={"format": "html"},
        headers=api.headers("procurement") | {"Accept-Language": "en"},
    )
    assert as_html.status_code == 200, as_html.text
    assert as_html.headers["content-type"].startswith("text/html")
    assert "7,000.00" in as_html.text and lines[0]["candidate"] in as_html.text
    assert "<script" not in as_html.text and "http" not in as_html.text.split("<body")[1]

    bad = api.get("procurement", f"{scenario['path']}/periods/2026-13")
    assert bad.status_code == 422, bad.text
    assert _problem(bad)["loc"][-1] == "period"


def test_the_supplier_reads_the_same_statement_and_others_none(
    api: Api, scenario: dict[str, Any]
) -> None:
    buyer = _statement(api, "procurement", scenario["path"]).json()
    path = f"/api/v1/employer/contracts/{scenario['contract']}/statement"
    supplier = _statement(api, "employer", path).json()
    assert supplier == buyer
    for who, other in (("other-employer", path), ("other-procurement", scenario["path"])):
        assert api.get(who, other).status_code == 404
    # The contract as both read it shows the terms.
    contract = api.get("procurement", f"/api/v1/procurement/contracts/{scenario['contract']}")
    terms = contract.json()["conditions"][0]["performance"]
    assert terms["price_per_point_eur"] == PRICE and terms["period"] == "month"
    assert terms["points"] == {"hired": 1.0, "retained_6m": 1.0, "retained_12m": 2.0}
    mine = api.get("employer", "/api/v1/employer/contracts").json()
    (listed,) = [c for c in mine if c["contract_id"] == scenario["contract"]]
    assert listed["conditions"][0]["performance"] == terms


def test_a_quota_contract_has_an_empty_statement(api: Api) -> None:
    created = _create(api, _contract_body(api))
    assert created.status_code == 201, created.text
    assert created.json()["conditions"][0]["performance"] is None
    path = f"/api/v1/procurement/contracts/{created.json()['contract_id']}/statement"
    statement = _statement(api, "procurement", path).json()
    assert statement["conditions"] == [] and statement["amount_eur"] == 0.0


@pytest.mark.parametrize(
    ("condition", "loc", "message"),
    [
        ({"performance": None}, ["performance"], "required"),
        ({"performance_based": False}, ["performance"], "only for a performance-based"),
        (
            {"performance": _terms(price_per_point_eur=-5)},
            ["performance", "price_per_point_eur"],
            "greater than 0",
        ),
        ({"performance": _terms(cap_eur=0)}, ["performance", "cap_eur"], "greater than 0"),
        (
            {"performance": _terms(target_group_weights={"pensioners": 2})},
            ["performance", "target_group_weights", "pensioners", "[key]"],
            "Input should be",
        ),
        (
            {"performance": _terms(target_group_weights={"older": 2})},
            ["performance", "target_group_weights", "older"],
            "not one of the condition's target groups",
        ),
        (
            {"performance": _terms(job_form_weights={"work_trial": 0.5})},
            ["performance", "job_form_weights", "work_trial"],
            "not one of the condition's allowed job forms",
        ),
        (
            {"performance": _terms(target_group_weights={"young": -1})},
            ["performance", "target_group_weights", "young"],
            "greater than or equal to 0",
        ),
        ({"performance": _terms(period="week")}, ["performance", "period"], ""),
    ],
)
def test_bad_terms_are_refused_naming_the_field(
    api: Api, condition: dict[str, Any], loc: list[str], message: str
) -> None:
    before = api.get("procurement", "/api/v1/procurement/contracts", params={"limit": 500})
    refused = _create(api, _body(api, **condition))
    assert refused.status_code == 422, refused.text
    problem = _problem(refused)
    assert [str(x) for x in problem["loc"]][-len(loc) :] == loc, problem
    assert message in problem["msg"], problem
    after = api.get("procurement", "/api/v1/procurement/contracts", params={"limit": 500})
    assert len(after.json()) == len(before.json())  # nothing was written


def test_an_erased_persons_outcomes_keep_their_credit_at_the_lowest_weight(
    api: Api, scenario: dict[str, Any]
) -> None:
    """Last in the module: it erases the first person of the scenario."""
    before = _statement(api, "procurement", scenario["path"]).json()["conditions"][0]
    erased = api.client.delete(
        f"/api/v1/coach/jobseekers/{scenario['first']}", headers=api.headers("coach")
    )
    assert erased.status_code == 204, erased.text
    after = _statement(api, "procurement", scenario["path"]).json()["conditions"][0]
    ledger = api.get(
        "procurement", f"/api/v1/procurement/contracts/{scenario['contract']}/ledger"
    ).json()
    (line,) = [x for x in ledger["lines"] if x["condition_id"] == scenario["condition"]]
    assert after["credited_hires"] == line["hires_made"] == before["credited_hires"] == 2
    # The erased person's hire and retention: the lowest of the condition's group weights
    # (young, 1) instead of long-term unemployed (1.5); the other person's hire is unchanged.
    assert [(x["event_id"], x["group_weight"], x["amount_eur"]) for x in after["lines"]] == [
        (before["lines"][0]["event_id"], 1.0, 2000.0),
        (before["lines"][1]["event_id"], 1.0, 2000.0),
        (before["lines"][2]["event_id"], 1.5, 3000.0),
    ]
    assert after["amount_eur"] == 7000.0  # 2,000 + 2,000 + 3,000 reaches the cap exactly
    # The outcome's audit entry still traces it; the person's shortlists name nobody now.
    assert all(x["recorded_by"] for x in after["lines"])
    assert not after["lines"][0]["shortlisted_in"]
