"""Domain types of Kohtaanto: jobseekers, coaching assessments, contracts, vacancies, outcomes.

Every type is an immutable value object that validates itself when it is built and raises
:class:`DomainValidationError` naming the bad field and value. Change a value with
``dataclasses.replace``, which validates the new object again.

Whether an ESCO URI, a municipality code or a CPV code actually exists is not known here (the
domain does not read reference data); :func:`check_references` checks an object against any
:class:`ReferenceCatalog`, which the taxonomy and geography loaders provide.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar

# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class DomainValidationError(ValueError):
    """A domain value was built from a bad field value."""

    def __init__(self, field_path: str, value: object, problem: str) -> None:
        self.field = field_path
        self.value = value
        self.problem = problem
        super().__init__(f"{field_path}: {value!r} {problem}")


class UnknownReferenceError(DomainValidationError):
    """A field names an ESCO concept, municipality or CPV code that the reference data lacks."""


# --------------------------------------------------------------------------------------------
# Vocabularies
# --------------------------------------------------------------------------------------------


class Country(StrEnum):
    FI = "FI"
    SE = "SE"


class CEFRLevel(StrEnum):
    """Common European Framework of Reference language levels, plus native speakers."""

    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    C1 = "C1"
    C2 = "C2"
    NATIVE = "native"

    @property
    def step(self) -> int:
        """Ordinal 1 (A1) .. 7 (native), so that a gap can be counted in CEFR steps."""
        return _CEFR_ORDER.index(self) + 1


_CEFR_ORDER = list(CEFRLevel)


class AssessmentMethod(StrEnum):
    """How a coach recognised a skill; the order is the strength of the evidence."""

    WORK_TRIAL = "work_trial"
    OBSERVATION = "observation"
    TEST = "test"
    CERTIFICATE = "certificate"
    SELF_REPORT = "self_report"


class JobForm(StrEnum):
    EMPLOYMENT = "employment"
    APPRENTICESHIP = "apprenticeship"  # fi. oppisopimus
    WORK_TRIAL = "work_trial"  # fi. työkokeilu
    PAY_SUBSIDISED = "pay_subsidised"  # fi. palkkatuki, sv. lönebidrag


class WorkRestriction(StrEnum):
    """Limits of a person's work ability that a coach records (partial work capacity)."""

    NO_HEAVY_LIFTING = "no_heavy_lifting"
    NO_NIGHT_WORK = "no_night_work"
    NO_SHIFT_WORK = "no_shift_work"
    NO_PROLONGED_STANDING = "no_prolonged_standing"
    NO_OUTDOOR_WORK = "no_outdoor_work"


class PhysicalDemand(StrEnum):
    LIGHT = "light"
    MODERATE = "moderate"
    HEAVY = "heavy"


class WorkingLifeSkill(StrEnum):
    """Working-life skills a coach observes beside the ESCO skills."""

    PUNCTUALITY = "punctuality"
    TEAMWORK = "teamwork"
    CUSTOMER_SERVICE = "customer_service"
    INDEPENDENCE = "independence"
    SAFETY_AWARENESS = "safety_awareness"
    COMMUNICATION = "communication"


