"""Performance-based employment conditions: which outcomes earn points, and what they cost.

A performance-based condition buys the employment impact instead of setting a quota: every
*verified outcome* under it earns points, points cost ``price_per_point_eur``, and the buyer
pays at most ``cap_eur`` over the contract. ``docs/performance.md`` states the rules in words;
this module is the one implementation. The service's payment statements
(:mod:`service.operations.performance`) and the statistics both call :func:`credited_outcomes`
on their own frames, so a statement and the published figures reconcile by construction.

Rules
-----
- **Credited hire**: the first ``hired`` outcome of a (person, vacancy) pair on a vacancy under
  the condition, that the quota ledger counts: the person belonged to one of the condition's
  target groups on the hire day (:func:`reporting.facts.build_facts`, the matching engine's
  eligibility rules) and the vacancy's job form is one the condition allows. A hire of a person
  erased since keeps its credit (it was checked when made), as in the quota ledger, under the
  group ``erased``, weighted by the *lowest* weight among the condition's target groups: the
  group that decided cannot be known any more, and the buyer then pays the least the hire
  could have earned.
- **Retention**: the first ``retained_6m`` (``retained_12m``) outcome of the pair of a
  credited hire earns its points once, when dated at least :data:`RETENTION_6M_DAYS`
  (:data:`RETENTION_12M_DAYS`) days after the hire; an earlier one earns nothing.
- **Points** = the stage's points x the deciding group's weight x the job form's weight;
  **amount** = points x price.
- **Cap**: outcomes are credited in time order (instant, then event id); the running total
  of a condition stops at ``cap_eur``. The outcome that crosses the cap is credited in part
  (``capped_amount_eur`` < ``amount_eur``), the ones after it earn 0 and are kept, marked
  ``over_cap``.
- **Period**: an outcome is paid in the calendar month or quarter (the terms' ``period``) of
  its UTC day.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import numpy as np
import pandas as pd

from features.world_store import SCHEMAS, WorldTables
from matching.domain import JobForm, OutcomeStage, TargetGroup
from matching.eligibility import DEFAULT_RULES, TargetGroupRule
from reporting.definitions import RETENTION_6M_DAYS, RETENTION_12M_DAYS
from reporting.facts import Facts, build_facts, event_day
from reporting.indicators import period_labels

__all__ = [
    "CREDITED_COLUMNS",
    "ERASED",
    "PAYMENT_COLUMNS",
    "STAGES",
    "TERMS_COLUMNS",
    "credited_outcomes",
    "form_weight_column",
    "group_weight_column",
    "payments_by_condition",
    "payments_by_period",
]

#: The stages that earn points, in the order a hire earns them, with the terms' column of
#: their points and the days after the hire from which they count.
STAGES: Final[tuple[tuple[str, str, int], ...]] = (
    (OutcomeStage.HIRED.value, "points_hired", 0),
    (OutcomeStage.RETAINED_6M.value, "points_retained_6m", RETENTION_6M_DAYS),
    (OutcomeStage.RETAINED_12M.value, "points_retained_12m", RETENTION_12M_DAYS),
)
#: The deciding group of a credited hire whose person was erased.
ERASED: Final = "erased"
TERMS_COLUMNS: Final[tuple[str, ...]] = tuple(SCHEMAS["performance_terms"].names)

#: One row per credited outcome (see :func:`credited_outcomes`).
CREDITED_COLUMNS: Final[tuple[str, ...]] = (
    "condition_id",
    "contract_id",
    "event_id",
    "hire_event_id",
    "jobseeker_id",
    "vacancy_id",
    "stage",
    "occurred_at",
    "day",
    "period",
    "deciding_group",
    "job_form",
    "stage_points",
    "group_weight",
    "form_weight",
    "points",
    "amount_eur",
    "capped_amount_eur",
    "running_total_eur",
    "over_cap",
)
#: One row per condition with terms (see :func:`payments_by_condition`).
PAYMENT_COLUMNS: Final[tuple[str, ...]] = (
    "condition_id",
    "contract_id",
    "credited_hires",
    "credited_outcomes",
    "points",
    "amount_before_cap_eur",
    "amount_eur",
    "cap_eur",
    "cap_remaining_eur",
)


def group_weight_column(group: TargetGroup | str) -> str:
    """The terms' column with the weight of outcomes whose deciding group is ``group``."""
    return f"weight_tg_{TargetGroup(group).value}"


