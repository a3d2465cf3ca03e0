"""Outcomes have owners (issue 12, probe findings S1 and S2), on SQLite and PostgreSQL.

A hire, an interview or a rejection counts only when the vacancy's employer records or
confirms it, for a person proposed or shortlisted there; a coach's report is a claim. Dates
are checked against the vacancy, the person and today. A vacancy with credited hires keeps its
contract, and the statistics survive a vacancy without a condition that has hires. Coaches
name only their own organisation's coaches, and the API refuses the duplicate list items the
CSV import refuses.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from reporting.facts import build_facts
from service.api.security import pseudonym
from service.storage.database import make_engine
from tests.e2e.conftest import Api
from tests.e2e.test_api import _contract_body, new_jobseeker
from tests.e2e.test_api_live_state import (
    assessed_person,
    coach_outcome,
    counts,
    employer_outcome,
    instant,
    new_vacancy,
    propose,
    serving,
    shortlisted,
    vacancy_body,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api-outcome-owners")]


def _contract(api: Api) -> tuple[str, str]:
    created = api.post("procurement", "/api/v1/procurement/contracts", _contract_body(api))
    assert created.status_code == 201, created.text
    body = created.json()
    return body["contract_id"], body["conditions"][0]["condition_id"]


def _ledger_hires(api: Api, contract: str) -> int:
    ledger = api.get("procurement", f"/api/v1/procurement/contracts/{contract}/ledger")
    assert ledger.status_code == 200, ledger.text
    return sum(line["hires_made"] + line["hires_not_counted"] for line in ledger.json()["lines"])


def _statistics_answer(api: Api) -> None:
    serving(api).caches.clear()  # the fact tables are rebuilt from the database
    for path, params in (
        ("/api/v1/statistics/indicators", {"by": "buyer"}),
        ("/api/v1/statistics/indicators", {"by": "contract"}),
        ("/api/v1/statistics/impact", {"by": "country"}),
    ):
        answer = api.get("admin", path, params=params)
        assert answer.status_code == 200, answer.text


def _problems(response: Any) -> list[dict[str, Any]]:
    """The field errors of a 422 (RFC 9457 ``errors``; FastAPI's ``detail`` before that)."""
    body = response.json()
    errors: list[dict[str, Any]] = body.get("errors") or body["detail"]
    return errors


def _problem(response: Any) -> dict[str, Any]:
    return _problems(response)[0]


# ---- S1: a vacancy with credited hires keeps its contract ------------------------------------


def test_a_vacancy_with_hires_cannot_leave_its_contract_and_statistics_answer(api: Api) -> None:
    contract, condition = _contract(api)
    under = {"contract_id": contract, "condition_id": condition}
    vacancy = new_vacancy(api, 2, **under)
    pid = assessed_person(api)
    propose(api, pid, vacancy)
    hired = employer_outcome(api, pid, vacancy, "hired", instant(api, 5))
    assert hired.status_code == 201, hired.text
    assert _ledger_hires(api, contract) == 1

    path = f"/api/v1/employer/vacancies/{vacancy}"
    for changes in ({"contract_id": None, "condition_id": None}, {"condition_id": None}):
        detached = api.client.put(
            path, headers=api.headers("employer"), json=vacancy_body(api, 2, **under) | changes
        )
        assert detached.status_code == 409, detached.text
        assert "credited" in detached.text and condition in detached.text
    other_contract, other_condition = _contract(api)
    moved = api.client.put(
        path,
        headers=api.headers("employer"),
        json=vacancy_body(api, 2, contract_id=other_contract, condition_id=other_condition),
    )
    assert moved.status_code == 409, moved.text
    assert _ledger_hires(api, contract) == 1 and _ledger_hires(api, other_contract) == 0
    # Other changes stay possible.
    retitled = api.client.put(
        path, headers=api.headers("employer"), json=vacancy_body(api, 2, title="Renamed", **under)
    )
    assert retitled.status_code == 200, retitled.text
    _statistics_answer(api)


def test_statistics_survive_a_hire_at_a_vacancy_without_a_condition(api: Api) -> None:
    """Loaded worlds can hold the state the API now refuses to reach: the statistics must
    still answer (every statistics endpoint answered 500, persistently, in the probe)."""
    contract, condition = _contract(api)
    vacancy = new_vacancy(api, 2, contract_id=contract, condition_id=condition)
    pid = assessed_person(api)
    propose(api, pid, vacancy)
    assert employer_outcome(api, pid, vacancy, "hired", instant(api, 4)).status_code == 201
    engine = make_engine(api.url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE vacancies SET contract_id = NULL, condition_id = NULL "
                    "WHERE vacancy_id = :vacancy"
                ),
                {"vacancy": vacancy},
            )
    finally:
        engine.dispose()
    _statistics_answer(api)


