"""Who is signed in to the pages, and the CSRF check of every form.

Page handlers declare the person they serve::

    @router.get("/")
    def caseload(request: Request, caller: WebCoach, session: SessionDep) -> HTMLResponse: ...

    @router.post("/{jobseeker_id}/assessments")
    def record(request: Request, caller: WebCoach, form: CsrfForm, ...) -> Response: ...

Not signed in (no session, or one that expired): 303 to ``/app/sign-in?next=<this page>``.
Signed in with another role: the 403 page. ``WebOperator`` admits ``admin`` and
``operator`` (the JSON admin routes' rule); ``WebUser`` any role.

``CsrfForm`` parses the posted form and checks its ``csrf_token`` field against the
session's synchronizer token (or, before sign-in, against the pre-session cookie); 403
otherwise. Every POST handler under ``/app`` takes it (``tests/web`` checks each route).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from service.api.runtime import ServingState
from service.api.security import Caller
from service.observability import note_user
from service.operations import accounts
from service.operations.errors import ForbiddenError
from service.storage.tables import Role, utc_now

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "CsrfForm",
    "CsrfRefusedError",
    "SignInRequiredError",
    "WebCoach",
    "WebEmployer",
    "WebOperator",
    "WebProcurement",
    "WebUser",
    "identity",
    "safe_next",
]

#: The session cookie (its value is the session token; the database keeps its sha256).
SESSION_COOKIE = "kohtaanto_session"
#: The pre-session CSRF cookie of the sign-in and language forms.
CSRF_COOKIE = "kohtaanto_csrf"
#: Where every page cookie is sent.
COOKIE_PATH = "/app"


class SignInRequiredError(Exception):
    """Nobody is signed in: the page answers 303 to the sign-in page (``next`` = here)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def safe_next(value: str | None, default: str = "/app/") -> str:
    """``value`` when it is a path of this application (``/app/...``), else ``default``.

    Refuses anything that could leave the site: absolute URLs, ``//host``, backslashes,
    control characters and paths outside ``/app``.
    """
    if not value or len(value) > 2000:
        return default
    if any(ord(ch) < 0x20 or ch == "\\" for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith("//"):
        return default
    if not (parts.path == "/app" or parts.path.startswith("/app/")):
        return default
    if "/.." in parts.path or parts.path.startswith("/app/sign-"):
        return default
    return value


def is_secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_page_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None = None
) -> None:
    """A cookie of the pages: HttpOnly, SameSite=Lax, Path=/app, Secure over https."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
    )


async def identity(request: Request) -> accounts.WebIdentity | None:
    """The signed-in person of this request (looked up once per request), or None."""
    if hasattr(request.state, "web_identity"):
        found: accounts.WebIdentity | None = request.state.web_identity
        return found
    token = request.cookies.get(SESSION_COOKIE)
    found = None
    if token:
        state: ServingState = request.app.state.serving
        settings = request.app.state.settings.web
        found = await run_in_threadpool(_look_up, state, settings, token)
    request.state.web_identity = found
    if found is not None:
        note_user(found.caller.user_id)
    return found


def _look_up(state: ServingState, settings: Any, token: str) -> accounts.WebIdentity | None:
    now = utc_now()
    with state.sessions() as session:
        found = accounts.look_up(session, settings, token, now)
    if found is not None and now - found.last_seen_at >= timedelta(
        seconds=accounts.SESSION_TOUCH_SECONDS
    ):
        with state.write_sessions() as session:
            accounts.touch(session, found.session_hash, now)
    return found


def _next_of(request: Request) -> str:
    path = request.url.path
    if request.method == "GET" and request.url.query:
        path += "?" + request.url.query
    return safe_next(path)


def _require(*roles: Role) -> Callable[[Request], Coroutine[Any, Any, Caller]]:
    async def check(request: Request) -> Caller:
        found = await identity(request)
        if found is None:
            raise SignInRequiredError(_next_of(request))
        if roles and found.caller.role not in roles:
            raise ForbiddenError("this page is not for your role")
        return found.caller

    return check


def sign_in_location(next_path: str) -> str:
    if next_path in ("/app", "/app/"):
        return "/app/sign-in"
    return "/app/sign-in?next=" + quote(next_path, safe="/")


class CsrfRefusedError(HTTPException):
    """A form posted without this session's token (403): forged, or from an old page."""

    def __init__(self) -> None:
        super().__init__(
            status.HTTP_403_FORBIDDEN, "the form's security token is missing or out of date"
        )


async def _csrf_form(request: Request) -> FormData:
    form = await request.form()
    # htmx requests that post no form may send the token as a header instead.
    given = form.get("csrf_token") or request.headers.get("x-csrf-token")
    found = await identity(request)
    expected = found.csrf_token if found is not None else request.cookies.get(CSRF_COOKIE)
    if (
        not isinstance(given, str)
        or not expected
        or not hmac.compare_digest(given.encode(), expected.encode())
    ):
        raise CsrfRefusedError()
    return form


def pre_session_token(request: Request) -> tuple[str, bool]:
    """The pre-session CSRF token of this browser, and whether the cookie must be set."""
    token = request.cookies.get(CSRF_COOKIE)
    if token and 20 <= len(token) <= 64:
        request.state.pre_session_csrf = token
        return token, False
    token = secrets.token_urlsafe(32)
    request.state.pre_session_csrf = token
    return token, True


WebUser = Annotated[Caller, Depends(_require())]
WebCoach = Annotated[Caller, Depends(_require(Role.COACH))]
WebEmployer = Annotated[Caller, Depends(_require(Role.EMPLOYER))]
WebProcurement = Annotated[Caller, Depends(_require(Role.PROCUREMENT))]
WebOperator = Annotated[Caller, Depends(_require(Role.ADMIN, Role.OPERATOR))]
CsrfForm = Annotated[FormData, Depends(_csrf_form)]
