"""Build the engine's arrays (:class:`matching.entities.MatchingData`) from tables.

There is one code path from rows to arrays: :func:`seeker_updates_frame` and
:func:`vacancy_columns` work on DataFrames in the world-store schema, whether they hold the
300,000 jobseekers of a national load or the one person a coach just edited
(:func:`jobseeker_frame` turns a domain object into such a one-row frame).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from features.codes import lookup_codes
from features.geography import Geography
from features.live_state import (
    SeekerStatus,
    condition_hires,
    employments,
    seeker_status,
    vacancy_hires,
)
from features.profiles import ProfileConfig, SkillProfiles, build_profiles, build_requirements
from features.taxonomy import Taxonomy
from features.world_store import WorldTables
from matching.domain import FULL_TIME_HOURS, AssessmentMethod, CEFRLevel, Jobseeker, Vacancy
from matching.eligibility import DEFAULT_RULES, membership_periods
from matching.entities import (
    JOB_FORMS,
    LANGUAGES,
    PHYSICAL_DEMANDS,
    RESTRICTIONS,
    SEEKER_COLUMNS,
    VACANCY_COLUMNS,
    EntityTable,
    MatchingData,
    RowUpdate,
)
from matching.sparse_store import SparseRowStore

_CEFR_STEP = {level.value: level.step for level in CEFRLevel}
_NAT = np.datetime64("NaT", "D")


@dataclass(frozen=True)
class Vocabularies:
    """Index spaces shared by every row: municipalities, occupations, skills, ISCO prefixes."""

    taxonomy: Taxonomy
    geography: Geography
    isco_column: dict[str, int]

    @classmethod
    def build(cls, taxonomy: Taxonomy, geography: Geography) -> Vocabularies:
        codes = sorted(taxonomy.isco_groups["code"].astype(str))
        return cls(taxonomy, geography, {code: i for i, code in enumerate(codes)})

    def occupation_isco_columns(self) -> npt.NDArray[np.int32]:
        """For every occupation, the columns of its ISCO code's 1- to 4-digit prefixes.

        Computed once per vocabulary (about 25 ms; every one-row update needs it).
        """
        cached: npt.NDArray[np.int32] | None = self.__dict__.get("_isco_columns")
        if cached is None:
            cached = self._occupation_isco_columns()
            object.__setattr__(self, "_isco_columns", cached)
        return cached

    def _occupation_isco_columns(self) -> npt.NDArray[np.int32]:
        codes = self.taxonomy.occupations["isco_code"].astype(str).to_numpy()
        out = np.full((len(codes), 4), -1, np.int32)
        for i, code in enumerate(codes):
            for depth, column in _isco_prefixes(code, self):
                out[i, depth - 1] = column
        return out

    def municipality_rows(self, codes: pd.Series) -> npt.NDArray[np.int32]:
        index = self.geography.municipalities["code"]
        lookup = pd.Series(np.arange(len(index), dtype=np.int32), index=index)
        rows = lookup_codes(codes, {str(k): int(v) for k, v in lookup.items()})
        if (rows < 0).any():
            bad = codes.to_numpy()[rows < 0][0]
            raise KeyError(f"municipality {bad!r} is not a Finnish or Swedish municipality")
        return rows.astype(np.int32)

    def occupation_rows(self, uris: pd.Series) -> npt.NDArray[np.int32]:
        rows = lookup_codes(uris, self.taxonomy.occupation_positions)
        if (rows < 0).any():
            bad = uris.to_numpy()[rows < 0][0]
            raise KeyError(f"occupation_uri {bad!r} is not an ESCO occupation")
        return rows.astype(np.int32)


# ------------------------------------------------------------------------------------------
# Jobseekers
# ------------------------------------------------------------------------------------------


def _exploded(values: pd.Series) -> tuple[npt.NDArray[np.int64], pd.Series]:
    """(row position, item) for every item of a list column (missing lists are empty)."""
    positions = pd.Series(np.arange(len(values)), index=values.index)
    items = pd.Series(values.to_numpy(), index=positions.to_numpy()).explode().dropna()
    return items.index.to_numpy(np.int64), items.reset_index(drop=True)


def _list_bits(values: pd.Series, universe: tuple[StrEnum, ...]) -> npt.NDArray[np.uint8]:
    """A list column of enum values as bit masks in the order of ``universe``."""
    rows, items = _exploded(values)
    bit = items.astype(str).map({m.value: 1 << i for i, m in enumerate(universe)})
    known = bit.notna().to_numpy()
    out = np.zeros(len(values), np.int64)
    np.bitwise_or.at(out, rows[known], bit[known].to_numpy(np.int64))
    return out.astype(np.uint8)


def _language_steps(languages: pd.Series) -> npt.NDArray[np.int8]:
    """CEFR steps per language of :data:`LANGUAGES` (0 where the language is not listed)."""
    rows, items = _exploded(languages)
    out = np.zeros((len(languages), len(LANGUAGES)), np.int8)
    if len(items):
        language = items.map(lambda item: item["language"]).map(
            {code: j for j, code in enumerate(LANGUAGES)}
        )
        step = items.map(lambda item: _CEFR_STEP[item["level"]])
        known = language.notna().to_numpy()
        out[rows[known], language[known].to_numpy(np.int64)] = step[known].to_numpy(np.int8)
    return out


def seeker_columns(
    frame: pd.DataFrame, vocab: Vocabularies, status: SeekerStatus | None = None
) -> dict[str, npt.ArrayLike]:
    """Entity-table columns for jobseekers in the world-store schema.

    ``status`` (:func:`features.live_state.seeker_status` of the rows on the day the columns
    describe) takes employed people out of matching and dates the running unemployment spell;
    without it everybody is in matching with their recorded ``unemployment_start``.
    """
    n = len(frame)
    hours = pd.to_numeric(frame["max_hours_per_week"], errors="coerce").to_numpy(np.float64)
    restrictions = _list_bits(frame["restrictions"], RESTRICTIONS)
    dated = dated_seeker_columns(frame, restrictions, hours, status)
    return {
        "home": vocab.municipality_rows(frame["home_municipality"]),
        "max_commute_km": frame["max_commute_km"].to_numpy(np.float32),
        "relocate": frame["willing_to_relocate"].to_numpy(bool),
        "accepted_forms": _list_bits(frame["accepted_job_forms"], JOB_FORMS),
        "max_hours": np.where(np.isnan(hours), np.inf, hours).astype(np.float32),
        "restrictions": restrictions,
        "languages": _language_steps(frame["languages"]),
        "driving_licence": frame["driving_licence"].to_numpy(bool),
        **dated,
        "profile_norm": np.zeros(n, np.float32),  # filled from the profile store
    }


def dated_seeker_columns(
    frame: pd.DataFrame,
    restrictions: npt.NDArray[np.uint8],
    hours: npt.NDArray[np.float64],
    status: SeekerStatus | None,
) -> dict[str, npt.ArrayLike]:
    """The columns that depend on the day: in matching, spell start, target-group periods.

    ``restrictions`` (bit masks) and ``hours`` (NaN = full time) are the rows' work ability.
    """
    unemployed = pd.to_datetime(frame["unemployment_start"]).to_numpy("datetime64[D]")
    active = np.ones(len(frame), bool)
    if status is not None:
        # The running spell decides unemployment-based target groups; a person whose spell
        # is unknown keeps the recorded start.
        unemployed = np.where(np.isnat(status.spell_start), unemployed, status.spell_start)
        active = status.available.copy()
    partial = (restrictions != 0) | (np.nan_to_num(hours, nan=FULL_TIME_HOURS) < FULL_TIME_HOURS)
    periods = membership_periods(
        unemployed,
        frame["birth_year"].to_numpy(np.int64),
        frame["migrant_background"].to_numpy(bool),
        partial,
        DEFAULT_RULES,
    )
    return {
        "unemployed_since": unemployed.astype("datetime64[D]"),
        "eligible_from": periods.starts,
        "eligible_until": periods.ends,
        "active": active,
    }


def _preference_stores(
    frame: pd.DataFrame, vocab: Vocabularies
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Jobseeker × occupation (1) and jobseeker × ISCO prefix (depth / 4) matrices."""
    n = len(frame)
    rows, uris = _exploded(frame["preferred_occupations"])
    occupation = uris.astype(str).map(vocab.taxonomy.occupation_positions)
    if occupation.isna().any():
        bad = uris[occupation.isna()].iloc[0]
        raise KeyError(f"preferred occupation {bad!r} is not an ESCO occupation")
    cols = occupation.to_numpy(np.int64)
    occupations = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(n, len(vocab.taxonomy.occupations))
    )
    occupations.data[:] = 1.0  # a repeated preference is still one
    # Every ISCO prefix of every preferred occupation, keeping the deepest value per cell.
    prefix_columns = vocab.occupation_isco_columns()  # occupations × 4, -1 where missing
    depth_value = np.array([0.25, 0.5, 0.75, 1.0], np.float32)
    cells = prefix_columns[cols]  # preferences × 4
    has = cells >= 0
    owners = np.repeat(rows, 4).reshape(cells.shape)[has]
    values = np.broadcast_to(depth_value, cells.shape)[has]
    isco = _max_duplicates(owners, cells[has].astype(np.int64), values, (n, len(vocab.isco_column)))
    for matrix in (occupations, isco):
        matrix.sort_indices()
    return occupations, isco


