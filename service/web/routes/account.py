"""Signing in and out, the language, the account page, and where ``/`` and ``/app/`` lead."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.api.runtime import ServingState
from service.api.security import Caller
from service.operations import accounts
from service.operations.errors import InvalidError
from service.storage.tables import Role
from service.web.auth import (
    COOKIE_PATH,
    SESSION_COOKIE,
    CsrfForm,
    WebUser,
    identity,
    safe_next,
    set_page_cookie,
    sign_in_location,
)
from service.web.i18n import LOCALES
from service.web.templating import LOCALE_COOKIE, render, translator

router = APIRouter(include_in_schema=False)

#: Each role's section of the application.
SECTIONS = {
    Role.COACH: "/app/coach/",
    Role.EMPLOYER: "/app/employer/",
    Role.PROCUREMENT: "/app/procurement/",
    Role.ADMIN: "/app/operator/",
    Role.OPERATOR: "/app/operator/",
}


def section_of(caller: Caller) -> str:
    return SECTIONS[caller.role]


def _state(request: Request) -> ServingState:
    state: ServingState = request.app.state.serving
    return state


def _see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def _set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None = None
) -> None:
    set_page_cookie(request, response, name, value, max_age)


@router.get("/")
async def root() -> RedirectResponse:
    return _see_other("/app/")


@router.get("/app")
@router.get("/app/")
async def home(request: Request) -> RedirectResponse:
    found = await identity(request)
    if found is None:
        return _see_other(sign_in_location("/app/"))
    return _see_other(section_of(found.caller))


def _sign_in_page(
    request: Request, next_path: str, username: str = "", error: str | None = None
) -> HTMLResponse:
    return render(
        request,
        "sign_in.html",
        {"next": next_path, "username_value": username, "error": error},
        status_code=400 if error else 200,
    )


@router.get("/app/sign-in", response_model=None)
async def sign_in_form(request: Request, next: str = "") -> Response:
    found = await identity(request)
    if found is not None:
        return _see_other(safe_next(next, section_of(found.caller)))
    return _sign_in_page(request, safe_next(next, ""))


@router.post("/app/sign-in", response_model=None)
async def sign_in(request: Request, form: CsrfForm) -> Response:
    username = str(form.get("username") or "")
    password = str(form.get("password") or "")
    next_path = safe_next(str(form.get("next") or ""), "")
    state = _state(request)
    settings = request.app.state.settings.web

    def attempt() -> accounts.SignedIn:
        with state.write_sessions() as session:
            return accounts.sign_in(session, settings, username, password)

    try:
        signed_in = await run_in_threadpool(attempt)
    except accounts.SignInRefusedError:
        _ = translator(request)
        message = _(
            "The username or password is wrong, or the account is locked or disabled. "
            "After %(count)s failed attempts in a row, signing in is blocked for "
            "%(minutes)s minutes.",
            count=settings.lockout_failures,
            minutes=format(settings.lockout_minutes, "g"),
        )
        return _sign_in_page(request, next_path, username[:200], message)
    with state.sessions() as session:
        found = accounts.look_up(session, settings, signed_in.token)
    assert found is not None
    response = _see_other(next_path or section_of(found.caller))
    _set_cookie(request, response, SESSION_COOKIE, signed_in.token)
    return response


@router.post("/app/sign-out")
async def sign_out(request: Request, form: CsrfForm) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    state = _state(request)
    if token:

        def end() -> None:
            with state.write_sessions() as session:
                accounts.sign_out(session, token)

        await run_in_threadpool(end)
    response = _see_other("/app/sign-in")
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/app/language")
async def language(request: Request, form: CsrfForm) -> RedirectResponse:
    locale = str(form.get("locale") or "")
    next_path = safe_next(str(form.get("next") or ""), "/app/")
    if locale not in LOCALES:
        return _see_other(next_path)
    found = await identity(request)
    if found is not None:
        state = _state(request)

        def store() -> None:
            with state.write_sessions() as session:
                accounts.set_locale(session, found.caller.user_id, locale)

        await run_in_threadpool(store)
    response = _see_other(next_path)
    # Also for the sign-in page after signing out (a year; it holds only the language).
    _set_cookie(request, response, LOCALE_COOKIE, locale, max_age=365 * 24 * 3600)
    return response


@router.get("/app/account")
async def account(request: Request, caller: WebUser) -> HTMLResponse:
    return render(request, "account.html", _account_context(request, caller))


def _account_context(request: Request, caller: Caller) -> dict[str, object]:
    settings = request.app.state.settings.web
    return {"section": section_of(caller), "password_min_length": settings.password_min_length}


@router.post("/app/account/password", response_model=None)
async def change_password(
    request: Request,
    caller: WebUser,
    form: CsrfForm,
    found: Annotated[accounts.WebIdentity | None, Depends(identity)],
) -> Response:
    """The signed-in person changes their own password (the current one is asked)."""
    current = str(form.get("current_password") or "")
    new = str(form.get("new_password") or "")
    repeated = str(form.get("repeat_password") or "")
    _ = translator(request)
    state = _state(request)
    settings = request.app.state.settings.web
    assert found is not None
    errors: dict[str, str] = {}
    if new != repeated:
        errors["repeat_password"] = _("The two new passwords differ.")
    else:

        def change() -> accounts.SignedIn:
            with state.write_sessions() as session:
                return accounts.change_password(session, settings, found.username, current, new)

        try:
            signed_in = await run_in_threadpool(change)
        except accounts.SignInRefusedError:
            errors["current_password"] = _("The current password is wrong.")
        except InvalidError as error:
            errors["new_password"] = _password_message(request, error, settings)
        else:
            # Every session of the user ended; this browser continues in a new one.
            response = _see_other("/app/account?changed=1")
            _set_cookie(request, response, SESSION_COOKIE, signed_in.token)
            return response
    return render(
        request,
        "account.html",
        {**_account_context(request, caller), "errors": errors},
        status_code=422,
    )


def _password_message(request: Request, error: InvalidError, settings: object) -> str:
    _ = translator(request)
    if "username" in error.message:
        return _("The password may not be your username.")
    if "at most" in error.message:
        return _("The password is too long.")
    return _(
        "The password must have at least %(count)s characters.",
        count=getattr(settings, "password_min_length", 12),
    )
