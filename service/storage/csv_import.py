"""Import jobseekers and vacancies from CSV files (formats: ``docs/csv-import.md``).

Five files, each optional: ``jobseekers``, ``assessments`` (with working-life
observations), ``skill_observations``, ``vacancies`` and ``vacancy_skills``. Every row is
checked (required fields, types, dates, the enums of :mod:`matching.domain`, ESCO URIs
against the taxonomy, municipality codes against the geography, and references to rows in
the other files or in the database) and *every* problem is reported as
``file:line: field: message``, with line numbers as a text editor shows them (the header
is line 1). Nothing is written unless every row is valid; the checks and the writes share
one transaction. Each imported or amended jobseeker and vacancy is appended to the change
feed so the service workers pick it up.

Rows are only added: an id that already exists in the database is a problem, not an update.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table, insert, select, tuple_

from features.geography import Geography
from features.taxonomy import Taxonomy
from matching.domain import (
    FULL_TIME_HOURS,
    MAX_NOTE_LENGTH,
    MAX_WEEKLY_HOURS,
    SKILL_LEVEL_MAX,
    SKILL_LEVEL_MIN,
    AssessmentMethod,
    CoachingAssessment,
    DomainValidationError,
    JobForm,
    JobPreferences,
    Jobseeker,
    LanguageSkill,
    PhysicalDemand,
    Sex,
    SkillObservation,
    Vacancy,
    VacancySkill,
    WorkCapacity,
    WorkingLifeObservation,
    WorkingLifeSkill,
    WorkRestriction,
)
from service.storage.changes import record_changes
from service.storage.tables import (
    AssessmentRecord,
    Base,
    ChangeEntity,
    CoachRecord,
    ContractRecord,
    EmploymentConditionRecord,
    JobseekerRecord,
    OrganisationRecord,
    SkillObservationRecord,
    SupplierRecord,
    VacancyRecord,
    VacancySkillRecord,
    WorkingLifeObservationRecord,
)

__all__ = [
    "COLUMNS",
    "CsvFiles",
    "CsvImportError",
    "CsvImportResult",
    "CsvProblem",
    "import_csv",
    "sniff_delimiter",
]

#: Separates the items of a list cell (``fi:native;en:B1``).
LIST_SEPARATOR = ";"

#: The columns of every file: ``True`` where the column must be in the header.
COLUMNS: dict[str, dict[str, bool]] = {
    "jobseekers": {
        "jobseeker_id": True,
        "first_name": True,
        "last_name": True,
        "email": False,
        "phone": False,
        "home_municipality": True,
        "birth_year": True,
        "sex": True,
        "migrant_background": False,
        "unemployment_start": False,
        "driving_licence": False,
        "max_hours_per_week": False,
        "restrictions": False,
        "preferred_occupations": False,
        "max_commute_km": False,
        "willing_to_relocate": False,
        "accepted_job_forms": False,
        "languages": False,
        "coach_id": True,
        "organisation_id": True,
    },
    "assessments": {
        "assessment_id": True,
        "jobseeker_id": True,
        "coach_id": True,
        "assessed_on": True,
        "method": True,
        "note": False,
        "working_life": False,
    },
    "skill_observations": {
        "assessment_id": True,
        "skill_uri": True,
        "level": True,
        "confidence": False,
    },
    "vacancies": {
        "vacancy_id": True,
        "supplier_id": True,
        "contract_id": False,
        "condition_id": False,
        "occupation_uri": True,
        "title": True,
        "municipality": True,
        "job_form": True,
        "opens_on": True,
        "closes_on": True,
        "remote_share": False,
        "hours_per_week": False,
        "shift_work": False,
        "night_work": False,
        "physical_demand": False,
        "languages": False,
        "driving_licence_required": False,
        "openings": False,
    },
    "vacancy_skills": {
        "vacancy_id": True,
        "skill_uri": True,
        "required": False,
        "min_level": False,
    },
}

_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
#: A day as Excel writes it in a Finnish locale: 1.3.2026, 01.03.2026 (day, month, year).
_LOCAL_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
#: Cell separators a header line may use; the most frequent one wins, a tie goes to comma.
_DELIMITERS = (",", ";", "\t")
#: The chunk size of ``IN (...)`` lookups (SQLite allows 32,766 parameters).
_LOOKUP_CHUNK = 5_000
_WORKING_LIFE = frozenset(member.value for member in WorkingLifeSkill)
E = TypeVar("E", bound=StrEnum)


# --------------------------------------------------------------------------------------------
# Problems and results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvProblem:
    """One thing wrong with one field of one row."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class CsvImportError(ValueError):
    """The import was refused; :attr:`problems` lists every bad field, in file order."""

    def __init__(self, problems: Sequence[CsvProblem]) -> None:
        self.problems = list(problems)
        shown = "\n".join(str(p) for p in self.problems[:20])
        more = len(self.problems) - 20
        suffix = f"\n... and {more} more" if more > 0 else ""
        super().__init__(f"{len(self.problems)} problem(s), nothing imported:\n{shown}{suffix}")


