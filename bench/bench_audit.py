"""Benchmark audit appends: group commit through the worker's committer against one writer
transaction per entry, at 8 and 32 concurrent requests, on SQLite and PostgreSQL.

Usage: ``python bench/bench_audit.py [--seconds 3] [--threads 8 32] [--only sqlite]
[--postgres URL]``. Each database is new: a SQLite file in a temporary folder, and a
PostgreSQL database created on the server of ``--postgres`` (default
``KOHTAANTO_TEST_POSTGRES_URL`` or the local test server) and dropped afterwards.

One process stands for one service worker: ``threads`` request threads append entries the
size of a matches answer (20 results) naming one of 5,000 people (so some appends create a
pseudonym key), as fast as they can. ``per-entry`` is what the service did before the
committer: each request takes the worker's audit lock and runs its own writer transaction
(chain lock, pseudonym, entry, seal row, commit, seal-file line). ``group`` hands entries to
an :class:`~service.api.audit_committer.AuditCommitter` and waits until they are durable.

Printed per case: appends per second (wall), the process's CPU per append (every thread,
the committer's included: what a request really costs the worker), the request threads' own
CPU per append, the mean group size and the median and 99th percentile wait. The machine's
other load shows in the figures: compare cases of one run.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from service.api import audit
from service.api.audit_committer import AuditCommitter
from service.storage.database import (
    make_engine,
    make_session_factory,
    normalise_url,
    upgrade_to_head,
)

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PEOPLE = [f"JS{n:06d}" for n in range(5000)]
RESULTS = [[f"VA{n:06d}", round(1 / (n + 2), 6)] for n in range(20)]


def _fields(named: Mapping[str, str], person: str, k: int) -> audit.EntryFields:
    return audit.EntryFields(
        user_id=1,
        role="coach",
        organisation_id="ES-BENCH",
        route="coach.matches",
        query={"jobseeker_id": named[person], "k": k, "on": "2026-01-01"},
        model_version="rules",
        results=RESULTS,
        explanation_digest="0" * 64,
    )


@dataclass
class Case:
    name: str
    appends: int
    seconds: float
    process_cpu: float
    request_cpu: float
    waits: list[float]
    groups: int


def _per_entry(
    writers: sessionmaker[Session], sealer: audit.Sealer, cache: dict[str, str]
) -> Callable[[str, int], None]:
    """The service before the committer (``ServingState.audit_writer``)."""
    lock = threading.Lock()

    def append(person: str, k: int) -> None:
        with lock, writers() as writer:
            audit.lock_chain(writer)
            named = audit.pseudonyms(writer.connection(), [person], cache)
            fields = _fields(named, person, k)
            audit.append(
                writer,
                sealer=sealer,
                user_id=fields.user_id,
                role=fields.role,
                organisation_id=fields.organisation_id,
                route=fields.route,
                query=fields.query,
                model_version=fields.model_version,
                results=fields.results,
                explanation_digest=fields.explanation_digest,
            )
            writer.commit()

    return append


def _run(name: str, append: Callable[[str, int], None], threads: int, seconds: float) -> Case:
    stop = threading.Event()
    counts = [0] * threads
    cpu = [0.0] * threads
    waits: list[list[float]] = [[] for _ in range(threads)]
    start_line = threading.Barrier(threads + 1)

    def request_thread(index: int) -> None:
        rng = random.Random(index)
        start_line.wait()
        started_cpu = time.thread_time()
        while not stop.is_set():
            began = time.perf_counter()
            append(rng.choice(PEOPLE), rng.randint(1, 100))
            waits[index].append(time.perf_counter() - began)
            counts[index] += 1
        cpu[index] = time.thread_time() - started_cpu

    workers = [threading.Thread(target=request_thread, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    start_line.wait()
    began, began_cpu = time.perf_counter(), time.process_time()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    elapsed, used = time.perf_counter() - began, time.process_time() - began_cpu
    every = [w for per_thread in waits for w in per_thread]
    return Case(name, sum(counts), elapsed, used, sum(cpu), every, 0)


def _print(case: Case, threads: int) -> None:
    ms = sorted(w * 1000 for w in case.waits)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    group = f"{case.appends / case.groups:6.1f}" if case.groups else "     1"
    print(
        f"  {case.name:<9} {threads:>3} threads {case.appends / case.seconds:8.0f} appends/s  "
        f"CPU/append {case.process_cpu / case.appends * 1e3:6.3f} ms (request threads "
        f"{case.request_cpu / case.appends * 1e3:6.3f} ms)  group {group}  "
        f"wait p50 {statistics.median(ms):6.2f} ms p99 {p99:6.2f} ms"
    )


def bench(url: str, threads_list: list[int], seconds: float, folder: Path) -> None:
    engine = make_engine(url)
    try:
        upgrade_to_head(engine)
        writers = make_session_factory(engine, writer=True)
        print(f"\n{engine.dialect.name}:")
        for threads in threads_list:
            sealer = audit.Sealer(b"bench key", folder / f"seals-{uuid.uuid4().hex}.log")
            sealer.create_file()
            case = _run("per-entry", _per_entry(writers, sealer, {}), threads, seconds)
            _print(case, threads)
            committer = AuditCommitter(writers, sealer, {})

            def grouped(person: str, k: int, committer: AuditCommitter = committer) -> None:
                committer.record([person], lambda named: _fields(named, person, k))

            case = _run("group", grouped, threads, seconds)
            case.groups = committer.groups
            committer.close()
            _print(case, threads)
        with make_session_factory(engine)() as session:
            report = audit.verify_chain(session, sealer, unpublished_allowed=0)
        # Only the last sealer's file is whole; an earlier case's heads are below its head.
        print(f"  chain: {report.entries:,} entries, ok={report.ok} {report.problem or ''}")
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--postgres", default=os.environ.get("KOHTAANTO_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    args = parser.parse_args(argv)
    print(f"audit appends, one process, {os.cpu_count()} CPUs, {args.seconds:.0f} s per case")
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as folder:
        if args.only in (None, "sqlite"):
            bench(
                f"sqlite:///{Path(folder) / 'audit.db'}", args.threads, args.seconds, Path(folder)
            )
        if args.only in (None, "postgresql"):
            admin = make_engine(args.postgres, isolation_level="AUTOCOMMIT")
            name = f"kohtaanto_bench_audit_{uuid.uuid4().hex[:8]}"
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = normalise_url(args.postgres).set(database=name)
                bench(url.render_as_string(hide_password=False), args.threads, args.seconds,
                      Path(folder))  # fmt: skip
            finally:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
