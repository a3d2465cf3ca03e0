"""Indexes for the web application's pages on a national-size database (issue 13, item 7).

Like 0001-0003 this is written out in full and independent of ``service.storage.tables``;
``tests/integration/test_storage_migrations.py`` checks the result equals the ORM metadata.
Measured with ``bench/bench_pages.py`` on the 300,000 / 100,000 world, where one employment
service holds 53,000 jobseekers:

- ``ix_jobseekers_caseload``: the caseload, one organisation's people in order of their
  unemployment start. The leading columns give the page its order without sorting the whole
  caseload (``ORDER BY unemployment_start NULLS LAST, jobseeker_id LIMIT 50``); the others
  are what the page shows and what the target-group and eligibility filters test (birth year,
  migrant background, hours, restrictions), so counting and filtering read the index alone
  instead of 53,000 wide rows (SQLite: 100-240 ms a query before, 1-25 ms after).
- ``ix_jobseekers_organisation_id_jobseeker_id``: the JSON list of an organisation's
  jobseekers, 50 at a time after an id (``GET /api/v1/coach/jobseekers``): 140 ms before,
  sorting the organisation's people by id on every call; well under a millisecond after.
- ``ix_jobseekers_organisation_name``: the caseload sorted by name.
- ``ix_audit_log_organisation_id_seq``: an organisation's audit entries in order (the admin's
  audit page and its count), without walking every organisation's entries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (index name, table, columns), in creation order.
_INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "ix_jobseekers_caseload",
        "jobseekers",
        (
            "organisation_id",
            "unemployment_start",
            "jobseeker_id",
            "last_name",
            "first_name",
            "home_municipality",
            "birth_year",
            "migrant_background",
            "max_hours_per_week",
            "restrictions",
        ),
    ),
    (
        "ix_jobseekers_organisation_id_jobseeker_id",
        "jobseekers",
        ("organisation_id", "jobseeker_id"),
    ),
    (
        "ix_jobseekers_organisation_name",
        "jobseekers",
        ("organisation_id", "last_name", "first_name", "jobseeker_id"),
    ),
    ("ix_audit_log_organisation_id_seq", "audit_log", ("organisation_id", "seq")),
)


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(op.f(name), table, list(columns), unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(_INDEXES):
        op.drop_index(op.f(name), table_name=table)
