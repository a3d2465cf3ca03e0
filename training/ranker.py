"""The LightGBM ranker: training with a strict config, and the scorer the engine uses.

:class:`RankerConfig` holds every hyperparameter (``extra="forbid"``: a typo is an error).
:func:`train_ranker` trains ``lambdarank`` or ``rank_xendcg`` with early stopping on the
validation groups, deterministically: one thread count-independent seed set, ``deterministic``
and ``force_row_wise``, so the same data and seed give the same model.
:class:`LightGBMScorer` implements :class:`matching.scoring.Scorer` on a booster, predicting
with one thread on the request path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from training.dataset import TrainingSet


class RankerConfig(BaseModel):
    """Hyperparameters of the ranking model (strict)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    objective: Literal["lambdarank", "rank_xendcg"] = "lambdarank"
    num_trees: int = Field(default=300, ge=1, le=5000)
    # 0.1 reaches the validation NDCG of 0.05 (0.552 on the national world) with 52 trees
    # instead of 86, which halves TreeSHAP time on the request path.
    learning_rate: float = Field(default=0.1, gt=0, le=1)
    # Small trees: explanations run TreeSHAP (pred_contrib) on the request path, whose cost
    # grows with leaves × depth²; 15 leaves at depth 6 rank as well here as 31 leaves did.
    num_leaves: int = Field(default=15, ge=2, le=1024)
    max_depth: int = Field(default=6, ge=-1, le=64)
    min_data_in_leaf: int = Field(default=50, ge=1)
    feature_fraction: float = Field(default=0.9, gt=0, le=1)
    bagging_fraction: float = Field(default=0.8, gt=0, le=1)
    bagging_freq: int = Field(default=1, ge=0)
    lambda_l2: float = Field(default=1.0, ge=0)
    early_stopping_rounds: int = Field(default=30, ge=1)
    eval_at: tuple[int, ...] = (10,)
    num_threads: int = Field(default=2, ge=1)
    seed: int = 7

    def lightgbm_params(self) -> dict[str, object]:
        return {
            "objective": self.objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "lambda_l2": self.lambda_l2,
            "metric": "ndcg",
            "eval_at": list(self.eval_at),
            "label_gain": [0, 1, 3, 7, 15],
            "num_threads": self.num_threads,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }


def train_ranker(
    train: TrainingSet,
    valid: TrainingSet | None,
    config: RankerConfig,
    feature_names: tuple[str, ...],
) -> lgb.Booster:
    """Train the ranker; with ``valid``, stop early on its NDCG@``eval_at[0]``."""
    params = config.lightgbm_params()
    dataset = lgb.Dataset(
        train.features,
        label=train.labels,
        weight=train.weights,
        group=train.groups,
        feature_name=list(feature_names),
        free_raw_data=False,
    )
    valid_sets: list[lgb.Dataset] = []
    callbacks: list[Callable[..., Any]] = []
    if valid is not None and len(valid):
        valid_sets.append(
            lgb.Dataset(valid.features, label=valid.labels, group=valid.groups, reference=dataset)
        )
        callbacks.append(lgb.early_stopping(config.early_stopping_rounds, verbose=False))
    return lgb.train(
        params,
        dataset,
        num_boost_round=config.num_trees,
        valid_sets=valid_sets,
        callbacks=callbacks,
    )


class LightGBMScorer:
    """A trained booster behind the engine's scorer protocol."""

    def __init__(self, booster: lgb.Booster, version: str, feature_names: tuple[str, ...]):
        names = tuple(booster.feature_name())
        if names != tuple(feature_names):
            raise ValueError(
                f"model {version} was trained on features {names[:3]}..., not the schema's"
            )
        self.booster = booster
        self.version = version
        self.feature_names = tuple(feature_names)
        self._best = booster.best_iteration or None

    def score(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        if len(features) == 0:
            return np.zeros(0)
        return np.asarray(
            self.booster.predict(features, num_iteration=self._best, num_threads=1), np.float64
        )

    def contributions(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Per-feature SHAP contributions plus the bias column (``pred_contrib``)."""
        if len(features) == 0:
            return np.zeros((0, len(self.feature_names) + 1))
        return np.asarray(
            self.booster.predict(
                features, num_iteration=self._best, pred_contrib=True, num_threads=1
            ),
            np.float64,
        )
