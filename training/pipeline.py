"""Retraining end to end: load a world, train a challenger, gate it, register, maybe promote.

The steps, in order (:data:`STEPS`), each a function below, each logged with its duration:

``load``      the world's serving tables plus the logged exposures
``features``  the matching engine as of the world's day, and per direction (``shortlist``:
              vacancy → people, ``matches``: person → vacancies) the logged exposures
              replayed with what was known on their day (:mod:`training.dataset`)
``split``     the chronological train / valid / test parts, checked non-empty
``train``     one LightGBM model per direction
``evaluate``  calibration on the validation weeks; challenger, champion (if any), rules,
              skill_cosine, random and, on generated worlds, the oracle on each direction's
              test groups, overall and per group (target group, sex, labour-market area of
              the home municipality, native language); equality on served lists
``gate``      :func:`training.gate.decide_directions`
``register``  the challenger is always registered, with its figures, calibration, model card
              and the training-data fingerprint (sha256 over the world manifest's file hashes)
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

from features.matching_data import Vocabularies
from features.schema import FEATURE_NAMES
from features.world_store import SERVING_TABLES, WorldTables, load_world
from matching.eligibility import DEFAULT_RULES
from matching.engine import MatchingEngine
from matching.entities import MatchingData
from matching.scoring import Calibration, Direction, RankingModel, RuleBasedScorer
from training.dataset import DatasetConfig, DirectionData, TrainingSet, build_direction_data
from training.evaluation import (
    GATE_METRIC,
    EvaluationReport,
    OutcomeRows,
    Truth,
    evaluate,
    funnel_grade,
    oracle_truth,
)
from training.gate import Comparison, DirectionFigures, GateConfig, GateDecision, decide_directions
from training.model_card import Reliability, reliability, reliability_png, render_sections
from training.offpolicy import steering_gap
from training.ranker import (
    LightGBMScorer,
    RankerConfig,
    fit_calibration,
    train_funnel,
    train_ranker,
)
from training.registry import (
    DirectionalModel,
    ModelCompatibilityError,
    ModelRegistry,
    UnknownModelError,
    gate_notes,
)
from training.sanity import SanityResult, run_sanity

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
    reports: dict[Direction, EvaluationReport]
    notified: str = "not needed"  # or "notified", "not configured", "failed: ..."
    #: The equality figures of the served matches lists, per ranking.
    steering: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    #: The sanity suite's passes per check, e.g. "perfect_in_shortlist 10/10, ...".
    sanity: str = ""


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
) -> tuple[dict[Direction, DirectionData], MatchingEngine]:
    """The engine as of the world's day and, per direction, the point-in-time training rows.

    The engine's matching data is the base the replay starts from; the engine itself also
    serves the steering check on lists it would serve today.
    """
    from features.taxonomy import load_taxonomy
    from service.composition import build_engine, profile_config

    engine = build_engine(world, settings)
    taxonomy = load_taxonomy(settings.paths.data_dir, settings.paths.cache_dir)
    data = build_direction_data(
        world,
        engine.data,
        taxonomy,
        config,
        matching_config=engine.config,
        profile_config=profile_config(settings),
    )
    return data, engine


def split_step(data: Mapping[Direction, DirectionData]) -> dict[Direction, DirectionData]:
    """Check that every direction has proposals to learn from and queries to test on."""
    for direction, part in data.items():
        empty = [name for name in ("train", "test") if not len(getattr(part, name))]
        if empty:
            raise ValueError(
                f"the world yields no {' or '.join(empty)} rows for the {direction} direction; "
                "use a longer history or fewer validation / test weeks"
            )
        if not part.train.hired.any():
            raise ValueError(f"the {direction} training proposals contain no hire to learn from")
    return dict(data)


def train_step(
    data: Mapping[Direction, DirectionData],
    config: RankerConfig,
    dask_address: str | None = None,
    dask_local_workers: int | None = None,
) -> dict[Direction, lgb.Booster]:
    """Train one model per direction, stopping early on its validation rows.

    With a Dask scheduler address or a local worker count, the single-machine run only fixes
    the number of trees (its best iteration) and the model is trained on Dask.
    """
    funnel = None
    if config.objective == "funnel":
        # One funnel from every proposal: what follows a proposal does not depend on which
        # list it came from. Each direction then gets its own model, fitted on its own rows.
        funnel = train_funnel(
            pooled_proposals([part.train for part in data.values()]),
            pooled_proposals([part.valid for part in data.values()]),
            config,
            FEATURE_NAMES,
        )
    boosters: dict[Direction, lgb.Booster] = {}
    for direction, part in data.items():
        booster = train_ranker(part.train, part.valid, config, FEATURE_NAMES, funnel)
        if dask_address is not None or dask_local_workers is not None:
            from training.distributed import dask_client, train_ranker_dask

            trees = booster.best_iteration or booster.num_trees()
            # The funnel's distillation fits every row (train_ranker_dask keeps only the
            # proposals for the other objectives, as train_ranker does).
            targets = None if funnel is None else funnel.log_probability(part.train.features)
            with dask_client(dask_address, dask_local_workers) as client:
                booster = train_ranker_dask(
                    part.train, config, FEATURE_NAMES, client, trees, targets=targets
                )
        boosters[direction] = booster
    return boosters


@dataclass(frozen=True)
class CalibrationResult:
    calibrations: dict[Direction, Calibration | None]
    reliabilities: dict[Direction, Reliability]
    retention_share: dict[Direction, float]


def calibrate_step(
    data: Mapping[Direction, DirectionData], boosters: Mapping[Direction, lgb.Booster]
) -> CalibrationResult:
    """Fit each direction's score → probability map on its validation weeks; check it on
    the test weeks' proposals (see :func:`training.ranker.fit_calibration`)."""
    calibrations: dict[Direction, Calibration | None] = {}
    reliabilities: dict[Direction, Reliability] = {}
    shares: dict[Direction, float] = {}
    for direction, part in data.items():
        scorer = LightGBMScorer(boosters[direction], CHALLENGER, FEATURE_NAMES)
        retention_rows = _concat(part.train, part.valid)
        calibration = fit_calibration(scorer, part.valid, retention_rows)
        calibrations[direction] = calibration
        known = retention_rows.hired & ~np.isnan(retention_rows.lasting)
        share = float(retention_rows.lasting[known].mean()) if known.any() else float("nan")
        shares[direction] = share
        proposed = part.test.proposed & ~part.test.unshown
        if calibration is None or not proposed.any():
            reliabilities[direction] = reliability([], [])
            continue
        lasting = calibration(scorer.score(part.test.features[proposed]))
        # The diagram checks hires: divide the retention share back out.
        hire = lasting / share if share and np.isfinite(share) and share > 0 else lasting
        reliabilities[direction] = reliability(
            np.minimum(hire, 1.0), part.test.hired[proposed].astype(np.float64)
        )
    return CalibrationResult(calibrations, reliabilities, shares)