def form_weight_column(form: JobForm | str) -> str:
    """The terms' column with the weight of outcomes in job form ``form``."""
    return f"weight_form_{JobForm(form).value}"


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype=object) for name in CREDITED_COLUMNS})
    for name in ("stage_points", "group_weight", "form_weight", "points", "amount_eur"):
        frame[name] = frame[name].astype(np.float64)
    for name in ("capped_amount_eur", "running_total_eur"):
        frame[name] = frame[name].astype(np.float64)
    frame["over_cap"] = frame["over_cap"].astype(bool)
    return frame


def _credited_hires(facts: Facts, terms: pd.DataFrame, known_people: Iterable[str]) -> pd.DataFrame:
    """The first hire of each (person, vacancy) pair under a condition with terms, if the
    quota ledger counts it (eligible on the hire day, or erased since)."""
    hires = facts.hires
    hires = hires[hires["condition_id"].isin(terms["condition_id"])]
    hires = hires.sort_values(["occurred_at", "event_id"], kind="stable")
    hires = hires.drop_duplicates(["jobseeker_id", "vacancy_id"], keep="first")
    known = hires["jobseeker_id"].isin(pd.Index(list(known_people)))
    erased = ~known & hires["job_form"].notna()
    allowed = _allowed_forms(facts, hires)
    credited = (known & hires["counted"].astype(bool)) | (erased & allowed)
    hires = hires[credited].copy()
    hires["deciding_group"] = (
        hires["deciding_group"].astype(object).where(known[credited], ERASED).astype(str)
    )
    return hires


def _allowed_forms(facts: Facts, hires: pd.DataFrame) -> pd.Series:
    """Whether each hire's job form is one its condition allows (for erased people, whose
    hires the fact tables do not count)."""
    forms = facts.conditions.set_index("condition_id")["allowed_job_forms"]
    allowed = [
        isinstance(items := forms.get(condition), list | tuple | np.ndarray) and form in list(items)
        for condition, form in zip(hires["condition_id"], hires["job_form"], strict=True)
    ]
    return pd.Series(allowed, index=hires.index, dtype=bool)


