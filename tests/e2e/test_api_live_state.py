"""Live state through the HTTP API: hires and ended employments, on every worker.

Who is in work and which vacancies are filled is derived from outcome events. A hire recorded
through one worker must take the person out of every later answer of every worker (a second
worker with an engine of its own catches up through the change feed, as a second host would),
count toward the vacancy's openings, and fill the vacancy once it has as many hires as
openings; an ended employment brings the person back. Each test makes its own people and
vacancies (in the person's home municipality, with the skills the person was observed to
have), so the tests do not depend on each other's order. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from matching.scoring import Direction, RuleBasedScorer
from service.api.app import build_state, create_app
from service.api.runtime import ServingState
from service.api.security import pseudonym
from service.operations.bands import score_band
from service.storage.database import make_engine
from service.storage.exposure_log import MATCHES_KIND, SHORTLIST_KIND, audited_exposures
from service.storage.tables import Change, OutcomeRecord
from tests.e2e.conftest import Api
from tests.e2e.test_api import _contract_body, new_jobseeker

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api-live-state")]


# ---- a second worker, and what both serve ---------------------------------------------------


@pytest.fixture(scope="module")
def second(api: Api) -> Iterator[Api]:
    """A second worker with an engine of its own, built from the database before any test
    of this module writes: it learns of every later write through the change feed only."""
    state = build_state(api.settings)
    try:
        with TestClient(create_app(api.settings, state)) as client:
            yield Api(client, api.world, api.url, api.facts, api.settings)
    finally:
        state.db.dispose()


def serving(api: Api) -> ServingState:
    state: ServingState = api.client.app.state.serving  # type: ignore[attr-defined]
    return state


def instant(api: Api, days_before_today: int) -> str:
    """An ISO instant ``days_before_today`` before the day the workers serve (09:00 UTC)."""
    day = serving(api).today - timedelta(days=days_before_today)
    return datetime.combine(day, clock(9), tzinfo=UTC).isoformat()


def vacancy_body(api: Api, openings: int, **changes: Any) -> dict[str, Any]:
    """A vacancy in the test people's home municipality, requiring the shared vacancy's skills."""
    skills = api.world.vacancy_skills
    skills = skills[skills["vacancy_id"] == api.facts["vacancy"]]
    today = serving(api).today
    body = {
        "occupation_uri": str(
            api.world.vacancies.set_index("vacancy_id").loc[api.facts["vacancy"], "occupation_uri"]
        ),
        "title": "Greenhouse worker",
        "municipality": api.facts["municipality"],
        "job_form": "employment",
        "opens_on": str(today - timedelta(days=30)),
        "closes_on": str(today + timedelta(days=60)),
        "openings": openings,
        "skills": [
            {"skill_uri": str(u), "required": True, "min_level": 2} for u in skills["skill_uri"]
        ],
    }
    return body | changes


def new_vacancy(api: Api, openings: int, **changes: Any) -> str:
    body = vacancy_body(api, openings, **changes)
    made = api.post("employer", "/api/v1/employer/vacancies", body)
    assert made.status_code == 201, made.text
    vacancy_id: str = made.json()["vacancy_id"]
    return vacancy_id


def assessed_person(api: Api) -> str:
    """A long-term unemployed person observed at a work trial to hold the vacancies' skills."""
    person = new_jobseeker(api, unemployment_start="2020-01-01", first_name="Live")
    pid: str = person["jobseeker_id"]
    skills = api.world.vacancy_skills
    skills = skills[skills["vacancy_id"] == api.facts["vacancy"]]
    assessment = {
        "assessed_on": str(serving(api).today - timedelta(days=60)),
        "method": "work_trial",
        "observations": [
            {"skill_uri": str(uri), "level": 4, "confidence": 0.9} for uri in skills["skill_uri"]
        ],
    }
    created = api.post("coach", f"/api/v1/coach/jobseekers/{pid}/assessments", assessment)
    assert created.status_code == 201, created.text
    return pid


def propose(api: Api, pid: str, vacancy: str) -> None:
    proposal = {
        "vacancy_id": vacancy,
        "consent_given_at": datetime.now(UTC).isoformat(),
        "consent_method": "written",
    }
    made = api.post("coach", f"/api/v1/coach/jobseekers/{pid}/proposals", proposal)
    assert made.status_code == 201, made.text


def employer_outcome(api: Api, pid: str, vacancy: str, stage: str, when: str) -> Any:
    candidate = pseudonym(serving(api).pseudonym_key, vacancy, pid)
    return api.post(
        "employer",
        f"/api/v1/employer/vacancies/{vacancy}/outcomes",
        {"candidate": candidate, "stage": stage, "occurred_at": when},
    )


