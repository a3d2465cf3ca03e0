"""Jobseekers and vacancies as columns of numpy arrays, for vectorised filtering and scoring.

The matching engine scores thousands of pairs per request; it reads people and vacancies as
typed columns rather than objects. Tables grow in place (amortised doubling), so adding or
changing one row is O(1) and the engine's index can be updated incrementally.

Encodings (see :data:`LANGUAGES`, :func:`bitmask`): job forms and work restrictions are bit
masks over their enums; languages are CEFR steps (0 = none) in one column per language;
days are ``datetime64[D]`` with NaT for "none".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from matching.domain import JobForm, PhysicalDemand, WorkRestriction
from matching.eligibility import DEFAULT_RULES
from matching.sparse_store import SparseRowStore

#: Languages a vacancy can require and a jobseeker's levels are kept for.
LANGUAGES: tuple[str, ...] = ("fi", "sv", "en")
JOB_FORMS: tuple[JobForm, ...] = tuple(JobForm)
RESTRICTIONS: tuple[WorkRestriction, ...] = tuple(WorkRestriction)
PHYSICAL_DEMANDS: tuple[PhysicalDemand, ...] = tuple(PhysicalDemand)
N_RULES = len(DEFAULT_RULES)


def bitmask(members: Iterable[StrEnum | str], universe: tuple[StrEnum, ...]) -> int:
    """Bits of ``members`` in the order of ``universe``."""
    values = {str(m) for m in members}
    return sum(1 << i for i, item in enumerate(universe) if item.value in values)


def has_bit(masks: npt.NDArray[np.integer], member: StrEnum, universe: tuple[StrEnum, ...]) -> Any:
    return (masks & (1 << universe.index(member))) != 0


SEEKER_COLUMNS: Mapping[str, tuple[str, tuple[int, ...]]] = {
    "home": ("int32", ()),  # municipality index
    "max_commute_km": ("float32", ()),
    "relocate": ("bool", ()),
    "accepted_forms": ("uint8", ()),
    "max_hours": ("float32", ()),  # inf when full time
    "restrictions": ("uint8", ()),
    "languages": ("int8", (len(LANGUAGES),)),  # CEFR steps
    "driving_licence": ("bool", ()),
    "unemployed_since": ("datetime64[D]", ()),
    "eligible_from": ("datetime64[D]", (N_RULES,)),  # per target-group rule
    "eligible_until": ("datetime64[D]", (N_RULES,)),
    "profile_norm": ("float32", ()),
    #: In matching: registered, not erased and not employed (see features.live_state).
    "active": ("bool", ()),
}

VACANCY_COLUMNS: Mapping[str, tuple[str, tuple[int, ...]]] = {
    "municipality": ("int32", ()),
    "occupation": ("int32", ()),
    "isco": ("int16", ()),  # ISCO-08 unit group as a number, e.g. 9112
    "remote_share": ("float32", ()),
    "hours": ("float32", ()),
    "shift_work": ("bool", ()),
    "night_work": ("bool", ()),
    "physical_demand": ("int8", ()),  # index in PHYSICAL_DEMANDS
    "languages": ("int8", (len(LANGUAGES),)),  # required CEFR steps, 0 = none
    "driving_licence": ("bool", ()),
    "job_form": ("int8", ()),  # index in JOB_FORMS
    "opens_on": ("datetime64[D]", ()),
    "closes_on": ("datetime64[D]", ()),
    "has_condition": ("bool", ()),
    "condition_rules": ("bool", (N_RULES,)),  # which target-group rules the condition accepts
    "deadline": ("datetime64[D]", ()),
    "hires_owed": ("float32", ()),
    "isco_columns": ("int32", (4,)),  # columns of the ISCO prefixes, see MatchingData
    "requirement_norm": ("float32", ()),
    "openings": ("float32", ()),
    "hires": ("float32", ()),  # distinct people hired so far; filled when hires >= openings
    #: Not withdrawn; whether it is open on a day also takes dates and hires into account.
    "active": ("bool", ()),
}


class EntityTable:
    """Rows of typed columns keyed by string ids, growing in place."""

    def __init__(self, columns: Mapping[str, tuple[str, tuple[int, ...]]], capacity: int = 16):
        self.spec = dict(columns)
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self._capacity = max(capacity, 16)
        self._data = {
            name: np.zeros((self._capacity, *shape), dtype=dtype)
            for name, (dtype, shape) in self.spec.items()
        }

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        """The live part of a column (a view: valid until the table grows)."""
        return self._data[name][: len(self.ids)]

    def row(self, entity_id: str) -> int:
        try:
            return self.row_of[entity_id]
        except KeyError:
            raise KeyError(f"{entity_id!r} is not known") from None

    @classmethod
    def from_columns(
        cls,
        spec: Mapping[str, tuple[str, tuple[int, ...]]],
        ids: Iterable[str],
        columns: Mapping[str, npt.ArrayLike],
    ) -> EntityTable:
        """A table from whole columns (the bulk path used when loading a world)."""
        id_list = [str(i) for i in ids]
        # Room to add rows in place. Workers forked from a built engine share its columns
        # copy-on-write: a full table would copy every column into the worker that adds the
        # first row. The spare rows are zero pages no one touches: no memory until written.
        table = cls(spec, capacity=len(id_list) + len(id_list) // 8)
        missing = set(spec) - set(columns)
        if missing:
            raise ValueError(f"columns missing: {sorted(missing)}")
        for name, (dtype, shape) in spec.items():
            values = np.asarray(columns[name], dtype=dtype)
            if values.shape != (len(id_list), *shape):
                raise ValueError(f"column {name!r} has shape {values.shape}")
            table._data[name][: len(id_list)] = values
        table.ids = id_list
        table.row_of = {entity_id: i for i, entity_id in enumerate(id_list)}
        if len(table.row_of) != len(id_list):
            raise ValueError("ids are not unique")
        return table

    def take(self, rows: npt.ArrayLike, ids: Iterable[str]) -> EntityTable:
        """A new table of the given rows (repeats allowed) under new, unique ids."""
        positions = np.asarray(rows, np.int64)
        return EntityTable.from_columns(
            self.spec, ids, {name: self[name][positions] for name in self.spec}
        )

    def upsert(self, entity_id: str, values: Mapping[str, Any]) -> int:
        """Set one row's values (adding the row when the id is new); returns its row number."""
        missing = set(self.spec) - set(values)
        if missing:
            raise ValueError(f"columns missing: {sorted(missing)}")
        row = self.row_of.get(entity_id)
        if row is None:
            row = len(self.ids)
            if row == self._capacity:
                self._grow()
            self.ids.append(entity_id)
            self.row_of[entity_id] = row
        for name, (dtype, _) in self.spec.items():
            self._data[name][row] = np.asarray(values[name], dtype=dtype)
        return row

    def _grow(self) -> None:
        self._capacity *= 2
        for name, column in self._data.items():
            grown = np.zeros((self._capacity, *column.shape[1:]), dtype=column.dtype)
            grown[: len(column)] = column
            self._data[name] = grown


