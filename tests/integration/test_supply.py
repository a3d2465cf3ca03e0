"""Local supply (targeting.supply): counts against a person-by-person brute force, people who
drop out, the replay that ignores the future, and no personal data in the answer."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd
import pytest

from features.geography import Geography
from features.matching_data import Vocabularies, build_matching_data, vacancy_update
from features.pair_features import pair_features
from features.schema import FEATURE_NAMES, FEATURES
from features.taxonomy import Taxonomy
from features.world_store import WorldTables
from matching.commute import distance_band
from matching.eligibility import DEFAULT_RULES, pair_eligibility
from matching.engine import (
    MatchingEngine,
    admissible_pairs,
    vacancy_open,
    within_reach,
)
from matching.scoring import RuleBasedScorer
from service.operations import bands
from targeting.supply import (
    NO_TARGET_GROUP,
    SupplyConfig,
    SupplyEstimator,
    SupplyQuestionError,
)
from targeting.types import HypotheticalVacancy, Supply, SupplyProfile

pytestmark = pytest.mark.integration

DESCRIPTIONS = {f.name: f.description for f in FEATURES}
COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def make_engine(world: WorldTables, taxonomy: Taxonomy, geography: Geography) -> MatchingEngine:
    data = build_matching_data(world, taxonomy, geography)
    return MatchingEngine(data, pair_features, FEATURE_NAMES, DESCRIPTIONS)


def live_supply(
    world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    vacancy: HypotheticalVacancy,
    settings: SupplyConfig | None = None,
) -> Supply:
    engine = make_engine(world, taxonomy, geography)
    vocab = Vocabularies.build(taxonomy, geography)
    estimator = SupplyEstimator.live(engine, vocab, taxonomy, world.as_of, settings)
    return estimator.supply([vacancy])[0]


def question(
    place: str, occupation: str, on: date, groups: tuple[str, ...] = ()
) -> HypotheticalVacancy:
    return HypotheticalVacancy(
        key=f"{place}/{occupation}/{'+'.join(groups)}",
        occupation_uri=occupation,
        municipality=place,
        job_form="employment",
        target_groups=groups,
        opens_on=on,
    )


@dataclass(frozen=True)
class BruteForce:
    admitted: list[str]  # jobseeker ids passing the hard filters, in the engine's order
    well: list[str]  # of those, rated good or better, in the engine's order
    groups: Counter[str]
    competing: int
    openings: int


def brute_force(
    world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    vacancy: HypotheticalVacancy,
    settings: SupplyConfig,
) -> BruteForce:
    """Every person of the world, one at a time, through the engine's own filter, featurizer
    and rule-based score, against the hypothetical vacancy added to a separate engine."""
    engine = make_engine(world, taxonomy, geography)
    vocab = Vocabularies.build(taxonomy, geography)
    estimator = SupplyEstimator.live(
        make_engine(world, taxonomy, geography), vocab, taxonomy, world.as_of
    )
    engine.upsert_vacancy(estimator.engine_row(vacancy, "BRUTE"))
    data, config = engine.data, engine.config
    v = data.vacancies.row_of["BRUTE"]
    day = np.datetime64(vacancy.opens_on, "D")
    admitted = [
        s
        for s in range(len(data.seekers))
        if admissible_pairs(data, config, np.array([s]), np.array([v]), day)[0]
    ]
    rules = RuleBasedScorer(FEATURE_NAMES)
    scored = []
    for s in admitted:
        features = pair_features(data, np.array([s]), np.array([v]), vacancy.opens_on)[0]
        qualified = (
            features[COLUMN["assessed_coverage"]] >= 1.0
            and features[COLUMN["within_commute"]] > 0
            and features[COLUMN["language_gap"]] <= 0
            and features[COLUMN["driving_licence_missing"]] <= 0
        )
        score = float(rules.score(features[None, :])[0])
        scored.append((-float(qualified), -score, s, score))
    # The engine's documented order: qualified pairs first, then by score, then by row.
    scored.sort()
    admitted = [s for _, _, s, _ in scored]
    well = [s for _, _, s, score in scored if score >= settings.min_rule_score]
    groups: Counter[str] = Counter()
    for s in well:
        if not vacancy.target_groups:
            groups[NO_TARGET_GROUP] += 1
            continue
        _, _, deciding = pair_eligibility(
            data.seekers["eligible_from"][[s]],
            data.seekers["eligible_until"][[s]],
            data.vacancies["condition_rules"][[v]],
            vacancy.opens_on,
        )
        groups[DEFAULT_RULES[int(deciding[0])].group.value] += 1
    # Competition: every other vacancy, one at a time.
    place = geography.index(vacancy.municipality)
    seekers = data.seekers
    reaching = [
        s
        for s in range(len(seekers))
        if seekers["active"][s]
        and within_reach(
            data.distance_km[seekers["home"][s], place],
            0.0,
            seekers["max_commute_km"][s],
            seekers["relocate"][s],
            config,
        )
    ]
    radius = float(np.median(seekers["max_commute_km"][reaching]))
    isco = data.vacancies["isco"][v]
    competing = openings = 0
    for r in range(len(data.vacancies)):
        vacancies = data.vacancies
        if r == v or vacancies["isco"][r] != isco:
            continue
        is_open = vacancies["active"][r] and vacancy_open(
            vacancies["opens_on"][r],
            vacancies["closes_on"][r],
            vacancies["openings"][r],
            vacancies["hires"][r],
            np.datetime64(world.as_of, "D"),
        )
        near = within_reach(
            data.distance_km[place, vacancies["municipality"][r]],
            vacancies["remote_share"][r],
            radius,
            False,
            config,
        )
        if is_open and near:
            competing += 1
            openings += int(vacancies["openings"][r] - vacancies["hires"][r])
    ids = data.seekers.ids
    return BruteForce(
        admitted=[ids[s] for s in admitted],
        well=[ids[s] for s in well],
        groups=groups,
        competing=competing,
        openings=openings,
    )


def _with_people(world: WorldTables, change: dict[str, dict[str, object]]) -> WorldTables:
    """The world with some jobseekers' columns changed (``{id: {column: value}}``)."""
    people = world.jobseekers.copy()
    for column in {c for values in change.values() for c in values}:
        values = people[column].astype(object).tolist()
        for i, person in enumerate(people["jobseeker_id"].astype(str)):
            if person in change and column in change[person]:
                values[i] = change[person][column]
        people[column] = pd.Series(values, index=people.index, dtype=object)
    for column in ("birth_year",):
        people[column] = people[column].astype(np.int64)
    return dataclasses.replace(world, jobseekers=people)