def coach_outcome(api: Api, pid: str, vacancy: str, stage: str, when: str) -> Any:
    return api.post(
        "coach",
        f"/api/v1/coach/jobseekers/{pid}/outcomes",
        {"vacancy_id": vacancy, "stage": stage, "occurred_at": when},
    )


def shortlist(api: Api, vacancy: str) -> dict[str, Any]:
    response = api.get(
        "employer", f"/api/v1/employer/vacancies/{vacancy}/shortlist", params={"k": 100}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def shortlisted(api: Api, vacancy: str, pid: str) -> bool:
    name = pseudonym(serving(api).pseudonym_key, vacancy, pid)
    return name in {c["candidate"] for c in shortlist(api, vacancy)["results"]}


def matched(api: Api, pid: str) -> list[str]:
    """The vacancies of the person's matches answer (the best 100)."""
    response = api.get("coach", f"/api/v1/coach/jobseekers/{pid}/matches", params={"k": 100})
    assert response.status_code == 200, response.text
    return [m["vacancy_id"] for m in response.json()["results"]]


def engine_column(api: Api, column: str, vacancy: str) -> float:
    """A vacancy's value in the worker's engine (after an answer made it catch up)."""
    vacancies = serving(api).engine.data.vacancies
    return float(vacancies[column][vacancies.row(vacancy)])


def feed_after(api: Api, seq: int) -> set[tuple[str, str]]:
    engine = make_engine(api.url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Change.entity, Change.entity_id).where(Change.seq > seq)
            ).all()
    finally:
        engine.dispose()
    return {(str(entity), str(entity_id)) for entity, entity_id in rows}


def counts(api: Api) -> tuple[int, int]:
    """(outcome events, the newest change-feed row) in the database."""
    engine = make_engine(api.url)
    try:
        with engine.connect() as connection:
            outcomes = connection.scalar(select(func.count()).select_from(OutcomeRecord)) or 0
            newest = connection.scalar(select(func.max(Change.seq))) or 0
    finally:
        engine.dispose()
    return int(outcomes), int(newest)


# ---- hires ----------------------------------------------------------------------------------


def test_a_hire_takes_the_person_out_of_every_workers_answers(api: Api, second: Api) -> None:
    vacancy = new_vacancy(api, openings=2)
    pid = assessed_person(api)
    for worker in (api, second):
        assert shortlisted(worker, vacancy, pid)
        assert vacancy in matched(worker, pid)
    propose(api, pid, vacancy)
    _, seq = counts(api)

    hired = employer_outcome(api, pid, vacancy, "hired", instant(api, 10))
    assert hired.status_code == 201, hired.text
    # One transaction wrote the event and told every worker about both sides.
    assert {("jobseeker", pid), ("vacancy", vacancy)} <= feed_after(api, seq)

    for worker in (api, second):
        assert not shortlisted(worker, vacancy, pid)
        assert matched(worker, pid) == []  # in work: out of matching in this direction too
        # The hire counts toward the openings; one of two is still open.
        assert engine_column(worker, "hires", vacancy) == 1.0
        assert shortlist(worker, vacancy)["results"], "one opening is left"
        assert not serving(worker).in_matching(pid)


def test_a_vacancy_whose_openings_are_filled_leaves_matching(api: Api, second: Api) -> None:
    vacancy = new_vacancy(api, openings=1)
    hired, waiting = assessed_person(api), assessed_person(api)
    for worker in (api, second):
        assert vacancy in matched(worker, waiting)
    # The employer records the hire of a person proposed there.
    propose(api, hired, vacancy)
    made = employer_outcome(api, hired, vacancy, "hired", instant(api, 8))
    assert made.status_code == 201, made.text

    for worker in (api, second):
        assert vacancy not in matched(worker, waiting)
        filled = shortlist(worker, vacancy)
        assert filled["results"] == [] and filled["candidates"] == 0
        assert engine_column(worker, "hires", vacancy) == engine_column(worker, "openings", vacancy)
    # The person left waiting is still in matching.
    assert matched(api, waiting)


