"""Point-in-time matching data: the engine's arrays as they were on the days pairs were shown.

A training row is a (jobseeker, vacancy, day) triple, and its features must be what the
engine would have computed on that day — not what is known today. Profiles built as of
today and replayed over two years of exposures taught an earlier model that a person shown
without any assessment was a good candidate (the assessments came later, during the
coaching that stops at a hire), so strong evidence read as a sign of *not* being hired.

:func:`replay_matching_data` builds a :class:`~matching.entities.MatchingData` whose seeker
rows are (person, day) snapshots and whose vacancy rows are (vacancy, day) snapshots, so that
:func:`features.pair_features.pair_features` computes every training feature with exactly the
code that serves requests:

* a person's **skill profile** from the assessments made on or before the day, with recency
  counted to the day (:func:`features.profiles.build_profiles` with ``row_days``);
* whether the person was **in matching** and since when the running **unemployment spell**
  had lasted, from the outcome events before the day (:mod:`features.live_state`), and the
  **target-group periods** that spell gives (the rules in force on the day decide);
* a vacancy's **hires** so far (filled or not) and the **hires still owed** on its employment
  condition before the day.

What the world keeps no history of — home municipality, commute radius, languages, work
ability, preferences; a vacancy's own description — is taken as recorded. Nothing dated
after a row's day reaches that row: a test moves an assessment and an outcome past a logged
exposure and checks that the exposure's rows do not change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.live_state import condition_hires, employments, seeker_status, vacancy_hires
from features.matching_data import _profile_store, _row_norms, dated_seeker_columns
from features.profiles import ProfileConfig, build_profiles
from features.taxonomy import Taxonomy
from features.world_store import WorldTables
from matching.entities import SEEKER_COLUMNS, VACANCY_COLUMNS, EntityTable, MatchingData
from matching.sparse_store import SparseRowStore

__all__ = ["Replay", "replay_matching_data", "replay_rows"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Replay:
    """Snapshot matching data and, for each asked pair, its seeker and vacancy rows."""

    data: MatchingData
    seeker_rows: IntArray  # per asked pair: its (person, day) row in ``data.seekers``
    vacancy_rows: IntArray  # per asked pair: its (vacancy, day) row in ``data.vacancies``
    seeker_base: IntArray  # per seeker row: the person's row in the base data
    vacancy_base: IntArray  # per vacancy row: the vacancy's row in the base data


def _snapshots(
    base_rows: IntArray, days: npt.NDArray[np.datetime64]
) -> tuple[IntArray, npt.NDArray[np.datetime64], IntArray]:
    """Distinct (base row, day) keys: their rows, their days, and each asked pair's key."""
    day_numbers = days.astype("datetime64[D]").astype(np.int64)
    keys = base_rows.astype(np.int64) * (1 << 24) + (day_numbers + (1 << 23))
    unique, inverse = np.unique(keys, return_inverse=True)
    rows = unique >> 24
    snapshot_days = ((unique & ((1 << 24) - 1)) - (1 << 23)).astype("datetime64[D]")
    return rows.astype(np.int64), snapshot_days, inverse.astype(np.int64)


def replay_matching_data(
    world: WorldTables,
    base: MatchingData,
    taxonomy: Taxonomy,
    jobseeker_ids: npt.ArrayLike,
    vacancy_ids: npt.ArrayLike,
    days: npt.ArrayLike,
    profile_config: ProfileConfig | None = None,
) -> Replay:
    """Matching data for the pairs (``jobseeker_ids[i]``, ``vacancy_ids[i]``) on ``days[i]``.

    ``base`` is the world's matching data as of today (:func:`build_matching_data`): its
    columns that have no history, its preference and requirement stores are reused.
    Raises ``KeyError`` naming an id that ``base`` does not know.
    """
    people = np.asarray(jobseeker_ids, dtype=object)
    jobs = np.asarray(vacancy_ids, dtype=object)
    person_rows = np.asarray(pd.Index(base.seekers.ids).get_indexer(pd.Index(people)), np.int64)
    job_rows = np.asarray(pd.Index(base.vacancies.ids).get_indexer(pd.Index(jobs)), np.int64)
    if (person_rows < 0).any():
        raise KeyError(f"jobseeker {people[person_rows < 0][0]!r} is not in the world")
    if (job_rows < 0).any():
        raise KeyError(f"vacancy {jobs[job_rows < 0][0]!r} is not in the world")
    return replay_rows(world, base, taxonomy, person_rows, job_rows, days, profile_config)