def pooled_proposals(parts: list[TrainingSet]) -> TrainingSet:
    """The proposed rows of several sets, each (jobseeker, vacancy) pair once."""
    proposed = [part.subset(part.proposed) for part in parts]
    pooled = proposed[0]
    for other in proposed[1:]:
        pooled = _concat(pooled, other)
    pairs = pd.Series(pooled.jobseeker_ids.astype(str)) + "|" + pooled.vacancy_ids.astype(str)
    return pooled.subset(~pairs.duplicated().to_numpy())


def _concat(a: TrainingSet, b: TrainingSet) -> TrainingSet:
    return TrainingSet(
        **{
            f.name: np.concatenate([getattr(a, f.name), getattr(b, f.name)])
            for f in dataclasses.fields(TrainingSet)
        }
    )


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

    ``target_group`` (membership on the day the list was shown, several joined by ``|``),
    ``sex``, ``region`` (labour-market area of the home municipality) and ``language`` (native
    Finnish, native Swedish, other).
    """
    from features.geography import load_geography

    people = world.jobseekers.set_index(world.jobseekers["jobseeker_id"].astype(str))
    ids = pd.Series(np.asarray(test.jobseeker_ids, dtype=object))
    rows = np.asarray(pd.Index(data.seekers.ids).get_indexer(pd.Index(ids)), np.int64)
    columns: dict[str, npt.NDArray[np.object_]] = {
        "target_group": target_group_labels(
            data.seekers["eligible_from"][rows],
            data.seekers["eligible_until"][rows],
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


def hidden_model(world: WorldTables) -> object | None:
    """The generator's hidden model, or ``None`` for a world without one (real data)."""
    from features.world_store import HIDDEN_MODEL_FILE

    if not (Path(world.root) / HIDDEN_MODEL_FILE).is_file():
        return None
    from training.synthetic.hidden_model import HiddenModel

    return HiddenModel.from_json(world.root)


