"""Retraining end to end: load a world, train a challenger, gate it, register, maybe promote.

The steps, in order (:data:`STEPS`), each a function below, each logged with its duration:

``load``      the world's serving tables plus the logged exposures
``features``  the matching engine's data and the labelled training set
``split``     the chronological train / valid / test parts
``train``     the LightGBM challenger
``evaluate``  challenger, champion (if any), rules, skill_cosine, random and, on generated
              worlds, the oracle on the test groups, overall and per group (target group,
              sex, labour-market area of the home municipality, native language)
``gate``      :func:`training.gate.decide`
``register``  the challenger is always registered, with its metrics and the training-data
              fingerprint (sha256 over the world manifest's file hashes)
``promote``   only when the gate passed
``notify``    after a promotion, ask the running service to reload (``POST`` to the configured
              admin reload URL); a service that cannot be reached is logged, not an error,
              because every service worker also watches the ``CHAMPION`` pointer itself

Promotion is the last step and the registry replaces ``CHAMPION`` atomically, so killing the
pipeline at any moment leaves the old champion serving.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from features.schema import FEATURE_NAMES
from features.world_store import SERVING_TABLES, WorldTables, load_world
from matching.eligibility import DEFAULT_RULES
from matching.entities import MatchingData
from matching.scoring import RuleBasedScorer
from training.dataset import DatasetConfig, TrainingSet, build_training_set
from training.evaluation import EvaluationReport, evaluate, expected_grade_oracle
from training.gate import GateConfig, GateDecision, decide
from training.ranker import LightGBMScorer, RankerConfig, train_ranker
from training.registry import (
    ModelCompatibilityError,
    ModelRegistry,
    UnknownModelError,
    gate_notes,
)

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
    "notify",
)
CHALLENGER = "challenger"
CHAMPION = "champion"

#: ``on_step(name, index, total)`` is called as each step starts (index 0-based).
StepCallback = Callable[[str, int, int], None]


class RetrainConfig(BaseModel):
    """Everything a retraining run is configured by, as one strict TOML file.

    ``[dataset]``, ``[ranker]`` and ``[gate]`` tables hold the fields of
    :class:`DatasetConfig`, :class:`RankerConfig` and :class:`GateConfig`; a misspelt key is
    an error, so a nightly job never runs with a silently ignored threshold.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    ranker: RankerConfig = Field(default_factory=RankerConfig)
    gate: GateConfig = Field(default_factory=GateConfig)


class RetrainConfigError(ValueError):
    """A retraining config file that cannot be read or does not validate."""


def load_retrain_config(path: Path) -> RetrainConfig:
    """Read a TOML config; errors name the file and every offending key path."""
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise RetrainConfigError(f"{path}: cannot be read: {error.strerror or error}") from error
    except tomllib.TOMLDecodeError as error:
        raise RetrainConfigError(f"{path}: not valid TOML: {error}") from error
    try:
        return RetrainConfig.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise RetrainConfigError(f"{path}: {problems}") from error


@dataclass(frozen=True)
class RetrainResult:
    """What a retraining run did."""

    promoted: bool
    version: str | None  # the registered challenger
    champion_before: str | None
    reasons: list[str]
    step_seconds: dict[str, float]
    report: EvaluationReport
    notified: str = "not needed"  # or "notified", "not configured", "failed: ..."


@dataclass(frozen=True)
class Splits:
    train: TrainingSet
    valid: TrainingSet
    test: TrainingSet


# -- steps -----------------------------------------------------------------------------------


def load_step(world_dir: Path) -> WorldTables:
    """Load the tables the engine serves from, plus the logged exposures to learn from."""
    return load_world(world_dir, tables=(*SERVING_TABLES, "exposures"))


def database_load_step(database_url: str) -> tuple[WorldTables, str]:
    """The service database as a world, with the exposures the service logged appended.

    Returns the world and its data fingerprint (the loaded world plus the audit log and
    outcomes since, so tonight's model names the data it saw).
    """
    from service.storage.database import make_engine
    from service.storage.exposure_log import audited_exposures, data_fingerprint
    from service.storage.world_io import read_world_tables

    engine = make_engine(database_url)
    try:
        world = read_world_tables(engine, (*SERVING_TABLES, "exposures"))
        with engine.connect() as connection:
            logged = audited_exposures(connection)
            fingerprint = data_fingerprint(connection, world.manifest)
    finally:
        engine.dispose()
    if len(logged):
        exposures = pd.concat(
            [world.exposures.astype(object), logged.astype(object)], ignore_index=True
        )
        typed = logged.dtypes.to_dict() | world.exposures.dtypes.to_dict()
        for column, dtype in typed.items():
            if isinstance(dtype, pd.CategoricalDtype):
                exposures[column] = exposures[column].astype(str).astype("category")
            else:
                exposures[column] = exposures[column].astype(dtype)
        world = dataclasses.replace(world, exposures=exposures)
    return world, fingerprint


