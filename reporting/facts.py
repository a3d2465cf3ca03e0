"""Fact tables for the statistics: every attribution rule of ``docs/indicators.md`` applied once.

:func:`build_facts` turns a world's tables into four fact tables, each one row per event:

- ``conditions``: one row per employment condition with its contract, the buyer and the
  *area* the contract is attributed to (the buyer municipality, or the central purchasing
  body's own id, so that central purchasing bodies are grouped separately);
- ``hires``: one row per ``hired`` event, with the vacancy's municipality and job form, the
  condition's buyer and area, and whether the hire *counts* (see :func:`_eligibility`), which
  target group decided, whether it is credited to its condition, the retention days,
  whether the condition is performance-based, and the person's recorded
  ``sex`` — for the equality statistics only (:mod:`reporting.contract_types`), never a
  grouping of anything else;
- ``proposals``: one row per ``proposed`` event, with the proposing coach (the jobseeker's
  coach) and the vacancy's attributes;
- ``assessments``: one row per coaching assessment with its coach and method.

Event days are the UTC calendar day of the event's timestamp (events happen in office hours,
when the UTC day is the Finnish and Swedish day as well). Everything is vectorised: the
national world (tens of millions of outcome rows) goes through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from features.world_store import WorldTables
from matching.domain import FULL_TIME_HOURS, BuyerKind, OutcomeStage
from matching.eligibility import (
    DEFAULT_RULES,
    TargetGroupRule,
    membership_periods,
    pair_eligibility,
)

__all__ = ["AREA_CPB", "AREA_MUNICIPALITY", "Facts", "build_facts", "country_of_code", "event_day"]

#: ``area_kind`` of a contract attributed to its buyer municipality or to a central body.
AREA_MUNICIPALITY = "municipality"
AREA_CPB = "central_purchasing_body"

_DAY: Literal["datetime64[ms]"] = "datetime64[ms]"


@dataclass(frozen=True, eq=False)
class Facts:
    """The fact tables of one world (see the module docstring), and the world's day."""

    as_of: date
    conditions: pd.DataFrame
    hires: pd.DataFrame
    proposals: pd.DataFrame
    assessments: pd.DataFrame
    #: Organisation names by id, and municipality names by code when known.
    names: dict[str, str]


def country_of_code(codes: pd.Series) -> pd.Series:
    """FI for three-digit municipality codes, SE for four digits (the codes' own convention)."""
    length = codes.astype("string").str.len().fillna(0).to_numpy(dtype=np.int64)
    country = np.full(len(length), None, dtype=object)
    country[length == 3] = "FI"
    country[length == 4] = "SE"
    return pd.Series(country, index=codes.index, dtype="string")


def event_day(timestamps: pd.Series) -> pd.Series:
    """The UTC calendar day of each event timestamp, as a ``datetime64[ms]`` midnight."""
    values = pd.to_datetime(timestamps, utc=True).dt.tz_localize(None)
    return values.dt.floor("D").astype(_DAY)


def _day(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).astype(_DAY)


def _conditions(world: WorldTables) -> pd.DataFrame:
    contracts = world.contracts
    merged = world.employment_conditions.merge(
        contracts, on="contract_id", how="inner", validate="many_to_one"
    )
    cpb = merged["buyer_kind"].astype(str) == BuyerKind.CENTRAL_PURCHASING_BODY.value
    buyer_municipality = merged["buyer_municipality"].astype("string")
    organisations = world.organisations.drop_duplicates("organisation_id").set_index(
        "organisation_id"
    )
    buyer_country = merged["buyer_id"].map(organisations["country"].astype(str))
    country = country_of_code(buyer_municipality).fillna(buyer_country.astype("string"))
    order = merged.sort_values(["contract_id", "condition_id"], kind="stable")
    first = ~order["contract_id"].duplicated()
    return pd.DataFrame(
        {
            "condition_id": merged["condition_id"].astype(str),
            "contract_id": merged["contract_id"].astype(str),
            "buyer_id": merged["buyer_id"].astype(str),
            "buyer_kind": merged["buyer_kind"].astype(str),
            "area": buyer_municipality.where(~cpb, merged["buyer_id"].astype("string")),
            "area_kind": np.where(cpb, AREA_CPB, AREA_MUNICIPALITY),
            "country": country,
            "cpv_division": merged["cpv_code"].astype(str).str[:2],
            "starts_on": _day(merged["starts_on"]),
            "deadline": _day(merged["deadline"]),
            "hires_required": merged["hires_required"].astype(np.int64),
            # A contract's value is counted once, on its first condition.
            "contract_value_eur": merged["value_eur"].where(first.reindex(merged.index), 0.0),
            "target_groups": merged["target_groups"],
            "allowed_job_forms": merged["allowed_job_forms"],
            "performance_based": merged["performance_based"].fillna(False).astype(bool),
        }
    )


def _partial_capacity(jobseekers: pd.DataFrame) -> np.ndarray:
    """Partial work capacity as :attr:`matching.domain.WorkCapacity.is_partial` defines it."""
    restricted = jobseekers["restrictions"].map(lambda items: items is not None and len(items) > 0)
    hours = jobseekers["max_hours_per_week"]
    reduced = hours.notna() & (hours < FULL_TIME_HOURS)
    return np.asarray(restricted.astype(bool) | reduced, dtype=bool)


