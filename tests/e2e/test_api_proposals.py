"""The employer's side of a proposal (issue 13), on SQLite and PostgreSQL.

A coach's consented proposal reaches the employer: listed under the vacancy's proposals with
the person's identity (only because consent was recorded), present in the vacancy's shortlist
even when the ranking would not list the person, and named there and in the proposals list
by the same pseudonym, which records the hire the contract's ledger counts. No employer
answer carries birth year, sex, origin or health. A vacancy starts from an ESCO occupation's
essential skills under one of the supplier's contracts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from service.api.security import pseudonym
from service.operations import recruiting
from service.operations.bands import score_band
from service.operations.errors import InvalidError
from service.storage.database import make_engine
from tests.e2e.conftest import Api
from tests.e2e.test_api import _contract_body, new_jobseeker
from tests.e2e.test_api_live_state import (
    assessed_person,
    instant,
    new_vacancy,
    propose,
    serving,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api-proposals")]

#: What a person's record holds that no employer answer may carry, as keys.
FORBIDDEN_KEYS = {
    "birth_year",
    "sex",
    "migrant_background",
    "restrictions",
    "max_hours_per_week",
    "unemployment_start",
    "home_municipality",
    "jobseeker_id",
    "eligibility_rule",
    "eligibility_description",
}


def proposals(api: Api, vacancy: str, who: str = "employer") -> Any:
    return api.get(who, f"/api/v1/employer/vacancies/{vacancy}/proposals")


def walk(value: Any) -> tuple[set[str], list[Any]]:
    """Every key holding a value (not null) and every scalar value of a JSON document."""
    keys: set[str] = set()
    scalars: list[Any] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            keys.update(k for k, v in item.items() if v is not None)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            scalars.append(item)
    return keys, scalars


def test_another_organisations_employer_gets_404(api: Api) -> None:
    vacancy = new_vacancy(api, openings=1)
    assert proposals(api, vacancy).status_code == 200
    foreign = proposals(api, vacancy, "other-employer")
    assert foreign.status_code == 404, foreign.text
    assert foreign.headers["content-type"].startswith("application/problem+json")
    assert proposals(api, "VA-no-such-vacancy").status_code == 404
    assert proposals(api, vacancy, "coach").status_code == 403


def test_the_identity_is_shown_only_with_a_recorded_consent(api: Api) -> None:
    vacancy = new_vacancy(api, openings=2)
    consented = new_jobseeker(api, unemployment_start="2020-01-01", first_name="Consented")
    unproposed = assessed_person(api)  # shortlisted, never proposed
    propose(api, consented["jobseeker_id"], vacancy)
    # A proposal row without a consent method (the API cannot make one: planted here) must
    # not reveal anybody.
    silent = new_jobseeker(api, unemployment_start="2020-01-01", first_name="Silent")
    engine = make_engine(api.url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO proposals (proposal_id, jobseeker_id, vacancy_id, proposed_by, "
                    "consent_given_at, consent_method, note, created_at) VALUES (:p, :j, :v, "
                    "(SELECT MIN(user_id) FROM users), :t, '', '', :t)"
                ),
                {
                    "p": "PR-planted-" + silent["jobseeker_id"][-8:],
                    "j": silent["jobseeker_id"],
                    "v": vacancy,
                    "t": datetime.now(UTC).replace(tzinfo=None),
                },
            )
    finally:
        engine.dispose()

    listed = proposals(api, vacancy)
    assert listed.status_code == 200, listed.text
    key = serving(api).pseudonym_key
    by_name = {p["candidate"]: p for p in listed.json()}
    shown = by_name[pseudonym(key, vacancy, consented["jobseeker_id"])]
    assert shown["first_name"] == "Consented" and shown["email"] == consented["email"]
    assert shown["consent_method"] == "written" and shown["consent_given_at"]
    hidden = by_name[pseudonym(key, vacancy, silent["jobseeker_id"])]
    assert hidden["first_name"] is None and hidden["email"] is None
    assert "Silent" not in listed.text
    # Only proposals are listed: the shortlisted, unproposed person is not.
    assert pseudonym(key, vacancy, unproposed) not in by_name

    # The reveal is in the audit log, by audit pseudonym, never by id or name.
    entries = api.get(
        "operator", "/api/v1/admin/audit", params={"route": "employer.proposals", "limit": 1000}
    ).json()
    entry = [e for e in entries if e["query"]["vacancy_id"] == vacancy][-1]
    assert sorted(kind for _, kind in entry["results"]) == ["identity", "pseudonym"]
    assert consented["jobseeker_id"] not in json.dumps(entry)
    assert "Consented" not in json.dumps(entry)


def test_a_proposed_person_is_in_the_shortlist_beyond_the_ranking(api: Api) -> None:
    vacancy = new_vacancy(api, openings=2)
    assessed_person(api)  # qualified: a better candidate than anybody unassessed
    unskilled = new_jobseeker(api, unemployment_start="2020-01-01", first_name="Unranked")
    pid = unskilled["jobseeker_id"]
    key = serving(api).pseudonym_key
    name = pseudonym(key, vacancy, pid)
    path = f"/api/v1/employer/vacancies/{vacancy}/shortlist"
    before = [c["candidate"] for c in api.get("employer", path, params={"k": 1}).json()["results"]]
    assert len(before) == 1 and name not in before

    propose(api, pid, vacancy)
    after = api.get("employer", path, params={"k": 1})
    assert after.status_code == 200, after.text
    results = after.json()["results"]
    assert [c["candidate"] for c in results] == [*before, name]
    assert not results[0]["proposed"] and results[1]["proposed"] and results[1]["rank"] == 2
    for candidate in results:
        assert candidate["band"] == score_band(candidate["probability"], candidate["score"])
    # The audit entry keeps the ranking as its results and names the proposed person apart.
    entry = api.get(
        "operator", "/api/v1/admin/audit", params={"route": "employer.shortlist", "limit": 1000}
    ).json()[-1]
    assert entry["query"]["vacancy_id"] == vacancy and len(entry["results"]) == 1
    assert len(entry["query"]["proposed"]) == 1


def test_the_pseudonym_of_the_proposals_list_records_a_hire_the_ledger_counts(
    api: Api,
) -> None:
    created = api.post("procurement", "/api/v1/procurement/contracts", _contract_body(api))
    assert created.status_code == 201, created.text
    contract = created.json()["contract_id"]
    condition = created.json()["conditions"][0]["condition_id"]
    vacancy = new_vacancy(api, openings=1, contract_id=contract, condition_id=condition)
    pid = assessed_person(api)  # long-term unemployed since 2020: in the condition's groups
    propose(api, pid, vacancy)

    listed = proposals(api, vacancy).json()
    assert len(listed) == 1
    candidate = listed[0]["candidate"]
    assert listed[0]["available"] and listed[0]["skills"], listed[0]
    for skill in listed[0]["skills"]:
        assert skill["method"] == "work_trial" and skill["last_assessed"]
    assert listed[0]["distance_band"] == "under 5 km"  # the vacancy is in the home town

    ledger_path = f"/api/v1/procurement/contracts/{contract}/ledger"
    before = api.get("procurement", ledger_path).json()["lines"][0]
    assert before["hires_made"] == 0
    declined = api.post(
        "employer",
        f"/api/v1/employer/vacancies/{vacancy}/outcomes",
        {"candidate": candidate, "stage": "declined_by_employer", "occurred_at": instant(api, 2)},
    )
    assert declined.status_code == 422  # a rejection needs a reason code
    assert declined.json()["errors"][0]["loc"] == ["body", "reason"]
    interviewed = api.post(
        "employer",
        f"/api/v1/employer/vacancies/{vacancy}/outcomes",
        {"candidate": candidate, "stage": "interviewed", "occurred_at": instant(api, 2)},
    )
    assert interviewed.status_code == 201, interviewed.text
    hired = api.post(
        "employer",
        f"/api/v1/employer/vacancies/{vacancy}/outcomes",
        {"candidate": candidate, "stage": "hired", "occurred_at": instant(api, 1)},
    )
    assert hired.status_code == 201, hired.text
    assert hired.json()["candidate"] == candidate

    after = api.get("procurement", ledger_path).json()["lines"][0]
    assert after["hires_made"] == 1 and after["by_job_form"] == {"employment": 1}
    again = proposals(api, vacancy).json()[0]
    assert again["outcomes"] == ["interviewed", "hired"]
    assert not again["available"] and again["skills"] == []  # in work, the vacancy filled
    assert again["first_name"] == "Live"  # the consent still stands


def test_no_employer_answer_carries_birth_year_sex_origin_or_health(api: Api) -> None:
    vacancy = new_vacancy(api, openings=2)
    pid = assessed_person(api)
    person = api.get("coach", f"/api/v1/coach/jobseekers/{pid}").json()
    changed = api.client.put(
        f"/api/v1/coach/jobseekers/{pid}",
        headers=api.headers("coach"),
        json={
            name: value
            for name, value in person.items()
            if name not in ("jobseeker_id", "coach_id", "organisation_id")
        }
        | {
            "birth_year": 1961,
            "sex": "female",
            "migrant_background": True,
            "restrictions": ["no_night_work"],
            "max_hours_per_week": 29.5,
        },
    )
    assert changed.status_code == 200, changed.text
    record = changed.json()
    propose(api, pid, vacancy)
    api.post(
        "coach",
        f"/api/v1/coach/jobseekers/{pid}/outcomes",
        {"vacancy_id": vacancy, "stage": "interviewed", "occurred_at": instant(api, 1)},
    )
    answers = {
        "shortlist": api.get(
            "employer", f"/api/v1/employer/vacancies/{vacancy}/shortlist", params={"k": 100}
        ),
        "proposals": proposals(api, vacancy),
        "vacancy": api.get("employer", f"/api/v1/employer/vacancies/{vacancy}"),
        "claims": api.get(
            "employer", "/api/v1/employer/outcome-claims", params={"vacancy_id": vacancy}
        ),
    }
    name = pseudonym(serving(api).pseudonym_key, vacancy, pid)
    assert name in answers["shortlist"].text and name in answers["proposals"].text
    assert name in answers["claims"].text
    sensitive = {
        record["birth_year"],
        str(record["birth_year"]),
        record["sex"],
        "no_night_work",
        record["max_hours_per_week"],
        pid,
    }
    for what, answer in answers.items():
        assert answer.status_code == 200, (what, answer.text)
        keys, scalars = walk(answer.json())
        assert not keys & FORBIDDEN_KEYS, (what, keys & FORBIDDEN_KEYS)
        leaked = [value for value in scalars if value in sensitive]
        assert not leaked, (what, leaked)


def test_a_vacancy_starts_from_an_occupation_under_a_contract(api: Api) -> None:
    contracts = api.get("employer", "/api/v1/employer/contracts")
    assert contracts.status_code == 200, contracts.text
    mine = {c["contract_id"]: c for c in contracts.json()}
    assert api.facts["contract"] in mine
    condition = next(
        c
        for c in mine[api.facts["contract"]]["conditions"]
        if c["condition_id"] == api.facts["condition"]
    )
    assert condition["target_groups"]
    others = api.get("other-employer", "/api/v1/employer/contracts").json()
    assert api.facts["contract"] not in {c["contract_id"] for c in others}

    found = api.get("employer", "/api/v1/reference/occupations", params={"q": "cleaner"})
    assert found.status_code == 200, found.text
    occupation = found.json()[0]["uri"]
    # The operation behind the page's form: the essential skills, each at the level asked.
    draft = recruiting.occupation_draft(serving(api), occupation, level=3)
    essential = serving(api).vocab.taxonomy.essential_skills(occupation)
    assert essential and [s.skill_uri for s in draft.skills] == essential
    assert {s.min_level for s in draft.skills} == {3} and all(s.required for s in draft.skills)
    assert draft.optional_skills and not any(s.required for s in draft.optional_skills)
    with pytest.raises(InvalidError) as unknown:
        recruiting.occupation_draft(serving(api), "http://data.europa.eu/esco/occupation/nope")
    assert unknown.value.loc == ["query", "occupation_uri"]

    skills = [{"skill_uri": s.skill_uri, "min_level": s.min_level} for s in draft.skills][1:]
    vacancy = api.world.vacancies.set_index("vacancy_id").loc[api.facts["vacancy"]]
    made = api.post(
        "employer",
        "/api/v1/employer/vacancies",
        {
            "contract_id": api.facts["contract"],
            "condition_id": api.facts["condition"],
            "occupation_uri": occupation,
            "title": draft.label,
            "municipality": api.facts["municipality"],
            "job_form": str(vacancy["job_form"]),
            "opens_on": str(serving(api).today),
            "closes_on": str(vacancy["closes_on"].date()),
            "skills": skills,
        },
    )
    assert made.status_code == 201, made.text
    stored = api.get("employer", f"/api/v1/employer/vacancies/{made.json()['vacancy_id']}").json()
    assert sorted(s["skill_uri"] for s in stored["skills"]) == sorted(essential[1:])
    assert {s["min_level"] for s in stored["skills"]} == {3}
