"""`kohtaanto db upgrade`, `load` and `users` through typer's CliRunner, on both databases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from service.cli import app
from service.storage.database import head_revision, make_engine
from service.storage.tables import JobseekerRecord, User
from service.storage.users import hash_token

pytestmark = pytest.mark.e2e

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "csv"


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), terminal_width=200)
    return result.exit_code, result.output


def test_upgrade_load_world_and_users(database_url: str, tiny_world_dir: Path) -> None:
    code, output = _run("users", "list", "--database-url", database_url)
    assert code == 2
    assert "run `kohtaanto db upgrade` first" in output

    code, output = _run("db", "upgrade", "--database-url", database_url)
    assert code == 0, output
    assert f"is at revision {head_revision()} (was none)" in output

    code, output = _run("load", "--world", str(tiny_world_dir), "--database-url", database_url)
    assert code == 0, output
    assert re.search(r"Loaded [\d,]+ rows into .* as_of 2026-11-01", output)
    code, output = _run("load", "--world", str(tiny_world_dir), "--database-url", database_url)
    assert code == 2
    assert "already holds world data" in output

    code, output = _run(
        "users", "create", "--role", "coach", "--org", "ES-FI-EA-01", "--name", "Anneli",
        "--database-url", database_url,
    )  # fmt: skip
    assert code == 0, output
    token = output.strip().splitlines()[-1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            hashes = connection.execute(select(User.token_hash)).scalars().all()
    finally:
        engine.dispose()
    assert hashes == [hash_token(token)]

    for role, org, message in [
        ("boss", "ES-FI-EA-01", "role 'boss' is not one of"),
        ("coach", "NOPE", "organisation 'NOPE' is not in the database"),
    ]:
        code, output = _run(
            "users", "create", "--role", role, "--org", org, "--name", "X",
            "--database-url", database_url,
        )  # fmt: skip
        assert code == 2
        assert message in output

    code, output = _run("users", "list", "--database-url", database_url)
    assert code == 0, output
    assert "Anneli" in output and "ES-FI-EA-01" in output
    assert token not in output


def test_csv_problems_are_printed_and_exit_2(
    database_url: str, tiny_world_dir: Path, tmp_path: Path
) -> None:
    assert _run("db", "upgrade", "--database-url", database_url)[0] == 0
    assert _run("load", "--world", str(tiny_world_dir), "--database-url", database_url)[0] == 0
    bad = tmp_path / "jobseekers.csv"
    good = (EXAMPLES / "jobseekers.csv").read_text(encoding="utf-8").splitlines()
    bad.write_text(
        "\n".join([good[0], good[1].replace(",1979,", ",19x9,"), good[2].replace("092", "999")]),
        encoding="utf-8",
    )
    code, output = _run(
        "load", "--jobseekers", str(bad), "--vacancies", str(EXAMPLES / "vacancies.csv"),
        "--database-url", database_url,
    )  # fmt: skip
    assert code == 2
    assert f"{bad}:2: birth_year: '19x9' is not a whole number" in output
    assert f"{bad}:3: home_municipality: '999' is not a Finnish or Swedish municipality" in output
    assert "2 problem(s); nothing was imported." in output

    code, output = _run(
        "load",
        *[f"--{kind.replace('_', '-')}={EXAMPLES / f'{kind}.csv'}" for kind in (
            "jobseekers", "assessments", "skill_observations", "vacancies", "vacancy_skills"
        )],
        "--database-url", database_url,
    )  # fmt: skip
    assert code == 0, output
    assert "Imported jobseekers 2, assessments 3" in output
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            count = connection.execute(select(func.count()).select_from(JobseekerRecord))
            assert count.scalar_one() == 302
    finally:
        engine.dispose()


def test_load_needs_exactly_one_source(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    code, output = _run("load", "--database-url", url)
    assert code == 2
    assert "give either --world DIR or CSV files" in output
    code, output = _run(
        "load", "--world", str(tmp_path), "--jobseekers", str(EXAMPLES / "jobseekers.csv"),
        "--database-url", url,
    )  # fmt: skip
    assert code == 2
    code, output = _run("load", "--jobseekers", str(tmp_path / "missing.csv"))
    assert code == 2
    assert "does not exist" in output
