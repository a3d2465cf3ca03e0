"""A worker's matching slots: one query at a time by default, taken in arrival order."""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import Any, cast

import anyio
import pytest

from service.api.runtime import ServingState

pytestmark = pytest.mark.unit


def _state(threads: int) -> ServingState:
    placeholder = cast(Any, object())
    return ServingState(
        engine=placeholder,
        vocab=placeholder,
        db=placeholder,
        sessions=placeholder,
        write_sessions=placeholder,
        registry=placeholder,
        today=date(2026, 11, 1),
        matching_threads=threads,
    )


def _run(state: ServingState, requests: int) -> tuple[list[int], int]:
    order: list[int] = []
    busy, most = 0, 0
    lock = threading.Lock()

    def work(i: int) -> int:
        nonlocal busy, most
        with lock:
            busy += 1
            most = max(most, busy)
            order.append(i)
        time.sleep(0.01)
        with lock:
            busy -= 1
        return i

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for i in range(requests):
                group.start_soon(state.in_matching_slot, lambda i=i: work(i))
                await anyio.sleep(0.001)  # requests arrive one after another

    anyio.run(main)
    return order, most


def test_one_slot_serves_requests_one_at_a_time_in_arrival_order() -> None:
    order, most = _run(_state(1), 8)
    assert most == 1
    assert order == list(range(8))


def test_more_slots_overlap() -> None:
    _, most = _run(_state(3), 8)
    assert most == 3
