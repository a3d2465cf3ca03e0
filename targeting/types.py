"""The advisor's value types, shared by its parts (see :mod:`targeting`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

__all__ = [
    "Advice",
    "ConditionProposal",
    "HypotheticalVacancy",
    "OccupationShare",
    "PerformanceOffer",
    "PlanLine",
    "Supply",
    "SupplyProfile",
]


@dataclass(frozen=True)
class PlanLine:
    """One planned procurement of a plan (one CSV row or one API item)."""

    line_id: str
    buyer: str  # the buying organisation's id
    cpv_codes: tuple[str, ...]  # at least one; the first is the main object
    municipality: str  # place of performance, a municipality code (FI 3 digits, SE 4)
    value_eur: float
    starts_on: date
    duration_months: int


@dataclass(frozen=True)
class OccupationShare:
    """An occupation the work of a CPV division needs, and its share of the hires."""

    occupation_uri: str  # an ESCO occupation
    isco_code: str  # its ISCO-08 unit group (4 digits)
    share: float  # shares of one mix sum to 1
    source: str  # "history" (learned) or "fallback" (the documented table)


@dataclass(frozen=True)
class HypotheticalVacancy:
    """A vacancy the line's supplier would open: what the engine is run on."""

    key: str  # unique within a run, e.g. f"{line_id}/{occupation_uri}"
    occupation_uri: str
    municipality: str
    job_form: str  # matching.domain.JobForm value
    target_groups: tuple[str, ...]  # matching.domain.TargetGroup values; () = no condition
    opens_on: date
    openings: int = 1


@dataclass(frozen=True)
class SupplyProfile:
    """One well-ranked jobseeker, as a procurement unit may see them: never a name or id."""

    target_group: str  # the deciding target group (or "none")
    distance_band: str  # e.g. "0-10 km"
    required_coverage: float  # share of the required skills shown at the required level
    probability: float | None  # the model's calibrated probability, when it has one
    rank: int  # rank in the hypothetical vacancy's shortlist


@dataclass(frozen=True)
class Supply:
    """Local supply for one hypothetical vacancy, and the competition for it."""

    vacancy: HypotheticalVacancy
    admissible: int  # people passing the engine's hard filters (reach, eligibility, ability)
    well_ranked: int  # of those, people who would rank well (see targeting.supply)
    by_target_group: dict[str, int]  # well-ranked people by deciding target group
    expected_hires: float  # sum of well-ranked people's probabilities (or a documented proxy)
    competing_vacancies: int  # other open vacancies of the occupation group within reach
    competing_openings: int  # their openings not yet filled
    profiles: tuple[SupplyProfile, ...] = ()  # at most a bounded number, best first


@dataclass(frozen=True)
class PerformanceOffer:
    """The terms of a performance-based condition: what the buyer pays per verified outcome.

    The fields are those of the service's performance terms (``docs/performance.md``), so a
    recommendation can be written into a contract as it is.
    """

    price_per_point_eur: float
    cap_eur: float
    points: tuple[tuple[str, float], ...]  # (stage, points): hired, retained_6m, retained_12m
    target_group_weights: tuple[tuple[str, float], ...]  # (group, weight); others weigh 1
    period: str = "quarter"
    expected_payment_eur: float = 0.0  # expected credited points x price, within the cap


@dataclass(frozen=True)
class ConditionProposal:
    """An employment condition: the recommendation, or a past contract's actual one.

    A quota (``performance`` None) requires ``hires`` hires by the deadline; a performance-
    based condition buys outcomes up to its cap instead, and ``hires`` is how many hires the
    cap pays for in full.
    """

    target_groups: tuple[str, ...]
    hires: int
    job_forms: tuple[str, ...]
    deadline: date
    performance: PerformanceOffer | None = None

    @property
    def kind(self) -> str:
        return "quota" if self.performance is None else "performance"


@dataclass(frozen=True)
class Advice:
    """The advisor's answer for one plan line."""

    line: PlanLine
    occupations: tuple[OccupationShare, ...]
    supply: tuple[Supply, ...]  # one per occupation of the mix
    staff_estimate: float  # average headcount the contract's work needs (see advisor)
    condition: ConditionProposal | None  # None when no condition is feasible
    feasibility: float  # P(the condition is fulfilled by its deadline), in [0, 1]
    expected_hires: float  # expected hires credited by the deadline
    hires_interval: tuple[int, int]  # 80 % interval of the hires credited by the deadline
    expected_impact_eur: dict[str, float]  # stakeholder -> EUR (person, municipality, state)
    reasons: tuple[str, ...] = field(default=())  # plain-language why, for the report
    # Supply for every weak-position group at once (one per occupation), from which the
    # target groups were chosen; () when the advisor was given the condition (assess).
    supply_by_group: tuple[Supply, ...] = field(default=())
