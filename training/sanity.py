"""Sanity suites: cases any ranking must get right, in both directions, rules or model.

Each case takes an open vacancy of the world and adds a person built to fit it — holding
every required skill at the required level (a work trial last week, a level above the
minimum where the scale allows), looking for work in the
vacancy's occupation, living in the vacancy's municipality, eligible for its employment
condition, speaking its languages, with a driving licence and no work-ability restriction —
through the same row updates the service applies. Then:

``perfect_in_shortlist``
    the person is in the vacancy's top 3 — or everybody ranked above is as perfect a match
    (every required skill observed at the level, within the commute radius);
``perfect_in_matches``
    the vacancy is in the person's top 3 — or every vacancy above is as perfect a match;
``hired_nowhere``
    once a hire of the person elsewhere is recorded, the person is in no list;
``filled_nowhere``
    once the vacancy has as many hires as openings, it is in nobody's list and its shortlist
    is empty;
``closed_nowhere``
    once the vacancy's closing day has passed, it is in nobody's list.

The engine is left as it was: the person is taken out and the vacancy restored after each
case. :func:`run_sanity` counts passes per check; the gate asks for all of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from features.matching_data import Vocabularies, seeker_update, vacancy_update
from features.schema import FEATURE_INDEX
from features.world_store import SCHEMAS, WorldTables, vacancy_from_rows
from matching.domain import (
    CEFRLevel,
    JobForm,
    JobPreferences,
    Jobseeker,
    LanguageSkill,
    Sex,
    TargetGroup,
    WorkCapacity,
    WorkRestriction,
)
from matching.engine import MatchingEngine
from matching.entities import LANGUAGES, RowUpdate
from matching.scoring import RankingModel, Scorer

CHECKS = (
    "perfect_in_shortlist",
    "perfect_in_matches",
    "hired_nowhere",
    "filled_nowhere",
    "closed_nowhere",
)
TOP = 3


@dataclass
class SanityResult:
    """Passed and run cases per check, and what failed."""

    passed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKS, 0))
    run: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKS, 0))
    failures: list[str] = field(default_factory=list)

    @property
    def all_passed(self) -> bool:
        return sum(self.run.values()) > 0 and self.passed == self.run

    def record(self, check: str, ok: bool, detail: str) -> None:
        self.run[check] += 1
        self.passed[check] += int(ok)
        if not ok:
            self.failures.append(f"{check}: {detail}")

    def summary(self) -> str:
        return ", ".join(f"{c} {self.passed[c]}/{self.run[c]}" for c in CHECKS)


def _frame(rows: list[dict[str, object]], table: str) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(SCHEMAS[table].names))


def _perfect_person(
    person_id: str,
    world: WorldTables,
    vacancy_row: pd.Series,
    groups: frozenset[TargetGroup],
    on: date,
) -> Jobseeker:
    """Somebody who fits ``vacancy_row`` in every way the engine can see."""
    birth_year = on.year - 40
    migrant = False
    restrictions: frozenset[WorkRestriction] = frozenset()
    # Unemployed for a while (registered and 3 months); long-term only where nothing else
    # makes the person count toward the condition: a long spell lowers the chances in some
    # labour markets, and a perfect candidate should not carry a handicap it need not.
    spell_days = 120
    if groups and not groups & {TargetGroup.REGISTERED_UNEMPLOYED, TargetGroup.UNEMPLOYED_3M}:
        if TargetGroup.YOUNG in groups:
            birth_year = on.year - 22
        elif TargetGroup.OLDER in groups:
            birth_year = on.year - 58
        elif TargetGroup.MIGRANT_BACKGROUND in groups:
            migrant = True
        elif TargetGroup.PARTIAL_WORK_CAPACITY in groups:
            # Partial work capacity that no job of the world conflicts with.
            restrictions = frozenset({WorkRestriction.NO_OUTDOOR_WORK})
        else:
            spell_days = 400
    unemployed = on - timedelta(days=spell_days)
    languages = tuple(
        LanguageSkill(str(item["language"]), CEFRLevel.NATIVE)
        for item in (vacancy_row["languages"] if vacancy_row["languages"] is not None else [])
        if str(item["language"]) in LANGUAGES
    )
    coach = world.jobseekers.iloc[0]  # any coach of the world will do
    return Jobseeker(
        jobseeker_id=person_id,
        home_municipality=str(vacancy_row["municipality"]),
        birth_year=birth_year,
        sex=Sex.UNKNOWN,
        coach_id=str(coach["coach_id"]),
        organisation_id=str(coach["organisation_id"]),
        languages=languages,
        driving_licence=True,
        unemployment_start=unemployed,
        migrant_background=migrant,
        work_capacity=WorkCapacity(None, restrictions),
        # Looking for exactly this kind of work.
        preferences=JobPreferences(
            occupations=(str(vacancy_row["occupation_uri"]),),
            max_commute_km=30.0,
            accepted_job_forms=frozenset(JobForm),
        ),
    )


def _as_perfect(features: np.ndarray) -> np.ndarray:
    """Rows that are perfect matches too (a tie a top 3 may lose to)."""
    return (
        (features[:, FEATURE_INDEX["assessed_coverage"]] >= 1.0)
        & (features[:, FEATURE_INDEX["within_commute"]] > 0)
        & (features[:, FEATURE_INDEX["language_gap"]] <= 0)
        & (features[:, FEATURE_INDEX["driving_licence_missing"]] <= 0)
    )


def run_sanity(
    engine: MatchingEngine,
    world: WorldTables,
    vocab: Vocabularies,
    model: Scorer | RankingModel | None = None,
    *,
    cases: int = 20,
    on: date | None = None,
    seed: int = 0,
) -> SanityResult:
    """Run ``cases`` cases of every check with ``model`` (the engine's own when None)."""
    day = on or world.as_of
    result = SanityResult()
    data = engine.data
    rng = np.random.default_rng(seed)
    everyone = np.arange(len(data.vacancies), dtype=np.int64)
    open_rows = everyone[engine._open(everyone, day)]
    vacancies = world.vacancies.set_index(world.vacancies["vacancy_id"].astype(str))
    skills = world.vacancy_skills.assign(vacancy_id=world.vacancy_skills["vacancy_id"].astype(str))
    required = skills[skills["required"].astype(bool)]
    with_skills = set(required["vacancy_id"])
    # Opened before the day, so that it can also be closed "yesterday".
    opened_before = data.vacancies["opens_on"] < np.datetime64(day, "D")
    candidates = [
        data.vacancies.ids[v]
        for v in open_rows.tolist()
        if opened_before[v]
        and data.vacancies.ids[v] in with_skills
        and data.vacancies.ids[v] in vacancies.index
    ]
    if not candidates:
        return result
    chosen = rng.choice(np.asarray(candidates, dtype=object), min(cases, len(candidates)), False)
    conditions = world.employment_conditions.set_index(
        world.employment_conditions["condition_id"].astype(str)
    )
    serving = engine.scorer
    if model is not None:
        engine.set_scorer(model)
    try:
        for number, vacancy_id in enumerate(chosen.tolist()):
            _one_case(
                engine,
                world,
                vocab,
                str(vacancy_id),
                _row(vacancies, str(vacancy_id)),
                skills[skills["vacancy_id"] == vacancy_id],
                conditions,
                day,
                f"SANITY{seed:03d}{number:04d}",
                result,
            )
    finally:
        engine.set_scorer(serving)
    return result


def _row(frame: pd.DataFrame, label: str) -> pd.Series:
    """One row by its index label."""
    row = frame.loc[label]
    if not isinstance(row, pd.Series):  # a repeated label: the first row
        row = row.iloc[0]
    return row


def _one_case(
    engine: MatchingEngine,
    world: WorldTables,
    vocab: Vocabularies,
    vacancy_id: str,
    vacancy_row: pd.Series,
    skill_rows: pd.DataFrame,
    conditions: pd.DataFrame,
    day: date,
    person_id: str,
    result: SanityResult,
) -> None:
    data = engine.data
    condition_id = vacancy_row["condition_id"]
    groups: frozenset[TargetGroup] = frozenset()
    if isinstance(condition_id, str) and condition_id in conditions.index:
        listed = conditions.at[condition_id, "target_groups"]
        groups = frozenset(TargetGroup(str(g)) for g in np.asarray(listed, dtype=object))
    person = _perfect_person(person_id, world, vacancy_row, groups, day)
    assessment_id = f"{person_id}-A"
    assessed_on = day - timedelta(days=7)
    assessments = _frame(
        [
            {
                "assessment_id": assessment_id,
                "jobseeker_id": person_id,
                "coach_id": person.coach_id,
                "assessed_on": assessed_on,
                "method": "work_trial",
                "note": "",
            }
        ],
        "assessments",
    )
    required = skill_rows[skill_rows["required"].astype(bool)]
    observations = _frame(
        [
            {
                "assessment_id": assessment_id,
                "jobseeker_id": person_id,
                "skill_uri": str(row.skill_uri),
                # One level above the minimum where the scale allows: recorded levels can be
                # a level off, and a skill just at the minimum may truly be below it.
                "level": min(max(int(str(row.min_level)), 1) + 1, 4),
                "confidence": 0.95,
            }
            for row in required.itertuples()
        ],
        "skill_observations",
    )
    engine.upsert_seeker(seeker_update(person, assessments, observations, vocab, day))
    vacancy_row_index = data.vacancies.row_of[vacancy_id]
    original = _vacancy_state(engine, world, vocab, vacancy_id, vacancy_row, conditions)
    try:
        # The perfect candidate in the vacancy's shortlist.
        shortlist = engine.shortlist_for_vacancy(
            vacancy_id, k=TOP, on=day, record_exposure=False, with_factors=False
        )
        ids = [m.jobseeker_id for m in shortlist.results]
        ok = person_id in ids
        if not ok:
            rows = np.array([data.seekers.row_of[i] for i in ids], np.int64)
            above = engine.featurizer(data, rows, np.full(len(rows), vacancy_row_index), day)
            ok = len(rows) == TOP and bool(_as_perfect(above).all())
        result.record("perfect_in_shortlist", ok, f"{vacancy_id}: top {TOP} {ids}")

        matches = engine.matches_for_jobseeker(person_id, k=TOP, on=day, with_factors=False)
        found = [m.vacancy_id for m in matches.results]
        ok = vacancy_id in found
        if not ok:
            rows = np.array([data.vacancies.row_of[i] for i in found], np.int64)
            seeker = data.seekers.row_of[person_id]
            above = engine.featurizer(data, np.full(len(rows), seeker), rows, day)
            ok = len(rows) == TOP and bool(_as_perfect(above).all())
        result.record("perfect_in_matches", ok, f"{vacancy_id}: top {TOP} {found}")

        # Hired elsewhere: out of every list.
        elsewhere = next(v for v in data.vacancies.ids if v != vacancy_id)
        hire = pd.DataFrame(
            {
                "event_id": [f"{person_id}-H"],
                "jobseeker_id": [person_id],
                "vacancy_id": [elsewhere],
                "stage": ["hired"],
                "reason": [None],
                "occurred_at": [datetime.combine(day, datetime.min.time(), tzinfo=UTC)],
            }
        )
        engine.upsert_seeker(
            seeker_update(person, assessments, observations, vocab, day, outcomes=hire)
        )
        # Every candidate the engine would list at any length (scored, not explained).
        listed = person_id in engine.exhaustive_shortlist(vacancy_id, len(data.seekers), day)
        result.record("hired_nowhere", not listed, f"{person_id} still in {vacancy_id}'s list")
        engine.upsert_seeker(seeker_update(person, assessments, observations, vocab, day))

        # Filled: in nobody's list.
        openings = int(vacancy_row["openings"])
        engine.upsert_vacancy(original(openings))
        listed = vacancy_id in engine.exhaustive_matches(person_id, len(data.vacancies), day)
        empty = engine.shortlist_for_vacancy(
            vacancy_id, k=TOP, on=day, record_exposure=False, with_factors=False
        )
        ok = not listed and not empty.results
        result.record("filled_nowhere", ok, f"filled {vacancy_id} still listed")

        # Closed yesterday: in nobody's list.
        engine.upsert_vacancy(original(None, closes_on=day - timedelta(days=1)))
        listed = vacancy_id in engine.exhaustive_matches(person_id, len(data.vacancies), day)
        result.record("closed_nowhere", not listed, f"closed {vacancy_id} still listed")
    finally:
        engine.upsert_vacancy(original(None))
        engine.deactivate_seeker(person_id)


def _vacancy_state(
    engine: MatchingEngine,
    world: WorldTables,
    vocab: Vocabularies,
    vacancy_id: str,
    vacancy_row: pd.Series,
    conditions: pd.DataFrame,
) -> Callable[..., RowUpdate]:
    """A function giving the vacancy's row update with other hires or closing day."""
    data = engine.data
    row = data.vacancies.row_of[vacancy_id]
    hires_now = int(data.vacancies["hires"][row])
    record = {"vacancy_id": vacancy_id, **{str(k): v for k, v in vacancy_row.items()}}
    skills = world.vacancy_skills[world.vacancy_skills["vacancy_id"].astype(str) == vacancy_id]
    vacancy = vacancy_from_rows(record, skills)
    condition_id = vacancy_row["condition_id"]
    frame = (
        conditions.loc[[condition_id]].reset_index(drop=True)
        if isinstance(condition_id, str) and condition_id in conditions.index
        else world.employment_conditions.iloc[0:0]
    )
    owed = float(data.vacancies["hires_owed"][row])
    required = float(frame["hires_required"].iloc[0]) if len(frame) else 0.0
    made = pd.Series(
        {condition_id: max(required - owed, 0.0)} if len(frame) else {}, dtype="float64"
    )

    def update(hires: int | None, closes_on: date | None = None) -> RowUpdate:
        changed = (
            vacancy if closes_on is None else dataclasses.replace(vacancy, closes_on=closes_on)
        )
        return vacancy_update(changed, frame, made, vocab, hires_now if hires is None else hires)

    return update


def sanity_table(results: Mapping[str, SanityResult]) -> pd.DataFrame:
    """Passed / run per check and model."""
    rows = [
        {"model": name, "check": check, "passed": r.passed[check], "run": r.run[check]}
        for name, r in results.items()
        for check in CHECKS
    ]
    return pd.DataFrame(rows)
