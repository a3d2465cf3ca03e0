"""The synthetic world on disk: table names, columns and types, loading, and domain converters.

A world is a folder written by :func:`training.synthetic.generate_world`: one Parquet file per
table (``<table>.parquet``), ``truth/true_skills.parquet`` (the latent skills only the oracle
may read), ``hidden_model.json`` and ``HIDDEN_MODEL.md`` (the outcome model), and
``world.json``, the manifest, written last as the "done" marker.

The column names and Arrow types below are the contract between the generator and every
reader. :func:`load_world` returns pandas DataFrames in which identifiers and codes are
``str`` (leading zeros kept), dates are ``datetime64[ms]``, timestamps ``datetime64[ms, UTC]``
and list columns hold numpy arrays (``languages``: arrays of ``{"language", "level"}``
dicts). The ``*_from_row(s)`` converters turn rows into :mod:`matching.domain` objects, which
validate themselves.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from matching.domain import (
    BuyerKind,
    CoachingAssessment,
    EmploymentCondition,
    JobForm,
    JobPreferences,
    Jobseeker,
    LanguageSkill,
    OutcomeEvent,
    ProcurementContract,
    SkillObservation,
    Supplier,
    TargetGroup,
    Vacancy,
    VacancySkill,
    WorkCapacity,
    WorkingLifeObservation,
)

__all__ = [
    "COLUMNS",
    "HIDDEN_MODEL_DOC",
    "HIDDEN_MODEL_FILE",
    "MANIFEST_FILE",
    "OPTIONAL_TABLES",
    "SCHEMAS",
    "TABLES",
    "TRUTH_SCHEMA",
    "TRUTH_TRUE_SKILLS",
    "WorldTables",
    "assessment_from_rows",
    "condition_from_row",
    "contract_from_row",
    "empty_world_frame",
    "jobseeker_from_row",
    "load_manifest",
    "load_table",
    "load_true_skills",
    "load_world",
    "outcome_from_row",
    "plain_schema",
    "supplier_from_row",
    "table_path",
    "vacancy_from_rows",
    "world_frame",
]

MANIFEST_FILE = "world.json"
HIDDEN_MODEL_FILE = "hidden_model.json"
HIDDEN_MODEL_DOC = "HIDDEN_MODEL.md"
#: Latent true skills (jobseeker_id, skill_uri, level); only the evaluation oracle reads it.
TRUTH_TRUE_SKILLS = "truth/true_skills.parquet"

_STR = pa.string()
#: Low-cardinality text (codes, URIs, enum values) is dictionary-encoded on disk.
_CAT = pa.dictionary(pa.int32(), pa.string())
_DATE = pa.date32()
#: Event times are UTC instants (Parquet has no second resolution, hence ms).
_TS = pa.timestamp("ms", tz="UTC")
_LANGUAGES = pa.list_(pa.struct([("language", _STR), ("level", _STR)]))
_STR_LIST = pa.list_(_STR)


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, kind) for name, kind in fields])


#: Arrow schema of every table, in table order; the generator writes exactly these.
SCHEMAS: dict[str, pa.Schema] = {
    "organisations": _schema(
        ("organisation_id", _STR),
        ("kind", _CAT),  # employment_service | buyer | supplier | central_purchasing_body
        ("name", _STR),
        ("country", _CAT),
        ("municipality", _CAT),
    ),
    "coaches": _schema(
        ("coach_id", _STR),
        ("organisation_id", _STR),
        ("first_name", _STR),
        ("last_name", _STR),
        ("municipality", _CAT),
    ),
    "jobseekers": _schema(
        ("jobseeker_id", _STR),
        ("first_name", _STR),
        ("last_name", _STR),
        ("email", _STR),
        ("phone", _STR),
        ("home_municipality", _CAT),
        ("birth_year", pa.int16()),
        ("sex", _CAT),
        ("migrant_background", pa.bool_()),
        # The start of the spell the person registered with; after an employment ends, the
        # next spell starts at its `employment_ended` outcome (features.live_state).
        ("unemployment_start", _DATE),
        ("driving_licence", pa.bool_()),
        ("max_hours_per_week", pa.float64()),  # null = full time
        ("restrictions", _STR_LIST),
        ("preferred_occupations", _STR_LIST),
        ("max_commute_km", pa.float64()),
        ("willing_to_relocate", pa.bool_()),
        ("accepted_job_forms", _STR_LIST),
        ("languages", _LANGUAGES),
        ("coach_id", _STR),
        ("organisation_id", _STR),
    ),
    "assessments": _schema(
        ("assessment_id", _STR),
        ("jobseeker_id", _STR),
        ("coach_id", _STR),
        ("assessed_on", _DATE),
        ("method", _CAT),
        ("note", _STR),
    ),
    "skill_observations": _schema(
        ("assessment_id", _STR),
        ("jobseeker_id", _STR),
        ("skill_uri", _CAT),
        ("level", pa.int8()),
        ("confidence", pa.float32()),
    ),
    "working_life_observations": _schema(
        ("assessment_id", _STR),
        ("skill", _CAT),
        ("level", pa.int8()),
    ),
    "suppliers": _schema(
        ("supplier_id", _STR),
        ("organisation_id", _STR),
        ("name", _STR),
        ("country", _CAT),
        ("municipality", _CAT),
        ("business_id", _STR),
    ),
    "contracts": _schema(
        ("contract_id", _STR),
        ("buyer_id", _STR),
        ("buyer_kind", _CAT),
        ("buyer_municipality", _CAT),  # null for a central purchasing body
        ("supplier_id", _STR),
        ("cpv_code", _CAT),
        ("title", _STR),
        ("starts_on", _DATE),
        ("ends_on", _DATE),
        ("value_eur", pa.float64()),
    ),
    "employment_conditions": _schema(
        ("condition_id", _STR),
        ("contract_id", _STR),
        ("target_groups", _STR_LIST),
        ("hires_required", pa.int32()),
        ("deadline", _DATE),
        ("allowed_job_forms", _STR_LIST),
        ("performance_based", pa.bool_()),
    ),
    # The terms of a performance-based condition (one row each; docs/performance.md): the
    # points a credited outcome earns per stage, weighted by the deciding target group and the
    # job form (one column each: a group or form the condition does not name earns nothing),
    # the price of a point, the cap over the contract and the payment period.
    "performance_terms": _schema(
        ("condition_id", _STR),
        ("price_per_point_eur", pa.float64()),
        ("cap_eur", pa.float64()),
        ("points_hired", pa.float64()),
        ("points_retained_6m", pa.float64()),
        ("points_retained_12m", pa.float64()),
        *((f"weight_tg_{group.value}", pa.float64()) for group in TargetGroup),
        *((f"weight_form_{form.value}", pa.float64()) for form in JobForm),
        ("period", _CAT),  # month | quarter
    ),
    "vacancies": _schema(
        ("vacancy_id", _STR),
        ("supplier_id", _STR),
        ("contract_id", _STR),
        ("condition_id", _STR),
        ("occupation_uri", _CAT),
        ("title", _STR),
        ("municipality", _CAT),
        ("job_form", _CAT),
        ("opens_on", _DATE),
        ("closes_on", _DATE),
        ("remote_share", pa.float64()),
        ("hours_per_week", pa.float64()),
        ("shift_work", pa.bool_()),
        ("night_work", pa.bool_()),
        ("physical_demand", _CAT),
        ("languages", _LANGUAGES),
        ("driving_licence_required", pa.bool_()),
        ("openings", pa.int32()),
    ),
    "vacancy_skills": _schema(
        ("vacancy_id", _STR),
        ("skill_uri", _CAT),
        ("required", pa.bool_()),
        ("min_level", pa.int8()),
    ),
    "outcomes": _schema(
        ("event_id", _STR),
        ("jobseeker_id", _STR),
        ("vacancy_id", _STR),
        # proposed | interviewed | hired | retained_6m | retained_12m | employment_ended |
        # declined_by_employer | declined_by_jobseeker (| suggested); people in work and
        # filled vacancies are derived from these (features.live_state): no status columns.
        ("stage", _CAT),
        ("reason", _CAT),  # null unless the stage is a decline
        ("occurred_at", _TS),
    ),
    "exposures": _schema(
        ("exposure_id", _STR),
        # 'vacancy_shortlist' (people shown for a vacancy) or 'jobseeker_matches' (vacancies
        # shown to a coach searching for a person)
        ("query_kind", _CAT),
        ("query_id", _STR),  # the vacancy_id of a shortlist, a search's own id
        ("jobseeker_id", _STR),
        ("vacancy_id", _STR),
        ("position", pa.int16()),  # 1-based rank shown
        ("shown_at", _TS),
        ("propensity", pa.float64()),  # P(logging policy proposes | shown)
        ("policy", _CAT),  # the logging policy, e.g. 'coach_rules' or 'service:<model>'
    ),
}

#: Schema of :data:`TRUTH_TRUE_SKILLS`.
TRUTH_SCHEMA = _schema(("jobseeker_id", _STR), ("skill_uri", _CAT), ("level", pa.int8()))

#: Table names in the order the generator writes them.
TABLES: tuple[str, ...] = tuple(SCHEMAS)
#: Tables a world written before they existed lacks: such a world loads them empty.
OPTIONAL_TABLES: frozenset[str] = frozenset({"performance_terms"})
#: Column names per table (the contract later code relies on).
COLUMNS: dict[str, tuple[str, ...]] = {name: tuple(s.names) for name, s in SCHEMAS.items()}


def table_path(root: Path, table: str) -> Path:
    """Return the Parquet file of ``table`` in the world folder ``root``."""
    if table not in SCHEMAS:
        raise KeyError(f"unknown world table {table!r}; known: {', '.join(TABLES)}")
    return root / f"{table}.parquet"


def load_manifest(root: Path) -> dict[str, Any]:
    """Return the parsed ``world.json`` of ``root``, or raise naming the missing path."""
    path = Path(root) / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: {root} is not a complete generated world "
            "(run `kohtaanto generate --out ...` first)"
        )
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """The schema with dictionary-encoded columns decoded to plain strings."""
    return pa.schema(
        [
            pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f
            for f in schema
        ]
    )


def _read(path: Path, schema: pa.Schema) -> pd.DataFrame:
    table = pq.read_table(path)
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    return _to_frame(table, schema)


def _to_frame(table: pa.Table, schema: pa.Schema) -> pd.DataFrame:
    table = table.select(schema.names).cast(_categorical_schema(schema))
    # Dictionary columns (URIs, codes, enum values) stay pandas categoricals: 2.6 million
    # skill observations then hold int32 codes instead of as many URI strings.
    return table.to_pandas(date_as_object=False)


def world_frame(table: pa.Table, name: str) -> pd.DataFrame:
    """A world table held in Arrow (plain or dictionary strings) as :func:`load_world` has it.

    Other sources of world tables (the service database) go through here, so that their
    DataFrames have exactly the dtypes of a world read from Parquet.
    """
    return _to_frame(table, SCHEMAS[name])


def empty_world_frame(name: str) -> pd.DataFrame:
    """The frame :func:`load_world` returns for a table it was asked not to read."""
    return plain_schema(SCHEMAS[name]).empty_table().to_pandas()


def _categorical_schema(schema: pa.Schema) -> pa.Schema:
    """The schema with every dictionary column as dictionary<int32, string>."""
    return pa.schema(
        [
            pa.field(f.name, pa.dictionary(pa.int32(), pa.string()))
            if pa.types.is_dictionary(f.type)
            else f
            for f in schema
        ]
    )


def load_table(root: Path, table: str) -> pd.DataFrame:
    """Load one table of the world in ``root`` (checks that the manifest exists); an optional
    table the world lacks (:data:`OPTIONAL_TABLES`) is empty."""
    load_manifest(root)
    path = table_path(Path(root), table)
    if table in OPTIONAL_TABLES and not path.exists():
        return empty_world_frame(table)
    return _read(path, SCHEMAS[table])


def load_true_skills(root: Path) -> pd.DataFrame:
    """Load the latent true skills; for the evaluation oracle only, never for matching."""
    load_manifest(root)
    return _read(Path(root) / TRUTH_TRUE_SKILLS, TRUTH_SCHEMA)


@dataclass(frozen=True, eq=False)
class WorldTables:
    """Every table of a generated world (not the truth), one DataFrame per attribute."""

    root: Path
    manifest: dict[str, Any] = field(repr=False)
    organisations: pd.DataFrame = field(repr=False)
    coaches: pd.DataFrame = field(repr=False)
    jobseekers: pd.DataFrame = field(repr=False)
    assessments: pd.DataFrame = field(repr=False)
    skill_observations: pd.DataFrame = field(repr=False)
    working_life_observations: pd.DataFrame = field(repr=False)
    suppliers: pd.DataFrame = field(repr=False)
    contracts: pd.DataFrame = field(repr=False)
    employment_conditions: pd.DataFrame = field(repr=False)
    vacancies: pd.DataFrame = field(repr=False)
    vacancy_skills: pd.DataFrame = field(repr=False)
    outcomes: pd.DataFrame = field(repr=False)
    exposures: pd.DataFrame = field(repr=False)
    #: Last, with a default: an optional table (:data:`OPTIONAL_TABLES`).
    performance_terms: pd.DataFrame = field(
        repr=False, default_factory=lambda: empty_world_frame("performance_terms")
    )

    @property
    def as_of(self) -> date:
        """The world's "today": every event happened before this day."""
        return date.fromisoformat(str(self.manifest["as_of"]))

    def table(self, name: str) -> pd.DataFrame:
        """Return a table by name."""
        if name not in SCHEMAS:
            raise KeyError(f"unknown world table {name!r}; known: {', '.join(TABLES)}")
        frame: pd.DataFrame = getattr(self, name)
        return frame


