"""Recorded audit-chain verifications: the operator's page shows them instead of recomputing.

Like 0001-0004 this is written out in full and independent of ``service.storage.tables``;
``tests/integration/test_storage_migrations.py`` checks the result equals the ORM metadata.

Recomputing the whole chain costs about 0.12 ms an entry (400-770 ms on the national world),
too slow for a page that must answer within 100 ms. Every full check (``GET
/api/v1/admin/audit/verify``, the page's "verify now" form) appends one row here:

- ``audit_verifications``: when, by whom (``user_id``, no foreign key: the record keeps its
  facts when the user goes away), the verdict (``intact``, ``tampered``, ``cannot_verify``),
  the entries checked, the first entry that does not fit and the problem found.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The verdicts a verification records.
_STATUSES = ("intact", "tampered", "cannot_verify")


def upgrade() -> None:
    allowed = ", ".join(f"'{status}'" for status in _STATUSES)
    op.create_table(
        "audit_verifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("first_bad_seq", sa.Integer(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.CheckConstraint(f"status IN ({allowed})", name=op.f("ck_audit_verifications_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_verifications")),
    )


def downgrade() -> None:
    op.drop_table("audit_verifications")
