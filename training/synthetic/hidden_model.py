"""The hidden outcome model: how outcomes of proposals really come about in the world.

The synthetic world's outcome history is drawn from a hidden model, and the evaluation's
oracle ranks candidates with it. Matching code never sees it: it learns from the outcome
events, under the selection bias of the coaches' logged policy.

There is a *family* of hidden models (``WorldConfig.hidden_model``, ``kohtaanto generate
--hidden-model NAME``), which differ in form, not only in coefficients: this module's
``additive`` model (the default, documented below), the ``thresholds`` model
(:mod:`training.synthetic.variant_thresholds`) and the ``interactions`` model
(:mod:`training.synthetic.variant_interactions`). They share the pair features and the
stages of a proposal; each has its own utility, stage log-odds, assessment noise and logged
coach policy (:mod:`training.synthetic.variants`). ``hidden_model.json`` records the family
and every parameter, and :meth:`HiddenModel.from_json` rebuilds exactly that model.

Pair features (from the TRUE skills and the recorded facts)
-----------------------------------------------------------
For jobseeker *j* and vacancy *v* (every family computes all of them; each uses some):

* ``required_coverage`` — share of *v*'s required skills that *j* truly has at or above the
  minimum level; a skill held below the minimum counts half.
* ``required_met`` / ``required_held`` — the share held at or above the minimum / at any level.
* ``weakest_margin`` / ``mean_margin`` — the lowest / mean (true level − minimum level) over
  the required skills *j* holds (0 when *j* holds none).
* ``optional_coverage`` — the same as ``required_coverage`` over optional skills (0 when none).
* ``effective_km`` — the distance ``d × (1 − remote_share)``; ``commute_radius_km`` *j*'s radius.
* ``commute_excess`` — effective distance beyond *j*'s commute radius, in units of the radius
  (at least 10 km), capped at 5; halved when *j* is willing to relocate. ``d`` is the
  straight-line distance between the municipalities.
* ``commute_within`` — effective distance up to the radius, in units of the radius (0..1).
* ``hours_excess`` — hours asked beyond *j*'s maximum weekly hours, as a share of the hours.
* ``work_conflicts`` — how many of: heavy physical demand vs no_heavy_lifting, night work vs
  no_night_work, shift work vs no_shift_work, moderate/heavy work vs no_prolonged_standing.
* ``language_gap`` / ``language_max_gap`` — CEFR steps (A1=1 … C2=6, native=7) missing, summed
  / at most, over the languages asked.
* ``customer_facing`` — *v*'s occupation is in ISCO major group 4 (clerical support) or 5
  (service and sales).
* ``licence_missing`` — a driving licence is required and *j* has none.
* ``form_not_accepted`` — *j* does not accept the vacancy's job form.
* ``unemployed_years`` — length of *j*'s unemployment spell on the day the pair is judged
  (the day it was shown; 0 when *j* is in work then), from the live state of the history
  (:mod:`features.live_state`).

The additive model ("additive", the default)
--------------------------------------------
``u = required_skills·required_coverage + optional_skills·optional_coverage
− commute_excess·commute_excess − commute_within·commute_within − hours_excess·hours_excess
− work_conflicts·work_conflicts − language_gap·language_gap − licence_missing·licence_missing
− form_not_accepted·form_not_accepted``, each weight named as its feature in
:class:`HiddenModelParams` (e.g. 3.0 per unit of required-skill coverage, 0.5 per missing
CEFR step; ``HIDDEN_MODEL.md`` and ``hidden_model.json`` list every value). Every term acts
linearly on the log-odds: a little more distance always costs a little more.

Stages of a proposal
--------------------
1. The jobseeker accepts to go on with probability ``σ(accept_intercept
   − accept_commute·commute_excess − accept_hours·hours_excess
   − accept_form·form_not_accepted − accept_conflicts·work_conflicts)``; otherwise
   ``declined_by_jobseeker``.
2. The employer interviews with probability ``σ(interview_intercept + interview_slope·u + ε)``,
   otherwise ``declined_by_employer``; ε ~ N(0, chemistry_sd²) is an unobserved pair
   "chemistry" shared by stages 2 and 3.
3. After the interview the employer hires with probability ``σ(hire_intercept +
   hire_slope·u + ε)``, otherwise ``declined_by_employer``; a vacancy hires at most
   ``openings`` people (first decided, first hired); later successful candidates get
   ``declined_by_employer`` with reason ``position_filled``, and an offer to somebody who
   has started another job in the meantime ends as ``declined_by_jobseeker``
   (``not_interested``).
4. A hire is retained six months with probability ``σ(retain_intercept +
   retain_required_skills·required_coverage − retain_conflicts·work_conflicts −
   retain_hours·hours_excess − retain_commute·commute_excess)`` — work-ability fit matters
   more here than elsewhere. Of those, ``σ(retain logit + RETAIN_12M_SHIFT)`` stay a year.

Declines carry a reason drawn in proportion to what hurt: commute, hours, work_ability or
not_interested (job form, or no particular reason) for the jobseeker; skills, language,
work_ability, hours, commute or other (driving licence, or no particular reason) for the
employer.

What is NOT in the model
------------------------
Sex, age (birth year) and migrant background never enter any term of any family. The
additive model does not read the length of unemployment either; the thresholds and
interactions models do (it is in the data: ``unemployment_start`` and the outcome history).
The coaches' logged policy prefers (in the default world) short unemployment and
well-*assessed* skills; that preference is selection bias, which a de-biased learner should
not reproduce.

The oracle and the other scores
-------------------------------
:meth:`HiddenModel.oracle_scores` is ``P(hired | proposed)`` = P(accept) ×
E_ε[P(interview | ε)·P(hire | ε)]; :meth:`HiddenModel.lasting_hire_probability` is
P(hired and still employed six months later | proposed) = P(accept) ×
E_ε[P(interview | ε)·P(hire | ε)·P(retained | ε)]; :meth:`HiddenModel.expected_grade` is the
expected logged grade of a shown pair, P(proposed | shown) × (1 + P(accept) ×
E_ε[P(interview | ε)·(1 + P(hire | ε)·(1 + P(retained | ε)))]). The expectations over ε use
Gauss–Hermite quadrature with each family's chemistry loadings; all three ignore
competition for openings and other jobs. They are computed vectorised over arrays of pairs
with sparse skill matrices.
"""

