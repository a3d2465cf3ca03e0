"""The model registry: versions on disk, champion pointer, rollback and load-time refusals."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from typer.testing import CliRunner

from features.schema import FEATURE_NAMES, FEATURE_SCHEMA_HASH
from service.cli import app
from training.ranker import LightGBMScorer, RankerConfig
from training.registry import (
    STALE_TEMP_SECONDS,
    ModelCompatibilityError,
    ModelRegistry,
    NoPreviousChampionError,
    UnknownModelError,
)

pytestmark = pytest.mark.integration

CONFIG = RankerConfig(num_trees=5, num_threads=1)


def tiny_booster(seed: int = 0) -> lgb.Booster:
    rng = np.random.default_rng(seed)
    features = rng.random((60, len(FEATURE_NAMES)))
    labels = rng.integers(0, 3, 60)
    data = lgb.Dataset(features, label=labels, group=[10] * 6, feature_name=list(FEATURE_NAMES))
    params = {
        "objective": "lambdarank",
        "num_leaves": 4,
        "min_data_in_leaf": 5,
        "num_threads": 1,
        "seed": seed,
        "deterministic": True,
        "verbosity": -1,
    }
    return lgb.train(params, data, num_boost_round=5)


def ticking_clock(
    start: datetime = datetime(2026, 11, 22, 15, 30, tzinfo=UTC),
) -> Callable[[], datetime]:
    now = [start]

    def clock() -> datetime:
        current = now[0]
        now[0] = current + timedelta(minutes=1)
        return current

    return clock


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "models", clock=ticking_clock())


def register(registry: ModelRegistry, seed: int = 0) -> str:
    record = registry.register(
        tiny_booster(seed),
        config=CONFIG,
        metrics={"ndcg@10": 0.5 + seed / 100},
        training_fingerprint=f"fp-{seed}",
        notes=f"seed {seed}",
    )
    return record.version


def edit_manifest(registry: ModelRegistry, version: str, **changes: object) -> None:
    path = registry.versions_dir / version / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def test_register_list_and_show(registry: ModelRegistry) -> None:
    assert registry.list() == []
    first, second = register(registry, 0), register(registry, 1)
    assert re.fullmatch(r"m20261122-153000-[0-9a-f]{8}", first)
    assert second.startswith("m20261122-153100-")
    assert [record.version for record in registry.list()] == [first, second]
    shown = registry.show(second)
    assert shown.manifest.training_fingerprint == "fp-1"
    assert shown.manifest.notes == "seed 1"
    for name in ("model.txt", "manifest.json", "MODEL_CARD.md"):
        assert (shown.path / name).is_file()
    assert registry.champion() is None
    with pytest.raises(UnknownModelError, match="not in the registry"):
        registry.show("m20000101-000000-00000000")


def test_version_suffix_comes_from_the_model_hash(tmp_path: Path) -> None:
    fixed = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    one = ModelRegistry(tmp_path / "a", clock=lambda: fixed)
    two = ModelRegistry(tmp_path / "b", clock=lambda: fixed)
    assert register(one, 3) == register(two, 3)
    # Registering the same model at the same second again is a no-op.
    assert register(one, 3) == register(two, 3)
    assert len(one.list()) == 1
    assert not list(one.versions_dir.glob(".tmp-*"))


def test_manifest_and_model_card(registry: ModelRegistry) -> None:
    import hashlib

    version = register(registry, 2)
    folder = registry.versions_dir / version
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["version"] == version
    assert manifest["feature_schema_hash"] == FEATURE_SCHEMA_HASH
    assert tuple(manifest["feature_names"]) == FEATURE_NAMES
    assert manifest["library_versions"]["lightgbm"] == lgb.__version__
    assert set(manifest["library_versions"]) == {"lightgbm", "numpy", "scikit-learn", "python"}
    digest = hashlib.sha256((folder / "model.txt").read_bytes()).hexdigest()
    assert manifest["model_sha256"] == digest
    assert version.endswith(digest[:8])
    assert manifest["training_fingerprint"] == "fp-2"
    assert manifest["config"]["num_trees"] == 5
    assert manifest["metrics"] == {"ndcg@10": 0.52}
    assert manifest["created_at"].startswith("2026-11-22T15:30:00")
    card = (folder / "MODEL_CARD.md").read_text()
    assert "job coaches" in card
    assert "fp-2" in card
    assert "| ndcg@10 | 0.5200 |" in card
    assert "Sex, age, origin and health details are not features" in card
    assert "## Limitations" in card
    assert all(f"`{name}`" in card for name in FEATURE_NAMES)


def test_register_refuses_a_booster_on_other_features(registry: ModelRegistry) -> None:
    rng = np.random.default_rng(0)
    data = lgb.Dataset(rng.random((20, 3)), label=rng.integers(0, 2, 20), group=[10, 10])
    booster = lgb.train({"objective": "lambdarank", "verbosity": -1}, data, num_boost_round=2)
    with pytest.raises(ModelCompatibilityError, match="not the schema's"):
        registry.register(booster, config=CONFIG, metrics={}, training_fingerprint="x")
    assert registry.list() == []


def test_promote_changes_champion_and_load_uses_it(registry: ModelRegistry) -> None:
    first, second = register(registry, 0), register(registry, 1)
    with pytest.raises(UnknownModelError, match="no champion"):
        registry.load()
    registry.promote(first)
    champion = registry.champion()
    assert champion is not None and champion.version == first
    registry.promote(second)
    assert registry.champion_version() == second
    scorer = registry.load()
    assert isinstance(scorer, LightGBMScorer)
    assert scorer.version == second
    rows = np.random.default_rng(5).random((4, len(FEATURE_NAMES))).astype(np.float32)
    np.testing.assert_allclose(scorer.score(rows), tiny_booster(1).predict(rows))
    assert registry.load(first).version == first


def test_rollback_returns_to_previous_champions(registry: ModelRegistry) -> None:
    a, b, c = register(registry, 0), register(registry, 1), register(registry, 2)
    for version in (a, b, c):
        registry.promote(version)
    assert registry.rollback().version == b
    assert registry.champion_version() == b
    assert registry.rollback().version == a
    with pytest.raises(NoPreviousChampionError, match="no previous champion"):
        registry.rollback()
    assert registry.champion_version() == a
    actions = [event["action"] for event in registry.history()]
    assert actions == ["promote", "promote", "promote", "rollback", "rollback"]


def test_rollback_without_history_errors(registry: ModelRegistry) -> None:
    with pytest.raises(NoPreviousChampionError, match="no champion yet"):
        registry.rollback()
    version = register(registry)
    registry.promote(version)
    with pytest.raises(NoPreviousChampionError, match=f"the champion is {version}"):
        registry.rollback()


def test_promoting_an_unknown_version_errors(registry: ModelRegistry) -> None:
    version = register(registry)
    registry.promote(version)
    with pytest.raises(UnknownModelError, match="m20990101-000000-deadbeef is not in"):
        registry.promote("m20990101-000000-deadbeef")
    with pytest.raises(UnknownModelError, match="not a model version"):
        registry.promote("../../etc")
    assert registry.champion_version() == version


def test_load_refuses_another_feature_schema(registry: ModelRegistry) -> None:
    version = register(registry)
    edit_manifest(registry, version, feature_schema_hash="0123456789abcdef")
    with pytest.raises(ModelCompatibilityError, match="feature schema hash 0123456789abcdef"):
        registry.load(version)
    with pytest.raises(ModelCompatibilityError, match="features differ"):
        registry.promote(version)


def test_load_refuses_another_lightgbm_major(registry: ModelRegistry) -> None:
    version = register(registry)
    path = registry.versions_dir / version / "manifest.json"
    manifest = json.loads(path.read_text())
    major = int(lgb.__version__.split(".")[0])
    manifest["library_versions"]["lightgbm"] = f"{major + 1}.0.0"
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelCompatibilityError, match=rf"lightgbm {major + 1}\.0\.0.*major"):
        registry.load(version)
    # A different minor version of the same major loads.
    manifest["library_versions"]["lightgbm"] = f"{major}.999.0"
    path.write_text(json.dumps(manifest))
    assert registry.load(version).version == version


def test_load_refuses_a_tampered_model_file(registry: ModelRegistry) -> None:
    version = register(registry)
    registry.promote(version)
    model = registry.versions_dir / version / "model.txt"
    model.write_text(model.read_text().replace("num_leaves=", "num_leaves= "))
    with pytest.raises(ModelCompatibilityError, match=r"sha256 .* the file was changed"):
        registry.load()


def test_crash_during_promotion_keeps_the_old_champion(
    registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = register(registry, 0), register(registry, 1)
    registry.promote(first)
    history_before = registry.history_file.read_text()

    def crash(src: object, dst: object) -> None:
        raise OSError("disk pulled out")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", crash)
        with pytest.raises(OSError, match="disk pulled out"):
            registry.promote(second)

    assert registry.champion_version() == first
    assert registry.load().version == first
    assert [record.version for record in registry.list()] == [first, second]
    assert registry.history_file.read_text() == history_before
    assert not list(registry.root.glob(".tmp-*"))
    registry.promote(second)
    assert registry.champion_version() == second


def test_crash_during_registration_leaves_no_version(
    registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = register(registry, 0)

    def crash(src: object, dst: object) -> None:
        raise OSError("power cut")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", crash)
        with pytest.raises(OSError, match="power cut"):
            register(registry, 1)
    assert [record.version for record in registry.list()] == [first]
    assert not list(registry.versions_dir.glob(".tmp-*"))


def test_leftover_temp_version_dir_is_ignored_and_cleaned(registry: ModelRegistry) -> None:
    version = register(registry)
    stale = registry.versions_dir / ".tmp-crashed"
    stale.mkdir()
    (stale / "model.txt").write_text("half a model")
    fresh = registry.versions_dir / ".tmp-running"
    fresh.mkdir()
    # A complete-looking folder without a manifest is not a version either.
    (registry.versions_dir / "m20260101-000000-00000000").mkdir()
    old = stale.stat().st_mtime - STALE_TEMP_SECONDS - 60
    os.utime(stale, (old, old))

    assert [record.version for record in registry.list()] == [version]
    assert not stale.exists()
    assert fresh.exists()  # may belong to a registration in progress


def test_cli_lists_versions_and_refuses_unknown_promotion(registry: ModelRegistry) -> None:
    runner = CliRunner()
    first, second = register(registry, 0), register(registry, 1)
    root = str(registry.root)

    result = runner.invoke(app, ["model", "promote", first, "--registry", root])
    assert result.exit_code == 0, result.output
    assert registry.champion_version() == first

    result = runner.invoke(app, ["model", "list", "--registry", root])
    assert result.exit_code == 0, result.output
    assert first in result.output and second in result.output

    result = runner.invoke(app, ["model", "show", second, "--registry", root])
    assert result.exit_code == 0, result.output
    assert "fp-1" in result.output

    result = runner.invoke(
        app, ["model", "promote", "m20990101-000000-deadbeef", "--registry", root]
    )
    assert result.exit_code == 2
    assert "not in the registry" in result.output
    assert registry.champion_version() == first

    result = runner.invoke(app, ["model", "rollback", "--registry", root])
    assert result.exit_code == 2
    assert "no previous champion" in result.output


def test_cli_list_shows_headline_metrics_and_the_gate_verdict(registry: ModelRegistry) -> None:
    per_region = {f"recall@20[region=FI-EA-{i:02d}]": 0.8 for i in range(40)}
    passed = registry.register(
        tiny_booster(0),
        config=CONFIG,
        metrics={"ndcg@10": 0.5671, "recall@20": 0.8774, **per_region},
        training_fingerprint="fp-passed",
        notes="gate passed",
    ).version
    refused = registry.register(
        tiny_booster(1),
        config=CONFIG,
        metrics={"ndcg@10": 0.3639},
        training_fingerprint="fp-refused",
        notes="gate refused: NDCG@10 0.3639 is below ...; group sex=male: recall@20 fell ...",
    ).version
    result = CliRunner().invoke(app, ["model", "list", "--registry", str(registry.root)])
    assert result.exit_code == 0, result.output
    rows = {line[2:].split()[0]: line for line in result.output.splitlines() if " m20" in line}
    assert "0.5671" in rows[passed] and "0.8774" in rows[passed] and "passed" in rows[passed]
    assert "0.3639" in rows[refused] and "refused (2)" in rows[refused]
    assert "FI-EA" not in result.output  # group figures are for `model show`


def test_cli_promote_then_rollback(registry: ModelRegistry) -> None:
    runner = CliRunner()
    first, second = register(registry, 0), register(registry, 1)
    root = str(registry.root)
    for version in (first, second):
        assert runner.invoke(app, ["model", "promote", version, "--registry", root]).exit_code == 0
    result = runner.invoke(app, ["model", "rollback", "--registry", root])
    assert result.exit_code == 0, result.output
    assert registry.champion_version() == first


def test_model_card_tables_groups_apart_and_lists_gate_reasons() -> None:
    from training.registry import render_model_card

    record_metrics = {
        "ndcg@10": 0.36,
        "recall@20": 0.83,
        "recall@20[region=FI-EA-02]": 0.6,
        "recall@20[sex=female]": 0.8,
    }
    from training.registry import ModelManifest

    card = render_model_card(
        ModelManifest(
            version="m20261202-000000-00000000",
            created_at=datetime(2026, 12, 2, tzinfo=UTC),
            feature_names=FEATURE_NAMES,
            feature_schema_hash=FEATURE_SCHEMA_HASH,
            library_versions={"lightgbm": lgb.__version__},
            training_fingerprint="fp",
            config=CONFIG.model_dump(mode="json"),
            metrics=record_metrics,
            model_sha256="0" * 64,
            notes="gate refused: NDCG@10 0.36 is below 0.56; group sex=female: recall fell",
        )
    )
    overall = card[card.index("## Metrics") : card.index("### By group")]
    assert "| recall@20 | 0.8300 |" in overall and "FI-EA-02" not in overall
    assert "| region | FI-EA-02 | recall@20 | 0.6000 |" in card
    assert "| sex | female | recall@20 | 0.8000 |" in card
    assert "- NDCG@10 0.36 is below 0.56\n- group sex=female: recall fell" in card
