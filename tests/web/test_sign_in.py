"""Signing in to the pages: sessions, lock-out, expiry, CSRF, redirects, cookies, headers."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from service.storage.database import make_engine
from service.storage.tables import User, WebSession, utc_now
from service.web.auth import CSRF_COOKIE, SESSION_COOKIE, safe_next
from tests.web.conftest import Web, csrf_of

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("web")]

REFUSED = "The username or password is wrong, or the account is locked or disabled."


def _set_cookie_headers(answer: httpx.Response) -> list[str]:
    return answer.headers.get_list("set-cookie")


def _cookie(answer: httpx.Response, name: str) -> str:
    found = [c for c in _set_cookie_headers(answer) if c.startswith(f"{name}=")]
    assert len(found) == 1, _set_cookie_headers(answer)
    return found[0]


def _row(web: Web, who: str) -> User:
    engine = make_engine(web.url)
    try:
        with engine.connect() as connection:
            row = connection.execute(select(User).where(User.username == who)).one()
            return row  # type: ignore[return-value]
    finally:
        engine.dispose()


def _sessions_of(web: Web, who: str) -> int:
    engine = make_engine(web.url)
    try:
        with engine.connect() as connection:
            return int(
                connection.scalar(
                    select(func.count())
                    .select_from(WebSession)
                    .join(User, User.user_id == WebSession.user_id)
                    .where(User.username == who)
                )
                or 0
            )
    finally:
        engine.dispose()


def test_sign_in_opens_a_session_in_the_callers_section(web: Web) -> None:
    client = web.anonymous()
    assert client.get("/app/account").headers["location"] == "/app/sign-in?next=/app/account"
    answer = web.sign_in_with(client, "coach", web.password("coach"))
    assert answer.status_code == 303
    assert answer.headers["location"] == "/app/coach/"
    page = client.get("/app/account")
    assert page.status_code == 200
    assert "Job coach" in page.text and ">coach<" in page.text
    # Each role lands in its own section.
    for who, section in (
        ("employer", "/app/employer/"),
        ("procurement", "/app/procurement/"),
        ("admin", "/app/operator/"),
        ("operator", "/app/operator/"),
    ):
        signed_in = web.signed_in(who)
        assert signed_in.get("/app/").headers["location"] == section
    assert web.anonymous().get("/").headers["location"] == "/app/"
    assert web.anonymous().get("/app/").headers["location"] == "/app/sign-in"


def test_the_password_is_stored_as_an_argon2id_hash(web: Web) -> None:
    password = web.password("coach")
    stored = _row(web, "coach").password_hash
    assert stored is not None and stored.startswith("$argon2id$")
    assert password not in stored


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(web: Web) -> None:
    web.password("procurement")
    client = web.anonymous()
    wrong = web.sign_in_with(client, "procurement", "not the password at all")
    unknown = web.sign_in_with(client, "nobody-of-that-name", "not the password at all")
    assert wrong.status_code == unknown.status_code == 400
    assert REFUSED in wrong.text and REFUSED in unknown.text
    assert SESSION_COOKIE not in " ".join(_set_cookie_headers(wrong) + _set_cookie_headers(unknown))
    # The form keeps the username typed, and marks the fields invalid for assistive technology.
    assert 'value="procurement"' in wrong.text and 'aria-invalid="true"' in wrong.text
    web.update_user("procurement", failed_sign_ins=0)


def test_five_failures_in_a_row_lock_the_account_until_the_period_ends(web: Web) -> None:
    who = "other-procurement"
    password = web.password(who)

    def attempt(with_password: str) -> int:
        answer = web.sign_in_with(web.anonymous(), who, with_password)
        return int(answer.status_code)

    # A success resets the count: four failures, a success, four failures lock nothing.
    for _ in range(4):
        assert attempt("wrong password here") == 400
    assert attempt(password) == 303
    assert _row(web, who).failed_sign_ins == 0
    for _ in range(5):
        assert attempt("wrong password here") == 400
    locked = _row(web, who)
    assert locked.locked_until is not None
    assert timedelta(minutes=14) < locked.locked_until - utc_now() <= timedelta(minutes=15)
    # Locked: even the right password is refused, with the same message.
    refused = web.sign_in_with(web.anonymous(), who, password)
    assert refused.status_code == 400 and REFUSED in refused.text
    # The period is over (moved into the past): the right password works, the count restarts.
    web.update_user(who, locked_until=utc_now() - timedelta(seconds=1))
    assert attempt(password) == 303
    after = _row(web, who)
    assert after.failed_sign_ins == 0 and after.locked_until is None


def test_a_disabled_user_cannot_sign_in_and_their_sessions_stop(web: Web) -> None:
    who = "other-employer"
    client = web.signed_in(who)
    assert client.get("/app/account").status_code == 200
    web.update_user(who, active=False)
    try:
        assert client.get("/app/account").headers["location"].startswith("/app/sign-in")
        refused = web.sign_in_with(web.anonymous(), who, web.password(who))
        assert refused.status_code == 400 and REFUSED in refused.text
    finally:
        web.update_user(who, active=True)
    assert client.get("/app/account").status_code == 200  # the session itself did not end


def test_a_session_ends_when_idle_and_at_its_absolute_end(web: Web) -> None:
    idle = web.signed_in("coach")
    assert idle.get("/app/account").status_code == 200
    web.update_session(idle, last_seen_at=utc_now() - timedelta(minutes=29))
    assert idle.get("/app/account").status_code == 200  # within the idle period; refreshed
    web.update_session(idle, last_seen_at=utc_now() - timedelta(minutes=31))
    assert idle.get("/app/account").headers["location"] == "/app/sign-in?next=/app/account"

    # A partial update (htmx) of an expired session sends the whole page to the sign-in.
    partial = idle.get("/app/account", headers={"HX-Request": "true"})
    assert partial.status_code == 200 and partial.text == ""
    assert partial.headers["hx-redirect"] == "/app/sign-in?next=/app/account"

    absolute = web.signed_in("coach")
    web.update_session(
        absolute,
        created_at=utc_now() - timedelta(hours=12),
        expires_at=utc_now() - timedelta(seconds=1),
    )
    assert absolute.get("/app/account").status_code == 303


def test_use_keeps_a_session_alive(web: Web) -> None:
    client = web.signed_in("coach")
    web.update_session(client, last_seen_at=utc_now() - timedelta(minutes=20))
    assert client.get("/app/account").status_code == 200
    engine = make_engine(web.url)
    try:
        with engine.connect() as connection:
            seen = connection.scalar(
                select(WebSession.last_seen_at).where(
                    WebSession.session_hash == web.session_hash(client)
                )
            )
    finally:
        engine.dispose()
    assert seen is not None and utc_now() - seen < timedelta(minutes=1)


def test_sign_out_ends_the_session_on_the_server(web: Web) -> None:
    client = web.signed_in("employer")
    token = client.cookies.get(SESSION_COOKIE)
    assert token
    page = client.get("/app/account")
    answer = client.post("/app/sign-out", data={"csrf_token": csrf_of(page)})
    assert answer.status_code == 303 and answer.headers["location"] == "/app/sign-in"
    assert f'{SESSION_COOKIE}=""' in _cookie(answer, SESSION_COOKIE)
    # The old cookie, replayed by another browser, opens nothing.
    replayed = web.anonymous()
    replayed.cookies.set(SESSION_COOKIE, token, domain="testserver", path="/app")
    assert replayed.get("/app/account").status_code == 303
    engine = make_engine(web.url)
    try:
        with engine.connect() as connection:
            rows = connection.scalar(
                select(func.count())
                .select_from(WebSession)
                .where(WebSession.session_hash == web.session_hash(replayed))
            )
    finally:
        engine.dispose()
    assert rows == 0


def _post_routes(web: Web) -> list[str]:
    """Every POST path under /app, from the application's own routes."""
    paths: set[str] = set()

    def walk(routes: list[object]) -> None:
        for route in routes:
            contexts = getattr(route, "effective_route_contexts", None)
            if contexts is not None:
                for context in contexts():
                    methods = getattr(context.original_route, "methods", None) or set()
                    if "POST" in methods:
                        paths.add(context.path)
            elif "POST" in (getattr(route, "methods", None) or set()):
                paths.add(getattr(route, "path", ""))

    walk(list(web.app.routes))
    return sorted(p for p in paths if p == "/app" or p.startswith("/app/"))


