"""The matching engine's floor: the service's matching calls in one process, without HTTP.

    python bench/engine_floor.py QUERIES.json  (run by bench/bench_service.py)

Builds the engine as a worker of the service does — the serving tables read from the database
of ``KOHTAANTO_DATABASE_URL``, the champion of ``KOHTAANTO_PATHS__VAR_DIR``'s registry (or the
rules) — with whatever code the interpreter imports (``PYTHONPATH`` chooses a checkout), then
times, single-threaded, the calls the routes make on the same query ids as the HTTP load:
matches with factors, matches without, shortlists (no factors, exposure recorded). On a
subset it also scores every admissible pair (``exhaustive_matches`` / ``exhaustive_shortlist``)
for recall@k of the engine's retrieval. Writes its figures as JSON to the file named by the
input's ``output``; progress goes to stderr.

A process of its own: the engine's memory and the build's CPU are gone before the server
starts, and the server's code is the code measured here.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from service_processes import machine_busy_seconds, wait_for_quiet


def log(message: str) -> None:
    print(f"  [engine floor] {message}", file=sys.stderr, flush=True)


def build() -> tuple[Any, date, str]:
    """The engine with the served model, as ``service.api.app.build_state`` makes it."""
    from features.world_store import SERVING_TABLES
    from service.composition import build_engine
    from service.settings import get_settings
    from service.storage.database import make_engine
    from service.storage.world_io import read_world_tables
    from training.registry import ModelRegistry

    settings = get_settings()
    db = make_engine(settings.database_url)
    world = read_world_tables(db, SERVING_TABLES)
    engine = build_engine(world, settings)
    today = settings.service.today or world.as_of
    del world
    db.dispose()
    registry = ModelRegistry(settings.paths.var_dir / "models")
    champion = registry.champion_version()
    model = "rules"
    if champion is not None:
        engine.set_scorer(registry.load(champion))
        model = champion
    # As a worker does: the long-lived engine is never walked by the collector again.
    gc.collect()
    gc.freeze()
    return engine, today, model


def timed(
    name: str, call: Callable[[str], object], ids: Sequence[str], quiet_timeout: float
) -> dict[str, float]:
    """Latency percentiles of ``call`` over ``ids``, one after another, and the other work."""
    if quiet_timeout > 0:
        busy = wait_for_quiet([], 0.25, quiet_timeout)
        if busy is not None:
            log(f"other work kept {busy:.2f} cores busy; timing {name} anyway")
    latencies = []
    # The thread's CPU as well as wall time: on a shared machine, wall time includes waiting
    # for a core, which the CPU time does not.
    cpu = time.thread_time()
    own = time.process_time()
    machine = machine_busy_seconds()
    started = time.perf_counter()
    for query_id in ids:
        begun = time.perf_counter()
        call(query_id)
        latencies.append(time.perf_counter() - begun)
    seconds = time.perf_counter() - started
    cpu = time.thread_time() - cpu
    others = machine_busy_seconds() - machine - (time.process_time() - own)
    ms = np.asarray(latencies) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "mean": float(ms.mean()),
        "cpu_mean": cpu * 1000 / len(ids),
        "rps": 1000.0 / float(ms.mean()),
        "n": len(ids),
        "other_cores": max(0.0, others / seconds),
    }


def recall(found: list[list[str]], truth: list[list[str]]) -> float:
    scores = [len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True) if t]
    return float(np.mean(scores)) if scores else float("nan")


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    k: int = spec["k"]
    started = time.perf_counter()
    engine, today, model = build()
    build_s = time.perf_counter() - started
    import matching.engine

    log(f"engine built in {build_s:.1f} s from {matching.engine.__file__}; model {model}")
    result: dict[str, Any] = {
        "build_seconds": build_s,
        "model": model,
        "engine_module": matching.engine.__file__,
        "pid": os.getpid(),
    }

    def matches(jobseeker_id: str, factors: bool = True) -> list[str]:
        found = engine.matches_for_jobseeker(jobseeker_id, k=k, on=today, with_factors=factors)
        return [m.vacancy_id for m in found.results]

    def shortlist(vacancy_id: str, record: bool = True) -> list[str]:
        found = engine.shortlist_for_vacancy(
            vacancy_id, k=k, on=today, with_factors=False, record_exposure=record
        )
        return [m.jobseeker_id for m in found.results]

    # Recall first, on a fresh engine: recorded exposure would re-rank later shortlists.
    subset = spec["recall_queries"]
    if subset:
        seekers = spec["seekers"][:subset]
        vacancies = spec["vacancies"][:subset]
        started = time.perf_counter()
        result["recall_matches"] = recall(
            [matches(s, factors=False) for s in seekers],
            [engine.exhaustive_matches(s, k, today) for s in seekers],
        )
        result["recall_shortlist"] = recall(
            [shortlist(v, record=False) for v in vacancies],
            [engine.exhaustive_shortlist(v, k, today) for v in vacancies],
        )
        result["recall_n"] = len(seekers)
        log(
            f"recall@{k} on {len(seekers)} queries each: matches "
            f"{result['recall_matches']:.3f}, shortlists {result['recall_shortlist']:.3f} "
            f"({time.perf_counter() - started:.0f} s)"
        )

    for warm in spec["warm_seekers"]:
        matches(warm)
    for warm in spec["warm_vacancies"]:
        shortlist(warm)
    quiet = spec["quiet_timeout"]
    result["matches"] = timed("matches", matches, spec["seekers"], quiet)
    result["matches factors=false"] = timed(
        "matches factors=false", lambda s: matches(s, False), spec["seekers"], quiet
    )
    result["shortlist"] = timed("shortlist", shortlist, spec["vacancies"], quiet)
    result["rss_gib"] = _rss_gib()
    Path(spec["output"]).write_text(json.dumps(result), encoding="utf-8")


def _rss_gib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


if __name__ == "__main__":
    main()
