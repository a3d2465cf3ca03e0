"""The `kohtaanto` command for operators: --version, --json, literal output, unusable paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from tests.integration.test_registry import CONFIG, ticking_clock, tiny_boosters
from training.registry import ModelRegistry

pytestmark = pytest.mark.e2e

runner = CliRunner()


def _run(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args], terminal_width=200)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A folder name Rich would read as markup, were it not printed literally.
    out = tmp_path_factory.mktemp("worlds") / "[red]w[/] [x]"
    code, output = _run("generate", "--seekers", "60", "--vacancies", "20", "--out", out)
    assert code == 0, output
    assert f"World written to {out}" in output.replace("\n", "")
    return out


def test_version() -> None:
    code, output = _run("--version")
    assert code == 0
    assert output.strip() == "kohtaanto 0.1.0"


def test_model_list_json(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models", clock=ticking_clock())
    code, output = _run("model", "list", "--json", "--registry", registry.root)
    assert code == 0 and json.loads(output) == []
    first = registry.register(
        tiny_boosters(0),
        config=CONFIG,
        metrics={"shortlist/outcome_concordance": 0.61, "matches/outcome_concordance": 0.7},
        training_fingerprint="fp",
        notes="gate passed [x]",
    ).version
    registry.promote(first)
    code, output = _run("model", "list", "--json", "--registry", registry.root)
    assert code == 0, output
    (listed,) = json.loads(output)
    assert listed["version"] == first and listed["champion"] is True
    assert listed["metrics"] == {
        "shortlist/outcome_concordance": 0.61,
        "matches/outcome_concordance": 0.7,
    }
    assert listed["notes"] == "gate passed [x]"


def test_paths_and_names_are_printed_literally(world: Path, tmp_path: Path) -> None:
    missing = tmp_path / "[bold]nowhere[/]"
    code, output = _run("demo", "--world", missing)
    assert code == 2
    assert "[bold]nowhere[/]" in output
    code, output = _run("retrain", "--world", missing)
    assert code == 2
    assert f"{missing} is not a complete generated world" in output.replace("\n", "")


def _unusable(tmp_path: Path) -> dict[str, Path]:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    return {
        "under a file": a_file / "out",
        "a file": a_file,
        "unwritable": Path("/proc/kohtaanto-out"),
    }


@pytest.mark.parametrize("case", ["under a file", "a file", "unwritable"])
def test_unusable_output_paths_are_one_line_and_exit_2(
    case: str, world: Path, tmp_path: Path
) -> None:
    path = _unusable(tmp_path)[case]
    commands = [
        ("--out", ["generate", "--seekers", "60", "--vacancies", "20", "--out", path]),
        ("--out", ["stats", "--world", world, "--out", path]),
        ("--registry", ["model", "promote", "m1", "--registry", path]),
        ("--registry", ["model", "rollback", "--registry", path]),
        ("--registry", ["retrain", "--world", world, "--registry", path]),
    ]
    for option, args in commands:
        code, output = _run(*args)
        assert code == 2, (args, output)
        lines = output.strip().splitlines()
        assert len(lines) == 1, (args, output)
        assert lines[0].startswith(f"{option} {path}: cannot write there: "), output
        assert "Traceback" not in output


def _serve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> tuple[int, str]:
    """`kohtaanto serve` with these settings; each case stops before anything listens."""
    from service.settings import get_settings

    monkeypatch.setenv("KOHTAANTO_PATHS__VAR_DIR", str(tmp_path / "var"))
    for name, value in env.items():
        monkeypatch.setenv(f"KOHTAANTO_{name}", value)
    get_settings.cache_clear()
    try:
        return _run("serve", "--port", "18765", "--workers", "1")
    finally:
        get_settings.cache_clear()


def test_serve_refuses_a_metrics_port_equal_to_the_api_port(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, output = _serve(monkeypatch, tmp_path, SERVICE__METRICS_PORT="18765")
    assert code == 2
    assert "the metrics port 18765 is the API's port" in output.replace("\n", " ")


def test_serve_names_an_unmigrated_database_literally(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    database = tmp_path / "[db]" / "kohtaanto.db"
    code, output = _serve(
        monkeypatch, tmp_path, DATABASE_URL=f"sqlite:///{database}", SERVICE__METRICS_PORT="0"
    )
    assert code == 2
    assert f"sqlite:///{database} is at revision None" in output.replace("\n", "")
