"""The coach's pages: each renders for the coach's own person and is 404 for another
organisation's; forms change what the JSON API reads; invalid input is refused beside the field."""

from __future__ import annotations

import html
import re
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from matching.domain import TargetGroup
from matching.eligibility import decide, rules_for
from matching.engine import Explanation, Match, SkillEvidence
from service.api.security import Caller
from service.operations import coaching
from service.operations.coaching import CaseloadQuery
from service.storage.database import make_engine, make_session_factory
from service.storage.tables import EmploymentConditionRecord, JobseekerRecord, Role
from tests.web.conftest import Web

FORKLIFT = (
    "http://data.europa.eu/esco/skill/28cb374e-6261-4133-8371-f9a5470145da"  # operate forklift
)


def _person(web: Web) -> str:
    return str(web.facts["jobseeker"])


def _pages(person: str, vacancy: str) -> list[str]:
    base = f"/app/coach/jobseekers/{person}"
    return [
        base,
        f"{base}/assessments/new",
        f"{base}/matches",
        f"{base}/plan",
        f"{base}/outcomes",
        f"{base}/vacancies/{vacancy}/propose",
        f"{base}/vacancies/{vacancy}/feedback",
    ]


def _text(page: Any) -> str:
    return html.unescape(page.text)


def test_each_page_renders_for_the_own_person_and_is_404_for_another_organisation(
    web: Web,
) -> None:
    mine = web.signed_in("coach")
    theirs = web.signed_in("other-coach")
    caseload = mine.get("/app/coach/")
    assert caseload.status_code == 200
    profile = web.get("coach", f"/api/v1/coach/jobseekers/{_person(web)}").json()
    for path in _pages(_person(web), str(web.facts["vacancy"])):
        page = mine.get(path)
        assert page.status_code == 200, (path, page.text[:500])
        assert profile["last_name"] in _text(page), path
        foreign = theirs.get(path)
        assert foreign.status_code == 404, path
        assert profile["last_name"] not in _text(foreign), path
    # An employer is refused the coach's section altogether.
    assert web.signed_in("employer").get("/app/coach/").status_code == 403


def test_the_caseload_finds_a_person_by_part_of_the_name_and_links_to_them(web: Web) -> None:
    coach = web.signed_in("coach")
    profile = web.get("coach", f"/api/v1/coach/jobseekers/{_person(web)}").json()
    part = profile["last_name"][1:4].upper()
    page = coach.get("/app/coach/", params={"q": part, "sort": "name"})
    assert page.status_code == 200
    assert f'href="/app/coach/jobseekers/{_person(web)}"' in page.text
    names = re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a></th>', page.text)
    assert names and all(part.lower() in html.unescape(n).lower() for n in names)
    assert names == sorted(names, key=lambda n: html.unescape(n).split(",")[0]) or len(names) == 1


def test_an_unknown_filter_value_is_refused_beside_its_field(web: Web) -> None:
    page = web.signed_in("coach").get("/app/coach/", params={"group": "wizards"})
    assert page.status_code == 422
    assert 'id="group" name="group" aria-invalid="true" aria-describedby="group-error"' in page.text
    assert 'id="group-error"' in page.text


def _caller(web: Web) -> Caller:
    return Caller(1, "coach", Role.COACH, str(web.facts["org"]))


def _members(rows: list[Any], groups: frozenset[TargetGroup], on: date) -> set[str]:
    """People who belong to any of ``groups`` on ``on``, by matching.eligibility itself."""
    rules = rules_for(groups, on)
    found = set()
    for row in rows:
        person = SimpleNamespace(
            unemployment_start=row.unemployment_start,
            birth_year=row.birth_year,
            migrant_background=row.migrant_background,
            work_capacity=SimpleNamespace(
                is_partial=bool(row.restrictions)
                or (row.max_hours_per_week is not None and row.max_hours_per_week < 37.5)
            ),
        )
        if any(decide(rule, person, on).member for rule in rules):  # type: ignore[arg-type]
            found.add(row.jobseeker_id)
    return found


