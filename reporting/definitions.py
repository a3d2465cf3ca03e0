"""The common indicator set: names, units and dependencies, defined once.

``docs/indicators.md`` explains every indicator in words (formula, events counted, period and
place attribution); this module is the same list in code. The indicator table, suppression,
the CSV/JSON writers and the charts all read their column names from here, and a test checks
that every indicator below is documented.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from matching.domain import JobForm, TargetGroup

__all__ = [
    "FORM_COLUMNS",
    "INDICATORS",
    "MIN_PEOPLE",
    "PEOPLE_PREFIX",
    "RETENTION_6M_DAYS",
    "RETENTION_12M_DAYS",
    "TARGET_GROUP_COLUMNS",
    "TOTAL",
    "Family",
    "GroupBy",
    "Indicator",
    "Kind",
    "PeriodKind",
    "form_column",
    "indicator",
    "people_column",
    "target_group_column",
]

#: A figure resting on 1..MIN_PEOPLE-1 people is not published.
MIN_PEOPLE = 5
#: Six and twelve months after a hire, in days: the generator writes the retention events
#: exactly this many days after the hire, so a hire is "old enough" when that day has passed.
RETENTION_6M_DAYS = 183
RETENTION_12M_DAYS = 365
#: Label of the totals row in every group key column.
TOTAL = "TOTAL"
#: Prefix of the columns that count the distinct people behind a figure.
PEOPLE_PREFIX = "people_"

GroupBy = Literal["municipality", "buyer", "contract", "cpv_division", "country", "period"]
PeriodKind = Literal["month", "quarter", "year"]


class Family(StrEnum):
    """Which facts an indicator is computed from; each family has one attribution rule."""

    CONDITION = "condition"  # buyer municipality / central purchasing body, contract start
    HIRE = "hire"  # vacancy municipality, hire day
    COACHING = "coaching"  # vacancy municipality, day of the proposal or hire


class Kind(StrEnum):
    """How a figure is aggregated and protected."""

    COUNT = "count"  # a count of things that are not people (contracts, hires required)
    PEOPLE = "people"  # a count of events about people: suppressed when 1-4 people
    AMOUNT = "amount"  # a sum of money or hours
    RATIO = "ratio"  # numerator / denominator, hidden when either is hidden
    STATISTIC = "statistic"  # a median or mean over the people of ``depends_on``


@dataclass(frozen=True, slots=True)
class Indicator:
    """One column of the indicator table."""

    name: str
    family: Family
    kind: Kind
    unit: str
    description: str
    numerator: str | None = None
    denominator: str | None = None
    #: Columns whose suppression hides this one (ratios: numerator and denominator).
    depends_on: tuple[str, ...] = ()

    @property
    def hidden_with(self) -> tuple[str, ...]:
        """The columns whose suppressed cells hide this indicator's cell in the same row."""
        parts = [c for c in (self.numerator, self.denominator) if c is not None]
        return tuple(dict.fromkeys([*parts, *self.depends_on]))


def target_group_column(group: TargetGroup | str) -> str:
    """Column of hires whose deciding target group is ``group``."""
    return f"hires_tg_{TargetGroup(group).value}"


def form_column(form: JobForm | str) -> str:
    """Column of hires in job form ``form``."""
    return f"hires_form_{JobForm(form).value}"


def people_column(name: str) -> str:
    """Column with the number of distinct people behind the count ``name``."""
    return PEOPLE_PREFIX + name


TARGET_GROUP_COLUMNS: tuple[str, ...] = tuple(target_group_column(g) for g in TargetGroup)
FORM_COLUMNS: tuple[str, ...] = tuple(form_column(f) for f in JobForm)

_C, _H, _K = Family.CONDITION, Family.HIRE, Family.COACHING


def _ratio(name: str, family: Family, unit: str, text: str, num: str, den: str) -> Indicator:
    return Indicator(name, family, Kind.RATIO, unit, text, numerator=num, denominator=den)


