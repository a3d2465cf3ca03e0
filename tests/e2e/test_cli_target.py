"""`kohtaanto target` end to end on a tiny generated world."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from features.world_store import WorldTables
from service.cli import app
from targeting.plan import PLAN_COLUMNS
from targeting.report import ADVICE_COLUMNS, SUPPLY_COLUMNS

pytestmark = pytest.mark.e2e

runner = CliRunner()


def plan_file(tmp_path: Path, world: WorldTables, bad_value: bool = False) -> Path:
    organisations = world.organisations
    buyers = organisations[organisations["kind"].astype(str) == "buyer"]
    first, second = buyers.iloc[0], buyers.iloc[1]
    rows = [
        [
            "P1",
            first["organisation_id"],
            "90910000-9",
            first["municipality"],
            "800000",
            "2027-01-01",
            "36",
        ],
        [
            "P2",
            second["organisation_id"],
            "80000000-4;85000000-9",
            second["municipality"],
            "-1" if bad_value else "450000",
            "2027-02-01",
            "24",
        ],
        [
            "P3",
            first["organisation_id"],
            "30200000-1",
            first["municipality"],
            "300000",
            "2027-03-01",
            "12",
        ],
    ]
    path = tmp_path / "plan.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(PLAN_COLUMNS)
        writer.writerows(rows)
    return path


def invoke(*args: str) -> Result:
    return runner.invoke(app, ["target", *args], terminal_width=200)


def test_target_writes_advice_supply_chart_and_report(
    tiny_world_dir: Path, tiny_world: WorldTables, tmp_path: Path
) -> None:
    out = tmp_path / "advice"
    plan = plan_file(tmp_path, tiny_world)
    result = invoke(
        "--plan",
        str(plan),
        "--out",
        str(out),
        "--world",
        str(tiny_world_dir),
        "--registry",
        str(tmp_path / "no-models"),
    )
    assert result.exit_code == 0, result.output
    assert "Advice written to" in result.output and "s a plan line" in result.output
    with (out / "advice.csv").open(encoding="utf-8") as handle:
        advice = list(csv.DictReader(handle))
    assert [row["line_id"] for row in advice] == ["P1", "P2", "P3"]
    assert list(advice[0]) == list(ADVICE_COLUMNS)
    assert all(0.0 <= float(row["feasibility"]) <= 1.0 for row in advice)
    assert advice[2]["occupations"] == ""  # goods: no occupation mix, no condition
    assert advice[2]["recommended"] == "False"
    with (out / "supply.csv").open(encoding="utf-8") as handle:
        supply = list(csv.DictReader(handle))
    assert list(supply[0]) == list(SUPPLY_COLUMNS)
    assert {row["line_id"] for row in supply} == {"P1", "P2"}
    # Counts of 1-4 people are never published as such.
    counts = [row["well_ranked"] for row in supply]
    assert all(n in {"<5", "0"} or int(n) >= 5 for n in counts)
    report = (out / "report.md").read_text(encoding="utf-8")
    assert report.startswith("# Targeting employment conditions")
    assert "### P2: 80000000-4, 85000000-9" in report
    assert (out / "plan-chart.png").stat().st_size > 10_000
    people = set(tiny_world.jobseekers["jobseeker_id"].astype(str))
    written = "".join(p.read_text(encoding="utf-8") for p in out.glob("*.csv")) + report
    assert not any(person in written for person in people)


def test_target_as_of_an_earlier_day_replays_the_world(
    tiny_world_dir: Path, tiny_world: WorldTables, tmp_path: Path
) -> None:
    day = tiny_world.as_of - timedelta(days=120)
    result = invoke(
        "--plan",
        str(plan_file(tmp_path, tiny_world)),
        "--out",
        str(tmp_path / "o"),
        "--world",
        str(tiny_world_dir),
        "--on",
        day.isoformat(),
        "--registry",
        str(tmp_path / "no-models"),
    )
    assert result.exit_code == 0, result.output
    report = (tmp_path / "o" / "report.md").read_text(encoding="utf-8")
    assert f"as of: {day.isoformat()}" in report


def test_a_bad_plan_or_day_exits_2_naming_the_problem(
    tiny_world_dir: Path, tiny_world: WorldTables, tmp_path: Path
) -> None:
    plan = plan_file(tmp_path, tiny_world, bad_value=True)
    result = invoke(
        "--plan", str(plan), "--out", str(tmp_path / "o"), "--world", str(tiny_world_dir)
    )
    assert result.exit_code == 2
    assert f"{plan}:3: value_eur: '-1' must be a positive number" in result.output
    later = (tiny_world.as_of + timedelta(days=1)).isoformat()
    good = plan_file(tmp_path, tiny_world)
    result = invoke(
        "--plan",
        str(good),
        "--out",
        str(tmp_path / "o"),
        "--world",
        str(tiny_world_dir),
        "--on",
        later,
    )
    assert result.exit_code == 2
    assert "after the world's day" in result.output
    result = invoke(
        "--plan",
        str(tmp_path / "none.csv"),
        "--out",
        str(tmp_path / "o"),
        "--world",
        str(tiny_world_dir),
    )
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_target_from_the_service_database_equals_target_from_the_world(
    tiny_world_dir: Path, tiny_world: WorldTables, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.settings import get_settings
    from service.storage.database import make_engine, upgrade_to_head
    from service.storage.world_io import load_world_into_database

    url = f"sqlite:///{tmp_path / 'k.db'}"
    upgrade_to_head(url)
    engine = make_engine(url)
    load_world_into_database(tiny_world, engine)
    engine.dispose()
    monkeypatch.setenv("KOHTAANTO_DATABASE_URL", url)
    get_settings.cache_clear()
    plan = plan_file(tmp_path, tiny_world)
    registry = str(tmp_path / "no-models")
    try:
        outputs = {}
        for source, args in (("world", ["--world", str(tiny_world_dir)]), ("database", [])):
            out = tmp_path / source
            result = invoke("--plan", str(plan), "--out", str(out), "--registry", registry, *args)
            assert result.exit_code == 0, result.output
            outputs[source] = (out / "advice.csv").read_text(encoding="utf-8")
        assert outputs["world"] == outputs["database"]
    finally:
        get_settings.cache_clear()
