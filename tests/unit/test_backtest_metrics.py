"""The backtest's metrics, sampling and context days: hand-computed cases and invariants."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from targeting.backtest import (
    PastContract,
    brier_score,
    calibration_by_decile,
    context_day,
    expected_calibration_error,
    feasibility_split,
    ratio_interval,
    sample_contracts,
    spearman,
    summarise,
    threshold_table,
)
from targeting.types import ConditionProposal, PlanLine

pytestmark = pytest.mark.unit


# --- Spearman ---------------------------------------------------------------------------------


def test_spearman_hand_computed_without_ties() -> None:
    # Ranks of p: 1, 2, 3, 4; ranks of y: 2, 1, 4, 3; d = -1, 1, -1, 1; sum d^2 = 4.
    # rho = 1 - 6 * 4 / (4 * (16 - 1)) = 1 - 24 / 60 = 0.6.
    assert spearman([0.1, 0.2, 0.3, 0.4], [0.5, 0.0, 1.0, 0.7]) == pytest.approx(0.6)


def test_spearman_with_ties_is_pearson_of_average_ranks() -> None:
    # y = 0, 0, 1, 1 has average ranks 1.5, 1.5, 3.5, 3.5; p ranks 1, 2, 3, 4.
    # Centred: p -1.5, -0.5, 0.5, 1.5; y -1, -1, 1, 1 -> cov 4, |p| sqrt(5), |y| 2.
    expected = 4 / (math.sqrt(5) * 2)
    assert spearman([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1]) == pytest.approx(expected)


def test_spearman_undefined_when_one_side_is_constant() -> None:
    assert math.isnan(spearman([0.3, 0.3, 0.3], [0, 1, 1]))
    assert math.isnan(spearman([0.1, 0.2, 0.3], [1, 1, 1]))
    assert math.isnan(spearman([0.1], [1]))


def test_metrics_refuse_mismatched_or_missing_values() -> None:
    with pytest.raises(ValueError, match="equal 1-d shapes"):
        spearman([0.1, 0.2], [1])
    with pytest.raises(ValueError, match="finite"):
        brier_score([0.1, math.nan], [1, 0])


# --- Calibration, ECE, Brier ------------------------------------------------------------------


def test_calibration_by_decile_hand_computed() -> None:
    # Ten contracts, five groups of two after sorting by the prediction.
    predicted = [0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4, 0.5, 0.0]
    observed = [1, 0, 1, 0, 0, 1, 1, 0, 0, 0]
    table = calibration_by_decile(predicted, observed, groups=5)
    assert table["contracts"].tolist() == [2, 2, 2, 2, 2]
    # Sorted (p, y): (0.0,0) (0.1,0) | (0.2,0) (0.3,1) | (0.4,0) (0.5,0) | (0.6,1) (0.7,0)
    # | (0.8,1) (0.9,1).
    assert table["predicted_mean"].tolist() == pytest.approx([0.05, 0.25, 0.45, 0.65, 0.85])
    assert table["observed_rate"].tolist() == pytest.approx([0.0, 0.5, 0.0, 0.5, 1.0])
    assert table["predicted_min"].tolist() == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])
    assert table["predicted_max"].tolist() == pytest.approx([0.1, 0.3, 0.5, 0.7, 0.9])
    assert table["gap"].tolist() == pytest.approx([-0.05, 0.25, -0.45, -0.15, 0.15])
    # Equal weights 1/5: ECE = (0.05 + 0.25 + 0.45 + 0.15 + 0.15) / 5 = 0.21.
    assert expected_calibration_error(predicted, observed, groups=5) == pytest.approx(0.21)


def test_calibration_groups_differ_by_at_most_one_and_shrink_for_few_contracts() -> None:
    table = calibration_by_decile(np.linspace(0, 1, 23), np.zeros(23))
    assert table["contracts"].tolist() == [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]
    assert calibration_by_decile([0.2, 0.4, 0.6], [0, 1, 1])["contracts"].tolist() == [1, 1, 1]


def test_ece_is_weighted_by_group_size() -> None:
    # 11 contracts in 2 groups: 6 with prediction 0.5 (observed 3/6), 5 with 1.0 (observed 0).
    predicted = [0.5] * 6 + [1.0] * 5
    observed = [1, 1, 1, 0, 0, 0] + [0] * 5
    # Group 1: |0.5 - 0.5| = 0 with weight 6/11; group 2: |1.0 - 0| = 1 with weight 5/11.
    assert expected_calibration_error(predicted, observed, groups=2) == pytest.approx(5 / 11)


def test_brier_hand_computed() -> None:
    # (0.8-1)^2 + (0.3-0)^2 + (0.5-1)^2 + (0-0)^2 = 0.04 + 0.09 + 0.25 + 0 = 0.38; / 4.
    assert brier_score([0.8, 0.3, 0.5, 0.0], [1, 0, 1, 0]) == pytest.approx(0.095)


def test_perfect_predictions_have_no_error() -> None:
    observed = [0, 1, 1, 0, 1]
    assert brier_score(observed, observed) == 0.0
    assert expected_calibration_error(observed, observed) == 0.0


# --- Feasible vs infeasible -------------------------------------------------------------------


def test_feasibility_split_and_ratio_by_hand() -> None:
    predicted = [0.9, 0.6, 0.5, 0.2, 0.49, 0.1, 0.3]
    fulfilled = [1, 1, 0, 1, 0, 0, 0]
    split = feasibility_split(predicted, fulfilled)
    # Feasible (>= 0.5): 0.9 (1), 0.6 (1), 0.5 (0) -> 2/3; infeasible: 0.2 (1), 0.49, 0.1, 0.3.
    assert (split.feasible, split.feasible_fulfilled) == (3, 2)
    assert (split.infeasible, split.infeasible_fulfilled) == (4, 1)
    assert split.feasible_rate == pytest.approx(2 / 3)
    assert split.infeasible_rate == pytest.approx(1 / 4)
    assert split.ratio == pytest.approx((2 / 3) / (1 / 4))


def test_ratio_edge_cases() -> None:
    assert feasibility_split([0.9, 0.1], [1, 0]).ratio == math.inf
    assert math.isnan(feasibility_split([0.9, 0.8], [1, 0]).ratio)  # nobody rated infeasible
    assert math.isnan(feasibility_split([0.9, 0.1], [0, 0]).ratio)  # 0 / 0
    assert feasibility_split([0.9, 0.1], [0, 1]).ratio == 0.0


def test_summary_puts_the_figures_together() -> None:
    predicted = [0.9, 0.7, 0.2, 0.1]
    share = [1.0, 0.5, 0.5, 0.0]
    fulfilled = [True, False, False, False]
    summary = summarise("advisor", predicted, share, fulfilled)
    assert summary.contracts == 4
    assert summary.observed_rate == pytest.approx(0.25)
    assert summary.mean_predicted == pytest.approx(0.475)
    assert summary.split.ratio == math.inf
    assert summary.brier == pytest.approx((0.01 + 0.49 + 0.04 + 0.01) / 4)
    # Share ranks 4, 2.5, 2.5, 1 against prediction ranks 4, 3, 2, 1.
    assert summary.spearman_share == pytest.approx(spearman([4, 3, 2, 1], [4, 2.5, 2.5, 1]))
    assert 0 < summary.spearman_share < 1
    row = summary.as_row()
    assert row["feasible_fulfilment_rate"] == pytest.approx(0.5)
    assert row["rated_infeasible"] == 2


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 1, allow_nan=False), st.booleans()), min_size=1, max_size=60)
)
def test_metric_ranges(pairs: list[tuple[float, bool]]) -> None:
    predicted = [p for p, _ in pairs]
    observed = [float(y) for _, y in pairs]
    assert 0.0 <= brier_score(predicted, observed) <= 1.0
    assert 0.0 <= expected_calibration_error(predicted, observed) <= 1.0
    table = calibration_by_decile(predicted, observed)
    assert table["contracts"].sum() == len(pairs)
    assert (table["predicted_mean"].diff().dropna() >= 0).all()
    split = feasibility_split(predicted, observed)
    assert split.feasible + split.infeasible == len(pairs)
    rho = spearman(predicted, observed)
    assert math.isnan(rho) or -1.0 - 1e-12 <= rho <= 1.0 + 1e-12


# --- Sampling and context days ------------------------------------------------------------------


def _contract(number: int, start: date) -> PastContract:
    line = PlanLine(f"K{number}", "MUN-091", ("45000000-7",), "091", 1e5, start, 12)
    condition = ConditionProposal(("young",), 2, ("employment",), start + timedelta(days=300))
    return PastContract(f"E{number}", f"K{number}", "municipality", line, condition)


def _population() -> list[PastContract]:
    # 60 contracts in January, 30 in February, 10 in March 2025.
    days = [date(2025, 1, 1 + i % 28) for i in range(60)]
    days += [date(2025, 2, 1 + i % 28) for i in range(30)]
    days += [date(2025, 3, 1 + i % 28) for i in range(10)]
    return [_contract(i, day) for i, day in enumerate(days)]


def test_sample_is_proportional_to_start_months() -> None:
    sample = sample_contracts(_population(), 20, seed=3)
    months = Counter(c.line.starts_on.month for c in sample)
    assert months == {1: 12, 2: 6, 3: 2}
    assert len({c.condition_id for c in sample}) == 20


def test_sample_rounds_by_largest_remainder() -> None:
    # 7 of 100: exact shares 4.2, 2.1, 0.7 -> floors 4, 2, 0 and the one left goes to March.
    months = Counter(c.line.starts_on.month for c in sample_contracts(_population(), 7))
    assert months == {1: 4, 2: 2, 3: 1}


def test_sample_is_reproducible_and_seed_dependent() -> None:
    population = _population()
    first = [c.condition_id for c in sample_contracts(population, 20, seed=1)]
    assert first == [c.condition_id for c in sample_contracts(population, 20, seed=1)]
    assert first != [c.condition_id for c in sample_contracts(population, 20, seed=2)]


def test_sample_of_everything_and_bad_sizes() -> None:
    population = _population()
    assert sample_contracts(population, None) == population
    assert sample_contracts(population, 500) == population
    with pytest.raises(ValueError, match="at least 1"):
        sample_contracts(population, 0)


def test_context_day_never_after_the_start() -> None:
    assert context_day(date(2025, 3, 17), "month") == date(2025, 3, 1)
    assert context_day(date(2025, 3, 1), "month") == date(2025, 3, 1)
    assert context_day(date(2025, 3, 17), "day") == date(2025, 3, 17)
    with pytest.raises(ValueError, match="'month' or 'day'"):
        context_day(date(2025, 3, 17), "week")  # type: ignore[arg-type]


def test_threshold_table_splits_at_each_cut() -> None:
    predicted = [0.05, 0.15, 0.25, 0.6]
    fulfilled = [0, 1, 0, 1]
    table = threshold_table(predicted, fulfilled, thresholds=(0.1, 0.5))
    assert table["rated_feasible"].tolist() == [3, 1]
    # At 0.1: feasible 0.15 (1), 0.25 (0), 0.6 (1) -> 2/3; infeasible 0.05 (0) -> 0.
    assert table["feasible_fulfilment_rate"].tolist() == pytest.approx([2 / 3, 1.0])
    assert table["infeasible_fulfilment_rate"].tolist() == pytest.approx([0.0, 1 / 3])
    assert table["ratio"].iloc[0] == math.inf
    assert table["ratio"].iloc[1] == pytest.approx(3.0)


def test_ratio_interval_brackets_the_ratio_and_narrows_with_more_contracts() -> None:
    rng = np.random.default_rng(5)

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        predicted = rng.uniform(0, 1, n)
        fulfilled = rng.uniform(0, 1, n) < np.where(predicted >= 0.5, 0.45, 0.15)
        return predicted, fulfilled

    small = sample(200)
    low, high = ratio_interval(*small, seed=1)
    assert low <= feasibility_split(*small).ratio <= high
    assert ratio_interval(*small, seed=1) == (low, high)  # reproducible
    large = sample(5000)
    large_low, large_high = ratio_interval(*large, seed=1)
    assert large_low <= feasibility_split(*large).ratio <= large_high
    assert large_high - large_low < high - low
    # With (nearly) nobody on one side no interval can be given.
    assert all(math.isnan(v) for v in ratio_interval([0.9, 0.8, 0.7], [1, 0, 1]))


def test_ratio_interval_of_a_perfect_split_is_infinite() -> None:
    low, high = ratio_interval([0.9] * 10 + [0.1] * 10, [1] * 10 + [0] * 10)
    assert low == high == math.inf
