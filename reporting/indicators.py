"""The indicator table: the common indicator set per municipality, buyer, contract or period.

:func:`indicator_table` computes every indicator of :data:`reporting.definitions.INDICATORS`
the same way for every group, from the fact tables of :mod:`reporting.facts`:

- the *condition* family (contracts, value, hires required, credited hires, fulfilment) is
  attributed to the buyer municipality (a central purchasing body is its own group) and to the
  period in which the contract starts;
- the *hire* family (hires made, by target group and job form, time to fill, retention) to
  the vacancy's municipality and the hire day;
- the *coaching* family (proposals, placements, coaches, coach hours and cost) to the
  vacancy's municipality and the day of the proposal or hire.

``by="buyer"``, ``"contract"`` and ``"cpv_division"`` attribute all three families through the
vacancy's contract. Besides the indicators, the table holds ``people_<count>`` columns: the
number of distinct people behind each count, which small-cell suppression needs. Nothing here
is suppressed; :func:`reporting.publish.publish_indicator_table` does that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import get_args

import numpy as np
import pandas as pd

from features.world_store import WorldTables
from matching.domain import JobForm, TargetGroup
from reporting.definitions import (
    INDICATORS,
    RETENTION_6M_DAYS,
    RETENTION_12M_DAYS,
    TOTAL,
    GroupBy,
    Kind,
    PeriodKind,
    form_column,
    people_column,
    target_group_column,
)
from reporting.facts import AREA_CPB, AREA_MUNICIPALITY, Facts, build_facts, country_of_code
from reporting.impact_parameters import ImpactParameters, load_parameters

__all__ = [
    "GROUP_KEYS",
    "PEOPLE_COUNTS",
    "Grouping",
    "Window",
    "coach_hours",
    "count_people",
    "indicator_table",
    "key_columns",
    "period_labels",
]

#: The key column of each grouping.
GROUP_KEYS: dict[str, str] = {
    "municipality": "municipality",
    "buyer": "buyer_id",
    "contract": "contract_id",
    "cpv_division": "cpv_division",
    "country": "country",
    "period": "period",
}
_PERIOD_CODES = {"month": "M", "quarter": "Q", "year": "Y"}
#: Count columns that have a people column.
PEOPLE_COUNTS: tuple[str, ...] = tuple(i.name for i in INDICATORS if i.kind is Kind.PEOPLE)


class Window:
    """The reporting window ``[start, end)`` and the cutoff: what is known by ``end``."""

    def __init__(self, as_of: date, start: date | None, end: date | None) -> None:
        if start is not None and end is not None and end <= start:
            raise ValueError(f"end {end} must be after start {start}")
        self.start = pd.Timestamp(start) if start is not None else None
        cutoff = as_of if end is None else min(end, as_of)
        #: Events on or after this day are not known yet (exclusive end).
        self.cutoff = pd.Timestamp(cutoff)

    def contains(self, days: pd.Series) -> pd.Series:
        inside = days < self.cutoff
        if self.start is not None:
            inside &= days >= self.start
        return inside


def period_labels(days: pd.Series, period: PeriodKind) -> pd.Series:
    """Label days by calendar period: ``2025-03``, ``2025Q1`` or ``2025``."""
    if period not in _PERIOD_CODES:
        raise ValueError(f"period must be one of {', '.join(_PERIOD_CODES)}, got {period!r}")
    return days.dt.to_period(_PERIOD_CODES[period]).astype(str)


def key_columns(by: GroupBy, period: PeriodKind | None) -> list[str]:
    """The key columns of a table grouped ``by`` (and by ``period`` when given)."""
    if by not in GROUP_KEYS:
        raise ValueError(f"by must be one of {', '.join(GROUP_KEYS)}, got {by!r}")
    if by == "period":
        return ["period"]
    return [GROUP_KEYS[by]] + (["period"] if period is not None else [])


_GROUP = "_group"


class Grouping:
    """How rows are keyed: ``by``, ``period``, and whether this is the totals pass.

    Rows are grouped on a private ``_group`` column (so that the totals pass never
    overwrites a fact column such as ``contract_id`` that an indicator counts);
    :meth:`rename` gives the result its public key names.
    """

    def __init__(self, by: GroupBy, period: PeriodKind | None, total: bool) -> None:
        self.by, self.period, self.total = by, period, total
        public = key_columns(by, period)
        self.keys = [_GROUP if k == GROUP_KEYS.get(by) and by != "period" else k for k in public]
        self._names = dict(zip(self.keys, public, strict=True))

    def rename(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (indexed by :attr:`keys`) with its index levels given the public names."""
        frame.index.names = [self._names[str(n)] for n in frame.index.names]
        return frame

    def source(self, family: str) -> str:
        """The fact column that holds the group of a ``family`` row."""
        if self.by == "municipality":
            return "area" if family == "condition" else "municipality"
        return GROUP_KEYS[self.by]

    def keyed(self, frame: pd.DataFrame, family: str, day: str) -> pd.DataFrame:
        """``frame`` with the key columns added (rows without a key dropped)."""
        out = frame.copy()
        if self.by != "period":
            out[_GROUP] = TOTAL if self.total else out[self.source(family)].astype("string")
        if self.period is not None:
            by_period_total = self.total and self.by == "period"
            out["period"] = TOTAL if by_period_total else period_labels(out[day], self.period)
        return out.dropna(subset=self.keys)