def replay_rows(
    world: WorldTables,
    base: MatchingData,
    taxonomy: Taxonomy,
    person_rows: IntArray,
    job_rows: IntArray,
    days: npt.ArrayLike,
    profile_config: ProfileConfig | None = None,
) -> Replay:
    """:func:`replay_matching_data` for pairs given by their rows in ``base`` (which are the
    rows of ``world.jobseekers`` and ``world.vacancies``: the engine keeps their order)."""
    if len(base.seekers) != len(world.jobseekers) or len(base.vacancies) != len(world.vacancies):
        raise ValueError("the base matching data was not built from this world")
    on = np.broadcast_to(np.asarray(days, dtype="datetime64[D]"), person_rows.shape)
    seeker_base, seeker_days, seeker_of_pair = _snapshots(person_rows, on)
    vacancy_base, vacancy_days, vacancy_of_pair = _snapshots(job_rows, on)
    seekers, profiles = _seeker_snapshots(
        world, base, taxonomy, seeker_base, seeker_days, profile_config
    )
    vacancies = _vacancy_snapshots(world, base, vacancy_base, vacancy_days)
    seeker_table = EntityTable.from_columns(
        SEEKER_COLUMNS, _snapshot_ids(base.seekers.ids, seeker_base, seeker_days), seekers
    )
    vacancy_table = EntityTable.from_columns(
        VACANCY_COLUMNS, _snapshot_ids(base.vacancies.ids, vacancy_base, vacancy_days), vacancies
    )
    data = MatchingData(
        seekers=seeker_table,
        vacancies=vacancy_table,
        profiles=profiles,
        requirements=base.requirements.take(vacancy_base),
        occupations=base.occupations.take(seeker_base),
        isco=base.isco.take(seeker_base),
        distance_km=base.distance_km,
        labour_area=base.labour_area,
        region=base.region,
        skill_labels=base.skill_labels,
        municipality_names=base.municipality_names,
        labour_area_names=base.labour_area_names,
    )
    return Replay(
        data=data,
        seeker_rows=seeker_of_pair,
        vacancy_rows=vacancy_of_pair,
        seeker_base=seeker_base,
        vacancy_base=vacancy_base,
    )


def _snapshot_ids(ids: list[str], rows: IntArray, days: npt.NDArray[np.datetime64]) -> list[str]:
    names = np.asarray(ids, dtype=object)[rows]
    return [f"{name}@{day}" for name, day in zip(names, days.astype(str), strict=True)]


def _seeker_snapshots(
    world: WorldTables,
    base: MatchingData,
    taxonomy: Taxonomy,
    rows: IntArray,
    days: npt.NDArray[np.datetime64],
    profile_config: ProfileConfig | None,
) -> tuple[dict[str, npt.ArrayLike], SparseRowStore]:
    """Seeker columns per (person, day) snapshot, and the snapshot profile store."""
    ids = np.asarray(base.seekers.ids, dtype=object)[rows]
    people = world.jobseekers.iloc[rows].reset_index(drop=True)
    registered = pd.to_datetime(people["unemployment_start"]).to_numpy("datetime64[D]")
    status = seeker_status(ids, registered, employments(world.outcomes, world.jobseekers), days)
    columns: dict[str, npt.ArrayLike] = {name: base.seekers[name][rows] for name in SEEKER_COLUMNS}
    hours = pd.to_numeric(people["max_hours_per_week"], errors="coerce").to_numpy(np.float64)
    columns.update(dated_seeker_columns(people, base.seekers["restrictions"][rows], hours, status))
    profiles = build_profiles(
        world.assessments,
        world.skill_observations,
        taxonomy,
        world.as_of,
        config=profile_config,
        jobseeker_ids=ids,
        row_days=days,
    )
    store = _profile_store(profiles)
    columns["profile_norm"] = _row_norms(store, 0)
    return columns, store


def _vacancy_snapshots(
    world: WorldTables, base: MatchingData, rows: IntArray, days: npt.NDArray[np.datetime64]
) -> dict[str, npt.ArrayLike]:
    """Vacancy columns per (vacancy, day) snapshot: hires so far and hires still owed."""
    columns: dict[str, npt.ArrayLike] = {
        name: base.vacancies[name][rows] for name in VACANCY_COLUMNS
    }
    ids = np.asarray(base.vacancies.ids, dtype=object)[rows]
    columns["hires"] = vacancy_hires(world.outcomes, ids, days).astype(np.float32)
    condition = world.vacancies["condition_id"].to_numpy(object)[rows]
    required = (
        world.employment_conditions.set_index(
            world.employment_conditions["condition_id"].astype(str)
        )["hires_required"]
        .reindex(pd.Index(condition).astype(str))
        .to_numpy(np.float64)
    )
    made = condition_hires(world.outcomes, world.vacancies, condition, days)
    has_condition = np.asarray(columns["has_condition"], bool)
    owed = np.where(has_condition, np.maximum(np.nan_to_num(required) - made, 0.0), 0.0)
    columns["hires_owed"] = owed.astype(np.float32)
    return columns
