"""Point-in-time training rows: nothing dated after an exposure reaches its features."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from features.geography import Geography
from features.matching_data import build_matching_data
from features.pair_features import pair_features
from features.replay import replay_matching_data
from features.schema import FEATURE_INDEX
from features.taxonomy import Taxonomy
from features.world_store import WorldTables
from training.dataset import DatasetConfig, build_direction_data, exposure_labels


def _rows(
    world: WorldTables, taxonomy: Taxonomy, geography: Geography, pairs: pd.DataFrame
) -> np.ndarray:
    base = build_matching_data(world, taxonomy, geography)
    replay = replay_matching_data(
        world,
        base,
        taxonomy,
        pairs["jobseeker_id"].to_numpy(object),
        pairs["vacancy_id"].to_numpy(object),
        pairs["day"].to_numpy("datetime64[D]"),
    )
    return pair_features(
        replay.data, replay.seeker_rows, replay.vacancy_rows, pairs["day"].to_numpy("datetime64[D]")
    )


def _exposure_with_required_skill(world: WorldTables) -> pd.Series:
    """A proposed exposure whose person has no assessment on the day it was shown."""
    exposures = world.exposures.assign(
        day=pd.to_datetime(world.exposures["shown_at"], utc=True)
        .dt.tz_localize(None)
        .dt.normalize()
    )
    first = (
        world.assessments.assign(on=pd.to_datetime(world.assessments["assessed_on"]))
        .groupby("jobseeker_id", observed=True)["on"]
        .min()
    )
    later = exposures["day"] < exposures["jobseeker_id"].astype(str).map(first)
    candidates = exposures[later]
    assert len(candidates), "the world has no exposure shown before the person's first assessment"
    return candidates.iloc[0]


def _with_assessment(
    world: WorldTables, person: str, day: pd.Timestamp, skills: list[str], suffix: str
) -> WorldTables:
    """The world plus a work trial of ``person`` on ``day`` observing ``skills`` at level 4."""
    assessment_id = f"LEAK{suffix}"
    assessments = pd.concat(
        [
            world.assessments.astype(object),
            pd.DataFrame(
                [
                    {
                        "assessment_id": assessment_id,
                        "jobseeker_id": person,
                        "coach_id": world.assessments["coach_id"].iloc[0],
                        "assessed_on": day,
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


def _with_hire(world: WorldTables, person: str, vacancy: str, day: pd.Timestamp) -> WorldTables:
    extra = pd.DataFrame(
        [
            {
                "event_id": "LEAK-HIRE",
                "jobseeker_id": person,
                "vacancy_id": vacancy,
                "stage": "hired",
                "reason": None,
                "occurred_at": day.tz_localize("UTC") + pd.Timedelta(hours=10),
            }
        ]
    )
    outcomes = pd.concat([world.outcomes.astype(object), extra], ignore_index=True)
    outcomes["occurred_at"] = pd.to_datetime(outcomes["occurred_at"], utc=True)
    return dataclasses.replace(world, outcomes=outcomes)


def test_what_happens_after_an_exposure_does_not_change_its_rows(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    exposure = _exposure_with_required_skill(small_world)
    person, vacancy, day = (
        str(exposure["jobseeker_id"]),
        str(exposure["vacancy_id"]),
        exposure["day"],
    )
    skills = (
        small_world.vacancy_skills[small_world.vacancy_skills["vacancy_id"] == vacancy]["skill_uri"]
        .astype(str)
        .tolist()
    )
    pairs = pd.DataFrame({"jobseeker_id": [person], "vacancy_id": [vacancy], "day": [day]})
    before = _rows(small_world, taxonomy, geography, pairs)

    # Strong evidence of every skill the vacancy asks for, and a hire there, both after the day.
    after = _with_assessment(small_world, person, day + timedelta(days=1), skills, "A")
    after = _with_hire(after, person, vacancy, day + timedelta(days=3))
    np.testing.assert_array_equal(_rows(after, taxonomy, geography, pairs), before)

    # The same assessment on the day itself is known that day: the test can fail.
    known = _with_assessment(small_world, person, day, skills, "B")
    changed = _rows(known, taxonomy, geography, pairs)
    assert (
        changed[0, FEATURE_INDEX["assessed_coverage"]]
        > before[0, FEATURE_INDEX["assessed_coverage"]]
    )


def test_training_set_rows_ignore_the_future(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    """The whole training set: moving a person's assessments past their exposures changes no
    row of those exposures."""
    base = build_matching_data(small_world, taxonomy, geography)
    config = DatasetConfig(unshown_per_query=0)
    data = build_direction_data(small_world, base, taxonomy, config)
    train = data["shortlist"].train
    assert len(train) > 0
    # A person whose proposals all precede some of their assessments.
    rows = pd.DataFrame(
        {
            "person": train.jobseeker_ids,
            "day": pd.to_datetime(train.shown_on),
            "row": np.arange(len(train)),
        }
    )
    last_shown = rows.groupby("person")["day"].max()
    assessed = small_world.assessments.assign(
        on=pd.to_datetime(small_world.assessments["assessed_on"])
    )
    assessed = assessed[assessed["jobseeker_id"].astype(str).isin(last_shown.index)]
    future = assessed[assessed["on"] > assessed["jobseeker_id"].astype(str).map(last_shown)]
    if future.empty:
        pytest.fail("no assessment after a person's last training exposure in the small world")
    person = str(future["jobseeker_id"].iloc[0])
    # Move every later assessment of that person a year further into the future.
    moved = small_world.assessments.copy()
    mask = (moved["jobseeker_id"].astype(str) == person) & (
        pd.to_datetime(moved["assessed_on"]) > last_shown[person]
    )
    moved.loc[mask, "assessed_on"] = pd.to_datetime(moved.loc[mask, "assessed_on"]) + pd.Timedelta(
        days=365
    )
    shifted = dataclasses.replace(small_world, assessments=moved)
    again = build_direction_data(shifted, base, taxonomy, config)["shortlist"].train
    mine = train.jobseeker_ids == person
    mine_again = again.jobseeker_ids == person
    np.testing.assert_array_equal(again.features[mine_again], train.features[mine])


def test_an_outcome_of_an_unknown_vacancy_labels_no_exposure(
    small_world: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    """Pairs are keyed person × vacancy: an unknown vacancy must not alias the key of the
    previous person's last vacancy."""
    base = build_matching_data(small_world, taxonomy, geography)
    before = exposure_labels(small_world, base, small_world.as_of)
    last = len(base.vacancies.ids) - 1
    shown_last = before[(before["v"] == last) & (before["s"] < len(base.seekers.ids) - 1)]
    if shown_last.empty:
        pytest.fail("the small world shows its last vacancy to nobody but its last person")
    exposure = shown_last.iloc[0]
    next_person = str(base.seekers.ids[int(exposure["s"]) + 1])
    day = pd.Timestamp(exposure["shown_on"])
    after = exposure_labels(
        _with_hire(small_world, next_person, "V-NOT-IN-THE-WORLD", day + timedelta(days=1)),
        base,
        small_world.as_of,
    )
    pd.testing.assert_frame_equal(after, before)
