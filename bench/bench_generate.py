"""Benchmark the synthetic world generator: wall time per step, peak RSS, rows, disk size.

Usage: ``python bench/bench_generate.py [--seekers N] [--vacancies M] [--seed S]
[--hidden-model NAME] [--out DIR]`` (defaults 300,000 / 100,000, the national scale, and the
additive hidden world). Targets: at most 180 s wall time and 4 GiB peak resident memory on a
2-core machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from features.world_store import MANIFEST_FILE
from training.synthetic import HIDDEN_MODEL_NAMES, WorldConfig, generate_world

TARGET_WALL_SECONDS = 180.0
TARGET_PEAK_RSS_BYTES = 4 * 1024**3


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def disk_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seekers", type=int, default=300_000)
    parser.add_argument("--vacancies", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hidden-model", choices=HIDDEN_MODEL_NAMES, default="additive")
    parser.add_argument("--out", type=Path, default=None, help="Keep the world in this folder.")
    args = parser.parse_args(argv)

    config = WorldConfig.model_validate(
        {
            "seekers": args.seekers,
            "vacancies": args.vacancies,
            "seed": args.seed,
            "hidden_model": args.hidden_model,
        }
    )
    out = args.out or Path(tempfile.mkdtemp(prefix="kohtaanto-bench-"))

    def on_step(name: str, index: int, total: int) -> None:
        print(f"[{index + 1}/{total}] {name} ...", flush=True)

    try:
        started = time.perf_counter()
        summary = generate_world(config, out, on_step=on_step)
        wall = time.perf_counter() - started
        size = disk_bytes(out)
        funnel = json.loads((out / MANIFEST_FILE).read_text(encoding="utf-8"))["funnel"]
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    peak = peak_rss_bytes()

    print(
        f"\nsynthetic world: {args.seekers:,} jobseekers, {args.vacancies:,} vacancies, "
        f"hidden model {args.hidden_model}"
    )
    print("\nwall time per step")
    for name, seconds in summary.step_seconds.items():
        print(f"  {name:<36} {seconds:8.2f} s")
    print(f"  {'total':<36} {wall:8.2f} s")
    print("\nrows per table")
    for table, rows in summary.rows.items():
        print(f"  {table:<36} {rows:>12,}")
    print("\nhistory funnel")
    for stage, count in funnel.items():
        print(f"  {stage:<36} {count:>12,}")
    print(f"\noutput size on disk: {size / 1024**2:,.1f} MiB")
    print(f"peak RSS:            {peak / 1024**3:,.2f} GiB")
    wall_ok = wall <= TARGET_WALL_SECONDS
    rss_ok = peak <= TARGET_PEAK_RSS_BYTES
    print(
        f"\ntargets: wall <= {TARGET_WALL_SECONDS:.0f} s: {'met' if wall_ok else 'MISSED'}; "
        f"peak RSS <= 4 GiB: {'met' if rss_ok else 'MISSED'}"
    )
    return 0 if wall_ok and rss_ok else 1


if __name__ == "__main__":
    sys.exit(main())
