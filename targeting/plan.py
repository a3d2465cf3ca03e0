"""A procurement plan: CSV file or API body -> :class:`~targeting.types.PlanLine` objects.

A plan has one line per planned procurement with the columns of :data:`PLAN_COLUMNS`:

``line_id``
    the plan's own id of the line (unique within the plan, at most 64 characters);
``buyer``
    the buying organisation's id (``MUN-091``, ``CPB-FI-HANSEL``); checked against the known
    buyers when the caller knows them;
``cpv_codes``
    one or more CPV 2008 codes separated by ``;`` (``90910000-9;90911200-8``), the main object
    first; with or without the check digit, which must be right when given;
``municipality``
    the place of performance, a municipality code (Finland 3 digits, Sweden 4);
``value_eur``
    the estimated contract value in euros (positive);
``starts_on``
    the planned start, an ISO date ``YYYY-MM-DD``;
``duration_months``
    the contract's duration in whole months (1 to :data:`MAX_DURATION_MONTHS`).

Every row is checked and every problem reported, each as ``file:line: field: problem`` with
line numbers as a text editor shows them (the header is line 1). :class:`PlanError` carries
the first problem's file, line and field and lists all of them in its message.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from features.geography import Geography
from features.taxonomy import Taxonomy, normalize_cpv
from targeting.types import PlanLine

__all__ = [
    "MAX_DURATION_MONTHS",
    "MAX_LINES",
    "PLAN_COLUMNS",
    "PlanError",
    "PlanProblem",
    "parse_plan_csv_text",
    "parse_plan_rows",
    "read_plan_csv",
]

#: The columns of a plan, in the order the examples use.
PLAN_COLUMNS: tuple[str, ...] = (
    "line_id",
    "buyer",
    "cpv_codes",
    "municipality",
    "value_eur",
    "starts_on",
    "duration_months",
)
#: Longest contract a plan may describe (framework agreements run at most 4 years in the EU
#: directive; concessions and long service contracts up to 10).
MAX_DURATION_MONTHS = 120
#: Most lines one plan may have: a municipality's yearly plan has tens to a few hundred.
MAX_LINES = 2000
MAX_ID_LENGTH = 64
#: Separator of several CPV codes within one cell.
CPV_SEPARATOR = ";"
_DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class PlanProblem:
    """One problem of one plan line: where, which field, and what is wrong."""

    file: str
    line: int
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.problem}"


class PlanError(ValueError):
    """A plan that cannot be used.

    ``file``, ``line``, ``field`` and ``problem`` are those of the first problem;
    ``problems`` holds every problem and the message lists them, one a line.
    """

    def __init__(self, problems: Sequence[PlanProblem]) -> None:
        if not problems:
            raise ValueError("a PlanError needs at least one problem")
        first = problems[0]
        self.problems: tuple[PlanProblem, ...] = tuple(problems)
        self.file = first.file
        self.line = first.line
        self.field = first.field
        self.problem = first.problem
        super().__init__("\n".join(str(p) for p in self.problems))


class _Row:
    """The cells of one row and the problems found in them."""

    def __init__(self, origin: str, line: int, cells: Mapping[str, str]) -> None:
        self.origin = origin
        self.line = line
        self.cells = cells
        self.problems: list[PlanProblem] = []

    def problem(self, field: str, message: str) -> None:
        self.problems.append(PlanProblem(self.origin, self.line, field, message))

    def cell(self, field: str) -> str | None:
        value = self.cells.get(field)
        text = "" if value is None else str(value).strip()
        if not text:
            self.problem(field, "is empty; every line needs it")
            return None
        return text

    def identifier(self, field: str) -> str | None:
        text = self.cell(field)
        if text is not None and len(text) > MAX_ID_LENGTH:
            self.problem(field, f"is longer than {MAX_ID_LENGTH} characters")
            return None
        return text

    def day(self, field: str) -> date | None:
        text = self.cell(field)
        if text is None:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.problem(field, f"{text!r} is not a date YYYY-MM-DD")
            return None

    def positive_number(self, field: str) -> float | None:
        text = self.cell(field)
        if text is None:
            return None
        try:
            # A space or a non-breaking space groups thousands in Finnish and Swedish.
            value = float(text.replace("\u00a0", "").replace(" ", ""))
        except ValueError:
            self.problem(field, f"{text!r} is not a number (write 250000 or 250000.50)")
            return None
        if not math.isfinite(value) or value <= 0:
            self.problem(field, f"{text!r} must be a positive number of euros")
            return None
        return value

    def months(self, field: str) -> int | None:
        text = self.cell(field)
        if text is None:
            return None
        try:
            value = int(text)
        except ValueError:
            self.problem(field, f"{text!r} is not a whole number of months")
            return None
        if not 1 <= value <= MAX_DURATION_MONTHS:
            self.problem(field, f"{value} must be between 1 and {MAX_DURATION_MONTHS} months")
            return None
        return value

    def cpv_codes(self, field: str, taxonomy: Taxonomy) -> tuple[str, ...] | None:
        text = self.cell(field)
        if text is None:
            return None
        parts = [part.strip() for part in text.split(CPV_SEPARATOR)]
        codes: list[str] = []
        for part in parts:
            if not part:
                self.problem(field, f"{text!r} has an empty code between separators ';'")
                return None
            full = _full_cpv(part, taxonomy)
            if full is None:
                self.problem(field, f"{part!r} is not a CPV 2008 code (e.g. 90910000-9)")
                return None
            if full in codes:
                self.problem(field, f"{part!r} is given twice")
                return None
            codes.append(full)
        return tuple(codes)

    def municipality(self, field: str, geography: Geography) -> str | None:
        text = self.cell(field)
        if text is None:
            return None
        if not geography.has_municipality(text):
            self.problem(
                field,
                f"{text!r} is not a Finnish (3 digits) or Swedish (4 digits) municipality code",
            )
            return None
        return text


def _full_cpv(code: str, taxonomy: Taxonomy) -> str | None:
    """``code`` as the full CPV code with its check digit, or None when it is not one."""
    if not taxonomy.has_cpv(code):
        return None
    digits = normalize_cpv(code)
    matches = taxonomy.cpv.loc[taxonomy.cpv["code8"] == digits, "cpv_code"]
    return str(matches.iloc[0]) if len(matches) else None


def parse_plan_rows(
    rows: Iterable[Mapping[str, str]],
    origin: str,
    taxonomy: Taxonomy,
    geography: Geography,
    *,
    buyers: Collection[str] | None = None,
    first_line: int = 2,
) -> list[PlanLine]:
    """Check plan rows (cells by column name) and return them as plan lines.

    ``origin`` names the source in messages (a file name, or ``"body"`` for an API request);
    row ``i`` is reported as line ``first_line + i`` (2 for a CSV file with its header, 0 for
    the items of a JSON list). ``buyers``, when given, are the organisation ids a line's
    ``buyer`` must be one of. Raises :class:`PlanError` listing every problem; nothing is
    returned unless every row is valid.
    """
    numbered = ((first_line + i, cells) for i, cells in enumerate(rows))
    return _parse(numbered, origin, taxonomy, geography, buyers, [], first_line)


def _parse(
    numbered: Iterable[tuple[int, Mapping[str, str]]],
    origin: str,
    taxonomy: Taxonomy,
    geography: Geography,
    buyers: Collection[str] | None,
    problems: list[PlanProblem],
    first_line: int,
) -> list[PlanLine]:
    lines: list[PlanLine] = []
    seen: dict[str, int] = {}
    count = 0
    for line, cells in numbered:
        count += 1
        if count > MAX_LINES:
            problems.append(
                PlanProblem(origin, line, "line_id", f"a plan has at most {MAX_LINES} lines")
            )
            break
        row = _Row(origin, line, cells)
        unknown = sorted(set(cells) - set(PLAN_COLUMNS))
        if unknown:
            columns = ", ".join(PLAN_COLUMNS)
            row.problem(unknown[0], f"is not a plan column; the columns are {columns}")
        line_id = row.identifier("line_id")
        if line_id is not None:
            if line_id in seen:
                row.problem("line_id", f"{line_id!r} is already used on line {seen[line_id]}")
            else:
                seen[line_id] = line
        buyer = row.identifier("buyer")
        if buyer is not None and buyers is not None and buyer not in buyers:
            row.problem("buyer", f"{buyer!r} is not a known buying organisation")
        cpv = row.cpv_codes("cpv_codes", taxonomy)
        municipality = row.municipality("municipality", geography)
        value = row.positive_number("value_eur")
        starts = row.day("starts_on")
        months = row.months("duration_months")
        if row.problems:
            problems.extend(row.problems)
            continue
        assert line_id and buyer and cpv and municipality and value and starts and months
        lines.append(
            PlanLine(
                line_id=line_id,
                buyer=buyer,
                cpv_codes=cpv,
                municipality=municipality,
                value_eur=value,
                starts_on=starts,
                duration_months=months,
            )
        )
    if count == 0 and not problems:
        problems.append(PlanProblem(origin, first_line, "line_id", "the plan has no lines"))
    if problems:
        raise PlanError(sorted(problems, key=lambda p: p.line))
    return lines


def read_plan_csv(
    path: Path,
    taxonomy: Taxonomy,
    geography: Geography,
    *,
    buyers: Collection[str] | None = None,
) -> list[PlanLine]:
    """Read and check a plan CSV (UTF-8, with or without a BOM; comma, semicolon or tab).

    Raises :class:`PlanError` naming the file, line and field of every problem, also for a
    missing file, a file that is not UTF-8 and a header without the plan's columns.
    """
    origin = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        raise PlanError([PlanProblem(origin, 0, "file", f"cannot be read: {reason}")]) from None
    return parse_plan_csv_text(data, origin, taxonomy, geography, buyers=buyers)


def parse_plan_csv_text(
    data: bytes,
    origin: str,
    taxonomy: Taxonomy,
    geography: Geography,
    *,
    buyers: Collection[str] | None = None,
) -> list[PlanLine]:
    """:func:`read_plan_csv` for a plan's bytes (an uploaded file), ``origin`` its name."""
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        problem = f"is not UTF-8 (byte 0x{data[error.start]:02x})"
        raise PlanError([PlanProblem(origin, line, "file", problem)]) from None
    problems: list[PlanProblem] = []
    numbered = _csv_rows(content, origin, problems)
    return _parse(numbered, origin, taxonomy, geography, buyers, problems, 2)


