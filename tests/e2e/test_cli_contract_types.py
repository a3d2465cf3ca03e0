"""`kohtaanto stats --contract-types`: quota and performance contracts side by side, by sex."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from features.world_store import load_world
from reporting.contract_types import contract_type_table, publish_contract_type_table
from reporting.definitions import TOTAL
from reporting.facts import build_facts
from reporting.performance import credited_outcomes
from service.cli import app

pytestmark = pytest.mark.e2e

runner = CliRunner()


def test_stats_writes_the_side_by_side_table_and_chart(
    small_world_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "stats"
    result = runner.invoke(
        app,
        [
            "stats",
            "--world",
            str(small_world_dir),
            "--out",
            str(out),
            "--contract-types",
            "--charts",
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    with (out / "contract_types_municipality.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    world = load_world(small_world_dir)
    facts = build_facts(world)
    expected = publish_contract_type_table(
        contract_type_table(facts, credited=credited_outcomes(world, facts=facts)),
        "municipality",
    ).display(digits=6)
    assert rows == expected.astype(str).to_dict("records")
    assert [r["contract_type"] for r in rows if r["municipality"] == TOTAL] == [
        "quota",
        "performance",
    ]
    assert any(r["hires_made"] == "x" for r in rows)  # small cells are hidden
    assert "people_hires_made" not in rows[0]
    assert (out / "charts" / "contract_types.png").stat().st_size > 15_000
    assert (
        "contract_types_municipality.csv" in json.loads((out / "stats.json").read_text())["files"]
    )


def test_stats_by_country_as_json_and_without_the_option(
    small_world_dir: Path, tmp_path: Path
) -> None:
    result = runner.invoke(
        app,
        [
            "stats",
            "--world",
            str(small_world_dir),
            "--out",
            str(tmp_path),
            "--by",
            "country",
            "--format",
            "json",
            "--contract-types",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "contract_types_country.json").read_text("utf-8"))
    assert document["meta"]["by"] == "country" and "public_cost" in document["meta"]
    assert {row["country"] for row in document["data"]} <= {"FI", "SE", TOTAL}
    for row in document["data"]:
        for column in row["hidden"]:
            assert row[column] is None
    plain = tmp_path / "plain"
    result = runner.invoke(app, ["stats", "--world", str(small_world_dir), "--out", str(plain)])
    assert result.exit_code == 0, result.output
    assert not list(plain.glob("contract_types_*"))
