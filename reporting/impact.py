"""Economic impact of the hires made, for the person, the municipality and the state.

For each hire made (a counted hire, :mod:`reporting.indicators`), the impact is *months of
employment* times the *monthly change* for each stakeholder, in EUR.

**Monthly change** (country parameters, in the country's currency, then to EUR). With ``W``
the gross monthly wage of the job form (none in a work trial), ``B`` the unemployment benefit
a month (``benefit_daily × benefit_days_per_month``) that stops when the person starts work
(not in a work trial, where it continues), ``A`` the work-trial expense allowance a month,
``S`` the pay subsidy (``pay_subsidy_rate × W``, pay-subsidised jobs only), ``t_m`` the
municipal tax rate, ``s_w``/``s_b`` the taxable shares of wage and benefit, ``o_w``/``o_b``
the other income taxes (state and region) on wage and benefit, ``c`` the employee
contributions, ``m`` the municipal share of the benefit cost and ``p`` the municipal share of
the pay subsidy::

    person       = W (1 − c − s_w t_m − o_w) − B (1 − s_b t_m − o_b) + A
    municipality = W s_w t_m − B s_b t_m + m B − p S
    state        = W o_w − B o_b + (1 − m) B − (1 − p) S − A

Employee contributions go to social insurance and are no stakeholder's gain here; the
employer's costs are outside the model.

**Months of employment** within the first twelve months after the hire, from the retention
events known at the cutoff: 12 with a ``retained_12m`` event; ``months_if_left_between_6m_and_
12m`` when twelve months have passed without one; the months elapsed (at most 12) when six
months have passed with ``retained_6m`` but twelve have not; ``months_if_left_before_6m``
when six months have passed without ``retained_6m``; the months elapsed when six months have
not passed (employment to date).

**Sensitivity.** Every result is computed with all parameters at their central values, all at
their low values, all at their high values and with each parameter alone at its low and at
its high value; the range is the lowest and highest of these results.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.world_store import WorldTables
from matching.domain import Country, JobForm
from reporting.definitions import (
    RETENTION_6M_DAYS,
    RETENTION_12M_DAYS,
    TOTAL,
    GroupBy,
    PeriodKind,
    people_column,
)
from reporting.facts import Facts, build_facts
from reporting.impact_parameters import ImpactParameters, load_parameters
from reporting.indicators import Grouping, Window, key_columns

__all__ = [
    "MONTH_DAYS",
    "STAKEHOLDERS",
    "Scenario",
    "employment_months",
    "impact_table",
    "monthly_impact",
    "placement_impacts",
    "reference_impacts",
    "scenarios",
    "sensitivity_table",
]

STAKEHOLDERS: tuple[str, ...] = ("person", "municipality", "state")
#: Days in an average month (365.25 / 12).
MONTH_DAYS = 365.25 / 12
_WAGE = {
    JobForm.EMPLOYMENT.value: "wage_employment",
    JobForm.APPRENTICESHIP.value: "wage_apprenticeship",
    JobForm.PAY_SUBSIDISED.value: "wage_pay_subsidised",
}


@dataclass(frozen=True)
class Scenario:
    """A named set of parameter values (by dotted name)."""

    name: str
    values: Mapping[str, float]


def scenarios(params: ImpactParameters) -> list[Scenario]:
    """Central, all-low, all-high, and each parameter alone at its low and high value."""
    central = params.values("value")
    out = [
        Scenario("central", central),
        Scenario("all_low", params.values("low")),
        Scenario("all_high", params.values("high")),
    ]
    for name, parameter in params.flat().items():
        if parameter.low == parameter.high:
            continue
        out.append(Scenario(f"{name}=low", {**central, name: parameter.low}))
        out.append(Scenario(f"{name}=high", {**central, name: parameter.high}))
    return out


def monthly_impact(values: Mapping[str, float], country: str, job_form: str) -> dict[str, float]:
    """EUR a month of employment for each stakeholder (see the module docstring)."""
    p = {name.split(".", 1)[1]: v for name, v in values.items() if name.startswith(f"{country}.")}
    if not p:
        raise KeyError(f"no parameters for country {country!r}")
    form = JobForm(job_form).value
    trial = form == JobForm.WORK_TRIAL.value
    wage = 0.0 if trial else p[_WAGE[form]]
    per_month = p["benefit_days_per_month"]
    benefit = 0.0 if trial else p["benefit_daily"] * per_month
    allowance = p["work_trial_allowance_daily"] * per_month if trial else 0.0
    subsidy = p["pay_subsidy_rate"] * wage if form == JobForm.PAY_SUBSIDISED.value else 0.0
    municipal_on_wage = wage * p["taxable_share_wage"] * p["municipal_tax_rate"]
    municipal_on_benefit = benefit * p["taxable_share_benefit"] * p["municipal_tax_rate"]
    share, sub_share = p["municipal_share_of_benefit"], p["pay_subsidy_municipal_share"]
    person = (
        wage * (1 - p["employee_contribution_rate"] - p["other_tax_rate_wage"])
        - municipal_on_wage
        - benefit * (1 - p["other_tax_rate_benefit"])
        + municipal_on_benefit
        + allowance
    )
    municipality = municipal_on_wage - municipal_on_benefit + share * benefit - sub_share * subsidy
    state = (
        wage * p["other_tax_rate_wage"]
        - benefit * p["other_tax_rate_benefit"]
        + (1 - share) * benefit
        - (1 - sub_share) * subsidy
        - allowance
    )
    rate = values["exchange.sek_per_eur"] if country == Country.SE.value else 1.0
    return {"person": person / rate, "municipality": municipality / rate, "state": state / rate}


def employment_months(
    hires: pd.DataFrame, cutoff: pd.Timestamp, values: Mapping[str, float]
) -> npt.NDArray[np.float64]:
    """Months employed within a year of each hire, known at ``cutoff`` (module docstring)."""
    hired = hires["hired_on"]
    elapsed = ((cutoff - hired).dt.days / MONTH_DAYS).to_numpy(dtype=np.float64)
    six = (hired + pd.Timedelta(days=RETENTION_6M_DAYS) < cutoff).to_numpy()
    twelve = (hired + pd.Timedelta(days=RETENTION_12M_DAYS) < cutoff).to_numpy()
    kept_6 = (hires["retained_6m_on"].notna() & (hires["retained_6m_on"] < cutoff)).to_numpy()
    kept_12 = (hires["retained_12m_on"].notna() & (hires["retained_12m_on"] < cutoff)).to_numpy()
    months = np.minimum(np.maximum(elapsed, 0.0), 12.0)
    months = np.where(six & ~kept_6, values["employment.months_if_left_before_6m"], months)
    between = values["employment.months_if_left_between_6m_and_12m"]
    months = np.where(six & kept_6 & twelve, np.where(kept_12, 12.0, between), months)
    result: npt.NDArray[np.float64] = months.astype(np.float64)
    return result


def _per_hire(
    hires: pd.DataFrame, cutoff: pd.Timestamp, values: Mapping[str, float]
) -> pd.DataFrame:
    """EUR per stakeholder for each hire under one scenario."""
    months = employment_months(hires, cutoff, values)
    combos = hires[["country", "job_form"]].astype(str).drop_duplicates()
    table = {
        (c, f): monthly_impact(values, c, f)
        for c, f in combos.itertuples(index=False)
        if c in (Country.FI.value, Country.SE.value)
    }
    keys = list(zip(hires["country"].astype(str), hires["job_form"].astype(str), strict=True))
    out = {}
    for stakeholder in STAKEHOLDERS:
        monthly = np.array([table.get(k, {}).get(stakeholder, np.nan) for k in keys])
        out[stakeholder] = monthly * months
    frame = pd.DataFrame(out, index=hires.index)
    frame["months"] = months
    return frame


def _counted_hires(facts: Facts, window: Window) -> pd.DataFrame:
    hires = facts.hires
    return hires[hires["counted"] & window.contains(hires["hired_on"])]


def placement_impacts(
    world: WorldTables | Facts,
    start: date | None = None,
    end: date | None = None,
    *,
    params: ImpactParameters | None = None,
) -> pd.DataFrame:
    """One row per hire made: months employed and EUR per stakeholder (central, low, high)."""
    facts = world if isinstance(world, Facts) else build_facts(world)
    parameters = load_parameters() if params is None else params
    window = Window(facts.as_of, start, end)
    hires = _counted_hires(facts, window)
    runs = [_per_hire(hires, window.cutoff, s.values) for s in scenarios(parameters)]
    columns = ["event_id", "jobseeker_id", "vacancy_id", "hired_on", "municipality", "country"]
    out = hires[[*columns, "job_form", "buyer_id", "contract_id"]].copy()
    out["months"] = runs[0]["months"]
    for stakeholder in STAKEHOLDERS:
        stacked = np.column_stack([r[stakeholder].to_numpy() for r in runs])
        out[f"{stakeholder}_eur"] = stacked[:, 0]
        out[f"{stakeholder}_eur_low"] = stacked.min(axis=1)
        out[f"{stakeholder}_eur_high"] = stacked.max(axis=1)
    return out.reset_index(drop=True)


def impact_table(
    world: WorldTables | Facts,
    by: GroupBy = "municipality",
    period: PeriodKind | None = None,
    start: date | None = None,
    end: date | None = None,
    *,
    params: ImpactParameters | None = None,
    totals: bool = False,
) -> pd.DataFrame:
    """Aggregated impact per group: hires made, months, and EUR per stakeholder.

    Groups follow the hire attribution of :func:`reporting.indicators.indicator_table`
    (vacancy municipality, hire day). For each stakeholder: the total (``<s>_eur`` with
    ``_low``/``_high``) and the mean per hire made (``<s>_eur_per_hire`` with its range);
    a group's range is the lowest and highest group total over the scenarios, so it is not
    the sum of the hires' ranges. ``people_hires_made`` counts the distinct people.
    """
    if by == "period" and period is None:
        period = "quarter"
    facts = world if isinstance(world, Facts) else build_facts(world)
    parameters = load_parameters() if params is None else params
    window = Window(facts.as_of, start, end)
    hires = _counted_hires(facts, window)
    runs = [_per_hire(hires, window.cutoff, s.values) for s in scenarios(parameters)]
    passes = [False, True] if totals else [False]
    tables = []
    for total in passes:
        grouping = Grouping(by, period, total)
        keyed = grouping.keyed(hires, "hire", "hired_on")
        keys = grouping.keys
        by_keys = [keyed[k] for k in keys]
        grouped = keyed.groupby(keys, sort=True)
        table = pd.DataFrame(
            {
                "hires_made": grouped.size(),
                people_column("hires_made"): grouped["jobseeker_id"].nunique(),
            }
        )
        table["months"] = runs[0]["months"].loc[keyed.index].groupby(by_keys).sum()
        for stakeholder in STAKEHOLDERS:
            per_hire = pd.DataFrame(
                {i: r[stakeholder].loc[keyed.index] for i, r in enumerate(runs)}
            )
            sums = per_hire.groupby(by_keys).sum().reindex(table.index)
            table[f"{stakeholder}_eur"] = sums[0]
            table[f"{stakeholder}_eur_low"] = sums.min(axis=1)
            table[f"{stakeholder}_eur_high"] = sums.max(axis=1)
            for suffix in ("", "_low", "_high"):
                table[f"{stakeholder}_eur_per_hire{suffix}"] = (
                    table[f"{stakeholder}_eur{suffix}"] / table["hires_made"]
                )
        tables.append(grouping.rename(table).reset_index())
    out = pd.concat(tables, ignore_index=True)
    keys = key_columns(by, period)
    order = ["period", keys[0]] if len(keys) > 1 else keys
    is_total = out[order[-1]] == TOTAL
    return (
        out.assign(_total=is_total)
        .sort_values([*order[:-1], "_total", order[-1]], kind="stable")
        .drop(columns="_total")
        .reset_index(drop=True)[keys + [c for c in out.columns if c not in keys]]
    )


def reference_impacts(params: ImpactParameters | None = None, months: float = 12.0) -> pd.DataFrame:
    """EUR per stakeholder for one placement of ``months`` months, per country and job form."""
    parameters = load_parameters() if params is None else params
    runs = scenarios(parameters)
    rows = []
    for country in Country:
        for form in JobForm:
            results = [monthly_impact(s.values, country.value, form.value) for s in runs]
            for stakeholder in STAKEHOLDERS:
                values = np.array([r[stakeholder] for r in results]) * months
                rows.append(
                    {
                        "country": country.value,
                        "job_form": form.value,
                        "stakeholder": stakeholder,
                        "months": months,
                        "eur": values[0],
                        "eur_low": values.min(),
                        "eur_high": values.max(),
                    }
                )
    return pd.DataFrame(rows)


def sensitivity_table(
    world: WorldTables | Facts,
    start: date | None = None,
    end: date | None = None,
    *,
    params: ImpactParameters | None = None,
) -> pd.DataFrame:
    """Total EUR per stakeholder under every scenario (a tornado table), largest swing first."""
    facts = world if isinstance(world, Facts) else build_facts(world)
    parameters = load_parameters() if params is None else params
    window = Window(facts.as_of, start, end)
    hires = _counted_hires(facts, window)
    rows = []
    for scenario in scenarios(parameters):
        totals = _per_hire(hires, window.cutoff, scenario.values)[list(STAKEHOLDERS)].sum()
        rows.append(
            {"scenario": scenario.name, **{f"{k}_eur": float(v) for k, v in totals.items()}}
        )
    table = pd.DataFrame(rows)
    central = table.iloc[0]
    swing = sum((table[f"{s}_eur"] - central[f"{s}_eur"]).abs() for s in STAKEHOLDERS)
    return (
        table.assign(_swing=swing)
        .sort_values("_swing", ascending=False, kind="stable")
        .drop(columns="_swing")
        .reset_index(drop=True)
    )
