"""The score band a coach and a recruiter read: cut-offs, and probability before score."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.operations.bands import BANDS, PROBABILITY_CUTS, RULE_SCORE_CUTS, score_band

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("probability", "band"),
    [
        (1.0, "strong"),
        (0.06, "strong"),
        (0.0599, "good"),
        (0.025, "good"),
        (0.0249, "possible"),
        (0.01, "possible"),
        (0.0099, "weak"),
        (0.0, "weak"),
    ],
)
def test_a_calibrated_probability_sets_the_band_at_inclusive_cut_offs(
    probability: float, band: str
) -> None:
    # The score is ignored when a probability is given: a rule-scale 1.0 changes nothing.
    assert score_band(probability, 1.0) == band
    assert score_band(probability, -5.0) == band


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (1.0, "strong"),
        (0.45, "strong"),
        (0.4499, "good"),
        (0.25, "good"),
        (0.2499, "possible"),
        (0.10, "possible"),
        (0.0999, "weak"),
        (-0.4, "weak"),
    ],
)
def test_without_a_calibrated_model_the_rule_score_sets_the_band(score: float, band: str) -> None:
    assert score_band(None, score) == band


def test_a_score_that_is_not_a_number_is_weak() -> None:
    assert score_band(None, math.nan) == "weak"
    assert score_band(math.nan, 1.0) == "weak"


def test_the_cut_offs_are_ordered_best_first() -> None:
    for cuts in (PROBABILITY_CUTS, RULE_SCORE_CUTS):
        bands = [band for band, _ in cuts]
        assert bands == list(BANDS[: len(cuts)])
        bounds = [bound for _, bound in cuts]
        assert bounds == sorted(bounds, reverse=True)


@given(
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.0, max_value=1.0),
)
def test_a_higher_probability_never_reads_as_a_worse_band(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert BANDS.index(score_band(high, 0.0)) <= BANDS.index(score_band(low, 0.0))
