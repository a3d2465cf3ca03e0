"""The web application: server-rendered pages under ``/app/`` for people who sign in.

``create_app`` includes :data:`router` (every page route, left out of the OpenAPI document)
and calls :func:`install`, which adds what pages need beside routes:

- the static files at ``/app/static`` (CSS, the page scripts and the vendored htmx, Swagger
  UI and ReDoc: nothing is loaded from another site);
- ``/docs`` and ``/redoc`` served from those local copies;
- error pages: under ``/app/`` an error renders ``error.html`` in the user's language with
  the status the API would answer (404, 403, 409, 422, 500...); elsewhere the problem+json
  answers of :mod:`service.api.problems` are unchanged;
- security headers on pages (a strict Content-Security-Policy without inline scripts,
  ``frame-ancestors 'none'``, ``Referrer-Policy: same-origin``, ``nosniff``, no caching of
  pages that show personal data).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.web.auth import CsrfRefusedError, SignInRequiredError, identity, sign_in_location
from service.web.routes import account, coach, employer, operator, procurement, targeting

__all__ = ["STATIC_DIR", "install", "mount_static", "router"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/app/static"

router = APIRouter(include_in_schema=False)
for _module in (account, coach, employer, procurement, targeting, operator):
    router.include_router(_module.router)

#: The pages' Content-Security-Policy: everything from this site, no inline script or style.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


def mount_static(app: FastAPI) -> None:
    """Serve ``service/web/static`` at ``/app/static``."""
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="static")


def install(app: FastAPI) -> None:
    """Static files, local API docs, HTML error pages and security headers (see above)."""
    mount_static(app)
    _install_docs(app)
    _install_error_pages(app)
    app.add_middleware(SecurityHeaders)


# ---- security headers -----------------------------------------------------------------------


def is_page(path: str) -> bool:
    """Whether ``path`` is one of the web application's (HTML) paths."""
    return path == "/app" or path.startswith("/app/")


class SecurityHeaders:
    """Security headers on every page, static file and API documentation page.

    A plain ASGI middleware (see ``LimitsAndMetrics``); JSON answers of the API pass as they
    are.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (is_page(path) or path in ("/", "/docs", "/redoc")):
            await self.app(scope, receive, send)
            return
        static = path.startswith(STATIC_PREFIX + "/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                if b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", PAGE_CSP.encode()))
                if not static and b"cache-control" not in names:
                    # Pages show personal data: not kept by the browser or a proxy.
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = headers + [(k, v) for k, v in extra if k not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ---- API documentation from local files -----------------------------------------------------

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _with_script_hashes(page: HTMLResponse, styles_inline: bool) -> HTMLResponse:
    """``page`` with a CSP admitting exactly its inline scripts (by their sha256)."""
    body = bytes(page.body).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(body)
    )
    style = "'self' 'unsafe-inline'" if styles_inline else "'self'"
    csp = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src {style}; "
        "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )
    page.headers["content-security-policy"] = csp
    return page


def _install_docs(app: FastAPI) -> None:
    vendor = f"{STATIC_PREFIX}/vendor"
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{vendor}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{vendor}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{vendor}/swagger-ui/favicon-32x32.png",
            oauth2_redirect_url=f"{vendor}/swagger-ui/oauth2-redirect.html",
        )
        # Swagger UI sets style attributes on its elements.
        return _with_script_hashes(page, styles_inline=True)

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{vendor}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{vendor}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        )
        # ReDoc styles its page with generated <style> elements.
        return _with_script_hashes(page, styles_inline=True)


# ---- error pages ----------------------------------------------------------------------------

Handler = Callable[[Request, Any], Awaitable[Response] | Response]


def _install_error_pages(app: FastAPI) -> None:
    """Wrap every installed exception handler: HTML under ``/app/``, the API's answer elsewhere.

    The API's handler still decides the status and headers (``Allow``, ``Retry-After``);
    the page shows that status in the user's language.
    """
    for kind, handler in list(app.exception_handlers.items()):
        app.exception_handlers[kind] = _html_for_pages(handler)

    @app.exception_handler(SignInRequiredError)
    async def sign_in_first(request: Request, error: SignInRequiredError) -> Response:
        location = sign_in_location(error.next_path)
        if request.headers.get("hx-request") == "true":
            # A partial update (htmx) would swap the sign-in page into a fragment: the whole
            # page goes to the sign-in page instead.
            return Response(status_code=200, headers={"HX-Redirect": location})
        return RedirectResponse(location, status_code=303)


def _html_for_pages(handler: Handler) -> Handler:
    async def answer(request: Request, error: Any) -> Response:
        produced = handler(request, error)
        response = await produced if isinstance(produced, Awaitable) else produced
        if not is_page(request.url.path) or request.url.path.startswith(STATIC_PREFIX + "/"):
            return response
        from service.web.templating import render

        try:
            await identity(request)
        except Exception:  # the database may be what failed
            request.state.web_identity = None
        kept = {
            name: value
            for name, value in response.headers.items()
            if name.lower() in ("allow", "retry-after")
        }
        context = {"status": response.status_code, "csrf": isinstance(error, CsrfRefusedError)}
        return render(request, "error.html", context, response.status_code, kept)

    return answer
