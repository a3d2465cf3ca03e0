"""The generated history respects live state, as :mod:`features.live_state` derives it.

Nobody is shown or proposed while in a job, no vacancy while closed or filled, nobody holds
two jobs, jobs end when the hidden model says, coaching stops during a job, and coaches'
searches are logged beside the shortlists.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.live_state import employments, seeker_status, vacancy_hires, vacancy_open
from features.world_store import WorldTables, load_world
from matching.domain import OutcomeStage
from training.synthetic import WorldConfig, generate_world
from training.synthetic.history import SHORT_JOB_DAYS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> WorldTables:
    out = tmp_path_factory.mktemp("live_state_world")
    generate_world(WorldConfig(seekers=3000, vacancies=1000, seed=5), out)
    return load_world(out)


def _days(values: pd.Series) -> np.ndarray:
    return values.dt.tz_localize(None).to_numpy("datetime64[D]")


def _events(world: WorldTables, stage: OutcomeStage) -> pd.DataFrame:
    return world.outcomes[world.outcomes["stage"] == stage.value]


def _status(world: WorldTables, people: pd.Series, days: np.ndarray) -> object:
    history = employments(world.outcomes, world.jobseekers)
    start = world.jobseekers.set_index("jobseeker_id")["unemployment_start"]
    return seeker_status(
        people.to_numpy(object), start.loc[people].to_numpy("datetime64[D]"), history, days
    )


def test_every_exposure_shows_an_available_person_and_an_open_unfilled_vacancy(
    world: WorldTables,
) -> None:
    exposures = world.exposures
    assert len(exposures) > 1000
    day = _days(exposures["shown_at"])
    status = _status(world, exposures["jobseeker_id"], day)
    assert status.available.all()  # type: ignore[attr-defined]
    vacancies = world.vacancies.set_index("vacancy_id").loc[exposures["vacancy_id"]]
    hires = vacancy_hires(world.outcomes, exposures["vacancy_id"].to_numpy(object), day)
    assert (hires < vacancies["openings"].to_numpy()).all()
    is_open = vacancy_open(
        vacancies["opens_on"].to_numpy("datetime64[D]"),
        vacancies["closes_on"].to_numpy("datetime64[D]"),
        vacancies["openings"].to_numpy(),
        hires,
        day,
    )
    assert is_open.all()


def test_every_proposal_is_of_an_available_person_to_an_unfilled_vacancy(
    world: WorldTables,
) -> None:
    proposed = _events(world, OutcomeStage.PROPOSED)
    day = _days(proposed["occurred_at"])
    assert _status(world, proposed["jobseeker_id"], day).available.all()  # type: ignore[attr-defined]
    vacancies = world.vacancies.set_index("vacancy_id").loc[proposed["vacancy_id"]]
    hires = vacancy_hires(world.outcomes, proposed["vacancy_id"].to_numpy(object), day)
    is_open = vacancy_open(
        vacancies["opens_on"].to_numpy("datetime64[D]"),
        vacancies["closes_on"].to_numpy("datetime64[D]"),
        vacancies["openings"].to_numpy(),
        hires,
        day,
    )
    assert is_open.all()
    # A pair is proposed once, after it was shown.
    assert not proposed.duplicated(["jobseeker_id", "vacancy_id"]).any()
    first_shown = world.exposures.groupby(["jobseeker_id", "vacancy_id"])["shown_at"].min()
    shown_at = first_shown.loc[
        list(zip(proposed["jobseeker_id"], proposed["vacancy_id"], strict=True))
    ]
    assert (proposed["occurred_at"].to_numpy() > shown_at.to_numpy()).all()


def test_a_person_holds_one_job_at_a_time_and_jobs_end_as_retention_says(
    world: WorldTables,
) -> None:
    hired = _events(world, OutcomeStage.HIRED)
    assert len(hired) > 20
    hires = hired.groupby("vacancy_id").size()
    openings = world.vacancies.set_index("vacancy_id")["openings"]
    assert (hires.to_numpy() <= openings.loc[hires.index].to_numpy()).all()
    # Hired on a day they were not in another job (live_state ends a job at the next hire,
    # so check against the jobs' recorded ends).
    ended = _events(world, OutcomeStage.EMPLOYMENT_ENDED)
    jobs = hired[["jobseeker_id", "vacancy_id", "occurred_at"]].merge(
        ended[["jobseeker_id", "vacancy_id", "occurred_at"]],
        on=["jobseeker_id", "vacancy_id"],
        how="left",
        suffixes=("_hired", "_ended"),
    )
    jobs = jobs.sort_values(["jobseeker_id", "occurred_at_hired"])
    as_of = pd.Timestamp(world.as_of, tz="UTC")
    end = jobs["occurred_at_ended"].fillna(as_of + pd.Timedelta(days=1))
    previous_end = end.groupby(jobs["jobseeker_id"]).shift()
    later = previous_end.notna()
    assert (
        jobs.loc[later, "occurred_at_hired"].dt.floor("D") >= previous_end[later].dt.floor("D")
    ).all()

    # Ends: not retained 6 months -> within 182 days; retained 6 but not 12 -> day 184-364.
    retained = set(
        zip(
            *_events(world, OutcomeStage.RETAINED_6M)[["jobseeker_id", "vacancy_id"]].T.values,
            strict=True,
        )
    )
    retained_12m = _events(world, OutcomeStage.RETAINED_12M)
    finished = jobs.dropna(subset=["occurred_at_ended"])
    assert len(finished) > 0
    length = (
        finished["occurred_at_ended"].dt.floor("D") - finished["occurred_at_hired"].dt.floor("D")
    ).dt.days
    kept = np.array(
        [
            pair in retained
            for pair in zip(finished["jobseeker_id"], finished["vacancy_id"], strict=True)
        ]
    )
    assert length[~kept].between(SHORT_JOB_DAYS[0], SHORT_JOB_DAYS[1]).all()
    assert length[kept].between(184, 364).all()
    twelve = pd.MultiIndex.from_frame(retained_12m[["jobseeker_id", "vacancy_id"]])
    assert not pd.MultiIndex.from_frame(finished[["jobseeker_id", "vacancy_id"]]).isin(twelve).any()


def test_people_are_shown_again_after_a_job_ends(world: WorldTables) -> None:
    ended = _events(world, OutcomeStage.EMPLOYMENT_ENDED)
    after = world.exposures.merge(
        ended[["jobseeker_id", "occurred_at"]].rename(columns={"occurred_at": "ended_at"}),
        on="jobseeker_id",
    )
    assert (after["shown_at"].dt.floor("D") >= after["ended_at"].dt.floor("D")).any()
    # The spell after a job starts on the day it ended.
    row = after[after["shown_at"].dt.floor("D") >= after["ended_at"].dt.floor("D")].iloc[0]
    status = _status(
        world,
        pd.Series([row["jobseeker_id"]]),
        np.array([row["shown_at"].tz_localize(None)], "datetime64[D]"),
    )
    assert status.spell_start[0] >= np.datetime64(row["ended_at"].date(), "D")  # type: ignore[attr-defined]


def test_offers_to_people_in_another_job_end_as_their_withdrawal(world: WorldTables) -> None:
    declined = _events(world, OutcomeStage.DECLINED_BY_JOBSEEKER)
    not_interested = declined[declined["reason"] == "not_interested"]
    status = _status(world, not_interested["jobseeker_id"], _days(not_interested["occurred_at"]))
    # Some withdrew because they had started another job (others were simply not interested).
    assert status.employed.any()  # type: ignore[attr-defined]
    employed = _status(world, declined["jobseeker_id"], _days(declined["occurred_at"]))
    assert set(declined.loc[employed.employed, "reason"]) == {"not_interested"}  # type: ignore[attr-defined]


def test_coaching_stops_during_a_job(world: WorldTables) -> None:
    assessments = world.assessments
    status = _status(
        world, assessments["jobseeker_id"], assessments["assessed_on"].to_numpy("datetime64[D]")
    )
    assert not status.employed.any()  # type: ignore[attr-defined]
    assert set(world.skill_observations["assessment_id"]) <= set(assessments["assessment_id"])
    assert set(world.working_life_observations["assessment_id"]) <= set(
        assessments["assessment_id"]
    )


def test_unemployment_start_is_the_first_spell(world: WorldTables) -> None:
    first_shown = world.exposures.groupby("jobseeker_id")["shown_at"].min().dt.tz_localize(None)
    start = world.jobseekers.set_index("jobseeker_id")["unemployment_start"]
    assert (start.loc[first_shown.index] <= first_shown.dt.floor("D")).all()


def test_coach_searches_are_logged_as_ranked_exposures(world: WorldTables) -> None:
    exposures = world.exposures
    assert set(exposures["query_kind"]) == {"vacancy_shortlist", "jobseeker_matches"}
    searches = exposures[exposures["query_kind"] == "jobseeker_matches"]
    shortlists = exposures[exposures["query_kind"] == "vacancy_shortlist"]
    # Of the same order as the shortlists.
    assert 0.3 < len(searches) / len(shortlists) < 5
    assert searches["query_id"].str.fullmatch(r"CS\d{9}").all()
    assert (shortlists["query_id"] == shortlists["vacancy_id"]).all()
    assert searches["propensity"].gt(0).all() and searches["propensity"].le(1).all()
    assert set(exposures["policy"]) == {"coach_rules"}
    groups = searches.groupby("query_id")
    assert (groups["jobseeker_id"].nunique() == 1).all()
    assert (groups["shown_at"].nunique() == 1).all()
    config = WorldConfig(seekers=1, vacancies=1)
    assert (groups.size() <= config.search_shown_max).all()
    assert groups.size().max() >= config.search_shown_min
    for _, group in list(groups)[:500]:
        assert sorted(group["position"]) == list(range(1, len(group) + 1))
    assert not searches.duplicated(["query_id", "vacancy_id"]).any()
    # A search lists what is new for the person.
    assert not searches.duplicated(["jobseeker_id", "vacancy_id"]).any()
    # Searches look near and in the person's occupations: mostly the person's own area.
    proposed = _events(world, OutcomeStage.PROPOSED)
    from_search = proposed.merge(searches, on=["jobseeker_id", "vacancy_id"])
    assert len(from_search) > 0
    assert (from_search["occurred_at"] > from_search["shown_at"]).all()