def test_fact_tables_build_with_hires_at_vacancies_without_a_condition(api: Api) -> None:
    world = api.world
    hired = set(world.outcomes.loc[world.outcomes["stage"] == "hired", "vacancy_id"].astype(str))
    vacancies = world.vacancies.copy()
    detach = vacancies["vacancy_id"].astype(str).isin(hired) & vacancies["condition_id"].notna()
    assert detach.any()
    vacancies.loc[detach, ["contract_id", "condition_id"]] = None
    from dataclasses import replace

    facts = build_facts(replace(world, vacancies=vacancies))
    assert len(facts.hires) and not facts.hires["counted"][facts.hires["condition_id"].isna()].any()


# ---- S2: a coach's hire is a claim the employer confirms -------------------------------------


def test_a_coach_cannot_record_a_hire_without_a_proposal_or_shortlist(api: Api) -> None:
    contract, condition = _contract(api)
    vacancy = new_vacancy(api, 2, contract_id=contract, condition_id=condition)
    person = new_jobseeker(api, unemployment_start="2020-01-01", first_name="Stranger")
    pid = person["jobseeker_id"]  # never proposed, never shortlisted (no skills observed)
    before = counts(api)[0]
    for stage in ("hired", "interviewed", "declined_by_jobseeker"):
        made = api.post(
            "coach",
            f"/api/v1/coach/jobseekers/{pid}/outcomes",
            {
                "vacancy_id": vacancy,
                "stage": stage,
                "reason": "other",
                "occurred_at": instant(api, 3),
            },
        )
        assert made.status_code == 422, made.text
        assert _problem(made)["loc"] == ["body", "vacancy_id"]
    assert counts(api)[0] == before
    assert _ledger_hires(api, contract) == 0


def test_a_coach_hire_at_another_organisations_vacancy_never_reaches_its_ledger(api: Api) -> None:
    """The probe's S2: a coach recorded `hired` at a vacancy of any organisation, with no
    proposal and no employer confirmation, and the contract's ledger counted it."""
    before_ledger = _ledger_hires(api, api.facts["contract"])
    before = counts(api)[0]
    pid = assessed_person(api)
    made = coach_outcome(api, pid, api.facts["vacancy"], "hired", instant(api, 2))
    assert made.status_code in (202, 422), made.text
    assert counts(api)[0] == before
    assert _ledger_hires(api, api.facts["contract"]) == before_ledger


def test_a_claimed_hire_counts_only_once_the_employer_confirms_it(api: Api) -> None:
    contract, condition = _contract(api)
    vacancy = new_vacancy(api, 2, contract_id=contract, condition_id=condition)
    pid = assessed_person(api)
    propose(api, pid, vacancy)
    before = counts(api)[0]

    claimed = coach_outcome(api, pid, vacancy, "hired", instant(api, 6))
    assert claimed.status_code == 202, claimed.text
    claim = claimed.json()
    assert claim["status"] == "pending" and claim["event_id"] is None
    assert counts(api)[0] == before
    assert _ledger_hires(api, contract) == 0
    assert shortlisted(api, vacancy, pid)  # a claim moves no live state
    again = coach_outcome(api, pid, vacancy, "hired", instant(api, 6))
    assert again.status_code == 409, again.text
    mine = api.get("coach", f"/api/v1/coach/jobseekers/{pid}/outcome-claims").json()
    assert [c["claim_id"] for c in mine] == [claim["claim_id"]]

    listed = api.get("employer", "/api/v1/employer/outcome-claims").json()
    shown = next(c for c in listed if c["claim_id"] == claim["claim_id"])
    assert shown["candidate"] == pseudonym(serving(api).pseudonym_key, vacancy, pid)
    assert shown["jobseeker_id"] is None  # the employer sees the pseudonym only
    foreign = api.get("other-employer", "/api/v1/employer/outcome-claims").json()
    assert claim["claim_id"] not in {c["claim_id"] for c in foreign}
    confirm = f"/api/v1/employer/outcome-claims/{claim['claim_id']}/confirm"
    assert api.post("other-employer", confirm, None).status_code == 404
    assert api.post("coach", confirm, None).status_code == 403
    assert counts(api)[0] == before

    confirmed = api.post("employer", confirm, None)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed" and confirmed.json()["event_id"]
    assert counts(api)[0] == before + 1
    assert _ledger_hires(api, contract) == 1
    assert not shortlisted(api, vacancy, pid)  # hired: out of matching
    assert api.post("employer", confirm, None).status_code == 409  # decided already
    assert _ledger_hires(api, contract) == 1


