"""The synthetic world generator on a tiny world: determinism, schema, references, funnel."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from features.geography import Geography
from features.taxonomy import Taxonomy
from features.world_store import (
    COLUMNS,
    MANIFEST_FILE,
    SCHEMAS,
    TABLES,
    TRUTH_TRUE_SKILLS,
    WorldTables,
    load_true_skills,
    load_world,
)
from matching.domain import OutcomeStage
from training.synthetic import STEPS, HiddenModel, WorldConfig, generate_world
from training.synthetic._common import sha256_of
from training.synthetic.catalog import CPV_OCCUPATIONS

pytestmark = pytest.mark.integration

SEEKERS, VACANCIES, SEED = 400, 150, 11
# Tables whose first column is a parent's id, repeated per detail row.
_DETAIL_TABLES = {"skill_observations", "working_life_observations", "vacancy_skills"}


@pytest.fixture(scope="module")
def world_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same tiny world twice and once with another seed."""
    dirs = {}
    for name, seed in (("a", SEED), ("b", SEED), ("other", SEED + 1)):
        out = tmp_path_factory.mktemp(f"world_{name}")
        generate_world(WorldConfig(seekers=SEEKERS, vacancies=VACANCIES, seed=seed), out)
        dirs[name] = out
    return dirs


@pytest.fixture(scope="module")
def world(world_dirs: dict[str, Path]) -> WorldTables:
    return load_world(world_dirs["a"])


@pytest.fixture(scope="module")
def truth(world_dirs: dict[str, Path]) -> pd.DataFrame:
    return load_true_skills(world_dirs["a"])


# ---- determinism -------------------------------------------------------------------------


def test_same_seed_gives_identical_tables(world_dirs: dict[str, Path]) -> None:
    first, second = load_world(world_dirs["a"]), load_world(world_dirs["b"])
    for name in TABLES:
        pd.testing.assert_frame_equal(first.table(name), second.table(name), obj=name)
    hashes = [
        {
            f["path"]: f["sha256"]
            for f in json.loads((world_dirs[k] / MANIFEST_FILE).read_text())["files"]
        }
        for k in ("a", "b")
    ]
    assert hashes[0] == hashes[1]


def test_different_seed_gives_different_world(world_dirs: dict[str, Path]) -> None:
    first, other = load_world(world_dirs["a"]), load_world(world_dirs["other"])
    assert not first.jobseekers["home_municipality"].equals(other.jobseekers["home_municipality"])
    assert not first.vacancies["occupation_uri"].equals(other.vacancies["occupation_uri"])


# ---- files, schema, manifest -------------------------------------------------------------


def test_every_table_has_the_documented_columns_and_types(world_dirs: dict[str, Path]) -> None:
    for name in TABLES:
        schema = pq.read_schema(world_dirs["a"] / f"{name}.parquet")
        assert tuple(schema.names) == COLUMNS[name], name
        assert [f.type for f in schema] == [f.type for f in SCHEMAS[name]], name
    assert (world_dirs["a"] / TRUTH_TRUE_SKILLS).is_file()


def test_manifest_lists_every_file_with_its_hash(world_dirs: dict[str, Path]) -> None:
    root = world_dirs["a"]
    manifest = json.loads((root / MANIFEST_FILE).read_text())
    assert manifest["as_of"] == "2026-11-01"
    assert manifest["config"]["seekers"] == SEEKERS
    listed = {f["path"] for f in manifest["files"]}
    assert {f"{name}.parquet" for name in TABLES} | {TRUTH_TRUE_SKILLS} <= listed
    assert {"hidden_model.json", "HIDDEN_MODEL.md"} <= listed
    for entry in manifest["files"]:
        assert sha256_of(root / entry["path"]) == entry["sha256"], entry["path"]
    assert manifest["counts"]["jobseekers"] == SEEKERS
    assert manifest["counts"]["vacancies"] == VACANCIES
    assert not list(root.rglob("*.tmp"))


def test_load_world_names_the_folder_without_manifest(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"world\.json not found"):
        load_world(tmp_path)


