"""Retraining end to end: load a world, train a challenger, gate it, register, maybe promote.

The steps, in order (:data:`STEPS`), each a function below, each logged with its duration:

``load``      the world's serving tables plus the logged exposures
``features``  the matching engine's data and the labelled training set
``split``     the chronological train / valid / test parts
``train``     the LightGBM challenger
``evaluate``  challenger, champion (if any), rules, skill_cosine and random on the test groups,
              overall and per group (sex, labour-market area of the home municipality)
``gate``      :func:`training.gate.decide`
``register``  the challenger is always registered, with its metrics and the training-data
              fingerprint (sha256 over the world manifest's file hashes)
``promote``   only when the gate passed

Promotion is the last step and the registry replaces ``CHAMPION`` atomically, so killing the
pipeline at any moment leaves the old champion serving.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd

from features.schema import FEATURE_NAMES
from features.world_store import SERVING_TABLES, WorldTables, load_world
from matching.scoring import RuleBasedScorer
from training.dataset import DatasetConfig, TrainingSet, build_training_set
from training.evaluation import EvaluationReport, evaluate
from training.gate import GateConfig, GateDecision, decide
from training.ranker import LightGBMScorer, RankerConfig, train_ranker
from training.registry import ModelCompatibilityError, ModelRegistry, UnknownModelError

if TYPE_CHECKING:
    from service.settings import Settings

log = logging.getLogger(__name__)

STEPS: tuple[str, ...] = (
    "load",
    "features",
    "split",
    "train",
    "evaluate",
    "gate",
    "register",
    "promote",
)
CHALLENGER = "challenger"
CHAMPION = "champion"

#: ``on_step(name, index, total)`` is called as each step starts (index 0-based).
StepCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RetrainResult:
    """What a retraining run did."""

    promoted: bool
    version: str | None  # the registered challenger
    champion_before: str | None
    reasons: list[str]
    step_seconds: dict[str, float]
    report: EvaluationReport


@dataclass(frozen=True)
class Splits:
    train: TrainingSet
    valid: TrainingSet
    test: TrainingSet


# -- steps -----------------------------------------------------------------------------------


def load_step(world_dir: Path) -> WorldTables:
    """Load the tables the engine serves from, plus the logged exposures to learn from."""
    return load_world(world_dir, tables=(*SERVING_TABLES, "exposures"))


def features_step(
    world: WorldTables, settings: Settings, config: DatasetConfig
) -> tuple[TrainingSet, npt.NDArray[np.object_]]:
    """Build the engine's matching data and the labelled training set with pair features.

    Also returns the jobseeker ids in the engine's row order, to label rows by group later.
    """
    from service.composition import build_engine

    engine = build_engine(world, settings)
    data = build_training_set(world, engine.data, config)
    return data, np.asarray(engine.data.seekers.ids, dtype=object)


def split_step(data: TrainingSet) -> Splits:
    """Take the chronological train, validation and test parts; each must be non-empty."""
    splits = Splits(data.part("train"), data.part("valid"), data.part("test"))
    empty = [name for name in ("train", "test") if not len(getattr(splits, name))]
    if empty:
        raise ValueError(
            f"the world yields no {' or '.join(empty)} rows; use a longer history or fewer "
            "validation / test weeks"
        )
    return splits


def train_step(
    splits: Splits,
    config: RankerConfig,
    dask_address: str | None = None,
    dask_local_workers: int | None = None,
) -> lgb.Booster:
    """Train the challenger, stopping early on the validation groups when there are any.

    With a Dask scheduler address or a local worker count, the single-machine run only fixes
    the number of trees (its best iteration) and the challenger is trained on Dask.
    """
    booster = train_ranker(splits.train, splits.valid, config, FEATURE_NAMES)
    if dask_address is None and dask_local_workers is None:
        return booster
    from training.distributed import dask_client, train_ranker_dask

    trees = booster.best_iteration or booster.num_trees()
    with dask_client(dask_address, dask_local_workers) as client:
        return train_ranker_dask(splits.train, config, FEATURE_NAMES, client, trees)


def group_columns(
    world: WorldTables, seeker_ids: npt.NDArray[np.object_], test: TrainingSet, settings: Settings
) -> dict[str, npt.NDArray[np.object_]]:
    """Per test row: the jobseeker's sex and the labour-market area of their home."""
    from features.geography import load_geography

    people = world.jobseekers.set_index(world.jobseekers["jobseeker_id"].astype(str))
    ids = pd.Series(seeker_ids[test.seeker_rows])
    sex = ids.map(people["sex"].astype(str)).to_numpy(object)
    columns: dict[str, npt.NDArray[np.object_]] = {"sex": sex}
    geography = load_geography(settings.paths.data_dir, settings.paths.cache_dir)
    area_of = geography.municipalities.set_index(geography.municipalities["code"].astype(str))[
        "labour_area_code"
    ].astype(str)
    home = ids.map(people["home_municipality"].astype(str))
    columns["region"] = home.map(area_of).to_numpy(object)
    return columns


