"""The compiled trees give the booster's scores and contributions, bit for bit.

The served model (tests/data/golden_registry) on thousands of pair-feature rows of a world
and on rows built around every threshold, in both directions; a memoised replay of TreeSHAP
equal to computing it; models the loops do not implement served by the booster.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from features.pair_features import pair_features
from features.schema import FEATURE_NAMES
from features.world_store import WorldTables
from matching.scoring import DIRECTIONS
from service.composition import build_engine
from service.settings import Settings
from training.forest import CompiledForest, _parse, probe_rows
from training.ranker import LightGBMScorer
from training.registry import ModelRegistry

GOLDEN_REGISTRY = Path(__file__).resolve().parents[1] / "data" / "golden_registry"


@pytest.fixture(scope="module")
def world_rows(small_world: WorldTables) -> np.ndarray:
    """Pair features of 4,000 random pairs of the small world, on its day."""
    engine = build_engine(small_world, Settings())
    rng = np.random.default_rng(3)
    s = rng.integers(0, len(engine.data.seekers), 4000)
    v = rng.integers(0, len(engine.data.vacancies), 4000)
    return pair_features(engine.data, s, v, small_world.as_of)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_the_served_model_scores_and_explains_as_the_booster(
    direction: str, world_rows: np.ndarray
) -> None:
    scorer = ModelRegistry(GOLDEN_REGISTRY).load().for_direction(direction)  # type: ignore[arg-type]
    assert scorer.forest is not None, "the registry serves the compiled trees"
    booster = scorer.booster
    trees = _parse(booster.model_to_string())
    assert trees is not None
    rows = np.vstack([world_rows, probe_rows(trees, 2000)])
    expected = booster.predict(rows, num_threads=1)
    assert np.array_equal(scorer.score(rows), expected)
    explained = rows[:3000]
    expected_contributions = booster.predict(explained, pred_contrib=True, num_threads=1)
    first = scorer.contributions(explained)
    again = scorer.contributions(explained)  # every tree's work replayed from the memo
    # Bit for bit (the 1e-6 of the brief is met with room: the difference is zero).
    assert np.abs(first - expected_contributions).max() == 0.0
    assert np.array_equal(first, expected_contributions)
    assert np.array_equal(again, expected_contributions)


def test_a_full_memo_starts_afresh_and_stays_exact(world_rows: np.ndarray) -> None:
    booster = ModelRegistry(GOLDEN_REGISTRY).load().for_direction("matches").booster
    trees = _parse(booster.model_to_string())
    assert trees is not None
    # Room for a few trees' sequences only: the memo is reset many times along the way.
    forest = CompiledForest(trees, memo_slots=8, memo_terms=3000)
    rows = world_rows[:500]
    expected = booster.predict(rows, pred_contrib=True, num_threads=1)
    assert np.array_equal(forest.contributions(rows), expected)
    assert np.array_equal(forest.contributions(rows), expected)
    unmemoised = CompiledForest(trees, memo_slots=0)
    assert np.array_equal(unmemoised.contributions(rows), expected)


def _booster(params: dict[str, object], features: np.ndarray, labels: np.ndarray) -> lgb.Booster:
    data = lgb.Dataset(features, label=labels, feature_name=list(FEATURE_NAMES))
    base = {"num_leaves": 7, "verbosity": -1, "num_threads": 1, "min_data_in_leaf": 5}
    return lgb.train({**base, **params}, data, num_boost_round=15)


def test_missing_values_go_where_the_booster_sends_them() -> None:
    """A model trained with NaN and zeros as missing values: its nodes send them their own
    way, and the loops follow each node's rule."""
    rng = np.random.default_rng(5)
    features = rng.random((600, len(FEATURE_NAMES)), dtype=np.float32)
    features[rng.random(features.shape) < 0.2] = np.nan
    labels = np.nan_to_num(features[:, 0]) + np.nan_to_num(features[:, 3]) * 0.5
    regression: dict[str, object] = {"objective": "regression"}
    for params in (regression, {**regression, "zero_as_missing": True}):
        booster = _booster(params, features, labels)
        forest = CompiledForest.from_booster(booster)
        assert forest is not None
        trees = _parse(booster.model_to_string())
        assert trees is not None and set((trees.kind >> 2) & 3) - {0}  # some missing rule
        rows = np.vstack([features, probe_rows(trees, 500)])
        assert np.array_equal(forest.predict(rows), booster.predict(rows, num_threads=1))
        contributions = booster.predict(rows[:300], pred_contrib=True, num_threads=1)
        assert np.array_equal(forest.contributions(rows[:300]), contributions)


def test_a_model_the_loops_do_not_implement_is_served_by_the_booster(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rng = np.random.default_rng(7)
    features = rng.random((400, len(FEATURE_NAMES)), dtype=np.float32)
    labels = (features[:, 0] > 0.5).astype(int)
    booster = _booster({"objective": "binary"}, features, labels)  # a sigmoid after the trees
    with caplog.at_level(logging.WARNING):
        scorer = LightGBMScorer(booster, "binary", FEATURE_NAMES, compiled=True)
    assert scorer.forest is None
    assert "served by the LightGBM booster" in caplog.text
    assert np.array_equal(scorer.score(features), booster.predict(features, num_threads=1))
