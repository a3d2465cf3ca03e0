"""Constraints as people mean them, live state in the engine, and factors against the list."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.geography import Geography
from features.matching_data import Vocabularies, build_matching_data, seeker_update
from features.pair_features import pair_features
from features.schema import FEATURE_NAMES, FEATURES
from features.taxonomy import Taxonomy
from features.world_store import WorldTables, jobseeker_from_row
from matching.commute import commute_fit, reach
from matching.engine import MatchFilters, MatchingEngine, admissible_pairs

pytestmark = pytest.mark.integration
DESCRIPTIONS = {f.name: f.description for f in FEATURES}


@pytest.fixture(scope="module")
def engine(small_world: WorldTables, taxonomy: Taxonomy, geography: Geography) -> MatchingEngine:
    data = build_matching_data(small_world, taxonomy, geography)
    return MatchingEngine(data, pair_features, FEATURE_NAMES, DESCRIPTIONS)


def test_the_commute_radius_is_a_preference_with_a_decaying_cost() -> None:
    # Within the radius nothing is lost; beyond it the rule score's term decays.
    assert commute_fit(20.0, 0.0, 30.0, False) == pytest.approx(1.0)
    half_beyond = commute_fit(45.0, 0.0, 30.0, False)
    assert half_beyond == pytest.approx(np.exp(-1.0))
    assert commute_fit(60.0, 0.0, 30.0, False) < half_beyond
    # Remote days shorten the commute; relocating halves the cost.
    assert commute_fit(60.0, 0.5, 30.0, False) == pytest.approx(1.0)
    assert commute_fit(45.0, 0.0, 30.0, True) == pytest.approx(np.exp(-0.5))
    # Matching admits jobs up to the radius plus half of it, at least 10 km more.
    assert reach(30.0, 0.5, 10.0) == pytest.approx(45.0)
    assert reach(4.0, 0.5, 10.0) == pytest.approx(14.0)


def test_jobs_a_little_beyond_the_radius_stay_possible_far_ones_do_not(
    engine: MatchingEngine, small_world: WorldTables
) -> None:
    data = engine.data
    seekers, vacancies = data.seekers, data.vacancies
    rows = np.flatnonzero(seekers["active"] & ~seekers["relocate"])
    today = small_world.as_of
    found_slack = found_far = False
    for s in rows[:300].tolist():
        everything = np.arange(len(vacancies), dtype=np.int64)
        ok = engine._vacancy_filter(s, everything, today, MatchFilters())
        distance = data.distance_km[seekers["home"][s], vacancies["municipality"]]
        effective = distance * (1 - vacancies["remote_share"])
        radius = float(seekers["max_commute_km"][s])
        limit = float(reach(radius, 0.5, 10.0))
        local = vacancies["remote_share"] < 0.5
        slack = ok & local & (effective > radius)
        assert (effective[ok & local] <= limit + 1e-4).all()
        found_slack |= bool(slack.any())
        found_far |= bool((local & (effective > limit + 1) & engine._open(everything, today)).any())
    assert found_slack, "no admitted job in the slack beyond anybody's radius"
    assert found_far


def test_more_hours_than_the_person_can_work_is_a_conflict(
    engine: MatchingEngine, small_world: WorldTables
) -> None:
    data = engine.data
    vacancies = data.vacancies
    today = small_world.as_of
    everything = np.arange(len(vacancies), dtype=np.int64)
    long_hours = everything[engine._open(everything, today) & (vacancies["hours"] > 30)]
    assert len(long_hours)
    for s in np.flatnonzero(data.seekers["active"]).tolist():
        before = float(data.seekers["max_hours"][s])
        try:
            data.seekers["max_hours"][s] = np.inf
            admitted = long_hours[engine._vacancy_filter(s, long_hours, today, MatchFilters())]
            if not len(admitted):
                continue
            data.seekers["max_hours"][s] = 25.0
            assert not engine._vacancy_filter(s, admitted, today, MatchFilters()).any()
            data.seekers["max_hours"][s] = 40.0
            assert engine._vacancy_filter(s, admitted, today, MatchFilters()).all()
            return
        finally:
            data.seekers["max_hours"][s] = before
    pytest.fail("nobody admitted to a long-hours vacancy")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pick=st.integers(0, 10_000), offset=st.integers(-30, 30))
def test_admissible_pairs_agree_with_the_engines_filters(
    engine: MatchingEngine, small_world: WorldTables, pick: int, offset: int
) -> None:
    data = engine.data
    day = small_world.as_of + timedelta(days=offset)
    s = pick % len(data.seekers)
    everything = np.arange(len(data.vacancies), dtype=np.int64)
    by_engine = engine._vacancy_filter(s, everything, day, MatchFilters())
    if not data.seekers["active"][s]:
        by_engine[:] = False
    vectorised = admissible_pairs(
        data, engine.config, np.full(len(everything), s), everything, np.datetime64(day, "D")
    )
    np.testing.assert_array_equal(vectorised, by_engine)
    v = pick % len(data.vacancies)
    people = np.arange(len(data.seekers), dtype=np.int64)
    by_engine = engine._seeker_filter(v, people, day, MatchFilters())
    vectorised = admissible_pairs(
        data, engine.config, people, np.full(len(people), v), np.datetime64(day, "D")
    )
    np.testing.assert_array_equal(vectorised, by_engine)


def _hire(person: str, vacancy: str, day: date, stage: str = "hired") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": [f"T-{person}-{stage}"],
            "jobseeker_id": [person],
            "vacancy_id": [vacancy],
            "stage": [stage],
            "reason": [None],
            "occurred_at": [datetime.combine(day, datetime.min.time(), tzinfo=UTC)],
        }
    )


def test_a_hire_takes_the_person_out_of_both_directions_and_an_end_brings_them_back(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    data = build_matching_data(small_world, taxonomy, geography)
    engine = MatchingEngine(data, pair_features, FEATURE_NAMES, DESCRIPTIONS)
    vocab = Vocabularies.build(taxonomy, geography)
    today = small_world.as_of
    # Somebody the engine shortlists for some open vacancy.
    everything = np.arange(len(data.vacancies), dtype=np.int64)
    for v in everything[engine._open(everything, today)].tolist():
        listed = engine.shortlist_for_vacancy(
            data.vacancies.ids[v], k=5, on=today, record_exposure=False, with_factors=False
        )
        if listed.results:
            vacancy_id, person_id = data.vacancies.ids[v], listed.results[0].jobseeker_id
            break
    else:  # pragma: no cover - the world always has one
        pytest.fail("no shortlist with anybody on it")
    rows = small_world.jobseekers[small_world.jobseekers["jobseeker_id"] == person_id]
    person = jobseeker_from_row(rows.iloc[0])
    mine = small_world.assessments[small_world.assessments["jobseeker_id"] == person_id]
    observations = small_world.skill_observations[
        small_world.skill_observations["assessment_id"].isin(mine["assessment_id"])
    ]
    hired = _hire(person_id, vacancy_id, today)
    engine.upsert_seeker(seeker_update(person, mine, observations, vocab, today, outcomes=hired))
    assert person_id not in engine.exhaustive_shortlist(vacancy_id, len(data.seekers), today)
    assert engine.matches_for_jobseeker(person_id, k=10, on=today).results == ()
    ended = pd.concat([hired, _hire(person_id, vacancy_id, today, "employment_ended")])
    engine.upsert_seeker(
        seeker_update(person, mine, observations, vocab, today + timedelta(days=1), outcomes=ended)
    )
    assert person_id in engine.exhaustive_shortlist(vacancy_id, len(data.seekers), today)


def test_factors_name_what_sets_a_result_apart_from_its_list(
    engine: MatchingEngine, small_world: WorldTables
) -> None:
    today = small_world.as_of
    data = engine.data
    everything = np.arange(len(data.vacancies), dtype=np.int64)
    open_rows = everything[engine._open(everything, today)]
    for v in open_rows[:40].tolist():
        found = engine.shortlist_for_vacancy(
            data.vacancies.ids[v], k=10, on=today, record_exposure=False
        )
        if len(found.results) < 5:
            continue
        named = {f.feature for m in found.results for f in m.explanation.factors}
        # Everything about the vacancy itself is the same for every row of its shortlist.
        assert not named & {"remote_share", "occupation_major_group"}
        for match in found.results:
            assert all(
                "compared with the rest of the list" in f.sentence
                for f in match.explanation.factors
            )
        return
    pytest.fail("no open vacancy with a shortlist of five")


def test_registered_unemployed_is_a_target_group_in_the_engine(
    engine: MatchingEngine, small_world: WorldTables
) -> None:
    from matching.eligibility import DEFAULT_RULES

    columns = [
        j for j, rule in enumerate(DEFAULT_RULES) if rule.group.value == "registered_unemployed"
    ]
    assert len(columns) == 2  # one per legal basis
    seekers = engine.data.seekers
    active = np.flatnonzero(seekers["active"] & ~np.isnat(seekers["unemployed_since"]))
    today = np.datetime64(small_world.as_of, "D")
    member = (seekers["eligible_from"][active][:, columns] <= today) & (
        seekers["eligible_until"][active][:, columns] >= today
    )
    # Everybody unemployed today belongs, whatever the length of the spell.
    assert member.any(axis=1).all()


def test_lists_are_ordered_by_tier_then_score_the_same_way_every_time(
    engine: MatchingEngine, small_world: WorldTables
) -> None:
    today = small_world.as_of
    data = engine.data
    checked = 0
    for s in np.flatnonzero(data.seekers["active"])[:30].tolist():
        person = data.seekers.ids[s]
        first = engine.matches_for_jobseeker(person, k=20, on=today, with_factors=False)
        second = engine.matches_for_jobseeker(person, k=20, on=today, with_factors=False)
        assert [m.vacancy_id for m in first.results] == [m.vacancy_id for m in second.results]
        if len(first.results) < 2:
            continue
        rows = np.array([data.vacancies.row_of[m.vacancy_id] for m in first.results])
        features = pair_features(data, np.full(len(rows), s), rows, today)
        tier = engine._qualified(features)
        keys = list(zip(-tier, [-m.score for m in first.results], strict=True))
        assert keys == sorted(keys)
        checked += 1
    assert checked > 5


def test_a_yes_no_factor_is_worded_as_it_holds_for_the_pair(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    from service.composition import build_engine
    from service.settings import Settings

    engine = build_engine(small_world, Settings())
    column = FEATURE_NAMES.index("driving_licence_missing")
    assert engine._words(column, 1.0) == "a required driving licence is missing"
    assert engine._words(column, 0.0) == "no driving licence missing"
    coverage = FEATURE_NAMES.index("required_coverage")
    assert engine._words(coverage, 0.0) == engine.feature_descriptions["required_coverage"]
