"""CSV uploads through the API: the CLI's all-or-nothing import, plus ownership.

Uploaded files are checked exactly like `kohtaanto load` checks them
(:func:`service.storage.csv_import.import_csv`: every bad row is reported by file, line and
field, and nothing is imported unless every row is valid). On top of that a caller may only
bring in what their organisation owns: a coach imports jobseekers of their own employment
service (and assessments of those people), an employer vacancies of their own suppliers.
Ownership problems are reported the same way, by file, line and field.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from fastapi import HTTPException, UploadFile, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.problems import invalid
from service.api.runtime import ServingState
from service.api.security import Caller
from service.storage.csv_import import (
    CsvFiles,
    CsvImportError,
    CsvProblem,
    import_csv,
    sniff_delimiter,
)
from service.storage.tables import (
    AssessmentRecord,
    CoachRecord,
    JobseekerRecord,
    SupplierRecord,
    VacancyRecord,
)

#: Largest upload accepted per file (the body limit of the service applies as well).
MAX_FILE_BYTES = 5_000_000


def _text(upload: UploadFile, name: str) -> str:
    raw = upload.file.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, detail=f"{name}: more than {MAX_FILE_BYTES} bytes"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise invalid(["body", name], f"is not UTF-8 text: {error.reason}") from error


def _rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) pairs as an editor numbers lines (the header is line 1)."""
    # The same separator as the import reads (a ";" file from Excel too): otherwise the
    # ownership checks would see one merged column and check nothing.
    reader = csv.DictReader(io.StringIO(text), delimiter=sniff_delimiter(text))
    for row in reader:
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k is not None}


def _problems_response(problems: list[CsvProblem]) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[
            {
                "loc": ["body", p.file, str(p.line), p.field],
                "msg": p.message,
                "type": "csv_row",
                "input": f"{p.file}:{p.line}",
            }
            for p in problems
        ],
    )


def run_import(
    session: Session,
    state: ServingState,
    files: dict[str, UploadFile | None],
    ownership: Callable[[dict[str, str]], list[CsvProblem]],
) -> dict[str, int]:
    """Check ownership, then import every file in one transaction; 422 lists every problem."""
    texts = {name: _text(upload, name) for name, upload in files.items() if upload is not None}
    if not texts:
        raise invalid(["body"], "no CSV file uploaded", kind="missing")
    problems = ownership(texts)
    if problems:
        raise _problems_response(problems)
    # The import runs in a transaction of its own: release the request's (SQLite's write
    # lock included) first.
    session.rollback()
    with tempfile.TemporaryDirectory(prefix="kohtaanto-upload-") as folder:
        paths: dict[str, Path] = {}
        for name, text in texts.items():
            path = Path(folder) / f"{name}.csv"
            path.write_text(text, encoding="utf-8")
            paths[name] = path
        try:
            result = import_csv(
                state.db, CsvFiles(**paths), state.vocab.taxonomy, state.vocab.geography
            )
        except CsvImportError as error:
            for problem in error.problems:  # name the upload, not the temporary file
                object.__setattr__(problem, "file", Path(problem.file).stem)
            raise _problems_response(error.problems) from error
    return {
        "jobseekers": result.jobseekers,
        "assessments": result.assessments,
        "skill_observations": result.skill_observations,
        "vacancies": result.vacancies,
        "vacancy_skills": result.vacancy_skills,
    }


def coach_ownership(
    session: Session, caller: Caller
) -> Callable[[dict[str, str]], list[CsvProblem]]:
    """Jobseekers of the caller's organisation, assessed by its coaches, only.

    Every ``coach_id`` a row names (the jobseeker's coach, the assessing coach) must be a
    coach of the caller's organisation.
    """

    def check(texts: dict[str, str]) -> list[CsvProblem]:
        problems: list[CsvProblem] = []
        org = caller.organisation_id
        coaches = set(
            session.scalars(select(CoachRecord.coach_id).where(CoachRecord.organisation_id == org))
        )
        mine = set(
            session.scalars(
                select(JobseekerRecord.jobseeker_id).where(JobseekerRecord.organisation_id == org)
            )
        )
        in_file: set[str] = set()
        for line, row in _rows(texts.get("jobseekers", "")):
            in_file.add(row.get("jobseeker_id", ""))
            if row.get("organisation_id", org) not in ("", org):
                problems.append(
                    CsvProblem(
                        "jobseekers", line, "organisation_id", f"is not your organisation {org}"
                    )
                )
            if row.get("coach_id") and row["coach_id"] not in coaches:
                problems.append(
                    CsvProblem(
                        "jobseekers", line, "coach_id", "is not a coach of your organisation"
                    )
                )
            existing = session.get(JobseekerRecord, row.get("jobseeker_id", ""))
            if existing is not None and existing.organisation_id != org:
                problems.append(
                    CsvProblem(
                        "jobseekers", line, "jobseeker_id", "belongs to another organisation"
                    )
                )
        reachable = mine | in_file
        assessments: set[str] = set()
        for line, row in _rows(texts.get("assessments", "")):
            assessments.add(row.get("assessment_id", ""))
            if row.get("jobseeker_id") not in reachable:
                problems.append(
                    CsvProblem(
                        "assessments",
                        line,
                        "jobseeker_id",
                        "is not a jobseeker of your organisation",
                    )
                )
            # An assessment names the coach who made it: only one of the caller's own.
            if row.get("coach_id") and row["coach_id"] not in coaches:
                problems.append(
                    CsvProblem(
                        "assessments", line, "coach_id", "is not a coach of your organisation"
                    )
                )
        for line, row in _rows(texts.get("skill_observations", "")):
            assessment_id = row.get("assessment_id", "")
            if assessment_id in assessments:
                continue
            stored = session.get(AssessmentRecord, assessment_id)
            if stored is not None and stored.jobseeker_id not in mine:
                problems.append(
                    CsvProblem(
                        "skill_observations",
                        line,
                        "assessment_id",
                        "is an assessment of another organisation",
                    )
                )
        return problems

    return check


def employer_ownership(
    session: Session, caller: Caller
) -> Callable[[dict[str, str]], list[CsvProblem]]:
    """Vacancies of the caller's suppliers only."""

    def check(texts: dict[str, str]) -> list[CsvProblem]:
        problems: list[CsvProblem] = []
        suppliers = set(
            session.scalars(
                select(SupplierRecord.supplier_id).where(
                    SupplierRecord.organisation_id == caller.organisation_id
                )
            )
        )
        in_file: set[str] = set()
        for line, row in _rows(texts.get("vacancies", "")):
            in_file.add(row.get("vacancy_id", ""))
            if row.get("supplier_id") not in suppliers:
                problems.append(
                    CsvProblem(
                        "vacancies", line, "supplier_id", "is not a supplier of your organisation"
                    )
                )
            existing = session.get(VacancyRecord, row.get("vacancy_id", ""))
            if existing is not None and existing.supplier_id not in suppliers:
                problems.append(
                    CsvProblem("vacancies", line, "vacancy_id", "belongs to another organisation")
                )
        for line, row in _rows(texts.get("vacancy_skills", "")):
            vacancy_id = row.get("vacancy_id", "")
            if vacancy_id in in_file:
                continue
            stored = session.get(VacancyRecord, vacancy_id)
            if stored is not None and stored.supplier_id not in suppliers:
                problems.append(
                    CsvProblem(
                        "vacancy_skills", line, "vacancy_id", "is a vacancy of another organisation"
                    )
                )
        return problems

    return check
