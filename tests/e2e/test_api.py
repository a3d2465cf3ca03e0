"""The HTTP API end to end, per audience, on SQLite and on PostgreSQL.

One small generated world is loaded per database backend; each test creates what it changes,
so the tests do not depend on each other's order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from service.api.metrics import render_metrics
from service.operations.bands import score_band
from service.storage.database import make_engine
from tests.e2e.conftest import Api

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api")]

SKILL = "http://data.europa.eu/esco/skill/d1ba2b40-8811-4b60-8fc9-0e82b369c887"


def new_jobseeker(api: Api, who: str = "coach", **changes: Any) -> dict[str, Any]:
    body = {
        "first_name": "Aino",
        "last_name": "Testinen",
        "email": "aino@example.org",
        "phone": "+358401234567",
        "home_municipality": api.facts["municipality"],
        "birth_year": 1990,
        "sex": "female",
        "unemployment_start": "2024-01-15",
        "languages": [{"language": "fi", "level": "native"}],
        **changes,
    }
    response = api.post(who, "/api/v1/coach/jobseekers", body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# ---- coaches --------------------------------------------------------------------------------


def test_coach_flow_create_assess_match_erase(api: Api) -> None:
    person = new_jobseeker(api)
    pid = person["jobseeker_id"]
    assert person["organisation_id"] == api.facts["org"]
    vacancy_skills = api.world.vacancy_skills
    skills = vacancy_skills[vacancy_skills["vacancy_id"] == api.facts["vacancy"]]
    assessment = {
        "assessed_on": "2026-05-04",
        "method": "work_trial",
        "observations": [
            {"skill_uri": str(uri), "level": 4, "confidence": 0.9} for uri in skills["skill_uri"]
        ],
    }
    created = api.post("coach", f"/api/v1/coach/jobseekers/{pid}/assessments", assessment)
    assert created.status_code == 201, created.text
    assert len(created.json()["observations"]) == len(skills)

    aid = created.json()["assessment_id"]
    corrected = api.client.put(
        f"/api/v1/coach/jobseekers/{pid}/assessments/{aid}",
        headers=api.headers("coach"),
        json=assessment | {"note": "corrected"},
    )
    assert corrected.status_code == 200 and corrected.json()["note"] == "corrected"
    listed = api.get("coach", f"/api/v1/coach/jobseekers/{pid}/assessments").json()
    assert [a["assessment_id"] for a in listed] == [aid]
    assert len(listed[0]["observations"]) == len(skills)  # replaced, not duplicated
    foreign = api.client.put(
        f"/api/v1/coach/jobseekers/{pid}/assessments/{aid}",
        headers=api.headers("other-coach"),
        json=assessment,
    )
    assert foreign.status_code == 404

    # A vacancy at the person's home asking for exactly the skills observed: whatever else the
    # world offers nearby, it is among the best matches, and its reasons show the evidence.
    shared = api.world.vacancies.set_index("vacancy_id").loc[api.facts["vacancy"]]
    opened = api.post(
        "employer",
        "/api/v1/employer/vacancies",
        {
            "occupation_uri": str(shared["occupation_uri"]),
            "title": "Observed skills wanted",
            "municipality": api.facts["municipality"],
            "job_form": "employment",
            "opens_on": "2026-10-01",
            "closes_on": "2026-12-31",
            "skills": [{"skill_uri": str(u), "min_level": 2} for u in skills["skill_uri"]],
        },
    )
    assert opened.status_code == 201, opened.text
    found = api.get("coach", f"/api/v1/coach/jobseekers/{pid}/matches", params={"k": 5})
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["model_version"]
    assert 0 < len(body["results"]) <= 5
    fitting = {m["vacancy_id"]: m for m in body["results"]}[opened.json()["vacancy_id"]]
    assert fitting["explanation"]["matched_skills"], fitting
    for skill in fitting["explanation"]["matched_skills"]:
        assert skill["method"] == "work_trial"
        assert skill["last_assessed"] == "2026-05-04"
    for result in body["results"]:
        for gap in result["explanation"]["skill_gaps"]:
            assert gap["method"] is None and gap["last_assessed"] is None

    erased = api.client.delete(f"/api/v1/coach/jobseekers/{pid}", headers=api.headers("coach"))
    assert erased.status_code == 204
    assert api.get("coach", f"/api/v1/coach/jobseekers/{pid}").status_code == 404
    gone = api.get("coach", f"/api/v1/coach/jobseekers/{pid}/matches")
    assert gone.status_code == 404


def test_matches_filters_by_job_form_and_distance(api: Api) -> None:
    jid = api.facts["jobseeker"]
    only = api.get(
        "coach",
        f"/api/v1/coach/jobseekers/{jid}/matches",
        params={"job_form": "employment", "max_distance_km": 40, "k": 20},
    )
    assert only.status_code == 200, only.text
    for match in only.json()["results"]:
        assert match["job_form"] == "employment"
        assert match["explanation"]["distance_km"] <= 40.0 + 1e-6


def test_a_proposal_needs_consent_and_reveals_identity_to_the_employer(api: Api) -> None:
    person = new_jobseeker(api, first_name="Proposed", last_name="Person")
    pid = person["jobseeker_id"]
    vacancy = api.facts["vacancy"]
    missing = api.post(
        "coach", f"/api/v1/coach/jobseekers/{pid}/proposals", {"vacancy_id": vacancy}
    )
    assert missing.status_code == 422
    assert any(e["loc"][-1] == "consent_given_at" for e in missing.json()["errors"])
    proposal = {
        "vacancy_id": vacancy,
        "consent_given_at": datetime.now(UTC).isoformat(),
        "consent_method": "written",
    }
    # Consent before the person registered (2024-01-15) is a typing error, refused.
    for moment in ("0001-01-01T00:00:00Z", "2024-01-14T12:00:00Z"):
        early = api.post(
            "coach",
            f"/api/v1/coach/jobseekers/{pid}/proposals",
            proposal | {"consent_given_at": moment},
        )
        assert early.status_code == 422, early.text
        assert early.json()["errors"][0]["loc"] == ["body", "consent_given_at"]
    made = api.post("coach", f"/api/v1/coach/jobseekers/{pid}/proposals", proposal)
    assert made.status_code == 201, made.text
    again = api.post("coach", f"/api/v1/coach/jobseekers/{pid}/proposals", proposal)
    assert again.status_code == 409


def test_feedback_takes_structured_reasons(api: Api) -> None:
    jid = api.facts["jobseeker"]
    ok = api.post(
        "coach",
        f"/api/v1/coach/jobseekers/{jid}/feedback",
        {"vacancy_id": api.facts["vacancy"], "reason_code": "commute", "comment": "two buses"},
    )
    assert ok.status_code == 201, ok.text
    bad = api.post(
        "coach",
        f"/api/v1/coach/jobseekers/{jid}/feedback",
        {"vacancy_id": api.facts["vacancy"], "reason_code": "too_far"},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["body", "reason_code"]


# ---- employers ------------------------------------------------------------------------------

SENSITIVE_FIELDS = ("first_name", "last_name", "email", "phone", "birth_year", "sex")


def test_shortlists_never_carry_personal_data(api: Api) -> None:
    """Plant unique values in many jobseekers; none may surface in an employer response."""
    vacancy = api.facts["vacancy"]
    first = api.get("employer", f"/api/v1/employer/vacancies/{vacancy}/shortlist", params={"k": 50})
    assert first.status_code == 200, first.text
    listed = [c["candidate"] for c in first.json()["results"]]
    assert listed, "the vacancy should have candidates"
    engine = make_engine(api.url)
    planted: list[str] = []
    with engine.begin() as connection:
        ids = connection.execute(text("SELECT jobseeker_id FROM jobseekers")).scalars().all()
        for i, jid in enumerate(ids):
            marker = f"PLANTED{i:05d}"
            planted.append(marker)
            connection.execute(
                text(
                    "UPDATE jobseekers SET first_name = :f, last_name = :l, email = :e, "
                    "phone = :p WHERE jobseeker_id = :j"
                ),
                {
                    "f": marker + "F",
                    "l": marker + "L",
                    "e": f"{marker}@x.fi",
                    "p": marker,
                    "j": jid,
                },
            )
    engine.dispose()
    response = api.get(
        "employer", f"/api/v1/employer/vacancies/{vacancy}/shortlist", params={"k": 50}
    )
    payload = response.text
    # Not even for a consented proposal: the identity is shown in the proposals list only.
    assert not any(marker in payload for marker in planted)
    for candidate in response.json()["results"]:
        assert set(candidate) >= {"candidate", "skills", "distance_band", "accepted_job_forms"}
        assert not {"birth_year", "sex", "first_name", "last_name", "email", "phone"} & set(
            candidate
        )
        assert "eligibility" not in json.dumps(candidate)
        assert "jobseeker_id" not in candidate
    # Pseudonyms are not the jobseeker ids.
    assert not any(jid in payload for jid in ids)


def test_pseudonyms_are_stable_per_vacancy(api: Api) -> None:
    vacancy = api.facts["vacancy"]
    one = api.get("employer", f"/api/v1/employer/vacancies/{vacancy}/shortlist", params={"k": 5})
    two = api.get("employer", f"/api/v1/employer/vacancies/{vacancy}/shortlist", params={"k": 5})
    assert {c["candidate"] for c in one.json()["results"]} == {
        c["candidate"] for c in two.json()["results"]
    }


def test_the_employer_records_a_hire_that_the_ledger_counts(api: Api) -> None:
    person = new_jobseeker(api, unemployment_start="2020-01-01", first_name="Hired")
    pid = person["jobseeker_id"]
    # A vacancy of its own under the shared one's condition: the hire fills it, and the shared
    # vacancy stays open for the other tests.
    shared = api.world.vacancies.set_index("vacancy_id").loc[api.facts["vacancy"]]
    opened = api.post(
        "employer",
        "/api/v1/employer/vacancies",
        {
            "contract_id": api.facts["contract"],
            "condition_id": api.facts["condition"],
            "occupation_uri": str(shared["occupation_uri"]),
            "title": "Hired here",
            "municipality": str(shared["municipality"]),
            "job_form": str(shared["job_form"]),
            "opens_on": str(shared["opens_on"].date()),
            "closes_on": str(shared["closes_on"].date()),
        },
    )
    assert opened.status_code == 201, opened.text
    vacancy = opened.json()["vacancy_id"]
    proposal = {
        "vacancy_id": vacancy,
        "consent_given_at": datetime.now(UTC).isoformat(),
        "consent_method": "electronic",
    }
    assert (
        api.post("coach", f"/api/v1/coach/jobseekers/{pid}/proposals", proposal).status_code == 201
    )
    before = api.get("procurement", f"/api/v1/procurement/contracts/{api.facts['contract']}/ledger")
    assert before.status_code == 200, before.text
    made_before = {line["condition_id"]: line["hires_made"] for line in before.json()["lines"]}

    shortlist = api.get(
        "employer", f"/api/v1/employer/vacancies/{vacancy}/shortlist", params={"k": 100}
    )
    from service.api.security import pseudonym

    state = api.client.app.state.serving  # type: ignore[attr-defined]
    name = pseudonym(state.pseudonym_key, vacancy, pid)
    shown = [c for c in shortlist.json()["results"] if c["candidate"] == name]
    # The consented proposal is in the shortlist, still by pseudonym: the identity is shown in
    # the proposals list only.
    assert shown and shown[0]["proposed"]
    assert not {"first_name", "last_name", "email", "phone"} & shown[0].keys()
    proposals = api.get("employer", f"/api/v1/employer/vacancies/{vacancy}/proposals").json()
    assert [p["first_name"] for p in proposals if p["candidate"] == name] == ["Hired"]
    stranger = api.post(
        "employer",
        f"/api/v1/employer/vacancies/{vacancy}/outcomes",
        {"candidate": "C-000000000000", "stage": "hired", "occurred_at": "2026-10-01T09:00:00Z"},
    )
    assert stranger.status_code == 422
    hired = api.post(
        "employer",
        f"/api/v1/employer/vacancies/{vacancy}/outcomes",
        # On the service's day: a hire is not before the vacancy opened nor in the future.
        {"candidate": name, "stage": "hired", "occurred_at": f"{state.today}T09:00:00Z"},
    )
    assert hired.status_code == 201, hired.text
    after = api.get("procurement", f"/api/v1/procurement/contracts/{api.facts['contract']}/ledger")
    line = next(x for x in after.json()["lines"] if x["condition_id"] == api.facts["condition"])
    assert line["hires_made"] + line["hires_not_counted"] == made_before[api.facts["condition"]] + 1


# ---- ownership ------------------------------------------------------------------------------


def _routes(api: Api) -> list[tuple[str, str, str, Any]]:
    """(method, path, owner, valid body) of every route that touches an owned object."""
    f = api.facts
    person = {"first_name": "X", "last_name": "Y", "home_municipality": f["municipality"]}
    person["birth_year"] = 1980
    now = datetime.now(UTC).isoformat()
    proposal = {"vacancy_id": f["vacancy"], "consent_given_at": now, "consent_method": "written"}
    vacancy = {
        "occupation_uri": str(
            api.world.vacancies.set_index("vacancy_id").loc[f["vacancy"], "occupation_uri"]
        ),
        "title": "T",
        "municipality": f["municipality"],
        "job_form": "employment",
        "opens_on": "2026-10-01",
        "closes_on": "2026-12-31",
    }
    js, va = (
        f"/api/v1/coach/jobseekers/{f['jobseeker']}",
        f"/api/v1/employer/vacancies/{f['vacancy']}",
    )
    return [
        ("PUT", js, "coach", person),
        ("POST", f"{js}/assessments", "coach", {"assessed_on": "2026-01-02", "method": "test"}),
        ("POST", f"{js}/proposals", "coach", proposal),
        ("POST", f"{js}/feedback", "coach", {"vacancy_id": f["vacancy"], "reason_code": "hours"}),
        (
            "POST",
            f"{js}/outcomes",
            "coach",
            {"vacancy_id": f["vacancy"], "stage": "hired", "occurred_at": now},
        ),
        ("PUT", va, "employer", vacancy),
        ("POST", f"{va}/close", "employer", None),
        (
            "POST",
            f"{va}/outcomes",
            "employer",
            {"candidate": "C-000000000000", "stage": "interviewed", "occurred_at": now},
        ),
        ("POST", "/api/v1/admin/model/reload", "admin", None),
        ("POST", "/api/v1/admin/model/rollback", "admin", None),
        ("GET", "/api/v1/admin/audit/verify", "admin", None),
        ("GET", f"/api/v1/coach/jobseekers/{f['jobseeker']}", "coach", None),
        ("GET", f"/api/v1/coach/jobseekers/{f['jobseeker']}/matches", "coach", None),
        ("GET", f"/api/v1/coach/jobseekers/{f['jobseeker']}/assessments", "coach", None),
        ("GET", f"/api/v1/coach/jobseekers/{f['jobseeker']}/proposals", "coach", None),
        ("GET", f"/api/v1/coach/jobseekers/{f['jobseeker']}/outcome-claims", "coach", None),
        ("DELETE", f"/api/v1/coach/jobseekers/{f['jobseeker']}", "coach", None),
        ("GET", f"/api/v1/employer/vacancies/{f['vacancy']}", "employer", None),
        ("GET", f"/api/v1/employer/vacancies/{f['vacancy']}/shortlist", "employer", None),
        ("GET", f"/api/v1/procurement/contracts/{f['contract']}", "procurement", None),
        ("GET", f"/api/v1/procurement/contracts/{f['contract']}/ledger", "procurement", None),
        ("GET", "/api/v1/admin/model", "admin", None),
        ("GET", "/api/v1/admin/audit", "admin", None),
    ]


def test_every_foreign_access_is_refused(api: Api) -> None:
    callers = ["coach", "other-coach", "employer", "other-employer", "procurement"]
    callers += ["other-procurement", "admin"]
    for method, path, owner, body in _routes(api):
        for caller in callers:
            if caller == owner:
                continue
            response = api.client.request(method, path, headers=api.headers(caller), json=body)
            role = caller.removeprefix("other-")
            expected = 404 if role == owner else 403
            assert response.status_code == expected, (method, path, caller, response.text)
        anonymous = api.client.request(method, path, json=body)
        assert anonymous.status_code == 401
        forged = api.client.request(method, path, headers={"Authorization": "Bearer nope"})
        assert forged.status_code == 401


def test_lists_show_only_the_callers_objects(api: Api) -> None:
    people = api.get("coach", "/api/v1/coach/jobseekers", params={"limit": 500}).json()
    assert people and {p["organisation_id"] for p in people} == {api.facts["org"]}
    contracts = api.get("procurement", "/api/v1/procurement/contracts").json()
    assert contracts and {c["buyer_id"] for c in contracts} == {api.facts["buyer"]}


# ---- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"home_municipality": "9999"}, "home_municipality", "9999"),
        ({"first_name": "A\x00B"}, "first_name", None),
        ({"birth_year": 10**30}, "birth_year", None),
        (
            {
                "preferred_occupations": [
                    "http://data.europa.eu/esco/occupation/"
                    + "0" * 8
                    + "-0000-0000-0000-000000000000"
                ]
            },
            "preferred_occupations",
            None,
        ),
        ({"unknown_field": 1}, "unknown_field", None),
    ],
)
def test_bad_jobseekers_are_422_with_the_field_and_nothing_is_stored(
    api: Api, changes: dict[str, Any], field: str, value: str | None
) -> None:
    before = len(api.get("coach", "/api/v1/coach/jobseekers", params={"limit": 500}).json())
    body = {"first_name": "X", "last_name": "Y", "home_municipality": api.facts["municipality"]}
    body |= {"birth_year": 1980, **changes}
    response = api.post("coach", "/api/v1/coach/jobseekers", body)
    assert response.status_code == 422, response.text
    detail = response.json()["errors"]
    assert any(field in [str(p) for p in e["loc"]] for e in detail), detail
    if value is not None:
        assert any(e.get("input") == value for e in detail), detail
    after = len(api.get("coach", "/api/v1/coach/jobseekers", params={"limit": 500}).json())
    assert after == before


def test_oversized_and_malformed_bodies_are_refused(api: Api) -> None:
    huge = api.client.post(
        "/api/v1/coach/jobseekers",
        headers={**api.headers("coach"), "Content-Type": "application/json"},
        content=b'{"note": "' + b"x" * 2_000_000 + b'"}',
    )
    assert huge.status_code == 413
    broken = api.client.post(
        "/api/v1/coach/jobseekers",
        headers={**api.headers("coach"), "Content-Type": "application/json"},
        content=b'{"first_name": ',
    )
    assert broken.status_code == 422
    numbers = api.get(
        "coach", f"/api/v1/coach/jobseekers/{api.facts['jobseeker']}/matches", params={"k": 10**40}
    )
    assert numbers.status_code == 422
    town = api.get(
        "coach",
        f"/api/v1/coach/jobseekers/{api.facts['jobseeker']}/matches",
        params={"municipality": "9999"},
    )
    assert town.status_code == 422
    assert town.json()["errors"][0]["input"] == "9999"


def test_chunked_bodies_are_bounded_too(api: Api) -> None:
    def chunks(total: int) -> Iterator[bytes]:
        yield b'{"note": "'
        for _ in range(total // 65536):
            yield b"x" * 65536
        yield b'"}'

    headers = {**api.headers("coach"), "Content-Type": "application/json"}
    huge = api.client.post("/api/v1/coach/jobseekers", headers=headers, content=chunks(2_000_000))
    assert huge.status_code == 413
    # A small chunked body reaches the validation as it was sent (here: fields missing).
    small = api.client.post("/api/v1/coach/jobseekers", headers=headers, content=chunks(0))
    assert small.status_code == 422
    assert any(error["loc"][:2] == ["body", "first_name"] for error in small.json()["errors"])


# ---- audit, health ----------------------------------------------------------------------------


def test_every_matches_and_shortlist_response_is_audited_in_a_chain(api: Api) -> None:
    before = api.get("admin", "/api/v1/admin/audit", params={"limit": 1000}).json()
    jid = api.facts["jobseeker"]
    served = api.get("coach", f"/api/v1/coach/jobseekers/{jid}/matches", params={"k": 3}).json()
    after = api.get(
        "admin", "/api/v1/admin/audit", params={"after": before[-1]["seq"] if before else 0}
    ).json()
    entry = after[-1]
    assert entry["route"] == "coach.matches"
    # The person is named by their audit pseudonym, never by their id.
    assert entry["query"]["jobseeker_id"] != jid and entry["query"]["jobseeker_id"][0] == "P"
    assert entry["model_version"] == served["model_version"]
    assert [r[0] for r in entry["results"]] == [m["vacancy_id"] for m in served["results"]]
    verified = api.get("admin", "/api/v1/admin/audit/verify").json()
    assert verified["ok"] and verified["entries"] >= len(before) + 1


def test_health_readiness_and_metrics(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "alive"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    api.get("coach", f"/api/v1/coach/jobseekers/{api.facts['jobseeker']}")
    # Not on the public API port by default (`serve` has a loopback metrics listener).
    assert api.client.get("/metrics").status_code == 404
    metrics = render_metrics()[0].decode()
    assert "kohtaanto_http_requests_total" in metrics
    assert 'route="/api/v1/coach/jobseekers/{jobseeker_id}"' in metrics


# ---- contracts and vacancies created through the API ----------------------------------------


def _contract_body(api: Api, **changes: Any) -> dict[str, Any]:
    supplier = api.world.suppliers[
        api.world.suppliers["organisation_id"].astype(str) == api.facts["supplier_org"]
    ].iloc[0]
    body = {
        "supplier_id": str(supplier["supplier_id"]),
        "cpv_code": "90910000-9",
        "title": "Office cleaning, north district",
        "starts_on": "2026-09-01",
        "ends_on": "2027-08-31",
        "value_eur": 480000,
        "conditions": [
            {
                "target_groups": ["long_term_unemployed", "young"],
                "hires_required": 3,
                "deadline": "2027-06-30",
                "allowed_job_forms": ["employment", "apprenticeship"],
            }
        ],
    }
    return body | changes


def test_a_contract_and_a_vacancy_under_it_reach_the_ledger_and_shortlists(api: Api) -> None:
    created = api.post("procurement", "/api/v1/procurement/contracts", _contract_body(api))
    assert created.status_code == 201, created.text
    contract = created.json()
    condition = contract["conditions"][0]["condition_id"]
    ledger = api.get(
        "procurement", f"/api/v1/procurement/contracts/{contract['contract_id']}/ledger"
    )
    assert ledger.json()["lines"][0]["hires_required"] == 3
    assert (
        api.get(
            "other-procurement", f"/api/v1/procurement/contracts/{contract['contract_id']}"
        ).status_code
        == 404
    )

    skills = api.world.vacancy_skills[
        api.world.vacancy_skills["vacancy_id"] == api.facts["vacancy"]
    ]
    vacancy = {
        "contract_id": contract["contract_id"],
        "condition_id": condition,
        "occupation_uri": str(
            api.world.vacancies.set_index("vacancy_id").loc[api.facts["vacancy"], "occupation_uri"]
        ),
        "title": "Cleaner",
        "municipality": api.facts["municipality"],
        "job_form": "employment",
        "opens_on": "2026-10-01",
        "closes_on": "2026-12-31",
        "skills": [
            {"skill_uri": str(u), "required": True, "min_level": 2} for u in skills["skill_uri"]
        ],
    }
    wrong_form = api.post(
        "employer", "/api/v1/employer/vacancies", vacancy | {"job_form": "work_trial"}
    )
    assert wrong_form.status_code == 422 and wrong_form.json()["errors"][0]["loc"][-1] == "job_form"
    made = api.post("employer", "/api/v1/employer/vacancies", vacancy)
    assert made.status_code == 201, made.text
    vacancy_id = made.json()["vacancy_id"]
    shortlist = api.get("employer", f"/api/v1/employer/vacancies/{vacancy_id}/shortlist")
    assert shortlist.status_code == 200, shortlist.text
    assert shortlist.json()["candidates"] > 0  # the worker applied the change feed

    changed = api.client.put(
        f"/api/v1/employer/vacancies/{vacancy_id}",
        headers=api.headers("employer"),
        json=vacancy | {"title": "Cleaner (evening)", "skills": []},
    )
    assert changed.status_code == 200 and changed.json()["skills"] == []
    closed = api.post("employer", f"/api/v1/employer/vacancies/{vacancy_id}/close", None)
    assert closed.status_code == 200
    assert closed.json()["closes_on"] < api.client.app.state.serving.today.isoformat()  # type: ignore[attr-defined]
    after = api.get("employer", f"/api/v1/employer/vacancies/{vacancy_id}/shortlist")
    assert after.status_code == 409 and "closed" in after.json()["detail"]


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"cpv_code": "12345678-9"}, "cpv_code", "12345678-9"),
        ({"cpv_code": "9091"}, "cpv_code", None),
        ({"supplier_id": "SU-NOPE"}, "supplier_id", "SU-NOPE"),
        ({"ends_on": "2025-01-01"}, "ends_on", None),
    ],
)
def test_bad_contracts_are_422_naming_the_value(
    api: Api, changes: dict[str, Any], field: str, value: str | None
) -> None:
    before = len(
        api.get("procurement", "/api/v1/procurement/contracts", params={"limit": 500}).json()
    )
    response = api.post(
        "procurement", "/api/v1/procurement/contracts", _contract_body(api, **changes)
    )
    assert response.status_code == 422, response.text
    detail = response.json()["errors"]
    assert any(field in [str(p) for p in e["loc"]] for e in detail), detail
    if value is not None:
        assert any(e.get("input") == value for e in detail), detail
    after = len(
        api.get("procurement", "/api/v1/procurement/contracts", params={"limit": 500}).json()
    )
    assert after == before


# ---- CSV uploads ------------------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "csv"


def _example(name: str, replace: dict[str, str], drop: str = "\x00") -> bytes:
    lines = (EXAMPLES / f"{name}.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    text = "".join(line for line in lines if drop not in line)
    for old, new in replace.items():
        text = text.replace(old, new)
    return text.encode()


def _coach_files(api: Api, suffix: str) -> dict[str, bytes]:
    coaches = api.world.coaches
    coach = str(coaches[coaches["organisation_id"].astype(str) == api.facts["org"]].iloc[0, 0])
    replace = {
        "ES-FI-EA-01": api.facts["org"],
        "CO000001": coach,
        "JS900000": f"JS9{suffix}",
        "AS9000000": f"AS9{suffix}",
    }
    # The examples also assess a person of another service (AS90000003): not for this coach.
    return {
        name: _example(name, replace, drop="AS90000003")
        for name in ("jobseekers", "assessments", "skill_observations")
    }


def _upload(api: Api, who: str, path: str, files: dict[str, bytes]) -> Any:
    return api.client.post(
        path,
        headers=api.headers(who),
        files={name: (f"{name}.csv", content, "text/csv") for name, content in files.items()},
    )


def test_a_coach_imports_csv_files_all_or_nothing(api: Api) -> None:
    files = _coach_files(api, "A")
    imported = _upload(api, "coach", "/api/v1/coach/imports", files)
    assert imported.status_code == 201, imported.text
    counts = imported.json()
    assert counts["jobseekers"] == files["jobseekers"].count(b"\n") - 1
    assert counts["skill_observations"] > 0
    new_id = files["jobseekers"].decode().splitlines()[1].split(",")[0]
    assert api.get("coach", f"/api/v1/coach/jobseekers/{new_id}").status_code == 200
    assert api.get("coach", f"/api/v1/coach/jobseekers/{new_id}/matches").status_code == 200

    broken = _coach_files(api, "B")
    lines = broken["jobseekers"].decode().splitlines()
    lines[1] = lines[1].replace(",female,", ",robot,")
    lines[2] = lines[2].replace(",092,", ",9999,")
    broken["jobseekers"] = ("\n".join(lines) + "\n").encode()
    refused = _upload(api, "coach", "/api/v1/coach/imports", broken)
    assert refused.status_code == 422, refused.text
    where = {(e["loc"][1], e["loc"][2], e["loc"][3]) for e in refused.json()["errors"]}
    assert ("jobseekers", "2", "sex") in where
    assert ("jobseekers", "3", "home_municipality") in where
    refused_id = lines[1].split(",")[0]
    assert api.get("coach", f"/api/v1/coach/jobseekers/{refused_id}").status_code == 404


def test_imports_refuse_another_organisations_rows(api: Api) -> None:
    files = _coach_files(api, "C")
    foreign = _upload(api, "other-coach", "/api/v1/coach/imports", files)
    assert foreign.status_code == 422
    fields = {e["loc"][3] for e in foreign.json()["errors"]}
    assert {"organisation_id", "coach_id"} <= fields
    vacancies = _example("vacancies", {"VA900000": "VA9D0000"})
    employer = _upload(api, "employer", "/api/v1/employer/imports", {"vacancies": vacancies})
    assert employer.status_code == 422
    assert {e["loc"][3] for e in employer.json()["errors"]} >= {"supplier_id"}
    nothing = _upload(api, "employer", "/api/v1/employer/imports", {})
    assert nothing.status_code == 422


def test_a_disabled_token_is_refused_once_the_workers_cache_forgets_it(api: Api) -> None:
    from sqlalchemy import update

    from service.api.security import CallerCache, hash_token
    from service.storage.database import make_engine
    from service.storage.tables import User

    state = api.client.app.state.serving  # type: ignore[attr-defined]
    jobseeker = api.facts["jobseeker"]
    engine = make_engine(api.url)
    saved = state.callers
    try:
        state.callers = CallerCache(ttl_seconds=3600)
        assert api.get("other-coach", "/api/v1/coach/jobseekers").status_code == 200
        with engine.begin() as connection:
            connection.execute(
                update(User)
                .where(User.token_hash == hash_token("token-other-coach"))
                .values(active=False)
            )
        # Within the TTL the worker still trusts its answer ...
        assert api.get("other-coach", "/api/v1/coach/jobseekers").status_code == 200
        state.callers.clear()  # ... until the entry expires (here: forgotten at once)
        refused = api.get("other-coach", "/api/v1/coach/jobseekers")
        assert refused.status_code == 401 and "disabled" in refused.json()["detail"]
        assert api.get("coach", f"/api/v1/coach/jobseekers/{jobseeker}").status_code == 200
    finally:
        with engine.begin() as connection:
            connection.execute(
                update(User)
                .where(User.token_hash == hash_token("token-other-coach"))
                .values(active=True)
            )
        engine.dispose()
        state.callers = saved


def test_every_match_reads_as_a_band_documented_in_the_schema(api: Api) -> None:
    pid = api.facts["jobseeker"]
    answer = api.get("coach", f"/api/v1/coach/jobseekers/{pid}/matches", params={"k": 10}).json()
    assert answer["results"]
    for m in answer["results"]:
        assert m["band"] in ("strong", "good", "possible", "weak")
        assert m["band"] == score_band(m["probability"], m["score"])
    schema = api.client.get("/openapi.json").json()["components"]["schemas"]["MatchOut"]
    assert "band" in schema["required"]
    assert "strong" in schema["properties"]["band"]["description"]


def test_reference_search_answers_every_signed_in_role(api: Api) -> None:
    for who in ("coach", "employer", "procurement"):
        skills = api.get(who, "/api/v1/reference/skills", params={"q": "forklift", "limit": 3})
        assert skills.status_code == 200
        assert len(skills.json()) == 3
        assert skills.json()[0]["label"] == "operate forklift"
    alt = api.get("coach", "/api/v1/reference/skills", params={"q": "manage team"}).json()[0]
    assert (alt["label"], alt["matched_alt_label"]) == ("manage staff", "manage team")
    cook = api.get("employer", "/api/v1/reference/occupations", params={"q": "cook"}).json()[0]
    assert cook["label"] == "cook" and cook["matched_alt_label"] is None
    skills = api.get("employer", f"/api/v1/reference/occupations/{cook['uri']}/skills").json()
    assert skills["uri"] == cook["uri"] and skills["isco_code"]
    essential = [s for s in skills["skills"] if s["essential"]]
    assert essential and all(s["label"] for s in skills["skills"])
    assert skills["skills"][: len(essential)] == essential  # essential first
    unknown = api.get("coach", "/api/v1/reference/occupations/http://example.org/x/skills")
    assert unknown.status_code == 404
    assert api.client.get("/api/v1/reference/skills", params={"q": "x"}).status_code == 401
    empty = api.get("coach", "/api/v1/reference/skills", params={"q": ""})
    assert empty.status_code == 422


def test_a_page_of_vacancies_costs_the_same_queries_whatever_its_length(api: Api) -> None:
    """The vacancies' skills are read in one query for the page, not one per vacancy."""
    from sqlalchemy import event

    engine = api.client.app.state.serving.db  # type: ignore[attr-defined]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    def queries(limit: int) -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            answer = api.get("employer", "/api/v1/employer/vacancies", params={"limit": limit})
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()) == limit, "the employer should have this many vacancies"
        return len(statements)

    queries(8)  # the first request also looks the caller's token up
    assert queries(2) == queries(8)
