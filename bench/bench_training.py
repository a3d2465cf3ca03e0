"""Benchmark training: the nightly job's steps, time and memory, and the quality table.

    python bench/bench_training.py [--world DIR] [--threads 2]

Runs the training steps of :func:`training.pipeline.retrain` one by one on a national world
(300,000 jobseekers / 100,000 vacancies, generated when missing) and prints the time of each
— world load, engine build, the point-in-time training set, the funnel's three steps, each
direction's distillation — the rows they used, LightGBM's time per 1M rows × 100 trees, peak
RSS, and per direction the figures of the held-out weeks (logged, outcome, off-policy and, on
a generated world, true) for the model, the rules, skill cosine and the oracle.

Targets (2 cores): the nightly job end to end <= 90 s; <= 45 s per 1M rows × 100 trees.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np

from features.schema import FEATURE_NAMES
from features.taxonomy import load_taxonomy
from features.world_store import SERVING_TABLES, load_world
from matching.scoring import RuleBasedScorer
from service.composition import build_engine
from service.settings import Settings
from training.dataset import DatasetConfig, build_direction_data
from training.evaluation import evaluate, oracle_truth
from training.pipeline import pooled_proposals
from training.ranker import LightGBMScorer, RankerConfig, train_funnel, train_ranker
from training.synthetic import WorldConfig, generate_world
from training.synthetic.hidden_model import HiddenModel

FIGURES = ["ndcg@10", "outcome_concordance", "ips_hires@10", "snips_hires@10", "true_ndcg@10"]


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

    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        print(f"{name:<24} {now - clock:6.1f} s   peak RSS {peak_rss_gib():.2f} GiB", flush=True)
        clock = now

    world = load_world(args.world, (*SERVING_TABLES, "exposures"))
    lap("load")
    engine = build_engine(world, Settings())
    lap("engine")
    data = build_direction_data(world, engine.data, load_taxonomy(), DatasetConfig())
    lap("training set")
    for direction, part in data.items():
        print(
            f"  {direction}: {len(part.train):,} training rows "
            f"({int(part.train.proposed.sum()):,} proposals), {len(part.valid):,} validation, "
            f"{len(part.test):,} test rows in {len(part.test.groups):,} queries"
        )
    config = RankerConfig(num_threads=args.threads)
    pooled = pooled_proposals([part.train for part in data.values()])
    funnel = train_funnel(
        pooled, pooled_proposals([part.valid for part in data.values()]), config, FEATURE_NAMES
    )
    lap("funnel")
    print("  trees: " + ", ".join(f"{k} {b.num_trees()}" for k, b in funnel.steps.items()))
    boosters = {}
    for direction, part in data.items():
        boosters[direction] = train_ranker(part.train, part.valid, config, FEATURE_NAMES, funnel)
        lap(f"distil {direction}")

    # Throughput: exactly 100 trees of the funnel's first step on the pooled proposals.
    params = config.lightgbm_params(FEATURE_NAMES)
    started = time.perf_counter()
    lgb.train(params, lgb.Dataset(pooled.features, label=pooled.accepted), num_boost_round=100)
    per_million = (time.perf_counter() - started) * 1_000_000 / len(pooled)
    print(f"LightGBM: {per_million:.1f} s per 1M rows × 100 trees ({args.threads} threads)")

    generated = (args.world / "hidden_model.json").is_file()
    hidden = HiddenModel.from_json(args.world) if generated else None
    for direction, part in data.items():
        test = part.test
        model = LightGBMScorer(boosters[direction], "bench", FEATURE_NAMES)
        cosine = test.features[:, FEATURE_NAMES.index("skill_cosine")]
        rankings = {
            "model": model.score(test.features),
            "rules": RuleBasedScorer(FEATURE_NAMES).score(test.features),
            "skill_cosine": cosine.astype(np.float64),
        }
        truth = None if hidden is None else oracle_truth(hidden, world, test)
        if truth is not None:
            rankings["oracle"] = truth.expected_grade
            rankings["oracle_hire"] = truth.hire
        report = evaluate(test, rankings, {}, truth)
        shown = [f for f in FIGURES if f in report.overall.columns]
        print(f"\n{direction}: held-out weeks, {len(test.groups):,} queries")
        print(report.overall[shown].round(4).to_string())
    print(f"\npeak RSS of the whole run {peak_rss_gib():.2f} GiB")


if __name__ == "__main__":
    main()
