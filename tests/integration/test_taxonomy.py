"""Integration tests for features.taxonomy against the bundled ESCO/ISCO/CPV files."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from features.reference_data import (
    CPV_CODES,
    ESCO_BROADER_SKILL_RELATIONS,
    ESCO_CLASSIFICATION_ZIP,
    ESCO_OCCUPATION_SKILL_RELATIONS,
    ESCO_OCCUPATIONS,
    ESCO_RELATIONS_ZIP,
    ESCO_SKILL_GROUPS,
    ESCO_SKILL_SKILL_RELATIONS,
    ESCO_SKILLS,
    ESCO_SKILLS_HIERARCHY,
    ISCO_GROUPS,
    default_data_dir,
)
from features.taxonomy import Taxonomy, load_taxonomy, normalize_cpv

pytestmark = pytest.mark.integration

DATA = default_data_dir()
SKILL = "http://data.europa.eu/esco/skill/"
OCCUPATION = "http://data.europa.eu/esco/occupation/"
PYTHON_SKILL = SKILL + "ccd0a1d9-afda-43d9-b901-96344886e14d"
FINNISH_SKILL = SKILL + "0e3493f4-0cad-4fbc-8e02-025f169b8114"
MANAGE_MUSICAL_STAFF = SKILL + "0005c151-5b5a-4a66-8aac-60e734beb1ab"
TOP_SKILLS = SKILL + "335228d2-297d-4e0e-a6ee-bc6a8dc110d9"
TOP_KNOWLEDGE = SKILL + "c46fcb45-5c14-4ffa-abed-5a43f104bb22"
TOP_TRANSVERSAL = SKILL + "04a13491-b58c-4d33-8b59-8fad0d55fe9e"
SOFTWARE_DEVELOPER = OCCUPATION + "f2b15a0e-e65a-438a-affb-29b9d50b77d1"
TECHNICAL_DIRECTOR = OCCUPATION + "00030d09-2b3a-4efd-87cc-c4ea39d27c34"


def zip_rows(zip_name: str, member: str) -> list[dict[str, str]]:
    """Read a CSV inside one of the ESCO zips with the csv module (independent of pandas)."""
    with zipfile.ZipFile(DATA / zip_name) as archive, archive.open(member) as raw:
        return list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")))


def file_rows(relative: str) -> list[dict[str, str]]:
    with (DATA / relative).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def taxonomy(tmp_path_factory: pytest.TempPathFactory) -> Taxonomy:
    return load_taxonomy(cache_dir=tmp_path_factory.mktemp("taxonomy-cache"))


@pytest.fixture(scope="module")
def occupation_skill_rows() -> list[dict[str, str]]:
    return zip_rows(ESCO_RELATIONS_ZIP, ESCO_OCCUPATION_SKILL_RELATIONS)


@pytest.fixture(scope="module")
def top_concepts() -> set[str]:
    """Level-0 concepts of ESCO's skills hierarchy, read from the hierarchy file."""
    rows = zip_rows(ESCO_CLASSIFICATION_ZIP, ESCO_SKILLS_HIERARCHY)
    return {row["Level 0 URI"] for row in rows}


def test_skill_and_occupation_counts_equal_source_rows(taxonomy: Taxonomy) -> None:
    skill_rows = zip_rows(ESCO_CLASSIFICATION_ZIP, ESCO_SKILLS)
    occupation_rows = zip_rows(ESCO_CLASSIFICATION_ZIP, ESCO_OCCUPATIONS)
    group_rows = zip_rows(ESCO_CLASSIFICATION_ZIP, ESCO_SKILL_GROUPS)

    assert len(taxonomy.skills) == len(skill_rows) == 13_896
    assert len(taxonomy.occupations) == len(occupation_rows) == 3_007
    assert len(taxonomy.skill_groups) == len(group_rows)
    assert taxonomy.skills["uri"].tolist() == [row["conceptUri"] for row in skill_rows]
    assert taxonomy.occupations["uri"].tolist() == [row["conceptUri"] for row in occupation_rows]


def test_code_tables_equal_source_rows(taxonomy: Taxonomy) -> None:
    isco_rows = file_rows(ISCO_GROUPS)
    cpv_rows = file_rows(CPV_CODES)

    assert len(taxonomy.isco_groups) == len(isco_rows) == 619
    assert len(taxonomy.cpv) == len(cpv_rows) == 9_454
    assert taxonomy.isco_groups["code"].tolist() == [row["code"] for row in isco_rows]
    assert taxonomy.cpv["cpv_code"].tolist() == [row["cpv_code"] for row in cpv_rows]
    levels = Counter(taxonomy.isco_groups["level"].tolist())
    assert levels == Counter(int(row["level"]) for row in isco_rows)


