"""Skill profiles of jobseekers from coaching assessments, and vacancy requirement vectors.

A jobseeker's profile is a sparse vector over the ESCO skills. Each observation carries
evidence whose weight is

    weight = method_weight[method] × confidence × 0.5 ** (age_days / half_life_days)

so a work trial last month counts for more than a self-report two years ago. Observations of
the same skill combine as independent evidence (noisy-or: ``strength = 1 - Π(1 - weight)``)
and their levels as a weight-averaged level. A profile entry is ``strength × level / 4`` in
[0, 1].

Partial credit flows through the taxonomy: a recognised skill lends ``broader_credit`` of its
value to its broader ESCO skill (the hierarchy) and ``related_credit`` to the skills ESCO
relates to it. Credit never lowers a directly evidenced value (element-wise maximum).

A vacancy's requirement vector weighs required skills 1.0 and optional ones
``OPTIONAL_SKILL_WEIGHT``; its minimum levels sit in a parallel sparse matrix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from features.codes import index_in, lookup_codes
from features.taxonomy import Taxonomy
from matching.domain import SKILL_LEVEL_MAX, AssessmentMethod

OPTIONAL_SKILL_WEIGHT = 0.4

DEFAULT_METHOD_WEIGHTS: Mapping[str, float] = {
    AssessmentMethod.WORK_TRIAL: 1.0,
    AssessmentMethod.OBSERVATION: 0.9,
    AssessmentMethod.TEST: 0.75,
    AssessmentMethod.CERTIFICATE: 0.7,
    AssessmentMethod.SELF_REPORT: 0.4,
}


@dataclass(frozen=True)
class ProfileConfig:
    """How evidence is weighed; the defaults are documented in the module docstring."""

    half_life_days: float = 365.0
    method_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_METHOD_WEIGHTS)
    )
    broader_credit: float = 0.5
    related_credit: float = 0.3

    def __post_init__(self) -> None:
        if self.half_life_days <= 0:
            raise ValueError(f"half_life_days: {self.half_life_days!r} must be positive")
        missing = {m.value for m in AssessmentMethod} - set(self.method_weights)
        if missing:
            raise ValueError(f"method_weights: no weight for {sorted(missing)}")
        for name in ("broader_credit", "related_credit"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name}: {value!r} must be between 0 and 1")


@dataclass(frozen=True)
class SkillProfiles:
    """Profiles of many jobseekers: row ``i`` of ``matrix`` belongs to ``jobseeker_ids[i]``.

    ``direct`` holds only evidenced skills; ``matrix`` adds the partial credit. ``evidence``
    has one row per (profile row, evidenced skill) with the summary an explanation shows:
    ``level`` (weighted), ``strength`` (0..1), ``observations``, ``best_method``,
    ``last_assessed``.
    """

    jobseeker_ids: npt.NDArray[np.object_]
    direct: sp.csr_matrix
    matrix: sp.csr_matrix
    evidence: pd.DataFrame
    row_of: dict[str, int] = field(repr=False)

    def row(self, jobseeker_id: str) -> int:
        try:
            return self.row_of[jobseeker_id]
        except KeyError:
            raise KeyError(f"jobseeker_id {jobseeker_id!r} has no profile") from None


#: Propagation matrices per taxonomy object (built once: every one-person update needs them).
_PROPAGATION: dict[int, tuple[Taxonomy, tuple[sp.csr_matrix, sp.csr_matrix]]] = {}


def _propagation_matrices(taxonomy: Taxonomy) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Skill → broader skill (depth 1) and skill ↔ related skill, as 0/1 sparse matrices."""
    cached = _PROPAGATION.get(id(taxonomy))
    if cached is not None and cached[0] is taxonomy:
        return cached[1]
    matrices = _build_propagation(taxonomy)
    _PROPAGATION.clear()  # one taxonomy serves a process; do not keep replaced ones alive
    _PROPAGATION[id(taxonomy)] = (taxonomy, matrices)
    return matrices


