"""The LightGBM ranker: training with a strict config, calibration, and the engine's scorer.

:class:`RankerConfig` holds every hyperparameter (``extra="forbid"``: a typo is an error).
Training is deterministic (a fixed seed, ``deterministic`` and ``force_row_wise``), so the
same data and seed give the same model.

**What is learnt: the funnel** (``objective = "funnel"``, the default). A proposal becomes a
hire in three steps, and each step is learnt from the proposals that reached it:

1. ``accept``: the jobseeker goes on with the proposal (not ``declined_by_jobseeker``) —
   learnt from every proposal;
2. ``interview``: the employer interviews — from the accepted proposals;
3. ``hire``: the employer chooses the person — from the interviewed; a person turned down
   only because the openings were filled by then counts as chosen, because whether a hire
   fits the pair is the question, not who applied first.

``P(hired | proposed) = P(accept) · P(interview | accepted) · P(hire | interviewed)``. Each
step has many more decided cases than there are hires (a national world logs a few hires per
hundred proposals), which is what lets the model beat the rules on worlds it was not designed
on: learnt from hires alone the same trees were noisier than the documented rule score.
The product of three models is then **distilled** into one regression tree ensemble per
direction on the log of that probability, fitted on the direction's proposals *and* on
unshown candidates of its queries — the rows a served list holds — so that one booster (one
TreeSHAP pass for explanations) serves each direction.

``binary`` (hires alone), ``lambdarank`` and ``rank_xendcg`` (the proposed rows of each query
ordered by what happened after the proposal) stay available for comparison.

**Monotone constraints.** Some features can only help or only hurt in any labour market:
holding more of the required skills at a higher level, a closer commute, a licence held, a
language level met, no work-ability conflict. :data:`MONOTONE` constrains those directions,
so that a selection effect in the log (coaching stops at a hire, say) cannot turn a skill
into a reason against a person; wanting the kind of work, or having done it, never counts
against anyone either. Features whose direction a world may reverse (unemployment length,
distance as such, remote work, the kind of occupation) are left free.

:func:`fit_calibration` maps a model's scores to the probability of a hire that lasts six
months: isotonic regression of ``hired`` on the score over the validation proposals, times
the share of hires still employed after six months (isotonic on the score too when enough
hires have passed their six months, else their overall share).
:class:`LightGBMScorer` implements :class:`matching.scoring.Scorer` on a booster, predicting
with one thread on the request path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from matching.scoring import Calibration
from training.dataset import TrainingSet
from training.forest import CompiledForest

log = logging.getLogger(__name__)

#: Feature directions every labour market shares (+1 may only raise the score, -1 lower it).
MONOTONE: Mapping[str, int] = {
    "required_coverage": 1,
    "assessed_coverage": 1,
    "weakest_required": 1,
    "coverage_work_trial": 1,
    "coverage_observation": 1,
    "coverage_test": 1,
    "coverage_certificate": 1,
    "coverage_self_report": 1,
    "level_surplus": 1,
    "optional_coverage": 1,
    "level_shortfall": -1,
    "commute_fit": 1,
    "hours_fit": 1,
    "physical_conflict": -1,
    "night_conflict": -1,
    "shift_conflict": -1,
    "standing_conflict": -1,
    "language_gap": -1,
    "driving_licence_missing": -1,
    "job_form_accepted": 1,
    "occupation_preferred": 1,
    "isco_proximity": 1,
}
#: Hires whose six months have passed needed to fit retention on the score.
MIN_RETENTION_HIRES = 200


class RankerConfig(BaseModel):
    """Hyperparameters of the ranking model (strict)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    objective: Literal["funnel", "binary", "lambdarank", "rank_xendcg"] = "funnel"
    num_trees: int = Field(default=200, ge=1, le=5000)
    learning_rate: float = Field(default=0.1, gt=0, le=1)
    # Small trees: explanations run TreeSHAP (pred_contrib) on the request path, whose cost
    # grows with leaves × depth².
    num_leaves: int = Field(default=15, ge=2, le=1024)
    max_depth: int = Field(default=6, ge=-1, le=64)
    min_data_in_leaf: int = Field(default=50, ge=1)
    feature_fraction: float = Field(default=0.9, gt=0, le=1)
    bagging_fraction: float = Field(default=0.8, gt=0, le=1)
    bagging_freq: int = Field(default=1, ge=0)
    lambda_l2: float = Field(default=1.0, ge=0)
    early_stopping_rounds: int = Field(default=20, ge=1)
    #: Histogram bins per feature: 63 learns as well here as 255 and builds 2-3× faster.
    max_bin: int = Field(default=63, ge=2, le=1023)
    eval_at: tuple[int, ...] = (10,)
    #: Apply :data:`MONOTONE` (off only to measure what the constraints are worth).
    monotone: bool = True
    num_threads: int = Field(default=2, ge=1)
    seed: int = 7

    def lightgbm_params(
        self, feature_names: tuple[str, ...] = (), objective: str | None = None
    ) -> dict[str, object]:
        """LightGBM's parameters; ``objective`` overrides the configured one (the funnel's
        steps are ``binary``, its distillation ``regression``)."""
        objective = objective or ("binary" if self.objective == "funnel" else self.objective)
        ranking = objective in ("lambdarank", "rank_xendcg")
        params: dict[str, object] = {
            "objective": objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "lambda_l2": self.lambda_l2,
            "max_bin": self.max_bin,
            "metric": "ndcg"
            if ranking
            else ("l2" if objective == "regression" else "binary_logloss"),
            "num_threads": self.num_threads,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }
        if ranking:
            params["eval_at"] = list(self.eval_at)
            params["label_gain"] = [0, 1, 3, 7]
        if self.monotone and feature_names:
            params["monotone_constraints"] = [MONOTONE.get(name, 0) for name in feature_names]
            params["monotone_constraints_method"] = "intermediate"
        return params


