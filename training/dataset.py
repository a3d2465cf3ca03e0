"""The training set: labelled query groups replayed from logged exposures and outcomes.

**Queries.** A *vacancy shortlist* query is everything shown for one vacancy (the logged
exposures, whose ``query_id`` is the vacancy). A *jobseeker match list* query is everything a
jobseeker was shown for in one calendar month. ``query_kind`` picks one or both.

**Graded relevance** of a (jobseeker, vacancy) pair is the furthest stage it reached:

=====================================  =====
stage                                  grade
=====================================  =====
shown, nothing happened; declined      0
proposed by the coach                  1
interviewed                            2
hired                                  3
still employed after 6 (or 12) months  4
=====================================  =====

**Negatives** are exposures that led nowhere (grade 0) plus, per query, a few candidates the
skill index retrieved but nobody was shown (grade 0, weight ``unshown_weight``).

**Inverse-propensity weights.** Coaches do not propose at random: the logged policy proposes
people with better *recorded* skills and shorter spells more often, so outcomes are observed
mostly for those. A proposed pair is weighted ``(1 / max(propensity, propensity_floor)) **
ipw_power`` (the propensity is the logged probability that the coach proposes it), so the
rarely-proposed who were proposed anyway stand for the many who were not. ``ipw_power`` 1 is
plain inverse-propensity weighting; the default 0.5 tempers it: on the generated world plain
IPW stopped validation NDCG@10 at 0.50 after 4 trees (its variance swamps the signal), the
square root reaches 0.55, as high as no weighting, while still correcting part of the bias.

**Chronological split.** Only vacancies that closed at least ``label_delay_days`` before the
world's day are used (later outcomes are not known yet, and censored labels would read as
failures). Of the rest, the last ``test_weeks`` are the
test set, the ``valid_weeks`` before them validation, everything earlier training.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from features.codes import lookup_codes
from features.pair_features import pair_features
from features.world_store import WorldTables
from matching.entities import MatchingData
from matching.sparse_store import InvertedIndex

GRADES: dict[str, int] = {
    "suggested": 0,
    "declined_by_employer": 0,
    "declined_by_jobseeker": 0,
    "position_filled": 0,
    "proposed": 1,
    "interviewed": 2,
    "hired": 3,
    "retained_6m": 4,
    "retained_12m": 4,
}
MAX_GRADE = 4
SPLITS = ("train", "valid", "test")


class DatasetConfig(BaseModel):
    """How the training set is built (strict: a typo is an error)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    query_kind: Literal["vacancy", "jobseeker", "both"] = "vacancy"
    unshown_per_query: int = Field(default=3, ge=0, le=50)
    unshown_weight: float = Field(default=0.5, gt=0, le=1)
    propensity_floor: float = Field(default=0.05, gt=0, le=1)
    ipw_power: float = Field(default=0.5, ge=0, le=1)
    max_weight: float = Field(default=20.0, ge=1)
    label_delay_days: int = Field(default=60, ge=0)
    valid_weeks: int = Field(default=8, ge=1)
    test_weeks: int = Field(default=8, ge=1)
    seed: int = 0


@dataclass(frozen=True)
class TrainingSet:
    """Rows sorted by (split, query); ``group`` sizes follow that order per split."""

    features: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int8]
    weights: npt.NDArray[np.float32]
    query: npt.NDArray[np.int64]  # query number, contiguous within a split
    split: npt.NDArray[np.int8]  # index into SPLITS
    seeker_rows: npt.NDArray[np.int64]
    vacancy_rows: npt.NDArray[np.int64]
    shown_on: npt.NDArray[np.datetime64]
    proposed: npt.NDArray[np.bool_]
    propensity: npt.NDArray[np.float64]  # logged P(proposed | shown); NaN for unshown rows

    def part(self, name: str) -> TrainingSet:
        mask = self.split == SPLITS.index(name)
        return TrainingSet(
            **{field: getattr(self, field)[mask] for field in self.__dataclass_fields__}
        )

    @property
    def groups(self) -> npt.NDArray[np.int64]:
        """Sizes of consecutive query groups (LightGBM's ``group``)."""
        return ranking_groups(self.query)

    def __len__(self) -> int:
        return len(self.labels)


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


