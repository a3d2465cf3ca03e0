"""Structured logs of the HTTP service: one JSON object per line, a request id on each.

Every line logged while a request is handled carries that request's id, taken from a sane
incoming ``X-Request-ID`` header or generated, and echoed in the response's ``X-Request-ID``.
:class:`RequestLogging` writes one access line per request (method, path, status,
duration_ms, user_id when the caller authenticated) on the ``kohtaanto.access`` logger;
uvicorn's own access log is off and its error log goes through the same JSON formatter
(:func:`uvicorn_log_config`, applied by uvicorn in the supervisor and in every worker).

The request id lives in a context variable holding a small mutable object: the caller's
user id is noted on it by the authentication dependency, which may run in another context
(a thread, a copied task context) than the middleware that writes the access line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ACCESS_LOGGER",
    "REQUEST_ID_HEADER",
    "JsonFormatter",
    "RequestContext",
    "RequestLogging",
    "current_request",
    "note_user",
    "request_id_from",
    "uvicorn_log_config",
]

ACCESS_LOGGER = "kohtaanto.access"
REQUEST_ID_HEADER = "x-request-id"
#: An incoming id is used only if it is this short and plain: it is copied into every log
#: line and a response header, where a long or odd one could forge lines or bloat them.
_SANE_ID = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")

access_log = logging.getLogger(ACCESS_LOGGER)


@dataclass
class RequestContext:
    """What the log lines of one request share."""

    request_id: str
    user_id: int | None = None


_current: ContextVar[RequestContext | None] = ContextVar("kohtaanto_request", default=None)


def current_request() -> RequestContext | None:
    """The request being handled in this context, if any."""
    return _current.get()


def note_user(user_id: int) -> None:
    """Remember the authenticated caller for the request's access line."""
    context = _current.get()
    if context is not None:
        context.user_id = user_id


def request_id_from(value: bytes | None) -> str:
    """The incoming ``X-Request-ID`` when it is sane, else a new random id (32 hex digits)."""
    if value is not None and _SANE_ID.fullmatch(value):
        return value.decode("ascii")
    return os.urandom(16).hex()


#: LogRecord attributes that are not extra fields passed with ``extra=``.
_RECORD_FIELDS = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
    | {"message", "asctime", "color_message", "taskName"}
)


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object: time, level, logger, message, request_id, extras.

    Fields passed with ``extra=`` (the access line's method, path, status, ...) are added as
    they are; an exception adds its formatted traceback as ``exception``.
    """

    # One encoder, built once: json.dumps with any option builds a new one per call, which
    # was a third of an access line's cost.
    _encoder = json.JSONEncoder(ensure_ascii=False, default=str)

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def _time(self, created: float) -> str:
        # Formatting a datetime per line costs more than the rest of the line; the part up to
        # the second changes once a second.
        second = int(created)
        if second != self._second:
            stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second, self._second_text = second, stamp
        return f"{self._second_text}.{int((created - second) * 1000):03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = _current.get()
        line["request_id"] = context.request_id if context is not None else None
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return self._encoder.encode(line)


def uvicorn_log_config(level: str, *, access: bool = True) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for ``uvicorn --log-config``: JSON lines on stderr.

    The root logger carries the service's own loggers; uvicorn's error logger propagates to
    it, and uvicorn's access logger is silenced (``kohtaanto.access`` replaces it; ``access``
    False silences that too).
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            ACCESS_LOGGER: {"level": "INFO" if access else "WARNING"},
        },
    }


class RequestLogging:
    """Give each request an id (header in, header out) and write its access line.

    A plain ASGI middleware, outside the app's own: a body refused with 413 is logged too.
    When the access logger is disabled the cost is the id and one header.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value
                break
        context = RequestContext(request_id_from(incoming))
        # Set, never reset: a failure escaping the app is logged by uvicorn after this
        # returns, in this request's task, and should carry the id too.
        _current.set(context)
        header = (b"x-request-id", context.request_id.encode("ascii"))
        status_code = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                # A record made directly: logger.info would also walk the stack to find the
                # calling line, a fifth of an access line's cost, to name this very line.
                record = access_log.makeRecord(
                    ACCESS_LOGGER,
                    logging.INFO,
                    __file__,
                    0,
                    "%s %s %d",
                    (scope["method"], scope["path"], status_code),
                    None,
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status_code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                        "user_id": context.user_id,
                    },
                )
                access_log.handle(record)
