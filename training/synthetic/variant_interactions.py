"""The "interactions" hidden world: skills count only as far as the job fits and is near.

Where the additive model adds its terms up, here they multiply: no amount of skill makes up
for a job the person cannot physically do or cannot reach. The pair features are those of
:mod:`training.synthetic.hidden_model`.

Utility
-------
``u = required_skills·required_coverage·level_factor·fit·reach_weight
+ optional_skills·optional_coverage·fit − language_gap·language_gap·customer_facing
− licence_missing·licence_missing − form_not_accepted·form_not_accepted``

* **Skills multiply with work-ability fit.** ``fit = exp(−fit_conflicts·work_conflicts
  − fit_hours·hours_excess)``: each restriction the job clashes with, and each share of hours
  beyond the person's maximum, scales the value of every skill down.
* **Skill levels.** ``level_factor = max(0, 1 + level_bonus·mean_margin)``: skills held well
  above the minimum are worth more, skills held just below it less.
* **Distance decays exponentially, whatever the stated radius.** ``reach = exp(−effective_km
  / scale)`` with ``scale = distance_scale_km`` for people with a driving licence and
  ``distance_scale_no_licence_km`` without (a licence widens the reachable area), times
  ``relocation_scale`` for people willing to move; skills count with weight
  ``reach_weight = reach_floor + (1 − reach_floor)·reach``.
* **Language only in customer-facing work.** The language gap costs only for occupations of
  ISCO-08 major groups 4 (clerical support) and 5 (service and sales).
* **Long unemployment raises acceptance, lowers retention.** People long out of work take
  the offer more readily (``accept_long_unemployment`` per log(1 + years)) but keep the job
  less often (``retain_long_unemployment`` per log(1 + years)); employers do not see it.

Stages
------
accept = ``σ(accept_intercept − accept_distance·(1 − reach) − accept_hours·hours_excess −
accept_form·form_not_accepted + accept_long_unemployment·log(1 + unemployed_years))``;
interview = ``σ(interview_intercept + interview_slope·u + ε)``;
hire = ``σ(hire_intercept + hire_slope·u + ε)``; retain six months = ``σ(retain_intercept +
retain_fit·fit + retain_skills·required_coverage + retain_reach·reach
− retain_long_unemployment·log(1 + unemployed_years) + retain_chemistry·ε)``. The pair
chemistry ε ~ N(0, chemistry_sd²) is shared by interview, hire and — with loading
``retain_chemistry`` — retention: pairs that click stay longer.

Assessment noise
----------------
Observation is unreliable: coaches' observations of practical tasks are two levels' worth of
guesswork (40 % one off, mostly upward) and attribute skills seen in a group to the person;
work trials, tests and certificates are reliable and self-reports more honest than elsewhere.

Logged policy ("coach_outreach")
--------------------------------
Coaches practise positive discrimination: they favour people long out of work and in the
condition's target groups, look widely (more of the region and the country), order lists by
nearness and recorded skills and propose nearby jobs more often.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.synthetic.coach_policy import CoachPolicyParams
from training.synthetic.hidden_model import (
    FloatArray,
    OutcomeForm,
    PairFeatures,
    StageLogits,
)
from training.synthetic.skills import RecognitionNoise

__all__ = ["INTERACTION_NOISE", "INTERACTION_POLICY", "InteractionForm", "InteractionParams"]


@dataclass(frozen=True)
class InteractionParams:
    """Parameters of the interactions model (module docstring)."""

    required_skills: float = 5.0
    level_bonus: float = 0.3
    fit_conflicts: float = 0.7
    fit_hours: float = 3.0
    distance_scale_km: float = 30.0
    distance_scale_no_licence_km: float = 12.0
    relocation_scale: float = 3.0
    reach_floor: float = 0.3
    optional_skills: float = 0.6
    language_gap: float = 0.7
    licence_missing: float = 1.5
    form_not_accepted: float = 1.0
    accept_intercept: float = 2.0
    accept_distance: float = 2.0
    accept_hours: float = 1.5
    accept_form: float = 2.0
    accept_long_unemployment: float = 0.6
    interview_intercept: float = -2.1
    interview_slope: float = 1.0
    hire_intercept: float = -1.1
    hire_slope: float = 0.8
    chemistry_sd: float = 0.9
    retain_chemistry: float = 0.6
    retain_intercept: float = -0.6
    retain_fit: float = 1.6
    retain_skills: float = 0.6
    retain_reach: float = 0.6
    retain_long_unemployment: float = 0.7


TERMS: dict[str, str] = {
    "required_skills": "Utility per unit of required-skill coverage × level factor × fit × "
    "reach weight (coverage from TRUE skills; below the minimum counts half).",
    "level_bonus": "Level factor 1 + this × mean (level − minimum) over the required skills held.",
    "fit_conflicts": "Fit exp(−this × conflicts − fit_hours × hours_excess).",
    "fit_hours": "See fit_conflicts.",
    "distance_scale_km": "Reach exp(−effective km / this) for people with a driving licence.",
    "distance_scale_no_licence_km": "The same scale for people without a licence.",
    "relocation_scale": "Factor on the scale for people willing to relocate.",
    "reach_floor": "Weight of skills however far: reach_floor + (1 − reach_floor) × reach.",
    "optional_skills": "Utility per unit of optional-skill coverage × fit.",
    "language_gap": "Utility lost per missing CEFR step, in customer-facing work only "
    "(ISCO major groups 4 and 5).",
    "licence_missing": "Utility lost when a required driving licence is missing.",
    "form_not_accepted": "Utility lost when the person does not accept the job form.",
    "accept_intercept": "Log-odds that a proposed jobseeker goes on, before the terms.",
    "accept_distance": "Jobseeker's log-odds lost per unit of (1 − reach).",
    "accept_hours": "Jobseeker's log-odds lost per share of hours beyond their maximum.",
    "accept_form": "Jobseeker's log-odds lost when they do not accept the job form.",
    "accept_long_unemployment": "Jobseeker's log-odds GAINED per log(1 + years unemployed).",
    "interview_intercept": "Employer's log-odds of interviewing at zero utility.",
    "interview_slope": "Employer's interview log-odds per unit of utility.",
    "hire_intercept": "Employer's log-odds of hiring an interviewee at zero utility.",
    "hire_slope": "Employer's hiring log-odds per unit of utility.",
    "chemistry_sd": "Standard deviation of the pair chemistry shared by interview, hire "
    "and retention.",
    "retain_chemistry": "Loading of the chemistry on the retention log-odds.",
    "retain_intercept": "Retention log-odds at zero fit, coverage and reach.",
    "retain_fit": "Retention log-odds per unit of work-ability fit.",
    "retain_skills": "Retention log-odds per unit of required-skill coverage.",
    "retain_reach": "Retention log-odds per unit of reach.",
    "retain_long_unemployment": "Retention log-odds LOST per log(1 + years unemployed).",
}


class InteractionForm(OutcomeForm[InteractionParams]):
    """Skills × fit × reach, language only where customers are (module docstring)."""

    family = "interactions"
    uses_unemployment = True

    def chemistry_loadings(self) -> tuple[float, float, float]:
        return (1.0, 1.0, self.params.retain_chemistry)

    def fit(self, f: PairFeatures) -> FloatArray:
        p = self.params
        result: FloatArray = np.exp(
            -p.fit_conflicts * f.work_conflicts - p.fit_hours * f.hours_excess
        )
        return result

    def reach(self, f: PairFeatures) -> FloatArray:
        p = self.params
        scale = np.where(f.has_licence > 0, p.distance_scale_km, p.distance_scale_no_licence_km)
        scale = np.where(f.willing_to_relocate > 0, scale * p.relocation_scale, scale)
        result: FloatArray = np.exp(-f.effective_km / scale)
        return result

    def utility(self, f: PairFeatures) -> FloatArray:
        p = self.params
        fit = self.fit(f)
        level = np.maximum(1.0 + p.level_bonus * f.mean_margin, 0.0)
        weight = p.reach_floor + (1.0 - p.reach_floor) * self.reach(f)
        u: FloatArray = (
            p.required_skills * f.required_coverage * level * fit * weight
            + p.optional_skills * f.optional_coverage * fit
            - p.language_gap * f.language_gap * f.customer_facing
            - p.licence_missing * f.licence_missing
            - p.form_not_accepted * f.form_not_accepted
        )
        return u

    def stage_logits(self, f: PairFeatures) -> StageLogits:
        p = self.params
        u = self.utility(f)
        reach = self.reach(f)
        long = np.log1p(f.unemployed_years)
        return StageLogits(
            accept=p.accept_intercept
            - p.accept_distance * (1.0 - reach)
            - p.accept_hours * f.hours_excess
            - p.accept_form * f.form_not_accepted
            + p.accept_long_unemployment * long,
            interview=p.interview_intercept + p.interview_slope * u,
            hire=p.hire_intercept + p.hire_slope * u,
            retain=p.retain_intercept
            + p.retain_fit * self.fit(f)
            + p.retain_skills * f.required_coverage
            + p.retain_reach * reach
            - p.retain_long_unemployment * long,
        )

    def decline_reason_weights(self, f: PairFeatures, by_employer: bool) -> FloatArray:
        p = self.params
        far = 1.0 - self.reach(f)
        unfit = 1.0 - self.fit(f)
        if not by_employer:
            return np.stack(
                [
                    p.accept_distance * far * (f.commute_excess > 0),
                    p.accept_hours * f.hours_excess,
                    p.fit_conflicts * f.work_conflicts,
                    0.4 + p.accept_form * f.form_not_accepted,
                ],
                axis=1,
            )
        return np.stack(
            [
                p.required_skills * (1.0 - f.required_coverage)
                + p.optional_skills * 0.3 * (1.0 - f.optional_coverage),
                p.language_gap * f.language_gap * f.customer_facing,
                p.required_skills * unfit * (f.work_conflicts > 0),
                p.required_skills * unfit * (f.hours_excess > 0),
                p.required_skills * far * (1.0 - p.reach_floor) * (f.commute_excess > 0),
                0.3 + p.licence_missing * f.licence_missing,
            ],
            axis=1,
        )

    def term_descriptions(self) -> dict[str, str]:
        return TERMS

    def formulas(self) -> dict[str, str]:
        return {
            "utility": "u = required_skills*required_coverage*max(0, 1 + level_bonus*"
            "mean_margin)*fit*(reach_floor + (1 - reach_floor)*reach) + optional_skills*"
            "optional_coverage*fit - language_gap*language_gap*customer_facing - "
            "licence_missing*licence_missing - form_not_accepted*form_not_accepted; fit = "
            "exp(-fit_conflicts*work_conflicts - fit_hours*hours_excess); reach = "
            "exp(-effective_km/scale), scale = distance_scale_km with a licence else "
            "distance_scale_no_licence_km, times relocation_scale if willing to relocate",
            "accept": "sigmoid(accept_intercept - accept_distance*(1 - reach) - accept_hours*"
            "hours_excess - accept_form*form_not_accepted + accept_long_unemployment*"
            "log1p(unemployed_years))",
            "interview": "sigmoid(interview_intercept + interview_slope*u + e), "
            "e ~ N(0, chemistry_sd^2) shared with hire and retention",
            "hire": "sigmoid(hire_intercept + hire_slope*u + e), at most `openings` hires per "
            "vacancy",
            "retain_6m": "sigmoid(retain_intercept + retain_fit*fit + retain_skills*"
            "required_coverage + retain_reach*reach - retain_long_unemployment*"
            "log1p(unemployed_years) + retain_chemistry*e)",
        }


#: Observation is unreliable (upward guesses, skills seen in a group); self-reports honest.
INTERACTION_NOISE = RecognitionNoise(
    skills_seen=((6, 14), (6, 14), (2, 6), (2, 5), (4, 10)),
    level_error=(0.10, 0.40, 0.08, 0.05, 0.0),
    level_error_up=(0.5, 0.7, 0.5, 0.5, 0.5),
    confidence=((0.80, 0.95), (0.70, 0.90), (0.80, 1.00), (0.90, 1.00), (0.30, 0.60)),
    self_report_bias=(0.25, 0.60, 0.15, 0.0),
    false_claims_mean=(0.0, 0.8, 0.0, 0.0, 0.6),
    summary="Observation is unreliable: 40 % of its levels are one off, mostly upward, and it "
    "records skills the person lacks; self-reports are more honest than elsewhere.",
)

INTERACTION_POLICY = CoachPolicyParams(
    name="coach_outreach",
    shortlist_sources=(0.35, 0.15, 0.20, 0.15, 0.15),
    search_sources=(0.30, 0.15, 0.25, 0.15, 0.15),
    rank_coverage=1.5,
    rank_evidence=0.0,
    rank_preferred=0.5,
    rank_near=0.0,
    rank_proximity=2.0,
    rank_unemployment=-0.4,
    rank_eligible=1.0,
    rank_noise_sd=0.7,
    intercept=-3.4,
    search_intercept=-5.0,
    assessed_coverage=1.5,
    coverage_threshold=0.0,
    evidence_coverage=0.0,
    preferred_match=0.6,
    within_radius=0.0,
    proximity=1.5,
    unemployment_years=-0.5,
    eligible=1.5,
    position=0.2,
    min_propensity=0.03,
    max_propensity=0.97,
    summary="Coaches practise positive discrimination: they favour the long-term unemployed "
    "and the condition's target groups, look widely, and propose nearby jobs more often.",
)