def test_a_hire_under_a_condition_updates_what_every_vacancy_of_it_owes(
    api: Api, second: Api
) -> None:
    contract = api.post(
        "procurement", "/api/v1/procurement/contracts", _contract_body(api)
    ).json()  # long-term unemployed or young, 3 hires, employment or apprenticeship
    condition = contract["conditions"][0]["condition_id"]
    under = {"contract_id": contract["contract_id"], "condition_id": condition}
    hiring, sibling = new_vacancy(api, 2, **under), new_vacancy(api, 2, **under)
    pid = assessed_person(api)
    for worker in (api, second):
        assert shortlisted(worker, sibling, pid)
        assert engine_column(worker, "hires_owed", sibling) == 3.0
    propose(api, pid, hiring)
    _, seq = counts(api)

    made = employer_outcome(api, pid, hiring, "hired", instant(api, 5))
    assert made.status_code == 201, made.text
    assert {("vacancy", hiring), ("vacancy", sibling), ("jobseeker", pid)} <= feed_after(api, seq)
    for worker in (api, second):
        shortlist(worker, sibling)  # catches up
        assert engine_column(worker, "hires_owed", sibling) == 2.0
        assert engine_column(worker, "hires", sibling) == 0.0  # hired at the other vacancy
        assert engine_column(worker, "hires", hiring) == 1.0


# ---- ended employments ----------------------------------------------------------------------


def test_an_ended_employment_brings_the_person_back(api: Api, second: Api) -> None:
    vacancy = new_vacancy(api, openings=2)
    pid = assessed_person(api)
    propose(api, pid, vacancy)
    assert employer_outcome(api, pid, vacancy, "hired", instant(api, 20)).status_code == 201
    for worker in (api, second):
        assert not shortlisted(worker, vacancy, pid)
        assert matched(worker, pid) == []
    _, seq = counts(api)

    ended = employer_outcome(api, pid, vacancy, "employment_ended", instant(api, 3))
    assert ended.status_code == 201, ended.text
    assert ended.json()["stage"] == "employment_ended"
    assert {("jobseeker", pid), ("vacancy", vacancy)} <= feed_after(api, seq)
    for worker in (api, second):
        assert shortlisted(worker, vacancy, pid)
        assert serving(worker).in_matching(pid)
        assert vacancy in matched(worker, pid)
        # The person was hired there once: the hire still counts toward the openings.
        assert engine_column(worker, "hires", vacancy) == 1.0


def test_registering_as_unemployed_again_ends_the_employment(api: Api, second: Api) -> None:
    """A coach who updates the spell's start after a hire (the person registered again) brings
    the person back without an ``employment_ended`` event, as a whole-world build would."""
    vacancy = new_vacancy(api, openings=2)
    pid = assessed_person(api)
    propose(api, pid, vacancy)
    assert employer_outcome(api, pid, vacancy, "hired", instant(api, 20)).status_code == 201
    assert matched(second, pid) == []
    person = api.get("coach", f"/api/v1/coach/jobseekers/{pid}").json()
    body = {
        name: value
        for name, value in person.items()
        if name not in ("jobseeker_id", "coach_id", "organisation_id")
    }
    registered = serving(api).today - timedelta(days=7)
    changed = api.client.put(
        f"/api/v1/coach/jobseekers/{pid}",
        headers=api.headers("coach"),
        json=body | {"unemployment_start": str(registered)},
    )
    assert changed.status_code == 200, changed.text
    for worker in (api, second):
        assert shortlisted(worker, vacancy, pid)
        assert serving(worker).in_matching(pid)


def test_employment_ended_without_a_hire_is_refused_and_writes_nothing(api: Api) -> None:
    vacancy = new_vacancy(api, openings=1)
    pid = assessed_person(api)
    propose(api, pid, vacancy)
    before = counts(api)

    by_coach = coach_outcome(api, pid, vacancy, "employment_ended", instant(api, 2))
    assert by_coach.status_code == 422, by_coach.text
    problem = by_coach.json()["errors"][0]
    assert problem["loc"] == ["body", "stage"] and "hire" in problem["msg"]
    by_employer = employer_outcome(api, pid, vacancy, "employment_ended", instant(api, 2))
    assert by_employer.status_code == 422, by_employer.text
    assert by_employer.json()["errors"][0]["loc"] == ["body", "stage"]
    assert counts(api) == before

    # A hire recorded later than the end it would need is no prior hire either.
    assert employer_outcome(api, pid, vacancy, "hired", instant(api, 4)).status_code == 201
    after_hire = counts(api)
    too_early = coach_outcome(api, pid, vacancy, "employment_ended", instant(api, 6))
    assert too_early.status_code == 422, too_early.text
    assert too_early.json()["errors"][0]["loc"] == ["body", "occurred_at"]
    assert counts(api) == after_hire
    # An unknown stage is refused by the schema, naming the field.
    unknown = coach_outcome(api, pid, vacancy, "fired", instant(api, 2))
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["loc"] == ["body", "stage"]


