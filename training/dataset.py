"""The training set: logged exposures replayed as of their day, per direction.

**Directions.** The engine answers two questions and each has its own queries, model and
evaluation (:data:`matching.scoring.DIRECTIONS`):

- ``shortlist`` (vacancy → people): the logged exposures of ``query_kind``
  ``vacancy_shortlist``, one query per shown list (``query_id``, the vacancy);
- ``matches`` (person → vacancies): the logged coaches' searches, ``query_kind``
  ``jobseeker_matches``, one query per search. A world that logged no searches falls back to
  the shortlist exposures regrouped per person and calendar month (a weaker substitute: those
  lists were not chosen for the person), and says so in :attr:`DirectionData.fallback`.

**Labels.** A pair's *grade* is the furthest stage it reached (shown 0, proposed 1,
interviewed 2, hired 3, still employed after 6 or 12 months 4; a decline is 0); it scores
rankings on logged labels. *hired* and *lasting* (a hire still employed after six months;
unknown while the six months have not passed by the world's day) are the outcomes.

**What the model learns.** Only a proposal reveals an outcome: whether a shown person who was
not proposed would have been hired, nobody knows. So the models learn what follows a
proposal — the person goes on or declines, the employer interviews, chooses — from the
proposed rows (:mod:`training.ranker` explains the funnel), plus, for fitting each
direction's final model where it will be used, unshown candidates of its queries. Coaches do
not propose at random — the logged policy prefers well-recorded skills and short spells — but
they choose on what they could see, and a flexible model of the outcome given those features
is consistent without reweighting; inverse-propensity weights
``min((1 / max(propensity, propensity_floor)) ** ipw_power, max_weight)`` remain available
(``ipw_power`` 0 by default: on the generated worlds the weights added variance and lowered
ranking quality against the truth — served NDCG@10 0.76 with full weights against 0.80
without, on a 20,000-person world, learning hires alone).

**Point in time.** Every row's features are computed by the serving code on arrays as they
were on the row's day (:mod:`features.replay`): profiles from the assessments made by then,
the unemployment spell and target groups of that day, the vacancy's hires so far.

**Evaluation groups.** The test queries keep the shown rows the engine would have admitted
that day (:func:`matching.engine.admissible_pairs`: a served list never holds a job beyond
reach or against the person's work ability) and add up to ``unshown_per_query`` candidates
the engine could have offered but nobody showed: people of the vacancy's labour-market area,
or open vacancies of the person's area, admitted on the day. They have grade 0 on logged
labels; on generated worlds the oracle knows their worth, so a ranking that lifts unsuitable
candidates over the shown ones is seen. Every held-out proposal, admitted today or not, is
kept apart (:attr:`DirectionData.proposals`) for the outcome concordance.

**Chronological split.** Only pairs whose vacancy closed at least ``label_delay_days`` before
the world's day are used (later outcomes are not known yet, and censored labels would read
as failures). Of those, the last ``test_weeks`` are the test set, the ``valid_weeks`` before
them validation (early stopping and calibration), everything earlier training. Whole queries
are drawn at random up to ``max_train_proposals`` / ``max_valid_proposals`` proposals and
``max_test_queries`` test queries per direction, so that the nightly job fits its window on a
national service.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from features.codes import index_in
from features.pair_features import pair_features
from features.profiles import ProfileConfig
from features.replay import replay_rows
from features.taxonomy import Taxonomy
from features.world_store import WorldTables
from matching.engine import MatchingConfig, admissible_pairs
from matching.entities import MatchingData
from matching.scoring import DIRECTIONS, Direction

GRADES: dict[str, int] = {
    "suggested": 0,
    "declined_by_employer": 0,
    "declined_by_jobseeker": 0,
    "position_filled": 0,
    "employment_ended": 0,
    "proposed": 1,
    "interviewed": 2,
    "hired": 3,
    "retained_6m": 4,
    "retained_12m": 4,
}
MAX_GRADE = 4
SPLITS = ("train", "valid", "test")
SHORTLIST_KIND = "vacancy_shortlist"
MATCHES_KIND = "jobseeker_matches"
#: Days after a hire when the six-month retention is known.
LASTING_DAYS = 183


class DatasetConfig(BaseModel):
    """How the training set is built (strict: a typo is an error)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unshown_per_query: int = Field(default=10, ge=0, le=50)
    #: Unshown candidates per training and validation query: the model is fitted where it
    #: will be used, on the kind of candidates a served list holds (see ``distil`` in
    #: :mod:`training.ranker`).
    train_unshown_per_query: int = Field(default=2, ge=0, le=50)
    #: A nightly job on a national service must stay within its window: at most this many
    #: proposals per direction train (and validate) the model, in whole queries drawn at
    #: random; at most ``max_test_queries`` queries per direction test it. Beyond a few
    #: hundred thousand proposals the models gain little.
    max_train_proposals: int = Field(default=150_000, ge=1)
    max_valid_proposals: int = Field(default=30_000, ge=1)
    max_test_queries: int = Field(default=6_000, ge=1)
    propensity_floor: float = Field(default=0.05, gt=0, le=1)
    ipw_power: float = Field(default=0.0, ge=0, le=1)
    max_weight: float = Field(default=20.0, ge=1)
    label_delay_days: int = Field(default=60, ge=0)
    valid_weeks: int = Field(default=8, ge=1)
    test_weeks: int = Field(default=8, ge=1)
    seed: int = 0


