"""Scorers rank candidate pairs from their feature rows.

A scorer is anything with ``version``, ``feature_names``, ``score(features)`` and
``contributions(features)`` (one column per feature plus a last column for the bias, in the
units of the score, like LightGBM's ``pred_contrib``). The engine uses the trained LightGBM
ranker when one is loaded (see ``training``) and otherwise :class:`RuleBasedScorer`, whose
weights are documented here so a coach can read the score as a sum of reasons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

#: The two questions the engine answers: vacancies for a person (a coach's ``matches``) and
#: people for a vacancy (an employer's ``shortlist``). Each has its own model.
Direction = Literal["matches", "shortlist"]
DIRECTIONS: tuple[Direction, ...] = ("shortlist", "matches")


class Scorer(Protocol):
    version: str
    feature_names: tuple[str, ...]

    def score(self, features: FloatArray) -> npt.NDArray[np.float64]: ...

    def contributions(self, features: FloatArray) -> npt.NDArray[np.float64]: ...


class RankingModel(Protocol):
    """What the engine serves: a scorer per direction and, when the model was calibrated,
    the probability each score stands for (a hire that lasts six months)."""

    version: str
    feature_names: tuple[str, ...]

    def for_direction(self, direction: Direction) -> Scorer: ...

    def probability(
        self, direction: Direction, scores: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64] | None: ...


@dataclass(frozen=True)
class Calibration:
    """A monotone map from a ranking score to a probability (an isotonic fit's knots).

    Between knots the probability is interpolated linearly and outside them clipped, as
    scikit-learn's ``IsotonicRegression.predict`` does, so serving needs numpy only.
    """

    scores: tuple[float, ...]
    probabilities: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.scores) != len(self.probabilities) or not self.scores:
            raise ValueError("a calibration needs as many probabilities as scores, at least one")
        if any(b < a for a, b in zip(self.scores, self.scores[1:], strict=False)):
            raise ValueError("calibration scores must be sorted")
        if any(not 0.0 <= p <= 1.0 for p in self.probabilities):
            raise ValueError("calibration probabilities must lie in [0, 1]")

    def __call__(self, scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
        values = np.asarray(scores, np.float64)
        result: npt.NDArray[np.float64] = np.interp(
            values, np.asarray(self.scores), np.asarray(self.probabilities)
        )
        return result


class SingleScorerModel:
    """One scorer for both directions, without calibration (e.g. a test's fixed scorer)."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self.version = scorer.version
        self.feature_names = tuple(scorer.feature_names)

    def for_direction(self, direction: Direction) -> Scorer:
        return self.scorer

    def probability(
        self, direction: Direction, scores: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64] | None:
        return None


def as_ranking_model(scorer: Scorer | RankingModel) -> RankingModel:
    """A ranking model as it is, a plain scorer wrapped to serve both directions."""
    if hasattr(scorer, "for_direction") and hasattr(scorer, "probability"):
        return scorer  # type: ignore[return-value]
    return SingleScorerModel(scorer)


#: Documented weights of the rule-based score. Positive terms lie in [0, 1] and sum to 1, so
#: a perfect skill match, observed by a coach, within the commute radius scores 1; gaps
#: subtract. The commute term decays beyond the radius (``commute_fit``, see
#: :mod:`matching.commute`): the radius a person states is a preference, not a wall.
RULE_WEIGHTS: Mapping[str, float] = {
    "required_coverage": 0.25,
    "assessed_coverage": 0.20,  # required skills a coach observed at the required level
    "optional_coverage": 0.10,
    "skill_cosine": 0.10,
    "evidence_strength": 0.05,
    "commute_fit": 0.15,
    "remote_share": 0.05,
    "occupation_preferred": 0.05,
    "job_form_accepted": 0.05,
    "language_gap": -0.05,  # per CEFR step below the requirement
    "driving_licence_missing": -0.10,
    "level_shortfall": -0.05,  # per level step below the minimum, averaged
    "standing_conflict": -0.10,
}


class RuleBasedScorer:
    """A transparent linear score over named features (:data:`RULE_WEIGHTS`)."""

    version = "rules-v2"

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

    def for_direction(self, direction: Direction) -> RuleBasedScorer:
        return self

    def probability(
        self, direction: Direction, scores: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64] | None:
        """The rules are not calibrated: their score is a documented sum, not a probability."""
        return None
