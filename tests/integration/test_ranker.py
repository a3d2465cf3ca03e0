"""The LightGBM ranker behind the engine: training set, determinism, explanations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from features.geography import Geography
from features.schema import FEATURE_NAMES, FEATURES
from features.taxonomy import Taxonomy
from features.world_store import WorldTables
from matching.engine import MatchingEngine
from service.composition import build_engine
from service.settings import Settings
from training.dataset import GRADES, SPLITS, DatasetConfig, build_training_set, ranking_groups
from training.ranker import LightGBMScorer, RankerConfig, train_ranker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def engine(small_world: WorldTables, taxonomy: Taxonomy, geography: Geography) -> MatchingEngine:
    return build_engine(small_world, Settings())


def test_training_set_is_grouped_split_and_weighted(
    small_world: WorldTables, engine: MatchingEngine
) -> None:
    data = build_training_set(
        small_world, engine.data, DatasetConfig(valid_weeks=12, test_weeks=12)
    )
    assert len(data) > 0
    assert data.features.shape == (len(data), len(FEATURE_NAMES))
    assert set(np.unique(data.labels)) <= set(GRADES.values())
    assert int(data.groups.sum()) == len(data)
    # Splits are chronological: every training day precedes every test day.
    train, test = data.part("train"), data.part("test")
    assert len(train) and len(test)
    assert train.shown_on.max() < test.shown_on.min()
    # Every query has a positive and a negative (others teach a ranker nothing).
    for part in SPLITS:
        piece = data.part(part)
        bounds = np.cumsum(np.r_[0, piece.groups])
        for a, b in itertools.pairwise(bounds):
            assert piece.labels[a:b].max() > 0
            assert b - a > 1
    # Proposed pairs carry inverse-propensity weights of at least 1.
    assert (data.weights[data.proposed] >= 1).all()
    assert (data.weights[~data.proposed] <= 1).all()


def test_ranking_groups_require_sorted_queries() -> None:
    assert ranking_groups(np.array([0, 0, 1, 2, 2, 2])).tolist() == [2, 1, 3]
    with pytest.raises(ValueError, match="sorted by query"):
        ranking_groups(np.array([0, 1, 0]))


def test_same_data_and_seed_give_the_same_model(
    small_world: WorldTables, engine: MatchingEngine
) -> None:
    data = build_training_set(
        small_world, engine.data, DatasetConfig(valid_weeks=12, test_weeks=12)
    )
    config = RankerConfig(num_trees=20)
    first = train_ranker(data.part("train"), data.part("valid"), config, FEATURE_NAMES)
    second = train_ranker(data.part("train"), data.part("valid"), config, FEATURE_NAMES)
    assert first.model_to_string() == second.model_to_string()


def test_engine_explains_with_model_contributions(
    small_world: WorldTables, engine: MatchingEngine
) -> None:
    data = build_training_set(
        small_world, engine.data, DatasetConfig(valid_weeks=12, test_weeks=12)
    )
    booster = train_ranker(
        data.part("train"), None, RankerConfig(num_trees=30, min_data_in_leaf=5), FEATURE_NAMES
    )
    scorer = LightGBMScorer(booster, "test-model", FEATURE_NAMES)
    # TreeSHAP contributions plus the bias add up to the score.
    sample = data.features[:50]
    np.testing.assert_allclose(
        scorer.contributions(sample).sum(axis=1), scorer.score(sample), rtol=1e-6, atol=1e-6
    )
    engine.set_scorer(scorer)
    try:
        jobseeker_id = next(
            j
            for j in small_world.jobseekers["jobseeker_id"]
            if engine.matches_for_jobseeker(j, k=5, on=small_world.as_of).results
        )
        result = engine.matches_for_jobseeker(jobseeker_id, k=5, on=small_world.as_of)
        assert result.model_version == "test-model"
        descriptions = {f.description for f in FEATURES}
        factors = [f for m in result.results for f in m.explanation.factors]
        assert factors
        assert all(f.description in descriptions for f in factors)
        lean = engine.matches_for_jobseeker(
            jobseeker_id, k=5, on=small_world.as_of, with_factors=False
        )
        assert [m.vacancy_id for m in lean.results] == [m.vacancy_id for m in result.results]
        assert all(not m.explanation.factors for m in lean.results)
    finally:
        engine.set_scorer(None)


def test_a_model_on_another_schema_is_refused(
    small_world: WorldTables, engine: MatchingEngine
) -> None:
    data = build_training_set(
        small_world, engine.data, DatasetConfig(valid_weeks=12, test_weeks=12)
    )
    renamed = tuple(f"{name}_v0" for name in FEATURE_NAMES)
    booster = train_ranker(data.part("train"), None, RankerConfig(num_trees=3), renamed)
    with pytest.raises(ValueError, match="not the schema's"):
        LightGBMScorer(booster, "old", FEATURE_NAMES)
