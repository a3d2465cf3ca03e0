"""The commute radius a person states is a preference, not a wall.

The *effective distance* of a job is the straight-line distance times the share of days at
the workplace (``distance × (1 − remote_share)``). Within the stated radius nothing is lost.
Beyond it the *excess* is measured in radii (at least ``MIN_RADIUS_KM``, so a 0 km radius is
not an infinite cost), and the rule-based score's commute term decays with it:

    commute_fit = exp(−COMMUTE_DECAY × excess / (2 if willing to relocate else 1))

so a job 50 % beyond the radius keeps ``exp(−1) ≈ 0.37`` of the term and one twice the radius
away ``exp(−2) ≈ 0.14``. The trained model sees the same feature and learns the real cost from
outcomes. Matching admits jobs up to :func:`reach` (the radius plus half of it, at least
``slack_km``); a person willing to relocate, and a job that is mostly remote, waive distance.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

MIN_RADIUS_KM = 10.0
COMMUTE_DECAY = 2.0

FloatArray = npt.NDArray[np.float64]


def effective_distance(distance_km: npt.ArrayLike, remote_share: npt.ArrayLike) -> FloatArray:
    """Distance weighted by the days spent at the workplace."""
    distance = np.asarray(distance_km, np.float64)
    remote = np.clip(np.asarray(remote_share, np.float64), 0.0, 1.0)
    result: FloatArray = distance * (1.0 - remote)
    return result


def commute_excess(
    distance_km: npt.ArrayLike, remote_share: npt.ArrayLike, radius_km: npt.ArrayLike
) -> FloatArray:
    """Effective distance beyond the radius, in radii (0 within the radius)."""
    radius = np.asarray(radius_km, np.float64)
    beyond = np.maximum(effective_distance(distance_km, remote_share) - radius, 0.0)
    result: FloatArray = beyond / np.maximum(radius, MIN_RADIUS_KM)
    return result


def commute_fit(
    distance_km: npt.ArrayLike,
    remote_share: npt.ArrayLike,
    radius_km: npt.ArrayLike,
    relocate: npt.ArrayLike,
) -> FloatArray:
    """1 within the radius, decaying with the excess beyond it (see the module docstring)."""
    softness = np.where(np.asarray(relocate, bool), 2.0, 1.0)
    result: FloatArray = np.exp(
        -COMMUTE_DECAY * commute_excess(distance_km, remote_share, radius_km) / softness
    )
    return result


def reach(radius_km: npt.ArrayLike, slack_share: float, slack_km: float) -> FloatArray:
    """The farthest effective distance matching admits: radius plus a slack."""
    radius = np.asarray(radius_km, np.float64)
    result: FloatArray = radius + np.maximum(slack_km, slack_share * radius)
    return result


#: Distance bands instead of kilometres, for everyone who must not locate a person (an
#: employer's candidates, a procurement unit's local supply): enough to judge a commute, too
#: coarse to locate. Upper limits are exclusive.
DISTANCE_BANDS = ((5.0, "under 5 km"), (15.0, "5-15 km"), (30.0, "15-30 km"), (60.0, "30-60 km"))


def distance_band(km: float) -> str:
    """The band of :data:`DISTANCE_BANDS` a distance falls in ("over 60 km" beyond them)."""
    for limit, label in DISTANCE_BANDS:
        if km < limit:
            return label
    return "over 60 km"
