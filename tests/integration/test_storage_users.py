"""Users: tokens are random, shown once and stored only as their sha256."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import Engine, insert, select

from service.storage.database import make_session_factory
from service.storage.tables import OrganisationRecord, User
from service.storage.users import (
    UnknownOrganisationError,
    UnknownRoleError,
    create_user,
    hash_token,
    list_users,
    user_for_token,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def engine_with_org(migrated_engine: Engine) -> Engine:
    with migrated_engine.begin() as connection:
        connection.execute(
            insert(OrganisationRecord),
            [
                {
                    "organisation_id": "ES-FI-EA-01",
                    "kind": "employment_service",
                    "name": "Espoo-Kauniainen työllisyysalue",
                    "country": "FI",
                    "municipality": "049",
                }
            ],
        )
    return migrated_engine


def test_hash_token_is_sha256_hex() -> None:
    assert hash_token("abc") == hashlib.sha256(b"abc").hexdigest()
    assert hash_token("abc") == ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


def test_create_user_stores_only_the_hash(engine_with_org: Engine) -> None:
    sessions = make_session_factory(engine_with_org)
    with sessions.begin() as session:
        first = create_user(session, name=" Anneli ", role="coach", organisation_id="ES-FI-EA-01")
        second = create_user(session, name="Pekka", role="admin", organisation_id="ES-FI-EA-01")
    assert first.token != second.token
    assert len(first.token) >= 43  # 32 random bytes
    with engine_with_org.connect() as connection:
        stored = connection.execute(select(User.__table__)).all()
    assert [(row.user_id, row.name, row.role, row.active) for row in stored] == [
        (1, "Anneli", "coach", True),
        (2, "Pekka", "admin", True),
    ]
    assert stored[0].token_hash == hash_token(first.token)
    assert all(first.token not in str(value) for value in stored[0])

    with sessions() as session:
        assert [u.name for u in list_users(session)] == ["Anneli", "Pekka"]
        found = user_for_token(session, first.token)
        assert found is not None and found.user_id == 1
        assert user_for_token(session, "not-a-token") is None
        found.active = False
        session.commit()
        assert user_for_token(session, first.token) is None


def test_create_user_refuses_unknown_role_and_organisation(engine_with_org: Engine) -> None:
    sessions = make_session_factory(engine_with_org)
    with pytest.raises(UnknownRoleError, match="'boss' is not one of: coach"), sessions() as s:
        create_user(s, name="X", role="boss", organisation_id="ES-FI-EA-01")
    missing_org = pytest.raises(UnknownOrganisationError, match="'NOPE' is not in the database")
    with missing_org, sessions() as session:
        create_user(session, name="X", role="coach", organisation_id="NOPE")
    with pytest.raises(ValueError, match="name must have 1 to 200"), sessions() as session:
        create_user(session, name="  ", role="coach", organisation_id="ES-FI-EA-01")
    with sessions() as session:
        assert list_users(session) == []


def test_the_platform_operator_is_a_role_the_database_accepts(engine_with_org: Engine) -> None:
    """`kohtaanto users create --role operator`: the migrated CHECK constraint allows it."""
    with make_session_factory(engine_with_org)() as session:
        created = create_user(session, name="Olli", role="operator", organisation_id="ES-FI-EA-01")
        session.commit()
        stored = session.get(User, created.user.user_id)
        assert stored is not None and stored.role == "operator"
