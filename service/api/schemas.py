"""Request and response bodies. Strict: unknown fields are refused with their path.

Request bodies are validated strictly: a value must already have its field's JSON type (no
``"12"`` for a number, ``1`` for a boolean or ``0`` for a date), except that reference codes
(enumerations) are read from their strings and dates and times from ISO 8601 strings
(:data:`Day`, :data:`Instant`). Text fields refuse NUL bytes and lone surrogates and have
upper lengths; numbers have bounds, so a huge integer is a 422 naming the field, never an
overflow deeper down; a time must stay a time once converted to UTC.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic import Strict as StrictMode

from matching.domain import (
    SKILL_LEVEL_MAX,
    SKILL_LEVEL_MIN,
    AssessmentMethod,
    CEFRLevel,
    JobForm,
    ReasonCode,
    Sex,
    TargetGroup,
    WorkingLifeSkill,
    WorkRestriction,
)
from service.operations.bands import BAND_DESCRIPTION

if TYPE_CHECKING:
    from service.storage.tables import OutcomeClaim

_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    if _SURROGATE.search(value):  # UTF-8 (the database's encoding) cannot hold one
        raise ValueError("must not contain a lone surrogate (\\ud800-\\udfff)")
    return value


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}.*")


def _iso_date(value: object) -> object:
    """Only ``YYYY-MM-DD`` (or a date itself): not a number of seconds, nor ``20260504``."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise ValueError("must be a date written YYYY-MM-DD")


def _iso_datetime(value: object) -> object:
    """Only an ISO 8601 date and time (or a datetime itself): not a number of seconds."""
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATETIME.fullmatch(value)):
        return value
    raise ValueError("must be a date and time written YYYY-MM-DDTHH:MM[:SS][+HH:MM]")


def _utc_representable(value: datetime) -> datetime:
    """A time with an offset must exist in UTC (0001-01-01T00:00+01:00 falls in year 0)."""
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range once converted to UTC") from None
    return value


#: Lifts a strict model's strictness from one field: its value may be read from a string.
LAX = StrictMode(False)

#: A date in a request: an ISO 8601 string in JSON or in a query string.
Day = Annotated[date, BeforeValidator(_iso_date), LAX]
#: A date and time in a request: an ISO 8601 string that converts to UTC.
Instant = Annotated[
    datetime, BeforeValidator(_iso_datetime), LAX, AfterValidator(_utc_representable)
]


def _distinct(key: Callable[[Any], object] = lambda item: item) -> AfterValidator:
    """Refuse a list naming the same item twice, as the CSV import does (the item is named).

    Stored lists are sets in meaning (a skill required twice, a job form accepted twice);
    a duplicate would be kept silently in a JSON column or break a unique constraint.
    """

    def check(items: list[Any]) -> list[Any]:
        keys = [str(key(item)) for item in items]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"lists {', '.join(map(repr, repeated))} more than once")
        return items

    return AfterValidator(check)


Text = Annotated[str, Field(max_length=2000), AfterValidator(_no_nul)]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_nul)]
Code = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_no_nul)]
Uri = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_no_nul)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


# Reference codes in a strict body: their strings (an enumeration's value), as in JSON.
Level = Annotated[CEFRLevel, LAX]
Method = Annotated[AssessmentMethod, LAX]
Form = Annotated[JobForm, LAX]
Reason = Annotated[ReasonCode, LAX]
Gender = Annotated[Sex, LAX]
Group = Annotated[TargetGroup, LAX]
LifeSkill = Annotated[WorkingLifeSkill, LAX]
Restriction = Annotated[WorkRestriction, LAX]


class LanguageIn(Strict):
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
    level: Level


