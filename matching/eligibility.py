"""Target-group rules as dated data, and eligibility for an employment condition.

A rule is data: which target group it defines, the threshold, the source it comes from and
the period it is in force. Eligibility is a pure function of a jobseeker's dated facts and a
date: it says whether the person belongs to a group on that day, which rule decided, and the
day the status starts or ends, so that a coach can see that someone becomes eligible next
month.

Age is known only as a birth year (the service does not keep birth dates), so age rules use
the age *reached during the calendar year*: a person born in 1996 counts as 30 for all of
2026. That is the convention of Statistics Finland's and SCB's annual age groups.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from matching.domain import (
    DomainValidationError,
    EmploymentCondition,
    Jobseeker,
    TargetGroup,
)


class RuleKind(StrEnum):
    UNEMPLOYED_AT_LEAST_MONTHS = "unemployed_at_least_months"
    AGE_UNDER = "age_under"
    AGE_AT_LEAST = "age_at_least"
    MIGRANT_BACKGROUND = "migrant_background"
    PARTIAL_WORK_CAPACITY = "partial_work_capacity"


@dataclass(frozen=True, slots=True)
class TargetGroupRule:
    """One dated definition of a target group."""

    rule_id: str
    group: TargetGroup
    kind: RuleKind
    threshold: int | None
    description: str
    source: str
    valid_from: date
    valid_until: date | None = None

    def __post_init__(self) -> None:
        needs_threshold = self.kind in _THRESHOLD_KINDS
        if needs_threshold and (self.threshold is None or self.threshold < 0):
            raise DomainValidationError("threshold", self.threshold, f"is required for {self.kind}")
        if not needs_threshold and self.threshold is not None:
            raise DomainValidationError("threshold", self.threshold, f"is unused by {self.kind}")
        if not self.source.strip():
            raise DomainValidationError("source", self.source, "must name where the rule is from")
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise DomainValidationError("valid_until", self.valid_until, "is before valid_from")

    def in_force_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


_THRESHOLD_KINDS = frozenset(
    {RuleKind.UNEMPLOYED_AT_LEAST_MONTHS, RuleKind.AGE_UNDER, RuleKind.AGE_AT_LEAST}
)

# Every rule carries the period its legal basis was in force, so that history replays with the
# rule of its day. Finland's 2025 reform (Act 380/2023 on the organisation of employment
# services) moved employment services to the municipalities on 2025-01-01 and replaced the Act
# on public employment and business service (916/2012, in force 2013-01-01 .. 2024-12-31); the
# integration act 681/2023 replaced 1386/2010 on the same day. The youth guarantee's age limit
# rose from 25 to 30 with the reinforced EU recommendation of 2020-10-30.
_ACT_916_2012 = (date(2013, 1, 1), date(2024, 12, 31))
_ACT_380_2023 = (date(2025, 1, 1), None)


def _dated(
    group: TargetGroup,
    kind: RuleKind,
    threshold: int | None,
    description: str,
    periods: tuple[tuple[str, str, tuple[date, date | None]], ...],
) -> tuple[TargetGroupRule, ...]:
    """One rule per legal basis: (suffix of the rule id, source, (valid_from, valid_until))."""
    return tuple(
        TargetGroupRule(
            rule_id=f"{group.value}/{suffix}",
            group=group,
            kind=kind,
            threshold=threshold,
            description=description,
            source=source,
            valid_from=valid[0],
            valid_until=valid[1],
        )
        for suffix, source, valid in periods
    )


DEFAULT_RULES: tuple[TargetGroupRule, ...] = (
    *_dated(
        TargetGroup.REGISTERED_UNEMPLOYED,
        RuleKind.UNEMPLOYED_AT_LEAST_MONTHS,
        0,
        "Registered as an unemployed jobseeker, any duration",
        (
            (
                "2013",
                "Act on public employment and business service 916/2012, ch. 2",
                _ACT_916_2012,
            ),
            ("2025", "Act on the organisation of employment services 380/2023", _ACT_380_2023),
        ),
    ),
    *_dated(
        TargetGroup.UNEMPLOYED_3M,
        RuleKind.UNEMPLOYED_AT_LEAST_MONTHS,
        3,
        "Unemployed for at least 3 months without interruption",
        (
            (
                "2013",
                "Employment-condition model terms (TEM guide 2021) under Act 916/2012",
                _ACT_916_2012,
            ),
            (
                "2025",
                "Employment-condition model terms (TEM guide 2021) under Act 380/2023",
                _ACT_380_2023,
            ),
        ),
    ),
    *_dated(
        TargetGroup.LONG_TERM_UNEMPLOYED,
        RuleKind.UNEMPLOYED_AT_LEAST_MONTHS,
        12,
        "Long-term unemployed: unemployed for at least 12 months without interruption",
        (
            (
                "2013",
                "Statistics Finland / SCB definition of long-term unemployment (12 months); "
                "Act 916/2012",
                _ACT_916_2012,
            ),
            (
                "2025",
                "Statistics Finland / SCB definition of long-term unemployment (12 months); "
                "Act 380/2023",
                _ACT_380_2023,
            ),
        ),
    ),
    *_dated(
        TargetGroup.YOUNG,
        RuleKind.AGE_UNDER,
        25,
        "Young: under 25 years of age during the calendar year",
        (
            (
                "2013",
                "Youth guarantee (EU Council Recommendation 2013/C 120/01), age limit 25",
                (date(2013, 4, 22), date(2020, 10, 29)),
            ),
        ),
    ),
    *_dated(
        TargetGroup.YOUNG,
        RuleKind.AGE_UNDER,
        30,
        "Young: under 30 years of age during the calendar year",
        (
            (
                "2020",
                "Reinforced youth guarantee (EU Council Recommendation 2020/C 372/01), "
                "age limit 30",
                (date(2020, 10, 30), None),
            ),
        ),
    ),
    *_dated(
        TargetGroup.OLDER,
        RuleKind.AGE_AT_LEAST,
        55,
        "Older: 55 years of age or more during the calendar year",
        (
            ("2013", "Act on public employment and business service 916/2012", _ACT_916_2012),
            ("2025", "Act on the organisation of employment services 380/2023", _ACT_380_2023),
        ),
    ),
    *_dated(
        TargetGroup.MIGRANT_BACKGROUND,
        RuleKind.MIGRANT_BACKGROUND,
        None,
        "Migrant background as recorded in the integration plan",
        (
            (
                "2011",
                "Act on the promotion of immigrant integration 1386/2010",
                (date(2011, 9, 1), date(2024, 12, 31)),
            ),
            ("2025", "Act on the promotion of integration 681/2023", _ACT_380_2023),
        ),
    ),
    *_dated(
        TargetGroup.PARTIAL_WORK_CAPACITY,
        RuleKind.PARTIAL_WORK_CAPACITY,
        None,
        "Partial work capacity recorded by a coach (reduced hours or restrictions)",
        (
            (
                "2013",
                "Act on public employment and business service 916/2012, pay subsidy ch. 7",
                _ACT_916_2012,
            ),
            (
                "2025",
                "Act on the organisation of employment services 380/2023, pay subsidy for "
                "partial capacity",
                _ACT_380_2023,
            ),
        ),
    ),
)


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the month's end (Jan 31 -> Feb 28)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class RuleDecision:
    """Whether a person belongs to a rule's group on a day, and when that status changes.

    ``starts_on`` is the first day of membership (past or future; None when it never starts
    on the known facts); ``ends_on`` the last day (None when open-ended).
    """

    rule: TargetGroupRule
    member: bool
    starts_on: date | None
    ends_on: date | None


def decide(rule: TargetGroupRule, person: Jobseeker, on: date) -> RuleDecision:
    """Apply one rule to a jobseeker's dated facts on a day."""
    starts: date | None
    ends: date | None = None
    match rule.kind:
        case RuleKind.UNEMPLOYED_AT_LEAST_MONTHS:
            assert rule.threshold is not None
            if person.unemployment_start is None:
                starts = None
            else:
                starts = add_months(person.unemployment_start, rule.threshold)
        case RuleKind.AGE_UNDER:
            assert rule.threshold is not None
            # Membership lasts from birth to the end of the year the person turns threshold-1.
            starts = date(person.birth_year, 1, 1)
            ends = date(person.birth_year + rule.threshold - 1, 12, 31)
        case RuleKind.AGE_AT_LEAST:
            assert rule.threshold is not None
            starts = date(person.birth_year + rule.threshold, 1, 1)
        case RuleKind.MIGRANT_BACKGROUND:
            starts = date.min if person.migrant_background else None
        case RuleKind.PARTIAL_WORK_CAPACITY:
            starts = date.min if person.work_capacity.is_partial else None
    # A rule not yet (or no longer) in force bounds the membership period.
    if starts is not None:
        starts = max(starts, rule.valid_from)
    if rule.valid_until is not None:
        ends = rule.valid_until if ends is None else min(ends, rule.valid_until)
    if starts is not None and ends is not None and ends < starts:
        starts = None
    member = starts is not None and starts <= on and (ends is None or on <= ends)
    return RuleDecision(rule=rule, member=member, starts_on=starts, ends_on=ends)


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Eligibility for an employment condition on a day.

    ``deciding_rule`` is the rule that made the person eligible, or — when not eligible — the
    rule under which eligibility starts soonest (None when no rule ever applies).
    ``starts_on``/``ends_on`` bound the eligibility period of that rule.
    """

    eligible: bool
    deciding_rule: TargetGroupRule | None
    starts_on: date | None
    ends_on: date | None

    def days_until_eligible(self, on: date) -> int | None:
        """0 when eligible, days to wait when eligibility starts later, None when never."""
        if self.eligible:
            return 0
        if self.starts_on is None or self.starts_on < on:
            return None
        return (self.starts_on - on).days


def rules_for(
    groups: frozenset[TargetGroup], on: date, rules: tuple[TargetGroupRule, ...] = DEFAULT_RULES
) -> list[TargetGroupRule]:
    """The rules in force on ``on`` that define any of ``groups``, in a stable order."""
    return [rule for rule in rules if rule.group in groups and rule.in_force_on(on)]


def eligibility(
    person: Jobseeker,
    condition: EmploymentCondition,
    on: date,
    rules: tuple[TargetGroupRule, ...] = DEFAULT_RULES,
) -> Eligibility:
    """Whether ``person`` counts toward ``condition`` on ``on``, and which rule decided.

    A person is eligible when any of the condition's target groups applies. Among several
    applying rules the one whose membership lasts longest decides (an open-ended rule beats a
    rule that ends), then the order of ``rules``.
    """
    decisions = [
        decide(rule, person, on)
        for rule in rules
        if rule.group in condition.target_groups
        and (rule.valid_until is None or rule.valid_until >= on)
    ]
    members = [d for d in decisions if d.member]
    if members:
        best = max(members, key=lambda d: d.ends_on or date.max)
        return Eligibility(True, best.rule, best.starts_on, best.ends_on)
    upcoming = [d for d in decisions if d.starts_on is not None and d.starts_on > on]
    if upcoming:
        soonest = min(upcoming, key=lambda d: d.starts_on or date.max)
        return Eligibility(False, soonest.rule, soonest.starts_on, soonest.ends_on)
    return Eligibility(False, None, None, None)


def target_groups_on(
    person: Jobseeker, on: date, rules: tuple[TargetGroupRule, ...] = DEFAULT_RULES
) -> frozenset[TargetGroup]:
    """Every target group the person belongs to on ``on`` (for statistics and ledgers)."""
    return frozenset(
        rule.group for rule in rules if rule.in_force_on(on) and decide(rule, person, on).member
    )


def first_eligible_day(person: Jobseeker, condition: EmploymentCondition, on: date) -> date | None:
    """The first day on or after ``on`` when the person counts toward the condition."""
    result = eligibility(person, condition, on)
    if result.eligible:
        return on
    return result.starts_on if result.starts_on is not None else None


# --------------------------------------------------------------------------------------------
# Vectorised membership periods, for scoring many people at once.
# Days are numpy datetime64[D] values; NEVER marks a period that never starts.
# --------------------------------------------------------------------------------------------

NEVER = np.datetime64("NaT", "D")
_FOREVER = np.datetime64("9999-12-31", "D")


def _add_months_vec(days: npt.NDArray[np.datetime64], months: int) -> npt.NDArray[np.datetime64]:
    """Vectorised :func:`add_months` (NaT stays NaT)."""
    month_start = days.astype("datetime64[M]")
    day_of_month = (days - month_start.astype("datetime64[D]")).astype(np.int64)
    target = month_start + np.timedelta64(months, "M")
    month_length = (
        (target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]")
    ).astype(np.int64)
    offset = np.minimum(day_of_month, month_length - 1)
    return target.astype("datetime64[D]") + offset.astype("timedelta64[D]")


@dataclass(frozen=True)
class MembershipPeriods:
    """For every person (rows) and rule (columns): first and last day of membership.

    ``starts`` is NaT where membership never starts; ``ends`` is 9999-12-31 when open-ended.
    """

    rules: tuple[TargetGroupRule, ...]
    starts: npt.NDArray[np.datetime64]
    ends: npt.NDArray[np.datetime64]

    def group_mask(self, groups: frozenset[TargetGroup]) -> npt.NDArray[np.bool_]:
        return np.array([rule.group in groups for rule in self.rules], dtype=bool)


def membership_periods(
    unemployment_start: npt.NDArray[np.datetime64],
    birth_year: npt.NDArray[np.integer],
    migrant_background: npt.NDArray[np.bool_],
    partial_work_capacity: npt.NDArray[np.bool_],
    rules: tuple[TargetGroupRule, ...] = DEFAULT_RULES,
) -> MembershipPeriods:
    """Vectorised :func:`decide` for every person and rule (same results, property-tested)."""
    n = len(birth_year)
    starts = np.full((n, len(rules)), NEVER)
    ends = np.full((n, len(rules)), _FOREVER)
    years = np.asarray(birth_year, dtype=np.int64)
    unemployed = np.asarray(unemployment_start, dtype="datetime64[D]")

    def jan_first(year: npt.NDArray[np.int64]) -> npt.NDArray[np.datetime64]:
        return (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")

    for j, rule in enumerate(rules):
        threshold = rule.threshold or 0
        match rule.kind:
            case RuleKind.UNEMPLOYED_AT_LEAST_MONTHS:
                starts[:, j] = _add_months_vec(unemployed, threshold)
            case RuleKind.AGE_UNDER:
                starts[:, j] = jan_first(years)
                ends[:, j] = jan_first(years + threshold) - np.timedelta64(1, "D")
            case RuleKind.AGE_AT_LEAST:
                starts[:, j] = jan_first(years + threshold)
            case RuleKind.MIGRANT_BACKGROUND:
                starts[:, j] = np.where(migrant_background, np.datetime64(date.min, "D"), NEVER)
            case RuleKind.PARTIAL_WORK_CAPACITY:
                starts[:, j] = np.where(partial_work_capacity, np.datetime64(date.min, "D"), NEVER)
        column = starts[:, j]
        starts[:, j] = np.where(
            np.isnat(column), NEVER, np.maximum(column, np.datetime64(rule.valid_from, "D"))
        )
        if rule.valid_until is not None:
            ends[:, j] = np.minimum(ends[:, j], np.datetime64(rule.valid_until, "D"))
        empty = ~np.isnat(starts[:, j]) & (ends[:, j] < starts[:, j])
        starts[empty, j] = NEVER
    return MembershipPeriods(rules=rules, starts=starts, ends=ends)


def pair_eligibility(
    starts: npt.NDArray[np.datetime64],
    ends: npt.NDArray[np.datetime64],
    group_masks: npt.NDArray[np.bool_],
    on: date | npt.NDArray[np.datetime64],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64], npt.NDArray[np.intp]]:
    """Eligibility of (person, condition) pairs on ``on``.

    ``starts``/``ends`` are the person's membership periods (rows of
    :class:`MembershipPeriods`) and ``group_masks`` which rules the pair's condition accepts,
    one row per pair. Returns ``eligible``, ``days_until`` (0 when eligible, days to wait, inf
    when never) and the index of the deciding rule (-1 when none), with the tie-breaking of
    :func:`eligibility`. ``on`` is one day or one day per pair.
    """
    day = np.asarray(on, dtype="datetime64[D]")
    if day.ndim == 1:
        day = day[:, None]
    valid = group_masks & ~np.isnat(starts) & (ends >= day)
    member = valid & (starts <= day)
    eligible: npt.NDArray[np.bool_] = np.asarray(member.any(axis=1), dtype=bool)
    # Members: the longest-lasting membership decides (first rule on ties).
    end_rank = np.where(member, (ends - day).astype(np.int64), -1)
    deciding_member = np.argmax(end_rank, axis=1)
    # Others: the soonest upcoming start decides.
    wait = np.where(valid & (starts > day), (starts - day).astype(np.float64), np.inf)
    deciding_wait = np.argmin(wait, axis=1)
    soonest = wait[np.arange(len(wait)), deciding_wait]
    days_until = np.where(eligible, 0.0, soonest)
    deciding = np.where(
        eligible, deciding_member, np.where(np.isfinite(soonest), deciding_wait, -1)
    ).astype(np.intp)
    return eligible, days_until.astype(np.float64), deciding