#: The tables the matching engine reads (the service loads only these).
SERVING_TABLES: tuple[str, ...] = (
    "jobseekers",
    "assessments",
    "skill_observations",
    "vacancies",
    "vacancy_skills",
    "employment_conditions",
    "outcomes",
)


def load_world(path: Path, tables: Iterable[str] | None = None) -> WorldTables:
    """Load a world folder written by the generator.

    ``tables`` limits what is read (the others are empty frames with their columns), which
    keeps a national-size load within memory when only matching is needed. A world written
    before an optional table existed (:data:`OPTIONAL_TABLES`) has it empty.
    Raises :class:`FileNotFoundError` naming the path when ``world.json`` (written last) is
    missing, i.e. when the folder is not a complete world.
    """
    root = Path(path)
    manifest = load_manifest(root)
    wanted = set(TABLES if tables is None else tables)
    unknown = wanted - set(TABLES)
    if unknown:
        raise KeyError(f"unknown world tables {sorted(unknown)}; known: {', '.join(TABLES)}")
    frames = {
        name: _read(table_path(root, name), SCHEMAS[name])
        if name in wanted and (name not in OPTIONAL_TABLES or table_path(root, name).exists())
        else empty_world_frame(name)
        for name in TABLES
    }
    return WorldTables(root=root, manifest=manifest, **frames)


