"""``kohtaanto target``: advice on employment conditions for a procurement plan.

Reads a plan CSV (``docs/examples/plan-demo.csv`` shows the columns), a world (``--world``) or
the service database, and writes the advisor's table, supply counts, chart and Markdown
report into ``--out`` (:mod:`targeting.report`). The champion ranking model of the registry
scores the local supply when there is one, the documented rules otherwise. A plan with a bad
line exits with status 2 naming the file, line and field. Registered in :mod:`service.cli`.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from service.cli_paths import fail, reason_of, unwritable, writable_dir

if TYPE_CHECKING:
    from features.world_store import WorldTables
    from matching.scoring import RankingModel

__all__ = ["target"]

console = Console()

#: The tables the advisor and the matching engine read.
_TABLES = (
    "organisations",
    "jobseekers",
    "assessments",
    "skill_observations",
    "working_life_observations",
    "contracts",
    "employment_conditions",
    "vacancies",
    "vacancy_skills",
    "outcomes",
)
_BUYER_KINDS = ("buyer", "central_purchasing_body")


def target(
    plan: Annotated[Path, typer.Option(help="The procurement plan (CSV; see docs/targeting.md).")],
    out: Annotated[Path, typer.Option(help="Folder to write the advice, chart and report into.")],
    world: Annotated[
        Path | None,
        typer.Option(help="A folder written by `kohtaanto generate`; default: the database."),
    ] = None,
    on: Annotated[
        str | None,
        typer.Option(
            help="Advise as of this day (YYYY-MM-DD, not after the world's day); "
            "default: the world's day."
        ),
    ] = None,
    registry: Annotated[
        Path | None,
        typer.Option(help="Model registry folder; default: <var_dir>/models from the settings."),
    ] = None,
    parameters: Annotated[
        Path | None,
        typer.Option(help="Impact parameter file (TOML); default: the shipped 2026 file."),
    ] = None,
    min_feasibility: Annotated[
        float,
        typer.Option(
            min=0.01,
            max=0.99,
            help="Recommend the most hires met with at least this probability.",
        ),
    ] = 0.7,
) -> None:
    """Recommend employment conditions for a procurement plan: who, how many, by when."""
    day: date | None = None
    if on is not None:
        try:
            day = date.fromisoformat(on)
        except ValueError:
            raise typer.BadParameter(
                f"{on!r} is not a date YYYY-MM-DD", param_hint="--on"
            ) from None
    if world is not None and not (world / "world.json").is_file():
        fail(f"--world {world}: not a complete generated world (no world.json)")
    if not plan.is_file():
        fail(f"--plan {plan}: no such file")
    writable_dir(out, "--out")

    from reporting.impact_parameters import ParameterError, load_parameters

    try:
        params = load_parameters(parameters)
    except ParameterError as error:
        fail(str(error))
    started = time.perf_counter()
    try:
        written, seconds_per_line = _run(plan, out, world, day, registry, params, min_feasibility)
    except OSError as error:
        unwritable(out, "--out", reason_of(error))
    elapsed = time.perf_counter() - started
    console.print(
        f"Advice written to [bold]{escape(str(out))}[/] in {elapsed:.1f} s "
        f"({seconds_per_line:.2f} s a plan line):"
    )
    for path in written:
        console.print(f"  {path}", markup=False, highlight=False)


def _load_world(world_dir: Path | None) -> WorldTables:
    from service.settings import get_settings
    from service.storage.world_io import world_from

    return world_from(world_dir, get_settings().database_url, _TABLES)


def _champion(root: Path | None) -> RankingModel | None:
    """The registry's champion, or None (the rules) when there is none."""
    from service.settings import get_settings
    from training.registry import ModelRegistry, RegistryError

    models = ModelRegistry(root if root is not None else get_settings().paths.var_dir / "models")
    if models.champion_version() is None:
        return None
    try:
        return models.load()
    except (RegistryError, OSError) as error:
        fail(f"the champion model of {models.root} cannot be loaded: {error}")


def _run(
    plan_path: Path,
    out: Path,
    world_dir: Path | None,
    day: date | None,
    registry: Path | None,
    params: object,
    min_feasibility: float,
) -> tuple[list[Path], float]:
    from features.geography import load_geography
    from features.matching_data import Vocabularies
    from features.taxonomy import load_taxonomy
    from reporting.impact_parameters import ImpactParameters
    from service.composition import build_engine
    from service.settings import get_settings
    from targeting.advisor import AdvisorSettings, advise, build_context
    from targeting.plan import PlanError, read_plan_csv
    from targeting.report import write_report
    from targeting.supply import SupplyEstimator

    assert isinstance(params, ImpactParameters)
    settings = get_settings()
    taxonomy = load_taxonomy(settings.paths.data_dir, settings.paths.cache_dir)
    geography = load_geography(settings.paths.data_dir, settings.paths.cache_dir)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("loading the world", total=None)
        world = _load_world(world_dir)
        organisations = world.organisations
        kinds = organisations["kind"].astype(str)
        buyers = (
            set(organisations.loc[kinds.isin(_BUYER_KINDS), "organisation_id"].astype(str))
            if len(organisations)
            else None
        )
        try:
            lines = read_plan_csv(plan_path, taxonomy, geography, buyers=buyers)
        except PlanError as error:
            progress.stop()
            fail(str(error))
        as_of = world.as_of if day is None else day
        if as_of > world.as_of:
            progress.stop()
            fail(f"--on {as_of}: after the world's day {world.as_of}; the future is unknown")

        progress.update(task, description="building the matching engine")
        engine = build_engine(world, settings)
        scorer = _champion(registry)
        if scorer is not None:
            engine.set_scorer(scorer)
        vocab = Vocabularies.build(taxonomy, geography)
        if as_of == world.as_of:
            supply = SupplyEstimator.live(engine, vocab, taxonomy, as_of)
        else:
            places = sorted({line.municipality for line in lines})
            supply = SupplyEstimator.as_of(
                world, engine.data, taxonomy, vocab, scorer, as_of, places, config=engine.config
            )
        progress.update(task, description="learning from the history")
        context = build_context(
            world,
            as_of,
            supply,
            taxonomy,
            geography,
            params,
            settings=AdvisorSettings(min_feasibility=min_feasibility),
        )

        progress.update(task, description="advising", completed=0, total=len(lines))
        advices = []
        started = time.perf_counter()
        for index, line in enumerate(lines):
            progress.update(task, description=f"advising {line.line_id}", completed=index)
            advices.append(advise(line, context))
        seconds_per_line = (time.perf_counter() - started) / max(len(lines), 1)
        progress.update(task, description="writing the report", completed=len(lines))
        meta = {
            "plan": str(plan_path),
            "world": str(world_dir) if world_dir is not None else str(world.root),
            "as_of": as_of.isoformat(),
            "ranking": engine.scorer.version,
            "impact_parameters": params.version,
            "minimum feasibility": f"{min_feasibility:.0%}",
        }
        written = write_report(advices, out, meta, context.mix.label)
        progress.update(task, description="done")
    return written, seconds_per_line
