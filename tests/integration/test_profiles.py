"""Skill profiles weigh evidence by method, confidence and recency, with taxonomy credit."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from features.profiles import ProfileConfig, build_profiles
from features.taxonomy import Taxonomy

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 1)
MANAGE_MUSICAL_STAFF = "http://data.europa.eu/esco/skill/0005c151-5b5a-4a66-8aac-60e734beb1ab"
LEAD_OTHERS = "http://data.europa.eu/esco/skill/75d8e5d9-bef3-418b-9011-01bff9f27207"


def frames(rows: list[tuple[str, str, str, date, str, int, float]]) -> tuple[pd.DataFrame, ...]:
    """Assessments and observations from (assessment, person, skill, date, method, level, conf)."""
    assessments = pd.DataFrame(
        [(a, p, d, m) for a, p, _, d, m, _, _ in rows],
        columns=["assessment_id", "jobseeker_id", "assessed_on", "method"],
    ).drop_duplicates("assessment_id")
    observations = pd.DataFrame(
        [(a, s, lv, c) for a, _, s, _, _, lv, c in rows],
        columns=["assessment_id", "skill_uri", "level", "confidence"],
    )
    return assessments, observations


def value(taxonomy: Taxonomy, rows: list, person: str = "P1", skill: str = LEAD_OTHERS) -> float:
    profiles = build_profiles(*frames(rows), taxonomy, AS_OF)
    return float(profiles.matrix[profiles.row(person), taxonomy.skill_index(skill)])


def test_work_trial_outweighs_self_report(taxonomy: Taxonomy) -> None:
    trial = value(taxonomy, [("A1", "P1", LEAD_OTHERS, date(2026, 10, 1), "work_trial", 3, 1.0)])
    told = value(taxonomy, [("A1", "P1", LEAD_OTHERS, date(2026, 10, 1), "self_report", 3, 1.0)])
    assert 0 < told < trial <= 0.75


def test_recent_evidence_outweighs_old(taxonomy: Taxonomy) -> None:
    recent = value(taxonomy, [("A1", "P1", LEAD_OTHERS, date(2026, 10, 1), "test", 3, 0.9)])
    old = value(taxonomy, [("A1", "P1", LEAD_OTHERS, date(2024, 10, 1), "test", 3, 0.9)])
    assert old < recent
    # Two years at a one-year half-life: about a quarter of the evidence weight remains.
    assert old == pytest.approx(recent * 0.25, rel=0.05)


def test_more_evidence_is_stronger_and_levels_average(taxonomy: Taxonomy) -> None:
    rows = [
        ("A1", "P1", LEAD_OTHERS, date(2026, 9, 1), "observation", 2, 0.8),
        ("A2", "P1", LEAD_OTHERS, date(2026, 10, 1), "observation", 4, 0.8),
    ]
    profiles = build_profiles(*frames(rows), taxonomy, AS_OF)
    evidence = profiles.evidence.set_index("skill_uri").loc[LEAD_OTHERS]
    single = build_profiles(*frames(rows[:1]), taxonomy, AS_OF).evidence.iloc[0]
    assert evidence["observations"] == 2
    assert evidence["strength"] > single["strength"]
    assert 2 < evidence["level"] < 4
    assert evidence["best_method"] == "observation"


def test_future_assessments_are_ignored(taxonomy: Taxonomy) -> None:
    rows = [("A1", "P1", LEAD_OTHERS, date(2027, 1, 1), "work_trial", 4, 1.0)]
    assert value(taxonomy, rows) == 0.0


def test_broader_skill_gets_partial_credit(taxonomy: Taxonomy) -> None:
    rows = [("A1", "P1", MANAGE_MUSICAL_STAFF, date(2026, 10, 1), "work_trial", 4, 1.0)]
    config = ProfileConfig(broader_credit=0.5)
    profiles = build_profiles(*frames(rows), taxonomy, AS_OF, config=config)
    direct = profiles.matrix[0, taxonomy.skill_index(MANAGE_MUSICAL_STAFF)]
    broader = profiles.matrix[0, taxonomy.skill_index(LEAD_OTHERS)]
    assert broader == pytest.approx(0.5 * direct, rel=1e-5)
    assert profiles.direct[0, taxonomy.skill_index(LEAD_OTHERS)] == 0
    none = build_profiles(*frames(rows), taxonomy, AS_OF, config=ProfileConfig(broader_credit=0.0))
    assert none.matrix[0, taxonomy.skill_index(LEAD_OTHERS)] == 0


def test_people_without_evidence_get_empty_rows(taxonomy: Taxonomy) -> None:
    rows = [("A1", "P1", LEAD_OTHERS, date(2026, 10, 1), "test", 2, 1.0)]
    profiles = build_profiles(*frames(rows), taxonomy, AS_OF, jobseeker_ids=["P0", "P1"])
    assert profiles.matrix[profiles.row("P0")].nnz == 0
    assert profiles.matrix[profiles.row("P1")].nnz >= 1
    with pytest.raises(KeyError, match=r"jobseeker_id 'P9' has no profile"):
        profiles.row("P9")


def test_unknown_skill_is_named(taxonomy: Taxonomy) -> None:
    unknown = LEAD_OTHERS[:-4] + "0000"
    rows = [("A1", "P1", unknown, date(2026, 10, 1), "test", 2, 1.0)]
    with pytest.raises(KeyError, match=r"skill_uri .*0000' is not an ESCO skill"):
        build_profiles(*frames(rows), taxonomy, AS_OF)


def test_config_rejects_missing_method_weight() -> None:
    with pytest.raises(ValueError, match=r"method_weights: no weight for \['self_report'\]"):
        ProfileConfig(
            method_weights={"work_trial": 1, "observation": 1, "test": 1, "certificate": 1}
        )