def test_caseload_filters_agree_with_the_eligibility_rules(web: Web) -> None:
    state = web.app.state.serving
    today = state.today
    engine = make_engine(web.url)
    try:
        with make_session_factory(engine)() as session:
            rows = session.scalars(
                select(JobseekerRecord).where(JobseekerRecord.organisation_id == web.facts["org"])
            ).all()
            conditions = session.scalars(
                select(EmploymentConditionRecord.target_groups).where(
                    EmploymentConditionRecord.deadline >= today
                )
            ).all()
            condition_groups = frozenset(TargetGroup(g) for gs in conditions for g in gs)

            def listed(query: CaseloadQuery) -> set[str]:
                first = coaching.list_caseload(session, state, _caller(web), query)
                ids = {r.jobseeker_id for r in first.rows}
                for page in range(2, first.pages + 1):
                    more = coaching.list_caseload(
                        session,
                        state,
                        _caller(web),
                        CaseloadQuery(**{**query.__dict__, "page": page}),
                    )
                    ids |= {r.jobseeker_id for r in more.rows}
                assert len(ids) == first.total
                return ids

            assert listed(CaseloadQuery()) == {r.jobseeker_id for r in rows}
            for group in TargetGroup:
                expected = _members(list(rows), frozenset({group}), today)
                assert listed(CaseloadQuery(group=group)) == expected, group
            now = _members(list(rows), condition_groups, today)
            later = _members(list(rows), condition_groups, date.fromordinal(today.toordinal() + 90))
            assert listed(CaseloadQuery(eligibility="now")) == now
            assert listed(CaseloadQuery(eligibility="soon")) == later - now
            first = coaching.list_caseload(session, state, _caller(web), CaseloadQuery())
            days = [r.days_unemployed for r in first.rows if r.days_unemployed is not None]
            assert days == sorted(days, reverse=True)
            shortest = coaching.list_caseload(
                session, state, _caller(web), CaseloadQuery(sort="days_asc")
            )
            days = [r.days_unemployed for r in shortest.rows if r.days_unemployed is not None]
            assert days == sorted(days)
    finally:
        engine.dispose()


def test_the_skill_search_fragment_lists_matching_skills_as_add_buttons(web: Web) -> None:
    coach = web.signed_in("coach")
    page = coach.get("/app/coach/skill-search", params={"skill_query": "forklift"})
    assert page.status_code == 200
    assert "<html" not in page.text  # a fragment for htmx
    assert f'name="add_skill" value="{FORKLIFT}"' in page.text
    assert "operate forklift" in page.text
    # An alternative label is found too, and said.
    alt = coach.get("/app/coach/skill-search", params={"q": "manage team"})
    assert "manage staff" in alt.text and "manage team" in alt.text
    assert "No skill matches" in coach.get("/app/coach/skill-search?q=qqqzzz").text


def _assessment_form(web: Web, coach: Any) -> tuple[str, str]:
    path = f"/app/coach/jobseekers/{_person(web)}/assessments"
    form = coach.get(path + "/new")
    assert form.status_code == 200
    assert 'hx-get="/app/coach/skill-search"' in form.text
    assert '<label for="skill_query">' in form.text
    return path, web.csrf(form)


def test_recording_an_assessment_through_the_form_changes_the_skill_profile(web: Web) -> None:
    coach = web.signed_in("coach")
    path, token = _assessment_form(web, coach)
    # Without JavaScript: search, then add the skill; nothing is saved yet.
    searched = coach.post(
        path, data={"csrf_token": token, "skill_query": "forklift", "action": "search"}
    )
    assert searched.status_code == 200
    assert f'name="add_skill" value="{FORKLIFT}"' in searched.text
    missed = coach.post(path, data={"csrf_token": token, "skill_query": "qqzz", "action": "search"})
    assert "No skill matches “qqzz”." in _text(missed)
    added = coach.post(path, data={"csrf_token": token, "add_skill": FORKLIFT})
    assert added.status_code == 200
    assert f'name="skill_uri" value="{FORKLIFT}"' in added.text
    before = web.get("coach", f"/api/v1/coach/jobseekers/{_person(web)}/assessments").json()
    day = web.app.state.serving.today.isoformat()
    saved = coach.post(
        path,
        data={
            "csrf_token": token,
            "skill_uri": FORKLIFT,
            "level": "3",
            "assessed_on": day,
            "method": "work_trial",
            "note": "Forklift work trial at the depot",
            "working_life_punctuality": "4",
            "action": "save",
        },
    )
    assert saved.status_code == 303, saved.text[:800]
    assert saved.headers["location"] == f"/app/coach/jobseekers/{_person(web)}?saved=assessment"
    after = web.get("coach", f"/api/v1/coach/jobseekers/{_person(web)}/assessments").json()
    assert len(after) == len(before) + 1
    new = next(a for a in after if a["note"] == "Forklift work trial at the depot")
    assert new["observations"] == [{"skill_uri": FORKLIFT, "level": 3, "confidence": 1.0}]
    assert new["working_life"] == [{"skill": "punctuality", "level": 4}]
    profile = coach.get(f"/app/coach/jobseekers/{_person(web)}")
    text = _text(profile)
    assert "operate forklift" in text
    row = text[text.index("operate forklift") :].split("</tr>")[0]
    assert "Work trial" in row and "level 3" in row
    # The edit form shows the stored skill; saving it without skills replaces the observations.
    edit = coach.get(f"{path}/{new['assessment_id']}")
    assert f'name="skill_uri" value="{FORKLIFT}"' in edit.text
    corrected = coach.post(
        f"{path}/{new['assessment_id']}",
        data={"csrf_token": token, "assessed_on": day, "method": "observation", "action": "save"},
    )
    assert corrected.status_code == 303
    stored = web.get("coach", f"/api/v1/coach/jobseekers/{_person(web)}/assessments").json()
    fixed = next(a for a in stored if a["assessment_id"] == new["assessment_id"])
    assert fixed["observations"] == [] and fixed["method"] == "observation"


