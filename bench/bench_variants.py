"""Benchmark: does the pipeline learn worlds it was not designed on? Every hidden-model variant.

    python bench/bench_variants.py [--seekers 300000] [--vacancies 100000] [--seed 7]
                                   [--variants NAME ...] [--out var/bench/variants]

For each variant of the generator's hidden-model family (``kohtaanto generate
--hidden-model``): generate a world, run the nightly retraining on it as a user would
(:func:`training.pipeline.retrain`, timed end to end), and print per direction

- on the held-out weeks' logged queries: NDCG@10 on logged labels, outcome NDCG@10 over the
  proposed rows, clipped-IPS and SNIPS estimates of hires in the top 10, and the true NDCG@10
  / hires@10 under the variant's hidden model — for the model, the rules, skill cosine and the
  oracle (expected logged grade) / ``oracle_hire`` (P(hire | proposed));
- on the lists the engine serves today (:mod:`training.served_evaluation`): NDCG@10 of the top
  10 against the truth over every admissible candidate, for the model (exhaustive and through
  the engine's retrieval), the rules, skill cosine and the naive assessed-skill overlap;
- the sanity suite's counts and the equality figures; the gate's verdict.

Targets (issue 11): on every variant, model NDCG@10 >= 0.9 x oracle and >= rules + 0.05 in
both directions; sanity 100 %; nightly job <= 90 s at 300,000 / 100,000 on 2 cores.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
import typing
from pathlib import Path

import pandas as pd

from features.world_store import SERVING_TABLES, load_world
from service.composition import build_engine
from service.settings import Settings
from training.pipeline import retrain
from training.registry import ModelRegistry
from training.served_evaluation import served_figures
from training.synthetic import WorldConfig, generate_world
from training.synthetic.hidden_model import HiddenModel

LOGGED = (
    "ndcg@10",
    "outcome_concordance",
    "outcome_ndcg@10",
    "ips_hires@10",
    "snips_hires@10",
    "true_ndcg@10",
    "true_hires@10",
)
SHOWN = ("challenger", "rules", "skill_cosine", "oracle", "oracle_hire")


def variant_names() -> tuple[str, ...]:
    annotation = WorldConfig.model_fields["hidden_model"].annotation
    return tuple(typing.get_args(annotation))


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seekers", type=int, default=300_000)
    parser.add_argument("--vacancies", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--variants", nargs="*", default=None)
    parser.add_argument("--queries", type=int, default=200, help="served-list queries")
    parser.add_argument("--out", type=Path, default=Path("var/bench/variants"))
    args = parser.parse_args()
    variants = tuple(args.variants or variant_names())
    settings = Settings()
    logged_rows: list[dict[str, object]] = []
    summary: list[dict[str, object]] = []
    for variant in variants:
        world_dir = args.out / f"{variant}-{args.seekers}-{args.vacancies}-{args.seed}"
        if not (world_dir / "world.json").exists():
            started = time.perf_counter()
            generate_world(
                WorldConfig(
                    seekers=args.seekers,
                    vacancies=args.vacancies,
                    seed=args.seed,
                    hidden_model=variant,  # type: ignore[arg-type]
                ),
                world_dir,
            )
            print(f"[{variant}] generated in {time.perf_counter() - started:.1f} s", flush=True)
        # A fresh registry: the challenger is judged against the baselines, not a champion.
        shutil.rmtree(world_dir.parent / f"models-{world_dir.name}", ignore_errors=True)
        registry = ModelRegistry(world_dir.parent / f"models-{world_dir.name}")
        started = time.perf_counter()
        result = retrain(world_dir, registry, settings=settings)
        nightly = time.perf_counter() - started
        print(
            f"[{variant}] nightly job {nightly:.1f} s ("
            + ", ".join(f"{k} {v:.1f}" for k, v in result.step_seconds.items())
            + f"); promoted={result.promoted}; sanity {result.sanity}",
            flush=True,
        )
        for reason in result.reasons[:6]:
            print(f"    gate: {reason}")
        for direction, report in result.reports.items():
            for ranking in SHOWN:
                if ranking not in report.overall.index:
                    continue
                row: dict[str, object] = {
                    "variant": variant,
                    "direction": direction,
                    "ranking": "model" if ranking == "challenger" else ranking,
                }
                row.update({k: report.metric(ranking, k) for k in LOGGED})
                logged_rows.append(row)
        summary.append(
            {
                "variant": variant,
                "nightly_s": round(nightly, 1),
                "promoted": result.promoted,
                "sanity": result.sanity,
                "steering_gap": result.steering.get("challenger", {}).get("gap"),
            }
        )
        # The lists the engine would serve today, under the trained model.
        world = load_world(world_dir, SERVING_TABLES)
        engine = build_engine(world, settings)
        model = registry.load(result.version)
        truth = HiddenModel.from_json(world_dir)
        for direction in ("shortlist", "matches"):
            figures = served_figures(
                engine, truth, world, model, direction, queries=args.queries, seed=args.seed
            )
            print(
                f"[{variant}] served {direction} lists ({figures.queries} queries, "
                f"{figures.candidates:.0f} candidates each): "
                + ", ".join(f"{name} {value:.4f}" for name, value in figures.ndcg.items()),
                flush=True,
            )
            for name, value in figures.ndcg.items():
                logged_rows.append(
                    {
                        "variant": variant,
                        "direction": direction,
                        "ranking": f"served:{name}",
                        "true_ndcg@10": value,
                        "true_hires@10": figures.hires[name],
                    }
                )
        print(f"peak RSS so far {peak_rss_gib():.2f} GiB", flush=True)

    table = pd.DataFrame(logged_rows)
    pd.set_option("display.width", 200)
    print("\nHeld-out logged queries and served lists, per variant and direction:")
    print(table.round(4).to_string(index=False))
    print("\nNightly job, gate, sanity and equality per variant:")
    print(pd.DataFrame(summary).to_string(index=False))


if __name__ == "__main__":
    main()
