"""Ranking metrics: hand-computed cases, input validation and property tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.metrics import (
    average_precision,
    catalogue_coverage,
    disparity_ratio,
    mean_average_precision,
    ndcg_at_k,
    per_query_ndcg,
    recall_at_k,
)

pytestmark = pytest.mark.unit


# --- NDCG -------------------------------------------------------------------------------------


def test_ndcg_hand_computed_single_query() -> None:
    labels = [3, 2, 0, 1]
    # Scores rank the rows 1, 2, 3, 0: labels in ranked order are 2, 0, 1, 3.
    scores = [0.1, 0.4, 0.3, 0.2]
    # Gains 2**l - 1 in ranked order: 3, 0, 1, 7; discounts 1/log2(rank + 1).
    dcg = 3 / math.log2(2) + 0 / math.log2(3) + 1 / math.log2(4) + 7 / math.log2(5)
    # Ideal order of labels 3, 2, 1, 0: gains 7, 3, 1, 0.
    idcg = 7 / math.log2(2) + 3 / math.log2(3) + 1 / math.log2(4) + 0 / math.log2(5)
    assert dcg == pytest.approx(6.514736, abs=1e-6)
    assert idcg == pytest.approx(9.392789, abs=1e-6)
    assert ndcg_at_k(scores, labels, [4], k=4) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(scores, labels, [4], k=4) == pytest.approx(0.693589, abs=1e-6)


def test_ndcg_hand_computed_with_cutoff() -> None:
    labels = [3, 2, 0, 1]
    scores = [0.1, 0.4, 0.3, 0.2]
    # Top 2 in ranked order: labels 2, 0 -> gains 3, 0.
    dcg = 3 / math.log2(2) + 0 / math.log2(3)
    # Ideal top 2: labels 3, 2 -> gains 7, 3.
    idcg = 7 / math.log2(2) + 3 / math.log2(3)
    assert ndcg_at_k(scores, labels, [4], k=2) == pytest.approx(dcg / idcg)


def test_ndcg_k_larger_than_query_uses_all_rows() -> None:
    labels = [3, 2, 0, 1]
    scores = [0.1, 0.4, 0.3, 0.2]
    assert ndcg_at_k(scores, labels, [4], k=100) == ndcg_at_k(scores, labels, [4], k=4)


def test_ndcg_perfect_ranking_is_one() -> None:
    labels = [0, 4, 1, 2, 3]
    scores = [0.0, 4.0, 1.0, 2.0, 3.0]
    assert ndcg_at_k(scores, labels, [5], k=3) == pytest.approx(1.0)
    assert ndcg_at_k(scores, labels, [5], k=5) == pytest.approx(1.0)


def test_ndcg_reversed_ranking_is_below_one() -> None:
    labels = [0, 4, 1, 2, 3]
    scores = [-float(label) for label in labels]
    value = ndcg_at_k(scores, labels, [5], k=5)
    assert 0.0 < value < 1.0


def test_ndcg_ties_broken_by_row_order() -> None:
    # Equal scores keep row order: the relevant row is ranked second.
    # DCG = 0/log2(2) + 7/log2(3); IDCG = 7/log2(2) = 7.
    expected = (7 / math.log2(3)) / 7
    assert ndcg_at_k([0.5, 0.5], [0, 3], [2], k=2) == pytest.approx(expected)
    # Swapping the rows puts the relevant row first.
    assert ndcg_at_k([0.5, 0.5], [3, 0], [2], k=2) == pytest.approx(1.0)


def test_ndcg_skips_queries_without_positives() -> None:
    # Query 1: perfect (1.0). Query 2: all zero labels, skipped. Query 3: relevant row last.
    scores = [2.0, 1.0, 0.3, 0.2, 0.1, 0.9, 0.1]
    labels = [1, 0, 0, 0, 0, 0, 1]
    groups = [2, 3, 2]
    # Query 3: gains 0, 1 -> DCG = 1/log2(3); IDCG = 1.
    third = 1 / math.log2(3)
    per_query = per_query_ndcg(scores, labels, groups, k=10)
    assert per_query.shape == (3,)
    assert per_query[0] == pytest.approx(1.0)
    assert math.isnan(per_query[1])
    assert per_query[2] == pytest.approx(third)
    assert ndcg_at_k(scores, labels, groups, k=10) == pytest.approx((1.0 + third) / 2)


def test_ndcg_without_any_positive_is_nan() -> None:
    assert math.isnan(ndcg_at_k([0.1, 0.2], [0, 0], [2], k=5))
    assert math.isnan(ndcg_at_k([], [], [], k=5))


# --- Recall and MAP ---------------------------------------------------------------------------

# Query 1 ranks rows 0, 1, 3, 2 -> labels 1, 0, 0, 2.
# Query 2 ranks rows 0, 1, 2 -> labels 0, 0, 1.
# Query 3 has no relevant row.
RECALL_SCORES = [0.9, 0.8, 0.1, 0.5, 0.3, 0.2, 0.1, 0.7, 0.6]
RECALL_LABELS = [1, 0, 2, 0, 0, 0, 1, 0, 0]
RECALL_GROUPS = [4, 3, 2]


def test_recall_at_k_hand_computed() -> None:
    # k=2: query 1 finds 1 of 2 relevant, query 2 finds 0 of 1, query 3 is skipped.
    assert recall_at_k(RECALL_SCORES, RECALL_LABELS, RECALL_GROUPS, k=2) == pytest.approx(
        (1 / 2 + 0 / 1) / 2
    )
    # k=3: query 2's relevant row is third -> 1 of 1.
    assert recall_at_k(RECALL_SCORES, RECALL_LABELS, RECALL_GROUPS, k=3) == pytest.approx(
        (1 / 2 + 1 / 1) / 2
    )
    # k=4 finds everything.
    assert recall_at_k(RECALL_SCORES, RECALL_LABELS, RECALL_GROUPS, k=4) == pytest.approx(1.0)


def test_recall_at_k_threshold() -> None:
    # threshold=2: only query 1's row 2 (ranked 4th) is relevant; queries 2 and 3 are skipped.
    kwargs = {"k": 3, "threshold": 2}
    assert recall_at_k(RECALL_SCORES, RECALL_LABELS, RECALL_GROUPS, **kwargs) == 0.0
    assert recall_at_k(RECALL_SCORES, RECALL_LABELS, RECALL_GROUPS, k=4, threshold=2) == 1.0


def test_average_precision_hand_computed() -> None:
    per_query = average_precision(RECALL_SCORES, RECALL_LABELS, RECALL_GROUPS)
    # Query 1: relevant at ranks 1 and 4 -> (1/1 + 2/4) / 2 = 0.75.
    assert per_query[0] == pytest.approx(0.75)
    # Query 2: relevant at rank 3 -> (1/3) / 1.
    assert per_query[1] == pytest.approx(1 / 3)
    assert math.isnan(per_query[2])
    assert mean_average_precision(RECALL_SCORES, RECALL_LABELS, RECALL_GROUPS) == pytest.approx(
        (0.75 + 1 / 3) / 2
    )


def test_mean_average_precision_threshold() -> None:
    # threshold=2: query 1 has one relevant row at rank 4 -> AP 1/4; others skipped.
    value = mean_average_precision(RECALL_SCORES, RECALL_LABELS, RECALL_GROUPS, threshold=2)
    assert value == pytest.approx(0.25)


def test_mean_average_precision_perfect_ranking_is_one() -> None:
    assert mean_average_precision([3.0, 2.0, 1.0], [1, 1, 0], [3]) == 1.0


# --- Coverage and disparity -------------------------------------------------------------------


def test_catalogue_coverage() -> None:
    assert catalogue_coverage([["a", "b"], ["b", "c"]], catalogue_size=4) == pytest.approx(0.75)
    assert catalogue_coverage([], catalogue_size=10) == 0.0
    assert catalogue_coverage([["a"], ["a"], []], catalogue_size=1) == 1.0


def test_catalogue_coverage_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="catalogue_size"):
        catalogue_coverage([["a"]], catalogue_size=0)
    with pytest.raises(ValueError, match="catalogue_size"):
        catalogue_coverage([["a", "b", "c"]], catalogue_size=2)
    with pytest.raises(TypeError, match=r"top_items\[0\]"):
        catalogue_coverage(["abc"], catalogue_size=5)


def test_disparity_ratio() -> None:
    assert disparity_ratio({"fi": 0.5, "sv": 0.25}) == pytest.approx(0.5)
    assert disparity_ratio({"a": 0.2, "b": 0.8, "c": 0.4}) == pytest.approx(0.25)
    assert disparity_ratio({"a": 0.4, "b": float("nan"), "c": 0.2}) == pytest.approx(0.5)


def test_disparity_ratio_degenerate_cases() -> None:
    assert disparity_ratio({}) == 1.0
    assert disparity_ratio({"only": 0.3}) == 1.0
    assert disparity_ratio({"a": 0.3, "b": float("nan")}) == 1.0
    assert disparity_ratio({"a": 0.0, "b": 0.0}) == 1.0
    assert disparity_ratio({"a": 0.0, "b": 0.5}) == 0.0


def test_disparity_ratio_rejects_negative_values() -> None:
    with pytest.raises(ValueError, match="values_by_group"):
        disparity_ratio({"a": -0.1, "b": 0.5})


# --- Invalid input ----------------------------------------------------------------------------


def test_length_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="labels has length 2 but scores has length 3"):
        ndcg_at_k([0.1, 0.2, 0.3], [1, 0], [3], k=1)


@pytest.mark.parametrize("groups", [[2], [2, 2], [4, -1]])
def test_groups_must_sum_to_rows(groups: list[int]) -> None:
    with pytest.raises(ValueError, match="groups"):
        ndcg_at_k([0.1, 0.2, 0.3], [1, 0, 0], groups, k=1)


@pytest.mark.parametrize("k", [0, -3])
def test_k_must_be_positive(k: int) -> None:
    with pytest.raises(ValueError, match="k must be"):
        ndcg_at_k([0.1], [1], [1], k=k)
    with pytest.raises(ValueError, match="k must be"):
        recall_at_k([0.1], [1], [1], k=k)
    with pytest.raises(ValueError, match="k must be"):
        per_query_ndcg([0.1], [1], [1], k=k)


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threshold"):
        recall_at_k([0.1], [1], [1], k=1, threshold=0)
    with pytest.raises(ValueError, match="threshold"):
        mean_average_precision([0.1], [1], [1], threshold=0)


def test_bad_labels_raise() -> None:
    with pytest.raises(ValueError, match="labels must be non-negative"):
        ndcg_at_k([0.1, 0.2], [1, -1], [2], k=1)
    with pytest.raises(ValueError, match="labels must hold whole numbers"):
        ndcg_at_k([0.1, 0.2], [1, 0.5], [2], k=1)


def test_bad_scores_raise() -> None:
    with pytest.raises(ValueError, match="scores must be finite"):
        ndcg_at_k([0.1, float("nan")], [1, 0], [2], k=1)
    with pytest.raises(ValueError, match="scores must be one-dimensional"):
        ndcg_at_k([[0.1, 0.2]], [1, 0], [2], k=1)


# --- Properties -------------------------------------------------------------------------------

Ranked = tuple[list[float], list[int], list[int]]


@st.composite
def ranked_queries(draw: st.DrawFn, distinct_scores: bool = False) -> Ranked:
    """Scores, labels and group sizes for 1 to 6 queries of 1 to 8 rows each."""
    label_groups = draw(
        st.lists(
            st.lists(st.integers(0, 4), min_size=1, max_size=8),
            min_size=1,
            max_size=6,
        )
    )
    labels = [label for group in label_groups for label in group]
    n = len(labels)
    if distinct_scores:
        ints = draw(st.lists(st.integers(-1000, 1000), min_size=n, max_size=n, unique=True))
        scores = [float(value) for value in ints]
    else:
        # Small integers make ties frequent.
        scores = draw(st.lists(st.integers(-3, 3).map(float), min_size=n, max_size=n))
    return scores, labels, [len(group) for group in label_groups]


def _in_unit_interval_or_skipped(value: float, any_relevant: bool) -> bool:
    if math.isnan(value):
        return not any_relevant
    return 0.0 <= value <= 1.0


@settings(max_examples=150, deadline=None)
@given(data=ranked_queries(), k=st.integers(1, 10), threshold=st.integers(1, 4))
def test_every_metric_lies_in_unit_interval(data: Ranked, k: int, threshold: int) -> None:
    scores, labels, groups = data
    any_positive = any(label >= 1 for label in labels)
    any_relevant = any(label >= threshold for label in labels)
    assert _in_unit_interval_or_skipped(ndcg_at_k(scores, labels, groups, k), any_positive)
    assert _in_unit_interval_or_skipped(
        recall_at_k(scores, labels, groups, k, threshold), any_relevant
    )
    assert _in_unit_interval_or_skipped(
        mean_average_precision(scores, labels, groups, threshold), any_relevant
    )
    per_query = per_query_ndcg(scores, labels, groups, k)
    finite = per_query[~np.isnan(per_query)]
    assert np.all((finite >= 0.0) & (finite <= 1.0))
    items = [[f"item{label}" for label in labels[:k]]]
    assert 0.0 <= catalogue_coverage(items, catalogue_size=5) <= 1.0
    ratio = disparity_ratio({f"q{i}": float(v) for i, v in enumerate(per_query)})
    assert 0.0 <= ratio <= 1.0


@settings(max_examples=150, deadline=None)
@given(data=ranked_queries(), k=st.integers(1, 10))
def test_ndcg_of_scores_equal_to_labels_is_one(data: Ranked, k: int) -> None:
    _, labels, groups = data
    if not any(labels):
        labels = [*labels[:-1], 1]
    value = ndcg_at_k([float(label) for label in labels], labels, groups, k)
    assert value == pytest.approx(1.0)


@settings(max_examples=150, deadline=None)
@given(data=ranked_queries(distinct_scores=True), k=st.integers(1, 10), seed=st.integers(0, 999))
def test_ndcg_invariant_to_row_order_within_queries(data: Ranked, k: int, seed: int) -> None:
    scores, labels, groups = data
    rng = np.random.default_rng(seed)
    order: list[int] = []
    start = 0
    for size in groups:
        order.extend(int(i) for i in start + rng.permutation(size))
        start += size
    shuffled_scores = [scores[i] for i in order]
    shuffled_labels = [labels[i] for i in order]
    original = per_query_ndcg(scores, labels, groups, k)
    shuffled = per_query_ndcg(shuffled_scores, shuffled_labels, groups, k)
    np.testing.assert_allclose(shuffled, original, rtol=0, atol=1e-12)