def _dataset(
    part: TrainingSet, config: RankerConfig, feature_names: tuple[str, ...], **extra: Any
) -> lgb.Dataset:
    if config.objective in ("binary", "funnel"):
        return lgb.Dataset(
            part.features,
            label=part.hired.astype(np.float32),
            weight=part.weights,
            feature_name=list(feature_names),
            free_raw_data=False,
            **extra,
        )
    return lgb.Dataset(
        part.features,
        label=part.outcome_grade,
        weight=part.weights,
        group=part.groups,
        feature_name=list(feature_names),
        free_raw_data=False,
        **extra,
    )


def _fit(
    features: npt.NDArray[np.float32],
    labels: npt.ArrayLike,
    weights: npt.ArrayLike,
    valid: tuple[npt.NDArray[np.float32], npt.ArrayLike] | None,
    params: dict[str, object],
    config: RankerConfig,
    feature_names: tuple[str, ...],
) -> lgb.Booster:
    """One booster, stopping early on ``valid`` (features, labels) when it has rows."""
    dataset = lgb.Dataset(
        features,
        label=np.asarray(labels, np.float64),
        weight=np.asarray(weights, np.float32),
        feature_name=list(feature_names),
        free_raw_data=False,
    )
    held_out = None
    if valid is not None and len(valid[0]) and len(np.unique(np.asarray(valid[1]))) > 1:
        held_out = lgb.Dataset(valid[0], label=np.asarray(valid[1]), reference=dataset)
    # A distillation's error keeps shrinking by crumbs: stop when it no longer matters.
    delta = 1e-4 if params.get("objective") == "regression" else 0.0
    return _boost(params, dataset, held_out, config, delta)


