"""The request path of matches and shortlists outside the engine.

Answers are written as plain values by one encoder: the bytes must be those the response
models give, and the audit digest that of the models. Vacancy and person fields come from the
worker's memory: every worker must show a change as soon as the feed brings it. With
``service.stage_timing`` an answer says where its CPU went (``Server-Timing``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from matching.stages import STAGES, parse_server_timing
from service.api import audit
from service.api.app import build_state, create_app
from service.api.schemas import MatchesOut, ShortlistOut
from service.settings import Settings
from service.storage.database import make_engine
from service.storage.tables import AuditLogEntry
from tests.e2e.conftest import Api
from tests.e2e.test_api_live_state import (
    assessed_person,
    new_vacancy,
    serving,
    vacancy_body,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api-request-path")]

MATCHES = "/api/v1/coach/jobseekers/{}/matches"
SHORTLIST = "/api/v1/employer/vacancies/{}/shortlist"
#: The stages the request path itself marks, whatever the engine and the audit mark.
REQUEST_STAGES = {"auth", "catch_up", "database", "response", "serialisation"}


@pytest.fixture(scope="module")
def second(api: Api) -> Iterator[Api]:
    """A second worker with its own engine and memory, told of writes by the feed only."""
    state = build_state(api.settings)
    try:
        with TestClient(create_app(api.settings, state)) as client:
            yield Api(client, api.world, api.url, api.facts, api.settings)
    finally:
        state.db.dispose()


def latest_digest(api: Api, route: str) -> str | None:
    """The explanation digest of the newest audit entry of ``route``."""
    engine = make_engine(api.url)
    try:
        with engine.connect() as connection:
            digest = connection.scalar(
                select(AuditLogEntry.explanation_digest)
                .where(AuditLogEntry.route == route)
                .order_by(AuditLogEntry.seq.desc())
                .limit(1)
            )
    finally:
        engine.dispose()
    return None if digest is None else str(digest)


def shown_title(api: Api, pid: str, vacancy: str) -> str | None:
    answer = api.get("coach", MATCHES.format(pid), params={"k": 100})
    assert answer.status_code == 200, answer.text
    titles = {m["vacancy_id"]: m["title"] for m in answer.json()["results"]}
    return titles.get(vacancy)


# ---- the bytes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{}, {"factors": "false"}, {"k": 60}, {"k": 40, "job_form": ["employment", "apprenticeship"]}],
)
def test_matches_are_the_bytes_of_their_model_and_the_digest_of_its_explanations(
    api: Api, params: dict[str, Any]
) -> None:
    answer = api.get("coach", MATCHES.format(api.facts["jobseeker"]), params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    model = MatchesOut.model_validate_json(answer.content)
    assert model.results, "the person has matches"
    # What pydantic writes for the same values: field order, floats, dates, escapes.
    assert model.__pydantic_serializer__.to_json(model) == answer.content
    explained = audit.response_digest([r.explanation for r in model.results])
    assert latest_digest(api, "coach.matches") == explained


def test_a_shortlist_is_the_bytes_of_its_model_and_the_digest_of_its_results(api: Api) -> None:
    answer = api.get("employer", SHORTLIST.format(api.facts["vacancy"]))
    assert answer.status_code == 200, answer.text
    model = ShortlistOut.model_validate_json(answer.content)
    assert model.results, "the vacancy has candidates"
    assert model.__pydantic_serializer__.to_json(model) == answer.content
    assert latest_digest(api, "employer.shortlist") == audit.response_digest(model.results)


# ---- fields from memory ---------------------------------------------------------------------


def test_a_changed_vacancy_is_shown_changed_by_every_worker(api: Api, second: Api) -> None:
    vacancy = new_vacancy(api, openings=2)
    pid = assessed_person(api)
    for worker in (api, second):  # both now hold the vacancy's fields
        assert shown_title(worker, pid, vacancy) == "Greenhouse worker"
        assert worker.get("employer", SHORTLIST.format(vacancy)).status_code == 200

    changed = api.client.put(
        f"/api/v1/employer/vacancies/{vacancy}",
        json=vacancy_body(api, 2, title="Orchard worker"),
        headers=api.headers("employer"),
    )
    assert changed.status_code == 200, changed.text
    for worker in (api, second):
        assert shown_title(worker, pid, vacancy) == "Orchard worker"

    closed = api.post("employer", f"/api/v1/employer/vacancies/{vacancy}/close", {})
    assert closed.status_code == 200, closed.text
    for worker in (api, second):
        refused = worker.get("employer", SHORTLIST.format(vacancy))
        assert refused.status_code == 409, refused.text


def test_ownership_read_from_memory_still_refuses_other_organisations(
    api: Api, second: Api
) -> None:
    person = api.facts["jobseeker"]
    vacancy = api.facts["vacancy"]
    for worker in (api, second):
        # Answered first for the owner (the worker remembers the person and the vacancy)...
        assert worker.get("coach", MATCHES.format(person)).status_code == 200
        assert worker.get("employer", SHORTLIST.format(vacancy)).status_code == 200
        # ...and still a 404 for another organisation, as for a missing one.
        assert worker.get("other-coach", MATCHES.format(person)).status_code == 404
        assert worker.get("other-employer", SHORTLIST.format(vacancy)).status_code == 404
        assert worker.get("coach", MATCHES.format("JS-missing")).status_code == 404
        assert worker.get("employer", SHORTLIST.format("VA-missing")).status_code == 404


# ---- stage timing ---------------------------------------------------------------------------


def _timed(api: Api) -> Settings:
    service = api.settings.service.model_copy(update={"stage_timing": True})
    return api.settings.model_copy(update={"service": service})


def test_with_stage_timing_answers_say_where_their_cpu_went(api: Api) -> None:
    # Another app over the same worker state, built with the setting on.
    client = TestClient(create_app(_timed(api), serving(api)))
    timed = Api(client, api.world, api.url, api.facts, api.settings)
    with timed.client:
        for path, who in (
            (MATCHES.format(api.facts["jobseeker"]), "coach"),
            (SHORTLIST.format(api.facts["vacancy"]), "employer"),
        ):
            answer = timed.get(who, path)
            assert answer.status_code == 200, answer.text
            stages = parse_server_timing(answer.headers["server-timing"])
            assert REQUEST_STAGES <= set(stages) <= set(STAGES), stages
            assert all(ms >= 0 for ms in stages.values())
        # Errors are timed too (a 404 still authenticated and read).
        missing = timed.get("coach", MATCHES.format("JS-missing"))
        assert missing.status_code == 404
        assert "auth" in parse_server_timing(missing.headers["server-timing"])


def test_without_stage_timing_answers_carry_no_timing(api: Api) -> None:
    assert not api.settings.service.stage_timing
    answer = api.get("coach", MATCHES.format(api.facts["jobseeker"]))
    assert answer.status_code == 200
    assert "server-timing" not in answer.headers
