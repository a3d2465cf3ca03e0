"""Reads are answered again after the database dropped the connection; writes are not."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from service.api.problems import install_problem_handlers
from service.api.routing import ReadRetryRoute


def _app(failures: int, invalidated: bool = True) -> tuple[FastAPI, list[str]]:
    """An app whose route fails ``failures`` times with a database error, then answers."""
    calls: list[str] = []
    router = APIRouter(route_class=ReadRetryRoute)

    def answer(method: str) -> dict[str, int]:
        calls.append(method)
        if len(calls) <= failures:
            raise OperationalError(
                "SELECT 1",
                {},
                Exception("terminating connection"),
                connection_invalidated=invalidated,
            )
        return {"calls": len(calls)}

    @router.get("/thing")
    def read() -> dict[str, int]:
        return answer("GET")

    @router.post("/thing")
    def write() -> dict[str, int]:
        return answer("POST")

    app = FastAPI()
    app.include_router(router)
    return app, calls


def test_a_read_is_answered_again_after_a_dropped_connection() -> None:
    app, calls = _app(failures=1)
    with TestClient(app) as client:
        answer = client.get("/thing")
    assert answer.status_code == 200
    assert answer.json() == {"calls": 2}
    assert calls == ["GET", "GET"]


def test_a_read_is_retried_once_only() -> None:
    app, calls = _app(failures=2)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/thing").status_code == 500  # no handler in this bare app
    assert calls == ["GET", "GET"]


def test_a_write_is_never_retried() -> None:
    app, calls = _app(failures=1)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/thing").status_code == 500
    assert calls == ["POST"]


def test_an_error_of_the_query_itself_is_not_retried() -> None:
    app, calls = _app(failures=1, invalidated=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/thing").status_code == 500
    assert calls == ["GET"]


def test_the_client_learns_whether_a_lost_write_may_have_been_saved() -> None:
    app, calls = _app(failures=3)  # the write, the read and its one retry
    install_problem_handlers(app)
    with TestClient(app) as client:
        write, read = client.post("/thing"), client.get("/thing")
    assert calls == ["POST", "GET", "GET"]
    for answer in (write, read):
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "1"
        assert answer.headers["content-type"] == "application/problem+json"
    assert "may have been saved" in write.json()["detail"]
    assert read.json()["detail"] == "the database is unavailable"