def _retentions(outcomes: pd.DataFrame, hires: pd.DataFrame) -> pd.DataFrame:
    """Retention outcomes of the credited hires that count (one per stage and hire)."""
    frames = []
    pairs = hires[["jobseeker_id", "vacancy_id", "event_id", "occurred_at"]].rename(
        columns={"event_id": "hire_event_id", "occurred_at": "hired_at"}
    )
    hired_day = event_day(pairs["hired_at"])
    pairs = pairs.assign(hired_on=hired_day)
    for stage, _column, days in STAGES[1:]:
        events = outcomes[outcomes["stage"].astype(str) == stage]
        events = pd.DataFrame(
            {
                "event_id": events["event_id"].astype(str),
                "jobseeker_id": events["jobseeker_id"].astype(str),
                "vacancy_id": events["vacancy_id"].astype(str),
                "occurred_at": events["occurred_at"],
            }
        )
        events = events.merge(pairs, on=["jobseeker_id", "vacancy_id"], how="inner")
        events["day"] = event_day(events["occurred_at"])
        due = (events["day"] - events["hired_on"]).dt.days >= days
        events = events[due.to_numpy(dtype=bool)]
        events = events.sort_values(["occurred_at", "event_id"], kind="stable")
        events = events.drop_duplicates(["jobseeker_id", "vacancy_id"], keep="first")
        frames.append(events.assign(stage=stage))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _weights(
    frame: pd.DataFrame, terms: pd.DataFrame, conditions: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """The deciding group's and the job form's weight of each row (an erased person's
    group: the lowest weight among the condition's target groups)."""
    indexed = terms.set_index("condition_id")
    condition = frame["condition_id"]
    group_weight = np.zeros(len(frame))
    form_weight = np.zeros(len(frame))
    for group in TargetGroup:
        rows = (frame["deciding_group"] == group.value).to_numpy(dtype=bool)
        weights = condition[rows].map(indexed[group_weight_column(group)])
        group_weight[rows] = weights.to_numpy(dtype=np.float64)
    erased = (frame["deciding_group"] == ERASED).to_numpy(dtype=bool)
    if erased.any():
        named = conditions.set_index("condition_id")["target_groups"]
        weights_of = indexed.astype({group_weight_column(g): np.float64 for g in TargetGroup})
        lowest: dict[str, float] = {}
        for c in condition[erased].unique():
            row = weights_of.loc[c]
            groups = [group_weight_column(g) for g in list(named.get(c, []))]
            lowest[str(c)] = float(row[groups].min()) if groups else 0.0
        group_weight[erased] = condition[erased].map(lowest).to_numpy(dtype=np.float64)
    for form in JobForm:
        rows = (frame["job_form"] == form.value).to_numpy(dtype=bool)
        weights = condition[rows].map(indexed[form_weight_column(form)])
        form_weight[rows] = weights.to_numpy(dtype=np.float64)
    return group_weight, form_weight


def credited_outcomes(
    world: WorldTables,
    terms: pd.DataFrame | None = None,
    *,
    facts: Facts | None = None,
    rules: tuple[TargetGroupRule, ...] = DEFAULT_RULES,
) -> pd.DataFrame:
    """One row per credited outcome of the conditions with ``terms`` (the module's rules).

    Parameters
    ----------
    world
        The tables the outcomes come from: ``outcomes``, ``jobseekers`` (a person absent
        from it counts as erased), and what :func:`~reporting.facts.build_facts` reads.
    terms
        ``performance_terms`` rows (default: the world's own).
    facts
        The fact tables of ``world`` when already built (they are not built twice).

    Returns
    -------
    DataFrame with :data:`CREDITED_COLUMNS`, in crediting order per condition: the
    deciding group (``erased`` for an erased person), the job form, the points and their
    weights, ``amount_eur`` before and ``capped_amount_eur`` after the cap, the condition's
    ``running_total_eur`` and ``over_cap``. ``jobseeker_id`` is for joins (by sex, for
    pseudonyms) and must not leave the service.
    """
    terms = world.performance_terms if terms is None else terms
    if terms.empty:
        return _empty()
    terms = terms.assign(condition_id=terms["condition_id"].astype(str))
    facts = build_facts(world, rules) if facts is None else facts
    known = world.jobseekers["jobseeker_id"].astype(str)
    hires = _credited_hires(facts, terms, known)
    if hires.empty:
        return _empty()
    base = hires[
        ["condition_id", "contract_id", "jobseeker_id", "vacancy_id", "deciding_group", "job_form"]
    ].assign(hire_event_id=hires["event_id"].astype(str))
    hired = base.assign(
        event_id=hires["event_id"].astype(str),
        stage=OutcomeStage.HIRED.value,
        occurred_at=hires["occurred_at"],
    )
    retained = _retentions(world.outcomes, hires)
    frames = [hired]
    if not retained.empty:
        frames.append(
            retained[["event_id", "hire_event_id", "stage", "occurred_at"]].merge(
                base, on="hire_event_id", how="inner", validate="many_to_one"
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    frame = frame.sort_values(
        ["condition_id", "occurred_at", "event_id"], kind="stable"
    ).reset_index(drop=True)
    indexed = terms.set_index("condition_id")
    stage_points = np.zeros(len(frame))
    for stage, column, _days in STAGES:
        rows = (frame["stage"] == stage).to_numpy(dtype=bool)
        points = frame.loc[rows, "condition_id"].map(indexed[column])
        stage_points[rows] = points.to_numpy(dtype=np.float64)
    group_weight, form_weight = _weights(frame, terms, facts.conditions)
    frame["stage_points"] = stage_points
    frame["group_weight"] = group_weight
    frame["form_weight"] = form_weight
    frame["points"] = stage_points * group_weight * form_weight
    price = frame["condition_id"].map(indexed["price_per_point_eur"]).astype(np.float64)
    cap = frame["condition_id"].map(indexed["cap_eur"]).astype(np.float64)
    frame["amount_eur"] = frame["points"] * price
    before = frame.groupby("condition_id", sort=False)["amount_eur"].cumsum() - frame["amount_eur"]
    frame["capped_amount_eur"] = np.clip(cap - before, 0.0, frame["amount_eur"])
    frame["running_total_eur"] = frame.groupby("condition_id", sort=False)[
        "capped_amount_eur"
    ].cumsum()
    frame["over_cap"] = frame["capped_amount_eur"] < frame["amount_eur"]
    frame["day"] = event_day(frame["occurred_at"])
    period_kind = frame["condition_id"].map(indexed["period"]).astype(str)
    frame["period"] = ""
    for kind in period_kind.unique():
        rows = period_kind == kind
        frame.loc[rows, "period"] = period_labels(frame.loc[rows, "day"], kind)
    return frame[list(CREDITED_COLUMNS)]


def payments_by_period(credited: pd.DataFrame) -> pd.DataFrame:
    """Per condition and payment period: outcomes credited, points, amounts before and after
    the cap (the periods of a statement; their sum is the condition's running total)."""
    columns = ["condition_id", "contract_id", "period"]
    if credited.empty:
        return pd.DataFrame(
            columns=[*columns, "outcomes", "points", "amount_before_cap_eur", "amount_eur"]
        )
    return (
        credited.groupby(columns, sort=True)
        .agg(
            outcomes=("event_id", "size"),
            points=("points", "sum"),
            amount_before_cap_eur=("amount_eur", "sum"),
            amount_eur=("capped_amount_eur", "sum"),
        )
        .reset_index()
    )


def payments_by_condition(
    credited: pd.DataFrame, terms: pd.DataFrame, conditions: pd.DataFrame
) -> pd.DataFrame:
    """What each condition with ``terms`` earned: :data:`PAYMENT_COLUMNS`.

    ``credited`` is :func:`credited_outcomes`' answer, ``conditions`` the
    ``employment_conditions`` rows (or the fact table of conditions) that name each
    condition's contract. ``amount_eur`` is after the cap (what the buyer owes over the
    contract so far), ``points`` every point earned (over the cap too). A condition without a
    credited outcome has a row of zeros, so every performance-based condition is listed.
    """
    ids = terms["condition_id"].astype(str).to_numpy()
    contracts = pd.Series(
        conditions["contract_id"].astype(str).to_numpy(),
        index=conditions["condition_id"].astype(str).to_numpy(),
    )
    out = pd.DataFrame(
        {
            "condition_id": ids,
            "contract_id": pd.Series(ids).map(contracts).to_numpy(),
            "cap_eur": terms["cap_eur"].astype(np.float64).to_numpy(),
        }
    )
    hired = credited["stage"] == OutcomeStage.HIRED.value
    by_condition = credited.assign(_hire=hired.astype(np.int64)).groupby("condition_id")
    sums = pd.DataFrame(
        {
            "credited_hires": by_condition["_hire"].sum(),
            "credited_outcomes": by_condition.size(),
            "points": by_condition["points"].sum(),
            "amount_before_cap_eur": by_condition["amount_eur"].sum(),
            "amount_eur": by_condition["capped_amount_eur"].sum(),
        }
    )
    out = out.merge(sums, left_on="condition_id", right_index=True, how="left")
    for name in ("credited_hires", "credited_outcomes"):
        out[name] = out[name].fillna(0).astype(np.int64)
    for name in ("points", "amount_before_cap_eur", "amount_eur"):
        out[name] = out[name].fillna(0.0).astype(np.float64)
    out["cap_remaining_eur"] = (out["cap_eur"] - out["amount_eur"]).clip(lower=0.0)
    return out[list(PAYMENT_COLUMNS)].sort_values("condition_id").reset_index(drop=True)
