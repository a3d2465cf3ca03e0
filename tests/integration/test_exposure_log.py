"""Audited answers as training exposures: both directions, propensities estimated per kind.

Every audited employer shortlist and coach's matches answer becomes exposure rows. The
chance that a shown pair is proposed is estimated per query kind and position, so the two
kinds below, with opposite proposal patterns at the same positions, must get opposite
estimates (one estimate over both kinds would give every position the same value).
On SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from service.api import audit
from service.storage.database import make_session_factory
from service.storage.exposure_log import (
    MATCHES_KIND,
    PRIOR_WEIGHT,
    SHORTLIST_KIND,
    audited_exposures,
)
from service.storage.tables import AuditLogEntry, OutcomeRecord

pytestmark = pytest.mark.integration


@pytest.fixture
def sealer(tmp_path: Path) -> audit.Sealer:
    return audit.Sealer(b"exposure test key", tmp_path / "audit-seals.log")


def _answer(
    engine: Engine, sealer: audit.Sealer, route: str, query: dict[str, Any], shown: list[str]
) -> int:
    """Audit one answer the way the routes do (people by pseudonym); returns its seq."""
    with make_session_factory(engine, writer=True)() as session:
        audit.lock_chain(session)
        if route == "employer.shortlist":
            named = audit.pseudonyms(session.connection(), shown)
            shown = [named[person] for person in shown]
        elif "jobseeker_id" in query:
            named = audit.pseudonyms(session.connection(), [query["jobseeker_id"]])
            query = query | {"jobseeker_id": named[query["jobseeker_id"]]}
        entry = audit.append(
            session,
            sealer=sealer,
            user_id=1,
            role="coach" if route == "coach.matches" else "employer",
            organisation_id="ORG",
            route=route,
            query=query,
            model_version="m1",
            results=[[item, 1.0 / rank] for rank, item in enumerate(shown, start=1)],
            explanation_digest=None,
        )
        session.commit()
    with engine.connect() as connection:
        seq = connection.execute(
            select(AuditLogEntry.seq).where(AuditLogEntry.entry_hash == entry.entry_hash)
        ).scalar_one()
    return int(seq)


def _proposed(engine: Engine, *pairs: tuple[str, str]) -> None:
    with make_session_factory(engine, writer=True)() as session:
        for n, (jobseeker_id, vacancy_id) in enumerate(pairs):
            session.add(
                OutcomeRecord(
                    event_id=f"EV-P{n}",
                    jobseeker_id=jobseeker_id,
                    vacancy_id=vacancy_id,
                    stage="proposed",
                    reason=None,
                    occurred_at=datetime(2026, 10, 1, tzinfo=UTC),
                )
            )
        session.commit()


def test_shortlists_and_matches_become_exposures_with_propensities_per_kind(
    migrated_engine: Engine, sealer: audit.Sealer
) -> None:
    engine = migrated_engine
    # The employer sees A first, B second; the coach sees V2 first, V1 second for A.
    shortlist = _answer(
        engine, sealer, "employer.shortlist", {"vacancy_id": "V1", "k": 2}, ["A", "B"]
    )
    matches = _answer(engine, sealer, "coach.matches", {"jobseeker_id": "A", "k": 2}, ["V2", "V1"])
    again = _answer(engine, sealer, "coach.matches", {"jobseeker_id": "A", "k": 2}, ["V2", "V3"])
    _answer(engine, sealer, "procurement.ledger", {"contract_id": "C1"}, ["x"])  # no exposure
    _proposed(engine, ("A", "V1"))  # shown first to the employer, second to the coach

    with engine.connect() as connection:
        exposures = audited_exposures(connection)

    by_id = exposures.set_index("exposure_id")
    assert set(by_id.index) == {
        f"AU{shortlist:09d}-001",
        f"AU{shortlist:09d}-002",
        f"AU{matches:09d}-001",
        f"AU{matches:09d}-002",
        f"AU{again:09d}-002",  # V2 for A was shown before: counted at its first showing
    }
    first = by_id.loc[f"AU{shortlist:09d}-001"]
    assert (first["query_kind"], first["query_id"]) == (SHORTLIST_KIND, "V1")
    assert (first["jobseeker_id"], first["vacancy_id"], first["position"]) == ("A", "V1", 1)
    coach = by_id.loc[f"AU{matches:09d}-002"]
    assert (coach["query_kind"], coach["query_id"]) == (MATCHES_KIND, f"AU{matches:09d}")
    assert (coach["jobseeker_id"], coach["vacancy_id"], coach["position"]) == ("A", "V1", 2)
    assert set(exposures["policy"]) == {"service:m1"}

    def smoothed(hits: int, shown: int, overall: float) -> float:
        return (hits + PRIOR_WEIGHT * overall) / (shown + PRIOR_WEIGHT)

    propensity = exposures.set_index(["query_kind", "exposure_id"])["propensity"]
    # Employers: 1 of 2 shown pairs proposed, the one at position 1.
    assert propensity[SHORTLIST_KIND, f"AU{shortlist:09d}-001"] == pytest.approx(
        smoothed(1, 1, 1 / 2)
    )
    assert propensity[SHORTLIST_KIND, f"AU{shortlist:09d}-002"] == pytest.approx(
        smoothed(0, 1, 1 / 2)
    )
    # Coaches: 1 of 3 shown pairs proposed, the one at position 2 (of two shown there).
    assert propensity[MATCHES_KIND, f"AU{matches:09d}-001"] == pytest.approx(smoothed(0, 1, 1 / 3))
    assert propensity[MATCHES_KIND, f"AU{matches:09d}-002"] == pytest.approx(smoothed(1, 2, 1 / 3))
    assert propensity[MATCHES_KIND, f"AU{again:09d}-002"] == pytest.approx(smoothed(1, 2, 1 / 3))


def test_no_audited_answers_are_no_exposures(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as connection:
        exposures = audited_exposures(connection)
    assert exposures.empty
    assert "query_kind" in exposures.columns


def test_an_erased_persons_exposures_leave_the_training_data(
    migrated_engine: Engine, sealer: audit.Sealer
) -> None:
    """Crypto-shredding: with A's key gone, no entry can be read as A's exposure any more."""
    engine = migrated_engine
    _answer(engine, sealer, "employer.shortlist", {"vacancy_id": "V1", "k": 2}, ["A", "B"])
    _answer(engine, sealer, "coach.matches", {"jobseeker_id": "A", "k": 2}, ["V2", "V1"])
    with engine.begin() as connection:
        audit.shred(connection, "A")
    with engine.connect() as connection:
        exposures = audited_exposures(connection)
    assert set(exposures["jobseeker_id"]) == {"B"}
    with make_session_factory(engine)() as session:
        assert audit.verify_chain(session, sealer).ok
