"""The ``kohtaanto`` command: one entry point with a subcommand per job.

Output meant for people goes through rich; library code logs instead of printing. Bad input
exits with status 2 and a message naming what was wrong.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from service.cli_backtest import target_backtest
from service.cli_paths import fail, reason_of, unwritable, writable_dir
from service.cli_reporting import stats
from service.cli_storage import print_json
from service.cli_storage import register as register_storage_commands
from service.cli_targeting import target
from service.settings import get_settings

if TYPE_CHECKING:
    from training.registry import ModelRegistry

app = typer.Typer(
    name="kohtaanto",
    help="Kohtaanto: job matching for employment conditions in public procurement.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
app.command()(stats)
app.command()(target)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        # Plain stdout: scripts compare this line.
        typer.echo(f"kohtaanto {version('kohtaanto')}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Kohtaanto command-line interface."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the world's Parquet files into.")],
    seekers: Annotated[int, typer.Option(min=1, help="Number of jobseekers.")] = 3000,
    vacancies: Annotated[int, typer.Option(min=1, help="Number of vacancies.")] = 1000,
    seed: Annotated[int, typer.Option(min=0, help="Random seed; same seed, same world.")] = 7,
    as_of: Annotated[
        str | None, typer.Option(help="The world's 'today' (YYYY-MM-DD); a fixed default.")
    ] = None,
    hidden_model: Annotated[
        str,
        typer.Option(
            "--hidden-model",
            help="The hidden world: additive (default; every term linear), thresholds "
            "(cut-offs, weakest skill, unreliable certificates) or interactions (skills × "
            "work-ability fit × reach, unreliable observation).",
        ),
    ] = "additive",
) -> None:
    """Generate a synthetic world: people, assessments, contracts, vacancies, outcomes."""
    from training.synthetic import HIDDEN_MODEL_NAMES, WorldConfig, generate_world

    if hidden_model not in HIDDEN_MODEL_NAMES:
        message = f"{hidden_model!r} is not one of {', '.join(HIDDEN_MODEL_NAMES)}"
        raise typer.BadParameter(message, param_hint="--hidden-model")

    day = None
    if as_of is not None:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            message = f"{as_of!r} is not a date YYYY-MM-DD"
            raise typer.BadParameter(message, param_hint="--as-of") from None
    try:
        config = WorldConfig.model_validate(
            {"seekers": seekers, "vacancies": vacancies, "seed": seed, "hidden_model": hidden_model}
        )
        if day is not None:
            config = config.model_copy(update={"as_of": day})
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error

    writable_dir(out, "--out")
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("generating", total=None)

        def on_step(name: str, index: int, total: int) -> None:
            progress.update(task, description=name, completed=index, total=total)

        try:
            summary = generate_world(config, out, on_step=on_step)
        except OSError as error:
            # The folder was writable when checked; the disk filled, or it changed since.
            progress.stop()
            unwritable(out, "--out", reason_of(error))
        progress.update(task, description="done", completed=progress.tasks[0].total or 0)
    elapsed = time.perf_counter() - started
    counts = ", ".join(f"{name} {count:,}" for name, count in summary.rows.items())
    console.print(f"World written to [bold]{escape(str(out))}[/] in {elapsed:.1f} s: {counts}")


@app.command()
def demo(
    world: Annotated[Path, typer.Option(help="A folder written by `kohtaanto generate`.")],
    people: Annotated[int, typer.Option(min=1, max=50, help="Demo jobseekers to show.")] = 3,
    top: Annotated[int, typer.Option(min=1, max=50, help="Vacancies per jobseeker.")] = 5,
) -> None:
    """Print the best open vacancies for a few demo jobseekers, with a reason for each."""
    from service.demo import render_demo, run_demo

    settings = get_settings()
    try:
        result = run_demo(world, settings, people=people, top=top)
    except FileNotFoundError as error:
        fail(error)
    render_demo(result, console)


model_app = typer.Typer(
    name="model",
    help="The model registry: list, show, promote and roll back ranking models.",
    no_args_is_help=True,
)
app.add_typer(model_app, name="model")

RegistryOption = Annotated[
    Path | None,
    typer.Option(
        "--registry", help="Registry folder; default: <var_dir>/models from the settings."
    ),
]


def _registry(root: Path | None) -> ModelRegistry:
    from training.registry import ModelRegistry

    return ModelRegistry(root if root is not None else get_settings().paths.var_dir / "models")


@model_app.command("list")
def model_list(
    registry: RegistryOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array instead of a table.")
    ] = False,
) -> None:
    """List the registered model versions, oldest first; the champion is marked."""
    from training.registry import RegistryError

    models = _registry(registry)
    try:
        records = models.list()
        champion = models.champion_version()
    except RegistryError as error:
        fail(error)
    if as_json:
        print_json(
            [
                {
                    "version": record.version,
                    "created_at": record.created_at.isoformat(),
                    "champion": record.version == champion,
                    "path": str(record.path),
                    "metrics": record.manifest.metrics,
                    "notes": record.manifest.notes,
                }
                for record in records
            ]
        )
        return
    if not records:
        console.print(f"No models in the registry {models.root}.", markup=False)
        return
    # The headline figures only (outcome concordance of each direction), in plain columns that
    # fit 80 characters: a manifest also holds recall@20 for every group (a hundred regions)
    # and the training-data fingerprint, which `model show VERSION` lists.
    console.print(f"Models in {models.root} (* the champion):", soft_wrap=True, markup=False)
    console.print(f"  {'version':<27} {'created (UTC)':<16} {'shortl.':>7} {'matches':>7}  gate")
    for record in records:
        metrics = record.manifest.metrics
        figures = [f"{metrics[n]:.4f}" if n in metrics else "-" for n in LISTED_METRICS]
        mark = "*" if record.version == champion else " "
        console.print(
            f"{mark} {record.version:<27} {record.created_at:%Y-%m-%d %H:%M} "
            f"{figures[0]:>7} {figures[1]:>7}  {_gate_verdict(record.manifest.notes)}",
            soft_wrap=True,
            highlight=False,
        )


#: The headline figure ``model list`` shows per version: outcome concordance per direction.
LISTED_METRICS = ("shortlist/outcome_concordance", "matches/outcome_concordance")


def _gate_verdict(notes: str | None) -> str:
    """``passed``, ``refused (N reasons)`` or the manifest's notes as they are."""
    if not notes:
        return "-"
    from training.registry import refused_reasons

    reasons = refused_reasons(notes)
    if reasons is not None:
        return f"refused ({len(reasons)})"
    return notes.removeprefix("gate ")


