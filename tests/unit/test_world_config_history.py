"""WorldConfig's hidden-world and coach-search options."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from training.synthetic import HIDDEN_MODEL_NAMES, WorldConfig

pytestmark = pytest.mark.unit


def test_the_default_hidden_world_is_the_additive_one() -> None:
    config = WorldConfig(seekers=10, vacancies=5)
    assert config.hidden_model == "additive"
    assert (config.search_interval_min_days, config.search_interval_max_days) == (56, 112)
    assert (config.search_shown_min, config.search_shown_max) == (5, 15)
    for name in HIDDEN_MODEL_NAMES:
        assert WorldConfig.model_validate({"seekers": 1, "vacancies": 1, "hidden_model": name})


def test_unknown_hidden_worlds_are_rejected_naming_the_choices() -> None:
    with pytest.raises(ValidationError, match="additive"):
        WorldConfig.model_validate({"seekers": 1, "vacancies": 1, "hidden_model": "linear"})


def test_crossed_search_bounds_are_rejected() -> None:
    with pytest.raises(ValidationError, match="search_interval_min_days"):
        WorldConfig(seekers=10, vacancies=5, search_interval_min_days=120)
    with pytest.raises(ValidationError, match="search_shown_min"):
        WorldConfig(seekers=10, vacancies=5, search_shown_min=20)
