"""Benchmark training: time and memory per 1M rows × 100 trees, and the quality table.

    python bench/bench_training.py [--world DIR]

Prints the training-set build time, LightGBM training time normalised to 1M rows × 100 trees
(2 threads), peak RSS, and on the held-out weeks the quality of the model against the
baselines (random, rule-based score, skill cosine) and the generator's oracle.

Targets (2 cores): <= 45 s per 1M rows × 100 trees; model NDCG@10 >= 0.9 × oracle and
>= skill cosine + 0.10.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np

from features.schema import FEATURE_INDEX, FEATURE_NAMES
from features.world_store import SERVING_TABLES, load_world
from matching.scoring import RuleBasedScorer
from service.composition import build_engine
from service.settings import Settings
from training.dataset import DatasetConfig, build_training_set
from training.evaluation import evaluate, expected_grade_oracle
from training.ranker import LightGBMScorer, RankerConfig, train_ranker
from training.synthetic import WorldConfig, generate_world
from training.synthetic.hidden_model import HiddenModel


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, default=Path("var/bench/world"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not (args.world / "world.json").exists():
        print(f"generating the 300,000 / 100,000 world into {args.world} ...")
        generate_world(WorldConfig(seekers=300_000, vacancies=100_000), args.world)

    started = time.perf_counter()
    world = load_world(args.world, (*SERVING_TABLES, "exposures"))
    engine = build_engine(world, Settings())
    dataset = build_training_set(world, engine.data, DatasetConfig())
    build_s = time.perf_counter() - started
    train, valid, test = dataset.part("train"), dataset.part("valid"), dataset.part("test")
    print(
        f"training set: {len(dataset):,} rows ({len(train):,} train / {len(valid):,} valid / "
        f"{len(test):,} test) in {build_s:.1f} s (load + engine + features)"
    )

    # Throughput: exactly 100 trees, no early stopping.
    params = RankerConfig(num_threads=args.threads).lightgbm_params()
    data = lgb.Dataset(train.features, label=train.labels, weight=train.weights, group=train.groups)
    started = time.perf_counter()
    lgb.train(params, data, num_boost_round=100)
    fit_s = time.perf_counter() - started
    per_million = fit_s * 1_000_000 / len(train)
    print(
        f"LightGBM {params['objective']}: {fit_s:.1f} s for {len(train):,} rows × 100 trees "
        f"= {per_million:.1f} s per 1M rows × 100 trees ({args.threads} threads); "
        f"peak RSS {peak_rss_gib():.2f} GiB"
    )

    # Quality: the production recipe (early stopping on validation).
    booster = train_ranker(train, valid, RankerConfig(num_threads=args.threads), FEATURE_NAMES)
    seeker_ids = np.asarray(engine.data.seekers.ids, dtype=object)[test.seeker_rows]
    vacancy_ids = np.asarray(engine.data.vacancies.ids, dtype=object)[test.vacancy_rows]
    hidden = HiddenModel.from_json(args.world)
    rankings = {
        "model": LightGBMScorer(booster, "bench", FEATURE_NAMES).score(test.features),
        "oracle": expected_grade_oracle(hidden, world, seeker_ids, vacancy_ids, test.propensity),
        "rules": RuleBasedScorer(FEATURE_NAMES).score(test.features),
        "skill_cosine": test.features[:, FEATURE_INDEX["skill_cosine"]].astype(np.float64),
        "random": np.random.default_rng(0).random(len(test)),
    }
    sex = (
        world.jobseekers.set_index("jobseeker_id")["sex"].astype(str).reindex(seeker_ids)
    ).to_numpy()
    report = evaluate(test, rankings, {"sex": sex})
    print(
        f"\nheld-out weeks: {len(test.groups):,} query groups, {len(test):,} rows, "
        f"{booster.num_trees()} trees"
    )
    print(report.overall.round(4).to_string())
    print("\nrecall@20 by sex (model):")
    print(report.group_recall("model").round(3).to_string())

    model, oracle = report.metric("model", "ndcg@10"), report.metric("oracle", "ndcg@10")
    cosine = report.metric("skill_cosine", "ndcg@10")
    checks = [
        ("<= 45 s per 1M rows × 100 trees", per_million <= 45),
        (f"model NDCG@10 {model:.4f} >= 0.9 × oracle {oracle:.4f}", model >= 0.9 * oracle),
        (f"model NDCG@10 >= skill cosine {cosine:.4f} + 0.10", model >= cosine + 0.10),
    ]
    print("\n" + "\n".join(f"  [{'met' if ok else 'MISSED'}] {name}" for name, ok in checks))
    print(f"peak RSS of the whole run {peak_rss_gib():.2f} GiB")


if __name__ == "__main__":
    main()
