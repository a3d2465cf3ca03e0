"""Performance terms in generated worlds, in worlds written before them, and in the database."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from features.world_store import OPTIONAL_TABLES, SCHEMAS, load_table, load_world
from matching.domain import JobForm, TargetGroup
from reporting.performance import credited_outcomes
from service.storage.world_io import load_world_into_database, read_world_tables
from training.synthetic.procurement import PERFORMANCE_FORM_WEIGHTS, PERFORMANCE_GROUP_WEIGHTS

pytestmark = pytest.mark.integration


def test_generated_terms_belong_to_the_performance_based_conditions(small_world_dir: Path) -> None:
    world = load_world(small_world_dir)
    conditions = world.employment_conditions.set_index("condition_id")
    terms = world.performance_terms.set_index("condition_id")
    performance = conditions.index[conditions["performance_based"].to_numpy(dtype=bool)]
    assert len(terms) > 0 and sorted(terms.index) == sorted(performance)
    assert terms["price_per_point_eur"].between(1500, 4000).all()
    assert (terms["price_per_point_eur"] % 50 == 0).all()
    assert set(terms["period"]) <= {"month", "quarter"}
    for condition_id, row in terms.iterrows():
        groups = set(conditions.at[condition_id, "target_groups"])
        forms = set(conditions.at[condition_id, "allowed_job_forms"])
        for group in TargetGroup:
            weight = PERFORMANCE_GROUP_WEIGHTS.get(group.value, 1.0)
            expected = weight if group.value in groups else 0.0
            assert row[f"weight_tg_{group.value}"] == expected, (condition_id, group)
        for form in JobForm:
            expected = PERFORMANCE_FORM_WEIGHTS[form.value] if form.value in forms else 0.0
            assert row[f"weight_form_{form.value}"] == expected, (condition_id, form)
        required = conditions.at[condition_id, "hires_required"]
        assert 0.8 * 3 * required * row["price_per_point_eur"] - 50 <= row["cap_eur"]
        assert row["cap_eur"] <= 1.2 * 3 * required * row["price_per_point_eur"] + 50


def test_a_world_written_before_the_terms_loads_them_empty(
    small_world_dir: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old-world"
    shutil.copytree(small_world_dir, old)
    for name in OPTIONAL_TABLES:
        (old / f"{name}.parquet").unlink()
    world, before = load_world(old), load_world(small_world_dir)
    assert world.performance_terms.empty
    assert list(world.performance_terms.columns) == list(SCHEMAS["performance_terms"].names)
    assert load_table(old, "performance_terms").empty
    pd.testing.assert_frame_equal(world.employment_conditions, before.employment_conditions)
    assert credited_outcomes(world).empty


def test_terms_round_trip_through_the_database(
    small_world_dir: Path, migrated_engine: Engine
) -> None:
    world = load_world(small_world_dir)
    load_world_into_database(world, migrated_engine)
    back = read_world_tables(migrated_engine, ["performance_terms"]).performance_terms
    expected = world.performance_terms.sort_values("condition_id").reset_index(drop=True)
    assert back["condition_id"].tolist() == expected["condition_id"].tolist()
    for column in SCHEMAS["performance_terms"].names[1:-1]:
        assert np.allclose(back[column].to_numpy(float), expected[column].to_numpy(float)), column
    assert back["period"].astype(str).tolist() == expected["period"].astype(str).tolist()
