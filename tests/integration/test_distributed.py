"""Training the ranker on a two-worker local Dask cluster against single-machine training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from features.schema import FEATURE_NAMES
from features.world_store import WorldTables
from service.composition import build_engine
from service.settings import Settings
from training.dataset import DatasetConfig, build_training_set
from training.distributed import local_client, query_partitions, train_ranker_dask
from training.metrics import ndcg_at_k
from training.ranker import LightGBMScorer, RankerConfig, train_ranker

pytestmark = pytest.mark.integration

# Data-parallel LightGBM builds feature bins from each machine's own rows, so two machines do
# not grow the single-machine trees exactly; on the small world's 13 test queries the gap
# measured 0.02-0.05 NDCG@10 (see the report), hence a looser bound than a re-run would need.
TOLERANCE = 0.08


def _whole_queries(groups: np.ndarray, n: int) -> None:
    row_chunks, group_chunks = query_partitions(groups, n)
    assert len(row_chunks) == len(group_chunks) == min(n, len(groups))
    assert all(c > 0 for c in group_chunks)
    assert sum(row_chunks) == int(groups.sum())
    assert sum(group_chunks) == len(groups)
    starts = np.cumsum(np.r_[0, groups])  # every row offset where a query starts
    for end in np.cumsum(row_chunks):
        assert end in starts  # partitions end only where a query ends
    ends = np.cumsum(group_chunks)
    assert list(np.cumsum(row_chunks)) == [int(starts[e]) for e in ends]


def test_partitions_never_split_a_query() -> None:
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 7, 50):
        _whole_queries(rng.integers(1, 40, size=30), n)
    _whole_queries(np.array([100, 1, 1]), 3)
    _whole_queries(np.array([5]), 4)
    with pytest.raises(ValueError):
        query_partitions(np.zeros(0, np.int64), 2)


def test_dask_training_ranks_like_single_machine_training(small_world: WorldTables) -> None:
    engine = build_engine(small_world, Settings())
    data = build_training_set(
        small_world, engine.data, DatasetConfig(valid_weeks=12, test_weeks=12)
    )
    train, valid, test = data.part("train"), data.part("valid"), data.part("test")
    _whole_queries(train.groups, 2)
    config = RankerConfig(num_threads=1)
    stopped = train_ranker(train, valid, config, FEATURE_NAMES)
    trees = stopped.best_iteration or stopped.num_trees()
    single = train_ranker(
        train, None, config.model_copy(update={"num_trees": trees}), FEATURE_NAMES
    )
    with local_client(2) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        dask_model = train_ranker_dask(train, config, FEATURE_NAMES, client, trees)
    assert dask_model.num_trees() == trees
    ndcg = {
        name: ndcg_at_k(
            LightGBMScorer(model, name, FEATURE_NAMES).score(test.features),
            test.labels,
            test.groups,
            10,
        )
        for name, model in (("single", single), ("dask", dask_model))
    }
    print(f"NDCG@10 on the test part: {ndcg}")
    assert abs(ndcg["single"] - ndcg["dask"]) <= TOLERANCE, ndcg


def test_cli_rejects_both_dask_options(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from service.cli import app

    args = ["retrain", "--world", str(tmp_path), "--registry", str(tmp_path / "r")]
    result = CliRunner().invoke(app, [*args, "--dask", "tcp://127.0.0.1:8786", "--dask-local", "2"])
    assert result.exit_code == 2
    assert "mutually exclusive" in result.output
