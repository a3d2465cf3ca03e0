"""The logged coach policy: whom coaches show, in which order, and whom they propose.

Coaches order a list by ``rank_coverage·assessed_coverage + rank_evidence·evidence_coverage
+ rank_preferred·preferred_match + rank_near·within_radius + rank_proximity·proximity
− rank_unemployment·log(1 + years_unemployed) + rank_eligible·eligible + N(0, rank_noise_sd²)``
and propose each shown pair with probability

``propensity = clip(σ(c₀ + c_cov·assessed_coverage + c_thr·[assessed_coverage ≥ ½]
+ c_evid·evidence_coverage + c_pref·preferred_match + c_near·within_radius
+ c_prox·proximity − c_unemp·log(1 + years_unemployed) + c_elig·eligible
− c_pos·log(position)), min, max)``

where ``c₀`` is ``intercept`` for shortlists and ``search_intercept`` for searches,
``assessed_coverage`` is the share of the vacancy's required skills that coaches had
*recorded* (any method, at or above the minimum level, dated on or before that day, not in a
dropped assessment) — not the true skills —, ``evidence_coverage`` the same counting only
work trials, tests and certificates, ``preferred_match`` whether the vacancy's ISCO group is
among the person's preferred occupations, ``within_radius`` whether the job (less its remote
share) is within the person's stated commute radius, ``proximity`` = exp(−that distance /
25 km), ``years_unemployed`` the running spell on that day and ``eligible`` whether the
person belongs to one of the condition's target groups that day. The propensity is logged
with the exposure, for inverse-propensity weighting. Each hidden world has its own policy
(:mod:`training.synthetic.variants`); in the default one coaches prefer short unemployment
and well-documented skills, which is the selection bias.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["POLICY_TERMS", "PROXIMITY_KM", "CoachPolicyParams", "policy_document"]

#: Distance scale of the policy's proximity term, exp(-km / PROXIMITY_KM).
PROXIMITY_KM = 25.0


@dataclass(frozen=True)
class CoachPolicyParams:
    """The logged coach policy: pools, list order and propensity terms (module docstring)."""

    name: str = "coach_rules"
    #: Shortlist pool: same area and ISCO unit group, same area and minor group, anyone in
    #: the area, same unit group in the country, same region.
    shortlist_sources: tuple[float, ...] = (0.50, 0.15, 0.20, 0.07, 0.08)
    #: Search pool, for one of the person's ISCO unit groups: same area and unit group, same
    #: area and minor group, same region and unit group, same region and minor group, same
    #: country and unit group.
    search_sources: tuple[float, ...] = (0.45, 0.20, 0.15, 0.10, 0.10)
    rank_coverage: float = 2.0
    rank_evidence: float = 0.0
    rank_preferred: float = 0.8
    rank_near: float = 0.5
    rank_proximity: float = 0.0
    rank_unemployment: float = 0.3
    rank_eligible: float = 0.5
    rank_noise_sd: float = 0.5
    intercept: float = -1.5
    search_intercept: float = -3.3
    assessed_coverage: float = 2.5
    coverage_threshold: float = 0.0
    evidence_coverage: float = 0.0
    preferred_match: float = 0.8
    within_radius: float = 0.6
    proximity: float = 0.0
    unemployment_years: float = 0.7
    eligible: float = 1.0
    position: float = 0.35
    min_propensity: float = 0.02
    max_propensity: float = 0.95
    summary: str = field(
        default="Coaches show and propose people whose skills they have recorded, who are "
        "near and eligible, and prefer short unemployment spells."
    )


POLICY_TERMS = {
    "name": "The policy's name, logged in the exposures' policy column.",
    "shortlist_sources": "Shares of shortlist candidates drawn from: the vacancy's area and "
    "ISCO unit group, area and minor group, area, country and unit group, region.",
    "search_sources": "Shares of search results drawn, for one of the person's ISCO unit "
    "groups, from: the person's area and the unit group, area and minor group, region and "
    "unit group, region and minor group, country and unit group.",
    "rank_coverage": "List-order score per unit of RECORDED required-skill coverage.",
    "rank_evidence": "List-order score per unit of coverage by strong evidence (work trial, "
    "test, certificate).",
    "rank_preferred": "List-order score when the vacancy is in the person's preferences.",
    "rank_near": "List-order score when the job is within the commute radius.",
    "rank_proximity": "List-order score per unit of exp(-distance / 25 km).",
    "rank_unemployment": "List-order penalty per log(1 + years unemployed).",
    "rank_eligible": "List-order score when the person is in a target group of the condition.",
    "rank_noise_sd": "Noise of the rule score that orders the list.",
    "intercept": "Log-odds of proposing a shown shortlist candidate before the terms below.",
    "search_intercept": "Log-odds of proposing a vacancy found in a search, before the terms.",
    "assessed_coverage": "Per unit of the share of required skills coaches had RECORDED "
    "at or above the minimum level by that day (not the true skills).",
    "coverage_threshold": "When at least half of the required skills are recorded.",
    "evidence_coverage": "Per unit of the share recorded by a work trial, test or certificate.",
    "preferred_match": "When the vacancy's ISCO group is among the person's preferred occupations.",
    "within_radius": "When the job, less its remote share, is within the person's stated "
    "commute radius.",
    "proximity": "Per unit of exp(-effective distance / 25 km).",
    "unemployment_years": "Penalty per log(1 + years unemployed) (negative: coaches favour "
    "the long-term unemployed).",
    "eligible": "When the person belongs to one of the condition's target groups that day.",
    "position": "Penalty per log(position) in the shown list.",
    "min_propensity": "Lower clip of the propensity (every shown pair has a chance).",
    "max_propensity": "Upper clip of the propensity.",
    "summary": "What characterises this policy.",
}


def policy_document(params: CoachPolicyParams) -> dict[str, object]:
    """The logged policy's description for hidden_model.json and HIDDEN_MODEL.md."""
    return {
        "policy": params.name,
        "description": (
            f"{params.summary} Coaches propose a shown pair with propensity clip(sigmoid("
            "intercept (search_intercept for searches) + assessed_coverage*coverage + "
            "coverage_threshold*[coverage >= 0.5] + evidence_coverage*evidence + "
            "preferred_match*match + within_radius*near + proximity*exp(-km/25) - "
            "unemployment_years*log1p(years) + eligible*eligible - position*log(position)), "
            "min, max). The propensity is logged with each exposure."
        ),
        "parameters": asdict(params),
        "terms": POLICY_TERMS,
    }