def evaluate_step(
    test: TrainingSet,
    challenger: lgb.Booster,
    registry: ModelRegistry,
    columns: Mapping[str, npt.ArrayLike],
    seed: int = 0,
) -> tuple[EvaluationReport, str | None]:
    """Score the test groups with the challenger, the champion and the baselines.

    Returns the report and the champion's version (``None`` without a loadable champion;
    a champion this code cannot load is reported and left out of the comparison).
    """
    rankings: dict[str, npt.NDArray[np.float64]] = {
        CHALLENGER: LightGBMScorer(challenger, CHALLENGER, FEATURE_NAMES).score(test.features)
    }
    champion_version: str | None = None
    try:
        champion = registry.load()
    except UnknownModelError:
        log.info("no champion in %s: the challenger is compared with baselines only", registry.root)
    except ModelCompatibilityError as error:
        log.warning("the champion cannot be loaded, comparing without it: %s", error)
    else:
        champion_version = champion.version
        rankings[CHAMPION] = champion.score(test.features)
    rankings["rules"] = RuleBasedScorer(FEATURE_NAMES).score(test.features)
    rankings["skill_cosine"] = test.features[:, FEATURE_NAMES.index("skill_cosine")].astype(
        np.float64
    )
    rankings["random"] = np.random.default_rng(seed).random(len(test))
    return evaluate(test, rankings, columns), champion_version


def group_recalls(report: EvaluationReport, ranking: str) -> dict[str, float]:
    """``{"dimension=group": recall@20}`` of one ranking."""
    rows = report.groups[report.groups["ranking"] == ranking]
    return {
        f"{dim}={group}": float(value)
        for dim, group, value in zip(
            rows["dimension"], rows["group"], rows["recall@20"], strict=True
        )
    }


def group_rows(report: EvaluationReport, ranking: str) -> dict[str, int]:
    """``{"dimension=group": relevant test rows}`` of one ranking."""
    rows = report.groups[report.groups["ranking"] == ranking]
    return {
        f"{dim}={group}": int(value)
        for dim, group, value in zip(
            rows["dimension"], rows["group"], rows["relevant_rows"], strict=True
        )
    }


def gate_step(report: EvaluationReport, has_champion: bool, config: GateConfig) -> GateDecision:
    """Decide whether the challenger may replace the champion (:func:`training.gate.decide`)."""
    return decide(
        challenger_ndcg10=report.metric(CHALLENGER, "ndcg@10"),
        champion_ndcg10=report.metric(CHAMPION, "ndcg@10") if has_champion else None,
        challenger_overall_recall20=report.metric(CHALLENGER, "recall@20"),
        challenger_group_recall=group_recalls(report, CHALLENGER),
        champion_group_recall=group_recalls(report, CHAMPION) if has_champion else None,
        group_rows=group_rows(report, CHALLENGER),
        config=config,
    )


