"""Where a request's CPU time goes: named stages, timed on the thread that runs them.

A request that wants its profile opens :func:`recording` and reads the dictionary it yields;
code along the way marks its parts with :func:`stage`. Outside a recording, :func:`stage`
costs one context-variable read. The stages are flat (never nested), so their sum is the
CPU the request's threads spent in the marked code.

The time is the thread's CPU time (``time.thread_time``), not wall time: with two workers
and a load generator on two cores, wall time includes waiting for the GIL and the cores,
which says nothing about what the stage itself costs. Context variables follow a request
onto the worker thread that ``anyio.to_thread.run_sync`` runs it on, and the dictionary is
the same object there, so stages timed on that thread land in the request's profile.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: The canonical stage names, in request order (the benchmark prints them in this order).
STAGES = (
    "auth",  # the caller from the bearer token or the session cookie
    "database",  # reads of the request (ownership checks, display fields)
    "catch_up",  # the change feed and the model pointer
    "retrieval",  # candidates from the skill index and the region
    "filters",  # the hard filters
    "features",  # pair features of the candidates
    "scoring",  # the ranking model over the candidates, and the re-ranking
    "factors",  # TreeSHAP contributions of the results
    "explanation",  # matched and missing skills, distance, eligibility, in words
    "response",  # building the answer's objects
    "serialisation",  # the answer as JSON bytes
    "audit",  # the audit entry, until it is durable
)

_current: ContextVar[dict[str, float] | None] = ContextVar("kohtaanto_stages", default=None)


@contextmanager
def recording() -> Iterator[dict[str, float]]:
    """Record the stages run until the block ends; yields ``{stage: CPU seconds}``."""
    timings: dict[str, float] = {}
    token = _current.set(timings)
    try:
        yield timings
    finally:
        _current.reset(token)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Add the CPU time of the block to stage ``name`` of the current recording, if any."""
    timings = _current.get()
    if timings is None:
        yield
        return
    started = time.thread_time()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.thread_time() - started


def add(name: str, seconds: float) -> None:
    """Add ``seconds`` of CPU to stage ``name`` of the current recording, if any.

    For CPU spent on the request's behalf on another thread that does not carry its
    context: the audit committer's share of a commit group (see
    :class:`~service.api.audit_committer.AuditCommitter`).
    """
    timings = _current.get()
    if timings is not None:
        timings[name] = timings.get(name, 0.0) + seconds


def server_timing(timings: dict[str, float]) -> str:
    """The profile as an HTTP ``Server-Timing`` header value (milliseconds of CPU)."""
    return ", ".join(f"{name};dur={seconds * 1000:.3f}" for name, seconds in timings.items())


def parse_server_timing(value: str) -> dict[str, float]:
    """``{stage: milliseconds}`` from a ``Server-Timing`` header value (the benchmark's side)."""
    parsed: dict[str, float] = {}
    for part in value.split(","):
        name, _, rest = part.strip().partition(";")
        for parameter in rest.split(";"):
            key, _, number = parameter.strip().partition("=")
            if key == "dur" and name:
                parsed[name] = parsed.get(name, 0.0) + float(number)
    return parsed