def test_an_assessment_dated_after_today_is_refused_beside_the_date(web: Web) -> None:
    coach = web.signed_in("coach")
    path, token = _assessment_form(web, coach)
    before = web.get("coach", f"/api/v1/coach/jobseekers/{_person(web)}/assessments").json()
    refused = coach.post(
        path,
        data={
            "csrf_token": token,
            "skill_uri": FORKLIFT,
            "level": "2",
            "assessed_on": "2999-01-01",
            "method": "test",
            "action": "save",
        },
    )
    assert refused.status_code == 422
    assert 'aria-invalid="true" aria-describedby="assessed_on-error"' in refused.text
    assert 'id="assessed_on-error"' in refused.text
    # What was entered is kept.
    assert f'name="skill_uri" value="{FORKLIFT}"' in refused.text
    after = web.get("coach", f"/api/v1/coach/jobseekers/{_person(web)}/assessments").json()
    assert len(after) == len(before)
    no_method = coach.post(
        path, data={"csrf_token": token, "assessed_on": "2020-01-01", "action": "save"}
    )
    assert no_method.status_code == 422 and 'id="method-error"' in no_method.text


@pytest.fixture(scope="module")
def busy(web: Web) -> str:
    """A person of the coach's organisation with many matches (the engine asked directly)."""
    state = web.app.state.serving
    people = web.get("coach", "/api/v1/coach/jobseekers", params={"limit": 300}).json()

    def matches(person: str) -> int:
        if not state.in_matching(person):
            return 0
        found = state.engine.matches_for_jobseeker(person, k=30, on=state.today, with_factors=False)
        return sum(1 for m in found.results if m.explanation.missing_skills)

    return str(max((p["jobseeker_id"] for p in people), key=matches))


def _open_vacancy_of_matches(web: Web, person: str, index: int) -> str:
    answer = web.get("coach", f"/api/v1/coach/jobseekers/{person}/matches").json()
    return str(answer["results"][index]["vacancy_id"])


def test_proposing_without_consent_is_refused_with_a_field_message(web: Web, busy: str) -> None:
    coach = web.signed_in("coach")
    vacancy = _open_vacancy_of_matches(web, busy, 0)
    path = f"/app/coach/jobseekers/{busy}/vacancies/{vacancy}/propose"
    token = web.csrf(coach.get(path))
    before = web.get("coach", f"/api/v1/coach/jobseekers/{busy}/proposals").json()
    refused = coach.post(
        path,
        data={"csrf_token": token, "consent_given_at": "", "consent_method": "", "note": "x"},
    )
    assert refused.status_code == 422
    for field in ("consent", "consent_given_at", "consent_method"):
        assert f'id="{field}-error"' in refused.text, field
    assert 'id="consent" name="consent" type="checkbox" value="yes" aria-invalid="true"' in (
        refused.text
    )
    # Consent recorded in the future, or before the person registered: refused beside the date.
    for moment, message in (
        ("2999-01-01T10:00", "cannot be in the future"),
        ("1990-01-01T10:00", "older than the person's registration"),
    ):
        dated = coach.post(
            path,
            data={
                "csrf_token": token,
                "consent": "yes",
                "consent_given_at": moment,
                "consent_method": "verbal",
            },
        )
        assert dated.status_code == 422
        assert 'id="consent_given_at-error"' in dated.text
        assert message in _text(dated)
        assert 'id="consent-error"' not in dated.text
    after = web.get("coach", f"/api/v1/coach/jobseekers/{busy}/proposals").json()
    assert after == before


