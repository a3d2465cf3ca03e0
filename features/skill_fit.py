"""Skill fit of one jobseeker against many vacancies, vectorised over the vacancies.

``required_coverage`` is the mean over a vacancy's required skills of
``min(1, profile value / (min_level / 4))``: a skill held at the asked level counts fully, a
weaker or only partially credited one counts in proportion. ``optional_coverage`` is the
same over optional skills; ``skill_cosine`` compares the whole profile with the weighted
requirement vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from features.profiles import SkillProfiles, VacancyRequirements
from matching.domain import SKILL_LEVEL_MAX

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SkillFit:
    required_coverage: FloatArray
    optional_coverage: FloatArray
    skill_cosine: FloatArray


def _share(sums: npt.ArrayLike, counts: npt.ArrayLike) -> FloatArray:
    """sums / counts, 0 where the count is 0."""
    numerators = np.asarray(sums, dtype=np.float64)
    denominators = np.asarray(counts, dtype=np.float64)
    out = np.zeros(len(denominators))
    return np.divide(numerators, denominators, out=out, where=denominators > 0)


def skill_fit(
    profiles: SkillProfiles,
    jobseeker_row: int,
    requirements: VacancyRequirements,
    vacancy_rows: npt.NDArray[np.int64],
) -> SkillFit:
    """Skill fit of one jobseeker (a row of ``profiles``) against the given vacancy rows."""
    profile = profiles.matrix[jobseeker_row].toarray().ravel()
    required = requirements.required[vacancy_rows]
    min_level = requirements.min_level[vacancy_rows]
    # required, min_level and weights share one sparsity pattern (built from the same rows).
    held = profile[min_level.indices]
    ratio = np.minimum(1.0, held / (min_level.data / SKILL_LEVEL_MAX))
    is_required = required.data > 0
    n_skills = np.diff(min_level.indptr)
    n_required = np.asarray(required.sum(axis=1)).ravel()
    # Sum the ratios per vacancy, split by required/optional, over the shared pattern.
    owner = np.repeat(np.arange(len(vacancy_rows)), n_skills)
    sums_required = np.bincount(owner, np.where(is_required, ratio, 0.0), len(vacancy_rows))
    sums_optional = np.bincount(owner, np.where(is_required, 0.0, ratio), len(vacancy_rows))
    required_coverage = _share(sums_required, n_required)
    optional_coverage = _share(sums_optional, n_skills - n_required)

    weights = requirements.weights[vacancy_rows]
    dots = weights @ profile
    norms = np.sqrt(np.asarray(weights.multiply(weights).sum(axis=1)).ravel())
    profile_norm = float(np.linalg.norm(profile))
    cosine = _share(np.asarray(dots, np.float64), norms * profile_norm)
    return SkillFit(
        required_coverage=required_coverage,
        optional_coverage=optional_coverage,
        skill_cosine=np.asarray(cosine, dtype=np.float64),
    )
