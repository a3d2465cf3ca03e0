"""Publishable tables: indicator tables with small cells suppressed, and their file formats.

:func:`publish_indicator_table` applies :mod:`reporting.suppression` to every people count of
an indicator table (one table per period when the table is split by period, each against its
own ``TOTAL`` row), hides the ratios, amounts and statistics that rest on a hidden count, and
drops the ``people_*`` columns, which are never published. Hidden cells are NaN in
:attr:`PublishedTable.values` and True in :attr:`PublishedTable.hidden`; the writers show them
as ``x`` (CSV, Markdown) or ``null`` listed under ``hidden`` (JSON).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matching.domain import TargetGroup
from reporting.definitions import (
    FORM_COLUMNS,
    INDICATORS,
    MIN_PEOPLE,
    PEOPLE_PREFIX,
    TARGET_GROUP_COLUMNS,
    TOTAL,
    Indicator,
    Kind,
    people_column,
    target_group_column,
)
from reporting.suppression import Block, LinkedTable, primary_suppression, protect_linked

__all__ = [
    "HIDDEN_MARK",
    "PublishedTable",
    "hires_by_target_group",
    "publish_impact_table",
    "publish_indicator_table",
    "publish_table",
]

#: How a hidden cell is shown in CSV and Markdown.
HIDDEN_MARK = "x"
#: Target groups and job forms each break hires made down exactly once.
BLOCKS = (Block(TARGET_GROUP_COLUMNS, "hires_made"), Block(FORM_COLUMNS, "hires_made"))


@dataclass(frozen=True, eq=False)
class PublishedTable:
    """A suppressed table: values with hidden cells as NaN, and which cells are hidden."""

    values: pd.DataFrame
    hidden: pd.DataFrame
    keys: tuple[str, ...]

    @property
    def indicator_columns(self) -> list[str]:
        return [c for c in self.values.columns if c in self.hidden.columns]

    def display(self, digits: int = 3) -> pd.DataFrame:
        """Values as text: hidden cells ``x``, undefined ones empty, floats rounded."""
        out = self.values.astype(object).copy()
        for column in self.indicator_columns:
            shown = self.values[column].map(lambda v: _format(v, digits))
            out[column] = shown.where(~self.hidden[column], HIDDEN_MARK)
        return out.fillna("")

    def to_csv(self, path: Path) -> Path:
        """Write a CSV (UTF-8, hidden cells ``x``)."""
        self.display(digits=6).to_csv(path, index=False, encoding="utf-8")
        return path

    def to_json(self, path: Path, meta: dict[str, Any] | None = None) -> Path:
        """Write ``{"meta", "columns", "data": [{..., "hidden": [...]}], "count"}``."""
        document = self.to_document(meta)
        path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", "utf-8")
        return path

    def to_document(self, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """``{"meta", "columns", "data": [{..., "hidden": [...]}], "count"}`` (JSON-ready)."""
        records = []
        for i in range(len(self.values)):
            row: dict[str, Any] = {}
            for column in self.values.columns:
                value = self.values[column].iloc[i]
                row[column] = _json_value(value)
            row["hidden"] = [c for c in self.indicator_columns if bool(self.hidden[c].iloc[i])]
            records.append(row)
        return {
            "meta": meta or {},
            "columns": list(self.values.columns),
            "data": records,
            "count": len(records),
        }

    def to_markdown(self, columns: list[str] | None = None, rows: int | None = None) -> str:
        """A Markdown table (hidden cells ``x``)."""
        shown = self.display()
        if columns is not None:
            shown = shown[columns]
        if rows is not None:
            shown = shown.head(rows)
        header = "| " + " | ".join(shown.columns) + " |"
        rule = "|" + "|".join("---" for _ in shown.columns) + "|"
        body = ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.to_numpy()]
        return "\n".join([header, rule, *body])


def _format(value: object, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float | np.floating):
        if float(value).is_integer():
            return str(int(value))
        return f"{float(value):.{digits}f}".rstrip("0").rstrip(".")
    return str(value)


def _json_value(value: object) -> object:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _slices(table: pd.DataFrame, keys: list[str]) -> list[np.ndarray]:
    """Row positions of each table protected on its own, its TOTAL row last."""
    group_key = keys[0]  # the group first, then what splits the table (period, contract type)
    if len(keys) == 1:
        parts = [np.arange(len(table))]
    else:
        split = table[keys[1]].to_numpy()
        parts = [np.flatnonzero(split == p) for p in pd.unique(split)]
    out = []
    for rows in parts:
        if len(rows) == 0:
            continue
        is_total = table[group_key].to_numpy()[rows] == TOTAL
        if is_total.sum() != 1:
            raise ValueError(
                "publishing needs exactly one TOTAL row per table: make the table with totals=True"
            )
        out.append(np.r_[rows[~is_total], rows[is_total]])
    return out


def _protect(
    table: pd.DataFrame,
    keys: list[str],
    counts: list[str],
    blocks: tuple[Block, ...],
    hidden: pd.DataFrame,
    minimum: int,
) -> None:
    """Suppress the ``counts`` columns of ``table`` slice by slice, into ``hidden``."""
    for rows in _slices(table, keys):
        part = table.iloc[rows]
        linked = LinkedTable(
            columns=tuple(counts), values=part[counts].to_numpy(dtype=np.float64), blocks=blocks
        )
        people = part[[people_column(c) for c in counts]].to_numpy()
        mask = protect_linked(linked, primary_suppression(people, minimum))
        hidden.loc[part.index, counts] = mask


def publish_indicator_table(
    table: pd.DataFrame, keys: list[str], minimum: int = MIN_PEOPLE
) -> PublishedTable:
    """Suppress an indicator table made with ``totals=True`` for publication.

    ``keys`` are its key columns (:func:`reporting.indicators.key_columns`). Every people
    count is suppressed when it rests on 1 .. ``minimum`` − 1 people, with complementary
    suppression against the TOTAL row and the target-group and job-form breakdowns of hires
    made; ratios, statistics and amounts are hidden with the counts they rest on.
    """
    return publish_table(table, keys, INDICATORS, BLOCKS, minimum)


def publish_table(
    table: pd.DataFrame,
    keys: list[str],
    indicators: Sequence[Indicator],
    blocks: tuple[Block, ...],
    minimum: int = MIN_PEOPLE,
) -> PublishedTable:
    """Suppress a table of ``indicators`` (with ``people_*`` columns and TOTAL rows).

    The table is protected per value of its second key (period, contract type), each part
    against its own TOTAL row; ``blocks`` are the breakdowns that add up within a row. Every
    :attr:`~reporting.definitions.Kind.PEOPLE` column is a count to protect; the other
    indicators are hidden with the columns they rest on
    (:attr:`~reporting.definitions.Indicator.hidden_with`).
    """
    counts = [i.name for i in indicators if i.kind is Kind.PEOPLE]
    hidden = pd.DataFrame(False, index=table.index, columns=[i.name for i in indicators])
    _protect(table, keys, counts, blocks, hidden, minimum)
    # Figures resting on a hidden count are hidden with it (repeat: chains of dependencies).
    dependent = [i for i in indicators if i.hidden_with]
    changed = True
    while changed:
        changed = False
        for item in dependent:
            extra = hidden[list(item.hidden_with)].any(axis=1) & ~hidden[item.name]
            if extra.any():
                hidden.loc[extra, item.name] = True
                changed = True
    published = table.drop(columns=[c for c in table.columns if c.startswith(PEOPLE_PREFIX)])
    values = published.copy()
    for column in hidden.columns:
        values[column] = values[column].astype(float).where(~hidden[column])
    return PublishedTable(values=values, hidden=hidden, keys=tuple(keys))


def publish_impact_table(
    table: pd.DataFrame, keys: list[str], minimum: int = MIN_PEOPLE
) -> PublishedTable:
    """Suppress an impact table (:func:`reporting.impact.impact_table`, ``totals=True``).

    ``hires_made`` is protected like any people count; a group's months and euros are hidden
    with it.
    """
    figures = [c for c in table.columns if c not in keys and not c.startswith(PEOPLE_PREFIX)]
    hidden = pd.DataFrame(False, index=table.index, columns=figures)
    _protect(table, keys, ["hires_made"], (), hidden, minimum)
    hidden.loc[:, figures] = hidden[["hires_made"]].to_numpy()
    published = table.drop(columns=[c for c in table.columns if c.startswith(PEOPLE_PREFIX)])
    values = published.copy()
    for column in figures:
        values[column] = values[column].astype(float).where(~hidden[column])
    return PublishedTable(values=values, hidden=hidden, keys=tuple(keys))


def hires_by_target_group(published: PublishedTable) -> PublishedTable:
    """Hires made by deciding target group × period, from a published ``by="period"`` table.

    Taken from the published table (not recomputed) so that both show the same cells hidden.
    """
    if published.keys != ("period",):
        raise ValueError("hires_by_target_group needs a by='period' table")
    columns = ["period", *TARGET_GROUP_COLUMNS, "hires_made"]
    values = published.values[columns].copy()
    hidden = published.hidden[[*TARGET_GROUP_COLUMNS, "hires_made"]].copy()
    names = {target_group_column(g): g.value for g in TargetGroup}
    return PublishedTable(
        values=values.rename(columns=names),
        hidden=hidden.rename(columns=names),
        keys=("period",),
    )