@model_app.command("show")
def model_show(
    version: Annotated[str, typer.Argument(help="The model version.")],
    registry: RegistryOption = None,
) -> None:
    """Show one version's manifest."""
    from training.registry import RegistryError

    models = _registry(registry)
    try:
        record = models.show(version)
        champion = models.champion_version()
    except RegistryError as error:
        fail(error)
    manifest = record.manifest
    console.print(f"[bold]{record.version}[/]" + (" (champion)" if version == champion else ""))
    console.print(f"  created:             {manifest.created_at.isoformat()}")
    console.print(f"  folder:              {record.path}", markup=False)
    console.print(f"  model sha256:        {manifest.model_sha256}")
    for direction, digest in sorted(manifest.model_files.items()):
        calibrated = "calibrated" if direction in manifest.calibration else "not calibrated"
        console.print(f"  {direction + ':':<20} sha256 {digest[:16]}..., {calibrated}")
    console.print(f"  feature schema hash: {manifest.feature_schema_hash}")
    console.print(f"  training data:       {manifest.training_fingerprint}")
    libs = ", ".join(f"{k} {v}" for k, v in manifest.library_versions.items())
    console.print(f"  libraries:           {libs}")
    for name, value in sorted(manifest.metrics.items()):
        console.print(f"  metric {name}: {value:.4f}")
    if manifest.notes:
        console.print(f"  notes: {manifest.notes}", markup=False)


@model_app.command("promote")
def model_promote(
    version: Annotated[str, typer.Argument(help="The model version to serve.")],
    registry: RegistryOption = None,
) -> None:
    """Make a version the champion."""
    from training.registry import RegistryError

    models = _registry(registry)
    writable_dir(models.root, "--registry")
    try:
        previous = models.champion_version()
        record = models.promote(version)
    except RegistryError as error:
        fail(error)
    console.print(f"Champion is now [bold]{record.version}[/] (was {previous or 'none'}).")


@model_app.command("rollback")
def model_rollback(registry: RegistryOption = None) -> None:
    """Make the previous champion the champion again."""
    from training.registry import RegistryError

    models = _registry(registry)
    writable_dir(models.root, "--registry")
    try:
        previous = models.champion_version()
        record = models.rollback()
    except RegistryError as error:
        fail(error)
    console.print(f"Rolled back: champion is now [bold]{record.version}[/] (was {previous}).")


