"""The pages' foundation: languages, error pages, labels and formats, local API docs."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.api.problems import install_problem_handlers
from service.operations.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from service.settings import PathSettings, Settings
from service.storage.database import make_engine
from service.storage.tables import User
from service.web import STATIC_DIR, install
from service.web.i18n import negotiate
from service.web.templating import environment
from tests.web.conftest import Web, csrf_of

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("web")]


def _lang(page: object) -> str:
    found = re.search(r'<html lang="(\w+)">', page.text)  # type: ignore[attr-defined]
    assert found is not None
    return found.group(1)


def test_the_language_switch_is_stored_on_the_user(web: Web) -> None:
    client = web.signed_in("procurement")
    page = client.get("/app/account")
    assert _lang(page) == "en" and "Your account" in page.text
    answer = client.post(
        "/app/language", data={"csrf_token": csrf_of(page), "locale": "sv", "next": "/app/account"}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/app/account"
    page = client.get("/app/account")
    assert _lang(page) == "sv" and "Ditt konto" in page.text and "Logga ut" in page.text
    # Stored on the user: a new session in a browser asking for English is still Swedish.
    elsewhere = web.signed_in("procurement", language="en")
    assert _lang(elsewhere.get("/app/account")) == "sv"
    engine = make_engine(web.url)
    try:
        with engine.connect() as connection:
            stored = connection.scalar(select(User.locale).where(User.username == "procurement"))
    finally:
        engine.dispose()
    assert stored == "sv"
    # Finnish, and back; an unknown language changes nothing.
    token = csrf_of(page)
    client.post("/app/language", data={"csrf_token": token, "locale": "fi", "next": "/app/"})
    assert "Oma tili" in client.get("/app/account").text
    client.post("/app/language", data={"csrf_token": token, "locale": "de", "next": "/app/"})
    assert _lang(client.get("/app/account")) == "fi"
    web.update_user("procurement", locale=None)


def test_before_sign_in_the_language_comes_from_the_browser_or_the_switch(web: Web) -> None:
    assert "Kirjaudu sisään" in web.anonymous(language="fi-FI,fi;q=0.9").get("/app/sign-in").text
    swedish = web.anonymous(language="sv-FI, en;q=0.5").get("/app/sign-in")
    assert _lang(swedish) == "sv" and "Logga in" in swedish.text
    assert _lang(web.anonymous(language="de").get("/app/sign-in")) == "fi"  # the default
    client = web.anonymous(language="en")
    form = client.get("/app/sign-in")
    answer = client.post(
        "/app/language",
        data={"csrf_token": csrf_of(form), "locale": "sv", "next": "/app/sign-in"},
    )
    assert answer.status_code == 303
    assert "Logga in" in client.get("/app/sign-in").text


def test_accept_language_negotiation() -> None:
    assert negotiate("sv-SE,sv;q=0.9,en;q=0.8", "fi") == "sv"
    assert negotiate("en;q=0.4, fi;q=0.8", "sv") == "fi"
    assert negotiate("de-DE, fr;q=0.5", "fi") == "fi"
    assert negotiate("sv;q=0, en", "fi") == "en"
    assert negotiate(None, "sv") == "sv"
    assert negotiate("en;q=bogus, sv", "fi") == "sv"


def test_errors_under_app_are_pages_and_under_api_problems(web: Web) -> None:
    coach = web.signed_in("coach", language="fi")
    missing = coach.get("/app/no-such-page")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Sivua ei löytynyt" in missing.text and _lang(missing) == "fi"
    api = coach.get("/api/v1/no-such-route")
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
    # Another role's section: the 403 page (not the sign-in page, not a problem document).
    employer = web.signed_in("employer")
    forbidden = employer.get("/app/coach/")
    assert forbidden.status_code == 403
    assert "You do not have access to this page" in forbidden.text
    wrong_method = coach.put("/app/sign-in")
    assert wrong_method.status_code == 405 and "Allow" in wrong_method.headers
    assert "Tämä toiminto ei ole käytettävissä täällä" in wrong_method.text


def _app_raising(tmp_path: Path) -> FastAPI:
    """A bare app with the API's handlers and the pages' wrappers, and routes that fail."""
    app = FastAPI()
    app.state.settings = Settings(paths=PathSettings(var_dir=tmp_path))
    app.state.serving = None
    install_problem_handlers(app)
    errors: dict[str, Exception] = {
        "missing": NotFoundError("jobseeker", "J-1"),
        "forbidden": ForbiddenError("not yours"),
        "conflict": ConflictError("already proposed"),
        "invalid": InvalidError(["body", "level"], "too high", 9),
        "http": HTTPException(409, "a conflict"),
        "crash": RuntimeError("boom"),
    }

    def raising(error: Exception) -> Callable[[], None]:
        def fail() -> None:
            raise error

        return fail

    for prefix in ("/app/test", "/api/test"):
        for name, error in errors.items():
            app.add_api_route(f"{prefix}/{name}", raising(error))
    install(app)
    return app


@pytest.mark.parametrize(
    ("name", "status", "text"),
    [
        ("missing", 404, "Page not found"),
        ("forbidden", 403, "You do not have access to this page"),
        ("conflict", 409, "The change conflicts with what is already saved"),
        ("invalid", 422, "Some of the values are not valid"),
        ("http", 409, "The change conflicts with what is already saved"),
        ("crash", 500, "Something went wrong"),
    ],
)
def test_each_error_is_a_page_with_its_status(
    tmp_path: Path, name: str, status: int, text: str
) -> None:
    client = TestClient(
        _app_raising(tmp_path), raise_server_exceptions=False, headers={"Accept-Language": "en"}
    )
    page = client.get(f"/app/test/{name}")
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert text in page.text and f"Error code: {status}" in page.text
    assert "boom" not in page.text and "J-1" not in page.text
    problem = client.get(f"/api/test/{name}")
    assert problem.status_code == status
    assert problem.headers["content-type"] == "application/problem+json"
    assert problem.json()["status"] == status


def _render(source: str, locale: str, **values: object) -> str:
    from service.web.templating import _Page, _zone

    template = environment.from_string(source)
    return template.render(
        locale=locale, time_zone=_zone("Europe/Helsinki"), _page=_Page(), **values
    )


@pytest.mark.parametrize(
    ("locale", "day", "instant", "number", "share"),
    [
        ("fi", "5.12.2026", "5.12.2026 14.30", "1\xa0234,5", "12,5\xa0%"),
        ("sv", "5 dec. 2026", "2026-12-05 14:30", "1\xa0234,5", "12,5\xa0%"),
        ("en", "5 Dec 2026", "05/12/2026, 14:30", "1,234.5", "12.5%"),
    ],
)
def test_dates_and_numbers_follow_the_locale(
    locale: str, day: str, instant: str, number: str, share: str
) -> None:
    text = _render(
        "{{ d|date }}|{{ t|datetime }}|{{ n|number }}|{{ p|percent(1) }}|{{ none|date }}",
        locale,
        d=date(2026, 12, 5),
        t=datetime(2026, 12, 5, 12, 30, tzinfo=UTC),  # 14.30 in Helsinki
        n=1234.5,
        p=0.125,
        none=None,
    )
    got = text.replace("\u202f", "\xa0").split("|")
    assert got == [day, instant, number, share, ""]


def test_labels_show_names_and_unknown_codes_as_themselves(web: Web) -> None:
    from service.web.templating import labels

    class Request:
        app = web.app

    found = labels(Request())  # type: ignore[arg-type]
    assert found.municipality("091", "fi") == "Helsinki"
    assert found.municipality("091", "sv") == "Helsingfors"
    assert found.municipality("020", "sv") == "Ackas"
    assert found.region("FI-06", "sv") == "Birkaland"
    assert found.region("FI-06", "en") == "Pirkanmaa"
    assert found.employment_area("FI-EA-39", "sv") == "Tammerforsregionen"
    assert found.municipality("0180", "fi") == "Stockholm"
    assert found.region("SE-01", "fi") == "Stockholms län"
    skills = web.app.state.serving.vocab.taxonomy.skills
    uri, label = str(skills["uri"].iloc[0]), str(skills["label"].iloc[0])
    assert found.skill(uri) == label
    assert found.isco_group("2512") == "Software developers"
    assert found.cpv_label("79620000-6", "sv") != "79620000-6"
    for lookup in (found.skill, found.occupation, found.isco_group):
        assert lookup("not-a-code") == "not-a-code"
    assert found.municipality("999", "fi") == "999"
    assert found.cpv_label("00000000", "en") == "00000000"


def test_a_finnish_page_with_esco_labels_says_once_that_they_are_english(web: Web) -> None:
    from service.web.templating import esco_language_notice  # noqa: F401  (a template global)

    skills = web.app.state.serving.vocab.taxonomy.skills
    uri = str(skills["uri"].iloc[0])

    class Request:
        app = web.app

    source = "{{ a|skill_label }} {{ b|skill_label }} {{ esco_language_notice(false) }}"
    finnish = _render(source, "fi", request=Request(), a=uri, b=uri)
    assert finnish.count("näytetään englanniksi") == 1
    placed = _render("{{ esco_language_notice() }}" + source, "sv", request=Request(), a=uri, b=uri)
    assert placed.count("visas på engelska") == 1
    assert "English" not in _render(source, "en", request=Request(), a=uri, b=uri)
    assert "englanniksi" not in _render(
        "{{ c|municipality }} {{ esco_language_notice(false) }}", "fi", request=Request(), c="091"
    )


def test_api_docs_are_served_from_local_files(web: Web) -> None:
    client = web.anonymous()
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert urls, path
        assert not [url for url in urls if re.match(r"(?i)(https?:)?//", url)], urls
        assert "fonts.googleapis" not in page.text and "cdn." not in page.text
        for url in urls:
            assert client.get(url).status_code == 200, url
        # The inline start-up script is admitted by its hash, nothing else inline.
        assert (
            "'unsafe-inline'"
            not in page.headers["content-security-policy"]
            .split("script-src", 1)[1]
            .split(";", 1)[0]
        )
    assert client.get("/openapi.json").status_code == 200
    swagger = client.get("/docs").text
    assert "/app/static/vendor/swagger-ui/oauth2-redirect.html" in swagger
    assert client.get("/app/static/vendor/swagger-ui/oauth2-redirect.js").status_code == 200
    assert client.get("/app/static/vendor/htmx.min.js").status_code == 200


def test_the_vendored_files_carry_their_licences() -> None:
    vendor = STATIC_DIR / "vendor"
    for path in (
        "htmx.min.js",
        "htmx.LICENSE",
        "swagger-ui/LICENSE",
        "swagger-ui/swagger-ui-bundle.js",
        "redoc/LICENSE",
        "redoc/redoc.standalone.js",
    ):
        assert (vendor / path).stat().st_size > 0, path
    assert "htmx" in (vendor / "htmx.min.js").read_text()[:200]
    assert re.search(r'version:"2\.0\.\d+"', (vendor / "htmx.min.js").read_text())