from __future__ import annotations

import json
import weakref
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from features.world_store import HIDDEN_MODEL_FILE, WorldTables
from matching.domain import ReasonCode
from training.synthetic.pair_context import (
    FEATURE_DESCRIPTIONS,
    FloatArray,
    IntArray,
    PairContext,
    PairFeatures,
    pair_features,
)

if TYPE_CHECKING:
    from training.synthetic.variant_interactions import InteractionParams
    from training.synthetic.variant_thresholds import ThresholdParams

__all__ = [
    "EMPLOYER_REASONS",
    "FEATURE_DESCRIPTIONS",
    "JOBSEEKER_REASONS",
    "RETAIN_12M_SHIFT",
    "HiddenModel",
    "HiddenModelParams",
    "OutcomeForm",
    "PairContext",
    "PairFeatures",
    "StageLogits",
]

MODEL_NAME = "kohtaanto-hidden-outcome-model"
MODEL_VERSION = 2
_QUADRATURE_NODES = 24
#: Log-odds added to the six-month retention logit for staying on to twelve months: the pair
#: features that keep people six months keep them a year, and most who stayed half a year
#: stay on.
RETAIN_12M_SHIFT = 0.5
_STAGE_NAMES = ("interview", "hire", "retain")


@dataclass(frozen=True)
class HiddenModelParams:
    """Parameters of the additive hidden model (see the module docstring for the formulas)."""

    required_skills: float = 3.0
    optional_skills: float = 0.8
    commute_excess: float = 0.8
    commute_within: float = 0.3
    hours_excess: float = 2.5
    work_conflicts: float = 1.0
    language_gap: float = 0.5
    licence_missing: float = 1.5
    form_not_accepted: float = 1.0
    relocation_discount: float = 0.5
    accept_intercept: float = 2.5
    accept_commute: float = 0.7
    accept_hours: float = 2.0
    accept_form: float = 2.0
    accept_conflicts: float = 0.6
    interview_intercept: float = -1.2
    interview_slope: float = 1.0
    hire_intercept: float = -0.6
    hire_slope: float = 0.7
    chemistry_sd: float = 0.8
    retain_intercept: float = 1.0
    retain_required_skills: float = 0.8
    retain_conflicts: float = 1.2
    retain_hours: float = 2.0
    retain_commute: float = 0.5