def _boost(
    params: dict[str, object],
    dataset: lgb.Dataset,
    valid: lgb.Dataset | None,
    config: RankerConfig,
    min_delta: float = 0.0,
) -> lgb.Booster:
    """Boost up to ``num_trees`` trees, stopping early on ``valid`` when there is one."""
    valid_sets: list[lgb.Dataset] = []
    callbacks: list[Callable[..., Any]] = []
    if valid is not None:
        valid_sets.append(valid)
        callbacks.append(
            lgb.early_stopping(config.early_stopping_rounds, verbose=False, min_delta=min_delta)
        )
    return lgb.train(
        params,
        dataset,
        num_boost_round=config.num_trees,
        valid_sets=valid_sets,
        callbacks=callbacks,
    )


#: The funnel's steps: which proposals each is learnt from, and what counts as passing it.
FUNNEL_STEPS: tuple[tuple[str, Callable[[TrainingSet], Any], Callable[[TrainingSet], Any]], ...] = (
    ("accept", lambda t: t.proposed, lambda t: t.accepted),
    ("interview", lambda t: t.accepted, lambda t: t.interviewed),
    ("hire", lambda t: t.interviewed, lambda t: t.would_hire),
)


class Funnel:
    """The three steps' boosters; ``log_probability`` is log P(hired | proposed)."""

    def __init__(self, steps: Mapping[str, lgb.Booster]) -> None:
        self.steps = dict(steps)

    def log_probability(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        total = np.zeros(len(features))
        for booster in self.steps.values():
            probability = booster.predict(features, num_iteration=booster.best_iteration or None)
            total += np.log(np.clip(probability, 1e-6, 1.0))
        return total


def train_funnel(
    train: TrainingSet,
    valid: TrainingSet | None,
    config: RankerConfig,
    feature_names: tuple[str, ...],
) -> Funnel:
    """The three steps of the funnel (module docstring), each on the proposals that reached
    it; raises ``ValueError`` when a step has nothing to learn from."""
    params = config.lightgbm_params(feature_names, "binary")
    steps: dict[str, lgb.Booster] = {}
    for name, reached, passed in FUNNEL_STEPS:
        rows = reached(train)
        labels = passed(train)[rows]
        if rows.sum() == 0 or labels.all() or not labels.any():
            raise ValueError(f"the funnel's {name} step has no decided proposals to learn from")
        held_out = None
        if valid is not None:
            valid_rows = reached(valid)
            held_out = (valid.features[valid_rows], passed(valid)[valid_rows].astype(np.float64))
        steps[name] = _fit(
            train.features[rows],
            labels.astype(np.float64),
            train.weights[rows],
            held_out,
            params,
            config,
            feature_names,
        )
    return Funnel(steps)


def distil(
    funnel: Funnel,
    rows: TrainingSet,
    valid: TrainingSet | None,
    config: RankerConfig,
    feature_names: tuple[str, ...],
) -> lgb.Booster:
    """One booster that predicts the funnel's log P(hired | proposed) on ``rows``."""
    params = config.lightgbm_params(feature_names, "regression")
    held_out = None
    if valid is not None and len(valid):
        held_out = (valid.features, funnel.log_probability(valid.features))
    return _fit(
        rows.features,
        funnel.log_probability(rows.features),
        np.ones(len(rows), np.float32),
        held_out,
        params,
        config,
        feature_names,
    )


def train_ranker(
    train: TrainingSet,
    valid: TrainingSet | None,
    config: RankerConfig,
    feature_names: tuple[str, ...],
    funnel: Funnel | None = None,
) -> lgb.Booster:
    """Train one direction's model; stop early on ``valid`` when given.

    ``funnel`` objective: distil ``funnel`` (trained on both directions' proposals by
    :func:`train_funnel`; trained here from ``train`` when not given) on ``train``'s rows.
    Other objectives learn from ``train``'s proposed rows.
    """
    if not len(train):
        raise ValueError("no rows to learn from")
    if config.objective == "funnel":
        proposed = train.subset(train.proposed)
        funnel = funnel or train_funnel(
            proposed,
            None if valid is None else valid.subset(valid.proposed),
            config,
            feature_names,
        )
        return distil(funnel, train, valid, config, feature_names)
    train = train.subset(train.proposed)
    if valid is not None:
        valid = valid.subset(valid.proposed)
    if not len(train):
        raise ValueError("no proposed rows to learn from")
    params = config.lightgbm_params(feature_names)
    dataset = _dataset(train, config, feature_names)
    held_out = None
    if valid is not None and len(valid) and (config.objective != "binary" or valid.hired.any()):
        held_out = _dataset(valid, config, feature_names, reference=dataset)
    return _boost(params, dataset, held_out, config)


def _isotonic(
    scores: npt.NDArray[np.float64], outcome: npt.NDArray[np.float64], weights: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    model.fit(scores, outcome, sample_weight=np.asarray(weights, np.float64))
    return (
        np.asarray(model.X_thresholds_, np.float64),
        np.asarray(model.y_thresholds_, np.float64),
    )


def fit_calibration(
    scorer: LightGBMScorer, calibration_rows: TrainingSet, retention_rows: TrainingSet
) -> Calibration | None:
    """Scores → P(a hire lasting six months | proposed) (see the module docstring).

    ``calibration_rows``: held-out proposals (validation weeks) with their ``hired``
    outcome. ``retention_rows``: hires with a known six-month outcome (``lasting`` not NaN).
    None when there is no held-out proposal or hire to calibrate on.
    """
    proposed = calibration_rows.proposed
    if proposed.sum() < 20 or not calibration_rows.hired[proposed].any():
        return None
    scores = scorer.score(calibration_rows.features[proposed])
    knots, hire = _isotonic(
        scores, calibration_rows.hired[proposed].astype(np.float64), np.ones(int(proposed.sum()))
    )
    known = retention_rows.hired & ~np.isnan(retention_rows.lasting)
    if known.sum() >= MIN_RETENTION_HIRES:
        hire_scores = scorer.score(retention_rows.features[known])
        r_knots, retained = _isotonic(
            hire_scores, retention_rows.lasting[known], np.ones(int(known.sum()))
        )
        grid = np.union1d(knots, r_knots)
        lasting = np.interp(grid, knots, hire) * np.interp(grid, r_knots, retained)
        knots = grid
    else:
        share = float(retention_rows.lasting[known].mean()) if known.any() else 1.0
        lasting = hire * share
    return Calibration(
        scores=tuple(float(x) for x in knots),
        probabilities=tuple(float(min(max(p, 0.0), 1.0)) for p in lasting),
    )


class LightGBMScorer:
    """A trained booster behind the engine's scorer protocol.

    ``compiled`` (serving): score and explain with the booster's trees compiled
    (:class:`training.forest.CompiledForest`, the same numbers bit for bit, several times
    cheaper per request); the booster itself when they cannot stand in for it (logged).
    """

    def __init__(
        self,
        booster: lgb.Booster,
        version: str,
        feature_names: tuple[str, ...],
        *,
        compiled: bool = False,
    ):
        names = tuple(booster.feature_name())
        if names != tuple(feature_names):
            raise ValueError(
                f"model {version} was trained on features {names[:3]}..., not the schema's"
            )
        self.booster = booster
        self.version = version
        self.feature_names = tuple(feature_names)
        self._best = booster.best_iteration or None
        self.forest = CompiledForest.from_booster(booster, self._best) if compiled else None
        if compiled and self.forest is None:
            log.warning("model %s is served by the LightGBM booster (slower)", version)

    def score(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        if len(features) == 0:
            return np.zeros(0)
        if self.forest is not None:
            return self.forest.predict(features)
        return np.asarray(
            self.booster.predict(features, num_iteration=self._best, num_threads=1), np.float64
        )

    def contributions(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Per-feature SHAP contributions plus the bias column (``pred_contrib``)."""
        if len(features) == 0:
            return np.zeros((0, len(self.feature_names) + 1))
        if self.forest is not None:
            return self.forest.contributions(features)
        return np.asarray(
            self.booster.predict(
                features, num_iteration=self._best, pred_contrib=True, num_threads=1
            ),
            np.float64,
        )