def exposure_labels(exposures: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """One row per logged exposure with the grade it reached and whether it was proposed."""
    stages = outcomes["stage"].astype(str).map(GRADES).fillna(0).astype(np.int8)
    best = (
        pd.DataFrame(
            {
                "jobseeker_id": outcomes["jobseeker_id"].astype(str),
                "vacancy_id": outcomes["vacancy_id"].astype(str),
                "grade": stages,
                "proposed": outcomes["stage"].astype(str) == "proposed",
            }
        )
        .groupby(["jobseeker_id", "vacancy_id"], sort=False)
        .agg(grade=("grade", "max"), proposed=("proposed", "max"))
        .reset_index()
    )
    frame = pd.DataFrame(
        {
            "query_id": exposures["query_id"].astype(str),
            "jobseeker_id": exposures["jobseeker_id"].astype(str),
            "vacancy_id": exposures["vacancy_id"].astype(str),
            "shown_on": pd.to_datetime(exposures["shown_at"]).dt.tz_localize(None).dt.normalize(),
            "propensity": exposures["propensity"].astype(np.float64),
        }
    )
    labelled = frame.merge(best, on=["jobseeker_id", "vacancy_id"], how="left")
    labelled["grade"] = labelled["grade"].fillna(0).astype(np.int8)
    labelled["proposed"] = labelled["proposed"].fillna(False).astype(bool) | (labelled["grade"] > 0)
    return labelled


def _split_of(shown_on: pd.Series, as_of: date, config: DatasetConfig) -> npt.NDArray[np.int8]:
    horizon = pd.Timestamp(as_of - timedelta(days=config.label_delay_days))
    test_start = horizon - pd.Timedelta(weeks=config.test_weeks)
    valid_start = test_start - pd.Timedelta(weeks=config.valid_weeks)
    split = np.full(len(shown_on), -1, np.int8)
    split[(shown_on < valid_start).to_numpy()] = 0
    split[((shown_on >= valid_start) & (shown_on < test_start)).to_numpy()] = 1
    split[((shown_on >= test_start) & (shown_on < horizon)).to_numpy()] = 2
    return split


def _unshown_negatives(
    data: MatchingData, labelled: pd.DataFrame, config: DatasetConfig
) -> pd.DataFrame:
    """Per vacancy query: candidates the skill index retrieves that nobody showed.

    Vectorised over all queries: pick one of the vacancy's skills at random, then a random
    jobseeker from that skill's posting list (so the candidate has a non-zero retrieval score),
    and drop the few draws that were in fact shown.
    """
    empty = labelled.iloc[0:0].drop(columns=["unshown"], errors="ignore")
    if config.unshown_per_query == 0 or labelled.empty:
        return empty
    rng = np.random.default_rng(config.seed)
    queries = labelled.drop_duplicates("query_id")[["query_id", "shown_on"]]
    v = lookup_codes(queries["query_id"], data.vacancies.row_of)
    queries, v = queries[v >= 0], v[v >= 0]
    reps = config.unshown_per_query
    v = np.repeat(v, reps)
    entries = data.requirements.rows(v)
    counts = np.diff(entries.indptr)
    usable = counts > 0
    pick = entries.indptr[:-1] + (rng.random(len(v)) * np.maximum(counts, 1)).astype(np.int64)
    skill = np.where(usable, entries.columns[np.minimum(pick, len(entries.columns) - 1)], 0)
    postings = InvertedIndex(data.profiles).postings
    start, stop = postings.indptr[skill], postings.indptr[skill + 1]
    has_posting = usable & (stop > start)
    draw = start + (rng.random(len(v)) * np.maximum(stop - start, 1)).astype(np.int64)
    seeker = postings.indices[np.minimum(draw, len(postings.indices) - 1)]
    frame = pd.DataFrame(
        {
            "query_id": np.repeat(queries["query_id"].to_numpy(), reps)[has_posting],
            "jobseeker_id": np.asarray(data.seekers.ids, dtype=object)[seeker[has_posting]],
            "vacancy_id": np.repeat(queries["query_id"].to_numpy(), reps)[has_posting],
            "shown_on": np.repeat(queries["shown_on"].to_numpy(), reps)[has_posting],
        }
    ).drop_duplicates(["query_id", "jobseeker_id"])
    shown = set(zip(labelled["query_id"], labelled["jobseeker_id"], strict=True))
    fresh = [
        pair not in shown for pair in zip(frame["query_id"], frame["jobseeker_id"], strict=True)
    ]
    frame = frame[fresh].copy()
    frame["propensity"] = np.nan
    frame["grade"] = np.int8(0)
    frame["proposed"] = False
    return frame


def build_training_set(
    world: WorldTables, data: MatchingData, config: DatasetConfig | None = None
) -> TrainingSet:
    """Labelled, weighted, chronologically split query groups with their pair features."""
    config = config or DatasetConfig()
    labelled = exposure_labels(world.exposures, world.outcomes)
    labelled["unshown"] = False
    negatives = _unshown_negatives(data, labelled, config)
    negatives["unshown"] = True
    frame = pd.concat([labelled, negatives], ignore_index=True)
    frame = frame[
        frame["jobseeker_id"].isin(data.seekers.row_of)
        & frame["vacancy_id"].isin(data.vacancies.row_of)
    ]
    # Only vacancies closed long enough ago have complete outcomes (no censored labels).
    closes = pd.to_datetime(world.vacancies.set_index("vacancy_id")["closes_on"])
    complete_by = pd.Timestamp(world.as_of - timedelta(days=config.label_delay_days))
    frame = frame[frame["vacancy_id"].map(closes) <= complete_by]
    frame["split"] = _split_of(frame["shown_on"], world.as_of, config)
    frame = frame[frame["split"] >= 0]

    weight = np.where(
        frame["proposed"].to_numpy(),
        (1.0 / np.maximum(frame["propensity"].fillna(1.0).to_numpy(), config.propensity_floor))
        ** config.ipw_power,
        1.0,
    )
    weight = np.where(frame["unshown"].to_numpy(), config.unshown_weight, weight)
    frame["weight"] = np.minimum(weight, config.max_weight)

    parts = []
    if config.query_kind in ("vacancy", "both"):
        parts.append(frame.assign(query_key="V:" + frame["query_id"]))
    if config.query_kind in ("jobseeker", "both"):
        month = frame["shown_on"].dt.strftime("%Y-%m")
        parts.append(frame.assign(query_key="J:" + frame["jobseeker_id"] + ":" + month))
    grouped = pd.concat(parts, ignore_index=True)
    grouped = grouped.sort_values(
        ["split", "query_key", "jobseeker_id", "vacancy_id"], kind="stable"
    )
    # Queries with a single row or without any positive teach a ranker nothing.
    stats = grouped.groupby("query_key")["grade"].agg(["size", "max"])
    useful = stats[(stats["size"] > 1) & (stats["max"] > 0)].index
    grouped = grouped[grouped["query_key"].isin(useful)].reset_index(drop=True)

    query = pd.factorize(grouped["split"].astype(str) + "|" + grouped["query_key"], sort=False)[0]
    s = np.asarray(grouped["jobseeker_id"].map(data.seekers.row_of).to_numpy(), np.int64)
    v = np.asarray(grouped["vacancy_id"].map(data.vacancies.row_of).to_numpy(), np.int64)
    shown_on = grouped["shown_on"].to_numpy("datetime64[D]")
    features = pair_features(data, s, v, shown_on)
    return TrainingSet(
        features=features,
        labels=grouped["grade"].to_numpy(np.int8),
        weights=grouped["weight"].to_numpy(np.float32),
        query=query.astype(np.int64),
        split=grouped["split"].to_numpy(np.int8),
        seeker_rows=s,
        vacancy_rows=v,
        shown_on=shown_on,
        proposed=grouped["proposed"].to_numpy(bool),
        propensity=grouped["propensity"].to_numpy(np.float64),
    )