def _group_masks(target_groups: pd.Series, rules: tuple[TargetGroupRule, ...]) -> np.ndarray:
    """Which rules each row's condition accepts (rows x rules), from its target-group lists."""
    masks = np.zeros((len(target_groups), len(rules)), dtype=bool)
    for j, rule in enumerate(rules):
        wanted = rule.group.value
        # A condition-less row's groups are NaN after the join (a float, not a list).
        masks[:, j] = target_groups.map(
            lambda items, wanted=wanted: (
                isinstance(items, list | tuple | np.ndarray) and wanted in list(items)
            )
        ).to_numpy(dtype=bool)
    return masks


def _eligibility(
    hires: pd.DataFrame, jobseekers: pd.DataFrame, rules: tuple[TargetGroupRule, ...]
) -> tuple[np.ndarray, pd.Series]:
    """Whether each hire's person belongs to a target group of the condition on the hire day.

    Uses :func:`matching.eligibility.membership_periods` and
    :func:`~matching.eligibility.pair_eligibility`, the same rules (and tie-breaking) as the
    matching engine; returns the eligibility and the deciding target group (NA when none).
    """
    people = jobseekers.reset_index(drop=True)
    position = pd.Series(np.arange(len(people)), index=people["jobseeker_id"].astype(str))
    rows = hires["jobseeker_id"].map(position)
    known = rows.notna().to_numpy() & hires["target_groups"].notna().to_numpy()
    eligible = np.zeros(len(hires), dtype=bool)
    deciding = pd.Series(pd.NA, index=hires.index, dtype="string")
    if not known.any():
        return eligible, deciding
    periods = membership_periods(
        people["unemployment_start"].to_numpy().astype("datetime64[D]"),
        people["birth_year"].to_numpy(),
        people["migrant_background"].to_numpy(dtype=bool),
        _partial_capacity(people),
        rules,
    )
    index = rows[known].astype(np.int64).to_numpy()
    days = hires.loc[known, "hired_on"].to_numpy().astype("datetime64[D]")
    masks = _group_masks(hires.loc[known, "target_groups"], rules)
    ok, _, rule = pair_eligibility(periods.starts[index], periods.ends[index], masks, days)
    eligible[known] = ok
    groups = np.array([r.group.value for r in rules], dtype=object)
    decided = groups[np.maximum(rule, 0)].copy()
    decided[~ok] = None
    deciding[known] = pd.array(decided, dtype="string")
    return eligible, deciding


def _form_allowed(hires: pd.DataFrame) -> np.ndarray:
    # A vacancy without an employment condition has no allowed forms (NaN after the join).
    allowed = [
        isinstance(forms, list | tuple | np.ndarray) and form in list(forms)
        for form, forms in zip(hires["job_form"], hires["allowed_job_forms"], strict=True)
    ]
    return np.asarray(allowed, dtype=bool)


def _stage(outcomes: pd.DataFrame, stage: OutcomeStage) -> pd.DataFrame:
    return outcomes[outcomes["stage"].astype(str) == stage.value]


def _vacancies(world: WorldTables, conditions: pd.DataFrame) -> pd.DataFrame:
    vacancies = world.vacancies
    frame = pd.DataFrame(
        {
            "vacancy_id": vacancies["vacancy_id"].astype(str),
            "municipality": vacancies["municipality"].astype(str),
            "job_form": vacancies["job_form"].astype(str),
            "opens_on": _day(vacancies["opens_on"]),
            "condition_id": vacancies["condition_id"].astype("string"),
        }
    )
    frame["country"] = country_of_code(frame["municipality"])
    keep = [
        "condition_id",
        "contract_id",
        "buyer_id",
        "area",
        "area_kind",
        "cpv_division",
        "starts_on",
        "deadline",
        "hires_required",
        "target_groups",
        "allowed_job_forms",
        "performance_based",
    ]
    return frame.merge(conditions[keep], on="condition_id", how="left", validate="many_to_one")


def _pairs(outcomes: pd.DataFrame, stage: OutcomeStage) -> pd.DataFrame:
    events = _stage(outcomes, stage)
    return pd.DataFrame(
        {
            "jobseeker_id": events["jobseeker_id"].astype(str),
            "vacancy_id": events["vacancy_id"].astype(str),
            f"{stage.value}_on": event_day(events["occurred_at"]),
        }
    ).drop_duplicates(["jobseeker_id", "vacancy_id"])