def outcome_rows(
    data: Mapping[Direction, DirectionData],
) -> dict[Direction, tuple[TrainingSet, npt.NDArray[np.object_]]]:
    """Per direction, the held-out proposals of both kinds of list and their competing
    groups: the vacancy for shortlists, the person for matches."""
    pooled = pooled_proposals(
        [part.proposals if part.proposals is not None else part.test for part in data.values()]
    )
    return {
        direction: (
            pooled,
            pooled.vacancy_ids if direction == "shortlist" else pooled.jobseeker_ids,
        )
        for direction in data
    }


def _rankings(
    rows: TrainingSet,
    direction: Direction,
    challenger: lgb.Booster,
    champion: DirectionalModel | None,
    seed: int,
    truth: Truth | None,
) -> dict[str, npt.NDArray[np.float64]]:
    """Every ranking's scores for ``rows``: the challenger, champion and baselines."""
    rankings: dict[str, npt.NDArray[np.float64]] = {
        CHALLENGER: LightGBMScorer(challenger, CHALLENGER, FEATURE_NAMES).score(rows.features)
    }
    if champion is not None:
        rankings[CHAMPION] = champion.for_direction(direction).score(rows.features)
    rankings["rules"] = RuleBasedScorer(FEATURE_NAMES).score(rows.features)
    rankings["skill_cosine"] = rows.features[:, FEATURE_NAMES.index("skill_cosine")].astype(
        np.float64
    )
    rankings["random"] = np.random.default_rng(seed).random(len(rows))
    if truth is not None:
        rankings["oracle"] = truth.expected_grade
        rankings["oracle_hire"] = truth.hire
    return rankings


def evaluate_step(
    data: Mapping[Direction, DirectionData],
    boosters: Mapping[Direction, lgb.Booster],
    registry: ModelRegistry,
    columns: Mapping[Direction, Mapping[str, npt.ArrayLike]],
    seed: int = 0,
    truths: Mapping[Direction, Truth] | None = None,
    outcome_truths: Mapping[Direction, Truth] | None = None,
) -> tuple[dict[Direction, EvaluationReport], str | None]:
    """Score each direction's test groups with the challenger, the champion and baselines.

    ``truths`` (generated worlds only) add the hidden model's rankings and true figures;
    ``outcome_truths`` the same for the held-out proposals of :func:`outcome_rows`.
    Returns the reports and the champion's version (``None`` without a loadable champion; a
    champion this code cannot load is reported and left out of the comparison).
    """
    champion: DirectionalModel | None = None
    try:
        champion = registry.load()
    except UnknownModelError:
        log.info("no champion in %s: the challenger is compared with baselines only", registry.root)
    except ModelCompatibilityError as error:
        log.warning("the champion cannot be loaded, comparing without it: %s", error)
    held_out = outcome_rows(data)
    reports: dict[Direction, EvaluationReport] = {}
    for direction, part in data.items():
        test = part.test
        truth = None if truths is None else truths.get(direction)
        rankings = _rankings(test, direction, boosters[direction], champion, seed, truth)
        proposals, groups = held_out[direction]
        outcome_truth = None if outcome_truths is None else outcome_truths.get(direction)
        outcomes = OutcomeRows(
            grades=funnel_grade(proposals),
            groups=groups,
            rankings=_rankings(
                proposals, direction, boosters[direction], champion, seed + 1, outcome_truth
            ),
        )
        items = test.jobseeker_ids if direction == "shortlist" else test.vacancy_ids
        reports[direction] = evaluate(
            test, rankings, columns[direction], truth, items, outcomes=outcomes
        )
    return reports, None if champion is None else champion.version


