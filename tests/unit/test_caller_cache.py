"""The per-worker cache of authenticated callers."""

from __future__ import annotations

import pytest

from service.api import security
from service.api.security import UNKNOWN_TOKEN, Caller, CallerCache
from service.storage.tables import Role

pytestmark = pytest.mark.unit

ANNELI = Caller(1, "Anneli", Role.COACH, "ES-FI-EA-01")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(security.time, "monotonic", clock)
    return clock


def test_an_entry_lives_for_the_ttl_only(clock: Clock) -> None:
    cache = CallerCache(ttl_seconds=10)
    assert cache.get("h1") is None
    cache.put("h1", ANNELI)
    clock.now += 9.9
    assert cache.get("h1") == ANNELI
    clock.now += 0.1
    assert cache.get("h1") is None  # expired: the next request asks the database again


def test_unknown_tokens_are_remembered_as_such(clock: Clock) -> None:
    cache = CallerCache(ttl_seconds=5)
    cache.put("bad", UNKNOWN_TOKEN)
    assert cache.get("bad") is UNKNOWN_TOKEN
    assert cache.get("other") is None


def test_ttl_zero_caches_nothing(clock: Clock) -> None:
    cache = CallerCache(ttl_seconds=0)
    cache.put("h1", ANNELI)
    assert cache.get("h1") is None


def test_a_full_cache_starts_over(clock: Clock) -> None:
    cache = CallerCache(ttl_seconds=60, max_entries=3)
    for i in range(3):
        cache.put(f"h{i}", ANNELI)
    cache.put("h3", ANNELI)
    assert cache.get("h0") is None and cache.get("h3") == ANNELI


def test_a_disabled_or_rotated_user_is_forgotten_at_once(clock: Clock) -> None:
    cache = CallerCache(ttl_seconds=60)
    pekka = Caller(2, "Pekka", Role.ADMIN, "ES-FI-EA-01")
    cache.put("old", ANNELI)
    cache.put("older", ANNELI)
    cache.put("admin", pekka)
    cache.put("bad", UNKNOWN_TOKEN)
    cache.drop_user(ANNELI.user_id)
    assert cache.get("old") is None and cache.get("older") is None
    assert cache.get("admin") == pekka and cache.get("bad") is UNKNOWN_TOKEN
    cache.drop("bad")  # an enabled user's token, remembered as unknown while disabled
    assert cache.get("bad") is None


def test_a_caller_knows_when_its_token_expires() -> None:
    expiring = Caller(3, "Aino", Role.COACH, "ES-FI-EA-01", expires_at=1000.0)
    assert not expiring.expired(999.9)
    assert expiring.expired(1000.0)
    assert not ANNELI.expired(10**12)  # no expiry
