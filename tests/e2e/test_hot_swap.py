"""Model hot-swap under load: a new champion is picked up with zero failed requests.

Requests run on several threads while the champion changes twice: once through the admin
reload route, once only through the registry's pointer (which workers check on their own).
Every response must succeed and name the model that produced it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import lightgbm as lgb
import numpy as np
import pytest

from features.schema import FEATURE_NAMES
from matching.scoring import DIRECTIONS, Calibration, Direction
from tests.e2e.conftest import Api
from training.ranker import RankerConfig

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api-swap")]


def _booster(seed: int) -> lgb.Booster:
    """A small ranker on the feature schema (its quality does not matter here)."""
    rng = np.random.default_rng(seed)
    features = rng.random((400, len(FEATURE_NAMES)), dtype=np.float32)
    labels = (features[:, seed % len(FEATURE_NAMES)] > 0.7).astype(int)
    data = lgb.Dataset(features, label=labels, group=[20] * 20, feature_name=list(FEATURE_NAMES))
    params = {"objective": "lambdarank", "num_leaves": 4, "verbosity": -1, "num_threads": 1}
    return lgb.train(params, data, num_boost_round=5)


def _model(seed: int) -> dict[Direction, lgb.Booster]:
    """A model as the registry stores it: one booster per direction."""
    return {direction: _booster(seed) for direction in DIRECTIONS}


def test_a_new_champion_serves_without_a_failed_request(api: Api) -> None:
    state = api.client.app.state.serving  # type: ignore[attr-defined]
    registry = state.registry
    config = RankerConfig(num_threads=1)
    first, second = (
        registry.register(_model(seed), config=config, metrics={}, training_fingerprint="x")
        for seed in (1, 2)
    )
    registry.promote(first.version)
    state.model_check_seconds = 0.0  # check the pointer on every request
    path = f"/api/v1/coach/jobseekers/{api.facts['jobseeker']}/matches"
    assert api.get("coach", path).json()["model_version"] == first.version

    seen: Counter[str] = Counter()
    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            response = api.get("coach", path, params={"k": 5})
            if response.status_code != 200:
                failures.append(f"{response.status_code} {response.text[:200]}")
            else:
                seen[response.json()["model_version"]] += 1

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        registry.promote(second.version)
        reloaded = api.client.post("/api/v1/admin/model/reload", headers=api.headers("admin"))
        assert reloaded.status_code == 200 and reloaded.json()["serving"] == second.version
        time.sleep(0.5)
        registry.promote(first.version)  # no reload call: the pointer alone
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert failures == []
    assert seen[first.version] > 0 and seen[second.version] > 0, seen
    assert set(seen) == {first.version, second.version}
    assert api.get("coach", path).json()["model_version"] == first.version
    status = api.get("admin", "/api/v1/admin/model").json()
    assert status["serving"] == status["champion"] == first.version
    assert status["swaps"] >= 3


def test_an_unloadable_champion_leaves_the_current_model_serving(api: Api) -> None:
    state = api.client.app.state.serving  # type: ignore[attr-defined]
    registry = state.registry
    good = registry.register(
        _model(3), config=RankerConfig(num_threads=1), metrics={}, training_fingerprint="x"
    )
    registry.promote(good.version)
    state.model_check_seconds = 0.0  # check the pointer on every request
    state.check_model(force=True)
    broken = registry.register(
        _model(4), config=RankerConfig(num_threads=1), metrics={}, training_fingerprint="x"
    )
    registry.promote(broken.version)
    (registry.root / "versions" / broken.version / "model-matches.txt").write_text("not a model")
    path = f"/api/v1/coach/jobseekers/{api.facts['jobseeker']}/matches"
    response = api.get("coach", path)
    assert response.status_code == 200
    assert response.json()["model_version"] == good.version
    status = api.get("admin", "/api/v1/admin/model").json()
    assert status["champion"] == broken.version and status["serving"] == good.version
    assert status["last_error"]


def test_a_calibrated_champion_answers_with_probabilities(api: Api) -> None:
    """The registry's calibration reaches the answers: each result's probability is the
    calibration of its direction applied to the model's score."""
    state = api.client.app.state.serving  # type: ignore[attr-defined]
    registry = state.registry
    calibration = Calibration(scores=(-1.0, 1.0), probabilities=(0.05, 0.45))
    model = registry.register(
        _model(5),
        config=RankerConfig(num_threads=1),
        metrics={},
        training_fingerprint="x",
        calibrations={"matches": calibration, "shortlist": None},
    )
    registry.promote(model.version)
    state.check_model(force=True)
    try:
        matches = api.get(
            "coach", f"/api/v1/coach/jobseekers/{api.facts['jobseeker']}/matches", params={"k": 5}
        ).json()
        assert matches["model_version"] == model.version and matches["results"]
        for m in matches["results"]:
            assert m["probability"] == pytest.approx(float(calibration([m["score"]])[0]))
        shortlist = api.get(
            "employer", f"/api/v1/employer/vacancies/{api.facts['vacancy']}/shortlist"
        ).json()
        assert shortlist["results"]
        assert all(c["probability"] is None for c in shortlist["results"])  # not calibrated
    finally:
        registry.champion_file.unlink(missing_ok=True)  # back to the rules
        state.check_model(force=True)