def coach_hours(facts: Facts, params: ImpactParameters, window: Window) -> pd.DataFrame:
    """The window's proposals, each with its coach hours and cost.

    Every coach's assessment hours in the window are shared equally among the proposals
    that coach made in the window (the full coaching effort is spread over the proposals it
    produced), and each proposal adds ``hours_per_proposal``. Hours of coaches who made no
    proposal in the window stay unallocated.
    """
    proposals = facts.proposals[window.contains(facts.proposals["proposed_on"])].copy()
    assessments = facts.assessments[window.contains(facts.assessments["assessed_on"])]
    coaching = params.coaching
    per_method = {m: coaching.assessment_hours(m).value for m in assessments["method"].unique()}
    assessed = assessments["method"].map(per_method).astype(float)
    hours_by_coach = assessed.groupby(assessments["coach_id"]).sum()
    proposals_by_coach = proposals.groupby("coach_id").size()
    share = (hours_by_coach / proposals_by_coach).reindex(proposals_by_coach.index).fillna(0.0)
    allocated = proposals["coach_id"].map(share).astype("float64").fillna(0.0)
    proposals["coach_hours"] = coaching.hours_per_proposal.value + allocated
    rate = {c.value: p.coach_hourly_cost.value for c, p in params.countries.items()}
    hourly = (
        proposals["coach_country"]
        .map(rate)
        .astype(float)
        .fillna(float(np.mean(list(rate.values()))))
    )
    proposals["coaching_cost_eur"] = proposals["coach_hours"] * hourly
    return proposals


def count_people(frame: pd.DataFrame, keys: list[str], name: str) -> pd.DataFrame:
    """Events and distinct people per group."""
    grouped = frame.groupby(keys, sort=False)
    return pd.DataFrame(
        {name: grouped.size(), people_column(name): grouped["jobseeker_id"].nunique()}
    )


def _breakdown(
    frame: pd.DataFrame,
    keys: list[str],
    column: str,
    values: Sequence[str],
    naming: Callable[[str], str],
) -> pd.DataFrame:
    """Events and people per group and category of ``column``, one column per category."""
    grouped = frame.groupby([*keys, column], sort=False)
    counts = grouped.size().unstack(column)
    people = grouped["jobseeker_id"].nunique().unstack(column)
    parts = {}
    for value in values:
        name = naming(value)
        parts[name] = counts[value] if value in counts else pd.Series(dtype=float)
        parts[people_column(name)] = people[value] if value in people else pd.Series(dtype=float)
    return pd.DataFrame(parts, index=counts.index)


def _condition_family(facts: Facts, grouping: Grouping, window: Window) -> list[pd.DataFrame]:
    conditions = facts.conditions[window.contains(facts.conditions["starts_on"])]
    conditions = grouping.keyed(conditions, "condition", "starts_on")
    keys = grouping.keys
    due = conditions["deadline"] < window.cutoff
    grouped = conditions.groupby(keys, sort=False)
    base = pd.DataFrame(
        {
            "contracts": grouped["contract_id"].nunique(),
            "contract_value_eur": grouped["contract_value_eur"].sum(),
            "conditions": grouped.size(),
            "hires_required": grouped["hires_required"].sum(),
            "conditions_due": due.groupby([conditions[k] for k in keys], sort=False).sum(),
            "hires_required_due": conditions["hires_required"]
            .where(due, 0)
            .groupby([conditions[k] for k in keys], sort=False)
            .sum(),
        }
    )
    hires = facts.hires
    credited = hires[
        hires["credit_rank"].notna()
        & (hires["credit_rank"] <= hires["hires_required"])
        & (hires["hired_on"] < window.cutoff)
        & window.contains(hires["starts_on"])
    ]
    credited = grouping.keyed(credited, "condition", "starts_on")
    credited_due = credited[credited["deadline"] < window.cutoff]
    return [
        base,
        count_people(credited, keys, "hires_credited"),
        count_people(credited_due, keys, "hires_credited_due"),
    ]


