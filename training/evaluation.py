"""Offline evaluation of rankings on held-out query groups: the model, baselines, the oracle.

Every ranking is scored on the same test groups with the same metrics
(:mod:`training.metrics`): NDCG@5/10/20, recall@20, MAP and catalogue coverage of the top 20.

Baselines: ``random`` (seeded), ``rules`` (the documented rule-based score), ``skill_cosine``
(the pair feature), the current ``champion`` when there is one, and on generated worlds the
``oracle``: the expected logged grade under the generator's hidden model,

    E[grade | shown] = P(proposed | shown) × (1 + P(accept) P(interview) (1 + P(hire) (1 +
    P(retained)))),

with the logged propensity of the coaches' policy and the hidden stage probabilities from
the TRUE skills. Labels on logged data come through that policy, so this, not P(hire |
proposed) alone, is the best ranking of them.

Per group (target group, sex, region, language), recall@20 is the share of the group's
relevant rows that made their query's top 20 — "are this group's good matches shown?" — with
row counts, and the disparity ratio (worst / best group).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.dataset import TrainingSet
from training.metrics import (
    catalogue_coverage,
    disparity_ratio,
    mean_average_precision,
    ndcg_at_k,
    recall_at_k,
)

TOP_K = 20
NDCG_AT = (5, 10, 20)


@dataclass(frozen=True)
class EvaluationReport:
    """``overall``: one row per ranking; ``groups``: one row per (ranking, dimension, group)."""

    overall: pd.DataFrame
    groups: pd.DataFrame

    def metric(self, ranking: str, name: str) -> float:
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
) -> tuple[float, int]:
    """Share of the relevant rows of a group that rank in their query's top ``k``, and count."""
    relevant = (labels > 0) & members
    count = int(relevant.sum())
    if count == 0:
        return float("nan"), 0
    ranks = _ranks_within_queries(scores, groups)
    return float((ranks[relevant] < k).mean()), count


def evaluate(
    test: TrainingSet,
    rankings: Mapping[str, npt.NDArray[np.float64]],
    group_columns: Mapping[str, npt.ArrayLike],
) -> EvaluationReport:
    """Metrics for each ranking (scores aligned with ``test`` rows) and per group.

    ``group_columns`` maps a dimension (``"target_group"``, ``"sex"``, ...) to a per-row
    label; a row may count in several target groups, so a dimension's value can also be a
    ``"|"``-joined set of labels.
    """
    groups = test.groups
    labels = test.labels
    overall: list[dict[str, object]] = []
    per_group: list[dict[str, object]] = []
    # Shortlist queries recommend people: coverage counts the jobseekers ever in a top 20.
    items = test.seeker_rows
    n_items = len(np.unique(items)) or 1
    for name, raw in rankings.items():
        scores = np.asarray(raw, np.float64)
        if scores.shape != labels.shape:
            raise ValueError(f"ranking {name!r} has {len(scores)} scores for {len(labels)} rows")
        ranks = _ranks_within_queries(scores, groups)
        top_items = [items[ranks < TOP_K].astype(str).tolist()]
        row: dict[str, object] = {
            f"ndcg@{k}": ndcg_at_k(scores, labels, groups, k) for k in NDCG_AT
        }
        row["recall@20"] = recall_at_k(scores, labels, groups, TOP_K)
        row["map"] = mean_average_precision(scores, labels, groups)
        row["coverage@20"] = catalogue_coverage(top_items, n_items)
        row["ranking"] = name
        overall.append(row)
        for dimension, column in group_columns.items():
            values = pd.Series(np.asarray(column, dtype=object)).fillna("unknown").astype(str)
            members_of = sorted({g for v in values for g in v.split("|") if g})
            recalls: dict[str, float] = {}
            for group in members_of:
                mask = values.map(lambda v, g=group: g in v.split("|")).to_numpy(bool)
                value, count = group_recall(scores, labels, groups, mask)
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
    )


def expected_grade_oracle(
    hidden_model: object,
    world: object,
    jobseeker_ids: npt.ArrayLike,
    vacancy_ids: npt.ArrayLike,
    propensity: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """The oracle score of logged rows (see the module docstring); 0 for unshown rows."""
    from training.synthetic.hidden_model import HiddenModel

    assert isinstance(hidden_model, HiddenModel)
    context = hidden_model.context(world)  # type: ignore[arg-type]
    js, vac = context.rows(jobseeker_ids, vacancy_ids)
    logits = hidden_model.stage_logits(hidden_model.features(context, js, vac))

    def p(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(1.0 / (1.0 + np.exp(-x)), np.float64)

    after_proposal = 1.0 + p(logits.accept) * p(logits.interview) * (
        1.0 + p(logits.hire) * (1.0 + p(logits.retain))
    )
    shown = np.nan_to_num(np.asarray(propensity, np.float64), nan=0.0)
    return shown * after_proposal
