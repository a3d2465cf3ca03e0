"""CSV files as Excel saves them in a Finnish or Swedish locale: ";" between cells, a UTF-8
byte-order mark, CRLF line ends, decimal commas and days written 1.3.2026."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from features.geography import Geography
from features.taxonomy import Taxonomy
from features.world_store import SERVING_TABLES
from service.storage.csv_import import CsvFiles, CsvImportError, import_csv, sniff_delimiter
from service.storage.world_io import read_world_tables
from tests.integration.test_storage_csv_import import EXAMPLES, KINDS, world_engine

pytestmark = pytest.mark.integration

__all__ = ["excel", "world_engine"]

_DECIMAL = re.compile(r"^-?\d+\.\d+$")
_ISO_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def excel(content: str, *, finnish_days: bool = True) -> bytes:
    """``content`` (a comma-separated example) as Excel writes it with a Finnish locale."""
    rows = list(csv.reader(io.StringIO(content, newline="")))
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for number, row in enumerate(rows):
        writer.writerow([_local(cell, finnish_days) if number else cell for cell in row])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def _local(cell: str, finnish_days: bool) -> str:
    if _DECIMAL.match(cell):
        return cell.replace(".", ",")
    day = _ISO_DAY.match(cell) if finnish_days else None
    return f"{int(day[3])}.{int(day[2])}.{day[1]}" if day is not None else cell


def _excel_files(folder: Path) -> CsvFiles:
    paths = {}
    for kind in KINDS:
        path = folder / f"{kind}.csv"
        path.write_bytes(excel((EXAMPLES / f"{kind}.csv").read_text(encoding="utf-8")))
        paths[kind] = path
    return CsvFiles(**paths)


def test_the_separator_is_sniffed_from_the_header() -> None:
    assert sniff_delimiter("a,b,c\n1;2;3,4\n") == ","
    assert sniff_delimiter("\ufeffa;b;c\r\n1,5;2;3\r\n") == ";"
    assert sniff_delimiter("a\tb\n") == "\t"
    assert sniff_delimiter("single\n1;2;3\n") == ","  # one column: nothing to sniff


def test_excel_files_import_like_the_originals(
    world_engine: Engine, taxonomy: Taxonomy, geography: Geography, tmp_path: Path
) -> None:
    files = _excel_files(tmp_path)
    raw = Path(str(files.vacancies)).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b";37,5;" in raw and b";15.10.2026;" in raw
    assert b'"employment;apprenticeship"' in Path(str(files.jobseekers)).read_bytes()

    result = import_csv(world_engine, files, taxonomy, geography)
    assert (result.jobseekers, result.assessments, result.skill_observations) == (2, 3, 4)
    assert (result.working_life_observations, result.vacancies, result.vacancy_skills) == (3, 2, 3)

    world = read_world_tables(world_engine, SERVING_TABLES)
    vacancy = world.vacancies.set_index("vacancy_id").loc["VA9000001"]
    assert vacancy["hours_per_week"] == 37.5
    assert vacancy["opens_on"].date() == date(2026, 10, 15)
    aino = world.jobseekers.set_index("jobseeker_id").loc["JS9000001"]
    assert list(aino["accepted_job_forms"]) == ["employment", "apprenticeship"]
    assert aino["unemployment_start"].date() == date(2025, 3, 1)


def test_comma_files_keep_the_strict_forms(
    world_engine: Engine, taxonomy: Taxonomy, geography: Geography, tmp_path: Path
) -> None:
    text = (EXAMPLES / "vacancies.csv").read_text(encoding="utf-8")
    path = tmp_path / "vacancies.csv"
    path.write_text(text.replace(",37.5,", ',"37,5",').replace("2026-10-15", "15.10.2026"))
    with pytest.raises(CsvImportError) as refused:
        import_csv(world_engine, CsvFiles(vacancies=path), taxonomy, geography)
    messages = {(p.field, p.message) for p in refused.value.problems}
    assert ("hours_per_week", "'37,5' has a decimal comma; write 37.5") in messages
    assert ("opens_on", "'15.10.2026' is not a date YYYY-MM-DD") in messages


def test_a_bad_local_day_is_reported(
    world_engine: Engine, taxonomy: Taxonomy, geography: Geography, tmp_path: Path
) -> None:
    text = excel((EXAMPLES / "vacancies.csv").read_text(encoding="utf-8"))
    path = tmp_path / "vacancies.csv"
    path.write_bytes(text.replace(b";15.10.2026;", b";31.2.2026;"))
    with pytest.raises(CsvImportError) as refused:
        import_csv(world_engine, CsvFiles(vacancies=path), taxonomy, geography)
    assert [(p.line, p.field) for p in refused.value.problems] == [(2, "opens_on")]