def _hire_family(facts: Facts, grouping: Grouping, window: Window) -> list[pd.DataFrame]:
    keys = grouping.keys
    hires = facts.hires[window.contains(facts.hires["hired_on"])]
    hires = grouping.keyed(hires, "hire", "hired_on")
    made = hires[hires["counted"]]
    first = hires[hires["first_of_vacancy"]]
    filled = first.groupby(keys, sort=False)["days_to_fill"]
    six = made["hired_on"] + pd.Timedelta(days=RETENTION_6M_DAYS) < window.cutoff
    twelve = made["hired_on"] + pd.Timedelta(days=RETENTION_12M_DAYS) < window.cutoff
    kept_6 = made["retained_6m_on"].notna() & (made["retained_6m_on"] < window.cutoff)
    kept_12 = made["retained_12m_on"].notna() & (made["retained_12m_on"] < window.cutoff)
    return [
        count_people(made, keys, "hires_made"),
        _breakdown(
            made, keys, "deciding_group", [g.value for g in TargetGroup], target_group_column
        ),
        _breakdown(made, keys, "job_form", [f.value for f in JobForm], form_column),
        count_people(first, keys, "vacancies_filled"),
        pd.DataFrame(
            {
                "time_to_fill_days_median": filled.median().astype(float),
                "time_to_fill_days_mean": filled.mean().astype(float),
            }
        ),
        count_people(made[six], keys, "hires_observed_6m"),
        count_people(made[six & kept_6], keys, "retained_6m"),
        count_people(made[twelve], keys, "hires_observed_12m"),
        count_people(made[twelve & kept_12], keys, "retained_12m"),
        count_people(hires, keys, "placements"),
    ]


def _coaching_family(
    facts: Facts, grouping: Grouping, window: Window, params: ImpactParameters
) -> list[pd.DataFrame]:
    keys = grouping.keys
    proposals = grouping.keyed(coach_hours(facts, params, window), "coaching", "proposed_on")
    grouped = proposals.groupby(keys, sort=False)
    return [
        count_people(proposals, keys, "proposals"),
        pd.DataFrame(
            {
                "active_coaches": grouped["coach_id"].nunique(),
                "coach_hours": grouped["coach_hours"].sum(),
                "coaching_cost_eur": grouped["coaching_cost_eur"].sum(),
            }
        ),
    ]


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return (numerator / denominator.where(denominator > 0)).astype(float)


def _finish(table: pd.DataFrame) -> pd.DataFrame:
    """Zero-fill counts, compute ratios, order the columns as the indicator list."""
    for item in INDICATORS:
        if item.kind in (Kind.COUNT, Kind.PEOPLE, Kind.AMOUNT):
            if item.name not in table:
                table[item.name] = 0
            table[item.name] = table[item.name].fillna(0)
        if item.kind is Kind.PEOPLE:
            column = people_column(item.name)
            table[column] = table[column].fillna(0).astype(np.int64) if column in table else 0
    integer = [i.name for i in INDICATORS if i.kind in (Kind.COUNT, Kind.PEOPLE)]
    table[integer] = table[integer].astype(np.int64)
    for item in INDICATORS:
        if item.kind is Kind.RATIO:
            assert item.numerator is not None and item.denominator is not None
            table[item.name] = _ratio(table[item.numerator], table[item.denominator])
        elif item.kind is Kind.STATISTIC and item.name not in table:
            table[item.name] = np.nan
    columns = [i.name for i in INDICATORS] + [people_column(n) for n in PEOPLE_COUNTS]
    return table[columns]


def _aggregate(
    facts: Facts, grouping: Grouping, window: Window, params: ImpactParameters
) -> pd.DataFrame:
    parts = [
        *_condition_family(facts, grouping, window),
        *_hire_family(facts, grouping, window),
        *_coaching_family(facts, grouping, window, params),
    ]
    keys = grouping.keys
    # Empty parts lose their index levels; give them the keys so that concat aligns.
    empty = pd.MultiIndex.from_arrays([[]] * len(keys), names=keys)
    parts = [
        p if len(p) else p.set_axis(empty if len(keys) > 1 else empty.levels[0]) for p in parts
    ]
    table = pd.concat(parts, axis=1, join="outer")
    table.index.names = keys
    return grouping.rename(_finish(table))


