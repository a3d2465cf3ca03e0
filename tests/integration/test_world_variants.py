"""Every hidden world of the family generates deterministically, round-trips, and differs."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.world_store import MANIFEST_FILE, WorldTables, load_world
from training.synthetic import HIDDEN_MODEL_NAMES, HiddenModel, WorldConfig, generate_world
from training.synthetic.variants import variant_from_json, world_variant

pytestmark = pytest.mark.integration

SEEKERS, VACANCIES, SEED = 600, 200, 13


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each variant's world, and the thresholds world a second time."""
    dirs = {}
    for name in (*HIDDEN_MODEL_NAMES, "thresholds-again"):
        variant = name.removesuffix("-again")
        out = tmp_path_factory.mktemp(f"world_{name}")
        config = {"seekers": SEEKERS, "vacancies": VACANCIES, "seed": SEED}
        generate_world(WorldConfig.model_validate({**config, "hidden_model": variant}), out)
        dirs[name] = out
    return dirs


def _hashes(root: Path) -> dict[str, str]:
    manifest = json.loads((root / MANIFEST_FILE).read_text())
    return {f["path"]: f["sha256"] for f in manifest["files"]}


def test_same_seed_and_variant_give_identical_files(worlds: dict[str, Path]) -> None:
    assert _hashes(worlds["thresholds"]) == _hashes(worlds["thresholds-again"])
    # The people and vacancies are the same in every variant; the history is not.
    hashes = {name: _hashes(worlds[name]) for name in HIDDEN_MODEL_NAMES}
    for name in ("thresholds", "interactions"):
        assert hashes[name]["jobseekers.parquet"] == hashes["additive"]["jobseekers.parquet"]
        assert hashes[name]["vacancies.parquet"] == hashes["additive"]["vacancies.parquet"]
        assert hashes[name]["outcomes.parquet"] != hashes["additive"]["outcomes.parquet"]
        assert (
            hashes[name]["skill_observations.parquet"]
            != hashes["additive"]["skill_observations.parquet"]
        )


@pytest.mark.parametrize("name", HIDDEN_MODEL_NAMES)
def test_from_json_rebuilds_the_generating_model(worlds: dict[str, Path], name: str) -> None:
    world = load_world(worlds[name])
    generating = world_variant(name)
    loaded = HiddenModel.from_json(world.root)
    assert loaded.family == name
    assert asdict(loaded.params) == asdict(generating.model.params)
    recorded = variant_from_json(world.root)
    assert recorded.noise == generating.noise
    assert recorded.policy == generating.policy
    assert set(world.exposures["policy"]) == {generating.policy.name}
    assert world.manifest["hidden_model"] == name
    assert f"`{name}`" in (world.root / "HIDDEN_MODEL.md").read_text()

    exposures = world.exposures
    context = loaded.context(world)
    days = exposures["shown_at"]
    mine = loaded.oracle_scores(
        world, exposures["jobseeker_id"], exposures["vacancy_id"], context=context, days=days
    )
    theirs = generating.model.oracle_scores(
        world, exposures["jobseeker_id"], exposures["vacancy_id"], context=context, days=days
    )
    np.testing.assert_array_equal(mine, theirs)
    grade = loaded.expected_grade(
        world,
        exposures["jobseeker_id"],
        exposures["vacancy_id"],
        exposures["propensity"],
        context=context,
        days=days,
    )
    assert np.all((grade >= exposures["propensity"]) & (grade <= 5 * exposures["propensity"]))
    lasting = loaded.lasting_hire_probability(
        world, exposures["jobseeker_id"], exposures["vacancy_id"], context=context, days=days
    )
    assert np.all(lasting <= mine)


def _oracle_on_shared_pairs(worlds: dict[str, Path]) -> tuple[WorldTables, pd.DataFrame]:
    world = load_world(worlds["additive"])
    pairs = world.exposures[["jobseeker_id", "vacancy_id", "shown_at"]]
    context = HiddenModel().context(world)
    scores = {
        name: world_variant(name).model.oracle_scores(
            world,
            pairs["jobseeker_id"],
            pairs["vacancy_id"],
            context=context,
            days=pairs["shown_at"],
        )
        for name in HIDDEN_MODEL_NAMES
    }
    return world, pd.DataFrame(scores)


def test_variants_rank_the_same_pairs_differently(worlds: dict[str, Path]) -> None:
    _, scores = _oracle_on_shared_pairs(worlds)
    ranks = scores.rank().corr()
    for first, second in (
        ("additive", "thresholds"),
        ("additive", "interactions"),
        ("thresholds", "interactions"),
    ):
        correlation = float(ranks.loc[first, second])  # type: ignore[arg-type]
        assert 0.2 < correlation < 0.9, (first, second, correlation)


def test_every_variant_has_a_working_funnel(worlds: dict[str, Path]) -> None:
    for name in HIDDEN_MODEL_NAMES:
        funnel = json.loads((worlds[name] / MANIFEST_FILE).read_text())["funnel"]
        assert funnel["exposures_jobseeker_matches"] > 0
        assert funnel["proposed"] > 0.05 * funnel["exposures"]
        assert funnel["hired"] > 0
        assert funnel["interviewed"] > funnel["hired"]