def _with_hire(world: WorldTables, person: str, vacancy: str, day: date) -> WorldTables:
    extra = pd.DataFrame(
        [
            {
                "event_id": f"SUPPLY-HIRE-{day}",
                "jobseeker_id": person,
                "vacancy_id": vacancy,
                "stage": "hired",
                "reason": None,
                "occurred_at": datetime.combine(day, time(10, 0), tzinfo=UTC),
            }
        ]
    )
    outcomes = pd.concat([world.outcomes.astype(object), extra], ignore_index=True)
    outcomes["occurred_at"] = pd.to_datetime(outcomes["occurred_at"], utc=True)
    return dataclasses.replace(world, outcomes=outcomes)


def _with_assessment(
    world: WorldTables, person: str, day: date, skills: list[str], suffix: str
) -> WorldTables:
    """The world plus a work trial of ``person`` on ``day`` observing ``skills`` at level 4."""
    assessment_id = f"SUPPLY{suffix}"
    assessments = pd.concat(
        [
            world.assessments.astype(object),
            pd.DataFrame(
                [
                    {
                        "assessment_id": assessment_id,
                        "jobseeker_id": person,
                        "coach_id": world.assessments["coach_id"].iloc[0],
                        "assessed_on": pd.Timestamp(day),
                        "method": "work_trial",
                        "note": "",
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    observations = pd.concat(
        [
            world.skill_observations.astype(object),
            pd.DataFrame(
                {
                    "assessment_id": assessment_id,
                    "jobseeker_id": person,
                    "skill_uri": skills,
                    "level": 4,
                    "confidence": 0.95,
                }
            ),
        ],
        ignore_index=True,
    )
    assessments["assessed_on"] = pd.to_datetime(assessments["assessed_on"])
    observations["level"] = observations["level"].astype(np.int8)
    observations["confidence"] = observations["confidence"].astype(np.float32)
    return dataclasses.replace(world, assessments=assessments, skill_observations=observations)


def _with_vacancy(
    world: WorldTables, vacancy_id: str, occupation: str, place: str, opens: date
) -> WorldTables:
    row = world.vacancies.iloc[0].to_dict()
    row.update(
        vacancy_id=vacancy_id,
        contract_id=None,
        condition_id=None,
        occupation_uri=occupation,
        municipality=place,
        opens_on=pd.Timestamp(opens),
        closes_on=pd.Timestamp(opens + timedelta(days=120)),
        remote_share=0.0,
        openings=2,
    )
    vacancies = pd.concat([world.vacancies.astype(object), pd.DataFrame([row])], ignore_index=True)
    for column in ("opens_on", "closes_on"):
        vacancies[column] = pd.to_datetime(vacancies[column])
    return dataclasses.replace(world, vacancies=vacancies)


# --------------------------------------------------------------------------------------------
# Fixtures: the place with most people, the occupation with most well-ranked people there
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vocab(taxonomy: Taxonomy, geography: Geography) -> Vocabularies:
    return Vocabularies.build(taxonomy, geography)


@pytest.fixture(scope="module")
def live(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography, vocab: Vocabularies
) -> SupplyEstimator:
    return SupplyEstimator.live(
        make_engine(small_world, taxonomy, geography), vocab, taxonomy, small_world.as_of
    )


@pytest.fixture(scope="module")
def place(small_world: WorldTables) -> str:
    return str(small_world.jobseekers["home_municipality"].astype(str).value_counts().index[0])


@pytest.fixture(scope="module")
def occupation(small_world: WorldTables, live: SupplyEstimator, place: str) -> str:
    """Of the five most common occupations, the one with most migrants rated good at the place
    (the eligibility test needs one; most have a few)."""
    common = small_world.vacancies["occupation_uri"].astype(str).value_counts().index[:5]
    asked = [question(place, o, small_world.as_of, ("migrant_background",)) for o in common]
    answers = live.supply([dataclasses.replace(q, key=str(i)) for i, q in enumerate(asked)])
    best = max(range(len(answers)), key=lambda i: (answers[i].well_ranked, -i))
    assert answers[best].well_ranked > 0, "no migrant is rated good for a common occupation"
    return str(common[best])


# --------------------------------------------------------------------------------------------
# Counts
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("groups", "min_rule_score"),
    [
        ((), 0.25),
        ((), 0.15),
        (("long_term_unemployed",), 0.15),
        (("migrant_background", "young"), 0.15),
    ],
)
def test_supply_counts_match_a_person_by_person_brute_force(
    small_world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    place: str,
    occupation: str,
    groups: tuple[str, ...],
    min_rule_score: float,
) -> None:
    settings = SupplyConfig(min_rule_score=min_rule_score)
    vacancy = question(place, occupation, small_world.as_of, groups)
    got = live_supply(small_world, taxonomy, geography, vacancy, settings)
    expected = brute_force(small_world, taxonomy, geography, vacancy, settings)

    assert 0 < got.well_ranked < got.admissible
    assert got.admissible == len(expected.admitted)
    assert got.well_ranked == len(expected.well)
    assert got.by_target_group == {g: expected.groups[g] for g in (groups or (NO_TARGET_GROUP,))}
    assert sum(got.by_target_group.values()) == got.well_ranked
    assert got.expected_hires == pytest.approx(settings.lasting_hire_rate * len(expected.well))
    assert (got.competing_vacancies, got.competing_openings) == (
        expected.competing,
        expected.openings,
    )
    # Profiles: the first well-ranked people in the engine's order (every admissible person is
    # scored here: the small world is below the engine's exhaustive limit), with their ranks.
    assert len(got.profiles) == min(20, got.well_ranked)
    ranks = [p.rank for p in got.profiles]
    assert ranks == sorted(ranks)
    assert all(p.probability is None for p in got.profiles)  # the rules are not calibrated


def test_competition_matches_a_vacancy_by_vacancy_brute_force(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography, live: SupplyEstimator
) -> None:
    place = "0180"  # Stockholm: the most vacancies of the small world
    common = small_world.vacancies["occupation_uri"].astype(str).value_counts().index[:5]
    asked = [dataclasses.replace(question(place, o, small_world.as_of), key=o) for o in common]
    answers = live.supply(asked, profiles=0)
    seen = []
    for vacancy, got in zip(asked, answers, strict=True):
        expected = brute_force(small_world, taxonomy, geography, vacancy, SupplyConfig())
        assert (got.competing_vacancies, got.competing_openings) == (
            expected.competing,
            expected.openings,
        )
        assert got.profiles == ()
        seen.append(got.competing_vacancies)
    assert max(seen) > 0


def test_profile_ranks_are_the_shortlist_ranks(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography, place: str, occupation: str
) -> None:
    settings = SupplyConfig(min_rule_score=0.15)
    vacancy = question(place, occupation, small_world.as_of)
    got = live_supply(small_world, taxonomy, geography, vacancy, settings)
    expected = brute_force(small_world, taxonomy, geography, vacancy, settings)
    # Ranks among every admitted person in the engine's documented order.
    position = {person: rank for rank, person in enumerate(expected.admitted, 1)}
    assert [p.rank for p in got.profiles] == [position[person] for person in expected.well[:20]]
    # The engine's own shortlist of the vacancy (added to the whole world's engine) lists the
    # people it retrieves in that order: everybody near, and relocating people from afar
    # whose skills the index finds.
    engine = make_engine(small_world, taxonomy, geography)
    vocab = Vocabularies.build(taxonomy, geography)
    estimator = SupplyEstimator.live(engine, vocab, taxonomy, small_world.as_of, settings)
    engine.upsert_vacancy(estimator.engine_row(vacancy, "SHORT"))
    listed = engine.ranked_ids("shortlist", "SHORT", len(engine.data.seekers), small_world.as_of)
    assert len(listed) > got.admissible / 2
    shown = set(listed)
    assert [p for p in expected.admitted if p in shown] == listed
    home = engine.data.seekers["home"]
    where = geography.index(place)
    assert [p.distance_band for p in got.profiles] == [
        distance_band(
            float(engine.data.distance_km[home[engine.data.seekers.row_of[person]], where])
        )
        for person in expected.well[:20]
    ]


def test_a_calibrated_model_counts_by_probability(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography, place: str, occupation: str
) -> None:
    """With a calibration, well-ranked means a probability of at least min_probability, and the
    expected hires are the sum of those probabilities."""

    class Calibrated:
        version = "calibrated-rules"
        feature_names = FEATURE_NAMES

        def __init__(self) -> None:
            self.rules = RuleBasedScorer(FEATURE_NAMES)

        def for_direction(self, direction: str) -> RuleBasedScorer:
            return self.rules

        def probability(self, direction: str, scores: np.ndarray) -> np.ndarray:
            return np.clip(np.asarray(scores, np.float64) / 4.0, 0.0, 1.0)

    engine = make_engine(small_world, taxonomy, geography)
    engine.set_scorer(Calibrated())
    vocab = Vocabularies.build(taxonomy, geography)
    settings = SupplyConfig(min_probability=0.05)  # a rule score of 0.2
    vacancy = question(place, occupation, small_world.as_of)
    got = SupplyEstimator.live(engine, vocab, taxonomy, small_world.as_of, settings).supply(
        [vacancy]
    )[0]
    expected = brute_force(
        small_world, taxonomy, geography, vacancy, SupplyConfig(min_rule_score=0.2)
    )
    assert got.well_ranked == len(expected.well) > 0
    probabilities = [p.probability for p in got.profiles]
    assert all(p is not None and p >= 0.05 for p in probabilities)
    assert got.expected_hires >= 0.05 * got.well_ranked
    assert got.expected_hires <= got.well_ranked


def test_well_ranked_cuts_are_the_bands_a_recruiter_reads() -> None:
    settings = SupplyConfig()
    assert settings.min_probability == dict(bands.PROBABILITY_CUTS)["good"]
    assert settings.min_rule_score == dict(bands.RULE_SCORE_CUTS)["good"]


# --------------------------------------------------------------------------------------------
# People who drop out
# --------------------------------------------------------------------------------------------


def _first_good(
    world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    vacancy: HypotheticalVacancy,
) -> str:
    """A person rated good for the vacancy who does not relocate."""
    found = brute_force(world, taxonomy, geography, vacancy, SupplyConfig())
    relocating = set(
        world.jobseekers.loc[world.jobseekers["willing_to_relocate"], "jobseeker_id"].astype(str)
    )
    people = [p for p in found.well if p not in relocating]
    assert people, "nobody who stays put is rated good"
    return people[0]


def test_a_person_moved_out_of_reach_drops_out(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography, place: str, occupation: str
) -> None:
    vacancy = question(place, occupation, small_world.as_of)
    before = live_supply(small_world, taxonomy, geography, vacancy)
    person = _first_good(small_world, taxonomy, geography, vacancy)
    farthest = str(
        geography.municipalities["code"].iloc[int(np.argmax(geography.distances_from(place)))]
    )
    moved = _with_people(small_world, {person: {"home_municipality": farthest}})
    after = live_supply(moved, taxonomy, geography, vacancy)
    assert (after.admissible, after.well_ranked) == (before.admissible - 1, before.well_ranked - 1)


def test_a_person_no_longer_eligible_drops_out(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography, place: str, occupation: str
) -> None:
    vacancy = question(place, occupation, small_world.as_of, ("migrant_background",))
    before = live_supply(small_world, taxonomy, geography, vacancy)
    person = _first_good(small_world, taxonomy, geography, vacancy)
    changed = _with_people(small_world, {person: {"migrant_background": False}})
    changed = dataclasses.replace(
        changed,
        jobseekers=changed.jobseekers.assign(
            migrant_background=changed.jobseekers["migrant_background"].astype(bool)
        ),
    )
    after = live_supply(changed, taxonomy, geography, vacancy)
    assert (after.admissible, after.well_ranked) == (before.admissible - 1, before.well_ranked - 1)
    assert (
        after.by_target_group["migrant_background"]
        == before.by_target_group["migrant_background"] - 1
    )
    # Without a condition the person is still there.
    free = question(place, occupation, small_world.as_of)
    assert (
        live_supply(changed, taxonomy, geography, free).well_ranked
        == live_supply(small_world, taxonomy, geography, free).well_ranked
    )


def test_night_work_drops_a_person_who_cannot_work_nights(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography, place: str, occupation: str
) -> None:
    # The occupation's real vacancies all work nights, so the hypothetical one does too.
    vacancies = small_world.vacancies.copy()
    vacancies["night_work"] = vacancies["night_work"] | (
        vacancies["occupation_uri"].astype(str) == occupation
    )
    nights = dataclasses.replace(small_world, vacancies=vacancies)
    vacancy = question(place, occupation, small_world.as_of)
    engine = make_engine(nights, taxonomy, geography)
    vocab = Vocabularies.build(taxonomy, geography)
    assert SupplyEstimator.live(engine, vocab, taxonomy, nights.as_of).template(vacancy).night_work

    before = live_supply(nights, taxonomy, geography, vacancy)
    person = _first_good(nights, taxonomy, geography, vacancy)
    restricted = _with_people(nights, {person: {"restrictions": ["no_night_work"]}})
    after = live_supply(restricted, taxonomy, geography, vacancy)
    assert (after.admissible, after.well_ranked) == (before.admissible - 1, before.well_ranked - 1)


# --------------------------------------------------------------------------------------------
# The replay: nothing dated on or after the day changes the answer
# --------------------------------------------------------------------------------------------


def replayed_supply(
    world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    day: date,
    vacancy: HypotheticalVacancy,
) -> Supply:
    base = build_matching_data(world, taxonomy, geography)
    vocab = Vocabularies.build(taxonomy, geography)
    estimator = SupplyEstimator.as_of(
        world, base, taxonomy, vocab, None, day, [vacancy.municipality]
    )
    return estimator.supply([vacancy])[0]


@pytest.fixture(scope="module")
def day(small_world: WorldTables) -> date:
    return small_world.as_of - timedelta(days=150)


def _stay_at_home(world: WorldTables, place: str, occupation: str, day: date) -> list[str]:
    """People at home in ``place``, unemployed well before ``day``, neither hired nor assessed
    before it, without restrictions or reduced hours, not wanting ``occupation``: in matching
    on the day, admissible near home and, without evidence, not rated good (their rule score
    is at most the commute, job-form and remote terms, 0.20)."""
    people = world.jobseekers
    cutoff = pd.Timestamp(day)
    events = world.outcomes
    hired = events[
        (events["stage"].astype(str) == "hired")
        & (pd.to_datetime(events["occurred_at"], utc=True).dt.tz_localize(None) < cutoff)
    ]
    assessments = world.assessments
    assessed = assessments[pd.to_datetime(assessments["assessed_on"]) < cutoff]
    busy = set(hired["jobseeker_id"].astype(str)) | set(assessed["jobseeker_id"].astype(str))
    start = pd.to_datetime(people["unemployment_start"])
    fits = (
        (people["home_municipality"].astype(str) == place)
        & (start < pd.Timestamp(day - timedelta(days=60)))
        & people["max_hours_per_week"].isna()
        & (people["restrictions"].map(len) == 0)
        & ~people["preferred_occupations"].map(lambda wanted: occupation in set(wanted))
    )
    chosen = [p for p in people.loc[fits, "jobseeker_id"].astype(str) if p not in busy]
    assert len(chosen) >= 2, "too few people at the place without evidence before the day"
    return chosen


def test_replay_ignores_an_assessment_after_the_day(
    small_world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    place: str,
    occupation: str,
    day: date,
) -> None:
    vacancy = question(place, occupation, day)
    before = replayed_supply(small_world, taxonomy, geography, day, vacancy)
    estimator = SupplyEstimator.as_of(
        small_world,
        build_matching_data(small_world, taxonomy, geography),
        taxonomy,
        Vocabularies.build(taxonomy, geography),
        None,
        day,
        [place],
    )
    skills = [s.skill_uri for s in estimator.template(vacancy).skills if s.required]
    person = _stay_at_home(small_world, place, occupation, day)[0]

    later = _with_assessment(small_world, person, day, skills, "ON")  # on the day: not yet known
    assert replayed_supply(later, taxonomy, geography, day, vacancy) == before
    later = _with_assessment(small_world, person, day + timedelta(days=5), skills, "AFTER")
    assert replayed_supply(later, taxonomy, geography, day, vacancy) == before

    # The control: the same assessment the day before makes the person a good candidate.
    earlier = _with_assessment(small_world, person, day - timedelta(days=1), skills, "BEFORE")
    changed = replayed_supply(earlier, taxonomy, geography, day, vacancy)
    assert changed.well_ranked == before.well_ranked + 1
    assert changed.admissible == before.admissible


def test_replay_ignores_a_hire_after_the_day(
    small_world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    place: str,
    occupation: str,
    day: date,
) -> None:
    vacancy = question(place, occupation, day)
    before = replayed_supply(small_world, taxonomy, geography, day, vacancy)
    person = _stay_at_home(small_world, place, occupation, day)[1]
    elsewhere = str(small_world.vacancies["vacancy_id"].iloc[0])

    later = _with_hire(small_world, person, elsewhere, day)  # on the day: not yet known
    assert replayed_supply(later, taxonomy, geography, day, vacancy) == before
    later = _with_hire(small_world, person, elsewhere, day + timedelta(days=2))
    assert replayed_supply(later, taxonomy, geography, day, vacancy) == before

    # The control: hired the day before, the person is in work on the day.
    earlier = _with_hire(small_world, person, elsewhere, day - timedelta(days=2))
    assert replayed_supply(earlier, taxonomy, geography, day, vacancy).admissible == (
        before.admissible - 1
    )


def test_replay_ignores_a_vacancy_opened_after_the_day(
    small_world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    place: str,
    occupation: str,
    day: date,
) -> None:
    vacancy = question(place, occupation, day)
    before = replayed_supply(small_world, taxonomy, geography, day, vacancy)

    for opens in (day, day + timedelta(days=3)):
        later = _with_vacancy(small_world, "SUPPLY-NEW", occupation, place, opens)
        assert replayed_supply(later, taxonomy, geography, day, vacancy) == before

    # The control: opened before the day and still open, it competes.
    earlier = _with_vacancy(small_world, "SUPPLY-NEW", occupation, place, day - timedelta(days=5))
    changed = replayed_supply(earlier, taxonomy, geography, day, vacancy)
    assert changed.competing_vacancies == before.competing_vacancies + 1
    assert changed.competing_openings == before.competing_openings + 2


def test_replay_asks_only_about_its_places(
    small_world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    place: str,
    occupation: str,
    day: date,
) -> None:
    base = build_matching_data(small_world, taxonomy, geography)
    vocab = Vocabularies.build(taxonomy, geography)
    estimator = SupplyEstimator.as_of(small_world, base, taxonomy, vocab, None, day, [place])
    other = "837" if place != "837" else "091"
    with pytest.raises(SupplyQuestionError, match="municipality is not among the places"):
        estimator.supply([question(other, occupation, day)])
    with pytest.raises(ValueError, match=r"places: '999' is not a Finnish or Swedish"):
        SupplyEstimator.as_of(small_world, base, taxonomy, vocab, None, day, ["999"])


# --------------------------------------------------------------------------------------------
# The answer and the serving engine
# --------------------------------------------------------------------------------------------


def test_no_personal_data_in_the_answer(
    small_world: WorldTables, live: SupplyEstimator, place: str, occupation: str
) -> None:
    assert {f.name for f in dataclasses.fields(Supply)} == {
        "vacancy",
        "admissible",
        "well_ranked",
        "by_target_group",
        "expected_hires",
        "competing_vacancies",
        "competing_openings",
        "profiles",
    }
    assert {f.name for f in dataclasses.fields(SupplyProfile)} == {
        "target_group",
        "distance_band",
        "required_coverage",
        "probability",
        "rank",
    }
    answers = live.supply(
        [
            question(place, occupation, small_world.as_of),
            dataclasses.replace(
                question(place, occupation, small_world.as_of, ("long_term_unemployed",)),
                key="ltu",
            ),
        ],
        profiles=50,
    )
    text = repr(answers)
    people = small_world.jobseekers
    for column in ("jobseeker_id", "first_name", "last_name", "email", "phone"):
        for value in people[column].astype(str):
            assert value not in text
    for answer in answers:
        assert answer.profiles
        for profile in answer.profiles:
            assert profile.target_group in {NO_TARGET_GROUP, "long_term_unemployed"}
            assert profile.distance_band.endswith(" km")
            assert 0.0 <= profile.required_coverage <= 1.0


def test_the_serving_engine_is_not_changed_and_answers_do_not_depend_on_the_batch(
    small_world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    vocab: Vocabularies,
    place: str,
    occupation: str,
) -> None:
    engine = make_engine(small_world, taxonomy, geography)
    some_vacancy = engine.data.vacancies.ids[0]
    shortlist = engine.ranked_ids("shortlist", some_vacancy, 20, small_world.as_of)
    sizes = (len(engine.data.seekers), len(engine.data.vacancies))
    estimator = SupplyEstimator.live(engine, vocab, taxonomy, small_world.as_of)
    alone = estimator.supply([question(place, occupation, small_world.as_of)])[0]
    common = small_world.vacancies["occupation_uri"].astype(str).value_counts().index[:4]
    batch = estimator.supply(
        [dataclasses.replace(question("091", o, small_world.as_of), key=o) for o in common]
        + [question(place, occupation, small_world.as_of)]
    )
    assert batch[-1] == alone
    assert (len(engine.data.seekers), len(engine.data.vacancies)) == sizes
    assert engine.ranked_ids("shortlist", some_vacancy, 20, small_world.as_of) == shortlist


def test_the_hypothetical_vacancy_is_typical_of_the_occupation(
    small_world: WorldTables, live: SupplyEstimator, place: str, occupation: str, taxonomy: Taxonomy
) -> None:
    template = live.template(question(place, occupation, small_world.as_of))
    required = [s.skill_uri for s in template.skills if s.required]
    assert 0 < len(required) <= 8
    # The skill the occupation's real vacancies require most often is among them.
    ids = small_world.vacancies.loc[
        small_world.vacancies["occupation_uri"].astype(str) == occupation, "vacancy_id"
    ].astype(str)
    skills = small_world.vacancy_skills
    asked = skills[skills["vacancy_id"].astype(str).isin(set(ids)) & skills["required"]]
    assert asked["skill_uri"].astype(str).value_counts().index[0] in required
    country = str(geography_country(live, place))
    assert {"FI": "fi", "SE": "sv"}[country] in {
        language.language for language in template.languages
    }
    assert template.remote_share == 0.0

    # An occupation no vacancy of the world has: the taxonomy's essential skills.
    used = set(small_world.vacancies["occupation_uri"].astype(str))
    unused = next(
        uri
        for uri in taxonomy.occupations["uri"]
        if uri not in used and taxonomy.essential_skills(uri)
    )
    fallback = live.template(question(place, unused, small_world.as_of))
    essential = set(taxonomy.essential_skills(unused))
    assert {s.skill_uri for s in fallback.skills if s.required} <= essential
    assert all(s.min_level == 2 for s in fallback.skills if s.required)


def geography_country(estimator: SupplyEstimator, place: str) -> str:
    municipalities = estimator.vocab.geography.municipalities
    return str(municipalities.loc[municipalities["code"] == place, "country"].iloc[0])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"municipality": "999"}, "municipality"),
        ({"job_form": "volunteering"}, "job_form"),
        ({"target_groups": ("tall",)}, "target_groups"),
        ({"occupation_uri": "http://data.europa.eu/esco/occupation/nope"}, "occupation_uri"),
        ({"openings": 0}, "openings"),
        ({"opens_on": date(2020, 1, 1)}, "opens_on"),
    ],
)
def test_a_bad_question_names_the_field(
    small_world: WorldTables,
    live: SupplyEstimator,
    place: str,
    occupation: str,
    change: dict[str, object],
    field: str,
) -> None:
    bad = dataclasses.replace(question(place, occupation, small_world.as_of), **change)
    with pytest.raises(SupplyQuestionError, match=rf"hypothetical vacancy .*: {field} "):
        live.supply([bad])