#: Plain-language description of every parameter of the additive model.
TERM_DESCRIPTIONS: dict[str, str] = {
    "required_skills": "Utility per unit of required-skill coverage by TRUE skills "
    "(share of required skills held at or above the minimum level; below it counts half).",
    "optional_skills": "Utility per unit of optional-skill coverage by TRUE skills.",
    "commute_excess": "Utility lost per commute radius of effective distance beyond the "
    "person's commute radius (remote work shortens the distance).",
    "commute_within": "Utility lost for using up the commute radius (nearer is a bit better).",
    "hours_excess": "Utility lost per share of the vacancy's hours beyond the person's "
    "maximum weekly hours (partial work capacity).",
    "work_conflicts": "Utility lost per conflict between the job and recorded restrictions "
    "(heavy lifting, night work, shift work, prolonged standing).",
    "language_gap": "Utility lost per CEFR step missing in a language the vacancy asks for.",
    "licence_missing": "Utility lost when a driving licence is required and missing.",
    "form_not_accepted": "Utility lost when the person does not accept the job form.",
    "relocation_discount": "Factor on commute excess when the person is willing to relocate.",
    "accept_intercept": "Log-odds that a proposed jobseeker goes on, before penalties.",
    "accept_commute": "Jobseeker's log-odds lost per commute radius of excess distance.",
    "accept_hours": "Jobseeker's log-odds lost per share of hours beyond their maximum.",
    "accept_form": "Jobseeker's log-odds lost when they do not accept the job form.",
    "accept_conflicts": "Jobseeker's log-odds lost per work-ability conflict.",
    "interview_intercept": "Employer's log-odds of interviewing at zero utility.",
    "interview_slope": "Employer's interview log-odds per unit of hidden utility.",
    "hire_intercept": "Employer's log-odds of hiring an interviewee at zero utility.",
    "hire_slope": "Employer's hiring log-odds per unit of hidden utility.",
    "chemistry_sd": "Standard deviation of the unobserved pair 'chemistry' added to both "
    "the interview and the hiring log-odds.",
    "retain_intercept": "Log-odds that a hire is still employed after six months.",
    "retain_required_skills": "Retention log-odds per unit of required-skill coverage.",
    "retain_conflicts": "Retention log-odds lost per work-ability conflict.",
    "retain_hours": "Retention log-odds lost per share of hours beyond the maximum.",
    "retain_commute": "Retention log-odds lost per commute radius of excess distance.",
}

#: Reasons a jobseeker declines and an employer declines, in the order of the weight columns.
JOBSEEKER_REASONS = (
    ReasonCode.COMMUTE,
    ReasonCode.HOURS,
    ReasonCode.WORK_ABILITY,
    ReasonCode.NOT_INTERESTED,
)
EMPLOYER_REASONS = (
    ReasonCode.SKILLS,
    ReasonCode.LANGUAGE,
    ReasonCode.WORK_ABILITY,
    ReasonCode.HOURS,
    ReasonCode.COMMUTE,
    ReasonCode.OTHER,
)