_ROLE_OF_SECTION = {
    "/app/coach/": "coach",
    "/app/employer/": "employer",
    "/app/procurement/": "procurement",
    "/app/operator/": "admin",
}
CSRF_REFUSED = "The form has expired or was not sent from this site."


def test_every_post_under_app_refuses_a_missing_or_wrong_csrf_token(web: Web) -> None:
    routes = _post_routes(web)
    assert {"/app/sign-in", "/app/sign-out", "/app/language", "/app/account/password"} <= set(
        routes
    )
    clients = {}
    for path in routes:
        who = next(
            (role for prefix, role in _ROLE_OF_SECTION.items() if path.startswith(prefix)),
            "coach",
        )
        if who not in clients:
            clients[who] = web.signed_in(who)
        client = clients[who]
        url = re.sub(r"\{[^}]+\}", "x", path)
        for data in ({}, {"csrf_token": "forged-token-value"}):
            answer = client.post(url, data=data)
            assert answer.status_code == 403, (path, data, answer.status_code)
            assert CSRF_REFUSED in answer.text, path
        # Without a session (e.g. a forged sign-in), the pre-session token is required.
        anonymous = web.anonymous()
        anonymous.get("/app/sign-in")
        assert anonymous.cookies.get(CSRF_COOKIE)
        answer = anonymous.post(url, data={"csrf_token": "forged-token-value"})
        assert answer.status_code in (303, 403), (path, answer.status_code)
        if answer.status_code == 303:  # a page for signed-in people: sign in first
            assert answer.headers["location"].startswith("/app/sign-in")


