"""Accounts of the web pages: the migration, password rules and hashes, `users set-password`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from argon2 import PasswordHasher
from sqlalchemy import Engine, insert, select, text, update
from typer.testing import CliRunner

from service.cli import app
from service.operations import accounts
from service.operations.errors import InvalidError, NotFoundError
from service.settings import WebSettings
from service.storage.database import alembic_config, make_engine, make_session_factory
from service.storage.tables import OrganisationRecord, User
from service.storage.users import create_user

pytestmark = pytest.mark.integration

SETTINGS = WebSettings()
runner = CliRunner()


def test_existing_users_get_a_unique_username(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0002")
            connection.execute(
                text(
                    "INSERT INTO organisations (organisation_id, kind, name, country, "
                    "municipality) VALUES ('ES-FI-EA-01', 'employment_service', 'Espoo', "
                    "'FI', '049')"
                )
            )
            for name, digest in (("Anna", "1"), ("Sam", "2"), ("Sam", "3")):
                connection.execute(
                    text(
                        "INSERT INTO users (name, role, organisation_id, token_hash, "
                        "created_at, active) VALUES (:name, 'coach', 'ES-FI-EA-01', :digest, "
                        ":now, true)"
                    ),
                    {"name": name, "digest": digest * 64, "now": datetime.now(UTC)},
                )
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
        with engine.connect() as connection:
            rows = connection.execute(
                select(User.user_id, User.name, User.username, User.failed_sign_ins).order_by(
                    User.user_id
                )
            ).all()
        (anna, sam, other_sam) = rows
        assert anna.username == "Anna"
        assert sam.username == f"Sam-{sam.user_id}"
        assert other_sam.username == f"Sam-{other_sam.user_id}"
        assert {row.failed_sign_ins for row in rows} == {0}
        # And down again: the columns and the sessions table go.
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0002")
        with engine.connect() as connection:
            columns = connection.execute(text("SELECT * FROM users")).keys()
        assert "username" not in columns and "password_hash" not in columns
    finally:
        engine.dispose()


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
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
    with make_session_factory(migrated_engine)() as session:
        create_user(session, name="Anna Coach", role="coach", organisation_id="ES-FI-EA-01")
        session.commit()
    return migrated_engine


def test_new_users_sign_in_with_their_name_or_a_free_variant(engine: Engine) -> None:
    with make_session_factory(engine)() as session:
        again = create_user(
            session, name="Anna Coach", role="coach", organisation_id="ES-FI-EA-01"
        ).user
        chosen = create_user(
            session, name="B", role="coach", organisation_id="ES-FI-EA-01", username="bee"
        ).user
        assert again.username == f"Anna Coach-{again.user_id}"
        assert chosen.username == "bee"
        with pytest.raises(ValueError, match="taken"):
            create_user(
                session, name="C", role="coach", organisation_id="ES-FI-EA-01", username="bee"
            )


def test_password_rules(engine: Engine) -> None:
    with make_session_factory(engine)() as session:
        for password, reason in (
            ("short", "at least 12"),
            ("Anna Coach", "may not be the username"),
            ("  anna coach ", "may not be the username"),
            ("x" * 1025, "at most"),
        ):
            with pytest.raises(InvalidError, match=reason):
                accounts.set_password(session, SETTINGS, "Anna Coach", password)
        with pytest.raises(NotFoundError):
            accounts.set_password(session, SETTINGS, "nobody", "a-long-enough-password")
        accounts.set_password(session, SETTINGS, "Anna Coach", "a-long-enough-password")
        stored = session.scalar(select(User.password_hash).where(User.name == "Anna Coach"))
    assert stored is not None and stored.startswith("$argon2id$")


def test_a_hash_with_old_parameters_is_replaced_at_sign_in(engine: Engine) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    with engine.begin() as connection:
        connection.execute(
            update(User)
            .where(User.username == "Anna Coach")
            .values(password_hash=weak.hash("an-old-style-password"))
        )
    with make_session_factory(engine)() as session:
        accounts.sign_in(session, SETTINGS, "Anna Coach", "an-old-style-password")
        stored = session.scalar(select(User.password_hash).where(User.username == "Anna Coach"))
    assert stored is not None and "m=8192" not in stored
    assert not PasswordHasher().check_needs_rehash(stored)
    assert PasswordHasher().verify(stored, "an-old-style-password")


def test_sessions_expire_by_the_settings_clock(engine: Engine) -> None:
    settings = WebSettings(session_idle_minutes=5, session_absolute_hours=1)
    start = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    with make_session_factory(engine)() as session:
        accounts.set_password(session, settings, "Anna Coach", "a-long-enough-password")
        opened = accounts.sign_in(
            session, settings, "Anna Coach", "a-long-enough-password", now=start
        )
        assert opened.expires_at == start + timedelta(hours=1)
        found = accounts.look_up(session, settings, opened.token, start + timedelta(minutes=4))
        assert found is not None and found.caller.name == "Anna Coach"
        idle = start + timedelta(minutes=6)
        assert accounts.look_up(session, settings, opened.token, idle) is None
        # Kept alive by use, but never past the absolute end.
        for minutes in range(4, 60, 4):
            accounts.touch(session, found.session_hash, start + timedelta(minutes=minutes))
        late = start + timedelta(minutes=58)
        assert accounts.look_up(session, settings, opened.token, late) is not None
        end = start + timedelta(hours=1)
        assert accounts.look_up(session, settings, opened.token, end) is None
        assert accounts.look_up(session, settings, "not-a-session", start) is None


def _run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=stdin, terminal_width=200)
    return result.exit_code, result.output


def test_users_set_password_from_stdin_and_the_prompt(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    code, output = _run(
        "users", "set-password", "Anna Coach", "--password-stdin", "--database-url", url,
        stdin="piped-password-of-anna\n",
    )  # fmt: skip
    assert code == 0, output
    assert "Set the password of user" in output and "piped-password" not in output
    with make_session_factory(engine)() as session:
        accounts.sign_in(session, SETTINGS, "Anna Coach", "piped-password-of-anna")
    # Asked twice without echo; the two must agree.
    code, output = _run(
        "users", "set-password", "Anna Coach", "--database-url", url,
        stdin="typed-password-of-anna\ntyped-password-of-anna\n",
    )  # fmt: skip
    assert code == 0, output
    assert "typed-password-of-anna" not in output
    with make_session_factory(engine)() as session:
        accounts.sign_in(session, SETTINGS, "Anna Coach", "typed-password-of-anna")
        with pytest.raises(accounts.SignInRefusedError):
            accounts.sign_in(session, SETTINGS, "Anna Coach", "piped-password-of-anna")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["Anna Coach"], "first-password-typed\nsecond-password-typed\n", "differ"),
        (["Anna Coach", "--password-stdin"], "short\n", "at least 12 characters"),
        (["Anna Coach", "--password-stdin"], "", "at least 12 characters"),
        (["nobody", "--password-stdin"], "a-long-enough-password\n", "no user with the username"),
    ],
)
def test_users_set_password_refusals(
    engine: Engine, args: list[str], stdin: str, message: str
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    code, output = _run("users", "set-password", *args, "--database-url", url, stdin=stdin)
    assert code == 2, output
    assert message in " ".join(output.split())
    with make_session_factory(engine)() as session:
        stored = session.scalar(select(User.password_hash).where(User.username == "Anna Coach"))
    assert stored is None  # nothing changed


def test_lock_out_by_the_settings_clock_is_logged(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    settings = WebSettings(lockout_failures=3, lockout_minutes=10)
    start = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    with make_session_factory(engine)() as session:
        accounts.set_password(session, settings, "Anna Coach", "a-long-enough-password")
        with caplog.at_level("INFO", logger="kohtaanto.accounts"):
            for _ in range(3):
                with pytest.raises(accounts.SignInRefusedError):
                    accounts.sign_in(session, settings, "Anna Coach", "wrong-password", now=start)
            with pytest.raises(accounts.SignInRefusedError):
                accounts.sign_in(
                    session,
                    settings,
                    "Anna Coach",
                    "a-long-enough-password",
                    now=start + timedelta(minutes=9),
                )
            accounts.sign_in(
                session,
                settings,
                "Anna Coach",
                "a-long-enough-password",
                now=start + timedelta(minutes=10),
            )
    messages = [record.getMessage() for record in caplog.records]
    assert any("locked until 2026-12-05T09:10:00+00:00 after 3" in m for m in messages)
    assert any(m.endswith(" is locked") for m in messages)
    assert any(m.startswith("signed in: user") for m in messages)
    assert not any("a-long-enough-password" in m or "wrong-password" in m for m in messages)