def _sigmoid(x: FloatArray) -> FloatArray:
    result: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return result


@dataclass(frozen=True)
class StageLogits:
    """Log-odds of each stage for a batch of pairs (at zero chemistry)."""

    accept: FloatArray
    interview: FloatArray
    hire: FloatArray
    retain: FloatArray


# --------------------------------------------------------------------------------------------
# Forms: what differs between the families
# --------------------------------------------------------------------------------------------

ParamsT = TypeVar("ParamsT")


class OutcomeForm(ABC, Generic[ParamsT]):
    """The form of one family of hidden models: utility, stage log-odds, decline reasons.

    A form never reads sex, birth year or migrant background: they are not pair features.
    """

    #: Family name (``WorldConfig.hidden_model``).
    family: ClassVar[str]
    #: Whether the form reads ``unemployed_years`` (then pairs need the day they are judged).
    uses_unemployment: ClassVar[bool] = False

    def __init__(self, params: ParamsT) -> None:
        self.params = params

    @property
    def chemistry_sd(self) -> float:
        """Standard deviation of the unobserved pair chemistry ε."""
        return float(self.params.chemistry_sd)  # type: ignore[attr-defined]

    def chemistry_loadings(self) -> tuple[float, float, float]:
        """How much ε moves the interview, hire and retention log-odds."""
        return (1.0, 1.0, 0.0)

    @property
    def relocation_discount(self) -> float:
        """Factor on ``commute_excess`` for people willing to relocate."""
        return 0.5

    @abstractmethod
    def utility(self, f: PairFeatures) -> FloatArray:
        """The employer's hidden utility of each pair (no noise)."""

    @abstractmethod
    def stage_logits(self, f: PairFeatures) -> StageLogits:
        """Log-odds of accepting, interviewing, hiring and retaining (at zero chemistry)."""

    @abstractmethod
    def decline_reason_weights(self, f: PairFeatures, by_employer: bool) -> FloatArray:
        """Unnormalised weights of each reason (columns: JOBSEEKER_/EMPLOYER_REASONS)."""

    @abstractmethod
    def term_descriptions(self) -> dict[str, str]:
        """Plain-language meaning of every parameter."""

    @abstractmethod
    def formulas(self) -> dict[str, str]:
        """The utility and stage formulas, for hidden_model.json."""

    @classmethod
    def documentation(cls) -> str:
        """The family's documentation (its module docstring)."""
        import sys

        return (sys.modules[cls.__module__].__doc__ or "").strip()


