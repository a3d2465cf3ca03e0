"""Retraining end to end: a first challenger is promoted, a worse one is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.settings import Settings
from training.dataset import DatasetConfig
from training.pipeline import STEPS, RetrainResult, retrain
from training.ranker import RankerConfig
from training.registry import ModelRegistry

pytestmark = pytest.mark.integration

runner = CliRunner()
# The small world's default 8 test weeks hold too few relevant rows to judge groups.
DATASET = DatasetConfig(valid_weeks=16, test_weeks=16)
GOOD = RankerConfig(num_threads=1)
WORSE = RankerConfig(num_threads=1, num_trees=1, num_leaves=2)
WEEKS = ["--valid-weeks", "16", "--test-weeks", "16", "--threads", "1"]


@pytest.fixture(scope="module")
def runs(
    small_world_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ModelRegistry, RetrainResult, RetrainResult, list[str]]:
    registry = ModelRegistry(tmp_path_factory.mktemp("registry"))
    first = retrain(
        small_world_dir, registry, dataset_config=DATASET, ranker_config=GOOD, settings=Settings()
    )
    seen: list[str] = []
    second = retrain(
        small_world_dir,
        registry,
        dataset_config=DATASET,
        ranker_config=WORSE,
        settings=Settings(),
        on_step=lambda name, index, total: seen.append(f"{index + 1}/{total} {name}"),
    )
    return registry, first, second, seen


def test_the_first_challenger_is_promoted(
    runs: tuple[ModelRegistry, RetrainResult, RetrainResult, list[str]],
) -> None:
    registry, first, _, _ = runs
    assert first.promoted, first.reasons
    assert first.reasons == []
    assert first.champion_before is None
    assert set(first.step_seconds) == set(STEPS)
    assert {"challenger", "rules", "skill_cosine", "random", "oracle"} <= set(
        first.report.overall.index
    )
    assert "champion" not in first.report.overall.index
    # The generator's oracle is the ceiling the challenger is measured against.
    assert first.report.metric("oracle", "ndcg@10") > first.report.metric("random", "ndcg@10")
    dimensions = set(first.report.groups["dimension"])
    assert dimensions == {"target_group", "sex", "region", "language"}
    target_groups = set(
        first.report.groups.loc[first.report.groups["dimension"] == "target_group", "group"]
    )
    assert "long_term_unemployed" in target_groups
    assert set(
        first.report.groups.loc[first.report.groups["dimension"] == "language", "group"]
    ) <= {"fi", "sv", "other"}
    assert first.notified == "not configured"
    record = registry.show(str(first.version))
    assert len(record.manifest.training_fingerprint) == 64
    assert record.manifest.metrics["ndcg@10"] == pytest.approx(
        first.report.metric("challenger", "ndcg@10")
    )


def test_a_worse_challenger_is_registered_but_the_champion_kept(
    runs: tuple[ModelRegistry, RetrainResult, RetrainResult, list[str]],
) -> None:
    registry, first, second, seen = runs
    assert not second.promoted
    assert second.reasons
    assert any("NDCG@10" in reason for reason in second.reasons)
    assert second.champion_before == first.version
    assert registry.champion_version() == first.version
    assert second.version != first.version
    assert second.version in {record.version for record in registry.list()}
    assert "champion" in second.report.overall.index
    refused = registry.show(str(second.version))
    assert "gate refused" in refused.manifest.notes
    # The manifest keeps what the challenger was measured against, champion included, and
    # the model card shows the comparison.
    baselines = refused.manifest.baselines
    assert {"champion", "rules", "skill_cosine", "random", "oracle"} <= set(baselines)
    assert baselines["champion"]["ndcg@10"] == pytest.approx(
        second.report.metric("champion", "ndcg@10")
    )
    assert baselines["rules"]["recall@20"] == pytest.approx(
        second.report.metric("rules", "recall@20")
    )
    card = (refused.path / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "### Against the baselines on the same test groups" in card
    champion_row = next(line for line in card.splitlines() if line.startswith("| champion |"))
    assert f"{second.report.metric('champion', 'ndcg@10'):.4f}" in champion_row
    # The training data is the same world, so the fingerprints agree.
    fingerprints = {
        registry.show(str(v)).manifest.training_fingerprint for v in (first.version, second.version)
    }
    assert len(fingerprints) == 1
    assert seen == [f"{i}/{len(STEPS)} {name}" for i, name in enumerate(STEPS, start=1)]
    assert second.notified == "not needed"


def test_cli_exits_0_when_promoted_and_3_when_the_champion_is_kept(
    small_world_dir: Path, tmp_path: Path
) -> None:
    registry = tmp_path / "models"
    base = ["retrain", "--world", str(small_world_dir), "--registry", str(registry), *WEEKS]
    promoted = runner.invoke(app, base, terminal_width=200)
    assert promoted.exit_code == 0, promoted.output
    assert "Promoted" in promoted.output
    champion = ModelRegistry(registry).champion_version()
    assert champion is not None

    kept = runner.invoke(
        app, [*base, "--objective", "rank_xendcg", "--num-trees", "1"], terminal_width=200
    )
    assert kept.exit_code == 3, kept.output
    assert "kept the champion" in kept.output
    assert ModelRegistry(registry).champion_version() == champion
    assert len(ModelRegistry(registry).list()) == 2


def test_cli_names_a_missing_world(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["retrain", "--world", str(tmp_path / "nowhere"), "--registry", str(tmp_path / "r")]
    )
    assert result.exit_code == 2
    assert "nowhere" in result.output


def test_cli_rejects_an_unknown_objective(small_world_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "retrain",
            "--world",
            str(small_world_dir),
            "--registry",
            str(tmp_path),
            "--objective",
            "x",
        ],
    )
    assert result.exit_code == 2


def test_cli_reads_a_strict_config_file_and_names_bad_keys(
    small_world_dir: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[gate]\nmax_ndcg_dorp = 0.01\n[ranker]\nnum_leaves = 1\n")
    result = runner.invoke(
        app,
        [
            *("retrain", "--world", str(small_world_dir), "--registry", str(tmp_path / "r")),
            *("--config", str(bad)),
        ],
        terminal_width=300,
    )
    assert result.exit_code == 2, result.output
    assert "bad.toml" in result.output
    assert "gate.max_ndcg_dorp" in result.output
    assert "ranker.num_leaves" in result.output
    assert not (tmp_path / "r").exists() or not ModelRegistry(tmp_path / "r").list()


def test_a_config_file_sets_the_gate_thresholds(small_world_dir: Path, tmp_path: Path) -> None:
    # A gate that demands an impossible share of every group's recall refuses any challenger.
    strict = tmp_path / "strict.toml"
    strict.write_text(
        "[dataset]\nvalid_weeks = 16\ntest_weeks = 16\n"
        "[ranker]\nnum_threads = 1\n"
        "[gate]\nmin_group_recall_share = 1.0\nmin_group_rows = 1\n"
    )
    result = runner.invoke(
        app,
        [
            *("retrain", "--world", str(small_world_dir), "--registry", str(tmp_path / "r")),
            *("--config", str(strict)),
        ],
        terminal_width=300,
    )
    assert result.exit_code == 3, result.output
    assert "× overall" in result.output
    assert ModelRegistry(tmp_path / "r").champion_version() is None


def test_cli_wants_a_world_or_the_database(small_world_dir: Path, tmp_path: Path) -> None:
    neither = runner.invoke(app, ["retrain", "--registry", str(tmp_path)])
    assert neither.exit_code == 2 and "--world DIR or --database" in neither.output
    both = runner.invoke(
        app, ["retrain", "--world", str(small_world_dir), "--database", "--registry", str(tmp_path)]
    )
    assert both.exit_code == 2


def test_cli_prints_the_first_gate_reasons_and_points_to_model_show(
    small_world_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    import training.pipeline

    real = training.pipeline.retrain
    reasons = [f"group region=FI-EA-{i:02d}: recall@20 fell" for i in range(30)]

    def refused_with_many_reasons(*args: object, **kwargs: object) -> RetrainResult:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        return dataclasses.replace(result, promoted=False, reasons=reasons)

    monkeypatch.setattr(training.pipeline, "retrain", refused_with_many_reasons)
    base = ["retrain", "--world", str(small_world_dir), "--registry", str(tmp_path / "m")]
    result = runner.invoke(app, [*base, *WEEKS, "--num-trees", "2"], terminal_width=200)
    assert result.exit_code == 3, result.output
    assert "FI-EA-11" in result.output and "FI-EA-12" not in result.output
    assert "and 18 more" in result.output and "kohtaanto model show m" in result.output
