"""Offline evaluation of rankings on held-out query groups: the model, baselines, the oracle.

Every ranking is scored on the same test groups of one direction with the same figures:

- on **logged labels** (:mod:`training.metrics`): NDCG@5/10/20, recall@20, MAP and catalogue
  coverage of the top 20 — how well a ranking agrees with what the coaches' policy and the
  outcomes produced;
- on **outcomes** (:mod:`training.offpolicy`): NDCG@10 over the proposed rows graded by what
  happened after the proposal, clipped-IPS / SNIPS estimates of the hires the top 10 would
  bring — what a ranking would be worth, corrected for whom the coaches proposed — and the
  **outcome concordance**: of the held-out proposals to one vacancy (shortlists) or of one
  person (matches), pooled from both kinds of list, the share of pairs with different
  outcomes (declined by the person < went on < interviewed < chosen) that a ranking orders the
  right way round. It counts every comparable pair, not only lists with a hire, which makes
  it the steadiest figure the log offers; the gate compares rankings by it;
- on generated worlds, against the **truth** of the hidden model: NDCG@10 with the oracle's
  probability of a hire as the gain, over every row (unshown candidates included), and the
  expected hires of the top 10.

Baselines: ``random`` (seeded), ``rules`` (the documented rule-based score), ``skill_cosine``
(the pair feature), the current ``champion`` when there is one, and on generated worlds the
``oracle``: the expected logged grade under the generator's hidden model,

    E[grade | shown] = P(proposed | shown) × (1 + P(accept) P(interview) (1 + P(hire) (1 +
    P(retained)))),

the best possible ranking *on logged labels* (it includes the coaches' propensity to
propose, which no outcome model should imitate), next to ``oracle_hire`` = P(hired |
proposed), the best ranking by outcome.

Per group (target group, sex, region, language), recall@20 is the share of the group's
relevant rows that made their query's top 20 — "are this group's good matches shown?" — with
row counts, and the disparity ratio (worst / best group).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.world_store import WorldTables
from training.dataset import TrainingSet
from training.metrics import (
    catalogue_coverage,
    disparity_ratio,
    mean_average_precision,
    ndcg_at_k,
    per_query_ndcg,
    recall_at_k,
)
from training.offpolicy import (
    Concordance,
    gain_ndcg,
    off_policy_hires,
    outcome_concordance,
    top_k_mask,
)

TOP_K = 20
NDCG_AT = (5, 10, 20)
OUTCOME_K = 10
#: The figure the gate compares rankings by (see the module docstring).
GATE_METRIC = "outcome_concordance"


@dataclass(frozen=True)
class Truth:
    """The hidden model's view of the test rows (generated worlds only)."""

    hire: npt.NDArray[np.float64]  # P(hired | proposed)
    expected_grade: npt.NDArray[np.float64]  # E[logged grade | shown]


@dataclass(frozen=True)
class EvaluationReport:
    """``overall``: one row per ranking; ``groups``: one row per (ranking, dimension, group).

    ``per_query`` keeps each ranking's per-query figures for paired comparisons.
    """

    overall: pd.DataFrame
    groups: pd.DataFrame
    per_query: dict[str, dict[str, npt.NDArray[np.float64]]] = field(default_factory=dict)
    concordance: dict[str, Concordance] = field(default_factory=dict)

    def metric(self, ranking: str, name: str) -> float:
        if ranking not in self.overall.index or name not in self.overall.columns:
            return float("nan")
        value: float = self.overall.at[ranking, name]  # type: ignore[assignment]
        return float(value)

    def group_recall(self, ranking: str) -> pd.DataFrame:
        rows = self.groups[self.groups["ranking"] == ranking]
        return rows.set_index(["dimension", "group"])


def _ranks_within_queries(
    scores: npt.NDArray[np.float64], groups: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """0-based rank of every row inside its query (stable on ties, like the metrics)."""
    ranks = np.empty(len(scores), np.int64)
    start = 0
    for size in groups.tolist():
        order = np.argsort(-scores[start : start + size], kind="stable")
        ranks[start + order] = np.arange(size)
        start += size
    return ranks


def group_recall(
    scores: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int8],
    groups: npt.NDArray[np.int64],
    members: npt.NDArray[np.bool_],
    k: int = TOP_K,
    ranks: npt.NDArray[np.int64] | None = None,
) -> tuple[float, int]:
    """Share of the relevant rows of a group that rank in their query's top ``k``, and count.

    ``ranks`` are the rows' places within their query when the caller already has them
    (one ranking, many groups); otherwise they are computed from ``scores``.
    """
    relevant = (labels > 0) & members
    count = int(relevant.sum())
    if count == 0:
        return float("nan"), 0
    if ranks is None:
        ranks = _ranks_within_queries(scores, groups)
    return float((ranks[relevant] < k).mean()), count


@dataclass(frozen=True)
class OutcomeRows:
    """Held-out proposals for the outcome concordance: grades and competing groups."""

    grades: npt.NDArray[np.int64]
    groups: npt.NDArray[np.object_]
    rankings: Mapping[str, npt.NDArray[np.float64]]


def funnel_grade(rows: TrainingSet) -> npt.NDArray[np.int64]:
    """0 declined by the person, 1 went on, 2 interviewed, 3 chosen by the employer."""
    grade = np.where(rows.declined_by_jobseeker, 0, 1)
    grade = np.where(rows.interviewed, 2, grade)
    grade = np.where(rows.would_hire, 3, grade)
    return grade.astype(np.int64)


