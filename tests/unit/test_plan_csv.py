"""Procurement plans: CSV and API rows to plan lines, every problem named by file, line, field."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from features.geography import Geography
from features.taxonomy import Taxonomy
from targeting.plan import PLAN_COLUMNS, PlanError, parse_plan_rows, read_plan_csv

pytestmark = pytest.mark.unit

HEADER = ",".join(PLAN_COLUMNS)
GOOD = "L1,MUN-091,90910000-9,091,250000,2027-01-01,24"


def write(tmp_path: Path, text: str, name: str = "plan.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def test_reads_lines_with_bom_semicolons_and_several_cpv_codes(
    tmp_path: Path, taxonomy: Taxonomy, geography: Geography
) -> None:
    # Excel in Finland and Sweden saves semicolon-separated files with a BOM; a cell with
    # several CPV codes is then quoted.
    text = (
        ";".join(PLAN_COLUMNS)
        + "\n"
        + 'L1;MUN-091;"90910000;55520000-1";091;250 000;2027-01-01;24\n'
        + "\n"
        + "L2;MUN-0180;45000000-7;0180;1200000.50;2027-03-15;36\n"
    )
    path = write(tmp_path, "\ufeff" + text)
    lines = read_plan_csv(path, taxonomy, geography, buyers={"MUN-091", "MUN-0180"})
    assert [line.line_id for line in lines] == ["L1", "L2"]
    # Codes without a check digit are completed from the CPV list.
    assert lines[0].cpv_codes == ("90910000-9", "55520000-1")
    assert lines[0].value_eur == 250_000.0
    assert lines[1].municipality == "0180"
    assert lines[1].starts_on == date(2027, 3, 15)
    assert lines[1].duration_months == 36


@pytest.mark.parametrize(
    ("row", "field", "problem"),
    [
        ("L1,MUN-091,90910000-9,091,-5,2027-01-01,24", "value_eur", "positive"),
        ("L1,MUN-091,90910000-9,091,abc,2027-01-01,24", "value_eur", "not a number"),
        ("L1,MUN-091,90910000-1,091,250000,2027-01-01,24", "cpv_codes", "not a CPV"),
        ("L1,MUN-091,90910000-9;;45000000-7,091,250000,2027-01-01,24", "cpv_codes", "empty"),
        ("L1,MUN-091,90910000-9,999,250000,2027-01-01,24", "municipality", "municipality"),
        ("L1,MUN-091,90910000-9,091,250000,1.1.2027,24", "starts_on", "YYYY-MM-DD"),
        ("L1,MUN-091,90910000-9,091,250000,2027-01-01,0", "duration_months", "between 1"),
        ("L1,MUN-091,90910000-9,091,250000,2027-01-01,2.5", "duration_months", "whole"),
        ("L1,MUN-999,90910000-9,091,250000,2027-01-01,24", "buyer", "not a known"),
        (",MUN-091,90910000-9,091,250000,2027-01-01,24", "line_id", "empty"),
        ("L1,MUN-091,90910000-9,091,250000,2027-01-01", "row", "has 6 cells"),
    ],
)
def test_a_bad_cell_is_named_by_file_line_and_field(
    tmp_path: Path,
    taxonomy: Taxonomy,
    geography: Geography,
    row: str,
    field: str,
    problem: str,
) -> None:
    path = write(tmp_path, f"{HEADER}\n{GOOD.replace('L1', 'L0')}\n{row}\n")
    with pytest.raises(PlanError, match=problem) as caught:
        read_plan_csv(path, taxonomy, geography, buyers={"MUN-091"})
    error = caught.value
    assert (error.file, error.line, error.field) == (str(path), 3, field)
    assert str(error).startswith(f"{path}:3: {field}: ")


def test_every_problem_is_listed_and_duplicates_name_the_first_line(
    tmp_path: Path, taxonomy: Taxonomy, geography: Geography
) -> None:
    path = write(
        tmp_path,
        f"{HEADER}\n{GOOD}\nL2,MUN-091,90910000-9,091,0,2027-01-01,24\n{GOOD}\n",
    )
    with pytest.raises(PlanError, match="already used on line 2") as caught:
        read_plan_csv(path, taxonomy, geography)
    problems = [(p.line, p.field) for p in caught.value.problems]
    assert problems == [(3, "value_eur"), (4, "line_id")]
    assert str(caught.value).count("\n") == 1  # one line per problem


def test_header_problems_are_on_line_one(
    tmp_path: Path, taxonomy: Taxonomy, geography: Geography
) -> None:
    missing = write(tmp_path, "line_id,buyer,cpv_codes,municipality,value_eur,starts_on\n")
    with pytest.raises(PlanError, match="column is missing") as caught:
        read_plan_csv(missing, taxonomy, geography)
    assert (caught.value.line, caught.value.field) == (1, "duration_months")
    empty = write(tmp_path, "", name="empty.csv")
    with pytest.raises(PlanError, match="is empty"):
        read_plan_csv(empty, taxonomy, geography)
    only_header = write(tmp_path, HEADER + "\n", name="header.csv")
    with pytest.raises(PlanError, match="no lines"):
        read_plan_csv(only_header, taxonomy, geography)


def test_a_file_that_is_not_utf8_or_missing_is_a_plan_error(
    tmp_path: Path, taxonomy: Taxonomy, geography: Geography
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"{HEADER}\n{GOOD}\n".encode() + "Jyväskylä\n".encode("latin-1"))
    with pytest.raises(PlanError, match="not UTF-8") as caught:
        read_plan_csv(path, taxonomy, geography)
    assert caught.value.line == 3
    with pytest.raises(PlanError, match="cannot be read"):
        read_plan_csv(tmp_path / "nowhere.csv", taxonomy, geography)


def test_api_rows_are_numbered_from_the_given_first_line(
    taxonomy: Taxonomy, geography: Geography
) -> None:
    good = dict(zip(PLAN_COLUMNS, GOOD.split(","), strict=True))
    bad = {**good, "line_id": "L2", "municipality": "12"}
    with pytest.raises(PlanError, match="municipality") as caught:
        parse_plan_rows([good, bad], "body", taxonomy, geography, first_line=0)
    assert (caught.value.file, caught.value.line, caught.value.field) == ("body", 1, "municipality")
    typo = {**good, "value": "1"}
    with pytest.raises(PlanError, match="not a plan column"):
        parse_plan_rows([typo], "body", taxonomy, geography, first_line=0)
    (line,) = parse_plan_rows([good], "body", taxonomy, geography, first_line=0)
    assert line.cpv_codes == ("90910000-9",)