class JobseekerIn(Strict):
    """What a coach records about a jobseeker (identity is for the coach only)."""

    first_name: Name
    last_name: Name
    email: Annotated[str, Field(max_length=254), AfterValidator(_no_nul)] | None = None
    phone: Annotated[str, Field(max_length=32), AfterValidator(_no_nul)] | None = None
    home_municipality: Code
    birth_year: int = Field(ge=1900, le=2100)
    sex: Gender = Sex.UNKNOWN
    migrant_background: bool = False
    unemployment_start: Day | None = None
    driving_licence: bool = False
    max_hours_per_week: float | None = Field(default=None, ge=1, le=80)
    restrictions: Annotated[list[Restriction], _distinct()] = Field(
        default_factory=list, max_length=10
    )
    preferred_occupations: Annotated[list[Uri], _distinct()] = Field(
        default_factory=list, max_length=20
    )
    max_commute_km: float = Field(default=30.0, ge=0, le=2000)
    willing_to_relocate: bool = False
    accepted_job_forms: Annotated[list[Form], _distinct()] = Field(
        default_factory=lambda: list(JobForm), max_length=4
    )
    languages: Annotated[list[LanguageIn], _distinct(lambda x: x.language)] = Field(
        default_factory=list, max_length=20
    )


class JobseekerOut(JobseekerIn):
    model_config = ConfigDict(extra="forbid", strict=False)

    jobseeker_id: str
    coach_id: str
    organisation_id: str


class SkillObservationIn(Strict):
    skill_uri: Uri
    level: int = Field(ge=SKILL_LEVEL_MIN, le=SKILL_LEVEL_MAX)
    confidence: float = Field(default=1.0, ge=0, le=1)


class WorkingLifeIn(Strict):
    skill: LifeSkill
    level: int = Field(ge=SKILL_LEVEL_MIN, le=SKILL_LEVEL_MAX)


class AssessmentIn(Strict):
    assessed_on: Day
    method: Method
    note: Text = ""
    observations: Annotated[list[SkillObservationIn], _distinct(lambda x: x.skill_uri)] = Field(
        default_factory=list, max_length=200
    )
    working_life: Annotated[list[WorkingLifeIn], _distinct(lambda x: x.skill)] = Field(
        default_factory=list, max_length=20
    )


class AssessmentOut(AssessmentIn):
    model_config = ConfigDict(extra="forbid", strict=False)

    assessment_id: str
    jobseeker_id: str
    coach_id: str


class SkillEvidenceOut(BaseModel):
    skill_uri: str
    label: str
    required_level: int
    level: float
    strength: float
    method: str | None
    last_assessed: date | None


class FactorOut(BaseModel):
    feature: str
    contribution: float
    sentence: str


class ExplanationOut(BaseModel):
    matched_skills: list[SkillEvidenceOut]
    skill_gaps: list[SkillEvidenceOut]
    distance_km: float
    within_commute: bool
    same_labour_area: bool
    labour_area: str
    workplace: str
    eligible: bool | None
    eligibility_rule: str | None
    eligibility_description: str | None
    days_until_eligible: float | None
    factors: list[FactorOut]


#: The number a person can read beside ``score`` (which only orders a list), in the coach's
#: matches and the employer's shortlists alike.
Probability = Annotated[
    float | None,
    Field(
        ge=0.0,
        le=1.0,
        description=(
            "The calibrated probability (0 to 1) that proposing this pair leads to a hire "
            "still in place after six months, from the serving model's calibration; null when "
            "the model is not calibrated (the rule-based score), whose scores are no "
            "probabilities. `score` orders the list; this is the number to read."
        ),
    ),
]
#: What ``score`` is, beside :data:`Probability`.
Score = Annotated[
    float,
    Field(description="The ranking score that orders the list; its scale depends on the model."),
]


#: The score in words, the same scale in the coach's matches and the employer's shortlists
#: (:func:`service.operations.bands.score_band`).
ScoreBand = Annotated[
    str,
    Field(pattern=r"^(strong|good|possible|weak)$", description=BAND_DESCRIPTION),
]


