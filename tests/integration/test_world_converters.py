"""Every row of a small generated world converts to a valid domain object."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.geography import Geography
from features.taxonomy import Taxonomy
from features.world_store import (
    WorldTables,
    assessment_from_rows,
    condition_from_row,
    contract_from_row,
    jobseeker_from_row,
    load_table,
    load_world,
    outcome_from_row,
    supplier_from_row,
    vacancy_from_rows,
)
from matching.domain import (
    DECLINE_STAGES,
    BuyerKind,
    CoachingAssessment,
    JobForm,
    Jobseeker,
    UnknownReferenceError,
    check_references,
)
from training.synthetic import WorldConfig, generate_world

pytestmark = pytest.mark.integration


class _Catalog:
    """The taxonomy and geography as a :class:`matching.domain.ReferenceCatalog`."""

    def __init__(self, taxonomy: Taxonomy, geography: Geography) -> None:
        self.taxonomy, self.geography = taxonomy, geography

    def has_skill(self, uri: str) -> bool:
        return self.taxonomy.has_skill(uri)

    def has_occupation(self, uri: str) -> bool:
        return self.taxonomy.has_occupation(uri)

    def has_municipality(self, code: str) -> bool:
        return self.geography.has_municipality(code)

    def has_cpv(self, code: str) -> bool:
        return self.taxonomy.has_cpv(code)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> WorldTables:
    out = tmp_path_factory.mktemp("world")
    generate_world(WorldConfig(seekers=400, vacancies=150, seed=5), out)
    return load_world(out)


@pytest.fixture(scope="module")
def catalog(taxonomy: Taxonomy, geography: Geography) -> _Catalog:
    return _Catalog(taxonomy, geography)


def _grouped(frame: pd.DataFrame, key: str) -> dict[str, pd.DataFrame]:
    return {str(k): g for k, g in frame.groupby(key, sort=False)}


def test_every_jobseeker_row_is_a_valid_jobseeker(world: WorldTables, catalog: _Catalog) -> None:
    people = [jobseeker_from_row(row) for row in world.jobseekers.to_dict("records")]
    assert len(people) == len(world.jobseekers)
    for person in people:
        check_references(person, catalog)
    partial = sum(p.work_capacity.is_partial for p in people)
    assert 0 < partial < len(people)
    migrants = [p for p in people if p.migrant_background]
    assert migrants
    # A migrant's first (native) language is neither Finnish nor Swedish.
    assert all(p.languages[0].language not in {"fi", "sv"} for p in migrants)
    assert all(JobForm.EMPLOYMENT in p.preferences.accepted_job_forms for p in people)
    assert all(p.preferences.occupations for p in people)


def test_every_vacancy_with_its_skills_is_valid(world: WorldTables, catalog: _Catalog) -> None:
    skills = _grouped(world.vacancy_skills, "vacancy_id")
    vacancies = [
        vacancy_from_rows(row, skills.get(str(row["vacancy_id"]), ()))
        for row in world.vacancies.to_dict("records")
    ]
    assert len(vacancies) == len(world.vacancies)
    for vacancy in vacancies:
        check_references(vacancy, catalog)
        assert vacancy.required_skills
        assert vacancy.languages
    assert sum(len(v.skills) for v in vacancies) == len(world.vacancy_skills)


def test_every_assessment_with_its_observations_is_valid(
    world: WorldTables, catalog: _Catalog
) -> None:
    observations = _grouped(world.skill_observations, "assessment_id")
    working_life = _grouped(world.working_life_observations, "assessment_id")
    assessments: list[CoachingAssessment] = []
    for row in world.assessments.to_dict("records"):
        key = str(row["assessment_id"])
        assessments.append(
            assessment_from_rows(row, observations.get(key, ()), working_life.get(key, ()))
        )
    for assessment in assessments:
        check_references(assessment, catalog)
    assert sum(len(a.observations) for a in assessments) == len(world.skill_observations)
    assert sum(len(a.working_life) for a in assessments) == len(world.working_life_observations)


def test_every_contract_condition_supplier_and_outcome_is_valid(
    world: WorldTables, catalog: _Catalog
) -> None:
    contracts = [contract_from_row(row) for row in world.contracts.to_dict("records")]
    for contract in contracts:
        check_references(contract, catalog)
    kinds = {c.buyer_kind for c in contracts}
    assert BuyerKind.MUNICIPALITY in kinds
    conditions = [condition_from_row(r) for r in world.employment_conditions.to_dict("records")]
    assert all(c.hires_required >= 1 and c.target_groups for c in conditions)
    suppliers = [supplier_from_row(r) for r in world.suppliers.to_dict("records")]
    for supplier in suppliers:
        check_references(supplier, catalog)
    outcomes = [outcome_from_row(r) for r in world.outcomes.to_dict("records")]
    assert all(o.reason is not None for o in outcomes if o.stage in DECLINE_STAGES)
    assert all(o.occurred_at.tzinfo is not None for o in outcomes)


def test_converters_reject_rows_of_another_object(world: WorldTables) -> None:
    row = world.vacancies.iloc[0]
    other = world.vacancy_skills[world.vacancy_skills["vacancy_id"] != row["vacancy_id"]].head(1)
    with pytest.raises(ValueError, match="given for"):
        vacancy_from_rows(row, other)


def test_a_bad_row_fails_domain_validation_naming_the_field(world: WorldTables) -> None:
    row = world.jobseekers.to_dict("records")[0]
    row["home_municipality"] = "12"
    with pytest.raises(ValueError, match="home_municipality"):
        jobseeker_from_row(row)
    row = world.jobseekers.to_dict("records")[0]
    row["preferred_occupations"] = ["http://data.europa.eu/esco/occupation/not-a-uuid"]
    with pytest.raises(ValueError, match=r"occupations\[0\]"):
        jobseeker_from_row(row)


def test_check_references_catches_unknown_codes(world: WorldTables, catalog: _Catalog) -> None:
    row = world.jobseekers.to_dict("records")[0]
    row["home_municipality"] = "999"
    person: Jobseeker = jobseeker_from_row(row)
    with pytest.raises(UnknownReferenceError, match="home_municipality"):
        check_references(person, catalog)


def test_load_table_reads_one_table_with_string_codes(world: WorldTables) -> None:
    jobseekers = load_table(Path(world.root), "jobseekers")
    assert jobseekers["home_municipality"].str.fullmatch(r"\d{3,4}").all()
    assert (jobseekers["jobseeker_id"] == world.jobseekers["jobseeker_id"]).all()
    with pytest.raises(KeyError, match="unknown world table"):
        load_table(Path(world.root), "nonsense")