def _hires(
    world: WorldTables, vacancies: pd.DataFrame, rules: tuple[TargetGroupRule, ...]
) -> pd.DataFrame:
    events = _stage(world.outcomes, OutcomeStage.HIRED)
    hires = pd.DataFrame(
        {
            "event_id": events["event_id"].astype(str),
            "jobseeker_id": events["jobseeker_id"].astype(str),
            "vacancy_id": events["vacancy_id"].astype(str),
            "occurred_at": events["occurred_at"],
            "hired_on": event_day(events["occurred_at"]),
        }
    )
    hires = hires.merge(vacancies, on="vacancy_id", how="left", validate="many_to_one")
    seekers = world.jobseekers.set_index(world.jobseekers["jobseeker_id"].astype(str))
    hires["coach_id"] = hires["jobseeker_id"].map(seekers["coach_id"].astype(str))
    # Recorded for equality statistics only (reporting.contract_types); a person erased from
    # the service keeps their hires, of unknown sex.
    sex = hires["jobseeker_id"].map(seekers["sex"].astype("string"))
    hires["sex"] = sex.fillna("unknown").astype(str)
    hires["performance_based"] = hires["performance_based"].astype("boolean")
    for stage in (OutcomeStage.RETAINED_6M, OutcomeStage.RETAINED_12M):
        hires = hires.merge(
            _pairs(world.outcomes, stage), on=["jobseeker_id", "vacancy_id"], how="left"
        )
    eligible, deciding = _eligibility(hires, world.jobseekers, rules)
    under_condition = hires["condition_id"].notna().to_numpy()
    hires["counted"] = under_condition & eligible & _form_allowed(hires)
    hires["deciding_group"] = deciding.where(hires["counted"], pd.NA)
    # The first hire of each vacancy fills it (time to fill), eligible or not.
    hires = hires.sort_values(["vacancy_id", "occurred_at", "event_id"], kind="stable")
    hires["first_of_vacancy"] = ~hires["vacancy_id"].duplicated()
    hires["days_to_fill"] = (hires["hired_on"] - hires["opens_on"]).dt.days.astype("Float64")
    # Counted hires are credited to their condition in hire order, up to the requirement,
    # if made by the deadline; `credit_rank` lets a later cutoff re-apply the cap.
    on_time = hires["counted"] & (hires["hired_on"] <= hires["deadline"])
    hires["on_time"] = on_time
    hires["credit_rank"] = (
        hires.assign(_one=on_time.astype(np.int64))
        .sort_values(["condition_id", "occurred_at", "event_id"], kind="stable")
        .groupby("condition_id", dropna=True)["_one"]
        .cumsum()
        .reindex(hires.index)
        .where(on_time)
        .astype("Float64")
    )
    return hires.drop(columns=["target_groups", "allowed_job_forms"]).reset_index(drop=True)


def _proposals(world: WorldTables, vacancies: pd.DataFrame) -> pd.DataFrame:
    events = _stage(world.outcomes, OutcomeStage.PROPOSED)
    proposals = pd.DataFrame(
        {
            "jobseeker_id": events["jobseeker_id"].astype(str),
            "vacancy_id": events["vacancy_id"].astype(str),
            "proposed_on": event_day(events["occurred_at"]),
        }
    )
    columns = ["vacancy_id", "municipality", "country", "contract_id", "buyer_id", "cpv_division"]
    proposals = proposals.merge(vacancies[columns], on="vacancy_id", how="left")
    seekers = world.jobseekers.set_index(world.jobseekers["jobseeker_id"].astype(str))
    proposals["coach_id"] = proposals["jobseeker_id"].map(seekers["coach_id"].astype(str))
    coaches = world.coaches.set_index(world.coaches["coach_id"].astype(str))
    coach_country = country_of_code(coaches["municipality"].astype(str))
    proposals["coach_country"] = proposals["coach_id"].map(coach_country).astype("string")
    return proposals.reset_index(drop=True)


def _assessments(world: WorldTables) -> pd.DataFrame:
    assessments = world.assessments
    coaches = world.coaches.set_index(world.coaches["coach_id"].astype(str))
    coach_country = country_of_code(coaches["municipality"].astype(str))
    frame = pd.DataFrame(
        {
            "coach_id": assessments["coach_id"].astype(str),
            "assessed_on": _day(assessments["assessed_on"]),
            "method": assessments["method"].astype(str),
        }
    )
    frame["coach_country"] = frame["coach_id"].map(coach_country).astype("string")
    return frame


def _names(world: WorldTables) -> dict[str, str]:
    organisations = world.organisations
    names = dict(
        zip(
            organisations["organisation_id"].astype(str),
            organisations["name"].astype(str),
            strict=False,
        )
    )
    buyers = organisations[
        (organisations["kind"].astype(str) == "buyer") & organisations["municipality"].notna()
    ]
    # A municipality's name: its buyer organisation's name without the "(kunta)" suffix.
    for code, name in zip(
        buyers["municipality"].astype(str), buyers["name"].astype(str), strict=True
    ):
        names.setdefault(code, name.split(" (")[0])
    return names


def build_facts(world: WorldTables, rules: tuple[TargetGroupRule, ...] = DEFAULT_RULES) -> Facts:
    """Build the fact tables of ``world`` (see the module docstring)."""
    conditions = _conditions(world)
    vacancies = _vacancies(world, conditions)
    return Facts(
        as_of=world.as_of,
        conditions=conditions,
        hires=_hires(world, vacancies, rules),
        proposals=_proposals(world, vacancies),
        assessments=_assessments(world),
        names=_names(world),
    )