def test_on_step_reports_every_step_in_order(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    summary = generate_world(
        WorldConfig(seekers=50, vacancies=20, seed=3),
        tmp_path,
        on_step=lambda name, i, n: calls.append((name, i, n)),
    )
    assert calls == [(name, i, len(STEPS)) for i, name in enumerate(STEPS)]
    assert summary.rows["jobseekers"] == 50
    assert summary.wall_seconds > 0
    assert set(summary.step_seconds) == set(STEPS)


@pytest.mark.parametrize(("seekers", "vacancies"), [(1, 1), (3, 40)])
def test_tiny_sizes_still_make_a_loadable_world(
    tmp_path: Path, seekers: int, vacancies: int
) -> None:
    config = WorldConfig(seekers=seekers, vacancies=vacancies, seed=2)
    summary = generate_world(config, tmp_path)
    first_manifest = (tmp_path / MANIFEST_FILE).read_text()
    world = load_world(tmp_path)
    assert len(world.jobseekers) == seekers
    assert len(world.vacancies) == vacancies
    assert summary.rows["outcomes"] == len(world.outcomes)
    # Regenerating into the same folder replaces it with the same bytes.
    generate_world(config, tmp_path)
    assert (tmp_path / MANIFEST_FILE).read_text() == first_manifest


# ---- reference integrity -----------------------------------------------------------------


def test_every_reference_exists_in_taxonomy_and_geography(
    world: WorldTables, truth: pd.DataFrame, taxonomy: Taxonomy, geography: Geography
) -> None:
    skills = set(taxonomy.skills["uri"])
    occupations = set(taxonomy.occupations["uri"])
    municipalities = set(geography.municipalities["code"])
    for frame in (world.skill_observations, world.vacancy_skills, truth):
        assert set(frame["skill_uri"]) <= skills
    assert set(world.vacancies["occupation_uri"]) <= occupations
    preferred = set(np.concatenate(world.jobseekers["preferred_occupations"].to_list()))
    assert preferred <= occupations
    for frame, column in (
        (world.jobseekers, "home_municipality"),
        (world.vacancies, "municipality"),
        (world.suppliers, "municipality"),
        (world.coaches, "municipality"),
        (world.organisations, "municipality"),
    ):
        assert set(frame[column]) <= municipalities, column
    assert set(world.contracts["buyer_municipality"].dropna()) <= municipalities
    assert all(taxonomy.has_cpv(code) for code in world.contracts["cpv_code"].unique())


def test_foreign_keys_resolve(world: WorldTables) -> None:
    assert set(world.jobseekers["coach_id"]) <= set(world.coaches["coach_id"])
    assert set(world.coaches["organisation_id"]) <= set(world.organisations["organisation_id"])
    assert set(world.assessments["jobseeker_id"]) <= set(world.jobseekers["jobseeker_id"])
    assert set(world.skill_observations["assessment_id"]) <= set(world.assessments["assessment_id"])
    assert set(world.vacancies["condition_id"]) <= set(world.employment_conditions["condition_id"])
    assert set(world.contracts["supplier_id"]) <= set(world.suppliers["supplier_id"])
    assert set(world.contracts["buyer_id"]) <= set(world.organisations["organisation_id"])
    for frame, column in ((world.exposures, "jobseeker_id"), (world.outcomes, "jobseeker_id")):
        assert set(frame[column]) <= set(world.jobseekers["jobseeker_id"])
    for table in TABLES:
        id_column = COLUMNS[table][0]
        if id_column.endswith("_id") and table not in _DETAIL_TABLES:
            assert world.table(table)[id_column].is_unique, table


def test_vacancy_occupations_are_cpv_coherent(world: WorldTables, taxonomy: Taxonomy) -> None:
    allowed = {entry.cpv_code: set(entry.isco_codes) for entry in CPV_OCCUPATIONS}
    isco = dict(zip(taxonomy.occupations["uri"], taxonomy.occupations["isco_code"], strict=True))
    merged = world.vacancies.merge(world.contracts, on="contract_id", suffixes=("", "_c"))
    assert len(merged) == len(world.vacancies)
    for uri, cpv in zip(merged["occupation_uri"], merged["cpv_code"], strict=True):
        assert isco[uri] in allowed[cpv], (uri, cpv)


def test_vacancies_lie_within_their_contracts_and_about_60_percent_are_open(
    world: WorldTables,
) -> None:
    merged = world.vacancies.merge(world.contracts, on="contract_id", suffixes=("", "_c"))
    assert (merged["opens_on"] >= merged["starts_on"]).all()
    assert (merged["closes_on"] <= merged["ends_on"]).all()
    as_of = pd.Timestamp(world.as_of)
    is_open = (world.vacancies["opens_on"] <= as_of) & (world.vacancies["closes_on"] >= as_of)
    assert is_open.sum() == round(0.6 * VACANCIES)


def test_required_skills_are_essential_skills_of_the_occupation(
    world: WorldTables, taxonomy: Taxonomy
) -> None:
    skills = world.vacancy_skills.merge(world.vacancies[["vacancy_id", "occupation_uri"]])
    required = skills[skills["required"]]
    counts = required.groupby("vacancy_id").size()
    assert counts.min() >= 1
    assert counts.max() <= 10
    for uri, group in required.groupby("occupation_uri"):
        assert set(group["skill_uri"]) <= set(taxonomy.essential_skills(str(uri)))


# ---- people and recognition --------------------------------------------------------------


def test_population_shares_are_plausible(world: WorldTables) -> None:
    people = world.jobseekers
    age = world.as_of.year - people["birth_year"]
    assert 0.6 <= ((age >= 30) & (age <= 54)).mean() <= 0.8
    assert 0.15 <= people["migrant_background"].mean() <= 0.35
    partial = people["max_hours_per_week"].notna() | people["restrictions"].map(len).gt(0)
    assert 0.12 <= partial.mean() <= 0.28
    months = (pd.Timestamp(world.as_of) - people["unemployment_start"]).dt.days / 30.44
    assert (months >= 12).mean() >= 0.4
    caseload = people.groupby("coach_id").size()
    assert caseload.max() <= 45


def test_coaches_recognise_part_of_the_truth_and_self_reports_err(
    world: WorldTables, truth: pd.DataFrame
) -> None:
    observed = world.skill_observations.merge(
        world.assessments[["assessment_id", "method"]], on="assessment_id"
    )
    key = observed["jobseeker_id"] + "|" + observed["skill_uri"].astype(str)
    true_key = set(truth["jobseeker_id"] + "|" + truth["skill_uri"].astype(str))
    false_claim = ~key.isin(true_key)
    assert false_claim.any()
    assert set(observed.loc[false_claim, "method"]) == {"self_report"}
    recognised = len(set(key[~false_claim])) / len(true_key)
    assert 0.05 < recognised < 0.9
    assert observed.loc[observed["method"] == "self_report", "confidence"].max() <= 0.6
    assert observed.loc[observed["method"] == "work_trial", "confidence"].min() >= 0.8


def test_assessments_fall_in_the_unemployment_spell_and_history(world: WorldTables) -> None:
    merged = world.assessments.merge(world.jobseekers[["jobseeker_id", "unemployment_start"]])
    as_of = pd.Timestamp(world.as_of)
    assert (merged["assessed_on"] < as_of).all()
    assert (merged["assessed_on"] >= as_of - pd.Timedelta(days=731)).all()
    assert (merged["assessed_on"] >= merged["unemployment_start"]).all()


# ---- shortlists and outcomes -------------------------------------------------------------


_ORDER = {
    OutcomeStage.PROPOSED: 0,
    OutcomeStage.INTERVIEWED: 1,
    OutcomeStage.HIRED: 2,
    OutcomeStage.RETAINED_6M: 3,
    OutcomeStage.RETAINED_12M: 4,
}


def test_outcome_stages_follow_the_funnel_per_pair(world: WorldTables) -> None:
    events = world.outcomes.sort_values(["occurred_at", "event_id"])
    assert len(events) > 0
    for (_, _), group in events.groupby(["jobseeker_id", "vacancy_id"], sort=False):
        stages = [OutcomeStage(s) for s in group["stage"]]
        assert stages[0] is OutcomeStage.PROPOSED
        assert len(stages) == len(set(stages))
        progress = [_ORDER[s] for s in stages if s in _ORDER]
        # proposed -> interviewed -> hired -> retained_6m -> retained_12m, no step skipped.
        assert progress == list(range(len(progress))), stages
        declines = [i for i, s in enumerate(stages) if s.value.startswith("declined")]
        assert declines in ([], [len(stages) - 1]), stages
        if OutcomeStage.HIRED in stages:
            assert OutcomeStage.INTERVIEWED in stages


def test_decline_reasons_are_present_exactly_for_declines(world: WorldTables) -> None:
    declined = world.outcomes["stage"].str.startswith("declined")
    assert world.outcomes.loc[declined, "reason"].notna().all()
    assert world.outcomes.loc[~declined, "reason"].isna().all()
    by_employer = world.outcomes["stage"] == "declined_by_employer"
    assert "skills" in set(world.outcomes.loc[by_employer, "reason"])


def test_hires_never_exceed_openings(world: WorldTables) -> None:
    hires = world.outcomes[world.outcomes["stage"] == "hired"].groupby("vacancy_id").size()
    openings = world.vacancies.set_index("vacancy_id")["openings"]
    assert len(hires) > 0
    assert (hires <= openings.loc[hires.index]).all()


def test_history_spans_two_years_before_as_of(world: WorldTables) -> None:
    as_of = pd.Timestamp(world.as_of, tz="UTC")
    occurred = world.outcomes["occurred_at"]
    assert occurred.max() < as_of
    assert occurred.min() <= as_of - pd.Timedelta(days=730)
    assert occurred.max() >= as_of - timedelta(days=30)


def test_exposures_log_ranked_lists_with_propensities(world: WorldTables) -> None:
    exposures = world.exposures
    assert set(exposures["query_kind"]) == {"vacancy_shortlist", "jobseeker_matches"}
    assert set(exposures["policy"]) == {"coach_rules"}
    shortlists = exposures[exposures["query_kind"] == "vacancy_shortlist"]
    assert (shortlists["query_id"] == shortlists["vacancy_id"]).all()
    assert exposures["propensity"].between(0.02, 0.95).all()
    for _, group in exposures.groupby("query_id"):
        assert sorted(group["position"]) == list(range(1, len(group) + 1))
        assert group["shown_at"].nunique() == 1
    assert not exposures.duplicated(["query_id", "jobseeker_id", "vacancy_id"]).any()
    proposed = world.outcomes[world.outcomes["stage"] == "proposed"]
    assert not proposed.duplicated(["jobseeker_id", "vacancy_id"]).any()
    shown = proposed.merge(exposures, on=["jobseeker_id", "vacancy_id"], how="left")
    assert shown["shown_at"].notna().all()
    assert (shown["occurred_at"] > shown["shown_at"]).all()


def test_decline_reasons_match_the_hidden_features(world: WorldTables) -> None:
    """Recomputed from the files, every reason's feature is present (commute ⇒ far, ...)."""
    model = HiddenModel.from_json(world.root)
    declines = world.outcomes[world.outcomes["stage"].str.startswith("declined")]
    features = model.features(
        model.context(world),
        *model.context(world).rows(declines["jobseeker_id"], declines["vacancy_id"]),
    ).to_frame()
    reason = declines["reason"].to_numpy()
    assert (features["commute_excess"].to_numpy()[reason == "commute"] > 0).all()
    assert (features["language_gap"].to_numpy()[reason == "language"] > 0).all()
    assert (features["hours_excess"].to_numpy()[reason == "hours"] > 0).all()
    assert (features["work_conflicts"].to_numpy()[reason == "work_ability"] > 0).all()
    assert (reason == "commute").any()
