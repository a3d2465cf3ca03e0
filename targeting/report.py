"""The advisor's answer for a plan as files: table, supply counts, chart and Markdown report.

What a procurement unit reads, so no person is named or identified anywhere: supply is
counts of people by target group, and a count resting on 1 to ``MIN_PEOPLE − 1`` people
(:data:`reporting.definitions.MIN_PEOPLE`) is published as ``<5``. The group counts overlap
(one person may belong to several groups) and no total of them is published, so no hidden
count follows from the others.

:func:`write_report` writes into a folder:

- ``advice.csv``: one row per plan line: occupations, well-ranked people by group (the most
  for any one occupation: a person may rank well for several), those of the condition's
  groups, the competing vacancies and openings (summed over the occupation groups), the
  recommended condition — a quota, a performance-based offer with its price per point, cap
  and expected payment, or none (with the figures of a one-hire condition) — its
  feasibility and 80 % interval, the expected impact;
- ``supply.csv``: line × occupation × target group: people within reach who pass the
  engine's filters and who rank well, and the competing vacancies;
- ``profiles.csv``: the best-ranked people of each line's condition, per occupation, as a
  procurement unit may see them (target group, distance band, skill coverage, probability,
  rank), listed only where at least ``MIN_PEOPLE`` share their group;
- ``plan-chart.png``: the lines ranked by expected employment impact, coloured by
  feasibility;
- ``report.md``: the table and each line's reasons in plain language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display in a server or CI

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from reporting.definitions import MIN_PEOPLE
from reporting.impact import STAKEHOLDERS
from targeting.types import Advice, Supply

__all__ = [
    "ADVICE_COLUMNS",
    "PROFILE_COLUMNS",
    "SUPPLY_COLUMNS",
    "advice_table",
    "markdown_table",
    "people_count",
    "plan_chart",
    "profile_table",
    "report_markdown",
    "supply_table",
    "write_report",
]

Label = Callable[[str], str]

ADVICE_COLUMNS: tuple[str, ...] = (
    "line_id",
    "buyer",
    "cpv_codes",
    "municipality",
    "value_eur",
    "starts_on",
    "duration_months",
    "occupations",
    "occupation_source",
    "staff_estimate",
    "supply_by_group",
    "well_ranked",
    "competing_vacancies",
    "competing_openings",
    "recommended",
    "condition_kind",
    "target_groups",
    "hires",
    "job_forms",
    "deadline",
    "feasibility",
    "expected_hires",
    "hires_low",
    "hires_high",
    "price_per_point_eur",
    "cap_eur",
    "expected_payment_eur",
    *(f"impact_{s}_eur" for s in STAKEHOLDERS),
    "impact_total_eur",
)
SUPPLY_COLUMNS: tuple[str, ...] = (
    "line_id",
    "occupation_uri",
    "occupation",
    "isco_code",
    "share",
    "target_group",
    "job_form",
    "admissible",
    "well_ranked",
    "competing_vacancies",
    "competing_openings",
)
#: How a count of 1 to MIN_PEOPLE - 1 people is published.
HIDDEN = f"<{MIN_PEOPLE}"
SIZE_INCHES = (12.0, 7.0)
DPI = 100


def people_count(n: int) -> str:
    """A count of people as published: ``<5`` for 1-4, else the number."""
    return HIDDEN if 0 < n < MIN_PEOPLE else str(int(n))


def _groups(groups: Sequence[str]) -> str:
    return "+".join(groups) if groups else "none"


def _group_supply(advice: Advice) -> dict[str, int]:
    """Well-ranked people per group: the most for any one occupation of the line.

    Not the sum over occupations: one person may rank well for several of them, and the
    largest count is what the line can at least draw on.
    """
    out: dict[str, int] = {}
    for supply in advice.supply_by_group:
        group = _groups(supply.vacancy.target_groups)
        out[group] = max(out.get(group, 0), supply.well_ranked)
    return out


def advice_table(advices: Sequence[Advice], label: Label = str) -> pd.DataFrame:
    """One row per plan line, counts of people published (see the module docstring)."""
    rows = []
    for advice in advices:
        line, condition = advice.line, advice.condition
        terms = condition.performance if condition else None
        by_group = _group_supply(advice)
        impact = advice.expected_impact_eur
        rows.append(
            {
                "line_id": line.line_id,
                "buyer": line.buyer,
                "cpv_codes": ";".join(line.cpv_codes),
                "municipality": line.municipality,
                "value_eur": line.value_eur,
                "starts_on": line.starts_on.isoformat(),
                "duration_months": line.duration_months,
                "occupations": "; ".join(
                    f"{label(o.occupation_uri)} {o.share:.0%}" for o in advice.occupations
                ),
                "occupation_source": advice.occupations[0].source if advice.occupations else "",
                "staff_estimate": round(advice.staff_estimate, 2),
                "supply_by_group": "; ".join(
                    f"{group}: {people_count(n)}" for group, n in by_group.items()
                ),
                "well_ranked": people_count(max((s.well_ranked for s in advice.supply), default=0)),
                "competing_vacancies": sum(s.competing_vacancies for s in advice.supply),
                "competing_openings": sum(s.competing_openings for s in advice.supply),
                "recommended": condition is not None,
                "condition_kind": condition.kind if condition else "",
                "target_groups": _groups(condition.target_groups) if condition else "",
                "hires": condition.hires if condition else 0,
                "job_forms": "+".join(condition.job_forms) if condition else "",
                "deadline": condition.deadline.isoformat() if condition else "",
                "feasibility": round(advice.feasibility, 3),
                "expected_hires": round(advice.expected_hires, 2),
                "hires_low": advice.hires_interval[0],
                "hires_high": advice.hires_interval[1],
                "price_per_point_eur": terms.price_per_point_eur if terms else None,
                "cap_eur": round(terms.cap_eur, 0) if terms else None,
                "expected_payment_eur": round(terms.expected_payment_eur, 0) if terms else None,
                **{f"impact_{s}_eur": round(impact.get(s, 0.0), 0) for s in STAKEHOLDERS},
                "impact_total_eur": round(sum(impact.get(s, 0.0) for s in STAKEHOLDERS), 0),
            }
        )
    return pd.DataFrame(rows, columns=list(ADVICE_COLUMNS))


def _supply_row(advice: Advice, supply: Supply, label: Label) -> dict[str, object]:
    shares = {o.occupation_uri: o for o in advice.occupations}
    share = shares.get(supply.vacancy.occupation_uri)
    return {
        "line_id": advice.line.line_id,
        "occupation_uri": supply.vacancy.occupation_uri,
        "occupation": label(supply.vacancy.occupation_uri),
        "isco_code": share.isco_code if share else "",
        "share": round(share.share, 4) if share else 0.0,
        "target_group": _groups(supply.vacancy.target_groups),
        "job_form": supply.vacancy.job_form,
        "admissible": people_count(supply.admissible),
        "well_ranked": people_count(supply.well_ranked),
        "competing_vacancies": supply.competing_vacancies,
        "competing_openings": supply.competing_openings,
    }


def supply_table(advices: Sequence[Advice], label: Label = str) -> pd.DataFrame:
    """Line × occupation × target group: each weak-position group alone, then the
    recommended (or given) condition's groups together."""
    rows: list[dict[str, object]] = []
    for advice in advices:
        rows.extend(_supply_row(advice, s, label) for s in advice.supply_by_group)
        rows.extend(_supply_row(advice, s, label) for s in advice.supply)
    return pd.DataFrame(rows, columns=list(SUPPLY_COLUMNS))


