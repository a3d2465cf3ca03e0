"""Scorers rank candidate pairs from their feature rows.

A scorer is anything with ``version``, ``feature_names``, ``score(features)`` and
``contributions(features)`` (one column per feature plus a last column for the bias, in the
units of the score, like LightGBM's ``pred_contrib``). The engine uses the trained LightGBM
ranker when one is loaded (see ``training``) and otherwise :class:`RuleBasedScorer`, whose
weights are documented here so a coach can read the score as a sum of reasons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


class Scorer(Protocol):
    version: str
    feature_names: tuple[str, ...]

    def score(self, features: FloatArray) -> npt.NDArray[np.float64]: ...

    def contributions(self, features: FloatArray) -> npt.NDArray[np.float64]: ...


#: Documented weights of the rule-based score. Positive terms lie in [0, 1] and sum to 1, so
#: a perfect skill match within commuting distance scores 1; gaps subtract.
RULE_WEIGHTS: Mapping[str, float] = {
    "required_coverage": 0.40,
    "optional_coverage": 0.10,
    "skill_cosine": 0.15,
    "evidence_strength": 0.05,
    "within_commute": 0.15,
    "remote_share": 0.05,
    "occupation_preferred": 0.05,
    "job_form_accepted": 0.05,
    "language_gap": -0.05,  # per CEFR step below the requirement
    "driving_licence_missing": -0.10,
    "level_shortfall": -0.05,  # per level step below the minimum, averaged
}


class RuleBasedScorer:
    """A transparent linear score over named features (:data:`RULE_WEIGHTS`)."""

    version = "rules-v1"

    def __init__(
        self, feature_names: Sequence[str], weights: Mapping[str, float] = RULE_WEIGHTS
    ) -> None:
        self.feature_names = tuple(feature_names)
        unknown = set(weights) - set(self.feature_names)
        if unknown:
            raise ValueError(f"rule weights name unknown features: {sorted(unknown)}")
        self._weights = np.array([weights.get(n, 0.0) for n in self.feature_names], np.float64)

    def score(self, features: FloatArray) -> npt.NDArray[np.float64]:
        return np.asarray(features, np.float64) @ self._weights

    def contributions(self, features: FloatArray) -> npt.NDArray[np.float64]:
        terms = np.asarray(features, np.float64) * self._weights
        return np.hstack([terms, np.zeros((len(terms), 1))])