def test_a_sessions_token_is_not_valid_for_another_session(web: Web) -> None:
    one, other = web.signed_in("coach"), web.signed_in("coach")
    token = csrf_of(one.get("/app/account"))
    assert csrf_of(other.get("/app/account")) != token
    answer = other.post("/app/language", data={"csrf_token": token, "locale": "sv"})
    assert answer.status_code == 403


@pytest.mark.parametrize(
    "next_path",
    [
        "https://evil.example/app/",
        "//evil.example/app/",
        "/\\evil.example",
        "http:/app/coach/",
        "javascript:alert(1)",
        "/api/v1/admin/model",
        "/app/../api/v1/admin/model",
        "/app/sign-out",
        "/app/\r\nSet-Cookie: x=1",
    ],
)
def test_sign_in_never_redirects_off_the_application(web: Web, next_path: str) -> None:
    client = web.anonymous()
    form = client.get("/app/sign-in", params={"next": next_path})
    assert "evil" not in form.text.split("<main", 1)[1]
    answer = client.post(
        "/app/sign-in",
        data={
            "csrf_token": csrf_of(form),
            "username": "coach",
            "password": web.password("coach"),
            "next": next_path,
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/app/coach/"
    assert safe_next(next_path) == "/app/"


def test_sign_in_returns_to_the_page_asked_for(web: Web) -> None:
    client = web.anonymous()
    first = client.get("/app/account?tab=1")
    assert first.headers["location"] == "/app/sign-in?next=/app/account%3Ftab%3D1"
    form = client.get(first.headers["location"])
    assert 'name="next" value="/app/account?tab=1"' in form.text
    answer = client.post(
        "/app/sign-in",
        data={
            "csrf_token": csrf_of(form),
            "username": "coach",
            "password": web.password("coach"),
            "next": "/app/account?tab=1",
        },
    )
    assert answer.headers["location"] == "/app/account?tab=1"


def test_cookies_are_httponly_samesite_on_the_app_path_and_secure_over_https(web: Web) -> None:
    plain = web.anonymous()
    form = plain.get("/app/sign-in")
    for cookie in (
        _cookie(form, CSRF_COOKIE),
        _cookie(web.sign_in_with(plain, "coach", web.password("coach")), SESSION_COOKIE),
    ):
        lowered = cookie.lower()
        assert "httponly" in lowered and "samesite=lax" in lowered and "path=/app" in lowered
        assert "secure" not in lowered  # plain http (a local demo): a Secure cookie is lost

    tls = web.anonymous(base_url="https://testserver")
    form = tls.get("/app/sign-in")
    session = _cookie(web.sign_in_with(tls, "coach", web.password("coach")), SESSION_COOKIE)
    for cookie in (_cookie(form, CSRF_COOKIE), session):
        lowered = cookie.lower()
        assert "secure" in lowered and "httponly" in lowered and "samesite=lax" in lowered


def test_pages_carry_the_security_headers_and_no_inline_script(web: Web) -> None:
    client = web.signed_in("coach")
    for page in (web.anonymous().get("/app/sign-in"), client.get("/app/account")):
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert page.headers["referrer-policy"] == "same-origin"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["cache-control"] == "no-store"
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) == []
        assert " style=" not in page.text and "<style" not in page.text
        # htmx is configured not to inject its indicator style (refused by the CSP).
        assert '"includeIndicatorStyles": false' in page.text
    # The JSON API is left as it was.
    api = web.get("coach", "/api/v1/coach/jobseekers?limit=1")
    assert "content-security-policy" not in api.headers


def test_a_user_changes_their_own_password(web: Web) -> None:
    who = "other-coach"
    old = web.password(who)
    client, elsewhere = web.signed_in(who), web.signed_in(who)
    page = client.get("/app/account")
    new = "a-brand-new-password-42"

    def change(current: str, password: str, repeat: str) -> httpx.Response:
        return client.post(
            "/app/account/password",
            data={
                "csrf_token": csrf_of(page),
                "current_password": current,
                "new_password": password,
                "repeat_password": repeat,
            },
        )

    refused = change("not the current one", new, new)
    assert refused.status_code == 422 and "The current password is wrong." in refused.text
    assert change(old, "short", "short").status_code == 422
    assert "The two new passwords differ." in change(old, new, new + "x").text
    assert "may not be your username" in change(old, who, who).text
    web.update_user(who, failed_sign_ins=0)
    changed = change(old, new, new)
    assert changed.status_code == 303
    # This browser goes on in a new session; the other one was signed out.
    assert client.get("/app/account?changed=1").status_code == 200
    assert elsewhere.get("/app/account").status_code == 303
    assert _sessions_of(web, who) == 1
    assert web.sign_in_with(web.anonymous(), who, old).status_code == 400
    web.passwords[who] = new
    assert web.signed_in(who).get("/app/account").status_code == 200