INDICATORS: tuple[Indicator, ...] = (
    # --- contracts and their employment conditions ---------------------------------------
    Indicator("contracts", _C, Kind.COUNT, "contracts", "Contracts with an employment condition"),
    Indicator(
        "contract_value_eur", _C, Kind.AMOUNT, "EUR", "Value of the contracts with a condition"
    ),
    Indicator("conditions", _C, Kind.COUNT, "conditions", "Employment conditions"),
    Indicator("hires_required", _C, Kind.COUNT, "hires", "Hires the conditions require"),
    Indicator(
        "hires_credited",
        _C,
        Kind.PEOPLE,
        "hires",
        "Counted hires credited to the conditions by their deadline, at most the requirement",
    ),
    _ratio(
        "fulfilment_rate",
        _C,
        "share",
        "Share of the required hires met",
        "hires_credited",
        "hires_required",
    ),
    Indicator("conditions_due", _C, Kind.COUNT, "conditions", "Conditions whose deadline passed"),
    Indicator(
        "hires_required_due", _C, Kind.COUNT, "hires", "Hires required by the conditions due"
    ),
    Indicator(
        "hires_credited_due",
        _C,
        Kind.PEOPLE,
        "hires",
        "Counted hires credited to the conditions due, at most the requirement",
    ),
    _ratio(
        "fulfilment_rate_due",
        _C,
        "share",
        "Share of the hires required by conditions due that were met by the deadline",
        "hires_credited_due",
        "hires_required_due",
    ),
    # --- hires under the conditions --------------------------------------------------------
    Indicator(
        "hires_made",
        _H,
        Kind.PEOPLE,
        "hires",
        "Hires on vacancies under a condition of people eligible on the hire day",
    ),
    *(
        Indicator(
            target_group_column(g),
            _H,
            Kind.PEOPLE,
            "hires",
            f"Hires made whose deciding target group is {g.value}",
        )
        for g in TargetGroup
    ),
    *(
        Indicator(form_column(f), _H, Kind.PEOPLE, "hires", f"Hires made as {f.value}")
        for f in JobForm
    ),
    Indicator(
        "vacancies_filled", _H, Kind.PEOPLE, "vacancies", "Vacancies with a first hire (any hire)"
    ),
    Indicator(
        "time_to_fill_days_median",
        _H,
        Kind.STATISTIC,
        "days",
        "Median days from the vacancy opening to its first hire",
        depends_on=("vacancies_filled",),
    ),
    Indicator(
        "time_to_fill_days_mean",
        _H,
        Kind.STATISTIC,
        "days",
        "Mean days from the vacancy opening to its first hire",
        depends_on=("vacancies_filled",),
    ),
    Indicator("hires_observed_6m", _H, Kind.PEOPLE, "hires", "Hires made at least 6 months ago"),
    Indicator("retained_6m", _H, Kind.PEOPLE, "hires", "Of those, still employed at 6 months"),
    _ratio(
        "retention_6m_rate",
        _H,
        "share",
        "Share of hires still employed 6 months after the hire",
        "retained_6m",
        "hires_observed_6m",
    ),
    Indicator("hires_observed_12m", _H, Kind.PEOPLE, "hires", "Hires made at least 12 months ago"),
    Indicator("retained_12m", _H, Kind.PEOPLE, "hires", "Of those, still employed at 12 months"),
    _ratio(
        "retention_12m_rate",
        _H,
        "share",
        "Share of hires still employed 12 months after the hire",
        "retained_12m",
        "hires_observed_12m",
    ),
    # --- the coaching model ------------------------------------------------------------------
    Indicator("proposals", _K, Kind.PEOPLE, "proposals", "Coaches' proposals to vacancies"),
    Indicator("placements", _K, Kind.PEOPLE, "hires", "Hires of coached people (any hire)"),
    _ratio(
        "proposals_per_hire",
        _K,
        "proposals per hire",
        "Proposals per placement",
        "proposals",
        "placements",
    ),
    Indicator("active_coaches", _K, Kind.COUNT, "coaches", "Coaches with at least one proposal"),
    _ratio(
        "placements_per_coach",
        _K,
        "hires per coach",
        "Placements per active coach",
        "placements",
        "active_coaches",
    ),
    Indicator(
        "coach_hours",
        _K,
        Kind.AMOUNT,
        "hours",
        "Coach hours allocated to the proposals (assessments and proposals)",
        depends_on=("proposals",),
    ),
    Indicator(
        "coaching_cost_eur",
        _K,
        Kind.AMOUNT,
        "EUR",
        "Coach hours times the hourly cost",
        depends_on=("proposals",),
    ),
    _ratio(
        "cost_per_placement_eur",
        _K,
        "EUR per hire",
        "Coaching cost per placement",
        "coaching_cost_eur",
        "placements",
    ),
)

_BY_NAME = {i.name: i for i in INDICATORS}


def indicator(name: str) -> Indicator:
    """The indicator called ``name``; raises naming the known ones when there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown indicator {name!r}; known: {', '.join(_BY_NAME)}") from None
