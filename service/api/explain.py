"""Engine explanations as response bodies: plain dicts, in the fields and order of the schemas.

A matches answer holds some 300 skill evidences; validating each as a pydantic model and
serialising the models again was about a tenth of a request's CPU. The bodies here are the
values the models would hold (the same rounding, the same conversions), so that
:mod:`service.api.encoding` writes the bytes pydantic wrote for :class:`ExplanationOut`
(``tests/e2e/test_api_request_path.py`` compares them); the schemas still document the answer.
"""

from __future__ import annotations

import math
from typing import Any

from matching.engine import Explanation, Factor, SkillEvidence
from service.api.runtime import ServingState

__all__ = ["explanation_body", "optional_float"]


def optional_float(value: float | None) -> float | None:
    """``float | None`` as pydantic validates it (numpy scalars become floats)."""
    return None if value is None else float(value)


def _finite_or_none(value: float | None) -> float | None:
    """JSON has no infinity: "never eligible" is ``eligible: false`` with no waiting time."""
    return None if value is None or not math.isfinite(value) else float(value)


def _optional_bool(value: bool | None) -> bool | None:
    return None if value is None else bool(value)


def _evidence(uris: list[str], evidence: SkillEvidence) -> dict[str, Any]:
    # The fields of schemas.SkillEvidenceOut, in its order.
    return {
        "skill_uri": uris[evidence.skill],
        "label": str(evidence.label),
        "required_level": int(evidence.required_level),
        "level": round(float(evidence.level), 3),
        "strength": round(float(evidence.strength), 3),
        "method": evidence.method,
        "last_assessed": evidence.last_assessed,
    }


def _factor(factor: Factor) -> dict[str, Any]:
    # schemas.FactorOut; round() first, as before: numpy's rounding differs from Python's.
    return {
        "feature": str(factor.feature),
        "contribution": float(round(factor.contribution, 4)),
        "sentence": factor.sentence,
    }


def explanation_body(explanation: Explanation, state: ServingState) -> dict[str, Any]:
    """The fields of :class:`~service.api.schemas.ExplanationOut`, in its order."""
    uris = state.skill_uris
    return {
        "matched_skills": [_evidence(uris, e) for e in explanation.matched_skills],
        "skill_gaps": [_evidence(uris, e) for e in explanation.missing_skills],
        "distance_km": round(float(explanation.distance_km), 1),
        "within_commute": bool(explanation.within_commute),
        "same_labour_area": bool(explanation.same_labour_area),
        "labour_area": str(explanation.labour_area),
        "workplace": str(explanation.workplace),
        "eligible": _optional_bool(explanation.eligible),
        "eligibility_rule": explanation.eligibility_rule,
        "eligibility_description": explanation.eligibility_description,
        "days_until_eligible": _finite_or_none(explanation.days_until_eligible),
        "factors": [_factor(f) for f in explanation.factors],
    }
