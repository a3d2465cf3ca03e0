"""PNG charts of the published (suppressed) tables, drawn with matplotlib's Agg backend.

Charts are drawn from :class:`~reporting.publish.PublishedTable` objects only, so a chart
never shows a figure the tables hide. Figures are built with :class:`matplotlib.figure.Figure`
directly (no pyplot state), which is safe in a server process.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot: no display in a server or CI

import numpy as np
from matplotlib.figure import Figure

from matching.domain import TargetGroup
from reporting.definitions import CONTRACT_TYPES, SEX_GROUPS, TOTAL, sex_column
from reporting.impact import STAKEHOLDERS
from reporting.publish import PublishedTable

__all__ = [
    "DPI",
    "SIZE_INCHES",
    "contract_type_chart",
    "fulfilment_chart",
    "impact_chart",
    "target_group_chart",
]

#: Every chart is SIZE_INCHES at DPI: 1200 x 700 pixels.
SIZE_INCHES = (12.0, 7.0)
DPI = 100
_COLOURS = ("#1f4e79", "#2e86c1", "#f39c12", "#27ae60", "#8e44ad", "#c0392b", "#7f8c8d")


def _figure() -> Figure:
    return Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=DPI)
    return path


def fulfilment_chart(published: PublishedTable, path: Path, top: int = 25) -> Path:
    """Hires required and hires credited side by side per municipality (or buyer).

    The ``top`` groups with the most hires required are drawn, sorted by it; a hidden
    credited figure is drawn as an ``x`` instead of a bar.
    """
    key = published.keys[0]
    if "period" in published.keys:
        raise ValueError("the fulfilment chart needs a table without a period split")
    values = published.values
    rows = values[values[key] != TOTAL].sort_values("hires_required", ascending=False).head(top)
    labels = [
        f"{name} ({code})" if isinstance(name, str) and name else str(code)
        for code, name in zip(rows[key], rows.get("name", rows[key]), strict=True)
    ]
    x = np.arange(len(rows))
    figure = _figure()
    ax = figure.subplots()
    width = 0.4
    ax.bar(
        x - width / 2,
        rows["hires_required"].fillna(0),
        width,
        label="hires required",
        color=_COLOURS[0],
    )
    credited = rows["hires_credited"]
    ax.bar(
        x + width / 2, credited.fillna(0), width, label="hires made (credited)", color=_COLOURS[2]
    )
    hidden = published.hidden.loc[rows.index, "hires_credited"].to_numpy()
    for position in x[hidden]:
        ax.annotate("x", (position + width / 2, 0), ha="center", va="bottom", fontsize=10)
    ax.set_xticks(x, labels, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("hires")
    ax.set_title(
        f"Employment conditions: hires required and made, top {len(rows)} by requirement "
        "(x = hidden, fewer than 5 people)"
    )
    ax.legend()
    return _save(figure, path)


def target_group_chart(published: PublishedTable, path: Path) -> Path:
    """Hires made per period stacked by deciding target group.

    ``published`` is :func:`reporting.publish.hires_by_target_group`. Hidden cells are drawn
    together as one grey "hidden" segment (hires made minus the published groups, which the
    published figures already imply); a period whose total is hidden is left out.
    """
    values = published.values
    rows = values[values["period"] != TOTAL].reset_index(drop=True)
    groups = [g.value for g in TargetGroup]
    figure = _figure()
    ax = figure.subplots()
    x = np.arange(len(rows))
    bottom = np.zeros(len(rows))
    total = rows["hires_made"].to_numpy(dtype=float)
    shown = ~np.isnan(total)
    for colour, group in zip(_COLOURS, groups, strict=False):
        heights = np.where(shown, rows[group].fillna(0).to_numpy(dtype=float), 0.0)
        ax.bar(x, heights, bottom=bottom, label=group.replace("_", " "), color=colour)
        bottom += heights
    rest = np.where(shown, total - bottom, 0.0)
    ax.bar(
        x,
        np.maximum(rest, 0),
        bottom=bottom,
        label="hidden (fewer than 5 people)",
        color="#d5d8dc",
        hatch="//",
    )
    for position in x[~shown]:
        ax.annotate("x", (position, 0), ha="center", va="bottom", fontsize=10)
    ax.set_xticks(x, rows["period"].astype(str), rotation=45, ha="right")
    ax.set_ylabel("hires made")
    ax.set_title("Hires made under employment conditions by deciding target group")
    ax.legend(fontsize=8)
    return _save(figure, path)


def impact_chart(published: PublishedTable, path: Path) -> Path:
    """Impact per hire made for each stakeholder, central value with the sensitivity range.

    ``published`` is a published impact table; one group of bars per row (e.g. per country
    with ``by="country"``), hidden rows left out.
    """
    values = published.values
    key = published.keys[0]
    rows = values[values["hires_made"].notna()].reset_index(drop=True)
    figure = _figure()
    ax = figure.subplots()
    x = np.arange(len(STAKEHOLDERS))
    width = 0.8 / max(len(rows), 1)
    for i, row in rows.iterrows():
        central = np.array([row[f"{s}_eur_per_hire"] for s in STAKEHOLDERS], dtype=float)
        low = np.array([row[f"{s}_eur_per_hire_low"] for s in STAKEHOLDERS], dtype=float)
        high = np.array([row[f"{s}_eur_per_hire_high"] for s in STAKEHOLDERS], dtype=float)
        offset = (int(str(i)) - (len(rows) - 1) / 2) * width
        label = "all" if row[key] == TOTAL else str(row[key])
        ax.bar(
            x + offset,
            central,
            width,
            yerr=np.vstack([central - low, high - central]),
            capsize=5,
            label=f"{label} ({int(row['hires_made'])} hires)",
            color=_COLOURS[int(str(i)) % len(_COLOURS)],
        )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x, list(STAKEHOLDERS))
    ax.set_ylabel("EUR per hire made (first 12 months, to date)")
    ax.set_title("Economic impact per hire: central value and sensitivity range")
    ax.legend()
    return _save(figure, path)


def contract_type_chart(published: PublishedTable, path: Path, area: str = TOTAL) -> Path:
    """Quota and performance contracts side by side for one area (default: all areas).

    Three panels from the published side-by-side table (:mod:`reporting.contract_types`):
    cost per lasting hire and impact per euro of public cost for all hires and for each sex
    group, and hires made by sex group, one group of bars per contract type. A hidden or
    undefined figure is drawn as an ``x`` (hidden) or left out (undefined).
    """
    values = published.values
    key = published.keys[0]
    figure = _figure()
    panels = figure.subplots(1, 3)
    panel_specs = (
        (
            "cost_per_lasting_hire_eur",
            True,
            "EUR of public cost per hire still employed at 12 months",
        ),
        ("impact_per_euro", True, "EUR of impact per EUR of public cost"),
        ("hires_made", False, "hires made"),
    )
    titles = ("Cost per lasting hire", "Impact per euro", "Hires made by sex")
    kinds = [
        k for k in CONTRACT_TYPES if ((values[key] == area) & (values["contract_type"] == k)).any()
    ]
    x = np.arange(len(kinds))
    for ax, (name, with_all, label), title in zip(panels, panel_specs, titles, strict=True):
        # One colour per sex group in every panel: "all" first, then the groups.
        series = ([(0, "all", name)] if with_all else []) + [
            (i + 1, sex.replace("_", " / "), sex_column(name, sex))
            for i, sex in enumerate(SEX_GROUPS)
        ]
        width = 0.8 / len(series)
        for j, (colour, legend, column) in enumerate(series):
            heights: list[float] = []
            hidden: list[bool] = []
            for kind in kinds:
                row = ((values[key] == area) & (values["contract_type"] == kind)).to_numpy()
                heights.append(float(values.loc[row, column].to_numpy(dtype=float)[0]))
                hidden.append(bool(published.hidden.loc[row, column].to_numpy()[0]))
            offset = (j - (len(series) - 1) / 2) * width
            drawn = np.nan_to_num(np.array(heights, dtype=float))
            ax.bar(x + offset, drawn, width, label=legend, color=_COLOURS[colour])
            for position, is_hidden in zip(x + offset, hidden, strict=True):
                if is_hidden:
                    ax.annotate("x", (position, 0), ha="center", va="bottom", fontsize=10)
        ax.set_xticks(x, kinds)
        ax.set_ylabel(label)
        ax.set_title(title)
        ax.legend(fontsize=8)
    where = "all areas" if area == TOTAL else str(area)
    figure.suptitle(f"Quota and performance contracts, {where} (x = hidden, fewer than 5 people)")
    return _save(figure, path)