#: One well-ranked person as a procurement unit may see them: no name, id, age, sex, origin
#: or health; the target group is the one that decides their eligibility.
PROFILE_COLUMNS: tuple[str, ...] = (
    "line_id",
    "occupation",
    "rank",
    "target_group",
    "distance_band",
    "required_coverage",
    "probability",
)


def profile_table(advices: Sequence[Advice], label: Label = str) -> pd.DataFrame:
    """The best-ranked people of each line's condition, per occupation, best first.

    A person is listed only when at least :data:`~reporting.definitions.MIN_PEOPLE`
    well-ranked people share their target group for that occupation, so no listed profile
    stands for a group of one to four people.
    """
    rows: list[dict[str, object]] = []
    for advice in advices:
        for supply in advice.supply:
            for profile in supply.profiles:
                if supply.by_target_group.get(profile.target_group, 0) < MIN_PEOPLE:
                    continue
                rows.append(
                    {
                        "line_id": advice.line.line_id,
                        "occupation": label(supply.vacancy.occupation_uri),
                        "rank": profile.rank,
                        "target_group": profile.target_group,
                        "distance_band": profile.distance_band,
                        "required_coverage": round(profile.required_coverage, 3),
                        "probability": (
                            None if profile.probability is None else round(profile.probability, 4)
                        ),
                    }
                )
    return pd.DataFrame(rows, columns=list(PROFILE_COLUMNS))