@dataclass(frozen=True)
class CsvImportResult:
    """How many rows of each kind were imported, and how many changes were recorded."""

    jobseekers: int = 0
    assessments: int = 0
    skill_observations: int = 0
    working_life_observations: int = 0
    vacancies: int = 0
    vacancy_skills: int = 0
    changes: int = 0

    def summary(self) -> str:
        return ", ".join(
            f"{f.name.replace('_', ' ')} {getattr(self, f.name):,}" for f in fields(self)
        )


@dataclass(frozen=True)
class CsvFiles:
    """The files of one import; any may be left out."""

    jobseekers: Path | None = None
    assessments: Path | None = None
    skill_observations: Path | None = None
    vacancies: Path | None = None
    vacancy_skills: Path | None = None

    def given(self) -> dict[str, Path]:
        return {f.name: path for f in fields(self) if (path := getattr(self, f.name)) is not None}


# --------------------------------------------------------------------------------------------
# Reading files and cells
# --------------------------------------------------------------------------------------------


@dataclass
class _Source:
    kind: str
    label: str  # the path as the user gave it, for messages
    problems: list[CsvProblem]
    #: The file separates cells with ";" (or tabs), as Excel saves CSV in a Finnish or
    #: Swedish locale, whose numbers then have decimal commas (12,5) and whose days may be
    #: written 1.3.2026; both are read. Comma-separated files keep the strict forms.
    nordic_locale: bool = False

    def problem(self, line: int, column: str, message: str) -> None:
        self.problems.append(CsvProblem(self.label, line, column, message))


def sniff_delimiter(content: str) -> str:
    """The cell separator of a CSV text: ``,``, ``;`` (Excel in a Finnish or Swedish locale)
    or a tab, whichever its header line holds most of (column names hold none of them).

    Every reader of an import file uses this, so that checks made on the rows (the API's
    ownership rules) see the same cells as the import.
    """
    header_line = content.split("\n", 1)[0]
    return max(_DELIMITERS, key=header_line.count)