def test_occupation_skill_relations_match_source(
    taxonomy: Taxonomy, occupation_skill_rows: list[dict[str, str]]
) -> None:
    known_occupations = set(taxonomy.occupations["uri"])
    known_skills = set(taxonomy.skills["uri"])
    kept = [
        row
        for row in occupation_skill_rows
        if row["occupationUri"] in known_occupations and row["skillUri"] in known_skills
    ]
    expected_essential = sum(row["relationType"] == "essential" for row in kept)

    assert len(occupation_skill_rows) == 123_855
    assert sum(row["relationType"] == "essential" for row in occupation_skill_rows) == 64_946
    assert len(taxonomy.occupation_skills) == len(kept)
    assert int(taxonomy.occupation_skills["essential"].sum()) == expected_essential
    assert sum(taxonomy.skipped_relations.values()) == len(occupation_skill_rows) - len(kept)
    assert taxonomy.occupation_skills.dtypes.to_dict() == {
        "occupation_idx": np.dtype(np.int32),
        "skill_idx": np.dtype(np.int32),
        "essential": np.dtype(bool),
    }


def test_dangling_occupation_relations_are_counted(
    taxonomy: Taxonomy, occupation_skill_rows: list[dict[str, str]]
) -> None:
    known_occupations = set(taxonomy.occupations["uri"])
    dangling = [r for r in occupation_skill_rows if r["occupationUri"] not in known_occupations]

    # ESCO 1.1.1 relates skills to one occupation that is not in occupations_en.csv.
    assert len(dangling) > 0
    counted = taxonomy.skipped_relations["occupation-skill relation with unknown occupation"]
    assert counted == len(dangling)


def test_essential_and_optional_skills_split_per_occupation(
    taxonomy: Taxonomy, occupation_skill_rows: list[dict[str, str]]
) -> None:
    expected: dict[str, set[str]] = {"essential": set(), "optional": set()}
    for row in occupation_skill_rows:
        if row["occupationUri"] == SOFTWARE_DEVELOPER:
            expected[row["relationType"]].add(row["skillUri"])

    essential = taxonomy.essential_skills(SOFTWARE_DEVELOPER)
    optional = taxonomy.optional_skills(SOFTWARE_DEVELOPER)

    assert set(essential) == expected["essential"]
    assert set(optional) == expected["optional"]
    assert len(essential) == len(set(essential))
    assert not set(essential) & set(optional)
    assert PYTHON_SKILL in optional


def test_essential_totals_over_all_occupations(taxonomy: Taxonomy) -> None:
    uris = taxonomy.occupations["uri"].tolist()
    n_essential = sum(len(taxonomy.essential_skills(uri)) for uri in uris)
    n_optional = sum(len(taxonomy.optional_skills(uri)) for uri in uris)

    assert n_essential == int(taxonomy.occupation_skills["essential"].sum())
    assert n_essential + n_optional == len(taxonomy.occupation_skills)


def test_known_skill_lookup(taxonomy: Taxonomy) -> None:
    position = taxonomy.skill_index(PYTHON_SKILL)
    row = taxonomy.skills.iloc[position]

    assert row["uri"] == PYTHON_SKILL
    assert row["label"] == "Python (computer programming)"
    assert row["skill_type"] == "knowledge"
    assert taxonomy.has_skill(PYTHON_SKILL)
    assert not taxonomy.has_skill(PYTHON_SKILL + "x")
    assert taxonomy.skill_positions[MANAGE_MUSICAL_STAFF] == taxonomy.skill_index(
        MANAGE_MUSICAL_STAFF
    )


def test_known_occupation_lookup(taxonomy: Taxonomy) -> None:
    row = taxonomy.occupations.iloc[taxonomy.occupation_index(TECHNICAL_DIRECTOR)]

    assert row["label"] == "technical director"
    assert row["isco_code"] == "2654"
    assert row["esco_code"] == "2654.1.7"
    assert "head of technical" in row["alt_labels"]
    assert taxonomy.has_occupation(TECHNICAL_DIRECTOR)
    assert not taxonomy.has_occupation(PYTHON_SKILL)


def test_isco_codes_keep_leading_zeros(taxonomy: Taxonomy) -> None:
    isco = taxonomy.occupations["isco_code"]
    unit_groups = set(taxonomy.isco_groups.loc[taxonomy.isco_groups["level"] == 4, "code"])

    assert isco.str.fullmatch(r"\d{4}").all()
    assert "0110" in set(isco)
    assert set(isco) <= unit_groups
    assert taxonomy.isco_groups.set_index("code").loc["0110", "level"] == 4


def test_every_position_round_trips(taxonomy: Taxonomy) -> None:
    skill_uris = taxonomy.skills["uri"].tolist()
    occupation_uris = taxonomy.occupations["uri"].tolist()

    assert [taxonomy.skill_index(uri) for uri in skill_uris] == list(range(len(skill_uris)))
    assert [taxonomy.occupation_index(uri) for uri in occupation_uris] == list(
        range(len(occupation_uris))
    )


def test_skill_relations_match_source(taxonomy: Taxonomy) -> None:
    rows = zip_rows(ESCO_RELATIONS_ZIP, ESCO_SKILL_SKILL_RELATIONS)
    uris = taxonomy.skills["uri"].to_numpy()
    relations = taxonomy.skill_relations

    assert len(relations) == len(rows) == 5_899
    assert Counter(relations["relation_type"].tolist()) == Counter(r["relationType"] for r in rows)
    first = rows[0]
    assert uris[relations["skill_idx"].iloc[0]] == first["originalSkillUri"]
    assert uris[relations["related_idx"].iloc[0]] == first["relatedSkillUri"]


