"""The world cut to what was known on a day: the advisor's only view of the past.

:func:`history_as_of` keeps, of a world's tables, the rows that existed before the day
``as_of``:

- contracts that started before ``as_of`` (``starts_on < as_of``) and their employment
  conditions (a condition is written into its contract, so it is known from the start);
- vacancies opened before ``as_of`` (``opens_on < as_of``); their advertised closing day is
  part of the advert and so known when they open;
- outcome events whose UTC day is before ``as_of`` (``occurred_at < as_of 00:00 UTC``).

Nothing dated on or after ``as_of`` survives, so the advisor run as of a past contract's
start day (the backtest) sees what a procurement officer could have seen then. The cut is a
handful of vectorised comparisons: the national world (100,000 vacancies, about ten million
outcome rows) is cut in about a second.

Derived per vacancy (:attr:`History.vacancies`): its contract's CPV division, the day of its
first hire (``first_hire_on``, NaT when none before ``as_of``) and its hires. Per hire
(:attr:`History.hires`): the hire day and the retention events known before ``as_of``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from features.world_store import WorldTables
from matching.domain import OutcomeStage

__all__ = ["History", "history_as_of"]

_DAY: Literal["datetime64[ms]"] = "datetime64[ms]"


@dataclass(frozen=True, eq=False)
class History:
    """The rows of a world known on ``as_of`` (see the module docstring).

    Attributes:
        as_of: the day; every row is dated before it.
        contracts: ``contracts`` rows with ``starts_on < as_of``, plus ``cpv_division``.
        conditions: ``employment_conditions`` rows of those contracts.
        vacancies: ``vacancies`` rows with ``opens_on < as_of`` (``opens_on`` and
            ``closes_on`` as ``datetime64``), plus ``cpv_division`` (of the vacancy's contract
            when that contract is in :attr:`contracts`, else NA), ``first_hire_on`` and
            ``hires`` (distinct people hired before ``as_of``).
        hires: one row per (person, vacancy) hire before ``as_of``: ``jobseeker_id``,
            ``vacancy_id``, ``hired_on``, ``retained_6m_on``, ``retained_12m_on`` (NaT when
            not recorded before ``as_of``).
    """

    as_of: date
    contracts: pd.DataFrame
    conditions: pd.DataFrame
    vacancies: pd.DataFrame
    hires: pd.DataFrame


def _days(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).astype(_DAY)


def _stage_days(outcomes: pd.DataFrame, stage: OutcomeStage) -> pd.DataFrame:
    # A categorical compared with a string compares codes: no string per row.
    rows = outcomes[(outcomes["stage"] == stage.value).to_numpy(dtype=bool)]
    days = pd.to_datetime(rows["occurred_at"], utc=True).dt.tz_localize(None).dt.floor("D")
    frame = pd.DataFrame(
        {
            "jobseeker_id": rows["jobseeker_id"].astype(str).to_numpy(),
            "vacancy_id": rows["vacancy_id"].astype(str).to_numpy(),
            f"{stage.value}_on": days.astype(_DAY).to_numpy(),
        }
    )
    # The first event of a stage per (person, vacancy) is the one that counts.
    return frame.sort_values(f"{stage.value}_on", kind="stable").drop_duplicates(
        ["jobseeker_id", "vacancy_id"]
    )


def history_as_of(world: WorldTables, as_of: date) -> History:
    """The rows of ``world`` known on ``as_of`` (see the module docstring)."""
    day = np.datetime64(as_of, "D")
    contracts = world.contracts
    started = _days(contracts["starts_on"]).to_numpy() < day
    contracts = contracts.loc[started].copy()
    contracts["cpv_division"] = contracts["cpv_code"].astype(str).str[:2]
    known_contracts = set(contracts["contract_id"].astype(str))
    conditions = world.employment_conditions
    conditions = conditions.loc[conditions["contract_id"].astype(str).isin(known_contracts)].copy()

    vacancies = world.vacancies
    opens = _days(vacancies["opens_on"])
    vacancies = vacancies.loc[opens.to_numpy() < day].copy()
    vacancies["opens_on"] = _days(vacancies["opens_on"])
    vacancies["closes_on"] = _days(vacancies["closes_on"])
    division = contracts.set_index(contracts["contract_id"].astype(str))["cpv_division"]
    vacancies["cpv_division"] = (
        vacancies["contract_id"].astype("string").map(division).astype("string")
    )

    cutoff = pd.Timestamp(as_of, tz="UTC")
    outcomes = world.outcomes
    outcomes = outcomes.loc[(outcomes["occurred_at"] < cutoff).to_numpy()]

    hires = _stage_days(outcomes, OutcomeStage.HIRED)
    for stage in (OutcomeStage.RETAINED_6M, OutcomeStage.RETAINED_12M):
        hires = hires.merge(
            _stage_days(outcomes, stage), on=["jobseeker_id", "vacancy_id"], how="left"
        )
    hires = hires.reset_index(drop=True)
    per_vacancy = hires.groupby("vacancy_id", sort=False).agg(
        first_hire_on=("hired_on", "min"), hires=("jobseeker_id", "nunique")
    )
    found = per_vacancy.reindex(pd.Index(vacancies["vacancy_id"].astype(str)))
    vacancies["first_hire_on"] = pd.to_datetime(found["first_hire_on"]).astype(_DAY).to_numpy()
    vacancies["hires"] = found["hires"].fillna(0).astype(np.int64).to_numpy()
    return History(
        as_of=as_of,
        contracts=contracts.reset_index(drop=True),
        conditions=conditions.reset_index(drop=True),
        vacancies=vacancies.reset_index(drop=True),
        hires=hires,
    )