class Sex(StrEnum):
    """Recorded only for equality statistics; never a matching feature."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class TargetGroup(StrEnum):
    REGISTERED_UNEMPLOYED = "registered_unemployed"  # registered unemployed, any duration
    UNEMPLOYED_3M = "unemployed_3m"
    LONG_TERM_UNEMPLOYED = "long_term_unemployed"
    YOUNG = "young"
    OLDER = "older"
    MIGRANT_BACKGROUND = "migrant_background"
    PARTIAL_WORK_CAPACITY = "partial_work_capacity"


class BuyerKind(StrEnum):
    MUNICIPALITY = "municipality"
    CENTRAL_PURCHASING_BODY = "central_purchasing_body"


class OutcomeStage(StrEnum):
    SUGGESTED = "suggested"
    PROPOSED = "proposed"
    INTERVIEWED = "interviewed"
    HIRED = "hired"
    RETAINED_6M = "retained_6m"
    RETAINED_12M = "retained_12m"
    #: The employment that began with a hire ended: the person is a jobseeker again.
    EMPLOYMENT_ENDED = "employment_ended"
    DECLINED_BY_EMPLOYER = "declined_by_employer"
    DECLINED_BY_JOBSEEKER = "declined_by_jobseeker"


class ReasonCode(StrEnum):
    """Structured reasons why a suggestion or proposal did not go further."""

    COMMUTE = "commute"
    LANGUAGE = "language"
    SKILLS = "skills"
    WORK_ABILITY = "work_ability"
    HOURS = "hours"
    NOT_INTERESTED = "not_interested"
    POSITION_FILLED = "position_filled"
    OTHER = "other"


DECLINE_STAGES = frozenset({OutcomeStage.DECLINED_BY_EMPLOYER, OutcomeStage.DECLINED_BY_JOBSEEKER})

SKILL_LEVEL_MIN, SKILL_LEVEL_MAX = 1, 4
FULL_TIME_HOURS = 37.5
MAX_WEEKLY_HOURS = 60.0
ESCO_SKILL_PREFIX = "http://data.europa.eu/esco/skill/"
ESCO_OCCUPATION_PREFIX = "http://data.europa.eu/esco/occupation/"

_MUNICIPALITY_CODE = re.compile(r"^(\d{3}|\d{4})$")
_CPV_CODE = re.compile(r"^\d{8}(-\d)?$")
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_ESCO_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
E = TypeVar("E", bound=StrEnum)
_EARLIEST_DATE = date(1900, 1, 1)
_LATEST_DATE = date(2100, 12, 31)
MAX_NOTE_LENGTH = 4000


# --------------------------------------------------------------------------------------------
# Field validators: each returns the normalised value or raises naming the field path.
# --------------------------------------------------------------------------------------------


def _identifier(path: str, value: object) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise DomainValidationError(
            path, value, "is not an identifier (1-64 letters, digits, '_', '.', ':' or '-')"
        )
    return value


def _optional_identifier(path: str, value: object) -> str | None:
    return None if value is None else _identifier(path, value)


def _enum(path: str, value: object, enum: type[E]) -> E:
    if isinstance(value, enum):
        return value
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise DomainValidationError(path, value, f"is not one of: {allowed}") from None


def _enum_set(path: str, values: Iterable[object], enum: type[E]) -> frozenset[E]:
    if isinstance(values, str):
        raise DomainValidationError(path, values, "must be a collection, not a single string")
    return frozenset(_enum(f"{path}[{i}]", v, enum) for i, v in enumerate(values))


def _bool(path: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise DomainValidationError(path, value, "must be true or false")
    return value


def _number(path: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DomainValidationError(path, value, "must be a finite number")
    if not low <= value <= high:
        raise DomainValidationError(path, value, f"must be between {low:g} and {high:g}")
    return float(value)


def _integer(path: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainValidationError(path, value, "must be a whole number")
    if not low <= value <= high:
        raise DomainValidationError(path, value, f"must be between {low} and {high}")
    return value


def _date(path: str, value: object) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise DomainValidationError(path, value, "must be a calendar date")
    if not _EARLIEST_DATE <= value <= _LATEST_DATE:
        raise DomainValidationError(path, value, "is outside 1900-01-01 .. 2100-12-31")
    return value


def _text(path: str, value: object, max_length: int, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise DomainValidationError(path, value, "must be text")
    if "\x00" in value:
        raise DomainValidationError(path, value, "contains a NUL character")
    if len(value) > max_length:
        raise DomainValidationError(path, value[:40] + "...", f"is longer than {max_length}")
    if required and not value.strip():
        raise DomainValidationError(path, value, "must not be empty")
    return value


def _esco_uri(path: str, value: object, prefix: str) -> str:
    if (
        not isinstance(value, str)
        or not value.startswith(prefix)
        or not _ESCO_ID.match(value[len(prefix) :])
    ):
        raise DomainValidationError(path, value, f"is not an ESCO URI of the form {prefix}<uuid>")
    return value


def _municipality(path: str, value: object) -> str:
    if not isinstance(value, str) or not _MUNICIPALITY_CODE.match(value):
        raise DomainValidationError(
            path, value, "is not a municipality code (3 digits in Finland, 4 in Sweden)"
        )
    return value


def _set(obj: object, name: str, value: object) -> None:
    # Frozen dataclasses normalise their own fields in __post_init__ this way.
    object.__setattr__(obj, name, value)


# --------------------------------------------------------------------------------------------
# Jobseekers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LanguageSkill:
    """A language and its CEFR level (ISO 639-1 code, e.g. 'fi', 'sv', 'en')."""

    language: str
    level: CEFRLevel

    def __post_init__(self) -> None:
        if not isinstance(self.language, str) or not _LANGUAGE_CODE.match(self.language):
            raise DomainValidationError("language", self.language, "is not an ISO 639 code")
        _set(self, "level", _enum("level", self.level, CEFRLevel))


@dataclass(frozen=True, slots=True)
class WorkCapacity:
    """Work ability as a coach records it; ``max_hours_per_week`` None means full time."""

    max_hours_per_week: float | None = None
    restrictions: frozenset[WorkRestriction] = frozenset()

    def __post_init__(self) -> None:
        if self.max_hours_per_week is not None:
            hours = _number("max_hours_per_week", self.max_hours_per_week, 1, MAX_WEEKLY_HOURS)
            _set(self, "max_hours_per_week", hours)
        _set(self, "restrictions", _enum_set("restrictions", self.restrictions, WorkRestriction))

    @property
    def is_partial(self) -> bool:
        """Partial work capacity: fewer than full-time hours or any recorded restriction."""
        hours = self.max_hours_per_week
        return bool(self.restrictions) or (hours is not None and hours < FULL_TIME_HOURS)


@dataclass(frozen=True, slots=True)
class JobPreferences:
    """What the jobseeker is looking for."""

    occupations: tuple[str, ...] = ()
    max_commute_km: float = 30.0
    willing_to_relocate: bool = False
    accepted_job_forms: frozenset[JobForm] = frozenset(JobForm)

    def __post_init__(self) -> None:
        _set(
            self,
            "occupations",
            tuple(
                _esco_uri(f"occupations[{i}]", uri, ESCO_OCCUPATION_PREFIX)
                for i, uri in enumerate(self.occupations)
            ),
        )
        _set(self, "max_commute_km", _number("max_commute_km", self.max_commute_km, 0, 2000))
        _bool("willing_to_relocate", self.willing_to_relocate)
        forms = _enum_set("accepted_job_forms", self.accepted_job_forms, JobForm)
        if not forms:
            raise DomainValidationError("accepted_job_forms", [], "must accept at least one form")
        _set(self, "accepted_job_forms", forms)


@dataclass(frozen=True, slots=True)
class Jobseeker:
    """A jobseeker in a coach's caseload.

    ``birth_year``, ``sex``, ``migrant_background`` and the work-capacity details are
    personal data: they decide target-group eligibility and feed equality statistics, and are
    never shown to employers nor used as ranking features.
    """

    jobseeker_id: str
    home_municipality: str
    birth_year: int
    sex: Sex
    coach_id: str
    organisation_id: str
    languages: tuple[LanguageSkill, ...] = ()
    driving_licence: bool = False
    unemployment_start: date | None = None
    migrant_background: bool = False
    work_capacity: WorkCapacity = field(default_factory=WorkCapacity)
    preferences: JobPreferences = field(default_factory=JobPreferences)

    def __post_init__(self) -> None:
        _identifier("jobseeker_id", self.jobseeker_id)
        _municipality("home_municipality", self.home_municipality)
        _integer("birth_year", self.birth_year, 1900, 2100)
        _set(self, "sex", _enum("sex", self.sex, Sex))
        _identifier("coach_id", self.coach_id)
        _identifier("organisation_id", self.organisation_id)
        _bool("driving_licence", self.driving_licence)
        _bool("migrant_background", self.migrant_background)
        if self.unemployment_start is not None:
            _date("unemployment_start", self.unemployment_start)
        languages = tuple(self.languages)
        for i, language in enumerate(languages):
            if not isinstance(language, LanguageSkill):
                raise DomainValidationError(f"languages[{i}]", language, "is not a LanguageSkill")
        seen = [language.language for language in languages]
        if len(seen) != len(set(seen)):
            raise DomainValidationError("languages", seen, "lists a language twice")
        _set(self, "languages", languages)

    def language_level(self, language: str) -> CEFRLevel | None:
        """The recorded level of ``language``, or None."""
        for skill in self.languages:
            if skill.language == language:
                return skill.level
        return None


# --------------------------------------------------------------------------------------------
# Coaching assessments
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SkillObservation:
    """One ESCO skill a coach recognised, at level 1 (basic) .. 4 (expert)."""

    skill_uri: str
    level: int
    confidence: float = 1.0

    def __post_init__(self) -> None:
        _esco_uri("skill_uri", self.skill_uri, ESCO_SKILL_PREFIX)
        _integer("level", self.level, SKILL_LEVEL_MIN, SKILL_LEVEL_MAX)
        _set(self, "confidence", _number("confidence", self.confidence, 0, 1))


@dataclass(frozen=True, slots=True)
class WorkingLifeObservation:
    skill: WorkingLifeSkill
    level: int

    def __post_init__(self) -> None:
        _set(self, "skill", _enum("skill", self.skill, WorkingLifeSkill))
        _integer("level", self.level, SKILL_LEVEL_MIN, SKILL_LEVEL_MAX)


@dataclass(frozen=True, slots=True)
class CoachingAssessment:
    """What a coach recognised about a jobseeker on one occasion, and how."""

    assessment_id: str
    jobseeker_id: str
    coach_id: str
    assessed_on: date
    method: AssessmentMethod
    observations: tuple[SkillObservation, ...] = ()
    working_life: tuple[WorkingLifeObservation, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        _identifier("assessment_id", self.assessment_id)
        _identifier("jobseeker_id", self.jobseeker_id)
        _identifier("coach_id", self.coach_id)
        _date("assessed_on", self.assessed_on)
        _set(self, "method", _enum("method", self.method, AssessmentMethod))
        observations = tuple(self.observations)
        uris = [o.skill_uri for o in observations]
        if len(uris) != len(set(uris)):
            raise DomainValidationError("observations", uris, "observe the same skill twice")
        _set(self, "observations", observations)
        _set(self, "working_life", tuple(self.working_life))
        _text("note", self.note, MAX_NOTE_LENGTH)


# --------------------------------------------------------------------------------------------
# Procurement: suppliers, contracts, employment conditions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Supplier:
    supplier_id: str
    name: str
    country: Country
    municipality: str
    business_id: str = ""  # fi. Y-tunnus, sv. organisationsnummer

    def __post_init__(self) -> None:
        _identifier("supplier_id", self.supplier_id)
        _text("name", self.name, 200, required=True)
        _set(self, "country", _enum("country", self.country, Country))
        _municipality("municipality", self.municipality)
        _text("business_id", self.business_id, 32)


@dataclass(frozen=True, slots=True)
class ProcurementContract:
    """A public contract; ``buyer_municipality`` is None for a central purchasing body."""

    contract_id: str
    buyer_id: str
    buyer_kind: BuyerKind
    supplier_id: str
    cpv_code: str
    title: str
    starts_on: date
    ends_on: date
    value_eur: float
    buyer_municipality: str | None = None

    def __post_init__(self) -> None:
        _identifier("contract_id", self.contract_id)
        _identifier("buyer_id", self.buyer_id)
        _set(self, "buyer_kind", _enum("buyer_kind", self.buyer_kind, BuyerKind))
        _identifier("supplier_id", self.supplier_id)
        if not isinstance(self.cpv_code, str) or not _CPV_CODE.match(self.cpv_code):
            raise DomainValidationError("cpv_code", self.cpv_code, "is not a CPV code (12345678-9)")
        _text("title", self.title, 300, required=True)
        _date("starts_on", self.starts_on)
        _date("ends_on", self.ends_on)
        if self.ends_on < self.starts_on:
            raise DomainValidationError("ends_on", self.ends_on, "is before starts_on")
        _set(self, "value_eur", _number("value_eur", self.value_eur, 0, 1e12))
        if self.buyer_municipality is not None:
            _municipality("buyer_municipality", self.buyer_municipality)
        elif self.buyer_kind is BuyerKind.MUNICIPALITY:
            raise DomainValidationError(
                "buyer_municipality", None, "is required when the buyer is a municipality"
            )


@dataclass(frozen=True, slots=True)
class EmploymentCondition:
    """The social clause of a contract: whom the supplier must employ, how many, by when."""

    condition_id: str
    contract_id: str
    target_groups: frozenset[TargetGroup]
    hires_required: int
    deadline: date
    allowed_job_forms: frozenset[JobForm] = frozenset(JobForm)
    performance_based: bool = False

    def __post_init__(self) -> None:
        _identifier("condition_id", self.condition_id)
        _identifier("contract_id", self.contract_id)
        groups = _enum_set("target_groups", self.target_groups, TargetGroup)
        if not groups:
            raise DomainValidationError("target_groups", [], "must name at least one group")
        _set(self, "target_groups", groups)
        _integer("hires_required", self.hires_required, 1, 100_000)
        _date("deadline", self.deadline)
        forms = _enum_set("allowed_job_forms", self.allowed_job_forms, JobForm)
        if not forms:
            raise DomainValidationError("allowed_job_forms", [], "must allow at least one form")
        _set(self, "allowed_job_forms", forms)
        _bool("performance_based", self.performance_based)


# --------------------------------------------------------------------------------------------
# Vacancies
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VacancySkill:
    """A skill a vacancy asks for; ``required`` skills weigh more than optional ones."""

    skill_uri: str
    required: bool = True
    min_level: int = 1

    def __post_init__(self) -> None:
        _esco_uri("skill_uri", self.skill_uri, ESCO_SKILL_PREFIX)
        _bool("required", self.required)
        _integer("min_level", self.min_level, SKILL_LEVEL_MIN, SKILL_LEVEL_MAX)


@dataclass(frozen=True, slots=True)
class Vacancy:
    """A job a supplier opens, usually to meet a contract's employment condition."""

    vacancy_id: str
    supplier_id: str
    occupation_uri: str
    municipality: str
    job_form: JobForm
    opens_on: date
    closes_on: date
    contract_id: str | None = None
    condition_id: str | None = None
    title: str = ""
    skills: tuple[VacancySkill, ...] = ()
    remote_share: float = 0.0
    hours_per_week: float = FULL_TIME_HOURS
    shift_work: bool = False
    night_work: bool = False
    physical_demand: PhysicalDemand = PhysicalDemand.LIGHT
    languages: tuple[LanguageSkill, ...] = ()
    driving_licence_required: bool = False
    openings: int = 1

    def __post_init__(self) -> None:
        _identifier("vacancy_id", self.vacancy_id)
        _identifier("supplier_id", self.supplier_id)
        _esco_uri("occupation_uri", self.occupation_uri, ESCO_OCCUPATION_PREFIX)
        _municipality("municipality", self.municipality)
        _set(self, "job_form", _enum("job_form", self.job_form, JobForm))
        _date("opens_on", self.opens_on)
        _date("closes_on", self.closes_on)
        if self.closes_on < self.opens_on:
            raise DomainValidationError("closes_on", self.closes_on, "is before opens_on")
        _optional_identifier("contract_id", self.contract_id)
        _optional_identifier("condition_id", self.condition_id)
        if self.condition_id is not None and self.contract_id is None:
            raise DomainValidationError("contract_id", None, "is required with a condition_id")
        _text("title", self.title, 300)
        skills = tuple(self.skills)
        uris = [s.skill_uri for s in skills]
        if len(uris) != len(set(uris)):
            raise DomainValidationError("skills", uris, "name the same skill twice")
        _set(self, "skills", skills)
        _set(self, "remote_share", _number("remote_share", self.remote_share, 0, 1))
        hours = _number("hours_per_week", self.hours_per_week, 1, MAX_WEEKLY_HOURS)
        _set(self, "hours_per_week", hours)
        _bool("shift_work", self.shift_work)
        _bool("night_work", self.night_work)
        demand = _enum("physical_demand", self.physical_demand, PhysicalDemand)
        _set(self, "physical_demand", demand)
        _set(self, "languages", tuple(self.languages))
        _bool("driving_licence_required", self.driving_licence_required)
        _integer("openings", self.openings, 1, 10_000)

    @property
    def required_skills(self) -> tuple[VacancySkill, ...]:
        return tuple(s for s in self.skills if s.required)

    def is_open_on(self, day: date) -> bool:
        return self.opens_on <= day <= self.closes_on