class MatchOut(BaseModel):
    rank: int
    vacancy_id: str
    title: str
    job_form: str
    municipality: str
    closes_on: date
    score: Score
    probability: Probability
    band: ScoreBand
    explanation: ExplanationOut


class MatchesOut(BaseModel):
    jobseeker_id: str
    on: date
    model_version: str
    candidates: int
    results: list[MatchOut]


class ProposalIn(Strict):
    vacancy_id: Code
    consent_given_at: Instant
    consent_method: Annotated[str, Field(pattern=r"^(written|verbal|electronic)$")]
    note: Text = ""


class ProposalOut(BaseModel):
    proposal_id: str
    jobseeker_id: str
    vacancy_id: str
    consent_given_at: datetime
    consent_method: str
    note: str
    created_at: datetime


class FeedbackIn(Strict):
    vacancy_id: Code
    reason_code: Reason
    comment: Text = ""


class FeedbackOut(FeedbackIn):
    model_config = ConfigDict(extra="forbid", strict=False)

    feedback_id: int
    jobseeker_id: str
    created_at: datetime


#: What the outcome stages that move live state do (see features.live_state).
EMPLOYMENT_ENDED_NOTE = (
    "`hired` starts an employment: the person leaves matching and the hire counts toward the "
    "vacancy's openings. `employment_ended` ends the employment a `hired` of the same person "
    "and vacancy started (one must be recorded at or before `occurred_at`): the person is a "
    "jobseeker again."
)


class OutcomeIn(Strict):
    """A coach's report: ``declined_by_jobseeker`` and ``employment_ended`` are recorded at
    once; the stages the employer decides become a claim the employer confirms."""

    vacancy_id: Code
    stage: Annotated[
        str,
        Field(
            pattern=r"^(interviewed|hired|retained_6m|employment_ended|declined_by_employer"
            r"|declined_by_jobseeker)$",
            description=EMPLOYMENT_ENDED_NOTE,
        ),
    ]
    reason: Reason | None = None
    occurred_at: Instant


class OutcomeOut(BaseModel):
    event_id: str
    jobseeker_id: str | None = None
    candidate: str | None = None
    vacancy_id: str
    stage: str
    reason: str | None
    occurred_at: datetime


class OutcomeClaimOut(BaseModel):
    """A coach's outcome claim: counted nowhere until the vacancy's employer confirms it.

    The coach sees the person's id, the employer the person's pseudonym for the vacancy;
    ``event_id`` is the outcome that a confirmation stored.
    """

    claim_id: str
    jobseeker_id: str | None = None
    candidate: str | None = None
    vacancy_id: str
    stage: str
    reason: str | None
    occurred_at: datetime
    status: Annotated[str, Field(pattern=r"^(pending|confirmed|rejected)$")]
    claimed_at: datetime
    decided_at: datetime | None = None
    event_id: str | None = None

    @classmethod
    def of(cls, claim: OutcomeClaim, candidate: str | None = None) -> OutcomeClaimOut:
        """``claim`` as its coach sees it (the person's id) or, given ``candidate`` (the
        person's pseudonym for the vacancy), as the vacancy's employer does: never both."""
        return cls(
            claim_id=claim.claim_id,
            jobseeker_id=claim.jobseeker_id if candidate is None else None,
            candidate=candidate,
            vacancy_id=claim.vacancy_id,
            stage=claim.stage,
            reason=claim.reason,
            occurred_at=claim.occurred_at,
            status=claim.status,
            claimed_at=claim.claimed_at,
            decided_at=claim.decided_at,
            event_id=claim.event_id,
        )


# ---- employers ------------------------------------------------------------------------------


class CandidateSkillOut(BaseModel):
    label: str
    skill_uri: str
    evidence_strength: Annotated[str, Field(pattern=r"^(strong|moderate|weak|related)$")]
    level: float
    required_level: int
    #: How a coach observed the skill (work trial, test...) and when; null when it is only
    #: credited through related skills.
    method: str | None = None
    last_assessed: date | None = None


