"""What the hidden models know of a (jobseeker, vacancy) pair: the context and the features.

:class:`PairContext` holds the facts of every jobseeker and vacancy as arrays (TRUE skills as
sparse matrices, never sex, age or origin); :func:`pair_features` computes the
:class:`PairFeatures` of a batch of pairs that every family of hidden models reads
(:mod:`training.synthetic.hidden_model` describes each feature).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from features.live_state import Employments, employments, seeker_status
from features.world_store import WorldTables, load_true_skills
from matching.domain import CEFRLevel, JobForm, PhysicalDemand, WorkRestriction

__all__ = [
    "CUSTOMER_FACING_MAJOR_GROUPS",
    "FEATURE_DESCRIPTIONS",
    "PairContext",
    "PairFeatures",
    "pair_features",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_CHUNK = 200_000
#: ISCO-08 major groups whose work is mostly with customers (clerical support; service and
#: sales), where the interactions family lets language count.
CUSTOMER_FACING_MAJOR_GROUPS = (4, 5)

_RESTRICTIONS = tuple(r.value for r in WorkRestriction)
_FORMS = tuple(f.value for f in JobForm)
_PHYSICAL = tuple(p.value for p in PhysicalDemand)
_CEFR_STEP = {level.value: level.step for level in CEFRLevel}
_BIT = {r: 1 << i for i, r in enumerate(WorkRestriction)}


#: Plain-language description of every pair feature.
FEATURE_DESCRIPTIONS: dict[str, str] = {
    "required_coverage": "Share of the vacancy's required skills the person TRULY has at or "
    "above the minimum level; a skill held below it counts half.",
    "required_met": "Share of the required skills held at or above the minimum level.",
    "required_held": "Share of the required skills held at any level.",
    "weakest_margin": "Lowest (true level - minimum level) over the required skills held "
    "(0 when none is held).",
    "mean_margin": "Mean (true level - minimum level) over the required skills held "
    "(0 when none is held).",
    "optional_coverage": "The same as required_coverage over optional skills (0 when the "
    "vacancy lists none).",
    "distance_km": "Straight-line distance between home and job municipality.",
    "effective_km": "distance × (1 − remote_share).",
    "commute_radius_km": "The person's stated commute radius.",
    "willing_to_relocate": "1 when the person would move for a job.",
    "has_licence": "1 when the person has a driving licence.",
    "commute_excess": "max(0, effective_km − radius) / max(radius, 10 km), capped at 5, times "
    "the relocation discount (0.5) if the person would relocate.",
    "commute_within": "min(effective_km, radius) / max(radius, 10 km).",
    "hours_excess": "max(0, hours − max_hours_per_week) / hours (0 for full capacity).",
    "work_conflicts": "Count of job conditions that clash with recorded restrictions.",
    "language_gap": "CEFR steps missing, summed over the vacancy's languages (native = 7).",
    "language_max_gap": "CEFR steps missing in the worst of the vacancy's languages.",
    "customer_facing": "1 when the vacancy's ISCO-08 major group is 4 or 5.",
    "licence_missing": "1 when a driving licence is required and the person has none.",
    "form_not_accepted": "1 when the person does not accept the vacancy's job form.",
    "unemployed_years": "Years since the person's current unemployment spell began, on the "
    "day the pair is judged (0 when in work).",
}


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
    required_met: FloatArray
    required_held: FloatArray
    weakest_margin: FloatArray
    mean_margin: FloatArray
    effective_km: FloatArray
    commute_radius_km: FloatArray
    willing_to_relocate: FloatArray
    has_licence: FloatArray
    language_max_gap: FloatArray
    customer_facing: FloatArray
    unemployed_years: FloatArray

    def __len__(self) -> int:
        return len(self.required_coverage)

    def to_frame(self) -> pd.DataFrame:
        """The features as a DataFrame, one column per feature."""
        return pd.DataFrame({f.name: getattr(self, f.name) for f in fields(self)})


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
    "unemployment_start",
)
_VACANCY_COLUMNS = (
    "vacancy_id",
    "occupation_uri",
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


def _as_days(days: Any, n: int) -> npt.NDArray[np.datetime64]:
    """Days (dates, datetimes, pandas values, or day numbers since 1970) as datetime64[D]."""
    array: npt.NDArray[Any]
    if isinstance(days, pd.Series | pd.Index | pd.DatetimeIndex):
        values = pd.DatetimeIndex(pd.to_datetime(days))
        if values.tz is not None:
            values = values.tz_convert("UTC").tz_localize(None)
        array = values.to_numpy().astype("datetime64[D]")
    elif isinstance(days, date):
        array = np.asarray(np.datetime64(days, "D"))
    else:
        raw = np.asarray(days)
        if np.issubdtype(raw.dtype, np.integer):
            array = raw.astype("datetime64[D]")
        elif raw.dtype == object:
            parsed = pd.DatetimeIndex(pd.to_datetime(raw.ravel())).to_numpy()
            array = parsed.astype("datetime64[D]").reshape(raw.shape)
        else:
            array = raw.astype("datetime64[D]")
    result: npt.NDArray[np.datetime64] = np.broadcast_to(array, (n,))
    return result


@dataclass(frozen=True, eq=False)
class PairContext:
    """Everything the hidden model needs about jobseekers and vacancies, as arrays.

    Build it once (:meth:`from_world` or :meth:`from_arrow`) and reuse it for many batches.
    Skill matrices are CSR over the skill columns any vacancy asks for; the jobseeker matrix
    holds ``2**true_level`` and the vacancy matrices ``2**-min_level``, so that an
    element-wise product is ``2**(level − minimum)``: ≥ 1 exactly where a true skill meets
    the minimum level.

    Unemployment spells come from ``employments`` (:func:`features.live_state.employments`
    of the world's outcomes) when given, else from ``unemployment_start`` alone; ``as_of``
    is the default day pairs are judged on.
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
    js_unemployment_start: npt.NDArray[np.datetime64]  # NaT when unknown
    vac_municipality: IntArray
    vac_remote: FloatArray
    vac_hours: FloatArray
    vac_shift: npt.NDArray[np.bool_]
    vac_night: npt.NDArray[np.bool_]
    vac_physical: IntArray  # 0 light, 1 moderate, 2 heavy
    vac_form: IntArray
    vac_licence: npt.NDArray[np.bool_]
    vac_languages: npt.NDArray[np.int8]
    vac_customer_facing: npt.NDArray[np.bool_]
    vac_required: sp.csr_matrix
    vac_optional: sp.csr_matrix
    vac_n_required: FloatArray
    vac_n_optional: FloatArray
    distance_km: npt.NDArray[np.float32]
    languages: tuple[str, ...]
    employments: Employments | None = None
    as_of: date | None = None

    @staticmethod
    def from_arrow(
        jobseekers: pa.Table,
        vacancies: pa.Table,
        vacancy_skills: pa.Table,
        true_skills: pa.Table,
        municipality_codes: pa.Array,
        distance_km: npt.NDArray[np.float32],
        *,
        occupation_isco: tuple[pa.Array, IntArray] | None = None,
        employments: Employments | None = None,
        as_of: date | None = None,
    ) -> PairContext:
        """Build the context from Arrow tables with the world's columns.

        ``municipality_codes`` are the row labels of ``distance_km`` (the geography);
        ``occupation_isco`` (occupation URIs, ISCO-08 unit groups) tells which vacancies are
        customer-facing (none when not given).
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

        customer_facing = np.zeros(n_vac, dtype=bool)
        if occupation_isco is not None and "occupation_uri" in vacancies.column_names:
            uris, isco = occupation_isco
            position = _index_in(_column(vacancies, "occupation_uri"), uris)
            major = np.where(position >= 0, np.asarray(isco)[np.maximum(position, 0)] // 1000, -1)
            customer_facing = np.isin(major, CUSTOMER_FACING_MAJOR_GROUPS)
        if "unemployment_start" in jobseekers.column_names:
            started = _column(jobseekers, "unemployment_start").cast(pa.date32())
            unemployment_start = (
                started.cast(pa.int32())
                .fill_null(np.iinfo(np.int32).min)
                .to_numpy(zero_copy_only=False)
                .astype(np.int64)
            )
            js_unemployment_start = np.where(
                unemployment_start == np.iinfo(np.int32).min,
                np.datetime64("NaT", "D"),
                unemployment_start.astype("datetime64[D]"),
            ).astype("datetime64[D]")
        else:
            js_unemployment_start = np.full(n_js, np.datetime64("NaT", "D"))

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
            js_unemployment_start=js_unemployment_start,
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
            vac_customer_facing=customer_facing,
            vac_required=req,
            vac_optional=opt,
            vac_n_required=np.diff(req.indptr).astype(np.float64),
            vac_n_optional=np.diff(opt.indptr).astype(np.float64),
            distance_km=distance_km,
            languages=tuple(languages.to_pylist()),
            employments=employments,
            as_of=as_of,
        )

    @staticmethod
    def from_world(
        world: WorldTables,
        true_skills: pd.DataFrame | None = None,
        municipality_codes: pa.Array | None = None,
        distance_km: npt.NDArray[np.float32] | None = None,
    ) -> PairContext:
        """Build the context from loaded world tables (reads the truth when not given).

        Distances come from :func:`features.geography.load_geography` unless given, ISCO
        groups of occupations from :func:`features.taxonomy.load_taxonomy`, unemployment
        spells from the world's outcomes (:mod:`features.live_state`).
        """
        from features.taxonomy import load_taxonomy

        if true_skills is None:
            true_skills = load_true_skills(world.root)
        if municipality_codes is None or distance_km is None:
            from features.geography import load_geography

            geography = load_geography()
            municipality_codes = pa.array(
                geography.municipalities["code"].to_numpy(str).tolist(), pa.string()
            )
            distance_km = geography.distance_km
        occupations = load_taxonomy().occupations
        isco: IntArray = np.asarray(occupations["isco_code"].astype(int), dtype=np.int64)
        occupation_isco = (pa.array(occupations["uri"].astype(str).tolist(), pa.string()), isco)

        def arrow(frame: pd.DataFrame, columns: tuple[str, ...]) -> pa.Table:
            return pa.Table.from_pandas(frame[list(columns)], preserve_index=False)

        return PairContext.from_arrow(
            arrow(world.jobseekers, _JOBSEEKER_COLUMNS),
            arrow(world.vacancies, _VACANCY_COLUMNS),
            arrow(world.vacancy_skills, ("vacancy_id", "skill_uri", "required", "min_level")),
            arrow(true_skills, ("jobseeker_id", "skill_uri", "level")),
            municipality_codes,
            distance_km,
            occupation_isco=occupation_isco,
            employments=employments(world.outcomes, world.jobseekers),
            as_of=world.as_of,
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

    def unemployed_days(self, js: IntArray, days: Any = None) -> FloatArray:
        """Days of each row's unemployment spell on ``days`` (default ``as_of``; 0 in work).

        The spell is the one :func:`features.live_state.seeker_status` derives: it started on
        the latest of ``unemployment_start`` and the end of a job before the day.
        """
        js = np.asarray(js, dtype=np.int64)
        if days is None:
            if self.as_of is None:
                raise ValueError("pass the days pairs are judged on: this context has no as_of")
            days = self.as_of
        on = _as_days(days, len(js))
        if self.employments is not None:
            status = seeker_status(
                self.jobseeker_index.to_numpy()[js],
                self.js_unemployment_start[js],
                self.employments,
                on,
            )
            start = status.spell_start
        else:
            registered = self.js_unemployment_start[js]
            start = np.where(registered <= on, registered, np.datetime64("NaT", "D"))
        elapsed = (on - start).astype("timedelta64[D]").astype(np.float64)
        result: FloatArray = np.where(np.isnat(start), 0.0, np.maximum(elapsed, 0.0))
        return result


def _skill_match(
    people: sp.csr_matrix,
    demands: sp.csr_matrix,
    n_demands: FloatArray,
    js: IntArray,
    vac: IntArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per pair: coverage (half credit below the minimum), met share, held share, and the
    lowest and mean (level − minimum) over the skills held."""
    product = people[js].multiply(demands[vac]).tocsr()
    product.sort_indices()
    counts = np.diff(product.indptr)
    rows = np.repeat(np.arange(len(js)), counts)
    # The product is 2**(level - minimum), exact in float32.
    margin = np.rint(np.log2(np.maximum(product.data, 1e-9))).astype(np.float64)
    met_flags = margin >= 0
    credit = np.where(met_flags, 1.0, 0.5)
    asked = n_demands[vac]
    zeros = np.zeros(len(js))

    def share(weights: FloatArray | None) -> FloatArray:
        total = np.bincount(rows, weights=weights, minlength=len(js)).astype(np.float64)
        result: FloatArray = np.divide(total, asked, out=np.zeros(len(js)), where=asked > 0)
        return result

    coverage = share(credit)
    met = share(met_flags.astype(np.float64))
    held = share(None)
    weakest = zeros.copy()
    mean = zeros.copy()
    has = counts > 0
    if has.any():
        starts = product.indptr[:-1][has]
        weakest[has] = np.minimum.reduceat(margin, starts)
        mean[has] = np.add.reduceat(margin, starts) / counts[has]
    return coverage, met, held, weakest, mean


def pair_features(
    context: PairContext,
    js: IntArray,
    vac: IntArray,
    *,
    relocation_discount: float,
    unemployed_days: npt.ArrayLike | None = None,
) -> PairFeatures:
    """Pair features for row positions ``js`` and ``vac`` (equal-length arrays).

    ``relocation_discount`` scales ``commute_excess`` for people willing to relocate;
    ``unemployed_days`` (default 0) gives ``unemployed_years``.
    """
    js = np.asarray(js, dtype=np.int64)
    vac = np.asarray(vac, dtype=np.int64)
    n = len(js)
    required, met, held, weakest, mean_margin = (np.zeros(n) for _ in range(5))
    optional = np.zeros(n)
    for start in range(0, n, _CHUNK):
        part = slice(start, min(start + _CHUNK, n))
        required[part], met[part], held[part], weakest[part], mean_margin[part] = _skill_match(
            context.js_skills,
            context.vac_required,
            context.vac_n_required,
            js[part],
            vac[part],
        )
        optional[part] = _skill_match(
            context.js_skills, context.vac_optional, context.vac_n_optional, js[part], vac[part]
        )[0]
    pairs = (context.js_municipality[js], context.vac_municipality[vac])
    distance: FloatArray = context.distance_km[pairs].astype(np.float64)
    effective = distance * (1.0 - context.vac_remote[vac])
    radius = context.js_commute_km[js]
    unit = np.maximum(radius, 10.0)
    excess = np.minimum(np.maximum(effective - radius, 0.0) / unit, 5.0)
    relocate = context.js_relocate[js]
    excess = np.where(relocate, excess * relocation_discount, excess)
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
    max_gap = np.zeros(n)
    for start in range(0, n, _CHUNK):
        part = slice(start, min(start + _CHUNK, n))
        asked = context.vac_languages[vac[part]].astype(np.int16)
        held_languages = context.js_languages[js[part]].astype(np.int16)
        missing = np.maximum(asked - held_languages, 0)
        gap[part] = missing.sum(axis=1)
        max_gap[part] = missing.max(axis=1, initial=0)
    licence_missing = context.vac_licence[vac] & ~context.js_licence[js]
    form_ok = (context.js_forms[js] >> context.vac_form[vac]) & 1
    unemployed = (
        np.zeros(n) if unemployed_days is None else np.asarray(unemployed_days, dtype=np.float64)
    )
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
        required_met=met,
        required_held=held,
        weakest_margin=weakest,
        mean_margin=mean_margin,
        effective_km=effective,
        commute_radius_km=radius.astype(np.float64),
        willing_to_relocate=relocate.astype(np.float64),
        has_licence=context.js_licence[js].astype(np.float64),
        language_max_gap=max_gap,
        customer_facing=context.vac_customer_facing[vac].astype(np.float64),
        unemployed_years=unemployed / 365.25,
    )
