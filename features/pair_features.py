"""Pair features of (jobseeker, vacancy) pairs, vectorised, in the order of the schema.

One function serves training (millions of pairs, in chunks) and serving (a few hundred
candidates per request): :func:`pair_features` reads only :class:`MatchingData` arrays. The
features are described in :mod:`features.schema`.

Skill features expand each pair into the vacancy's skill entries (about ten), look the
jobseeker's profile value up at each, and sum back per pair with ``np.bincount``.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt

from features.schema import FEATURE_INDEX, FEATURE_NAMES, MAX_DAYS_FEATURE
from matching.commute import commute_fit
from matching.domain import AssessmentMethod, PhysicalDemand, WorkRestriction
from matching.eligibility import pair_eligibility
from matching.entities import (
    PHYSICAL_DEMANDS,
    PROFILE_LEVEL,
    PROFILE_METHOD,
    PROFILE_STRENGTH,
    PROFILE_VALUE,
    REQ_MIN_LEVEL,
    REQ_REQUIRED,
    REQ_WEIGHT,
    RESTRICTIONS,
    MatchingData,
    has_bit,
)

FloatArray = npt.NDArray[np.float32]
CHUNK_PAIRS = 200_000
_HEAVY = PHYSICAL_DEMANDS.index(PhysicalDemand.HEAVY)
_MODERATE = PHYSICAL_DEMANDS.index(PhysicalDemand.MODERATE)


def _share(sums: npt.ArrayLike, counts: npt.ArrayLike) -> npt.NDArray[np.float64]:
    numerators = np.asarray(sums, np.float64)
    denominators = np.asarray(counts, np.float64)
    return np.divide(
        numerators, denominators, out=np.zeros(len(denominators)), where=denominators > 0
    )


def _days(later: npt.NDArray[np.datetime64], earlier: npt.NDArray[np.datetime64]) -> FloatArray:
    """Days between two day arrays, capped to ±MAX_DAYS_FEATURE; NaT gives the cap."""
    delta = (later - earlier).astype("timedelta64[D]").astype(np.float64)
    return np.clip(np.nan_to_num(delta, nan=MAX_DAYS_FEATURE), -MAX_DAYS_FEATURE, MAX_DAYS_FEATURE)


def _lowest_per_pair(
    n: int, owner: npt.NDArray[np.int64], values: FloatArray
) -> npt.NDArray[np.float64]:
    """Per pair, the lowest of its values and 1 (1 where it has none); ``owner`` is sorted.

    The same numbers as ``np.minimum.at`` into ones (a minimum does not round), from one
    ``reduceat`` over each pair's run instead of an unbuffered call per entry.
    """
    lowest = np.ones(n, np.float64)
    if len(owner):
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        runs = np.minimum.reduceat(values, starts).astype(np.float64)
        lowest[owner[starts]] = np.minimum(lowest[owner[starts]], runs)
    return lowest


def held_level(held: FloatArray) -> FloatArray:
    """The level a person holds a skill at: the assessed level where a coach observed it,
    else the partial credit from related skills expressed in levels (value × 4).

    How sure that level is stays a separate feature (``evidence_strength``).
    """
    observed = held[:, PROFILE_METHOD] >= 0
    return np.where(observed, held[:, PROFILE_LEVEL], held[:, PROFILE_VALUE] * 4.0)


def pair_features(
    data: MatchingData,
    seeker_rows: npt.ArrayLike,
    vacancy_rows: npt.ArrayLike,
    on: date | npt.NDArray[np.datetime64],
) -> FloatArray:
    """The feature matrix (pairs × :data:`FEATURE_NAMES`) for aligned row arrays.

    ``on`` is the day the pairs are scored: one day for a request, or one per pair when a
    training set replays logged exposures on the days they were shown.
    """
    s_all = np.asarray(seeker_rows, np.int64)
    v_all = np.asarray(vacancy_rows, np.int64)
    if s_all.shape != v_all.shape:
        raise ValueError("seeker_rows and vacancy_rows must have the same length")
    days = np.broadcast_to(np.asarray(on, dtype="datetime64[D]"), s_all.shape)
    out = np.empty((len(s_all), len(FEATURE_NAMES)), np.float32)
    for start in range(0, len(s_all), CHUNK_PAIRS):
        stop = start + CHUNK_PAIRS
        out[start:stop] = _chunk(data, s_all[start:stop], v_all[start:stop], days[start:stop])
    return out


def _chunk(
    data: MatchingData,
    s: npt.NDArray[np.int64],
    v: npt.NDArray[np.int64],
    today: npt.NDArray[np.datetime64],
) -> FloatArray:
    n = len(s)
    seekers, vacancies = data.seekers, data.vacancies
    f = np.zeros((n, len(FEATURE_NAMES)), np.float32)

    def put(name: str, values: npt.ArrayLike) -> None:
        f[:, FEATURE_INDEX[name]] = values

    # --- skills
    entries = data.requirements.rows(v)
    owner = entries.owner
    held = data.profiles.lookup(s[owner], entries.columns)
    value, strength = held[:, PROFILE_VALUE], held[:, PROFILE_STRENGTH]
    weight = entries.values[:, REQ_WEIGHT]
    required = entries.values[:, REQ_REQUIRED]
    min_level = entries.values[:, REQ_MIN_LEVEL]
    level = held_level(held)
    ratio = np.minimum(1.0, level / np.maximum(min_level, 1.0))
    n_skills = np.diff(entries.indptr)
    n_required = np.bincount(owner, required, n)
    put("required_coverage", _share(np.bincount(owner, ratio * required, n), n_required))
    optional = 1.0 - required
    put("optional_coverage", _share(np.bincount(owner, ratio * optional, n), n_skills - n_required))
    # Observed by a coach (not only credited through related skills) at the required level.
    observed = (held[:, PROFILE_METHOD] >= 0) & (strength > 0)
    assessed = observed & (held[:, PROFILE_LEVEL] >= min_level) & (required > 0)
    put("assessed_coverage", _share(np.bincount(owner, assessed, n), n_required))
    # The same per kind of evidence (the strongest method that observed each skill): how
    # much each method's word is worth differs between labour markets and is learnt.
    best = held[:, PROFILE_METHOD].astype(np.int64)
    for index, method in enumerate(AssessmentMethod):
        of_method = assessed & (best == index)
        put(f"coverage_{method.value}", _share(np.bincount(owner, of_method, n), n_required))
    surplus = np.maximum(0.0, level - min_level) * required
    put("level_surplus", _share(np.bincount(owner, surplus, n), n_required))
    # The weakest link: the lowest level ratio among required skills (1 when none required).
    put("weakest_required", _lowest_per_pair(n, owner[required > 0], ratio[required > 0]))
    shortfall = np.maximum(0.0, min_level - level) * required
    put("level_shortfall", _share(np.bincount(owner, shortfall, n), n_required))
    matched = required * (value > 0)
    put(
        "evidence_strength",
        _share(np.bincount(owner, strength * matched, n), np.bincount(owner, matched, n)),
    )
    norms = seekers["profile_norm"][s] * vacancies["requirement_norm"][v]
    put("skill_cosine", _share(np.bincount(owner, weight * value, n), norms))
    put("occupation_preferred", data.occupations.lookup(s, vacancies["occupation"][v])[:, 0])
    isco_columns = vacancies["isco_columns"][v]
    proximity = np.zeros(n, np.float32)
    for depth in range(4):
        columns = isco_columns[:, depth]
        known = columns >= 0
        found = data.isco.lookup(s[known], columns[known])[:, 0]
        proximity[known] = np.maximum(proximity[known], found)
    put("isco_proximity", proximity)

    # --- region
    home = seekers["home"][s]
    workplace = vacancies["municipality"][v]
    distance = data.distance_km[home, workplace]
    put("distance_km", distance)
    put("within_commute", distance <= seekers["max_commute_km"][s])
    put(
        "commute_fit",
        commute_fit(
            distance,
            vacancies["remote_share"][v],
            seekers["max_commute_km"][s],
            seekers["relocate"][s],
        ),
    )
    put("same_labour_area", data.labour_area[home] == data.labour_area[workplace])
    put("same_region", data.region[home] == data.region[workplace])
    put("remote_share", vacancies["remote_share"][v])

    # --- work ability (compared, never exposed)
    hours = np.maximum(vacancies["hours"][v], 1.0)
    put("hours_fit", np.minimum(1.0, seekers["max_hours"][s] / hours))
    restrictions = seekers["restrictions"][s]
    heavy = vacancies["physical_demand"][v] == _HEAVY
    put(
        "physical_conflict",
        heavy & has_bit(restrictions, WorkRestriction.NO_HEAVY_LIFTING, RESTRICTIONS),
    )
    night = vacancies["night_work"][v]
    put(
        "night_conflict", night & has_bit(restrictions, WorkRestriction.NO_NIGHT_WORK, RESTRICTIONS)
    )
    shift = vacancies["shift_work"][v]
    put(
        "shift_conflict", shift & has_bit(restrictions, WorkRestriction.NO_SHIFT_WORK, RESTRICTIONS)
    )
    standing = vacancies["physical_demand"][v] >= _MODERATE
    put(
        "standing_conflict",
        standing & has_bit(restrictions, WorkRestriction.NO_PROLONGED_STANDING, RESTRICTIONS),
    )
    gap = vacancies["languages"][v].astype(np.int16) - seekers["languages"][s].astype(np.int16)
    put("language_gap", np.maximum(gap, 0).max(axis=1))
    put("driving_licence_missing", vacancies["driving_licence"][v] & ~seekers["driving_licence"][s])
    put("driving_licence_held", seekers["driving_licence"][s])
    put("occupation_major_group", vacancies["isco"][v] // 1000)
    form_bit = np.left_shift(1, vacancies["job_form"][v].astype(np.int64))
    put("job_form_accepted", (seekers["accepted_forms"][s].astype(np.int64) & form_bit) != 0)

    # --- employment condition and timing
    eligible, days_until, _ = pair_eligibility(
        seekers["eligible_from"][s],
        seekers["eligible_until"][s],
        vacancies["condition_rules"][v],
        today,
    )
    has_condition = vacancies["has_condition"][v]
    put("condition_eligible", eligible & has_condition)
    put(
        "days_until_eligible",
        np.where(has_condition, np.minimum(days_until, MAX_DAYS_FEATURE), MAX_DAYS_FEATURE),
    )
    since = seekers["unemployed_since"][s]
    spell = np.where(np.isnat(since), 0.0, _days(today, since))
    put("unemployment_days", np.maximum(spell, 0))
    return f
