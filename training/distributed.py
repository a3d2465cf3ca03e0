"""Training the ranker on a Dask cluster with ``lightgbm.dask``.

:func:`train_ranker_dask` trains the same model as :func:`training.ranker.train_ranker` (same
hyperparameters, mapped to the scikit-learn API names) with LightGBM's data-parallel learner
spread over the cluster's workers. Early stopping is not supported on Dask, so the number of
trees is fixed: take it from a single-machine run that stops early (its ``best_iteration``).

A ranking query must never be split between workers: :func:`query_partitions` cuts the rows
only at query-group boundaries, and the ``group`` sizes are passed as a dask array whose chunks
line up with the row chunks (partition *i* of ``group`` holds the sizes of the queries in
partition *i* of the rows).

:func:`local_client` starts a throw-away :class:`distributed.LocalCluster` on 127.0.0.1 with
one worker *process* per LightGBM machine (LightGBM's network state is per process, so worker
threads in one process cannot act as separate machines).
"""

from __future__ import annotations

import contextlib
import itertools
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from training.dataset import TrainingSet
from training.ranker import RankerConfig

if TYPE_CHECKING:
    from distributed import Client


def sklearn_params(config: RankerConfig, feature_names: Sequence[str] = ()) -> dict[str, Any]:
    """:meth:`RankerConfig.lightgbm_params` under the scikit-learn API's names."""
    native = config.lightgbm_params(tuple(feature_names))
    extra: dict[str, Any] = {
        key: native[key]
        for key in ("label_gain", "monotone_constraints", "monotone_constraints_method", "max_bin")
        if key in native
    }
    return {
        **extra,
        "objective": config.objective,
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "max_depth": config.max_depth,
        "min_child_samples": config.min_data_in_leaf,
        "colsample_bytree": config.feature_fraction,
        "subsample": config.bagging_fraction,
        "subsample_freq": config.bagging_freq,
        "reg_lambda": config.lambda_l2,
        "random_state": config.seed,
        # Passed through to LightGBM as they are.
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }


