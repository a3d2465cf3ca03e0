"""The database URL setting and URL normalisation (no database is opened)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import PathSettings, Settings
from service.storage.database import normalise_url

pytestmark = pytest.mark.unit


def test_database_url_defaults_to_a_sqlite_file_in_var_dir(tmp_path: Path) -> None:
    settings = Settings(paths=PathSettings(var_dir=tmp_path))
    assert settings.database_url == f"sqlite:///{tmp_path / 'kohtaanto.db'}"


def test_an_explicit_database_url_is_kept(tmp_path: Path) -> None:
    url = "postgresql+psycopg://kohtaanto@db.example/kohtaanto"
    settings = Settings(paths=PathSettings(var_dir=tmp_path), database_url=url)
    assert settings.database_url == url


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_postgresql_urls_use_psycopg_3(url: str, driver: str) -> None:
    assert normalise_url(url).drivername == driver