# --------------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutcomeEvent:
    """One step of a jobseeker's path through a vacancy, with the reason when it ended."""

    event_id: str
    jobseeker_id: str
    vacancy_id: str
    stage: OutcomeStage
    occurred_at: datetime
    reason: ReasonCode | None = None

    def __post_init__(self) -> None:
        _identifier("event_id", self.event_id)
        _identifier("jobseeker_id", self.jobseeker_id)
        _identifier("vacancy_id", self.vacancy_id)
        _set(self, "stage", _enum("stage", self.stage, OutcomeStage))
        if not isinstance(self.occurred_at, datetime):
            raise DomainValidationError("occurred_at", self.occurred_at, "must be a date and time")
        if self.reason is not None:
            _set(self, "reason", _enum("reason", self.reason, ReasonCode))
        elif self.stage in DECLINE_STAGES:
            raise DomainValidationError("reason", None, "is required when a stage is a decline")


# --------------------------------------------------------------------------------------------
# Reference checks
# --------------------------------------------------------------------------------------------


class ReferenceCatalog(Protocol):
    """What the domain needs to know of the reference data (taxonomy and geography)."""

    def has_skill(self, uri: str) -> bool: ...

    def has_occupation(self, uri: str) -> bool: ...

    def has_municipality(self, code: str) -> bool: ...

    def has_cpv(self, code: str) -> bool: ...


