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
    "CONTRACT_TYPES",
    "CONTRACT_TYPE_BASE",
    "CONTRACT_TYPE_INDICATORS",
    "FORM_COLUMNS",
    "INDICATORS",
    "MIN_PEOPLE",
    "PEOPLE_PREFIX",
    "RETENTION_6M_DAYS",
    "RETENTION_12M_DAYS",
    "SEX_GROUPS",
    "TARGET_GROUP_COLUMNS",
    "TOTAL",
    "Family",
    "GroupBy",
    "Indicator",
    "Kind",
    "PeriodKind",
    "contract_type_indicator",
    "form_column",
    "indicator",
    "people_column",
    "sex_column",
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


# --- quota and performance contracts side by side (reporting.contract_types) -----------------

#: A condition's contract type: ``performance`` when it is performance-based, else ``quota``.
CONTRACT_TYPES: tuple[str, ...] = ("quota", "performance")
#: Sex groups of the equality statistics. ``other`` and ``unknown`` are one group: each is
#: recorded for about 0.5 % of people, so alone they would be hidden in nearly every cell.
SEX_GROUPS: tuple[str, ...] = ("female", "male", "other_unknown")


def sex_column(name: str, sex: str) -> str:
    """Column of indicator ``name`` computed over the hires of people of ``sex`` only."""
    if sex not in SEX_GROUPS:
        raise ValueError(f"sex group must be one of {', '.join(SEX_GROUPS)}, got {sex!r}")
    return f"{name}_{sex}"


#: The side-by-side indicators before the split by sex.
CONTRACT_TYPE_BASE: tuple[Indicator, ...] = (
    Indicator("contracts", _C, Kind.COUNT, "contracts", "Contracts with a condition of the type"),
    Indicator("conditions", _C, Kind.COUNT, "conditions", "Employment conditions of the type"),
    Indicator("hires_made", _H, Kind.PEOPLE, "hires", "Counted hires under the conditions"),
    # The retention and time-to-fill figures are the common indicators' own.
    *(indicator(n) for n in ("hires_observed_6m", "retained_6m", "retention_6m_rate")),
    indicator("hires_observed_12m"),
    Indicator(
        "retained_12m",
        _H,
        Kind.PEOPLE,
        "hires",
        "Lasting hires: of those, still employed at 12 months",
    ),
    *(indicator(n) for n in ("retention_12m_rate", "vacancies_filled", "time_to_fill_days_median")),
    Indicator(
        "payments_eur",
        _H,
        Kind.AMOUNT,
        "EUR",
        "Performance payments credited for the hires' outcomes, after the cap",
        depends_on=("hires_made",),
    ),
    Indicator(
        "pay_subsidy_eur",
        _H,
        Kind.AMOUNT,
        "EUR",
        "Pay subsidy paid for the hires (already deducted in impact_eur)",
        depends_on=("hires_made",),
    ),
    Indicator(
        "coaching_cost_eur",
        _H,
        Kind.AMOUNT,
        "EUR",
        "Coaching cost of the proposals that led to the hires",
        depends_on=("hires_made",),
    ),
    Indicator(
        "public_cost_eur",
        _H,
        Kind.AMOUNT,
        "EUR",
        "Public cost: payments + pay subsidy + coaching cost",
        depends_on=("hires_made",),
    ),
    Indicator(
        "public_cost_observed_12m_eur",
        _H,
        Kind.AMOUNT,
        "EUR",
        "Public cost of the hires made at least 12 months ago",
        depends_on=("hires_observed_12m",),
    ),
    _ratio(
        "cost_per_lasting_hire_eur",
        _H,
        "EUR per lasting hire",
        "Public cost of the hires made at least 12 months ago per hire still employed at 12 months",
        "public_cost_observed_12m_eur",
        "retained_12m",
    ),
    Indicator(
        "impact_eur",
        _H,
        Kind.AMOUNT,
        "EUR",
        "Economic impact of the hires for the person, the municipality and the state (net)",
        depends_on=("hires_made",),
    ),
    Indicator(
        "impact_before_cost_eur",
        _H,
        Kind.AMOUNT,
        "EUR",
        "Economic impact before public cost: impact_eur + pay_subsidy_eur",
        depends_on=("hires_made",),
    ),
    _ratio(
        "impact_per_euro",
        _H,
        "EUR per EUR",
        "Impact before public cost per EUR of public cost",
        "impact_before_cost_eur",
        "public_cost_eur",
    ),
)


def _of_sex(item: Indicator, sex: str) -> Indicator:
    def named(name: str | None) -> str | None:
        return None if name is None else sex_column(name, sex)

    return Indicator(
        sex_column(item.name, sex),
        item.family,
        item.kind,
        item.unit,
        f"{item.description} (people of sex group {sex})",
        numerator=named(item.numerator),
        denominator=named(item.denominator),
        depends_on=tuple(sex_column(d, sex) for d in item.depends_on),
    )


#: The side-by-side indicators: every figure about hires also per sex group
#: (``<name>_female``, ``<name>_male``, ``<name>_other_unknown``).
CONTRACT_TYPE_INDICATORS: tuple[Indicator, ...] = (
    *CONTRACT_TYPE_BASE,
    *(
        _of_sex(item, sex)
        for sex in SEX_GROUPS
        for item in CONTRACT_TYPE_BASE
        if item.family is not Family.CONDITION
    ),
)
_CONTRACT_BY_NAME = {i.name: i for i in CONTRACT_TYPE_INDICATORS}


def contract_type_indicator(name: str) -> Indicator:
    """The side-by-side indicator called ``name``; raises naming the known ones otherwise."""
    try:
        return _CONTRACT_BY_NAME[name]
    except KeyError:
        known = ", ".join(i.name for i in CONTRACT_TYPE_BASE)
        raise KeyError(f"unknown contract-type indicator {name!r}; known: {known}") from None
