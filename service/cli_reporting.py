"""``kohtaanto stats``: employment-condition statistics and economic impact of a world.

Writes the published (small-cell suppressed) indicator table, the impact table, hires by
target group over time, the reference impact per placement and a manifest into ``--out``,
with ``--contract-types`` also quota and performance contracts side by side (every figure
about hires also by sex, :mod:`reporting.contract_types`), plus PNG charts with ``--charts``.
Registered on the main app in :mod:`service.cli`.
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from reporting.definitions import MIN_PEOPLE, GroupBy, PeriodKind
from service.cli_paths import fail, reason_of, unwritable, writable_dir

__all__ = ["STEPS", "stats"]

console = Console()

STEPS = (
    "loading the world",
    "building fact tables",
    "indicator table",
    "suppressing small cells",
    "economic impact",
    "hires by target group",
    "quota and performance side by side",
    "writing files",
    "charts",
)
_BY = ("municipality", "buyer", "contract", "cpv_division", "country", "period")
_PERIODS = ("month", "quarter", "year")
_FORMATS = ("csv", "json")


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD", param_hint=option) from None


def _choice(value: str | None, allowed: tuple[str, ...], option: str) -> None:
    if value is not None and value not in allowed:
        raise typer.BadParameter(
            f"{value!r} is not one of: {', '.join(allowed)}", param_hint=option
        )


def stats(
    world: Annotated[
        Path | None, typer.Option(help="A folder written by `kohtaanto generate`.")
    ] = None,
    database: Annotated[
        bool,
        typer.Option(
            "--database", help="Use the service database (KOHTAANTO_DATABASE_URL) instead."
        ),
    ] = False,
    out: Annotated[Path, typer.Option(help="Folder to write the tables (and charts) into.")] = Path(
        "var/stats"
    ),
    by: Annotated[str, typer.Option(help=f"Group by: {', '.join(_BY)}.")] = "municipality",
    period: Annotated[
        str | None, typer.Option(help=f"Split each group by {', '.join(_PERIODS)}.")
    ] = None,
    start: Annotated[str | None, typer.Option(help="First day counted (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Day after the last day counted.")] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="Table format: csv or json.")
    ] = "csv",
    charts: Annotated[bool, typer.Option("--charts", help="Also draw PNG charts.")] = False,
    parameters: Annotated[
        Path | None,
        typer.Option(help="Impact parameter file (TOML); default: the shipped 2026 file."),
    ] = None,
    contract_types: Annotated[
        bool,
        typer.Option(
            "--contract-types",
            help="Also compare quota and performance contracts per municipality (per country "
            "with --by country), every figure about hires also by sex.",
        ),
    ] = False,
) -> None:
    """Employment-condition statistics and economic impact, with small cells suppressed."""
    _choice(by, _BY, "--by")
    _choice(period, _PERIODS, "--period")
    _choice(output_format, _FORMATS, "--format")
    first, last = _date(start, "--start"), _date(end, "--end")
    if first is not None and last is not None and last <= first:
        raise typer.BadParameter(f"--end {last} must be after --start {first}")
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
    started = time.perf_counter()
    try:
        written = _run(
            world,
            out,
            cast(GroupBy, by),
            cast(PeriodKind | None, period),
            first,
            last,
            output_format,
            charts,
            params,
            contract_types,
        )
    except (ValueError, KeyError) as error:
        console.print(f"statistics failed: {error}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from error
    except OSError as error:
        unwritable(out, "--out", reason_of(error))
    elapsed = time.perf_counter() - started
    console.print(f"Statistics written to [bold]{escape(str(out))}[/] in {elapsed:.1f} s:")
    for path in written:
        console.print(f"  {path}", markup=False, highlight=False)


def _run(
    world_dir: Path | None,
    out: Path,
    by: GroupBy,
    period: PeriodKind | None,
    start: date | None,
    end: date | None,
    output_format: str,
    draw: bool,
    params: Any,
    compare_types: bool = False,
) -> list[Path]:
    from reporting.charts import (
        contract_type_chart,
        fulfilment_chart,
        impact_chart,
        target_group_chart,
    )
    from reporting.contract_types import (
        NOTES,
        AreaBy,
        contract_type_table,
        publish_contract_type_table,
    )
    from reporting.facts import build_facts
    from reporting.impact import impact_table, reference_impacts
    from reporting.indicators import indicator_table, key_columns
    from reporting.publish import (
        hires_by_target_group,
        publish_impact_table,
        publish_indicator_table,
    )

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    steps = [
        name
        for name in STEPS
        if (draw or name != "charts")
        and (compare_types or name != "quota and performance side by side")
    ]
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(steps[0], total=len(steps))

        def step(name: str) -> None:
            progress.update(task, description=name, completed=steps.index(name))

        tables = (
            "organisations",
            "coaches",
            "jobseekers",
            "assessments",
            "contracts",
            "employment_conditions",
            "vacancies",
            "outcomes",
            "performance_terms",
        )
        from service.settings import get_settings
        from service.storage.world_io import world_from

        world = world_from(world_dir, get_settings().database_url, tables)
        step("building fact tables")
        facts = build_facts(world)
        step("indicator table")
        table_period = period if by != "period" else (period or "quarter")
        keys = key_columns(by, table_period)
        raw = indicator_table(facts, by, table_period, start, end, params=params, totals=True)
        step("suppressing small cells")
        published = publish_indicator_table(raw, keys)
        step("economic impact")
        impact = publish_impact_table(
            impact_table(facts, by, table_period, start, end, params=params, totals=True), keys
        )
        by_country = publish_impact_table(
            impact_table(facts, "country", None, start, end, params=params, totals=True),
            ["country"],
        )
        step("hires by target group")
        tg_period = period or "quarter"
        over_time = publish_indicator_table(
            indicator_table(facts, "period", tg_period, start, end, params=params, totals=True),
            ["period"],
        )
        by_group = hires_by_target_group(over_time)
        area_by: AreaBy = "country" if by == "country" else "municipality"
        side_by_side = None
        if compare_types:
            step("quota and performance side by side")
            from reporting.performance import credited_outcomes

            credited = credited_outcomes(world, facts=facts)
            side_by_side = publish_contract_type_table(
                contract_type_table(facts, area_by, start, end, params=params, credited=credited),
                area_by,
            )
        step("writing files")
        suffix = f"{by}_{table_period}" if table_period and by != "period" else by
        meta = {
            "world": str(world_dir) if world_dir is not None else str(world.root),
            "as_of": world.as_of.isoformat(),
            "generator_version": world.manifest.get("generator_version"),
            "by": by,
            "period": table_period,
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
            "parameters_version": params.version,
            "suppression": f"cells resting on 1-{MIN_PEOPLE - 1} people are hidden (x), "
            "with complementary cells so that no hidden cell follows from published totals",
        }
        outputs = [
            (published, f"indicators_{suffix}"),
            (impact, f"impact_{suffix}"),
            (by_country, "impact_by_country"),
            (by_group, f"hires_by_target_group_{tg_period}"),
        ]
        if side_by_side is not None:
            outputs.append((side_by_side, f"contract_types_{area_by}"))
        side_meta = {**meta, "by": area_by, "period": None, **NOTES}
        for table, name in outputs:
            path = out / f"{name}.{output_format}"
            if output_format == "csv":
                table.to_csv(path)
            else:
                table.to_json(path, side_meta if table is side_by_side else meta)
            written.append(path)
        markdown = out / f"indicators_{suffix}.md"
        markdown.write_text(published.to_markdown() + "\n", encoding="utf-8")
        written.append(markdown)
        reference = out / "impact_reference_12_months.csv"
        reference_impacts(params).round(2).to_csv(reference, index=False)
        written.append(reference)
        manifest = out / "stats.json"
        manifest.write_text(
            json.dumps({**meta, "files": [p.name for p in written]}, indent=2) + "\n", "utf-8"
        )
        written.append(manifest)
        if draw:
            step("charts")
            charts = out / "charts"
            if by in ("municipality", "buyer") and table_period is None:
                written.append(fulfilment_chart(published, charts / f"fulfilment_{by}.png"))
            else:
                plain = publish_indicator_table(
                    indicator_table(
                        facts, "municipality", None, start, end, params=params, totals=True
                    ),
                    ["municipality"],
                )
                written.append(fulfilment_chart(plain, charts / "fulfilment_municipality.png"))
            written.append(target_group_chart(by_group, charts / "hires_by_target_group.png"))
            written.append(impact_chart(by_country, charts / "impact_per_hire.png"))
            if side_by_side is not None:
                written.append(contract_type_chart(side_by_side, charts / "contract_types.png"))
        progress.update(task, description="done", completed=len(steps))
    return written