class AdditiveForm(OutcomeForm[HiddenModelParams]):
    """Today's additive logistic model (the module docstring has the formulas)."""

    family = "additive"

    @property
    def relocation_discount(self) -> float:
        return self.params.relocation_discount

    def utility(self, f: PairFeatures) -> FloatArray:
        p = self.params
        u: FloatArray = (
            p.required_skills * f.required_coverage
            + p.optional_skills * f.optional_coverage
            - p.commute_excess * f.commute_excess
            - p.commute_within * f.commute_within
            - p.hours_excess * f.hours_excess
            - p.work_conflicts * f.work_conflicts
            - p.language_gap * f.language_gap
            - p.licence_missing * f.licence_missing
            - p.form_not_accepted * f.form_not_accepted
        )
        return u

    def stage_logits(self, f: PairFeatures) -> StageLogits:
        p = self.params
        u = self.utility(f)
        return StageLogits(
            accept=p.accept_intercept
            - p.accept_commute * f.commute_excess
            - p.accept_hours * f.hours_excess
            - p.accept_form * f.form_not_accepted
            - p.accept_conflicts * f.work_conflicts,
            interview=p.interview_intercept + p.interview_slope * u,
            hire=p.hire_intercept + p.hire_slope * u,
            retain=p.retain_intercept
            + p.retain_required_skills * f.required_coverage
            - p.retain_conflicts * f.work_conflicts
            - p.retain_hours * f.hours_excess
            - p.retain_commute * f.commute_excess,
        )

    def decline_reason_weights(self, f: PairFeatures, by_employer: bool) -> FloatArray:
        p = self.params
        if not by_employer:
            return np.stack(
                [
                    p.accept_commute * f.commute_excess,
                    p.accept_hours * f.hours_excess,
                    p.accept_conflicts * f.work_conflicts,
                    0.4 + p.accept_form * f.form_not_accepted,
                ],
                axis=1,
            )
        return np.stack(
            [
                p.required_skills * (1.0 - f.required_coverage)
                + p.optional_skills * 0.3 * (1.0 - f.optional_coverage),
                p.language_gap * f.language_gap,
                p.work_conflicts * f.work_conflicts,
                p.hours_excess * f.hours_excess,
                p.commute_excess * f.commute_excess,
                0.3 + p.licence_missing * f.licence_missing,
            ],
            axis=1,
        )

    def term_descriptions(self) -> dict[str, str]:
        return TERM_DESCRIPTIONS

    def formulas(self) -> dict[str, str]:
        return {
            "utility": "u = required_skills*required_coverage + optional_skills*"
            "optional_coverage - commute_excess*commute_excess - commute_within*"
            "commute_within - hours_excess*hours_excess - work_conflicts*work_conflicts - "
            "language_gap*language_gap - licence_missing*licence_missing - "
            "form_not_accepted*form_not_accepted",
            "accept": "sigmoid(accept_intercept - accept_commute*commute_excess - "
            "accept_hours*hours_excess - accept_form*form_not_accepted - "
            "accept_conflicts*work_conflicts)",
            "interview": "sigmoid(interview_intercept + interview_slope*u + e), "
            "e ~ N(0, chemistry_sd^2) shared with hire",
            "hire": "sigmoid(hire_intercept + hire_slope*u + e), at most `openings` "
            "hires per vacancy",
            "retain_6m": "sigmoid(retain_intercept + retain_required_skills*"
            "required_coverage - retain_conflicts*work_conflicts - retain_hours*"
            "hours_excess - retain_commute*commute_excess)",
        }

    @classmethod
    def documentation(cls) -> str:
        text = __doc__ or ""
        start = text.index("The additive model")
        end = text.index("What is NOT in the model")
        return text[start:end].strip()


def _form_classes() -> dict[str, tuple[type[OutcomeForm[Any]], type]]:
    """Family name -> (form class, parameter class) of every family."""
    from training.synthetic.variant_interactions import InteractionForm, InteractionParams
    from training.synthetic.variant_thresholds import ThresholdForm, ThresholdParams

    return {
        "additive": (AdditiveForm, HiddenModelParams),
        "thresholds": (ThresholdForm, ThresholdParams),
        "interactions": (InteractionForm, InteractionParams),
    }


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


