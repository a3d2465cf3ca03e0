"""An answer whose audit entry cannot be written is a 503, never shown unaudited.

The entries are appended by the worker's committer, in groups; a group that cannot reach the
database fails every request waiting on it, and those requests answer 503 as any request
does when the database is unavailable. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.api.audit_committer import AuditCommitter
from service.storage.database import make_engine, make_session_factory
from service.storage.tables import AuditLogEntry
from tests.e2e.conftest import Api
from tests.e2e.test_api_misuse_input import assert_problem

pytestmark = pytest.mark.e2e


def _entries(api: Api) -> int:
    engine = make_engine(api.url)
    try:
        with make_session_factory(engine)() as session:
            return session.scalar(select(func.count()).select_from(AuditLogEntry)) or 0
    finally:
        engine.dispose()


def test_an_unwritable_audit_entry_is_a_503_and_the_answer_is_not_sent(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving = api.client.app.state.serving  # type: ignore[attr-defined]
    matches = f"/api/v1/coach/jobseekers/{api.facts['jobseeker']}/matches"
    shortlist = f"/api/v1/employer/vacancies/{api.facts['vacancy']}/shortlist"
    assert api.get("coach", matches).status_code == 200
    before = _entries(api)
    # Nothing listens on port 1: the committer's writer transaction cannot begin.
    nowhere = make_engine("postgresql+psycopg://kohtaanto@127.0.0.1:1/x")
    unwritable = AuditCommitter(
        make_session_factory(nowhere, writer=True), serving.sealer, serving.pseudonyms
    )
    monkeypatch.setattr(serving, "audit_committer", unwritable)
    try:
        assert_problem(api.get("coach", matches, params={"k": 3}), 503, matches)
        assert_problem(api.get("employer", shortlist), 503, shortlist)
    finally:
        unwritable.close()
        nowhere.dispose()
    assert _entries(api) == before
    monkeypatch.undo()
    assert api.get("coach", matches, params={"k": 3}).status_code == 200  # and back
    assert _entries(api) == before + 1
