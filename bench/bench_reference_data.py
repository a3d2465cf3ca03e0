"""Benchmark cold and warm loads of the reference data (taxonomy and geography).

Run with ``python bench/bench_reference_data.py``. Cold loads parse the source files into
an empty temporary cache directory; warm loads read that cache back. Warm loads are timed
in this process (median of several runs) and once in a fresh interpreter, which is what a
CLI start-up pays. The target is a warm load of at most 1 s for each dataset.
"""

from __future__ import annotations

import argparse
import logging
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from features.geography import load_geography
from features.reference_data import default_data_dir
from features.taxonomy import load_taxonomy

WARM_TARGET_S = 1.0

Loader = Callable[..., object]

LOADERS: dict[str, tuple[Loader, str]] = {
    "taxonomy": (load_taxonomy, "features.taxonomy:load_taxonomy"),
    "geography": (load_geography, "features.geography:load_geography"),
}

# Times one warm load in a fresh interpreter, excluding interpreter and import start-up,
# and reports that interpreter's peak RSS. On Linux a child inherits the parent's
# ru_maxrss across fork/exec, so VmHWM (reset by exec) is read where /proc exists.
_SUBPROCESS_SNIPPET = """
import importlib, re, resource, sys, time
from pathlib import Path
module, name = sys.argv[1].split(":")
load = getattr(importlib.import_module(module), name)
start = time.perf_counter()
load(cache_dir=Path(sys.argv[2]))
elapsed = time.perf_counter() - start
try:
    status = Path("/proc/self/status").read_text()
    peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
except (OSError, AttributeError):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(elapsed, peak)
"""


@dataclass(frozen=True)
class Result:
    """Timings of one dataset in seconds, cache entry size and fresh-process peak RSS."""

    name: str
    cold: float
    warm_median: float
    warm_min: float
    warm_fresh_process: float
    fresh_process_rss_mib: float
    cache_bytes: int

    @property
    def target_met(self) -> bool:
        return max(self.warm_median, self.warm_fresh_process) <= WARM_TARGET_S


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _fresh_process_load(target: str, cache_dir: Path) -> tuple[float, float]:
    completed = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS_SNIPPET, target, str(cache_dir)],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds, max_rss = completed.stdout.strip().splitlines()[-1].split()
    return float(seconds), _rss_to_mib(int(max_rss))


def bench(name: str, warm_runs: int, cache_root: Path) -> Result:
    """Time one cold load into an empty cache, then ``warm_runs`` warm loads."""
    load, target = LOADERS[name]
    cache_dir = cache_root / name
    cold = _timed(lambda: load(cache_dir=cache_dir))
    warm = [_timed(lambda: load(cache_dir=cache_dir)) for _ in range(warm_runs)]
    fresh, fresh_rss = _fresh_process_load(target, cache_dir)
    size = sum(path.stat().st_size for path in cache_dir.iterdir())
    return Result(name, cold, statistics.median(warm), min(warm), fresh, fresh_rss, size)


def _rss_to_mib(max_rss: int) -> float:
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    return max_rss / 2**20 if sys.platform == "darwin" else max_rss / 2**10


def _peak_rss_mib() -> float:
    return _rss_to_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table; return 1 if a warm target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-runs", type=int, default=5, help="warm loads per dataset")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    print(f"data: {default_data_dir()}  python: {sys.version.split()[0]}")
    results: list[tuple[Result, float]] = []
    with tempfile.TemporaryDirectory(prefix="kohtaanto-bench-") as tmp:
        for name in LOADERS:
            result = bench(name, args.warm_runs, Path(tmp))
            results.append((result, _peak_rss_mib()))

    header = (
        f"{'dataset':<10} {'cold s':>8} {'warm s':>8} {'warm min':>9} {'fresh s':>8} "
        f"{'cache MiB':>10} {'RSS MiB':>8} {'fresh RSS':>10}  target (warm <= {WARM_TARGET_S:g} s)"
    )
    print(header)
    print("-" * len(header))
    for result, rss in results:
        print(
            f"{result.name:<10} {result.cold:>8.3f} {result.warm_median:>8.3f} "
            f"{result.warm_min:>9.3f} {result.warm_fresh_process:>8.3f} "
            f"{result.cache_bytes / 2**20:>10.1f} {rss:>8.0f} "
            f"{result.fresh_process_rss_mib:>10.0f}  "
            f"{'met' if result.target_met else 'MISSED'}"
        )
    print(
        f"warm s = median of {args.warm_runs} in-process warm loads; fresh s = one warm load "
        "in a new interpreter (imports excluded)\nRSS MiB = this process's peak so far "
        "(cumulative); fresh RSS = peak of the new interpreter, imports included"
    )
    return 0 if all(result.target_met for result, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
