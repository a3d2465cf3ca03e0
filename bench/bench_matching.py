"""Benchmark the matching engine on a national-size world, against two peers in one process.

    python bench/bench_matching.py [--world DIR] [--registry DIR] [--queries 1000]
                                   [--exhaustive 1000]

Prints: engine build time and peak RSS; p50/p95/p99 of ``matches_for_jobseeker(k=20)`` and
``shortlist_for_vacancy(k=20)`` with the trained LightGBM ranker (the registry's champion when
``--registry`` has one, else one trained here from the world's logged exposures); the CPU
time per stage of the engine (:mod:`matching.stages`: mean and p99 per query, per direction,
with and without factors); and on the same queries the peers — exhaustive scoring of every
pair that passes the hard filters with the same model (no retrieval), and scikit-learn
``NearestNeighbors`` cosine over the skill vectors — with latency ratios and recall@20 of the
engine against the exhaustive ranking.

Targets (2 cores): matches p50 <= 3 ms, p99 <= 10 ms (with factors); shortlists p99 <= 15 ms;
recall@20 >= 0.95; build <= 60 s; RSS <= 3 GiB.
"""

from __future__ import annotations

import os

# One BLAS/OpenMP thread: the request path is single-threaded by design.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.neighbors import NearestNeighbors  # noqa: E402

from features.schema import FEATURE_NAMES  # noqa: E402
from features.taxonomy import load_taxonomy  # noqa: E402
from features.world_store import SERVING_TABLES, load_world  # noqa: E402
from matching.engine import MatchingEngine  # noqa: E402
from matching.entities import PROFILE_VALUE, REQ_WEIGHT  # noqa: E402
from matching.stages import STAGES, recording  # noqa: E402
from service.composition import build_engine  # noqa: E402
from service.settings import Settings  # noqa: E402
from training.dataset import DatasetConfig, build_direction_data  # noqa: E402
from training.pipeline import pooled_proposals  # noqa: E402
from training.ranker import LightGBMScorer, RankerConfig, train_funnel, train_ranker  # noqa: E402
from training.registry import DirectionalModel, ModelRegistry  # noqa: E402
from training.synthetic import WorldConfig, generate_world  # noqa: E402

K = 20


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def current_rss_gib() -> float:
    """Resident set size now (peak RSS cannot fall after the build's temporaries)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def percentiles(samples: Sequence[float]) -> tuple[float, float, float]:
    p50, p95, p99 = np.percentile(np.asarray(samples) * 1000, [50, 95, 99])
    return float(p50), float(p95), float(p99)


#: Per query, the CPU seconds of each stage it ran (:func:`matching.stages.recording`), and
#: under ``CPU`` the CPU seconds of the whole call (the thread's, whatever it ran).
Profiles = list[dict[str, float]]
CPU = "cpu"


def timed(
    fn: Callable[[str], list[str]], ids: Sequence[str], profiles: Profiles | None = None
) -> tuple[list[float], list[list[str]]]:
    """Wall time and answer of each query; with ``profiles``, also its stages' CPU time."""
    latencies, results = [], []
    for query_id in ids:
        with recording() as timings:
            cpu = time.thread_time()
            started = time.perf_counter()
            results.append(fn(query_id))
            latencies.append(time.perf_counter() - started)
            cpu = time.thread_time() - cpu
        if profiles is not None:
            profiles.append({**timings, CPU: cpu})
    return latencies, results


def stage_table(columns: dict[str, Profiles]) -> str:
    """Mean and p99 ms of CPU per stage (rows) for each named set of profiles (columns)."""
    names = [n for n in STAGES if any(n in p for ps in columns.values() for p in ps)]
    header = f"{'stage':12}" + "".join(f" {name + ' mean':>22} {'p99':>7}" for name in columns)
    lines = [header]
    for name in [*names, "total"]:
        cells = []
        for profiles in columns.values():
            if name == "total":
                values = np.array([sum(p.values()) - p[CPU] for p in profiles]) * 1000
            else:
                values = np.array([p.get(name, 0.0) for p in profiles]) * 1000
            cells.append(f" {values.mean():22.3f} {np.percentile(values, 99):7.3f}")
        lines.append(f"{name:12}" + "".join(cells))
    # The CPU of a whole call, comparable between runs when other work shares the cores
    # (wall time is not: it includes waiting for them).
    lines.append(
        "CPU per call p50 / p99 ms: "
        + ", ".join(
            f"{name} {np.percentile(totals, 50):.2f} / {np.percentile(totals, 99):.2f}"
            for name, profiles in columns.items()
            for totals in [np.array([p[CPU] for p in profiles]) * 1000]
        )
    )
    return "\n".join(lines)