def training_fingerprint(world: WorldTables) -> str:
    """sha256 over the (path, sha256) pairs of the files listed in the world's manifest."""
    files = sorted(
        (str(f.get("path")), str(f.get("sha256"))) for f in world.manifest.get("files", [])
    )
    if not files:
        raise ValueError(f"the manifest of {world.root} lists no files to fingerprint")
    return hashlib.sha256(json.dumps(files).encode()).hexdigest()


def challenger_metrics(report: EvaluationReport) -> dict[str, float]:
    """The challenger's finite overall and per-group metrics, for its manifest."""
    metrics: dict[str, float] = {}
    for name in report.overall.columns:
        value = report.metric(CHALLENGER, str(name))
        if math.isfinite(value):
            metrics[str(name)] = value
    for key, value in group_recalls(report, CHALLENGER).items():
        if math.isfinite(value):
            metrics[f"recall@20[{key}]"] = value
    return metrics


def register_step(
    registry: ModelRegistry,
    challenger: lgb.Booster,
    config: RankerConfig,
    report: EvaluationReport,
    fingerprint: str,
    decision: GateDecision,
) -> str:
    """Register the challenger (never promoted here) with its metrics; return its version."""
    notes = "gate passed" if decision.promote else "gate refused: " + "; ".join(decision.reasons)
    record = registry.register(
        challenger,
        config=config,
        metrics=challenger_metrics(report),
        training_fingerprint=fingerprint,
        notes=notes,
    )
    return record.version


def promote_step(registry: ModelRegistry, version: str) -> None:
    """Make the challenger the champion: one atomic replace of ``CHAMPION`` in the registry."""
    registry.promote(version)


# -- the run ---------------------------------------------------------------------------------


def retrain(
    world_dir: Path,
    registry: ModelRegistry,
    *,
    dataset_config: DatasetConfig | None = None,
    ranker_config: RankerConfig | None = None,
    gate_config: GateConfig | None = None,
    settings: Settings | None = None,
    on_step: StepCallback | None = None,
    dask_address: str | None = None,
    dask_local_workers: int | None = None,
) -> RetrainResult:
    """Run every step of :data:`STEPS` once; see the module docstring.

    Raises :class:`FileNotFoundError` when ``world_dir`` is not a complete world.
    """
    dataset_config = dataset_config or DatasetConfig()
    ranker_config = ranker_config or RankerConfig()
    gate_config = gate_config or GateConfig()
    if settings is None:
        from service.settings import get_settings

        settings = get_settings()
    seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def step(name: str) -> Iterator[None]:
        if on_step is not None:
            on_step(name, STEPS.index(name), len(STEPS))
        log.info("retrain step %s started", name)
        started = time.perf_counter()
        try:
            yield
        finally:
            seconds[name] = time.perf_counter() - started
            log.info("retrain step %s took %.2f s", name, seconds[name])

    with step("load"):
        world = load_step(Path(world_dir))
    with step("features"):
        data, seeker_ids = features_step(world, settings, dataset_config)
    with step("split"):
        splits = split_step(data)
    with step("train"):
        booster = train_step(splits, ranker_config, dask_address, dask_local_workers)
    with step("evaluate"):
        columns = group_columns(world, seeker_ids, splits.test, settings)
        report, champion_before = evaluate_step(
            splits.test, booster, registry, columns, seed=dataset_config.seed
        )
    with step("gate"):
        decision = gate_step(report, champion_before is not None, gate_config)
    with step("register"):
        version = register_step(
            registry, booster, ranker_config, report, training_fingerprint(world), decision
        )
    with step("promote"):
        promoted = False
        if decision.promote and version != champion_before:
            promote_step(registry, version)
            promoted = True
        elif decision.promote:
            promoted = True  # the challenger is the champion already (identical model)
    if decision.promote:
        log.info("challenger %s promoted (was %s)", version, champion_before)
    else:
        log.warning(
            "challenger %s refused, champion %s kept: %s",
            version,
            champion_before,
            "; ".join(decision.reasons),
        )
    return RetrainResult(
        promoted=promoted,
        version=version,
        champion_before=champion_before,
        reasons=list(decision.reasons),
        step_seconds=seconds,
        report=report,
    )
