"""Matches and shortlists hold one pooled database connection at a time.

Each request reads through its session, applies the change feed and appends an audit entry in
sessions of their own. Holding the request's connection while waiting for another would let
as many requests as the pool has connections wait on each other until the pool times out; with
a pool of one connection these routes must still answer.
"""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.settings import Settings
from service.storage.database import make_engine, make_session_factory
from tests.e2e.conftest import Api

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api-pool")]


def test_matches_and_shortlists_work_on_a_pool_of_one_connection(api: Api) -> None:
    shared = api.client.app.state.serving  # type: ignore[attr-defined]
    narrow = make_engine(api.url, pool_size=1, max_overflow=0, pool_timeout=2)
    state = dataclasses.replace(
        shared,
        db=narrow,
        sessions=make_session_factory(narrow),
        write_sessions=make_session_factory(narrow, writer=True),
    )
    try:
        with TestClient(create_app(Settings(database_url=api.url), state)) as client:
            matches = client.get(
                f"/api/v1/coach/jobseekers/{api.facts['jobseeker']}/matches",
                params={"k": 5},
                headers=api.headers("coach"),
            )
            assert matches.status_code == 200, matches.text
            shortlist = client.get(
                f"/api/v1/employer/vacancies/{api.facts['vacancy']}/shortlist",
                params={"k": 5},
                headers=api.headers("employer"),
            )
            assert shortlist.status_code == 200, shortlist.text
    finally:
        narrow.dispose()
