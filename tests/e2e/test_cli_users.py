"""`kohtaanto users` token lifecycle: expiry, disable, enable, rotate, `list --json`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert
from typer.testing import CliRunner

from service.cli import app
from service.storage.database import make_session_factory
from service.storage.tables import OrganisationRecord
from service.storage.users import user_for_token

pytestmark = pytest.mark.e2e

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), terminal_width=200)
    return result.exit_code, result.output


@pytest.fixture
def url(migrated_engine: Engine) -> str:
    with migrated_engine.begin() as connection:
        connection.execute(
            insert(OrganisationRecord),
            [
                {
                    "organisation_id": "ES-FI-EA-01",
                    "kind": "employment_service",
                    "name": "Espoo",
                    "country": "FI",
                    "municipality": "049",
                }
            ],
        )
    return migrated_engine.url.render_as_string(hide_password=False)


def _holder(engine: Engine, token: str) -> int | None:
    with make_session_factory(engine)() as session:
        user = user_for_token(session, token)
        return None if user is None else user.user_id


def _create(url: str, name: str, *extra: str) -> str:
    code, output = _run(
        "users", "create", "--role", "coach", "--org", "ES-FI-EA-01", "--name", name,
        "--database-url", url, *extra,
    )  # fmt: skip
    assert code == 0, output
    return output.strip().splitlines()[-1]


def test_tokens_expire_and_list_json_shows_it(url: str, migrated_engine: Engine) -> None:
    _create(url, "Anneli")
    _create(url, "Pekka", "--expires-in-days", "7")
    code, output = _run("users", "list", "--json", "--database-url", url)
    assert code == 0, output
    listed = json.loads(output)
    assert [user["name"] for user in listed] == ["Anneli", "Pekka"]
    now = datetime.now(UTC)
    for user, days in zip(listed, (90, 7), strict=True):
        expires = datetime.fromisoformat(user["token_expires_at"])
        assert abs(expires - (now + timedelta(days=days))) < timedelta(minutes=5)
        assert user["active"] is True
    code, output = _run("users", "list", "--database-url", url)
    assert code == 0 and "Expires" in output
    code, output = _run(
        "users", "create", "--role", "coach", "--org", "ES-FI-EA-01", "--name", "X",
        "--expires-in-days", "0", "--database-url", url,
    )  # fmt: skip
    assert code == 2


def test_an_expired_token_names_no_user(url: str, migrated_engine: Engine) -> None:
    token = _create(url, "Anneli", "--expires-in-days", "1")
    assert _holder(migrated_engine, token) == 1
    with make_session_factory(migrated_engine)() as session:
        assert user_for_token(session, token, now=datetime.now(UTC) + timedelta(days=2)) is None


def test_disable_enable_rotate(url: str, migrated_engine: Engine) -> None:
    token = _create(url, "Anneli")
    code, output = _run("users", "disable", "1", "--database-url", url)
    assert code == 0, output
    assert "Disabled user 1 (Anneli)" in output and "token_cache_seconds" in output
    assert _holder(migrated_engine, token) is None
    code, output = _run("users", "list", "--json", "--database-url", url)
    assert json.loads(output)[0]["active"] is False

    code, output = _run("users", "enable", "1", "--database-url", url)
    assert code == 0, output
    assert _holder(migrated_engine, token) == 1

    code, output = _run("users", "rotate", "1", "--expires-in-days", "30", "--database-url", url)
    assert code == 0, output
    new = output.strip().splitlines()[-2]
    assert new != token and len(new) >= 43
    assert _holder(migrated_engine, token) is None
    assert _holder(migrated_engine, new) == 1

    for command in ("disable", "enable", "rotate"):
        code, output = _run("users", command, "99", "--database-url", url)
        assert code == 2
        assert "there is no user 99" in output


def test_user_data_is_printed_literally(url: str) -> None:
    _create(url, "[red]A[/] [x]")
    code, output = _run("users", "list", "--database-url", url)
    assert code == 0, output
    assert "[red]A[/] [x]" in output


def test_tokens_issued_before_expiry_existed_get_the_default_lifetime(database_url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from service.storage.database import alembic_config, make_engine

    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0001")
            connection.execute(
                text(
                    "INSERT INTO organisations (organisation_id, kind, name, country, "
                    "municipality) VALUES ('ES-FI-EA-01', 'employment_service', 'Espoo', "
                    "'FI', '049')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO users (name, role, organisation_id, token_hash, created_at, "
                    "active) VALUES ('Old', 'coach', 'ES-FI-EA-01', :digest, :now, true)"
                ),
                {"digest": "0" * 64, "now": datetime.now(UTC)},
            )
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
        with make_session_factory(engine)() as session:
            from service.storage.users import list_users

            (user,) = list_users(session)
        assert user.token_expires_at is not None
        expected = datetime.now(UTC) + timedelta(days=90)
        assert abs(user.token_expires_at - expected) < timedelta(minutes=5)
    finally:
        engine.dispose()
