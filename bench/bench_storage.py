"""Benchmark loading a generated world into SQLite and PostgreSQL, and reading it back.

Usage: ``python bench/bench_storage.py --world var/demo [--postgres URL] [--only sqlite]``.
Each database is new: a SQLite file in a temporary folder, and a PostgreSQL database created
on the server of ``--postgres`` (default ``KOHTAANTO_TEST_POSTGRES_URL`` or the local test
server) and dropped afterwards. Prints rows and seconds per table, the total rows per
second, the read-back of the serving tables, and the peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from features.world_store import SERVING_TABLES, load_world
from service.storage.database import make_engine, normalise_url, upgrade_to_head
from service.storage.world_io import load_world_into_database, read_world_tables

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def peak_rss_gib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (peak if sys.platform == "darwin" else peak * 1024) / 1024**3


def bench(url: str, world_dir: Path) -> None:
    world = load_world(world_dir)
    engine = make_engine(url)
    try:
        upgrade_to_head(engine)
        report = load_world_into_database(world, engine)
        print(f"\n{engine.dialect.name}: load {report.total_rows:,} rows")
        for name, seconds in report.seconds.items():
            rows = report.rows.get(name)
            print(f"  {name:<28} {f'{rows:,}' if rows is not None else '':>12} {seconds:8.2f} s")
        rate = report.total_rows / report.total_seconds
        print(f"  {'total (one transaction)':<28} {report.total_rows:>12,} "
              f"{report.total_seconds:8.2f} s  ({rate:,.0f} rows/s)")  # fmt: skip
        started = time.perf_counter()
        back = read_world_tables(engine, SERVING_TABLES)
        rows = sum(len(back.table(name)) for name in SERVING_TABLES)
        print(f"  read the serving tables: {rows:,} rows in {time.perf_counter() - started:.2f} s")
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, default=Path("var/demo"))
    parser.add_argument(
        "--postgres", default=os.environ.get("KOHTAANTO_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default=None)
    args = parser.parse_args(argv)
    print(f"world {args.world}")

    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory(prefix="kohtaanto-bench-") as folder:
            bench(f"sqlite:///{Path(folder) / 'bench.db'}", args.world)
    if args.only in (None, "postgresql"):
        name = f"kohtaanto_bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = normalise_url(args.postgres).set(database=name)
            bench(url.render_as_string(hide_password=False), args.world)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print(f"\npeak resident memory {peak_rss_gib():.2f} GiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
