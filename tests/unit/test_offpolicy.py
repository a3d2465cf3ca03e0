"""Off-policy estimates, outcome NDCG, the paired bootstrap and the steering gap, by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from training.offpolicy import gain_ndcg, off_policy_hires, paired_bootstrap, steering_gap


def test_ips_counts_each_proposed_hire_as_one_over_its_propensity() -> None:
    # One query of four rows; the ranking puts rows 0 and 1 in its top 2.
    scores = np.array([0.9, 0.8, 0.1, 0.0])
    hired = np.array([True, False, True, False])
    proposed = np.array([True, True, True, False])
    propensity = np.array([0.5, 0.25, 0.1, 0.4])
    estimate = off_policy_hires(scores, hired, proposed, propensity, [4], k=2, clip=20.0)
    assert estimate.ips == pytest.approx(1 / 0.5)
    # Self-normalised: hires per unit of weight (2 / (2 + 4)) times the two shown slots.
    assert estimate.snips == pytest.approx(2 / 6 * 2)


def test_ips_clips_large_weights_and_ignores_unshown_rows() -> None:
    scores = np.array([1.0, 0.5])
    estimate = off_policy_hires(
        scores,
        np.array([True, True]),
        np.array([True, False]),
        np.array([0.01, np.nan]),
        [2],
        k=2,
        clip=20.0,
    )
    assert estimate.ips == pytest.approx(20.0)


def test_ips_is_unbiased_for_a_random_logging_policy() -> None:
    """Simulated: proposals at random with known propensities; the estimate finds the truth."""
    rng = np.random.default_rng(3)
    queries, size, k = 4000, 10, 3
    chance = rng.random((queries, size)) * 0.3
    scores = chance + rng.normal(0, 0.05, (queries, size))  # a decent ranking
    propensity = rng.uniform(0.2, 0.9, (queries, size))
    proposed = rng.random((queries, size)) < propensity
    hired = proposed & (rng.random((queries, size)) < chance)
    truth = np.mean(
        [np.sort(c[np.argsort(-s)][:k]).sum() for c, s in zip(chance, scores, strict=True)]
    )
    estimate = off_policy_hires(
        scores.ravel(), hired.ravel(), proposed.ravel(), propensity.ravel(), [size] * queries, k=k
    )
    assert estimate.ips == pytest.approx(truth, rel=0.05)
    assert estimate.snips == pytest.approx(truth, rel=0.05)


def test_gain_ndcg_restricted_to_some_rows() -> None:
    scores = np.array([3.0, 2.0, 1.0, 0.0])
    gains = np.array([0.0, 1.0, 3.0, 7.0])
    full = gain_ndcg(scores, gains, [4], 4)[0]
    reversed_ = gain_ndcg(-scores, gains, [4], 4)[0]
    assert reversed_ == pytest.approx(1.0)
    assert full < 0.6
    # Only rows 2 and 3: the ranking puts 3 (gain 3) above 7.
    only = gain_ndcg(scores, gains, [4], 2, include=np.array([False, False, True, True]))[0]
    ideal = 7 + 3 / math.log2(3)
    assert only == pytest.approx((3 + 7 / math.log2(3)) / ideal)
    assert math.isnan(gain_ndcg(scores, np.zeros(4), [4], 4)[0])


def test_paired_bootstrap_separates_a_real_difference_from_noise() -> None:
    rng = np.random.default_rng(0)
    base = rng.random(300)
    better = paired_bootstrap(base + 0.05 + rng.normal(0, 0.02, 300), base)
    assert better.low > 0 and better.queries == 300
    same = paired_bootstrap(base + rng.normal(0, 0.05, 300), base)
    assert same.low < 0 < same.high


def test_steering_gap_compares_women_and_men_with_the_same_preferences() -> None:
    share = {"care": 0.9, "build": 0.1, "office": 0.5}
    rows = [
        # Among people who want office work, women get care work and men building work.
        ("w1", "female", "care", {"office"}, "office"),
        ("w1", "female", "office", {"office"}, "office"),
        ("w2", "female", "care", {"office"}, "office"),
        ("m1", "male", "build", {"office"}, "office"),
        ("m1", "male", "care", {"office"}, "office"),
        # A woman who wants building work gets it: her own wish, not steering; she is the
        # only person of her stratum, so it is not compared either.
        ("w3", "female", "build", {"build"}, "build"),
    ]
    frame = pd.DataFrame(
        rows, columns=["person", "sex", "occupation_group", "preferred_groups", "stratum"]
    )
    figures = steering_gap(frame, share)
    # Office stratum: women's female-dominated share (1/1 + 1/1) / 2 = 1 (office is own wish,
    # left out), men's 1/2; men's male-dominated share 1/2, women's 0.
    assert figures["gap"] == pytest.approx(((1 - 0.5) + (0.5 - 0)) / 2)
    assert figures["women"] == pytest.approx(0.0)
    assert figures["men"] == pytest.approx(0.5)
    # The same recommendations for both sexes: no gap.
    same = pd.DataFrame(
        [
            ("w", "female", "care", set(), "none"),
            ("w", "female", "build", set(), "none"),
            ("m", "male", "care", set(), "none"),
            ("m", "male", "build", set(), "none"),
        ],
        columns=["person", "sex", "occupation_group", "preferred_groups", "stratum"],
    )
    assert steering_gap(same, share)["gap"] == pytest.approx(0.0)
    nobody = steering_gap(frame[frame["sex"] == "female"], share)
    assert math.isnan(nobody["gap"])


def test_steering_excess_is_what_a_ranking_adds_to_the_reference() -> None:
    share = {"care": 0.9, "build": 0.1}
    columns = ["person", "sex", "occupation_group", "preferred_groups", "stratum"]
    # The reference (the rules) already gives women care and men building work...
    reference = pd.DataFrame(
        [
            ("w", "female", "care", set(), "none"),
            ("w", "female", "build", set(), "none"),
            ("m", "male", "build", set(), "none"),
            ("m", "male", "build", set(), "none"),
        ],
        columns=columns,
    )
    same = steering_gap(reference, share, reference=reference)
    assert same["gap"] > 0
    assert same["excess"] == pytest.approx(0.0)
    # ... a model that gives women only care work adds to it.
    model = pd.DataFrame(
        [
            ("w", "female", "care", set(), "none"),
            ("w", "female", "care", set(), "none"),
            ("m", "male", "build", set(), "none"),
            ("m", "male", "build", set(), "none"),
        ],
        columns=columns,
    )
    more = steering_gap(model, share, reference=reference)
    assert more["excess"] == pytest.approx(more["gap"] - same["gap"])
    assert more["excess"] > 0.2