def test_proposing_with_consent_creates_the_proposal(web: Web, busy: str) -> None:
    coach = web.signed_in("coach")
    answer = web.get("coach", f"/api/v1/coach/jobseekers/{busy}/matches").json()
    vacancy, title = answer["results"][1]["vacancy_id"], answer["results"][1]["title"]
    path = f"/app/coach/jobseekers/{busy}/vacancies/{vacancy}/propose"
    form = coach.get(path)
    assert title in _text(form)
    token = web.csrf(form)
    day = web.app.state.serving.today.isoformat()
    created = coach.post(
        path,
        data={
            "csrf_token": token,
            "consent": "yes",
            "consent_given_at": f"{day}T09:30",
            "consent_method": "written",
            "note": "Interested in the warehouse shifts",
        },
    )
    assert created.status_code == 303, created.text[:800]
    proposals = web.get("coach", f"/api/v1/coach/jobseekers/{busy}/proposals").json()
    mine = [p for p in proposals if p["vacancy_id"] == vacancy]
    assert len(mine) == 1
    assert mine[0]["consent_method"] == "written"
    assert mine[0]["note"] == "Interested in the warehouse shifts"
    outcomes = coach.get(created.headers["location"])
    assert outcomes.status_code == 200
    assert "has been proposed" in outcomes.text
    assert title in _text(outcomes)
    # A second proposal to the same vacancy conflicts (the error page, nothing written).
    again = coach.post(
        path,
        data={
            "csrf_token": token,
            "consent": "yes",
            "consent_given_at": f"{day}T10:00",
            "consent_method": "verbal",
        },
    )
    assert again.status_code == 409


def test_feedback_needs_a_reason_code(web: Web, busy: str) -> None:
    coach = web.signed_in("coach")
    vacancy = _open_vacancy_of_matches(web, busy, 2)
    path = f"/app/coach/jobseekers/{busy}/vacancies/{vacancy}/feedback"
    form = coach.get(path)
    assert 'name="reason_code" type="radio" value="commute"' in form.text
    token = web.csrf(form)
    refused = coach.post(path, data={"csrf_token": token, "comment": "too far"})
    assert refused.status_code == 422 and 'id="reason_code-error"' in refused.text
    saved = coach.post(path, data={"csrf_token": token, "reason_code": "commute"})
    assert saved.status_code == 303
    assert saved.headers["location"].endswith("/matches?saved=feedback")


def test_the_matches_page_shows_band_reasons_gaps_and_the_distance_line(
    web: Web, busy: str
) -> None:
    coach = web.signed_in("coach")
    answer = web.get("coach", f"/api/v1/coach/jobseekers/{busy}/matches").json()
    page = coach.get(f"/app/coach/jobseekers/{busy}/matches")
    assert page.status_code == 200
    text = _text(page)
    bands = {"strong": "Strong match", "good": "Good match", "possible": "Possible match"}
    for m in answer["results"]:
        article = text[text.index(f'id="match-{m["rank"]}"') :].split("</article>")[0]
        assert bands.get(m["band"], "Weak match") in article
        assert f"{round(m['explanation']['distance_km'])} km" in article
        area = "same employment area" if m["explanation"]["same_labour_area"] else "another"
        assert area in article
        for gap in m["explanation"]["skill_gaps"]:
            assert gap["label"].strip() in article


def test_the_plan_lists_the_gaps_of_the_near_miss_vacancies(web: Web, busy: str) -> None:
    coach = web.signed_in("coach")
    answer = web.get(
        "coach",
        f"/api/v1/coach/jobseekers/{busy}/matches",
        params={"k": coaching.PLAN_MATCHES, "factors": "false"},
    ).json()
    counts: dict[str, int] = {}
    for m in answer["results"]:
        for gap in m["explanation"]["skill_gaps"]:
            counts[gap["label"].strip()] = counts.get(gap["label"].strip(), 0) + 1
    page = coach.get(f"/app/coach/jobseekers/{busy}/plan")
    assert page.status_code == 200
    assert "data-print" in page.text
    rows = re.findall(r'<th scope="row">([^<]+)</th>\s*<td class="number">(\d+)</td>', page.text)
    assert {html.unescape(label).strip(): int(n) for label, n in rows} == counts
    assert [int(n) for _, n in rows] == sorted((int(n) for _, n in rows), reverse=True)


