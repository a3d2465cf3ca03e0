"""The web application on a loaded small world, per database backend, with people signed in.

Use in a page test::

    from tests.web.conftest import Web

    def test_caseload_lists_my_people(web: Web) -> None:
        coach = web.signed_in("coach")            # a TestClient with the coach's session
        page = coach.get("/app/coach/")
        assert page.status_code == 200
        token = web.csrf(page)                    # the form token of that page
        answer = coach.post("/app/coach/...", data={"csrf_token": token, ...})

``web`` is module-scoped and parametrised over SQLite and PostgreSQL, like the e2e ``api``
fixture (it is one: ``web.get("coach", "/api/v1/...")`` calls the JSON API with the coach's
bearer token). The users are those of ``tests/e2e/conftest.py`` (``coach``,
``other-coach``, ``employer``, ``other-employer``, ``procurement``, ``other-procurement``,
``admin``, ``operator``), each signing in with the username of the same name; ``web.facts``
names objects of their organisations. ``signed_in(who)`` gives the user a password through
``service.operations.accounts.set_password`` (once per module) and signs in through the
sign-in form, so every call returns a client with a new session (and its own cookie jar).
``web.password(who)`` is that password; ``web.anonymous()`` is a client without a session.
Clients ask for English pages (``Accept-Language: en``) unless given ``language="fi"``.
``web.session_hash(client)`` names the client's ``web_sessions`` row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from features.world_store import WorldTables
from service.api.app import create_app
from service.operations import accounts
from service.settings import PathSettings, Settings, WebSettings
from service.storage.database import make_engine, make_session_factory, upgrade_to_head
from service.storage.tables import User, WebSession
from service.web.auth import SESSION_COOKIE
from tests.conftest import wipe_postgres
from tests.e2e.conftest import Api, _facts

USERS = {
    "coach": "coach",
    "other-coach": "coach",
    "employer": "employer",
    "other-employer": "employer",
    "procurement": "procurement",
    "other-procurement": "procurement",
    "admin": "admin",
    "operator": "operator",
}

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: Any) -> str:
    """The CSRF token in a page's forms (every page has one, in the language switcher)."""
    found = _CSRF.search(page.text)
    assert found is not None, "the page has no form with a csrf_token"
    return found.group(1)


@dataclass
class Web(Api):
    #: Passwords set so far, by user name.
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def app(self) -> Any:
        return self.client.app

    def anonymous(self, base_url: str = "http://testserver", language: str = "en") -> TestClient:
        """A client of the same app without a session (its own cookies).

        Its browser asks for English pages (``Accept-Language``) unless ``language`` says
        otherwise; a language the user chose (``POST /app/language``) wins over it.
        """
        return TestClient(
            self.app,
            base_url=base_url,
            follow_redirects=False,
            headers={"Accept-Language": language},
        )

    def password(self, who: str) -> str:
        """The user's password, set through ``accounts.set_password`` on first use."""
        if who not in self.passwords:
            password = f"{who}-correct-horse-battery"
            engine = make_engine(self.url)
            try:
                with make_session_factory(engine)() as session:
                    accounts.set_password(session, self.settings.web, who, password)
            finally:
                engine.dispose()
            self.passwords[who] = password
        return self.passwords[who]

    def csrf(self, page: Any) -> str:
        return csrf_of(page)

    def sign_in_with(self, client: TestClient, who: str, password: str) -> Any:
        """Post the sign-in form for ``who`` with ``client``; the answer (not followed)."""
        form = client.get("/app/sign-in")
        return client.post(
            "/app/sign-in",
            data={"csrf_token": csrf_of(form), "username": who, "password": password},
        )

    def signed_in(
        self, who: str, base_url: str = "http://testserver", language: str = "en"
    ) -> TestClient:
        """A client with a fresh session of ``who`` (redirects are not followed)."""
        client = self.anonymous(base_url, language)
        answer = self.sign_in_with(client, who, self.password(who))
        assert answer.status_code == 303, answer.text
        return client

    def session_hash(self, client: TestClient) -> str:
        """The ``web_sessions`` key of the client's session cookie."""
        token = client.cookies.get(SESSION_COOKIE)
        assert token, "the client has no session"
        return accounts.hash_session(token)

    def update_session(self, client: TestClient, **values: Any) -> None:
        """Change the client's ``web_sessions`` row directly (to age it)."""
        engine = make_engine(self.url)
        try:
            with engine.begin() as connection:
                connection.execute(
                    update(WebSession)
                    .where(WebSession.session_hash == self.session_hash(client))
                    .values(**values)
                )
        finally:
            engine.dispose()

    def update_user(self, who: str, **values: Any) -> None:
        """Change the user's row directly (lock-out times, ``active``...)."""
        engine = make_engine(self.url)
        try:
            with engine.begin() as connection:
                connection.execute(update(User).where(User.username == who).values(**values))
        finally:
            engine.dispose()
        self.app.state.serving.callers.clear()


def build_web(
    request: pytest.FixtureRequest,
    small_world: WorldTables,
    tmp_path_factory: pytest.TempPathFactory,
    web_settings: WebSettings | None = None,
) -> Iterator[Web]:
    root = tmp_path_factory.mktemp(f"web-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'kohtaanto.db'}"
    else:
        url = wipe_postgres(request.getfixturevalue("postgres_database"))
    from service.api.security import hash_token
    from service.storage.world_io import load_world_into_database

    upgrade_to_head(url)
    engine = make_engine(url)
    load_world_into_database(small_world, engine)
    facts = _facts(small_world)
    organisations = {
        "coach": facts["org"],
        "other-coach": facts["other_org"],
        "employer": facts["supplier_org"],
        "other-employer": facts["other_supplier_org"],
        "procurement": facts["buyer"],
        "other-procurement": facts["other_buyer"],
        "admin": facts["org"],
        "operator": facts["org"],
    }
    with make_session_factory(engine)() as session:
        for name, role in USERS.items():
            session.add(
                User(
                    name=name,
                    username=name,
                    role=role,
                    organisation_id=organisations[name],
                    token_hash=hash_token(f"token-{name}"),
                )
            )
        session.commit()
    engine.dispose()
    settings = Settings(
        paths=PathSettings(var_dir=root / "var"),
        database_url=url,
        web=web_settings or WebSettings(),
    )
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield Web(client, small_world, url, facts, settings)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def web(
    request: pytest.FixtureRequest,
    small_world: WorldTables,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Web]:
    yield from build_web(request, small_world, tmp_path_factory)
