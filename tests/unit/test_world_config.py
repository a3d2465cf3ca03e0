"""WorldConfig validation and the generator's small helpers."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from pydantic import ValidationError

from training.synthetic import WorldConfig
from training.synthetic._common import (
    choice,
    expand_ranges,
    group_offsets,
    ids,
    rank_in_group,
    stream,
)
from training.synthetic.procurement import business_ids
from training.synthetic.reference import FI, SE

pytestmark = pytest.mark.unit


def test_defaults_are_fixed_not_today() -> None:
    config = WorldConfig(seekers=10, vacancies=5)
    assert config.as_of == date(2026, 11, 1)
    assert config.history_years == 2
    assert config.seed == 7


def test_negative_seekers_are_rejected_naming_the_field() -> None:
    with pytest.raises(ValidationError, match=r"seekers\n.*greater than 0"):
        WorldConfig(seekers=-1, vacancies=5)


def test_zero_vacancies_are_rejected() -> None:
    with pytest.raises(ValidationError, match="vacancies"):
        WorldConfig(seekers=10, vacancies=0)


def test_crossed_caseload_bounds_are_rejected() -> None:
    with pytest.raises(ValidationError, match="caseload_min"):
        WorldConfig(seekers=10, vacancies=5, caseload_min=50, caseload_max=40)


def test_shares_must_be_between_zero_and_one() -> None:
    with pytest.raises(ValidationError, match="migrant_share"):
        WorldConfig(seekers=10, vacancies=5, migrant_share=1.5)


def test_unknown_options_and_mutation_are_rejected() -> None:
    with pytest.raises(ValidationError, match="seeker_count"):
        WorldConfig(seekers=10, vacancies=5, seeker_count=3)  # type: ignore[call-arg]
    config = WorldConfig(seekers=10, vacancies=5)
    with pytest.raises(ValidationError, match="frozen"):
        config.seekers = 20  # type: ignore[misc]


def test_validation_error_is_a_value_error_for_the_cli() -> None:
    with pytest.raises(ValueError, match="seekers"):
        WorldConfig(seekers=-5, vacancies=5)


def test_streams_are_reproducible_and_independent() -> None:
    assert stream(1, "people").random() == stream(1, "people").random()
    assert stream(1, "people").random() != stream(1, "skills").random()
    assert stream(1, "people").random() != stream(2, "people").random()


def test_ids_are_zero_padded() -> None:
    assert ids("JS", 3, 7).to_pylist() == ["JS0000001", "JS0000002", "JS0000003"]


def test_group_helpers() -> None:
    keys = np.array([0, 0, 2, 2, 2])
    assert group_offsets(keys, 3).tolist() == [0, 2, 2, 5]
    assert rank_in_group(keys).tolist() == [0, 1, 0, 1, 2]
    owner, positions = expand_ranges(np.array([10, 20]), np.array([2, 3]))
    assert owner.tolist() == [0, 0, 1, 1, 1]
    assert positions.tolist() == [10, 11, 20, 21, 22]


def test_choice_follows_weights() -> None:
    drawn = choice(np.random.default_rng(0), [0.0, 1.0, 3.0], 20_000)
    assert set(np.unique(drawn)) == {1, 2}
    assert 0.72 < (drawn == 2).mean() < 0.78
    with pytest.raises(ValueError, match="positive sum"):
        choice(np.random.default_rng(0), [0.0, 0.0], 3)


def test_business_ids_carry_valid_check_digits() -> None:
    countries = np.array([FI] * 50 + [SE] * 50)
    codes = business_ids(np.random.default_rng(1), countries)
    assert len(set(codes)) == 100
    for code in codes[:50]:
        body, check = code.split("-")
        remainder = sum(int(d) * w for d, w in zip(body, (7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
        assert remainder != 1
        assert int(check) == (0 if remainder == 0 else 11 - remainder)
    for code in codes[50:]:
        digits = code.replace("-", "")
        assert digits.startswith("556")
        assert len(digits) == 10
        total = 0
        for i, d in enumerate(digits[:9]):
            product = int(d) * (2 if i % 2 == 0 else 1)
            total += product // 10 + product % 10
        assert int(digits[9]) == (10 - total % 10) % 10