def _build_propagation(taxonomy: Taxonomy) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    n = len(taxonomy.skills)
    ancestors = taxonomy.skill_ancestors
    nearest = ancestors[ancestors["depth"] == 1]
    parent_idx = nearest["ancestor_uri"].map(taxonomy.skill_positions)
    is_skill = parent_idx.notna().to_numpy()
    rows = nearest["skill_idx"].to_numpy()[is_skill]
    cols = parent_idx.to_numpy()[is_skill].astype(np.int64)
    broader = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, n))
    rel = taxonomy.skill_relations
    a, b = rel["skill_idx"].to_numpy(), rel["related_idx"].to_numpy()
    related = sp.csr_matrix(
        (np.ones(2 * len(a), np.float32), (np.r_[a, b], np.r_[b, a])), shape=(n, n)
    )
    broader.data[:] = 1.0  # duplicates summed by the constructor collapse back to 0/1
    related.data[:] = 1.0
    return broader, related


def _rows_of_people(
    ids: npt.NDArray[np.object_],
) -> tuple[dict[str, int], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """People (unique ids) and, per person, the result rows that describe them.

    Returns ``person_of`` (id → person number), ``starts`` (per person, offsets into
    ``rows``, one extra at the end) and ``rows`` (result rows grouped by person).
    """
    codes, people = pd.factorize(pd.Index(ids.astype(str)))
    order = np.argsort(codes, kind="stable").astype(np.int64)
    starts = np.searchsorted(codes[order], np.arange(len(people) + 1)).astype(np.int64)
    return {str(p): i for i, p in enumerate(people)}, starts, order


def build_profiles(
    assessments: pd.DataFrame,
    observations: pd.DataFrame,
    taxonomy: Taxonomy,
    as_of: date,
    *,
    config: ProfileConfig | None = None,
    jobseeker_ids: npt.ArrayLike | None = None,
    row_days: npt.ArrayLike | None = None,
) -> SkillProfiles:
    """Build skill profiles from assessments and their skill observations.

    Parameters
    ----------
    assessments
        Columns ``assessment_id, jobseeker_id, assessed_on, method``.
    observations
        Columns ``assessment_id, skill_uri, level, confidence``.
    as_of
        The day the profile describes; later assessments are ignored.
    jobseeker_ids
        The rows of the result, in order; by default every jobseeker with an assessment
        (even one dated after ``as_of``).
        People without evidence get empty rows.
    row_days
        One day per row of ``jobseeker_ids`` (which may then repeat a person): each row is
        the person's profile as of its own day, from the assessments made by then and with
        recency counted to that day (the point-in-time profiles of a training replay).
    """
    config = config or ProfileConfig()
    # Everything per assessment first (575k rows), then gathered per observation by position:
    # no string merge and no per-observation string arrays (memory at national scale).
    position = index_in(observations["assessment_id"], assessments["assessment_id"])
    method_codes = lookup_codes(assessments["method"], _METHOD_RANK)
    method_names = np.array(list(_METHOD_RANK), dtype=object)
    weights_by_method = np.array([config.method_weights.get(m, np.nan) for m in method_names])
    unknown = (method_codes < 0) | np.isnan(weights_by_method[np.maximum(method_codes, 0)])
    if unknown.any():
        bad = assessments["method"].to_numpy()[unknown][0]
        raise ValueError(f"method: {bad!r} has no evidence weight")
    ids = (
        np.asarray(jobseeker_ids, dtype=object)
        if jobseeker_ids is not None
        else np.asarray(sorted(assessments["jobseeker_id"].astype(str).unique()), dtype=object)
    )
    if row_days is None:
        row_of = {str(jid): i for i, jid in enumerate(ids)}
        person_of = row_of
        person_starts = np.arange(len(ids) + 1, dtype=np.int64)
        person_rows = np.arange(len(ids), dtype=np.int64)
        day_of_row = np.full(len(ids), np.datetime64(as_of, "D"))
    else:
        day_of_row = np.asarray(row_days, dtype="datetime64[D]")
        if day_of_row.shape != ids.shape:
            raise ValueError("row_days needs one day per jobseeker id")
        person_of, person_starts, person_rows = _rows_of_people(ids)
        row_of = {}  # rows stand for (person, day): nobody looks a row up by id
    assessment_person = lookup_codes(assessments["jobseeker_id"], person_of)
    assessment_day = pd.to_datetime(assessments["assessed_on"]).to_numpy("datetime64[D]")

    skill_idx = lookup_codes(observations["skill_uri"], taxonomy.skill_positions)
    if (skill_idx < 0).any():
        bad = observations["skill_uri"].to_numpy()[skill_idx < 0][0]
        raise KeyError(f"skill_uri {bad!r} is not an ESCO skill")
    known = position >= 0
    safe = np.maximum(position, 0)
    person = np.where(known, assessment_person[safe], -1)
    # Every observation once per result row of its person (once per person normally; once
    # per replayed day for point-in-time profiles).
    counts = np.where(
        person >= 0, person_starts[person + 1] - person_starts[np.maximum(person, 0)], 0
    )
    source = np.repeat(np.arange(len(person), dtype=np.int64), counts)
    offset = np.arange(len(source), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    rows = person_rows[person_starts[person[source]] + offset]
    assessed_on = assessment_day[safe[source]]
    age_days = (day_of_row[rows] - assessed_on).astype(np.int64)
    keep = age_days >= 0
    rows, source, assessed_on = rows[keep], source[keep], assessed_on[keep]
    method_rank = method_codes[safe[source]]
    weight = (
        weights_by_method[method_rank]
        * observations["confidence"].to_numpy(np.float64)[source]
        * np.power(0.5, age_days[keep] / config.half_life_days)
    )
    observed_level = observations["level"].to_numpy(np.float64)[source]
    observed_skill = skill_idx[source]

    n_skills = len(taxonomy.skills)
    key = rows * n_skills + observed_skill
    w = weight
    unique_keys, inverse = np.unique(key, return_inverse=True)
    sums = np.bincount(inverse, w, len(unique_keys))
    log_miss = np.bincount(inverse, np.log1p(-np.minimum(w, 0.999999)), len(unique_keys))
    weighted_level = np.bincount(inverse, w * observed_level, len(unique_keys))
    count = np.bincount(inverse, minlength=len(unique_keys))
    best_rank = np.full(len(unique_keys), len(_METHOD_RANK), np.int64)
    np.minimum.at(best_rank, inverse, method_rank)
    last_day = np.full(len(unique_keys), np.datetime64("1970-01-01", "D"))
    np.maximum.at(last_day, inverse, assessed_on)

    strength = -np.expm1(log_miss)
    level = weighted_level / np.maximum(sums, 1e-12)
    value = (strength * level / SKILL_LEVEL_MAX).astype(np.float32)
    row_idx = unique_keys // n_skills
    col_idx = unique_keys % n_skills
    shape = (len(ids), n_skills)
    direct = sp.csr_matrix((value, (row_idx, col_idx)), shape=shape)

    broader, related = _propagation_matrices(taxonomy)
    matrix = direct.maximum((direct @ broader) * np.float32(config.broader_credit))
    matrix = matrix.maximum((direct @ related) * np.float32(config.related_credit)).tocsr()
    matrix.sort_indices()
    matrix = matrix.astype(np.float32)

    methods = np.array(list(_METHOD_RANK), dtype=object)
    person_codes, people = pd.factorize(pd.Index(ids.astype(str)))
    evidence = pd.DataFrame(
        {
            "row": row_idx.astype(np.int64),
            # Categoricals over the id and URI lists: millions of rows, no string copies.
            "jobseeker_id": pd.Categorical.from_codes(
                person_codes[row_idx],
                categories=pd.Index(people),  # type: ignore[arg-type]  # str ids, not bool
            ),
            "skill_idx": col_idx.astype(np.int32),
            "skill_uri": pd.Categorical.from_codes(
                col_idx, categories=pd.Index(taxonomy.skills["uri"])
            ),
            "level": np.round(level, 2),
            "strength": np.round(strength, 3),
            "observations": count.astype(np.int32),
            "best_method": pd.Categorical.from_codes(best_rank, categories=pd.Index(methods)),
            "last_assessed": last_day,
        }
    )
    return SkillProfiles(
        jobseeker_ids=ids, direct=direct, matrix=matrix, evidence=evidence, row_of=row_of
    )


# Lower rank = stronger kind of evidence, in the order AssessmentMethod lists them.
_METHOD_RANK: dict[str, int] = {m.value: i for i, m in enumerate(AssessmentMethod)}


@dataclass(frozen=True)
class VacancyRequirements:
    """Requirement vectors of many vacancies: row ``i`` belongs to ``vacancy_ids[i]``.

    ``weights`` is 1.0 for a required skill and :data:`OPTIONAL_SKILL_WEIGHT` for an optional
    one; ``required`` is the 0/1 mask of required skills; ``min_level`` the minimum level.
    """

    vacancy_ids: npt.NDArray[np.object_]
    weights: sp.csr_matrix
    required: sp.csr_matrix
    min_level: sp.csr_matrix
    row_of: dict[str, int] = field(repr=False)

    def row(self, vacancy_id: str) -> int:
        try:
            return self.row_of[vacancy_id]
        except KeyError:
            raise KeyError(f"vacancy_id {vacancy_id!r} has no requirement vector") from None


def build_requirements(
    vacancy_skills: pd.DataFrame,
    taxonomy: Taxonomy,
    vacancy_ids: npt.ArrayLike | None = None,
) -> VacancyRequirements:
    """Requirement vectors from rows ``vacancy_id, skill_uri, required, min_level``.

    The three matrices share one sparsity pattern, so their ``data`` arrays align.
    """
    ids = (
        np.asarray(vacancy_ids, dtype=object)
        if vacancy_ids is not None
        else np.asarray(sorted(vacancy_skills["vacancy_id"].unique()), dtype=object)
    )
    row_of = {str(vid): i for i, vid in enumerate(ids)}
    skills = vacancy_skills.drop_duplicates(["vacancy_id", "skill_uri"], keep="first")
    rows = lookup_codes(skills["vacancy_id"], row_of)
    cols = lookup_codes(skills["skill_uri"], taxonomy.skill_positions)
    if (cols < 0).any():
        bad = skills["skill_uri"].to_numpy()[cols < 0][0]
        raise KeyError(f"skill_uri {bad!r} is not an ESCO skill")
    keep = rows >= 0
    r = rows[keep]
    c = cols[keep]
    # One sparsity pattern for all three matrices: learn where each input row lands in CSR
    # order once, then lay every value array out in that order.
    pattern = sp.csr_matrix(
        (np.arange(1, len(r) + 1, dtype=np.int64), (r, c)), (len(ids), len(taxonomy.skills))
    )
    pattern.sort_indices()
    position = pattern.data - 1

    def csr(values: npt.NDArray[np.float32]) -> sp.csr_matrix:
        return sp.csr_matrix((values[position], pattern.indices, pattern.indptr), pattern.shape)

    required = skills["required"].to_numpy(bool)[keep]
    weights = np.where(required, 1.0, OPTIONAL_SKILL_WEIGHT).astype(np.float32)
    return VacancyRequirements(
        vacancy_ids=ids,
        weights=csr(weights),
        required=csr(required.astype(np.float32)),
        min_level=csr(skills["min_level"].to_numpy(np.float32)[keep]),
        row_of=row_of,
    )
