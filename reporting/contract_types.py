"""Quota and performance-based contracts side by side, every figure about hires also by sex.

A condition's *contract type* is ``performance`` when it is performance-based (it buys
verified outcomes at a price per point, :mod:`reporting.performance`) and ``quota`` otherwise
(N hires of the target groups by a deadline). :func:`contract_type_table` computes the
common indicators of :data:`reporting.definitions.CONTRACT_TYPE_INDICATORS` per area and
contract type, with a ``TOTAL`` row per type:

- everything is attributed **through the condition**: the area is the contract's buyer
  municipality (a central purchasing body is its own area, keyed ``CPB-…``) or, with
  ``by="country"``, the buyer's country; contracts and conditions count by the contract's
  start day, hires by the hire day (a cohort: retention, costs and impact of a hire stay
  with the window its hire day is in);
- hires are the *counted* hires of :mod:`reporting.facts` (person in a target group of the
  condition on the hire day, job form allowed), time to fill is over the first hires of the
  vacancies under the conditions;
- **public cost** = performance payments (credited outcomes dated before the cutoff, after
  the cap) + pay subsidy (``pay_subsidy_rate × wage_pay_subsidised`` a month of employment,
  pay-subsidised hires only) + coaching cost of the proposals of the same person to the same
  vacancy (coach hours as :func:`reporting.indicators.coach_hours` allocates them over every
  proposal known at the cutoff). A quota contract's cost of its clause is inside the contract
  price and not observable: its public cost is the subsidy and the coaching only. A payment
  credited for a hire whose person was erased since (the performance ledger keeps its
  credit; the fact tables no longer count the hire) is public cost of the group
  ``other_unknown`` without a hire;
- **impact** is the impact model's net EUR for the person, the municipality and the state
  together (:func:`reporting.impact.monthly_impact` × :func:`~reporting.impact.employment_months`,
  central parameter values), which already deducts the pay subsidy; impact per euro divides
  the impact *before* public cost (``impact_eur + pay_subsidy_eur``) by the public cost, so no
  euro is counted on both sides;
- **cost per lasting hire** divides the public cost of the hires made at least 12 months
  before the cutoff by those of them still employed at 12 months (``retained_12m``).

Every figure about hires is also computed over the hires of each sex group
(:data:`~reporting.definitions.SEX_GROUPS`; ``other`` and ``unknown`` together) for the
equality statistics: ``<name>_female``, ``<name>_male``, ``<name>_other_unknown`` add up to
``<name>`` for every count and amount. Sex is used here and nowhere else.
:func:`publish_contract_type_table` hides small cells with the existing machinery
(:func:`reporting.publish.publish_table`): each contract type is one table against its TOTAL
row, each sex breakdown a block adding up to its total.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from matching.domain import Country, JobForm
from reporting.definitions import (
    CONTRACT_TYPE_BASE,
    CONTRACT_TYPE_INDICATORS,
    CONTRACT_TYPES,
    MIN_PEOPLE,
    RETENTION_6M_DAYS,
    RETENTION_12M_DAYS,
    SEX_GROUPS,
    TOTAL,
    Family,
    Kind,
    people_column,
    sex_column,
)
from reporting.facts import Facts
from reporting.impact import STAKEHOLDERS, employment_months, monthly_impact
from reporting.impact_parameters import ImpactParameters, load_parameters
from reporting.indicators import Window, coach_hours, count_people
from reporting.publish import PublishedTable, publish_table
from reporting.suppression import Block

__all__ = [
    "CONTRACT_TYPE_BLOCKS",
    "CREDITED_INPUT",
    "NOTES",
    "AreaBy",
    "contract_type_keys",
    "contract_type_table",
    "hire_money",
    "publish_contract_type_table",
]

AreaBy = Literal["municipality", "country"]
#: The columns of the credited performance outcomes this table reads (one row per outcome,
#: its amount after the contract's cap): :func:`reporting.performance.credited_outcomes`
#: gives them.
CREDITED_INPUT: tuple[str, ...] = ("hire_event_id", "day", "capped_amount_eur")

#: The indicators computed over hires (and split by sex); the others count contracts.
_HIRE_BASE = [i for i in CONTRACT_TYPE_BASE if i.family is not Family.CONDITION]
_PEOPLE_BASE = [i.name for i in _HIRE_BASE if i.kind is Kind.PEOPLE]
_AMOUNTS = [i.name for i in _HIRE_BASE if i.kind is Kind.AMOUNT]
#: Each people count adds up over the sex groups, in every row.
CONTRACT_TYPE_BLOCKS: tuple[Block, ...] = tuple(
    Block(tuple(sex_column(name, s) for s in SEX_GROUPS), name) for name in _PEOPLE_BASE
)
#: What a reader of the published table needs to know (the ``meta`` of its JSON document).
NOTES: dict[str, str] = {
    "public_cost": "performance payments credited (after the cap) + pay subsidy + coaching "
    "cost of the proposals that led to the hires; a quota contract's cost of its clause is "
    "inside the contract price and not observable",
    "impact_per_euro": "(impact_eur + pay_subsidy_eur) / public_cost_eur",
    "sex_groups": "female, male, other_unknown (other and unknown together); recorded for "
    "equality statistics only",
}
_KEY = "_area"
_TYPE = "contract_type"
_SEX = "_sex"


def contract_type_keys(by: AreaBy) -> list[str]:
    """The key columns of a side-by-side table: the area, then the contract type."""
    if by not in ("municipality", "country"):
        raise ValueError(f"by must be municipality or country, got {by!r}")
    return [by, _TYPE]


def _contract_type(performance: pd.Series) -> np.ndarray:
    quota, performance_based = CONTRACT_TYPES
    flags = performance.astype("boolean").fillna(False).to_numpy(dtype=bool)
    return np.where(flags, performance_based, quota)


def _sex_group(sex: pd.Series) -> np.ndarray:
    """The recorded sex as its group: ``other`` and ``unknown`` (and missing) together."""
    female, male, other_unknown = SEX_GROUPS
    values = sex.astype("string").fillna("unknown").to_numpy(dtype=object)
    return np.where(np.isin(values, (female, male)), values, other_unknown)


def _payments(
    hires: pd.DataFrame, credited: pd.DataFrame | None, cutoff: pd.Timestamp
) -> np.ndarray:
    """EUR of credited performance outcomes dated before ``cutoff``, per row of ``hires``.

    A credited outcome is a hire or one of its retention events; ``hire_event_id`` names
    the hire it rests on.
    """
    out = np.zeros(len(hires))
    if credited is None or credited.empty:
        return out
    missing = [c for c in CREDITED_INPUT if c not in credited.columns]
    if missing:
        raise ValueError(f"credited outcomes lack the columns {', '.join(missing)}")
    known = credited[pd.to_datetime(credited["day"]) < cutoff]
    position = pd.Series(np.arange(len(hires)), index=hires["event_id"].astype(str).to_numpy())
    rows = known["hire_event_id"].astype(str).map(position)
    if rows.isna().any():
        lost = ", ".join(known.loc[rows.isna(), "hire_event_id"].astype(str).unique()[:5])
        raise ValueError(f"credited outcomes of hires the fact tables do not hold: {lost}")
    np.add.at(out, rows.to_numpy(dtype=np.int64), known["capped_amount_eur"].to_numpy(float))
    return out


def hire_money(
    facts: Facts,
    params: ImpactParameters,
    end: date | None = None,
    credited: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every hire of ``facts.hires`` with its public cost and impact known at the cutoff.

    Columns (same index as ``facts.hires``): ``payments_eur``, ``pay_subsidy_eur``,
    ``coaching_cost_eur``, ``public_cost_eur``, ``impact_eur`` and
    ``impact_before_cost_eur`` (see the module docstring); the cutoff is ``min(end,
    facts.as_of)``.
    """
    window = Window(facts.as_of, None, end)
    hires = facts.hires
    values = params.values("value")
    months = employment_months(hires, window.cutoff, values)
    country = hires["country"].astype("string").fillna("").to_numpy(dtype=object)
    form = hires["job_form"].astype(str).to_numpy(dtype=object)
    impact = np.zeros(len(hires))
    subsidy = np.zeros(len(hires))
    for code in (c.value for c in Country):
        rate = values["exchange.sek_per_eur"] if code == Country.SE.value else 1.0
        for job_form in (f.value for f in JobForm):
            rows = (country == code) & (form == job_form)
            if not rows.any():
                continue
            monthly = monthly_impact(values, code, job_form)
            impact[rows] = sum(monthly[s] for s in STAKEHOLDERS) * months[rows]
            if job_form == JobForm.PAY_SUBSIDISED.value:
                per_month = (
                    values[f"{code}.pay_subsidy_rate"] * values[f"{code}.wage_pay_subsidised"]
                )
                subsidy[rows] = per_month / rate * months[rows]
    proposals = coach_hours(facts, params, window)
    coaching_by_pair = proposals.groupby(["jobseeker_id", "vacancy_id"])["coaching_cost_eur"].sum()
    pairs = pd.MultiIndex.from_arrays(
        [hires["jobseeker_id"].astype(str), hires["vacancy_id"].astype(str)]
    )
    coaching = coaching_by_pair.reindex(pairs).fillna(0.0).to_numpy(dtype=float)
    # A pair hired twice carries its coaching once, on its first hire.
    coaching = np.where(pairs.duplicated(keep="first"), 0.0, coaching)
    payments = _payments(hires, credited, window.cutoff)
    frame = pd.DataFrame(
        {
            "payments_eur": payments,
            "pay_subsidy_eur": subsidy,
            "coaching_cost_eur": coaching,
            "public_cost_eur": payments + subsidy + coaching,
            "impact_eur": impact,
            "impact_before_cost_eur": impact + subsidy,
        },
        index=hires.index,
    )
    return frame