@dataclass(frozen=True)
class TrainingSet:
    """Rows sorted by query; ``groups`` gives the query sizes in that order."""

    features: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int8]  # the logged grade
    hired: npt.NDArray[np.bool_]
    lasting: npt.NDArray[np.float64]  # 1 / 0, NaN while the six months have not passed
    #: The proposal's funnel: the jobseeker declined it; the employer wanted to hire but the
    #: openings were already filled (a hire but for other candidates).
    declined_by_jobseeker: npt.NDArray[np.bool_]
    position_filled: npt.NDArray[np.bool_]
    weights: npt.NDArray[np.float32]  # inverse-propensity weights of proposed rows, else 1
    query: npt.NDArray[np.int64]  # query number, contiguous
    jobseeker_ids: npt.NDArray[np.object_]
    vacancy_ids: npt.NDArray[np.object_]
    shown_on: npt.NDArray[np.datetime64]
    proposed: npt.NDArray[np.bool_]
    propensity: npt.NDArray[np.float64]  # logged P(proposed | shown); NaN for unshown rows
    unshown: npt.NDArray[np.bool_]

    def subset(self, mask: npt.NDArray[np.bool_]) -> TrainingSet:
        return TrainingSet(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    @property
    def groups(self) -> npt.NDArray[np.int64]:
        """Sizes of consecutive query groups (LightGBM's ``group``)."""
        return ranking_groups(self.query)

    @property
    def outcome_grade(self) -> npt.NDArray[np.int8]:
        """What happened after a proposal: 0 nothing, 1 interviewed, 2 hired, 3 lasted."""
        grade: npt.NDArray[np.int8] = np.maximum(self.labels.astype(np.int8) - 1, 0).astype(np.int8)
        return grade

    @property
    def accepted(self) -> npt.NDArray[np.bool_]:
        """Proposals the jobseeker went on with (they reached the employer)."""
        accepted: npt.NDArray[np.bool_] = self.proposed & ~self.declined_by_jobseeker
        return accepted

    @property
    def interviewed(self) -> npt.NDArray[np.bool_]:
        interviewed: npt.NDArray[np.bool_] = self.labels >= GRADES["interviewed"]
        return interviewed

    @property
    def would_hire(self) -> npt.NDArray[np.bool_]:
        """Hired, or turned down only because the openings were filled by then."""
        chosen: npt.NDArray[np.bool_] = self.hired | self.position_filled
        return chosen

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class DirectionData:
    """One direction's train and validation rows (proposed only) and whole test groups."""

    direction: Direction
    train: TrainingSet
    valid: TrainingSet
    test: TrainingSet
    #: Every held-out proposal of the direction's queries, admissible today or not: what
    #: followed a proposal is evidence about the pair whatever the engine would show now.
    proposals: TrainingSet | None = None
    #: True when the world logged no queries of this direction and another's were regrouped.
    fallback: bool = False


def ranking_groups(query: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Group sizes for rows sorted by query; checks the ranking preconditions in one place."""
    if len(query) == 0:
        return np.zeros(0, np.int64)
    if np.any(np.diff(query) < 0):
        raise ValueError("rows must be sorted by query before building ranking groups")
    _, sizes = np.unique(query, return_counts=True)
    if int(sizes.sum()) != len(query):
        raise ValueError("group sizes do not add up to the number of rows")
    return sizes.astype(np.int64)


def _days(instants: pd.Series) -> npt.NDArray[np.datetime64]:
    return pd.to_datetime(instants, utc=True).dt.tz_localize(None).to_numpy("datetime64[D]")


def exposure_labels(
    world: WorldTables, base: MatchingData, as_of: date | None = None
) -> pd.DataFrame:
    """One row per logged exposure of known people and vacancies: what it led to.

    Columns: ``kind`` (query kind), ``query`` (the query's number within its kind), ``s`` and
    ``v`` (rows in ``base``, which are the world's rows), ``shown_on``, ``propensity``,
    ``grade``, ``proposed``, ``hired``, ``declined_by_jobseeker``, ``position_filled`` and
    ``lasting`` — 1 for a hire still employed after six months, 0 for a hire that was not
    (or a proposal that led to no hire), NaN for a hire whose six months end on or after
    ``as_of``. Everything is integer codes: national logs hold millions of rows.
    """
    people, jobs = list(base.seekers.ids), list(base.vacancies.ids)
    n_vacancies = np.int64(max(len(jobs), 1))
    outcomes = world.outcomes
    # Stages and reasons through their categories: a few strings, not millions.
    stages = pd.Categorical(outcomes["stage"])
    names = np.asarray(stages.categories.astype(str))
    code = stages.codes

    def is_stage(name: str) -> npt.NDArray[np.bool_]:
        found = np.flatnonzero(names == name)
        return code == found[0] if len(found) else np.zeros(len(code), bool)

    reasons = pd.Categorical(outcomes["reason"])
    filled_code = np.flatnonzero(np.asarray(reasons.categories.astype(str)) == "position_filled")
    filled = (
        is_stage("declined_by_employer") & (reasons.codes == filled_code[0])
        if len(filled_code)
        else np.zeros(len(code), bool)
    )
    # Both ends must be known: a key built from an unknown vacancy (-1) would alias the
    # previous person's last vacancy.
    seeker_at = index_in(outcomes["jobseeker_id"], people)
    vacancy_at = index_in(outcomes["vacancy_id"], jobs)
    o_key = seeker_at * n_vacancies + vacancy_at
    grade_of = np.array([GRADES.get(name, 0) for name in names], np.int8)
    hired = is_stage("hired")
    hire_day = np.where(hired, _days(outcomes["occurred_at"]), np.datetime64("NaT"))
    known = (seeker_at >= 0) & (vacancy_at >= 0)
    events = pd.DataFrame(
        {
            "key": o_key[known],
            "grade": grade_of[np.maximum(code, 0)][known] if len(names) else np.zeros(0, np.int8),
            "proposed": is_stage("proposed")[known],
            "hired_on": hire_day.astype("datetime64[D]")[known],
            "declined_by_jobseeker": is_stage("declined_by_jobseeker")[known],
            "position_filled": filled[known],
        }
    )
    best = events.groupby("key", sort=True).agg(
        grade=("grade", "max"),
        proposed=("proposed", "max"),
        hired_on=("hired_on", "min"),
        declined_by_jobseeker=("declined_by_jobseeker", "max"),
        position_filled=("position_filled", "max"),
    )
    exposures = world.exposures
    s = index_in(exposures["jobseeker_id"], people)
    v = index_in(exposures["vacancy_id"], jobs)
    kinds = pd.Categorical(exposures["query_kind"])
    kind_code = kinds.codes
    query = np.zeros(len(exposures), np.int64)
    for number in range(len(kinds.categories)):
        mine = kind_code == number
        query[mine] = pd.factorize(exposures["query_id"][mine])[0]
    kind = pd.Categorical.from_codes(kind_code, categories=kinds.categories.astype(str))
    frame = pd.DataFrame(
        {
            "kind": kind,
            "query": query,
            "s": s,
            "v": v,
            "shown_on": _days(exposures["shown_at"]),
            "propensity": exposures["propensity"].astype(np.float64).to_numpy(),
        }
    )
    frame = frame[(s >= 0) & (v >= 0)]
    # Join on the sorted pair keys (a binary search per exposure, no hash table of millions).
    keys = best.index.to_numpy(np.int64)
    asked = frame["s"].to_numpy() * n_vacancies + frame["v"].to_numpy()
    at = np.minimum(np.searchsorted(keys, asked), max(len(keys) - 1, 0))
    found = (keys[at] == asked) if len(keys) else np.zeros(len(asked), bool)

    def joined(column: str, missing: Any) -> npt.NDArray[np.generic]:
        values = best[column].to_numpy()
        return np.where(found, values[at], missing) if len(keys) else np.full(len(asked), missing)

    grade = joined("grade", 0).astype(np.int8)
    frame["grade"] = grade
    frame["proposed"] = joined("proposed", False).astype(bool) | (grade > 0)
    frame["hired"] = grade >= GRADES["hired"]
    for flag in ("declined_by_jobseeker", "position_filled"):
        frame[flag] = joined(flag, False).astype(bool)
    lasting = np.where(grade >= GRADES["retained_6m"], 1.0, 0.0)
    if as_of is not None:
        known_by = np.datetime64(as_of - timedelta(days=LASTING_DAYS), "D")
        hired_on = joined("hired_on", np.datetime64("NaT")).astype("datetime64[D]")
        pending = frame["hired"].to_numpy() & (hired_on > known_by)
        lasting = np.where(pending & (lasting == 0.0), np.nan, lasting)
    frame["lasting"] = lasting
    return frame.reset_index(drop=True)


def _split_of(shown_on: pd.Series, as_of: date, config: DatasetConfig) -> npt.NDArray[np.int8]:
    horizon = pd.Timestamp(as_of - timedelta(days=config.label_delay_days))
    test_start = horizon - pd.Timedelta(weeks=config.test_weeks)
    valid_start = test_start - pd.Timedelta(weeks=config.valid_weeks)
    day = pd.to_datetime(shown_on)
    split = np.full(len(day), -1, np.int8)
    split[(day < valid_start).to_numpy()] = 0
    split[((day >= valid_start) & (day < test_start)).to_numpy()] = 1
    split[((day >= test_start) & (day < horizon)).to_numpy()] = 2
    return split


def direction_rows(labelled: pd.DataFrame, direction: Direction) -> tuple[pd.DataFrame, bool]:
    """The exposures of one direction with an integer ``query_key``; and whether it is the
    fallback (no logged searches: shortlist exposures per person and calendar month)."""
    kind = labelled["kind"]
    if direction == "shortlist":
        rows = labelled[kind == SHORTLIST_KIND]
        return rows.assign(query_key=rows["query"].to_numpy()), False
    rows = labelled[kind == MATCHES_KIND]
    if len(rows):
        return rows.assign(query_key=rows["query"].to_numpy()), False
    rows = labelled[kind == SHORTLIST_KIND]
    month = rows["shown_on"].to_numpy("datetime64[M]").astype(np.int64)
    key = pd.factorize(rows["s"].to_numpy() * 100_000 + (month - month.min()))[0]
    return rows.assign(query_key=key), True


def _unshown_candidates(
    base: MatchingData,
    queries: pd.DataFrame,
    direction: Direction,
    per_query: int,
    seed: int,
) -> pd.DataFrame:
    """Candidates of each query the engine could have offered but nobody showed.

    Drawn from the query's labour-market area: people living there for a vacancy's
    shortlist, vacancies open that day there for a person's search. Oversampled here; the
    engine's hard filters on the day decide later which are kept.
    """
    columns = ["query_key", "s", "v", "shown_on", "split"]
    if per_query == 0 or queries.empty:
        return pd.DataFrame(columns=columns)
    rng = np.random.default_rng(seed + (1 if direction == "matches" else 0))
    if direction == "shortlist":
        anchor = queries["v"].to_numpy()
        area = base.labour_area[base.vacancies["municipality"][anchor]]
        members = base.labour_area[base.seekers["home"]]
        # Some drawn people will be in work or out of reach that day.
        draws = 4 * per_query
    else:
        anchor = queries["s"].to_numpy()
        area = base.labour_area[base.seekers["home"][anchor]]
        members = base.labour_area[base.vacancies["municipality"]]
        # Most of an area's vacancies were not open on a given day of the history.
        draws = 24 * per_query
    order = np.argsort(members, kind="stable")
    sorted_members = members[order]
    start = np.searchsorted(sorted_members, area, side="left")
    size = np.searchsorted(sorted_members, area, side="right") - start
    owner = np.repeat(np.arange(len(queries)), np.where(size > 0, draws, 0))
    picked = order[start[owner] + (rng.random(len(owner)) * size[owner]).astype(np.int64)]
    day = queries["shown_on"].to_numpy("datetime64[D]")[owner]
    if direction == "matches":
        # Only vacancies open that day can be offered (cheap to check before the replay).
        open_then = (base.vacancies["opens_on"][picked] <= day) & (
            base.vacancies["closes_on"][picked] >= day
        )
        owner, picked, day = owner[open_then], picked[open_then], day[open_then]
    frame = pd.DataFrame(
        {
            "query_key": queries["query_key"].to_numpy()[owner],
            "s": queries["s"].to_numpy()[owner] if direction == "matches" else picked,
            "v": picked if direction == "matches" else queries["v"].to_numpy()[owner],
            "shown_on": day,
            "split": queries["split"].to_numpy()[owner],
        }
    )
    return frame.drop_duplicates(["query_key", "s", "v"])


def _sample_queries(rows: pd.DataFrame, config: DatasetConfig) -> pd.DataFrame:
    """Whole queries drawn at random (seeded) within each split's cap (see DatasetConfig)."""
    rng = np.random.default_rng(config.seed + 7)
    kept = []
    for index, _ in enumerate(SPLITS):
        part = rows[rows["split"] == index]
        keys = np.unique(part["query_key"].to_numpy())
        shuffled = keys[rng.permutation(len(keys))]
        if index == SPLITS.index("test"):
            chosen = shuffled[: config.max_test_queries]
        else:
            cap = config.max_train_proposals if index == 0 else config.max_valid_proposals
            per_query = part[part["proposed"]].groupby("query_key").size()
            sizes = per_query.reindex(shuffled).fillna(0).to_numpy()
            chosen = shuffled[: int(np.searchsorted(np.cumsum(sizes), cap, side="right")) + 1]
        kept.append(part[np.isin(part["query_key"].to_numpy(), chosen)])
    return pd.concat(kept) if kept else rows


def _weights(frame: pd.DataFrame, config: DatasetConfig) -> npt.NDArray[np.float32]:
    propensity = frame["propensity"].fillna(1.0).to_numpy(np.float64)
    weight = (1.0 / np.maximum(propensity, config.propensity_floor)) ** config.ipw_power
    weight = np.where(frame["proposed"].to_numpy(bool), np.minimum(weight, config.max_weight), 1.0)
    return weight.astype(np.float32)


def build_direction_data(
    world: WorldTables,
    base: MatchingData,
    taxonomy: Taxonomy,
    config: DatasetConfig | None = None,
    *,
    matching_config: MatchingConfig | None = None,
    profile_config: ProfileConfig | None = None,
    directions: tuple[Direction, ...] = DIRECTIONS,
) -> dict[Direction, DirectionData]:
    """Per direction: replayed, weighted, chronologically split rows (module docstring).

    ``base`` is the world's matching data as of its day (the engine's); every row's
    features come from a point-in-time replay of it.
    """
    config = config or DatasetConfig()
    matching_config = matching_config or MatchingConfig()
    labelled = exposure_labels(world, base, world.as_of)
    # Only vacancies closed long enough ago have complete outcomes (no censored labels).
    complete_by = np.datetime64(world.as_of - timedelta(days=config.label_delay_days), "D")
    closes = base.vacancies["closes_on"][labelled["v"].to_numpy()]
    labelled = labelled[closes <= complete_by]
    labelled = labelled.assign(split=_split_of(labelled["shown_on"], world.as_of, config))
    labelled = labelled[labelled["split"] >= 0]
    test_split = SPLITS.index("test")

    parts: list[pd.DataFrame] = []
    fallback: dict[Direction, bool] = {}
    for number, direction in enumerate(directions):
        rows, fallback[direction] = direction_rows(labelled, direction)
        rows = _sample_queries(rows, config)
        # Query keys unique across directions.
        rows = rows.assign(
            query_key=rows["query_key"].to_numpy() * len(directions) + number,
            direction=direction,
            unshown=False,
        )
        queries = rows.drop_duplicates("query_key")[["query_key", "s", "v", "shown_on", "split"]]
        shown = rows[["query_key", "s", "v"]]
        # Train and validation learn from proposals; test keeps whole queries.
        rows = rows[(rows["split"] == test_split) | rows["proposed"]]
        extra = pd.concat(
            [
                _unshown_candidates(
                    base,
                    queries[queries["split"] == test_split],
                    direction,
                    config.unshown_per_query,
                    config.seed,
                ),
                _unshown_candidates(
                    base,
                    queries[queries["split"] != test_split],
                    direction,
                    config.train_unshown_per_query,
                    config.seed,
                ),
            ],
            ignore_index=True,
        )
        seen = extra.merge(shown, on=["query_key", "s", "v"], how="left", indicator=True)
        extra = extra[(seen["_merge"] == "left_only").to_numpy()].assign(
            direction=direction,
            unshown=True,
            grade=np.int8(0),
            proposed=False,
            hired=False,
            lasting=0.0,
            declined_by_jobseeker=False,
            position_filled=False,
            propensity=np.nan,
        )
        parts += [rows, extra]
    frame = pd.concat(parts, ignore_index=True)
    person_rows = frame["s"].to_numpy(np.int64)
    job_rows = frame["v"].to_numpy(np.int64)
    days = frame["shown_on"].to_numpy("datetime64[D]")
    replay = replay_rows(world, base, taxonomy, person_rows, job_rows, days, profile_config)
    # Test rows, shown or not, and unshown candidates stay only where the engine would have
    # admitted the pair that day: a served list never holds the others (a job beyond reach,
    # a work-ability conflict), so how a ranking orders them says nothing about it. Training
    # keeps every proposal: what became of the others is still worth learning from.
    admissible = admissible_pairs(
        replay.data, matching_config, replay.seeker_rows, replay.vacancy_rows, days
    )
    is_test = frame["split"].to_numpy() == test_split
    unshown = frame["unshown"].to_numpy(bool)
    in_lists = ~(unshown | is_test) | admissible
    held_out = is_test & frame["proposed"].to_numpy(bool)
    frame = frame.assign(in_lists=in_lists, held_out_proposal=held_out)
    candidates = frame[unshown & in_lists]
    limit = np.where(
        candidates["split"].to_numpy() == test_split,
        config.unshown_per_query,
        config.train_unshown_per_query,
    )
    rank = candidates.groupby("query_key").cumcount().to_numpy()
    over = candidates.index[rank >= limit]
    used = (in_lists & ~frame.index.isin(over)) | held_out
    frame = frame[used]
    features = pair_features(
        replay.data,
        replay.seeker_rows[used],
        replay.vacancy_rows[used],
        frame["shown_on"].to_numpy("datetime64[D]"),
    )
    frame = frame.assign(weight=_weights(frame, config), row=np.arange(len(frame)))
    seeker_ids = np.asarray(base.seekers.ids, dtype=object)
    vacancy_ids = np.asarray(base.vacancies.ids, dtype=object)

    result: dict[Direction, DirectionData] = {}
    for direction in directions:
        mine = frame[frame["direction"] == direction]
        order = ["query_key", "unshown", "s", "v"]
        proposals = mine[mine["held_out_proposal"]].sort_values(order, kind="stable")
        mine = mine[mine["in_lists"]]
        sets = {}
        for index, name in enumerate(SPLITS):
            part = mine[mine["split"] == index].sort_values(order, kind="stable")
            if name == "test":
                # Queries without a relevant row or with a single row test nothing.
                stats = part.groupby("query_key")["grade"].agg(["size", "max"])
                useful = stats[(stats["size"] > 1) & (stats["max"] > 0)].index
                part = part[part["query_key"].isin(useful)]
            sets[name] = _training_set(part, features, seeker_ids, vacancy_ids)
        result[direction] = DirectionData(
            direction=direction,
            train=sets["train"],
            valid=sets["valid"],
            test=sets["test"],
            proposals=_training_set(proposals, features, seeker_ids, vacancy_ids),
            fallback=fallback[direction],
        )
    return result


def _training_set(
    part: pd.DataFrame,
    features: npt.NDArray[np.float32],
    seeker_ids: npt.NDArray[np.object_],
    vacancy_ids: npt.NDArray[np.object_],
) -> TrainingSet:
    query = pd.factorize(part["query_key"], sort=False)[0].astype(np.int64)
    return TrainingSet(
        features=features[part["row"].to_numpy(np.int64)],
        labels=part["grade"].to_numpy(np.int8),
        hired=part["hired"].to_numpy(bool),
        lasting=part["lasting"].to_numpy(np.float64),
        declined_by_jobseeker=part["declined_by_jobseeker"].to_numpy(bool),
        position_filled=part["position_filled"].to_numpy(bool),
        weights=part["weight"].to_numpy(np.float32),
        query=query,
        jobseeker_ids=seeker_ids[part["s"].to_numpy(np.int64)],
        vacancy_ids=vacancy_ids[part["v"].to_numpy(np.int64)],
        shown_on=part["shown_on"].to_numpy("datetime64[D]"),
        proposed=part["proposed"].to_numpy(bool),
        propensity=part["propensity"].to_numpy(np.float64),
        unshown=part["unshown"].to_numpy(bool),
    )
