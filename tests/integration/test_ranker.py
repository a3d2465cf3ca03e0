"""The LightGBM ranker behind the engine: training data per direction, determinism,
calibration, explanations."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from features.schema import FEATURE_NAMES, FEATURES
from features.taxonomy import Taxonomy
from features.world_store import WorldTables
from matching.engine import MatchingEngine
from matching.scoring import DIRECTIONS, Direction
from service.composition import build_engine, profile_config
from service.settings import Settings
from training.dataset import (
    GRADES,
    DatasetConfig,
    DirectionData,
    TrainingSet,
    build_direction_data,
    ranking_groups,
)
from training.ranker import (
    MONOTONE,
    LightGBMScorer,
    RankerConfig,
    fit_calibration,
    train_funnel,
    train_ranker,
)

pytestmark = pytest.mark.integration

SPLIT = DatasetConfig(valid_weeks=16, test_weeks=16)
# One LightGBM thread: two test workers share two cores, and OpenMP threads spinning against
# each other slow training down many times.
THREADS = 1


@pytest.fixture(scope="module")
def engine(training_world: WorldTables) -> MatchingEngine:
    return build_engine(training_world, Settings())


def direction_data(
    world: WorldTables,
    engine: MatchingEngine,
    taxonomy: Taxonomy,
    config: DatasetConfig = SPLIT,
) -> dict[Direction, DirectionData]:
    return build_direction_data(
        world,
        engine.data,
        taxonomy,
        config,
        matching_config=engine.config,
        profile_config=profile_config(Settings()),
    )


@pytest.fixture(scope="module")
def data(
    training_world: WorldTables, engine: MatchingEngine, taxonomy: Taxonomy
) -> dict[Direction, DirectionData]:
    return direction_data(training_world, engine, taxonomy)


def query_bounds(part: TrainingSet) -> list[tuple[int, int]]:
    return list(itertools.pairwise(np.cumsum(np.r_[0, part.groups]).tolist()))


def test_each_direction_is_split_chronologically_and_grouped(
    data: dict[Direction, DirectionData],
) -> None:
    assert set(data) == set(DIRECTIONS)
    for direction, part in data.items():
        # The world logged coaches' searches, so matches are their own queries.
        assert part.direction == direction and not part.fallback
        train, valid, test = part.train, part.valid, part.test
        assert len(train) and len(valid) and len(test), direction
        for piece in (train, valid, test):
            assert piece.features.shape == (len(piece), len(FEATURE_NAMES))
            assert set(np.unique(piece.labels)) <= set(GRADES.values())
            assert int(piece.groups.sum()) == len(piece)
            # Unshown candidates carry no outcome and no logged propensity.
            unshown = piece.unshown
            assert not piece.proposed[unshown].any() and (piece.labels[unshown] == 0).all()
            assert np.isnan(piece.propensity[unshown]).all()
            # Six-month retention is known (1 / 0) for everything but recent hires.
            assert np.isin(piece.lasting[~piece.hired], [0.0]).all()
        # Splits are chronological: the model never trains on a day after a test day.
        assert train.shown_on.max() < valid.shown_on.min()
        assert valid.shown_on.max() < test.shown_on.min()
        # Training and validation learn from proposals, plus unshown candidates of their
        # queries (the rows a served list holds).
        for piece in (train, valid):
            assert (piece.proposed | piece.unshown).all()
            assert piece.proposed.any() and piece.unshown.any()
        assert train.hired.any(), direction
        # Test queries keep shown rows too; each has a relevant row and something to order.
        assert (~test.proposed & ~test.unshown).any()
        for a, b in query_bounds(test):
            assert b - a > 1 and test.labels[a:b].max() > 0
        # A query is one vacancy's shortlist or one person's search.
        anchor = test.vacancy_ids if direction == "shortlist" else test.jobseeker_ids
        assert all(len(set(anchor[a:b])) == 1 for a, b in query_bounds(test))
        # The held-out proposals of the test weeks, whatever the engine would show today.
        proposals = part.proposals
        assert proposals is not None and len(proposals)
        assert proposals.proposed.all() and not proposals.unshown.any()
        assert proposals.shown_on.min() >= test.shown_on.min()


def test_proposals_are_weighted_only_when_asked(
    training_world: WorldTables,
    engine: MatchingEngine,
    taxonomy: Taxonomy,
    data: dict[Direction, DirectionData],
) -> None:
    # Inverse-propensity weighting is off by default (ipw_power 0).
    for part in data.values():
        assert (part.train.weights == 1.0).all()
    config = SPLIT.model_copy(update={"ipw_power": 1.0, "max_weight": 20.0})
    weighted = direction_data(training_world, engine, taxonomy, config)["shortlist"].train
    proposed = weighted.proposed
    expected = np.minimum(1.0 / np.maximum(weighted.propensity[proposed], 0.05), 20.0)
    np.testing.assert_allclose(weighted.weights[proposed], expected, rtol=1e-6)
    assert (weighted.weights[proposed] >= 1).all() and (weighted.weights[proposed] > 1).any()
    assert (weighted.weights[~proposed] == 1.0).all()


def test_a_world_without_searches_regroups_shortlists_per_person_and_month(
    training_world: WorldTables, engine: MatchingEngine, taxonomy: Taxonomy
) -> None:
    exposures = training_world.exposures
    shortlists_only = dataclasses.replace(
        training_world,
        exposures=exposures[exposures["query_kind"].astype(str) == "vacancy_shortlist"],
    )
    matches = direction_data(shortlists_only, engine, taxonomy)["matches"]
    assert matches.fallback
    for piece in (matches.train, matches.test):
        assert len(piece)
        month = piece.shown_on.astype("datetime64[M]")
        for a, b in query_bounds(piece):
            assert len(set(piece.jobseeker_ids[a:b])) == 1
            assert len(set(month[a:b])) == 1


def test_ranking_groups_require_sorted_queries() -> None:
    assert ranking_groups(np.array([0, 0, 1, 2, 2, 2])).tolist() == [2, 1, 3]
    with pytest.raises(ValueError, match="sorted by query"):
        ranking_groups(np.array([0, 1, 0]))


def test_same_data_and_seed_give_the_same_model(data: dict[Direction, DirectionData]) -> None:
    part = data["shortlist"]
    config = RankerConfig(num_trees=20, num_threads=THREADS)
    assert config.objective == "funnel"  # the default: three steps, distilled
    first = train_ranker(part.train, part.valid, config, FEATURE_NAMES)
    second = train_ranker(part.train, part.valid, config, FEATURE_NAMES)
    assert first.model_to_string() == second.model_to_string()


def test_monotone_features_only_act_in_their_direction(
    data: dict[Direction, DirectionData],
) -> None:
    part = data["shortlist"]
    booster = train_ranker(
        part.train,
        None,
        RankerConfig(num_trees=30, min_data_in_leaf=5, num_threads=THREADS),
        FEATURE_NAMES,
    )
    scorer = LightGBMScorer(booster, "monotone", FEATURE_NAMES)
    rows = part.test.features[:200]
    for name, sign in MONOTONE.items():
        column = FEATURE_NAMES.index(name)
        low, high = rows.copy(), rows.copy()
        low[:, column], high[:, column] = 0.0, 1.0
        change = sign * (scorer.score(high) - scorer.score(low))
        assert (change >= -1e-9).all(), name


def test_calibration_maps_scores_to_a_monotone_probability(
    data: dict[Direction, DirectionData],
) -> None:
    part = data["shortlist"]
    booster = train_ranker(part.train, part.valid, RankerConfig(num_threads=THREADS), FEATURE_NAMES)
    scorer = LightGBMScorer(booster, "calibrated", FEATURE_NAMES)
    calibration = fit_calibration(scorer, part.valid, part.train)
    assert calibration is not None
    probability = calibration(np.sort(scorer.score(part.test.features)))
    assert ((probability >= 0) & (probability <= 1)).all()
    assert (np.diff(probability) >= -1e-12).all()
    # Too few held-out proposals calibrate nothing.
    assert (
        fit_calibration(scorer, part.valid.subset(np.arange(len(part.valid)) < 5), part.train)
        is None
    )


def test_the_funnel_needs_decided_proposals_at_every_step(
    data: dict[Direction, DirectionData],
) -> None:
    train = data["shortlist"].train
    nobody_interviewed = train.subset(train.proposed & ~train.interviewed)
    with pytest.raises(ValueError, match="interview step has no decided proposals"):
        train_funnel(
            nobody_interviewed, None, RankerConfig(num_trees=20, num_threads=THREADS), FEATURE_NAMES
        )


def test_engine_explains_with_model_contributions(
    training_world: WorldTables, engine: MatchingEngine, data: dict[Direction, DirectionData]
) -> None:
    part = data["matches"]
    booster = train_ranker(
        part.train,
        None,
        RankerConfig(num_trees=30, min_data_in_leaf=5, num_threads=THREADS),
        FEATURE_NAMES,
    )
    scorer = LightGBMScorer(booster, "test-model", FEATURE_NAMES)
    # TreeSHAP contributions plus the bias add up to the score.
    sample = part.train.features[:50]
    np.testing.assert_allclose(
        scorer.contributions(sample).sum(axis=1), scorer.score(sample), rtol=1e-6, atol=1e-6
    )
    engine.set_scorer(scorer)
    try:
        as_of = training_world.as_of
        jobseeker_id = next(
            j
            for j in training_world.jobseekers["jobseeker_id"]
            if len(engine.matches_for_jobseeker(j, k=5, on=as_of).results) >= 2
        )
        result = engine.matches_for_jobseeker(jobseeker_id, k=5, on=as_of)
        assert result.model_version == "test-model"
        descriptions = {f.description for f in FEATURES} | {f.absent for f in FEATURES}
        factors = [f for m in result.results for f in m.explanation.factors]
        assert factors
        assert all(f.description in descriptions for f in factors)
        assert all("compared with the rest of the list" in f.sentence for f in factors)
        lean = engine.matches_for_jobseeker(jobseeker_id, k=5, on=as_of, with_factors=False)
        assert [m.vacancy_id for m in lean.results] == [m.vacancy_id for m in result.results]
        assert all(not m.explanation.factors for m in lean.results)
    finally:
        engine.set_scorer(None)


def test_a_model_on_another_schema_is_refused(data: dict[Direction, DirectionData]) -> None:
    part = data["shortlist"]
    renamed = tuple(f"{name}_v0" for name in FEATURE_NAMES)
    booster = train_ranker(
        part.train, None, RankerConfig(num_trees=3, num_threads=THREADS), renamed
    )
    with pytest.raises(ValueError, match="not the schema's"):
        LightGBMScorer(booster, "old", FEATURE_NAMES)