def test_a_key_asked_twice_is_refused(
    small_world: WorldTables, live: SupplyEstimator, place: str, occupation: str
) -> None:
    asked = question(place, occupation, small_world.as_of)
    with pytest.raises(SupplyQuestionError, match="key is asked twice"):
        live.supply([asked, asked])


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="min_probability"):
        SupplyConfig(min_probability=1.5)
    with pytest.raises(ValueError, match="lasting_hire_rate"):
        SupplyConfig(lasting_hire_rate=-0.1)


def test_the_engine_row_is_the_row_of_an_opened_vacancy(
    small_world: WorldTables, live: SupplyEstimator, place: str, occupation: str
) -> None:
    """The rows supply() scores equal what the change feed makes of the same vacancy opened
    by an employer (features.matching_data.vacancy_update)."""
    vacancy = question(place, occupation, small_world.as_of, ("long_term_unemployed", "young"))
    template = live.template(vacancy, "SAME")
    conditions = pd.DataFrame(
        {
            "condition_id": [template.condition_id],
            "contract_id": [template.contract_id],
            "target_groups": [list(vacancy.target_groups)],
            "hires_required": [1],
            "deadline": [template.closes_on],
        }
    )
    opened = vacancy_update(template, conditions, pd.Series(dtype="int64"), live.vocab)
    ours = live.engine_row(vacancy, "SAME")
    assert set(ours.values) == set(opened.values)
    for name, value in opened.values.items():
        np.testing.assert_allclose(
            np.asarray(ours.values[name], dtype=np.float64)
            if np.asarray(value).dtype.kind != "M"
            else np.asarray(ours.values[name]).astype("int64"),
            np.asarray(value, dtype=np.float64)
            if np.asarray(value).dtype.kind != "M"
            else np.asarray(value).astype("int64"),
            rtol=1e-6,
            err_msg=name,
        )
    np.testing.assert_array_equal(ours.skill_columns, opened.skill_columns)
    np.testing.assert_allclose(ours.skill_values, opened.skill_values)
    assert len(ours.skill_columns) == len(template.skills)
