"""Evaluation report: overall metrics per ranking and recall per population group."""

from __future__ import annotations

import numpy as np
import pytest

from training.dataset import TrainingSet
from training.evaluation import evaluate, group_recall

pytestmark = pytest.mark.unit


def tiny_set(labels: list[int], groups: list[int]) -> TrainingSet:
    n = len(labels)
    query = np.repeat(np.arange(len(groups)), groups)
    grades = np.array(labels, np.int8)
    return TrainingSet(
        features=np.zeros((n, 1), np.float32),
        labels=grades,
        hired=grades >= 3,
        lasting=np.where(grades >= 4, 1.0, 0.0),
        declined_by_jobseeker=np.zeros(n, bool),
        position_filled=np.zeros(n, bool),
        weights=np.ones(n, np.float32),
        query=query.astype(np.int64),
        jobseeker_ids=np.array([f"JS{i:07d}" for i in range(n)], dtype=object),
        vacancy_ids=np.array([f"VA{q:07d}" for q in query], dtype=object),
        shown_on=np.full(n, np.datetime64("2026-01-01", "D")),
        proposed=grades > 0,
        propensity=np.full(n, 0.5),
        unshown=np.zeros(n, bool),
    )


def test_group_recall_counts_relevant_rows_in_the_top_k() -> None:
    scores = np.array([3.0, 2.0, 1.0, 0.0])
    labels = np.array([1, 0, 1, 1], np.int8)
    groups = np.array([4])
    members = np.array([True, True, True, False])
    # Group rows that are relevant: 0 (rank 0) and 2 (rank 2); top 2 holds only row 0.
    assert group_recall(scores, labels, groups, members, k=2) == (0.5, 2)
    assert group_recall(scores, labels, groups, np.zeros(4, bool), k=2)[1] == 0


def test_evaluate_ranks_the_better_ranking_higher_and_reports_groups() -> None:
    test = tiny_set([3, 0, 0, 1, 0, 2], [3, 3])
    perfect = np.array([3.0, 0.0, 0.1, 1.0, 0.0, 2.0])
    reversed_ = -perfect
    sex = np.array(["female", "male", "female", "male", "female", "male"], dtype=object)
    report = evaluate(test, {"perfect": perfect, "reversed": reversed_}, {"sex": sex})
    assert report.metric("perfect", "ndcg@10") == pytest.approx(1.0)
    assert report.metric("reversed", "ndcg@10") < report.metric("perfect", "ndcg@10")
    groups = report.group_recall("perfect")
    assert groups.loc[("sex", "female"), "relevant_rows"] == 1
    assert groups.loc[("sex", "male"), "relevant_rows"] == 2
    assert 0 < groups.loc[("sex", "male"), "disparity_ratio"] <= 1


def test_evaluate_refuses_misaligned_scores() -> None:
    test = tiny_set([1, 0], [2])
    with pytest.raises(ValueError, match="has 3 scores for 2 rows"):
        evaluate(test, {"bad": np.zeros(3)}, {})