class CandidateOut(BaseModel):
    """A shortlisted person as an employer sees them: skills and practicalities only."""

    candidate: str  # a pseudonym, stable for this vacancy
    rank: int
    score: Score
    probability: Probability
    band: ScoreBand
    skills: list[CandidateSkillOut]
    skill_gaps: list[str]
    distance_band: str
    available: bool
    accepted_job_forms: list[str]
    #: Proposed to this vacancy by a coach (with the person's consent): listed after the
    #: ranked candidates when the ranking would not list the person.
    proposed: bool


class ShortlistOut(BaseModel):
    vacancy_id: str
    on: date
    model_version: str
    candidates: int
    results: list[CandidateOut]


class ProposedCandidateOut(BaseModel):
    """A person a coach proposed to the employer's vacancy, with the person's consent.

    Listed by the same per-vacancy pseudonym as the shortlist (``candidate``, which records
    outcomes). The identity (name and contact details) is shown because, and only when, the
    proposal records the person's consent; never birth year, sex, origin or health.
    """

    proposal_id: str
    candidate: str
    proposed_at: datetime
    consent_given_at: datetime | None
    consent_method: str | None
    #: Whether the person is in matching today (not in work); the skills, distance and band
    #: are those of the vacancy's open requirements and are empty once it closed or filled.
    available: bool
    band: ScoreBand | None
    probability: Probability
    skills: list[CandidateSkillOut]
    skill_gaps: list[str]
    distance_band: str | None
    accepted_job_forms: list[str]
    #: Stages the vacancy's employer recorded for the person (interviewed, hired...).
    outcomes: list[str]
    #: What the coach wrote to the employer with the proposal.
    note: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None


class OccupationSkillOut(BaseModel):
    skill_uri: str
    label: str
    required: bool
    min_level: int


class OccupationDraftOut(BaseModel):
    """A vacancy's requirements prefilled from an ESCO occupation: its essential skills,
    each required at ``min_level``, to edit before the vacancy is created."""

    occupation_uri: str
    label: str
    isco_code: str
    skills: list[OccupationSkillOut]
    #: The occupation's optional skills (``required`` false), to add where the job needs them.
    optional_skills: list[OccupationSkillOut] = Field(default_factory=list)


class VacancySkillIn(Strict):
    skill_uri: Uri
    required: bool = True
    min_level: int = Field(default=SKILL_LEVEL_MIN, ge=SKILL_LEVEL_MIN, le=SKILL_LEVEL_MAX)


class VacancyIn(Strict):
    contract_id: Code | None = None
    condition_id: Code | None = None
    occupation_uri: Uri
    title: Name
    municipality: Code
    job_form: Form
    opens_on: Day
    closes_on: Day
    remote_share: float = Field(default=0.0, ge=0, le=1)
    hours_per_week: float = Field(default=37.5, ge=1, le=80)
    shift_work: bool = False
    night_work: bool = False
    physical_demand: Annotated[str, Field(pattern=r"^(light|moderate|heavy)$")] = "light"
    languages: Annotated[list[LanguageIn], _distinct(lambda x: x.language)] = Field(
        default_factory=list, max_length=10
    )
    driving_licence_required: bool = False
    openings: int = Field(default=1, ge=1, le=1000)
    skills: Annotated[list[VacancySkillIn], _distinct(lambda x: x.skill_uri)] = Field(
        default_factory=list, max_length=100
    )


class VacancyOut(VacancyIn):
    model_config = ConfigDict(extra="forbid", strict=False)

    vacancy_id: str
    supplier_id: str


class EmployerOutcomeIn(Strict):
    candidate: Code
    stage: Annotated[
        str,
        Field(
            pattern=r"^(interviewed|hired|retained_6m|employment_ended|declined_by_employer)$",
            description=EMPLOYMENT_ENDED_NOTE,
        ),
    ]
    reason: Reason | None = None
    occurred_at: Instant


# ---- procurement ----------------------------------------------------------------------------