@app.command()
def retrain(
    world: Annotated[
        Path | None, typer.Option(help="A folder written by `kohtaanto generate`.")
    ] = None,
    database: Annotated[
        bool,
        typer.Option(
            "--database",
            help="Train on the service database (KOHTAANTO_DATABASE_URL) and the exposures its "
            "audit log recorded, instead of a generated world.",
        ),
    ] = False,
    registry: RegistryOption = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="TOML file with [dataset], [ranker] and [gate] tables (strict); the options "
            "below override it."
        ),
    ] = None,
    objective: Annotated[
        str | None,
        typer.Option(help="Objective: binary (P(hire | proposed)), lambdarank or rank_xendcg."),
    ] = None,
    num_trees: Annotated[
        int | None,
        typer.Option(min=1, max=5000, help="Most boosting rounds (early stopping may use fewer)."),
    ] = None,
    valid_weeks: Annotated[
        int | None, typer.Option(min=1, help="Weeks of validation data.")
    ] = None,
    test_weeks: Annotated[
        int | None, typer.Option(min=1, help="Weeks of held-out test data.")
    ] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="LightGBM training threads.")] = None,
    dask: Annotated[
        str | None, typer.Option("--dask", help="Train on the Dask scheduler tcp://HOST:8786.")
    ] = None,
    dask_local: Annotated[
        int | None,
        typer.Option("--dask-local", min=1, help="Train on a local Dask cluster of N workers."),
    ] = None,
) -> None:
    """Train a challenger on a world, gate it against the champion, register and maybe promote.

    After a promotion the running service is asked to reload when KOHTAANTO_RELOAD__URL (and
    KOHTAANTO_RELOAD__TOKEN) are set. Exit status 0: the challenger was promoted; 3: the
    champion was kept; 2: bad input; 1: the run failed.
    """
    from pydantic import ValidationError

    from training.pipeline import STEPS, RetrainConfig, RetrainConfigError, load_retrain_config
    from training.pipeline import retrain as run_retrain

    if objective is not None and objective not in ("binary", "lambdarank", "rank_xendcg"):
        raise typer.BadParameter(
            f"{objective!r} is not binary, lambdarank or rank_xendcg", param_hint="--objective"
        )
    if dask is not None and dask_local is not None:
        fail("--dask and --dask-local are mutually exclusive; give one")
    if (world is None) == (not database):
        fail("give either --world DIR or --database")
    if world is not None and not (world / "world.json").is_file():
        fail(f"{world} is not a complete generated world (no world.json)")
    try:
        run_config = load_retrain_config(config) if config is not None else RetrainConfig()
        ranker_overrides = {
            key: value
            for key, value in (
                ("objective", objective),
                ("num_trees", num_trees),
                ("num_threads", threads),
            )
            if value is not None
        }
        dataset_overrides = {
            key: value
            for key, value in (("valid_weeks", valid_weeks), ("test_weeks", test_weeks))
            if value is not None
        }
        ranker_config = type(run_config.ranker).model_validate(
            {**run_config.ranker.model_dump(), **ranker_overrides}
        )
        dataset_config = type(run_config.dataset).model_validate(
            {**run_config.dataset.model_dump(), **dataset_overrides}
        )
    except (RetrainConfigError, ValidationError) as error:
        fail(error)
    models = _registry(registry)
    writable_dir(models.root, "--registry")
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("starting", total=len(STEPS))

            def on_step(name: str, index: int, total: int) -> None:
                progress.update(task, description=name, completed=index, total=total)

            result = run_retrain(
                world,
                models,
                database_url=get_settings().database_url if database else None,
                dataset_config=dataset_config,
                ranker_config=ranker_config,
                gate_config=run_config.gate,
                settings=get_settings(),
                on_step=on_step,
                dask_address=dask,
                dask_local_workers=dask_local,
            )
            progress.update(task, description="done", completed=len(STEPS))
    except FileNotFoundError as error:
        fail(error)
    except Exception as error:
        console.print(
            f"retraining failed: {type(error).__name__}: {error}",
            style="red",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(1) from error
    timings = ", ".join(f"{name} {secs:.2f} s" for name, secs in result.step_seconds.items())
    console.print(f"Steps: {timings}")
    for direction, report in result.reports.items():
        console.print(
            f"  {direction}: {'ranking':<13} {'concordance':>15} {'SNIPS hires@10':>14} "
            f"{'logged NDCG@10':>14}"
        )
        for ranking in report.overall.index:
            name = str(ranking)
            console.print(
                f"  {'':<{len(direction) + 1}} {name:<13} "
                f"{report.metric(name, 'outcome_concordance'):>15.4f} "
                f"{report.metric(name, 'snips_hires@10'):>14.4f} "
                f"{report.metric(name, 'ndcg@10'):>14.4f}",
                highlight=False,
            )
    if result.promoted:
        console.print(
            f"Promoted [bold]{result.version}[/] (was {result.champion_before or 'none'}); "
            f"service reload: {result.notified}."
        )
        return
    console.print(
        f"Registered [bold]{result.version}[/] but kept the champion "
        f"{result.champion_before or 'none'}:"
    )
    # A bad model fails the rule for dozens of regions at once; the first few say enough, the
    # log and `model show` keep all of them.
    for reason in result.reasons[:SHOWN_REASONS]:
        console.print(f"  - {reason}", markup=False)
    if len(result.reasons) > SHOWN_REASONS:
        console.print(
            f"  ... and {len(result.reasons) - SHOWN_REASONS} more "
            f"(all in `kohtaanto model show {result.version}`)"
        )
    raise typer.Exit(3)


#: Gate reasons ``retrain`` prints before referring to ``model show``.
SHOWN_REASONS = 12


# The service commands live in their own module; registered here so `kohtaanto --help` lists
# every command in one place.
from service.cli_service import audit_app, serve  # noqa: E402

app.command()(serve)
app.add_typer(audit_app, name="audit")

register_storage_commands(app)  # db, load, users (service/cli_storage.py)
app.command("target-backtest")(target_backtest)

if __name__ == "__main__":  # pragma: no cover
    app()
