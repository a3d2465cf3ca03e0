"""Engine explanations as response bodies."""

from __future__ import annotations

import math

from matching.engine import Explanation, SkillEvidence
from service.api.runtime import ServingState
from service.api.schemas import ExplanationOut, FactorOut, SkillEvidenceOut


def _finite_or_none(value: float | None) -> float | None:
    """JSON has no infinity: "never eligible" is ``eligible: false`` with no waiting time."""
    return None if value is None or not math.isfinite(value) else float(value)


def skill_uri(state: ServingState, evidence: SkillEvidence) -> str:
    return state.skill_uris[evidence.skill]


def evidence_out(state: ServingState, evidence: SkillEvidence) -> SkillEvidenceOut:
    return SkillEvidenceOut(
        skill_uri=skill_uri(state, evidence),
        label=evidence.label,
        required_level=evidence.required_level,
        level=round(float(evidence.level), 3),
        strength=round(float(evidence.strength), 3),
        method=evidence.method,
        last_assessed=evidence.last_assessed,
    )


def explanation_out(explanation: Explanation, state: ServingState) -> ExplanationOut:
    return ExplanationOut(
        matched_skills=[evidence_out(state, e) for e in explanation.matched_skills],
        skill_gaps=[evidence_out(state, e) for e in explanation.missing_skills],
        distance_km=round(float(explanation.distance_km), 1),
        within_commute=explanation.within_commute,
        same_labour_area=explanation.same_labour_area,
        labour_area=explanation.labour_area,
        workplace=explanation.workplace,
        eligible=explanation.eligible,
        eligibility_rule=explanation.eligibility_rule,
        eligibility_description=explanation.eligibility_description,
        days_until_eligible=_finite_or_none(explanation.days_until_eligible),
        factors=[
            FactorOut(feature=f.feature, contribution=round(f.contribution, 4), sentence=f.sentence)
            for f in explanation.factors
        ],
    )
