"""The objects a caller may reach through their organisation (see ``service.api.security``).

One lookup per kind, shared by the routes and the service layer: a foreign object answers 404
exactly as a missing one, so other organisations' ids cannot be probed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.security import Caller, not_found
from service.storage.tables import JobseekerRecord, SupplierRecord, VacancyRecord


def own_jobseeker(session: Session, caller: Caller, jobseeker_id: str) -> JobseekerRecord:
    """The jobseeker if the caller's organisation serves them; 404 otherwise."""
    record = session.get(JobseekerRecord, jobseeker_id)
    if record is None or record.organisation_id != caller.organisation_id:
        raise not_found("jobseeker", jobseeker_id)
    return record


def own_vacancy(session: Session, caller: Caller, vacancy_id: str) -> VacancyRecord:
    """The vacancy if one of the caller's organisation's suppliers offers it; 404 otherwise."""
    record = session.scalars(
        select(VacancyRecord)
        .join(SupplierRecord, SupplierRecord.supplier_id == VacancyRecord.supplier_id)
        .where(
            VacancyRecord.vacancy_id == vacancy_id,
            SupplierRecord.organisation_id == caller.organisation_id,
        )
    ).first()
    if record is None:
        raise not_found("vacancy", vacancy_id)
    return record
