"""What answers show of vacancies and people, from the worker's memory.

A matches answer names 20 vacancies (title, job form, municipality, closing day) and checks
that the caller's organisation serves the person; a shortlist checks that the vacancy is the
caller's and open, and shows each person's accepted job forms. Read from the database, those
were two or three round trips per request, each a transaction of its own: about a fifth of
a request's CPU outside the engine. They change rarely, and every change to a vacancy or a
person already reaches each worker through the change feed, which drops the entry here
(:meth:`ServingState._apply_vacancy` and ``_apply_jobseeker`` call :meth:`forget_vacancy`
and :meth:`forget_person`). An entry is read from the database at its first use after that.

So an entry is exactly as fresh as the engine's own copy of the vacancy or person: requests
read it after ``catch_up``. One relation is not in the feed: the organisation a supplier
belongs to, which no operation of the service changes (suppliers come with the world or the
storage commands); a supplier moved to another organisation by hand is seen by a worker once
the vacancy changes or the worker restarts.

Each map holds at most ``max_entries`` and is cleared when full (per worker memory stays
bounded on a national world: 100,000 vacancies, 300,000 people).
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.storage.tables import JobseekerRecord, SupplierRecord, VacancyRecord

__all__ = ["DisplayFields", "PersonFields", "VacancyFields"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class VacancyFields:
    title: str
    job_form: str
    municipality: str
    closes_on: date
    #: The organisation of the vacancy's supplier, whose employers read its shortlists.
    organisation_id: str | None


@dataclass(frozen=True, slots=True)
class PersonFields:
    #: The employment service that serves the person (whose coaches read their matches).
    organisation_id: str
    accepted_job_forms: tuple[str, ...]


def _known(entries: dict[str, T], ids: Collection[str]) -> dict[str, T]:
    # One get per id: the feed may drop an entry on another thread between two lookups.
    found: dict[str, T] = {}
    for entity_id in ids:
        entry = entries.get(entity_id)
        if entry is not None:
            found[entity_id] = entry
    return found


class DisplayFields:
    """Per worker: vacancy and person fields by id, read once, dropped by the change feed."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._vacancies: dict[str, VacancyFields] = {}
        self._people: dict[str, PersonFields] = {}
        # A read that started before a change was applied must not store what it read after
        # the change dropped the entry: every drop moves the generation, and a read stores
        # only if the generation it started in is still current (checked under the lock).
        self._generation = 0
        self._lock = threading.Lock()

    def forget_vacancy(self, vacancy_id: str) -> None:
        with self._lock:
            self._generation += 1
            self._vacancies.pop(vacancy_id, None)

    def forget_person(self, jobseeker_id: str) -> None:
        with self._lock:
            self._generation += 1
            self._people.pop(jobseeker_id, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._vacancies.clear()
            self._people.clear()

    def vacancies(self, session: Session, ids: Collection[str]) -> dict[str, VacancyFields]:
        """The fields of those of ``ids`` that exist; the missing ones in one query."""
        found = _known(self._vacancies, ids)
        missing = sorted(set(ids).difference(found))
        if missing:
            generation = self._generation
            rows = session.execute(
                select(
                    VacancyRecord.vacancy_id,
                    VacancyRecord.title,
                    VacancyRecord.job_form,
                    VacancyRecord.municipality,
                    VacancyRecord.closes_on,
                    SupplierRecord.organisation_id,
                )
                .outerjoin(SupplierRecord, SupplierRecord.supplier_id == VacancyRecord.supplier_id)
                .where(VacancyRecord.vacancy_id.in_(missing))
            ).all()
            read = {
                str(r.vacancy_id): VacancyFields(
                    r.title, r.job_form, r.municipality, r.closes_on, r.organisation_id
                )
                for r in rows
            }
            found.update(read)
            self._store(self._vacancies, read, generation)
        return found

    def people(self, session: Session, ids: Collection[str]) -> dict[str, PersonFields]:
        """The fields of those of ``ids`` that exist; the missing ones in one query."""
        found = _known(self._people, ids)
        missing = sorted(set(ids).difference(found))
        if missing:
            generation = self._generation
            rows = session.execute(
                select(
                    JobseekerRecord.jobseeker_id,
                    JobseekerRecord.organisation_id,
                    JobseekerRecord.accepted_job_forms,
                ).where(JobseekerRecord.jobseeker_id.in_(missing))
            ).all()
            read = {
                str(r.jobseeker_id): PersonFields(
                    r.organisation_id, tuple(r.accepted_job_forms or ())
                )
                for r in rows
            }
            found.update(read)
            self._store(self._people, read, generation)
        return found

    def _store(self, into: dict[str, T], read: dict[str, T], generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return  # something changed meanwhile: read it again next time
            if len(into) + len(read) > self.max_entries:
                into.clear()
            into.update(read)
