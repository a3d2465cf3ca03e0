"""Retraining end to end: a first challenger is promoted, a worse one is refused.

Every run trains on the training world (3,000 jobseekers, 3,000 vacancies; see
``tests/conftest.py``): the small world holds no test query of the matches direction.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from matching.scoring import DIRECTIONS
from service.cli import app
from service.settings import Settings
from training.dataset import DatasetConfig
from training.pipeline import STEPS, RetrainResult, retrain
from training.ranker import RankerConfig
from training.registry import ModelRegistry

pytestmark = pytest.mark.integration

runner = CliRunner()
# The training world's default 8 test weeks hold too few relevant rows to judge groups.
DATASET = DatasetConfig(valid_weeks=16, test_weeks=16)
GOOD = RankerConfig(num_threads=1)
WORSE = RankerConfig(num_threads=1, num_trees=1, num_leaves=2)
WEEKS = ["--valid-weeks", "16", "--test-weeks", "16", "--threads", "1"]


@pytest.fixture(scope="module")
def runs(
    training_world_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ModelRegistry, RetrainResult, RetrainResult, list[str]]:
    registry = ModelRegistry(tmp_path_factory.mktemp("registry"))
    first = retrain(
        training_world_dir,
        registry,
        dataset_config=DATASET,
        ranker_config=GOOD,
        settings=Settings(),
    )
    seen: list[str] = []
    second = retrain(
        training_world_dir,
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
    # One model, one evaluation per direction.
    assert set(first.reports) == set(DIRECTIONS)
    for direction, report in first.reports.items():
        rankings = set(report.overall.index)
        assert {
            "challenger",
            "rules",
            "skill_cosine",
            "random",
            "oracle",
            "oracle_hire",
        } <= rankings
        assert "champion" not in rankings
        # The hidden probability of a hire is the ceiling of the true figures.
        assert report.metric("oracle_hire", "true_ndcg@10") == pytest.approx(1.0)
        assert report.metric("challenger", "outcome_concordance") > report.metric(
            "random", "outcome_concordance"
        ), direction
        dimensions = set(report.groups["dimension"])
        assert dimensions == {"target_group", "sex", "region", "language"}, direction
        assert set(report.groups.loc[report.groups["dimension"] == "language", "group"]) <= {
            "fi",
            "sv",
            "other",
        }
    shortlist = first.reports["shortlist"]
    # The generator's oracle is the ceiling the challenger is measured against.
    assert shortlist.metric("oracle", "ndcg@10") > shortlist.metric("random", "ndcg@10")
    target_groups = set(
        shortlist.groups.loc[shortlist.groups["dimension"] == "target_group", "group"]
    )
    assert {"long_term_unemployed", "registered_unemployed"} <= target_groups
    assert first.notified == "not configured"
    # The equality check ran on served matches lists, and the sanity suite passed.
    assert {"challenger", "rules"} <= set(first.steering)
    assert first.sanity and "perfect_in_matches" in first.sanity
    record = registry.show(str(first.version))
    assert len(record.manifest.training_fingerprint) == 64
    assert set(record.manifest.model_files) == set(DIRECTIONS)
    for direction in DIRECTIONS:
        assert record.model_path(direction).is_file()
        assert record.manifest.metrics[f"{direction}/outcome_concordance"] == pytest.approx(
            first.reports[direction].metric("challenger", "outcome_concordance")
        )
    card = record.card_path.read_text(encoding="utf-8")
    for heading in ("### shortlist", "### matches", "## Calibration", "## Sanity suite"):
        assert heading in card
    assert "Every rule passed in both directions." in card
    # The served model is the champion's, one scorer per direction.
    served = registry.load()
    assert served.version == first.version
    assert {d: served.for_direction(d).version for d in DIRECTIONS} == dict.fromkeys(
        DIRECTIONS, first.version
    )


def test_a_worse_challenger_is_registered_but_the_champion_kept(
    runs: tuple[ModelRegistry, RetrainResult, RetrainResult, list[str]],
) -> None:
    registry, first, second, seen = runs
    assert not second.promoted
    assert second.reasons
    # The worse model falls below the champion in some direction, and the reason says where.
    assert any(
        reason.startswith(("shortlist: ", "matches: ")) and "below the champion's" in reason
        for reason in second.reasons
    ), second.reasons
    assert second.champion_before == first.version
    assert registry.champion_version() == first.version
    assert second.version != first.version
    assert second.version in {record.version for record in registry.list()}
    for report in second.reports.values():
        assert "champion" in report.overall.index
    refused = registry.show(str(second.version))
    assert "gate refused" in refused.manifest.notes
    # The manifest keeps what the challenger was measured against, champion included, and
    # the model card shows the comparison.
    baselines = refused.manifest.baselines
    assert {"champion", "rules", "skill_cosine", "random", "oracle"} <= set(baselines)
    shortlist = second.reports["shortlist"]
    assert baselines["champion"]["shortlist/outcome_concordance"] == pytest.approx(
        shortlist.metric("champion", "outcome_concordance")
    )
    assert baselines["rules"]["matches/recall@20"] == pytest.approx(
        second.reports["matches"].metric("rules", "recall@20")
    )
    card = (refused.path / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "The gate refused this model:" in card
    champion_row = next(line for line in card.splitlines() if line.startswith("| champion |"))
    assert f"{shortlist.metric('champion', 'outcome_concordance'):.4f}" in champion_row
    # The training data is the same world, so the fingerprints agree.
    fingerprints = {
        registry.show(str(v)).manifest.training_fingerprint for v in (first.version, second.version)
    }
    assert len(fingerprints) == 1
    assert seen == [f"{i}/{len(STEPS)} {name}" for i, name in enumerate(STEPS, start=1)]
    assert second.notified == "not needed"


def test_cli_exits_0_when_promoted_and_3_when_the_champion_is_kept(
    training_world_dir: Path, tmp_path: Path
) -> None:
    registry = tmp_path / "models"
    base = ["retrain", "--world", str(training_world_dir), "--registry", str(registry), *WEEKS]
    promoted = runner.invoke(app, base, terminal_width=200)
    assert promoted.exit_code == 0, promoted.output
    assert "Promoted" in promoted.output
    # A table per direction: every ranking's outcome concordance, SNIPS hires and NDCG.
    for direction in DIRECTIONS:
        assert f"  {direction}: ranking" in promoted.output
    assert "concordance" in promoted.output and "SNIPS hires@10" in promoted.output
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


def test_a_config_file_sets_the_gate_thresholds(training_world_dir: Path, tmp_path: Path) -> None:
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
            *("retrain", "--world", str(training_world_dir), "--registry", str(tmp_path / "r")),
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
    training_world_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    import training.pipeline

    real = training.pipeline.retrain
    reasons = [f"group region=FI-EA-{i:02d}: recall@20 fell" for i in range(30)]

    def refused_with_many_reasons(*args: object, **kwargs: object) -> RetrainResult:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        return dataclasses.replace(result, promoted=False, reasons=reasons)

    monkeypatch.setattr(training.pipeline, "retrain", refused_with_many_reasons)
    base = ["retrain", "--world", str(training_world_dir), "--registry", str(tmp_path / "m")]
    result = runner.invoke(app, [*base, *WEEKS, "--num-trees", "2"], terminal_width=200)
    assert result.exit_code == 3, result.output
    assert "FI-EA-11" in result.output and "FI-EA-12" not in result.output
    assert "and 18 more" in result.output and "kohtaanto model show m" in result.output