def plan_chart(advices: Sequence[Advice], path: Path, title: str = "") -> Path:
    """The lines ranked by expected employment impact (EUR, all stakeholders), the bar
    coloured by the feasibility of the recommended condition (or of one hire)."""
    totals = [sum(a.expected_impact_eur.get(s, 0.0) for s in STAKEHOLDERS) for a in advices]
    order = np.argsort(-np.asarray(totals, dtype=np.float64), kind="stable")
    ranked = [advices[i] for i in order]
    values = [totals[i] for i in order]
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    ax = figure.subplots()
    colour_map = colormaps["RdYlGn"]
    norm = Normalize(vmin=0.0, vmax=1.0)
    y = np.arange(len(ranked))
    colours = [colour_map(norm(a.feasibility)) for a in ranked]
    ax.barh(y, values, color=colours, edgecolor="#333333", linewidth=0.5)
    labels = []
    for advice in ranked:
        condition = advice.condition
        if condition is None:
            what = "no condition"
        elif condition.performance is not None:
            what = f"performance, cap EUR {condition.performance.cap_eur:,.0f}"
        else:
            what = f"{condition.hires} hire{'s' if condition.hires != 1 else ''}"
        labels.append(f"{advice.line.line_id} ({what})")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    for position, (advice, value) in enumerate(zip(ranked, values, strict=True)):
        ax.annotate(
            f"{advice.feasibility:.0%}",
            (max(value, 0.0), position),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_xlabel("expected employment impact, EUR (person + municipality + state)")
    ax.set_title(title or "Plan lines by expected employment impact (label: feasibility)")
    figure.colorbar(
        matplotlib.cm.ScalarMappable(norm=norm, cmap=colour_map),
        ax=ax,
        label="feasibility: P(quota met by its deadline); performance: P(a paid hire)",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=DPI)
    return path


def markdown_table(frame: pd.DataFrame) -> str:
    """``frame`` as a Markdown table (a ``|`` inside a cell written ``/``)."""
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = [
        "| " + " | ".join(str(v).replace("|", "/") for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])


def _readable(values: Sequence[str]) -> str:
    return ", ".join(value.replace("_", " ") for value in values)


def _condition_text(advice: Advice) -> str:
    condition = advice.condition
    if condition is None:
        return "none (figures: a one-hire condition)" if advice.occupations else "none"
    terms = condition.performance
    if terms is not None:
        return (
            f"performance-based: EUR {terms.price_per_point_eur:,.0f} a point, cap EUR "
            f"{terms.cap_eur:,.0f}, {_readable(condition.target_groups)}; "
            f"{_readable(condition.job_forms)}; until {condition.deadline}"
        )
    return (
        f"{condition.hires} × {_readable(condition.target_groups)}; "
        f"{_readable(condition.job_forms)}; by {condition.deadline}"
    )


def report_markdown(
    advices: Sequence[Advice],
    meta: Mapping[str, object],
    label: Label = str,
    table: pd.DataFrame | None = None,
) -> str:
    """The Markdown report: what was asked, the table, and each line's reasons.

    ``table`` is :func:`advice_table` of the same advices when the caller has it already."""
    if table is None:
        table = advice_table(advices, label)
    recommended = int(table["recommended"].sum()) if len(table) else 0
    performance = int((table["condition_kind"] == "performance").sum()) if len(table) else 0
    summary = pd.DataFrame(
        {
            "line": table["line_id"],
            "occupations": table["occupations"],
            "condition": [_condition_text(advice) for advice in advices],
            "feasibility": [f"{v:.0%}" for v in table["feasibility"]],
            "hires (80 %)": [
                f"{e:.1f} ({lo}–{hi})"
                for e, lo, hi in zip(
                    table["expected_hires"], table["hires_low"], table["hires_high"], strict=True
                )
            ],
            "impact EUR": [f"{v:,.0f}" for v in table["impact_total_eur"]],
        }
    )
    lines = [
        "# Targeting employment conditions: advice for the procurement plan",
        "",
        *(f"- {key.replace('_', ' ')}: {value}" for key, value in meta.items()),
        "",
        f"{len(advices)} plan lines; a condition is recommended for {recommended} "
        f"({performance} of them performance-based). "
        "Feasibility is the probability that a quota is met by its deadline (for a "
        "performance-based condition: that it buys at least one hire); "
        "hires are those credited to the condition, with their 80 % interval; impact is the "
        "expected economic impact of those hires for the person, the municipality and the "
        f"state. Counts of 1-{MIN_PEOPLE - 1} people are shown as {HIDDEN}.",
        "",
        markdown_table(summary),
        "",
        "![Plan lines by expected employment impact](plan-chart.png)",
        "",
        "## Reasons, line by line",
    ]
    for advice in advices:
        line = advice.line
        lines += [
            "",
            f"### {line.line_id}: {', '.join(line.cpv_codes)} in {line.municipality}, "
            f"EUR {line.value_eur:,.0f}, {line.duration_months} months from {line.starts_on}",
            "",
            *(f"- {reason}" for reason in advice.reasons),
        ]
    lines += [
        "",
        "## Method",
        "",
        "See docs/targeting.md: the occupation mix is learned from the vacancies suppliers "
        "opened under past contracts of the same CPV division (a documented table where there "
        "are too few); supply is the matching engine run on the vacancies the supplier would "
        "open; fill rates come from the time to fill of past vacancies of the occupations in "
        "the area (Kaplan-Meier, shrunk toward the occupation nationally).",
        "",
    ]
    return "\n".join(lines)


def write_report(
    advices: Sequence[Advice], out: Path, meta: Mapping[str, object], label: Label = str
) -> list[Path]:
    """Write ``advice.csv``, ``supply.csv``, ``profiles.csv``, ``plan-chart.png`` and
    ``report.md`` into ``out`` (created when missing); returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    advice_path = out / "advice.csv"
    table = advice_table(advices, label)
    table.to_csv(advice_path, index=False)
    supply_path = out / "supply.csv"
    supply_table(advices, label).to_csv(supply_path, index=False)
    profiles_path = out / "profiles.csv"
    profile_table(advices, label).to_csv(profiles_path, index=False)
    chart_path = plan_chart(advices, out / "plan-chart.png")
    report_path = out / "report.md"
    report_path.write_text(report_markdown(advices, meta, label, table), encoding="utf-8")
    return [advice_path, supply_path, profiles_path, chart_path, report_path]