def steering_step(
    engine: MatchingEngine,
    world: WorldTables,
    models: Mapping[str, RankingModel],
    people: int = 400,
    seed: int = 0,
    reference_name: str = "rules",
) -> dict[str, dict[str, float]]:
    """Equality without steering, on the lists the engine would serve today.

    For a sample of people in matching, the top 10 vacancies under each model; occupations
    are ISCO minor groups, their sex composition that of the jobseekers who prefer them;
    women and men are compared among people with the same preferred occupations, and each
    model's gap with that of ``reference_name`` (the documented rules) on the same people.
    """
    from features.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    isco_of = pd.Series(
        taxonomy.occupations["isco_code"].astype(str).str[:3].to_numpy(),
        index=taxonomy.occupations["uri"].astype(str).to_numpy(),
    )
    frame = world.jobseekers[["jobseeker_id", "sex", "preferred_occupations"]].copy()
    frame["jobseeker_id"] = frame["jobseeker_id"].astype(str)
    frame["sex"] = frame["sex"].astype(str)
    exploded = frame.explode("preferred_occupations").dropna(subset=["preferred_occupations"])
    exploded["group"] = exploded["preferred_occupations"].astype(str).map(isco_of)
    exploded = exploded[exploded["sex"].isin(["female", "male"])].dropna(subset=["group"])
    counts = exploded.groupby("group")["sex"].agg(
        women=lambda s: int((s == "female").sum()), people="size"
    )
    counts = counts[counts["people"] >= 20]
    female_share = (counts["women"] / counts["people"]).to_dict()

    # The engine's rows are the world's jobseeker rows (the build keeps their order).
    seekers = engine.data.seekers
    sex = frame["sex"].to_numpy(object)
    candidates = np.flatnonzero(seekers["active"] & np.isin(sex, ["female", "male"]))
    rng = np.random.default_rng(seed)
    if len(candidates) > people:
        candidates = rng.choice(candidates, people, replace=False)
    sample = [seekers.ids[i] for i in candidates.tolist()]
    sex_of = dict(zip(sample, sex[candidates], strict=True))
    mine = exploded[exploded["jobseeker_id"].isin(sample)]
    preferred = mine.groupby("jobseeker_id")["group"].agg(set)
    vacancy_group = pd.Series(
        (engine.data.vacancies["isco"] // 10).astype(str), index=engine.data.vacancies.ids
    )
    lists: dict[str, pd.DataFrame] = {}
    serving = engine.scorer
    try:
        for name, model in models.items():
            engine.set_scorer(model)
            rows = []
            for person in sample:
                found = engine.ranked_ids("matches", str(person), 10, world.as_of)
                for vacancy_id in found:
                    groups = preferred.get(str(person), set())
                    rows.append(
                        {
                            "person": str(person),
                            "sex": sex_of.get(str(person)),
                            "occupation_group": vacancy_group.get(vacancy_id),
                            "preferred_groups": groups,
                            # People with the same preferences are compared.
                            "stratum": "|".join(sorted(groups)) or "none",
                        }
                    )
            lists[name] = pd.DataFrame(
                rows,
                columns=["person", "sex", "occupation_group", "preferred_groups", "stratum"],
            )
    finally:
        engine.set_scorer(serving)
    reference = lists.get(reference_name)
    return {
        name: steering_gap(
            recommended,
            female_share,
            reference=None if name == reference_name else reference,
        )
        for name, recommended in lists.items()
    }


def sanity_step(
    engine: MatchingEngine,
    world: WorldTables,
    settings: Settings,
    model: RankingModel,
    cases: int = 10,
    seed: int = 0,
) -> SanityResult:
    """The sanity suite (:mod:`training.sanity`) with the challenger on today's engine."""
    from features.geography import load_geography
    from features.taxonomy import load_taxonomy

    vocab = Vocabularies.build(
        load_taxonomy(settings.paths.data_dir, settings.paths.cache_dir),
        load_geography(settings.paths.data_dir, settings.paths.cache_dir),
    )
    return run_sanity(engine, world, vocab, model, cases=cases, seed=seed)


def _comparison(
    report: EvaluationReport, baseline: str, seed: int, confidence: float
) -> Comparison:
    """The challenger against ``baseline``; ``confidence`` is one-sided (the interval's
    lower end is the bound the gate reads)."""
    result = report.concordance[CHALLENGER].bootstrap(
        report.concordance[baseline], confidence=2 * confidence - 1, seed=seed
    )
    return Comparison(
        baseline=baseline,
        challenger=report.metric(CHALLENGER, GATE_METRIC),
        other=report.metric(baseline, GATE_METRIC),
        difference=result.difference,
        low=result.low,
        high=result.high,
        queries=result.queries,
    )


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


def gate_step(
    reports: Mapping[Direction, EvaluationReport],
    has_champion: bool,
    config: GateConfig,
    steering: Mapping[str, Mapping[str, float]] | None = None,
    seed: int = 0,
) -> GateDecision:
    """Decide whether the challenger may replace the champion (:mod:`training.gate`)."""
    figures = []
    for direction, report in reports.items():
        gap = gap_low = None
        if direction == "matches" and steering is not None and CHALLENGER in steering:
            # What the model adds to the gap the documented rules show on the same people.
            gap = steering[CHALLENGER].get("excess")
            gap_low = steering[CHALLENGER].get("excess_low")
        figures.append(
            DirectionFigures(
                direction=direction,
                challenger_metric=report.metric(CHALLENGER, GATE_METRIC),
                champion_metric=report.metric(CHAMPION, GATE_METRIC) if has_champion else None,
                baselines=[
                    _comparison(report, b, seed, config.baseline_confidence)
                    for b in ("rules", "skill_cosine")
                ],
                challenger_overall_recall20=report.metric(CHALLENGER, "recall@20"),
                challenger_group_recall=group_recalls(report, CHALLENGER),
                champion_group_recall=group_recalls(report, CHAMPION) if has_champion else None,
                group_rows=group_rows(report, CHALLENGER),
                steering_gap=gap,
                steering_gap_low=gap_low,
            )
        )
    return decide_directions(figures, config)


def training_fingerprint(world: WorldTables) -> str:
    """sha256 over the (path, sha256) pairs of the files listed in the world's manifest."""
    files = sorted(
        (str(f.get("path")), str(f.get("sha256"))) for f in world.manifest.get("files", [])
    )
    if not files:
        raise ValueError(f"the manifest of {world.root} lists no files to fingerprint")
    return hashlib.sha256(json.dumps(files).encode()).hexdigest()


def challenger_metrics(reports: Mapping[Direction, EvaluationReport]) -> dict[str, float]:
    """The challenger's finite overall and per-group figures, ``"<direction>/<name>"``."""
    metrics: dict[str, float] = {}
    for direction, report in reports.items():
        for name in report.overall.columns:
            value = report.metric(CHALLENGER, str(name))
            if math.isfinite(value):
                metrics[f"{direction}/{name}"] = value
        for key, value in group_recalls(report, CHALLENGER).items():
            if math.isfinite(value):
                metrics[f"{direction}/recall@20[{key}]"] = value
    return metrics


def baseline_metrics(
    reports: Mapping[Direction, EvaluationReport],
) -> dict[str, dict[str, float]]:
    """Every other ranking's overall figures, ``{ranking: {"<direction>/<name>": value}}``."""
    baselines: dict[str, dict[str, float]] = {}
    for direction, report in reports.items():
        for ranking, row in report.overall.drop(index=CHALLENGER).iterrows():
            target = baselines.setdefault(str(ranking), {})
            for name, value in row.items():
                target[f"{direction}/{name}"] = float(value)
    return baselines


def register_step(
    registry: ModelRegistry,
    boosters: Mapping[Direction, lgb.Booster],
    config: RankerConfig,
    reports: Mapping[Direction, EvaluationReport],
    fingerprint: str,
    decision: GateDecision,
    calibration: CalibrationResult,
    card_sections: str = "",
) -> str:
    """Register the challenger (never promoted here) with its figures; return its version."""
    notes = gate_notes(decision.promote, list(decision.reasons))
    attachments = {
        f"reliability-{direction}.png": reliability_png(
            {"calibrated": curve}, f"{direction}: calibrated P(hire) on the test weeks"
        )
        for direction, curve in calibration.reliabilities.items()
    }
    record = registry.register(
        boosters,
        config=config,
        metrics=challenger_metrics(reports),
        training_fingerprint=fingerprint,
        notes=notes,
        baselines=baseline_metrics(reports),
        calibrations=calibration.calibrations,
        card_sections=card_sections,
        attachments=attachments,
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
        data, engine = features_step(world, settings, dataset_config)
    with step("split"):
        data = split_step(data)
    with step("train"):
        boosters = train_step(data, ranker_config, dask_address, dask_local_workers)
    with step("evaluate"):
        calibration = calibrate_step(data, boosters)
        columns = {
            d: group_columns(world, engine.data, part.test, settings) for d, part in data.items()
        }
        hidden = hidden_model(world)
        truths = outcome_truths = None
        if hidden is not None:
            truths = {d: oracle_truth(hidden, world, part.test) for d, part in data.items()}
            outcome_truths = {
                d: oracle_truth(hidden, world, rows) for d, (rows, _) in outcome_rows(data).items()
            }
        reports, champion_before = evaluate_step(
            data,
            boosters,
            registry,
            columns,
            seed=dataset_config.seed,
            truths=truths,
            outcome_truths=outcome_truths,
        )
        challenger = DirectionalModel(
            CHALLENGER,
            {d: LightGBMScorer(b, CHALLENGER, FEATURE_NAMES) for d, b in boosters.items()},
            calibration.calibrations,
        )
        steering = {
            "matches": steering_step(
                engine,
                world,
                {CHALLENGER: challenger, "rules": RuleBasedScorer(FEATURE_NAMES)},
                seed=dataset_config.seed,
            )
        }
        sanity = sanity_step(engine, world, settings, challenger, seed=dataset_config.seed)
    with step("gate"):
        decision = gate_step(
            reports,
            champion_before is not None,
            gate_config,
            steering["matches"],
            seed=dataset_config.seed,
        )
        if not sanity.all_passed:
            decision = GateDecision(
                promote=False,
                reasons=[
                    *decision.reasons,
                    f"sanity suite: {sanity.summary()}",
                    *sanity.failures[:5],
                ],
            )
    with step("register"):
        sections = render_sections(
            reports,
            {
                d: {
                    "train": len(part.train),
                    "valid": len(part.valid),
                    "test": len(part.test),
                    "queries": len(part.test.groups),
                }
                for d, part in data.items()
            },
            {d: part.fallback for d, part in data.items()},
            calibration.reliabilities,
            calibration.retention_share,
            steering,
            list(decision.reasons),
            sanity.summary(),
        )
        version = register_step(
            registry,
            boosters,
            ranker_config,
            reports,
            fingerprint,
            decision,
            calibration,
            sections,
        )
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
        reports=reports,
        notified=notified,
        steering=steering["matches"],
        sanity=sanity.summary(),
    )
