"""``kohtaanto target-backtest``: the targeting advisor replayed on past contracts.

For a sample of past quota conditions whose deadlines have passed, the advisor assesses each
contract's own condition as of its start (:mod:`targeting.backtest`), and the command writes
``backtest.csv``, ``calibration.csv``, ``backtest-chart.png`` and ``backtest.md`` into
``--out``, printing the figures and the time each step took. Registered on the main app in
:mod:`service.cli`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from service.cli_paths import fail, reason_of, unwritable, writable_dir
from service.settings import get_settings

if TYPE_CHECKING:
    import pandas as pd

    from features.world_store import WorldTables
    from matching.scoring import RankingModel
    from reporting.impact_parameters import ImpactParameters
    from targeting.backtest import Report, Summary

__all__ = ["target_backtest"]

console = Console()

_PER = ("month", "day")
#: Tables the backtest reads: matching (people, skills, vacancies, outcomes) and the ledger.
_TABLES = (
    "organisations",
    "coaches",
    "jobseekers",
    "assessments",
    "skill_observations",
    "contracts",
    "employment_conditions",
    "vacancies",
    "vacancy_skills",
    "outcomes",
)


def _load_world(world_dir: Path | None) -> WorldTables:
    from service.storage.world_io import world_from

    return world_from(world_dir, get_settings().database_url, _TABLES)


def _scorer(
    champion: bool, model: str | None, registry: Path | None
) -> tuple[RankingModel | None, str]:
    """The ranking model and its name: the documented rules by default (they learned nothing,
    so nothing from after any start reaches the replay); ``--model VERSION`` or
    ``--champion`` from the registry (trained on the whole history: who "ranks well" then
    rests on outcomes after most starts, which the report says)."""
    from matching.scoring import RuleBasedScorer
    from training.registry import ModelRegistry, RegistryError

    if not champion and model is None:
        return None, f"rules ({RuleBasedScorer.version})"
    models = ModelRegistry(registry or get_settings().paths.var_dir / "models")
    try:
        version = model or models.champion_version()
        if version is None:
            console.print(
                f"No champion in the registry {models.root}: ranking by the documented rules.",
                markup=False,
                highlight=False,
            )
            return None, f"rules ({RuleBasedScorer.version})"
        return models.load(version), version
    except (RegistryError, OSError) as error:
        fail(f"--model: {error}")


def target_backtest(
    world: Annotated[
        Path | None, typer.Option(help="A folder written by `kohtaanto generate`.")
    ] = None,
    database: Annotated[
        bool,
        typer.Option(
            "--database", help="Use the service database (KOHTAANTO_DATABASE_URL) instead."
        ),
    ] = False,
    out: Annotated[Path, typer.Option(help="Folder to write the backtest into.")] = Path(
        "var/backtest"
    ),
    sample: Annotated[
        int,
        typer.Option(min=1, help="Contracts to backtest, stratified by start month (see --all)."),
    ] = 400,
    every: Annotated[
        bool, typer.Option("--all", help="Backtest every past contract instead of a sample.")
    ] = False,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the sample.")] = 7,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only contracts starting on or after this day (YYYY-MM-DD), e.g. to leave "
            "out a world's first months, before it had any history."
        ),
    ] = None,
    per: Annotated[
        str,
        typer.Option(
            help="One advisor context per start 'month' (as of its first day) or per start 'day'."
        ),
    ] = "month",
    model: Annotated[
        str | None,
        typer.Option(
            help="Rank supply by this registry model (trained on the whole history, so not "
            "strictly as of each start); default: the documented rules."
        ),
    ] = None,
    registry: Annotated[
        Path | None,
        typer.Option(help="Registry folder; default: <var_dir>/models from the settings."),
    ] = None,
    rules: Annotated[
        bool,
        typer.Option(
            "--rules",
            help="Rank by the documented rules (the default: no training data from after any "
            "start is used).",
        ),
    ] = False,
    champion: Annotated[
        bool,
        typer.Option(
            "--champion",
            help="Rank supply by the registry's champion instead (trained on the whole "
            "history, so not strictly as of each start).",
        ),
    ] = False,
    parameters: Annotated[
        Path | None,
        typer.Option(help="Impact parameter file (TOML); default: the shipped 2026 file."),
    ] = None,
) -> None:
    """Replay the targeting advisor on past contracts as of their start; report how well its
    feasibility told fulfilled conditions from unfulfilled ones."""
    first_start = None
    if since is not None:
        try:
            first_start = date.fromisoformat(since)
        except ValueError:
            raise typer.BadParameter(
                f"{since!r} is not a date YYYY-MM-DD", param_hint="--since"
            ) from None
    if per not in _PER:
        raise typer.BadParameter(f"{per!r} is not one of: {', '.join(_PER)}", param_hint="--per")
    if sum((rules, champion, model is not None)) > 1:
        fail("give one of --rules, --champion and --model VERSION")
    if (world is None) == (not database):
        fail("give either --world DIR or --database")
    if world is not None and not (world / "world.json").is_file():
        fail(f"{world} is not a complete generated world (no world.json)")
    writable_dir(out, "--out")

    from reporting.impact_parameters import ParameterError, load_parameters

    try:
        params = load_parameters(parameters)
    except ParameterError as error:
        fail(str(error))
    scorer, model_name = _scorer(champion, model, registry)
    started = time.perf_counter()
    try:
        table, report = _run(
            world, None if every else sample, seed, first_start, per, scorer, model_name, params
        )
    except (ValueError, KeyError) as error:
        console.print(f"backtest failed: {error}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from error
    from targeting.backtest import summaries, write_outputs

    results = summaries(table)
    try:
        written = write_outputs(table, report, out, results)
    except OSError as error:
        # The folder was writable when checked; the disk filled, or it changed since.
        unwritable(out, "--out", reason_of(error))
    console.print(_figures(results))
    elapsed = time.perf_counter() - started
    console.print(f"Backtest written to [bold]{escape(str(out))}[/] in {elapsed:.1f} s:")
    for path in written:
        console.print(f"  {path}", markup=False, highlight=False)


def _run(
    world_dir: Path | None,
    size: int | None,
    seed: int,
    since: date | None,
    per: str,
    scorer: RankingModel | None,
    model_name: str,
    params: ImpactParameters,
) -> tuple[pd.DataFrame, Report]:
    """Every step but writing: the backtest table and what the report says about the run."""
    from features.geography import load_geography
    from features.taxonomy import load_taxonomy
    from reporting.facts import build_facts
    from service.composition import matching_config, profile_config
    from targeting import backtest

    settings = get_settings()
    steps: dict[str, float] = {}

    @contextmanager
    def step(name: str) -> Iterator[None]:
        console.print(f"[bold]{name}[/] ...")
        begun = time.perf_counter()
        yield
        steps[name] = time.perf_counter() - begun
        console.print(f"  {name}: {steps[name]:.1f} s", highlight=False)

    with step("loading the world"):
        world = _load_world(world_dir)
    with step("reference data"):
        taxonomy = load_taxonomy(settings.paths.data_dir, settings.paths.cache_dir)
        geography = load_geography(settings.paths.data_dir, settings.paths.cache_dir)
    with step("fact tables"):
        facts = build_facts(world)
    with step("choosing contracts"):
        population, left_out = backtest.past_contracts(world)
        eligible = [c for c in population if since is None or c.line.starts_on >= since]
        if not eligible:
            raise ValueError(
                f"no quota condition of the world starting on or after {since or 'its start'} "
                f"has a deadline before {world.as_of}: nothing to backtest"
            )
        chosen = backtest.sample_contracts(eligible, size, seed)
        per_kind = cast(backtest.ContextPer, per)
        baselines = backtest.baseline_predictions(facts, population, chosen, per_kind)
        realised = backtest.realised_fulfilment(facts, [c.condition_id for c in chosen])
    console.print(
        f"  {len(chosen)} of {len(eligible)} past quota conditions "
        f"({left_out} performance-based left out); ranking model {model_name}",
        highlight=False,
    )
    with step("matching data"):
        contexts = backtest.advisor_contexts(
            world,
            taxonomy,
            geography,
            scorer,
            params=params,
            config=matching_config(settings),
            profile_config=profile_config(settings),
        )
    with (
        step("replaying the advisor"),
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        task = progress.add_task("replaying", total=len(chosen))

        def on_progress(done: int, total: int, what: str) -> None:
            progress.update(task, completed=done, total=total, description=what)

        replayed, parts = backtest.replay(chosen, contexts, per_kind, on_progress)
    for name, seconds in parts.items():
        console.print(f"    of which {name}: {seconds:.1f} s", highlight=False)
    table = backtest.backtest_table(replayed, realised, baselines)
    report = backtest.Report(
        world=str(world_dir) if world_dir is not None else str(world.root),
        as_of=world.as_of,
        model=model_name,
        per=per_kind,
        population=len(eligible),
        since=since,
        performance_left_out=left_out,
        sample_seed=seed,
        timings={**steps, **{f"replay: {k}": v for k, v in parts.items()}},
    )
    return table, report


def _figures(summaries: list[Summary]) -> Table:
    from targeting.backtest import figure_rows

    table = Table(title="Backtest", title_justify="left")
    table.add_column("figure")
    for summary in summaries:
        table.add_column(summary.predictor, justify="right")
    for name, values in figure_rows(summaries):
        table.add_row(name, *values)
    return table
