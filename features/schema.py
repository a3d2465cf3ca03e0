"""The pair-feature schema: one ordered list that training and serving both read.

Its hash travels with every trained model; a model whose schema hash differs from
:data:`FEATURE_SCHEMA_HASH` is refused at load time.

Personal data and features. Sex, age, origin and health details are never features. Two
groups of features are derived from personal facts, because the employment condition and the
person's work ability themselves need them:

- ``condition_eligible`` and ``days_until_eligible`` say whether the person counts toward the
  vacancy's employment condition (the condition exists to hire such people). They are
  computed from the dated facts by the eligibility rules; the facts themselves (birth year,
  migrant background, ...) are not features.
- ``hours_fit``, ``physical_conflict``, ``night_conflict`` and ``shift_conflict`` compare the
  vacancy with the work ability a coach recorded; they never carry the diagnosis or the
  restriction list itself.

``unemployment_days`` is the length of the current unemployment spell: it is the labour-market
position the whole service exists to serve, not a protected attribute.

Not features, on purpose: how long a vacancy has been open, how many hires its contract still
owes and how near the deadline is. They describe the race between candidates, not whether a
person and a job fit: learnt from the log they ranked vacancies for a person by how the
contract was doing (an earlier model pushed old, often filled vacancies up), and a person who
fits a job perfectly fell below jobs they fit less. The engine still keeps them (filled and
closed vacancies leave matching, explanations name the deadline).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

FeatureKind = Literal["skills", "preference", "region", "work_ability", "condition", "timing"]


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    kind: FeatureKind
    #: Plain words for explanations, true of a pair where the feature is present (non-zero).
    description: str
    #: For yes/no features: the words true of a pair where it is absent (zero), so that an
    #: explanation says "has the driving licence the job asks for" rather than naming the
    #: missing licence of the rest of the list.
    absent: str | None = None


FEATURES: tuple[Feature, ...] = (
    Feature("required_coverage", "skills", "coverage of the required skills"),
    Feature(
        "assessed_coverage", "skills", "required skills a coach observed at the required level"
    ),
    Feature("weakest_required", "skills", "the least covered required skill"),
    Feature("coverage_work_trial", "skills", "required skills shown in a work trial"),
    Feature("coverage_observation", "skills", "required skills a coach observed"),
    Feature("coverage_test", "skills", "required skills shown in a test"),
    Feature("coverage_certificate", "skills", "required skills with a certificate"),
    Feature("coverage_self_report", "skills", "required skills only self-reported"),
    Feature("level_surplus", "skills", "levels above the required minimum"),
    Feature("optional_coverage", "skills", "coverage of the optional skills"),
    Feature("level_shortfall", "skills", "levels below the required minimum"),
    Feature("evidence_strength", "skills", "strength of the evidence for the matched skills"),
    Feature("skill_cosine", "skills", "overall similarity of skills"),
    Feature(
        "occupation_preferred",
        "preference",
        "the occupation is one the person wants",
        "not an occupation the person named",
    ),
    Feature("isco_proximity", "preference", "closeness to the person's occupations"),
    Feature("distance_km", "region", "distance to the workplace"),
    Feature(
        "within_commute",
        "region",
        "the workplace is within the commute radius",
        "the workplace is beyond the commute radius",
    ),
    Feature("commute_fit", "region", "the commute, less remote days, against the radius"),
    Feature(
        "same_labour_area",
        "region",
        "same employment area / labour-market region",
        "another employment area / labour-market region",
    ),
    Feature("same_region", "region", "same region", "another region"),
    Feature("remote_share", "region", "share of remote work"),
    Feature("hours_fit", "work_ability", "weekly hours fit the person's work capacity"),
    Feature(
        "physical_conflict",
        "work_ability",
        "physically heavy work against a restriction",
        "no heavy work against a restriction",
    ),
    Feature(
        "night_conflict",
        "work_ability",
        "night work against a restriction",
        "no night work against a restriction",
    ),
    Feature(
        "shift_conflict",
        "work_ability",
        "shift work against a restriction",
        "no shift work against a restriction",
    ),
    Feature(
        "standing_conflict",
        "work_ability",
        "standing work against a restriction",
        "no standing work against a restriction",
    ),
    Feature("language_gap", "skills", "language level below the requirement (CEFR steps)"),
    Feature(
        "driving_licence_missing",
        "skills",
        "a required driving licence is missing",
        "no driving licence missing",
    ),
    Feature(
        "driving_licence_held",
        "region",
        "the person has a driving licence",
        "the person has no driving licence",
    ),
    Feature(
        "job_form_accepted",
        "preference",
        "the person accepts this form of job",
        "the person does not accept this form of job",
    ),
    Feature("occupation_major_group", "preference", "the kind of work (ISCO major group)"),
    Feature(
        "condition_eligible",
        "condition",
        "the person counts toward the condition",
        "the person does not count toward the condition",
    ),
    Feature("days_until_eligible", "condition", "days until the person counts (capped)"),
    Feature("unemployment_days", "timing", "length of the unemployment spell"),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_INDEX: dict[str, int] = {name: i for i, name in enumerate(FEATURE_NAMES)}

#: Caps keep "never" and "no deadline" finite (LightGBM and the rule score need numbers).
MAX_DAYS_FEATURE = 3650.0

#: Protected attributes that must never be features (checked by tests on the schema).
FORBIDDEN_FEATURE_WORDS = ("sex", "gender", "age", "birth", "origin", "migrant", "health")


def schema_hash(names: tuple[str, ...] = FEATURE_NAMES) -> str:
    """A short stable hash of the ordered feature names."""
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


FEATURE_SCHEMA_HASH = schema_hash()
