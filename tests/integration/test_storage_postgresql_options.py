"""The service's PostgreSQL sessions run without parallel workers, unless told otherwise."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from service.storage.database import POSTGRESQL_OPTIONS, _postgresql_options, make_engine

pytestmark = pytest.mark.integration


def test_sessions_plan_without_parallel_workers(
    postgres_admin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGOPTIONS", raising=False)
    engine = make_engine(postgres_admin_url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("SHOW max_parallel_workers_per_gather")) == "0"
            # The caller's own connect arguments are kept.
            assert connection.scalar(text("SELECT 1")) == 1
    finally:
        engine.dispose()


def test_server_options_given_elsewhere_win(monkeypatch: pytest.MonkeyPatch) -> None:
    url = make_url("postgresql+psycopg://kohtaanto@db.example/kohtaanto")
    monkeypatch.delenv("PGOPTIONS", raising=False)
    assert _postgresql_options(url, {"connect_timeout": 5}) == {
        "connect_timeout": 5,
        "options": POSTGRESQL_OPTIONS,
    }
    assert _postgresql_options(url, {"options": "-c work_mem=64MB"}) == {
        "options": "-c work_mem=64MB"
    }
    in_url = url.set(query={"options": "-c jit=off"})
    assert _postgresql_options(in_url, None) == {}
    monkeypatch.setenv("PGOPTIONS", "-c jit=off")
    assert _postgresql_options(url, None) == {}