def features_step(
    world: WorldTables, settings: Settings, config: DatasetConfig
) -> tuple[TrainingSet, MatchingData]:
    """Build the engine's matching data and the labelled training set with pair features.

    Also returns the matching data (ids in row order, membership periods) to label test rows
    by group later.
    """
    from service.composition import build_engine

    engine = build_engine(world, settings)
    data = build_training_set(world, engine.data, config)
    return data, engine.data


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


def _native_language_group(languages: object) -> str:
    """``fi`` or ``sv`` for a native speaker of a national language, else ``other``."""
    items = [] if languages is None else list(languages)  # type: ignore[call-overload]
    native = {str(item["language"]) for item in items if str(item["level"]) == "native"}
    for official in ("fi", "sv"):
        if official in native:
            return official
    return "other"


def target_group_labels(
    starts: npt.NDArray[np.datetime64],
    ends: npt.NDArray[np.datetime64],
    days: npt.NDArray[np.datetime64],
) -> npt.NDArray[np.object_]:
    """Per row: the ``|``-joined target groups the person belongs to on the row's day.

    ``starts``/``ends`` are the membership periods per rule of :data:`DEFAULT_RULES` (the
    engine's ``eligible_from``/``eligible_until`` columns); only rules in force on the day
    count. ``none`` when the person is in no group.
    """
    day = np.asarray(days, dtype="datetime64[D]")
    member = (starts <= day[:, None]) & (day[:, None] <= ends)
    for j, rule in enumerate(DEFAULT_RULES):
        valid_from = np.datetime64(rule.valid_from, "D")
        in_force = day >= valid_from
        if rule.valid_until is not None:
            in_force &= day <= np.datetime64(rule.valid_until, "D")
        member[:, j] &= in_force
    names = [rule.group.value for rule in DEFAULT_RULES]
    labels = np.empty(len(day), dtype=object)
    for i, row in enumerate(member):
        groups = sorted({names[j] for j in np.flatnonzero(row)})
        labels[i] = "|".join(groups) if groups else "none"
    return labels


def group_columns(
    world: WorldTables, data: MatchingData, test: TrainingSet, settings: Settings
) -> dict[str, npt.NDArray[np.object_]]:
    """Per test row, the groups the gate and the report judge fairness over.

    ``target_group`` (membership on the day the shortlist was shown, several joined by ``|``),
    ``sex``, ``region`` (labour-market area of the home municipality) and ``language`` (native
    Finnish, native Swedish, other).
    """
    from features.geography import load_geography

    seeker_ids = np.asarray(data.seekers.ids, dtype=object)
    people = world.jobseekers.set_index(world.jobseekers["jobseeker_id"].astype(str))
    ids = pd.Series(seeker_ids[test.seeker_rows])
    columns: dict[str, npt.NDArray[np.object_]] = {
        "target_group": target_group_labels(
            data.seekers["eligible_from"][test.seeker_rows],
            data.seekers["eligible_until"][test.seeker_rows],
            test.shown_on,
        ),
        "sex": ids.map(people["sex"].astype(str)).to_numpy(object),
    }
    geography = load_geography(settings.paths.data_dir, settings.paths.cache_dir)
    area_of = geography.municipalities.set_index(geography.municipalities["code"].astype(str))[
        "labour_area_code"
    ].astype(str)
    home = ids.map(people["home_municipality"].astype(str))
    columns["region"] = home.map(area_of).to_numpy(object)
    language = people["languages"].map(_native_language_group)
    columns["language"] = ids.map(language).to_numpy(object)
    return columns


def oracle_scores(
    world: WorldTables, data: MatchingData, test: TrainingSet
) -> npt.NDArray[np.float64] | None:
    """The generator's oracle on the test rows, or ``None`` for a world without one.

    Only generated worlds carry ``hidden_model.json``; real data has no oracle.
    """
    from features.world_store import HIDDEN_MODEL_FILE

    if not (Path(world.root) / HIDDEN_MODEL_FILE).is_file():
        return None
    from training.synthetic.hidden_model import HiddenModel

    hidden = HiddenModel.from_json(world.root)
    return expected_grade_oracle(
        hidden,
        world,
        np.asarray(data.seekers.ids, dtype=object)[test.seeker_rows],
        np.asarray(data.vacancies.ids, dtype=object)[test.vacancy_rows],
        test.propensity,
    )