def query_partitions(
    groups: npt.NDArray[np.int64], n_partitions: int
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Split consecutive query groups into at most ``n_partitions`` runs of similar row counts.

    Returns ``(row_chunks, group_chunks)``: rows per partition and query groups per partition.
    Cuts fall only between groups, every partition holds at least one group, and the sums are
    the number of rows and of groups.
    """
    if n_partitions < 1:
        raise ValueError("n_partitions must be at least 1")
    groups = np.asarray(groups, np.int64)
    if len(groups) == 0:
        raise ValueError("no query groups to partition")
    if np.any(groups <= 0):
        raise ValueError("query group sizes must be positive")
    n = min(n_partitions, len(groups))
    ends = np.cumsum(groups)  # row offset after each group
    total = int(ends[-1])
    # The group after which partition i ends: the first group end at or past i/n of the rows,
    # kept strictly increasing so that no partition is empty.
    cuts: list[int] = []
    for i in range(1, n):
        cut = int(np.searchsorted(ends, total * i / n, side="left"))
        low = cuts[-1] + 1 if cuts else 0
        high = len(groups) - 1 - (n - i)  # leave at least one group per later partition
        cuts.append(min(max(cut, low), high))
    group_bounds = [0, *(c + 1 for c in cuts), len(groups)]
    row_bounds = [0, *(int(ends[c]) for c in cuts), total]
    group_chunks = tuple(int(b - a) for a, b in itertools.pairwise(group_bounds))
    row_chunks = tuple(int(b - a) for a, b in itertools.pairwise(row_bounds))
    return row_chunks, group_chunks


def train_ranker_dask(
    train: TrainingSet,
    config: RankerConfig,
    feature_names: Sequence[str],
    client: Client,
    num_trees: int,
    n_partitions: int | None = None,
    targets: npt.NDArray[np.float64] | None = None,
) -> lgb.Booster:
    """Train ``num_trees`` trees on the cluster behind ``client``; return the booster.

    ``n_partitions`` defaults to the number of workers; partitions hold whole queries. With
    the ``funnel`` objective the cluster fits the distillation: a regression on ``targets``
    (the funnel's log-probabilities of ``train``'s rows, :func:`training.ranker.distil`).
    """
    import dask.array as da
    from lightgbm.dask import DaskLGBMClassifier, DaskLGBMRanker, DaskLGBMRegressor

    if config.objective == "funnel" and targets is None:
        raise ValueError("the funnel's distillation needs its targets")
    if config.objective != "funnel":
        # As training.ranker.train_ranker: the other objectives learn from proposals only.
        train = train.subset(train.proposed)

    if num_trees < 1:
        raise ValueError("num_trees must be at least 1")
    if n_partitions is None:
        n_partitions = max(1, len(client.scheduler_info().get("workers", {})))
    row_chunks, group_chunks = query_partitions(train.groups, n_partitions)
    # Place partition i (rows, labels, weights and group sizes together) on worker i mod the
    # number of workers, so every worker is one LightGBM machine and the run is repeatable.
    workers = sorted(client.scheduler_info().get("workers", {}))
    row_ends = np.cumsum((0, *row_chunks))
    group_ends = np.cumsum((0, *group_chunks))
    pieces: list[list[da.Array]] = [[], [], [], []]
    for i in range(len(row_chunks)):
        rows = slice(int(row_ends[i]), int(row_ends[i + 1]))
        queries = slice(int(group_ends[i]), int(group_ends[i + 1]))
        if config.objective == "funnel":
            outcome: npt.NDArray[np.generic] = np.asarray(targets, np.float64)
        elif config.objective == "binary":
            outcome = train.hired.astype(np.int32)
        else:
            outcome = train.outcome_grade
        part = [
            da.from_array(train.features[rows], chunks=-1),
            da.from_array(outcome[rows], chunks=-1),
            da.from_array(train.weights[rows], chunks=-1),
            da.from_array(train.groups[queries], chunks=-1),
        ]
        if workers:
            part = list(client.persist(part, workers=[workers[i % len(workers)]]))
        for collected, piece in zip(pieces, part, strict=True):
            collected.append(piece)
    features, labels, weights, groups = (da.concatenate(p) for p in pieces)
    params = sklearn_params(config, feature_names)
    with warnings.catch_warnings():
        # The scikit-learn API always passes n_jobs; on Dask each worker uses its own threads.
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        model: DaskLGBMClassifier | DaskLGBMRanker | DaskLGBMRegressor
        if config.objective == "funnel":
            params["objective"] = "regression"
            model = DaskLGBMRegressor(client=client, n_estimators=num_trees, **params)
            model.fit(
                features,
                labels,
                sample_weight=weights,
                feature_name=list(feature_names),
            )
        elif config.objective == "binary":
            model = DaskLGBMClassifier(client=client, n_estimators=num_trees, **params)
            model.fit(features, labels, sample_weight=weights, feature_name=list(feature_names))
        else:
            model = DaskLGBMRanker(client=client, n_estimators=num_trees, **params)
            model.fit(
                features,
                labels,
                sample_weight=weights,
                group=groups,
                feature_name=list(feature_names),
            )
    booster: lgb.Booster = model.booster_
    if tuple(booster.feature_name()) != tuple(feature_names):
        raise RuntimeError("the Dask-trained booster lost the feature names")
    return booster


@contextlib.contextmanager
def local_client(n_workers: int) -> Iterator[Client]:
    """A client over a local cluster of ``n_workers`` single-threaded worker processes."""
    from distributed import Client, LocalCluster

    if n_workers < 1:
        raise ValueError("n_workers must be at least 1")
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@contextlib.contextmanager
def dask_client(address: str | None, local_workers: int | None) -> Iterator[Client]:
    """A client to the scheduler at ``address``, or over a local cluster of ``local_workers``."""
    if (address is None) == (local_workers is None):
        raise ValueError("give exactly one of a Dask scheduler address and a local worker count")
    if local_workers is not None:
        with local_client(local_workers) as client:
            yield client
        return
    from distributed import Client

    with Client(address) as client:
        yield client