def evaluate(
    test: TrainingSet,
    rankings: Mapping[str, npt.NDArray[np.float64]],
    group_columns: Mapping[str, npt.ArrayLike],
    truth: Truth | None = None,
    items: npt.ArrayLike | None = None,
    outcomes: OutcomeRows | None = None,
) -> EvaluationReport:
    """Figures for each ranking (scores aligned with ``test`` rows) and per group.

    ``group_columns`` maps a dimension (``"target_group"``, ``"sex"``, ...) to a per-row
    label; a row may count in several target groups, so a dimension's value can also be a
    ``"|"``-joined set of labels. ``items`` are what a list recommends (for catalogue
    coverage; the jobseekers by default).
    """
    groups = test.groups
    labels = test.labels
    overall: list[dict[str, object]] = []
    per_group: list[dict[str, object]] = []
    per_query: dict[str, dict[str, npt.NDArray[np.float64]]] = {}
    catalogue = np.asarray(test.jobseeker_ids if items is None else items, dtype=object)
    n_items = len(pd.unique(catalogue)) or 1
    outcome = test.outcome_grade
    concordances: dict[str, Concordance] = {}
    # Group memberships once per dimension (a row may be in several target groups).
    memberships: dict[str, dict[str, npt.NDArray[np.bool_]]] = {}
    for dimension, column in group_columns.items():
        values = pd.Series(np.asarray(column, dtype=object)).fillna("unknown").astype(str)
        exploded = values.str.split("|").explode()
        exploded = exploded[exploded != ""]
        memberships[dimension] = {
            str(group): np.isin(np.arange(len(values)), rows.index.to_numpy())
            for group, rows in exploded.groupby(exploded, sort=True)
        }
    for name, raw in rankings.items():
        scores = np.asarray(raw, np.float64)
        if scores.shape != labels.shape:
            raise ValueError(f"ranking {name!r} has {len(scores)} scores for {len(labels)} rows")
        ranks = _ranks_within_queries(scores, groups)
        top_items = [catalogue[ranks < TOP_K].astype(str).tolist()]
        row: dict[str, object] = {
            f"ndcg@{k}": ndcg_at_k(scores, labels, groups, k) for k in NDCG_AT
        }
        row["recall@20"] = recall_at_k(scores, labels, groups, TOP_K)
        row["map"] = mean_average_precision(scores, labels, groups)
        row["coverage@20"] = catalogue_coverage(top_items, n_items)
        outcome_ndcg = gain_ndcg(
            scores, np.exp2(outcome.astype(np.float64)) - 1.0, groups, OUTCOME_K, test.proposed
        )
        row["outcome_ndcg@10"] = (
            float(np.nanmean(outcome_ndcg)) if np.isfinite(outcome_ndcg).any() else float("nan")
        )
        estimate = off_policy_hires(
            scores, test.hired, test.proposed, test.propensity, groups, OUTCOME_K
        )
        row["ips_hires@10"] = estimate.ips
        row["snips_hires@10"] = estimate.snips
        if outcomes is not None and name in outcomes.rankings:
            concordance = outcome_concordance(
                outcomes.rankings[name], outcomes.grades, outcomes.groups
            )
            concordances[name] = concordance
            row["outcome_concordance"] = concordance.value
        figures = {
            "outcome_ndcg@10": outcome_ndcg,
            "ndcg@10": per_query_ndcg(scores, labels, groups, 10),
            "ips_hires@10": estimate.per_query,
        }
        if truth is not None:
            true_ndcg = gain_ndcg(scores, truth.hire, groups, OUTCOME_K)
            row["true_ndcg@10"] = float(np.nanmean(true_ndcg))
            top = top_k_mask(scores, groups, OUTCOME_K)
            sizes = np.repeat(np.arange(len(groups)), groups)
            expected = np.bincount(sizes, weights=top * truth.hire, minlength=len(groups))
            row["true_hires@10"] = float(expected.mean()) if len(groups) else float("nan")
            figures["true_ndcg@10"] = true_ndcg
        row["ranking"] = name
        overall.append(row)
        per_query[name] = figures
        for dimension, members in memberships.items():
            recalls: dict[str, float] = {}
            for group, mask in members.items():
                value, count = group_recall(scores, labels, groups, mask, ranks=ranks)
                recalls[group] = value
                per_group.append(
                    {
                        "ranking": name,
                        "dimension": dimension,
                        "group": group,
                        "recall@20": value,
                        "relevant_rows": count,
                    }
                )
            ratio = disparity_ratio(recalls)
            for item in per_group:
                if item["ranking"] == name and item["dimension"] == dimension:
                    item["disparity_ratio"] = ratio
    return EvaluationReport(
        overall=pd.DataFrame(overall).set_index("ranking"),
        groups=pd.DataFrame(
            per_group,
            columns=[
                "ranking",
                "dimension",
                "group",
                "recall@20",
                "relevant_rows",
                "disparity_ratio",
            ],
        ),
        per_query=per_query,
        concordance=concordances,
    )


def oracle_truth(
    hidden_model: object,
    world: object,
    test: TrainingSet,
) -> Truth:
    """The hidden model's probabilities for the test rows (see the module docstring)."""
    from training.synthetic.hidden_model import HiddenModel

    assert isinstance(hidden_model, HiddenModel)
    assert isinstance(world, WorldTables)
    hire = hidden_model.oracle_scores(
        world,
        test.jobseeker_ids,
        test.vacancy_ids,
        days=test.shown_on,
    )
    expected = hidden_model.expected_grade(
        world,
        test.jobseeker_ids,
        test.vacancy_ids,
        np.nan_to_num(test.propensity, nan=0.0),
        days=test.shown_on,
    )
    return Truth(hire=np.asarray(hire, np.float64), expected_grade=expected)