def evaluate_step(
    test: TrainingSet,
    challenger: lgb.Booster,
    registry: ModelRegistry,
    columns: Mapping[str, npt.ArrayLike],
    seed: int = 0,
    oracle: npt.NDArray[np.float64] | None = None,
) -> tuple[EvaluationReport, str | None]:
    """Score the test groups with the challenger, the champion and the baselines.

    ``oracle`` (generated worlds only) adds the generator's ranking as the ceiling. Returns
    the report and the champion's version (``None`` without a loadable champion; a champion
    this code cannot load is reported and left out of the comparison).
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
    if oracle is not None:
        rankings["oracle"] = oracle
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
    notes = gate_notes(decision.promote, list(decision.reasons))
    record = registry.register(
        challenger,
        config=config,
        metrics=challenger_metrics(report),
        training_fingerprint=fingerprint,
        notes=notes,
        baselines={
            str(ranking): {str(name): float(value) for name, value in row.items()}
            for ranking, row in report.overall.drop(index=CHALLENGER).iterrows()
        },
    )
    return record.version


def promote_step(registry: ModelRegistry, version: str) -> None:
    """Make the challenger the champion: one atomic replace of ``CHAMPION`` in the registry."""
    registry.promote(version)


def notify_step(url: str | None, token: str | None, timeout_seconds: float) -> str:
    """Ask the running service to load the new champion; return what happened.

    The request is ``POST url`` with the admin bearer token. Failing to reach the service is
    not fatal: its workers compare the ``CHAMPION`` pointer on every model check anyway.
    """
    if not url:
        return "not configured"
    request = urllib.request.Request(url, method="POST", data=b"")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
            status = int(response.status)
    except (urllib.error.URLError, OSError, ValueError) as error:
        log.warning("could not ask the service at %s to reload: %s", url, error)
        return f"failed: {error}"
    if not 200 <= status < 300:
        log.warning("the service at %s answered %s to the reload request", url, status)
        return f"failed: HTTP {status}"
    return "notified"


# -- the run ---------------------------------------------------------------------------------


def retrain(
    world_dir: Path | None,
    registry: ModelRegistry,
    *,
    database_url: str | None = None,
    dataset_config: DatasetConfig | None = None,
    ranker_config: RankerConfig | None = None,
    gate_config: GateConfig | None = None,
    settings: Settings | None = None,
    on_step: StepCallback | None = None,
    dask_address: str | None = None,
    dask_local_workers: int | None = None,
) -> RetrainResult:
    """Run every step of :data:`STEPS` once; see the module docstring.

    The data comes from the generated world in ``world_dir`` or, with ``database_url``, from
    the service database (with the exposures its audit log recorded).
    Raises :class:`FileNotFoundError` when ``world_dir`` is not a complete world.
    """
    if (world_dir is None) == (database_url is None):
        raise ValueError("give a world folder or a database URL, not both")
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
        if database_url is not None:
            world, fingerprint = database_load_step(database_url)
        else:
            world = load_step(Path(str(world_dir)))
            fingerprint = training_fingerprint(world)
    with step("features"):
        data, matching_data = features_step(world, settings, dataset_config)
    with step("split"):
        splits = split_step(data)
    with step("train"):
        booster = train_step(splits, ranker_config, dask_address, dask_local_workers)
    with step("evaluate"):
        columns = group_columns(world, matching_data, splits.test, settings)
        report, champion_before = evaluate_step(
            splits.test,
            booster,
            registry,
            columns,
            seed=dataset_config.seed,
            oracle=oracle_scores(world, matching_data, splits.test),
        )
    with step("gate"):
        decision = gate_step(report, champion_before is not None, gate_config)
    with step("register"):
        version = register_step(registry, booster, ranker_config, report, fingerprint, decision)
    with step("promote"):
        promoted = False
        if decision.promote and version != champion_before:
            promote_step(registry, version)
            promoted = True
        elif decision.promote:
            promoted = True  # the challenger is the champion already (identical model)
    with step("notify"):
        notified = "not needed"
        if promoted and version != champion_before:
            reload = settings.reload
            notified = notify_step(
                reload.url,
                reload.token.get_secret_value() if reload.token else None,
                reload.timeout_seconds,
            )
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
        notified=notified,
    )
