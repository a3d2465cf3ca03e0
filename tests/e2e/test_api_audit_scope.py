"""The audit log through the API: scoped to the caller's organisation, minimal, and erasure
that leaves nothing behind (probe findings S5 and S6), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, select, text

from service.api.app import build_state
from service.api.security import hash_token
from service.storage.database import make_engine, make_session_factory
from service.storage.tables import User
from tests.e2e.conftest import Api
from tests.e2e.test_api import new_jobseeker

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def more_users(api: Api) -> Api:
    """A second organisation's admin and a platform operator, next to the fixture's users."""
    engine = make_engine(api.url)
    try:
        with make_session_factory(engine)() as session:
            for name, role, org in (
                ("other-admin", "admin", api.facts["other_org"]),
                ("operator", "operator", api.facts["org"]),
            ):
                if session.scalar(select(User).where(User.name == name)) is None:
                    session.add(
                        User(
                            name=name,
                            role=role,
                            organisation_id=org,
                            token_hash=hash_token(f"token-{name}"),
                        )
                    )
            session.commit()
    finally:
        engine.dispose()
    return api


def _first_of(api: Api, org: str) -> str:
    seekers = api.world.jobseekers
    mine = seekers[seekers["organisation_id"].astype(str) == api.facts[org]]
    return str(mine["jobseeker_id"].iloc[0])


def _serve_both_organisations(api: Api) -> None:
    """One matches answer by each organisation's coach."""
    for who, org in (("coach", "org"), ("other-coach", "other_org")):
        served = api.get(who, f"/api/v1/coach/jobseekers/{_first_of(api, org)}/matches")
        assert served.status_code == 200, served.text


def test_an_admin_reads_only_its_own_organisations_entries(more_users: Api) -> None:
    api = more_users
    _serve_both_organisations(api)
    for who, org in (("admin", api.facts["org"]), ("other-admin", api.facts["other_org"])):
        entries = api.get(who, "/api/v1/admin/audit", params={"limit": 1000})
        assert entries.status_code == 200, entries.text
        assert entries.json(), who
        assert {e["organisation_id"] for e in entries.json()} == {org}
        # Verify speaks for the whole chain but names no foreign entry.
        verified = api.get(who, "/api/v1/admin/audit/verify")
        assert verified.status_code == 200 and verified.json()["ok"], verified.text


def test_the_platform_operator_reads_every_organisations_entries(more_users: Api) -> None:
    api = more_users
    _serve_both_organisations(api)
    entries = api.get("operator", "/api/v1/admin/audit", params={"limit": 1000})
    assert entries.status_code == 200, entries.text
    assert {api.facts["org"], api.facts["other_org"]} <= {
        e["organisation_id"] for e in entries.json()
    }
    assert api.get("operator", "/api/v1/admin/audit/verify").json()["ok"]


def test_audit_entries_name_people_only_by_pseudonym(more_users: Api) -> None:
    api = more_users
    jid = api.facts["jobseeker"]
    assert api.get("coach", f"/api/v1/coach/jobseekers/{jid}/matches").status_code == 200
    shortlist = api.get("employer", f"/api/v1/employer/vacancies/{api.facts['vacancy']}/shortlist")
    assert shortlist.status_code == 200, shortlist.text
    entries = api.get("operator", "/api/v1/admin/audit", params={"limit": 1000}).json()
    everything = repr(entries)
    assert jid not in everything
    seekers = set(api.world.jobseekers["jobseeker_id"].astype(str))
    listed = [e for e in entries if e["route"] == "employer.shortlist"][-1]["results"]
    assert listed and not {str(item[0]) for item in listed} & seekers


def _database_files(url: str) -> list[Path]:
    database = Path(str(make_url(url).database))
    return [p for p in (database, Path(f"{database}-wal"), Path(f"{database}-shm")) if p.exists()]


def _mentions(api: Api, value: str) -> dict[str, int]:
    """Rows of the audit log, the change feed and the exposures that contain ``value``."""
    engine = make_engine(api.url)
    cast = "CAST({} AS TEXT)"
    try:
        with engine.connect() as connection:
            return {
                table: int(
                    connection.execute(
                        text(f"SELECT count(*) FROM {table} WHERE {condition}"),
                        {"value": f"%{value}%"},
                    ).scalar_one()
                )
                for table, condition in (
                    (
                        "audit_log",
                        f"{cast.format('query')} LIKE :value "
                        f"OR {cast.format('results')} LIKE :value",
                    ),
                    ("changes", "entity_id LIKE :value"),
                    ("exposures", "jobseeker_id LIKE :value"),
                )
            }
    finally:
        engine.dispose()


def test_an_erased_person_is_nowhere_in_the_log_the_feed_or_the_files(more_users: Api) -> None:
    api = more_users
    planted = "Qwzyxlastnameplanted"
    person: dict[str, Any] = new_jobseeker(api, last_name=planted, email="planted@example.org")
    pid = person["jobseeker_id"]
    assert api.get("coach", f"/api/v1/coach/jobseekers/{pid}/matches").status_code == 200
    # A person of the world with logged exposures: erasure removes those too.
    exposures = api.world.exposures
    seekers = api.world.jobseekers
    own = set(seekers[seekers["organisation_id"].astype(str) == api.facts["org"]]["jobseeker_id"])
    # Not a person another test of this module serves (the order of tests is random).
    reserved = {api.facts["jobseeker"], *(_first_of(api, org) for org in ("org", "other_org"))}
    exposed = next(str(j) for j in exposures["jobseeker_id"] if j in own and j not in reserved)
    assert api.get("coach", f"/api/v1/coach/jobseekers/{exposed}/matches").status_code == 200
    assert _mentions(api, exposed)["exposures"] > 0
    if api.url.startswith("sqlite"):  # the grep below can see the value while it is stored
        assert any(planted.encode() in p.read_bytes() for p in _database_files(api.url))

    # Another worker, built now: it holds the new person and learns of the erasure only
    # through the change feed, whose delete row no longer names them.
    other_worker = build_state(api.settings)
    assert other_worker.in_matching(pid)

    for erased in (pid, exposed):
        answer = api.client.delete(
            f"/api/v1/coach/jobseekers/{erased}", headers=api.headers("coach")
        )
        assert answer.status_code == 204, answer.text
        assert _mentions(api, erased) == {"audit_log": 0, "changes": 0, "exposures": 0}
    # The chain still verifies: the entries stay, only the link to the person is gone.
    assert api.get("operator", "/api/v1/admin/audit/verify").json()["ok"]
    # The erased person is out of every worker's matching (the delete still reached it).
    assert api.get("coach", f"/api/v1/coach/jobseekers/{pid}/matches").status_code == 404
    try:
        assert other_worker.catch_up() > 0
        assert not other_worker.in_matching(pid)
    finally:
        other_worker.db.dispose()
    if api.url.startswith("sqlite"):
        for path in _database_files(api.url):
            content = path.read_bytes()
            assert planted.encode() not in content, path
            assert pid.encode() not in content, path
