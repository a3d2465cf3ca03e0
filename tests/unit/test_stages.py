"""The per-stage CPU profile of a request (matching.stages)."""

from __future__ import annotations

import threading
import time

import anyio
import anyio.to_thread

from matching.stages import add, parse_server_timing, recording, server_timing, stage


def _burn(seconds: float) -> None:
    """Spend about ``seconds`` of this thread's CPU (not sleeping: sleep costs no CPU)."""
    started = time.thread_time()
    while time.thread_time() - started < seconds:
        pass


def test_a_stage_outside_a_recording_records_nothing_and_runs_its_block() -> None:
    ran = []
    with stage("features"):
        ran.append(True)
    assert ran == [True]
    with recording() as timings:
        pass
    assert timings == {}


def test_stages_add_up_cpu_time_per_name() -> None:
    with recording() as timings:
        with stage("features"):
            _burn(0.02)
        with stage("scoring"):
            _burn(0.01)
        with stage("features"):
            _burn(0.02)
    assert list(timings) == ["features", "scoring"]
    assert 0.035 <= timings["features"] < 0.2
    assert 0.008 <= timings["scoring"] < 0.2


def test_waiting_is_not_cpu_time() -> None:
    with recording() as timings, stage("audit"):
        time.sleep(0.05)
    assert timings["audit"] < 0.02


def test_a_recording_follows_the_request_onto_a_worker_thread() -> None:
    """Route handlers run the engine through anyio.to_thread: its stages must land in the
    request's profile, and a thread outside the request must not write into it."""

    stray: dict[str, float] = {}

    def outsider() -> None:
        with recording() as own, stage("retrieval"):
            _burn(0.005)
        stray.update(own)

    async def request() -> dict[str, float]:
        with recording() as timings:

            def work() -> None:
                with stage("scoring"):
                    _burn(0.01)

            await anyio.to_thread.run_sync(work)
            other = threading.Thread(target=outsider)
            other.start()
            other.join()
            return timings

    timings = anyio.run(request)
    assert set(timings) == {"scoring"}
    assert timings["scoring"] >= 0.008
    assert set(stray) == {"retrieval"}


def test_the_header_round_trips_in_milliseconds() -> None:
    header = server_timing({"retrieval": 0.0012, "scoring": 0.0005})
    assert header == "retrieval;dur=1.200, scoring;dur=0.500"
    assert parse_server_timing(header) == {"retrieval": 1.2, "scoring": 0.5}
    # Other servers' entries (no dur, a description) are read as far as they go.
    assert parse_server_timing('db;desc="x";dur=2.5, cache') == {"db": 2.5}


def test_add_counts_cpu_spent_elsewhere_into_the_current_recording_only() -> None:
    add("audit", 1.0)  # outside a recording: nowhere, and no error
    with recording() as timings:
        with stage("audit"):
            _burn(0.005)
        add("audit", 0.25)
        add("response", 0.5)
    assert set(timings) == {"audit", "response"}
    assert 0.254 <= timings["audit"] < 0.45
    assert timings["response"] == 0.5
    with recording() as later:
        pass
    assert later == {}
