"""The ``kohtaanto`` command: one entry point with a subcommand per job.

Output meant for people goes through rich; library code logs instead of printing. Bad input
exits with status 2 and a message naming what was wrong.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

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


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
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
) -> None:
    """Generate a synthetic world: people, assessments, contracts, vacancies, outcomes."""
    from training.synthetic import WorldConfig, generate_world

    day = None
    if as_of is not None:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            message = f"{as_of!r} is not a date YYYY-MM-DD"
            raise typer.BadParameter(message, param_hint="--as-of") from None
    try:
        config = WorldConfig(seekers=seekers, vacancies=vacancies, seed=seed)
        if day is not None:
            config = config.model_copy(update={"as_of": day})
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error

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

        summary = generate_world(config, out, on_step=on_step)
        progress.update(task, description="done", completed=progress.tasks[0].total or 0)
    elapsed = time.perf_counter() - started
    counts = ", ".join(f"{name} {count:,}" for name, count in summary.rows.items())
    console.print(f"World written to [bold]{out}[/] in {elapsed:.1f} s: {counts}")


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
        console.print(f"[red]{error}[/]")
        raise typer.Exit(2) from error
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


def _fail(error: Exception) -> NoReturn:
    console.print(f"[red]{error}[/]")
    raise typer.Exit(2) from error


@model_app.command("list")
def model_list(registry: RegistryOption = None) -> None:
    """List the registered model versions, oldest first; the champion is marked."""
    from rich.table import Table

    from training.registry import RegistryError

    models = _registry(registry)
    try:
        records = models.list()
        champion = models.champion_version()
    except RegistryError as error:
        _fail(error)
    if not records:
        console.print(f"No models in the registry {models.root}.")
        return
    table = Table(title=f"Models in {models.root}")
    table.add_column("Version", no_wrap=True)
    table.add_column("Created (UTC)", no_wrap=True)
    table.add_column("Champion", justify="center")
    table.add_column("Metrics")
    table.add_column("Training data")
    for record in records:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(record.manifest.metrics.items()))
        table.add_row(
            record.version,
            f"{record.created_at:%Y-%m-%d %H:%M:%S}",
            "*" if record.version == champion else "",
            metrics,
            record.manifest.training_fingerprint[:16],
        )
    console.print(table)


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
        _fail(error)
    manifest = record.manifest
    console.print(f"[bold]{record.version}[/]" + (" (champion)" if version == champion else ""))
    console.print(f"  created:             {manifest.created_at.isoformat()}")
    console.print(f"  folder:              {record.path}")
    console.print(f"  model sha256:        {manifest.model_sha256}")
    console.print(f"  feature schema hash: {manifest.feature_schema_hash}")
    console.print(f"  training data:       {manifest.training_fingerprint}")
    libs = ", ".join(f"{k} {v}" for k, v in manifest.library_versions.items())
    console.print(f"  libraries:           {libs}")
    for name, value in sorted(manifest.metrics.items()):
        console.print(f"  metric {name}: {value:.4f}")
    if manifest.notes:
        console.print(f"  notes: {manifest.notes}")


@model_app.command("promote")
def model_promote(
    version: Annotated[str, typer.Argument(help="The model version to serve.")],
    registry: RegistryOption = None,
) -> None:
    """Make a version the champion."""
    from training.registry import RegistryError

    models = _registry(registry)
    try:
        previous = models.champion_version()
        record = models.promote(version)
    except RegistryError as error:
        _fail(error)
    console.print(f"Champion is now [bold]{record.version}[/] (was {previous or 'none'}).")


@model_app.command("rollback")
def model_rollback(registry: RegistryOption = None) -> None:
    """Make the previous champion the champion again."""
    from training.registry import RegistryError

    models = _registry(registry)
    try:
        previous = models.champion_version()
        record = models.rollback()
    except RegistryError as error:
        _fail(error)
    console.print(f"Rolled back: champion is now [bold]{record.version}[/] (was {previous}).")


if __name__ == "__main__":  # pragma: no cover
    app()
