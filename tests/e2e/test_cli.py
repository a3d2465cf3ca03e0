"""The `kohtaanto` command end to end: generate a small world, then run the demo on it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from features.world_store import load_world
from service.cli import app
from service.demo import readable_score, run_demo
from service.settings import Settings

pytestmark = pytest.mark.e2e

runner = CliRunner()


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    result = runner.invoke(
        app,
        ["generate", "--seekers", "400", "--vacancies", "150", "--seed", "3", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "World written to" in result.output
    return out


def test_generate_writes_a_loadable_world(small_world: Path) -> None:
    world = load_world(small_world)
    assert len(world.jobseekers) == 400
    assert len(world.vacancies) == 150
    assert world.jobseekers["jobseeker_id"].is_unique


def test_demo_prints_matches_with_reasons(small_world: Path) -> None:
    result = runner.invoke(
        app,
        ["demo", "--world", str(small_world), "--people", "2", "--top", "3"],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "Kohtaanto demo" in result.output
    assert "required skills" in result.output
    assert " km" in result.output
    assert "score " in result.output  # the rule-based score: no probability to show


def test_demo_reads_a_probability_as_a_percentage_else_the_score(small_world: Path) -> None:
    """The rule-based score is no probability: the demo prints it as a score. A calibrated
    model's probability is what a coach can read, as a percentage."""
    result = run_demo(small_world, Settings(), people=1, top=1)
    match = result.people[0].matches[0]
    assert match.probability is None
    assert readable_score(match) == f"score {match.score:.2f}"
    calibrated = dataclasses.replace(match, probability=0.234)
    assert readable_score(calibrated) == "23% chance of a hire lasting 6 months"


def test_demo_names_a_missing_world(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--world", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "nowhere" in result.output


def test_generate_rejects_bad_date(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "--out", str(tmp_path), "--as-of", "2026-13-01"])
    assert result.exit_code == 2
    assert "2026-13-01" in result.output
