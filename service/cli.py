"""The ``kohtaanto`` command: one entry point with a subcommand per job.

Output meant for people goes through rich; library code logs instead of printing. Bad input
exits with status 2 and a message naming what was wrong.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from service.settings import get_settings

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


if __name__ == "__main__":  # pragma: no cover
    app()