def _read_rows(path: Path, source: _Source) -> Iterator[tuple[int, dict[str, str]]]:
    """(line of the row's first line, cells by column) for every non-blank data row.

    Header problems are reported on line 1; when a required column is missing no row is
    yielded, since every row would repeat the same complaint.
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        source.problem(1, "file", f"cannot be read: {error.strerror or error}")
        return
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        source.problem(line, "file", f"is not UTF-8 (byte 0x{data[error.start]:02x})")
        return
    delimiter = sniff_delimiter(content)
    source.nordic_locale = delimiter != ","
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            source.problem(1, "file", "is empty; the first line must name the columns")
            return
        columns = [name.strip() for name in header]
        if not _header_ok(columns, source):
            return
        last_line = reader.line_num
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(columns):
                source.problem(
                    line, "row", f"has {len(cells)} cells; the header has {len(columns)}"
                )
                continue
            yield line, {name: cell.strip() for name, cell in zip(columns, cells, strict=True)}
    except csv.Error as error:
        source.problem(reader.line_num, "row", f"is not valid CSV ({error})")


def _header_ok(columns: list[str], source: _Source) -> bool:
    expected = COLUMNS[source.kind]
    ok = True
    for name, count in Counter(columns).items():
        if count > 1:
            source.problem(1, name, "is a column name used twice")
            ok = False
    for name in columns:
        if name not in expected:
            source.problem(1, name or "(empty)", f"is not a column of {source.kind} files")
    for name, required in expected.items():
        if required and name not in columns:
            source.problem(1, name, "is a required column and is missing from the header")
            ok = False
    return ok


class _Row:
    """One data row: typed accessors that record a problem instead of raising."""

    def __init__(self, source: _Source, line: int, cells: Mapping[str, str]) -> None:
        self.source = source
        self.line = line
        self.cells = cells
        self.problem_count = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def problem(self, column: str, message: str) -> None:
        self.problem_count += 1
        self.source.problem(self.line, column, message)

    def cell(self, column: str) -> str:
        return self.cells.get(column, "")

    def _required(self, column: str) -> str | None:
        value = self.cell(column)
        if not value:
            self.problem(column, "is required")
            return None
        return value

    def text(self, column: str, max_length: int, *, required: bool = False) -> str | None:
        value = self._required(column) if required else self.cell(column)
        if value is None:
            return None
        if len(value) > max_length:
            self.problem(column, f"is longer than {max_length} characters")
            return None
        return value

    def optional_text(self, column: str, max_length: int) -> str | None:
        """The text, or None (a database NULL) for an empty cell."""
        return self.text(column, max_length) or None

    def integer(self, column: str, low: int, high: int, default: int | None = None) -> int | None:
        value = self.cell(column) if default is not None else self._required(column)
        if value is None:
            return None
        if not value:
            return default
        if not _INTEGER.match(value):
            self.problem(column, f"{value!r} is not a whole number")
            return None
        number = int(value)
        if not low <= number <= high:
            self.problem(column, f"{number} is not between {low} and {high}")
            return None
        return number

    def number(
        self, column: str, low: float, high: float, default: float | None = None
    ) -> float | None:
        """A decimal number; with ``default=None`` an empty cell is a missing required value."""
        value = self.cell(column) if default is not None else self._required(column)
        if value is None:
            return None
        if not value:
            return default
        if _DECIMAL_COMMA.match(value):
            if not self.source.nordic_locale:
                # In a comma-separated file a decimal comma is a quoting accident as often as
                # a locale's number; refused with the fix rather than guessed.
                self.problem(
                    column, f"{value!r} has a decimal comma; write {value.replace(',', '.')}"
                )
                return None
            value = value.replace(",", ".")
        try:
            number = float(value)
        except ValueError:
            self.problem(column, f"{value!r} is not a number")
            return None
        if not low <= number <= high:  # also refuses nan
            self.problem(column, f"{value} is not between {low:g} and {high:g}")
            return None
        return number

    def optional_number(self, column: str, low: float, high: float) -> float | None:
        value = self.cell(column)
        return self.number(column, low, high) if value else None

    def boolean(self, column: str, default: bool) -> bool | None:
        value = self.cell(column).lower()
        if not value:
            return default
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        self.problem(column, f"{self.cell(column)!r} is not true or false")
        return None

    def day(self, column: str, *, required: bool = True) -> date | None:
        value = self._required(column) if required else self.cell(column)
        if not value:
            return None
        try:
            local = _LOCAL_DATE.match(value) if self.source.nordic_locale else None
            if local is not None:
                day, month, year = (int(part) for part in local.groups())
                return date(year, month, day)
            if not _ISO_DATE.match(value):
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            self.problem(column, f"{value!r} is not a date YYYY-MM-DD")
            return None

    def enum(self, column: str, kind: type[E], default: E | None = None) -> E | None:
        value = self.cell(column) if default is not None else self._required(column)
        if value is None:
            return None
        if not value:
            return default
        return self._member(column, value, kind)

    def _member(self, column: str, value: str, kind: type[E]) -> E | None:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            self.problem(column, f"{value!r} is not one of: {allowed}")
            return None

    def items(self, column: str) -> list[str] | None:
        """The items of a list cell; None (after a problem) when one is listed twice."""
        items = [item.strip() for item in self.cell(column).split(LIST_SEPARATOR)]
        items = [item for item in items if item]
        repeated = sorted({item for item in items if items.count(item) > 1})
        if repeated:
            self.problem(column, f"lists {', '.join(map(repr, repeated))} more than once")
            return None
        return items

    def enum_list(
        self, column: str, kind: type[E], default: Sequence[E] | None = None
    ) -> list[E] | None:
        items = self.items(column)
        if items is None:
            return None
        if not items:
            if default is None:
                return []
            return list(default)
        members = [self._member(column, item, kind) for item in items]
        return None if any(m is None for m in members) else [m for m in members if m is not None]

    def reference(self, column: str, known: Callable[[str], bool], what: str) -> str | None:
        """A required code or URI that must be in the reference data."""
        value = self._required(column)
        if value is None:
            return None
        if not known(value):
            self.problem(column, f"{value!r} is not {what}")
            return None
        return value

    def reference_list(self, column: str, known: Callable[[str], bool], what: str) -> list[str]:
        items = self.items(column) or []
        unknown = [item for item in items if not known(item)]
        for item in unknown:
            self.problem(column, f"{item!r} is not {what}")
        return [item for item in items if known(item)]

    def languages(self, column: str) -> list[LanguageSkill] | None:
        items = self.items(column)
        if items is None:
            return None
        skills: list[LanguageSkill] = []
        seen: set[str] = set()
        for item in items:
            code, _, level = (part.strip() for part in item.partition(":"))
            try:
                skill = LanguageSkill(code, level)  # type: ignore[arg-type]
            except DomainValidationError as error:
                hint = "write code:level, e.g. fi:B1"
                self.problem(column, f"{item!r}: {_describe(error)} ({hint})")
                continue
            if skill.language in seen:
                self.problem(column, f"lists the language {skill.language!r} twice")
                continue
            seen.add(skill.language)
            skills.append(skill)
        return skills if len(skills) == len(items) else None

    def working_life(self, column: str) -> list[WorkingLifeObservation] | None:
        items = self.items(column)
        if items is None:
            return None
        observations: list[WorkingLifeObservation] = []
        for item in items:
            skill, _, level = (part.strip() for part in item.partition(":"))
            try:
                if not _INTEGER.match(level):
                    raise DomainValidationError("level", level, "is not a whole number")
                skill_name = WorkingLifeSkill(skill) if skill in _WORKING_LIFE else skill
                observations.append(WorkingLifeObservation(skill_name, int(level)))  # type: ignore[arg-type]
            except DomainValidationError as error:
                hint = "write skill:level, e.g. teamwork:3"
                self.problem(column, f"{item!r}: {_describe(error)} ({hint})")
        return observations if len(observations) == len(items) else None

    def domain(self, build: Callable[[], Any], renames: Mapping[str, str]) -> Any:
        """Build a domain object, turning its validation error into a problem on a column."""
        try:
            return build()
        except DomainValidationError as error:
            name = re.sub(r"\[\d+\]$", "", error.field.split(".")[-1])
            self.problem(renames.get(name, name), _describe(error))
            return None


def _describe(error: DomainValidationError) -> str:
    return f"{error.value!r} {error.problem}"


def _languages_json(skills: Iterable[LanguageSkill]) -> list[dict[str, str]]:
    return [{"language": s.language, "level": s.level.value} for s in skills]


# --------------------------------------------------------------------------------------------
# Parsing each file
# --------------------------------------------------------------------------------------------


@dataclass
class _Parsed:
    """The rows of one file that passed the row checks, with their line numbers."""

    source: _Source
    rows: list[tuple[_Row, dict[str, Any]]] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)  # primary key -> first line


def _parse(
    path: Path, source: _Source, parse_row: Callable[[_Row], dict[str, Any] | None]
) -> _Parsed:
    parsed = _Parsed(source)
    key = next(iter(COLUMNS[source.kind]))
    for line, cells in _read_rows(path, source):
        row = _Row(source, line, cells)
        record = parse_row(row)
        # Duplicates are checked on the raw id even when the row has other problems.
        key_value = cells.get(key, "")
        if source.kind in ("jobseekers", "assessments", "vacancies") and key_value:
            first = parsed.ids.setdefault(key_value, line)
            if first != line:
                row.problem(key, f"{key_value!r} is already on line {first}")
        if record is not None and row.ok:
            parsed.rows.append((row, record))
    return parsed


def _jobseeker_parser(taxonomy: Taxonomy, geography: Geography) -> Callable[[_Row], Any]:
    def parse(row: _Row) -> dict[str, Any] | None:
        record: dict[str, Any] = {
            "jobseeker_id": row.text("jobseeker_id", 64, required=True),
            "first_name": row.text("first_name", 200, required=True),
            "last_name": row.text("last_name", 200, required=True),
            "email": row.optional_text("email", 254),
            "phone": row.optional_text("phone", 32),
            "home_municipality": row.reference(
                "home_municipality",
                geography.has_municipality,
                "a Finnish or Swedish municipality code",
            ),
            "birth_year": row.integer("birth_year", 1900, 2100),
            "sex": row.enum("sex", Sex),
            "migrant_background": row.boolean("migrant_background", False),
            "unemployment_start": row.day("unemployment_start", required=False),
            "driving_licence": row.boolean("driving_licence", False),
            "max_hours_per_week": row.optional_number("max_hours_per_week", 1, MAX_WEEKLY_HOURS),
            "restrictions": row.enum_list("restrictions", WorkRestriction),
            "preferred_occupations": row.reference_list(
                "preferred_occupations", taxonomy.has_occupation, "an ESCO occupation URI"
            ),
            "max_commute_km": row.number("max_commute_km", 0, 2000, default=30.0),
            "willing_to_relocate": row.boolean("willing_to_relocate", False),
            "accepted_job_forms": row.enum_list("accepted_job_forms", JobForm, list(JobForm)),
            "languages": row.languages("languages"),
            "coach_id": row.text("coach_id", 64, required=True),
            "organisation_id": row.text("organisation_id", 64, required=True),
        }
        if not row.ok:
            return None
        renames = {"occupations": "preferred_occupations", "language": "languages"}
        built = row.domain(
            lambda: Jobseeker(
                jobseeker_id=record["jobseeker_id"],
                home_municipality=record["home_municipality"],
                birth_year=record["birth_year"],
                sex=record["sex"],
                coach_id=record["coach_id"],
                organisation_id=record["organisation_id"],
                languages=tuple(record["languages"]),
                driving_licence=record["driving_licence"],
                unemployment_start=record["unemployment_start"],
                migrant_background=record["migrant_background"],
                work_capacity=WorkCapacity(
                    record["max_hours_per_week"], frozenset(record["restrictions"])
                ),
                preferences=JobPreferences(
                    occupations=tuple(record["preferred_occupations"]),
                    max_commute_km=record["max_commute_km"],
                    willing_to_relocate=record["willing_to_relocate"],
                    accepted_job_forms=frozenset(record["accepted_job_forms"]),
                ),
            ),
            renames,
        )
        if built is None:
            return None
        record["languages"] = _languages_json(record["languages"])
        return record

    return parse


def _parse_assessment(row: _Row) -> dict[str, Any] | None:
    record: dict[str, Any] = {
        "assessment_id": row.text("assessment_id", 64, required=True),
        "jobseeker_id": row.text("jobseeker_id", 64, required=True),
        "coach_id": row.text("coach_id", 64, required=True),
        "assessed_on": row.day("assessed_on"),
        "method": row.enum("method", AssessmentMethod),
        "note": row.text("note", MAX_NOTE_LENGTH) or "",
        "working_life": row.working_life("working_life"),
    }
    if not row.ok:
        return None
    working_life = record["working_life"]
    skills = [o.skill for o in working_life]
    repeated = sorted({s.value for s in skills if skills.count(s) > 1})
    if repeated:
        row.problem("working_life", f"lists {', '.join(map(repr, repeated))} more than once")
        return None
    built = row.domain(
        lambda: CoachingAssessment(
            assessment_id=record["assessment_id"],
            jobseeker_id=record["jobseeker_id"],
            coach_id=record["coach_id"],
            assessed_on=record["assessed_on"],
            method=record["method"],
            working_life=tuple(working_life),
            note=record["note"],
        ),
        {},
    )
    return None if built is None else record


def _skill_observation_parser(taxonomy: Taxonomy) -> Callable[[_Row], Any]:
    def parse(row: _Row) -> dict[str, Any] | None:
        record: dict[str, Any] = {
            "assessment_id": row.text("assessment_id", 64, required=True),
            "skill_uri": row.reference("skill_uri", taxonomy.has_skill, "an ESCO skill URI"),
            "level": row.integer("level", SKILL_LEVEL_MIN, SKILL_LEVEL_MAX),
            "confidence": row.number("confidence", 0, 1, default=1.0),
        }
        if not row.ok:
            return None
        built = row.domain(
            lambda: SkillObservation(record["skill_uri"], record["level"], record["confidence"]),
            {},
        )
        return None if built is None else record

    return parse


def _vacancy_parser(taxonomy: Taxonomy, geography: Geography) -> Callable[[_Row], Any]:
    def parse(row: _Row) -> dict[str, Any] | None:
        record: dict[str, Any] = {
            "vacancy_id": row.text("vacancy_id", 64, required=True),
            "supplier_id": row.text("supplier_id", 64, required=True),
            "contract_id": row.optional_text("contract_id", 64),
            "condition_id": row.optional_text("condition_id", 64),
            "occupation_uri": row.reference(
                "occupation_uri", taxonomy.has_occupation, "an ESCO occupation URI"
            ),
            "title": row.text("title", 300, required=True),
            "municipality": row.reference(
                "municipality", geography.has_municipality, "a Finnish or Swedish municipality code"
            ),
            "job_form": row.enum("job_form", JobForm),
            "opens_on": row.day("opens_on"),
            "closes_on": row.day("closes_on"),
            "remote_share": row.number("remote_share", 0, 1, default=0.0),
            "hours_per_week": row.number(
                "hours_per_week", 1, MAX_WEEKLY_HOURS, default=FULL_TIME_HOURS
            ),
            "shift_work": row.boolean("shift_work", False),
            "night_work": row.boolean("night_work", False),
            "physical_demand": row.enum("physical_demand", PhysicalDemand, PhysicalDemand.LIGHT),
            "languages": row.languages("languages"),
            "driving_licence_required": row.boolean("driving_licence_required", False),
            "openings": row.integer("openings", 1, 10_000, default=1),
        }
        if not row.ok:
            return None
        built = row.domain(
            lambda: Vacancy(
                **{k: v for k, v in record.items() if k != "languages"},
                languages=tuple(record["languages"]),
            ),
            {"language": "languages"},
        )
        if built is None:
            return None
        record["languages"] = _languages_json(record["languages"])
        return record

    return parse


def _vacancy_skill_parser(taxonomy: Taxonomy) -> Callable[[_Row], Any]:
    def parse(row: _Row) -> dict[str, Any] | None:
        record: dict[str, Any] = {
            "vacancy_id": row.text("vacancy_id", 64, required=True),
            "skill_uri": row.reference("skill_uri", taxonomy.has_skill, "an ESCO skill URI"),
            "required": row.boolean("required", True),
            "min_level": row.integer("min_level", SKILL_LEVEL_MIN, SKILL_LEVEL_MAX, default=1),
        }
        if not row.ok:
            return None
        built = row.domain(
            lambda: VacancySkill(record["skill_uri"], record["required"], record["min_level"]),
            {},
        )
        return None if built is None else record

    return parse


# --------------------------------------------------------------------------------------------
# Checks against the other files and the database
# --------------------------------------------------------------------------------------------


def _existing(
    connection: Connection, column: Any, values: Iterable[str], *extra: Any
) -> dict[str, tuple[Any, ...]]:
    """``{value: (extra columns...)}`` for the values of ``column`` found in the database."""
    wanted = sorted(set(values))
    found: dict[str, tuple[Any, ...]] = {}
    for start in range(0, len(wanted), _LOOKUP_CHUNK):
        chunk = wanted[start : start + _LOOKUP_CHUNK]
        statement = select(column, *extra).where(column.in_(chunk))
        for row in connection.execute(statement):
            found[row[0]] = tuple(row[1:])
    return found


def _existing_pairs(
    connection: Connection, first: Any, second: Any, pairs: Iterable[tuple[str, str]]
) -> set[tuple[str, str]]:
    wanted = sorted(set(pairs))
    found: set[tuple[str, str]] = set()
    for start in range(0, len(wanted), _LOOKUP_CHUNK // 2):
        chunk = wanted[start : start + _LOOKUP_CHUNK // 2]
        statement = select(first, second).where(tuple_(first, second).in_(chunk))
        found.update((a, b) for a, b in connection.execute(statement))
    return found


def _check_jobseekers(connection: Connection, parsed: _Parsed) -> None:
    records = [record for _, record in parsed.rows]
    taken = _existing(
        connection, JobseekerRecord.jobseeker_id, (r["jobseeker_id"] for r in records)
    )
    coaches = _existing(
        connection,
        CoachRecord.coach_id,
        (r["coach_id"] for r in records),
        CoachRecord.organisation_id,
    )
    organisations = _existing(
        connection, OrganisationRecord.organisation_id, (r["organisation_id"] for r in records)
    )
    for row, record in parsed.rows:
        if record["jobseeker_id"] in taken:
            row.problem(
                "jobseeker_id", f"{record['jobseeker_id']!r} already exists in the database"
            )
        coach = coaches.get(record["coach_id"])
        if coach is None:
            row.problem("coach_id", f"{record['coach_id']!r} is not a coach in the database")
        if record["organisation_id"] not in organisations:
            row.problem(
                "organisation_id",
                f"{record['organisation_id']!r} is not an organisation in the database",
            )
        elif coach is not None and coach[0] != record["organisation_id"]:
            row.problem(
                "organisation_id",
                f"{record['organisation_id']!r} is not the organisation of coach "
                f"{record['coach_id']!r} ({coach[0]!r})",
            )


def _check_assessments(
    connection: Connection, parsed: _Parsed, jobseekers_in_files: Mapping[str, int]
) -> None:
    records = [record for _, record in parsed.rows]
    taken = _existing(
        connection, AssessmentRecord.assessment_id, (r["assessment_id"] for r in records)
    )
    known_jobseekers = _existing(
        connection,
        JobseekerRecord.jobseeker_id,
        (r["jobseeker_id"] for r in records if r["jobseeker_id"] not in jobseekers_in_files),
    )
    coaches = _existing(connection, CoachRecord.coach_id, (r["coach_id"] for r in records))
    for row, record in parsed.rows:
        if record["assessment_id"] in taken:
            row.problem(
                "assessment_id", f"{record['assessment_id']!r} already exists in the database"
            )
        jobseeker = record["jobseeker_id"]
        if jobseeker not in jobseekers_in_files and jobseeker not in known_jobseekers:
            row.problem(
                "jobseeker_id",
                f"{jobseeker!r} is neither in the jobseekers file nor in the database",
            )
        if record["coach_id"] not in coaches:
            row.problem("coach_id", f"{record['coach_id']!r} is not a coach in the database")


def _check_children(
    connection: Connection,
    parsed: _Parsed,
    *,
    parent_column: str,
    parent_label: str,
    parents_in_files: Mapping[str, Any],
    parent_key: Any,
    parent_extra: Sequence[Any],
    pair_columns: tuple[Any, Any],
) -> dict[str, tuple[Any, ...]]:
    """References from observation/skill rows to their assessment/vacancy, and duplicates.

    Returns the parents found in the database (with ``parent_extra`` columns).
    """
    records = [record for _, record in parsed.rows]
    in_database = _existing(
        connection,
        parent_key,
        (r[parent_column] for r in records if r[parent_column] not in parents_in_files),
        *parent_extra,
    )
    existing_pairs = _existing_pairs(
        connection,
        *pair_columns,
        ((r[parent_column], r["skill_uri"]) for r in records if r[parent_column] in in_database),
    )
    first_line: dict[tuple[str, str], int] = {}
    for row, record in parsed.rows:
        parent = record[parent_column]
        if parent not in parents_in_files and parent not in in_database:
            row.problem(
                parent_column,
                f"{parent!r} is neither in the {parent_label} file nor in the database",
            )
        pair = (parent, record["skill_uri"])
        first = first_line.setdefault(pair, row.line)
        if first != row.line:
            row.problem(
                "skill_uri", f"{pair[1]!r} is already listed for {parent!r} on line {first}"
            )
        elif pair in existing_pairs:
            row.problem(
                "skill_uri", f"{pair[1]!r} is already recorded for {parent!r} in the database"
            )
    return in_database


def _check_vacancies(connection: Connection, parsed: _Parsed) -> None:
    records = [record for _, record in parsed.rows]
    taken = _existing(connection, VacancyRecord.vacancy_id, (r["vacancy_id"] for r in records))
    suppliers = _existing(
        connection, SupplierRecord.supplier_id, (r["supplier_id"] for r in records)
    )
    contracts = _existing(
        connection,
        ContractRecord.contract_id,
        (r["contract_id"] for r in records if r["contract_id"]),
        ContractRecord.supplier_id,
    )
    conditions = _existing(
        connection,
        EmploymentConditionRecord.condition_id,
        (r["condition_id"] for r in records if r["condition_id"]),
        EmploymentConditionRecord.contract_id,
        EmploymentConditionRecord.allowed_job_forms,
    )
    for row, record in parsed.rows:
        vacancy_id, supplier_id = record["vacancy_id"], record["supplier_id"]
        contract_id, condition_id = record["contract_id"], record["condition_id"]
        if vacancy_id in taken:
            row.problem("vacancy_id", f"{vacancy_id!r} already exists in the database")
        if supplier_id not in suppliers:
            row.problem("supplier_id", f"{supplier_id!r} is not a supplier in the database")
        contract = contracts.get(contract_id) if contract_id else None
        if contract_id and contract is None:
            row.problem("contract_id", f"{contract_id!r} is not a contract in the database")
        elif contract is not None and supplier_id in suppliers and contract[0] != supplier_id:
            row.problem(
                "contract_id",
                f"{contract_id!r} is a contract of supplier {contract[0]!r}, not {supplier_id!r}",
            )
        condition = conditions.get(condition_id) if condition_id else None
        if condition_id and condition is None:
            row.problem(
                "condition_id", f"{condition_id!r} is not an employment condition in the database"
            )
        elif condition is not None:
            condition_contract, allowed = condition
            if condition_contract != contract_id:
                row.problem(
                    "condition_id",
                    f"{condition_id!r} belongs to contract {condition_contract!r}, "
                    f"not {contract_id!r}",
                )
            elif record["job_form"].value not in allowed:
                row.problem(
                    "job_form",
                    f"{record['job_form'].value!r} is not allowed by condition {condition_id!r} "
                    f"(allowed: {', '.join(allowed)})",
                )


# --------------------------------------------------------------------------------------------
# The import
# --------------------------------------------------------------------------------------------


def import_csv(
    engine: Engine, files: CsvFiles, taxonomy: Taxonomy, geography: Geography
) -> CsvImportResult:
    """Check every row of ``files`` and, when all are valid, insert them in one transaction.

    Raises :class:`CsvImportError` with every problem otherwise (and writes nothing).
    """
    given = files.given()
    if not given:
        raise ValueError("no CSV file given")
    problems: list[CsvProblem] = []
    parsers: dict[str, Callable[[_Row], Any]] = {
        "jobseekers": _jobseeker_parser(taxonomy, geography),
        "assessments": _parse_assessment,
        "skill_observations": _skill_observation_parser(taxonomy),
        "vacancies": _vacancy_parser(taxonomy, geography),
        "vacancy_skills": _vacancy_skill_parser(taxonomy),
    }
    parsed = {
        kind: _parse(path, _Source(kind, str(path), problems), parsers[kind])
        for kind, path in given.items()
    }
    empty = {kind: _Parsed(_Source(kind, kind, problems)) for kind in parsers if kind not in parsed}
    parsed |= empty

    with engine.begin() as connection:
        _check_jobseekers(connection, parsed["jobseekers"])
        _check_assessments(connection, parsed["assessments"], parsed["jobseekers"].ids)
        assessments_in_file = {
            record["assessment_id"]: record["jobseeker_id"]
            for _, record in parsed["assessments"].rows
        }
        assessments_in_database = _check_children(
            connection,
            parsed["skill_observations"],
            parent_column="assessment_id",
            parent_label="assessments",
            parents_in_files=parsed["assessments"].ids,
            parent_key=AssessmentRecord.assessment_id,
            parent_extra=[AssessmentRecord.jobseeker_id],
            pair_columns=(SkillObservationRecord.assessment_id, SkillObservationRecord.skill_uri),
        )
        _check_vacancies(connection, parsed["vacancies"])
        _check_children(
            connection,
            parsed["vacancy_skills"],
            parent_column="vacancy_id",
            parent_label="vacancies",
            parents_in_files=parsed["vacancies"].ids,
            parent_key=VacancyRecord.vacancy_id,
            parent_extra=[],
            pair_columns=(VacancySkillRecord.vacancy_id, VacancySkillRecord.skill_uri),
        )
        if problems:
            order = {kind: i for i, kind in enumerate(COLUMNS)}
            kind_of = {str(path): kind for kind, path in given.items()}
            problems.sort(key=lambda p: (order[kind_of.get(p.file, p.file)], p.line))
            raise CsvImportError(problems)

        jobseeker_of = {
            **{k: v[0] for k, v in assessments_in_database.items()},
            **assessments_in_file,
        }
        return _insert(connection, parsed, jobseeker_of)


def _records(parsed: _Parsed) -> list[dict[str, Any]]:
    return [record for _, record in parsed.rows]


def _insert_rows(connection: Connection, record: type[Base], rows: list[dict[str, Any]]) -> int:
    if rows:
        table = record.__table__
        assert isinstance(table, Table)
        connection.execute(insert(table), rows)
    return len(rows)


def _insert(
    connection: Connection, parsed: Mapping[str, _Parsed], jobseeker_of: Mapping[str, str]
) -> CsvImportResult:
    jobseekers = _records(parsed["jobseekers"])
    assessments = _records(parsed["assessments"])
    observations = [
        record | {"jobseeker_id": jobseeker_of[record["assessment_id"]]}
        for record in _records(parsed["skill_observations"])
    ]
    working_life = [
        {"assessment_id": record["assessment_id"], "skill": o.skill.value, "level": o.level}
        for record in assessments
        for o in record["working_life"]
    ]
    vacancies = _records(parsed["vacancies"])
    vacancy_skills = _records(parsed["vacancy_skills"])
    counts = {
        "jobseekers": _insert_rows(connection, JobseekerRecord, jobseekers),
        "assessments": _insert_rows(
            connection,
            AssessmentRecord,
            [{k: v for k, v in r.items() if k != "working_life"} for r in assessments],
        ),
        "working_life_observations": _insert_rows(
            connection, WorkingLifeObservationRecord, working_life
        ),
        "skill_observations": _insert_rows(connection, SkillObservationRecord, observations),
        "vacancies": _insert_rows(connection, VacancyRecord, vacancies),
        "vacancy_skills": _insert_rows(connection, VacancySkillRecord, vacancy_skills),
    }
    # A jobseeker whose evidence changed needs a new profile, as does a new jobseeker.
    changed_jobseekers = [r["jobseeker_id"] for r in jobseekers]
    changed_jobseekers += [r["jobseeker_id"] for r in assessments]
    changed_jobseekers += [r["jobseeker_id"] for r in observations]
    changed_vacancies = [r["vacancy_id"] for r in vacancies] + [
        r["vacancy_id"] for r in vacancy_skills
    ]
    changes = record_changes(connection, ChangeEntity.JOBSEEKER, changed_jobseekers)
    changes += record_changes(connection, ChangeEntity.VACANCY, changed_vacancies)
    return CsvImportResult(**counts, changes=changes)
