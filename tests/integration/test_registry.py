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
from matching.scoring import DIRECTIONS, Calibration, Direction
from service.cli import app
from training.ranker import LightGBMScorer, RankerConfig
from training.registry import (
    STALE_TEMP_SECONDS,
    DirectionalModel,
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


#: A version holds one booster per direction; the two differ so that a mix-up shows.
MATCHES_SEED_OFFSET = 100


def tiny_boosters(seed: int = 0) -> dict[Direction, lgb.Booster]:
    return {
        "shortlist": tiny_booster(seed),
        "matches": tiny_booster(seed + MATCHES_SEED_OFFSET),
    }


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
        tiny_boosters(seed),
        config=CONFIG,
        metrics={"shortlist/outcome_concordance": 0.5 + seed / 100},
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
    for name in ("model-shortlist.txt", "model-matches.txt", "manifest.json", "MODEL_CARD.md"):
        assert (shown.path / name).is_file()
    assert not (shown.path / "model.txt").exists()
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
    # One checksum per direction's file; the version is named after both files together.
    files = {d: (folder / f"model-{d}.txt").read_bytes() for d in DIRECTIONS}
    assert manifest["model_files"] == {d: hashlib.sha256(b).hexdigest() for d, b in files.items()}
    digest = hashlib.sha256(b"".join(files[d] for d in DIRECTIONS)).hexdigest()
    assert manifest["model_sha256"] == digest
    assert version.endswith(digest[:8])
    assert manifest["calibration"] == {}
    assert manifest["training_fingerprint"] == "fp-2"
    assert manifest["config"]["num_trees"] == 5
    assert manifest["metrics"] == {"shortlist/outcome_concordance": 0.52}
    assert manifest["created_at"].startswith("2026-11-22T15:30:00")
    card = (folder / "MODEL_CARD.md").read_text()
    assert "job coaches" in card
    assert "fp-2" in card
    assert "| shortlist/outcome_concordance | 0.5200 |" in card
    assert "Calibrated directions: none" in card
    for direction in DIRECTIONS:
        assert f"`model-{direction}.txt`: sha256 `{manifest['model_files'][direction]}`" in card
    assert "Sex, age, origin and health details are not features" in card
    assert "## Limitations" in card
    assert all(f"`{name}`" in card for name in FEATURE_NAMES)


def test_register_stores_calibrations_card_sections_and_attachments(
    registry: ModelRegistry,
) -> None:
    calibration = Calibration(scores=(-1.0, 0.0, 1.0), probabilities=(0.01, 0.05, 0.2))
    record = registry.register(
        tiny_boosters(4),
        config=CONFIG,
        metrics={},
        training_fingerprint="fp-4",
        calibrations={"shortlist": calibration, "matches": None},
        card_sections="## Evaluation on held-out weeks\n\nthe run's own findings",
        attachments={"reliability-shortlist.png": b"\x89PNG fake"},
    )
    manifest = record.manifest
    assert manifest.calibration == {
        "shortlist": {"scores": [-1.0, 0.0, 1.0], "probabilities": [0.01, 0.05, 0.2]}
    }
    assert (record.path / "reliability-shortlist.png").read_bytes() == b"\x89PNG fake"
    card = record.card_path.read_text()
    assert "the run's own findings" in card
    assert "## Metrics" not in card  # the run's sections replace the bare metrics table
    assert "Calibrated directions: shortlist" in card
    model = registry.load(record.version)
    scores = np.array([-2.0, -0.5, 0.5, 3.0])
    probability = model.probability("shortlist", scores)
    assert probability is not None
    np.testing.assert_allclose(probability, [0.01, 0.03, 0.125, 0.2])
    assert model.probability("matches", scores) is None
    for bad in ("../escape.png", ".hidden", "manifest.json", "MODEL_CARD.md"):
        with pytest.raises(ValueError, match="not a plain file name"):
            registry.register(
                tiny_boosters(5),
                config=CONFIG,
                metrics={},
                training_fingerprint="fp-5",
                attachments={bad: b"x"},
            )
    assert [r.version for r in registry.list()] == [record.version]


def test_register_refuses_a_booster_on_other_features(registry: ModelRegistry) -> None:
    rng = np.random.default_rng(0)
    data = lgb.Dataset(rng.random((20, 3)), label=rng.integers(0, 2, 20), group=[10, 10])
    booster = lgb.train({"objective": "lambdarank", "verbosity": -1}, data, num_boost_round=2)
    boosters = {"shortlist": tiny_booster(0), "matches": booster}
    with pytest.raises(ModelCompatibilityError, match=r"matches booster.*not the schema's"):
        registry.register(boosters, config=CONFIG, metrics={}, training_fingerprint="x")
    assert registry.list() == []


def test_register_wants_a_booster_for_every_direction(registry: ModelRegistry) -> None:
    with pytest.raises(ValueError, match=r"every direction; missing \['matches'\]"):
        registry.register(
            {"shortlist": tiny_booster(0)}, config=CONFIG, metrics={}, training_fingerprint="x"
        )
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
    model = registry.load()
    assert isinstance(model, DirectionalModel)
    assert model.version == second
    assert model.feature_names == FEATURE_NAMES
    rows = np.random.default_rng(5).random((4, len(FEATURE_NAMES))).astype(np.float32)
    # Each direction serves its own booster.
    for direction, booster in tiny_boosters(1).items():
        scorer = model.for_direction(direction)
        assert isinstance(scorer, LightGBMScorer)
        assert scorer.version == second
        np.testing.assert_allclose(scorer.score(rows), booster.predict(rows))
    assert model.probability("shortlist", np.zeros(4)) is None  # registered uncalibrated
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
    model = registry.versions_dir / version / "model-matches.txt"
    model.write_text(model.read_text().replace("num_leaves=", "num_leaves= "))
    with pytest.raises(
        ModelCompatibilityError,
        match=r"model-matches\.txt of model .* sha256 .* the file was changed",
    ):
        registry.load()


def test_load_refuses_a_version_missing_a_direction(registry: ModelRegistry) -> None:
    version = register(registry)
    (registry.versions_dir / version / "model-shortlist.txt").unlink()
    with pytest.raises(ModelCompatibilityError, match=r"has no model-shortlist\.txt"):
        registry.load(version)


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
    (stale / "model-shortlist.txt").write_text("half a model")
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
    files = registry.show(second).manifest.model_files
    for direction in DIRECTIONS:
        line = next(x for x in result.output.splitlines() if x.strip().startswith(f"{direction}:"))
        assert files[direction][:16] in line and "not calibrated" in line
    assert "metric shortlist/outcome_concordance: 0.5100" in result.output

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
    per_region = {f"shortlist/recall@20[region=FI-EA-{i:02d}]": 0.8 for i in range(40)}
    passed = registry.register(
        tiny_boosters(0),
        config=CONFIG,
        metrics={
            "shortlist/outcome_concordance": 0.5671,
            "matches/outcome_concordance": 0.8774,
            "shortlist/ndcg@10": 0.1234,
            **per_region,
        },
        training_fingerprint="fp-passed",
        notes="gate passed",
    ).version
    refused = registry.register(
        tiny_boosters(1),
        config=CONFIG,
        metrics={"shortlist/outcome_concordance": 0.3639},
        training_fingerprint="fp-refused",
        notes="gate refused: shortlist: NDCG@10 0.3639 is below ...; "
        "matches: group sex=male: recall@20 fell ...",
    ).version
    result = CliRunner().invoke(app, ["model", "list", "--registry", str(registry.root)])
    assert result.exit_code == 0, result.output
    assert "shortl." in result.output and "matches" in result.output  # one column per direction
    rows = {line[2:].split()[0]: line for line in result.output.splitlines() if " m20" in line}
    # The headline figure is each direction's outcome concordance, in that order.
    assert rows[passed].split()[3:6] == ["0.5671", "0.8774", "passed"]
    assert "0.1234" not in result.output
    assert rows[refused].split()[3:5] == ["0.3639", "-"]  # no matches figure recorded
    assert "refused (2)" in rows[refused]
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


def card_with(metrics: dict[str, float], notes: str) -> str:
    from training.registry import ModelManifest, render_model_card

    return render_model_card(
        ModelManifest(
            version="m20261202-000000-00000000",
            created_at=datetime(2026, 12, 2, tzinfo=UTC),
            feature_names=FEATURE_NAMES,
            feature_schema_hash=FEATURE_SCHEMA_HASH,
            library_versions={"lightgbm": lgb.__version__},
            training_fingerprint="fp",
            config=CONFIG.model_dump(mode="json"),
            metrics=metrics,
            model_sha256="0" * 64,
            model_files={d: "0" * 64 for d in DIRECTIONS},
            notes=notes,
        )
    )


def test_model_card_lists_the_gate_reasons() -> None:
    card = card_with(
        {"shortlist/outcome_concordance": 0.36},
        "gate refused: shortlist: NDCG@10 0.36 is below 0.56; "
        "matches: group sex=female: recall fell",
    )
    assert "The gate refused this model:" in card
    assert (
        "- shortlist: NDCG@10 0.36 is below 0.56\n- matches: group sex=female: recall fell" in card
    )


def test_model_card_tables_groups_apart() -> None:
    card = card_with(
        {
            "shortlist/ndcg@10": 0.36,
            "shortlist/recall@20": 0.83,
            "shortlist/recall@20[region=FI-EA-02]": 0.6,
            "shortlist/recall@20[sex=female]": 0.8,
        },
        "gate passed",
    )
    overall = card[card.index("## Metrics") : card.index("### By group")]
    assert "0.8300" in overall and "FI-EA-02" not in overall
    groups = card[card.index("### By group") :]
    assert "FI-EA-02" in groups and "0.6000" in groups
    assert "female" in groups and "0.8000" in groups