def _references(obj: object, path: str) -> Iterator[tuple[str, str, str]]:
    """Yield (kind, field path, value) for every reference an object holds, recursively."""
    if isinstance(obj, SkillObservation | VacancySkill):
        yield "skill", f"{path}skill_uri", obj.skill_uri
        return
    if isinstance(obj, tuple):
        for i, item in enumerate(obj):
            yield from _references(item, f"{path[:-1]}[{i}].")
        return
    if not hasattr(obj, "__dataclass_fields__"):
        return
    for f in fields(obj):  # type: ignore[arg-type]
        value: Any = getattr(obj, f.name)
        if value is None:
            continue
        if f.name in _MUNICIPALITY_FIELDS:
            yield "municipality", path + f.name, value
        elif f.name == "occupation_uri":
            yield "occupation", path + f.name, value
        elif f.name == "occupations":
            for i, uri in enumerate(value):
                yield "occupation", f"{path}{f.name}[{i}]", uri
        elif f.name == "cpv_code":
            yield "cpv", path + f.name, value
        elif isinstance(value, tuple | JobPreferences):
            yield from _references(value, f"{path}{f.name}.")


_MUNICIPALITY_FIELDS = frozenset({"home_municipality", "municipality", "buyer_municipality"})


def check_references(obj: object, catalog: ReferenceCatalog) -> None:
    """Raise :class:`UnknownReferenceError` for the first reference the catalog does not know.

    The error names the field path (``observations[2].skill_uri``) and the offending value.
    """
    lookups = {
        "skill": (catalog.has_skill, "is not an ESCO skill"),
        "occupation": (catalog.has_occupation, "is not an ESCO occupation"),
        "municipality": (catalog.has_municipality, "is not a Finnish or Swedish municipality"),
        "cpv": (catalog.has_cpv, "is not a CPV code"),
    }
    for kind, path, value in _references(obj, ""):
        known, problem = lookups[kind]
        if not known(value):
            raise UnknownReferenceError(path, value, problem)
