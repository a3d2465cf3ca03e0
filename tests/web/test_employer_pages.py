"""The employer's pages: vacancies, a vacancy from an occupation, shortlist, proposals, outcomes.

The pages call the operations the JSON API calls; these tests drive the forms as a browser
without JavaScript would and read the results back through the JSON API (the procurement
ledger for a hire). The shortlist page must name nobody: its HTML is checked against the
world's records of every person it lists; names appear only on the proposals page, and only
for a proposal that records the person's consent.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from service.api.security import pseudonym
from service.storage.database import make_engine
from tests.e2e.test_api import _contract_body, new_jobseeker
from tests.e2e.test_api_live_state import assessed_person, new_vacancy, propose, serving
from tests.web.conftest import Web

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("web-employer")]

ENGLISH = {"Accept-Language": "en"}
_PSEUDONYM = re.compile(r"C-[0-9A-F]{12}")
_HIDDEN = re.compile(r'<input type="hidden" name="(skill_[0-9]+)" value="([^"]+)">')
_CHECKED = re.compile(
    r'<input type="checkbox" id="(keep_[0-9]+)" name="keep_[0-9]+" value="1"( checked)?>'
)


def section(html: str, table_id: str) -> str:
    """The HTML of ``<table id=table_id>`` (to its end)."""
    start = html.index(f'id="{table_id}"')
    return html[start : html.index("</table>", start)]


def cleaner(web: Web) -> str:
    """An ESCO occupation found by the search, with essential skills."""
    found = web.get("employer", "/api/v1/reference/occupations", params={"q": "cleaner"}).json()
    taxonomy = serving(web).vocab.taxonomy
    return next(o["uri"] for o in found if taxonomy.essential_skills(o["uri"]))


def test_the_pages_render_for_the_employer_and_ask_others_to_sign_in(web: Web) -> None:
    employer = web.signed_in("employer")
    vacancy = web.facts["vacancy"]
    home = employer.get("/app/employer/", headers=ENGLISH)
    assert home.status_code == 200, home.text
    assert "Your vacancies" in home.text and f"/app/employer/vacancies/{vacancy}" in home.text
    finnish = employer.get("/app/employer/", headers={"Accept-Language": "fi"})
    assert "Omat avoimet työpaikat" in finnish.text
    for path in (
        "/app/employer/vacancies/new",
        "/app/employer/vacancies/new?q=cleaner",
        "/app/employer/occupation-search?q=cook",
        f"/app/employer/vacancies/{vacancy}",
        f"/app/employer/vacancies/{vacancy}/proposals",
    ):
        page = employer.get(path, headers=ENGLISH)
        assert page.status_code == 200, (path, page.text)
    search = employer.get("/app/employer/occupation-search?q=cook").text
    assert "<html" not in search and "/app/employer/vacancies/new?occupation_uri=" in search
    assert "Candidate" in employer.get(f"/app/employer/vacancies/{vacancy}", headers=ENGLISH).text

    anonymous = web.anonymous().get("/app/employer/")
    assert anonymous.status_code == 303 and "/app/sign-in" in anonymous.headers["location"]
    coach = web.signed_in("coach").get("/app/employer/")
    assert coach.status_code == 403


def test_another_organisations_vacancy_is_not_found(web: Web) -> None:
    other = web.signed_in("other-employer")
    vacancy = web.facts["vacancy"]
    for path in (
        f"/app/employer/vacancies/{vacancy}",
        f"/app/employer/vacancies/{vacancy}/proposals",
    ):
        assert other.get(path).status_code == 404
    page = other.get("/app/employer/")
    assert f"/app/employer/vacancies/{vacancy}" not in page.text
    posted = other.post(
        f"/app/employer/vacancies/{vacancy}/outcomes",
        data={
            "csrf_token": web.csrf(page),
            "candidate": "C-000000000000",
            "stage": "interviewed",
            "occurred_on": str(serving(web).today),
        },
    )
    assert posted.status_code == 404


def test_a_vacancy_created_from_an_occupation_stores_its_essential_skills(web: Web) -> None:
    employer = web.signed_in("employer")
    occupation = cleaner(web)
    essential = serving(web).vocab.taxonomy.essential_skills(occupation)
    form = employer.get("/app/employer/vacancies/new", params={"occupation_uri": occupation})
    assert form.status_code == 200, form.text
    rows = dict(_HIDDEN.findall(form.text))
    checked = {name for name, tick in _CHECKED.findall(form.text) if tick}
    prefilled = [rows[f"skill_{name[5:]}"] for name in sorted(checked, key=lambda n: int(n[5:]))]
    assert prefilled == essential  # every essential skill, ticked; the optional ones are not

    today = serving(web).today
    data: dict[str, Any] = {
        "csrf_token": web.csrf(form),
        "occupation_uri": occupation,
        "title": "Cleaner, evening shift",
        "municipality": web.facts["municipality"],
        "job_form": "employment",
        "contract": f"{web.facts['contract']}|{web.facts['condition']}",
        "opens_on": str(today),
        "closes_on": "2000-01-01",  # before the opening day: refused
        "openings": "2",
        "hours_per_week": "30",
    }
    for name, uri in rows.items():
        i = name.split("_")[1]
        data[name] = uri
        data[f"level_{i}"] = "3"
        data[f"required_{i}"] = "required"
        if f"keep_{i}" in checked:
            data[f"keep_{i}"] = "1"
    refused = employer.post("/app/employer/vacancies", data=data, headers=ENGLISH)
    assert refused.status_code == 422, refused.text
    assert 'id="closes_on-error"' in refused.text
    assert re.search(r'id="closes_on"[^>]*aria-invalid="true"', refused.text)
    assert "Cleaner, evening shift" in refused.text  # the form keeps what was typed

    data["closes_on"] = str(today.replace(year=today.year + 1))
    created = employer.post("/app/employer/vacancies", data=data)
    assert created.status_code == 303, created.text
    vacancy_id = created.headers["location"].split("/")[-1].split("?")[0]
    stored = web.get("employer", f"/api/v1/employer/vacancies/{vacancy_id}").json()
    assert sorted(s["skill_uri"] for s in stored["skills"]) == sorted(essential)
    assert {s["min_level"] for s in stored["skills"]} == {3}
    assert stored["condition_id"] == web.facts["condition"] and stored["openings"] == 2
    page = employer.get(created.headers["location"], headers=ENGLISH)
    assert page.status_code == 200 and "The vacancy was created." in page.text


def test_the_shortlist_page_names_nobody(web: Web) -> None:
    vacancy = new_vacancy(web, openings=2)
    proposed = assessed_person(web)
    propose(web, proposed, vacancy)  # consented, in the shortlist: still no name there
    employer = web.signed_in("employer")
    page = employer.get(f"/app/employer/vacancies/{vacancy}", headers=ENGLISH)
    assert page.status_code == 200, page.text
    table = section(page.text, "shortlist")
    shown = set(_PSEUDONYM.findall(table))
    assert shown and "Proposed by a coach" in table

    key = serving(web).pseudonym_key
    engine = make_engine(web.url)
    try:
        with engine.connect() as connection:
            people = connection.execute(
                text(
                    "SELECT jobseeker_id, first_name, last_name, email, phone, birth_year, "
                    "sex, migrant_background, restrictions FROM jobseekers"
                )
            ).all()
    finally:
        engine.dispose()
    listed = [p for p in people if pseudonym(key, vacancy, p.jobseeker_id) in shown]
    assert len(listed) == len(shown)  # every pseudonym is somebody of the world
    assert proposed in {p.jobseeker_id for p in listed}
    for person in listed:
        # Names as whole words: a short generated name ("Ali") is also part of other words on
        # the page ("Alingsås"), which named nobody.
        for value in (person.first_name, person.last_name):
            if value:
                assert not re.search(rf"(?<!\w){re.escape(value)}(?!\w)", page.text), value
        for value in (person.email, person.phone):
            if value:
                assert value not in page.text, value
        assert not re.search(rf"\b{person.birth_year}\b", table)
        assert person.jobseeker_id not in page.text
    for word in ("birth", "female", "male", "migrant", "origin", "no_night_work", "restriction"):
        assert not re.search(rf"\b{word}\b", table, re.IGNORECASE), word


def test_the_proposals_page_names_only_people_who_consented(web: Web) -> None:
    vacancy = new_vacancy(web, openings=2)
    consented = new_jobseeker(web, unemployment_start="2020-01-01", first_name="Kaisu")
    propose(web, consented["jobseeker_id"], vacancy)
    silent = new_jobseeker(web, unemployment_start="2020-01-01", first_name="Hiljainen")
    engine = make_engine(web.url)
    try:
        with engine.begin() as connection:  # a proposal without a consent method
            connection.execute(
                text(
                    "INSERT INTO proposals (proposal_id, jobseeker_id, vacancy_id, proposed_by, "
                    "consent_given_at, consent_method, note, created_at) VALUES (:p, :j, :v, "
                    "(SELECT MIN(user_id) FROM users), :t, '', '', :t)"
                ),
                {
                    "p": "PR-web-" + silent["jobseeker_id"][-8:],
                    "j": silent["jobseeker_id"],
                    "v": vacancy,
                    "t": datetime.now(UTC).replace(tzinfo=None),
                },
            )
    finally:
        engine.dispose()
    employer = web.signed_in("employer")
    page = employer.get(f"/app/employer/vacancies/{vacancy}/proposals", headers=ENGLISH)
    assert page.status_code == 200, page.text
    assert "Kaisu" in page.text and consented["email"] in page.text
    assert "Hiljainen" not in page.text and "no consent recorded" in page.text
    key = serving(web).pseudonym_key
    for person in (consented, silent):
        assert pseudonym(key, vacancy, person["jobseeker_id"]) in page.text
    shortlist = employer.get(f"/app/employer/vacancies/{vacancy}", headers=ENGLISH)
    assert "Kaisu" not in shortlist.text and consented["email"] not in shortlist.text


def test_a_hire_recorded_on_the_page_counts_in_the_ledger(web: Web) -> None:
    created = web.post("procurement", "/api/v1/procurement/contracts", _contract_body(web))
    assert created.status_code == 201, created.text
    contract = created.json()["contract_id"]
    condition = created.json()["conditions"][0]["condition_id"]
    vacancy = new_vacancy(web, openings=1, contract_id=contract, condition_id=condition)
    pid = assessed_person(web)
    propose(web, pid, vacancy)
    employer = web.signed_in("employer")
    page = employer.get(f"/app/employer/vacancies/{vacancy}/proposals", headers=ENGLISH)
    candidate = pseudonym(serving(web).pseudonym_key, vacancy, pid)
    assert candidate in page.text
    form = {
        "csrf_token": web.csrf(page),
        "candidate": candidate,
        "back": "proposals",
        "occurred_on": str(serving(web).today),
    }
    rejected = employer.post(
        f"/app/employer/vacancies/{vacancy}/outcomes",
        data=form | {"stage": "declined_by_employer", "reason": ""},
        headers=ENGLISH,
    )
    assert rejected.status_code == 422, rejected.text
    key = candidate.lower()
    assert re.search(rf'id="{key}-reason"[^>]*aria-invalid="true"', rejected.text)
    assert "Choose the reason for the rejection." in rejected.text
    forged = employer.post(
        f"/app/employer/vacancies/{vacancy}/outcomes",
        data=form | {"stage": "hired", "csrf_token": "forged"},
    )
    assert forged.status_code == 403

    ledger = f"/api/v1/procurement/contracts/{contract}/ledger"
    assert web.get("procurement", ledger).json()["lines"][0]["hires_made"] == 0
    hired = employer.post(
        f"/app/employer/vacancies/{vacancy}/outcomes", data=form | {"stage": "hired"}
    )
    assert hired.status_code == 303, hired.text
    assert hired.headers["location"].endswith(f"/vacancies/{vacancy}/proposals?recorded=hired")
    assert web.get("procurement", ledger).json()["lines"][0]["hires_made"] == 1
    after = employer.get(hired.headers["location"], headers=ENGLISH)
    assert "Recorded: Hired." in after.text


def test_a_coachs_claim_is_confirmed_on_the_vacancy_page(web: Web) -> None:
    vacancy = new_vacancy(web, openings=2)
    pid = assessed_person(web)
    propose(web, pid, vacancy)
    claimed = web.post(
        "coach",
        f"/api/v1/coach/jobseekers/{pid}/outcomes",
        {
            "vacancy_id": vacancy,
            "stage": "interviewed",
            "occurred_at": f"{serving(web).today}T09:00:00Z",
        },
    )
    assert claimed.status_code == 202, claimed.text  # a claim, until the employer confirms
    claim = claimed.json()["claim_id"]
    employer = web.signed_in("employer")
    page = employer.get(f"/app/employer/vacancies/{vacancy}", headers=ENGLISH)
    assert f"/app/employer/outcome-claims/{claim}/confirm" in page.text
    home = employer.get("/app/employer/", headers=ENGLISH)
    assert f"/app/employer/outcome-claims/{claim}/confirm" in home.text
    foreign = web.signed_in("other-employer")
    refused = foreign.post(
        f"/app/employer/outcome-claims/{claim}/confirm",
        data={"csrf_token": web.csrf(foreign.get("/app/employer/"))},
    )
    assert refused.status_code == 404
    confirmed = employer.post(
        f"/app/employer/outcome-claims/{claim}/confirm",
        data={"csrf_token": web.csrf(page), "next": f"/app/employer/vacancies/{vacancy}"},
    )
    assert confirmed.status_code == 303, confirmed.text
    assert confirmed.headers["location"] == f"/app/employer/vacancies/{vacancy}?claim=confirmed"
    decided = web.get(
        "employer", "/api/v1/employer/outcome-claims", params={"status": "confirmed"}
    ).json()
    assert claim in {c["claim_id"] for c in decided}
