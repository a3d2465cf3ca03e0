"""The terms of performance-based employment conditions (docs/performance.md).

Like 0001-0005 this is written out in full and independent of ``service.storage.tables``;
``tests/integration/test_storage_migrations.py`` checks the result equals the ORM metadata.

- ``performance_terms``: one row per performance-based condition, a world table
  (``features.world_store.SCHEMAS``): the points a credited outcome earns per stage (hired,
  still employed after 6 and after 12 months), one weight column per target group and per
  job form, the price of a point, the cap over the contract and the payment period.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The target groups and job forms the weights are given for, as of this revision.
_GROUPS = (
    "registered_unemployed",
    "unemployed_3m",
    "long_term_unemployed",
    "young",
    "older",
    "migrant_background",
    "partial_work_capacity",
)
_FORMS = ("employment", "apprenticeship", "work_trial", "pay_subsidised")


def _number(name: str) -> sa.Column[float]:
    return sa.Column(name, sa.Float(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "performance_terms",
        sa.Column("condition_id", sa.String(64), nullable=False),
        _number("price_per_point_eur"),
        _number("cap_eur"),
        _number("points_hired"),
        _number("points_retained_6m"),
        _number("points_retained_12m"),
        *(_number(f"weight_tg_{group}") for group in _GROUPS),
        *(_number(f"weight_form_{form}") for form in _FORMS),
        sa.Column("period", sa.String(16), nullable=False),
        sa.CheckConstraint(
            "price_per_point_eur > 0", name=op.f("ck_performance_terms_price_positive")
        ),
        sa.CheckConstraint("cap_eur > 0", name=op.f("ck_performance_terms_cap_positive")),
        sa.CheckConstraint(
            "period IN ('month', 'quarter')", name=op.f("ck_performance_terms_period")
        ),
        sa.ForeignKeyConstraint(
            ["condition_id"],
            ["employment_conditions.condition_id"],
            name=op.f("fk_performance_terms_condition_id_employment_conditions"),
        ),
        sa.PrimaryKeyConstraint("condition_id", name=op.f("pk_performance_terms")),
    )


def downgrade() -> None:
    op.drop_table("performance_terms")