Weight = Annotated[float, Field(ge=0, le=100), LAX]
Points = Annotated[float, Field(ge=0, le=1000), LAX]


class PerformancePoints(Strict):
    """Points a credited outcome earns, per stage (docs/performance.md)."""

    hired: Points = 1.0
    retained_6m: Points = 1.0
    retained_12m: Points = 2.0


class PerformanceTermsIn(Strict):
    """What a performance-based condition buys: points per verified outcome, weighted by
    the deciding target group and the job form, at a price per point, up to a cap.

    A weight left out is 1 for the condition's target groups and allowed job forms; naming a
    group or form the condition does not have is refused (it could never earn).
    """

    price_per_point_eur: Annotated[float, Field(gt=0, le=1_000_000), LAX]
    cap_eur: Annotated[float, Field(gt=0, le=1e12), LAX]
    points: PerformancePoints = Field(default_factory=PerformancePoints)
    target_group_weights: dict[Group, Weight] = Field(default_factory=dict)
    job_form_weights: dict[Form, Weight] = Field(default_factory=dict)
    period: Annotated[str, Field(pattern=r"^(month|quarter)$")] = "quarter"


class PerformanceTermsOut(BaseModel):
    """The terms with every weight spelled out (the condition's groups and forms only)."""

    price_per_point_eur: float
    cap_eur: float
    points: PerformancePoints
    target_group_weights: dict[str, float]
    job_form_weights: dict[str, float]
    period: str


class ConditionIn(Strict):
    target_groups: list[Group] = Field(min_length=1, max_length=6)
    hires_required: int = Field(ge=1, le=10_000)
    deadline: Day
    allowed_job_forms: list[Form] = Field(default_factory=lambda: list(JobForm), min_length=1)
    performance_based: bool = False
    #: Required when ``performance_based``, refused otherwise.
    performance: PerformanceTermsIn | None = None


class ContractIn(Strict):
    """A contract the buyer signed, with the employment conditions written into it."""

    supplier_id: Code
    cpv_code: Annotated[str, Field(pattern=r"^[0-9]{8}(-[0-9])?$")]
    title: Name
    starts_on: Day
    ends_on: Day
    value_eur: float = Field(ge=0, le=1e12)
    conditions: list[ConditionIn] = Field(default_factory=list, max_length=20)


class ConditionOut(BaseModel):
    condition_id: str
    target_groups: list[str]
    hires_required: int
    deadline: date
    allowed_job_forms: list[str]
    performance_based: bool
    performance: PerformanceTermsOut | None = None


class ContractOut(BaseModel):
    contract_id: str
    buyer_id: str
    supplier_id: str
    cpv_code: str
    title: str
    starts_on: date
    ends_on: date
    value_eur: float
    conditions: list[ConditionOut]


class LedgerLine(BaseModel):
    condition_id: str
    target_groups: list[str]
    hires_required: int
    hires_made: int
    hires_not_counted: int  # hires of people outside the condition's target groups
    by_target_group: dict[str, int]
    by_job_form: dict[str, int]
    deadline: date
    deadline_status: Annotated[str, Field(pattern=r"^(met|on_track|at_risk|missed)$")]


class LedgerOut(BaseModel):
    contract_id: str
    on: date
    lines: list[LedgerLine]


class AuditTraceOut(BaseModel):
    """An audit entry behind a statement line: where it is in the chain and its hash."""

    seq: int
    entry_hash: str
    route: str
    recorded_at: datetime