def recall(found: list[list[str]], truth: list[list[str]]) -> float:
    scores = [len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True) if t]
    return float(np.mean(scores)) if scores else float("nan")


def train_model(engine: MatchingEngine, world_dir: Path) -> None:
    """A trained ranker, as in production (trained here from the logged exposures)."""
    started = time.perf_counter()
    training_world = load_world(world_dir, (*SERVING_TABLES, "exposures"))
    data = build_direction_data(
        training_world, engine.data, load_taxonomy(), DatasetConfig(unshown_per_query=1)
    )
    funnel = train_funnel(
        pooled_proposals([part.train for part in data.values()]),
        pooled_proposals([part.valid for part in data.values()]),
        RankerConfig(),
        FEATURE_NAMES,
    )
    boosters = {
        direction: train_ranker(part.train, part.valid, RankerConfig(), FEATURE_NAMES, funnel)
        for direction, part in data.items()
    }
    engine.set_scorer(
        DirectionalModel(
            "bench-model",
            {
                d: LightGBMScorer(b, "bench-model", FEATURE_NAMES, compiled=True)
                for d, b in boosters.items()
            },
            {},
        )
    )
    del training_world, data
    gc.collect()
    print(
        "trained "
        + ", ".join(f"{d} {b.num_trees()} trees" for d, b in boosters.items())
        + f" in {time.perf_counter() - started:.1f} s (training set + LightGBM)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, default=Path("var/bench/world"))
    parser.add_argument(
        "--registry",
        type=Path,
        default=Path("var/bench/models"),
        help="serve this registry's champion when it has one (else train a model here)",
    )
    parser.add_argument("--seekers", type=int, default=300_000)
    parser.add_argument("--vacancies", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--exhaustive", type=int, default=1000, help="queries for the peers")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    if not (args.world / "world.json").exists():
        print(f"generating {args.seekers:,} / {args.vacancies:,} world into {args.world} ...")
        generate_world(WorldConfig(seekers=args.seekers, vacancies=args.vacancies), args.world)
        gc.collect()

    started = time.perf_counter()
    world = load_world(args.world, SERVING_TABLES)
    engine = build_engine(world, Settings())
    build_s = time.perf_counter() - started
    build_rss = peak_rss_gib()
    on = world.as_of
    del world
    gc.collect()
    print(f"resident after build (world tables freed) {current_rss_gib():.2f} GiB")
    print(f"engine build {build_s:.1f} s (load + profiles + index), peak RSS {build_rss:.2f} GiB")

    if (args.registry / "CHAMPION").exists():
        started = time.perf_counter()
        model = ModelRegistry(args.registry).load()
        engine.set_scorer(model)
        print(f"serving champion {model.version} of {args.registry}", end="")
        print(f" (loaded in {time.perf_counter() - started:.1f} s)")
    else:
        train_model(engine, args.world)
    rng = np.random.default_rng(args.seed)
    day = np.datetime64(on, "D")
    vac = engine.data.vacancies
    open_rows = np.flatnonzero((vac["opens_on"] <= day) & (vac["closes_on"] >= day))
    seekers = [str(x) for x in rng.choice(engine.data.seekers.ids, args.queries, replace=False)]
    vacancies = [vac.ids[i] for i in rng.choice(open_rows, args.queries, replace=False)]

    def engine_matches(jobseeker_id: str) -> list[str]:
        return [m.vacancy_id for m in engine.matches_for_jobseeker(jobseeker_id, K, on).results]

    def engine_shortlist(vacancy_id: str) -> list[str]:
        result = engine.shortlist_for_vacancy(vacancy_id, K, on, record_exposure=False)
        return [m.jobseeker_id for m in result.results]

    def lean_matches(jobseeker_id: str) -> list[str]:
        result = engine.matches_for_jobseeker(jobseeker_id, K, on, with_factors=False)
        return [m.vacancy_id for m in result.results]

    def lean_shortlist(vacancy_id: str) -> list[str]:
        result = engine.shortlist_for_vacancy(
            vacancy_id, K, on, record_exposure=False, with_factors=False
        )
        return [m.jobseeker_id for m in result.results]

    # Warm caches: per-day eligibility bits, regional lists, the shortlist prior of the model.
    for seeker_id, vacancy_id in zip(seekers[:20], vacancies[:20], strict=True):
        engine_matches(seeker_id)
        engine_shortlist(vacancy_id)
    stages: dict[str, Profiles] = {
        "matches": [],
        "matches lean": [],
        "shortlist": [],
        "shortlist lean": [],
    }
    match_lat, match_res = timed(engine_matches, seekers, stages["matches"])
    short_lat, short_res = timed(engine_shortlist, vacancies, stages["shortlist"])
    lean_match_lat, _ = timed(lean_matches, seekers, stages["matches lean"])
    lean_short_lat, _ = timed(lean_shortlist, vacancies, stages["shortlist lean"])
    print(f"\nCPU ms per stage, {args.queries:,} queries each (lean: without SHAP factors)")
    print(stage_table(stages))

    n_peer = min(args.exhaustive, args.queries)
    ex_match_lat, ex_match_res = timed(
        lambda q: engine.exhaustive_matches(q, K, on), seekers[:n_peer]
    )
    ex_short_lat, ex_short_res = timed(
        lambda q: engine.exhaustive_shortlist(q, K, on), vacancies[:n_peer]
    )

    # scikit-learn NearestNeighbors (cosine, brute force) over the raw skill vectors.
    requirements = engine.data.requirements.to_csr(REQ_WEIGHT)
    profiles = engine.data.profiles.to_csr(PROFILE_VALUE)
    nn_vac = NearestNeighbors(n_neighbors=K, metric="cosine", algorithm="brute").fit(requirements)
    nn_seek = NearestNeighbors(n_neighbors=K, metric="cosine", algorithm="brute").fit(profiles)

    def nn_matches(jobseeker_id: str) -> list[str]:
        row = profiles[engine.data.seekers.row(jobseeker_id)]
        if row.nnz == 0:
            return []
        _, idx = nn_vac.kneighbors(row)
        return [vac.ids[i] for i in idx[0]]

    def nn_shortlist(vacancy_id: str) -> list[str]:
        _, idx = nn_seek.kneighbors(requirements[vac.row(vacancy_id)])
        return [engine.data.seekers.ids[i] for i in idx[0]]

    nn_match_lat, nn_match_res = timed(nn_matches, seekers[:n_peer])
    nn_short_lat, nn_short_res = timed(nn_shortlist, vacancies[:n_peer])

    rows = [
        ("matches   engine (retrieval+LightGBM)", match_lat, match_res[:n_peer], ex_match_res),
        ("matches   engine without SHAP factors", lean_match_lat, match_res[:n_peer], ex_match_res),
        ("matches   exhaustive LightGBM", ex_match_lat, ex_match_res, ex_match_res),
        ("matches   sklearn NearestNeighbors", nn_match_lat, nn_match_res, ex_match_res),
        ("shortlist engine (retrieval+LightGBM)", short_lat, short_res[:n_peer], ex_short_res),
        ("shortlist engine without SHAP factors", lean_short_lat, short_res[:n_peer], ex_short_res),
        ("shortlist exhaustive LightGBM", ex_short_lat, ex_short_res, ex_short_res),
        ("shortlist sklearn NearestNeighbors", nn_short_lat, nn_short_res, ex_short_res),
    ]
    print(f"\n{args.queries:,} queries each (peers on the first {n_peer:,}), k={K}, as of {on}")
    header = ("method", "p50 ms", "p95 ms", "p99 ms", "×engine p50", "recall@20")
    print(
        f"{header[0]:40} {header[1]:>8} {header[2]:>8} {header[3]:>8} {header[4]:>12} "
        f"{header[5]:>10}"
    )
    engine_p50 = {"matches": percentiles(match_lat)[0], "shortlist": percentiles(short_lat)[0]}
    for name, latencies, found, truth in rows:
        p50, p95, p99 = percentiles(latencies)
        ratio = p50 / engine_p50[name.split()[0]]
        print(
            f"{name:40} {p50:8.2f} {p95:8.2f} {p99:8.2f} {ratio:12.1f} {recall(found, truth):10.3f}"
        )

    m50, _, m99 = percentiles(match_lat)
    _, _, s99 = percentiles(short_lat)
    checks = [
        ("matches p50 <= 3 ms", m50 <= 3),
        ("matches p99 <= 10 ms", m99 <= 10),
        ("shortlists p99 <= 15 ms", s99 <= 15),
        ("recall@20 matches >= 0.95", recall(match_res[:n_peer], ex_match_res) >= 0.95),
        ("recall@20 shortlists >= 0.95", recall(short_res[:n_peer], ex_short_res) >= 0.95),
        ("build <= 60 s", build_s <= 60),
        ("RSS after build <= 3 GiB", build_rss <= 3),
    ]
    print("\n" + "\n".join(f"  [{'met' if ok else 'MISSED'}] {name}" for name, ok in checks))
    print(f"peak RSS of the whole run {peak_rss_gib():.2f} GiB")


if __name__ == "__main__":
    main()
