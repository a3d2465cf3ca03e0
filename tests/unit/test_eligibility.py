"""Target-group rules at their boundary dates, and eligibility for a condition."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matching.domain import (
    DomainValidationError,
    EmploymentCondition,
    Jobseeker,
    TargetGroup,
    WorkCapacity,
    WorkRestriction,
)
from matching.eligibility import (
    DEFAULT_RULES,
    NEVER,
    RuleKind,
    TargetGroupRule,
    add_months,
    eligibility,
    membership_periods,
    pair_eligibility,
    target_groups_on,
)

pytestmark = pytest.mark.unit


def person(**changes: object) -> Jobseeker:
    base: dict[str, object] = {
        "jobseeker_id": "JS1",
        "home_municipality": "091",
        "birth_year": 1980,
        "sex": "male",
        "coach_id": "C1",
        "organisation_id": "O1",
        "unemployment_start": date(2025, 3, 15),
    }
    base.update(changes)
    return Jobseeker(**base)  # type: ignore[arg-type]


def condition(*groups: TargetGroup) -> EmploymentCondition:
    return EmploymentCondition("EC1", "K1", frozenset(groups), 2, date(2027, 12, 31))


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 11, 30), 3, date(2026, 2, 28)),
        (date(2025, 3, 15), 12, date(2026, 3, 15)),
    ],
)
def test_add_months_clamps_to_month_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("on", "eligible"),
    [(date(2025, 6, 14), False), (date(2025, 6, 15), True), (date(2025, 6, 16), True)],
)
def test_unemployed_three_months_boundary(on: date, eligible: bool) -> None:
    result = eligibility(person(), condition(TargetGroup.UNEMPLOYED_3M), on)
    assert result.eligible is eligible
    assert result.deciding_rule is not None
    assert result.deciding_rule.group is TargetGroup.UNEMPLOYED_3M
    assert result.starts_on == date(2025, 6, 15)


@pytest.mark.parametrize(
    ("on", "eligible", "days"),
    [(date(2026, 3, 14), False, 1), (date(2026, 3, 15), True, 0), (date(2026, 2, 13), False, 30)],
)
def test_long_term_unemployed_boundary(on: date, eligible: bool, days: int) -> None:
    result = eligibility(person(), condition(TargetGroup.LONG_TERM_UNEMPLOYED), on)
    assert result.eligible is eligible
    assert result.days_until_eligible(on) == days


@pytest.mark.parametrize(
    ("on", "eligible"),
    [(date(2026, 12, 31), True), (date(2027, 1, 1), False)],
)
def test_young_ends_with_the_year_of_turning_thirty(on: date, eligible: bool) -> None:
    # Born 1997: 29 during 2026, 30 during 2027.
    result = eligibility(person(birth_year=1997), condition(TargetGroup.YOUNG), on)
    assert result.eligible is eligible
    if eligible:
        assert result.ends_on == date(2026, 12, 31)
    else:
        assert result.days_until_eligible(on) is None


@pytest.mark.parametrize(
    ("on", "eligible"),
    [(date(2025, 12, 31), False), (date(2026, 1, 1), True)],
)
def test_older_starts_with_the_year_of_turning_55(on: date, eligible: bool) -> None:
    result = eligibility(person(birth_year=1971), condition(TargetGroup.OLDER), on)
    assert result.eligible is eligible
    assert result.starts_on == date(2026, 1, 1)


def test_flags_decide_migrant_and_partial_capacity() -> None:
    on = date(2026, 6, 1)
    groups = condition(TargetGroup.MIGRANT_BACKGROUND, TargetGroup.PARTIAL_WORK_CAPACITY)
    assert not eligibility(person(), groups, on).eligible
    migrant = eligibility(person(migrant_background=True), groups, on)
    assert migrant.eligible
    assert migrant.deciding_rule is not None
    assert migrant.deciding_rule.group is TargetGroup.MIGRANT_BACKGROUND
    limited = person(
        work_capacity=WorkCapacity(restrictions=frozenset({WorkRestriction.NO_HEAVY_LIFTING}))
    )
    decided = eligibility(limited, groups, on).deciding_rule
    assert decided is not None
    assert decided.group is TargetGroup.PARTIAL_WORK_CAPACITY


def test_open_ended_rule_decides_over_one_that_ends() -> None:
    on = date(2026, 6, 1)
    young_and_unemployed = person(birth_year=2000)
    result = eligibility(
        young_and_unemployed, condition(TargetGroup.YOUNG, TargetGroup.UNEMPLOYED_3M), on
    )
    assert result.eligible
    assert result.deciding_rule is not None
    assert result.deciding_rule.group is TargetGroup.UNEMPLOYED_3M
    assert result.ends_on is None


def test_not_yet_eligible_reports_soonest_rule() -> None:
    on = date(2026, 1, 1)
    fresh = person(unemployment_start=date(2025, 12, 1))
    result = eligibility(
        fresh, condition(TargetGroup.UNEMPLOYED_3M, TargetGroup.LONG_TERM_UNEMPLOYED), on
    )
    assert not result.eligible
    assert result.deciding_rule is not None
    assert result.deciding_rule.group is TargetGroup.UNEMPLOYED_3M
    assert result.days_until_eligible(on) == (date(2026, 3, 1) - on).days


def test_no_unemployment_date_never_eligible_by_duration() -> None:
    result = eligibility(
        person(unemployment_start=None), condition(TargetGroup.UNEMPLOYED_3M), date(2026, 1, 1)
    )
    assert not result.eligible
    assert result.deciding_rule is None


def test_rule_not_yet_in_force_delays_eligibility() -> None:
    future_rule = TargetGroupRule(
        rule_id="older/2027",
        group=TargetGroup.OLDER,
        kind=RuleKind.AGE_AT_LEAST,
        threshold=50,
        description="Older from 50",
        source="Hypothetical amendment",
        valid_from=date(2027, 1, 1),
    )
    result = eligibility(
        person(birth_year=1970), condition(TargetGroup.OLDER), date(2026, 6, 1), (future_rule,)
    )
    assert not result.eligible
    assert result.starts_on == date(2027, 1, 1)


def test_rule_requires_source_and_threshold() -> None:
    with pytest.raises(DomainValidationError, match=r"source: '' must name"):
        TargetGroupRule("r", TargetGroup.YOUNG, RuleKind.AGE_UNDER, 30, "d", "", date(2025, 1, 1))
    with pytest.raises(DomainValidationError, match=r"threshold: None is required"):
        TargetGroupRule(
            "r", TargetGroup.YOUNG, RuleKind.AGE_UNDER, None, "d", "s", date(2025, 1, 1)
        )


def test_every_default_rule_has_a_source() -> None:
    assert {rule.group for rule in DEFAULT_RULES} == set(TargetGroup)
    assert all(rule.source and rule.valid_from for rule in DEFAULT_RULES)


@given(
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 12, 31)),
    offset=st.integers(min_value=-400, max_value=400),
)
def test_long_term_membership_matches_twelve_calendar_months(start: date, offset: int) -> None:
    on = add_months(start, 12) + timedelta(days=offset)
    groups = target_groups_on(person(unemployment_start=start), on)
    # The rules of Act 916/2012 and Act 380/2023 follow each other without a gap.
    expected = on >= add_months(start, 12)
    assert (TargetGroup.LONG_TERM_UNEMPLOYED in groups) is expected


def test_history_before_2025_replays_with_the_rule_then_in_force() -> None:
    seeker = person(unemployment_start=date(2023, 6, 1), birth_year=1990)
    before = eligibility(seeker, condition(TargetGroup.LONG_TERM_UNEMPLOYED), date(2024, 11, 1))
    after = eligibility(seeker, condition(TargetGroup.LONG_TERM_UNEMPLOYED), date(2025, 2, 1))
    assert before.eligible and after.eligible
    assert before.deciding_rule is not None and after.deciding_rule is not None
    assert before.deciding_rule.rule_id == "long_term_unemployed/2013"
    assert before.deciding_rule.valid_until == date(2024, 12, 31)
    assert after.deciding_rule.rule_id == "long_term_unemployed/2025"
    # Before the older act came into force nobody belonged to the group.
    assert not eligibility(
        person(unemployment_start=date(2010, 1, 1)),
        condition(TargetGroup.LONG_TERM_UNEMPLOYED),
        date(2012, 6, 1),
    ).eligible


def test_every_rule_period_is_covered_once_per_group() -> None:
    """Rules of one group (and threshold) never overlap: one legal basis decides each day."""
    by_group: dict[TargetGroup, list[TargetGroupRule]] = {}
    for rule in DEFAULT_RULES:
        by_group.setdefault(rule.group, []).append(rule)
    for rules in by_group.values():
        ordered = sorted(rules, key=lambda r: r.valid_from)
        for earlier, later in itertools.pairwise(ordered):
            assert earlier.valid_until is not None
            assert earlier.valid_until < later.valid_from


def test_registered_unemployed_is_any_duration() -> None:
    seeker = person(unemployment_start=date(2026, 3, 2))
    groups = target_groups_on(seeker, date(2026, 3, 2))
    assert TargetGroup.REGISTERED_UNEMPLOYED in groups
    assert TargetGroup.UNEMPLOYED_3M not in groups
    assert TargetGroup.REGISTERED_UNEMPLOYED not in target_groups_on(seeker, date(2026, 3, 1))


@given(
    people=st.lists(
        st.tuples(
            st.one_of(st.none(), st.dates(min_value=date(2015, 1, 1), max_value=date(2027, 6, 30))),
            st.integers(min_value=1950, max_value=2008),
            st.booleans(),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    ),
    groups=st.sets(st.sampled_from(list(TargetGroup)), min_size=1),
    on=st.dates(min_value=date(2024, 6, 1), max_value=date(2028, 12, 31)),
)
def test_vectorised_eligibility_agrees_with_scalar(
    people: list[tuple[date | None, int, bool, bool]], groups: set[TargetGroup], on: date
) -> None:
    seekers = [
        person(
            unemployment_start=start,
            birth_year=year,
            migrant_background=migrant,
            work_capacity=WorkCapacity(max_hours_per_week=20 if partial else None),
        )
        for start, year, migrant, partial in people
    ]
    periods = membership_periods(
        np.array([s.unemployment_start or NEVER for s in seekers], dtype="datetime64[D]"),
        np.array([s.birth_year for s in seekers]),
        np.array([s.migrant_background for s in seekers]),
        np.array([s.work_capacity.is_partial for s in seekers]),
    )
    mask = np.tile(periods.group_mask(frozenset(groups)), (len(seekers), 1))
    eligible, days_until, deciding = pair_eligibility(periods.starts, periods.ends, mask, on)
    for i, seeker in enumerate(seekers):
        expected = eligibility(seeker, condition(*groups), on)
        assert eligible[i] == expected.eligible
        expected_days = expected.days_until_eligible(on)
        assert days_until[i] == (np.inf if expected_days is None else expected_days)
        rule = DEFAULT_RULES[deciding[i]] if deciding[i] >= 0 else None
        assert rule == expected.deciding_rule