def _max_duplicates(
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    values: npt.NDArray[np.float32],
    shape: tuple[int, int],
) -> sp.csr_matrix:
    """A CSR matrix keeping the largest value where (row, col) repeats."""
    order = np.lexsort((-values, cols, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    first = np.ones(len(rows), bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return sp.csr_matrix((values[first], (rows[first], cols[first])), shape=shape)


def _isco_prefixes(code: str, vocab: Vocabularies) -> Iterable[tuple[int, int]]:
    for depth in range(1, len(code) + 1):
        column = vocab.isco_column.get(code[:depth])
        if column is not None:
            yield depth, column


def _profile_store(profiles: SkillProfiles) -> SparseRowStore:
    """Profile values plus the evidence summary, on the profile's sparsity pattern.

    Skills that are only credited through the taxonomy get strength and level 0 and
    method -1 (see :data:`matching.entities.PROFILE_CHANNELS`).
    """
    matrix = profiles.matrix.tocsr()
    matrix.sort_indices()
    evidence = profiles.evidence
    keys_matrix = (
        np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr)).astype(np.int64)
        * matrix.shape[1]
        + matrix.indices
    )
    keys_evidence = evidence["row"].to_numpy(np.int64) * matrix.shape[1] + evidence[
        "skill_idx"
    ].to_numpy(np.int64)
    order = np.argsort(keys_evidence)
    position = np.searchsorted(keys_evidence[order], keys_matrix)
    position = np.minimum(position, max(len(order) - 1, 0))
    found = keys_evidence[order][position] == keys_matrix if len(order) else np.zeros(0, bool)
    source = order[position]

    def channel(values: npt.ArrayLike, missing: float) -> sp.csr_matrix:
        column = np.full(matrix.nnz, missing, np.float32)
        column[found] = np.asarray(values, np.float32)[source[found]]
        return sp.csr_matrix((column, matrix.indices, matrix.indptr), shape=matrix.shape)

    method_rank = {m.value: i for i, m in enumerate(AssessmentMethod)}
    last_day = pd.to_datetime(evidence["last_assessed"]).to_numpy("datetime64[D]").astype(np.int64)
    return SparseRowStore.from_csr(
        [
            matrix,
            channel(evidence["strength"], 0.0),
            channel(evidence["level"], 0.0),
            channel(evidence["best_method"].map(method_rank), -1.0),
            channel(last_day, 0.0),
        ]
    )


def _row_norms(store: SparseRowStore, channel: int) -> npt.NDArray[np.float32]:
    entries = store.rows(np.arange(store.n_rows))
    squares = np.bincount(entries.owner, entries.values[:, channel] ** 2, store.n_rows)
    return np.sqrt(squares).astype(np.float32)


# ------------------------------------------------------------------------------------------
# Vacancies
# ------------------------------------------------------------------------------------------


def hires_made(outcomes: pd.DataFrame, vacancies: pd.DataFrame, on: date) -> pd.Series:
    """Hires before ``on`` per employment condition (people counted once per vacancy).

    The counting is :func:`features.live_state.condition_hires`'s, for every condition.
    """
    conditions = vacancies["condition_id"].dropna().astype(str).unique()
    made = condition_hires(outcomes, vacancies, conditions, np.datetime64(on, "D"))
    counts = pd.Series(made, index=pd.Index(conditions, name="condition_id"), dtype="int64")
    return counts[counts > 0]


def vacancy_columns(
    frame: pd.DataFrame,
    conditions: pd.DataFrame,
    hires: pd.Series,
    vocab: Vocabularies,
    vacancy_hires: npt.ArrayLike | None = None,
) -> dict[str, npt.ArrayLike]:
    """Entity-table columns for vacancies in the world-store schema.

    ``hires`` are the hires made per employment condition (:func:`hires_made`),
    ``vacancy_hires`` the distinct people hired at each vacancy row
    (:func:`features.live_state.vacancy_hires`; none when not given): a vacancy with as
    many hires as openings is filled and leaves matching.
    """
    n = len(frame)
    occupation = vocab.occupation_rows(frame["occupation_uri"])
    isco_codes = vocab.taxonomy.occupations["isco_code"].astype(str).to_numpy()[occupation]
    by_id = conditions.set_index(conditions["condition_id"].astype(str))
    position = by_id.index.get_indexer(pd.Index(frame["condition_id"].astype(str)))
    has_condition = position >= 0
    # Per condition once, then gathered per vacancy.
    groups = [set(g) for g in by_id["target_groups"]]
    condition_rules = np.array(
        [[rule.group.value in g for rule in DEFAULT_RULES] for g in groups], bool
    ).reshape(len(by_id), len(DEFAULT_RULES))
    condition_deadline = pd.to_datetime(by_id["deadline"]).to_numpy("datetime64[D]")
    made = hires.reindex(by_id.index).fillna(0).to_numpy(np.float64)
    condition_owed = np.maximum(by_id["hires_required"].to_numpy(np.float64) - made, 0)
    safe = np.where(has_condition, position, 0)
    rules = (
        condition_rules[safe] & has_condition[:, None]
        if len(by_id)
        else np.zeros((n, len(DEFAULT_RULES)), bool)  # no conditions at all: no rule applies
    )
    deadline = np.where(
        has_condition, condition_deadline[safe] if len(by_id) else _NAT, _NAT
    ).astype("datetime64[D]")
    owed = np.where(has_condition, condition_owed[safe] if len(by_id) else 0, 0)
    demand = {d.value: i for i, d in enumerate(PHYSICAL_DEMANDS)}
    form = {f.value: i for i, f in enumerate(JOB_FORMS)}
    return {
        "municipality": vocab.municipality_rows(frame["municipality"]),
        "occupation": occupation,
        "isco": pd.to_numeric(pd.Series(isco_codes), errors="coerce").fillna(0).to_numpy(np.int16),
        "remote_share": frame["remote_share"].to_numpy(np.float32),
        "hours": frame["hours_per_week"].to_numpy(np.float32),
        "shift_work": frame["shift_work"].to_numpy(bool),
        "night_work": frame["night_work"].to_numpy(bool),
        "physical_demand": frame["physical_demand"].astype(str).map(demand).to_numpy(np.int8),
        "languages": _language_steps(frame["languages"]),
        "driving_licence": frame["driving_licence_required"].to_numpy(bool),
        "job_form": frame["job_form"].astype(str).map(form).to_numpy(np.int8),
        "opens_on": pd.to_datetime(frame["opens_on"]).to_numpy("datetime64[D]"),
        "closes_on": pd.to_datetime(frame["closes_on"]).to_numpy("datetime64[D]"),
        "has_condition": has_condition,
        "condition_rules": rules,
        "deadline": deadline,
        "hires_owed": owed.astype(np.float32),
        "isco_columns": vocab.occupation_isco_columns()[occupation],
        "requirement_norm": np.zeros(n, np.float32),  # filled from the requirement store
        "openings": pd.to_numeric(frame["openings"], errors="coerce")
        .fillna(1)
        .to_numpy(np.float32),
        "hires": np.zeros(n, np.float32)
        if vacancy_hires is None
        else np.asarray(vacancy_hires, np.float32),
        "active": np.ones(n, bool),
    }


# ------------------------------------------------------------------------------------------
# Whole world
# ------------------------------------------------------------------------------------------


def build_matching_data(
    world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    as_of: date | None = None,
    profile_config: ProfileConfig | None = None,
) -> MatchingData:
    """Arrays for every jobseeker and every vacancy of a world, as of a day."""
    as_of = as_of or world.as_of
    vocab = Vocabularies.build(taxonomy, geography)
    seekers_frame = world.jobseekers
    seeker_ids = seekers_frame["jobseeker_id"].astype(str).to_numpy()
    history = employments(world.outcomes, seekers_frame)
    status = seeker_status(
        seeker_ids,
        pd.to_datetime(seekers_frame["unemployment_start"]).to_numpy("datetime64[D]"),
        history,
        np.datetime64(as_of, "D"),
    )
    seekers = EntityTable.from_columns(
        SEEKER_COLUMNS, seeker_ids, seeker_columns(seekers_frame, vocab, status)
    )
    profiles = build_profiles(
        world.assessments,
        world.skill_observations,
        taxonomy,
        as_of,
        config=profile_config,
        jobseeker_ids=seeker_ids,
    )
    profile_store = _profile_store(profiles)
    seekers["profile_norm"][:] = _row_norms(profile_store, 0)
    occupations, isco = _preference_stores(seekers_frame, vocab)

    vacancies_frame = world.vacancies
    vacancy_ids = vacancies_frame["vacancy_id"].astype(str).to_numpy()
    hires = hires_made(world.outcomes, vacancies_frame, as_of)
    vacancies = EntityTable.from_columns(
        VACANCY_COLUMNS,
        vacancy_ids,
        vacancy_columns(
            vacancies_frame,
            world.employment_conditions,
            hires,
            vocab,
            vacancy_hires(world.outcomes, vacancy_ids, np.datetime64(as_of, "D")),
        ),
    )
    requirements = build_requirements(world.vacancy_skills, taxonomy, vacancy_ids=vacancy_ids)
    requirement_store = SparseRowStore.from_csr(
        [requirements.weights, requirements.required, requirements.min_level]
    )
    vacancies["requirement_norm"][:] = _row_norms(requirement_store, 0)

    municipalities = geography.municipalities
    labour_area, labour_area_codes = pd.factorize(municipalities["labour_area_code"])
    area_names = municipalities.drop_duplicates("labour_area_code").set_index("labour_area_code")
    return MatchingData(
        seekers=seekers,
        vacancies=vacancies,
        profiles=profile_store,
        requirements=requirement_store,
        occupations=SparseRowStore.from_csr([occupations]),
        isco=SparseRowStore.from_csr([isco]),
        distance_km=np.asarray(geography.distance_km, np.float32),
        labour_area=labour_area.astype(np.int32),
        region=pd.factorize(municipalities["region_code"])[0].astype(np.int32),
        skill_labels=taxonomy.skills["label"].to_numpy(object),
        municipality_names=municipalities["name"].to_numpy(object),
        labour_area_names=area_names.loc[labour_area_codes, "labour_area_name"].to_numpy(object),
    )


# ------------------------------------------------------------------------------------------
# One row at a time (incremental updates)
# ------------------------------------------------------------------------------------------


def jobseeker_frame(person: Jobseeker) -> pd.DataFrame:
    """A one-row frame in the world-store ``jobseekers`` schema."""
    capacity, prefs = person.work_capacity, person.preferences
    return pd.DataFrame(
        [
            {
                "jobseeker_id": person.jobseeker_id,
                "home_municipality": person.home_municipality,
                "birth_year": person.birth_year,
                "migrant_background": person.migrant_background,
                "unemployment_start": person.unemployment_start,
                "driving_licence": person.driving_licence,
                "max_hours_per_week": capacity.max_hours_per_week,
                "restrictions": sorted(r.value for r in capacity.restrictions),
                "preferred_occupations": list(prefs.occupations),
                "max_commute_km": prefs.max_commute_km,
                "willing_to_relocate": prefs.willing_to_relocate,
                "accepted_job_forms": sorted(f.value for f in prefs.accepted_job_forms),
                "languages": [
                    {"language": s.language, "level": s.level.value} for s in person.languages
                ],
            }
        ]
    )


def vacancy_frames(vacancy: Vacancy) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One-row ``vacancies`` frame and the ``vacancy_skills`` rows of a vacancy."""
    row = {
        "vacancy_id": vacancy.vacancy_id,
        "condition_id": vacancy.condition_id,
        "occupation_uri": vacancy.occupation_uri,
        "municipality": vacancy.municipality,
        "job_form": vacancy.job_form.value,
        "opens_on": vacancy.opens_on,
        "closes_on": vacancy.closes_on,
        "remote_share": vacancy.remote_share,
        "hours_per_week": vacancy.hours_per_week,
        "shift_work": vacancy.shift_work,
        "night_work": vacancy.night_work,
        "physical_demand": vacancy.physical_demand.value,
        "languages": [{"language": s.language, "level": s.level.value} for s in vacancy.languages],
        "driving_licence_required": vacancy.driving_licence_required,
        "openings": vacancy.openings,
    }
    skills = pd.DataFrame(
        [(vacancy.vacancy_id, s.skill_uri, s.required, s.min_level) for s in vacancy.skills],
        columns=["vacancy_id", "skill_uri", "required", "min_level"],
    )
    return pd.DataFrame([row]), skills


def seeker_update(
    person: Jobseeker,
    assessments: pd.DataFrame,
    observations: pd.DataFrame,
    vocab: Vocabularies,
    as_of: date,
    profile_config: ProfileConfig | None = None,
    outcomes: pd.DataFrame | None = None,
) -> RowUpdate:
    """The engine update for one jobseeker (assessments and outcomes in the world schema).

    ``outcomes`` are the person's outcome events; a running employment takes the person out
    of matching (:mod:`features.live_state`), exactly as a whole-world build does.
    """
    frame = jobseeker_frame(person)
    status = None
    if outcomes is not None:
        status = seeker_status(
            frame["jobseeker_id"].to_numpy(object),
            pd.to_datetime(frame["unemployment_start"]).to_numpy("datetime64[D]"),
            employments(outcomes, frame),
            np.datetime64(as_of, "D"),
        )
    values = {
        name: np.asarray(col)[0] for name, col in seeker_columns(frame, vocab, status).items()
    }
    profiles = build_profiles(
        assessments,
        observations,
        vocab.taxonomy,
        as_of,
        config=profile_config,
        jobseeker_ids=[person.jobseeker_id],
    )
    store = _profile_store(profiles)
    entries = store.rows([0])
    values["profile_norm"] = float(np.sqrt((entries.values[:, 0] ** 2).sum()))
    occupations, isco = _preference_stores(frame, vocab)
    return RowUpdate(
        entity_id=person.jobseeker_id,
        values=values,
        skill_columns=entries.columns,
        skill_values=entries.values,
        occupation_columns=occupations.indices.astype(np.int64),
        isco_columns=isco.indices.astype(np.int64),
        isco_values=isco.data.astype(np.float32),
    )


def vacancy_update(
    vacancy: Vacancy,
    conditions: pd.DataFrame,
    hires: pd.Series,
    vocab: Vocabularies,
    hired_here: int = 0,
) -> RowUpdate:
    """The engine update for one vacancy; ``hired_here`` people were hired at it so far."""
    frame, skills = vacancy_frames(vacancy)
    values = {
        name: np.asarray(col)[0]
        for name, col in vacancy_columns(frame, conditions, hires, vocab, [hired_here]).items()
    }
    requirements = build_requirements(skills, vocab.taxonomy, vacancy_ids=[vacancy.vacancy_id])
    columns = requirements.weights.indices.astype(np.int64)
    channel_values = np.column_stack(
        [requirements.weights.data, requirements.required.data, requirements.min_level.data]
    ).astype(np.float32)
    values["requirement_norm"] = float(np.sqrt((requirements.weights.data**2).sum()))
    return RowUpdate(
        entity_id=vacancy.vacancy_id,
        values=values,
        skill_columns=columns,
        skill_values=channel_values,
    )
