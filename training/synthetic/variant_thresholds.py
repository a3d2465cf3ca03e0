"""The "thresholds" hidden world: employers screen on cut-offs and the weakest skill.

Where the additive model lets every shortfall cost a little, here most facts act as
thresholds. The pair features are those of :mod:`training.synthetic.hidden_model`.

Utility
-------
``u = required_skills·required_met − weakest_shortfall·max(0, −weakest_margin)
+ optional_skills·optional_coverage − commute_cliff·beyond_cliff − hours_veto·over_hours
− work_conflicts·work_conflicts − language_penalty·[language_max_gap ≥ language_threshold]
− licence_missing·licence_missing − form_not_accepted·form_not_accepted``

* **Skill levels, weakest link.** A required skill counts only at or above its minimum level
  (``required_met``, no half credit), and the lowest level the person holds among the
  required skills counts on its own: each level it falls short of its minimum costs
  ``weakest_shortfall``. One weak skill spoils an otherwise good match.
* **Commute cliff.** Distance costs nothing up to a bit beyond the stated radius
  (``radius·commute_slack + commute_slack_km``; ``relocation_slack`` times further for
  people willing to move), then ``commute_cliff`` at once (``beyond_cliff`` = 1).
* **Hours, a near-veto.** Weekly hours beyond the person's maximum by more than
  ``hours_tolerance`` of the hours (``over_hours`` = 1) cost ``hours_veto`` in the utility,
  ``accept_hours`` in acceptance and ``retain_hours`` in retention.
* **Language threshold.** One language missing ``language_threshold`` CEFR steps or more costs
  ``language_penalty``; smaller gaps cost nothing.
* **Driving licence.** Missing when required costs ``licence_missing`` (nearly a veto).
* **Long unemployment scars the employer's odds.** A spell of ``long_unemployment_years`` or
  more on the day the pair is shown lowers the interview log-odds by ``scar_interview`` and
  the hiring log-odds by ``scar_hire`` (employers read a long gap as a signal); the
  jobseeker's acceptance and retention do not depend on it.

Stages
------
accept = ``σ(accept_intercept − accept_cliff·beyond_cliff − accept_hours·over_hours −
accept_form·form_not_accepted − accept_conflicts·work_conflicts)``;
interview = ``σ(interview_intercept + interview_slope·u − scar_interview·long + ε)``;
hire = ``σ(hire_intercept + hire_slope·u − scar_hire·long + ε)``, ε ~ N(0, chemistry_sd²)
shared by interview and hire; retain six months = ``σ(retain_intercept +
retain_met·required_met − retain_weakest·max(0, −weakest_margin) −
retain_conflicts·work_conflicts − retain_hours·over_hours − retain_cliff·beyond_cliff)``.

Assessment noise
----------------
Certificates are unreliable: a third of certificate levels are one off, mostly overstated
(old certificates for skills that have faded), and a certificate sometimes lists a skill the
person does not have — yet coaches record them with the usual high confidence. Tests are
the reliable method; self-reports err as in the default world.

Logged policy ("coach_checklist")
---------------------------------
Coaches work a checklist: they look mostly in the vacancy's own area and unit group, order
lists by strong evidence (work trials, tests, certificates) and whether half of the required
skills are on record, and propose mainly those who pass that check and are within their
commute radius; they mind the length of unemployment less than in the default world.
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

__all__ = ["THRESHOLD_NOISE", "THRESHOLD_POLICY", "ThresholdForm", "ThresholdParams"]


@dataclass(frozen=True)
class ThresholdParams:
    """Parameters of the thresholds model (module docstring)."""

    required_skills: float = 3.2
    weakest_shortfall: float = 1.0
    optional_skills: float = 0.6
    commute_slack: float = 1.25
    commute_slack_km: float = 5.0
    relocation_slack: float = 3.0
    commute_cliff: float = 2.0
    hours_tolerance: float = 0.05
    hours_veto: float = 3.5
    work_conflicts: float = 1.0
    language_threshold: float = 2.0
    language_penalty: float = 2.0
    licence_missing: float = 3.0
    form_not_accepted: float = 1.0
    long_unemployment_years: float = 1.0
    scar_interview: float = 0.7
    scar_hire: float = 0.4
    accept_intercept: float = 2.4
    accept_cliff: float = 1.8
    accept_hours: float = 3.0
    accept_form: float = 2.0
    accept_conflicts: float = 0.6
    interview_intercept: float = -1.0
    interview_slope: float = 1.0
    hire_intercept: float = -0.6
    hire_slope: float = 0.8
    chemistry_sd: float = 0.6
    retain_intercept: float = 1.1
    retain_met: float = 0.6
    retain_weakest: float = 0.5
    retain_conflicts: float = 1.2
    retain_hours: float = 2.5
    retain_cliff: float = 0.6


TERMS: dict[str, str] = {
    "required_skills": "Utility per unit of the share of required skills TRULY held at or "
    "above the minimum level (below it counts nothing).",
    "weakest_shortfall": "Utility lost per level the weakest held required skill lies below "
    "its minimum.",
    "optional_skills": "Utility per unit of optional-skill coverage.",
    "commute_slack": "The commute cliff lies at radius × this + commute_slack_km.",
    "commute_slack_km": "Kilometres added to the slack radius.",
    "relocation_slack": "The cliff lies this many times further for people willing to move.",
    "commute_cliff": "Utility lost beyond the commute cliff (nothing before it).",
    "hours_tolerance": "Share of the hours beyond the person's maximum that is tolerated.",
    "hours_veto": "Utility lost when the hours exceed the maximum beyond the tolerance.",
    "work_conflicts": "Utility lost per conflict with recorded work restrictions.",
    "language_threshold": "CEFR steps missing in one language at which employers object.",
    "language_penalty": "Utility lost when a language gap reaches the threshold.",
    "licence_missing": "Utility lost when a required driving licence is missing.",
    "form_not_accepted": "Utility lost when the person does not accept the job form.",
    "long_unemployment_years": "Spell length (years, on the day shown) that counts as long.",
    "scar_interview": "Interview log-odds lost for a long spell.",
    "scar_hire": "Hiring log-odds lost for a long spell.",
    "accept_intercept": "Log-odds that a proposed jobseeker goes on, before penalties.",
    "accept_cliff": "Jobseeker's log-odds lost beyond the commute cliff.",
    "accept_hours": "Jobseeker's log-odds lost when the hours exceed their maximum.",
    "accept_form": "Jobseeker's log-odds lost when they do not accept the job form.",
    "accept_conflicts": "Jobseeker's log-odds lost per work-ability conflict.",
    "interview_intercept": "Employer's log-odds of interviewing at zero utility.",
    "interview_slope": "Employer's interview log-odds per unit of utility.",
    "hire_intercept": "Employer's log-odds of hiring an interviewee at zero utility.",
    "hire_slope": "Employer's hiring log-odds per unit of utility.",
    "chemistry_sd": "Standard deviation of the pair chemistry shared by interview and hire.",
    "retain_intercept": "Log-odds that a hire is still employed after six months.",
    "retain_met": "Retention log-odds per unit of the share of required skills met.",
    "retain_weakest": "Retention log-odds lost per level of the weakest skill's shortfall.",
    "retain_conflicts": "Retention log-odds lost per work-ability conflict.",
    "retain_hours": "Retention log-odds lost when the hours exceed the maximum.",
    "retain_cliff": "Retention log-odds lost beyond the commute cliff.",
}


class ThresholdForm(OutcomeForm[ThresholdParams]):
    """Thresholds and the weakest link (module docstring)."""

    family = "thresholds"
    uses_unemployment = True

    def beyond_cliff(self, f: PairFeatures) -> FloatArray:
        p = self.params
        slack = np.where(f.willing_to_relocate > 0, p.relocation_slack, 1.0)
        cliff = (f.commute_radius_km * p.commute_slack + p.commute_slack_km) * slack
        result: FloatArray = (f.effective_km > cliff).astype(np.float64)
        return result

    def over_hours(self, f: PairFeatures) -> FloatArray:
        result: FloatArray = (f.hours_excess > self.params.hours_tolerance).astype(np.float64)
        return result

    def shortfall(self, f: PairFeatures) -> FloatArray:
        result: FloatArray = np.maximum(-f.weakest_margin, 0.0)
        return result

    def long_spell(self, f: PairFeatures) -> FloatArray:
        long: FloatArray = (f.unemployed_years >= self.params.long_unemployment_years).astype(
            np.float64
        )
        return long

    def utility(self, f: PairFeatures) -> FloatArray:
        p = self.params
        language = (f.language_max_gap >= p.language_threshold).astype(np.float64)
        u: FloatArray = (
            p.required_skills * f.required_met
            - p.weakest_shortfall * self.shortfall(f)
            + p.optional_skills * f.optional_coverage
            - p.commute_cliff * self.beyond_cliff(f)
            - p.hours_veto * self.over_hours(f)
            - p.work_conflicts * f.work_conflicts
            - p.language_penalty * language
            - p.licence_missing * f.licence_missing
            - p.form_not_accepted * f.form_not_accepted
        )
        return u

    def stage_logits(self, f: PairFeatures) -> StageLogits:
        p = self.params
        u = self.utility(f)
        cliff, hours, long = self.beyond_cliff(f), self.over_hours(f), self.long_spell(f)
        return StageLogits(
            accept=p.accept_intercept
            - p.accept_cliff * cliff
            - p.accept_hours * hours
            - p.accept_form * f.form_not_accepted
            - p.accept_conflicts * f.work_conflicts,
            interview=p.interview_intercept + p.interview_slope * u - p.scar_interview * long,
            hire=p.hire_intercept + p.hire_slope * u - p.scar_hire * long,
            retain=p.retain_intercept
            + p.retain_met * f.required_met
            - p.retain_weakest * self.shortfall(f)
            - p.retain_conflicts * f.work_conflicts
            - p.retain_hours * hours
            - p.retain_cliff * cliff,
        )

    def decline_reason_weights(self, f: PairFeatures, by_employer: bool) -> FloatArray:
        p = self.params
        cliff, hours = self.beyond_cliff(f), self.over_hours(f)
        if not by_employer:
            return np.stack(
                [
                    p.accept_cliff * cliff,
                    p.accept_hours * hours,
                    p.accept_conflicts * f.work_conflicts,
                    0.4 + p.accept_form * f.form_not_accepted,
                ],
                axis=1,
            )
        language = (f.language_max_gap >= p.language_threshold).astype(np.float64)
        return np.stack(
            [
                p.required_skills * (1.0 - f.required_met)
                + p.weakest_shortfall * self.shortfall(f),
                p.language_penalty * language,
                p.work_conflicts * f.work_conflicts,
                p.hours_veto * hours,
                p.commute_cliff * cliff,
                0.3 + p.licence_missing * f.licence_missing,
            ],
            axis=1,
        )

    def term_descriptions(self) -> dict[str, str]:
        return TERMS

    def formulas(self) -> dict[str, str]:
        return {
            "utility": "u = required_skills*required_met - weakest_shortfall*max(0, "
            "-weakest_margin) + optional_skills*optional_coverage - commute_cliff*"
            "[effective_km > (radius*commute_slack + commute_slack_km)*(relocation_slack if "
            "willing to relocate)] - hours_veto*[hours_excess > hours_tolerance] - "
            "work_conflicts*work_conflicts - language_penalty*[language_max_gap >= "
            "language_threshold] - licence_missing*licence_missing - form_not_accepted*"
            "form_not_accepted",
            "accept": "sigmoid(accept_intercept - accept_cliff*beyond_cliff - accept_hours*"
            "over_hours - accept_form*form_not_accepted - accept_conflicts*work_conflicts)",
            "interview": "sigmoid(interview_intercept + interview_slope*u - scar_interview*"
            "[unemployed_years >= long_unemployment_years] + e), e ~ N(0, chemistry_sd^2) "
            "shared with hire",
            "hire": "sigmoid(hire_intercept + hire_slope*u - scar_hire*[unemployed_years >= "
            "long_unemployment_years] + e), at most `openings` hires per vacancy",
            "retain_6m": "sigmoid(retain_intercept + retain_met*required_met - "
            "retain_weakest*max(0, -weakest_margin) - retain_conflicts*work_conflicts - "
            "retain_hours*over_hours - retain_cliff*beyond_cliff)",
        }


#: Certificates are unreliable (overstated, sometimes wrong, but trusted); tests are exact.
THRESHOLD_NOISE = RecognitionNoise(
    skills_seen=((6, 14), (5, 12), (2, 6), (2, 6), (4, 10)),
    level_error=(0.10, 0.15, 0.04, 0.35, 0.0),
    level_error_up=(0.5, 0.5, 0.5, 0.85, 0.5),
    confidence=((0.80, 0.95), (0.70, 0.90), (0.85, 1.00), (0.90, 1.00), (0.30, 0.60)),
    self_report_bias=(0.15, 0.50, 0.30, 0.05),
    false_claims_mean=(0.0, 0.0, 0.0, 0.7, 1.3),
    summary="Certificates are unreliable: a third of their levels are one off, mostly "
    "overstated, and they list skills the person lacks, yet coaches trust them; tests are "
    "the reliable method.",
)

THRESHOLD_POLICY = CoachPolicyParams(
    name="coach_checklist",
    shortlist_sources=(0.65, 0.15, 0.12, 0.05, 0.03),
    search_sources=(0.60, 0.25, 0.05, 0.05, 0.05),
    rank_coverage=1.0,
    rank_evidence=2.0,
    rank_preferred=0.5,
    rank_near=1.0,
    rank_proximity=0.0,
    rank_unemployment=0.1,
    rank_eligible=0.3,
    rank_noise_sd=0.4,
    intercept=-1.7,
    search_intercept=-3.4,
    assessed_coverage=0.5,
    coverage_threshold=1.8,
    evidence_coverage=1.5,
    preferred_match=0.4,
    within_radius=1.2,
    proximity=0.0,
    unemployment_years=0.3,
    eligible=0.6,
    position=0.5,
    min_propensity=0.01,
    max_propensity=0.90,
    summary="Coaches work a checklist: half of the required skills on record, strong "
    "evidence, within the commute radius.",
)
