"""The transparent rule-based score: what ranks matches when no trained model is loaded.

Every term lies in [0, 1] and the weights sum to 1, so the score is a weighted share a coach
can read: "45 % of the score is how well the required skills are covered, ...".
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Documented weights of the rule-based score; they sum to 1.
RULE_WEIGHTS: Mapping[str, float] = {
    "required_coverage": 0.45,
    "optional_coverage": 0.10,
    "skill_cosine": 0.20,
    "commute_fit": 0.25,
}


def commute_fit(
    distance_km: npt.ArrayLike, max_commute_km: npt.ArrayLike, remote_share: npt.ArrayLike
) -> FloatArray:
    """1 within the commute radius, falling linearly to 0 at twice the radius.

    Remote work shortens the commute in proportion: a fully remote job fits anyone.
    """
    distance = np.asarray(distance_km, dtype=np.float64)
    radius = np.maximum(np.asarray(max_commute_km, dtype=np.float64), 1.0)
    remote = np.clip(np.asarray(remote_share, dtype=np.float64), 0.0, 1.0)
    on_site = np.clip(2.0 - distance / radius, 0.0, 1.0)
    return remote + (1.0 - remote) * on_site


def rule_based_score(
    required_coverage: npt.ArrayLike,
    optional_coverage: npt.ArrayLike,
    skill_cosine: npt.ArrayLike,
    commute: npt.ArrayLike,
) -> FloatArray:
    """Weighted sum of the four terms of :data:`RULE_WEIGHTS`, each clipped to [0, 1]."""
    terms = (required_coverage, optional_coverage, skill_cosine, commute)
    score = np.zeros(np.broadcast(*[np.asarray(t) for t in terms]).shape)
    for weight, term in zip(RULE_WEIGHTS.values(), terms, strict=True):
        score += weight * np.clip(np.asarray(term, dtype=np.float64), 0.0, 1.0)
    return score
