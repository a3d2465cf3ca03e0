"""The hidden propensity model: how outcomes of proposals really come about in the world.

The synthetic world's outcome history is drawn from this model, and the evaluation's oracle
ranks candidates with it. Matching code never sees it: it learns from the outcome events,
under the selection bias of the coaches' logged policy.

Pair features (from the TRUE skills and the recorded facts)
-----------------------------------------------------------
For jobseeker *j* and vacancy *v*:

* ``required_coverage`` — share of *v*'s required skills that *j* truly has at or above the
  minimum level; a skill held below the minimum counts half.
* ``optional_coverage`` — the same over optional skills (0 when there are none).
* ``commute_excess`` — effective distance ``d × (1 − remote_share)`` beyond *j*'s commute
  radius, in units of the radius (at least 10 km), capped at 5; halved when *j* is willing
  to relocate. ``d`` is the straight-line distance between the municipalities.
* ``commute_within`` — effective distance up to the radius, in units of the radius (0..1).
* ``hours_excess`` — hours asked beyond *j*'s maximum weekly hours, as a share of the hours.
* ``work_conflicts`` — how many of: heavy physical demand vs no_heavy_lifting, night work vs
  no_night_work, shift work vs no_shift_work, moderate/heavy work vs no_prolonged_standing.
* ``language_gap`` — CEFR steps (A1=1 … C2=6, native=7) missing over the languages asked.
* ``licence_missing`` — a driving licence is required and *j* has none.
* ``form_not_accepted`` — *j* does not accept the vacancy's job form.

Hidden utility
--------------
``u = required_skills·required_coverage + optional_skills·optional_coverage
− commute_excess·commute_excess − commute_within·commute_within − hours_excess·hours_excess
− work_conflicts·work_conflicts − language_gap·language_gap − licence_missing·licence_missing
− form_not_accepted·form_not_accepted``, each weight named as its feature in
:class:`HiddenModelParams` (e.g. 3.0 per unit of required-skill coverage, 0.5 per missing
CEFR step; ``HIDDEN_MODEL.md`` and ``hidden_model.json`` list every value).

Stages of a proposal
--------------------
1. The jobseeker accepts to go on with probability ``σ(accept_intercept
   − accept_commute·commute_excess − accept_hours·hours_excess
   − accept_form·form_not_accepted − accept_conflicts·work_conflicts)``; otherwise
   ``declined_by_jobseeker``.
2. The employer interviews with probability ``σ(interview_intercept + interview_slope·u + ε)``,
   otherwise ``declined_by_employer``; ε ~ N(0, chemistry_sd²) is an unobserved pair
   "chemistry" shared by stages 2 and 3.
3. After the interview the employer hires with probability ``σ(hire_intercept +
   hire_slope·u + ε)``, otherwise ``declined_by_employer``; a vacancy hires at most
   ``openings`` people (first decided, first hired); later successful candidates get
   ``declined_by_employer`` with reason ``position_filled``.
4. A hire is retained six months with probability ``σ(retain_intercept +
   retain_required_skills·required_coverage − retain_conflicts·work_conflicts −
   retain_hours·hours_excess − retain_commute·commute_excess)`` — work-ability fit matters
   more here than elsewhere.

Declines carry a reason drawn in proportion to what hurt: commute, hours, work_ability or
not_interested (job form, or no particular reason) for the jobseeker; skills, language,
work_ability, hours, commute or other (driving licence, or no particular reason) for the
employer.

What is NOT in the model
------------------------
Sex, age (birth year), migrant background and the length of unemployment never enter any
term. The coaches' logged policy prefers short unemployment and well-*assessed* skills; that
preference is pure selection bias, which a de-biased learner should not reproduce.

The oracle
----------
:meth:`HiddenModel.oracle_scores` is ``P(hired | proposed)`` = P(accept) ×
E_ε[P(interview | ε)·P(hire | ε)] (Gauss–Hermite quadrature over ε), ignoring competition
for openings. It is computed vectorised over arrays of pairs with sparse skill matrices.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from features.world_store import (
    HIDDEN_MODEL_FILE,
    WorldTables,
    load_true_skills,
)
from matching.domain import CEFRLevel, JobForm, PhysicalDemand, ReasonCode, WorkRestriction

__all__ = [
    "EMPLOYER_REASONS",
    "FEATURE_DESCRIPTIONS",
    "JOBSEEKER_REASONS",
    "HiddenModel",
    "HiddenModelParams",
    "PairContext",
    "PairFeatures",
    "StageLogits",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MODEL_NAME = "kohtaanto-hidden-outcome-model"
MODEL_VERSION = 1
_CHUNK = 200_000
_QUADRATURE_NODES = 24

_RESTRICTIONS = tuple(r.value for r in WorkRestriction)
_FORMS = tuple(f.value for f in JobForm)
_PHYSICAL = tuple(p.value for p in PhysicalDemand)
_CEFR_STEP = {level.value: level.step for level in CEFRLevel}
_BIT = {r: 1 << i for i, r in enumerate(WorkRestriction)}


@dataclass(frozen=True)
class HiddenModelParams:
    """Parameters of the hidden model (see the module docstring for the formulas)."""

    required_skills: float = 3.0
    optional_skills: float = 0.8
    commute_excess: float = 0.8
    commute_within: float = 0.3
    hours_excess: float = 2.5
    work_conflicts: float = 1.0
    language_gap: float = 0.5
    licence_missing: float = 1.5
    form_not_accepted: float = 1.0
    relocation_discount: float = 0.5
    accept_intercept: float = 2.5
    accept_commute: float = 0.7
    accept_hours: float = 2.0
    accept_form: float = 2.0
    accept_conflicts: float = 0.6
    interview_intercept: float = -1.2
    interview_slope: float = 1.0
    hire_intercept: float = -0.6
    hire_slope: float = 0.7
    chemistry_sd: float = 0.8
    retain_intercept: float = 1.0
    retain_required_skills: float = 0.8
    retain_conflicts: float = 1.2
    retain_hours: float = 2.0
    retain_commute: float = 0.5


#: Plain-language description of every parameter (written to hidden_model.json).
TERM_DESCRIPTIONS: dict[str, str] = {
    "required_skills": "Utility per unit of required-skill coverage by TRUE skills "
    "(share of required skills held at or above the minimum level; below it counts half).",
    "optional_skills": "Utility per unit of optional-skill coverage by TRUE skills.",
    "commute_excess": "Utility lost per commute radius of effective distance beyond the "
    "person's commute radius (remote work shortens the distance).",
    "commute_within": "Utility lost for using up the commute radius (nearer is a bit better).",
    "hours_excess": "Utility lost per share of the vacancy's hours beyond the person's "
    "maximum weekly hours (partial work capacity).",
    "work_conflicts": "Utility lost per conflict between the job and recorded restrictions "
    "(heavy lifting, night work, shift work, prolonged standing).",
    "language_gap": "Utility lost per CEFR step missing in a language the vacancy asks for.",
    "licence_missing": "Utility lost when a driving licence is required and missing.",
    "form_not_accepted": "Utility lost when the person does not accept the job form.",
    "relocation_discount": "Factor on commute excess when the person is willing to relocate.",
    "accept_intercept": "Log-odds that a proposed jobseeker goes on, before penalties.",
    "accept_commute": "Jobseeker's log-odds lost per commute radius of excess distance.",
    "accept_hours": "Jobseeker's log-odds lost per share of hours beyond their maximum.",
    "accept_form": "Jobseeker's log-odds lost when they do not accept the job form.",
    "accept_conflicts": "Jobseeker's log-odds lost per work-ability conflict.",
    "interview_intercept": "Employer's log-odds of interviewing at zero utility.",
    "interview_slope": "Employer's interview log-odds per unit of hidden utility.",
    "hire_intercept": "Employer's log-odds of hiring an interviewee at zero utility.",
    "hire_slope": "Employer's hiring log-odds per unit of hidden utility.",
    "chemistry_sd": "Standard deviation of the unobserved pair 'chemistry' added to both "
    "the interview and the hiring log-odds.",
    "retain_intercept": "Log-odds that a hire is still employed after six months.",
    "retain_required_skills": "Retention log-odds per unit of required-skill coverage.",
    "retain_conflicts": "Retention log-odds lost per work-ability conflict.",
    "retain_hours": "Retention log-odds lost per share of hours beyond the maximum.",
    "retain_commute": "Retention log-odds lost per commute radius of excess distance.",
}

#: Plain-language description of every pair feature.
FEATURE_DESCRIPTIONS: dict[str, str] = {
    "required_coverage": "Share of the vacancy's required skills the person TRULY has at or "
    "above the minimum level; a skill held below it counts half.",
    "optional_coverage": "The same over optional skills (0 when the vacancy lists none).",
    "distance_km": "Straight-line distance between home and job municipality.",
    "commute_excess": "max(0, distance × (1 − remote_share) − radius) / max(radius, 10 km), "
    "capped at 5, times relocation_discount if the person would relocate.",
    "commute_within": "min(distance × (1 − remote_share), radius) / max(radius, 10 km).",
    "hours_excess": "max(0, hours − max_hours_per_week) / hours (0 for full capacity).",
    "work_conflicts": "Count of job conditions that clash with recorded restrictions.",
    "language_gap": "CEFR steps missing over the vacancy's languages (native = 7).",
    "licence_missing": "1 when a driving licence is required and the person has none.",
    "form_not_accepted": "1 when the person does not accept the vacancy's job form.",
}

#: Reasons a jobseeker declines and an employer declines, in the order of the weight columns.
JOBSEEKER_REASONS = (
    ReasonCode.COMMUTE,
    ReasonCode.HOURS,
    ReasonCode.WORK_ABILITY,
    ReasonCode.NOT_INTERESTED,
)
EMPLOYER_REASONS = (
    ReasonCode.SKILLS,
    ReasonCode.LANGUAGE,
    ReasonCode.WORK_ABILITY,
    ReasonCode.HOURS,
    ReasonCode.COMMUTE,
    ReasonCode.OTHER,
)


def _sigmoid(x: FloatArray) -> FloatArray:
    result: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return result


@dataclass(frozen=True)
class PairFeatures:
    """Hidden-model features of a batch of (jobseeker, vacancy) pairs, one value per pair."""

    required_coverage: FloatArray
    optional_coverage: FloatArray
    distance_km: FloatArray
    commute_excess: FloatArray
    commute_within: FloatArray
    hours_excess: FloatArray
    work_conflicts: FloatArray
    language_gap: FloatArray
    licence_missing: FloatArray
    form_not_accepted: FloatArray

    def to_frame(self) -> pd.DataFrame:
        """The features as a DataFrame, one column per feature."""
        return pd.DataFrame({f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(frozen=True)
class StageLogits:
    """Log-odds of each stage for a batch of pairs (interview and hire without chemistry)."""

    accept: FloatArray
    interview: FloatArray
    hire: FloatArray
    retain: FloatArray


# --------------------------------------------------------------------------------------------
# Context: the facts of every jobseeker and vacancy as arrays
# --------------------------------------------------------------------------------------------


def _column(table: pa.Table, name: str) -> pa.Array:
    column = table.column(name)
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _index_in(array: pa.Array, values: pa.Array) -> IntArray:
    """Position of each element of ``array`` in ``values`` (-1 when absent or null)."""
    if pa.types.is_dictionary(array.type):
        lookup = _index_in(array.dictionary, values)
        indices = array.indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        result: IntArray = lookup[indices]
        if array.null_count:
            result = np.where(array.is_null().to_numpy(zero_copy_only=False), -1, result)
        return result
    found = pc.index_in(array.cast(pa.string()), value_set=values.cast(pa.string()))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _list_codes(array: pa.Array, values: tuple[str, ...]) -> tuple[IntArray, IntArray]:
    """(row, code) of every item of a list<string> column."""
    parents = pc.list_parent_indices(array).to_numpy(zero_copy_only=False).astype(np.int64)
    codes = _index_in(pc.list_flatten(array), pa.array(values, pa.string()))
    return parents, codes


def _language_matrix(array: pa.Array, languages: pa.Array, n: int) -> npt.NDArray[np.int8]:
    """CEFR step (0 = none) per row and language of a list<struct<language, level>> column."""
    parents = pc.list_parent_indices(array).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(array)
    column = _index_in(pc.struct_field(flat, "language"), languages)
    level_code = _index_in(pc.struct_field(flat, "level"), pa.array(list(_CEFR_STEP)))
    # Unknown levels (-1) count as no knowledge of the language.
    step = np.r_[np.array(list(_CEFR_STEP.values())), 0][level_code]
    matrix = np.zeros((n, len(languages)), dtype=np.int8)
    known = column >= 0
    np.maximum.at(matrix, (parents[known], column[known]), step[known].astype(np.int8))
    return matrix


def _bits(array: pa.Array, values: tuple[str, ...], n: int) -> IntArray:
    rows, codes = _list_codes(array, values)
    known = codes >= 0
    bits = np.zeros(n, dtype=np.int64)
    np.bitwise_or.at(bits, rows[known], np.left_shift(1, codes[known]))
    return bits


def _skill_matrix(
    owner: IntArray, column: IntArray, values: FloatArray, shape: tuple[int, int]
) -> sp.csr_matrix:
    keep = (owner >= 0) & (column >= 0)
    matrix = sp.csr_matrix(
        (values[keep].astype(np.float32), (owner[keep], column[keep])), shape=shape
    )
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix


#: The only jobseeker and vacancy columns the hidden model reads (no sex, age or origin).
_JOBSEEKER_COLUMNS = (
    "jobseeker_id",
    "home_municipality",
    "max_commute_km",
    "willing_to_relocate",
    "max_hours_per_week",
    "restrictions",
    "driving_licence",
    "accepted_job_forms",
    "languages",
)
_VACANCY_COLUMNS = (
    "vacancy_id",
    "municipality",
    "remote_share",
    "hours_per_week",
    "shift_work",
    "night_work",
    "physical_demand",
    "job_form",
    "driving_licence_required",
    "languages",
)


@dataclass(frozen=True, eq=False)
class PairContext:
    """Everything the hidden model needs about jobseekers and vacancies, as arrays.

    Build it once (:meth:`from_world` or :meth:`from_arrow`) and reuse it for many batches.
    Skill matrices are CSR over the skill columns any vacancy asks for; the jobseeker matrix
    holds ``2**true_level`` and the vacancy matrices ``2**-min_level``, so that an
    element-wise product is ≥ 1 exactly where a true skill meets the minimum level.
    """

    jobseeker_index: pd.Index
    vacancy_index: pd.Index
    js_municipality: IntArray
    js_commute_km: FloatArray
    js_relocate: npt.NDArray[np.bool_]
    js_max_hours: FloatArray  # nan = full time
    js_restrictions: IntArray  # bit i = WorkRestriction i
    js_licence: npt.NDArray[np.bool_]
    js_forms: IntArray  # bit i = JobForm i accepted
    js_languages: npt.NDArray[np.int8]
    js_skills: sp.csr_matrix
    vac_municipality: IntArray
    vac_remote: FloatArray
    vac_hours: FloatArray
    vac_shift: npt.NDArray[np.bool_]
    vac_night: npt.NDArray[np.bool_]
    vac_physical: IntArray  # 0 light, 1 moderate, 2 heavy
    vac_form: IntArray
    vac_licence: npt.NDArray[np.bool_]
    vac_languages: npt.NDArray[np.int8]
    vac_required: sp.csr_matrix
    vac_optional: sp.csr_matrix
    vac_n_required: FloatArray
    vac_n_optional: FloatArray
    distance_km: npt.NDArray[np.float32]
    languages: tuple[str, ...]

    @staticmethod
    def from_arrow(
        jobseekers: pa.Table,
        vacancies: pa.Table,
        vacancy_skills: pa.Table,
        true_skills: pa.Table,
        municipality_codes: pa.Array,
        distance_km: npt.NDArray[np.float32],
    ) -> PairContext:
        """Build the context from Arrow tables with the world's columns.

        ``municipality_codes`` are the row labels of ``distance_km`` (the geography).
        """
        n_js, n_vac = jobseekers.num_rows, vacancies.num_rows
        js_ids = _column(jobseekers, "jobseeker_id").cast(pa.string())
        vac_ids = _column(vacancies, "vacancy_id").cast(pa.string())
        skill_col = _column(vacancy_skills, "skill_uri")
        skill_values = pc.unique(
            skill_col.dictionary if pa.types.is_dictionary(skill_col.type) else skill_col
        )
        skill_values = pc.take(skill_values, pc.sort_indices(skill_values))
        n_cols = len(skill_values)

        vac_lang_array = _column(vacancies, "languages")
        languages = pc.unique(pc.struct_field(pc.list_flatten(vac_lang_array), "language"))
        languages = pc.take(languages, pc.sort_indices(languages)).cast(pa.string())

        vs_owner = _index_in(_column(vacancy_skills, "vacancy_id"), vac_ids)
        vs_col = _index_in(skill_col, skill_values)
        min_level = _column(vacancy_skills, "min_level").to_numpy(zero_copy_only=False)
        required = _column(vacancy_skills, "required").to_numpy(zero_copy_only=False)
        scaled = np.power(2.0, -min_level.astype(np.float64))
        req = _skill_matrix(vs_owner[required], vs_col[required], scaled[required], (n_vac, n_cols))
        opt = _skill_matrix(
            vs_owner[~required], vs_col[~required], scaled[~required], (n_vac, n_cols)
        )

        ts_owner = _index_in(_column(true_skills, "jobseeker_id"), js_ids)
        ts_col = _index_in(_column(true_skills, "skill_uri"), skill_values)
        ts_level = _column(true_skills, "level").to_numpy(zero_copy_only=False).astype(np.float64)
        js_skills = _skill_matrix(ts_owner, ts_col, np.power(2.0, ts_level), (n_js, n_cols))

        max_hours = _column(jobseekers, "max_hours_per_week").cast(pa.float64())
        return PairContext(
            jobseeker_index=pd.Index(js_ids.to_numpy(zero_copy_only=False)),
            vacancy_index=pd.Index(vac_ids.to_numpy(zero_copy_only=False)),
            js_municipality=_index_in(_column(jobseekers, "home_municipality"), municipality_codes),
            js_commute_km=_column(jobseekers, "max_commute_km").to_numpy(zero_copy_only=False),
            js_relocate=_column(jobseekers, "willing_to_relocate").to_numpy(zero_copy_only=False),
            js_max_hours=max_hours.fill_null(np.nan).to_numpy(zero_copy_only=False),
            js_restrictions=_bits(_column(jobseekers, "restrictions"), _RESTRICTIONS, n_js),
            js_licence=_column(jobseekers, "driving_licence").to_numpy(zero_copy_only=False),
            js_forms=_bits(_column(jobseekers, "accepted_job_forms"), _FORMS, n_js),
            js_languages=_language_matrix(_column(jobseekers, "languages"), languages, n_js),
            js_skills=js_skills,
            vac_municipality=_index_in(_column(vacancies, "municipality"), municipality_codes),
            vac_remote=_column(vacancies, "remote_share").to_numpy(zero_copy_only=False),
            vac_hours=_column(vacancies, "hours_per_week").to_numpy(zero_copy_only=False),
            vac_shift=_column(vacancies, "shift_work").to_numpy(zero_copy_only=False),
            vac_night=_column(vacancies, "night_work").to_numpy(zero_copy_only=False),
            vac_physical=_index_in(
                _column(vacancies, "physical_demand"), pa.array(_PHYSICAL, pa.string())
            ),
            vac_form=_index_in(_column(vacancies, "job_form"), pa.array(_FORMS, pa.string())),
            vac_licence=_column(vacancies, "driving_licence_required").to_numpy(
                zero_copy_only=False
            ),
            vac_languages=_language_matrix(vac_lang_array, languages, n_vac),
            vac_required=req,
            vac_optional=opt,
            vac_n_required=np.diff(req.indptr).astype(np.float64),
            vac_n_optional=np.diff(opt.indptr).astype(np.float64),
            distance_km=distance_km,
            languages=tuple(languages.to_pylist()),
        )

    @staticmethod
    def from_world(
        world: WorldTables,
        true_skills: pd.DataFrame | None = None,
        municipality_codes: pa.Array | None = None,
        distance_km: npt.NDArray[np.float32] | None = None,
    ) -> PairContext:
        """Build the context from loaded world tables (reads the truth when not given).

        Distances come from :func:`features.geography.load_geography` unless given.
        """
        if true_skills is None:
            true_skills = load_true_skills(world.root)
        if municipality_codes is None or distance_km is None:
            from features.geography import load_geography

            geography = load_geography()
            municipality_codes = pa.array(
                geography.municipalities["code"].to_numpy(str).tolist(), pa.string()
            )
            distance_km = geography.distance_km

        def arrow(frame: pd.DataFrame, columns: tuple[str, ...]) -> pa.Table:
            return pa.Table.from_pandas(frame[list(columns)], preserve_index=False)

        return PairContext.from_arrow(
            arrow(world.jobseekers, _JOBSEEKER_COLUMNS),
            arrow(world.vacancies, _VACANCY_COLUMNS),
            arrow(world.vacancy_skills, ("vacancy_id", "skill_uri", "required", "min_level")),
            arrow(true_skills, ("jobseeker_id", "skill_uri", "level")),
            municipality_codes,
            distance_km,
        )

    def rows(self, jobseeker_ids: Any, vacancy_ids: Any) -> tuple[IntArray, IntArray]:
        """Row positions of the given ids (raises KeyError naming an unknown id)."""
        js = np.asarray(self.jobseeker_index.get_indexer(pd.Index(np.asarray(jobseeker_ids))))
        vac = np.asarray(self.vacancy_index.get_indexer(pd.Index(np.asarray(vacancy_ids))))
        if len(js) != len(vac):
            raise ValueError(f"got {len(js)} jobseeker ids but {len(vac)} vacancy ids")
        if (js < 0).any():
            raise KeyError(f"unknown jobseeker_id {np.asarray(jobseeker_ids)[js < 0][0]!r}")
        if (vac < 0).any():
            raise KeyError(f"unknown vacancy_id {np.asarray(vacancy_ids)[vac < 0][0]!r}")
        return js.astype(np.int64), vac.astype(np.int64)


def _coverage(
    people: sp.csr_matrix,
    demands: sp.csr_matrix,
    n_demands: FloatArray,
    js: IntArray,
    vac: IntArray,
) -> FloatArray:
    """Per pair: (skills met + half of skills held below the minimum) / skills asked."""
    product = people[js].multiply(demands[vac]).tocsr()
    rows = np.repeat(np.arange(len(js)), np.diff(product.indptr))
    credit = np.where(product.data >= 1.0, 1.0, 0.5)
    met = np.bincount(rows, weights=credit, minlength=len(js))
    asked = n_demands[vac]
    result: FloatArray = np.divide(met, asked, out=np.zeros(len(js)), where=asked > 0)
    return result


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


class HiddenModel:
    """The hidden outcome model; parameters in :class:`HiddenModelParams`."""

    def __init__(self, params: HiddenModelParams | None = None) -> None:
        self.params = params or HiddenModelParams()
        self._contexts: weakref.WeakKeyDictionary[WorldTables, PairContext] = (
            weakref.WeakKeyDictionary()
        )

    # ---- features and probabilities over row positions ----

    def features(self, context: PairContext, js: IntArray, vac: IntArray) -> PairFeatures:
        """Pair features for row positions ``js`` and ``vac`` (equal-length arrays)."""
        js = np.asarray(js, dtype=np.int64)
        vac = np.asarray(vac, dtype=np.int64)
        n = len(js)
        required = np.zeros(n)
        optional = np.zeros(n)
        for start in range(0, n, _CHUNK):
            part = slice(start, min(start + _CHUNK, n))
            required[part] = _coverage(
                context.js_skills, context.vac_required, context.vac_n_required, js[part], vac[part]
            )
            optional[part] = _coverage(
                context.js_skills, context.vac_optional, context.vac_n_optional, js[part], vac[part]
            )
        pairs = (context.js_municipality[js], context.vac_municipality[vac])
        distance: FloatArray = context.distance_km[pairs].astype(np.float64)
        effective = distance * (1.0 - context.vac_remote[vac])
        radius = context.js_commute_km[js]
        unit = np.maximum(radius, 10.0)
        excess = np.minimum(np.maximum(effective - radius, 0.0) / unit, 5.0)
        excess = np.where(context.js_relocate[js], excess * self.params.relocation_discount, excess)
        within = np.minimum(effective, radius) / unit
        hours = context.vac_hours[vac]
        max_hours = context.js_max_hours[js]
        hours_excess = np.where(
            np.isnan(max_hours), 0.0, np.maximum(hours - np.nan_to_num(max_hours), 0.0) / hours
        )
        restrictions = context.js_restrictions[js]
        physical = context.vac_physical[vac]

        def has(restriction: WorkRestriction) -> npt.NDArray[np.bool_]:
            flags: npt.NDArray[np.bool_] = (restrictions & _BIT[restriction]) > 0
            return flags

        conflicts = (
            (has(WorkRestriction.NO_HEAVY_LIFTING) & (physical == 2)).astype(np.float64)
            + (has(WorkRestriction.NO_NIGHT_WORK) & context.vac_night[vac])
            + (has(WorkRestriction.NO_SHIFT_WORK) & context.vac_shift[vac])
            + (has(WorkRestriction.NO_PROLONGED_STANDING) & (physical >= 1))
        )
        gap = np.zeros(n)
        for start in range(0, n, _CHUNK):
            part = slice(start, min(start + _CHUNK, n))
            asked = context.vac_languages[vac[part]].astype(np.int16)
            held = context.js_languages[js[part]].astype(np.int16)
            gap[part] = np.maximum(asked - held, 0).sum(axis=1)
        licence_missing = context.vac_licence[vac] & ~context.js_licence[js]
        form_ok = (context.js_forms[js] >> context.vac_form[vac]) & 1
        return PairFeatures(
            required_coverage=required,
            optional_coverage=optional,
            distance_km=distance,
            commute_excess=excess,
            commute_within=within,
            hours_excess=hours_excess,
            work_conflicts=conflicts.astype(np.float64),
            language_gap=gap,
            licence_missing=licence_missing.astype(np.float64),
            form_not_accepted=(form_ok == 0).astype(np.float64),
        )

    def utility(self, f: PairFeatures) -> FloatArray:
        """The hidden utility of each pair (no noise)."""
        p = self.params
        u: FloatArray = (
            p.required_skills * f.required_coverage
            + p.optional_skills * f.optional_coverage
            - p.commute_excess * f.commute_excess
            - p.commute_within * f.commute_within
            - p.hours_excess * f.hours_excess
            - p.work_conflicts * f.work_conflicts
            - p.language_gap * f.language_gap
            - p.licence_missing * f.licence_missing
            - p.form_not_accepted * f.form_not_accepted
        )
        return u

    def stage_logits(self, f: PairFeatures) -> StageLogits:
        """Log-odds of accepting, interviewing, hiring (both at zero chemistry), retaining."""
        p = self.params
        u = self.utility(f)
        return StageLogits(
            accept=p.accept_intercept
            - p.accept_commute * f.commute_excess
            - p.accept_hours * f.hours_excess
            - p.accept_form * f.form_not_accepted
            - p.accept_conflicts * f.work_conflicts,
            interview=p.interview_intercept + p.interview_slope * u,
            hire=p.hire_intercept + p.hire_slope * u,
            retain=p.retain_intercept
            + p.retain_required_skills * f.required_coverage
            - p.retain_conflicts * f.work_conflicts
            - p.retain_hours * f.hours_excess
            - p.retain_commute * f.commute_excess,
        )

    def hire_probability(self, f: PairFeatures) -> FloatArray:
        """P(hired | proposed), integrating the chemistry term by Gauss–Hermite quadrature."""
        logits = self.stage_logits(f)
        nodes, weights = np.polynomial.hermite.hermgauss(_QUADRATURE_NODES)
        shocks = np.sqrt(2.0) * self.params.chemistry_sd * nodes
        both = np.zeros(len(logits.accept))
        for shock, weight in zip(shocks, weights / np.sqrt(np.pi), strict=True):
            both += weight * _sigmoid(logits.interview + shock) * _sigmoid(logits.hire + shock)
        result: FloatArray = _sigmoid(logits.accept) * both
        return result

    def decline_reason_weights(self, f: PairFeatures, by_employer: bool) -> FloatArray:
        """Unnormalised weights of each reason (columns: JOBSEEKER_/EMPLOYER_REASONS)."""
        p = self.params
        if not by_employer:
            return np.stack(
                [
                    p.accept_commute * f.commute_excess,
                    p.accept_hours * f.hours_excess,
                    p.accept_conflicts * f.work_conflicts,
                    0.4 + p.accept_form * f.form_not_accepted,
                ],
                axis=1,
            )
        return np.stack(
            [
                p.required_skills * (1.0 - f.required_coverage)
                + p.optional_skills * 0.3 * (1.0 - f.optional_coverage),
                p.language_gap * f.language_gap,
                p.work_conflicts * f.work_conflicts,
                p.hours_excess * f.hours_excess,
                p.commute_excess * f.commute_excess,
                0.3 + p.licence_missing * f.licence_missing,
            ],
            axis=1,
        )

    # ---- the public id-based API ----

    def context(self, world: WorldTables) -> PairContext:
        """The (cached) :class:`PairContext` of a loaded world; reads the truth once."""
        cached = self._contexts.get(world)
        if cached is None:
            cached = PairContext.from_world(world)
            self._contexts[world] = cached
        return cached

    def pair_utility(
        self,
        world: WorldTables,
        jobseeker_ids: Any,
        vacancy_ids: Any,
        *,
        context: PairContext | None = None,
    ) -> FloatArray:
        """Hidden utility of each (jobseeker_ids[i], vacancy_ids[i]) pair."""
        ctx = context or self.context(world)
        js, vac = ctx.rows(jobseeker_ids, vacancy_ids)
        return self.utility(self.features(ctx, js, vac))

    def oracle_scores(
        self,
        world: WorldTables,
        jobseeker_ids: Any,
        vacancy_ids: Any,
        *,
        context: PairContext | None = None,
    ) -> FloatArray:
        """P(hired | proposed) of each pair from the TRUE skills: the oracle's ranking score."""
        ctx = context or self.context(world)
        js, vac = ctx.rows(jobseeker_ids, vacancy_ids)
        return self.hire_probability(self.features(ctx, js, vac))

    # ---- serialisation ----

    def to_dict(self, logging_policy: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The JSON document written as ``hidden_model.json``."""
        document: dict[str, Any] = {
            "model": MODEL_NAME,
            "version": MODEL_VERSION,
            "description": (
                "Hidden outcome model of the synthetic world. A proposed jobseeker accepts, "
                "is interviewed, hired and retained 6 months with logistic probabilities of "
                "the pair features below, computed from TRUE skills. Sex, age, migrant "
                "background and unemployment duration do not enter any term."
            ),
            "parameters": asdict(self.params),
            "terms": {name: TERM_DESCRIPTIONS[name] for name in asdict(self.params)},
            "features": FEATURE_DESCRIPTIONS,
            "utility": "u = required_skills*required_coverage + optional_skills*"
            "optional_coverage - commute_excess*commute_excess - commute_within*"
            "commute_within - hours_excess*hours_excess - work_conflicts*work_conflicts - "
            "language_gap*language_gap - licence_missing*licence_missing - "
            "form_not_accepted*form_not_accepted",
            "stages": {
                "accept": "sigmoid(accept_intercept - accept_commute*commute_excess - "
                "accept_hours*hours_excess - accept_form*form_not_accepted - "
                "accept_conflicts*work_conflicts)",
                "interview": "sigmoid(interview_intercept + interview_slope*u + e), "
                "e ~ N(0, chemistry_sd^2) shared with hire",
                "hire": "sigmoid(hire_intercept + hire_slope*u + e), at most `openings` "
                "hires per vacancy",
                "retain_6m": "sigmoid(retain_intercept + retain_required_skills*"
                "required_coverage - retain_conflicts*work_conflicts - retain_hours*"
                "hours_excess - retain_commute*commute_excess)",
                "oracle": "P(hired | proposed) = accept * E_e[interview * hire]",
            },
            "excluded": ["sex", "birth_year", "migrant_background", "unemployment_start"],
        }
        if logging_policy is not None:
            document["logging_policy"] = dict(logging_policy)
        return document

    def save(self, path: Path, logging_policy: Mapping[str, Any] | None = None) -> None:
        """Write ``hidden_model.json`` to ``path``."""
        text = json.dumps(self.to_dict(logging_policy), indent=2, ensure_ascii=False)
        Path(path).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, path: Path) -> HiddenModel:
        """Load from a ``hidden_model.json`` file or a world folder containing one."""
        path = Path(path)
        if path.is_dir():
            path = path / HIDDEN_MODEL_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: no hidden model there")
        document = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(HiddenModelParams)}
        values = document.get("parameters", {})
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{path}: unknown hidden-model parameters {unknown}")
        return cls(HiddenModelParams(**{k: float(v) for k, v in values.items()}))

    def markdown(self, logging_policy: Mapping[str, Any] | None = None) -> str:
        """``HIDDEN_MODEL.md``: the module documentation plus the parameter table."""
        lines = [
            "# The hidden outcome model of this synthetic world",
            "",
            "Generated by `training.synthetic`; parameters are also in `hidden_model.json`.",
            "Only the evaluation oracle may use this model and `truth/true_skills.parquet`.",
            "",
            (__doc__ or "").strip(),
            "",
            "## Parameters",
            "",
            "| parameter | value | meaning |",
            "|---|---|---|",
        ]
        for name, value in asdict(self.params).items():
            lines.append(f"| `{name}` | {value:g} | {TERM_DESCRIPTIONS[name]} |")
        lines += ["", "## Pair features", "", "| feature | definition |", "|---|---|"]
        lines += [f"| `{name}` | {text} |" for name, text in FEATURE_DESCRIPTIONS.items()]
        if logging_policy is not None:
            lines += ["", "## Logged policy (coach rules)", "", str(logging_policy["description"])]
            lines += ["", "| parameter | value | meaning |", "|---|---|---|"]
            terms = logging_policy.get("terms", {})
            for name, value in logging_policy.get("parameters", {}).items():
                lines.append(f"| `{name}` | {value:g} | {terms.get(name, '')} |")
        return "\n".join(lines) + "\n"
