"""`kohtaanto stats` end to end on a small generated world."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reporting.impact_parameters import DEFAULT_PARAMETERS
from service.cli import app

pytestmark = pytest.mark.e2e

runner = CliRunner()


def test_stats_writes_suppressed_tables_and_charts(small_world_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "stats"
    result = runner.invoke(
        app,
        ["stats", "--world", str(small_world_dir), "--out", str(out), "--charts"],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "Statistics written to" in result.output
    with (out / "indicators_municipality.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[-1]["municipality"] == "TOTAL"
    assert "people_hires_made" not in rows[0]
    assert any(row["hires_made"] == "x" for row in rows)  # small cells are hidden
    assert all(row["hires_made"] == "x" or row["hires_made"].isdigit() for row in rows)
    markdown = (out / "indicators_municipality.md").read_text(encoding="utf-8")
    assert markdown.startswith("| municipality | name | kind | country | contracts |")
    manifest = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    assert manifest["parameters_version"] == "impact-FI-SE-2026.1"
    assert manifest["generator_version"] == "1.2.0"
    for chart in ("fulfilment_municipality", "hires_by_target_group", "impact_per_hire"):
        assert (out / "charts" / f"{chart}.png").stat().st_size > 15_000


def test_stats_json_by_period(small_world_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "stats",
            "--world",
            str(small_world_dir),
            "--out",
            str(tmp_path),
            "--by",
            "period",
            "--period",
            "year",
            "--format",
            "json",
            "--start",
            "2025-01-01",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "indicators_period.json").read_text(encoding="utf-8"))
    assert document["meta"]["period"] == "year"
    assert document["meta"]["start"] == "2025-01-01"
    periods = [row["period"] for row in document["data"]]
    assert periods == ["2025", "2026", "TOTAL"]
    for row in document["data"]:
        for column in row["hidden"]:
            assert row[column] is None


def test_stats_refuses_bad_input(small_world_dir: Path, tmp_path: Path) -> None:
    missing = runner.invoke(
        app, ["stats", "--world", str(tmp_path / "nowhere"), "--out", str(tmp_path)]
    )
    assert missing.exit_code == 2
    assert "nowhere" in missing.output
    bad_by = runner.invoke(
        app, ["stats", "--world", str(small_world_dir), "--out", str(tmp_path), "--by", "region"]
    )
    assert bad_by.exit_code == 2
    assert "region" in bad_by.output
    # The Kela work-trial allowance without its source lines.
    text = DEFAULT_PARAMETERS.read_text(encoding="utf-8")
    block = text.index("[countries.FI.work_trial_allowance_daily]")
    end = text.index("\n[", block + 1)
    kept = [line for line in text[block:end].splitlines() if not line.startswith("source.")]
    unsourced = text[:block] + "\n".join(kept) + text[end:]
    parameters = tmp_path / "params.toml"
    parameters.write_text(unsourced, encoding="utf-8")
    refused = runner.invoke(
        app,
        [
            "stats",
            "--world",
            str(small_world_dir),
            "--out",
            str(tmp_path),
            "--parameters",
            str(parameters),
        ],
        terminal_width=300,
    )
    assert refused.exit_code == 2
    assert "countries.FI.work_trial_allowance_daily: has no source" in refused.output


def test_stats_from_the_service_database_equal_stats_from_the_world(
    small_world_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from features.world_store import load_world
    from service.settings import get_settings
    from service.storage.database import make_engine, upgrade_to_head
    from service.storage.world_io import load_world_into_database

    url = f"sqlite:///{tmp_path / 'k.db'}"
    upgrade_to_head(url)
    engine = make_engine(url)
    load_world_into_database(load_world(small_world_dir), engine)
    engine.dispose()
    monkeypatch.setenv("KOHTAANTO_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        outputs = {}
        for source, args in (
            ("world", ["--world", str(small_world_dir)]),
            ("database", ["--database"]),
        ):
            out = tmp_path / source
            result = runner.invoke(app, ["stats", *args, "--by", "contract", "--out", str(out)])
            assert result.exit_code == 0, result.output
            outputs[source] = (out / "indicators_contract.csv").read_text()
        assert outputs["world"] == outputs["database"]
        neither = runner.invoke(app, ["stats", "--out", str(tmp_path / "x")])
        assert neither.exit_code == 2
    finally:
        get_settings.cache_clear()
