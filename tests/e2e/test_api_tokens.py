"""Token lifecycle over HTTP: expiry, and an admin disabling, enabling and rotating tokens.

The worker that handles a disable forgets the token at once; another worker keeps trusting
its cached entry for at most ``token_cache_seconds`` (the documented window), then refuses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.api import security
from service.api.app import build_state, create_app
from service.api.security import hash_token
from service.storage.database import make_engine, make_session_factory
from service.storage.tables import User
from tests.e2e.conftest import Api

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api-tokens")]

JOBSEEKERS = "/api/v1/coach/jobseekers?limit=1"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def users(api: Api) -> dict[str, int]:
    """Users of this module only (the shared ones stay untouched): name -> user id.

    ``tk-<name>`` is each one's token.
    """
    past = datetime.now(UTC) - timedelta(minutes=1)
    future = datetime.now(UTC) + timedelta(days=30)
    made = {
        "admin": ("admin", api.facts["org"], future),
        "coach": ("coach", api.facts["org"], future),
        "coach2": ("coach", api.facts["org"], future),
        "rotated": ("coach", api.facts["org"], future),
        "foreign": ("coach", api.facts["other_org"], future),
        "expired": ("coach", api.facts["org"], past),
    }
    engine = make_engine(api.url)
    try:
        with make_session_factory(engine).begin() as session:
            for name, (role, org, expires) in made.items():
                session.add(
                    User(
                        name=f"tk-{name}",
                        role=role,
                        organisation_id=org,
                        token_hash=hash_token(f"tk-{name}"),
                        token_expires_at=expires,
                    )
                )
        with make_session_factory(engine)() as session:
            rows = session.execute(
                select(User.name, User.user_id).where(User.name.like("tk-%"))
            ).all()
    finally:
        engine.dispose()
    return {name.removeprefix("tk-"): user_id for name, user_id in rows}


@pytest.fixture(scope="module")
def other_worker(api: Api, users: dict[str, int]) -> Iterator[TestClient]:
    """A second worker with its own caller cache (and engine), as with `serve --workers 2`."""
    state = build_state(api.settings)
    try:
        with TestClient(create_app(api.settings, state)) as client:
            yield client
    finally:
        state.db.dispose()


def test_an_expired_token_is_refused_with_its_reason(api: Api, users: dict[str, int]) -> None:
    answer = api.client.get(JOBSEEKERS, headers=_bearer("tk-expired"))
    assert answer.status_code == 401
    assert "token expired" in answer.text
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert api.client.get(JOBSEEKERS, headers=_bearer("tk-coach")).status_code == 200


def test_a_cached_caller_does_not_outlive_its_token(
    api: Api, users: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The token works now and is cached; once its expiry passes the cache must not save it.
    assert api.client.get(JOBSEEKERS, headers=_bearer("tk-coach2")).status_code == 200
    later = datetime.now(UTC) + timedelta(days=31)
    monkeypatch.setattr("service.api.deps.time.time", later.timestamp)
    answer = api.client.get(JOBSEEKERS, headers=_bearer("tk-coach2"))
    assert answer.status_code == 401
    assert "token expired" in answer.text


def test_disable_is_immediate_here_and_within_the_window_elsewhere(
    api: Api,
    users: dict[str, int],
    other_worker: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    coach = _bearer("tk-coach")
    # Both workers have authenticated the coach, so both hold a cache entry.
    assert api.client.get(JOBSEEKERS, headers=coach).status_code == 200
    assert other_worker.get(JOBSEEKERS, headers=coach).status_code == 200

    answer = api.client.post(
        f"/api/v1/admin/users/{users['coach']}/disable", headers=_bearer("tk-admin")
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["active"] is False
    assert "token" not in answer.json()
    refused = api.client.get(JOBSEEKERS, headers=coach)
    assert refused.status_code == 401
    assert "disabled" in refused.text

    # The other worker trusts its entry until token_cache_seconds have passed, not longer.
    window = api.settings.service.token_cache_seconds
    assert other_worker.get(JOBSEEKERS, headers=coach).status_code == 200
    now = security.time.monotonic()
    monkeypatch.setattr(security.time, "monotonic", lambda: now + window + 0.01)
    assert other_worker.get(JOBSEEKERS, headers=coach).status_code == 401
    monkeypatch.undo()

    answer = api.client.post(
        f"/api/v1/admin/users/{users['coach']}/enable", headers=_bearer("tk-admin")
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["active"] is True
    # This worker had remembered the token as unknown; enabling forgets that at once.
    assert api.client.get(JOBSEEKERS, headers=coach).status_code == 200


def test_rotate_shows_a_new_token_once_and_the_old_one_stops(
    api: Api, users: dict[str, int]
) -> None:
    old = _bearer("tk-rotated")
    assert api.client.get(JOBSEEKERS, headers=old).status_code == 200
    answer = api.client.post(
        f"/api/v1/admin/users/{users['rotated']}/rotate", headers=_bearer("tk-admin")
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    expires = datetime.fromisoformat(body["token_expires_at"])
    lifetime = timedelta(days=api.settings.service.token_lifetime_days)
    assert abs(expires - (datetime.now(UTC) + lifetime)) < timedelta(minutes=5)
    assert api.client.get(JOBSEEKERS, headers=old).status_code == 401
    assert api.client.get(JOBSEEKERS, headers=_bearer(body["token"])).status_code == 200
    listed = api.client.get("/api/v1/admin/users", headers=_bearer("tk-admin")).json()
    assert "token" not in listed[0]
    assert all(user["organisation_id"] == api.facts["org"] for user in listed)
    assert {user["user_id"] for user in listed} >= {users["rotated"], users["admin"]}


def test_admins_reach_only_their_own_organisation(api: Api, users: dict[str, int]) -> None:
    admin = _bearer("tk-admin")
    for action in ("disable", "enable", "rotate"):
        foreign = api.client.post(f"/api/v1/admin/users/{users['foreign']}/{action}", headers=admin)
        assert foreign.status_code == 404, foreign.text
        missing = api.client.post(f"/api/v1/admin/users/999999/{action}", headers=admin)
        assert missing.status_code == 404
        coach = api.client.post(
            f"/api/v1/admin/users/{users['coach']}/{action}", headers=_bearer("tk-foreign")
        )
        assert coach.status_code == 403
    assert api.client.get(JOBSEEKERS, headers=_bearer("tk-foreign")).status_code == 200
    itself = api.client.post(f"/api/v1/admin/users/{users['admin']}/disable", headers=admin)
    assert itself.status_code == 409
    assert api.client.post("/api/v1/admin/users/0/disable", headers=admin).status_code == 422