#: Channels of the profile store (jobseeker × skill): the profile value (with partial credit),
#: and for directly evidenced skills the evidence strength, weighted level, the strongest
#: assessment method (index in AssessmentMethod, -1 when only credited) and the day of the
#: latest assessment (days since 1970-01-01).
PROFILE_VALUE, PROFILE_STRENGTH, PROFILE_LEVEL, PROFILE_METHOD, PROFILE_LAST_DAY = range(5)
PROFILE_CHANNELS = 5
#: Channels of the requirement store (vacancy × skill).
REQ_WEIGHT, REQ_REQUIRED, REQ_MIN_LEVEL = range(3)


@dataclass
class MatchingData:
    """Everything the engine and the pair features read, as arrays.

    ``occupations`` marks each jobseeker's preferred ESCO occupations (value 1);
    ``isco`` marks every ISCO-08 prefix of those occupations' codes with its depth / 4, so the
    deepest shared prefix with a vacancy's code is one lookup per level.
    ``distance_km``, ``labour_area`` and ``region`` describe municipalities by index.
    """

    seekers: EntityTable
    vacancies: EntityTable
    profiles: SparseRowStore
    requirements: SparseRowStore
    occupations: SparseRowStore
    isco: SparseRowStore
    distance_km: npt.NDArray[np.float32]
    labour_area: npt.NDArray[np.int32]
    region: npt.NDArray[np.int32]
    skill_labels: npt.NDArray[np.object_]
    municipality_names: npt.NDArray[np.object_]
    labour_area_names: npt.NDArray[np.object_]


@dataclass(frozen=True)
class RowUpdate:
    """One jobseeker's or vacancy's new state, ready for :class:`MatchingData`.

    ``values`` fills the entity table's columns; ``skills`` the profile or requirement store
    (columns and per-channel values); ``occupations`` and ``isco`` only apply to jobseekers.
    """

    entity_id: str
    values: Mapping[str, Any]
    skill_columns: npt.NDArray[np.int64]
    skill_values: npt.NDArray[np.float32]
    occupation_columns: npt.NDArray[np.int64] | None = None
    isco_columns: npt.NDArray[np.int64] | None = None
    isco_values: npt.NDArray[np.float32] | None = None
