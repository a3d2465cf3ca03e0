"""Statistics on a generated world: eligibility as the engine decides it, additive totals,
published tables that hide small cells for good, charts, the shipped parameter file."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.world_store import (
    WorldTables,
    condition_from_row,
    jobseeker_from_row,
)
from matching.eligibility import eligibility
from reporting.charts import DPI, SIZE_INCHES, fulfilment_chart, impact_chart, target_group_chart
from reporting.definitions import INDICATORS, TOTAL, Kind, people_column
from reporting.facts import Facts, build_facts
from reporting.impact import impact_table
from reporting.impact_parameters import DEFAULT_PARAMETERS, load_parameters
from reporting.indicators import PEOPLE_COUNTS, indicator_table, key_columns
from reporting.publish import (
    BLOCKS,
    hires_by_target_group,
    publish_impact_table,
    publish_indicator_table,
)
from reporting.suppression import LinkedTable, determined_cells

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def facts(small_world: WorldTables) -> Facts:
    return build_facts(small_world)


def test_counted_hires_match_the_scalar_eligibility_rules(
    small_world: WorldTables, facts: Facts
) -> None:
    people = small_world.jobseekers.set_index("jobseeker_id")
    conditions = small_world.employment_conditions.set_index("condition_id")
    hires = facts.hires[facts.hires["condition_id"].notna()]
    assert len(hires) > 20
    for row in hires.itertuples():
        person = jobseeker_from_row(
            people.loc[row.jobseeker_id].to_dict() | {"jobseeker_id": row.jobseeker_id}
        )
        condition = condition_from_row(
            conditions.loc[row.condition_id].to_dict() | {"condition_id": row.condition_id}
        )
        decided = eligibility(person, condition, row.hired_on.date())
        allowed = row.job_form in {f.value for f in condition.allowed_job_forms}
        assert row.counted == (decided.eligible and allowed), row
        if row.counted:
            assert decided.deciding_rule is not None
            assert row.deciding_group == decided.deciding_rule.group.value


def test_generated_twelve_month_retention_follows_six_month_retention(
    small_world: WorldTables,
) -> None:
    outcomes = small_world.outcomes
    key = ["jobseeker_id", "vacancy_id"]
    stage = outcomes["stage"].astype(str)
    twelve = outcomes[stage == "retained_12m"].set_index(key)["occurred_at"]
    six = outcomes[stage == "retained_6m"].set_index(key)["occurred_at"]
    hired = outcomes[stage == "hired"].set_index(key)["occurred_at"]
    assert len(twelve) > 0
    assert twelve.index.isin(six.index).all()
    assert ((twelve - hired.loc[twelve.index]).dt.days == 365).all()
    assert len(twelve) < len(six)


@pytest.mark.parametrize("by", ["municipality", "buyer", "contract", "cpv_division", "country"])
def test_group_rows_add_up_to_the_total_row(facts: Facts, by: str) -> None:
    table = indicator_table(facts, by, totals=True)  # type: ignore[arg-type]
    key = key_columns(by, None)[0]  # type: ignore[arg-type]
    rows, total = table[table[key] != TOTAL], table[table[key] == TOTAL].iloc[0]
    additive = [i.name for i in INDICATORS if i.kind in (Kind.COUNT, Kind.PEOPLE, Kind.AMOUNT)]
    additive = [c for c in additive if c != "active_coaches"]  # a coach can work in many
    if by != "municipality":  # hires outside any contract have no buyer, contract or CPV
        additive = [c for c in additive if c not in ("placements",)]
    sums = rows[additive].sum()
    for column in additive:
        assert sums[column] == pytest.approx(total[column]), column
    for column in PEOPLE_COUNTS:
        assert total[people_column(column)] <= total[column]


@pytest.mark.parametrize(
    ("by", "period"),
    [("municipality", None), ("municipality", "quarter"), ("buyer", None), ("period", "quarter")],
)
def test_published_tables_hide_small_cells_for_good(
    facts: Facts, by: str, period: str | None
) -> None:
    keys = key_columns(by, period)  # type: ignore[arg-type]
    raw = indicator_table(facts, by, period, totals=True)  # type: ignore[arg-type]
    published = publish_indicator_table(raw, keys)
    hidden = published.hidden
    assert not any(c.startswith("people_") for c in published.values.columns)
    for column in PEOPLE_COUNTS:
        people = raw[people_column(column)]
        small = (people >= 1) & (people <= 4)
        assert hidden.loc[small, column].all(), column
        assert published.values.loc[hidden[column], column].isna().all()
    for item in INDICATORS:
        for dependency in item.hidden_with:
            assert (hidden.loc[hidden[dependency], item.name]).all(), (item.name, dependency)
    slices = [raw.index] if len(keys) == 1 else [g.index for _, g in raw.groupby("period")]
    for index in slices:
        part = raw.loc[index]
        order = np.r_[
            np.flatnonzero(part[keys[0]] != TOTAL), np.flatnonzero(part[keys[0]] == TOTAL)
        ]
        values = part[list(PEOPLE_COUNTS)].to_numpy(dtype=float)[order]
        mask = hidden.loc[index, list(PEOPLE_COUNTS)].to_numpy()[order]
        table = LinkedTable(columns=PEOPLE_COUNTS, values=values, blocks=BLOCKS)
        assert not determined_cells(table, mask).any()


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_charts_are_written_as_png_of_the_agreed_size(facts: Facts, tmp_path: Path) -> None:
    municipalities = publish_indicator_table(
        indicator_table(facts, "municipality", totals=True), ["municipality"]
    )
    periods = publish_indicator_table(indicator_table(facts, "period", totals=True), ["period"])
    countries = publish_impact_table(impact_table(facts, "country", totals=True), ["country"])
    paths = [
        fulfilment_chart(municipalities, tmp_path / "fulfilment.png"),
        target_group_chart(hires_by_target_group(periods), tmp_path / "groups.png"),
        impact_chart(countries, tmp_path / "impact.png"),
    ]
    expected = (int(SIZE_INCHES[0] * DPI), int(SIZE_INCHES[1] * DPI))
    for path in paths:
        assert path.is_file()
        assert path.stat().st_size > 15_000
        assert _png_size(path) == expected


def test_impact_table_adds_up_and_hides_with_its_hires(facts: Facts) -> None:
    raw = impact_table(facts, "municipality", totals=True)
    rows, total = raw[raw["municipality"] != TOTAL], raw[raw["municipality"] == TOTAL].iloc[0]
    assert rows["hires_made"].sum() == total["hires_made"]
    assert rows["person_eur"].sum() == pytest.approx(total["person_eur"])
    assert (raw["person_eur_low"] <= raw["person_eur"] + 1e-6).all()
    assert (raw["person_eur"] <= raw["person_eur_high"] + 1e-6).all()
    published = publish_impact_table(raw, ["municipality"])
    small = raw[people_column("hires_made")].between(1, 4)
    assert published.values.loc[small, "person_eur"].isna().all()


def test_shipped_parameters_are_complete_and_sourced() -> None:
    params = load_parameters(DEFAULT_PARAMETERS)
    assert params.version == "impact-FI-SE-2026.1"
    flat = params.flat()
    assert len(flat) == 2 + 6 + 1 + 2 * 16
    for name, parameter in flat.items():
        assert parameter.source.url.startswith(("https://", "docs/")), name
        assert parameter.low <= parameter.value <= parameter.high, name
        assert parameter.retrieved >= parameter.valid_from or name.startswith("coaching"), name
    assert flat["FI.benefit_daily"].value == 37.21


def test_docs_define_every_indicator() -> None:
    doc = (ROOT / "docs" / "indicators.md").read_text(encoding="utf-8")
    for item in INDICATORS:
        for stem in ("hires_tg_", "hires_form_"):
            if item.name.startswith(stem):
                # Documented once as `hires_tg_<group>` with the list of groups.
                assert f"`{stem}<" in doc and f"`{item.name[len(stem) :]}`" in doc, item.name
                break
        else:
            assert f"`{item.name}`" in doc, item.name


def test_hires_by_target_group_uses_the_published_cells(facts: Facts) -> None:
    periods = publish_indicator_table(indicator_table(facts, "period", totals=True), ["period"])
    table = hires_by_target_group(periods)
    assert table.values.columns[0] == "period"
    assert table.hidden["young"].equals(periods.hidden["hires_tg_young"])
    assert isinstance(table.values, pd.DataFrame)