class HiddenModel:
    """A hidden outcome model of the family its parameters belong to.

    ``HiddenModel()`` is the default additive model; ``HiddenModel(ThresholdParams())`` or
    :meth:`for_family` give the others. The methods are the same for every family.
    """

    def __init__(
        self, params: HiddenModelParams | ThresholdParams | InteractionParams | None = None
    ) -> None:
        params = params if params is not None else HiddenModelParams()
        for form_class, params_class in _form_classes().values():
            if type(params) is params_class:
                self.form: OutcomeForm[Any] = form_class(params)
                break
        else:
            raise TypeError(f"{type(params).__name__} is not the parameters of a hidden model")
        self._contexts: weakref.WeakKeyDictionary[WorldTables, PairContext] = (
            weakref.WeakKeyDictionary()
        )

    @staticmethod
    def for_family(family: str) -> HiddenModel:
        """The model of a family with its default parameters."""
        classes = _form_classes()
        if family not in classes:
            raise ValueError(f"unknown hidden model {family!r}; known: {', '.join(classes)}")
        return HiddenModel(classes[family][1]())

    @property
    def family(self) -> str:
        return self.form.family

    @property
    def params(self) -> Any:
        """The family's parameter dataclass."""
        return self.form.params

    # ---- features and probabilities over row positions ----

    def features(
        self,
        context: PairContext,
        js: IntArray,
        vac: IntArray,
        *,
        days: Any = None,
        unemployed_days: npt.ArrayLike | None = None,
    ) -> PairFeatures:
        """Pair features for row positions ``js`` and ``vac`` (equal-length arrays).

        ``unemployed_years`` is read only by families that use it: from ``unemployed_days``
        when given, else from the spells on ``days`` (default: the context's ``as_of``).
        """
        if not self.form.uses_unemployment:
            unemployed_days = None
        elif unemployed_days is None:
            unemployed_days = context.unemployed_days(np.asarray(js, dtype=np.int64), days)
        return pair_features(
            context,
            js,
            vac,
            relocation_discount=self.form.relocation_discount,
            unemployed_days=unemployed_days,
        )

    def utility(self, f: PairFeatures) -> FloatArray:
        """The hidden utility of each pair (no noise)."""
        return self.form.utility(f)

    def stage_logits(self, f: PairFeatures) -> StageLogits:
        """Log-odds of accepting, interviewing, hiring (both at zero chemistry), retaining."""
        return self.form.stage_logits(f)

    def decline_reason_weights(self, f: PairFeatures, by_employer: bool) -> FloatArray:
        """Unnormalised weights of each reason (columns: JOBSEEKER_/EMPLOYER_REASONS)."""
        return self.form.decline_reason_weights(f, by_employer)

    def _expectations(self, f: PairFeatures) -> tuple[FloatArray, FloatArray, FloatArray]:
        """E_ε over the chemistry of: interview·hire, interview·hire·retain, and
        interview·(1 + hire·(1 + retain)); by Gauss–Hermite quadrature."""
        logits = self.stage_logits(f)
        load_interview, load_hire, load_retain = self.form.chemistry_loadings()
        nodes, weights = np.polynomial.hermite.hermgauss(_QUADRATURE_NODES)
        shocks = np.sqrt(2.0) * self.form.chemistry_sd * nodes
        hired = np.zeros(len(logits.accept))
        lasting = np.zeros(len(logits.accept))
        grade = np.zeros(len(logits.accept))
        for shock, weight in zip(shocks, weights / np.sqrt(np.pi), strict=True):
            interview = _sigmoid(logits.interview + load_interview * shock)
            hire = _sigmoid(logits.hire + load_hire * shock)
            retain = _sigmoid(logits.retain + load_retain * shock)
            hired += weight * interview * hire
            lasting += weight * interview * hire * retain
            grade += weight * interview * (1.0 + hire * (1.0 + retain))
        accept = _sigmoid(logits.accept)
        return accept * hired, accept * lasting, accept * grade

    def hire_probability(self, f: PairFeatures) -> FloatArray:
        """P(hired | proposed), integrating the chemistry term by Gauss–Hermite quadrature."""
        return self._expectations(f)[0]

    def lasting_probability(self, f: PairFeatures) -> FloatArray:
        """P(hired and still employed six months later | proposed)."""
        return self._expectations(f)[1]

    def grade_after_proposal(self, f: PairFeatures) -> FloatArray:
        """E[logged grade | proposed] = 1 + P(accept)·E_ε[P(interview)(1 + P(hire)(1 + P(ret)))]."""
        result: FloatArray = 1.0 + self._expectations(f)[2]
        return result

    # ---- the public id-based API ----

    def context(self, world: WorldTables) -> PairContext:
        """The (cached) :class:`PairContext` of a loaded world; reads the truth once."""
        cached = self._contexts.get(world)
        if cached is None:
            cached = PairContext.from_world(world)
            self._contexts[world] = cached
        return cached

    def _id_features(
        self,
        world: WorldTables,
        jobseeker_ids: Any,
        vacancy_ids: Any,
        context: PairContext | None,
        days: Any,
    ) -> PairFeatures:
        ctx = context or self.context(world)
        js, vac = ctx.rows(jobseeker_ids, vacancy_ids)
        return self.features(ctx, js, vac, days=days)

    def pair_utility(
        self,
        world: WorldTables,
        jobseeker_ids: Any,
        vacancy_ids: Any,
        *,
        context: PairContext | None = None,
        days: Any = None,
    ) -> FloatArray:
        """Hidden utility of each (jobseeker_ids[i], vacancy_ids[i]) pair."""
        return self.utility(self._id_features(world, jobseeker_ids, vacancy_ids, context, days))

    def oracle_scores(
        self,
        world: WorldTables,
        jobseeker_ids: Any,
        vacancy_ids: Any,
        *,
        context: PairContext | None = None,
        days: Any = None,
    ) -> FloatArray:
        """P(hired | proposed) of each pair from the TRUE skills: the oracle's ranking score.

        ``days``: the day each pair is judged on (its shown day; default the world's as_of),
        which matters for families that read the length of unemployment.
        """
        return self.hire_probability(
            self._id_features(world, jobseeker_ids, vacancy_ids, context, days)
        )

    def lasting_hire_probability(
        self,
        world: WorldTables,
        jobseeker_ids: Any,
        vacancy_ids: Any,
        *,
        context: PairContext | None = None,
        days: Any = None,
    ) -> FloatArray:
        """P(hired and still employed after six months | proposed), ignoring competition."""
        return self.lasting_probability(
            self._id_features(world, jobseeker_ids, vacancy_ids, context, days)
        )

    def expected_grade(
        self,
        world: WorldTables,
        jobseeker_ids: Any,
        vacancy_ids: Any,
        propensity: npt.ArrayLike,
        *,
        context: PairContext | None = None,
        days: Any = None,
    ) -> FloatArray:
        """Expected logged grade of shown pairs: P(proposed | shown) × E[grade | proposed].

        ``propensity`` is the logged P(proposed | shown) (NaN, e.g. for unshown rows, counts
        as 0); competition for openings is ignored, like the oracle.
        """
        shown = np.nan_to_num(np.asarray(propensity, dtype=np.float64), nan=0.0)
        after = self.grade_after_proposal(
            self._id_features(world, jobseeker_ids, vacancy_ids, context, days)
        )
        result: FloatArray = shown * after
        return result

    # ---- serialisation ----

    def to_dict(
        self,
        logging_policy: Mapping[str, Any] | None = None,
        recognition: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The JSON document written as ``hidden_model.json``."""
        parameters = asdict(self.params)
        document: dict[str, Any] = {
            "model": MODEL_NAME,
            "version": MODEL_VERSION,
            "family": self.family,
            "description": (
                f"Hidden outcome model of the synthetic world, family '{self.family}'. A "
                "proposed jobseeker accepts, is interviewed, hired and retained 6 months with "
                "logistic probabilities of the pair features below, computed from TRUE skills. "
                "Sex, age and migrant background do not enter any term."
            ),
            "parameters": parameters,
            "terms": {name: self.form.term_descriptions()[name] for name in parameters},
            "features": FEATURE_DESCRIPTIONS,
            "utility": self.form.formulas()["utility"],
            "stages": {
                **{k: v for k, v in self.form.formulas().items() if k != "utility"},
                "retain_12m": f"sigmoid(retain logit + {RETAIN_12M_SHIFT}) of those retained 6m",
                "chemistry_loadings": dict(
                    zip(_STAGE_NAMES, self.form.chemistry_loadings(), strict=True)
                ),
                "oracle": "P(hired | proposed) = accept * E_e[interview * hire]",
            },
            "excluded": ["sex", "birth_year", "migrant_background"]
            + ([] if self.form.uses_unemployment else ["unemployment_start"]),
        }
        if recognition is not None:
            document["recognition"] = dict(recognition)
        if logging_policy is not None:
            document["logging_policy"] = dict(logging_policy)
        return document

    def save(
        self,
        path: Path,
        logging_policy: Mapping[str, Any] | None = None,
        recognition: Mapping[str, Any] | None = None,
    ) -> None:
        """Write ``hidden_model.json`` to ``path``."""
        text = json.dumps(self.to_dict(logging_policy, recognition), indent=2, ensure_ascii=False)
        Path(path).write_text(text + "\n", encoding="utf-8")

    @staticmethod
    def read_document(path: Path) -> dict[str, Any]:
        """The parsed ``hidden_model.json`` of a file or a world folder containing one."""
        path = Path(path)
        if path.is_dir():
            path = path / HIDDEN_MODEL_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: no hidden model there")
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return document

    @classmethod
    def from_json(cls, path: Path) -> HiddenModel:
        """Load from a ``hidden_model.json`` file or a world folder containing one.

        The document's ``family`` (``additive`` when absent, as in worlds of generator 1.x)
        picks the form; its parameters are set exactly as written.
        """
        document = cls.read_document(path)
        family = str(document.get("family", "additive"))
        classes = _form_classes()
        if family not in classes:
            raise ValueError(f"{path}: unknown hidden-model family {family!r}")
        params_class = classes[family][1]
        known = {f.name for f in fields(params_class)}
        values = document.get("parameters", {})
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{path}: unknown {family} hidden-model parameters {unknown}")
        return cls(params_class(**{k: float(v) for k, v in values.items()}))

    def markdown(
        self,
        logging_policy: Mapping[str, Any] | None = None,
        recognition_table: str | None = None,
        recognition_summary: str | None = None,
    ) -> str:
        """``HIDDEN_MODEL.md``: the family's documentation plus its parameter tables."""
        shared = __doc__ or ""
        lines = [
            f"# The hidden outcome model of this synthetic world: `{self.family}`",
            "",
            "Generated by `training.synthetic`; parameters are also in `hidden_model.json`.",
            "Only the evaluation oracle may use this model and `truth/true_skills.parquet`.",
            "",
            shared[: shared.index("The additive model")].strip(),
            "",
            self.form.documentation(),
            "",
            shared[shared.index("What is NOT in the model") :].strip(),
            "",
            "## Parameters",
            "",
            "| parameter | value | meaning |",
            "|---|---|---|",
        ]
        terms = self.form.term_descriptions()
        for name, value in asdict(self.params).items():
            lines.append(f"| `{name}` | {value:g} | {terms[name]} |")
        lines += ["", "## Pair features", "", "| feature | definition |", "|---|---|"]
        lines += [f"| `{name}` | {text} |" for name, text in FEATURE_DESCRIPTIONS.items()]
        if recognition_table is not None:
            lines += ["", "## What the coaches' assessments see", ""]
            if recognition_summary:
                lines += [recognition_summary, ""]
            lines += [recognition_table]
        if logging_policy is not None:
            name = logging_policy.get("policy", "coach_rules")
            lines += ["", f"## Logged policy (`{name}`)", "", str(logging_policy["description"])]
            lines += ["", "| parameter | value | meaning |", "|---|---|---|"]
            policy_terms = logging_policy.get("terms", {})
            for key, value in logging_policy.get("parameters", {}).items():
                shown = f"{value:g}" if isinstance(value, int | float) else str(value)
                lines.append(f"| `{key}` | {shown} | {policy_terms.get(key, '')} |")
        return "\n".join(lines) + "\n"