def test_direct_ancestors_are_the_broader_relations(taxonomy: Taxonomy) -> None:
    rows = zip_rows(ESCO_RELATIONS_ZIP, ESCO_BROADER_SKILL_RELATIONS)
    broader = [r["broaderUri"] for r in rows if r["conceptUri"] == MANAGE_MUSICAL_STAFF]
    frame = taxonomy.skill_ancestors
    own = frame[frame["skill_idx"] == taxonomy.skill_index(MANAGE_MUSICAL_STAFF)]

    assert len(rows) == 20_656
    assert len(broader) > 1  # a polyhierarchical example
    assert own.loc[own["depth"] == 1, "ancestor_uri"].tolist() == broader
    assert taxonomy.ancestors(MANAGE_MUSICAL_STAFF)[: len(broader)] == broader


@pytest.mark.parametrize(
    ("skill_uri", "top"),
    [(PYTHON_SKILL, TOP_SKILLS), (FINNISH_SKILL, TOP_TRANSVERSAL)],
)
def test_ancestors_end_at_a_top_pillar_concept(
    taxonomy: Taxonomy, skill_uri: str, top: str, top_concepts: set[str]
) -> None:
    ancestors = taxonomy.ancestors(skill_uri)

    assert len(top_concepts) == 4
    assert {TOP_SKILLS, TOP_KNOWLEDGE, TOP_TRANSVERSAL} <= top_concepts
    assert ancestors[-1] == top
    assert len(ancestors) == len(set(ancestors))
    assert skill_uri not in ancestors


def test_ancestors_are_nearest_first_and_reach_the_top(
    taxonomy: Taxonomy, top_concepts: set[str]
) -> None:
    frame = taxonomy.skill_ancestors
    skill_idx = frame["skill_idx"].to_numpy()
    depth = frame["depth"].to_numpy()
    same_skill = skill_idx[1:] == skill_idx[:-1]
    skills_reaching_top = set(skill_idx[frame["ancestor_uri"].isin(top_concepts).to_numpy()])

    assert np.all(np.diff(skill_idx) >= 0)
    assert np.all(depth[1:][same_skill] >= depth[:-1][same_skill])
    assert depth.min() == 1
    assert skills_reaching_top == set(range(len(taxonomy.skills)))


@pytest.mark.parametrize(
    "call",
    [
        lambda t, uri: t.skill_index(uri),
        lambda t, uri: t.ancestors(uri),
    ],
    ids=["skill_index", "ancestors"],
)
def test_unknown_skill_uri_raises_key_error_naming_it(
    taxonomy: Taxonomy, call: Callable[[Taxonomy, str], object]
) -> None:
    uri = SKILL + "does-not-exist"
    with pytest.raises(KeyError, match=re.escape(uri)):
        call(taxonomy, uri)


@pytest.mark.parametrize(
    "call",
    [
        lambda t, uri: t.occupation_index(uri),
        lambda t, uri: t.essential_skills(uri),
        lambda t, uri: t.optional_skills(uri),
    ],
    ids=["occupation_index", "essential_skills", "optional_skills"],
)
def test_unknown_occupation_uri_raises_key_error_naming_it(
    taxonomy: Taxonomy, call: Callable[[Taxonomy, str], object]
) -> None:
    # The occupation that occupationSkillRelations.csv mentions but occupations_en.csv lacks.
    uri = OCCUPATION + "a9e54177-a185-404d-b6e6-15663d31137e"
    with pytest.raises(KeyError, match=rf"occupation URI .*{re.escape(uri)}"):
        call(taxonomy, uri)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("90910000-9", True),
        ("90910000", True),
        (" 45000000-7 ", True),
        ("03000000-1", True),
        ("90910000-1", False),  # wrong check digit
        ("9091000", False),
        ("99999999", False),
        ("cleaning", False),
    ],
)
def test_has_cpv_with_and_without_check_digit(
    taxonomy: Taxonomy, code: str, expected: bool
) -> None:
    assert taxonomy.has_cpv(code) is expected


def test_cpv_row_for_cleaning_services(taxonomy: Taxonomy) -> None:
    row = taxonomy.cpv.set_index("code8").loc["90910000"]

    assert row["cpv_code"] == "90910000-9"
    assert row["label_en"] == "Cleaning services"
    assert row["division"] == "90"
    assert normalize_cpv("90910000-9") == normalize_cpv("90910000") == "90910000"
    assert normalize_cpv("9091-0000") is None


def test_load_without_cache_equals_cached_load_and_writes_nothing(
    taxonomy: Taxonomy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOHTAANTO_CACHE_DIR", str(tmp_path))
    fresh = load_taxonomy(use_cache=False)

    assert fresh.skills.equals(taxonomy.skills)
    assert fresh.skill_ancestors.equals(taxonomy.skill_ancestors)
    assert dict(fresh.skipped_relations) == dict(taxonomy.skipped_relations)
    assert not list(tmp_path.iterdir())