def test_statistics_answer_after_hires_and_ended_employments(api: Api) -> None:
    vacancy = new_vacancy(api, openings=1)  # no employment condition
    pid = assessed_person(api)
    propose(api, pid, vacancy)
    assert employer_outcome(api, pid, vacancy, "hired", instant(api, 9)).status_code == 201
    # The job ended: the jobseeker's side knows, the coach records it directly.
    assert coach_outcome(api, pid, vacancy, "employment_ended", instant(api, 1)).status_code == 201
    serving(api).caches.clear()  # the statistics' fact tables are rebuilt from the database
    statistics = api.get("procurement", "/api/v1/statistics/indicators", params={"by": "buyer"})
    assert statistics.status_code == 200, statistics.text


# ---- the readable score ---------------------------------------------------------------------


class CalibratedRules(RuleBasedScorer):
    """The rules, pretending to be calibrated: the probability is the score clipped to [0, 1]."""

    version = "rules-calibrated-test"

    def probability(
        self, direction: Direction, scores: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64] | None:
        return np.clip(scores, 0.0, 1.0)


def test_answers_carry_a_probability_beside_the_score(api: Api) -> None:
    vacancy = new_vacancy(api, openings=3)
    pid = assessed_person(api)
    path = f"/api/v1/coach/jobseekers/{pid}/matches"
    rules = api.get("coach", path, params={"k": 5}).json()
    assert rules["results"]
    assert all("probability" in m and m["probability"] is None for m in rules["results"])
    # Without a calibrated model the band reads the rule score.
    assert all(m["band"] == score_band(None, m["score"]) for m in rules["results"])
    listed = shortlist(api, vacancy)["results"]
    assert listed and all(c["probability"] is None for c in listed)

    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("MatchOut", "CandidateOut"):
        field = schemas[name]["properties"]["probability"]
        assert "calibrated probability" in field["description"]
        assert {"type": "null"} in field["anyOf"]

    state = serving(api)
    saved_interval = state.model_check_seconds
    state.engine.set_scorer(CalibratedRules(state.engine.feature_names))
    state.model_check_seconds = 3600.0  # keep the test's model: no champion check meanwhile
    state._checked_at = time.monotonic()
    try:
        calibrated = api.get("coach", path, params={"k": 5}).json()
        assert calibrated["model_version"] == CalibratedRules.version
        for m in calibrated["results"]:
            assert m["probability"] == pytest.approx(min(max(m["score"], 0.0), 1.0))
            assert m["band"] == score_band(m["probability"], m["score"])
        for c in shortlist(api, vacancy)["results"]:
            assert c["probability"] == pytest.approx(min(max(c["score"], 0.0), 1.0), abs=1e-6)
    finally:
        state.model_check_seconds = saved_interval
        state.check_model(force=True)  # back to what the registry says (the rules)
    assert serving(api).model_version == RuleBasedScorer.version


# ---- exposures ------------------------------------------------------------------------------


def test_coaches_matches_become_exposures_of_their_own_kind(api: Api) -> None:
    vacancy = new_vacancy(api, openings=2)
    pid = assessed_person(api)
    served = api.get("coach", f"/api/v1/coach/jobseekers/{pid}/matches", params={"k": 5}).json()
    shown = [m["vacancy_id"] for m in served["results"]]
    assert shown
    entry = api.get("admin", "/api/v1/admin/audit", params={"limit": 1000}).json()[-1]
    # Named by pseudonym in the entry; the exposure log maps it back to the person.
    assert entry["route"] == "coach.matches" and entry["query"]["jobseeker_id"] != pid
    listed = shortlist(api, vacancy)

    engine = make_engine(api.url)
    try:
        with engine.connect() as connection:
            exposures = audited_exposures(connection)
    finally:
        engine.dispose()
    assert set(exposures["query_kind"]) == {MATCHES_KIND, SHORTLIST_KIND}
    answer = exposures[exposures["query_id"] == f"AU{entry['seq']:09d}"]
    assert set(answer["query_kind"]) == {MATCHES_KIND}
    assert set(answer["jobseeker_id"]) == {pid}
    assert answer["vacancy_id"].tolist() == shown
    assert answer["position"].tolist() == list(range(1, len(shown) + 1))
    assert answer["propensity"].between(0.01, 1.0).all()
    assert answer["policy"].unique().tolist() == [f"service:{served['model_version']}"]
    of_vacancy = exposures[
        (exposures["query_kind"] == SHORTLIST_KIND) & (exposures["query_id"] == vacancy)
    ]
    assert len(of_vacancy) == len(listed["results"])
    assert exposures["exposure_id"].is_unique