class StatementLineOut(BaseModel):
    """One credited outcome of a performance-based condition, with its trace.

    ``candidate`` is the pseudonym the vacancy's employer sees; no line names the person's
    target group (that would tell the reader about health, age or origin): ``group_weight``
    is the weight the terms give it.
    """

    period: str
    day: date
    stage: str
    event_id: str
    hire_event_id: str
    vacancy_id: str
    candidate: str
    job_form: str
    stage_points: float
    group_weight: float
    form_weight: float
    points: float
    amount_eur: float
    capped_amount_eur: float
    running_total_eur: float
    over_cap: bool
    #: The audit entry that recorded the outcome (none for outcomes loaded with history).
    recorded_by: list[AuditTraceOut]
    #: Where an outcome without an audit entry comes from (``loaded from <source>``).
    source: str
    #: The audited shortlists of the vacancy that showed the person.
    shortlisted_in: list[AuditTraceOut]


class StatementPeriodOut(BaseModel):
    period: str
    outcomes: int
    points: float
    amount_before_cap_eur: float
    amount_eur: float
    #: The condition's running total at the end of the period.
    running_total_eur: float


class ConditionStatementOut(BaseModel):
    condition_id: str
    terms: PerformanceTermsOut
    credited_hires: int
    credited_outcomes: int
    points: float
    amount_before_cap_eur: float
    amount_eur: float
    cap_eur: float
    cap_remaining_eur: float
    periods: list[StatementPeriodOut]
    lines: list[StatementLineOut]


class StatementOut(BaseModel):
    """A performance-based contract's running statement, or one payment period of it."""

    contract_id: str
    title: str
    buyer_id: str
    supplier_id: str
    on: date
    #: None: the running statement; else the payment period it is limited to.
    period: str | None
    amount_eur: float
    conditions: list[ConditionStatementOut]


# ---- admin ----------------------------------------------------------------------------------


class ModelStatusOut(BaseModel):
    serving: str
    champion: str | None
    loaded_at: datetime
    swaps: int
    last_error: str | None


class AuditEntryOut(BaseModel):
    seq: int
    recorded_at: datetime
    user_id: int | None
    role: str | None
    organisation_id: str | None
    route: str
    query: dict[str, object]
    model_version: str | None
    results: list[object]
    explanation_digest: str | None
    entry_hash: str


class AuditVerifyOut(BaseModel):
    """The whole chain's state, as ``kohtaanto audit verify`` reports it (exit 0, 1, 2)."""

    status: Annotated[str, Field(pattern="^(intact|tampered|cannot_verify)$")]
    entries: int
    ok: bool
    first_bad_seq: int | None
    problem: str | None
    #: Commit groups sealed in the database whose seal-file line is not written yet.
    unpublished: int = 0


# ---- errors ---------------------------------------------------------------------------------


class FieldError(BaseModel):
    """One field's error: where (``["body", "languages", 0, "level"]``), what, which kind."""

    loc: list[str | int]
    msg: str
    type: str
    input: str | int | float | bool | None = Field(
        default=None, description="The offending value, when it is a plain value."
    )


class Problem(BaseModel):
    """An error, as RFC 9457 ``application/problem+json`` (the same shape for every status)."""

    type: str = Field(description="`about:blank`: the status says what kind of error it is.")
    title: str = Field(description="The status's phrase, e.g. `Unprocessable Content`.")
    status: int
    detail: str = Field(description="What went wrong, as a sentence.")
    instance: str = Field(description="The path of the request that failed.")
    errors: list[FieldError] | None = Field(
        default=None, description="For 422: every field that was refused."
    )


def _problem(description: str) -> dict[str, object]:
    return {"model": Problem, "description": description}


#: Documented on every router so clients (and schema checks) know every status they may see;
#: the application documents each as ``application/problem+json``.
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: _problem("The multipart body could not be parsed."),
    401: _problem("No, unknown or disabled bearer token (with `WWW-Authenticate: Bearer`)."),
    403: _problem("The route is for another role."),
    404: _problem("No such object in the caller's organisation."),
    409: _problem("The change conflicts with stored data."),
    413: _problem("The request body is too large."),
    422: _problem(
        "The body is not strict JSON (NaN, Infinity, a lone surrogate), or a field is "
        "malformed, of the wrong type or names unknown reference data (see `errors`)."
    ),
    503: _problem("The database is unavailable."),
}
