"""CSV import: the documented examples import; every kind of bad row is reported exactly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from features.geography import Geography
from features.taxonomy import Taxonomy
from features.world_store import SERVING_TABLES, WorldTables
from service.composition import build_engine
from service.settings import Settings
from service.storage.changes import changes_since
from service.storage.csv_import import CsvFiles, CsvImportError, CsvProblem, import_csv
from service.storage.tables import WORLD_RECORDS, ChangeEntity
from service.storage.world_io import load_world_into_database, read_world_tables

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "csv"
KINDS = ("jobseekers", "assessments", "skill_observations", "vacancies", "vacancy_skills")
SKILL = "http://data.europa.eu/esco/skill/"
FORKLIFT = SKILL + "078861f5-b901-48a5-951e-a3ad0a4fa0bd"  # operate warehouse materials
RECORDS = SKILL + "055ff233-6569-43db-9f95-a4b03dca97da"  # operate warehouse record systems
NOT_A_SKILL = SKILL + "00000000-0000-4000-8000-000000000000"
WAREHOUSE = "http://data.europa.eu/esco/occupation/bea705fe-06ac-4147-b8e0-6e8ac1208d8f"


@pytest.fixture
def world_engine(migrated_engine: Engine, tiny_world: WorldTables) -> Engine:
    """The 300/100 world of seed 3, which the examples in docs/csv-import.md refer to."""
    load_world_into_database(tiny_world, migrated_engine)
    return migrated_engine


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(select(func.count()).select_from(record)).scalar_one()
            for name, record in WORLD_RECORDS.items()
        }


def _write(folder: Path, **contents: str | bytes) -> CsvFiles:
    paths = {}
    for kind, content in contents.items():
        path = folder / f"{kind}.csv"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        paths[kind] = path
    return CsvFiles(**paths)


def _located(problems: list[CsvProblem]) -> list[tuple[str, int, str]]:
    return [(Path(p.file).stem, p.line, p.field) for p in problems]


def test_the_documented_examples_import(
    world_engine: Engine, tiny_world: WorldTables, taxonomy: Taxonomy, geography: Geography
) -> None:
    before = _counts(world_engine)
    files = CsvFiles(**{kind: EXAMPLES / f"{kind}.csv" for kind in KINDS})
    result = import_csv(world_engine, files, taxonomy, geography)

    assert (result.jobseekers, result.assessments, result.skill_observations) == (2, 3, 4)
    assert (result.working_life_observations, result.vacancies, result.vacancy_skills) == (3, 2, 3)
    after = _counts(world_engine)
    assert after["jobseekers"] == before["jobseekers"] + 2
    assert after["vacancy_skills"] == before["vacancy_skills"] + 3
    with world_engine.connect() as connection:
        changes = changes_since(connection, 0)
    assert [(c.entity, c.entity_id) for c in changes] == [
        (ChangeEntity.JOBSEEKER, "JS9000001"),
        (ChangeEntity.JOBSEEKER, "JS9000002"),
        (ChangeEntity.JOBSEEKER, "JS0000001"),  # an existing person with a new assessment
        (ChangeEntity.VACANCY, "VA9000001"),
        (ChangeEntity.VACANCY, "VA9000002"),
    ]
    assert result.changes == 5

    world = read_world_tables(world_engine, SERVING_TABLES)
    aino = world.jobseekers.set_index("jobseeker_id").loc["JS9000001"]
    assert list(aino["languages"]) == [
        {"language": "fi", "level": "native"},
        {"language": "en", "level": "B1"},
    ]
    assert list(aino["accepted_job_forms"]) == ["employment", "apprenticeship"]
    engine = build_engine(world, Settings())
    matches = engine.matches_for_jobseeker("JS9000001", k=5, on=tiny_world.as_of)
    assert matches.candidates > 0


def test_every_bad_row_is_reported_and_nothing_is_imported(
    world_engine: Engine,
    tiny_world: WorldTables,
    taxonomy: Taxonomy,
    geography: Geography,
    tmp_path: Path,
) -> None:
    before = _counts(world_engine)
    # Pairs the loaded world already holds (whatever skills the generator gave them).
    observed = tiny_world.skill_observations
    stored_observation = str(
        observed[observed["assessment_id"].astype(str) == "AS00000001"]["skill_uri"].iloc[0]
    )
    required = tiny_world.vacancy_skills
    stored_requirement = str(
        required[required["vacancy_id"].astype(str) == "VA0000001"]["skill_uri"].iloc[0]
    )
    header = (
        "jobseeker_id,first_name,last_name,home_municipality,birth_year,sex,"
        "unemployment_start,driving_licence,restrictions,preferred_occupations,"
        "max_commute_km,languages,coach_id,organisation_id\n"
    )
    ok = "049,1979,female,2025-03-01,true,,,25,fi:native,CO000001,ES-FI-EA-01"
    jobseekers = header + "\n".join(
        [
            f"JS9000001,Aino,Virtanen,{ok}",  # 2
            f"JS9000002,,Virtanen,{ok}",  # 3: first_name missing
            "JS9000003,Eero,Ek,049,19x0,f,,,,,,,CO000001,ES-FI-EA-01",  # 4
            'JS9000004,Eero,Ek,049,1980,male,2025-02-30,,,,"12,5",,CO000001,ES-FI-EA-01',  # 5
            f"JS9000005,Eero,Ek,999,1980,male,,,,{SKILL}x,,,CO000001,ES-FI-EA-01",  # 6
            "JS9000006,Eero,Ek,049,1980,male,,maybe,no_lifting,,,finnish,CO000001,ES-FI-EA-01",  # 7
            f"JS9000001,Aino,Again,{ok}",  # 8: the same id as line 2
            f"JS0000001,Inger,Ottosson,{ok}",  # 9: already in the database
            "JS9000007,Eero,Ek,049,1980,male,,,,,,,CO999999,ES-FI-EA-01",  # 10
            "JS9000008,Eero,Ek,049,1980,male,,,,,,,CO000001,ES-SE-FA-23",  # 11
            "JS9000009,too,few",  # 12
        ]
    )
    assessments = "\n".join(
        [
            "assessment_id,jobseeker_id,coach_id,assessed_on,method,note,working_life",
            "AS90000001,JS9000001,CO000001,2026-09-14,work_trial,,teamwork:3",  # 2
            'AS90000002,JS0000002,CO000051,2026-09-15,test,"two lines,',  # 3
            'one note",',  # 4: still the record of line 3
            "AS90000003,JS9000001,CO000001,2026-09-16,interview,,teamwork:5",  # 5
            "AS90000004,JS7777777,CO000001,2026-09-17,test,,",  # 6
            "AS90000005,JS9000001,CO000001,,test,,",  # 7
        ]
    )
    observations = "\n".join(
        [
            "assessment_id,skill_uri,level,confidence",
            f"AS90000001,{FORKLIFT},3,0.9",  # 2
            f"AS90000001,{FORKLIFT},2,0.9",  # 3: the same skill again
            f"AS90000001,{NOT_A_SKILL},2,",  # 4
            f"AS90000001,{RECORDS},7,1.5",  # 5
            f"AS77777777,{RECORDS},2,",  # 6
            f"AS00000001,{stored_observation},2,",  # 7: already in the database
        ]
    )
    vacancy = f"{WAREHOUSE},Warehouse worker,049"
    vacancies = "\n".join(
        [
            "vacancy_id,supplier_id,contract_id,condition_id,occupation_uri,title,municipality,"
            "job_form,opens_on,closes_on,remote_share,openings",
            f"VA9000001,SU000008,CT0000001,EC0000001,{vacancy},employment,2026-10-01,2026-12-31,,",
            f"VA9000002,SU000008,,,{vacancy},employment,2026-10-01,2026-09-30,,",  # 3
            f"VA9000003,SU999999,,,{vacancy},employment,2026-10-01,2026-12-31,,",  # 4
            f"VA9000004,SU000002,CT0000001,,{vacancy},employment,2026-10-01,2026-12-31,,",  # 5
            f"VA9000005,SU000008,CT0000001,EC0000002,{vacancy},employment,2026-10-01,2026-12-31,,",
            f"VA9000006,SU000008,CT0000001,EC0000001,{vacancy},work_trial,2026-10-01,2026-12-31,,",
            f"VA9000007,SU000008,,EC0000001,{vacancy},employment,2026-10-01,2026-12-31,,",  # 8
            f"VA9000008,SU000008,,,{vacancy},employment,2026-10-01,2026-12-31,abc,0",  # 9
        ]
    )
    vacancy_skills = "\n".join(
        [
            "vacancy_id,skill_uri,required,min_level",
            f"VA9000001,{FORKLIFT},true,2",  # 2
            f"VA7777777,{FORKLIFT},true,2",  # 3
            f"VA9000001,{RECORDS},sometimes,1",  # 4
            f"VA0000001,{stored_requirement},,",  # 5: already in the database
        ]
    )
    files = _write(
        tmp_path,
        jobseekers=jobseekers,
        assessments=assessments,
        skill_observations=observations,
        vacancies=vacancies,
        vacancy_skills=vacancy_skills,
    )
    with pytest.raises(CsvImportError, match="nothing imported") as raised:
        import_csv(world_engine, files, taxonomy, geography)

    problems = raised.value.problems
    assert _located(problems) == [
        ("jobseekers", 3, "first_name"),
        ("jobseekers", 4, "birth_year"),
        ("jobseekers", 4, "sex"),
        ("jobseekers", 5, "unemployment_start"),
        ("jobseekers", 5, "max_commute_km"),
        ("jobseekers", 6, "home_municipality"),
        ("jobseekers", 6, "preferred_occupations"),
        ("jobseekers", 7, "driving_licence"),
        ("jobseekers", 7, "restrictions"),
        ("jobseekers", 7, "languages"),
        ("jobseekers", 8, "jobseeker_id"),
        ("jobseekers", 9, "jobseeker_id"),
        ("jobseekers", 10, "coach_id"),
        ("jobseekers", 11, "organisation_id"),
        ("jobseekers", 12, "row"),
        ("assessments", 5, "method"),
        ("assessments", 5, "working_life"),
        ("assessments", 6, "jobseeker_id"),
        ("assessments", 7, "assessed_on"),
        ("skill_observations", 3, "skill_uri"),
        ("skill_observations", 4, "skill_uri"),
        ("skill_observations", 5, "level"),
        ("skill_observations", 5, "confidence"),
        ("skill_observations", 6, "assessment_id"),
        ("skill_observations", 7, "skill_uri"),
        ("vacancies", 3, "closes_on"),
        ("vacancies", 4, "supplier_id"),
        ("vacancies", 5, "contract_id"),
        ("vacancies", 6, "condition_id"),
        ("vacancies", 7, "job_form"),
        ("vacancies", 8, "contract_id"),
        ("vacancies", 9, "remote_share"),
        ("vacancies", 9, "openings"),
        ("vacancy_skills", 3, "vacancy_id"),
        ("vacancy_skills", 4, "required"),
        ("vacancy_skills", 5, "skill_uri"),
    ]
    messages = {(Path(p.file).stem, p.line, p.field): p.message for p in problems}
    expected_fragments = {
        ("jobseekers", 3, "first_name"): "is required",
        ("jobseekers", 4, "birth_year"): "'19x0' is not a whole number",
        ("jobseekers", 4, "sex"): "'f' is not one of: female, male, other, unknown",
        ("jobseekers", 5, "unemployment_start"): "'2025-02-30' is not a date YYYY-MM-DD",
        ("jobseekers", 5, "max_commute_km"): "decimal comma; write 12.5",
        ("jobseekers", 6, "home_municipality"): "'999' is not a Finnish or Swedish municipality",
        ("jobseekers", 6, "preferred_occupations"): "is not an ESCO occupation URI",
        ("jobseekers", 7, "driving_licence"): "'maybe' is not true or false",
        ("jobseekers", 7, "restrictions"): "'no_lifting' is not one of: no_heavy_lifting",
        ("jobseekers", 7, "languages"): "is not an ISO 639 code",
        ("jobseekers", 8, "jobseeker_id"): "'JS9000001' is already on line 2",
        ("jobseekers", 9, "jobseeker_id"): "'JS0000001' already exists in the database",
        ("jobseekers", 10, "coach_id"): "'CO999999' is not a coach in the database",
        ("jobseekers", 11, "organisation_id"): "is not the organisation of coach 'CO000001'",
        ("jobseekers", 12, "row"): "has 3 cells; the header has 14",
        ("assessments", 5, "method"): "'interview' is not one of: work_trial",
        ("assessments", 5, "working_life"): "must be between 1 and 4",
        ("assessments", 6, "jobseeker_id"): "neither in the jobseekers file nor in the database",
        ("assessments", 7, "assessed_on"): "is required",
        ("skill_observations", 3, "skill_uri"): "already listed for 'AS90000001' on line 2",
        ("skill_observations", 4, "skill_uri"): "is not an ESCO skill URI",
        ("skill_observations", 5, "level"): "7 is not between 1 and 4",
        ("skill_observations", 5, "confidence"): "1.5 is not between 0 and 1",
        ("skill_observations", 6, "assessment_id"): "neither in the assessments file nor",
        ("skill_observations", 7, "skill_uri"): "already recorded for 'AS00000001' in the database",
        ("vacancies", 3, "closes_on"): "is before opens_on",
        ("vacancies", 4, "supplier_id"): "'SU999999' is not a supplier in the database",
        ("vacancies", 5, "contract_id"): "is a contract of supplier 'SU000008', not 'SU000002'",
        ("vacancies", 6, "condition_id"): "belongs to contract 'CT0000002', not 'CT0000001'",
        ("vacancies", 7, "job_form"): "'work_trial' is not allowed by condition 'EC0000001'",
        ("vacancies", 8, "contract_id"): "is required with a condition_id",
        ("vacancies", 9, "remote_share"): "'abc' is not a number",
        ("vacancies", 9, "openings"): "0 is not between 1 and 10000",
        ("vacancy_skills", 3, "vacancy_id"): "neither in the vacancies file nor in the database",
        ("vacancy_skills", 4, "required"): "'sometimes' is not true or false",
        ("vacancy_skills", 5, "skill_uri"): "already recorded for 'VA0000001' in the database",
    }
    for where, fragment in expected_fragments.items():
        assert fragment in messages[where], (where, messages[where])
    assert str(problems[0]) == f"{files.jobseekers}:3: first_name: is required"
    assert _counts(world_engine) == before
    with world_engine.connect() as connection:
        assert changes_since(connection, 0) == []


def test_file_level_problems(
    migrated_engine: Engine, taxonomy: Taxonomy, geography: Geography, tmp_path: Path
) -> None:
    files = _write(
        tmp_path,
        jobseekers="jobseeker_id,first_name,last_name,first_name,shoe_size\nJS1,A,B,A,42\n",
        vacancies="",
        vacancy_skills=b"vacancy_id,skill_uri\nVA1,x\nVA2,caf\xe9\n",
    )
    with pytest.raises(CsvImportError) as raised:
        import_csv(migrated_engine, files, taxonomy, geography)
    assert [str(p).replace(str(tmp_path) + "/", "") for p in raised.value.problems] == [
        "jobseekers.csv:1: first_name: is a column name used twice",
        "jobseekers.csv:1: shoe_size: is not a column of jobseekers files",
        "jobseekers.csv:1: home_municipality: is a required column and is missing from the header",
        "jobseekers.csv:1: birth_year: is a required column and is missing from the header",
        "jobseekers.csv:1: sex: is a required column and is missing from the header",
        "jobseekers.csv:1: coach_id: is a required column and is missing from the header",
        "jobseekers.csv:1: organisation_id: is a required column and is missing from the header",
        "vacancies.csv:1: file: is empty; the first line must name the columns",
        "vacancy_skills.csv:3: file: is not UTF-8 (byte 0xe9)",
    ]
    assert set(_counts(migrated_engine).values()) == {0}


def test_the_documentation_shows_the_example_files() -> None:
    document = (EXAMPLES.parents[1] / "csv-import.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```csv\n(.*?)```", document, flags=re.DOTALL)
    files = [(EXAMPLES / f"{kind}.csv").read_text(encoding="utf-8") for kind in KINDS]
    assert blocks == files