def _hire_figures(hires: pd.DataFrame, first: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The base hire figures per group (counts with their people, sums, the median).

    Counts are over the counted hires; amounts also over the hires that earned a payment
    without being counted (people erased since, whose credit the ledger keeps).
    """
    counted = hires["counted"].to_numpy(dtype=bool)
    made = hires[counted]
    costed = hires[counted | (hires["payments_eur"] > 0).to_numpy()]
    six, twelve = made["_six"], made["_twelve"]
    sums = [c for c in _AMOUNTS if c != "public_cost_observed_12m_eur"]
    parts = [
        count_people(made, keys, "hires_made"),
        count_people(made[six], keys, "hires_observed_6m"),
        count_people(made[six & made["_kept_6"]], keys, "retained_6m"),
        count_people(made[twelve], keys, "hires_observed_12m"),
        count_people(made[twelve & made["_kept_12"]], keys, "retained_12m"),
        count_people(first, keys, "vacancies_filled"),
        pd.DataFrame(
            {
                "time_to_fill_days_median": first.groupby(keys, sort=False)["days_to_fill"]
                .median()
                .astype(float)
            }
        ),
        costed.groupby(keys, sort=False)[sums].sum(),
        pd.DataFrame(
            {
                "public_cost_observed_12m_eur": costed[costed["_twelve"]]
                .groupby(keys, sort=False)["public_cost_eur"]
                .sum()
            }
        ),
    ]
    return _concat(parts, keys)


def _concat(parts: list[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    empty = pd.MultiIndex.from_arrays([[]] * len(keys), names=keys)
    parts = [p if len(p) else p.set_axis(empty) for p in parts]
    table = pd.concat(parts, axis=1, join="outer")
    table.index.names = keys
    return table


def _aggregate(
    conditions: pd.DataFrame, hires: pd.DataFrame, first: pd.DataFrame, total: bool
) -> pd.DataFrame:
    keys = [_KEY, _TYPE]
    if total:
        conditions, hires, first = (f.assign(**{_KEY: TOTAL}) for f in (conditions, hires, first))
    grouped = conditions.groupby(keys, sort=False)
    parts = [
        pd.DataFrame({"contracts": grouped["contract_id"].nunique(), "conditions": grouped.size()}),
        _hire_figures(hires, first, keys),
    ]
    for sex in SEX_GROUPS:
        figures = _hire_figures(hires[hires[_SEX] == sex], first[first[_SEX] == sex], keys)
        parts.append(figures.rename(columns={c: _sexed(str(c), sex) for c in figures.columns}))
    return _concat(parts, keys)


def _sexed(column: str, sex: str) -> str:
    if column.startswith("people_"):
        return people_column(sex_column(column.removeprefix("people_"), sex))
    return sex_column(column, sex)


def _finish(table: pd.DataFrame) -> pd.DataFrame:
    """Zero-fill counts and amounts, compute ratios, order columns as the indicator list."""
    zero = pd.Series(0, index=table.index)
    out: dict[str, pd.Series] = {}
    people: dict[str, pd.Series] = {}
    for item in CONTRACT_TYPE_INDICATORS:
        column = table.get(item.name)
        if item.kind in (Kind.COUNT, Kind.PEOPLE):
            out[item.name] = (zero if column is None else column.fillna(0)).astype(np.int64)
        elif item.kind is Kind.AMOUNT:
            out[item.name] = (zero if column is None else column.fillna(0)).astype(float)
        elif item.kind is Kind.STATISTIC:
            out[item.name] = (zero * np.nan if column is None else column).astype(float)
        if item.kind is Kind.PEOPLE:
            name = people_column(item.name)
            count = table.get(name, zero)
            people[name] = count.fillna(0).astype(np.int64)
    for item in CONTRACT_TYPE_INDICATORS:
        if item.kind is Kind.RATIO:
            assert item.numerator is not None and item.denominator is not None
            denominator = out[item.denominator]
            out[item.name] = (out[item.numerator] / denominator.where(denominator > 0)).astype(
                float
            )
    ordered = {i.name: out[i.name] for i in CONTRACT_TYPE_INDICATORS}
    return pd.DataFrame({**ordered, **people}, index=table.index)


def contract_type_table(
    facts: Facts,
    by: AreaBy = "municipality",
    start: date | None = None,
    end: date | None = None,
    *,
    params: ImpactParameters | None = None,
    credited: pd.DataFrame | None = None,
    totals: bool = True,
) -> pd.DataFrame:
    """Quota and performance conditions side by side per area, and every hire figure by sex.

    Parameters
    ----------
    facts
        The fact tables (:func:`reporting.facts.build_facts`).
    by
        ``municipality`` (the buyer municipality, or the central purchasing body) or
        ``country`` (the buyer's country).
    start, end
        Contracts starting, and hires made, on or after ``start`` and before ``end``;
        nothing on or after ``facts.as_of`` is known.
    params
        Impact and coaching-cost parameters (default: the shipped file).
    credited
        Credited performance outcomes (:data:`CREDITED_INPUT`); None when no contract
        has performance terms (payments are then zero).
    totals
        Add a ``TOTAL`` row per contract type.

    Returns
    -------
    One row per (area, contract type) with any contract or hire: the key columns
    (:func:`contract_type_keys`), ``name``/``kind``/``country`` of the area for
    ``by="municipality"``, every indicator of
    :data:`~reporting.definitions.CONTRACT_TYPE_INDICATORS` and a ``people_<count>`` column
    per people count.
    """
    keys = contract_type_keys(by)
    parameters = load_parameters() if params is None else params
    window = Window(facts.as_of, start, end)
    conditions = facts.conditions[window.contains(facts.conditions["starts_on"])].copy()
    conditions[_TYPE] = _contract_type(conditions["performance_based"])
    conditions[_KEY] = conditions["area" if by == "municipality" else "country"].astype("string")

    money = hire_money(facts, parameters, end, credited)
    hires = pd.concat([facts.hires, money], axis=1)
    hires = hires[hires["condition_id"].notna() & window.contains(hires["hired_on"])].copy()
    hires[_TYPE] = _contract_type(hires["performance_based"])
    # A hire that does not count costs and yields nothing here, except a payment credited
    # before its person was erased (reporting.performance keeps it): that is public cost.
    uncounted = ~hires["counted"].to_numpy(dtype=bool)
    for column in ("pay_subsidy_eur", "coaching_cost_eur", "impact_eur", "impact_before_cost_eur"):
        hires.loc[uncounted, column] = 0.0
    hires.loc[uncounted, "public_cost_eur"] = hires.loc[uncounted, "payments_eur"]
    if by == "municipality":
        hires[_KEY] = hires["area"].astype("string")
    else:
        country = facts.conditions.set_index("condition_id")["country"]
        hires[_KEY] = hires["condition_id"].astype(str).map(country).astype("string")
    hires[_SEX] = _sex_group(hires["sex"])
    cutoff = window.cutoff
    hires["_six"] = hires["hired_on"] + pd.Timedelta(days=RETENTION_6M_DAYS) < cutoff
    hires["_twelve"] = hires["hired_on"] + pd.Timedelta(days=RETENTION_12M_DAYS) < cutoff
    hires["_kept_6"] = hires["retained_6m_on"].notna() & (hires["retained_6m_on"] < cutoff)
    hires["_kept_12"] = hires["retained_12m_on"].notna() & (hires["retained_12m_on"] < cutoff)
    conditions = conditions.dropna(subset=[_KEY])
    hires = hires.dropna(subset=[_KEY])
    first = hires[hires["first_of_vacancy"].to_numpy(dtype=bool)]

    passes = [False, True] if totals else [False]
    tables = [
        _finish(_aggregate(conditions, hires, first, total)).reset_index() for total in passes
    ]
    table = pd.concat(tables, ignore_index=True).rename(columns={_KEY: keys[0]})
    order = {t: i for i, t in enumerate(CONTRACT_TYPES)}
    table = (
        table.assign(_order=table[_TYPE].map(order), _total=table[keys[0]] == TOTAL)
        .sort_values(["_order", "_total", keys[0]], kind="stable")
        .drop(columns=["_order", "_total"])
        .reset_index(drop=True)
    )
    if by == "municipality":
        areas = facts.conditions.drop_duplicates("area").set_index("area")
        codes = table[keys[0]].astype(str)
        table.insert(2, "name", codes.map(facts.names))
        table.insert(3, "kind", codes.map(areas["area_kind"]))
        table.insert(4, "country", codes.map(areas["country"]))
        table.loc[table[keys[0]] == TOTAL, ["name", "kind", "country"]] = pd.NA
    return table


def publish_contract_type_table(
    table: pd.DataFrame, by: AreaBy, minimum: int = MIN_PEOPLE
) -> PublishedTable:
    """Hide the small cells of a side-by-side table (made with ``totals=True``).

    Each contract type is protected as one table against its TOTAL row, with the sex groups
    of every people count as a block adding up to it; amounts, ratios and the median are
    hidden with the counts they rest on.
    """
    return publish_table(
        table, contract_type_keys(by), CONTRACT_TYPE_INDICATORS, CONTRACT_TYPE_BLOCKS, minimum
    )
