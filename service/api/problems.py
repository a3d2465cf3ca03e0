"""Every error as one RFC 9457 ``application/problem+json`` document; JSON bodies parsed strictly.

A problem has ``type`` (``about:blank``: the status says what happened), ``title`` (the
status's phrase), ``status``, ``detail`` (one sentence) and ``instance`` (the request's path);
a 422 adds ``errors``, one ``{loc, msg, type}`` per field (with ``input`` when it is a plain
value). The same shape comes from the routes' own refusals, FastAPI's validation, Starlette's
404 and 405 (with ``Allow``), the body limit's 413 and the database's 409, 422 and 503.

Starlette parses a body with :func:`json.loads`, which takes ``NaN`` and ``Infinity`` (not
JSON), turns a number too large for a double into ``inf``, and lets ``"\\ud800"`` through as a
lone surrogate that no UTF-8 encoder (the database's, or the error answer's) can write.
:class:`StrictJSONBodies` refuses all of them with a 422 before any route sees the body.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, NoReturn, cast

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from matching.domain import DomainValidationError
from service.operations.errors import InvalidError, OperationError

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def _text(value: object) -> str:
    """``value`` as text any UTF-8 encoder can write (a lone surrogate becomes ``?``)."""
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _plain(value: object) -> object:
    """An input worth echoing in an error (a scalar), made JSON-safe; otherwise ``None``."""
    if isinstance(value, bool | int) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _text(value)
    return None


def error_item(error: dict[str, Any]) -> dict[str, object]:
    """One field's error in the problem's ``errors``: where, what, which kind."""
    item: dict[str, object] = {
        "loc": [p if isinstance(p, int) else _text(p) for p in error.get("loc", ())],
        "msg": _text(error.get("msg", "")),
        "type": _text(error.get("type", "value_error")),
    }
    echoed = _plain(error.get("input"))
    if echoed is not None:
        item["input"] = echoed
    return item


def invalid(
    loc: Sequence[str | int], message: str, value: object = None, kind: str = "value_error"
) -> InvalidError:
    """A 422 naming one field (``["body", "occurred_at"]``), what is wrong and the value given.

    Kept for the routes that raise it; the service layer raises
    :class:`service.operations.errors.InvalidError` itself. The handlers below render it as a
    problem with one entry in ``errors``.
    """
    return InvalidError(loc, message, value, kind)


def _summary(errors: Sequence[dict[str, object]]) -> str:
    """The first error as a sentence, and how many more there are."""
    first = errors[0]
    where = ".".join(str(p) for p in cast(list[object], first["loc"]))
    more = len(errors) - 1
    tail = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
    return f"{where}: {first['msg']}{tail}" if where else f"{first['msg']}{tail}"


def problem(
    status_code: int,
    detail: str,
    instance: str,
    errors: Sequence[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    """The problem+json answer; ``errors`` (pydantic-style dicts) make it a field-level error."""
    content: dict[str, object] = {
        "type": "about:blank",
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": _text(detail),
        "instance": _text(instance),
    }
    if errors is not None:
        items = [error_item(e) for e in errors]
        content["errors"] = items
        if items and not detail:
            content["detail"] = _summary(items)
    return ProblemResponse(content, status_code=status_code, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error ``app`` raises as a problem (see the module's description)."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> ProblemResponse:
        detail = error.detail
        if error.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
            error.headers = {**(error.headers or {}), "Allow": _allowed(request)}
        if isinstance(detail, list):  # a route's own field-level refusal
            return problem(error.status_code, "", request.url.path, detail, error.headers)
        return problem(error.status_code, str(detail), request.url.path, headers=error.headers)

    @app.exception_handler(OperationError)
    async def refused(request: Request, error: OperationError) -> ProblemResponse:
        if isinstance(error, InvalidError):
            return problem(error.status_code, "", request.url.path, [error.as_error()])
        return problem(error.status_code, error.detail, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> ProblemResponse:
        return problem(422, "", request.url.path, list(error.errors()))

    @app.exception_handler(DomainValidationError)
    async def domain_error(request: Request, error: DomainValidationError) -> ProblemResponse:
        loc = ["body", *str(error.field).replace("[", ".").replace("]", "").split(".")]
        item = {"loc": loc, "msg": error.problem, "type": "value_error", "input": str(error.value)}
        return problem(422, "", request.url.path, [item])

    @app.exception_handler(IntegrityError)
    async def conflict(request: Request, error: IntegrityError) -> ProblemResponse:
        return problem(409, "the change conflicts with stored data", request.url.path)

    @app.exception_handler(DataError)
    async def out_of_range(request: Request, error: DataError) -> ProblemResponse:
        # A value the schema let through but the database column cannot hold.
        return problem(422, "a value is out of the range the field allows", request.url.path)

    @app.exception_handler(OperationalError)
    async def unavailable(request: Request, error: OperationalError) -> ProblemResponse:
        log.error("database error: %s", error)
        if error.connection_invalidated and request.method not in ("GET", "HEAD"):
            # The connection went while the change was being written: whether its commit
            # reached the database is unknown, and only a read can tell the client.
            detail = (
                "the database connection was lost while the change was written; it may have "
                "been saved: read it back before sending it again"
            )
        else:
            detail = "the database is unavailable"
        return problem(503, detail, request.url.path, headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def failed(request: Request, error: Exception) -> ProblemResponse:
        # Starlette logs the exception and re-raises it after sending this answer.
        return problem(500, "the service failed to answer; the error is logged", request.url.path)

    app.openapi = _problem_openapi(app)  # type: ignore[method-assign]


def _allowed(request: Request) -> str:
    """Every method the request's path answers to.

    Starlette's 405 names the methods of the first route on the path only; a path with a GET
    route and a POST route would claim to answer POST alone.
    """
    methods = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            methods.append(method)
    return ", ".join(methods)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _problem_openapi(app: FastAPI) -> Any:
    """``app.openapi`` with every 4xx/5xx answer documented as ``application/problem+json``.

    FastAPI documents a ``responses`` model under the route's own media type (JSON).
    """
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = original()
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    for code, answer in operation.get("responses", {}).items():
                        content = answer.get("content", {})
                        if code[:1] in ("4", "5") and "application/json" in content:
                            answer["content"] = {PROBLEM_MEDIA_TYPE: content["application/json"]}
            app.openapi_schema = document
        return app.openapi_schema

    return openapi


# ---- strict JSON bodies ---------------------------------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _has_lone_surrogate(value: object) -> bool:
    """Whether any string (key or value) in parsed JSON holds a lone surrogate.

    A pair written as two escapes is joined by the parser; what is left alone is lone.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def json_problem(body: bytes) -> str | None:
    """Why ``body`` is not strict JSON (UTF-8, finite numbers, no lone surrogate), or None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"the body is not UTF-8 (byte {error.start})"
    try:
        parsed = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as error:
        return f"the body is not JSON: {error.msg} at character {error.pos}"
    except (ValueError, RecursionError) as error:
        return f"the body is not acceptable JSON: {error}"
    if "\\u" in text and _has_lone_surrogate(parsed):
        return "the body holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is no character"
    return None


def _is_json(scope: Scope) -> bool:
    """Whether FastAPI would read the body as JSON (no content type, or a JSON type)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (
                media.startswith(b"application/") and media.endswith(b"+json")
            )
    return True


class StrictJSONBodies:
    """Refuse a JSON body that is not strict JSON with a 422 problem before the route parses it.

    The body is read here (its size is already bounded by the limit outside) and handed on.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD") or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        reason = json_problem(body) if body else None
        if reason is not None:
            error = {"loc": ["body"], "msg": reason, "type": "json_invalid"}
            answer = problem(status.HTTP_422_UNPROCESSABLE_CONTENT, reason, scope["path"], [error])
            await answer(scope, receive, send)
            return
        await self.app(scope, replay(body, receive), send)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields ``body`` once, then passes on what the client sends next."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
