"""Request and response bodies. Strict: unknown fields are refused with their path.

Text fields refuse NUL bytes and have upper lengths; numbers have bounds, so a huge integer is
a 422 naming the field, never an overflow deeper down.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from matching.domain import (
    AssessmentMethod,
    CEFRLevel,
    JobForm,
    ReasonCode,
    Sex,
    TargetGroup,
    WorkingLifeSkill,
    WorkRestriction,
)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    return value


Text = Annotated[str, Field(max_length=2000), AfterValidator(_no_nul)]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_nul)]
Code = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_no_nul)]
Uri = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_no_nul)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LanguageIn(Strict):
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
    level: CEFRLevel


class JobseekerIn(Strict):
    """What a coach records about a jobseeker (identity is for the coach only)."""

    first_name: Name
    last_name: Name
    email: Annotated[str, Field(max_length=254), AfterValidator(_no_nul)] | None = None
    phone: Annotated[str, Field(max_length=32), AfterValidator(_no_nul)] | None = None
    home_municipality: Code
    birth_year: int = Field(ge=1900, le=2100)
    sex: Sex = Sex.UNKNOWN
    migrant_background: bool = False
    unemployment_start: date | None = None
    driving_licence: bool = False
    max_hours_per_week: float | None = Field(default=None, ge=1, le=80)
    restrictions: list[WorkRestriction] = Field(default_factory=list, max_length=10)
    preferred_occupations: list[Uri] = Field(default_factory=list, max_length=20)
    max_commute_km: float = Field(default=30.0, ge=0, le=2000)
    willing_to_relocate: bool = False
    accepted_job_forms: list[JobForm] = Field(default_factory=lambda: list(JobForm), max_length=4)
    languages: list[LanguageIn] = Field(default_factory=list, max_length=20)


class JobseekerOut(JobseekerIn):
    model_config = ConfigDict(extra="forbid")

    jobseeker_id: str
    coach_id: str
    organisation_id: str


class SkillObservationIn(Strict):
    skill_uri: Uri
    level: int = Field(ge=1, le=5)
    confidence: float = Field(default=1.0, ge=0, le=1)


class WorkingLifeIn(Strict):
    skill: WorkingLifeSkill
    level: int = Field(ge=1, le=5)


class AssessmentIn(Strict):
    assessed_on: date
    method: AssessmentMethod
    note: Text = ""
    observations: list[SkillObservationIn] = Field(default_factory=list, max_length=200)
    working_life: list[WorkingLifeIn] = Field(default_factory=list, max_length=20)


class AssessmentOut(AssessmentIn):
    model_config = ConfigDict(extra="forbid")

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


class MatchOut(BaseModel):
    rank: int
    vacancy_id: str
    title: str
    job_form: str
    municipality: str
    closes_on: date
    score: Score
    probability: Probability
    explanation: ExplanationOut


class MatchesOut(BaseModel):
    jobseeker_id: str
    on: date
    model_version: str
    candidates: int
    results: list[MatchOut]


class ProposalIn(Strict):
    vacancy_id: Code
    consent_given_at: datetime
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
    reason_code: ReasonCode
    comment: Text = ""


class FeedbackOut(FeedbackIn):
    model_config = ConfigDict(extra="forbid")

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
    vacancy_id: Code
    stage: Annotated[
        str,
        Field(
            pattern=r"^(interviewed|hired|retained_6m|employment_ended|declined_by_employer"
            r"|declined_by_jobseeker)$",
            description=EMPLOYMENT_ENDED_NOTE,
        ),
    ]
    reason: ReasonCode | None = None
    occurred_at: datetime


class OutcomeOut(BaseModel):
    event_id: str
    jobseeker_id: str | None = None
    candidate: str | None = None
    vacancy_id: str
    stage: str
    reason: str | None
    occurred_at: datetime


# ---- employers ------------------------------------------------------------------------------


class CandidateSkillOut(BaseModel):
    label: str
    skill_uri: str
    evidence_strength: Annotated[str, Field(pattern=r"^(strong|moderate|weak|related)$")]
    level: float
    required_level: int


class CandidateOut(BaseModel):
    """A shortlisted person as an employer sees them: skills and practicalities only."""

    candidate: str  # a pseudonym, stable for this vacancy
    rank: int
    score: Score
    probability: Probability
    skills: list[CandidateSkillOut]
    skill_gaps: list[str]
    distance_band: str
    available: bool
    accepted_job_forms: list[str]
    proposed: bool
    # Filled only when a coach has proposed the person with their consent.
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None


class ShortlistOut(BaseModel):
    vacancy_id: str
    on: date
    model_version: str
    candidates: int
    results: list[CandidateOut]


class VacancySkillIn(Strict):
    skill_uri: Uri
    required: bool = True
    min_level: int = Field(default=1, ge=1, le=5)


class VacancyIn(Strict):
    contract_id: Code | None = None
    condition_id: Code | None = None
    occupation_uri: Uri
    title: Name
    municipality: Code
    job_form: JobForm
    opens_on: date
    closes_on: date
    remote_share: float = Field(default=0.0, ge=0, le=1)
    hours_per_week: float = Field(default=37.5, ge=1, le=80)
    shift_work: bool = False
    night_work: bool = False
    physical_demand: Annotated[str, Field(pattern=r"^(light|moderate|heavy)$")] = "light"
    languages: list[LanguageIn] = Field(default_factory=list, max_length=10)
    driving_licence_required: bool = False
    openings: int = Field(default=1, ge=1, le=1000)
    skills: list[VacancySkillIn] = Field(default_factory=list, max_length=100)


class VacancyOut(VacancyIn):
    model_config = ConfigDict(extra="forbid")

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
    reason: ReasonCode | None = None
    occurred_at: datetime


# ---- procurement ----------------------------------------------------------------------------


class ConditionIn(Strict):
    target_groups: list[TargetGroup] = Field(min_length=1, max_length=6)
    hires_required: int = Field(ge=1, le=10_000)
    deadline: date
    allowed_job_forms: list[JobForm] = Field(default_factory=lambda: list(JobForm), min_length=1)
    performance_based: bool = False


class ContractIn(Strict):
    """A contract the buyer signed, with the employment conditions written into it."""

    supplier_id: Code
    cpv_code: Annotated[str, Field(pattern=r"^[0-9]{8}(-[0-9])?$")]
    title: Name
    starts_on: date
    ends_on: date
    value_eur: float = Field(ge=0, le=1e12)
    conditions: list[ConditionIn] = Field(default_factory=list, max_length=20)


class ConditionOut(BaseModel):
    condition_id: str
    target_groups: list[str]
    hires_required: int
    deadline: date
    allowed_job_forms: list[str]
    performance_based: bool


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
    entries: int
    ok: bool
    first_bad_seq: int | None
    problem: str | None


# ---- errors ---------------------------------------------------------------------------------


class Problem(BaseModel):
    """An error: ``detail`` is a sentence, or for 422 a list of ``{loc, msg, type, input}``."""

    detail: str | list[dict[str, object]]


#: Documented on every router so clients (and schema checks) know every status they may see.
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": Problem, "description": "The body could not be parsed (not JSON)."},
    401: {"model": Problem, "description": "No, unknown or disabled bearer token."},
    403: {"model": Problem, "description": "The route is for another role."},
    404: {"model": Problem, "description": "No such object in the caller's organisation."},
    409: {"model": Problem, "description": "The change conflicts with stored data."},
    413: {"model": Problem, "description": "The request body is too large."},
    422: {"model": Problem, "description": "A field is malformed or names unknown reference data."},
    503: {"model": Problem, "description": "The database is unavailable."},
}