# --------------------------------------------------------------------------------------------
# Converters to domain objects
# --------------------------------------------------------------------------------------------

Row = Mapping[str, Any] | pd.Series


def _missing(value: object) -> bool:
    if value is None or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _as_date(value: object) -> date:
    if isinstance(value, pd.Timestamp | datetime):
        return value.date()
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value).date()
    if isinstance(value, date):
        return value
    raise TypeError(f"expected a date, got {value!r}")


def _as_optional_date(value: object) -> date | None:
    return None if _missing(value) else _as_date(value)


def _as_datetime(value: object) -> datetime:
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, datetime):
        return value
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value).to_pydatetime()
    raise TypeError(f"expected a date and time, got {value!r}")


def _items(value: object) -> list[Any]:
    """A list column's value (numpy array, list or None) as a list."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return list(value.tolist())
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return list(value)
    raise TypeError(f"expected a list, got {value!r}")


def _optional_str(value: object) -> str | None:
    return None if _missing(value) else str(value)


def _languages(value: object) -> tuple[LanguageSkill, ...]:
    return tuple(
        LanguageSkill(language=str(item["language"]), level=item["level"]) for item in _items(value)
    )


def jobseeker_from_row(row: Row) -> Jobseeker:
    """Build a :class:`~matching.domain.Jobseeker` from a ``jobseekers`` row."""
    hours = row["max_hours_per_week"]
    return Jobseeker(
        jobseeker_id=str(row["jobseeker_id"]),
        home_municipality=str(row["home_municipality"]),
        birth_year=int(row["birth_year"]),
        sex=row["sex"],
        coach_id=str(row["coach_id"]),
        organisation_id=str(row["organisation_id"]),
        languages=_languages(row["languages"]),
        driving_licence=bool(row["driving_licence"]),
        unemployment_start=_as_optional_date(row["unemployment_start"]),
        migrant_background=bool(row["migrant_background"]),
        work_capacity=WorkCapacity(
            max_hours_per_week=None if _missing(hours) else float(hours),
            restrictions=frozenset(_items(row["restrictions"])),
        ),
        preferences=JobPreferences(
            occupations=tuple(str(uri) for uri in _items(row["preferred_occupations"])),
            max_commute_km=float(row["max_commute_km"]),
            willing_to_relocate=bool(row["willing_to_relocate"]),
            accepted_job_forms=frozenset(_items(row["accepted_job_forms"])),
        ),
    )


def _records(rows: pd.DataFrame | Iterable[Row]) -> Iterable[Row]:
    if isinstance(rows, pd.DataFrame):
        records: list[dict[str, Any]] = rows.to_dict("records")  # type: ignore[assignment]
        return records
    return rows


def vacancy_from_rows(row: Row, skill_rows: pd.DataFrame | Iterable[Row] = ()) -> Vacancy:
    """Build a :class:`~matching.domain.Vacancy` from a ``vacancies`` row and its skill rows.

    ``skill_rows`` are the ``vacancy_skills`` rows of this vacancy (others are rejected).
    """
    vacancy_id = str(row["vacancy_id"])
    skills = []
    for skill in _records(skill_rows):
        if str(skill["vacancy_id"]) != vacancy_id:
            raise ValueError(f"skill row of {skill['vacancy_id']!r} given for {vacancy_id!r}")
        skills.append(
            VacancySkill(
                skill_uri=str(skill["skill_uri"]),
                required=bool(skill["required"]),
                min_level=int(skill["min_level"]),
            )
        )
    return Vacancy(
        vacancy_id=vacancy_id,
        supplier_id=str(row["supplier_id"]),
        occupation_uri=str(row["occupation_uri"]),
        municipality=str(row["municipality"]),
        job_form=row["job_form"],
        opens_on=_as_date(row["opens_on"]),
        closes_on=_as_date(row["closes_on"]),
        contract_id=_optional_str(row["contract_id"]),
        condition_id=_optional_str(row["condition_id"]),
        title=str(row["title"]),
        skills=tuple(skills),
        remote_share=float(row["remote_share"]),
        hours_per_week=float(row["hours_per_week"]),
        shift_work=bool(row["shift_work"]),
        night_work=bool(row["night_work"]),
        physical_demand=row["physical_demand"],
        languages=_languages(row["languages"]),
        driving_licence_required=bool(row["driving_licence_required"]),
        openings=int(row["openings"]),
    )


def assessment_from_rows(
    row: Row,
    observation_rows: pd.DataFrame | Iterable[Row] = (),
    working_life_rows: pd.DataFrame | Iterable[Row] = (),
) -> CoachingAssessment:
    """Build a :class:`~matching.domain.CoachingAssessment` from an ``assessments`` row.

    ``observation_rows`` (``skill_observations``) and ``working_life_rows``
    (``working_life_observations``) must belong to this assessment.
    """
    assessment_id = str(row["assessment_id"])
    observations = []
    for obs in _records(observation_rows):
        if str(obs["assessment_id"]) != assessment_id:
            raise ValueError(f"observation of {obs['assessment_id']!r} given for {assessment_id}")
        observations.append(
            SkillObservation(
                skill_uri=str(obs["skill_uri"]),
                level=int(obs["level"]),
                confidence=float(obs["confidence"]),
            )
        )
    working_life = []
    for obs in _records(working_life_rows):
        if str(obs["assessment_id"]) != assessment_id:
            raise ValueError(f"observation of {obs['assessment_id']!r} given for {assessment_id}")
        working_life.append(WorkingLifeObservation(skill=obs["skill"], level=int(obs["level"])))
    return CoachingAssessment(
        assessment_id=assessment_id,
        jobseeker_id=str(row["jobseeker_id"]),
        coach_id=str(row["coach_id"]),
        assessed_on=_as_date(row["assessed_on"]),
        method=row["method"],
        observations=tuple(observations),
        working_life=tuple(working_life),
        note=str(row["note"]),
    )


def condition_from_row(row: Row) -> EmploymentCondition:
    """Build an :class:`~matching.domain.EmploymentCondition` from its row."""
    return EmploymentCondition(
        condition_id=str(row["condition_id"]),
        contract_id=str(row["contract_id"]),
        target_groups=frozenset(_items(row["target_groups"])),
        hires_required=int(row["hires_required"]),
        deadline=_as_date(row["deadline"]),
        allowed_job_forms=frozenset(_items(row["allowed_job_forms"])),
        performance_based=bool(row["performance_based"]),
    )


def contract_from_row(row: Row) -> ProcurementContract:
    """Build a :class:`~matching.domain.ProcurementContract` from a ``contracts`` row."""
    return ProcurementContract(
        contract_id=str(row["contract_id"]),
        buyer_id=str(row["buyer_id"]),
        buyer_kind=BuyerKind(str(row["buyer_kind"])),
        supplier_id=str(row["supplier_id"]),
        cpv_code=str(row["cpv_code"]),
        title=str(row["title"]),
        starts_on=_as_date(row["starts_on"]),
        ends_on=_as_date(row["ends_on"]),
        value_eur=float(row["value_eur"]),
        buyer_municipality=_optional_str(row["buyer_municipality"]),
    )


def supplier_from_row(row: Row) -> Supplier:
    """Build a :class:`~matching.domain.Supplier` from a ``suppliers`` row."""
    return Supplier(
        supplier_id=str(row["supplier_id"]),
        name=str(row["name"]),
        country=row["country"],
        municipality=str(row["municipality"]),
        business_id=str(row["business_id"]),
    )


def outcome_from_row(row: Row) -> OutcomeEvent:
    """Build an :class:`~matching.domain.OutcomeEvent` from an ``outcomes`` row."""
    return OutcomeEvent(
        event_id=str(row["event_id"]),
        jobseeker_id=str(row["jobseeker_id"]),
        vacancy_id=str(row["vacancy_id"]),
        stage=row["stage"],
        occurred_at=_as_datetime(row["occurred_at"]),
        reason=None if _missing(row["reason"]) else row["reason"],
    )
