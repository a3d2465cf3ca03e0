"""JSON log lines with the request id on every line logged while a request is handled."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from service.observability import (
    ACCESS_LOGGER,
    JsonFormatter,
    RequestLogging,
    note_user,
    request_id_from,
    uvicorn_log_config,
)

pytestmark = pytest.mark.unit

route_log = logging.getLogger("kohtaanto.test.route")


def _sync_route(request: Request) -> PlainTextResponse:
    route_log.warning("on a thread")
    note_user(42)
    return PlainTextResponse("ok")


async def _async_route(request: Request) -> PlainTextResponse:
    route_log.warning("on the loop")
    return PlainTextResponse("ok", status_code=201)


async def _failing_route(request: Request) -> PlainTextResponse:
    raise RuntimeError("boom")


Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def lines() -> Iterator[Lines]:
    """The JSON lines of the service's loggers (``kohtaanto.*``) written so far."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(logging.Filter("kohtaanto"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _client() -> TestClient:
    app = Starlette(
        routes=[
            Route("/sync", _sync_route),
            Route("/async", _async_route, methods=["POST"]),
            Route("/fail", _failing_route),
        ]
    )
    return TestClient(RequestLogging(app), raise_server_exceptions=False)


def test_every_line_of_a_request_carries_its_id(lines: Lines) -> None:
    with _client() as client:
        first = client.get("/sync", headers={"X-Request-ID": "abc-123"})
        second = client.post("/async")
        third = client.get("/sync", headers={"X-Request-ID": "bad id\r\nforged: line"})
    logging.getLogger("kohtaanto.test").warning("after the requests")
    assert first.headers["x-request-id"] == "abc-123"
    generated = second.headers["x-request-id"]
    assert len(generated) == 32 and generated != "abc-123"
    assert third.headers["x-request-id"] not in ("abc-123", generated)
    assert "forged" not in third.headers["x-request-id"]

    by_id: dict[object, list[dict[str, Any]]] = {}
    for line in lines():
        assert set(line) >= {"time", "level", "logger", "message", "request_id"}
        by_id.setdefault(line["request_id"], []).append(line)
    assert [line["message"] for line in by_id["abc-123"]] == ["on a thread", "GET /sync 200"]
    assert [line["message"] for line in by_id[generated]] == ["on the loop", "POST /async 201"]
    assert [line["message"] for line in by_id[None]] == ["after the requests"]

    access = by_id["abc-123"][-1]
    assert access["logger"] == ACCESS_LOGGER
    assert access["method"] == "GET" and access["path"] == "/sync" and access["status"] == 200
    assert access["user_id"] == 42
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] >= 0
    assert by_id[generated][-1]["user_id"] is None


def test_a_failure_is_logged_with_status_500_and_its_id(lines: Lines) -> None:
    with _client() as client:
        answer = client.get("/fail", headers={"X-Request-ID": "req-500"})
    assert answer.status_code == 500
    access = [line for line in lines() if line["logger"] == ACCESS_LOGGER]
    assert [(line["request_id"], line["status"]) for line in access] == [("req-500", 500)]


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        (b"abc", True),
        (b"0f8e-AZ_09.x:y", True),
        (b"x" * 100, True),
        (b"x" * 101, False),
        (b"", False),
        (b"-leading-dash", False),
        (b"with space", False),
        (b"caf\xc3\xa9", False),
        (b'{"json":1}', False),
    ],
)
def test_only_sane_incoming_ids_are_kept(incoming: bytes, kept: bool) -> None:
    chosen = request_id_from(incoming)
    assert (chosen == incoming.decode("utf-8", "replace")) is kept
    assert chosen.isascii() and 0 < len(chosen) <= 100


def test_the_formatter_adds_extras_and_exceptions() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed %s", ("here",), exc_info=True,
            extra={"table": "users"},
        )  # fmt: skip
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed here" and line["level"] == "ERROR"
    assert line["table"] == "users" and line["request_id"] is None
    assert "ValueError: bad" in str(line["exception"])
    assert line["time"].endswith("+00:00")


def test_the_uvicorn_config_is_valid_and_silences_uvicorns_access_log() -> None:
    config = uvicorn_log_config("info", access=False)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logging.config.dictConfig(config)
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        assert not logging.getLogger("uvicorn.access").isEnabledFor(logging.INFO)
        assert not logging.getLogger(ACCESS_LOGGER).isEnabledFor(logging.INFO)
        logging.config.dictConfig(uvicorn_log_config("info"))
        assert logging.getLogger(ACCESS_LOGGER).isEnabledFor(logging.INFO)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger(ACCESS_LOGGER).setLevel(logging.NOTSET)
        logging.getLogger("uvicorn.access").setLevel(logging.NOTSET)