@pytest.mark.parametrize("locale", ["fi", "sv"])
def test_the_caseload_speaks_the_users_language(web: Web, locale: str) -> None:
    coach = web.signed_in("coach")
    token = web.csrf(coach.get("/app/coach/"))
    switch = {"csrf_token": token, "next": "/app/coach/"}
    coach.post("/app/language", data={**switch, "locale": locale})
    try:
        translated = coach.get("/app/coach/")
        assert f'<html lang="{locale}">' in translated.text
        assert "Longest unemployed first" not in translated.text
        expected = {"fi": "Pisimpään työttömänä olleet ensin", "sv": "Längst arbetslösa först"}
        assert expected[locale] in translated.text
    finally:
        # The choice is the user's, kept for their later sessions: the other tests read English.
        coach.post("/app/language", data={**switch, "locale": "en"})


def _match(rank: int, missing: list[tuple[int, str, int]]) -> Match:
    gaps = tuple(
        SkillEvidence(skill, label, level, 0.0, 0.0, None, None) for skill, label, level in missing
    )
    explanation = Explanation(
        (), gaps, 5.0, True, True, "Helsinki", "Helsinki", None, None, None, None, ()
    )
    return Match("JS1", f"VA{rank}", rank, 1.0 / rank, explanation)


def test_the_plan_counts_each_missing_skill_across_the_near_miss_vacancies() -> None:
    uris = ["s0", "s1", "s2", "s3"]
    results = [
        _match(1, [(0, "welding", 2), (1, "forklift", 1)]),
        _match(2, []),  # no gap: not a near miss
        _match(3, [(1, "forklift", 3)]),
        _match(4, [(2, "Finnish", 2), (0, "welding", 3)]),
        _match(5, [(3, "first aid", 1)]),
    ]
    near, gaps = coaching.plan_gaps(results, uris)
    assert near == 4
    # welding and forklift are each missing in 2 vacancies; forklift is the only gap of one
    # of them, so it comes first; then the skills missing once, only gaps first, by label.
    assert [(g.skill_uri, g.label, g.vacancies, g.only_gap, g.required_level) for g in gaps] == [
        ("s1", "forklift", 2, 1, 3),
        ("s0", "welding", 2, 0, 3),
        ("s3", "first aid", 1, 1, 1),
        ("s2", "Finnish", 1, 0, 2),
    ]
    assert coaching.plan_gaps([_match(1, [])], uris) == (0, [])


def test_reporting_outcomes_stores_a_decline_and_claims_an_interview(web: Web, busy: str) -> None:
    coach = web.signed_in("coach")
    answer = web.get("coach", f"/api/v1/coach/jobseekers/{busy}/matches").json()
    vacancy = answer["results"][3]["vacancy_id"]
    day = web.app.state.serving.today.isoformat()
    created = web.post(
        "coach",
        f"/api/v1/coach/jobseekers/{busy}/proposals",
        {"vacancy_id": vacancy, "consent_given_at": f"{day}T08:00:00", "consent_method": "verbal"},
    )
    assert created.status_code == 201, created.text
    path = f"/app/coach/jobseekers/{busy}/outcomes"
    form = coach.get(path)
    assert f'<option value="{vacancy}"' in form.text
    token = web.csrf(form)
    base = {"csrf_token": token, "vacancy_id": vacancy, "occurred_on": day}
    no_reason = coach.post(path, data={**base, "stage": "declined_by_jobseeker"})
    assert no_reason.status_code == 422 and 'id="reason-error"' in no_reason.text
    claimed = coach.post(path, data={**base, "stage": "interviewed"})
    assert claimed.status_code == 303
    assert claimed.headers["location"].endswith("/outcomes?saved=claim")
    claims = web.get("coach", f"/api/v1/coach/jobseekers/{busy}/outcome-claims").json()
    assert [
        (c["vacancy_id"], c["stage"], c["status"]) for c in claims if c["vacancy_id"] == vacancy
    ] == [(vacancy, "interviewed", "pending")]
    declined = coach.post(path, data={**base, "stage": "declined_by_jobseeker", "reason": "hours"})
    assert declined.status_code == 303
    page = _text(coach.get(declined.headers["location"]))
    assert "Waiting for the employer" in page
    assert "Declined by the person" in page and "Working hours" in page
