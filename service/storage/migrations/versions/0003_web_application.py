"""The web application: people sign in with a username and password; server-side sessions.

Like 0001 and 0002 this is written out in full and independent of ``service.storage.tables``;
``tests/integration/test_storage_migrations.py`` checks the result equals the ORM metadata.

- ``users`` gains ``username`` (unique; the existing name where no other user has it, else
  the name followed by ``-<user_id>``), ``password_hash`` (argon2id, NULL until a password
  is set), ``locale``, ``failed_sign_ins`` and ``locked_until`` (lock-out after failures).
- ``web_sessions``: one row per signed-in browser, keyed by the sha256 of the cookie's value,
  with the session's CSRF token and its idle and absolute expiry.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The columns ``users`` gains (name -> type), in order.
_USER_COLUMNS = ("username", "password_hash", "locale", "failed_sign_ins", "locked_until")


def upgrade() -> None:
    instant = sa.DateTime(timezone=True)
    op.add_column("users", sa.Column("username", sa.String(200), nullable=True))
    op.add_column("users", sa.Column("password_hash", sa.String(255), nullable=True))
    op.add_column("users", sa.Column("locale", sa.String(8), nullable=True))
    op.add_column(
        "users",
        sa.Column("failed_sign_ins", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("users", sa.Column("locked_until", instant, nullable=True))
    # Existing users sign in with their name where it is unique, else with name-<id>.
    op.execute(
        "UPDATE users SET username = name WHERE name IN "
        "(SELECT name FROM users GROUP BY name HAVING COUNT(*) = 1)"
    )
    op.execute(
        "UPDATE users SET username = name || '-' || CAST(user_id AS VARCHAR(20)) "
        "WHERE username IS NULL"
    )
    op.create_index(op.f("ix_users_username"), "users", ["username"], unique=True)

    op.create_table(
        "web_sessions",
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", instant, nullable=False),
        sa.Column("last_seen_at", instant, nullable=False),
        sa.Column("expires_at", instant, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_web_sessions_user_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_index(op.f("ix_users_username"), table_name="users")
    with op.batch_alter_table("users") as batch:
        for column in reversed(_USER_COLUMNS):
            batch.drop_column(column)
