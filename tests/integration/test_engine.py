"""The matching engine on a generated world: filters, explanations, invariants, fairness."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.geography import Geography
from features.matching_data import (
    Vocabularies,
    build_matching_data,
    hires_made,
    seeker_update,
    vacancy_update,
)
from features.pair_features import pair_features
from features.schema import FEATURE_INDEX, FEATURE_NAMES, FEATURES
from features.taxonomy import Taxonomy
from features.world_store import WorldTables, jobseeker_from_row, vacancy_from_rows
from matching.domain import (
    Jobseeker,
    PhysicalDemand,
    Sex,
    TargetGroup,
    Vacancy,
    WorkCapacity,
    WorkRestriction,
)
from matching.engine import (
    PRIOR_FEATURES,
    MatchFilters,
    MatchingConfig,
    MatchingEngine,
    MatchList,
    UnknownEntityError,
)
from matching.entities import PROFILE_VALUE

pytestmark = pytest.mark.integration

DESCRIPTIONS = {f.name: f.description for f in FEATURES}


def make_engine(world: WorldTables, taxonomy: Taxonomy, geography: Geography) -> MatchingEngine:
    data = build_matching_data(world, taxonomy, geography)
    return MatchingEngine(data, pair_features, FEATURE_NAMES, DESCRIPTIONS)


@pytest.fixture
def engine(small_world: WorldTables, taxonomy: Taxonomy, geography: Geography) -> MatchingEngine:
    return make_engine(small_world, taxonomy, geography)


@pytest.fixture(scope="module")
def shared_engine(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> MatchingEngine:
    return make_engine(small_world, taxonomy, geography)


def person(world: WorldTables, jobseeker_id: str) -> Jobseeker:
    rows = world.jobseekers[world.jobseekers["jobseeker_id"] == jobseeker_id]
    return jobseeker_from_row(rows.iloc[0])


def update_person(
    engine: MatchingEngine,
    world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    changed: Jobseeker,
) -> None:
    mine = world.assessments[world.assessments["jobseeker_id"] == changed.jobseeker_id]
    observations = world.skill_observations[
        world.skill_observations["assessment_id"].isin(mine["assessment_id"])
    ]
    vocab = Vocabularies.build(taxonomy, geography)
    engine.upsert_seeker(seeker_update(changed, mine, observations, vocab, world.as_of))


@dataclasses.dataclass
class VacancyEditor:
    """Changes one vacancy of the world in an engine, as the service would."""

    engine: MatchingEngine
    world: WorldTables
    vocab: Vocabularies
    vacancy_id: str

    @property
    def original(self) -> Vacancy:
        rows = self.world.vacancies[self.world.vacancies["vacancy_id"] == self.vacancy_id]
        skills = self.world.vacancy_skills
        return vacancy_from_rows(rows.iloc[0], skills[skills["vacancy_id"] == self.vacancy_id])

    def apply(self, vacancy: Vacancy, conditions: pd.DataFrame | None = None) -> None:
        hires = hires_made(self.world.outcomes, self.world.vacancies, self.world.as_of)
        chosen = self.world.employment_conditions if conditions is None else conditions
        self.engine.upsert_vacancy(vacancy_update(vacancy, chosen, hires, self.vocab))


def editor(
    engine: MatchingEngine,
    world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    vacancy_id: str,
) -> VacancyEditor:
    return VacancyEditor(engine, world, Vocabularies.build(taxonomy, geography), vacancy_id)


def seekers_with_matches(engine: MatchingEngine, world: WorldTables, n: int) -> list[str]:
    found = []
    for jobseeker_id in world.jobseekers["jobseeker_id"]:
        if engine.matches_for_jobseeker(jobseeker_id, k=5, on=world.as_of).results:
            found.append(jobseeker_id)
        if len(found) == n:
            break
    assert len(found) == n, "the small world should give matches to many people"
    return found


def assert_pairs_pass_hard_filters(engine: MatchingEngine, result: MatchList) -> None:
    data, cfg = engine.data, engine.config
    day = np.datetime64(result.on, "D")
    for match in result.results:
        s = data.seekers.row(match.jobseeker_id)
        v = data.vacancies.row(match.vacancy_id)
        assert data.vacancies["opens_on"][v] <= day <= data.vacancies["closes_on"][v]
        assert data.seekers["active"][s] and data.vacancies["active"][v]
        assert data.vacancies["hires"][v] < data.vacancies["openings"][v]  # not filled
        e = match.explanation
        # The commute radius is a preference with a slack: the distance, less remote days,
        # stays within radius + max(slack_km, slack_share × radius).
        radius = float(data.seekers["max_commute_km"][s])
        remote = float(data.vacancies["remote_share"][v])
        effective = float(
            data.distance_km[data.seekers["home"][s], data.vacancies["municipality"][v]]
        )
        effective *= 1.0 - remote
        reach = radius + max(cfg.commute_slack_km, cfg.commute_slack_share * radius)
        assert (
            effective <= reach + 1e-3
            or remote >= cfg.remote_threshold
            or data.seekers["relocate"][s]
        )
        # Work ability: more weekly hours than the person can do is a conflict too.
        assert data.vacancies["hours"][v] <= data.seekers["max_hours"][s]
        if data.vacancies["has_condition"][v]:
            assert e.eligible is True
            assert e.eligibility_rule is not None


def test_matches_and_shortlists_pass_every_hard_filter(
    shared_engine: MatchingEngine, small_world: WorldTables
) -> None:
    for jobseeker_id in seekers_with_matches(shared_engine, small_world, 15):
        result = shared_engine.matches_for_jobseeker(jobseeker_id, k=10, on=small_world.as_of)
        assert_pairs_pass_hard_filters(shared_engine, result)
        for match in result.results[:2]:
            shortlist = shared_engine.shortlist_for_vacancy(
                match.vacancy_id, k=10, on=small_world.as_of, record_exposure=False
            )
            assert_pairs_pass_hard_filters(shared_engine, shortlist)


def test_explanations_split_required_skills_into_matched_and_gaps(
    shared_engine: MatchingEngine, small_world: WorldTables, geography: Geography
) -> None:
    jobseeker_id = seekers_with_matches(shared_engine, small_world, 1)[0]
    result = shared_engine.matches_for_jobseeker(jobseeker_id, k=5, on=small_world.as_of)
    skills = small_world.vacancy_skills
    home = person(small_world, jobseeker_id).home_municipality
    for match in result.results:
        e = match.explanation
        required = skills[(skills["vacancy_id"] == match.vacancy_id) & skills["required"]]
        labels = {s.label for s in e.matched_skills} | {s.label for s in e.missing_skills}
        assert len(e.matched_skills) + len(e.missing_skills) == len(required)
        assert len(labels) == len(required)
        vacancy = small_world.vacancies.set_index("vacancy_id").loc[match.vacancy_id]
        assert e.distance_km == pytest.approx(geography.distance(home, vacancy["municipality"]))
        for evidence in e.matched_skills:
            assert evidence.strength > 0 or evidence.method is None
        assert e.factors, "the top features should be explained in words"
        assert all(f.sentence.endswith(")") and f.description for f in e.factors)


def test_night_work_conflict_is_filtered(
    engine: MatchingEngine, small_world: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    jobseeker_id = seekers_with_matches(engine, small_world, 1)[0]
    on = small_world.as_of
    target = engine.matches_for_jobseeker(jobseeker_id, k=1, on=on).results[0].vacancy_id
    edit = editor(engine, small_world, taxonomy, geography, target)
    vacancy = edit.original
    edit.apply(dataclasses.replace(vacancy, night_work=True))
    assert target in vacancy_ids(engine.matches_for_jobseeker(jobseeker_id, k=50, on=on))
    restricted = dataclasses.replace(
        person(small_world, jobseeker_id),
        work_capacity=WorkCapacity(restrictions=frozenset({WorkRestriction.NO_NIGHT_WORK})),
    )
    update_person(engine, small_world, taxonomy, geography, restricted)
    assert target not in vacancy_ids(engine.matches_for_jobseeker(jobseeker_id, k=50, on=on))
    # Heavy work is filtered the same way for no-heavy-lifting.
    edit.apply(dataclasses.replace(vacancy, physical_demand=PhysicalDemand.HEAVY))
    lifting = dataclasses.replace(
        restricted,
        work_capacity=WorkCapacity(restrictions=frozenset({WorkRestriction.NO_HEAVY_LIFTING})),
    )
    update_person(engine, small_world, taxonomy, geography, lifting)
    assert target not in vacancy_ids(engine.matches_for_jobseeker(jobseeker_id, k=50, on=on))


def vacancy_ids(result: MatchList) -> set[str]:
    return {m.vacancy_id for m in result.results}


def test_distance_filter_unless_remote_or_relocating(
    engine: MatchingEngine, small_world: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    on = small_world.as_of
    # A match the skill index finds (far-away jobs are reached through skills, not region),
    # of a person who will not relocate (relocating waives distance).
    jobseeker_id, target = next(
        (m.jobseeker_id, m.vacancy_id)
        for jid in seekers_with_matches(engine, small_world, 40)
        if not person(small_world, jid).preferences.willing_to_relocate
        for m in engine.matches_for_jobseeker(jid, k=20, on=on).results
        if m.explanation.matched_skills
    )
    me = person(small_world, jobseeker_id)
    far = max(
        ("890", "2584"), key=lambda code: geography.distance(me.home_municipality, code)
    )  # Utsjoki or Kiruna, whichever is farther
    # Beyond the radius and its slack (matching.commute), so distance alone rules it out.
    radius = me.preferences.max_commute_km
    config = engine.config
    reach = radius + max(config.commute_slack_km, config.commute_slack_share * radius)
    assert geography.distance(me.home_municipality, far) > reach
    edit = editor(engine, small_world, taxonomy, geography, target)
    vacancy = dataclasses.replace(edit.original, municipality=far)

    def place(remote_share: float) -> None:
        edit.apply(dataclasses.replace(vacancy, remote_share=remote_share))

    place(0.0)
    assert target not in vacancy_ids(engine.matches_for_jobseeker(jobseeker_id, k=50, on=on))
    place(0.8)
    assert target in vacancy_ids(engine.matches_for_jobseeker(jobseeker_id, k=50, on=on))
    place(0.0)
    mover = dataclasses.replace(
        me, preferences=dataclasses.replace(me.preferences, willing_to_relocate=True)
    )
    update_person(engine, small_world, taxonomy, geography, mover)
    assert target in vacancy_ids(engine.matches_for_jobseeker(jobseeker_id, k=500, on=on))


def test_condition_eligibility_is_a_hard_filter(
    engine: MatchingEngine, small_world: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    jobseeker_id = seekers_with_matches(engine, small_world, 1)[0]
    on = small_world.as_of
    target = engine.matches_for_jobseeker(jobseeker_id, k=1, on=on).results[0].vacancy_id
    edit = editor(engine, small_world, taxonomy, geography, target)
    vocab = edit.vocab
    conditions = small_world.employment_conditions.copy()
    me = person(small_world, jobseeker_id)
    # A condition only for the older group; make the person 40 so it cannot apply.
    conditions["target_groups"] = [[TargetGroup.OLDER.value]] * len(conditions)
    engine.upsert_seeker(
        seeker_update(
            dataclasses.replace(me, birth_year=on.year - 40),
            small_world.assessments[small_world.assessments["jobseeker_id"] == jobseeker_id],
            small_world.skill_observations,
            vocab,
            on,
        )
    )
    edit.apply(edit.original, conditions)
    assert target not in vacancy_ids(engine.matches_for_jobseeker(jobseeker_id, k=50, on=on))
    engine.upsert_seeker(
        seeker_update(
            dataclasses.replace(me, birth_year=on.year - 58),
            small_world.assessments[small_world.assessments["jobseeker_id"] == jobseeker_id],
            small_world.skill_observations,
            vocab,
            on,
        )
    )
    result = engine.matches_for_jobseeker(jobseeker_id, k=50, on=on)
    assert target in vacancy_ids(result)
    match = next(m for m in result.results if m.vacancy_id == target)
    assert match.explanation.eligibility_rule == "older/2025"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pick=st.integers(min_value=0, max_value=10_000), k=st.integers(min_value=1, max_value=30))
def test_rankings_are_deterministic_sorted_and_finite(
    shared_engine: MatchingEngine, small_world: WorldTables, pick: int, k: int
) -> None:
    ids = small_world.jobseekers["jobseeker_id"]
    jobseeker_id = ids.iloc[pick % len(ids)]
    first = shared_engine.matches_for_jobseeker(jobseeker_id, k=k, on=small_world.as_of)
    again = shared_engine.matches_for_jobseeker(jobseeker_id, k=k, on=small_world.as_of)
    assert first == again
    scores = [m.score for m in first.results]
    assert all(np.isfinite(scores))
    assert scores == sorted(scores, reverse=True)
    assert len(first.results) == min(k, first.candidates)
    assert len(vacancy_ids(first)) == len(first.results)
    assert [m.rank for m in first.results] == list(range(1, len(first.results) + 1))


def test_ranking_is_a_permutation_of_the_retrieved_candidates(
    shared_engine: MatchingEngine, small_world: WorldTables
) -> None:
    on = small_world.as_of
    for jobseeker_id in seekers_with_matches(shared_engine, small_world, 5):
        full = shared_engine.matches_for_jobseeker(jobseeker_id, k=10_000, on=on)
        s = shared_engine.data.seekers.row(jobseeker_id)
        retrieved = shared_engine._retrieve_vacancies(s, on, MatchFilters())
        retrieved_ids = sorted(shared_engine.data.vacancies.ids[i] for i in retrieved)
        assert sorted(m.vacancy_id for m in full.results) == retrieved_ids


def test_unknown_ids_are_named(shared_engine: MatchingEngine) -> None:
    with pytest.raises(UnknownEntityError, match=r"jobseeker 'JS-nobody' is not known"):
        shared_engine.matches_for_jobseeker("JS-nobody")
    with pytest.raises(UnknownEntityError, match=r"vacancy 'VA-none' is not known"):
        shared_engine.shortlist_for_vacancy("VA-none")


def test_exposure_cap_pushes_overexposed_people_down(
    engine: MatchingEngine, small_world: WorldTables
) -> None:
    on = small_world.as_of
    open_ids = [
        vid
        for vid in small_world.vacancies["vacancy_id"]
        if len(engine.shortlist_for_vacancy(vid, k=5, on=on, record_exposure=False).results) >= 3
    ]
    target = open_ids[0]
    top = engine.shortlist_for_vacancy(target, k=5, on=on, record_exposure=False)
    star = engine.data.seekers.row(top.results[0].jobseeker_id)
    engine._exposure.counts[star] = engine.config.exposure_cap + 20
    again = engine.shortlist_for_vacancy(target, k=5, on=on, record_exposure=False)
    assert again.results[0].jobseeker_id != top.results[0].jobseeker_id


def test_counterfactual_sex_age_origin_leave_matches_unchanged(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    # No condition's rule concerns age or origin in this world: only unemployment spells.
    conditions = small_world.employment_conditions.copy()
    conditions["target_groups"] = [
        [TargetGroup.UNEMPLOYED_3M.value, TargetGroup.LONG_TERM_UNEMPLOYED.value]
    ] * len(conditions)
    world = dataclasses.replace(small_world, employment_conditions=conditions)
    engine = make_engine(world, taxonomy, geography)
    on = world.as_of
    for jobseeker_id in seekers_with_matches(engine, world, 6):
        me = person(world, jobseeker_id)
        # The same update path on both sides, so even rounding must agree exactly.
        update_person(engine, world, taxonomy, geography, me)
        before = engine.matches_for_jobseeker(jobseeker_id, k=20, on=on)
        other_sex = Sex.MALE if me.sex is Sex.FEMALE else Sex.FEMALE
        changed = dataclasses.replace(
            me,
            sex=other_sex,
            birth_year=1950 if me.birth_year > 1980 else 2004,
            migrant_background=not me.migrant_background,
        )
        update_person(engine, world, taxonomy, geography, changed)
        after = engine.matches_for_jobseeker(jobseeker_id, k=20, on=on)
        assert [(m.vacancy_id, m.score) for m in after.results] == [
            (m.vacancy_id, m.score) for m in before.results
        ]


def test_pair_features_follow_the_schema(
    shared_engine: MatchingEngine, small_world: WorldTables
) -> None:
    data = shared_engine.data
    rng = np.random.default_rng(0)
    s = rng.integers(0, len(data.seekers), 500)
    v = rng.integers(0, len(data.vacancies), 500)
    features = pair_features(data, s, v, small_world.as_of)
    assert features.shape == (500, len(FEATURE_NAMES))
    assert np.isfinite(features).all()
    for name in ("required_coverage", "optional_coverage", "skill_cosine", "hours_fit"):
        column = features[:, FEATURE_INDEX[name]]
        assert ((column >= 0) & (column <= 1 + 1e-6)).all(), name
    distance = features[:, FEATURE_INDEX["distance_km"]]
    expected = data.distance_km[data.seekers["home"][s], data.vacancies["municipality"][v]]
    np.testing.assert_allclose(distance, expected)
    # Chunked and one-by-one computation agree.
    single = np.vstack(
        [pair_features(data, s[i : i + 1], v[i : i + 1], small_world.as_of) for i in range(20)]
    )
    np.testing.assert_allclose(single, features[:20], rtol=1e-6)


def test_incremental_update_equals_rebuild(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    """Updating a person incrementally gives the same matches as rebuilding from scratch."""
    engine = make_engine(small_world, taxonomy, geography)
    on = small_world.as_of
    jobseeker_id = seekers_with_matches(engine, small_world, 1)[0]
    me = person(small_world, jobseeker_id)
    moved = dataclasses.replace(
        me, preferences=dataclasses.replace(me.preferences, max_commute_km=80.0)
    )
    update_person(engine, small_world, taxonomy, geography, moved)
    incremental = engine.matches_for_jobseeker(jobseeker_id, k=20, on=on)

    jobseekers = small_world.jobseekers.copy()
    jobseekers.loc[jobseekers["jobseeker_id"] == jobseeker_id, "max_commute_km"] = 80.0
    rebuilt_engine = make_engine(
        dataclasses.replace(small_world, jobseekers=jobseekers), taxonomy, geography
    )
    rebuilt = rebuilt_engine.matches_for_jobseeker(jobseeker_id, k=20, on=on)
    assert [m.vacancy_id for m in incremental.results] == [m.vacancy_id for m in rebuilt.results]
    np.testing.assert_allclose(
        [m.score for m in incremental.results], [m.score for m in rebuilt.results], rtol=1e-5
    )
    assert pd.Series([m.vacancy_id for m in incremental.results]).is_unique
    assert date.today() > on  # the world's day is in the past: queries pass `on` explicitly


def test_shortlist_prior_columns_equal_the_pair_features(
    shared_engine: MatchingEngine, small_world: WorldTables
) -> None:
    """The first-stage prior reads the same values the ranker sees."""
    data = shared_engine.data
    on = small_world.as_of
    v = data.vacancies.row(small_world.vacancies["vacancy_id"].iloc[0])
    rows = np.arange(0, len(data.seekers), 7, dtype=np.int64)
    entries = data.requirements.rows([v])
    scores = shared_engine.seeker_index.scores(entries.columns, entries.values[:, 0])
    prior = shared_engine._prior_columns(rows, v, scores[rows], on)
    features = pair_features(data, rows, np.full(len(rows), v), on)
    for j, name in enumerate(PRIOR_FEATURES):
        np.testing.assert_allclose(
            prior[:, j], features[:, FEATURE_INDEX[name]], rtol=1e-5, atol=1e-5, err_msg=name
        )
    weights = shared_engine._prior_weights()
    assert weights is not None
    assert np.isfinite(weights).all()
    # The matches direction: one person, many vacancies.
    person = int(rows[1])
    jobs = np.arange(0, len(data.vacancies), 3, dtype=np.int64)
    entries = data.profiles.rows([person])
    scores = shared_engine.vacancy_index.scores(entries.columns, entries.values[:, PROFILE_VALUE])
    prior = shared_engine._prior_columns(person, jobs, scores[jobs], on)
    features = pair_features(data, np.full(len(jobs), person), jobs, on)
    for j, name in enumerate(PRIOR_FEATURES):
        np.testing.assert_allclose(
            prior[:, j], features[:, FEATURE_INDEX[name]], rtol=1e-5, atol=1e-5, err_msg=name
        )
    weights = shared_engine._prior_weights("matches")
    assert weights is not None
    assert np.isfinite(weights).all()


def _retrieval_recall(engine: MatchingEngine, kind: str, ids: list[str], on: date) -> float:
    """Share of the exhaustive top 10 (queries with more admitted than the limit) retrieved."""
    found = total = 0
    for query_id in ids:
        if kind == "matches":
            truth = engine.exhaustive_matches(query_id, 10, on)
            _, rows = engine._candidates("matches", query_id, on, MatchFilters())
            retrieved = {engine.data.vacancies.ids[i] for i in rows}
            admitted = len(engine.exhaustive_matches(query_id, 10**6, on))
        else:
            truth = engine.exhaustive_shortlist(query_id, 10, on)
            rows, _ = engine._candidates("shortlist", query_id, on, MatchFilters())
            retrieved = {engine.data.seekers.ids[i] for i in rows}
            admitted = len(engine.exhaustive_shortlist(query_id, 10**6, on))
        if admitted <= engine.config.exhaustive_limit:
            continue  # everything is scored: nothing to miss
        found += len(set(truth) & retrieved)
        total += len(truth)
    assert total >= 50, "too few trimmed queries to measure recall"
    return found / total


def test_trimmed_retrieval_finds_the_exhaustive_top_in_both_directions(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    """With limits that trim, the first-stage prior keeps what the ranker would put on top.

    Matches once kept only the best by skill and the nearest few (no prior): 0.70 of the
    top 10 with these limits.
    """
    engine = make_engine(small_world, taxonomy, geography)
    engine.config = MatchingConfig(candidate_pool=20, exhaustive_limit=25, prior_pool=15)
    on = small_world.as_of
    people = sorted(small_world.jobseekers["jobseeker_id"].astype(str))[::25]
    jobs = sorted(small_world.vacancies["vacancy_id"].astype(str))[::10]
    matches = _retrieval_recall(engine, "matches", people, on)
    shortlists = _retrieval_recall(engine, "shortlist", jobs, on)
    # Measured with the rule-based scorer: matches 0.787 (0.700 without the matches prior),
    # shortlists 0.876.
    assert matches >= 0.75, f"matches retrieval recall@10 {matches:.3f}"
    assert shortlists >= 0.85, f"shortlists retrieval recall@10 {shortlists:.3f}"