def _csv_rows(
    content: str, origin: str, problems: list[PlanProblem]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, cells by column) of every non-blank data row; header problems raise at once.

    A row with the wrong number of cells is added to ``problems`` and skipped.
    """
    header = content.split("\n", 1)[0]
    if not header.strip():
        columns = ", ".join(PLAN_COLUMNS)
        problem = f"is empty; the first line must name the columns {columns}"
        raise PlanError([PlanProblem(origin, 1, "file", problem)])
    delimiter = max(_DELIMITERS, key=header.count)
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    names = [name.strip() for name in next(reader)]
    missing = [name for name in PLAN_COLUMNS if name not in names]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    found = [PlanProblem(origin, 1, name, "column is missing from the header") for name in missing]
    found += [PlanProblem(origin, 1, name, "column is given twice") for name in duplicated]
    if found:
        raise PlanError(found)
    return _data_rows(reader, names, origin, problems)


def _data_rows(
    reader: Iterator[list[str]], names: list[str], origin: str, problems: list[PlanProblem]
) -> Iterator[tuple[int, dict[str, str]]]:
    last_line = 1
    for cells in reader:
        # A quoted cell may span lines: the row starts on the line after the previous row.
        line, last_line = last_line + 1, getattr(reader, "line_num", last_line + 1)
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(names):
            problem = f"has {len(cells)} cells; the header has {len(names)}"
            problems.append(PlanProblem(origin, line, "row", problem))
            continue
        yield line, dict(zip(names, cells, strict=True))