def test_a_rejected_claim_counts_nowhere(api: Api) -> None:
    contract, condition = _contract(api)
    vacancy = new_vacancy(api, 2, contract_id=contract, condition_id=condition)
    pid = assessed_person(api)
    propose(api, pid, vacancy)
    before = counts(api)[0]
    claim = coach_outcome(api, pid, vacancy, "interviewed", instant(api, 3)).json()
    rejected = api.post(
        "employer", f"/api/v1/employer/outcome-claims/{claim['claim_id']}/reject", None
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert counts(api)[0] == before
    pending = api.get("employer", "/api/v1/employer/outcome-claims").json()
    assert claim["claim_id"] not in {c["claim_id"] for c in pending}
    decided = api.get("employer", "/api/v1/employer/outcome-claims", params={"status": "rejected"})
    assert claim["claim_id"] in {c["claim_id"] for c in decided.json()}


def test_the_jobseekers_own_decline_is_recorded_by_the_coach(api: Api) -> None:
    vacancy = new_vacancy(api, 1)
    pid = assessed_person(api)
    propose(api, pid, vacancy)
    before = counts(api)[0]
    missing = coach_outcome(api, pid, vacancy, "declined_by_jobseeker", instant(api, 2))
    assert missing.status_code == 422 and _problem(missing)["loc"] == ["body", "reason"]
    declined = api.post(
        "coach",
        f"/api/v1/coach/jobseekers/{pid}/outcomes",
        {
            "vacancy_id": vacancy,
            "stage": "declined_by_jobseeker",
            "reason": "commute",
            "occurred_at": instant(api, 2),
        },
    )
    assert declined.status_code == 201, declined.text
    assert counts(api)[0] == before + 1


def test_the_employer_records_outcomes_of_shortlisted_people(api: Api) -> None:
    vacancy, unseen = new_vacancy(api, 2), new_vacancy(api, 2)
    pid = assessed_person(api)
    before = counts(api)[0]
    # No shortlist of `unseen` was ever asked for: the person is no candidate there.
    never_shown = employer_outcome(api, pid, unseen, "interviewed", instant(api, 2))
    assert never_shown.status_code == 422 and _problem(never_shown)["loc"] == ["body", "candidate"]
    assert counts(api)[0] == before
    assert shortlisted(api, vacancy, pid)  # the audited shortlist showed the person
    interviewed = employer_outcome(api, pid, vacancy, "interviewed", instant(api, 2))
    assert interviewed.status_code == 201, interviewed.text
    assert counts(api)[0] == before + 1


# ---- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "says"),
    [
        ("0001-01-01T00:00:00Z", "before the vacancy opened"),
        ("9999-12-31T00:00:00Z", "future"),
        ("opens-1", "before the vacancy opened"),
        ("tomorrow", "future"),
    ],
)
def test_outcome_dates_are_checked(api: Api, when: str, says: str) -> None:
    vacancy = new_vacancy(api, 2)
    pid = assessed_person(api)
    propose(api, pid, vacancy)
    today = serving(api).today
    instants = {"opens-1": instant(api, 31), "tomorrow": instant(api, -1)}
    occurred = instants.get(when, when)
    before = counts(api)[0]
    by_employer = employer_outcome(api, pid, vacancy, "hired", occurred)
    assert by_employer.status_code == 422, by_employer.text
    assert _problem(by_employer)["loc"] == ["body", "occurred_at"]
    assert says in _problem(by_employer)["msg"]
    by_coach = coach_outcome(api, pid, vacancy, "hired", occurred)
    assert by_coach.status_code == 422, by_coach.text
    assert _problem(by_coach)["loc"] == ["body", "occurred_at"]
    assert counts(api)[0] == before
    assert today  # the service's day sets "today" (with the clock, whichever is later)


