"""A generated world goes into the database and comes back as the same DataFrames."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import Engine, func, select

from features.world_store import SCHEMAS, SERVING_TABLES, TABLES, WorldTables
from service.composition import build_engine
from service.settings import Settings
from service.storage.tables import WORLD_RECORDS
from service.storage.world_io import (
    META_AS_OF,
    META_WORLD_FINGERPRINT,
    DatabaseNotEmptyError,
    WorldLoadError,
    _json_text,
    load_world_into_database,
    read_meta,
    read_world_tables,
    world_fingerprint,
)

pytestmark = pytest.mark.integration


def _comparable(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The Parquet frame as the database returns it: rows in key order, categories present.

    A Parquet column's categories are the generator's whole vocabulary (every municipality,
    every ESCO skill); the database knows only the values stored, and lists them sorted.
    """
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            present = frame[column].cat.remove_unused_categories()
            frame[column] = present.cat.reorder_categories(sorted(present.cat.categories))
    if name == "organisations":  # the only table the generator does not write in key order
        frame = frame.sort_values("organisation_id", ignore_index=True)
    return frame


def _row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(select(func.count()).select_from(record)).scalar_one()
            for name, record in WORLD_RECORDS.items()
        }


def _awkward(world: WorldTables) -> WorldTables:
    """The world with text that trips up CSV and JSON: empty vs missing, quotes, newlines."""
    jobseekers = world.jobseekers.copy()
    jobseekers.loc[0, "email"] = ""
    jobseekers.loc[1, "email"] = None
    jobseekers.loc[2, "last_name"] = 'O\'Neil, "Jr."\nsecond line'
    odd = np.array(['quote " and \\ backslash'], dtype=object)
    jobseekers["restrictions"] = [
        odd if i == 3 else items for i, items in enumerate(jobseekers["restrictions"])
    ]
    assessments = world.assessments.copy()
    assessments.loc[0, "note"] = ""
    return dataclasses.replace(world, jobseekers=jobseekers, assessments=assessments)


def test_world_round_trips_with_load_worlds_dtypes(
    migrated_engine: Engine, tiny_world: WorldTables
) -> None:
    tiny_world = _awkward(tiny_world)
    progress: list[tuple[str, int, int]] = []
    report = load_world_into_database(
        tiny_world, migrated_engine, lambda *step: progress.append(step), chunk_rows=1000
    )
    assert report.rows == {name: len(tiny_world.table(name)) for name in TABLES}
    assert ("skill_observations", 4000, len(tiny_world.skill_observations)) in progress

    back = read_world_tables(migrated_engine)
    assert back.as_of == tiny_world.as_of
    assert back.manifest["files"] == tiny_world.manifest["files"]
    for name in TABLES:
        expected = _comparable(tiny_world.table(name), name)
        pd.testing.assert_frame_equal(back.table(name), expected, obj=name)
        assert list(back.table(name).columns) == list(SCHEMAS[name].names)
    meta = read_meta(migrated_engine)
    assert meta[META_AS_OF] == tiny_world.as_of.isoformat()
    assert meta[META_WORLD_FINGERPRINT] == world_fingerprint(tiny_world.manifest)


def test_frame_comparison_sees_a_changed_list_item(tiny_world: WorldTables) -> None:
    """Guards the round trip above: a list column's contents are compared, not just shapes."""
    changed = tiny_world.jobseekers.copy()
    first = changed.at[0, "languages"]
    changed.at[0, "languages"] = [
        {**first[0], "level": "A1" if first[0]["level"] != "A1" else "B1"}
    ]
    with pytest.raises(AssertionError, match="languages"):
        pd.testing.assert_frame_equal(changed, tiny_world.jobseekers)


def test_an_engine_on_the_database_matches_like_one_on_parquet(
    migrated_engine: Engine, tiny_world_dir: Path, tiny_world: WorldTables, tmp_path: Path
) -> None:
    load_world_into_database(tiny_world, migrated_engine)
    settings = Settings()
    from_database = build_engine(read_world_tables(migrated_engine, SERVING_TABLES), settings)
    from_parquet = build_engine(tiny_world, settings)
    for jobseeker_id in tiny_world.jobseekers["jobseeker_id"].iloc[:12]:
        expected = from_parquet.matches_for_jobseeker(jobseeker_id, k=10, on=tiny_world.as_of)
        got = from_database.matches_for_jobseeker(jobseeker_id, k=10, on=tiny_world.as_of)
        assert got == expected
    assert any(
        from_parquet.matches_for_jobseeker(j, k=10, on=tiny_world.as_of).results
        for j in tiny_world.jobseekers["jobseeker_id"].iloc[:12]
    )


def test_reading_some_tables_leaves_the_others_empty(
    migrated_engine: Engine, tiny_world: WorldTables
) -> None:
    load_world_into_database(tiny_world, migrated_engine)
    back = read_world_tables(migrated_engine, ["vacancies"])
    assert len(back.vacancies) == len(tiny_world.vacancies)
    assert back.jobseekers.empty
    assert list(back.jobseekers.columns) == list(SCHEMAS["jobseekers"].names)
    with pytest.raises(KeyError, match="unknown world tables"):
        read_world_tables(migrated_engine, ["nope"])


def test_a_second_load_is_refused(migrated_engine: Engine, tiny_world: WorldTables) -> None:
    load_world_into_database(tiny_world, migrated_engine)
    with pytest.raises(DatabaseNotEmptyError, match="already holds world data"):
        load_world_into_database(tiny_world, migrated_engine)


def test_a_failed_load_leaves_the_database_empty(
    migrated_engine: Engine, tiny_world: WorldTables
) -> None:
    # The last table holds a duplicate key: everything before it must be rolled back too.
    exposures = tiny_world.exposures
    broken = dataclasses.replace(
        tiny_world, exposures=pd.concat([exposures, exposures.iloc[:1]], ignore_index=True)
    )
    with pytest.raises(WorldLoadError, match="exposures"):
        load_world_into_database(broken, migrated_engine)
    assert set(_row_counts(migrated_engine).values()) == {0}
    assert read_meta(migrated_engine) == {}


def test_a_dangling_reference_fails_the_load(
    migrated_engine: Engine, tiny_world: WorldTables
) -> None:
    skills = tiny_world.vacancy_skills.copy()
    skills["vacancy_id"] = skills["vacancy_id"].astype(str)
    skills.loc[0, "vacancy_id"] = "VA9999999"
    broken = dataclasses.replace(tiny_world, vacancy_skills=skills)
    with pytest.raises(WorldLoadError, match="vacancy_skills"):
        load_world_into_database(broken, migrated_engine)
    assert set(_row_counts(migrated_engine).values()) == {0}


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([["a", "b"], [], None, ["åäö"]], pa.list_(pa.string())),
        ([['say "hi"', "back\\slash"], ["ok"]], pa.list_(pa.string())),
        ([["line\nbreak"], None], pa.list_(pa.string())),
        (
            [[{"language": "fi", "level": "native"}, {"language": "en", "level": "B1"}], []],
            pa.list_(pa.struct([("language", pa.string()), ("level", pa.string())])),
        ),
    ],
)
def test_list_columns_become_the_json_json_dumps_writes(
    values: list[object], kind: pa.DataType
) -> None:
    column = pa.chunked_array([pa.array(values, kind)])
    expected = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
    assert _json_text(column).to_pylist() == expected
    assert _json_text(column.slice(1)).to_pylist() == expected[1:]