def _describe(table: pd.DataFrame, facts: Facts, by: GroupBy) -> pd.DataFrame:
    """Add descriptive columns (name, kind, country) after the keys."""
    if by == "municipality":
        codes = table["municipality"].astype(str)
        cpb = codes.str.startswith("CPB")
        table.insert(1, "name", codes.map(facts.names))
        table.insert(2, "kind", np.where(cpb, AREA_CPB, AREA_MUNICIPALITY))
        country = country_of_code(table["municipality"]).fillna(
            codes.str.extract(r"CPB-(\w\w)-", expand=False).astype("string")
        )
        table.insert(3, "country", country)
    elif by == "buyer":
        ids = table["buyer_id"].astype(str)
        table.insert(1, "name", ids.map(facts.names))
        kinds = facts.conditions.drop_duplicates("buyer_id").set_index("buyer_id")
        table.insert(2, "kind", ids.map(kinds["buyer_kind"]))
        table.insert(3, "country", ids.map(kinds["country"]))
    elif by == "contract":
        ids = table["contract_id"].astype(str)
        contracts = facts.conditions.drop_duplicates("contract_id").set_index("contract_id")
        table.insert(1, "buyer_id", ids.map(contracts["buyer_id"]))
        table.insert(2, "cpv_division", ids.map(contracts["cpv_division"]))
        table.insert(3, "country", ids.map(contracts["country"]))
    for column in ("name", "kind", "country", "buyer_id", "cpv_division"):
        if column in table and column not in key_columns(by, None):
            table.loc[table[GROUP_KEYS[by]] == TOTAL, column] = pd.NA
    return table


def indicator_table(
    world: WorldTables | Facts,
    by: GroupBy = "municipality",
    period: PeriodKind | None = None,
    start: date | None = None,
    end: date | None = None,
    *,
    params: ImpactParameters | None = None,
    totals: bool = False,
) -> pd.DataFrame:
    """The common indicators, one row per group, one column per indicator.

    Parameters
    ----------
    world
        A loaded world, or its :class:`~reporting.facts.Facts` (to reuse them across tables).
    by
        ``municipality``, ``buyer``, ``contract``, ``cpv_division``, ``country`` or ``period``.
    period
        ``month``, ``quarter`` or ``year`` splits each group by calendar period (for
        ``by="period"`` it defaults to ``quarter``); None gives one row per group.
    start, end
        Only events on or after ``start`` and before ``end`` count; nothing on or after the
        world's ``as_of`` is known. Retention and fulfilment are judged as of the cutoff.
    params
        Coach hours and hourly costs (default: the shipped parameter file).
    totals
        Add a ``TOTAL`` row (per period) computed from the facts: distinct people are
        counted once over all groups.

    Returns
    -------
    DataFrame with the key columns, descriptive columns, the indicators of
    :data:`~reporting.definitions.INDICATORS` and a ``people_<count>`` column per people
    count.
    """
    if by not in get_args(GroupBy):
        raise ValueError(f"by must be one of {', '.join(get_args(GroupBy))}, got {by!r}")
    if by == "period" and period is None:
        period = "quarter"
    facts = world if isinstance(world, Facts) else build_facts(world)
    parameters = load_parameters() if params is None else params
    window = Window(facts.as_of, start, end)
    table = _aggregate(facts, Grouping(by, period, False), window, parameters).reset_index()
    if totals:
        grouping = Grouping(by, period, True)
        total = _aggregate(facts, grouping, window, parameters).reset_index()
        table = pd.concat([table, total], ignore_index=True)
    keys = key_columns(by, period)
    order = ["period", GROUP_KEYS[by]] if len(keys) > 1 else keys
    is_total = (table[GROUP_KEYS[by]] == TOTAL) if by != "period" else table["period"] == TOTAL
    table = (
        table.assign(_total=is_total)
        .sort_values([*order[:-1], "_total", order[-1]], kind="stable")
        .drop(columns="_total")
        .reset_index(drop=True)
    )
    table = table[keys + [c for c in table.columns if c not in keys]]
    return _describe(table, facts, by)