def test_outcomes_before_registration_or_long_after_closing_are_refused(api: Api) -> None:
    today = serving(api).today
    long_closed = new_vacancy(
        api,
        1,
        opens_on=str(today - timedelta(days=400)),
        closes_on=str(today - timedelta(days=300)),
    )
    pid = assessed_person(api)
    propose(api, pid, long_closed)
    late = employer_outcome(api, pid, long_closed, "hired", instant(api, 5))
    assert late.status_code == 422 and "after the vacancy closed" in _problem(late)["msg"]

    vacancy = new_vacancy(api, 1)
    recent = new_jobseeker(api, unemployment_start=str(today - timedelta(days=3)))
    propose(api, recent["jobseeker_id"], vacancy)
    early = employer_outcome(api, recent["jobseeker_id"], vacancy, "hired", instant(api, 10))
    assert early.status_code == 422, early.text
    assert "registered as unemployed" in _problem(early)["msg"]


# ---- coaches name their own organisation's coaches; no duplicate list items ------------------


def test_a_coach_csv_cannot_attribute_an_assessment_to_another_organisations_coach(
    api: Api,
) -> None:
    pid = new_jobseeker(api)["jobseeker_id"]
    coaches = api.world.coaches
    foreign = str(
        coaches.loc[coaches["organisation_id"].astype(str) == api.facts["other_org"], "coach_id"]
        .astype(str)
        .iloc[0]
    )
    csv = (
        "assessment_id,jobseeker_id,coach_id,assessed_on,method,note\n"
        f"AS-foreign-coach,{pid},{foreign},2026-01-02,test,\n"
    )
    made = api.client.post(
        "/api/v1/coach/imports",
        headers=api.headers("coach"),
        files={"assessments": ("assessments.csv", csv.encode(), "text/csv")},
    )
    assert made.status_code == 422, made.text
    problems = _problems(made)
    assert problems[0]["loc"] == ["body", "assessments", "2", "coach_id"]
    assert "coach of your organisation" in problems[0]["msg"]


def _jobseeker_with(api: Api, **changes: Any) -> Any:
    body = {
        "first_name": "Dup",
        "last_name": "Licate",
        "home_municipality": api.facts["municipality"],
        "birth_year": 1990,
        **changes,
    }
    return api.post("coach", "/api/v1/coach/jobseekers", body)


@pytest.mark.parametrize(
    ("field", "items", "named"),
    [
        ("accepted_job_forms", ["employment", "employment"], "'employment'"),
        ("restrictions", ["no_night_work", "no_night_work"], "'no_night_work'"),
        (
            "languages",
            [{"language": "fi", "level": "B1"}, {"language": "fi", "level": "C1"}],
            "'fi'",
        ),
    ],
)
def test_the_api_refuses_duplicate_items_in_a_jobseeker(
    api: Api, field: str, items: list[Any], named: str
) -> None:
    made = _jobseeker_with(api, **{field: items})
    assert made.status_code == 422, made.text
    assert _problem(made)["loc"][:2] == ["body", field] and named in _problem(made)["msg"]


def test_the_api_refuses_duplicate_items_in_assessments_and_vacancies(api: Api) -> None:
    pid = new_jobseeker(api)["jobseeker_id"]
    skill = str(api.world.vacancy_skills["skill_uri"].iloc[0])
    for field, items in (
        ("working_life", [{"skill": "teamwork", "level": 3}, {"skill": "teamwork", "level": 2}]),
        ("observations", [{"skill_uri": skill, "level": 2}, {"skill_uri": skill, "level": 3}]),
    ):
        body = {"assessed_on": "2026-01-02", "method": "test", field: items}
        made = api.post("coach", f"/api/v1/coach/jobseekers/{pid}/assessments", body)
        assert made.status_code == 422, made.text
        assert _problem(made)["loc"][:2] == ["body", field]
    for field, items in (
        ("languages", [{"language": "sv", "level": "A2"}, {"language": "sv", "level": "B2"}]),
        ("skills", [{"skill_uri": skill}, {"skill_uri": skill, "min_level": 3}]),
    ):
        made = api.post(
            "employer", "/api/v1/employer/vacancies", vacancy_body(api, 1) | {field: items}
        )
        assert made.status_code == 422, made.text
        assert _problem(made)["loc"][:2] == ["body", field]


def test_erasing_a_person_deletes_their_claims(api: Api) -> None:
    vacancy = new_vacancy(api, 1)
    pid = assessed_person(api)
    propose(api, pid, vacancy)
    claim = coach_outcome(api, pid, vacancy, "hired", instant(api, 2)).json()
    erased = api.client.delete(f"/api/v1/coach/jobseekers/{pid}", headers=api.headers("coach"))
    assert erased.status_code == 204, erased.text
    listed = api.get("employer", "/api/v1/employer/outcome-claims", params={"vacancy_id": vacancy})
    assert claim["claim_id"] not in {c["claim_id"] for c in listed.json()}
